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

The package's modules, one job each: :mod:`~pymapmanager.pooling.groups` (session-group
patterns), :mod:`~pymapmanager.pooling.finding` (finding maps, labels, headers),
:mod:`~pymapmanager.pooling.stage` (the per-map stage),
:mod:`~pymapmanager.pooling.combining` (combining and export),
:mod:`~pymapmanager.pooling.dynamics` (pooled dynamics) and
:mod:`~pymapmanager.pooling.workers` (the worker pipeline from folders).
"""

from .combining import (
    ALL_COHORT,
    NO_COHORT,
    NORMALIZE_MODES,
    SUMMARY_COLUMNS,
    TIDY_COLUMNS,
    Mode,
    PoolResult,
    cohort_of,
    cohort_of_condition,
    combine,
    default_mode,
    frame_csv,
    normalize_values,
    pool,
)
from .dynamics import (
    DYNAMICS_MEASURES,
    DynamicsResult,
    MapDynamics,
    combine_dynamics,
    map_dynamics,
    pooled_dynamics,
    session_dynamics,
)
from .finding import HeaderInfo, find_maps, header_info, label_folders, load_maps
from .groups import (
    GroupCheck,
    SessionGroup,
    check_groups,
    default_groups,
    default_groups_for,
    is_default_group,
    parse_group,
    parse_groups,
)
from .stage import MapGroupValues, group_values
from .workers import PoolTask, pool_paths, run_pool_task, run_pool_tasks

__all__ = [
    "ALL_COHORT",
    "DYNAMICS_MEASURES",
    "NORMALIZE_MODES",
    "NO_COHORT",
    "SUMMARY_COLUMNS",
    "TIDY_COLUMNS",
    "DynamicsResult",
    "GroupCheck",
    "HeaderInfo",
    "MapDynamics",
    "MapGroupValues",
    "Mode",
    "PoolResult",
    "PoolTask",
    "SessionGroup",
    "check_groups",
    "cohort_of",
    "cohort_of_condition",
    "combine",
    "combine_dynamics",
    "default_groups",
    "default_groups_for",
    "default_mode",
    "find_maps",
    "frame_csv",
    "group_values",
    "header_info",
    "is_default_group",
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
