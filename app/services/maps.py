"""Maps by reference: where they live, their data version, the parsed map and its JSON views.

A map is identified by ``(owner, name)``; its files are in ``DATA_DIR/<owner>/<name>/``.
The *data version* is a digest of the size and modification time of every file of the
map, so any save (or upload) changes it and every cache key that includes it.

Every function here returns plain JSON-ready values (``None`` for NaN) and is cached in
the shared cache as compact bytes keyed by ``(map id, data version, parameters)``: the
parsed map as :meth:`Map.to_bytes`, every view as JSON text. The dashboard's callbacks
call these functions directly; the REST API (``app.api``) serves the same dicts.

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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from flask import current_app

from pymapmanager import Map, MapNotFoundError, dynamics, load_map, map_values, statistics
from pymapmanager.analysis import DYNAMICS_NAMES
from pymapmanager.errors import InvalidParameterError, MapFormatError
from pymapmanager.images import max_level, open_stack
from pymapmanager.jsonable import json_value

from ..auth import check_readable
from ..extensions import counters, settings_of
from .store import get_bytes, set_bytes

__all__ = [
    "TILE_SIZE",
    "MapRef",
    "data_version",
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
    check_readable(ref.owner, ref.name)
    return ref


def _data_dir(data_dir: Path | None) -> Path:
    return data_dir if data_dir is not None else settings_of(current_app).data_dir


def map_folder(ref: MapRef, data_dir: Path | None = None) -> Path:
    """The folder of a map; :class:`MapNotFoundError` when there is none."""
    folder = _data_dir(data_dir) / ref.owner / ref.name
    if not (folder / f"{ref.name}.txt").is_file():
        raise MapNotFoundError(f"no map {ref.id}")
    return folder


def _walk_stats(folder: Path, rel: str, h: Any) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except FileNotFoundError:
        return
    for e in entries:
        if e.name.startswith("."):
            continue
        if e.is_dir(follow_symlinks=False):
            _walk_stats(Path(e.path), f"{rel}{e.name}/", h)
        else:
            try:
                st = e.stat()
            except FileNotFoundError:  # removed while we looked
                continue
            h.update(f"{rel}{e.name}:{st.st_size}:{st.st_mtime_ns};".encode())


def data_version(ref: MapRef, data_dir: Path | None = None) -> str:
    """A short digest of every file's size and mtime (changes on any save or upload)."""
    folder = map_folder(ref, data_dir)
    h = hashlib.blake2b(digest_size=8)
    _walk_stats(folder, "", h)
    return h.hexdigest()


def _relative_error(e: MapFormatError, ref: MapRef, folder: Path) -> MapFormatError:
    """The same error with the file named ``owner/map/relative/path``."""
    try:
        rel = Path(e.path).relative_to(folder).as_posix()
    except ValueError:
        rel = Path(e.path).name
    return MapFormatError(f"{ref.id}/{rel}", e.problem, e.line)


def get_map(ref: MapRef, version: str | None = None) -> Map:
    """The parsed map, from the cache when another request (or worker) already read it.

    The cache holds the map's compact serialised form (:meth:`Map.to_bytes`), keyed by
    map id and data version.
    """
    folder = map_folder(ref)
    version = version or data_version(ref)
    key = f"map:{ref.id}:{version}"
    blob = get_bytes(key)
    if blob is not None:
        counters().incr("map_cache_hit")
        m = Map.from_bytes(blob)
        m.path = folder
        return m
    try:
        m = load_map(folder)
    except MapFormatError as e:  # name the file by the map, not by the server's path
        raise _relative_error(e, ref, folder) from None
    counters().incr("map_parse")
    set_bytes(key, m.to_bytes())
    log.info("parsed map %s (version %s)", ref.id, version)
    return m


# --------------------------------------------------------------------------- JSON helpers


def clean(value: Any) -> Any:
    """``value`` made JSON-ready (:func:`pymapmanager.jsonable.json_value`: NaN/inf -> None)."""
    return json_value(value)


def cached_json(key: str, build: Callable[[], Any]) -> Any:
    """The JSON value under ``key`` in the cache, else ``build()`` cleaned and stored."""
    blob = get_bytes(key)
    if blob is not None:
        counters().incr("json_cache_hit")
        return json.loads(blob)
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
        out = []
        for s in m.sessions:
            chans: dict[str, Any] = {}
            for c in range(1, max(m.num_channels, s.num_channels) + 1):
                p = m.image_path(s.index, c)
                if p is None:
                    continue
                try:
                    with open_stack(p) as st:
                        shape, dtype = st.shape, st.dtype
                except (MapFormatError, MapNotFoundError) as e:
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

    result: list[dict[str, Any]] = cached_json(f"images:{ref.id}:{version}", build)
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

    result: dict[str, Any] = cached_json(f"info:{ref.id}:{version}", build)
    return result


def map_statistics(ref: MapRef, version: str | None = None) -> list[str]:
    """Every statistic :func:`values` accepts for this map."""
    version = version or data_version(ref)
    result: list[str] = cached_json(
        f"stats:{ref.id}:{version}", lambda: statistics(get_map(ref, version))
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

    result: dict[str, Any] = cached_json(key, build)
    return result


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
        the neighbouring sessions, bad objects included), "dynamics_name", "pDist"}``.
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
                }
            )
        return {
            "map": ref.id,
            "session": session,
            "roi": "all" if roi == "all" else wanted[0],
            "voxel": list(s.voxel),
            "objects": objects,
        }

    result: dict[str, Any] = cached_json(key, build)
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

    result: dict[str, Any] = cached_json(f"tracing:{ref.id}:{version}:{session}", build)
    return result
