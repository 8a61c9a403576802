"""My maps: a user's maps with size, sessions, visibility and sharing; the trash; API tokens.

Rename, make public or private, share with a group (read, or read and edit), delete to the
trash (restorable for 30 days), download as a zip. Layout only: ``callbacks.my_maps``
fills it. The upload widget is upload-api's: it goes in the slot marked below.
"""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from app import ids
from app.components.upload import upload_widget

__all__ = ["layout"]


def _section(title: str, *children: Any, extra: Any = None) -> dbc.Card:
    header = html.Div([html.H6(title, className="mb-0"), extra], className="d-flex align-items-center gap-2")
    return dbc.Card([dbc.CardHeader(header), dbc.CardBody(list(children))], className="mb-3 shadow-sm")


def layout(**_: Any) -> html.Div:
    """The page's frame (every control exists even before login, so callbacks validate)."""
    return html.Div(
        className="container py-3 pmm-mymaps",
        children=[
            dcc.Store(id=ids.MYMAPS_REFRESH, data=0),
            dcc.Store(id=ids.MYMAPS_SELECTED),  # no data (not None: it would "change" when drawn)
            html.Div(
                className="d-flex align-items-center gap-3 mb-3",
                children=[
                    html.H4("My maps", className="mb-0"),
                    dcc.Dropdown(id=ids.MYMAPS_OWNER, options=[], value=None, clearable=False,
                                 placeholder="owner", className="pmm-mymaps-owner"),  # fmt: skip
                    html.Span(id=ids.MYMAPS_STATUS, className="small ms-auto"),
                ],
            ),
            html.Div(id=ids.MYMAPS_NOTICE),
            # ---- UPLOAD-API: the upload widget (resumable, zip or folder) goes in this slot ----
            html.Div(upload_widget(), id=ids.MYMAPS_UPLOAD_SLOT, className="pmm-upload-slot mb-3"),
            dbc.Row(
                [
                    dbc.Col(_section("Maps", dcc.Loading(html.Div(id=ids.MYMAPS_LIST), type="dot",
                                                        delay_show=300)), lg=7),  # fmt: skip
                    dbc.Col(_section("Selected map", _panel()), lg=5),
                ]
            ),
            dbc.Row(
                [
                    dbc.Col(_section("Trash", html.Div(id=ids.MYMAPS_TRASH),
                                     html.P("Deleted maps can be restored for 30 days.",
                                            className="text-muted small mb-0")), lg=5),  # fmt: skip
                    dbc.Col(_section("API tokens", _tokens()), lg=7),
                ]
            ),
        ],
    )


def _panel() -> html.Div:
    return html.Div(
        children=[
            html.Div(html.Div("Choose a map in the list.", className="text-muted small"), id=ids.MYMAPS_PANEL),
            dbc.InputGroup(
                [
                    dbc.Input(id=ids.MYMAPS_RENAME_TEXT, placeholder="new name", size="sm"),
                    dbc.Button("Rename", id=ids.MYMAPS_RENAME, size="sm", color="secondary"),
                ],
                size="sm",
                className="my-2",
            ),
            dbc.Switch(id=ids.MYMAPS_PUBLIC, label="Public (everyone may read it)", value=False),
            html.Div(
                className="d-flex gap-2 my-2",
                children=[
                    dcc.Dropdown(id=ids.MYMAPS_SHARE_GROUP, options=[], placeholder="group",
                                 className="flex-grow-1"),  # fmt: skip
                    dcc.Dropdown(id=ids.MYMAPS_SHARE_LEVEL, value="read", clearable=False,
                                 options=[{"label": "read", "value": "read"},
                                          {"label": "read + edit", "value": "edit"}],
                                 style={"width": "130px"}),  # fmt: skip
                    dbc.Button("Share", id=ids.MYMAPS_SHARE_ADD, size="sm", color="secondary"),
                ],
            ),
            dcc.ConfirmDialogProvider(
                dbc.Button("Delete…", id=ids.MYMAPS_DELETE, size="sm", color="danger", outline=True),
                id=ids.MYMAPS_DELETE_CONFIRM,
                message="Move this map to the trash? You can restore it for 30 days.",
            ),
        ],
    )


def _tokens() -> html.Div:
    return html.Div(
        [
            html.Div(id=ids.MYMAPS_TOKENS),
            html.P(
                "Scripts send a token as 'Authorization: Bearer <token>'. Re-enter your password "
                "to create one; it is shown once.",
                className="text-muted small mb-2",
            ),
            dbc.InputGroup(
                [
                    dbc.Input(id=ids.MYMAPS_TOKEN_LABEL, placeholder="what it is for", size="sm"),
                    dbc.Input(id=ids.MYMAPS_TOKEN_PASSWORD, type="password", placeholder="your password",
                              autoComplete="current-password", size="sm"),  # fmt: skip
                    dbc.Button("Create token", id=ids.MYMAPS_TOKEN_CREATE, size="sm", color="primary"),
                ],
                size="sm",
            ),
            html.Div(id=ids.MYMAPS_TOKEN_NEW, className="mt-2"),
        ]
    )
