"""Callbacks of the My maps page and of the navigation bar's user area.

Every action goes through :mod:`app.services.access` (which checks that the request may
do it) or :mod:`app.auth.users` (the request's own tokens); a refused or failed action is
a message on the page, never a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

import dash
import dash_bootstrap_components as dbc
import limits
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update
from flask import current_app

from app import ids
from app.auth import LoginRequiredError, current_identity, require_login
from app.auth import users as accounts
from app.auth.login import limiter_of
from app.components.nav import nav_user
from app.db import session
from app.extensions import settings_of
from app.routes import map_path
from app.services import access
from app.services.maps import MapRef
from pymapmanager.errors import MapManagerError

__all__ = [
    "act",
    "create_token",
    "nav_user",
    "owner_choices",
    "register",
    "render",
    "select_map",
]

log = logging.getLogger(__name__)


def _url(path: str) -> str:
    return dash.get_relative_path(path)


def _size(n: int | None) -> str:
    if n is None:
        return "–"
    f = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if f < 1000 or unit == "GB":
            return f"{f:.0f} {unit}" if unit == "B" else f"{f:.1f} {unit}"
        f /= 1000
    return f"{f:.1f} TB"


# --------------------------------------------------------------------------- navigation bar


# --------------------------------------------------------------------------- the page


def owner_choices(_pathname: str | None) -> tuple[list[dict[str, str]], str | None]:
    """Whose maps to manage: oneself; an admin may pick any owner."""
    ident = current_identity()
    if not ident.authenticated or ident.name is None:
        return [], None
    owners = [ident.name]
    if ident.is_admin:
        base = settings_of(current_app).data_dir
        owners += sorted(e.name for e in base.iterdir() if e.is_dir() and not e.name.startswith(".")
                         and e.name != ident.name)  # fmt: skip
    return [{"label": o, "value": o} for o in owners], ident.name


def _map_rows(entries: list[dict[str, Any]], selected: str | None) -> Any:
    if not entries:
        return html.Div("No maps yet. Upload one above (or copy map folders into DATA_DIR/<you>/).",
                        className="text-muted small")  # fmt: skip
    rows = []
    for e in entries:
        vis = dbc.Badge("public", color="success") if e["public"] else dbc.Badge("private", color="secondary")
        shares = ", ".join(f"{g} ({lvl})" for g, lvl in e["shares"].items()) or "–"
        rows.append(
            html.Tr(
                className="table-active" if e["id"] == selected else None,
                children=[
                    html.Td(dcc.Link(e["name"], href=_url(map_path(e["owner"], e["name"])))),
                    html.Td(_size(e["size"]), className="text-end"),
                    html.Td("–" if e["num_sessions"] is None else str(e["num_sessions"]), className="text-end"),
                    html.Td(vis),
                    html.Td(shares, className="small"),
                    html.Td(dbc.Button("Manage", id=ids.mymaps_open(e["id"]), size="sm", color="link",
                                       className="p-0")),  # fmt: skip
                ],
            )
        )
    head = html.Thead(html.Tr([html.Th("Map"), html.Th("Size", className="text-end"),
                               html.Th("Sessions", className="text-end"), html.Th("Visibility"),
                               html.Th("Shared with"), html.Th("")]))  # fmt: skip
    return dbc.Table([head, html.Tbody(rows)], size="sm", hover=True, className="mb-0 pmm-mymaps-table")


def _panel(entry: dict[str, Any] | None) -> Any:
    if entry is None:
        return html.Div("Choose a map in the list.", className="text-muted small")
    shares = [
        html.Li([f"{g}: {'read + edit' if lvl == 'edit' else 'read'} ",
                 dbc.Button("×", id=ids.mymaps_unshare(g), size="sm", color="link", className="p-0",
                            title=f"stop sharing with {g}")])  # fmt: skip
        for g, lvl in entry["shares"].items()
    ]
    download = _url(f"/api/v1/maps/{entry['owner']}/{entry['name']}/download")
    return html.Div(
        [
            html.Div([html.Strong(entry["id"]), html.Span(f" · {_size(entry['size'])}", className="text-muted")]),
            html.Ul(shares, className="small mb-1 ps-3") if shares else html.Div("Not shared with any group.",
                                                                                className="small text-muted"),  # fmt: skip
            # the zip download is upload-api's endpoint (streamed)
            html.A("Download as zip", href=download, className="small", download=f"{entry['name']}.zip"),
        ]
    )


def _tokens_list() -> Any:
    ident = current_identity()
    if ident.user_id is None:
        return []
    toks = accounts.list_tokens(session(), ident.user_id)
    if not toks:
        return html.Div("No tokens.", className="text-muted small mb-2")
    rows = [
        html.Tr([
            html.Td(html.Code(t.prefix + "…")), html.Td(t.label or "–"),
            html.Td(t.created_at.strftime("%Y-%m-%d")),
            html.Td(t.last_used_at.strftime("%Y-%m-%d %H:%M") if t.last_used_at else "never"),
            html.Td(dbc.Button("Revoke", id=ids.mymaps_revoke(t.id), size="sm", color="link",
                               className="p-0 text-danger")),
        ])  # fmt: skip
        for t in toks
    ]
    head = html.Thead(html.Tr([html.Th("Token"), html.Th("For"), html.Th("Made"), html.Th("Last used"), html.Th("")]))
    return dbc.Table([head, html.Tbody(rows)], size="sm", className="mb-2")


def _trash_list(owner: str | None) -> Any:
    items = access.list_trash(owner)
    if not items:
        return html.Div("The trash is empty.", className="text-muted small mb-2")
    return html.Ul(
        [
            html.Li([f"{t['owner']}/{t['name']} (deleted {t['deleted_at'][:10]}, until {t['expires_at'][:10]}) ",
                     dbc.Button("Restore", id=ids.mymaps_restore(t["id"]), size="sm", color="link",
                                className="p-0")])  # fmt: skip
            for t in items
        ],
        className="small ps-3 mb-2",
    )


def render(_refresh: Any, selected: str | None, owner: str | None) -> tuple[Any, ...]:
    """The list of maps, the selected map's panel, its switches, the trash and the tokens."""
    ident = current_identity()
    if not ident.authenticated:
        notice = dbc.Alert(["Log in to see and manage your maps. ",
                            dcc.Link("Log in", href=_url("/login?next=" + _url("/my-maps")))],
                           color="info")  # fmt: skip
        return [], _panel(None), False, [], [], [], notice, ""
    try:
        entries = access.my_maps(owner if ident.is_admin else None)
        groups = [{"label": g, "value": g} for g in access.group_names()]
        trash = _trash_list(owner if ident.is_admin else None)
        tokens = _tokens_list()
    except MapManagerError as e:
        return [], _panel(None), False, [], [], [], dbc.Alert(str(e), color="warning"), ""
    entry = next((e for e in entries if e["id"] == selected), None)
    return (
        _map_rows(entries, selected),
        _panel(entry),
        bool(entry and entry["public"]),
        groups,
        trash,
        tokens,
        None,
        entry["name"] if entry else "",
    )


def select_map(_clicks: list[Any]) -> Any:
    """The map whose Manage button was pressed."""
    trig = ctx.triggered_id
    if not isinstance(trig, dict) or not any(c for c in _clicks or []):
        return no_update
    value = ctx.triggered[0].get("value") if ctx.triggered else None
    return trig.get("index") if value else no_update


def _ok(text: str) -> html.Span:
    return html.Span(text, className="text-success")


def _bad(text: str) -> html.Span:
    return html.Span(text, className="text-danger")


def act(
    _rename: Any, public: bool | None, _share: Any, _delete: Any, _unshare: Any, _restore: Any, _revoke: Any,
    selected: str | None, new_name: str | None, group: str | None, level: str | None, refresh: int | None,
) -> tuple[Any, Any, Any]:
    """Do what was asked of the selected map (or the trash, or a token): status, refresh, selection."""
    trig = ctx.triggered_id
    value = ctx.triggered[0].get("value") if ctx.triggered else None
    if trig is None or (trig != ids.MYMAPS_PUBLIC and not value):
        return no_update, no_update, no_update
    bump = (refresh or 0) + 1
    try:
        require_login()
        if isinstance(trig, dict):
            kind, index = trig.get("type"), trig.get("index")
            if kind == ids.MYMAPS_RESTORE:
                ref = access.restore_map(int(str(index)))
                return _ok(f"{ref.id} restored"), bump, ref.id
            if kind == ids.MYMAPS_REVOKE:
                ident = require_login()
                assert ident.user_id is not None
                accounts.revoke_token(session(), ident.user_id, int(str(index)))
                session().commit()
                return _ok("token revoked"), bump, no_update
            if kind == ids.MYMAPS_UNSHARE and selected:
                access.set_share(MapRef.parse(selected), str(index), None)
                return _ok(f"no longer shared with {index}"), bump, no_update
            return no_update, no_update, no_update
        if not selected:
            return (_bad("choose a map first") if trig != ids.MYMAPS_PUBLIC else no_update), no_update, no_update
        ref = MapRef.parse(selected)
        if trig == ids.MYMAPS_PUBLIC:
            if access.sharing(ref)["public"] == bool(public):
                return no_update, no_update, no_update
            access.set_public(ref, bool(public))
            return _ok(f"{ref.id} is {'public' if public else 'private'}"), bump, no_update
        if trig == ids.MYMAPS_RENAME:
            new = access.rename_map(ref, new_name or "")
            return _ok(f"renamed to {new.id}"), bump, new.id
        if trig == ids.MYMAPS_SHARE_ADD:
            if not group:
                return _bad("choose a group"), no_update, no_update
            access.set_share(ref, group, level or "read")
            return _ok(f"shared with {group} ({level or 'read'})"), bump, no_update
        if trig == ids.MYMAPS_DELETE_CONFIRM:
            access.delete_map(ref)
            return _ok(f"{ref.id} moved to the trash"), bump, None
    except MapManagerError as e:
        session().rollback()
        return _bad(str(e)), bump, no_update
    return no_update, no_update, no_update


def create_token(_n: Any, label: str | None, password: str | None, refresh: int | None) -> tuple[Any, Any, Any]:
    """A new API token after the password is entered again (shown once; rate-limited)."""
    if not _n:
        return no_update, no_update, no_update
    try:
        ident = require_login()
    except LoginRequiredError as e:
        return dbc.Alert(str(e), color="warning"), "", no_update
    settings = settings_of(current_app)
    strategy = limiter_of(current_app).limiter
    if not all(strategy.hit(lim, "pmm-token-password", str(ident.name))
               for lim in limits.parse_many(settings.login_limit)):  # fmt: skip
        return dbc.Alert("Too many attempts: wait a minute.", color="danger", className="py-2"), "", no_update
    db = session()
    u = accounts.authenticate(db, ident.name or "", password or "")
    if u is None or u.id != ident.user_id:
        db.rollback()
        return dbc.Alert("Wrong password.", color="danger", className="py-2"), "", no_update
    token = accounts.create_token(db, u.name, label or "")
    db.commit()
    shown = dbc.Alert(
        [html.Div("Your new token (copy it now: it is not shown again):", className="small"),
         html.Code(token, className="user-select-all pmm-token")],
        color="success", className="py-2",
    )  # fmt: skip
    return shown, "", (refresh or 0) + 1


def register(app: dash.Dash) -> None:
    """Bind the navigation bar's and the My maps page's callbacks."""
    # the layout has it for the first page (pages.shell); made again on each move to another
    # page. The pages' location, not LOCATION: it comes with the first page's address
    # (pages._page_container), so it does not "change" to it when drawn (LOCATION does)
    app.callback(Output(ids.NAV_USER, "children"), Input("_pages_location", "pathname"), prevent_initial_call=True)(nav_user)
    app.callback(
        Output(ids.MYMAPS_OWNER, "options"), Output(ids.MYMAPS_OWNER, "value"), Input(ids.LOCATION, "pathname")
    )(owner_choices)
    app.callback(
        Output(ids.MYMAPS_LIST, "children"),
        Output(ids.MYMAPS_PANEL, "children"),
        Output(ids.MYMAPS_PUBLIC, "value"),
        Output(ids.MYMAPS_SHARE_GROUP, "options"),
        Output(ids.MYMAPS_TRASH, "children"),
        Output(ids.MYMAPS_TOKENS, "children"),
        Output(ids.MYMAPS_NOTICE, "children"),
        Output(ids.MYMAPS_RENAME_TEXT, "value"),
        Input(ids.MYMAPS_REFRESH, "data"),
        Input(ids.MYMAPS_SELECTED, "data"),
        Input(ids.MYMAPS_OWNER, "value"),
    )(render)
    app.callback(
        Output(ids.MYMAPS_SELECTED, "data"),
        Input(ids.mymaps_open(ALL), "n_clicks"),
        prevent_initial_call=True,
    )(select_map)
    app.callback(
        Output(ids.MYMAPS_STATUS, "children"),
        Output(ids.MYMAPS_REFRESH, "data"),
        Output(ids.MYMAPS_SELECTED, "data", allow_duplicate=True),
        Input(ids.MYMAPS_RENAME, "n_clicks"),
        Input(ids.MYMAPS_PUBLIC, "value"),
        Input(ids.MYMAPS_SHARE_ADD, "n_clicks"),
        Input(ids.MYMAPS_DELETE_CONFIRM, "submit_n_clicks"),
        Input(ids.mymaps_unshare(ALL), "n_clicks"),
        Input(ids.mymaps_restore(ALL), "n_clicks"),
        Input(ids.mymaps_revoke(ALL), "n_clicks"),
        State(ids.MYMAPS_SELECTED, "data"),
        State(ids.MYMAPS_RENAME_TEXT, "value"),
        State(ids.MYMAPS_SHARE_GROUP, "value"),
        State(ids.MYMAPS_SHARE_LEVEL, "value"),
        State(ids.MYMAPS_REFRESH, "data"),
        prevent_initial_call=True,
    )(act)
    app.callback(
        Output(ids.MYMAPS_TOKEN_NEW, "children"),
        Output(ids.MYMAPS_TOKEN_PASSWORD, "value"),
        Output(ids.MYMAPS_REFRESH, "data", allow_duplicate=True),
        Input(ids.MYMAPS_TOKEN_CREATE, "n_clicks"),
        State(ids.MYMAPS_TOKEN_LABEL, "value"),
        State(ids.MYMAPS_TOKEN_PASSWORD, "value"),
        State(ids.MYMAPS_REFRESH, "data"),
        prevent_initial_call=True,
    )(create_token)
