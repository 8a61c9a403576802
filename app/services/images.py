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

import io
import logging
import math
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

import numpy as np
from flask import current_app
from PIL import Image

from pymapmanager import MapNotFoundError
from pymapmanager.errors import InvalidParameterError, MapFormatError
from pymapmanager.images import (
    PROJECTIONS,
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
from .maps import TILE_SIZE, MapRef, data_version, image_files, map_folder, map_info
from .store import etag_of, get_bytes, set_bytes

__all__ = [
    "PNG_COMPRESS_LEVEL",
    "PROJECTIONS",
    "THUMBNAIL_SIZE",
    "TILE_SIZE",
    "Contrast",
    "ImageJob",
    "crop_job",
    "crop_url",
    "encode_png",
    "image_bytes",
    "plane_contrast",
    "plane_job",
    "plane_url",
    "render",
    "thumbnail_job",
    "tile_job",
    "tile_url_template",
]

log = logging.getLogger(__name__)

#: zlib level of the PNGs: 1 is ~4x faster than Pillow's default 6 for ~10 % more bytes
#: (see bench/bench_images.py)
PNG_COMPRESS_LEVEL = 1
#: Longest side of a map's thumbnail.
THUMBNAIL_SIZE = 256
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

    mimetype = "image/png"


# --------------------------------------------------------------------------- jobs


def _canonical(req: PlaneRequest) -> PlaneRequest:
    req.validate()
    if req.projection == "max":
        return replace(req, z=0, k=0)
    if req.projection == "none":
        return replace(req, k=0)
    return req


def _default_channel(ref: MapRef, version: str) -> int:
    return int(map_info(ref, version)["default_channel"])


def plane_job(
    ref: MapRef,
    session: int,
    z: int,
    *,
    channel: int | None = None,
    projection: str = "none",
    k: int = 0,
    contrast: Contrast | None = None,
    version: str | None = None,
) -> ImageJob:
    """A plane (``projection="none"``), the max projection (``"max"``, z ignored) or a
    sliding max projection of planes ``z-k..z+k`` (``"sliding"``)."""
    version = version or data_version(ref)
    ch = channel if channel is not None else _default_channel(ref, version)
    req = _canonical(PlaneRequest(session, ch, z, projection, k))
    return ImageJob("plane", ref, version, req, contrast or Contrast())


def tile_job(
    ref: MapRef,
    session: int,
    level: int,
    x: int,
    y: int,
    *,
    plane: int = 0,
    channel: int | None = None,
    projection: str = "none",
    k: int = 0,
    contrast: Contrast | None = None,
    version: str | None = None,
) -> ImageJob:
    """Tile ``(x, y)`` of pyramid level ``level`` of a plane or projection (see the module doc)."""
    job = plane_job(
        ref, session, plane, channel=channel, projection=projection, k=k,
        contrast=contrast, version=version,
    )  # fmt: skip
    for name, v in (("level", level), ("x", x), ("y", y)):
        if v < 0:
            raise MapNotFoundError(f"tile {name}={v} does not exist")
    return replace(job, kind="tile", extra=(level, x, y))


def crop_job(
    ref: MapRef,
    session: int,
    row: float,
    col: float,
    z: int,
    *,
    half: int = 32,
    channel: int | None = None,
    k: int = 0,
    contrast: Contrast | None = None,
    version: str | None = None,
) -> ImageJob:
    """A ``2*half`` square around pixel ``(row, col)`` of plane ``z`` (sliding max over
    ``z-k..z+k`` when ``k > 0``), zero-padded beyond the image: one cell of a run strip."""
    if not 1 <= half <= MAX_CROP_HALF:
        raise InvalidParameterError(f"half must be in 1..{MAX_CROP_HALF}, got {half}")
    if not (math.isfinite(row) and math.isfinite(col)):
        raise InvalidParameterError("row and col must be finite numbers")
    job = plane_job(
        ref, session, z, channel=channel, projection="sliding" if k else "none", k=k,
        contrast=contrast, version=version,
    )  # fmt: skip
    return replace(job, kind="crop", extra=(round(row), round(col), half))


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


def encode_png(image: np.ndarray, alpha: np.ndarray | None = None) -> bytes:
    """PNG bytes of an 8-bit grayscale image (with an 8-bit alpha channel when given)."""
    im = Image.fromarray(image, mode="L")
    if alpha is not None:
        im.putalpha(Image.fromarray(alpha, mode="L"))
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buf.getvalue()


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
        with open_stack(path) as stack:
            image = read_plane(stack, req)
    except MapFormatError as e:  # name the file by the map, not by the server's path
        raise MapFormatError(f"{job.ref.id}/{entry['file']}", e.problem, e.line) from None
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


def _query(params: dict[str, Any]) -> str:
    q = {k: v for k, v in params.items() if v is not None}
    return ("?" + urlencode(q)) if q else ""


def plane_url(
    ref: MapRef,
    session: int,
    z: int,
    *,
    channel: int | None = None,
    projection: str = "none",
    k: int | None = None,
    lo: float | None = None,
    hi: float | None = None,
    version: str | None = None,
) -> str:
    """URL of a plane image (give ``version`` for a browser-cacheable URL)."""
    q = {"channel": channel, "projection": None if projection == "none" else projection,
         "k": k, "lo": lo, "hi": hi, "v": version}  # fmt: skip
    return f"{_base(ref)}/sessions/{session}/planes/{z}{_query(q)}"


def tile_url_template(
    ref: MapRef,
    session: int,
    *,
    plane: int = 0,
    channel: int | None = None,
    projection: str = "none",
    k: int | None = None,
    lo: float | None = None,
    hi: float | None = None,
    version: str | None = None,
) -> str:
    """Leaflet URL template ``.../tiles/{z}/{x}/{y}.png?...`` of a plane (see the module doc)."""
    q = {"channel": channel, "plane": plane,
         "projection": None if projection == "none" else projection,
         "k": k, "lo": lo, "hi": hi, "v": version}  # fmt: skip
    return f"{_base(ref)}/sessions/{session}/tiles/{{z}}/{{x}}/{{y}}.png{_query(q)}"


def crop_url(
    ref: MapRef,
    session: int,
    row: float,
    col: float,
    z: int,
    *,
    half: int = 32,
    channel: int | None = None,
    k: int | None = None,
    lo: float | None = None,
    hi: float | None = None,
    version: str | None = None,
) -> str:
    """URL of a crop around pixel ``(row, col)`` of plane ``z`` (one cell of a run strip)."""
    q = {"row": round(row), "col": round(col), "z": z, "half": half, "channel": channel,
         "k": k, "lo": lo, "hi": hi, "v": version}  # fmt: skip
    return f"{_base(ref)}/sessions/{session}/crop{_query(q)}"
