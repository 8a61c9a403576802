"""The login page: a plain HTML form posted to ``<prefix>auth/login`` (CSRF token inside).

``/login?next=/my-maps&error=bad``: ``error`` is set by the form's view when it sends the
browser back (``bad`` credentials, ``limit`` too many attempts, ``expired`` form).
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import html

from app import ids
from app.auth.login import csrf_token, safe_next

__all__ = ["MESSAGES", "layout"]

MESSAGES = {
    "bad": "Wrong user name or password.",
    "limit": "Too many attempts from this address: wait a minute and try again.",
    "expired": "The form expired: please try again.",
}


def layout(next: str | None = None, error: str | None = None, **_: Any) -> html.Div:
    """The form (user name, password), a message after a failed attempt."""
    prefix = dash.get_relative_path("/")
    message = MESSAGES.get(error or "")
    return html.Div(
        className="container py-5 pmm-login",
        children=dbc.Card(
            className="mx-auto shadow-sm",
            style={"maxWidth": "380px"},
            children=dbc.CardBody(
                [
                    html.H4("Log in", className="mb-3"),
                    dbc.Alert(message, color="danger", className="py-2", id=ids.LOGIN_MESSAGE)
                    if message
                    else html.Div(id=ids.LOGIN_MESSAGE),
                    html.Form(
                        id=ids.LOGIN_FORM,
                        action=dash.get_relative_path("/auth/login"),
                        method="POST",
                        children=[
                            dbc.Input(type="hidden", name="csrf_token", value=csrf_token()),
                            dbc.Input(type="hidden", name="next", value=safe_next(next, prefix)),
                            dbc.Label("User name", html_for=ids.LOGIN_USERNAME),
                            dbc.Input(id=ids.LOGIN_USERNAME, name="username", autoComplete="username",
                                      autoFocus=True, required=True, className="mb-2"),  # fmt: skip
                            dbc.Label("Password", html_for=ids.LOGIN_PASSWORD),
                            dbc.Input(id=ids.LOGIN_PASSWORD, name="password", type="password",
                                      autoComplete="current-password", required=True, className="mb-3"),  # fmt: skip
                            dbc.Button("Log in", type="submit", color="primary", className="w-100"),
                        ],
                    ),
                    html.P(
                        "Public maps can be browsed without logging in. Accounts are made by an "
                        "admin (mapmanager user add NAME).",
                        className="text-muted small mt-3 mb-0",
                    ),
                ]
            ),
        ),
    )
