"""Maps by reference: where they live, their data version, the parsed map and its JSON views.

A map is identified by ``(owner, name)``; its files are in ``DATA_DIR/<owner>/<name>/``.
The *data version* is a digest of the size and modification time of every file of the
map (symbolic links followed), so any save (or upload) changes it and every cache key that
includes it.

Every view here returns plain JSON-ready values (``None`` for NaN) and is cached in the
shared cache as JSON text keyed by ``(map id, data version, parameters)``. The parsed map
itself stays in the worker's :class:`MapStore` (bounded by bytes), never in the shared
cache. Any error reading a map's files becomes a :class:`MapFormatError` of that map only
(422), naming the file relative to the map folder (:func:`map_errors`). The dashboard's
callbacks call these functions directly; the REST API (``app.api``) serves the same dicts.

Conventions: sessions and planes count from 0, channels from 1 (as in the file names).
Positions are given in µm (``x_um``, ``y_um``, as in the db2 tables) and in full-resolution
pixels (``x_px`` = column, ``y_px`` = row, row 0 at the top); ``z`` is the plane index.
In a dash-leaflet map with ``crs="Simple"`` (see :mod:`app.services.images`) a pixel is
at ``lat = -y_px, lng = x_px``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import stat
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from flask import Flask, current_app, g, has_app_context, has_request_context

from pymapmanager import Map, MapNotFoundError, dynamics, load_map, map_values, statistics
from pymapmanager.analysis import DYNAMICS_NAMES
from pymapmanager.errors import InvalidParameterError, MapFormatError
from pymapmanager.images import max_level, open_stack
from pymapmanager.io.folder import MapFolder
from pymapmanager.io.text import HeaderTable
from pymapmanager.jsonable import json_value

from ..auth import check_readable
from ..extensions import counters, settings_of
from .store import get_bytes, set_bytes

__all__ = [
    "FILE_ERRORS",
    "MAP_STORE_KEY",
    "MAX_CHANNELS",
    "MAX_TABLE_BYTES",
    "TILE_SIZE",
    "WORKING_SEP",
    "MapRef",
    "MapStore",
    "check_contained",
    "check_header",
    "clean_message",
    "data_version",
    "header_of_renamed",
    "init_map_store",
    "map_errors",
    "read_limited",
    "regular_file",
    "relative_error",
    "get_map",
    "image_files",
    "map_folder",
    "map_info",
    "map_ref",
    "map_statistics",
    "session_annotations",
    "tracing",
    "values",
]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")

#: Side of the square image tiles served to the viewer.
TILE_SIZE = 256

#: Where ``create_app`` binds the process's :class:`MapStore`.
MAP_STORE_KEY = "pmm_maps"

#: In a version string, marks the version of a user's working copy (the saved map plus
#: unsaved edits: :mod:`app.services.edits`); data versions never hold it.
WORKING_SEP = "~"


@dataclass(frozen=True, order=True)
class MapRef:
    """A map's identity: owner and name (both safe path components)."""

    owner: str
    name: str

    def __post_init__(self) -> None:
        for part in (self.owner, self.name):
            if not _NAME.match(part) or part.endswith(".previous"):
                raise InvalidParameterError(f"'{part}' is not a valid owner or map name")

    @property
    def id(self) -> str:
        """``owner/name``."""
        return f"{self.owner}/{self.name}"

    @classmethod
    def parse(cls, text: str) -> MapRef:
        """From ``owner/name``."""
        owner, sep, name = text.partition("/")
        if not sep:
            raise InvalidParameterError(f"'{text}' is not a map id (owner/name)")
        return cls(owner, name)


def map_ref(owner: str, name: str) -> MapRef:
    """The reference of a map the current request may read (404 when it may not)."""
    try:
        ref = MapRef(owner, name)
    except InvalidParameterError:
        raise MapNotFoundError(f"no map {owner}/{name}") from None
    # checked once a request (a route and its wrapper both ask; each check is a query)
    seen: set[tuple[str, str]] | None = g.setdefault("_pmm_readable", set()) if has_request_context() else None
    if seen is None or (ref.owner, ref.name) not in seen:
        check_readable(ref.owner, ref.name)
        if seen is not None:
            seen.add((ref.owner, ref.name))
    return ref


def _data_dir(data_dir: Path | None) -> Path:
    return data_dir if data_dir is not None else settings_of(current_app).data_dir


def map_folder(ref: MapRef, data_dir: Path | None = None) -> Path:
    """The folder of a map.

    Raises
    ------
    MapNotFoundError
        No such map folder.
    MapFormatError
        The folder is there but is not a readable map: a symbolic link (a map is the files
        inside its owner's folder), a header that is not a regular file, or a folder
        renamed without its header (the message says what to rename).
    """
    owner_dir = _data_dir(data_dir) / ref.owner
    folder = owner_dir / ref.name
    if folder.is_symlink():
        raise MapFormatError(
            ref.id, "the map folder is a symbolic link; a map must be a real folder inside "
            "its owner's folder (copy it instead of linking it)",
        )  # fmt: skip
    if not folder.is_dir() or owner_dir.is_symlink():
        raise MapNotFoundError(f"no map {ref.id}")
    header = folder / f"{ref.name}.txt"
    if not header.exists() and not header.is_symlink():
        found = header_of_renamed(folder)
        if found is None:
            raise MapNotFoundError(f"no map {ref.id}")
        raise MapFormatError(
            ref.id, f"the folder holds the map '{found}' (its header is {found}.txt): rename "
            f"the folder to '{found}', or rename {found}.txt and the other {found}_* files "
            f"to {ref.name}*",
        )  # fmt: skip
    return folder


_RENAMED = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]{0,127})_objMap\.txt$")


def header_of_renamed(folder: Path) -> str | None:
    """The map name a folder holds when it has no ``<folder>.txt`` header but another
    map's header and objMap (a folder renamed without its files); else None."""
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    for n in sorted(names):
        m = _RENAMED.match(n)
        if m and f"{m['name']}.txt" in names:
            return m["name"]
    return None


def _walk_stats(folder: str, rel: str, out: list[str], seen: set[tuple[int, int]], depth: int = 0) -> None:
    """Name, size, mtime and inode of every file below ``folder`` into ``out``, following
    symbolic links (a linked folder's changes change the version; loops are visited once)."""
    try:
        st = os.stat(folder)
        if (st.st_dev, st.st_ino) in seen or depth > 8:
            out.append(f"{rel}:loop")
            return
        seen.add((st.st_dev, st.st_ino))
        with os.scandir(folder) as it:
            entries = sorted(it, key=_name)
    except OSError as e:  # gone, a loop, not readable: part of the version, not an error
        out.append(f"{rel}:{type(e).__name__}")
        return
    for entry in entries:
        name = entry.name
        if name[0] == ".":
            continue
        try:
            if entry.is_dir():  # follows symbolic links
                _walk_stats(entry.path, f"{rel}{name}/", out, seen, depth + 1)
                continue
            est = entry.stat()
        except OSError as err:
            out.append(f"{rel}{name}:{type(err).__name__}")
            continue
        out.append(f"{rel}{name}:{est.st_size}:{est.st_mtime_ns}:{est.st_ino}")


def _name(e: os.DirEntry[str]) -> str:
    return e.name


def data_version(ref: MapRef, data_dir: Path | None = None) -> str:
    """A short digest of the name, size and modification time of every file of the map
    (following symbolic links): changes on any save, upload or edit of a linked file."""
    folder = os.path.join(_data_dir(data_dir), ref.owner, ref.name)
    if not os.path.isdir(folder):
        raise MapNotFoundError(f"no map {ref.id}")
    out: list[str] = []
    _walk_stats(folder, "", out, set())
    return hashlib.blake2b(";".join(out).encode(), digest_size=8).hexdigest()


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ABS_PATH = re.compile(r"(?<![\w.~])/(?:[^\s:'\"/]+/)+([^\s:'\"/]*)")


def clean_message(text: str, data_dir: Path | None = None) -> str:
    """A message safe to show: no server paths (names relative to the data directory,
    other absolute paths cut to their last part) and no control characters (``\\xNN``)."""
    if data_dir is not None:
        for base in {str(data_dir), os.path.realpath(data_dir)}:
            text = text.replace(base.rstrip("/") + "/", "")
    text = _ABS_PATH.sub(lambda m: m.group(1) or "/", text)
    text = text.replace("\t", " ").replace("\n", " ").replace("\r", " ")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


#: errors a damaged map file can still raise from code not yet hardened (library or here):
#: they are about that map's files, so they become a MapFormatError of that map (422)
FILE_ERRORS: tuple[type[Exception], ...] = (
    OSError, ValueError, ArithmeticError, IndexError, KeyError, RecursionError, MemoryError,
    EOFError,
)  # fmt: skip


def relative_error(e: Exception, ref: MapRef, folder: Path) -> MapFormatError:
    """``e`` as a MapFormatError naming the file ``owner/map/relative/path``, safe to show."""
    if isinstance(e, MapFormatError):
        p = Path(e.path)
        try:
            rel = p.relative_to(folder).as_posix()
        except ValueError:
            rel = e.path if not p.is_absolute() else p.name
        where = rel if rel.startswith(ref.id) else f"{ref.id}/{rel}"
        return MapFormatError(
            clean_message(where.rstrip("/"), folder), clean_message(e.problem, folder), e.line
        )
    text = clean_message(str(e), folder) or type(e).__name__
    return MapFormatError(ref.id, f"cannot be read: {text}")


@contextmanager
def map_errors(ref: MapRef, data_dir: Path | None = None) -> Iterator[None]:
    """Turn any error reading the map's files into a :class:`MapFormatError` of that map
    (422) with paths relative to the map folder and no control characters."""
    try:
        yield
    except MapFormatError as e:
        folder = _data_dir(data_dir) / ref.owner / ref.name
        raise relative_error(e, ref, folder) from None
    except FILE_ERRORS as e:
        log.warning("map %s: unexpected %s reading it", ref.id, type(e).__name__, exc_info=True)
        folder = _data_dir(data_dir) / ref.owner / ref.name
        raise relative_error(e, ref, folder) from None


class MapStore:
    """Parsed maps of one worker process, least recently used dropped beyond ``max_bytes``.

    Bound by ``create_app``. A parsed map is never put in the shared cache: measured on a
    9-session real-size map, encoding it costs many times the parse and decoding it more
    than the parse (``bench/bench_cache_form.py``), so the shared cache holds only what is
    derived from it (JSON views, PNGs). A map's size is estimated as twice the bytes of its
    text files (numbers parsed to float64 take about what their text took, plus indexes).
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()
        self._maps: OrderedDict[tuple[MapRef, str], tuple[Map, int]] = OrderedDict()
        self._bytes = 0

    def get(self, ref: MapRef, version: str) -> Map | None:
        """The parsed map of ``ref`` at ``version``, if held."""
        with self._lock:
            hit = self._maps.get((ref, version))
            if hit is None:
                return None
            self._maps.move_to_end((ref, version))
            return hit[0]

    def put(self, ref: MapRef, version: str, m: Map, size: int) -> None:
        """Hold ``m`` (older versions of the same map are dropped)."""
        with self._lock:
            for key in [k for k in self._maps if k[0] == ref]:
                self._bytes -= self._maps.pop(key)[1]
            if size > self.max_bytes:
                return
            self._maps[(ref, version)] = (m, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                self._bytes -= self._maps.popitem(last=False)[1][1]

    @property
    def nbytes(self) -> int:
        """Estimated bytes held."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._maps)


def init_map_store(server: Flask, max_bytes: int) -> MapStore:
    """Bind a MapStore to the server (one per process and app)."""
    store = MapStore(max_bytes)
    server.extensions[MAP_STORE_KEY] = store
    return store


def _text_bytes(folder: Path) -> int:
    total = 0
    for sub in (folder, folder / "stackdb", folder / "line"):
        try:
            with os.scandir(sub) as it:
                for e in it:
                    if e.name.endswith(".txt") and e.is_file():
                        total += e.stat().st_size
        except OSError:
            continue
    return total


#: largest header or link table the server reads itself (bytes); larger is an error
MAX_TABLE_BYTES = 64 << 20
#: most channels the server believes a header (more would be a loop over absent files)
MAX_CHANNELS = 64

_STACK = re.compile(r"^[^/\\\x00-\x1f\x7f]{1,255}$")


def regular_file(folder: Path | MapFolder, rel: str, required: bool) -> Path | None:
    """``folder/rel`` when it is a regular file inside the folder; None when absent and
    optional; else a MapFormatError saying why it cannot be read (never opens it).

    The library's rule (:class:`pymapmanager.io.folder.MapFolder`): links are followed
    only inside the map folder, also links of the folders on the way. Pass one
    ``MapFolder`` for many files of a map: it looks at each sub-folder once.
    """
    p = (folder if isinstance(folder, MapFolder) else MapFolder(folder)).resolve(rel)
    if p is None and required:
        raise MapFormatError(rel, "file is missing")
    return p


def read_limited(p: Path, limit: int) -> bytes:
    """The bytes of a regular file, refused when larger than ``limit``."""
    with open(p, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise MapFormatError(p, f"is larger than the {limit} bytes the server reads")
    return data


def _channel_cell(hpath: Path, header: HeaderTable, row: str) -> int | None:
    text = header.get(row, 0).strip()
    if not text:
        return None
    try:
        f = float(text)
    except ValueError:
        return None  # as the library: not a number means the default
    if not math.isfinite(f) or not 0 <= f <= MAX_CHANNELS:
        raise MapFormatError(
            hpath, f"{row}={clean_message(text[:40])} is not a channel number (0..{MAX_CHANNELS})"
        )
    return int(f)


def check_header(folder: Path | MapFolder, name: str) -> tuple[HeaderTable, list[str], int]:
    """Read and check a map's header before anything loops over what it says: the header
    is a regular file, stack names are plain file names, ``numChannels`` and
    ``defaultChannel`` are sane numbers.

    Returns
    -------
    header, stacks (non-empty ``hsStack`` cells), number of channels (at least 1)
    """
    hpath = regular_file(folder, f"{name}.txt", True)
    assert hpath is not None
    header = HeaderTable.parse(read_limited(hpath, MAX_TABLE_BYTES).decode("latin-1"), hpath)
    if "hsStack" not in header:
        raise MapFormatError(hpath, "the header has no 'hsStack' row")
    stacks = [c for c in header.cells("hsStack") if c.strip()]
    for j, hs in enumerate(stacks):
        if not _STACK.match(hs) or hs in (".", "..") or hs.startswith((" ", "..")):
            raise MapFormatError(
                hpath, f"session {j}: the stack name '{clean_message(hs[:60])}' is not a file name"
            )
    nch = _channel_cell(hpath, header, "numChannels")
    _channel_cell(hpath, header, "defaultChannel")
    return header, stacks, max(1, nch or 1)


def check_contained(folder: Path) -> None:
    """Refuse a map folder holding a symbolic link that leads outside it (a map is the
    files inside its folder; links inside it are allowed) or a special file (FIFO, socket,
    device: opening one could block a worker forever).

    Raises
    ------
    MapFormatError
        Naming the entry.
    """
    root = os.path.realpath(folder)
    todo = [folder]
    while todo:
        d = todo.pop()
        try:
            entries = list(os.scandir(d))
        except OSError:  # not a folder any more, or unreadable: the load names it
            continue
        for e in entries:
            if e.is_symlink():
                real = os.path.realpath(e.path)
                if os.path.commonpath([real, root]) != root:
                    raise MapFormatError(e.path, "is a symbolic link leading outside the map folder")
                try:
                    mode = os.stat(e.path).st_mode
                except OSError:  # a loop or a dangling link: the load names it if it reads it
                    continue
            elif e.is_dir(follow_symlinks=False):
                todo.append(Path(e.path))
                continue
            elif e.is_file(follow_symlinks=False):
                continue
            else:
                mode = e.stat(follow_symlinks=False).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise MapFormatError(e.path, "is not a regular file (a FIFO, socket or device)")


def get_map(ref: MapRef, version: str | None = None) -> Map:
    """The parsed map, from this worker's :class:`MapStore` when it already read it.

    ``version`` may be a working copy's version (:func:`app.services.edits.working_copy`):
    then the map is that working copy's, so every view here and in
    :mod:`app.services.viewer` answers from it when given that version.

    Raises
    ------
    MapFormatError
        The map cannot be read (the message names the file relative to the map).
    """
    folder = map_folder(ref)
    version = version or data_version(ref)
    if WORKING_SEP in version:  # a working copy's version: the saved map plus unsaved edits
        from .edits import working_map

        return working_map(ref, version)
    store = current_app.extensions.get(MAP_STORE_KEY) if has_app_context() else None
    if isinstance(store, MapStore):
        m = store.get(ref, version)
        if m is not None:
            counters().incr("map_store_hit")
            return m
    with map_errors(ref):
        check_header(folder, ref.name)
        check_contained(folder)
        m = load_map(folder)
        for link in (m.objmap, m.segmap):  # every link, so no route meets a bad one later
            if link is not None:
                link.data  # noqa: B018
    counters().incr("map_parse")
    if isinstance(store, MapStore):
        store.put(ref, version, m, 2 * _text_bytes(folder))
    log.info("parsed map %s (version %s)", ref.id, version)
    return m


# --------------------------------------------------------------------------- JSON helpers


def clean(value: Any) -> Any:
    """``value`` made JSON-ready (:func:`pymapmanager.jsonable.json_value`: NaN/inf -> None)."""
    return json_value(value)


def cached_json(key: str, build: Callable[[], Any], ref: MapRef | None = None) -> Any:
    """The JSON value under ``key`` in the cache, else ``build()`` cleaned and stored.

    With ``ref``, ``build`` runs inside :func:`map_errors` (errors reading that map's files
    become its MapFormatError).
    """
    blob = get_bytes(key)
    if blob is not None:
        counters().incr("json_cache_hit")
        return json.loads(blob)
    if ref is None:
        value = clean(build())
    else:
        with map_errors(ref):
            value = clean(build())
    counters().incr("json_build")
    set_bytes(key, json.dumps(value, allow_nan=False, separators=(",", ":")).encode())
    return value


# --------------------------------------------------------------------------- images on disk


def image_files(ref: MapRef, version: str | None = None) -> list[dict[str, Any]]:
    """Per session, the image files there are: what the image endpoints need, cached.

    Returns
    -------
    list of dict, one per session
        ``{"session", "stack", "voxel": [dx, dy, dz], "channels": {"<c>": {"file":
        "raw/<stack>_ch<c>.tif", "shape": [planes, rows, columns], "dtype": "uint16",
        "max_level": L}}}``; ``channels`` is empty when the session has no images.
        Files that are not readable stacks are left out (and logged).
    """
    version = version or data_version(ref)

    def build() -> list[dict[str, Any]]:
        m = get_map(ref, version)
        try:
            raw = sorted(os.listdir(m.path / "raw"))
        except OSError:  # no image folder (or not a folder): no images
            raw = []
        out = []
        for s in m.sessions:
            chans: dict[str, Any] = {}
            # the channels whose files exist (never a loop over a count read from a file)
            pattern = re.compile(re.escape(s.stack) + r"_ch([1-9][0-9]{0,2})\.tiff?$")
            present = sorted({int(g[1]) for n in raw if (g := pattern.match(n))})
            for c in present:
                if c > max(m.num_channels, s.num_channels):
                    continue
                p = m.image_path(s.index, c)
                if p is None:
                    continue
                try:
                    with open_stack(p) as st:
                        shape, dtype = st.shape, st.dtype
                except (MapFormatError, MapNotFoundError, OSError, ValueError) as e:
                    log.warning("map %s: image %s is not usable: %s", ref.id, p.name, e)
                    continue
                chans[str(c)] = {
                    "file": p.relative_to(m.path).as_posix(),
                    "shape": list(shape),
                    "dtype": str(dtype),
                    "max_level": max_level(shape, TILE_SIZE),
                }
            out.append(
                {"session": s.index, "stack": s.stack, "voxel": list(s.voxel), "channels": chans}
            )
        return out

    result: list[dict[str, Any]] = cached_json(f"images:{ref.id}:{version}", build, ref)
    return result


# --------------------------------------------------------------------------- views


def map_info(ref: MapRef, version: str | None = None) -> dict[str, Any]:
    """What ``mapmanager info --json`` prints, plus identity and images per session.

    Returns
    -------
    dict
        :meth:`Map.info` (``name, path, num_sessions, num_channels, num_map_segments,
        num_objects, num_runs, default_roi, map_condition, sessions``) where ``path`` is
        the map id ``owner/name`` (server paths stay private), plus ``id``, ``owner``,
        ``version`` (the data version: add ``v=<version>`` to image URLs), ``default_channel``,
        ``roi_types``, ``has_images`` (any session), ``tile_size``; each session also has
        ``has_images``, ``channels_with_images`` and ``image`` (``{"shape": [planes, rows,
        columns], "dtype", "max_level"}`` of its first channel with images, else None).
    """
    version = version or data_version(ref)

    def build() -> dict[str, Any]:
        m = get_map(ref, version)
        files = image_files(ref, version)
        info = m.info()
        info["path"] = ref.id
        roi_types: set[str] = set()
        for t in m.db2:
            rt = t.data.get("roiType")
            if rt is not None:
                roi_types.update(str(v) for v in rt if str(v))
        for s, f in zip(info["sessions"], files, strict=True):
            chans = sorted(int(c) for c in f["channels"])
            s["has_images"] = bool(chans)
            s["channels_with_images"] = chans
            first = f["channels"][str(chans[0])] if chans else None
            s["image"] = (
                None
                if first is None
                else {k: first[k] for k in ("shape", "dtype", "max_level")}
            )
        info.update(
            id=ref.id,
            owner=ref.owner,
            version=version,
            default_channel=m.default_channel,
            roi_types=sorted(roi_types),
            has_images=any(s["has_images"] for s in info["sessions"]),
            tile_size=TILE_SIZE,
        )
        return info

    result: dict[str, Any] = cached_json(f"info:{ref.id}:{version}", build, ref)
    return result


def map_statistics(ref: MapRef, version: str | None = None) -> list[str]:
    """Every statistic :func:`values` accepts for this map."""
    version = version or data_version(ref)
    result: list[str] = cached_json(
        f"stats:{ref.id}:{version}", lambda: statistics(get_map(ref, version)), ref
    )
    return result


def _check_roi(m: Map, roi: str | None) -> str:
    roi = roi or m.default_roi
    if m.roi_type_number(roi) is None:
        raise InvalidParameterError(f"unknown ROI type '{roi}'")
    return roi


def values(
    ref: MapRef,
    stat: str,
    *,
    roi: str | None = None,
    segment: int | None = None,
    include_bad: bool = False,
    version: str | None = None,
) -> dict[str, Any]:
    """Map values of one statistic: runs x sessions (``mapmanager values --format json``).

    Returns
    -------
    dict
        ``{"map": id, "stat", "roi", "segment", "include_bad", "sessions": [0..n-1],
        "runs": [run index per row], "values": [[value or None per session] per run],
        "rows": [[db2 row or None per session] per run]}``.

    Raises
    ------
    InvalidParameterError
        Unknown statistic or ROI type, or a map without segments asked for one (400).
    MapNotFoundError
        No such map segment (404).
    """
    version = version or data_version(ref)
    if segment is not None and segment < 0:
        raise InvalidParameterError(f"segment must be >= 0, got {segment}")
    key = f"values:{ref.id}:{version}:{stat}:{roi}:{segment}:{int(include_bad)}"

    def build() -> dict[str, Any]:
        m = get_map(ref, version)
        r = _check_roi(m, roi)
        mv = map_values(m, stat, roi=r, segment=segment, include_bad=include_bad)
        return {
            "map": ref.id,
            "stat": stat,
            "roi": r,
            "segment": segment,
            "include_bad": include_bad,
            "sessions": list(range(mv.shape[1])),
            "runs": mv.runs,
            "values": mv.values,
            "rows": [[None if math.isnan(v) else int(v) for v in row] for row in mv.rows],
        }

    result: dict[str, Any] = cached_json(key, build, ref)
    return result


def _note(notes: Any, i: int) -> str:
    """The note of row ``i`` of a table's ``note`` column ("" when none or not text)."""
    v = None if notes is None else notes[i]
    return v if isinstance(v, str) else ""


def session_annotations(
    ref: MapRef, session: int, *, roi: str | None = None, version: str | None = None
) -> dict[str, Any]:
    """Every object of one session, with its run, map segment and dynamics.

    Parameters
    ----------
    roi : str, optional
        One ROI type (default the map's default, usually ``spineROI``), or ``"all"``.

    Returns
    -------
    dict
        ``{"map", "session", "roi", "voxel": [dx, dy, dz], "objects": [...]}``; each
        object is ``{"row": db2 row, "run": row of the runs table of its ROI type (as in
        :func:`values`), "roiType", "x_um", "y_um", "x_px", "y_px", "z": plane,
        "segment": map segment or None, "stack_segment": parentID or None, "isBad": bool,
        "dynamics": 1 added / 2 subtracted / 3 transient / 4 persistent (from presence in
        the neighbouring sessions, bad objects included), "dynamics_name", "pDist",
        "note": text ("" when none), "userType": number or None}``.
        ``x_px``/``y_px`` are None when the header has no voxel size.
    """
    version = version or data_version(ref)
    key = f"annotations:{ref.id}:{version}:{session}:{roi}"

    def build() -> dict[str, Any]:
        m = get_map(ref, version)
        s = m.session(session)
        t = m.db2[session]
        n = len(t)
        rt = t.data.get("roiType")
        types = np.asarray(rt, dtype=object).astype(str) if rt is not None else np.full(n, "")
        if roi == "all":
            wanted = sorted({str(v) for v in types if str(v)})
        else:
            wanted = [_check_roi(m, roi)]
        run = np.full(n, np.nan)
        dyn = np.full(n, np.nan)
        for r in wanted:
            mv = map_values(m, "session", roi=r, include_bad=True)
            d = dynamics(mv.present())
            rows = mv.rows[:, session]
            ok = rows >= 0
            run[rows[ok].astype(int)] = mv.runs[ok]
            dyn[rows[ok].astype(int)] = d[ok, session]

        def col(name: str) -> np.ndarray:
            c = t.data.get(name)
            if c is None or c.dtype == object:
                return np.full(n, np.nan)
            return np.asarray(c, dtype=float)

        x, y, z, parent, pdist = col("x"), col("y"), col("z"), col("parentID"), col("pDist")
        utype = col("userType")
        notes = t.data.get("note")
        bad = m.bad_mask(session)
        dx, dy, _ = s.voxel
        px_ok = math.isfinite(dx) and math.isfinite(dy) and dx > 0 and dy > 0
        keep = np.isin(types, wanted)
        objects = []
        for i in np.flatnonzero(keep):
            code = dyn[i]
            objects.append(
                {
                    "row": int(i),
                    "run": None if math.isnan(run[i]) else int(run[i]),
                    "roiType": str(types[i]),
                    "x_um": x[i],
                    "y_um": y[i],
                    "x_px": x[i] / dx if px_ok else None,
                    "y_px": y[i] / dy if px_ok else None,
                    "z": None if math.isnan(z[i]) else int(z[i]),
                    "segment": m.map_segment_of(session, float(parent[i])),
                    "stack_segment": None if math.isnan(parent[i]) else int(parent[i]),
                    "isBad": bool(bad[i]),
                    "dynamics": None if math.isnan(code) else int(code),
                    "dynamics_name": None if math.isnan(code) else DYNAMICS_NAMES[int(code)],
                    "pDist": pdist[i],
                    "note": _note(notes, int(i)),
                    "userType": utype[i],
                }
            )
        return {
            "map": ref.id,
            "session": session,
            "roi": "all" if roi == "all" else wanted[0],
            "voxel": list(s.voxel),
            "objects": objects,
        }

    result: dict[str, Any] = cached_json(key, build, ref)
    return result


def tracing(ref: MapRef, session: int, *, version: str | None = None) -> dict[str, Any]:
    """The dendrite tracing of one session, one polyline per segment.

    Returns
    -------
    dict
        ``{"map", "session", "has_tracing", "voxel", "segments": [{"id": stack segment,
        "segment": map segment or None, "length_um", "x_um": [...], "y_um": [...],
        "z": [...], "x_px": [...], "y_px": [...]}]}``; ``segments`` is empty when the
        session has no tracing file (not an error: many maps have none).
    """
    version = version or data_version(ref)

    def build() -> dict[str, Any]:
        m = get_map(ref, version)
        s = m.session(session)
        tr = m.tracing(session)
        segments = []
        dx, dy, dz = s.voxel
        px_ok = math.isfinite(dx) and math.isfinite(dy) and dx > 0 and dy > 0
        if tr is not None:
            for sid in tr.segment_ids():
                xyz = tr.xyz(int(sid))
                segments.append(
                    {
                        "id": int(sid),
                        "segment": m.map_segment_of(session, float(sid)),
                        "length_um": tr.length(int(sid), 1.0 if math.isnan(dz) else dz),
                        "x_um": xyz[:, 0],
                        "y_um": xyz[:, 1],
                        "z": xyz[:, 2],
                        "x_px": xyz[:, 0] / dx if px_ok else None,
                        "y_px": xyz[:, 1] / dy if px_ok else None,
                    }
                )
        return {
            "map": ref.id,
            "session": session,
            "has_tracing": tr is not None,
            "voxel": list(s.voxel),
            "segments": segments,
        }

    result: dict[str, Any] = cached_json(f"tracing:{ref.id}:{version}:{session}", build, ref)
    return result
