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
    mode = default_mode(reference, mode)
    _check_reference(gs, reference, mode)
    per_map = [
        group_values(m, stat, gs, label=label, roi=roi, segment=segment, include_bad=include_bad)
        for label, m in labelled.items()
    ]
    return combine(per_map, gs, stat=stat, reference=reference, mode=mode, cohorts=cohorts)

