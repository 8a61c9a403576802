"""8-bit images of a map's stacks for the browser: planes, projections, tiles, crops, thumbnails.

Every image is described by an :class:`ImageJob` (map, data version, what to show,
contrast); its :attr:`ImageJob.key` names the encoded bytes in the shared cache and its
:attr:`ImageJob.etag` is a hash of that key, so a browser can revalidate (304) without the
server reading anything but the map folder's file times. :func:`image_bytes` returns the
encoded image, rendering it on a cache miss. Rendering reads only what it needs: one plane
(``pymapmanager.images.ImageStack.plane``, a memory-map copy), or the planes of a
projection; the parsed map is not needed (the per-session image files are cached
separately by :func:`app.services.maps.image_files`).

URLs (all under ``/api/v1/maps/<owner>/<map>``, see the README's API section)
------------------------------------------------------------------------------
* plane: ``/sessions/<s>/planes/<z>?channel=&projection=none|max|sliding&k=&lo=&hi=&v=``
  (:func:`plane_url`)
* tiles: ``/sessions/<s>/tiles/{z}/{x}/{y}.png?channel=&plane=&projection=&k=&lo=&hi=&v=``
  (:func:`tile_url_template`), for ``dash_leaflet.TileLayer`` in a ``MapContainer`` with
  ``crs="Simple"``. ``{z}`` is the pyramid level ``L`` in ``0..max_level`` (``max_level``
  = full resolution, each level below halves the image, level 0 fits in one tile),
  ``{x}`` the tile column, ``{y}`` the tile row (downwards), tiles are ``TILE_SIZE`` = 256
  pixels. Use one map unit per full-resolution pixel: the image occupies
  ``bounds=[[-rows, 0], [0, columns]]`` (pixel ``(row, col)`` at ``lat=-row, lng=col``)
  and the TileLayer needs ``tileSize=256, zoomOffset=max_level, minZoom=-max_level,
  maxNativeZoom=0, noWrap=True, bounds=...``; the map's ``maxZoom`` may go above 0
  (Leaflet enlarges the full-resolution tiles). ``max_level`` and the shape are in
  :func:`app.services.maps.map_info` (``sessions[s]["image"]``). Parts of edge tiles
  beyond the image are transparent.
* crop: ``/sessions/<s>/crop?row=&col=&z=&half=&channel=&k=&lo=&hi=&v=`` (:func:`crop_url`)
* thumbnail: ``/thumbnail?v=`` (max projection of session 0, longest side 256)

Contrast: ``lo`` and ``hi`` (both, numbers in the stack's pixel values) map linearly to
0..255; without them the display range is automatic (0.5 and 99.5 percentiles of the image
shown: the whole plane or projection for planes and tiles, so every tile of a plane
matches; the crop itself for crops). ``v`` is the map's data version
(``map_info(...)["version"]``): with it the response is cacheable forever
(``Cache-Control: public, max-age=31536000, immutable``); without it, or with an old one,
it is ``no-cache`` and revalidated with its ETag.
"""

from __future__ import annotations

import logging
import math
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
from flask import Flask, current_app, has_app_context

from pymapmanager import MapNotFoundError
from pymapmanager.errors import InvalidParameterError, MapFormatError
from pymapmanager.images import (
    PROJECTIONS,
    ImageStack,
    PlaneRequest,
    auto_contrast,
    crop,
    image_histogram,
    open_stack,
    read_plane,
    thumbnail,
    tile,
    tile_grid,
    to_uint8,
)

from ..extensions import counters, settings_of
from .maps import (
    FILE_ERRORS,
    TILE_SIZE,
    MapRef,
    data_version,
    image_files,
    map_errors,
    map_folder,
    map_info,
)
from .store import etag_of, get_bytes, set_bytes

__all__ = [
    "PNG_COMPRESS_LEVEL",
    "PROJECTIONS",
    "THUMBNAIL_SIZE",
    "TILE_SIZE",
    "STACKS_KEY",
    "Contrast",
    "ImageJob",
    "ImageParams",
    "StackPool",
    "crop_job",
    "crop_url",
    "encode_png",
    "image_bytes",
    "init_stack_pool",
    "plane_contrast",
    "plane_job",
    "plane_url",
    "render",
    "thumbnail_job",
    "tile_job",
    "tile_url_template",
]

log = logging.getLogger(__name__)

#: zlib level of the PNGs (with the run-length strategy; see :func:`encode_png`)
PNG_COMPRESS_LEVEL = 1
#: Longest side of a map's thumbnail.
THUMBNAIL_SIZE = 256
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_END = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))

#: Where ``create_app`` binds the process's :class:`StackPool`.
STACKS_KEY = "pmm_stacks"

#: Largest crop half size (a crop is ``2 * half`` pixels square).
MAX_CROP_HALF = 512


@dataclass(frozen=True)
class Contrast:
    """Display range: ``lo``..``hi`` map to 0..255; both None means automatic."""

    lo: float | None = None
    hi: float | None = None

    def __post_init__(self) -> None:
        if (self.lo is None) != (self.hi is None):
            raise InvalidParameterError("give both lo and hi, or neither (automatic contrast)")
        for v in (self.lo, self.hi):
            if v is not None and not math.isfinite(v):
                raise InvalidParameterError(f"lo and hi must be finite numbers, got {v}")

    @property
    def auto(self) -> bool:
        """Whether the range is computed from the image."""
        return self.lo is None

    def token(self) -> str:
        """Canonical text for cache keys."""
        return "auto" if self.lo is None else f"{self.lo!r}-{self.hi!r}"

    def resolve(self, image: np.ndarray) -> tuple[float, float]:
        """``(lo, hi)`` for ``image``."""
        if self.lo is None or self.hi is None:
            return auto_contrast(image)
        return self.lo, self.hi


_QUERY_INT = ("channel", "k", "plane", "z", "half")
_QUERY_FLOAT = ("lo", "hi", "row", "col")
_INT_MIN = {"channel": 1, "k": 0, "plane": 0, "z": 0, "half": 1}


@dataclass(frozen=True)
class ImageParams:
    """The query of every image URL, defined once: parsed from a request's query
    (:meth:`from_query`), rendered to one (:meth:`query`), read by the job builders.

    ``channel`` (default: the map's default channel), ``projection`` (``none``, ``max`` or
    ``sliding``), ``k`` (half width of a sliding projection; default 2 for ``sliding``),
    ``lo``/``hi`` (display range; both or neither), ``plane`` (tiles: the plane shown),
    ``row``/``col``/``z``/``half`` (crops), ``v`` (the data version: the URL is then
    immutable). Empty values count as absent; a bad value is a 400 naming the parameter.
    """

    channel: int | None = None
    projection: str = "none"
    k: int | None = None
    lo: float | None = None
    hi: float | None = None
    plane: int | None = None
    row: float | None = None
    col: float | None = None
    z: int | None = None
    half: int | None = None
    v: str | None = None

    def __post_init__(self) -> None:
        if self.projection not in PROJECTIONS:
            raise InvalidParameterError(
                f"projection must be one of {', '.join(PROJECTIONS)}; got '{self.projection}'"
            )
        for name in _QUERY_INT:
            value = getattr(self, name)
            if value is not None and value < _INT_MIN[name]:
                raise InvalidParameterError(f"{name} must be >= {_INT_MIN[name]}, got {value}")
        for name in _QUERY_FLOAT:
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise InvalidParameterError(f"{name} must be a finite number, got '{value}'")
        self.contrast  # noqa: B018  (checks lo and hi together)

    @classmethod
    def from_query(cls, args: Mapping[str, str]) -> ImageParams:
        """Parse a request's query (unknown names are ignored)."""
        kw: dict[str, Any] = {}
        for name in _QUERY_INT:
            text = args.get(name)
            if text:
                try:
                    kw[name] = int(text)
                except ValueError:
                    raise InvalidParameterError(f"{name} must be an integer, got '{text}'") from None
        for name in _QUERY_FLOAT:
            text = args.get(name)
            if text:
                try:
                    kw[name] = float(text)
                except ValueError:
                    raise InvalidParameterError(f"{name} must be a number, got '{text}'") from None
        if args.get("projection"):
            kw["projection"] = args["projection"]
        if args.get("v"):
            kw["v"] = args["v"]
        return cls(**kw)

    def query(self) -> str:
        """``?name=value&...`` of the fields that are set (``projection`` when not ``none``),
        in a fixed order; the inverse of :meth:`from_query`."""
        q: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or (f.name == "projection" and value == "none"):
                continue
            q[f.name] = int(value) if isinstance(value, float) and value.is_integer() else value
        return ("?" + urlencode(q)) if q else ""

    @property
    def contrast(self) -> Contrast:
        """The display range."""
        return Contrast(self.lo, self.hi)

    @property
    def sliding_k(self) -> int:
        """``k`` with its default (2 for a sliding projection, else 0)."""
        if self.k is not None:
            return self.k
        return 2 if self.projection == "sliding" else 0


@dataclass(frozen=True)
class ImageJob:
    """One image to serve: what to render and the cache key of its encoded bytes.

    ``kind`` is ``plane``, ``tile``, ``crop`` or ``thumbnail``; ``extra`` holds the kind's
    own parameters (tile ``level, x, y``; crop ``row, col, half``).
    """

    kind: str
    ref: MapRef
    version: str
    req: PlaneRequest
    contrast: Contrast = field(default_factory=Contrast)
    extra: tuple[int, ...] = ()

    @property
    def key(self) -> str:
        """Cache key of the encoded image."""
        r = self.req
        extra = ",".join(str(v) for v in self.extra)
        return (
            f"img:{self.kind}:{self.ref.id}:{self.version}:{r.session}:{r.channel}:{r.z}:"
            f"{r.projection}:{r.k}:{self.contrast.token()}:{extra}:png"
        )

    @property
    def etag(self) -> str:
        """Strong ETag of the image (hash of :attr:`key`)."""
        return etag_of(self.key)

    @property
    def cached(self) -> bool:
        """Whether the encoded image goes to the cache: only images the dashboard asks for
        again and again (automatic contrast). A chosen display range can take any value,
        so such images are rendered each time (the browser keeps them: their URLs are
        immutable) and can never fill the cache with one entry per value."""
        return self.contrast.auto

    mimetype = "image/png"


# --------------------------------------------------------------------------- jobs


def _canonical(req: PlaneRequest, planes: int | None) -> PlaneRequest:
    req.validate()
    if req.projection == "max":
        return replace(req, z=0, k=0)
    if req.projection == "none":
        return replace(req, k=0)
    if planes is not None and req.k > planes:  # a wider window shows the same image
        return replace(req, k=planes)
    return req


def _planes_of(info: dict[str, Any], session: int, channel: int) -> int | None:
    sessions = info["sessions"]
    if not 0 <= session < len(sessions) or channel not in sessions[session]["channels_with_images"]:
        return None
    img = sessions[session]["image"]
    return int(img["shape"][0]) if img else None


def plane_job(
    ref: MapRef, session: int, z: int, params: ImageParams | None = None, *, version: str | None = None
) -> ImageJob:
    """A plane (``projection="none"``), the max projection (``"max"``, z ignored) or a
    sliding max projection of planes ``z-k..z+k`` (``"sliding"``), as ``params`` say."""
    p = params or ImageParams()
    version = version or data_version(ref)
    info = map_info(ref, version)
    ch = p.channel if p.channel is not None else int(info["default_channel"])
    planes = _planes_of(info, session, ch)
    req = _canonical(PlaneRequest(session, ch, z, p.projection, p.sliding_k), planes)
    return ImageJob("plane", ref, version, req, p.contrast)


def tile_job(
    ref: MapRef, session: int, level: int, x: int, y: int, params: ImageParams | None = None,
    *, version: str | None = None,
) -> ImageJob:  # fmt: skip
    """Tile ``(x, y)`` of pyramid level ``level`` of plane ``params.plane`` (default 0) or a
    projection (see the module doc)."""
    p = params or ImageParams()
    job = plane_job(ref, session, p.plane or 0, p, version=version)
    for name, v in (("level", level), ("x", x), ("y", y)):
        if v < 0:
            raise MapNotFoundError(f"tile {name}={v} does not exist")
    return replace(job, kind="tile", extra=(level, x, y))


def crop_job(
    ref: MapRef, session: int, params: ImageParams, *, version: str | None = None
) -> ImageJob:
    """A ``2*half`` square (``half`` default 32) around pixel ``(row, col)`` of plane ``z``
    (sliding max over ``z-k..z+k`` when ``k > 0``), zero-padded beyond the image: one cell
    of a run strip. ``row``, ``col`` and ``z`` are required; ``projection`` is ignored."""
    if params.row is None or params.col is None or params.z is None:
        raise InvalidParameterError("the parameters row, col and z are required")
    half = 32 if params.half is None else params.half
    if not 1 <= half <= MAX_CROP_HALF:
        raise InvalidParameterError(f"half must be in 1..{MAX_CROP_HALF}, got {half}")
    k = params.k or 0
    p = replace(params, projection="sliding" if k else "none", k=k)
    job = plane_job(ref, session, params.z, p, version=version)
    return replace(job, kind="crop", extra=(round(params.row), round(params.col), half))


def thumbnail_job(ref: MapRef, *, version: str | None = None) -> ImageJob:
    """The catalog thumbnail: max projection of session 0 (default channel, else the first
    channel with images), longest side :data:`THUMBNAIL_SIZE`."""
    version = version or data_version(ref)
    info = map_info(ref, version)
    if not info["sessions"]:
        raise MapNotFoundError(f"map {ref.id} has no sessions")
    chans = info["sessions"][0]["channels_with_images"]
    if not chans:
        raise MapNotFoundError(f"map {ref.id} has no images for session 0")
    ch = info["default_channel"] if info["default_channel"] in chans else chans[0]
    req = PlaneRequest(0, int(ch), 0, "max", 0)
    return ImageJob("thumbnail", ref, version, req, Contrast(), (THUMBNAIL_SIZE,))


# --------------------------------------------------------------------------- rendering


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(tag))
    return b"".join((struct.pack(">I", len(data)), tag, data, struct.pack(">I", crc)))


def encode_png(image: np.ndarray, alpha: np.ndarray | None = None) -> bytes:
    """PNG bytes of an 8-bit grayscale image (with an 8-bit alpha channel when given).

    Written directly with :mod:`zlib` rather than Pillow: every row uses PNG's *Up* filter
    (one vectorised subtraction) and deflate runs at level 1 with the run-length strategy.
    On a noisy 1024 x 1024 two-photon plane that is ~8 ms for ~700 kB, against ~37 ms for
    ~750 kB with Pillow at ``compress_level=1`` (which tries every filter on every row);
    see ``bench/bench_images.py``. Any PNG decoder reads the result.
    """
    a = np.ascontiguousarray(image, dtype=np.uint8)
    if a.ndim != 2:
        raise InvalidParameterError(f"encode_png needs a 2D image, got shape {a.shape}")
    rows, cols = a.shape
    if alpha is not None:
        la = np.empty((rows, cols, 2), dtype=np.uint8)
        la[..., 0] = a
        la[..., 1] = alpha
        pixels, color_type = la.reshape(rows, cols * 2), 4
    else:
        pixels, color_type = a, 0
    raw = np.empty((rows, pixels.shape[1] + 1), dtype=np.uint8)
    raw[:, 0] = 2  # filter type Up: each byte minus the byte above it (mod 256)
    if rows:
        raw[0, 1:] = pixels[0]
        np.subtract(pixels[1:], pixels[:-1], out=raw[1:, 1:])
    z = zlib.compressobj(PNG_COMPRESS_LEVEL, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    idat = z.compress(raw.data) + z.flush()
    ihdr = struct.pack(">IIBBBBB", cols, rows, 8, color_type, 0, 0, 0)
    return b"".join(
        (_PNG_SIGNATURE, _png_chunk(b"IHDR", ihdr), _png_chunk(b"IDAT", idat), _PNG_END)
    )


class StackPool:
    """Open image stacks of one process, most recently used kept (bound by ``create_app``).

    Opening a TIFF (parsing its pages, mapping it) costs about a millisecond; keeping a few
    open makes every plane after the first of a stack cost only its read. Entries are keyed
    by file and data version, so a changed map opens its files afresh.
    """

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._stacks: OrderedDict[tuple[str, str], ImageStack] = OrderedDict()

    def get(self, path: Path, version: str) -> ImageStack:
        """The open stack of ``path`` at ``version`` (opened now if needed)."""
        key = (str(path), version)
        with self._lock:
            st = self._stacks.get(key)
            if st is not None:
                self._stacks.move_to_end(key)
                return st
        st = open_stack(path)
        with self._lock:
            self._stacks[key] = st
            self._stacks.move_to_end(key)
            old = []
            while len(self._stacks) > self.size:
                old.append(self._stacks.popitem(last=False)[1])
        for o in old:
            o.close()  # a thread still reading it reopens it (ImageStack is thread safe)
        return st

    def close(self) -> None:
        """Close every stack."""
        with self._lock:
            stacks = list(self._stacks.values())
            self._stacks.clear()
        for st in stacks:
            st.close()


def init_stack_pool(server: Flask, size: int = 16) -> StackPool:
    """Bind a StackPool to the server (one per process and app)."""
    pool = StackPool(size)
    server.extensions[STACKS_KEY] = pool
    return pool


def _stack(path: Path, version: str) -> ImageStack:
    pool = current_app.extensions.get(STACKS_KEY) if has_app_context() else None
    if isinstance(pool, StackPool):
        return pool.get(path, version)
    return open_stack(path)


def _image_of(job: ImageJob) -> tuple[np.ndarray, dict[str, Any]]:
    """The full-resolution plane or projection a job shows, and its file entry."""
    req = job.req
    files = image_files(job.ref, job.version)
    if not 0 <= req.session < len(files):
        raise MapNotFoundError(
            f"map {job.ref.id} has no session {req.session} (sessions 0..{len(files) - 1})"
        )
    info = map_info(job.ref, job.version)
    entry = files[req.session]["channels"].get(str(req.channel))
    if entry is None:
        nch = max(info["num_channels"], info["sessions"][req.session]["num_channels"])
        if req.channel > nch:
            raise MapNotFoundError(
                f"map {job.ref.id} has no channel {req.channel} (channels 1..{nch})"
            )
        raise MapNotFoundError(
            f"map {job.ref.id} has no images for session {req.session} channel {req.channel}"
        )
    planes = int(entry["shape"][0])
    if req.projection != "max" and not 0 <= req.z < planes:
        raise MapNotFoundError(
            f"map {job.ref.id} session {req.session} channel {req.channel} has no plane "
            f"{req.z} (planes 0..{planes - 1})"
        )
    path = map_folder(job.ref) / entry["file"]
    try:
        with map_errors(job.ref):  # any failure reading the file: that map's 422
            try:
                image = read_plane(_stack(path, job.version), req)
            except MapFormatError as e:  # name the file by the map, not by the server's path
                raise MapFormatError(f"{job.ref.id}/{entry['file']}", e.problem, e.line) from None
            except FILE_ERRORS as e:
                raise MapFormatError(
                    f"{job.ref.id}/{entry['file']}", f"the image cannot be read ({type(e).__name__})"
                ) from None
    except MapNotFoundError:  # the file went away since the version was taken
        raise MapNotFoundError(
            f"map {job.ref.id} has no images for session {req.session} channel {req.channel}"
        ) from None
    return image, entry


def render(job: ImageJob) -> bytes:
    """Render a job to PNG bytes (no cache)."""
    image, entry = _image_of(job)
    if job.kind == "plane":
        lo, hi = job.contrast.resolve(image)
        return encode_png(to_uint8(image, lo, hi))
    if job.kind == "tile":
        level, x, y = job.extra
        lo, hi = job.contrast.resolve(image)
        t = tile(image, level, x, y, TILE_SIZE)
        u8 = to_uint8(t, lo, hi)
        ny, nx = tile_grid(image.shape, level, TILE_SIZE)
        alpha = None
        if x == nx - 1 or y == ny - 1:  # an edge tile: transparent beyond the image
            f = 1 << (int(entry["max_level"]) - level)
            rows, cols = -(-image.shape[0] // f), -(-image.shape[1] // f)
            r_in, c_in = rows - y * TILE_SIZE, cols - x * TILE_SIZE
            if r_in < TILE_SIZE or c_in < TILE_SIZE:
                alpha = np.zeros((TILE_SIZE, TILE_SIZE), dtype=np.uint8)
                alpha[:r_in, :c_in] = 255
        return encode_png(u8, alpha)
    if job.kind == "crop":
        row, col, half = job.extra
        c = crop(image, row, col, half)
        lo, hi = job.contrast.resolve(c)
        return encode_png(to_uint8(c, lo, hi))
    if job.kind == "thumbnail":
        small = thumbnail(image, job.extra[0])
        lo, hi = job.contrast.resolve(small)
        return encode_png(to_uint8(small, lo, hi))
    raise InvalidParameterError(f"unknown image kind {job.kind!r}")


def image_bytes(job: ImageJob) -> bytes:
    """The job's encoded image, from the shared cache or rendered (and then cached)."""
    if not job.cached:
        counters().incr("image_render")
        return render(job)
    key = job.key
    blob = get_bytes(key)
    if blob is not None:
        counters().incr("image_cache_hit")
        return blob
    data = render(job)
    counters().incr("image_render")
    set_bytes(key, data)
    return data


def plane_contrast(job: ImageJob, bins: int = 64) -> dict[str, Any]:
    """Automatic display range and a histogram of a plane or projection (for contrast sliders).

    Returns
    -------
    dict
        ``{"lo", "hi": automatic range, "min", "max": of the image, "dtype",
        "histogram": {"counts": [...], "edges": [...]}}``.
    """
    image, _ = _image_of(job)
    lo, hi = auto_contrast(image)
    counts, edges = image_histogram(image, bins=bins)
    return {
        "lo": lo,
        "hi": hi,
        "min": float(np.min(image)) if image.size else None,
        "max": float(np.max(image)) if image.size else None,
        "dtype": str(image.dtype),
        "histogram": {"counts": counts.tolist(), "edges": edges.tolist()},
    }


# --------------------------------------------------------------------------- URLs


def _base(ref: MapRef) -> str:
    prefix = settings_of(current_app).url_prefix
    return f"{prefix}api/v1/maps/{ref.owner}/{ref.name}"


def plane_url(ref: MapRef, session: int, z: int, params: ImageParams | None = None) -> str:
    """URL of a plane image (give ``v`` in ``params`` for a browser-cacheable URL)."""
    return f"{_base(ref)}/sessions/{session}/planes/{z}{(params or ImageParams()).query()}"


def tile_url_template(ref: MapRef, session: int, params: ImageParams | None = None) -> str:
    """Leaflet URL template ``.../tiles/{z}/{x}/{y}.png?...`` of a plane (see the module doc)."""
    q = (params or ImageParams()).query()
    return f"{_base(ref)}/sessions/{session}/tiles/{{z}}/{{x}}/{{y}}.png{q}"


def crop_url(ref: MapRef, session: int, params: ImageParams) -> str:
    """URL of a crop around pixel ``(row, col)`` of plane ``z`` (one cell of a run strip);
    ``row`` and ``col`` are rounded to whole pixels (what the crop uses)."""
    p = params
    if p.row is not None and p.col is not None:
        p = replace(p, row=float(round(p.row)), col=float(round(p.col)))
    return f"{_base(ref)}/sessions/{session}/crop{p.query()}"
