"""Pooled dynamics: % added, % subtracted and density per session group, across maps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..analysis import dynamics_summary
from ..errors import MapManagerError
from ..jsonable import json_value
from ..model import Map
from .combining import _order_cohorts, _summarise, cohort_of_condition
from .finding import _labelled
from .groups import SessionGroup, default_groups, parse_groups
from .stage import _group_sessions, _mean_over

__all__ = [
    "DYNAMICS_MEASURES",
    "DynamicsResult",
    "MapDynamics",
    "combine_dynamics",
    "map_dynamics",
    "pooled_dynamics",
    "session_dynamics",
]

#: what :func:`pooled_dynamics` summarises per group
DYNAMICS_MEASURES = ("pct_added", "pct_subtracted", "density")


@dataclass(frozen=True)
class MapDynamics:
    """One map's dynamics per session group (the cacheable first stage of pooled dynamics).

    Parameters
    ----------
    label, map_condition : str
        The map's label in the pool and its ``mapCond``.
    groups : tuple of str
        Group names, in order.
    values : ndarray, shape (groups, 3)
        Mean over each group's sessions of ``pct_added``, ``pct_subtracted``, ``density``
        (:data:`DYNAMICS_MEASURES`); NaN where none.
    problems : tuple of str
        Warnings about this map.
    included : bool
        False when the map contributes nothing and is left out.
    """

    label: str
    map_condition: str
    groups: tuple[str, ...]
    values: np.ndarray
    problems: tuple[str, ...] = ()
    included: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for caches; NaN as None).

        Returns
        -------
        dict
            Read back with :meth:`from_dict`.
        """
        return {
            "label": self.label,
            "map_condition": self.map_condition,
            "groups": list(self.groups),
            "values": [[json_value(v) for v in row] for row in self.values],
            "problems": list(self.problems),
            "included": self.included,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MapDynamics:
        """Inverse of :meth:`to_dict`.

        Parameters
        ----------
        d : mapping
            What :meth:`to_dict` gave.

        Returns
        -------
        MapDynamics
        """
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

    Parameters
    ----------
    m : Map
    roi, segment, include_bad
        As for :func:`~pymapmanager.analysis.map_values`.

    Returns
    -------
    DataFrame
        One row per session.

    Examples
    --------
    >>> from pymapmanager import load_map
    >>> from pymapmanager.synthetic import generate_map
    >>> m = load_map(generate_map("sd", sessions=3, shape=(4, 64, 64), images=False))
    >>> df = session_dynamics(m)
    >>> list(df["session"]), bool(df["pct_added"].isna()[0]), bool((df["density"] > 0).all())
    ([0, 1, 2], True, True)
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
    """One map's % added, % subtracted and density averaged over each group's sessions.

    Parameters
    ----------
    m : Map
    groups : sequence of SessionGroup
    label : str, optional
        The map's label in the pool (default its name).
    roi, segment, include_bad
        As for :func:`~pymapmanager.analysis.map_values`.

    Returns
    -------
    MapDynamics
        Never raises for data problems: a map matching no group or without the segment comes
        back with ``included=False`` and a problem.
    """
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

    Parameters
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
    """Mean, SD, SEM and n across maps per cohort, group and measure.

    Parameters
    ----------
    per_map : sequence of MapDynamics
        From :func:`map_dynamics`, with the same groups.
    groups : sequence of SessionGroup or str
        The groups (or their names), in order.
    cohorts : bool
        Split maps into cohorts by map condition; else one cohort ``all``.

    Returns
    -------
    DynamicsResult
    """
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

    Per map, each measure is averaged over the group's sessions (see :func:`session_dynamics`),
    then summarised across the maps of a cohort.

    Parameters
    ----------
    maps, groups, roi, segment, include_bad, cohorts
        As for :func:`~pymapmanager.pooling.pool`.

    Returns
    -------
    DynamicsResult

    Examples
    --------
    >>> from pymapmanager import load_map
    >>> from pymapmanager.synthetic import generate_map
    >>> maps = [load_map(generate_map("pd", name=f"m{k}", sessions=4, seed=k, shape=(4, 64, 64),
    ...                               images=False)) for k in range(3)]
    >>> res = pooled_dynamics(maps, ["base=c", "after=e*"], cohorts=False)
    >>> res.summary[["group", "measure", "n"]].head(2).to_dict(orient="records")
    [{'group': 'base', 'measure': 'pct_added', 'n': 3}, {'group': 'after', 'measure': 'pct_added', 'n': 3}]
    """
    labelled = _labelled(maps)
    gs = parse_groups(groups) if groups is not None else default_groups(labelled.values())
    per_map = [
        map_dynamics(m, gs, label=label, roi=roi, segment=segment, include_bad=include_bad)
        for label, m in labelled.items()
    ]
    return combine_dynamics(per_map, gs, cohorts=cohorts)

