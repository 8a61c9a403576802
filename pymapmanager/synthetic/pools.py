"""Demo pools: several generated maps in two cohorts with a planted treatment effect.

:func:`make_pool` writes ``maps_per_cohort`` maps per cohort with
:func:`pymapmanager.synthetic.maps.generate_map`. Every map has the same session conditions
(default :func:`~pymapmanager.synthetic.maps.default_conditions`: the first half ``c``, then
``e1, e2, ...``) and its cohort as map condition (``mapCond``). In the maps of the
treatment cohort the chosen statistic is multiplied by ``factor`` in every session after
the baseline (the sessions whose condition is not ``c``); the control maps are left
alone. Each map has its own seed, so the maps differ in geometry, dynamics and noise.

Pooling such a pool with groups ``baseline=c`` and ``treatment=e*``, normalised to
``baseline`` by ratio, should give a treatment/control ratio of the two cohorts' means
close to ``factor`` (see ``tests/unit/test_demo_pool.py`` for the tolerance).

Example
-------
>>> p = make_pool("pool", maps_per_cohort=4, sessions=6, stat="ubssSum_int2",
...               factor=1.5, seed=0)                                 # doctest: +SKIP
>>> p.groups                                                           # doctest: +SKIP
('baseline=c', 'treatment=e*')
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidParameterError
from .maps import Effect, default_conditions, generate_map

__all__ = ["DemoPool", "make_pool"]

log = logging.getLogger(__name__)

#: the baseline condition of :func:`~pymapmanager.synthetic.maps.default_conditions`
BASELINE_CONDITION = "c"


@dataclass(frozen=True)
class DemoPool:
    """What :func:`make_pool` wrote.

    Parameters
    ----------
    root : Path
        The folder holding the maps.
    maps : dict
        Cohort -> map folders.
    control, treatment : str
        The two cohorts' names (the maps' ``mapCond``).
    effect : Effect
        The effect planted in the treatment maps.
    conditions : tuple of str
        The session conditions of every map.
    baseline_sessions : tuple of int
        Sessions before the treatment (condition ``c``).
    """

    root: Path
    maps: dict[str, list[Path]]
    control: str
    treatment: str
    effect: Effect
    conditions: tuple[str, ...]
    baseline_sessions: tuple[int, ...]

    @property
    def groups(self) -> tuple[str, str]:
        """Session groups that separate baseline and treatment sessions (``NAME=PATTERN``)."""
        return ("baseline=" + BASELINE_CONDITION, "treatment=" + ",".join(self._after_conditions()))

    def _after_conditions(self) -> list[str]:
        out: list[str] = []
        for j in self.effect.sessions:
            c = self.conditions[j]
            if c not in out:
                out.append(c)
        return out

    @property
    def all_maps(self) -> list[Path]:
        """Every map folder (control first)."""
        return [p for c in (self.control, self.treatment) for p in self.maps[c]]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly description.

        Returns
        -------
        dict
            ``root``, ``maps`` (cohort -> folders as text), the cohorts, the effect, the
            conditions, the baseline sessions and the groups.
        """
        return {
            "root": str(self.root),
            "maps": {c: [str(p) for p in ps] for c, ps in self.maps.items()},
            "control": self.control,
            "treatment": self.treatment,
            "effect": {
                "stat": self.effect.stat,
                "factor": self.effect.factor,
                "sessions": list(self.effect.sessions),
            },
            "conditions": list(self.conditions),
            "baseline_sessions": list(self.baseline_sessions),
            "groups": list(self.groups),
        }


def make_pool(
    dest: str | Path,
    *,
    maps_per_cohort: int = 4,
    sessions: int = 6,
    stat: str = "ubssSum_int2",
    factor: float = 1.5,
    seed: int = 0,
    images: bool = False,
    cohorts: tuple[str, str] = ("control", "treatment"),
    conditions: Sequence[str] | None = None,
    channels: int = 2,
    segments: int = 2,
    spines_per_segment: int = 25,
    shape: tuple[int, int, int] = (30, 512, 512),
    prefix: str = "pool",
) -> DemoPool:
    """Write a pool of generated maps: a control and a treatment cohort.

    Parameters
    ----------
    dest : str or Path
        Folder to write the maps into (created when missing); maps are
        ``dest/<prefix>_<cohort>_<k>`` (k = 01, 02, ...).
    maps_per_cohort : int
        Maps in each cohort.
    sessions : int
        Sessions per map (at least 2: a baseline and a treatment session).
    stat : str
        The statistic the treatment changes (any :class:`~pymapmanager.synthetic.maps.Effect` stat).
    factor : float
        The treatment multiplies ``stat`` by ``factor`` after the baseline.
    seed : int
        Map ``k`` (counting over both cohorts) gets seed ``seed * 1000 + k``.
    images : bool
        Also render image stacks (slow; off by default).
    cohorts : (str, str)
        Names of the control and treatment cohorts (written as ``mapCond``).
    conditions : sequence of str, optional
        Session conditions; default :func:`~pymapmanager.synthetic.maps.default_conditions`. The
        baseline is every session whose condition is ``c``; the effect applies to the others.
    channels, segments, spines_per_segment, shape
        Passed to :func:`~pymapmanager.synthetic.maps.generate_map`.
    prefix : str
        First part of every map name.

    Returns
    -------
    DemoPool

    Raises
    ------
    InvalidParameterError
        Fewer than one map per cohort, fewer than 2 sessions, no baseline or no treatment
        session, equal cohort names.

    Examples
    --------
    >>> p = make_pool("demo_pool", maps_per_cohort=2, sessions=4, seed=1)
    >>> sorted(p.maps), [f.name for f in p.maps[p.treatment]], p.groups
    (['control', 'treatment'], ['pool_treatment_01', 'pool_treatment_02'], ('baseline=c', 'treatment=e1,e2'))
    """
    if maps_per_cohort < 1:
        raise InvalidParameterError("a pool needs at least one map per cohort")
    if sessions < 2:
        raise InvalidParameterError("a pool needs at least 2 sessions (baseline and treatment)")
    control, treatment = cohorts
    if control == treatment or not control or not treatment:
        raise InvalidParameterError("the two cohorts need two different, non-empty names")
    conds = tuple(default_conditions(sessions) if conditions is None else conditions)
    if len(conds) != sessions:
        raise InvalidParameterError(f"{len(conds)} conditions given for {sessions} sessions")
    baseline = tuple(j for j, c in enumerate(conds) if c == BASELINE_CONDITION)
    after = tuple(j for j, c in enumerate(conds) if c != BASELINE_CONDITION)
    if not baseline or not after:
        raise InvalidParameterError(
            f"conditions {list(conds)} need baseline sessions ('{BASELINE_CONDITION}') and others"
        )
    effect = Effect(stat, float(factor), after)
    root = Path(dest)
    maps: dict[str, list[Path]] = {control: [], treatment: []}
    k = 0
    for cohort in (control, treatment):
        for i in range(maps_per_cohort):
            path = generate_map(
                root,
                name=f"{prefix}_{cohort}_{i + 1:02d}",
                sessions=sessions,
                channels=channels,
                shape=shape,
                seed=seed * 1000 + k,
                conditions=list(conds),
                map_condition=cohort,
                segments=segments,
                spines_per_segment=spines_per_segment,
                effect=effect if cohort == treatment else None,
                images=images,
            )
            maps[cohort].append(path)
            k += 1
    log.info(
        "wrote a pool of %d maps in %s: %s x%g in sessions %s of cohort %s",
        2 * maps_per_cohort, root, stat, factor, list(after), treatment,
    )  # fmt: skip
    return DemoPool(root, maps, control, treatment, effect, conds, baseline)
