"""Pages: one module per URL, layout only; registered explicitly by the factory."""

from __future__ import annotations

import dash
from dash import html


def register(app: dash.Dash) -> None:
    """Register every page with ``app`` (called by ``create_app``)."""
    dash.register_page("catalog", path="/", name="Maps", layout=lambda **_: html.Div("catalog"))


def shell() -> html.Div:
    """The frame around every page."""
    return html.Div([dash.page_container])
