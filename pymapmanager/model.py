"""The map model: a map folder read into sessions, annotation tables, runs and tracings.

Loading reads the header, objMap, segMap and every session's db2/Int/user tables and
checks their structure; table columns are converted on first use (see
:class:`~pymapmanager.io.text.CsvTable`), intensity tables parsed on first use.
Tracings are read on first use, images only when a plane is asked for
(:mod:`pymapmanager.images`).

Example
-------
>>> m = load_map("data/maps/F27A_1")            # doctest: +SKIP
>>> m.num_sessions, m.num_map_segments           # doctest: +SKIP
(4, 5)
"""

from __future__ import annotations

import functools
import logging
import math
import os
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from .errors import (
    InvalidParameterError,
    MapFormatError,
    MapHeaderMissingError,
    MapNotFoundError,
    UnsafeMapPathError,
)
from .io.folder import FileStat, MapFolder, check_name
from .io.text import CsvTable, HeaderTable, LinkMap, Tracing, detect_eol
from .jsonable import json_value

__all__ = [
    "MAX_CHANNELS",
    "MAX_SESSIONS",
    "REQUIRED_HEADER_ROWS",
    "ROI_TYPES",
    "DerivedCache",
    "FileStat",
    "Map",
    "Session",
    "load_map",
    "looks_like_map_folder",
    "map_files",
    "map_folder_error",
    "recover",
    "stack_base_name",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: roiType name -> roiTypeNum / objMap nodeType
ROI_TYPES: dict[str, int] = {
    "spineROI": 0,
    "controlPnt": 2,
    "pivotPnt": 3,
    "otherROI": 4,
    "globalPIvot": 8,
}

#: db2 columns that must hold numbers (text there is a format error)
DB2_NUMERIC = ("roiTypeNum", "x", "y", "z", "channel", "parentID", "cPnt", "sDist", "pDist")

#: map-level statistics every map offers, in addition to its table columns
SESSION_STATS = ("session", "days", "hours", "zdays")


def stack_base_name(hs_stack: str) -> str:
    """The header's stack name without its ``_ch1``.

    Parameters
    ----------
    hs_stack : str
        A ``hsStack`` cell of the header.

    Returns
    -------
    str
        The stack's base name, as the ``stackdb`` files are named.

    Examples
    --------
    >>> stack_base_name("F27A_1_s4_ch1")
    'F27A_1_s4'
    """
    return hs_stack[:-4] if hs_stack.endswith("_ch1") else hs_stack


def _to_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _to_int(text: str, default: int | None = None) -> int | None:
    try:
        return int(float(text))
    except (ValueError, OverflowError):
        return default


@dataclass(frozen=True)
class Session:
    """One imaging session (time point) of a map, as the header describes it.

    Parameters
    ----------
    index : int
        Its position in the map (from 0).
    stack : str
        The stack's base name (:func:`stack_base_name` of ``hsStack``).
    db_name : str
        The header's ``hsdb`` cell.
    date, time : str
        When it was imaged, as written in the header.
    days, hours : float
        Time from the first session (NaN when unknown).
    condition : str
        The experimental condition (``condStr``).
    num_channels : int
        Image channels.
    default_channel : int
        The channel shown first (from 1).
    shape : tuple of (int or None)
        (planes, rows, columns) of its image stack, None where unknown.
    voxel : tuple of float
        (x, y, z) µm per pixel/plane.
    imported_name : str
        The name of the stack it was imported from.
    """

    index: int
    stack: str
    db_name: str
    date: str
    time: str
    days: float
    hours: float
    condition: str
    num_channels: int
    default_channel: int
    shape: tuple[int | None, int | None, int | None]
    voxel: tuple[float, float, float]
    imported_name: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly description.

        Returns
        -------
        dict of str to object
            Its fields by name (NaN as None, tuples as lists).
        """
        return {
            "index": self.index,
            "stack": self.stack,
            "date": self.date,
            "time": self.time,
            "days": json_value(self.days),
            "hours": json_value(self.hours),
            "condition": self.condition,
            "num_channels": self.num_channels,
            "default_channel": self.default_channel,
            "shape": list(self.shape),
            "voxel": [json_value(v) for v in self.voxel],
            "imported_name": self.imported_name,
        }


def _build_runs(link: LinkMap, node_type: int | None) -> np.ndarray:
    """Runs (objects followed through sessions) as a runs x sessions float array.

    A run starts at every object of ``node_type`` (any type when None) that is in session
    0 or has no ``prev``; it follows ``next`` into the following sessions until none.
    Same order and semantics as the old package's ``mmMap._buildRunMap``: runs ordered by
    the session they start in, then by row.
    """
    _, nrow, nses = link.shape
    if nrow == 0 or nses == 0:
        return np.full((0, nses), np.nan)
    idx, nxt, prev = link.block(LinkMap.IDX), link.block(LinkMap.NEXT), link.block(LinkMap.PREV)
    with np.errstate(invalid="ignore"):
        ok = idx >= 0
        if node_type is not None:
            ok &= link.block(LinkMap.NODE_TYPE) == node_type
        ok[:, 1:] &= ~(prev[:, 1:] >= 0)
        start_session, start_row = np.nonzero(ok.T)  # session-major, then row
        nrun = start_session.size
        out = np.full((nrun, nses), np.nan)
        out[np.arange(nrun), start_session] = start_row
        active = np.arange(nrun)
        row = start_row
        col = start_session
        for _ in range(1, nses):
            go = col + 1 < nses
            active, row, col = active[go], row[go], col[go]
            if active.size == 0:
                break
            nx = nxt[row, col]
            valid = (nx >= 0) & (nx < nrow)
            active, col = active[valid], col[valid] + 1
            row = nx[valid].astype(np.intp)
            out[active, col] = row
    return out


def _count_rows(text: str) -> int:
    """Rows below the two header lines of a table text, counted without parsing it."""
    eol = detect_eol(text)
    body = text.rstrip(eol)
    if not body:
        return 0
    if len(eol) == 1 and body.isascii():  # numpy counts bytes several times faster
        ends = int(np.count_nonzero(np.frombuffer(body.encode("ascii"), dtype=np.uint8) == ord(eol)))
    else:
        ends = body.count(eol)
    return max(0, ends + 1 - 2)


class _LazyTables(Mapping[int, CsvTable]):
    """Channel -> intensity table, each parsed on first use (loading only counts rows)."""

    def __init__(self) -> None:
        self._texts: dict[int, tuple[str, str, str]] = {}
        self._tables: dict[int, CsvTable] = {}

    def add(self, channel: int, text: str, path: str, encoding: str = "utf-8") -> None:
        self._texts[channel] = (text, path, encoding)

    def set(self, channel: int, table: CsvTable) -> None:
        self._texts[channel] = ("", table.path, table.encoding)
        self._tables[channel] = table

    def __getitem__(self, channel: int) -> CsvTable:
        t = self._tables.get(channel)
        if t is None:
            text, path, encoding = self._texts[channel]
            t = CsvTable.parse(text, path, all_numeric=True, finite=("*",), encoding=encoding)
            self._tables[channel] = t
        return t

    def __iter__(self) -> Iterator[int]:
        return iter(self._texts)

    def __len__(self) -> int:
        return len(self._texts)

    def __contains__(self, channel: object) -> bool:
        return channel in self._texts


_TEXT_STACKABLE = frozenset({"roiType", "note", "userType", "userName"})


def _segment_lookup(segcol: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """Map segment index of each stack segment ID in ``parent`` (NaN when none)."""
    out = np.full(parent.shape, np.nan)
    valid = ~np.isnan(segcol)
    if not valid.any() or parent.size == 0 or parent.dtype == object:
        return out
    ids = segcol[valid].astype(np.intp)
    if ids.min() < 0:
        return out
    lut = np.full(int(ids.max()) + 1, np.nan)
    lut[ids[::-1]] = np.flatnonzero(valid)[::-1]  # the first map segment wins
    with np.errstate(invalid="ignore"):
        ok = (parent >= 0) & (parent < lut.size)
    out[ok] = lut[parent[ok].astype(np.intp)]
    return out


class DerivedCache:
    """Results derived from a map's tables, computed once and forgotten together.

    One owner for every memoised result of a :class:`Map` (runs, stacked columns,
    masks, frames, analysis selections), keyed by a *kind* (what was derived) and a key
    (the parameters). :meth:`Map.invalidate` clears it after an edit.

    Examples
    --------
    >>> c = DerivedCache()
    >>> c.memo("square", 3, lambda: 9)
    9
    >>> c.get("square", 3), c.get("square", 4)
    (9, None)
    >>> c.clear(); len(c)
    0
    """

    __slots__ = ("_store",)

    def __init__(self) -> None:
        self._store: dict[tuple[str, Hashable], Any] = {}

    def get(self, kind: str, key: Hashable = None) -> Any:
        """The result stored for ``(kind, key)``, or None.

        Parameters
        ----------
        kind : str
            What was derived (``"runs"``, ``"stacked"``, ``"selection"``...).
        key : hashable
            The parameters it was derived for.

        Returns
        -------
        object or None
        """
        return self._store.get((kind, key))

    def put(self, kind: str, key: Hashable, value: T) -> T:
        """Store ``value`` for ``(kind, key)`` and return it.

        Parameters
        ----------
        kind : str
            What was derived.
        key : hashable
            The parameters.
        value : object
            The result (treat it as read-only once stored).

        Returns
        -------
        object
            ``value``.
        """
        self._store[(kind, key)] = value
        return value

    def memo(self, kind: str, key: Hashable, make: Callable[[], T]) -> T:
        """The result for ``(kind, key)``, made by ``make()`` on first use.

        Parameters
        ----------
        kind : str
            What is derived.
        key : hashable
            The parameters.
        make : callable
            Computes the result.

        Returns
        -------
        object
        """
        hit = self._store.get((kind, key))
        if hit is None:
            hit = self._store[(kind, key)] = make()
        return hit  # type: ignore[no-any-return]

    def clear(self) -> None:
        """Forget everything (after an edit)."""
        self._store.clear()

    def forget(self, *kinds: str) -> None:
        """Forget the results of some kinds only.

        Parameters
        ----------
        *kinds : str
            The kinds to forget (e.g. ``"selection"``).
        """
        for k in [k for k in self._store if k[0] in kinds]:
            del self._store[k]

    def __len__(self) -> int:
        return len(self._store)


class Map:
    """A Map Manager map read from its folder.

    Use :func:`load_map` to create one. Sessions count from 0; channels from 1 (as in
    the file names).

    Parameters
    ----------
    path : Path
        The map's folder.
    name : str
        The map's name (its header is ``<name>.txt``).
    header : HeaderTable
        The header.
    objmap : LinkMap
        The object links (``<name>_objMap.txt``).
    segmap : LinkMap or None
        The segment links (``<name>_segMap.txt``), None when the map has none.
    db2 : list of CsvTable
        Each session's annotations (``stackdb/<stack>_db2.txt``).
    intensity : list of mapping of int to CsvTable
        Each session's intensity tables by channel (``stackdb/<stack>_Int<c>.txt``).
    user : list of (CsvTable or None)
        Each session's user table (``stackdb/<stack>_user.txt``), None where absent.
    """

    def __init__(
        self,
        path: Path,
        name: str,
        header: HeaderTable,
        objmap: LinkMap,
        segmap: LinkMap | None,
        db2: list[CsvTable],
        intensity: list[Mapping[int, CsvTable]],
        user: list[CsvTable | None],
    ) -> None:
        self.path = path
        self.name = name
        self.header = header
        self.objmap = objmap
        self.segmap = segmap
        self.db2 = db2
        self.intensity = intensity
        self.user = user
        #: tracings read so far (read on first use: they are data, not derived)
        self._tracings: dict[int, Tracing | None] = {}
        #: every result derived from the tables (see :meth:`invalidate`)
        self.derived = DerivedCache()
        #: why the map cannot be written (None when it can)
        self.read_only: str | None = None
        #: the files the map reads (set by :func:`load_map`)
        self._plan: _Plan | None = None

    # ------------------------------------------------------------------ description

    @property
    def num_sessions(self) -> int:
        """Number of sessions (non-empty ``hsStack`` cells)."""
        return len(self.db2)

    @property
    def num_channels(self) -> int:
        """Number of image channels (header ``numChannels`` of session 0, at least 1)."""
        return max(1, _to_int(self.header.get("numChannels", 0), 1) or 1)

    @property
    def default_channel(self) -> int:
        """The channel to show first."""
        ch = _to_int(self.header.get("defaultChannel", 0), 1) or 1
        return ch if 1 <= ch <= self.num_channels else 1

    @property
    def default_roi(self) -> str:
        """The map's default annotation type (``spineROI`` unless the header says else)."""
        v = self.header.get("defaultAnnotation", 0).strip()
        return v or "spineROI"

    @property
    def map_condition(self) -> str:
        """The map condition (``mapCond``), may be empty."""
        return self.header.get("mapCond", 0).strip()

    @property
    def sessions(self) -> list[Session]:
        """The sessions, from the header."""
        hit: list[Session] | None = self.derived.get("sessions")
        if hit is None:
            h = self.header
            out = []
            for j in range(self.num_sessions):
                pz = _to_int(h.get("pz", j))
                out.append(
                    Session(
                        index=j,
                        stack=stack_base_name(h.get("hsStack", j)),
                        db_name=h.get("hsdb", j),
                        date=h.get("date", j),
                        time=h.get("time", j),
                        days=_to_float(h.get("days", j, "nan")),
                        hours=_to_float(h.get("hours", j, "nan")),
                        condition=h.get("condStr", j).strip(),
                        num_channels=_to_int(h.get("numChannels", j), self.num_channels)
                        or self.num_channels,
                        default_channel=_to_int(h.get("defaultChannel", j), 1) or 1,
                        shape=(pz, _to_int(h.get("py", j)), _to_int(h.get("px", j))),
                        voxel=(
                            _to_float(h.get("dx", j, "nan")),
                            _to_float(h.get("dy", j, "nan")),
                            _to_float(h.get("dz", j, "nan")),
                        ),
                        imported_name=h.get("importedStackName", j),
                    )
                )
            hit = self.derived.put("sessions", None, out)
        return hit

    def session(self, index: int) -> Session:
        """One session.

        Parameters
        ----------
        index : int
            The session (from 0).

        Returns
        -------
        Session

        Raises
        ------
        MapNotFoundError
            The map has no such session.
        """
        if not isinstance(index, (int, np.integer)) or not 0 <= index < self.num_sessions:
            raise MapNotFoundError(
                f"map {self.name} has no session {index} (sessions 0..{self.num_sessions - 1})"
            )
        return self.sessions[int(index)]

    @property
    def num_objects(self) -> int:
        """Total number of annotation rows over all sessions."""
        return sum(len(t) for t in self.db2)

    @property
    def runs(self) -> np.ndarray:
        """Runs x sessions array of db2 row indices (NaN where absent), default ROI type.

        Same rows in the same order as the old package's ``mmMap.runMap``.
        """
        return self.runs_of(self.default_roi)

    def runs_of(self, roi: str | None) -> np.ndarray:
        """Runs of objects of one ROI type.

        Parameters
        ----------
        roi : str or None
            The ROI type (``"spineROI"``...); None: runs starting at any object.

        Returns
        -------
        ndarray, shape (runs, sessions)
            db2 row indices, NaN where a run is absent (read-only, cached).
        """
        hit: np.ndarray | None = self.derived.get("runs", roi)
        if hit is None:
            node = None if roi is None else self.roi_type_number(roi)
            if roi is not None and node is None:
                node = -1  # unknown type: no run starts
            hit = self.derived.put("runs", roi, _build_runs(self.objmap, node))
        return hit

    def roi_type_number(self, roi: str) -> int | None:
        """The objMap ``nodeType`` of an ROI type.

        Parameters
        ----------
        roi : str
            The ROI type (``"spineROI"``...).

        Returns
        -------
        int or None
            From the tables' ``roiTypeNum``, else the format's number for a known type;
            None for an unknown one.
        """
        for t in self.db2:
            if "roiTypeNum" not in t.data:
                break
            hit = np.flatnonzero(t.data["roiType"] == roi)
            if hit.size:
                v = t.data["roiTypeNum"][hit[0]]
                if v == v:
                    return int(v)
        return ROI_TYPES.get(roi)

    @property
    def segment_runs(self) -> np.ndarray:
        """Map segments x sessions array of per-session segment IDs (NaN where absent)."""
        hit: np.ndarray | None = self.derived.get("segment_runs")
        if hit is None:
            if self.segmap is None or self.segmap.shape[1] == 0:
                hit = np.full((0, self.num_sessions), np.nan)
            else:
                hit = _build_runs(self.segmap, None)
            self.derived.put("segment_runs", None, hit)
        return hit

    @property
    def num_map_segments(self) -> int:
        """Number of map segments (0 when the map has no segMap)."""
        return int(self.segment_runs.shape[0])

    def stack_segment(self, map_segment: int, session: int) -> int | None:
        """The segment ID of a map segment in one session.

        Parameters
        ----------
        map_segment : int
            The map segment.
        session : int
            The session.

        Returns
        -------
        int or None
            The session's own segment ID, None when the map segment is absent there.

        Raises
        ------
        MapNotFoundError
            The map has no such map segment.
        """
        if not 0 <= map_segment < self.num_map_segments:
            raise MapNotFoundError(f"map {self.name} has no map segment {map_segment}")
        v = self.segment_runs[map_segment, session]
        return None if math.isnan(v) else int(v)

    def map_segment_of(self, session: int, stack_segment: float) -> int | None:
        """The map segment that holds a session's own segment.

        Parameters
        ----------
        session : int
            The session.
        stack_segment : float
            The segment ID in that session (NaN: none).

        Returns
        -------
        int or None
            The map segment, None when there is none.
        """
        if math.isnan(stack_segment):
            return None
        hits = np.flatnonzero(self.segment_runs[:, session] == stack_segment)
        return int(hits[0]) if hits.size else None

    def info(self) -> dict[str, Any]:
        """Everything ``mapmanager info --json`` prints.

        Returns
        -------
        dict of str to object
            Name, path, counts, default ROI type, map condition and every session's
            :meth:`Session.to_dict`.
        """
        return {
            "name": self.name,
            "path": str(self.path),
            "num_sessions": self.num_sessions,
            "num_channels": self.num_channels,
            "num_map_segments": self.num_map_segments,
            "num_objects": self.num_objects,
            "num_runs": int(self.runs.shape[0]),
            "default_roi": self.default_roi,
            "map_condition": self.map_condition,
            "sessions": [s.to_dict() for s in self.sessions],
        }

    # ------------------------------------------------------------------ tables

    def _check_session(self, session: int) -> int:
        self.session(session)
        return int(session)

    def columns(self, session: int) -> list[str]:
        """Every statistic column of a session.

        Parameters
        ----------
        session : int
            The session.

        Returns
        -------
        list of str
            The db2 columns, then ``<col>_int<c>`` of each intensity channel, then the
            user table's columns.

        Raises
        ------
        MapNotFoundError
            The map has no such session.
        """
        s = self._check_session(session)
        cols = list(self.db2[s].columns)
        for ch, t in sorted(self.intensity[s].items()):
            cols.extend(f"{c}_int{ch}" for c in t.columns)
        u = self.user[s]
        if u is not None:
            cols.extend(c for c in u.columns if c not in cols)
        return cols

    def column(self, session: int, stat: str) -> np.ndarray:
        """One column of a session's annotations (one value per db2 row).

        Parameters
        ----------
        session : int
            The session.
        stat : str
            The column (one of :meth:`columns`, or ``Idx``).

        Returns
        -------
        ndarray, shape (rows,)
            float64 for numbers, object for text; treat it as read-only.

        Raises
        ------
        MapNotFoundError
            The map has no such session.
        InvalidParameterError
            The session has no such column.
        """
        s = self._check_session(session)
        t = self.db2[s]
        n = len(t)
        arr: np.ndarray | None = None
        if stat in t.data:
            arr = t.data[stat]
        elif stat == "Idx":
            arr = np.arange(n, dtype=float)
        else:
            base, sep, ch = stat.rpartition("_int")
            if sep and ch.isdigit() and int(ch) in self.intensity[s]:
                it = self.intensity[s][int(ch)]
                if base in it.data:
                    arr = it.data[base]
            u = self.user[s]
            if arr is None and u is not None and stat in u.data:
                return self._user_column(u, stat, n)
        if arr is None:
            raise InvalidParameterError(f"map {self.name} session {s} has no statistic '{stat}'")
        if len(arr) != n:  # a table shorter or longer than db2: align by position
            out = np.full(n, np.nan) if arr.dtype != object else np.full(n, "", dtype=object)
            k = min(n, len(arr))
            out[:k] = arr[:k]
            arr = out
        return arr

    @staticmethod
    def _user_column(u: CsvTable, stat: str, n: int) -> np.ndarray:
        """A user-table column aligned to db2 rows by its ``Idx`` column (by position without)."""
        values = u.data[stat]
        out = np.full(n, np.nan) if values.dtype != object else np.full(n, "", dtype=object)
        if "Idx" in u.data and u.data["Idx"].dtype != object:
            idx = u.data["Idx"]
            ok = (idx >= 0) & (idx < n)
            out[idx[ok].astype(int)] = values[ok]
        else:
            k = min(n, len(values))
            out[:k] = values[:k]
        return out

    def table(self, session: int) -> pd.DataFrame:
        """A session's annotations as a DataFrame (db2 + ``<col>_int<c>`` + user columns).

        The index is the row position (the object's index). The frame is cached; treat it
        as read-only.

        Parameters
        ----------
        session : int
            The session.

        Returns
        -------
        pandas.DataFrame
            One row per object, one column per statistic (:meth:`columns`).
        """
        s = self._check_session(session)
        hit: pd.DataFrame | None = self.derived.get("table", s)
        if hit is None:
            data = {c: self.column(s, c) for c in self.columns(s)}
            hit = pd.DataFrame(data, copy=False)
            if "Idx" in hit.columns:
                hit["Idx"] = np.arange(len(hit), dtype=float)
            self.derived.put("table", s, hit)
        return hit

    def roi_type_mask(self, session: int, roi: str | Sequence[str] | None) -> np.ndarray:
        """Which rows of a session are of some ROI types.

        Parameters
        ----------
        session : int
            The session.
        roi : str or sequence of str or None
            One ROI type or several (None: every row).

        Returns
        -------
        ndarray of bool, shape (rows,)
            True where ``roiType`` is one of them (read-only, cached).
        """
        names = None if roi is None else ((roi,) if isinstance(roi, str) else tuple(roi))
        key = (session, names)
        hit: np.ndarray | None = self.derived.get("roi_mask", key)
        if hit is not None:
            return hit
        t = self.db2[session]
        n = len(t)
        if names is None:
            mask = np.ones(n, dtype=bool)
        elif "roiType" not in t.data:
            mask = np.zeros(n, dtype=bool)
        else:
            rt = t.data["roiType"]
            mask = np.zeros(n, dtype=bool)
            for name in names:
                mask |= rt == name
        mask.flags.writeable = False
        return self.derived.put("roi_mask", key, mask)

    def offsets(self) -> np.ndarray:
        """Where each session's objects start in the :meth:`stacked` arrays.

        Returns
        -------
        ndarray of intp, shape (sessions,)
            The offset of each session's first row.
        """
        hit: np.ndarray | None = self.derived.get("offsets")
        if hit is None:
            sizes = [len(t) for t in self.db2]
            hit = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp) if sizes else np.zeros(0, np.intp)
            self.derived.put("offsets", None, hit)
        return hit

    def stacked(self, stat: str) -> np.ndarray:
        """One column of every session, end to end (session 0's rows first); read-only.

        Sessions without the column contribute NaN (or empty text). Index with
        ``offsets()[session] + row``.

        Parameters
        ----------
        stat : str
            The column.

        Returns
        -------
        ndarray, shape (objects,)
            Every session's values, end to end (read-only, cached).

        Raises
        ------
        InvalidParameterError
            No session has the column, or it is text where numbers were asked for
            (``roiType`` and other text columns are allowed and come back as text).
        """
        hit: np.ndarray | None = self.derived.get("stacked", stat)
        if hit is not None:
            return hit
        parts: list[np.ndarray] = []
        missing: list[int] = []
        is_text = False
        for j in range(self.num_sessions):
            try:
                col = self.column(j, stat)
            except InvalidParameterError:
                missing.append(j)
                parts.append(np.full(len(self.db2[j]), np.nan))
                continue
            is_text = is_text or col.dtype == object
            parts.append(col)
        if len(missing) == self.num_sessions:
            raise InvalidParameterError(f"map {self.name} has no statistic '{stat}' (see 'mapmanager stats')")
        if is_text and stat not in _TEXT_STACKABLE:
            raise InvalidParameterError(f"statistic '{stat}' is text, not a number")
        if is_text:
            parts = [p.astype(object) if p.dtype != object else p for p in parts]
        out = np.concatenate(parts) if parts else np.zeros(0)
        out.flags.writeable = False
        return self.derived.put("stacked", stat, out)

    def stacked_bad(self) -> np.ndarray:
        """Which objects are marked bad, stacked like :meth:`stacked`.

        Returns
        -------
        ndarray of bool, shape (objects,)
            ``isBad == 1`` of every object (read-only, cached).
        """
        hit: np.ndarray | None = self.derived.get("stacked_bad")
        if hit is None:
            hit = np.concatenate([self.bad_mask(j) for j in range(self.num_sessions)]) if self.db2 else np.zeros(0, bool)
            hit.flags.writeable = False
            self.derived.put("stacked_bad", None, hit)
        return hit

    def stacked_segment(self) -> np.ndarray:
        """The map segment of every object, stacked like :meth:`stacked`.

        Returns
        -------
        ndarray of float, shape (objects,)
            The map segment, NaN when the object is on none (read-only, cached).
        """
        hit: np.ndarray | None = self.derived.get("stacked_segment")
        if hit is None:
            parts = []
            for j, t in enumerate(self.db2):
                parent = t.data["parentID"] if "parentID" in t.data else np.full(len(t), np.nan)
                parts.append(_segment_lookup(self.segment_runs[:, j], parent))
            hit = np.concatenate(parts) if parts else np.zeros(0)
            hit.flags.writeable = False
            self.derived.put("stacked_segment", None, hit)
        return hit

    def invalidate(self) -> None:
        """Forget derived results (runs, frames, filters) after editing tables or links."""
        self.derived.clear()

    def bad_mask(self, session: int) -> np.ndarray:
        """Which rows of a session are marked bad.

        Parameters
        ----------
        session : int
            The session.

        Returns
        -------
        ndarray of bool, shape (rows,)
            ``isBad == 1`` (all False when the table has no numeric ``isBad``).
        """
        b = self.db2[session].data.get("isBad")
        if b is None or b.dtype == object:
            return np.zeros(len(self.db2[session]), dtype=bool)
        return b == 1

    def tracing(self, session: int) -> Tracing | None:
        """The session's dendrite tracing (read on first use).

        Parameters
        ----------
        session : int
            Session index.

        Returns
        -------
        Tracing or None
            None when the map has no ``line/<stack>_l.txt`` for the session.

        Raises
        ------
        MapFormatError
            The tracing file is malformed or unsafe.
        """
        s = self._check_session(session)
        if s not in self._tracings:
            rel = f"line/{self.sessions[s].stack}_l.txt"
            got = MapFolder(self.path).read_text(rel)
            self._tracings[s] = None if got is None else Tracing.parse(got[0], rel, got[1])
        return self._tracings[s]

    def set_tracing(self, session: int, tracing: Tracing | None) -> None:
        """Put a tracing in place of a session's (what :meth:`save` then writes).

        The editor uses it to keep the segment table's counts right, and to put the
        original back on undo.

        Parameters
        ----------
        session : int
            Session index.
        tracing : Tracing or None
            The tracing (None: the session has none).

        Raises
        ------
        InvalidParameterError
            No such session.

        Examples
        --------
        >>> import tempfile
        >>> from pymapmanager.synthetic.maps import generate_map
        >>> m = load_map(generate_map(tempfile.mkdtemp(), name="ex", sessions=2, images=False))
        >>> tr = m.tracing(1)
        >>> m.set_tracing(1, tr)
        >>> m.tracing(1) is tr
        True
        """
        self._tracings[self._check_session(session)] = tracing

    def image_path(self, session: int, channel: int) -> Path | None:
        """``raw/<stack>_ch<c>.tif`` (or ``.tiff``) of a session and channel.

        Parameters
        ----------
        session : int
            Session index.
        channel : int
            Channel, from 1.

        Returns
        -------
        Path or None
            The file inside the map folder, or None when the map has no such image.

        Raises
        ------
        MapNotFoundError
            No such session or channel.
        UnsafeMapPathError
            The name is a link leaving the map folder, or not a regular file.
        """
        s = self._check_session(session)
        if not 1 <= channel <= max(self.num_channels, self.sessions[s].num_channels):
            raise MapNotFoundError(
                f"map {self.name} has no channel {channel} (channels 1..{self.num_channels})"
            )
        rel = self.image_name(s, channel)
        return None if rel is None else self.path / rel

    def image_name(self, session: int, channel: int) -> str | None:
        """The image file of a session and channel relative to the map folder, or None.

        Parameters
        ----------
        session : int
            Session index.
        channel : int
            Channel, from 1.

        Returns
        -------
        str or None
            ``raw/<stack>_ch<c>.tif`` (or ``.tiff``) when that regular file exists.
        """
        folder = MapFolder(self.path)
        for ext in (".tif", ".tiff"):
            rel = f"raw/{self.sessions[session].stack}_ch{channel}{ext}"
            if folder.exists(rel):
                return rel
        return None

    def validate(self, *, images: bool = False) -> list[str]:
        """Read every value of every file; return one line per problem (empty when clean).

        Loading checks the structure of every file; this also converts every column of
        every table (so text in a number column is found), every link, every tracing,
        and opens every image: its header and the layout of its planes (each plane's data
        inside the file). With ``images=True`` every plane is also decoded.

        Parameters
        ----------
        images : bool
            Also decode every plane of every image (slow on real-size stacks).

        Returns
        -------
        list of str
            One line per problem, naming the file relative to the map folder.

        Examples
        --------
        >>> import tempfile
        >>> from pymapmanager.synthetic.maps import generate_map
        >>> p = generate_map(tempfile.mkdtemp(), name="ex", sessions=2, shape=(3, 32, 32))
        >>> load_map(p).validate(images=True)
        []
        """
        problems: list[str] = []

        def check(fn: Callable[[], object]) -> None:
            try:
                fn()
            except MapFormatError as e:
                problems.append(str(e))

        for lm in (self.objmap, self.segmap):
            if lm is not None:
                check(functools.partial(getattr, lm, "data"))
        tables: list[CsvTable] = []
        for j in range(self.num_sessions):
            tables.append(self.db2[j])
            for ch in list(self.intensity[j]):
                try:
                    tables.append(self.intensity[j][ch])
                except MapFormatError as e:
                    problems.append(str(e))
            u = self.user[j]
            if u is not None:
                tables.append(u)
        for j in range(self.num_sessions):
            try:
                tr = self.tracing(j)
            except MapFormatError as e:
                problems.append(str(e))
                continue
            if tr is not None:
                tables.extend((tr.segments, tr.points))
        for t in tables:
            for name in t.columns:
                check(functools.partial(t.column, name))
        for j in range(self.num_sessions):
            for ch in range(1, max(self.num_channels, self.sessions[j].num_channels) + 1):
                check(functools.partial(self._check_image, j, ch, images))
        return problems

    def _check_image(self, session: int, channel: int, decode: bool) -> None:
        from .images import ImageStack

        rel = self.image_name(session, channel)
        if rel is None:
            return
        with ImageStack(self.path / rel, name=rel) as stack:
            stack.check(decode=decode)

    # ------------------------------------------------------------------ files

    def _set_tracings(self, tracings: list[Tracing | None]) -> None:
        self._tracings = dict(enumerate(tracings))

    def _text_objects(self) -> dict[str, HeaderTable | LinkMap | CsvTable | Tracing]:
        if self.read_only:
            raise InvalidParameterError(f"map {self.name} cannot be written: {self.read_only}")
        out: dict[str, HeaderTable | LinkMap | CsvTable | Tracing] = {
            f"{self.name}.txt": self.header,
            f"{self.name}_objMap.txt": self.objmap,
        }
        if self.segmap is not None:
            out[f"{self.name}_segMap.txt"] = self.segmap
        for j, s in enumerate(self.sessions):
            out[f"stackdb/{s.stack}_db2.txt"] = self.db2[j]
            for ch, t in sorted(self.intensity[j].items()):
                out[f"stackdb/{s.stack}_Int{ch}.txt"] = t
            u = self.user[j]
            if u is not None:
                out[f"stackdb/{s.stack}_user.txt"] = u
            tr = self.tracing(j)
            if tr is not None:
                out[f"line/{s.stack}_l.txt"] = tr
        return out

    def files(self) -> dict[str, str]:
        """Every text file of the map as ``relative path -> text``.

        Returns
        -------
        dict of str to str
            What :meth:`save` writes (see :meth:`file_bytes` for the bytes).

        Raises
        ------
        InvalidParameterError
            The map is read-only (:attr:`read_only` says why).
        """
        return {rel: obj.to_text() for rel, obj in self._text_objects().items()}

    def file_bytes(self) -> dict[str, bytes]:
        """Every text file of the map as ``relative path -> bytes``, each in its encoding.

        A file read as Latin-1 (Igor's notes) is written back in Latin-1, so a file
        nobody edited comes back byte for byte.

        Returns
        -------
        dict of str to bytes

        Raises
        ------
        InvalidParameterError
            The map is read-only, or an edited value cannot be written in its file's
            encoding.
        """
        out: dict[str, bytes] = {}
        for rel, obj in self._text_objects().items():
            try:
                out[rel] = obj.to_text().encode(obj.encoding)
            except UnicodeEncodeError as e:
                raise InvalidParameterError(
                    f"{rel}: '{e.object[e.start : e.end]}' cannot be written in the file's encoding ({obj.encoding})"
                ) from None
        return out

    def save(self, dest: str | Path | None = None, *, backup: bool = True) -> Path:
        """Write the map (atomically) to ``dest`` or back to its own folder.

        See :func:`pymapmanager.io.writer.save_map`.

        Parameters
        ----------
        dest : str or Path, optional
            Where (None: the map's own folder).
        backup : bool
            Keep the folder's previous content as ``.<name>.previous`` beside it.

        Returns
        -------
        Path
            The folder written.

        Raises
        ------
        InvalidParameterError
            The map is read-only, or a value cannot be written in its file's encoding.
        """
        from .io.writer import save_map

        return save_map(self, dest, backup=backup)

    def __repr__(self) -> str:
        return (
            f"<Map {self.name}: {self.num_sessions} sessions, {self.num_map_segments} map "
            f"segments, {self.num_objects} objects>"
        )


# --------------------------------------------------------------------------- loading

#: Rows every header has (a header cut short loses some of them).
REQUIRED_HEADER_ROWS = (
    "hsStack", "hsdb", "date", "time", "numChannels", "defaultChannel", "px", "py", "pz",
    "dx", "dy", "dz", "importedStackName", "condStr", "days", "hours", "mapCond",
)  # fmt: skip
#: Most image channels a map may have.
MAX_CHANNELS = 16
#: Most sessions a map may have.
MAX_SESSIONS = 10_000
#: Header rows holding one whole number (or nothing) per session, with their bounds.
_INT_ROWS = {
    "numChannels": (1, MAX_CHANNELS),
    "defaultChannel": (1, MAX_CHANNELS),
    "px": (0, 1 << 20),
    "py": (0, 1 << 20),
    "pz": (0, 1 << 20),
}
#: Header rows holding one finite number (or nothing) per session.
_FLOAT_ROWS = ("dx", "dy", "dz", "days", "hours")


def looks_like_map_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds a map's files (a header, an objMap or a ``stackdb`` folder).

    Parameters
    ----------
    folder : str or Path
        Any folder.

    Returns
    -------
    bool

    Examples
    --------
    >>> import tempfile, pathlib
    >>> looks_like_map_folder(tempfile.mkdtemp())
    False
    """
    p = Path(folder)
    try:
        names = os.listdir(p)
    except OSError:
        return False
    return (
        f"{p.name}.txt" in names
        or "stackdb" in names
        or any(n.endswith("_objMap.txt") for n in names)
    )


def map_folder_error(folder: str | Path) -> MapHeaderMissingError | None:
    """Why ``folder`` cannot be opened as a map because its header is missing, or None.

    A folder renamed without renaming its files (``fz005/`` holding ``fz004.txt``,
    ``fz004_objMap.txt``...) has no header named like it. The catalog lists such a folder
    with this error instead of leaving it out.

    Parameters
    ----------
    folder : str or Path
        A map folder.

    Returns
    -------
    MapHeaderMissingError or None
        None when ``folder/<folder>.txt`` exists (the header may still be wrong: load
        the map to check it) or the folder does not look like a map at all.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "fz005"
    >>> d.mkdir(); _ = (d / "fz004.txt").write_text("\\t\\n"); _ = (d / "fz004_objMap.txt").write_text("")
    >>> print(map_folder_error(d))
    fz005.txt: the map header is missing: the folder holds the files of map 'fz004' (fz004.txt, fz004_objMap.txt); rename the folder to 'fz004' or rename its files to start with 'fz005'
    """
    p = Path(folder)
    if not looks_like_map_folder(p) or (p / f"{p.name}.txt").exists() or (p / f"{p.name}.txt").is_symlink():
        return None
    return _missing_header(p)


def _missing_header(p: Path) -> MapHeaderMissingError:
    name = p.name
    try:
        names = sorted(os.listdir(p))
    except OSError:
        names = []
    others = sorted({n[: -len("_objMap.txt")] for n in names if n.endswith("_objMap.txt")})
    others = [o for o in others if o and f"{o}.txt" in names] or others
    if len(others) == 1:
        other = others[0]
        files = ", ".join(n for n in (f"{other}.txt", f"{other}_objMap.txt") if n in names)
        hint = (
            f": the folder holds the files of map '{other}' ({files}); rename the folder to "
            f"'{other}' or rename its files to start with '{name}'"
        )
    else:
        hint = f" (a map folder holds <name>.txt named like the folder: {name}.txt)"
    return MapHeaderMissingError(f"{name}.txt", "the map header is missing" + hint)


def _resolve(path: str | Path) -> tuple[Path, str]:
    p = Path(path)
    shown = p.name or str(p)
    if p.suffix == ".txt" and not p.is_dir():
        if not p.exists() and not p.is_symlink():
            raise MapNotFoundError(f"{shown}: no such map header")
        folder, name = p.parent, p.stem
        if p.name != f"{folder.name}.txt" and not (folder / f"{name}_objMap.txt").exists():
            raise MapFormatError(
                p.name, "not a map header (a map header is <map>.txt beside <map>_objMap.txt)"
            )
        return folder, name
    if not p.exists():
        raise MapNotFoundError(f"{shown}: no such map folder")
    if not p.is_dir():
        raise MapNotFoundError(f"{shown}: not a map folder")
    name = p.name
    if not (p / f"{name}.txt").exists() and not (p / f"{name}.txt").is_symlink():
        raise _missing_header(p)
    return p, name


def load_map(path: str | Path, *, channels: Iterable[int] | None = None) -> Map:
    """Read a map folder (or its ``<map>.txt``).

    A map is the regular files inside its folder: names that leave it (``..``, absolute
    names, symbolic links whose target is outside the folder) and files that are not
    regular files (folders, FIFOs) are refused; symbolic links whose target is inside
    the map folder are followed. Every count read from a file is checked against sane
    limits and against the files present before it is used.

    Parameters
    ----------
    path : str or Path
        The map folder ``<map>/`` or its header file ``<map>/<map>.txt``.
    channels : iterable of int, optional
        The channels whose intensity tables (``Int<c>``) to read; default every one. A map
        read with only some is for analysis (e.g. pooling one intensity statistic): it
        cannot be saved (:attr:`Map.read_only` says why).

    Returns
    -------
    Map

    Raises
    ------
    MapNotFoundError
        No such folder.
    MapFormatError
        A file is missing, malformed, unsafe (:class:`~pymapmanager.errors.UnsafeMapPathError`)
        or the header is missing (:class:`~pymapmanager.errors.MapHeaderMissingError`);
        the message names the file relative to the map folder, and the line.

    Examples
    --------
    >>> import tempfile
    >>> from pymapmanager.synthetic.maps import generate_map
    >>> m = load_map(generate_map(tempfile.mkdtemp(), name="ex", sessions=2, images=False))
    >>> m.num_sessions, m.num_channels
    (2, 2)
    """
    p = Path(path)
    recover(p.parent if p.suffix == ".txt" and not p.is_dir() else p)  # an interrupted save
    folder, name = _resolve(p)
    wanted = None if channels is None else frozenset(int(c) for c in channels)
    m = _load(folder, name, wanted)
    if wanted is not None:
        which = f"of channels {sorted(wanted)} only" if wanted else "of no channel"
        m.read_only = f"it was read with the intensity tables {which}"
    return m


def recover(path: str | Path) -> bool:
    """Finish or undo a save that was interrupted (see :func:`pymapmanager.io.writer.recover`).

    Parameters
    ----------
    path : str or Path
        A map folder (it need not exist: a crash may have left only its backup).

    Returns
    -------
    bool
        Whether anything was repaired or cleaned up.
    """
    from .io.writer import recover as _recover

    return _recover(Path(path))


@dataclass(frozen=True)
class _Plan:
    """Which files a map reads, from its header and its folders' listings."""

    name: str
    header: str
    objmap: str
    segmap: str | None
    stacks: tuple[str, ...]
    db2: tuple[str, ...]
    intensity: tuple[dict[int, str], ...]
    user: tuple[str | None, ...]
    line: tuple[str | None, ...]
    images: tuple[dict[int, str], ...]

    def text_files(self) -> list[str]:
        """Every text file the map reads."""
        out = [self.header, self.objmap] + ([self.segmap] if self.segmap else [])
        for j in range(len(self.stacks)):
            out.append(self.db2[j])
            out.extend(self.intensity[j][c] for c in sorted(self.intensity[j]))
            out.extend(f for f in (self.user[j], self.line[j]) if f)
        return out

    def all_files(self) -> list[str]:
        """Every file the map reads, images included."""
        out = self.text_files()
        for imgs in self.images:
            out.extend(imgs[c] for c in sorted(imgs))
        return out


def _header_int(cell: str, row: str, lo: int, hi: int, hrel: str, line: int) -> int | None:
    """A header cell holding a whole number in ``lo..hi`` (None when empty)."""
    text = cell.strip()
    if not text:
        return None
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not (math.isfinite(v) and v.is_integer() and lo <= v <= hi):
        raise MapFormatError(hrel, f"{row} must be a whole number from {lo} to {hi}, found '{text}'", line)
    return int(v)


def _check_header(header: HeaderTable, hrel: str) -> tuple[list[str], int]:
    """The stack names (one per session) and the channel count, checked."""
    for row in REQUIRED_HEADER_ROWS:
        if row not in header:
            raise MapFormatError(hrel, f"the header has no '{row}' row (file truncated?)")
    line_of = {name: k + 2 for k, name in reversed(list(enumerate(header.row_names())))}
    stacks = [c for c in header.cells("hsStack") if c.strip()]
    if len(stacks) > MAX_SESSIONS:
        raise MapFormatError(hrel, f"names {len(stacks)} sessions, more than {MAX_SESSIONS}", line_of["hsStack"])
    seen: set[str] = set()
    for j, hs in enumerate(stacks):
        if "/" in hs or "\\" in hs or hs.strip() in (".", "..") or hs != hs.strip():
            raise UnsafeMapPathError(
                hrel, f"hsStack of session {j} is '{hs}': a stack name must be a plain name, not a path"
            )
        base = stack_base_name(hs)
        check_name(f"stackdb/{base}_db2.txt", "stack name")
        if base in seen:
            raise MapFormatError(hrel, f"hsStack names stack '{hs}' twice", line_of["hsStack"])
        seen.add(base)
    nses = len(stacks)
    for row, (lo, hi) in _INT_ROWS.items():
        for cell in header.cells(row)[: max(nses, 1)]:
            _header_int(cell, row, lo, hi, hrel, line_of.get(row, 0))
    for row, allowed in (("date", "0123456789"), ("time", "0123456789:")):
        for cell in header.cells(row)[:nses]:
            if cell.strip(allowed + " "):
                raise MapFormatError(
                    hrel, f"{row} must be written with the characters {allowed}, found '{cell}'", line_of.get(row, 0)
                )
    for row in _FLOAT_ROWS:
        for cell in header.cells(row)[:nses]:
            text = cell.strip()
            if text and not math.isfinite(_to_float(text)) and text.lower() != "nan":
                raise MapFormatError(hrel, f"{row} must hold numbers, found '{text}'", line_of.get(row, 0))
    nch = _header_int(header.get("numChannels", 0), "numChannels", 1, MAX_CHANNELS, hrel, line_of["numChannels"]) or 1
    dch = _header_int(header.get("defaultChannel", 0), "defaultChannel", 1, MAX_CHANNELS, hrel, line_of.get("defaultChannel", 0))
    if dch is not None and dch > nch:
        raise MapFormatError(
            hrel, f"defaultChannel is {dch} but the map has {nch} channels", line_of.get("defaultChannel", 0)
        )
    return stacks, nch


def _plan(folder: MapFolder, name: str, stacks: Sequence[str], nch: int) -> _Plan:
    """Which files the map reads, found in the folder listings (no file is opened)."""
    for sub in ("stackdb", "line", "raw"):
        why = folder.folder_problem(sub)
        if why is not None:
            raise UnsafeMapPathError(sub, why.split(" ", 1)[1] if why.startswith(sub) else why)
    listing = folder.listdir("stackdb")
    lines = folder.listdir("line")
    raw = folder.listdir("raw")
    bases = [stack_base_name(hs) for hs in stacks]
    db2, intensity, user, line, images = [], [], [], [], []
    for j, (hs, base) in enumerate(zip(stacks, bases, strict=True)):
        if f"{base}_db2.txt" not in listing:
            raise MapFormatError(
                f"stackdb/{base}_db2.txt",
                f"the header names stack '{hs}' for session {j} but its db2 file is missing",
            )
        db2.append(f"stackdb/{base}_db2.txt")
        ints: dict[int, str] = {}
        ch = 1
        while ch <= MAX_CHANNELS:  # channels 1..nch when present, then any that follow
            present = f"{base}_Int{ch}.txt" in listing
            if present:
                ints[ch] = f"stackdb/{base}_Int{ch}.txt"
            elif ch > nch:
                break
            ch += 1
        intensity.append(ints)
        user.append(f"stackdb/{base}_user.txt" if f"{base}_user.txt" in listing else None)
        line.append(f"line/{base}_l.txt" if f"{base}_l.txt" in lines else None)
        imgs: dict[int, str] = {}
        for c in range(1, MAX_CHANNELS + 1):
            for ext in (".tif", ".tiff"):
                if f"{base}_ch{c}{ext}" in raw:
                    imgs[c] = f"raw/{base}_ch{c}{ext}"
                    break
        images.append(imgs)
    segmap = f"{name}_segMap.txt" if f"{name}_segMap.txt" in folder.listdir() else None
    return _Plan(
        name, f"{name}.txt", f"{name}_objMap.txt", segmap, tuple(bases), tuple(db2),
        tuple(intensity), tuple(user), tuple(line), tuple(images),
    )  # fmt: skip


def _read_header(folder: MapFolder, name: str) -> tuple[HeaderTable, list[str], int]:
    hrel = f"{name}.txt"
    htext, enc = folder.require_text(hrel, "the map header file is missing")
    header = HeaderTable.parse(htext, hrel, enc)
    stacks, nch = _check_header(header, hrel)
    return header, stacks, nch


def _read_links(folder: MapFolder, plan: _Plan, nses: int) -> tuple[LinkMap, LinkMap | None]:
    otext, oenc = folder.require_text(plan.objmap)
    objmap = LinkMap.parse(otext, plan.objmap, oenc, min_blocks=LinkMap.NODE_TYPE + 1)
    segmap = None
    if plan.segmap is not None:
        got = folder.read_text(plan.segmap)
        if got is not None:
            segmap = LinkMap.parse(got[0], plan.segmap, got[1], min_blocks=LinkMap.PREV + 1)
    for lm in (objmap, segmap):
        if lm is not None and lm.shape[1] > 0 and lm.shape[2] != nses:
            raise MapFormatError(
                lm.path, f"has {lm.shape[2]} session columns but the header names {nses} sessions", 1
            )
    return objmap, segmap


def _read_session(
    folder: MapFolder, plan: _Plan, j: int, channels: frozenset[int] | None, nobj: int, objmap_path: str
) -> tuple[CsvTable, _LazyTables, CsvTable | None]:
    rel = plan.db2[j]
    stack = plan.stacks[j]
    dtext, denc = folder.require_text(rel)
    t = CsvTable.parse(dtext, rel, numeric=DB2_NUMERIC, finite=("*",), encoding=denc)
    if "roiType" not in t.data:
        raise MapFormatError(rel, "the table has no 'roiType' column", 2)
    if nobj and len(t) > nobj:
        raise MapFormatError(objmap_path, f"has {nobj} rows but session {j} ({stack}) has {len(t)} objects", 1)
    ints = _LazyTables()
    for ch, irel in sorted(plan.intensity[j].items()):
        if channels is not None and ch not in channels:
            continue
        got = folder.read_text(irel)
        if got is None:
            continue
        itext, ienc = got
        # a channel asked for by number is about to be used: parse it now (that counts
        # its rows too); others only have their rows counted until first use
        if channels is not None or _count_rows(itext) != len(t):  # parse now for a precise message
            it = CsvTable.parse(itext, irel, all_numeric=True, finite=("*",), encoding=ienc)
            if len(it) != len(t):
                raise MapFormatError(
                    irel, f"has {len(it)} rows but {stack}_db2.txt has {len(t)} (rows match by position)"
                )
            ints.set(ch, it)
            continue
        ints.add(ch, itext, irel, ienc)
    user = None
    urel = plan.user[j]
    if urel is not None:
        got = folder.read_text(urel)
        if got is not None:
            user = CsvTable.parse(got[0], urel, has_meta=False, encoding=got[1])
    return t, ints, user


def _check_link_ranges(lm: LinkMap, nses: int) -> None:
    """Rows in ``next``/``prev`` and sessions in ``nextTP``/``prevTP`` point inside the map."""
    _, nrow, _ = lm.shape
    if not nrow:
        return
    for b, top, what in (
        (LinkMap.NEXT, nrow, "row"), (LinkMap.PREV, nrow, "row"),
        (LinkMap.NEXT_TP, nses, "session"), (LinkMap.PREV_TP, nses, "session"),
    ):  # fmt: skip
        if b >= lm.shape[0]:
            continue
        v = lm.block(b)
        with np.errstate(invalid="ignore"):
            bad = (v < 0) | (v >= top)
        if bad.any():
            i, j = (int(k[0]) for k in np.nonzero(bad))
            raise MapFormatError(
                lm.path,
                f"block {b} links {what} {v[i, j]:g} (row {i}, session {j}); there are {top}",
                b * nrow + i + 2,
            )


def _check_channels(plan: _Plan) -> None:
    """Every session has intensity tables for the same channels."""
    if not plan.intensity:
        return
    every = set().union(*(set(t) for t in plan.intensity))
    for j, ints in enumerate(plan.intensity):
        missing = sorted(every - set(ints))
        if missing:
            raise MapFormatError(
                f"stackdb/{plan.stacks[j]}_Int{missing[0]}.txt",
                f"is missing (other sessions have intensities of channel {missing[0]})",
            )


def _check_object_links(objmap: LinkMap, db2: Sequence[CsvTable], stacks: Sequence[str]) -> None:
    """Each session's ``idx`` column names each of its db2 rows once (whole numbers)."""
    if not objmap.shape[1]:
        if any(len(t) for t in db2):
            raise MapFormatError(objmap.path, "has no rows but the sessions have objects", 1)
        return
    idx = objmap.block(LinkMap.IDX)
    for j, t in enumerate(db2):
        col = idx[:, j]
        valid = col[~np.isnan(col)]
        n = len(t)
        if valid.size and (valid.max() >= n or valid.min() < 0):
            worst = valid.max() if valid.max() >= n else valid.min()
            raise MapFormatError(
                objmap.path, f"session {j} links row {worst:g} but {stacks[j]} has only {n} objects"
            )
        if valid.size != n or np.unique(valid).size != n:
            raise MapFormatError(
                objmap.path,
                f"session {j} ({stacks[j]}) has {n} objects but its idx column names {np.unique(valid).size} "
                f"different rows in {valid.size} cells (a table row deleted or duplicated?)",
            )


def _load(folder_path: Path, name: str, channels: frozenset[int] | None = None) -> Map:
    """Read the map ``name`` in ``folder_path``: header, links, then each session."""
    folder = MapFolder(folder_path)
    header, stacks, nch = _read_header(folder, name)
    plan = _plan(folder, name, stacks, nch)
    _check_channels(plan)
    objmap, segmap = _read_links(folder, plan, len(stacks))
    for lm in (objmap, segmap):
        if lm is not None:
            _check_link_ranges(lm, len(stacks))
    db2: list[CsvTable] = []
    intensity: list[Mapping[int, CsvTable]] = []
    user: list[CsvTable | None] = []
    for j in range(len(stacks)):
        t, ints, u = _read_session(folder, plan, j, channels, objmap.shape[1], objmap.path)
        db2.append(t)
        intensity.append(ints)
        user.append(u)
    _check_object_links(objmap, db2, stacks)
    m = Map(folder.root, name, header, objmap, segmap, db2, intensity, user)
    m._plan = plan
    return m


def map_files(path: str | Path) -> dict[str, FileStat]:
    """Exactly the files a map reads, with their size and modification time.

    Only the header is opened (to learn the sessions and channels); the other files
    are found in the folder listings, as :func:`load_map` finds them. A data version
    computed from this covers everything a load or an image request reads, and no
    other file.

    Parameters
    ----------
    path : str or Path
        The map folder.

    Returns
    -------
    dict of str to FileStat
        ``relative path -> FileStat(size, mtime_ns)`` (of a link's target), sorted by
        path: the header, objMap, segMap, every session's db2/Int/user/line files
        and image files.

    Raises
    ------
    MapNotFoundError, MapFormatError
        As :func:`load_map` for the header (other files are checked when read).

    Examples
    --------
    >>> import tempfile
    >>> from pymapmanager.synthetic.maps import generate_map
    >>> p = generate_map(tempfile.mkdtemp(), name="ex", sessions=1, channels=1, images=False)
    >>> sorted(map_files(p))[:3]
    ['ex.txt', 'ex_objMap.txt', 'ex_segMap.txt']
    """
    folder_path, name = _resolve(path)
    folder = MapFolder(folder_path)
    _header, stacks, nch = _read_header(folder, name)
    plan = _plan(folder, name, stacks, nch)
    out: dict[str, FileStat] = {}
    for rel in sorted(plan.all_files()):
        st = folder.stat(rel)
        if st is not None:
            out[rel] = st
    return out
