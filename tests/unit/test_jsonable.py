"""pymapmanager.jsonable.json_value: the exact-type fast path gives what the general rule gives."""

from __future__ import annotations

import enum
import json
import math
from collections import OrderedDict

import numpy as np

from pymapmanager.jsonable import json_value


class Level(enum.IntEnum):
    LOW = 1


class Name(str):
    pass


def test_leaves() -> None:
    assert json_value(1.5) == 1.5
    for missing in (math.nan, math.inf, -math.inf, np.float32("nan"), np.float64("-inf")):
        assert json_value(missing) is None
    assert json_value(True) is True and json_value(np.bool_(False)) is False
    assert type(json_value(np.int64(7))) is int and json_value(np.int64(7)) == 7
    assert type(json_value(np.float32(0.5))) is float
    assert json_value(None) is None and json_value("x") == "x"
    # subclasses take the general path, as before
    assert json_value(Level.LOW) == 1 and type(json_value(Level.LOW)) is int
    assert json_value(Name("a")) == "a"


def test_containers() -> None:
    value = {
        1: [1.0, math.nan, (2, np.inf)],
        "a": {"b": np.array([1.5, np.nan])},
        "c": OrderedDict([(2, np.int32(3))]),
        (1, 2): True,
    }
    got = json_value(value)
    assert got == {"1": [1.0, None, [2, None]], "a": {"b": [1.5, None]}, "c": {"2": 3}, "(1, 2)": True}
    assert type(got["1"][2]) is list
    json.dumps(got, allow_nan=False)  # JSON-ready
