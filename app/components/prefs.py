"""Display preferences: read from the request's cookie, and the controls that edit them."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html
from flask import has_request_context, request

from .. import ids
from ..state import PREFS_COOKIE, DisplayPrefs

__all__ = ["prefs_panel", "request_prefs"]


def request_prefs() -> DisplayPrefs:
    """The preferences in the current request's cookie (defaults outside a request)."""
    if not has_request_context():
        return DisplayPrefs()
    return DisplayPrefs.from_cookie(request.cookies.get(PREFS_COOKIE))


def prefs_panel(prefs: DisplayPrefs) -> html.Div:
    """The "Display" popover: marker sizes, default channel, session labels."""
    body = html.Div(
        className="pmm-prefs",
        children=[
            dbc.Label("Spine marker size", html_for=ids.PREF_SPINE_SIZE, className="small mb-0"),
            dcc.Slider(
                id=ids.PREF_SPINE_SIZE, min=2, max=16, step=1, value=prefs.spine_size,
                marks={2: "2", 6: "6", 10: "10", 16: "16"}, updatemode="drag",
            ),  # fmt: skip
            dbc.Label("Plot marker size", html_for=ids.PREF_PLOT_SIZE, className="small mb-0 mt-2"),
            dcc.Slider(
                id=ids.PREF_PLOT_SIZE, min=2, max=16, step=1, value=prefs.plot_size,
                marks={2: "2", 7: "7", 12: "12", 16: "16"},
            ),  # fmt: skip
            dbc.Label("Default channel", html_for=ids.PREF_DEFAULT_CHANNEL, className="small mb-0 mt-2"),
            dbc.Select(
                id=ids.PREF_DEFAULT_CHANNEL,
                value=str(prefs.default_channel),
                options=[{"label": "the map's default", "value": "0"}]
                + [{"label": f"channel {c}", "value": str(c)} for c in (1, 2, 3)],
                size="sm",
            ),
            dbc.Label("Session labels", html_for=ids.PREF_LABEL_MODE, className="small mb-0 mt-2"),
            dbc.Select(
                id=ids.PREF_LABEL_MODE,
                value=prefs.label_mode,
                options=[
                    {"label": "index", "value": "index"},
                    {"label": "date", "value": "date"},
                    {"label": "condition", "value": "condition"},
                    {"label": "original file name", "value": "file"},
                ],
                size="sm",
            ),
            html.Div("Kept in a cookie in this browser.", className="text-muted small mt-2"),
        ],
    )
    return html.Div(
        [
            dbc.Button("Display ▾", id=ids.PREFS_OPEN, color="secondary", outline=True, size="sm"),
            dbc.Popover(
                dbc.PopoverBody(body),
                id=ids.PREFS_PANEL,
                target=ids.PREFS_OPEN,
                trigger="legacy",
                placement="bottom-end",
            ),
        ]
    )
