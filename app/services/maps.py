"""Maps by reference: where they live, their data version, and the parsed map (cached).

A map is identified by ``(owner, name)``; its files are in ``DATA_DIR/<owner>/<name>/``.
The *data version* is a digest of the size and modification time of every file of the
map, so any save (or upload) changes it and every cache key that includes it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from flask import current_app

from pymapmanager import Map, MapNotFoundError, load_map
from pymapmanager.errors import InvalidParameterError

from ..extensions import cache, settings_of

__all__ = ["MapRef", "data_version", "get_map", "map_folder"]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


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


def map_folder(ref: MapRef, data_dir: Path | None = None) -> Path:
    """The folder of a map; :class:`MapNotFoundError` when there is none."""
    base = data_dir if data_dir is not None else settings_of(current_app).data_dir
    folder = base / ref.owner / ref.name
    if not (folder / f"{ref.name}.txt").is_file():
        raise MapNotFoundError(f"no map {ref.id}")
    return folder


def data_version(ref: MapRef, data_dir: Path | None = None) -> str:
    """A short digest of every file's size and mtime (changes on any save or upload)."""
    folder = map_folder(ref, data_dir)
    h = hashlib.blake2b(digest_size=8)
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in sorted(files):
            if f.startswith("."):
                continue
            st = os.stat(os.path.join(root, f))
            h.update(f"{os.path.relpath(os.path.join(root, f), folder)}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()


def get_map(ref: MapRef, version: str | None = None) -> Map:
    """The parsed map, from the cache when another request (or worker) already read it.

    The cache holds the map's compact serialised form (:meth:`Map.to_bytes`), keyed by
    map id and data version.
    """
    folder = map_folder(ref)
    version = version or data_version(ref)
    key = f"map:{ref.id}:{version}"
    blob = cache.get(key)
    if isinstance(blob, bytes):
        m = Map.from_bytes(blob)
        m.path = folder
        return m
    m = load_map(folder)
    cache.set(key, m.to_bytes())
    log.debug("parsed map %s version %s", ref.id, version)
    return m
