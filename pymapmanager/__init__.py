"""pymapmanager: read, analyse and write Map Manager maps (dendritic spines over time).

The names most users need are here: :func:`load_map` and :class:`Map`, the analyses
(:func:`map_values`, :func:`dynamics`, :func:`dynamics_summary`, :func:`statistics`,
:func:`measures`), pooling across maps (:func:`pool`, :func:`pool_paths`,
:func:`pooled_dynamics`, :func:`parse_groups`; imported when first used) and the errors.

Examples
--------
>>> import pymapmanager as pmm
>>> from pymapmanager.synthetic import generate_map
>>> m = pmm.load_map(generate_map("maps", sessions=3, channels=1, shape=(4, 32, 32), images=False))
>>> m.num_sessions, [s.condition for s in m.sessions]
(3, ['c', 'e1', 'e2'])
>>> v = pmm.map_values(m, "pDist")
>>> v.values.shape[1]
3
>>> res = pmm.pool_paths(["maps"], "pDist", ["base=c", "after=e*"])
>>> list(res.summary["group"])
['base', 'after']
"""

from typing import TYPE_CHECKING, Any

from .analysis import MapValues, dynamics, dynamics_summary, map_values, measures, statistics
from .errors import InvalidParameterError, MapFormatError, MapManagerError, MapNotFoundError
from .io.folders import is_map_folder
from .model import Map, Session, load_map

if TYPE_CHECKING:
    from .pooling import (
        PoolResult,
        SessionGroup,
        find_maps,
        parse_groups,
        pool,
        pool_paths,
        pooled_dynamics,
    )

__version__ = "0.1.0"

#: pooling names, imported from :mod:`pymapmanager.pooling` when first used
_POOLING = (
    "PoolResult",
    "SessionGroup",
    "find_maps",
    "parse_groups",
    "pool",
    "pool_paths",
    "pooled_dynamics",
)

__all__ = [
    "InvalidParameterError",
    "Map",
    "MapFormatError",
    "MapManagerError",
    "MapNotFoundError",
    "MapValues",
    "PoolResult",
    "Session",
    "SessionGroup",
    "__version__",
    "dynamics",
    "dynamics_summary",
    "find_maps",
    "is_map_folder",
    "load_map",
    "map_values",
    "measures",
    "parse_groups",
    "pool",
    "pool_paths",
    "pooled_dynamics",
    "statistics",
]


def __getattr__(name: str) -> Any:
    """The pooling names, imported on first use (``import pymapmanager`` stays light)."""
    if name in _POOLING:
        from . import pooling

        return getattr(pooling, name)
    raise AttributeError(f"module 'pymapmanager' has no attribute {name!r}")
