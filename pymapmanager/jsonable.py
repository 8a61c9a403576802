"""Values made JSON-ready: the one NaN -> None rule of the library, the command line and the app.

JSON has no NaN or infinity: a missing number is ``null``. Every place that turns numbers
into JSON (map descriptions, pooled summaries, the command line's ``--json``, the web
app's payloads and figures) uses :func:`json_value`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["json_number", "json_value"]

_finite = math.isfinite


def json_number(value: Any) -> float | None:
    """A number as a float, or None when it is missing (None, NaN or infinite).

    Parameters
    ----------
    value : float, int, numpy scalar or None

    Returns
    -------
    float or None

    Examples
    --------
    >>> json_number(2)
    2.0
    >>> json_number(float("nan")) is None
    True
    >>> json_number(None) is None
    True
    """
    if value is None:
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def json_value(value: Any) -> Any:
    """``value`` made JSON-ready, recursively.

    NaN and infinities become None; numpy scalars become Python numbers (numpy booleans
    ``bool``); numpy arrays, tuples and lists become lists; mappings become dicts with
    string keys. Anything else is returned as it is.

    Parameters
    ----------
    value : any

    Returns
    -------
    any
        The same structure with only JSON-ready leaves (for what it converts).

    Examples
    --------
    >>> json_value({"mean": float("nan"), "n": np.int64(3), "v": np.array([1.5, np.inf])})
    {'mean': None, 'n': 3, 'v': [1.5, None]}
    """
    # the common leaves and containers by exact type first (a map's payloads hold ~10^5
    # of them; the isinstance chain below is the general case)
    t = type(value)
    if t is float:
        return value if _finite(value) else None
    if t is str or t is int or t is bool or value is None:
        return value
    if t is dict:
        return {k if type(k) is str else str(k): json_value(v) for k, v in value.items()}
    if t is list or t is tuple:
        return [json_value(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, np.ndarray):
        return [json_value(v) for v in value.tolist()]
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value
