"""Callbacks of the catalog page."""

from __future__ import annotations

import logging
from typing import Any

import dash
from dash import Input, Output, html

from app import ids
from app.components.catalog import conditions_of, map_card, matches
from app.services.catalog import list_maps

__all__ = ["filter_catalog", "register"]

log = logging.getLogger(__name__)


def filter_catalog(
    text: str | None, conditions: list[str] | None, pathname: str | None
) -> tuple[list[Any], str, list[dict[str, str]]]:
    """The cards of the maps that pass the filters, a count, and every condition to filter by."""
    entries = list_maps()
    every: list[str] = []
    for e in entries:
        for c in conditions_of(e):
            if c not in every:
                every.append(c)
    shown = [e for e in entries if matches(e, text or "", conditions or [])]
    cards: list[Any] = [map_card(e) for e in shown]
    if not entries:
        cards = [html.Div("No maps yet. Put map folders under DATA_DIR/public/.", className="text-muted")]
    elif not shown:
        cards = [html.Div("No map matches the filters.", className="text-muted")]
    count = f"{len(shown)} of {len(entries)} maps" if len(shown) != len(entries) else f"{len(entries)} maps"
    options = [{"label": c, "value": c} for c in sorted(every)]
    return cards, count, options


def register(app: dash.Dash) -> None:
    """Bind the catalog's callbacks to ``app``."""
    app.callback(
        Output(ids.CATALOG_LIST, "children"),
        Output(ids.CATALOG_COUNT, "children"),
        Output(ids.CATALOG_CONDITION, "options"),
        Input(ids.CATALOG_TEXT, "value"),
        Input(ids.CATALOG_CONDITION, "value"),
        Input(ids.LOCATION, "pathname"),
    )(filter_catalog)
