"""Map values, dynamics and per-segment summaries (the behaviour of the old package).

All functions take a :class:`~pymapmanager.model.Map` first and options after, and never
modify the map.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import InvalidParameterError, MapNotFoundError
from .io.text import LinkMap
from .model import SESSION_STATS, Map

__all__ = [
    "ADDED",
    "PERSISTENT",
    "SUBTRACTED",
    "TRANSIENT",
    "DYNAMICS_NAMES",
    "MapValues",
    "dynamics",
    "dynamics_summary",
    "map_values",
    "measures",
    "statistics",
]

ADDED, SUBTRACTED, TRANSIENT, PERSISTENT = 1, 2, 3, 4
DYNAMICS_NAMES = {ADDED: "added", SUBTRACTED: "subtracted", TRANSIENT: "transient", PERSISTENT: "persistent"}


@dataclass(frozen=True)
class MapValues:
    """A statistic as runs x sessions.

    Parameters
    ----------
    stat : str
        The statistic.
    values : ndarray, shape (runs, sessions)
        The statistic of each run's object in each session; NaN where absent (or NaN).
    rows : ndarray, shape (runs, sessions)
        The object's row in that session's db2 table; NaN where absent or filtered out.
    runs : ndarray, shape (runs,)
        Each row's run index in ``Map.runs_of(roi)`` (:attr:`Map.runs` for the map's
        default ROI type); runs left empty by the filters are dropped.
    segments : ndarray, shape (runs, sessions)
        Map segment of each object (NaN when unknown or the map has no segments).
    bad : ndarray of bool, shape (runs, sessions)
        Whether the object is marked bad.
    """

    stat: str
    values: np.ndarray
    rows: np.ndarray
    runs: np.ndarray
    segments: np.ndarray
    bad: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """(runs, sessions)."""
        r, s = self.values.shape
        return int(r), int(s)

    def counts(self) -> list[int]:
        """Number of non-NaN values per session.

        Returns
        -------
        list of int
        """
        return [int(c) for c in (~np.isnan(self.values)).sum(axis=0)]

    def present(self) -> np.ndarray:
        """Whether each run's object is there in each session (after the filters).

        Returns
        -------
        ndarray of bool, shape (runs, sessions)
        """
        return ~np.isnan(self.rows)

    def to_frame(self) -> pd.DataFrame:
        """The values as a DataFrame indexed by run.

        Returns
        -------
        DataFrame
            Runs x sessions (columns ``0 .. sessions-1``).
        """
        return pd.DataFrame(
            self.values, index=pd.Index(self.runs, name="run"), columns=range(self.shape[1])
        )


def statistics(m: Map) -> list[str]:
    """Every statistic the map offers for :func:`map_values` (numeric columns only).

    Parameters
    ----------
    m : Map

    Returns
    -------
    list of str
        ``session, days, hours, zdays``, then every numeric column of the db2 tables and
        the intensity tables (``<col>_int<c>``), in the order the sessions list them.

    Examples
    --------
    >>> from pymapmanager import load_map
    >>> from pymapmanager.synthetic import generate_map
    >>> m = load_map(generate_map("st", sessions=2, channels=1, shape=(2, 32, 32), images=False))
    >>> s = statistics(m)
    >>> s[:4], "pDist" in s, "ubssSum_int1" in s, "roiType" in s
    (['session', 'days', 'hours', 'zdays'], True, True, False)
    """
    seen: dict[str, None] = {s: None for s in SESSION_STATS}
    for j in range(m.num_sessions):
        for c in m.columns(j):
            if c in seen:
                continue
            try:
                col = m.column(j, c)
            except InvalidParameterError:
                continue
            if col.dtype != object:
                seen[c] = None
    return list(seen)


_INT_SUFFIX = re.compile(r"_int\d+$")
#: numeric columns that are bookkeeping, not measurements of an object (indices, types,
#: links, flags, timestamps, analysis settings)
BOOKKEEPING = frozenset(
    {
        "Idx", "idx", "roiTypeNum", "channel", "groupID", "parentID", "cPnt", "cAuto",
        "cLineNum", "cSeconds", "mSeconds", "isBad", "isDirty", "dynBad", "intBad",
        "progType", "madeFrom", "analParam", "userType", "bSpineMap", "bSpineIdx",
        "intmSeconds", "intManual", "sbxyManual", "zPlusMinus", "error", "warning",
        "edgeList", "note",
    }
)  # fmt: skip


def measures(m: Map) -> list[str]:
    """The statistics that measure objects: what is worth pooling or comparing across maps.

    :func:`statistics` without the per-session values (``session``, ``days``...), the
    bookkeeping columns (:data:`BOOKKEEPING`: indices, types, links, flags, timestamps;
    ``ubssSum_int2``'s base name decides for intensity columns) and the columns with no
    value in any session.

    Parameters
    ----------
    m : Map

    Returns
    -------
    list of str
        In the order of :func:`statistics`.

    Examples
    --------
    >>> from pymapmanager.synthetic import generate_map
    >>> from pymapmanager import load_map
    >>> m = load_map(generate_map("maps", sessions=2, channels=2, shape=(4, 32, 32), images=False))
    >>> ms = measures(m)
    >>> "pDist" in ms and "ubssSum_int2" in ms and "sLen3d_int1" in ms
    True
    >>> any(s in ms for s in ("session", "days", "Idx", "isBad", "note", "edgeList", "sLen3d_int2"))
    False
    """
    out = []
    for s in statistics(m):
        base = _INT_SUFFIX.sub("", s)
        if s in SESSION_STATS or s in BOOKKEEPING or base in BOOKKEEPING:
            continue
        col = m.stacked(s)
        if col.dtype != object and col.size and not np.isnan(col.astype(float)).all():
            out.append(s)
    return out


def _session_value(m: Map, stat: str, j: int) -> float:
    s = m.sessions[j]
    if stat == "session":
        return float(j)
    if stat == "days":
        return s.days
    if stat == "hours":
        return s.hours
    if stat == "zdays":
        try:
            return float(m.header.get("zdays", j, "nan"))
        except ValueError:
            return math.nan
    raise AssertionError(stat)


def map_values(
    m: Map,
    stat: str,
    *,
    roi: str | Sequence[str] | None = None,
    segment: int | None = None,
    sessions: Sequence[int] | None = None,
    include_bad: bool = False,
) -> MapValues:
    """A statistic of every run in every session.

    Parameters
    ----------
    m : Map
    stat : str
        A db2 column (``pDist``), an intensity column ``<col>_int<c>`` (``ubssSum_int2``),
        a user column, or one of ``session``, ``days``, ``hours``, ``zdays``.
    roi : str or list of str, optional
        ROI type(s) to keep; default the map's default annotation (``spineROI``).
    segment : int, optional
        Keep one map segment (row of :attr:`Map.segment_runs`); None for all.
    sessions : list of int, optional
        Sessions to fill; others stay NaN. Default all.
    include_bad : bool
        Keep objects marked ``isBad``.

    Returns
    -------
    MapValues
        Runs that have no object left after filtering are dropped.

    Raises
    ------
    InvalidParameterError
        The statistic is absent from every session or is text, or a segment was asked
        of a map without segments.
    MapNotFoundError
        No such map segment or session.

    Examples
    --------
    >>> from pymapmanager import load_map
    >>> from pymapmanager.synthetic import generate_map
    >>> m = load_map(generate_map("mv", sessions=3, shape=(4, 64, 64), images=False))
    >>> v = map_values(m, "pDist")
    >>> v.shape[1], v.counts() == [int(n) for n in (~np.isnan(v.values)).sum(axis=0)]
    (3, True)
    >>> map_values(m, "days").values[0].tolist() == [m.sessions[j].days for j in range(3)]
    True
    """
    nses = m.num_sessions
    if roi is None:
        roi = m.default_roi
    if isinstance(roi, str):
        runs = m.runs_of(roi)
    elif len(roi) == 1:
        runs = m.runs_of(roi[0])
    else:
        runs = m.runs_of(None)
    if segment is not None:
        if m.num_map_segments == 0:
            raise InvalidParameterError(f"map {m.name} has no segments")
        if not 0 <= segment < m.num_map_segments:
            raise MapNotFoundError(
                f"map {m.name} has no map segment {segment} (0..{m.num_map_segments - 1})"
            )
    if sessions is None:
        sess = list(range(nses))
    else:
        sess = [int(s) for s in sessions]
        for s in sess:
            m.session(s)
    if stat in SESSION_STATS:
        per_session = np.array([_session_value(m, stat, j) for j in range(nses)])
        stacked = None
    else:
        stacked = m.stacked(stat)  # raises when no session has it
        if stacked.dtype == object:
            raise InvalidParameterError(f"statistic '{stat}' is text, not a number")
    roi_key = (roi,) if isinstance(roi, str) else tuple(roi)
    sel = _selection(m, runs, roi_key, segment, tuple(sess), include_bad)
    if stacked is None:
        values = np.where(sel.keep, per_session[None, :], np.nan)
    else:
        values = np.where(sel.keep, stacked[sel.flat], np.nan)
    return MapValues(stat, values, sel.rows, sel.runs, sel.segments, sel.bad)


@dataclass(frozen=True)
class _Selection:
    """Which object of each kept run is in each session, after the filters."""

    rows: np.ndarray  # (runs, sessions) db2 row, NaN where not kept
    runs: np.ndarray  # (runs,) index into the run table
    segments: np.ndarray
    bad: np.ndarray
    keep: np.ndarray  # (runs, sessions) bool
    flat: np.ndarray  # (runs, sessions) index into Map.stacked() arrays (valid where keep)


def _selection(
    m: Map,
    runs: np.ndarray,
    roi: tuple[str, ...],
    segment: int | None,
    sessions: tuple[int, ...],
    include_bad: bool,
) -> _Selection:
    """The filtered runs, vectorised over every session (memoised per filter on the map)."""
    key = (roi, segment, sessions, include_bad)
    hit: _Selection | None = m.derived.get("selection", key)
    if hit is not None:
        return hit
    nrun, nses = runs.shape
    with np.errstate(invalid="ignore"):
        keep = runs >= 0
    if len(sessions) != nses:
        chosen = np.zeros(nses, dtype=bool)
        chosen[list(sessions)] = True
        keep &= chosen[None, :]
    flat = np.where(keep, runs, 0).astype(np.intp) + m.offsets()[None, :nses]
    roi_type = m.stacked("roiType")
    roi_mask = np.zeros(roi_type.shape, dtype=bool)
    for name in roi:
        roi_mask |= roi_type == name
    keep &= roi_mask[flat]
    if segment is not None:
        parent = m.stacked("parentID")
        with np.errstate(invalid="ignore"):
            keep &= parent[flat] == m.segment_runs[segment][None, :]
    isbad = m.stacked_bad()[flat] & keep
    if not include_bad:
        keep &= ~isbad
    keep_runs = keep.any(axis=1)
    keep, flat, isbad = keep[keep_runs], flat[keep_runs], isbad[keep_runs]
    rows = np.where(keep, runs[keep_runs], np.nan)
    segs = np.where(keep, m.stacked_segment()[flat], np.nan)
    for a in (rows, segs, keep, flat, isbad):
        a.flags.writeable = False
    sel = _Selection(rows, np.flatnonzero(keep_runs), segs, isbad, keep, flat)
    return m.derived.put("selection", key, sel)


def dynamics(present: np.ndarray) -> np.ndarray:
    """Dynamics of each cell from presence in neighbouring sessions.

    Parameters
    ----------
    present : ndarray of bool, shape (runs, sessions)
        Whether the run's object is in each session (e.g. :meth:`MapValues.present`).

    Returns
    -------
    ndarray of float, shape (runs, sessions)
        1 added (absent before), 2 subtracted (absent after), 3 transient (both),
        4 persistent (neither); NaN where absent. The first session only looks after,
        the last only before.

    Examples
    --------
    >>> dynamics(np.array([[True, True, True], [False, True, True], [True, False, False],
    ...                    [False, True, False]])).tolist()
    [[4.0, 4.0, 4.0], [nan, 1.0, 4.0], [2.0, nan, nan], [nan, 3.0, nan]]
    """
    p = np.asarray(present, dtype=bool)
    nrun, nses = p.shape
    out = np.full((nrun, nses), np.nan)
    if nses == 0:
        return out
    before = np.zeros_like(p)
    after = np.zeros_like(p)
    before[:, 1:] = p[:, :-1]
    before[:, 0] = True  # the first session only counts "after"
    after[:, :-1] = p[:, 1:]
    after[:, -1] = True  # the last session only counts "before"
    if nses == 1:
        before[:] = after[:] = True
    added = ~before
    subtracted = ~after
    code = np.where(
        added & subtracted,
        TRANSIENT,
        np.where(added, ADDED, np.where(subtracted, SUBTRACTED, PERSISTENT)),
    ).astype(float)
    out[p] = code[p]
    return out


def dynamics_summary(
    m: Map, *, roi: str | Sequence[str] | None = None, include_bad: bool = False
) -> pd.DataFrame:
    """Per session and map segment: counts, added, subtracted, percentages, density.

    Returns
    -------
    DataFrame
        One row per (segment, session) where the segment exists, with columns
        ``segment, session, stack_segment, n, n_bad, added, subtracted, pct_added,
        pct_subtracted, length_um, density`` (spines per µm; NaN without a tracing).
        ``added`` counts objects absent in the previous session; ``subtracted`` counts
        objects of the previous session absent now; percentages are relative to the
        previous session's count. A map without segments gives one row per session with
        ``segment`` = -1 (all objects).

    Parameters
    ----------
    m : Map
    roi : str or list of str, optional
        ROI type(s); default the map's default annotation (``spineROI``).
    include_bad : bool
        Count objects marked bad in ``n`` (``n_bad`` counts them always).

    Examples
    --------
    >>> from pymapmanager import load_map
    >>> from pymapmanager.synthetic import generate_map
    >>> m = load_map(generate_map("ds", sessions=3, segments=2, shape=(4, 64, 64), images=False))
    >>> df = dynamics_summary(m)
    >>> df[["segment", "session"]].values.tolist()
    [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]
    """
    if roi is None:
        roi = m.default_roi
    records = []
    nses = m.num_sessions
    prev_link = m.objmap.block(LinkMap.PREV) if m.objmap.shape[1] else None
    next_link = m.objmap.block(LinkMap.NEXT) if m.objmap.shape[1] else None
    segments = list(range(m.num_map_segments)) or [-1]
    for seg in segments:
        prev_n = math.nan
        prev_keep: np.ndarray | None = None
        for j in range(nses):
            t = m.db2[j]
            sel = m.roi_type_mask(j, roi).copy()
            sid: int | None = None
            if seg >= 0:
                sid = m.stack_segment(seg, j)
                if sid is None:
                    prev_n, prev_keep = math.nan, None
                    continue
                parent = t.data.get("parentID")
                sel &= (parent == sid) if parent is not None else False
            badm = m.bad_mask(j)
            n_bad = int((sel & badm).sum())
            keep = sel if include_bad else sel & ~badm
            n = int(keep.sum())
            rows = np.flatnonzero(keep)
            with np.errstate(invalid="ignore"):
                if j > 0 and prev_link is not None:
                    added = int((~(prev_link[rows, j] >= 0)).sum())
                else:
                    added = 0 if j == 0 else n
                if j > 0 and prev_keep is not None and next_link is not None:
                    prow = np.flatnonzero(prev_keep)
                    subtracted = int((~(next_link[prow, j - 1] >= 0)).sum())
                else:
                    subtracted = 0
            length = math.nan
            tr = m.tracing(j)
            dz = m.sessions[j].voxel[2]
            if tr is not None:
                dz = 1.0 if math.isnan(dz) else dz
                if sid is not None:
                    length = tr.length(sid, dz)
                else:
                    length = sum(tr.length(int(s), dz) for s in tr.segment_ids())
            records.append(
                {
                    "segment": seg,
                    "session": j,
                    "stack_segment": -1 if sid is None else sid,
                    "n": n,
                    "n_bad": n_bad,
                    "added": added if j > 0 else 0,
                    "subtracted": subtracted if j > 0 else 0,
                    "pct_added": (added / prev_n * 100) if j > 0 and prev_n else math.nan,
                    "pct_subtracted": (subtracted / prev_n * 100) if j > 0 and prev_n else math.nan,
                    "length_um": length,
                    "density": n / length if length and not math.isnan(length) else math.nan,
                }
            )
            prev_n = float(n)
            prev_keep = keep
    return pd.DataFrame.from_records(
        records,
        columns=[
            "segment",
            "session",
            "stack_segment",
            "n",
            "n_bad",
            "added",
            "subtracted",
            "pct_added",
            "pct_subtracted",
            "length_um",
            "density",
        ],
    )
