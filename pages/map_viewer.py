"""The map viewer: one image viewer per session side by side, a linked plot and a run strip.

``/map/<owner>/<name>?s=0,1,2&z=5&ch=1&ov=1&proj=max&k=2&run=12&roi=spineROI&link=0`` —
every query parameter is optional (see :class:`app.state.ViewState`). The page comes with
the map open (:func:`app.components.map_setup.page_setup`: every control's options and first
value, the first viewers), so the browser paints the first planes without a round trip
after the page's own; ``callbacks.map_viewer`` makes the plot, the run strip and the viewers
of other sessions.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from app import ids
from app.components.deferred import Deferred
from app.components.edit import edit_bar, edit_stores
from app.components.map_setup import page_setup
from app.components.prefs import prefs_panel, request_prefs
from app.components.spine_table import tables_card
from app.services.maps import data_version, map_ref
from app.state import MapKey, Selection, SliceState, ViewState
from pymapmanager import MapManagerError

__all__ = ["layout", "title"]

KEY_HELP = (
    "Wheel or ↑ ↓: slice · Ctrl + wheel or double-click: zoom · drag: pan · "
    "1 2 3: channel · O: overlay · M: max projection · L: link · Esc: clear selection · ?: every key"
)


EMPTY_HISTOGRAM: dict[str, Any] = {
    "data": [],
    "layout": {
        "height": 44,
        "margin": {"l": 4, "r": 4, "t": 2, "b": 2},
        "xaxis": {"visible": False},
        "yaxis": {"visible": False},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
    },
}


def title(owner: str | None = None, name: str | None = None, **_: Any) -> str:
    """The browser tab's title."""
    return f"{name} · PyMapManager" if name else "Map · PyMapManager"


def _label(text: str) -> html.Span:
    return html.Span(text, className="pmm-ctl-label")


def _toolbar(view: ViewState) -> html.Div:
    return html.Div(
        className="pmm-toolbar",
        children=[
            html.Div(
                className="pmm-ctl pmm-ctl-sessions",
                children=[
                    _label("Sessions"),
                    dcc.Dropdown(id=ids.SESSIONS, multi=True, options=[], value=[], clearable=False, className="pmm-sessions"),
                    dbc.ButtonGroup(
                        [
                            dbc.Button("◀", id=ids.SESSIONS_PREV, size="sm", color="secondary", outline=True, title="previous sessions"),
                            dbc.Button("▶", id=ids.SESSIONS_NEXT, size="sm", color="secondary", outline=True, title="next sessions"),
                            dbc.Button("All", id=ids.SESSIONS_ALL, size="sm", color="secondary", outline=True, title="show every session"),
                        ],
                        size="sm",
                    ),
                ],
            ),
            html.Div(
                className="pmm-ctl",
                children=[
                    _label("Channel"),
                    dbc.RadioItems(
                        id=ids.CHANNEL,
                        options=[{"label": "1", "value": 1}],
                        value=view.channel or 1,
                        inline=True,
                        className="btn-group btn-group-sm",
                        inputClassName="btn-check",
                        labelClassName="btn btn-outline-primary btn-sm",
                        labelCheckedClassName="active",
                    ),
                    dbc.Switch(id=ids.OVERLAY, label="Overlay", value=view.overlay, className="mb-0 ms-1"),
                ],
            ),
            html.Div(
                className="pmm-ctl",
                children=[
                    _label("Projection"),
                    dbc.RadioItems(
                        id=ids.PROJECTION,
                        options=[
                            {"label": "Plane", "value": "none"},
                            {"label": "Max", "value": "max"},
                            {"label": "Sliding ±k", "value": "sliding"},
                        ],
                        value=view.projection,
                        inline=True,
                        className="btn-group btn-group-sm",
                        inputClassName="btn-check",
                        labelClassName="btn btn-outline-primary btn-sm",
                        labelCheckedClassName="active",
                    ),
                    dbc.Input(id=ids.SLIDING_K, type="number", min=1, max=10, step=1, value=view.k, size="sm", className="pmm-k"),
                ],
            ),
            html.Div(
                className="pmm-ctl pmm-ctl-contrast",
                children=[
                    _label("Contrast"),
                    html.Div(
                        className="pmm-contrast",
                        children=[
                            # Plotly (the histogram, the plot) is loaded once the viewers are painted
                            Deferred(dcc.Graph(id=ids.HISTOGRAM, config={"staticPlot": True, "displayModeBar": False}, className="pmm-histogram", figure=EMPTY_HISTOGRAM), id=ids.DEFER_HISTOGRAM, style={"minHeight": "44px"}),
                            dcc.RangeSlider(id=ids.CONTRAST, min=0, max=1, value=[0, 1], allowCross=False, updatemode="mouseup", disabled=True, marks=None, tooltip={"placement": "bottom", "always_visible": False}),
                        ],
                    ),
                    dbc.Button("Auto", id=ids.CONTRAST_AUTO, size="sm", color="secondary", outline=True, title="automatic contrast from each image's histogram"),
                ],
            ),
        ],
    )


def _title_row(name: str | None, view: ViewState) -> html.Div:
    return html.Div(
        className="d-flex align-items-center gap-3 mb-2",
        children=[
            html.H4(name or "", id=ids.MAP_TITLE, className="mb-0"),
            html.Span(id=ids.MAP_SUBTITLE, className="text-muted small"),
            html.Div(
                className="ms-auto d-flex align-items-center gap-3",
                children=[
                    dbc.Switch(id=ids.LINK, label="Link viewers", value=view.link, className="mb-0"),
                    prefs_panel(request_prefs()),
                ],
            ),
        ],
    )


def _plot_card() -> dbc.Card:
    return dbc.Card(
        className="pmm-plot-card",
        children=[
            dbc.CardHeader(
                className="pmm-plot-controls",
                children=[
                    html.Div([_label("x"), dcc.Dropdown(id=ids.PLOT_X, options=[], value=None, clearable=False, className="pmm-stat-select")], className="pmm-ctl"),
                    html.Div([_label("y"), dcc.Dropdown(id=ids.PLOT_Y, options=[], value=None, clearable=False, className="pmm-stat-select")], className="pmm-ctl"),
                    html.Div(
                        [
                            _label("Colour"),
                            dbc.RadioItems(
                                id=ids.PLOT_COLOR,
                                options=[{"label": "dynamics", "value": "dynamics"}, {"label": "segment", "value": "segment"}],
                                value="dynamics",
                                inline=True,
                                className="btn-group btn-group-sm",
                                inputClassName="btn-check",
                                labelClassName="btn btn-outline-secondary btn-sm",
                                labelCheckedClassName="active",
                            ),
                        ],
                        className="pmm-ctl",
                    ),
                    html.Div([_label("Segment"), dcc.Dropdown(id=ids.PLOT_SEGMENT, options=[{"label": "all", "value": -1}], value=-1, clearable=False, className="pmm-small-select")], className="pmm-ctl"),
                    html.Div([_label("ROI"), dcc.Dropdown(id=ids.PLOT_ROI, options=[], value=None, clearable=False, className="pmm-small-select")], className="pmm-ctl"),
                    html.Div([dbc.Switch(id=ids.PLOT_BAD, label="include bad", value=False, className="mb-0")], className="pmm-ctl"),
                ],
            ),
            dbc.CardBody(
                className="p-1",
                children=[
                    Deferred(
                        dcc.Graph(
                            id=ids.PLOT,
                            className="pmm-plot",
                            config={"displaylogo": False, "scrollZoom": True, "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]},
                            figure={"data": [], "layout": {"template": "plotly_white"}},
                        ),
                        id=ids.DEFER_PLOT,
                        style={"minHeight": "420px"},
                    ),
                    html.Div(id=ids.PLOT_INFO, className="text-muted small px-2"),
                ],
            ),
        ],
    )


def _strip_card() -> dbc.Card:
    return dbc.Card(
        className="pmm-strip-card mt-3",
        children=[
            dbc.CardHeader(
                className="d-flex align-items-center",
                children=[
                    html.Span("Selected run", className="fw-semibold me-2"),
                    html.Span(id=ids.RUN_INFO, className="text-muted small"),
                    dbc.Button("Clear", id=ids.CLEAR_SELECTION, size="sm", color="link", className="ms-auto p-0"),
                ],
            ),
            dbc.CardBody(html.Div(id=ids.RUN_STRIP, className="pmm-run-strip"), className="p-2"),
        ],
    )


def not_found(owner: str, name: str, reason: str = "") -> html.Div:
    """What an unknown (or unreadable) map's address shows: why, and the way back."""
    return html.Div(
        className="container py-5 pmm-map-missing",
        children=[
            html.H3("Map not found" if not reason else "This map cannot be opened"),
            html.P(
                reason or f"There is no map {owner}/{name}, or you may not see it.",
                className="lead",
            ),
            dcc.Link("← Back to the maps", href=dash.get_relative_path("/"), className="btn btn-primary"),
        ],
    )


def _missing(owner: str, name: str) -> str | None:
    """None when ``owner/name`` is a map this request may open, else why not."""
    try:
        data_version(map_ref(owner, name))
    except MapManagerError as e:
        return str(e)
    return None


def layout(owner: str | None = None, name: str | None = None, **query: Any) -> html.Div:
    """The viewer page for ``owner/name`` (with no arguments: the empty skeleton)."""
    if owner is not None and name is not None and _missing(owner, name) is not None:
        return not_found(owner, name)
    view = ViewState.from_query(query)
    prefs = request_prefs()
    key = MapKey(owner or "", name or "")
    page = html.Div(
        className="container-fluid pmm-mapview py-2",
        children=[
            dcc.Store(id=ids.MAP_REF, data=key.to_store()),
            dcc.Store(id=ids.INITIAL_VIEW, data=view.to_store()),
            dcc.Store(id=ids.SLICE, data=SliceState().to_store()),
            dcc.Store(id=ids.SELECTION, data=Selection(view.run, None, "init").to_store()),
            dcc.Store(id=ids.PREFS, data=prefs.to_store()),
            dcc.Store(id=ids.CONTRAST_INFO, data={}),
            dcc.Store(id=ids.TABLE_PICK),  # no data (not None: it would "change" when drawn)
            dcc.Download(id=ids.MAP_DOWNLOAD),
            dcc.Store(id=ids.VIEW_SINK),
            *edit_stores(),
            _title_row(name, view),
            edit_bar(),
            html.Div(id=ids.MAP_NOTICE),
            html.Div(id=ids.MAP_ERROR),
            html.Div(
                id=ids.MAP_BODY,
                children=[
                    _toolbar(view),
                    dbc.Row(
                        className="g-3 mt-1",
                        children=[
                            dbc.Col(
                                [
                                    dcc.Loading(html.Div(id=ids.VIEWER_GRID, className="pmm-viewer-grid"), type="dot", delay_show=400),
                                    html.Div(KEY_HELP, id=ids.KEY_HELP, className="pmm-key-help"),
                                ],
                                lg=8,
                                md=12,
                            ),
                            dbc.Col([_plot_card(), _strip_card()], lg=4, md=12),
                        ],
                    ),
                    tables_card(),
                ],
            ),
        ],
    )
    if owner is None or name is None:
        return page  # the skeleton (Dash's validation layout)
    return page_setup(key.to_store(), view.to_store(), prefs.to_store()).apply(page)
