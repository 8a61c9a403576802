"""pymapmanager: read, analyse and write Map Manager maps (dendritic spines over time)."""

from .analysis import MapValues, dynamics, dynamics_summary, map_values, statistics
from .errors import InvalidParameterError, MapFormatError, MapManagerError, MapNotFoundError
from .model import Map, Session, load_map

__version__ = "0.1.0"

__all__ = [
    "InvalidParameterError",
    "Map",
    "MapFormatError",
    "MapManagerError",
    "MapNotFoundError",
    "MapValues",
    "Session",
    "__version__",
    "dynamics",
    "dynamics_summary",
    "load_map",
    "map_values",
    "statistics",
]
