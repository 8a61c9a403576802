"""Groups: admins create and remove groups and choose their members (maps are shared with groups).

Layout only: ``callbacks.groups`` fills it and does the changes (admins only; a user who
is not an admin sees the groups they are in). The command line does the same:
``mapmanager group add|remove|members``.
"""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from app import ids

__all__ = ["layout"]


def layout(**_: Any) -> html.Div:
    """The page's frame (every control exists before login, so callbacks validate)."""
    create = dbc.InputGroup(
        [
            dbc.Input(id=ids.GROUPS_NEW_NAME, placeholder="new group name", size="sm"),
            dbc.Button("Create group", id=ids.GROUPS_CREATE, size="sm", color="primary"),
        ],
        size="sm",
        className="mb-3",
    )
    member = html.Div(
        className="d-flex gap-2 mb-3",
        children=[
            dcc.Dropdown(id=ids.GROUPS_MEMBER_GROUP, options=[], placeholder="group", className="flex-grow-1"),
            dcc.Dropdown(id=ids.GROUPS_MEMBER_USER, options=[], placeholder="user", className="flex-grow-1"),
            dbc.Button("Add member", id=ids.GROUPS_MEMBER_ADD, size="sm", color="secondary"),
        ],
    )
    return html.Div(
        className="container py-3 pmm-groups",
        children=[
            dcc.Store(id=ids.GROUPS_REFRESH, data=0),
            html.Div(
                className="d-flex align-items-center gap-3 mb-3",
                children=[html.H4("Groups", className="mb-0"), html.Span(id=ids.GROUPS_STATUS, className="small ms-auto")],
            ),
            html.Div(id=ids.GROUPS_NOTICE),
            dbc.Card(
                [
                    dbc.CardHeader(html.H6("Groups and their members", className="mb-0")),
                    dbc.CardBody(
                        [
                            html.Div([create, member], id=ids.GROUPS_FORMS, style={"display": "none"}),
                            html.Div(id=ids.GROUPS_LIST),
                            html.P("Share a map with a group on the My maps page.", className="text-muted small mb-0"),
                        ]
                    ),
                ],
                className="shadow-sm",
            ),
        ],
    )
