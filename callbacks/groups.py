"""Callbacks of the Groups page: admins create and remove groups and choose their members.

Every change checks that the request is an admin's (Dash callbacks are POSTs: the
``Origin`` check of :mod:`app.auth.login` refuses them from another site, as for every
other form of the app). A refused or failed change is a message, never a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from app import ids
from app.auth import AccessDeniedError, Identity, current_identity, require_login
from app.auth import users as accounts
from app.db import session
from pymapmanager.errors import MapManagerError

__all__ = ["act", "register", "render"]

log = logging.getLogger(__name__)


def _require_admin() -> Identity:
    ident = require_login()
    if not ident.is_admin:
        raise AccessDeniedError("only admins manage groups")
    return ident


def _groups_table(groups: list[tuple[str, list[str]]], editable: bool) -> Any:
    if not groups:
        return html.Div("No groups yet.", className="text-muted small")
    rows = []
    for name, members in groups:
        people: list[Any] = []
        for m in members:
            people.append(html.Span(
                [m, dbc.Button("×", id=ids.groups_remove_member(f"{name}/{m}"), size="sm", color="link",
                               className="p-0 ms-1", title=f"take {m} out of {name}")] if editable else [m],
                className="badge text-bg-light border me-1 pmm-groups-member",
            ))  # fmt: skip
        rows.append(
            html.Tr(
                [
                    html.Td(html.Strong(name)),
                    html.Td(people or html.Span("no members", className="text-muted small")),
                    html.Td(dbc.Button("Remove group", id=ids.groups_delete(name), size="sm", color="link",
                                       className="p-0 text-danger") if editable else ""),  # fmt: skip
                ],
                className="pmm-groups-row",
                title=name,
            )
        )
    head = html.Thead(html.Tr([html.Th("Group"), html.Th("Members"), html.Th("")]))
    return dbc.Table([head, html.Tbody(rows)], size="sm", className="mb-2 pmm-groups-table")


def render(_refresh: Any, _pathname: str | None) -> tuple[Any, Any, Any, Any, Any]:
    """The groups with their members, the choices of the member form, a notice, the forms' visibility."""
    ident = current_identity()
    hide = {"display": "none"}
    if not ident.authenticated:
        notice = dbc.Alert(["Log in to see your groups. ",
                            dcc.Link("Log in", href=dash.get_relative_path("/login?next=/groups"))],
                           color="info")  # fmt: skip
        return [], [], [], notice, hide
    db = session()
    try:
        if not ident.is_admin:
            assert ident.user_id is not None
            mine = set(accounts.group_names_of(db, ident.user_id))
            groups = [(g.name, members) for g, members in accounts.list_groups(db) if g.name in mine]
            notice = dbc.Alert("Only admins create groups and choose their members; these are your groups.",
                               color="secondary", className="py-2")  # fmt: skip
            return _groups_table(groups, False), [], [], notice, hide
        groups = [(g.name, members) for g, members in accounts.list_groups(db)]
        users = [u.name for u in accounts.list_users(db)]
    except MapManagerError as e:
        return [], [], [], dbc.Alert(str(e), color="warning"), hide
    return (
        _groups_table(groups, True),
        [{"label": g, "value": g} for g, _ in groups],
        [{"label": u, "value": u} for u in users],
        None,
        {},
    )


def _ok(text: str) -> html.Span:
    return html.Span(text, className="text-success")


def _bad(text: str) -> html.Span:
    return html.Span(text, className="text-danger")


def act(
    _create: Any, _add: Any, _remove: list[Any], _delete: list[Any],
    new_name: str | None, group: str | None, user: str | None, refresh: int | None,
) -> tuple[Any, Any, Any]:  # fmt: skip
    """Do the change asked for; (status message, refresh counter, the new-name field)."""
    trig = ctx.triggered_id
    value = ctx.triggered[0].get("value") if ctx.triggered else None
    if trig is None or not value:
        return no_update, no_update, no_update
    bump = (refresh or 0) + 1
    db = session()
    try:
        ident = _require_admin()
        if trig == ids.GROUPS_CREATE:
            name = (new_name or "").strip().lower()
            accounts.create_group(db, name)
            db.commit()
            log.info("%s created group %s", ident.name, name)
            return _ok(f"group {name} created"), bump, ""
        if trig == ids.GROUPS_MEMBER_ADD:
            if not group or not user:
                return _bad("choose a group and a user"), no_update, no_update
            accounts.add_member(db, group, user)
            db.commit()
            log.info("%s put %s in group %s", ident.name, user, group)
            return _ok(f"{user} is in {group}"), bump, no_update
        if isinstance(trig, dict) and trig.get("type") == ids.GROUPS_REMOVE_MEMBER:
            g, _, u = str(trig.get("index")).partition("/")
            accounts.remove_member(db, g, u)
            db.commit()
            log.info("%s took %s out of group %s", ident.name, u, g)
            return _ok(f"{u} is no longer in {g}"), bump, no_update
        if isinstance(trig, dict) and trig.get("type") == ids.GROUPS_DELETE:
            g = str(trig.get("index"))
            accounts.remove_group(db, g)
            db.commit()
            log.info("%s removed group %s", ident.name, g)
            return _ok(f"group {g} removed (maps shared with it are no longer shared)"), bump, no_update
    except MapManagerError as e:
        db.rollback()
        return _bad(str(e)), no_update, no_update
    return no_update, no_update, no_update


def register(app: dash.Dash) -> None:
    """Bind the Groups page's callbacks."""
    app.callback(
        Output(ids.GROUPS_LIST, "children"),
        Output(ids.GROUPS_MEMBER_GROUP, "options"),
        Output(ids.GROUPS_MEMBER_USER, "options"),
        Output(ids.GROUPS_NOTICE, "children"),
        Output(ids.GROUPS_FORMS, "style"),
        Input(ids.GROUPS_REFRESH, "data"),
        Input(ids.LOCATION, "pathname"),
    )(render)
    app.callback(
        Output(ids.GROUPS_STATUS, "children"),
        Output(ids.GROUPS_REFRESH, "data"),
        Output(ids.GROUPS_NEW_NAME, "value"),
        Input(ids.GROUPS_CREATE, "n_clicks"),
        Input(ids.GROUPS_MEMBER_ADD, "n_clicks"),
        Input(ids.groups_remove_member(ALL), "n_clicks"),
        Input(ids.groups_delete(ALL), "n_clicks"),
        State(ids.GROUPS_NEW_NAME, "value"),
        State(ids.GROUPS_MEMBER_GROUP, "value"),
        State(ids.GROUPS_MEMBER_USER, "value"),
        State(ids.GROUPS_REFRESH, "data"),
        prevent_initial_call=True,
    )(act)
