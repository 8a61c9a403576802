"""The map page's tables card: the spine table (one session's objects with their
statistics), the runs x sessions view of the plotted statistic, the dynamics panel, the
"go to run" box and the export buttons.

Grids are Dash AG Grid (its JavaScript ships inside the ``dash_ag_grid`` package, served
by Dash itself). Rows are identified by run (``getRowId``), so a selection elsewhere
selects and scrolls to the same run here (``callbacks.map_tables``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from .. import ids
from .deferred import Deferred, lazy_script_urls

__all__ = [
    "dynamics_columns",
    "runs_columns",
    "spine_columns",
    "tables_card",
]

#: a number with up to 4 significant digits; blank where there is none
NUMBER = {"function": "params.value == null ? '' : d3.format('.4~g')(params.value)"}
PERCENT = {"function": "params.value == null ? '' : d3.format('.1f')(params.value) + ' %'"}
DENSITY = {"function": "params.value == null ? '' : d3.format('.3f')(params.value)"}

_GRID_OPTIONS: dict[str, Any] = {
    "rowSelection": {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True},
    "animateRows": False,
    "suppressCellFocus": False,
    "tooltipShowDelay": 300,
}
_DEFAULT_COL: dict[str, Any] = {
    "sortable": True,
    "filter": True,
    "floatingFilter": True,
    "resizable": True,
    "minWidth": 70,
    "flex": 1,
}


def _int_col(field: str, header: str, **kw: Any) -> dict[str, Any]:
    return {"field": field, "headerName": header, "filter": "agNumberColumnFilter", "type": "numericColumn", **kw}


def _num_col(field: str, header: str | None = None, **kw: Any) -> dict[str, Any]:
    return {
        "field": field,
        "headerName": header or field,
        "filter": "agNumberColumnFilter",
        "type": "numericColumn",
        "valueFormatter": NUMBER,
        **kw,
    }


def spine_columns(stats: Sequence[str]) -> list[dict[str, Any]]:
    """Column definitions of the spine table: run, segment, dynamics, bad, z, then ``stats``."""
    return [
        _int_col("run", "run", pinned="left", minWidth=80, sort="asc"),
        _int_col("segment", "segment", minWidth=90),
        {"field": "dynamics", "headerName": "dynamics", "filter": "agTextColumnFilter", "minWidth": 110},
        {"field": "bad", "headerName": "bad", "minWidth": 70, "cellDataType": "boolean"},
        _int_col("z", "z", minWidth=70),
        *(_num_col(s, minWidth=110) for s in stats),
    ]


def runs_columns(sessions: Sequence[dict[str, Any]], stat: str) -> list[dict[str, Any]]:
    """Column definitions of the runs x sessions view: run, segment, sessions present, one
    column per session (``sessions``: ``{"index", "label", "tooltip"}``) with ``stat``."""
    return [
        _int_col("run", "run", pinned="left", minWidth=80, sort="asc"),
        _int_col("segment", "segment", minWidth=90),
        _int_col("n", "sessions", minWidth=90, headerTooltip="in how many sessions the run has an object"),
        *(
            _num_col(
                f"s{s['index']}",
                s["label"],
                minWidth=80,
                headerTooltip=f"{stat} in {s['tooltip']}",
            )
            for s in sessions
        ),
    ]


def dynamics_columns() -> list[dict[str, Any]]:
    """Column definitions of the dynamics table (:func:`app.services.viewer.map_dynamics`)."""
    return [
        _int_col("segment", "segment", minWidth=62),
        _int_col("session", "session", minWidth=62),
        _int_col("day", "day", minWidth=62),
        _int_col("n", "objects", minWidth=62),
        _int_col("added", "added", minWidth=62),
        _int_col("subtracted", "subtracted", minWidth=62),
        _int_col("persistent", "persistent", minWidth=62, headerTooltip="also present in the previous session"),
        {**_int_col("pct_added", "% added", minWidth=62), "valueFormatter": PERCENT},
        {**_int_col("pct_subtracted", "% subtracted", minWidth=62), "valueFormatter": PERCENT},
        {**_int_col("length_um", "length µm", minWidth=62), "valueFormatter": NUMBER},
        {**_int_col("density", "per µm", minWidth=62), "valueFormatter": DENSITY},
    ]


def _grid(grid_id: str, height: int, default_col: dict[str, Any] | None = None, **kw: Any) -> dag.AgGrid:
    return dag.AgGrid(
        id=grid_id,
        rowData=[],
        columnDefs=[],
        defaultColDef=default_col or _DEFAULT_COL,
        dashGridOptions=_GRID_OPTIONS,
        style={"height": f"{height}px", "width": "100%"},
        className="pmm-grid",
        **kw,
    )


def _export_buttons() -> dbc.ButtonGroup:
    def b(label: str, bid: str, title: str) -> dbc.Button:
        return dbc.Button(label, id=bid, size="sm", color="secondary", outline=True, title=title)

    return dbc.ButtonGroup(
        [
            b("Values (runs × sessions)", ids.EXPORT_VALUES_WIDE, "the plotted statistics, one line per run (CSV)"),
            b("Values (tidy)", ids.EXPORT_VALUES_TIDY, "the plotted points, one line per run and session (CSV)"),
            b("Table as shown", ids.EXPORT_TABLE, "the table of the open tab, filtered and sorted as shown (CSV)"),
            b("Dynamics", ids.EXPORT_DYNAMICS, "added, subtracted, persistent, density per segment and session (CSV)"),
        ],
        size="sm",
        className="pmm-exports",
    )


def tables_card() -> dbc.Card:
    """The card under the viewers: tabs with the spine table, runs x sessions, dynamics."""
    goto = html.Div(
        className="pmm-ctl pmm-goto",
        children=[
            html.Span("Go to run", className="pmm-ctl-label"),
            dbc.Input(id=ids.GOTO_RUN, type="number", min=0, step=1, size="sm", placeholder="#", className="pmm-goto-input", debounce=True),
            dbc.Button("Go", id=ids.GOTO_RUN_GO, size="sm", color="primary", outline=True),
            html.Span(id=ids.GOTO_RUN_MSG, className="small text-danger"),
        ],
    )
    spines = html.Div(
        [
            html.Div(
                className="pmm-table-controls",
                children=[
                    html.Div(
                        [
                            html.Span("Session", className="pmm-ctl-label"),
                            dcc.Dropdown(id=ids.TABLE_SESSION, options=[], value=None, clearable=False, searchable=True, className="pmm-small-select"),
                        ],
                        className="pmm-ctl",
                    ),
                    html.Div(
                        [
                            html.Span("Columns", className="pmm-ctl-label"),
                            dcc.Dropdown(id=ids.TABLE_STATS, options=[], value=[], multi=True, searchable=True, placeholder="statistics…", className="pmm-table-stats"),
                        ],
                        className="pmm-ctl flex-grow-1",
                    ),
                    html.Span(id=ids.TABLE_INFO, className="text-muted small"),
                ],
            ),
            _grid(ids.TABLE_GRID, 380, getRowId="params.data.run + ''"),
        ]
    )
    runs = html.Div(
        [
            html.Div(html.Span(id=ids.RUNS_INFO, className="text-muted small"), className="pmm-table-controls"),
            _grid(ids.RUNS_GRID, 380, getRowId="params.data.run + ''"),
        ]
    )
    dyn = dbc.Row(
        className="g-2",
        children=[
            dbc.Col(dcc.Graph(id=ids.DYN_FIGURE, config={"displaylogo": False, "displayModeBar": False}, className="pmm-dyn-figure"), lg=5, md=12),
            dbc.Col(_grid(ids.DYN_GRID, 300, _DEFAULT_COL | {"floatingFilter": False, "minWidth": 60, "wrapHeaderText": True, "autoHeaderHeight": True}, getRowId="params.data.segment + '-' + params.data.session"), lg=7, md=12),
        ],
    )
    return dbc.Card(
        className="pmm-tables-card mt-3",
        children=[
            dbc.CardHeader(
                className="pmm-tables-head",
                children=[html.Span("Spines", className="fw-semibold"), goto, html.Div(className="ms-auto"), html.Span("Export", className="pmm-ctl-label"), _export_buttons()],
            ),
            dbc.CardBody(
                className="p-2",
                # the grids (AG Grid's chunk) and the dynamics figure are drawn once the plot
                # is, itself drawn after the viewers' first planes (their rows and figure
                # are filled meanwhile; 70-pmm-dash.js records pmm:plot-shown)
                children=Deferred(
                    id=ids.DEFER_TABLES,
                    after="pmm:plot-shown",
                    timeout=10_000,
                    # AG Grid's main bundle is not in the page's HTML (app.components.deferred)
                    scripts=lazy_script_urls("dash_ag_grid"),
                    style={"minHeight": "470px"},
                    children=dbc.Tabs(
                        id=ids.MAP_TABS,
                        active_tab="spines",
                        children=[
                            dbc.Tab(spines, label="Spine table", tab_id="spines"),
                            dbc.Tab(runs, label="Runs × sessions", tab_id="runs"),
                            dbc.Tab(dyn, label="Dynamics", tab_id="dynamics"),
                        ],
                    ),
                ),
            ),
        ],
    )
