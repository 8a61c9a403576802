"""The per-map stage of a pool: one map's runs averaged over each session group."""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..analysis import map_values
from ..errors import InvalidParameterError, MapManagerError
from ..model import Map
from .groups import SessionGroup

__all__ = ["MapGroupValues", "group_values"]


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

    Parameters
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

        Returns
        -------
        bytes
            Read back with :meth:`from_bytes`.
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
        """Inverse of :meth:`to_bytes`.

        Parameters
        ----------
        blob : bytes
            What :meth:`to_bytes` gave.

        Returns
        -------
        MapGroupValues

        Raises
        ------
        InvalidParameterError
            ``blob`` is not serialised group values.
        """
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

    Examples
    --------
    >>> from pymapmanager import load_map
    >>> from pymapmanager.pooling import parse_groups
    >>> from pymapmanager.synthetic import generate_map
    >>> m = load_map(generate_map("gv", sessions=4, shape=(4, 64, 64), images=False))
    >>> gv = group_values(m, "pDist", parse_groups(["base=c", "after=e*"]))
    >>> gv.groups, gv.sessions, gv.values.shape[1], gv.included
    (('base', 'after'), ((0, 1), (2, 3)), 2, True)
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

