"""The page shown for an unknown URL."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

__all__ = ["layout"]


def layout(**_: Any) -> html.Div:
    """A short message and a way back to the catalog."""
    return html.Div(
        className="container py-5",
        children=[
            html.H3("Page not found"),
            html.P("There is no page at this address."),
            dcc.Link("Back to the maps", href=dash.get_relative_path("/")),
        ],
    )
