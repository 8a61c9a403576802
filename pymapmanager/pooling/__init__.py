"""Pooling many maps: a statistic per session group, normalised per run, by cohort.

This is the "map pool" of the Igor and Matlab tools, the computation behind the paper
figures: for every map take its map values (runs x sessions), average each run over the
sessions of each *session group*, optionally normalise each run to its value in a
*reference group*, stack the runs of all maps and summarise per cohort and group.

Session groups
--------------
A group is a name and a *pattern*. A pattern is one or more *terms* separated by commas;
a session belongs to the group when any term matches it (comma = or). Whitespace around a
term is ignored. A term is one of:

``#3``, ``#0-2``, ``#4-``
    Session indices (0-based, ranges inclusive; ``#4-`` is session 4 and every later one).
``d:0``, ``d:0-7``, ``d:14-``
    Sessions by day (the header's ``days``, since session 0; ranges inclusive, numbers may
    have decimals; ``d:14-`` is day 14 and later). Sessions without a day never match.
anything else
    A wildcard pattern over the session condition (``condStr``), matched to the whole
    condition, case-sensitively, with :func:`fnmatch.fnmatchcase`: ``*`` any text
    (also none), ``?`` one character, ``[abc]`` one of a set. ``c*`` matches ``c``, ``c1``
    and ``c2``; ``e1`` matches only ``e1``. ``*`` also matches an empty condition.

Terms that start with ``#`` or ``d:`` and do not follow the forms above, empty terms
(``c,,e1``), and an unclosed ``[`` are errors (:class:`~pymapmanager.errors.InvalidParameterError`).
A group may overlap another one; a session may be in none.

A run's value in a group
------------------------
The statistic's map values (:func:`~pymapmanager.analysis.map_values`, with the ROI type,
segment and bad filters) give one value per run and session where the run's object is
present. A run's value in a group is the mean of its non-NaN values over the group's
sessions (NaN when it has none there).

Normalisation
-------------
Each run is normalised to its own value ``ref`` in the reference group: ``ratio`` gives
``v / ref``, ``percent`` gives ``100 * (v - ref) / ref``, ``difference`` gives ``v - ref``
(``none`` leaves values as they are). A run without a value in the reference group (or,
for ``ratio`` and ``percent``, with ``ref == 0``) is dropped from every group; the number
dropped is counted per map and reported.

Summary
-------
Per cohort and group: ``mean``, ``sd`` (``ddof=1``; NaN when ``n < 2``),
``sem = sd / sqrt(n)``, ``n`` = number of runs with a value, and ``n_maps`` = number of
maps they come from. Cohorts are the maps' map conditions (``mapCond``; maps without one
form the cohort ``(none)``); with cohorts off every map is in the cohort ``all``.

Pooled dynamics
---------------
Per map and session: % added and % subtracted (relative to the previous session's
number of spines) and density (spines per µm of traced dendrite), from
:func:`~pymapmanager.analysis.dynamics_summary` summed over the map's segments (or one
segment). Per map and group: the mean of those over the group's sessions (NaN values,
e.g. % added of session 0, are skipped). Then per cohort and group: mean, sd, sem and
``n`` = number of maps.

Problems
--------
Nothing here raises for bad *data*: a map without the statistic, without any session
matching a group, with no values, without the segment asked for, or a group matching no
session in any map, is reported as a human-readable warning that names the map (and the
map is left out when it contributes nothing). Bad *parameters* (pattern syntax, unknown
reference group, unknown mode) raise :class:`~pymapmanager.errors.InvalidParameterError`.

Reading
-------
:func:`pool` takes loaded maps; :func:`pool_paths` takes map folders (or folders of maps)
and reads each with :func:`~pymapmanager.model.load_map`, in worker processes if asked,
with the same result. Loading is lazy, so a pool converts only the columns it uses, and
it reads the intensity tables of the statistic's channel only. Stage 1 (per map,
:func:`group_values` / :func:`run_pool_task`) and stage 2 (:func:`combine`) are separate so
that a server can cache stage 1 and redo only stage 2 when the normalisation changes.

Example
-------
>>> maps = load_maps(["pool/"])[0]                                   # doctest: +SKIP
>>> groups = parse_groups(["baseline=c*", "early=e1", "late=e2,e3"])  # doctest: +SKIP
>>> res = pool(maps, "ubssSum_int2", groups, reference="baseline", mode="ratio")  # doctest: +SKIP
>>> res.summary                                                      # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import math
import re
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..analysis import dynamics_summary, map_values
from ..errors import InvalidParameterError, MapManagerError
from ..io.text import (
    HeaderTable,
    read_text,
)
from ..model import Map, load_map

__all__ = [
    "ALL_COHORT",
    "DYNAMICS_MEASURES",
    "NORMALIZE_MODES",
    "NO_COHORT",
    "SUMMARY_COLUMNS",
    "TIDY_COLUMNS",
    "DynamicsResult",
    "HeaderInfo",
    "MapDynamics",
    "MapGroupValues",
    "Mode",
    "PoolResult",
    "PoolTask",
    "SessionGroup",
    "cohort_of",
    "cohort_of_condition",
    "combine",
    "combine_dynamics",
    "default_groups",
    "default_groups_for",
    "find_maps",
    "frame_csv",
    "group_values",
    "header_info",
    "label_folders",
    "load_maps",
    "map_dynamics",
    "normalize_values",
    "parse_group",
    "parse_groups",
    "pool",
    "pool_paths",
    "pooled_dynamics",
    "run_pool_task",
    "run_pool_tasks",
    "session_dynamics",
]

log = logging.getLogger(__name__)

Mode = Literal["none", "ratio", "percent", "difference"]
#: the normalisation modes
NORMALIZE_MODES: tuple[Mode, ...] = ("none", "ratio", "percent", "difference")
#: cohort of maps without a map condition (cohorts on)
NO_COHORT = "(none)"
#: the one cohort when cohorts are off
ALL_COHORT = "all"
#: columns of :attr:`PoolResult.tidy`
TIDY_COLUMNS = ("map", "run", "cohort", "group", "value", "raw", "n_sessions")
#: columns of the summary CSV (the command line's output, the page's export)
SUMMARY_COLUMNS = ("cohort", "group", "mean", "sd", "sem", "n")
#: what :func:`pooled_dynamics` summarises per group
DYNAMICS_MEASURES = ("pct_added", "pct_subtracted", "density")

_NUM = r"-?\d+(?:\.\d*)?|-?\.\d+"
_INDEX_TERM = re.compile(r"^#(\d+)(?:(-)(\d+)?)?$")
_DAYS_TERM = re.compile(rf"^d:({_NUM})(?:(-)({_NUM})?)?$")


# --------------------------------------------------------------------------- groups


@dataclass(frozen=True)
class _Term:
    kind: Literal["condition", "index", "days"]
    text: str
    lo: float = math.nan
    hi: float = math.nan

    def matches(self, index: int, condition: str, days: float) -> bool:
        if self.kind == "condition":
            return fnmatchcase(condition, self.text)
        v = float(index) if self.kind == "index" else days
        return not math.isnan(v) and self.lo <= v <= self.hi


def _split_terms(pattern: str) -> list[str]:
    """Split at commas outside ``[...]``."""
    terms: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in pattern:
        if ch == "[" and depth == 0:
            depth = 1
        elif ch == "]" and depth == 1 and cur and cur[-1] != "[":
            depth = 0
        if ch == "," and depth == 0:
            terms.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    terms.append("".join(cur))
    return terms


def _range_term(kind: Literal["index", "days"], pattern: re.Pattern[str], t: str, where: str, what: str) -> _Term:
    """A ``#lo-hi`` or ``d:lo-hi`` term (an open end: ``#4-``)."""
    mt = pattern.match(t)
    if mt is None:
        raise InvalidParameterError(f"{where}: '{t}' is not {what}")
    lo = float(mt.group(1))
    hi = math.inf if mt.group(2) and mt.group(3) is None else float(mt.group(3) or lo)
    if hi < lo:
        raise InvalidParameterError(f"{where}: '{t}' is an empty range (the end is before the start)")
    return _Term(kind, t, lo, hi)


def _parse_term(text: str, where: str) -> _Term:
    t = text.strip()
    if not t:
        raise InvalidParameterError(
            f"{where}: empty term (two commas in a row, or a comma at an end)"
        )
    if t.startswith("#"):
        return _range_term("index", _INDEX_TERM, t, where, "a session index term (use #3, #0-2 or #4-)")
    if t.startswith("d:"):
        return _range_term("days", _DAYS_TERM, t, where, "a days term (use d:0, d:0-7 or d:14-)")
    depth = 0
    for ch in t:
        if ch == "[":
            depth = 1
        elif ch == "]":
            depth = 0
    if depth:
        raise InvalidParameterError(f"{where}: '{t}' has a '[' without its ']'")
    return _Term("condition", t)


@dataclass(frozen=True)
class SessionGroup:
    """A named set of sessions, chosen by a pattern (see the module's documentation).

    Parameters
    ----------
    name : str
        Shown on the figure's x axis and in tables; non-empty, without ``=``.
    pattern : str
        Comma-separated terms: condition wildcards (``c*``), session indices (``#0-2``)
        or days (``d:0-7``).

    Raises
    ------
    InvalidParameterError
        The name is empty or the pattern's syntax is wrong.
    """

    name: str
    pattern: str
    terms: tuple[_Term, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        name = self.name.strip()
        if not name:
            raise InvalidParameterError("a session group needs a name")
        if "=" in name:
            raise InvalidParameterError(f"group name '{name}' must not contain '='")
        object.__setattr__(self, "name", name)
        pattern = self.pattern.strip()
        object.__setattr__(self, "pattern", pattern)
        if not pattern:
            raise InvalidParameterError(f"group '{name}': the pattern is empty")
        where = f"group '{name}'"
        object.__setattr__(
            self, "terms", tuple(_parse_term(t, where) for t in _split_terms(pattern))
        )

    def sessions(self, m: Map) -> list[int]:
        """The sessions of ``m`` in this group (ascending)."""
        return self.sessions_of([s.condition for s in m.sessions], [s.days for s in m.sessions])

    def sessions_of(self, conditions: Sequence[str], days: Sequence[float] = ()) -> list[int]:
        """The sessions in this group of a map whose sessions have these conditions and days.

        ``days`` may be shorter than ``conditions`` (missing days never match a days term).
        """
        out = []
        for j, c in enumerate(conditions):
            d = float(days[j]) if j < len(days) and days[j] is not None else math.nan
            if any(t.matches(j, c, d) for t in self.terms):
                out.append(j)
        return out

    def to_dict(self) -> dict[str, str]:
        """``{"name": ..., "pattern": ...}``."""
        return {"name": self.name, "pattern": self.pattern}

    def __str__(self) -> str:
        return f"{self.name}={self.pattern}"


def parse_group(text: str) -> SessionGroup:
    """A group from ``NAME=PATTERN`` (``baseline=c*``); split at the first ``=``."""
    name, sep, pattern = text.partition("=")
    if not sep:
        raise InvalidParameterError(f"'{text}' is not NAME=PATTERN (e.g. baseline=c*)")
    return SessionGroup(name, pattern)


def parse_groups(
    groups: Iterable[str | SessionGroup] | Mapping[str, str],
) -> tuple[SessionGroup, ...]:
    """Groups from ``NAME=PATTERN`` strings, :class:`SessionGroup` objects or a name->pattern mapping.

    Raises
    ------
    InvalidParameterError
        A syntax error, no group at all, or two groups with the same name.
    """
    if isinstance(groups, Mapping):
        out = [SessionGroup(k, v) for k, v in groups.items()]
    else:
        out = [g if isinstance(g, SessionGroup) else parse_group(g) for g in groups]
    if not out:
        raise InvalidParameterError("at least one session group is needed")
    seen: set[str] = set()
    for g in out:
        if g.name in seen:
            raise InvalidParameterError(f"two session groups are named '{g.name}'")
        seen.add(g.name)
    return tuple(out)


def _escape(condition: str) -> str:
    """A pattern matching exactly ``condition`` (wildcards and commas escaped)."""
    return "".join(f"[{c}]" if c in "*?[]," else c for c in condition)


def default_groups(maps: Iterable[Map]) -> tuple[SessionGroup, ...]:
    """One group per distinct session condition found in ``maps``.

    Groups are ordered by the earliest session index at which their condition appears
    (then by first appearance), so baseline conditions come first. When no map has any
    session condition, one group per session index (``s0=#0``, ``s1=#1``, ...).
    """
    return default_groups_for([s.condition for s in m.sessions] for m in maps)


def default_groups_for(conditions: Iterable[Sequence[str]]) -> tuple[SessionGroup, ...]:
    """:func:`default_groups` from each map's list of session conditions."""
    first: dict[str, tuple[int, int]] = {}
    nses = 0
    for conds in conditions:
        nses = max(nses, len(conds))
        for j, c in enumerate(conds):
            if not c:
                continue
            if c not in first:
                first[c] = (j, len(first))
            elif j < first[c][0]:
                first[c] = (j, first[c][1])
    if not first:
        return tuple(SessionGroup(f"s{j}", f"#{j}") for j in range(nses))
    conds_sorted = sorted(first, key=lambda c: first[c])
    return tuple(SessionGroup(c, _escape(c)) for c in conds_sorted)


# --------------------------------------------------------------------------- finding maps


def _is_map_folder(p: Path) -> bool:
    return p.is_dir() and (p / f"{p.name}.txt").is_file()


def find_maps(path: str | Path) -> list[Path]:
    """Map folders at ``path``: the map itself, or every map below a folder (sorted).

    A map folder is a folder ``X`` holding ``X.txt``; the search does not descend into maps
    and skips hidden folders (such as the ``.<map>.previous`` backups).
    """
    p = Path(path)
    if p.is_file() and p.suffix == ".txt" and _is_map_folder(p.parent) and p.stem == p.parent.name:
        return [p.parent]
    if _is_map_folder(p):
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
            if _is_map_folder(c):
                found.append(c)
            else:
                stack.append(c)
    return sorted(found)


def load_maps(paths: Iterable[str | Path]) -> tuple[dict[str, Map], list[str]]:
    """Load every map at ``paths`` (maps or folders of maps).

    Returns
    -------
    maps : dict
        Label -> map, in path order. The label is the map's name, or ``parent/name`` when
        two maps share a name.
    warnings : list of str
        A path with no map, or a map that could not be read (and is left out).
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


def cohort_of(m: Map, cohorts: bool = True) -> str:
    """The map's cohort: its map condition, :data:`NO_COHORT` without one, :data:`ALL_COHORT` when off."""
    if not cohorts:
        return ALL_COHORT
    return m.map_condition or NO_COHORT


# --------------------------------------------------------------------------- per map


def _group_sessions(m: Map, groups: Sequence[SessionGroup]) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(g.sessions(m)) for g in groups)


def _mean_over(values: np.ndarray, sessions: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise mean of non-NaN values over ``sessions`` columns, and the count averaged."""
    if not sessions:
        return np.full(values.shape[0], np.nan), np.zeros(values.shape[0], dtype=np.int64)
    sub = values[:, list(sessions)]
    ok = ~np.isnan(sub)
    cnt = ok.sum(axis=1)
    tot = np.where(ok, sub, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)
    return mean, cnt.astype(np.int64)


@dataclass(frozen=True)
class MapGroupValues:
    """One map's runs averaged per session group (the cacheable first stage of a pool).

    Attributes
    ----------
    label : str
        The map's label in the pool (its name, or ``owner/name``).
    map_condition : str
        The map's ``mapCond`` (may be empty).
    groups : tuple of str
        Group names, in order.
    sessions : tuple of tuple of int
        The map's sessions in each group.
    runs : ndarray of int, shape (runs,)
        Run indices (as :attr:`MapValues.runs`) of runs with a value in some group.
    values : ndarray of float, shape (runs, groups)
        Each run's mean over each group's sessions (NaN: no value there).
    counts : ndarray of int, shape (runs, groups)
        How many sessions each mean averages.
    problems : tuple of str
        Warnings about this map (statistic missing, no values, ...).
    included : bool
        False when the map contributes nothing and is left out.
    """

    label: str
    map_condition: str
    groups: tuple[str, ...]
    sessions: tuple[tuple[int, ...], ...]
    runs: np.ndarray
    values: np.ndarray
    counts: np.ndarray
    problems: tuple[str, ...] = ()
    included: bool = True

    def to_bytes(self) -> bytes:
        """Compact serialised form for caches: a JSON description, then the raw arrays.

        ``b"PGV1"``, the description's length (uint32, little-endian), the description
        (UTF-8 JSON: label, map condition, groups, sessions, problems, included, number of
        runs), then runs (int64), values (float64, runs x groups) and counts (int32), all
        little-endian. No pickle; reading is a few ``numpy.frombuffer`` calls.
        """
        meta = {
            "label": self.label,
            "map_condition": self.map_condition,
            "groups": list(self.groups),
            "sessions": [list(s) for s in self.sessions],
            "problems": list(self.problems),
            "included": self.included,
            "runs": int(self.runs.shape[0]),
        }
        head = json.dumps(meta).encode("utf-8")
        return b"".join(
            [
                b"PGV1",
                struct.pack("<I", len(head)),
                head,
                np.ascontiguousarray(self.runs, dtype="<i8").tobytes(),
                np.ascontiguousarray(self.values, dtype="<f8").tobytes(),
                np.ascontiguousarray(self.counts, dtype="<i4").tobytes(),
            ]
        )

    @classmethod
    def from_bytes(cls, blob: bytes) -> MapGroupValues:
        """Inverse of :meth:`to_bytes`."""
        if blob[:4] != b"PGV1":
            raise InvalidParameterError("not serialised group values")
        (n,) = struct.unpack("<I", blob[4:8])
        meta = json.loads(blob[8 : 8 + n].decode("utf-8"))
        nr, ng = int(meta["runs"]), len(meta["groups"])
        pos = 8 + n
        runs = np.frombuffer(blob, dtype="<i8", count=nr, offset=pos).astype(np.int64)
        pos += 8 * nr
        values = np.frombuffer(blob, dtype="<f8", count=nr * ng, offset=pos).reshape(nr, ng).copy()
        pos += 8 * nr * ng
        counts = np.frombuffer(blob, dtype="<i4", count=nr * ng, offset=pos).reshape(nr, ng)
        return cls(
            label=meta["label"],
            map_condition=meta["map_condition"],
            groups=tuple(meta["groups"]),
            sessions=tuple(tuple(s) for s in meta["sessions"]),
            runs=runs,
            values=values,
            counts=counts.astype(np.int64),
            problems=tuple(meta["problems"]),
            included=bool(meta["included"]),
        )


def _left_out(
    label: str,
    m: Map,
    groups: Sequence[SessionGroup],
    sessions: tuple[tuple[int, ...], ...],
    problem: str,
) -> MapGroupValues:
    ng = len(groups)
    return MapGroupValues(
        label,
        m.map_condition,
        tuple(g.name for g in groups),
        sessions,
        np.zeros(0, dtype=np.int64),
        np.zeros((0, ng)),
        np.zeros((0, ng), dtype=np.int64),
        (problem,),
        False,
    )


def group_values(
    m: Map,
    stat: str,
    groups: Sequence[SessionGroup],
    *,
    label: str | None = None,
    roi: str | Sequence[str] | None = None,
    segment: int | None = None,
    include_bad: bool = False,
) -> MapGroupValues:
    """One map's runs averaged over each group's sessions (first stage of :func:`pool`).

    Parameters
    ----------
    m : Map
    stat : str
        Any statistic :func:`~pymapmanager.analysis.map_values` accepts.
    groups : sequence of SessionGroup
    label : str, optional
        The map's label in the pool (default its name).
    roi, segment, include_bad
        As for :func:`~pymapmanager.analysis.map_values`.

    Returns
    -------
    MapGroupValues
        Never raises for data problems: a map without the statistic, the segment, any
        matching session or any value comes back with ``included=False`` and a problem.
        Groups matching none of its sessions are listed by :func:`combine`.
    """
    label = label or m.name
    sessions = _group_sessions(m, groups)
    if not any(sessions):
        pats = "; ".join(str(g) for g in groups)
        return _left_out(label, m, groups, sessions,
                         f"map {label}: no session matches any group ({pats}); left out")  # fmt: skip
    if segment is not None and not 0 <= segment < m.num_map_segments:
        what = "has no segments" if m.num_map_segments == 0 else f"has no segment {segment}"
        return _left_out(label, m, groups, sessions, f"map {label} {what}; left out")
    try:
        mv = map_values(m, stat, roi=roi, segment=segment, include_bad=include_bad)
    except MapManagerError as e:
        msg = str(e)
        if "no statistic" in msg:
            msg = f"map {label} has no statistic '{stat}'; left out"
        else:
            msg = f"map {label}: {msg}; left out"
        return _left_out(label, m, groups, sessions, msg)
    ng = len(groups)
    means = np.full((mv.shape[0], ng), np.nan)
    counts = np.zeros((mv.shape[0], ng), dtype=np.int64)
    for k, sess in enumerate(sessions):
        means[:, k], counts[:, k] = _mean_over(mv.values, sess)
    keep = (counts > 0).any(axis=1)
    if not keep.any():
        used = sorted({j for s in sessions for j in s})
        return _left_out(label, m, groups, sessions,
                         f"map {label} has no value of '{stat}' in sessions {used} "
                         f"(after the ROI and bad filters); left out")  # fmt: skip
    return MapGroupValues(
        label,
        m.map_condition,
        tuple(g.name for g in groups),
        sessions,
        mv.runs[keep].astype(np.int64),
        means[keep],
        counts[keep],
    )


# --------------------------------------------------------------------------- combining


def normalize_values(
    values: np.ndarray, ref: np.ndarray, mode: Mode
) -> tuple[np.ndarray, np.ndarray]:
    """Normalise rows of ``values`` (runs, groups) to ``ref`` (runs,).

    Returns
    -------
    normalised : ndarray, shape (runs, groups)
    valid : ndarray of bool, shape (runs,)
        Rows with a usable reference (not NaN; not 0 for ratio and percent). Other rows of
        ``normalised`` are NaN.
    """
    if mode not in NORMALIZE_MODES:
        raise InvalidParameterError(
            f"unknown normalisation '{mode}' (one of {', '.join(NORMALIZE_MODES)})"
        )
    if mode == "none":
        return values.copy(), np.ones(values.shape[0], dtype=bool)
    valid = ~np.isnan(ref)
    if mode in ("ratio", "percent"):
        valid &= ref != 0
    r = np.where(valid, ref, np.nan)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        if mode == "ratio":
            out = values / r
        elif mode == "percent":
            out = 100.0 * (values - r) / r
        else:
            out = values - r
    out[~valid] = np.nan
    return out, valid


def _fmt(v: Any) -> str:
    """A CSV cell: empty for NaN/None, shortest exact repr for floats."""
    if v is None:
        return ""
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return ""
        if f.is_integer() and abs(f) < 1e15:
            return str(int(f))
        return repr(f)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    s = str(v)
    if any(c in s for c in ',"\n\r'):
        s = '"' + s.replace('"', '""') + '"'
    return s


def frame_csv(df: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """A DataFrame as CSV: exact floats (``repr``), empty cells for NaN, ``\\n`` line ends."""
    cols = list(columns) if columns is not None else list(df.columns)
    lines = [",".join(cols)]
    arrays = [df[c].to_numpy() for c in cols]
    for i in range(len(df)):
        lines.append(",".join(_fmt(a[i]) for a in arrays))
    return "\n".join(lines) + "\n"


def _clean(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(v, np.integer):
        return int(v)
    return v


def _summarise(
    cohort: np.ndarray, group: np.ndarray, value: np.ndarray, unit: np.ndarray,
    cohorts: Sequence[str], groups: Sequence[str],
) -> pd.DataFrame:  # fmt: skip
    """mean, sd, sem, n, n_maps per (cohort, group); every combination, in order.

    ``cohort``/``group`` are integer codes into ``cohorts``/``groups``; ``unit`` codes the
    map of each value (for ``n_maps``).
    """
    nc, ng = len(cohorts), len(groups)
    ok = ~np.isnan(value)
    key = cohort[ok] * ng + group[ok]
    v = value[ok]
    size = nc * ng
    n = np.bincount(key, minlength=size).astype(np.int64)
    s1 = np.bincount(key, weights=v, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, s1 / np.maximum(n, 1), np.nan)
        dev = v - mean[key]
        ss = np.bincount(key, weights=dev * dev, minlength=size)
        sd = np.where(n > 1, np.sqrt(ss / np.maximum(n - 1, 1)), np.nan)
        sem = np.where(n > 1, sd / np.sqrt(np.maximum(n, 1)), np.nan)
    n_maps = np.zeros(size, dtype=np.int64)
    if key.size:
        units = int(unit.max()) + 1 if unit.size else 1
        per = np.bincount(key * units + unit[ok], minlength=size * units).reshape(size, units)
        n_maps = (per > 0).sum(axis=1).astype(np.int64)
    return pd.DataFrame(
        {
            "cohort": np.repeat(np.asarray(cohorts, dtype=object), ng),
            "group": np.tile(np.asarray(groups, dtype=object), nc),
            "mean": mean,
            "sd": sd,
            "sem": sem,
            "n": n,
            "n_maps": n_maps,
        }
    )


def _categorical(codes: np.ndarray, categories: list[str]) -> Any:
    """A categorical column from integer codes (categories in the given order)."""
    return pd.Categorical.from_codes(
        codes.astype(np.int64), dtype=pd.CategoricalDtype(pd.Index(categories, dtype=object))
    )


def _order_cohorts(names: Iterable[str]) -> tuple[str, ...]:
    uniq = set(names)
    return tuple(sorted(uniq, key=lambda c: (c == NO_COHORT, c.lower(), c)))


@dataclass(frozen=True)
class PoolResult:
    """The pooled statistic: every run's group values and the summary.

    Attributes
    ----------
    stat : str
    groups : tuple of SessionGroup
    cohorts : tuple of str
        Cohorts in display order (alphabetical, ``(none)`` last).
    mode : str
        The normalisation (``none``, ``ratio``, ``percent``, ``difference``).
    reference : str or None
        The reference group (None without normalisation).
    tidy : DataFrame
        One row per (map, run, group) with a value: ``map, run, cohort, group, value``
        (normalised), ``raw`` (before normalisation) and ``n_sessions`` (sessions
        averaged). Dropped runs are not in it.
    summary : DataFrame
        ``cohort, group, mean, sd, sem, n, n_maps``: every cohort x group, in order.
    maps : tuple of str
        Labels of the maps pooled.
    left_out : tuple of str
        Labels of the maps left out (see ``warnings``).
    dropped : dict
        Map label -> runs dropped for lacking the reference value (only maps with drops).
    warnings : tuple of str
        Every problem, in words, naming the map.
    notes : tuple of str
        Information that is not a problem: how many runs normalisation dropped, per map.
    """

    stat: str
    groups: tuple[SessionGroup, ...]
    cohorts: tuple[str, ...]
    mode: Mode
    reference: str | None
    tidy: pd.DataFrame
    summary: pd.DataFrame
    maps: tuple[str, ...]
    left_out: tuple[str, ...]
    dropped: Mapping[str, int]
    warnings: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def group_names(self) -> tuple[str, ...]:
        """Group names in order."""
        return tuple(g.name for g in self.groups)

    def summary_csv(self) -> str:
        """The summary as CSV with exactly the columns ``cohort,group,mean,sd,sem,n``."""
        return frame_csv(self.summary, SUMMARY_COLUMNS)

    def tidy_csv(self) -> str:
        """The tidy table as CSV (``map,run,cohort,group,value,raw,n_sessions``)."""
        return frame_csv(self.tidy, TIDY_COLUMNS)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly description (summary records; the tidy table is not included)."""
        return {
            "stat": self.stat,
            "groups": [g.to_dict() for g in self.groups],
            "cohorts": list(self.cohorts),
            "mode": self.mode,
            "reference": self.reference,
            "maps": list(self.maps),
            "left_out": list(self.left_out),
            "dropped": dict(self.dropped),
            "warnings": list(self.warnings),
            "notes": list(self.notes),
            "summary": [
                {k: _clean(v) for k, v in rec.items()}
                for rec in self.summary.to_dict(orient="records")
            ],
        }


def _check_reference(
    groups: Sequence[SessionGroup], reference: str | None, mode: Mode
) -> tuple[Mode, str | None, int | None]:
    if mode not in NORMALIZE_MODES:
        raise InvalidParameterError(
            f"unknown normalisation '{mode}' (one of {', '.join(NORMALIZE_MODES)})"
        )
    if mode == "none":
        return mode, None, None
    if reference is None:
        raise InvalidParameterError(f"normalisation '{mode}' needs a reference group")
    names = [g.name for g in groups]
    if reference not in names:
        raise InvalidParameterError(
            f"the reference group '{reference}' is not one of the groups ({', '.join(names)})"
        )
    return mode, reference, names.index(reference)


def _group_problems(
    per_map: Sequence[MapGroupValues], groups: Sequence[SessionGroup]
) -> tuple[list[str], set[int]]:
    """Warnings for groups matching nothing anywhere, and for maps missing a group."""
    out: list[str] = []
    nowhere: set[int] = set()
    for k, g in enumerate(groups):
        if per_map and not any(p.sessions[k] for p in per_map):
            nowhere.add(k)
            out.append(f"group '{g.name}' (pattern '{g.pattern}') matches no session in any map")
    for p in per_map:
        if not p.included:
            continue
        missing = [
            groups[k].name for k in range(len(groups)) if not p.sessions[k] and k not in nowhere
        ]
        if missing:
            what = ", ".join(f"'{n}'" for n in missing)
            out.append(f"map {p.label}: no session matches group {what}")
    return out, nowhere


def combine(
    per_map: Sequence[MapGroupValues],
    groups: Sequence[SessionGroup],
    *,
    stat: str = "",
    reference: str | None = None,
    mode: Mode = "none",
    cohorts: bool = True,
) -> PoolResult:
    """Normalise, stack and summarise per-map group values (second stage of :func:`pool`).

    Parameters
    ----------
    per_map : sequence of MapGroupValues
        From :func:`group_values`, computed with the same ``groups``.
    groups : sequence of SessionGroup
    stat : str
        The statistic's name (for the result).
    reference : str, optional
        The reference group's name; required unless ``mode`` is ``"none"``.
    mode : {"none", "ratio", "percent", "difference"}
    cohorts : bool
        Split maps into cohorts by map condition; else one cohort ``all``.

    Returns
    -------
    PoolResult
    """
    groups = tuple(groups)
    mode, reference, ref_k = _check_reference(groups, reference, mode)
    names = tuple(g.name for g in groups)
    for p in per_map:
        if p.groups != names:
            raise InvalidParameterError(
                f"map {p.label}: its group values are for groups {p.groups}, not {names}"
            )
    warnings: list[str] = [w for p in per_map for w in p.problems]
    gw, _ = _group_problems(per_map, groups)
    warnings.extend(gw)
    used = [p for p in per_map if p.included]
    left_out = tuple(p.label for p in per_map if not p.included)
    cohort_names = _order_cohorts(cohort_of_condition(p.map_condition, cohorts) for p in used) or (
        (ALL_COHORT,) if not cohorts else ()
    )
    cidx = {c: i for i, c in enumerate(cohort_names)}
    ng = len(groups)
    dropped: dict[str, int] = {}
    total_runs = 0
    cols: dict[str, list[np.ndarray]] = {
        k: [] for k in ("unit", "cohort", "run", "group", "value", "raw", "n")
    }
    for u, p in enumerate(used):
        vals = p.values
        total_runs += len(vals)
        if ref_k is not None:
            normed, valid = normalize_values(vals, vals[:, ref_k], mode)
            nd = int((~valid).sum())
            if nd:
                dropped[p.label] = nd
            if nd and nd == len(valid):
                warnings.append(
                    f"map {p.label}: no run has a value in the reference group '{reference}'; "
                    "it contributes nothing"
                )
            normed, raw, cnt, runs = normed[valid], vals[valid], p.counts[valid], p.runs[valid]
        else:
            normed, raw, cnt, runs = vals, vals, p.counts, p.runs
        ok = ~np.isnan(normed)
        ri, gi = np.nonzero(ok)
        cols["unit"].append(np.full(ri.size, u, dtype=np.int64))
        cols["cohort"].append(
            np.full(ri.size, cidx[cohort_of_condition(p.map_condition, cohorts)], dtype=np.int64)
        )
        cols["run"].append(runs[ri])
        cols["group"].append(gi.astype(np.int64))
        cols["value"].append(normed[ri, gi])
        cols["raw"].append(raw[ri, gi])
        cols["n"].append(cnt[ri, gi])
    cat: dict[str, np.ndarray] = {
        k: (
            np.concatenate(v)
            if v
            else np.zeros(0, dtype=np.float64 if k in ("value", "raw") else np.int64)
        )
        for k, v in cols.items()
    }
    labels = np.asarray([p.label for p in used], dtype=object)
    tidy = pd.DataFrame(
        {
            "map": _categorical(cat["unit"], list(labels)),
            "run": cat["run"].astype(np.int64),
            "cohort": _categorical(cat["cohort"], list(cohort_names)),
            "group": _categorical(cat["group"], list(names)),
            "value": cat["value"].astype(np.float64),
            "raw": cat["raw"].astype(np.float64),
            "n_sessions": cat["n"].astype(np.int64),
        }
    )
    summary = _summarise(
        cat["cohort"], cat["group"], cat["value"], cat["unit"], cohort_names, names
    )
    if not used:
        warnings.append(
            f"no map could be pooled for '{stat}'" if stat else "no map could be pooled"
        )
    elif not len(tidy):
        warnings.append("no run has a value in any group")
    notes: list[str] = []
    if dropped:
        why = "no value" if mode == "difference" else "no (or a zero) value"
        items = list(dropped.items())
        per = ", ".join(f"{k} {v}" for k, v in items[:8])
        if len(items) > 8:
            per += f", and {len(items) - 8} more maps (see dropped)"
        notes.append(
            f"{sum(dropped.values())} of {total_runs} runs dropped for {why} in the reference "
            f"group '{reference}' ({per})"
        )
    if ng and ref_k is not None:
        for c in cohort_names:
            if not ((tidy["cohort"] == c).any()):
                warnings.append(f"cohort {c}: every run was dropped (no reference value)")
    return PoolResult(
        stat=stat,
        groups=groups,
        cohorts=cohort_names,
        mode=mode,
        reference=reference,
        tidy=tidy,
        summary=summary,
        maps=tuple(p.label for p in used),
        left_out=left_out,
        dropped=dropped,
        warnings=tuple(warnings),
        notes=tuple(notes),
    )


def cohort_of_condition(map_condition: str, cohorts: bool = True) -> str:
    """The cohort of a map with this ``mapCond`` (see :func:`cohort_of`)."""
    if not cohorts:
        return ALL_COHORT
    return map_condition or NO_COHORT


def pool(
    maps: Mapping[str, Map] | Sequence[Map],
    stat: str,
    groups: Iterable[str | SessionGroup] | Mapping[str, str] | None = None,
    *,
    roi: str | Sequence[str] | None = None,
    segment: int | None = None,
    include_bad: bool = False,
    reference: str | None = None,
    mode: Mode | None = None,
    cohorts: bool = True,
) -> PoolResult:
    """Pool a statistic over many maps by session group (and cohort).

    Parameters
    ----------
    maps : mapping of label -> Map, or sequence of Map
        The maps (a sequence is labelled by map name).
    stat : str
        Any statistic of :func:`~pymapmanager.analysis.map_values` (``ubssSum_int2``,
        ``sLen3d_int1``, ``pDist``, ...).
    groups : NAME=PATTERN strings, SessionGroups or a name -> pattern mapping, optional
        Default: :func:`default_groups` of the maps.
    roi : str or list of str, optional
        ROI type(s); default each map's default annotation (``spineROI``).
    segment : int, optional
        Keep one map segment (the same index in every map); None for all.
    include_bad : bool
        Keep objects marked bad.
    reference : str, optional
        Reference group for normalisation.
    mode : {"none", "ratio", "percent", "difference"}, optional
        Default ``"ratio"`` when ``reference`` is given, else ``"none"``.
    cohorts : bool
        Split by map condition (``mapCond``); else one cohort ``all``.

    Returns
    -------
    PoolResult

    Raises
    ------
    InvalidParameterError
        Bad group syntax, unknown reference group or mode. Data problems never raise:
        they are in :attr:`PoolResult.warnings`.
    """
    labelled = _labelled(maps)
    gs = parse_groups(groups) if groups is not None else default_groups(labelled.values())
    if mode is None:
        mode = "ratio" if reference is not None else "none"
    _check_reference(gs, reference, mode)
    per_map = [
        group_values(m, stat, gs, label=label, roi=roi, segment=segment, include_bad=include_bad)
        for label, m in labelled.items()
    ]
    return combine(per_map, gs, stat=stat, reference=reference, mode=mode, cohorts=cohorts)


# --------------------------------------------------------------------------- dynamics


@dataclass(frozen=True)
class MapDynamics:
    """One map's dynamics per session group (the cacheable first stage of pooled dynamics).

    Attributes
    ----------
    label, map_condition : str
    groups : tuple of str
    values : ndarray, shape (groups, 3)
        Mean over each group's sessions of ``pct_added``, ``pct_subtracted``, ``density``
        (:data:`DYNAMICS_MEASURES`); NaN where none.
    problems : tuple of str
    included : bool
    """

    label: str
    map_condition: str
    groups: tuple[str, ...]
    values: np.ndarray
    problems: tuple[str, ...] = ()
    included: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for caches)."""
        return {
            "label": self.label,
            "map_condition": self.map_condition,
            "groups": list(self.groups),
            "values": [[_clean(v) for v in row] for row in self.values],
            "problems": list(self.problems),
            "included": self.included,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MapDynamics:
        """Inverse of :meth:`to_dict`."""
        vals = np.asarray(
            [[np.nan if v is None else v for v in row] for row in d["values"]], dtype=float
        ).reshape(len(d["groups"]), len(DYNAMICS_MEASURES))
        return cls(d["label"], d["map_condition"], tuple(d["groups"]), vals,
                   tuple(d["problems"]), bool(d["included"]))  # fmt: skip


def session_dynamics(
    m: Map, *, roi: str | Sequence[str] | None = None, segment: int | None = None,
    include_bad: bool = False,
) -> pd.DataFrame:  # fmt: skip
    """Per session: ``n, added, subtracted, pct_added, pct_subtracted, length_um, density``.

    Sums :func:`~pymapmanager.analysis.dynamics_summary` over the map's segments (or keeps
    ``segment``). Percentages are relative to the previous session's count (NaN for
    session 0); density is spines per µm of traced dendrite (NaN without a tracing).
    """
    df = dynamics_summary(m, roi=roi, include_bad=include_bad)
    if segment is not None:
        df = df[df["segment"] == segment]
    nses = m.num_sessions
    idx = df["session"].to_numpy(dtype=np.int64)
    n = np.bincount(idx, weights=df["n"].to_numpy(dtype=float), minlength=nses)
    added = np.bincount(idx, weights=df["added"].to_numpy(dtype=float), minlength=nses)
    sub = np.bincount(idx, weights=df["subtracted"].to_numpy(dtype=float), minlength=nses)
    present = np.bincount(idx, minlength=nses) > 0
    length_col = df["length_um"].to_numpy(dtype=float)
    length = np.bincount(idx, weights=np.nan_to_num(length_col), minlength=nses)
    has_len = np.bincount(idx, weights=(~np.isnan(length_col)).astype(float), minlength=nses) > 0
    length = np.where(has_len, length, np.nan)
    prev = np.concatenate([[np.nan], np.where(present, n, np.nan)[:-1]])
    with np.errstate(invalid="ignore", divide="ignore"):
        pct_a = np.where(present & (prev > 0), 100.0 * added / prev, np.nan)
        pct_s = np.where(present & (prev > 0), 100.0 * sub / prev, np.nan)
        density = np.where(present & (length > 0), n / length, np.nan)
    return pd.DataFrame(
        {
            "session": np.arange(nses),
            "n": np.where(present, n, np.nan),
            "added": np.where(present, added, np.nan),
            "subtracted": np.where(present, sub, np.nan),
            "pct_added": pct_a,
            "pct_subtracted": pct_s,
            "length_um": length,
            "density": density,
        }
    )


def map_dynamics(
    m: Map,
    groups: Sequence[SessionGroup],
    *,
    label: str | None = None,
    roi: str | Sequence[str] | None = None,
    segment: int | None = None,
    include_bad: bool = False,
) -> MapDynamics:
    """One map's % added, % subtracted and density averaged over each group's sessions."""
    label = label or m.name
    names = tuple(g.name for g in groups)
    empty = np.full((len(groups), len(DYNAMICS_MEASURES)), np.nan)
    sessions = _group_sessions(m, groups)
    if not any(sessions):
        return MapDynamics(label, m.map_condition, names, empty,
                           (f"map {label}: no session matches any group; left out of dynamics",), False)  # fmt: skip
    if segment is not None and not 0 <= segment < m.num_map_segments:
        return MapDynamics(label, m.map_condition, names, empty,
                           (f"map {label} has no segment {segment}; left out of dynamics",), False)  # fmt: skip
    try:
        sd = session_dynamics(m, roi=roi, segment=segment, include_bad=include_bad)
    except MapManagerError as e:
        return MapDynamics(label, m.map_condition, names, empty,
                           (f"map {label}: dynamics failed ({e}); left out of dynamics",), False)  # fmt: skip
    per_session = sd[list(DYNAMICS_MEASURES)].to_numpy(dtype=float)  # (sessions, 3)
    vals = empty.copy()
    for k, sess in enumerate(sessions):
        if sess:
            vals[k], _ = _mean_over(per_session[list(sess)].T, range(len(sess)))
    problems: tuple[str, ...] = ()
    if np.isnan(vals[:, 2]).all() and not np.isnan(vals[:, :2]).all():
        problems = (f"map {label} has no dendrite tracing: no density",)
    return MapDynamics(label, m.map_condition, names, vals, problems, True)


@dataclass(frozen=True)
class DynamicsResult:
    """Pooled dynamics.

    Attributes
    ----------
    per_map : DataFrame
        ``map, cohort, group, pct_added, pct_subtracted, density``: one row per map and group.
    summary : DataFrame
        ``cohort, group, measure, mean, sd, sem, n`` (``n`` = maps with a value).
    cohorts : tuple of str
    groups : tuple of str
    warnings : tuple of str
    """

    per_map: pd.DataFrame
    summary: pd.DataFrame
    cohorts: tuple[str, ...]
    groups: tuple[str, ...]
    warnings: tuple[str, ...]


def combine_dynamics(
    per_map: Sequence[MapDynamics],
    groups: Sequence[SessionGroup] | Sequence[str],
    *,
    cohorts: bool = True,
) -> DynamicsResult:
    """Mean, SD, SEM and n across maps per cohort, group and measure."""
    names = tuple(g.name if isinstance(g, SessionGroup) else g for g in groups)
    used = [p for p in per_map if p.included]
    warnings = [w for p in per_map for w in p.problems]
    cohort_names = _order_cohorts(cohort_of_condition(p.map_condition, cohorts) for p in used)
    ng = len(names)
    rows = []
    for p in used:
        c = cohort_of_condition(p.map_condition, cohorts)
        for k in range(ng):
            rows.append((p.label, c, names[k], *p.values[k]))
    per = pd.DataFrame.from_records(rows, columns=["map", "cohort", "group", *DYNAMICS_MEASURES])
    cidx = {c: i for i, c in enumerate(cohort_names)}
    gidx = {g: i for i, g in enumerate(names)}
    uidx = {p.label: i for i, p in enumerate(used)}
    parts = []
    for meas in DYNAMICS_MEASURES:
        s = _summarise(
            per["cohort"].map(cidx).to_numpy(dtype=np.int64),
            per["group"].map(gidx).to_numpy(dtype=np.int64),
            per[meas].to_numpy(dtype=float),
            per["map"].map(uidx).to_numpy(dtype=np.int64),
            cohort_names,
            names,
        )
        s.insert(2, "measure", meas)
        parts.append(s.drop(columns=["n_maps"]))
    summary = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return DynamicsResult(per, summary, cohort_names, names, tuple(warnings))


def pooled_dynamics(
    maps: Mapping[str, Map] | Sequence[Map],
    groups: Iterable[str | SessionGroup] | Mapping[str, str] | None = None,
    *,
    roi: str | Sequence[str] | None = None,
    segment: int | None = None,
    include_bad: bool = False,
    cohorts: bool = True,
) -> DynamicsResult:
    """Pooled dynamics: per group, % added, % subtracted and density, mean ± SEM across maps.

    Parameters are as for :func:`pool`. Per map, each measure is averaged over the group's
    sessions (see :func:`session_dynamics`), then summarised across the maps of a cohort.
    """
    labelled = _labelled(maps)
    gs = parse_groups(groups) if groups is not None else default_groups(labelled.values())
    per_map = [
        map_dynamics(m, gs, label=label, roi=roi, segment=segment, include_bad=include_bad)
        for label, m in labelled.items()
    ]
    return combine_dynamics(per_map, gs, cohorts=cohorts)


# --------------------------------------------------------------------------- pooling folders
#
# The cold path: pooling maps straight from their folders reads each map with load_map,
# which is lazy: it checks the structure of every table but converts a column only when
# it is first used (the few a pool needs: roiType, roiTypeNum, parentID, isBad and the
# statistic), parses an intensity table only when its statistic is asked for, and reads
# tracings only for dynamics. Only the statistic's channel's intensity tables are read
# (load_map(channels=...)). The semantics are those of the full model because it is the
# full model.


def _channels_for(stat: str | None) -> tuple[int, ...]:
    """The intensity channels a pool of ``stat`` reads: ``ubssSum_int2`` -> (2,), else none."""
    _, sep, ch = (stat or "").rpartition("_int")
    return (int(ch),) if sep and ch.isdigit() else ()


@dataclass(frozen=True)
class PoolTask:
    """One map's share of a pool from folders (picklable, for worker processes)."""

    label: str
    folder: Path
    stat: str | None
    groups: tuple[SessionGroup, ...]
    roi: str | tuple[str, ...] | None = None
    segment: int | None = None
    include_bad: bool = False
    dynamics: bool = False


def run_pool_task(task: PoolTask) -> tuple[MapGroupValues | None, MapDynamics | None]:
    """Read one map folder (only what is needed) and compute its group values and dynamics.

    A map that cannot be read comes back left out, with the reason as its problem.
    """
    gs = task.groups
    roi = list(task.roi) if isinstance(task.roi, tuple) else task.roi
    try:
        m = load_map(task.folder, channels=_channels_for(task.stat))
    except MapManagerError as e:
        msg = f"map {task.label} could not be read and is left out: {e}"
        names = tuple(g.name for g in gs)
        empty = tuple(() for _ in gs)
        gv = MapGroupValues(task.label, "", names, empty, np.zeros(0, dtype=np.int64),
                            np.zeros((0, len(gs))), np.zeros((0, len(gs)), dtype=np.int64),
                            (msg,), False)  # fmt: skip
        dy = MapDynamics(task.label, "", names, np.full((len(gs), len(DYNAMICS_MEASURES)), np.nan),
                         (msg,), False)  # fmt: skip
        return (gv if task.stat is not None else None), (dy if task.dynamics else None)
    values: MapGroupValues | None = None
    if task.stat is not None:
        values = group_values(m, task.stat, gs, label=task.label, roi=roi, segment=task.segment,
                              include_bad=task.include_bad)  # fmt: skip
    dyn: MapDynamics | None = None
    if task.dynamics:
        dyn = map_dynamics(m, gs, label=task.label, roi=roi, segment=task.segment,
                          include_bad=task.include_bad)  # fmt: skip
    return values, dyn


def run_pool_tasks(
    tasks: Sequence[PoolTask],
    *,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> list[tuple[MapGroupValues | None, MapDynamics | None]]:
    """:func:`run_pool_task` for every task, in order, in ``workers`` processes.

    Parameters
    ----------
    tasks : sequence of PoolTask
    workers : int
        Processes to use (1: in this process). Each map is independent, so the cold path
        scales with the cores available.
    progress : callable, optional
        Called as ``progress(done, total)`` after each map.
    """
    total = len(tasks)
    out: list[tuple[MapGroupValues | None, MapDynamics | None]] = []
    if workers <= 1 or total < 2:
        for k, t in enumerate(tasks):
            out.append(run_pool_task(t))
            if progress is not None:
                progress(k + 1, total)
        return out
    from concurrent.futures import ProcessPoolExecutor

    chunk = max(1, total // (workers * 8))
    with ProcessPoolExecutor(max_workers=min(workers, total)) as ex:
        for k, r in enumerate(ex.map(run_pool_task, tasks, chunksize=chunk)):
            out.append(r)
            if progress is not None:
                progress(k + 1, total)
    return out


@dataclass(frozen=True)
class HeaderInfo:
    """What a map's header says about pooling: its map condition and sessions."""

    name: str
    map_condition: str
    conditions: tuple[str, ...]
    days: tuple[float, ...]


def header_info(folder: str | Path) -> HeaderInfo:
    """Read only a map's header: map condition, session conditions and days."""
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
    """Map folders at ``paths`` (maps or folders of maps), labelled as :func:`load_maps` does."""
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


def pool_paths(
    paths: Iterable[str | Path] | Mapping[str, str | Path],
    stat: str,
    groups: Iterable[str | SessionGroup] | Mapping[str, str] | None = None,
    *,
    roi: str | Sequence[str] | None = None,
    segment: int | None = None,
    include_bad: bool = False,
    reference: str | None = None,
    mode: Mode | None = None,
    cohorts: bool = True,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> PoolResult:
    """:func:`pool` straight from map folders, reading only what the statistic needs.

    Parameters
    ----------
    paths : paths, or mapping of label -> map folder
        Map folders or folders of maps (labelled as :func:`load_maps` does).
    workers : int
        Processes reading maps (see :func:`run_pool_tasks`).
    progress : callable, optional
        ``progress(done, total)`` after each map.
    stat, groups, roi, segment, include_bad, reference, mode, cohorts
        As for :func:`pool`; default groups come from the maps' headers.

    Returns
    -------
    PoolResult
        The same result :func:`pool` gives for the loaded maps; paths with no map and maps
        that cannot be read are in its warnings.
    """
    if isinstance(paths, Mapping):
        folders = {k: Path(v) for k, v in paths.items()}
        path_warnings: list[str] = []
    else:
        folders, path_warnings = label_folders(paths)
    if groups is None:
        conds = []
        for f in folders.values():
            try:
                conds.append(list(header_info(f).conditions))
            except (MapManagerError, OSError) as e:
                log.debug("no header for default groups in %s: %s", f, e)
        gs = default_groups_for(conds)
    else:
        gs = parse_groups(groups)
    if mode is None:
        mode = "ratio" if reference is not None else "none"
    _check_reference(gs, reference, mode)
    roi_t = tuple(roi) if roi is not None and not isinstance(roi, str) else roi
    tasks = [
        PoolTask(label, f, stat, gs, roi_t, segment, include_bad) for label, f in folders.items()
    ]
    per_map = [
        gv for gv, _ in run_pool_tasks(tasks, workers=workers, progress=progress) if gv is not None
    ]
    res = combine(per_map, gs, stat=stat, reference=reference, mode=mode, cohorts=cohorts)
    if path_warnings:
        res = replace(res, warnings=(*path_warnings, *res.warnings))
    return res
