"""Callbacks of the catalog page."""

from __future__ import annotations

import logging
from typing import Any

import dash
from dash import Input, Output, html

from app import ids
from app.components.catalog import map_card, matches, session_conditions_of
from app.services.catalog import list_maps

__all__ = ["filter_catalog", "register"]

log = logging.getLogger(__name__)


def filter_catalog(
    text: str | None,
    conditions: list[str] | None,
    map_conditions: list[str] | None,
    pathname: str | None,
) -> tuple[list[Any], str, list[dict[str, str]], list[dict[str, str]]]:
    """The cards of the maps that pass the filters, a count, and the session conditions and
    map conditions to filter by (two lists: a session condition is not a map condition)."""
    entries = list_maps()
    sessions: list[str] = []
    maps: list[str] = []
    for e in entries:
        for c in session_conditions_of(e):
            if c not in sessions:
                sessions.append(c)
        mc = e.get("map_condition") or ""
        if mc and mc not in maps:
            maps.append(mc)
    shown = [e for e in entries if matches(e, text or "", conditions or [], map_conditions or [])]
    cards: list[Any] = [map_card(e) for e in shown]
    if not entries:
        cards = [html.Div("No maps yet. Put map folders under DATA_DIR/public/.", className="text-muted")]
    elif not shown:
        cards = [html.Div("No map matches the filters.", className="text-muted")]
    count = f"{len(shown)} of {len(entries)} maps" if len(shown) != len(entries) else f"{len(entries)} maps"
    return (
        cards,
        count,
        [{"label": c, "value": c} for c in sorted(sessions)],
        [{"label": c, "value": c} for c in sorted(maps)],
    )


def register(app: dash.Dash) -> None:
    """Bind the catalog's callbacks to ``app``."""
    app.callback(
        Output(ids.CATALOG_LIST, "children"),
        Output(ids.CATALOG_COUNT, "children"),
        Output(ids.CATALOG_CONDITION, "options"),
        Output(ids.CATALOG_MAP_CONDITION, "options"),
        Input(ids.CATALOG_TEXT, "value"),
        Input(ids.CATALOG_CONDITION, "value"),
        Input(ids.CATALOG_MAP_CONDITION, "value"),
        Input(ids.LOCATION, "pathname"),
    )(filter_catalog)
