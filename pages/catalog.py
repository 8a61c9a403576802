"""The catalog: every map with its sessions, dates, conditions, counts and a thumbnail."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from app import ids

__all__ = ["layout"]


def layout(**_: Any) -> html.Div:
    """Filters above a grid of map cards (filled by ``callbacks.catalog``)."""
    return html.Div(
        className="container-fluid pmm-catalog py-3",
        children=[
            html.Div(
                className="d-flex flex-wrap align-items-center gap-2 mb-3",
                children=[
                    html.H4("Maps", className="mb-0 me-3"),
                    dbc.Input(
                        id=ids.CATALOG_TEXT,
                        placeholder="Filter by name…",
                        type="search",
                        debounce=False,
                        size="sm",
                        className="pmm-filter-text",
                    ),
                    dcc.Dropdown(
                        id=ids.CATALOG_CONDITION,
                        placeholder="Session condition…",
                        multi=True,
                        searchable=True,
                        options=[],
                        value=[],
                        className="pmm-filter-condition",
                    ),
                    dcc.Dropdown(
                        id=ids.CATALOG_MAP_CONDITION,
                        placeholder="Map condition…",
                        multi=True,
                        searchable=True,
                        options=[],
                        value=[],
                        className="pmm-filter-condition",
                    ),
                    html.Span(id=ids.CATALOG_COUNT, className="text-muted small ms-auto"),
                ],
            ),
            dcc.Loading(
                html.Div(id=ids.CATALOG_LIST, className="pmm-card-grid"),
                type="dot",
                delay_show=300,
            ),
        ],
    )
