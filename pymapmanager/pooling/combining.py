"""Combining and export: normalise, stack and summarise per-map group values; CSV."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import InvalidParameterError
from ..jsonable import json_value
from ..model import Map
from .finding import _labelled
from .groups import SessionGroup, default_groups, parse_groups
from .stage import MapGroupValues, group_values

__all__ = [
    "ALL_COHORT",
    "NORMALIZE_MODES",
    "NO_COHORT",
    "SUMMARY_COLUMNS",
    "TIDY_COLUMNS",
    "Mode",
    "PoolResult",
    "cohort_of",
    "cohort_of_condition",
    "combine",
    "default_mode",
    "frame_csv",
    "normalize_values",
    "pool",
]

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


def default_mode(reference: str | None, mode: Mode | None = None) -> Mode:
    """The normalisation to use: ``mode`` when given, else ``"ratio"`` with a reference.

    The one rule for the library, the command line and the page.

    Parameters
    ----------
    reference : str or None
        The reference group's name (None or empty: no reference).
    mode : {"none", "ratio", "percent", "difference"}, optional
        The mode asked for, if any.

    Returns
    -------
    str
        ``mode`` if given; else ``"ratio"`` when there is a reference, ``"none"`` without.

    Examples
    --------
    >>> default_mode("baseline")
    'ratio'
    >>> default_mode(None)
    'none'
    >>> default_mode("baseline", "percent")
    'percent'
    """
    if mode is not None:
        return mode
    return "ratio" if reference else "none"


def cohort_of_condition(map_condition: str, cohorts: bool = True) -> str:
    """The cohort of a map with this map condition (``mapCond``): the one cohort rule.

    Parameters
    ----------
    map_condition : str
        The map's ``mapCond`` (may be empty).
    cohorts : bool
        Whether maps are split into cohorts at all.

    Returns
    -------
    str
        The map condition; :data:`NO_COHORT` when it is empty; :data:`ALL_COHORT` when
        cohorts are off.

    Examples
    --------
    >>> cohort_of_condition("ctrl")
    'ctrl'
    >>> cohort_of_condition("")
    '(none)'
    >>> cohort_of_condition("ctrl", cohorts=False)
    'all'
    """
    if not cohorts:
        return ALL_COHORT
    return map_condition or NO_COHORT


def cohort_of(m: Map, cohorts: bool = True) -> str:
    """The cohort of a map (:func:`cohort_of_condition` of its ``mapCond``).

    Parameters
    ----------
    m : Map
    cohorts : bool
        Whether maps are split into cohorts at all.

    Returns
    -------
    str
        See :func:`cohort_of_condition`.
    """
    return cohort_of_condition(m.map_condition, cohorts)


def normalize_values(
    values: np.ndarray, ref: np.ndarray, mode: Mode
) -> tuple[np.ndarray, np.ndarray]:
    """Normalise rows of ``values`` to each row's reference value.

    Parameters
    ----------
    values : ndarray, shape (runs, groups)
    ref : ndarray, shape (runs,)
        Each run's value in the reference group.
    mode : {"none", "ratio", "percent", "difference"}

    Returns
    -------
    normalised : ndarray, shape (runs, groups)
    valid : ndarray of bool, shape (runs,)
        Rows with a usable reference (not NaN; not 0 for ratio and percent). Other rows of
        ``normalised`` are NaN.

    Raises
    ------
    InvalidParameterError
        An unknown mode.

    Examples
    --------
    >>> import numpy as np
    >>> v = np.array([[2.0, 3.0], [0.0, 1.0]])
    >>> out, ok = normalize_values(v, v[:, 0], "percent")
    >>> out[0].tolist(), ok.tolist()
    ([0.0, 50.0], [True, False])
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
    """A DataFrame as CSV: exact floats (``repr``), empty cells for NaN, ``\\n`` line ends.

    Parameters
    ----------
    df : DataFrame
    columns : sequence of str, optional
        The columns to write, in order (default all).

    Returns
    -------
    str

    Examples
    --------
    >>> import pandas as pd
    >>> print(frame_csv(pd.DataFrame({"g": ["a", "b,c"], "v": [0.1, float("nan")], "n": [3, 0]})), end="")
    g,v,n
    a,0.1,3
    "b,c",,0
    """
    cols = list(columns) if columns is not None else list(df.columns)
    lines = [",".join(cols)]
    arrays = [df[c].to_numpy() for c in cols]
    for i in range(len(df)):
        lines.append(",".join(_fmt(a[i]) for a in arrays))
    return "\n".join(lines) + "\n"


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

    Parameters
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
        """The summary as CSV with exactly the columns ``cohort,group,mean,sd,sem,n``.

        Returns
        -------
        str
            See :func:`frame_csv`.
        """
        return frame_csv(self.summary, SUMMARY_COLUMNS)

    def tidy_csv(self) -> str:
        """The tidy table as CSV (``map,run,cohort,group,value,raw,n_sessions``).

        Returns
        -------
        str
            See :func:`frame_csv`.
        """
        return frame_csv(self.tidy, TIDY_COLUMNS)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly description (summary records; the tidy table is not included).

        Returns
        -------
        dict
            ``stat, groups, cohorts, mode, reference, maps, left_out, dropped, warnings, notes,
            summary``; NaN as None.
        """
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
                {k: json_value(v) for k, v in rec.items()}
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


@dataclass
class _Stacked:
    """Every pooled value of the maps used, as parallel arrays (one entry per value)."""

    unit: np.ndarray  # index of the map in the maps used
    cohort: np.ndarray  # index into the cohorts
    run: np.ndarray
    group: np.ndarray  # index into the groups
    value: np.ndarray  # normalised
    raw: np.ndarray
    n: np.ndarray  # sessions averaged
    dropped: dict[str, int]  # map label -> runs dropped for lacking the reference value
    total_runs: int
    warnings: list[str]


def _stack(
    used: Sequence[MapGroupValues],
    cohort_index: Mapping[str, int],
    cohorts: bool,
    mode: Mode,
    reference: str | None,
    ref_k: int | None,
) -> _Stacked:
    """Normalise each map's runs to the reference group and stack every value."""
    dropped: dict[str, int] = {}
    warnings: list[str] = []
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
        ri, gi = np.nonzero(~np.isnan(normed))
        c = cohort_index[cohort_of_condition(p.map_condition, cohorts)]
        cols["unit"].append(np.full(ri.size, u, dtype=np.int64))
        cols["cohort"].append(np.full(ri.size, c, dtype=np.int64))
        cols["run"].append(runs[ri])
        cols["group"].append(gi.astype(np.int64))
        cols["value"].append(normed[ri, gi])
        cols["raw"].append(raw[ri, gi])
        cols["n"].append(cnt[ri, gi])
    cat = {
        k: (
            np.concatenate(v)
            if v
            else np.zeros(0, dtype=np.float64 if k in ("value", "raw") else np.int64)
        )
        for k, v in cols.items()
    }
    return _Stacked(
        unit=cat["unit"], cohort=cat["cohort"], run=cat["run"].astype(np.int64),
        group=cat["group"], value=cat["value"].astype(np.float64),
        raw=cat["raw"].astype(np.float64), n=cat["n"].astype(np.int64),
        dropped=dropped, total_runs=total_runs, warnings=warnings,
    )  # fmt: skip


def _tidy(st: _Stacked, labels: list[str], cohorts: Sequence[str], groups: Sequence[str]) -> pd.DataFrame:
    """The tidy table (:data:`TIDY_COLUMNS`) of stacked values."""
    return pd.DataFrame(
        {
            "map": _categorical(st.unit, labels),
            "run": st.run,
            "cohort": _categorical(st.cohort, list(cohorts)),
            "group": _categorical(st.group, list(groups)),
            "value": st.value,
            "raw": st.raw,
            "n_sessions": st.n,
        }
    )


def _dropped_note(st: _Stacked, mode: Mode, reference: str | None) -> list[str]:
    """How many runs normalisation dropped, per map (at most 8 named)."""
    if not st.dropped:
        return []
    why = "no value" if mode == "difference" else "no (or a zero) value"
    items = list(st.dropped.items())
    per = ", ".join(f"{k} {v}" for k, v in items[:8])
    if len(items) > 8:
        per += f", and {len(items) - 8} more maps (see dropped)"
    return [
        f"{sum(st.dropped.values())} of {st.total_runs} runs dropped for {why} in the reference "
        f"group '{reference}' ({per})"
    ]


def _outcome_warnings(
    stat: str, used: Sequence[MapGroupValues], tidy: pd.DataFrame,
    cohort_names: Sequence[str], normalised: bool,
) -> list[str]:  # fmt: skip
    """Warnings about the pool as a whole: nothing pooled, no value, an emptied cohort."""
    out = []
    if not used:
        out.append(f"no map could be pooled for '{stat}'" if stat else "no map could be pooled")
    elif not len(tidy):
        out.append("no run has a value in any group")
    if normalised:
        present = set(tidy["cohort"].unique())
        out.extend(
            f"cohort {c}: every run was dropped (no reference value)"
            for c in cohort_names
            if c not in present
        )
    return out


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
        From :func:`~pymapmanager.pooling.stage.group_values`, computed with the same ``groups``.
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

    Raises
    ------
    InvalidParameterError
        Unknown mode or reference group, or group values computed for other groups.

    Examples
    --------
    >>> import numpy as np
    >>> from pymapmanager.pooling import MapGroupValues, SessionGroup
    >>> gs = (SessionGroup("base", "c"), SessionGroup("late", "e*"))
    >>> gv = MapGroupValues("m1", "ctrl", ("base", "late"), ((0,), (1, 2)), np.array([0, 1]),
    ...                     np.array([[2.0, 3.0], [4.0, 2.0]]), np.array([[1, 2], [1, 2]]))
    >>> res = combine([gv], gs, stat="x", reference="base", mode="ratio")
    >>> res.summary[["cohort", "group", "mean", "n"]].to_dict(orient="records")
    [{'cohort': 'ctrl', 'group': 'base', 'mean': 1.0, 'n': 2}, {'cohort': 'ctrl', 'group': 'late', 'mean': 1.0, 'n': 2}]
    """
    groups = tuple(groups)
    mode, reference, ref_k = _check_reference(groups, reference, mode)
    names = tuple(g.name for g in groups)
    for p in per_map:
        if p.groups != names:
            raise InvalidParameterError(
                f"map {p.label}: its group values are for groups {p.groups}, not {names}"
            )
    used = [p for p in per_map if p.included]
    cohort_names = _order_cohorts(cohort_of_condition(p.map_condition, cohorts) for p in used) or (
        (ALL_COHORT,) if not cohorts else ()
    )
    st = _stack(used, {c: i for i, c in enumerate(cohort_names)}, cohorts, mode, reference, ref_k)
    tidy = _tidy(st, [p.label for p in used], cohort_names, names)
    summary = _summarise(st.cohort, st.group, st.value, st.unit, cohort_names, names)
    warnings = [w for p in per_map for w in p.problems]
    warnings.extend(_group_problems(per_map, groups)[0])
    warnings.extend(st.warnings)
    warnings.extend(
        _outcome_warnings(stat, used, tidy, cohort_names, bool(groups) and ref_k is not None)
    )
    return PoolResult(
        stat=stat,
        groups=groups,
        cohorts=cohort_names,
        mode=mode,
        reference=reference,
        tidy=tidy,
        summary=summary,
        maps=tuple(p.label for p in used),
        left_out=tuple(p.label for p in per_map if not p.included),
        dropped=st.dropped,
        warnings=tuple(warnings),
        notes=tuple(_dropped_note(st, mode, reference)),
    )


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

    Examples
    --------
    >>> from pymapmanager import load_map
    >>> from pymapmanager.synthetic import generate_map
    >>> maps = [load_map(generate_map("pl", name=f"m{k}", sessions=4, seed=k, shape=(4, 64, 64),
    ...                               images=False, map_condition=c)) for k, c in enumerate("aab")]
    >>> res = pool(maps, "pDist", ["base=c", "after=e*"], reference="base")
    >>> res.mode, res.cohorts, res.summary[["cohort", "group", "n_maps"]].values.tolist()
    ('ratio', ('a', 'b'), [['a', 'base', 2], ['a', 'after', 2], ['b', 'base', 1], ['b', 'after', 1]])
    """
    labelled = _labelled(maps)
    gs = parse_groups(groups) if groups is not None else default_groups(labelled.values())
    mode = default_mode(reference, mode)
    _check_reference(gs, reference, mode)
    per_map = [
        group_values(m, stat, gs, label=label, roi=roi, segment=segment, include_bad=include_bad)
        for label, m in labelled.items()
    ]
    return combine(per_map, gs, stat=stat, reference=reference, mode=mode, cohorts=cohorts)

