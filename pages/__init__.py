"""Pages: one module per URL, layout only; registered explicitly by the factory."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

import dash
import dash_bootstrap_components as dbc
import flask
from dash import dcc, html
from dash._pages import PAGE_REGISTRY, _parse_query_string, _path_to_page

from app import ids, routes
from app.auth import must_log_in
from app.auth.login import safe_next
from app.components.nav import nav_user

from . import catalog, groups, login, map_viewer, my_maps, not_found, pooling

__all__ = ["register", "shell"]

log = logging.getLogger(__name__)


def _login_first(path: str, layout: Callable[..., Any]) -> Callable[..., Any]:
    """``layout``, or for a visitor who must log in first (``ANONYMOUS_READ=0``) a jump to
    the login page with ``next=`` back here.

    A full page load is redirected by the server (``app.auth.login``); this covers moving
    between pages inside the app (Dash renders the next page's layout without a page load),
    e.g. from the login page's navigation bar or after the session expired.
    """

    def guarded(**kwargs: Any) -> Any:
        if not must_log_in():
            return layout(**kwargs)
        here = path
        for key in ("owner", "name"):
            if f"<{key}>" in here:
                here = here.replace(f"<{key}>", str(kwargs.pop(key, "")))
        query = {k: v for k, v in kwargs.items() if isinstance(v, str)}
        if query:
            here += "?" + urlencode(query)
        root = dash.get_relative_path("/")
        target = dash.get_relative_path("/login") + "?" + urlencode({"next": safe_next(dash.get_relative_path(here), root)})
        return html.Div(
            className="container py-5",
            children=[
                dcc.Location(id=ids.LOGIN_REDIRECT, href=target, refresh=True),
                html.P(["Log in to see this page: ", dcc.Link("log in", href=target, refresh=True), "."]),
            ],
        )

    guarded.__doc__ = layout.__doc__
    return guarded


def register(app: dash.Dash) -> None:
    """Register every page with ``app`` (called by ``create_app``)."""
    dash.register_page(
        "pages.catalog", path="/", name="Maps", title="Maps · PyMapManager", layout=_login_first("/", catalog.layout)
    )
    dash.register_page(
        "pages.map_viewer",
        path_template=routes.MAP_TEMPLATE,
        name="Map",
        title=map_viewer.title,
        layout=_login_first(routes.MAP_TEMPLATE, map_viewer.layout),
    )
    dash.register_page("pages.pooling", path="/pool", name="Pool", title="Pool · PyMapManager",
                       layout=_login_first("/pool", pooling.layout))  # fmt: skip
    dash.register_page("pages.login", path="/login", name="Log in", title="Log in · PyMapManager", layout=login.layout)
    dash.register_page("pages.my_maps", path="/my-maps", name="My maps", title="My maps · PyMapManager",
                       layout=_login_first("/my-maps", my_maps.layout))  # fmt: skip
    dash.register_page("pages.groups", path="/groups", name="Groups", title="Groups · PyMapManager",
                       layout=_login_first("/groups", groups.layout))  # fmt: skip
    dash.register_page("not_found_404", path="/404", name="Not found", layout=not_found.layout)


def _render(pathname: str, search: str) -> tuple[Any, str]:
    """The layout and title of the page at ``pathname`` + ``search``, as Dash's pages router
    makes them (its ``update`` callback in ``dash.Dash.enable_pages``)."""
    page, path_variables = _path_to_page(dash.strip_relative_path(pathname))
    if page == {}:
        page = next((p for m, p in PAGE_REGISTRY.items() if m.split(".")[-1] == "not_found_404"), {})
    layout = page.get("layout", "")
    title = page.get("title", "")
    if callable(layout):
        layout = layout(**{**(path_variables or {}), **_parse_query_string(search)})
    if callable(title):
        title = title(**(path_variables or {}))
    return layout, title


def _referred() -> tuple[str, str] | None:
    """The path and query (``?...`` or "") of the page whose app layout this request asks
    for (its ``Referer``, same host only), or None (not a layout request, no referrer)."""
    if not flask.has_request_context():
        return None
    req = flask.request
    referrer = req.referrer
    if not referrer or not req.path.endswith("/_dash-layout"):
        return None
    ref = urlsplit(referrer)
    if ref.netloc != req.host:
        return None
    return ref.path, f"?{ref.query}" if ref.query else ""


def _page_container() -> Any:
    """Dash's page container; when the browser asks for the app's layout, with the page it is
    on already in it.

    Dash's router makes a page in a callback once the page's ``dcc.Location`` has told it the
    address: a round trip after the layout. The layout request's ``Referer`` is the page's
    address (``Referrer-Policy: same-origin``, ``app.auth.login``), so the page is made here
    instead. The location is given the same path and query, so it does not call the router
    again; should they not be the browser's (a proxy rewriting the address, a referrer
    stripped on the way), ``pmm_pages.js`` asks the router for the page after all
    (``data-pmm-page``: what was made here).
    """
    at = _referred()
    if at is None:
        return dash.page_container
    path, search = at
    try:
        content, title = _render(path, search)
    except Exception:  # the router will make it, and say what went wrong
        log.exception("could not make the page %s%s with the layout", path, search)
        return dash.page_container
    made: dict[str, Any] = {"data-pmm-page": path + search}
    return html.Div(
        [
            dcc.Location(id="_pages_location", refresh="callback-nav", pathname=path, search=search),
            html.Div(content, id="_pages_content", disable_n_clicks=True, **made),
            dcc.Store(id="_pages_store", data={"title": title}),
            html.Div(id="_pages_dummy", disable_n_clicks=True),
        ]
    )


def shell() -> html.Div:
    """The frame around every page: a navigation bar and the page container (with the page
    the browser is on, :func:`_page_container`)."""
    nav = dbc.Navbar(
        dbc.Container(
            [
                dcc.Link(
                    [html.Span("◉", className="pmm-logo"), " PyMapManager"],
                    href=dash.get_relative_path("/"),
                    className="navbar-brand",
                ),
                html.Span("dendritic spines across imaging sessions", className="navbar-text small d-none d-md-inline"),
                dcc.Link("Pool maps", href=dash.get_relative_path("/pool"), className="nav-link text-light ms-auto"),
                # log in / user name, My maps, log out (again on each move: callbacks.my_maps)
                html.Div(nav_user() if flask.has_request_context() else None, id=ids.NAV_USER, className="ms-3"),
            ],
            fluid=True,
        ),
        id=ids.NAVBAR,
        color="dark",
        dark=True,
        className="pmm-navbar py-1",
    )
    return html.Div([dcc.Location(id=ids.LOCATION), nav, html.Main(_page_container(), className="pmm-main")])
