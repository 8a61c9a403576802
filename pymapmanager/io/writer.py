"""Saving a map folder atomically, keeping the previous version as a backup.

The whole map is written into a staging folder beside the destination (text files
written, every other file such as ``raw/*.tif`` hard-linked, or copied where links are not
possible), flushed to disk, then swapped in with renames. A crash leaves either the old
map or the new one in place, never a mixture. The previous version stays as
``.<name>.previous/`` beside the map (images there are hard links: no extra space).
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InvalidParameterError

if TYPE_CHECKING:
    from ..model import Map

__all__ = ["backup_path", "save_map", "write_text_atomic"]

log = logging.getLogger(__name__)


def backup_path(map_folder: Path) -> Path:
    """Where the previous version of ``map_folder`` is kept after a save."""
    return map_folder.parent / f".{map_folder.name}.previous"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_text_atomic(path: Path, text: str) -> None:
    """Write one file atomically (temporary file in the same folder, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    data = text.encode("utf-8")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _write_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # pragma: no cover - only lone surrogates
        data = text.encode("latin-1", errors="replace")
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def save_map(m: Map, dest: str | Path | None = None, *, backup: bool = True) -> Path:
    """Write ``m`` to ``dest`` (default its own folder).

    Parameters
    ----------
    m : Map
        The map.
    dest : str or Path, optional
        The destination map folder. Its name becomes the map's file prefix only when it
        equals the map's name; saving under another folder name keeps the file names
        (``<map>.txt``) so the folder must be named like the map.
    backup : bool
        Keep the replaced version as ``.<name>.previous``.

    Returns
    -------
    Path
        The map folder written.
    """
    target = Path(dest) if dest is not None else m.path
    target = target.resolve() if target.exists() else target.absolute()
    if target.name != m.name:
        target = target / m.name if target.is_dir() and not (target / f"{target.name}.txt").exists() else target
    if target.name != m.name:
        raise InvalidParameterError(
            f"a map named {m.name} must be saved in a folder named {m.name}, not {target.name}"
        )
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    stage = parent / f".{target.name}.saving-{uuid.uuid4().hex[:8]}"
    stage.mkdir()
    try:
        files = m.files()
        for rel, text in files.items():
            _write_file(stage / rel, text)
        # carry over every other file of the source map (images, notes, ...)
        src = m.path
        if src.is_dir():
            for p in src.rglob("*"):
                if not p.is_file():
                    continue
                rel = p.relative_to(src).as_posix()
                if rel in files or any(part.startswith(".") and part.endswith(".tmp") for part in p.parts):
                    continue
                _link_or_copy(p, stage / rel)
        for d in [stage, *[p for p in stage.rglob("*") if p.is_dir()]]:
            _fsync_dir(d)
        if target.exists():
            old = backup_path(target)
            if old.exists():
                shutil.rmtree(old)
            os.replace(target, old)
            try:
                os.replace(stage, target)
            except OSError:
                os.replace(old, target)
                raise
            if not backup:
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(stage, target)
        _fsync_dir(parent)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
    log.info("saved map %s to %s", m.name, target)
    if dest is None or Path(dest).resolve() == m.path.resolve():
        m.path = target
    return target
