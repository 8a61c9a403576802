"""The catalog page's callback, called as the browser does."""

from __future__ import annotations

import json
from typing import Any

from app import ids
from tests.callbacks.conftest import DashCaller

OUT = [(ids.CATALOG_LIST, "children"), (ids.CATALOG_COUNT, "children"), (ids.CATALOG_CONDITION, "options")]


def _maps(cards: Any) -> list[str]:
    """The ``data-map`` of every card in the callback's children."""
    text = json.dumps(cards)
    found = []
    for c in cards:
        props = c.get("props", {}) if isinstance(c, dict) else {}
        if "data-map" in props:
            found.append(props["data-map"])
    assert found or "No map" in text
    return found


def _filter(call: DashCaller, text: str | None, conditions: list[str] | None) -> list[Any]:
    return call(OUT, [(ids.CATALOG_TEXT, "value", text), (ids.CATALOG_CONDITION, "value", conditions), (ids.LOCATION, "pathname", "/")])


def test_every_map_with_its_summary(call: DashCaller) -> None:
    cards, count, options = _filter(call, None, None)
    assert _maps(cards) == ["public/big", "public/demo", "public/noimg"]
    assert count == "3 maps"
    assert {"label": "mc1", "value": "mc1"} in options
    text = json.dumps(cards)
    # thumbnail only where session 0 has images; links to the viewer
    assert "/api/v1/maps/public/demo/thumbnail?v=" in text
    assert "no images" in text
    assert "/map/public/demo" in text and "/map/public/noimg" in text
    # sessions, dates, conditions, counts
    assert "sessions" in text and "spines" in text and "runs" in text


def test_filter_by_name_any_case(call: DashCaller) -> None:
    cards, count, _ = _filter(call, "NOIM", None)
    assert _maps(cards) == ["public/noimg"]
    assert count == "1 of 3 maps"


def test_filter_by_condition(call: DashCaller) -> None:
    cards, _, _ = _filter(call, "", ["mc1"])
    assert _maps(cards) == ["public/demo"]


def test_nothing_matches(call: DashCaller) -> None:
    cards, count, _ = _filter(call, "zzz", None)
    assert "No map matches" in json.dumps(cards)
    assert count == "0 of 3 maps"
