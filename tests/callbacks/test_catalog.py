"""The catalog page's callback, called as the browser does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app import ids
from pymapmanager import load_map
from tests.callbacks.conftest import DashCaller

OUT = [
    (ids.CATALOG_LIST, "children"),
    (ids.CATALOG_COUNT, "children"),
    (ids.CATALOG_CONDITION, "options"),
    (ids.CATALOG_MAP_CONDITION, "options"),
]
ALL = ["public/big", "public/demo", "public/nine", "public/noimg", "public/notrace"]


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


def _filter(call: DashCaller, text: str | None, conditions: list[str] | None, map_conditions: list[str] | None = None) -> list[Any]:
    return call(
        OUT,
        [
            (ids.CATALOG_TEXT, "value", text),
            (ids.CATALOG_CONDITION, "value", conditions),
            (ids.CATALOG_MAP_CONDITION, "value", map_conditions),
            (ids.LOCATION, "pathname", "/"),
        ],
    )


def test_every_map_with_its_summary(call: DashCaller, data_dir: Path) -> None:
    cards, count, sessions, maps = _filter(call, None, None)
    assert _maps(cards) == ALL
    assert count == "5 maps"
    # session conditions and map conditions are two lists
    assert maps == [{"label": "mc1", "value": "mc1"}]
    assert {"label": "mc1", "value": "mc1"} not in sessions
    every = {c for e in list_maps_of(data_dir) for c in e}
    assert [o["value"] for o in sessions] == sorted(every)
    text = json.dumps(cards)
    # thumbnail only where session 0 has images; links to the viewer
    assert "/api/v1/maps/public/demo/thumbnail?v=" in text
    assert "no images" in text
    assert "/map/public/demo" in text and "/map/public/noimg" in text
    # sessions, dates, conditions, counts
    assert "sessions" in text and "spines" in text and "runs" in text


def test_filter_by_name_any_case(call: DashCaller) -> None:
    cards, count, _, _ = _filter(call, "NOIM", None)
    assert _maps(cards) == ["public/noimg"]
    assert count == "1 of 5 maps"


def test_filter_by_map_condition(call: DashCaller) -> None:
    cards, _, _, _ = _filter(call, "", None, ["mc1"])
    assert _maps(cards) == ["public/demo"]
    # a map condition is not a session condition
    cards, _, _, _ = _filter(call, "", ["mc1"])
    assert "No map matches" in json.dumps(cards)


def test_filter_by_session_condition(call: DashCaller, data_dir: Path) -> None:
    _, _, sessions, _ = _filter(call, None, None)
    cond = sessions[0]["value"]
    have = [f"public/{name}" for name, conds in zip(["big", "demo", "nine", "noimg", "notrace"], list_maps_of(data_dir), strict=True) if cond in conds]
    cards, _, _, _ = _filter(call, "", [cond])
    assert _maps(cards) == have and have


def test_nothing_matches(call: DashCaller) -> None:
    cards, count, _, _ = _filter(call, "zzz", None)
    assert "No map matches" in json.dumps(cards)
    assert count == "0 of 5 maps"


def list_maps_of(root: Path) -> list[set[str]]:
    """The session conditions of every test map, in catalog order (from the files)."""
    out = []
    for name in ["big", "demo", "nine", "noimg", "notrace"]:
        m = load_map(root / "public" / name)
        out.append({s.condition for s in m.sessions if s.condition})
    return out
