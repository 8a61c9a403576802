"""Finding maps: map folders under paths, their labels, their headers, loading them."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import MapManagerError
from ..io.folders import is_map_folder
from ..io.text import HeaderTable, read_text
from ..model import Map, load_map

__all__ = ["HeaderInfo", "find_maps", "header_info", "label_folders", "load_maps"]

log = logging.getLogger(__name__)


def find_maps(path: str | Path) -> list[Path]:
    """Map folders at ``path``: the map itself, or every map below a folder.

    A map folder is what :func:`~pymapmanager.io.folders.is_map_folder` says (a folder ``X``
    holding ``X.txt``, not hidden); the search does not descend into maps and skips hidden
    folders (such as the ``.<map>.previous`` backups).

    Parameters
    ----------
    path : str or Path
        A map folder, its header ``X.txt``, or a folder of maps (at any depth).

    Returns
    -------
    list of Path
        Sorted; empty when there is no map.

    Examples
    --------
    >>> from pymapmanager.synthetic import generate_map
    >>> a = generate_map("pool/ctrl", name="m1", sessions=2, shape=(2, 32, 32), images=False)
    >>> b = generate_map("pool/drug", name="m2", sessions=2, shape=(2, 32, 32), images=False)
    >>> [p.name for p in find_maps("pool")], find_maps(a / "m1.txt") == [a]
    (['m1', 'm2'], True)
    """
    p = Path(path)
    if p.is_file() and p.suffix == ".txt" and is_map_folder(p.parent) and p.stem == p.parent.name:
        return [p.parent]
    if is_map_folder(p):
        return [p]
    if not p.is_dir():
        return []
    found: list[Path] = []
    stack = [p]
    while stack:
        d = stack.pop()
        try:
            children = sorted(c for c in d.iterdir() if c.is_dir() and not c.name.startswith("."))
        except OSError as e:
            log.warning("cannot list %s: %s", d, e)
            continue
        for c in children:
            if is_map_folder(c):
                found.append(c)
            else:
                stack.append(c)
    return sorted(found)


def load_maps(paths: Iterable[str | Path]) -> tuple[dict[str, Map], list[str]]:
    """Load every map at ``paths`` (maps or folders of maps).

    Parameters
    ----------
    paths : iterable of str or Path
        Map folders or folders of maps.

    Returns
    -------
    maps : dict
        Label -> map, in path order. The label is the map's name, or ``parent/name`` when
        two maps share a name.
    warnings : list of str
        A path with no map, or a map that could not be read (and is left out).

    Examples
    --------
    >>> from pymapmanager.synthetic import generate_map
    >>> _ = generate_map("lm/a", name="m", sessions=2, shape=(2, 32, 32), images=False)
    >>> _ = generate_map("lm/b", name="m", sessions=2, shape=(2, 32, 32), images=False)
    >>> maps, warnings = load_maps(["lm", "nowhere"])
    >>> list(maps), len(warnings)
    (['a/m', 'b/m'], 1)
    """
    folders, warnings = label_folders(paths)
    maps: dict[str, Map] = {}
    for label, f in folders.items():
        try:
            maps[label] = load_map(f)
        except MapManagerError as e:
            warnings.append(f"map {label} could not be read and is left out: {e}")
    return maps, warnings


def _labelled(maps: Mapping[str, Map] | Sequence[Map]) -> dict[str, Map]:
    if isinstance(maps, Mapping):
        return dict(maps)
    out: dict[str, Map] = {}
    for m in maps:
        label = m.name
        k = 2
        while label in out:
            label = f"{m.name} ({k})"
            k += 1
        out[label] = m
    return out



@dataclass(frozen=True)
class HeaderInfo:
    """What a map's header says about pooling: its map condition and sessions.

    Parameters
    ----------
    name : str
        The map's name.
    map_condition : str
        Its ``mapCond`` (may be empty).
    conditions : tuple of str
        Each session's condition (``condStr``).
    days : tuple of float
        Each session's ``days`` (NaN where unknown).
    """

    name: str
    map_condition: str
    conditions: tuple[str, ...]
    days: tuple[float, ...]


def header_info(folder: str | Path) -> HeaderInfo:
    """Read only a map's header: map condition, session conditions and days.

    Parameters
    ----------
    folder : str or Path
        The map folder.

    Returns
    -------
    HeaderInfo

    Raises
    ------
    MapFormatError, OSError
        The header is missing or malformed.

    Examples
    --------
    >>> from pymapmanager.synthetic import generate_map
    >>> h = header_info(generate_map("hi", sessions=3, shape=(2, 32, 32), images=False,
    ...                              map_condition="ctrl"))
    >>> h.name, h.map_condition, h.conditions, h.days[0]
    ('demo', 'ctrl', ('c', 'e1', 'e2'), 0.0)
    """
    folder = Path(folder)
    hpath = folder / f"{folder.name}.txt"
    h = HeaderTable.parse(read_text(hpath), hpath)
    n = sum(1 for c in h.cells("hsStack") if c.strip())

    def day(j: int) -> float:
        try:
            return float(h.get("days", j, "nan"))
        except ValueError:
            return math.nan

    return HeaderInfo(
        folder.name,
        h.get("mapCond", 0).strip(),
        tuple(h.get("condStr", j).strip() for j in range(n)),
        tuple(day(j) for j in range(n)),
    )


def label_folders(paths: Iterable[str | Path]) -> tuple[dict[str, Path], list[str]]:
    """Map folders at ``paths`` (maps or folders of maps), labelled as :func:`load_maps` does.

    Parameters
    ----------
    paths : iterable of str or Path

    Returns
    -------
    folders : dict
        Label -> map folder, in path order (each folder once).
    warnings : list of str
        The paths with no map.
    """
    warnings_: list[str] = []
    folders: list[Path] = []
    for path in paths:
        found = find_maps(path)
        if not found:
            warnings_.append(f"{path}: no map found (neither a map folder nor a folder of maps)")
        folders.extend(f for f in found if f not in folders)
    names = [f.name for f in folders]
    out: dict[str, Path] = {}
    for f in folders:
        out[f.name if names.count(f.name) == 1 else f"{f.parent.name}/{f.name}"] = f
    return out, warnings_

