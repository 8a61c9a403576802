"""Pages: one module per URL, layout only; registered explicitly by the factory."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from app import ids

from . import catalog, groups, login, map_viewer, my_maps, not_found, pooling

__all__ = ["register", "shell"]


def register(app: dash.Dash) -> None:
    """Register every page with ``app`` (called by ``create_app``)."""
    dash.register_page(
        "pages.catalog", path="/", name="Maps", title="Maps · PyMapManager", layout=catalog.layout
    )
    dash.register_page(
        "pages.map_viewer",
        path_template="/map/<owner>/<name>",
        name="Map",
        title=map_viewer.title,
        layout=map_viewer.layout,
    )
    dash.register_page("pages.pooling", path="/pool", name="Pool", title="Pool · PyMapManager", layout=pooling.layout)
    dash.register_page("pages.login", path="/login", name="Log in", title="Log in · PyMapManager", layout=login.layout)
    dash.register_page("pages.my_maps", path="/my-maps", name="My maps", title="My maps · PyMapManager",
                       layout=my_maps.layout)  # fmt: skip
    dash.register_page("pages.groups", path="/groups", name="Groups", title="Groups · PyMapManager",
                       layout=groups.layout)  # fmt: skip
    dash.register_page("not_found_404", path="/404", name="Not found", layout=not_found.layout)


def shell() -> html.Div:
    """The frame around every page: a navigation bar and the page container."""
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
                html.Div(id=ids.NAV_USER, className="ms-3"),  # log in / user name, My maps, log out
            ],
            fluid=True,
        ),
        id=ids.NAVBAR,
        color="dark",
        dark=True,
        className="pmm-navbar py-1",
    )
    return html.Div([dcc.Location(id=ids.LOCATION), nav, html.Main(dash.page_container, className="pmm-main")])
