"""The catalog: every map the current request may see, summarised (cached by data version).

Maps live in ``DATA_DIR/<owner>/<map>/``. Folders starting with a dot (``.cache``,
``.<map>.previous`` backups, maps being generated) are not maps; nor are folders with
neither a ``<map>.txt`` header nor another map's files. Plain functions the dashboard's
callbacks call directly.

A catalog entry is built from what is cheap: the header, the first line of each session's
``db2`` table (``numObjects``, ``numSpines``), the link tables (``objMap``, ``segMap``: a
fraction of a millisecond) and the names in ``raw/``; never the tables' rows, intensities,
tracings or images. One map that cannot be read is listed with its error (relative to the
map, no control characters); every other map is unaffected.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
from flask import current_app

from pymapmanager import MapNotFoundError
from pymapmanager.errors import InvalidParameterError, MapFormatError
from pymapmanager.io.folder import MapFolder
from pymapmanager.io.text import LinkMap
from pymapmanager.model import ROI_TYPES, stack_base_name

from ..auth import readable_refs, visible_owners
from ..extensions import counters, settings_of
from .maps import (
    MAX_TABLE_BYTES,
    MapRef,
    cached_json,
    check_header,
    clean_message,
    data_version,
    header_of_renamed,
    map_errors,
    map_folder,
    read_limited,
    regular_file,
)
from .store import get_many_bytes

__all__ = ["SUMMARY_FORMAT", "list_maps", "map_refs", "map_summary", "thumbnail_url"]

log = logging.getLogger(__name__)

#: bump when the entry's fields change (old cached entries are then ignored)
SUMMARY_FORMAT = 2

#: bytes read for a table's first line
FIRST_LINE_BYTES = 4096


def _is_candidate(entry: os.DirEntry[str]) -> bool:
    if entry.name.startswith(".") or entry.name.endswith(".previous"):
        return False
    try:
        if not entry.is_dir():  # follows a symbolic link: a linked map is listed (refused)
            return False
    except OSError:
        return False
    header = os.path.join(entry.path, f"{entry.name}.txt")
    if os.path.lexists(header):
        return True
    return header_of_renamed(Path(entry.path)) is not None


def map_refs(owners: list[str] | None = None, data_dir: Path | None = None) -> list[MapRef]:
    """Every map folder of the given owners (default: those the request may see) that the
    request may read, sorted; folders renamed without their header and unreadable map
    folders included."""
    base = data_dir if data_dir is not None else settings_of(current_app).data_dir
    refs: list[MapRef] = []
    for owner in owners if owners is not None else visible_owners():
        folder = base / owner
        if owner.startswith(".") or folder.is_symlink() or not folder.is_dir():
            continue
        with os.scandir(folder) as it:
            for e in it:
                if _is_candidate(e):
                    try:
                        refs.append(MapRef(owner, e.name))
                    except InvalidParameterError:  # a name we cannot serve
                        log.warning("skipping map folder with an unusable name: %s/%s", owner, e.name)
    return readable_refs(sorted(refs))


def thumbnail_url(ref: MapRef, version: str) -> str:
    """URL of the map's thumbnail (max projection of session 0), immutable for this version."""
    prefix = settings_of(current_app).url_prefix
    return f"{prefix}api/v1/maps/{ref.owner}/{ref.name}/thumbnail?v={version}"


def _summary_key(ref: MapRef, version: str) -> str:
    return f"summary:{SUMMARY_FORMAT}:{ref.id}:{version}"


# --------------------------------------------------------------------------- cheap reading


def _odd_entries(folder: Path) -> set[str]:
    """Names under ``stackdb/`` and ``line/`` that are not plain regular files (links,
    folders, FIFOs...): one directory read each, no stat per file."""
    out: set[str] = set()
    for sub in ("stackdb", "line"):
        try:
            with os.scandir(folder / sub) as it:
                for e in it:
                    if not e.is_file(follow_symlinks=False):
                        out.add(f"{sub}/{e.name}")
        except (FileNotFoundError, NotADirectoryError):
            continue
    return out


def _first_line(p: Path) -> dict[str, str]:
    """``key=value;...`` of a table's first line (CR, LF or CRLF ends)."""
    head = _read_head(p)
    line = re.split(rb"[\r\n]", head, maxsplit=1)[0].decode("latin-1")
    out = {}
    for part in line.split(";"):
        k, sep, v = part.partition("=")
        if sep:
            out[k.strip()] = v.strip()
    return out


def _read_head(p: Path) -> bytes:
    with open(p, "rb") as fh:
        return fh.read(FIRST_LINE_BYTES)


def _count(value: str | None, what: Path, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        f = float(value)
    except ValueError:
        raise MapFormatError(what, f"{name}={clean_message(value[:40])} is not a count", 1) from None
    if not math.isfinite(f) or f < 0 or f != int(f) or f > 1e9:
        raise MapFormatError(what, f"{name}={clean_message(value[:40])} is not a count", 1)
    return int(f)


def _starts(link: LinkMap, node_type: int | None) -> int:
    """Runs of a link table: objects (of ``node_type``) in session 0 or without ``prev``
    (only the blocks this needs are parsed)."""
    _, nrow, nses = link.shape
    if nrow == 0 or nses == 0:
        return 0
    with np.errstate(invalid="ignore"):
        ok = link.block(LinkMap.IDX) >= 0
        if node_type is not None:
            ok &= link.block(LinkMap.NODE_TYPE) == node_type
        ok[:, 1:] &= ~(link.block(LinkMap.PREV)[:, 1:] >= 0)
    return int(ok.sum())


def _cheap_summary(ref: MapRef, folder: Path) -> dict[str, Any]:
    name = ref.name
    files = MapFolder(folder)  # one for every file of the map: each sub-folder looked at once
    header, stacks, nch = check_header(files, name)
    opath = regular_file(files, f"{name}_objMap.txt", True)
    assert opath is not None
    objmap = LinkMap.parse(read_limited(opath, MAX_TABLE_BYTES).decode("latin-1"), opath)
    spath = regular_file(files, f"{name}_segMap.txt", False)
    segmap = None if spath is None else LinkMap.parse(read_limited(spath, MAX_TABLE_BYTES).decode("latin-1"), spath)
    if segmap is not None:
        segmap.data  # noqa: B018  (a few rows: every number checked, as the map's load does)
    roi = header.get("defaultAnnotation", 0).strip() or "spineROI"
    node = ROI_TYPES.get(roi, -1)
    num_objects: int | None = 0
    num_spines: int | None = 0
    try:
        raw = set(os.listdir(folder / "raw"))
    except (FileNotFoundError, NotADirectoryError):
        raw = set()
    with_images = []
    odd = _odd_entries(folder)
    for hs in stacks:
        stack = stack_base_name(hs)
        db2 = regular_file(files, f"stackdb/{stack}_db2.txt", True)
        assert db2 is not None
        for rel in (f"stackdb/{stack}_user.txt", f"line/{stack}_l.txt",
                    *(f"stackdb/{stack}_Int{c}.txt" for c in range(1, nch + 1))):  # fmt: skip
            if rel in odd:  # a link or not a regular file: say why
                regular_file(files, rel, False)
        first = _first_line(db2)
        n_obj = _count(first.get("numObjects"), db2, "numObjects")
        n_sp = _count(first.get("numSpines"), db2, "numSpines")
        num_objects = None if num_objects is None or n_obj is None else num_objects + n_obj
        num_spines = None if num_spines is None or n_sp is None else num_spines + n_sp
        chans = sorted(
            c for c in range(1, nch + 1) if f"{stack}_ch{c}.tif" in raw or f"{stack}_ch{c}.tiff" in raw
        )
        for c in chans:
            ext = ".tif" if f"{stack}_ch{c}.tif" in raw else ".tiff"
            regular_file(files, f"raw/{stack}_ch{c}{ext}", True)
        with_images.append(chans)
    return {
        "num_sessions": len(stacks),
        "dates": [header.get("date", j) for j in range(len(stacks))],
        "conditions": [header.get("condStr", j).strip() for j in range(len(stacks))],
        "map_condition": header.get("mapCond", 0).strip(),
        "num_objects": num_objects,
        "num_spines": num_spines,
        "num_runs": _starts(objmap, node),
        "num_map_segments": 0 if segmap is None else _starts(segmap, None),
        "num_channels": nch,
        "has_images": any(with_images),
        "session0_images": bool(with_images and with_images[0]),
    }


def map_summary(ref: MapRef, version: str | None = None) -> dict[str, Any]:
    """One catalog entry, built from the header and the first lines of the tables.

    Returns
    -------
    dict
        ``{"id": "owner/name", "owner", "name", "version", "num_sessions", "dates": [per
        session], "conditions": [per session], "map_condition", "num_objects",
        "num_spines" (spineROI rows over all sessions, from the db2 tables' first lines),
        "num_runs", "num_map_segments", "num_channels", "has_images", "thumbnail_url" (None
        without images of session 0), "error" (None, or why the map cannot be read, naming
        the file relative to the map; then counts are None)}``.
    """
    version = version or data_version(ref)

    def build() -> dict[str, Any]:
        base: dict[str, Any] = {"id": ref.id, "owner": ref.owner, "name": ref.name, "version": version}
        try:
            with map_errors(ref):
                folder = map_folder(ref)
                s = _cheap_summary(ref, folder)
        except MapFormatError as e:
            log.warning("catalog: map %s cannot be read: %s", ref.id, e)
            return base | {
                "num_sessions": None,
                "dates": [],
                "conditions": [],
                "map_condition": "",
                "num_objects": None,
                "num_spines": None,
                "num_runs": None,
                "num_map_segments": None,
                "num_channels": None,
                "has_images": False,
                "thumbnail_url": None,
                "error": str(e),
            }
        counters().incr("catalog_entry_build")
        session0 = s.pop("session0_images")
        return base | s | {
            "thumbnail_url": thumbnail_url(ref, version) if session0 else None,
            "error": None,
        }

    result: dict[str, Any] = cached_json(_summary_key(ref, version), build)
    return result


def list_maps(owner: str | None = None) -> list[dict[str, Any]]:
    """Every visible map's summary (one owner's when given), sorted by owner then name."""
    owners = visible_owners()
    if owner is not None:
        owners = [o for o in owners if o == owner]
    refs = map_refs(owners)
    versions: list[str | None] = []
    for ref in refs:
        try:
            versions.append(data_version(ref))
        except MapNotFoundError:  # removed since listed
            versions.append(None)
    live = [(r, v) for r, v in zip(refs, versions, strict=True) if v is not None]
    # one round trip for every entry already cached; build the others
    blobs = get_many_bytes([_summary_key(r, v) for r, v in live])
    out = []
    for (ref, version), blob in zip(live, blobs, strict=True):
        out.append(json.loads(blob) if blob is not None else map_summary(ref, version))
    return out
