"""The navigation bar's user area: Log in, or the user's name, My maps and Log out.

Made with the app's layout (``pages.shell``, so the first page has it without a round trip)
and again by ``callbacks.my_maps`` when the browser moves to another page.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from app.auth import current_identity
from app.auth.login import csrf_token

__all__ = ["nav_user"]


def _url(path: str) -> str:
    return dash.get_relative_path(path)


def nav_user(_pathname: str | None = None) -> Any:
    """The navigation bar's user area for this request's user."""
    ident = current_identity()
    if not ident.authenticated:
        return dcc.Link("Log in", href=_url("/login"), className="nav-link text-light")
    logout = html.Form(
        action=_url("/auth/logout"),
        method="POST",
        className="d-inline",
        children=[
            dbc.Input(type="hidden", name="csrf_token", value=csrf_token()),
            html.Button("Log out", type="submit", className="btn btn-link nav-link text-light p-0"),
        ],
    )
    return html.Div(
        className="d-flex align-items-center gap-3",
        children=[
            dcc.Link("My maps", href=_url("/my-maps"), className="nav-link text-light"),
            dcc.Link("Groups", href=_url("/groups"), className="nav-link text-light") if ident.is_admin else None,
            html.Span(f"{ident.name}{' (admin)' if ident.is_admin else ''}", className="navbar-text small"),
            logout,
        ],
    )
