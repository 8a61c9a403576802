"""The worker pipeline: pooling straight from map folders, one task per map, in processes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import MapManagerError
from ..model import load_map
from .combining import Mode, PoolResult, _check_reference, combine, default_mode
from .dynamics import DYNAMICS_MEASURES, MapDynamics, map_dynamics
from .finding import header_info, label_folders
from .groups import SessionGroup, default_groups_for, parse_groups
from .stage import MapGroupValues, group_values

__all__ = ["PoolTask", "pool_paths", "run_pool_task", "run_pool_tasks"]

log = logging.getLogger(__name__)

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
    """One map's share of a pool from folders (picklable, for worker processes).

    Parameters
    ----------
    label : str
        The map's label in the pool.
    folder : Path
        The map folder.
    stat : str or None
        The statistic to pool (None: dynamics only).
    groups : tuple of SessionGroup
        The session groups.
    roi : str or tuple of str, optional
        ROI types (default: the map's default).
    segment : int, optional
        One map segment (default: all).
    include_bad : bool
        Keep objects marked bad.
    dynamics : bool
        Also compute the map's dynamics per group.
    """

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

    Parameters
    ----------
    task : PoolTask

    Returns
    -------
    values : MapGroupValues or None
        None when the task has no statistic.
    dynamics : MapDynamics or None
        None unless the task asks for dynamics. A map that cannot be read comes back left
        out, with the reason as its problem.
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
        scales with the cores available. A daemonic process (a Celery or multiprocessing
        pool's worker) may not start processes: there the tasks run in this process.
    progress : callable, optional
        Called as ``progress(done, total)`` after each map.

    Returns
    -------
    list of (MapGroupValues or None, MapDynamics or None)
        One per task, in order.
    """
    total = len(tasks)
    out: list[tuple[MapGroupValues | None, MapDynamics | None]] = []
    import multiprocessing

    if workers <= 1 or total < 2 or multiprocessing.current_process().daemon:
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

    Examples
    --------
    >>> from pymapmanager.synthetic import make_pool
    >>> demo = make_pool("pp", maps_per_cohort=2, sessions=4, seed=2)
    >>> res = pool_paths(["pp"], "ubssSum_int2", demo.groups, reference="baseline")
    >>> res.maps
    ('pool_control_01', 'pool_control_02', 'pool_treatment_01', 'pool_treatment_02')
    >>> s = res.summary.set_index(["cohort", "group"])["mean"]
    >>> bool(1.3 < s["treatment", "treatment"] / s["control", "treatment"] < 1.7)
    True
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
    mode = default_mode(reference, mode)
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
