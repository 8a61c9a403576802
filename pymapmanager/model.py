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

import logging
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import InvalidParameterError, MapFormatError, MapNotFoundError
from .io.text import CsvTable, HeaderTable, LinkMap, Tracing, detect_eol, read_text
from .jsonable import json_value

__all__ = ["ROI_TYPES", "Map", "Session", "load_map", "stack_base_name"]

log = logging.getLogger(__name__)

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
    """``F27A_1_s4_ch1`` -> ``F27A_1_s4`` (the header's stack name without ``_ch1``)."""
    return hs_stack[:-4] if hs_stack.endswith("_ch1") else hs_stack


def _to_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _to_int(text: str, default: int | None = None) -> int | None:
    try:
        return int(float(text))
    except ValueError:
        return default


@dataclass(frozen=True)
class Session:
    """One imaging session (time point) of a map, as the header describes it."""

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
        """JSON-friendly description (NaN as None)."""
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
        self._texts: dict[int, tuple[str, Path]] = {}
        self._tables: dict[int, CsvTable] = {}

    def add(self, channel: int, text: str, path: Path) -> None:
        self._texts[channel] = (text, path)

    def set(self, channel: int, table: CsvTable) -> None:
        self._texts[channel] = ("", Path(table.path))
        self._tables[channel] = table

    def __getitem__(self, channel: int) -> CsvTable:
        t = self._tables.get(channel)
        if t is None:
            text, path = self._texts[channel]
            t = CsvTable.parse(text, path, all_numeric=True)
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


class Map:
    """A Map Manager map read from its folder.

    Use :func:`load_map` to create one. Sessions count from 0; channels from 1 (as in
    the file names).
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
        self._tracings: dict[int, Tracing | None] = {}
        self._frames: dict[int, pd.DataFrame] = {}
        self._runs: dict[str, np.ndarray] = {}
        self._segment_runs: np.ndarray | None = None
        self._sessions: list[Session] | None = None
        self._memo: dict[object, object] = {}
        #: why the map cannot be written (None when it can)
        self.read_only: str | None = None
        self._stack: dict[str, np.ndarray] = {}

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
        if self._sessions is None:
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
            self._sessions = out
        return self._sessions

    def session(self, index: int) -> Session:
        """One session; :class:`MapNotFoundError` when out of range."""
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
        """Runs of objects of one ROI type (``None``: runs starting at any object)."""
        key = "*" if roi is None else roi
        if key not in self._runs:
            node = None if roi is None else self.roi_type_number(roi)
            if roi is not None and node is None:
                node = -1  # unknown type: no run starts
            self._runs[key] = _build_runs(self.objmap, node)
        return self._runs[key]

    def roi_type_number(self, roi: str) -> int | None:
        """The objMap ``nodeType`` of an ROI type: from the tables' ``roiTypeNum``, else known."""
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
        if self._segment_runs is None:
            if self.segmap is None or self.segmap.shape[1] == 0:
                self._segment_runs = np.full((0, self.num_sessions), np.nan)
            else:
                self._segment_runs = _build_runs(self.segmap, None)
        return self._segment_runs

    @property
    def num_map_segments(self) -> int:
        """Number of map segments (0 when the map has no segMap)."""
        return int(self.segment_runs.shape[0])

    def stack_segment(self, map_segment: int, session: int) -> int | None:
        """The segment ID in ``session`` of map segment ``map_segment`` (None if absent)."""
        if not 0 <= map_segment < self.num_map_segments:
            raise MapNotFoundError(f"map {self.name} has no map segment {map_segment}")
        v = self.segment_runs[map_segment, session]
        return None if math.isnan(v) else int(v)

    def map_segment_of(self, session: int, stack_segment: float) -> int | None:
        """The map segment holding segment ``stack_segment`` of ``session``."""
        if math.isnan(stack_segment):
            return None
        hits = np.flatnonzero(self.segment_runs[:, session] == stack_segment)
        return int(hits[0]) if hits.size else None

    def info(self) -> dict[str, Any]:
        """Everything ``mapmanager info --json`` prints."""
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
        """Every statistic column of a session: db2, ``<col>_int<c>``, user columns."""
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

        Raises
        ------
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
        """
        s = self._check_session(session)
        if s not in self._frames:
            data = {c: self.column(s, c) for c in self.columns(s)}
            df = pd.DataFrame(data, copy=False)
            if "Idx" in df.columns:
                df["Idx"] = np.arange(len(df), dtype=float)
            self._frames[s] = df
        return self._frames[s]

    def roi_type_mask(self, session: int, roi: str | Sequence[str] | None) -> np.ndarray:
        """Boolean mask of rows whose ``roiType`` is ``roi`` (one name or a list); read-only."""
        names = None if roi is None else ((roi,) if isinstance(roi, str) else tuple(roi))
        key = ("roi", session, names)
        hit = self._memo.get(key)
        if isinstance(hit, np.ndarray):
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
        self._memo[key] = mask
        return mask

    def offsets(self) -> np.ndarray:
        """Where each session's objects start in the :meth:`stacked` arrays (one per session)."""
        hit = self._stack.get("__offsets__")
        if hit is None:
            sizes = [len(t) for t in self.db2]
            hit = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp) if sizes else np.zeros(0, np.intp)
            self._stack["__offsets__"] = hit
        return hit

    def stacked(self, stat: str) -> np.ndarray:
        """One column of every session, end to end (session 0's rows first); read-only.

        Sessions without the column contribute NaN (or empty text). Index with
        ``offsets()[session] + row``.

        Raises
        ------
        InvalidParameterError
            No session has the column, or it is text where numbers were asked for
            (``roiType`` and other text columns are allowed and come back as text).
        """
        hit = self._stack.get(stat)
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
        self._stack[stat] = out
        return out

    def stacked_bad(self) -> np.ndarray:
        """``isBad == 1`` of every object, stacked like :meth:`stacked`."""
        hit = self._stack.get("__bad__")
        if hit is None:
            hit = np.concatenate([self.bad_mask(j) for j in range(self.num_sessions)]) if self.db2 else np.zeros(0, bool)
            hit.flags.writeable = False
            self._stack["__bad__"] = hit
        return hit

    def stacked_segment(self) -> np.ndarray:
        """Map segment of every object (NaN when none), stacked like :meth:`stacked`."""
        hit = self._stack.get("__segment__")
        if hit is None:
            parts = []
            for j, t in enumerate(self.db2):
                parent = t.data["parentID"] if "parentID" in t.data else np.full(len(t), np.nan)
                parts.append(_segment_lookup(self.segment_runs[:, j], parent))
            hit = np.concatenate(parts) if parts else np.zeros(0)
            hit.flags.writeable = False
            self._stack["__segment__"] = hit
        return hit

    def invalidate(self) -> None:
        """Forget derived results (runs, frames, filters) after editing tables or links."""
        self._memo.clear()
        self._stack.clear()
        self._runs.clear()
        self._frames.clear()
        self._segment_runs = None
        self._sessions = None

    def bad_mask(self, session: int) -> np.ndarray:
        """Boolean mask of rows marked ``isBad == 1``."""
        b = self.db2[session].data.get("isBad")
        if b is None or b.dtype == object:
            return np.zeros(len(self.db2[session]), dtype=bool)
        return b == 1

    def tracing(self, session: int) -> Tracing | None:
        """The session's dendrite tracing (read on first use), or None when absent."""
        s = self._check_session(session)
        if s not in self._tracings:
            lpath = self.path / "line" / f"{self.sessions[s].stack}_l.txt"
            text = read_text(lpath) if lpath.is_file() else None
            self._tracings[s] = None if text is None else Tracing.parse(text, lpath)
        return self._tracings[s]

    def image_path(self, session: int, channel: int) -> Path | None:
        """``raw/<stack>_ch<c>.tif`` of a session and channel, or None when absent."""
        s = self._check_session(session)
        if not 1 <= channel <= max(self.num_channels, self.sessions[s].num_channels):
            raise MapNotFoundError(
                f"map {self.name} has no channel {channel} (channels 1..{self.num_channels})"
            )
        for ext in (".tif", ".tiff"):
            p = self.path / "raw" / f"{self.sessions[s].stack}_ch{channel}{ext}"
            if p.is_file():
                return p
        return None

    def validate(self) -> list[str]:
        """Read every value of every file; return one line per problem (empty when clean).

        Loading checks the structure of every file; this also converts every column (so
        text in a number column is found) and reads every tracing.
        """
        problems: list[str] = []
        for lm in (self.objmap, self.segmap):
            if lm is not None:
                try:
                    lm.data  # noqa: B018 - parses every block
                except MapFormatError as e:
                    problems.append(str(e))
        tables: list[CsvTable] = []
        for j in range(self.num_sessions):
            tables.append(self.db2[j])
            tables.extend(self.intensity[j].values())
            u = self.user[j]
            if u is not None:
                tables.append(u)
        for t in tables:
            for name in t.columns:
                try:
                    t.column(name)
                except MapFormatError as e:
                    problems.append(str(e))
        for j in range(self.num_sessions):
            try:
                tr = self.tracing(j)
            except MapFormatError as e:
                problems.append(str(e))
                continue
            if tr is not None:
                for t in (tr.segments, tr.points):
                    for name in t.columns:
                        try:
                            t.column(name)
                        except MapFormatError as e:
                            problems.append(str(e))
        return problems

    # ------------------------------------------------------------------ files

    def _set_tracings(self, tracings: list[Tracing | None]) -> None:
        self._tracings = dict(enumerate(tracings))

    def files(self) -> dict[str, str]:
        """Every text file of the map as ``relative path -> text`` (what :meth:`save` writes)."""
        if self.read_only:
            raise InvalidParameterError(f"map {self.name} cannot be written: {self.read_only}")
        out: dict[str, str] = {
            f"{self.name}.txt": self.header.to_text(),
            f"{self.name}_objMap.txt": self.objmap.to_text(),
        }
        if self.segmap is not None:
            out[f"{self.name}_segMap.txt"] = self.segmap.to_text()
        for j, s in enumerate(self.sessions):
            out[f"stackdb/{s.stack}_db2.txt"] = self.db2[j].to_text()
            for ch, t in sorted(self.intensity[j].items()):
                out[f"stackdb/{s.stack}_Int{ch}.txt"] = t.to_text()
            u = self.user[j]
            if u is not None:
                out[f"stackdb/{s.stack}_user.txt"] = u.to_text()
            tr = self.tracing(j)
            if tr is not None:
                out[f"line/{s.stack}_l.txt"] = tr.to_text()
        return out

    def save(self, dest: str | Path | None = None, *, backup: bool = True) -> Path:
        """Write the map (atomically) to ``dest`` or back to its own folder.

        See :func:`pymapmanager.io.writer.save_map`.
        """
        from .io.writer import save_map

        return save_map(self, dest, backup=backup)

    def to_bytes(self) -> bytes:
        """The compact serialised form (typed columns, compressed) that caches hold.

        See :mod:`pymapmanager.io.compact`; :meth:`from_bytes` restores a read-only map.
        """
        from .io.compact import encode_map

        return encode_map(self)

    @classmethod
    def from_bytes(cls, blob: bytes) -> Map:
        """Inverse of :meth:`to_bytes` (values identical; the map cannot be saved)."""
        from .io.compact import decode_map

        return decode_map(blob)

    def __repr__(self) -> str:
        return (
            f"<Map {self.name}: {self.num_sessions} sessions, {self.num_map_segments} map "
            f"segments, {self.num_objects} objects>"
        )


# --------------------------------------------------------------------------- loading


def _resolve(path: str | Path) -> tuple[Path, str]:
    p = Path(path)
    if p.is_file() and p.suffix == ".txt":
        return p.parent, p.stem
    if not p.exists():
        raise MapNotFoundError(f"{p}: no such map folder")
    if not p.is_dir():
        raise MapNotFoundError(f"{p}: not a map folder")
    name = p.name
    if not (p / f"{name}.txt").is_file():
        raise MapFormatError(p / f"{name}.txt", "the map header file is missing")
    return p, name


def load_map(path: str | Path, *, channels: Iterable[int] | None = None) -> Map:
    """Read a map folder (or its ``<map>.txt``).

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
        A file is missing or malformed; the message names the file and line.
    """
    folder, name = _resolve(path)
    wanted = None if channels is None else frozenset(int(c) for c in channels)
    m = _load(folder, name, wanted)
    if wanted is not None:
        which = f"of channels {sorted(wanted)} only" if wanted else "of no channel"
        m.read_only = f"it was read with the intensity tables {which}"
    return m


def _load(folder: Path, name: str, channels: frozenset[int] | None = None) -> Map:
    root = str(folder)

    def text_of(rel: str, required: bool) -> str | None:
        try:
            return read_text(os.path.join(root, rel))
        except FileNotFoundError:
            if required:
                raise MapFormatError(folder / rel, "file is missing") from None
            return None

    hpath = folder / f"{name}.txt"
    htext = text_of(f"{name}.txt", True)
    assert htext is not None
    header = HeaderTable.parse(htext, hpath)
    stacks = [c for c in header.cells("hsStack") if c.strip()]
    if "hsStack" not in header:
        raise MapFormatError(hpath, "the header has no 'hsStack' row")
    nses = len(stacks)

    otext = text_of(f"{name}_objMap.txt", True)
    assert otext is not None
    objmap = LinkMap.parse(otext, folder / f"{name}_objMap.txt")
    stext = text_of(f"{name}_segMap.txt", False)
    segmap = None if stext is None else LinkMap.parse(stext, folder / f"{name}_segMap.txt")
    for lm in (objmap, segmap):
        if lm is not None and lm.shape[1] > 0 and lm.shape[2] != nses:
            raise MapFormatError(
                lm.path,
                f"has {lm.shape[2]} session columns but the header names {nses} sessions",
                1,
            )

    nch = max(1, _to_int(header.get("numChannels", 0), 1) or 1)
    db2: list[CsvTable] = []
    intensity: list[Mapping[int, CsvTable]] = []
    user: list[CsvTable | None] = []
    for j, hs in enumerate(stacks):
        stack = stack_base_name(hs)
        rel = f"stackdb/{stack}_db2.txt"
        dtext = text_of(rel, False)
        if dtext is None:
            raise MapFormatError(
                folder / rel, f"the header names stack '{hs}' for session {j} but its db2 file is missing"
            )
        t = CsvTable.parse(dtext, folder / rel, numeric=DB2_NUMERIC)
        if "roiType" not in t.data:
            raise MapFormatError(folder / rel, "the table has no 'roiType' column", 2)
        db2.append(t)
        nobj = objmap.shape[1]
        if nobj and len(t) > nobj:
            raise MapFormatError(
                objmap.path,
                f"has {nobj} rows but session {j} ({stack}) has {len(t)} objects",
                1,
            )
        ints = _LazyTables()
        for ch in range(1, nch + 4):
            irel = f"stackdb/{stack}_Int{ch}.txt"
            if channels is not None and ch not in channels:
                if ch > nch and not os.path.isfile(os.path.join(root, irel)):
                    break  # where reading every channel stops
                continue
            itext = text_of(irel, False)
            if itext is None:
                if ch > nch:
                    break
                continue
            # a channel asked for by number is about to be used: parse it now (that counts
            # its rows too); others only have their rows counted until first use
            eager = channels is not None
            if eager or _count_rows(itext) != len(t):  # parse now for a precise message
                it = CsvTable.parse(itext, folder / irel, all_numeric=True)
                if len(it) != len(t):
                    raise MapFormatError(
                        folder / irel,
                        f"has {len(it)} rows but {stack}_db2.txt has {len(t)} (rows match by position)",
                    )
                ints.set(ch, it)
                continue
            ints.add(ch, itext, folder / irel)
        intensity.append(ints)
        urel = f"stackdb/{stack}_user.txt"
        utext = text_of(urel, False)
        user.append(None if utext is None else CsvTable.parse(utext, folder / urel, has_meta=False))

    m = Map(folder, name, header, objmap, segmap, db2, intensity, user)
    # validate objMap indices point into the tables
    for j in range(nses):
        col = objmap.block(LinkMap.IDX)[:, j] if objmap.shape[1] else np.empty(0)
        valid = col[col >= 0]
        if valid.size and valid.max() >= len(db2[j]):
            raise MapFormatError(
                objmap.path,
                f"session {j} links row {int(valid.max())} but {stacks[j]} has only {len(db2[j])} objects",
            )
    return m
