"""The catalog: every map the current request may see, summarised (cached by data version).

Maps live in ``DATA_DIR/<owner>/<map>/``. Folders starting with a dot (``.cache``,
``.<map>.previous`` backups, maps being generated) and folders without a ``<map>.txt``
header are not maps. Plain functions the dashboard's callbacks call directly.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from flask import current_app

from pymapmanager import MapNotFoundError
from pymapmanager.errors import InvalidParameterError, MapFormatError

from ..auth import readable_refs, visible_owners
from ..extensions import settings_of
from .maps import MapRef, cached_json, data_version, get_map, map_info
from .store import get_many_bytes

__all__ = ["list_maps", "map_refs", "map_summary", "thumbnail_url"]

log = logging.getLogger(__name__)


def _is_map_dir(entry: os.DirEntry[str]) -> bool:
    return (
        not entry.name.startswith(".")
        and not entry.name.endswith(".previous")
        and entry.is_dir()
        and os.path.isfile(os.path.join(entry.path, f"{entry.name}.txt"))
    )


def map_refs(owners: list[str] | None = None, data_dir: Path | None = None) -> list[MapRef]:
    """Every map folder of the given owners that the request may read, sorted."""
    base = data_dir if data_dir is not None else settings_of(current_app).data_dir
    refs: list[MapRef] = []
    for owner in owners if owners is not None else visible_owners():
        folder = base / owner
        if owner.startswith(".") or not folder.is_dir():
            continue
        with os.scandir(folder) as it:
            for e in it:
                if _is_map_dir(e):
                    try:
                        refs.append(MapRef(owner, e.name))
                    except InvalidParameterError:  # a name we cannot serve
                        log.warning("skipping map folder with an unusable name: %s", e.path)
    return readable_refs(sorted(refs))


def thumbnail_url(ref: MapRef, version: str) -> str:
    """URL of the map's thumbnail (max projection of session 0), immutable for this version."""
    prefix = settings_of(current_app).url_prefix
    return f"{prefix}api/v1/maps/{ref.owner}/{ref.name}/thumbnail?v={version}"


def _summary_key(ref: MapRef, version: str) -> str:
    return f"summary:{ref.id}:{version}"


def map_summary(ref: MapRef, version: str | None = None) -> dict[str, Any]:
    """One catalog entry.

    Returns
    -------
    dict
        ``{"id": "owner/name", "owner", "name", "version", "num_sessions", "dates": [per
        session], "conditions": [per session], "map_condition", "num_objects",
        "num_spines" (spineROI rows over all sessions), "num_runs", "num_map_segments",
        "num_channels", "has_images", "thumbnail_url" (None without images of session 0),
        "error" (None, or why the map cannot be read; then counts are None)}``.
    """
    version = version or data_version(ref)

    def build() -> dict[str, Any]:
        base: dict[str, Any] = {
            "id": ref.id,
            "owner": ref.owner,
            "name": ref.name,
            "version": version,
        }
        try:
            info = map_info(ref, version)
            m = get_map(ref, version)
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
        sessions = info["sessions"]
        n_spines = sum(int(m.roi_type_mask(j, "spineROI").sum()) for j in range(m.num_sessions))
        return base | {
            "num_sessions": info["num_sessions"],
            "dates": [s["date"] for s in sessions],
            "conditions": [s["condition"] for s in sessions],
            "map_condition": info["map_condition"],
            "num_objects": info["num_objects"],
            "num_spines": n_spines,
            "num_runs": info["num_runs"],
            "num_map_segments": info["num_map_segments"],
            "num_channels": info["num_channels"],
            "has_images": info["has_images"],
            "thumbnail_url": thumbnail_url(ref, version)
            if sessions and sessions[0]["has_images"]
            else None,
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
