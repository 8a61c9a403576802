"""Query parameters of the API, parsed strictly: a bad value is a 400 naming the parameter."""

from __future__ import annotations

import math

from flask import request

from pymapmanager.errors import InvalidParameterError

__all__ = ["bool_arg", "float_arg", "int_arg", "str_arg"]

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def str_arg(name: str, default: str | None = None, choices: tuple[str, ...] | None = None) -> str | None:
    """A text parameter (empty counts as absent), optionally one of ``choices``."""
    v = request.args.get(name)
    if v is None or v == "":
        return default
    if choices is not None and v not in choices:
        raise InvalidParameterError(f"{name} must be one of {', '.join(choices)}; got '{v}'")
    return v


def int_arg(name: str, default: int | None = None, minimum: int | None = None) -> int | None:
    """An integer parameter (``>= minimum`` when given)."""
    v = request.args.get(name)
    if v is None or v == "":
        return default
    try:
        n = int(v)
    except ValueError:
        raise InvalidParameterError(f"{name} must be an integer, got '{v}'") from None
    if minimum is not None and n < minimum:
        raise InvalidParameterError(f"{name} must be >= {minimum}, got {n}")
    return n


def float_arg(name: str, default: float | None = None) -> float | None:
    """A finite number parameter."""
    v = request.args.get(name)
    if v is None or v == "":
        return default
    try:
        f = float(v)
    except ValueError:
        raise InvalidParameterError(f"{name} must be a number, got '{v}'") from None
    if not math.isfinite(f):
        raise InvalidParameterError(f"{name} must be a finite number, got '{v}'")
    return f


def bool_arg(name: str, default: bool = False) -> bool:
    """A boolean parameter: ``1/true/yes/on`` or ``0/false/no/off``."""
    v = request.args.get(name)
    if v is None:
        return default
    low = v.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise InvalidParameterError(f"{name} must be true or false, got '{v}'")
