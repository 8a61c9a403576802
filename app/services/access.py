"""Sharing, renaming and the trash of maps, and the "My maps" listing.

The access *rules* are in :mod:`app.auth`; this module changes what they read: a map's
visibility (private or public), its group shares (``read`` or ``edit``), its name, and
whether it is in the trash. Every function checks that the request may do it
(:func:`app.auth.check_manageable`) and commits its change.

The trash: a deleted map's folder moves (one rename, atomic) to
``DATA_DIR/.trash/<owner>/<id>-<name>/`` with its sharing remembered; its owner (or an
admin) restores it within :data:`TRASH_DAYS` days; older entries are purged at start and
whenever a My maps page lists the trash.
"""

from __future__ import annotations

import logging
import os
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select

from pymapmanager import MapNotFoundError
from pymapmanager.errors import InvalidParameterError, MapManagerError

from ..auth import (
    MANAGE,
    PUBLIC_OWNER,
    AccessDeniedError,
    access_level,
    check_manageable,
    current_identity,
    require_login,
)
from ..db import aware, session
from ..db.models import LEVEL_EDIT, LEVEL_READ, Group, MapRecord, MapShare, TrashedMap, utcnow
from ..extensions import settings_of
from .maps import MapRef, cached_json, data_version, map_folder

__all__ = [
    "TRASH_DAYS",
    "delete_map",
    "list_trash",
    "my_maps",
    "purge_trash",
    "rename_map",
    "restore_map",
    "set_public",
    "set_share",
    "sharing",
]

log = logging.getLogger(__name__)

#: days a deleted map can be restored
TRASH_DAYS = 30
TRASH_DIR = ".trash"


def _data_dir() -> Path:
    return settings_of(current_app).data_dir


def _record(ref: MapRef, create: bool = False) -> MapRecord | None:
    db = session()
    rec = db.scalar(select(MapRecord).where(MapRecord.owner == ref.owner, MapRecord.name == ref.name))
    if rec is None and create:
        rec = MapRecord(owner=ref.owner, name=ref.name, public=False)
        db.add(rec)
        db.flush()
    return rec


def sharing(ref: MapRef) -> dict[str, Any]:
    """``{"public": bool, "shares": {group name: "read"|"edit"}}`` of a map (manager only)."""
    check_manageable(ref.owner, ref.name)
    return _sharing_of(ref)


def _sharing_of(ref: MapRef) -> dict[str, Any]:
    rec = _record(ref)
    public = ref.owner == PUBLIC_OWNER or bool(rec and rec.public)
    shares = {sh.group.name: sh.level for sh in rec.shares} if rec else {}
    return {"public": public, "shares": dict(sorted(shares.items()))}


def set_public(ref: MapRef, public: bool) -> None:
    """Make a map public (readable by everyone) or private again."""
    check_manageable(ref.owner, ref.name)
    map_folder(ref)
    if ref.owner == PUBLIC_OWNER and not public:
        raise InvalidParameterError("maps of the owner 'public' are always public")
    rec = _record(ref, create=True)
    assert rec is not None
    rec.public = public
    session().commit()
    log.info("map %s made %s by %s", ref.id, "public" if public else "private", current_identity().name)


def set_share(ref: MapRef, group: str, level: str | None) -> None:
    """Share a map with a group (``read`` or ``edit``), or stop sharing it (``None``)."""
    check_manageable(ref.owner, ref.name)
    map_folder(ref)
    if level not in (None, LEVEL_READ, LEVEL_EDIT):
        raise InvalidParameterError(f"a share is 'read' or 'edit', not '{level}'")
    db = session()
    g = db.scalar(select(Group).where(Group.name == group))
    if g is None:
        raise InvalidParameterError(f"no group {group}")
    rec = _record(ref, create=level is not None)
    if rec is None:
        return
    sh = db.get(MapShare, (rec.id, g.id))
    if level is None:
        if sh is not None:
            db.delete(sh)
    elif sh is None:
        db.add(MapShare(map_id=rec.id, group_id=g.id, level=level))
    else:
        sh.level = level
    db.commit()
    log.info("map %s shared with %s: %s", ref.id, group, level or "no longer")


# --------------------------------------------------------------------------- rename


def _rename_files(folder: Path, old: str, new: str) -> None:
    """Rename the map's own top-level files (``<old>.txt``, ``<old>_objMap.txt``, ...)."""
    for e in os.scandir(folder):
        if e.is_file(follow_symlinks=False) and (e.name.startswith(old + ".") or e.name.startswith(old + "_")):
            os.rename(e.path, folder / (new + e.name[len(old):]))


def rename_map(ref: MapRef, new_name: str) -> MapRef:
    """Rename a map (its folder and its header and link files); sharing follows it."""
    check_manageable(ref.owner, ref.name)
    folder = map_folder(ref)
    try:
        new = MapRef(ref.owner, new_name.strip())
    except InvalidParameterError:
        raise InvalidParameterError(
            f"'{new_name}' is not a valid map name: letters, digits, '_', '.', '-'"
        ) from None
    if new.name == ref.name:
        return ref
    dest = folder.parent / new.name
    if dest.exists() or (folder.parent / f".{new.name}.renaming").exists():
        raise InvalidParameterError(f"a map named {new.name} exists already")
    staging = folder.parent / f".{new.name}.renaming"  # hidden while its files are renamed
    os.rename(folder, staging)
    try:
        _rename_files(staging, ref.name, new.name)
        os.rename(staging, dest)
    except OSError:
        log.exception("renaming %s to %s failed; the files are in %s", ref.id, new.id, staging)
        raise
    backup = folder.parent / f".{ref.name}.previous"
    if backup.is_dir():
        new_backup = folder.parent / f".{new.name}.previous"
        if not new_backup.exists():
            os.rename(backup, new_backup)
            _rename_files(new_backup, ref.name, new.name)
    rec = _record(ref)
    if rec is not None:
        rec.name = new.name
        session().commit()
    log.info("map %s renamed to %s by %s", ref.id, new.id, current_identity().name)
    return new


# --------------------------------------------------------------------------- trash


def delete_map(ref: MapRef) -> int:
    """Move a map to the trash (restorable by its owner for 30 days); the trash entry's id."""
    check_manageable(ref.owner, ref.name)
    folder = map_folder(ref)
    db = session()
    snapshot = _sharing_of(ref)
    entry = TrashedMap(
        owner=ref.owner, name=ref.name, folder="", sharing=snapshot,
        deleted_by=current_identity().name or "",
    )  # fmt: skip
    db.add(entry)
    db.flush()
    rel = Path(TRASH_DIR) / ref.owner / f"{entry.id}-{ref.name}"
    dest = _data_dir() / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    entry.folder = rel.as_posix()
    os.rename(folder, dest)
    rec = _record(ref)
    if rec is not None:
        db.delete(rec)
    db.commit()
    log.info("map %s moved to the trash by %s", ref.id, current_identity().name)
    return entry.id


def _may_restore(entry: TrashedMap) -> bool:
    ident = current_identity()
    return ident.is_admin or (ident.name == entry.owner and entry.owner != PUBLIC_OWNER)


def list_trash(owner: str | None = None) -> list[dict[str, Any]]:
    """The trash entries the request may restore (one owner's when given), newest first."""
    ident = require_login()
    purge_trash()
    q = select(TrashedMap).order_by(TrashedMap.deleted_at.desc())
    if owner is not None:
        q = q.where(TrashedMap.owner == owner)
    elif not ident.is_admin:
        q = q.where(TrashedMap.owner == ident.name)
    out = []
    for t in session().scalars(q):
        if not _may_restore(t):
            continue
        deleted = aware(t.deleted_at)
        out.append({
            "id": t.id, "owner": t.owner, "name": t.name, "deleted_at": deleted.isoformat(),
            "deleted_by": t.deleted_by,
            "expires_at": (deleted + timedelta(days=TRASH_DAYS)).isoformat(),
        })  # fmt: skip
    return out


def restore_map(trash_id: int, new_name: str | None = None) -> MapRef:
    """Put a trashed map back where it was (or under ``new_name``), with its sharing."""
    require_login()
    db = session()
    t = db.get(TrashedMap, trash_id)
    if t is None or not _may_restore(t):
        raise MapNotFoundError("no such map in the trash")
    if utcnow() - aware(t.deleted_at) > timedelta(days=TRASH_DAYS):
        raise MapNotFoundError("no such map in the trash")
    ref = MapRef(t.owner, (new_name or t.name).strip())
    src = _data_dir() / t.folder
    dest = _data_dir() / ref.owner / ref.name
    if dest.exists():
        raise InvalidParameterError(f"a map named {ref.name} exists: restore under another name")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.parent / f".{ref.name}.restoring"
    os.rename(src, staging)
    if ref.name != t.name:
        _rename_files(staging, t.name, ref.name)
    os.rename(staging, dest)
    rec = _record(ref, create=True)
    assert rec is not None
    rec.public = bool(t.sharing.get("public")) and ref.owner != PUBLIC_OWNER
    for gname, level in (t.sharing.get("shares") or {}).items():
        g = db.scalar(select(Group).where(Group.name == gname))
        if g is not None and level in (LEVEL_READ, LEVEL_EDIT):
            db.add(MapShare(map_id=rec.id, group_id=g.id, level=level))
    db.delete(t)
    db.commit()
    log.info("map %s restored from the trash by %s", ref.id, current_identity().name)
    return ref


def purge_trash() -> int:
    """Remove trash entries older than :data:`TRASH_DAYS` days (files too); how many."""
    db = session()
    cutoff = utcnow() - timedelta(days=TRASH_DAYS)
    n = 0
    for t in db.scalars(select(TrashedMap)):
        if aware(t.deleted_at) >= cutoff:
            continue
        folder = _data_dir() / t.folder
        if folder.is_dir() and TRASH_DIR in folder.parts:
            shutil.rmtree(folder, ignore_errors=True)
        db.delete(t)
        n += 1
    if n:
        db.commit()
        log.info("purged %d maps from the trash (older than %d days)", n, TRASH_DAYS)
    return n


# --------------------------------------------------------------------------- My maps


def _folder_size(folder: Path) -> int:
    total = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except FileNotFoundError:
                continue
    return total


def map_size(ref: MapRef, version: str | None = None) -> int:
    """Bytes of the map's files (cached by data version)."""
    version = version or data_version(ref)
    size: int = cached_json(f"size:{ref.id}:{version}", lambda: _folder_size(map_folder(ref)))
    return size


def my_maps(owner: str | None = None) -> list[dict[str, Any]]:
    """The maps a user manages: their own (an admin: every owner's, or ``owner``'s).

    Returns
    -------
    list of dict
        ``{"id", "owner", "name", "size", "num_sessions", "public", "shares": {group:
        level}, "error"}`` sorted by owner and name.
    """
    from .catalog import map_refs, map_summary

    ident = require_login()
    if owner is not None and not ident.is_admin and owner != ident.name:
        raise AccessDeniedError(f"you may not manage the maps of {owner}")
    owners = [owner] if owner else ([] if not ident.name else [ident.name])
    if ident.is_admin and owner is None:
        owners = sorted(
            e.name for e in _data_dir().iterdir() if e.is_dir() and not e.name.startswith(".")
        )
    out = []
    for ref in map_refs(owners):
        if access_level(ref.owner, ref.name) < MANAGE:
            continue
        try:
            version = data_version(ref)
            summ = map_summary(ref, version)
            size = map_size(ref, version)
        except MapManagerError as e:  # removed meanwhile
            log.info("my maps: %s: %s", ref.id, e)
            continue
        sh = _sharing_of(ref)
        out.append({
            "id": ref.id, "owner": ref.owner, "name": ref.name, "size": size,
            "num_sessions": summ.get("num_sessions"), "public": sh["public"],
            "shares": sh["shares"], "error": summ.get("error"),
        })  # fmt: skip
    return out


def group_names() -> list[str]:
    """Every group's name (to share with)."""
    return list(session().scalars(select(Group.name).order_by(Group.name)))
