"""The pooling page: a statistic across many maps, per session group and cohort.

``/pool`` — choose maps, a statistic, session groups (name -> pattern), normalisation and
cohorts; see the pooled figure (mean ± SEM per group, a line per cohort), the pooled
dynamics beside it, and the summary table; export the figures and the data. The layout
is cheap: empty controls and stores that ``callbacks.pooling`` fills.
"""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from app import ids

__all__ = ["GROUP_HELP", "layout"]

GROUP_HELP = (
    "A pattern is one or more terms separated by commas (comma = or): a wildcard over the "
    "session condition (c*, e1, ?2), session indices (#0-2, #4-) or days (d:0-7, d:14-). "
    "A run's value in a group is its mean over the group's sessions."
)

_RADIO = {
    "inline": True,
    "className": "btn-group btn-group-sm",
    "inputClassName": "btn-check",
    "labelClassName": "btn btn-outline-primary btn-sm",
    "labelCheckedClassName": "active",
}


def _label(text: str) -> html.Div:
    return html.Div(text, className="pmm-ctl-label mt-2 mb-1")


def _maps_card() -> dbc.Card:
    return dbc.Card(
        className="mb-2",
        children=[
            dbc.CardHeader(
                [
                    html.Span("Maps", className="fw-semibold"),
                    html.Span(id=ids.POOL_MAPS_COUNT, className="text-muted small ms-2"),
                ]
            ),  # fmt: skip
            dbc.CardBody(
                className="p-2",
                children=[
                    dbc.Input(
                        id=ids.POOL_FILTER_TEXT,
                        placeholder="Filter by name…",
                        type="search",
                        size="sm",
                        debounce=True,
                        className="mb-1",
                    ),  # fmt: skip
                    dcc.Dropdown(
                        id=ids.POOL_FILTER_OWNER,
                        placeholder="Owner…",
                        multi=True,
                        options=[],
                        value=[],
                        className="mb-1",
                    ),  # fmt: skip
                    dcc.Dropdown(
                        id=ids.POOL_FILTER_CONDITION,
                        placeholder="Map condition…",
                        multi=True,
                        options=[],
                        value=[],
                        className="mb-1",
                    ),  # fmt: skip
                    dcc.Dropdown(
                        id=ids.POOL_MAPS,
                        placeholder="Maps to pool…",
                        multi=True,
                        options=[],
                        value=[],
                        className="pmm-pool-maps",
                    ),  # fmt: skip
                ],
            ),
        ],
    )


def _stat_card() -> dbc.Card:
    return dbc.Card(
        className="mb-2",
        children=[
            dbc.CardHeader(html.Span("Statistic", className="fw-semibold")),
            dbc.CardBody(
                className="p-2",
                children=[
                    dcc.Dropdown(id=ids.POOL_STAT, options=[], value=None, clearable=False),
                    dbc.Row(
                        className="g-2",
                        children=[
                            dbc.Col(
                                [
                                    _label("ROI"),
                                    dcc.Dropdown(
                                        id=ids.POOL_ROI,
                                        clearable=False,
                                        value="spineROI",
                                        options=[
                                            {"label": r, "value": r}
                                            for r in ("spineROI", "otherROI")
                                        ],
                                    ),
                                ]
                            ),  # fmt: skip
                            dbc.Col(
                                [
                                    _label("Segment"),
                                    dcc.Dropdown(
                                        id=ids.POOL_SEGMENT,
                                        clearable=False,
                                        value=-1,
                                        options=[{"label": "all", "value": -1}]
                                        + [{"label": str(k), "value": k} for k in range(8)],
                                    ),
                                ]
                            ),  # fmt: skip
                        ],
                    ),
                    dbc.Switch(
                        id=ids.POOL_BAD,
                        label="include objects marked bad",
                        value=False,
                        className="mt-2 mb-0 small",
                    ),  # fmt: skip
                ],
            ),
        ],
    )


def _groups_card() -> dbc.Card:
    return dbc.Card(
        className="mb-2",
        children=[
            dbc.CardHeader(
                className="d-flex align-items-center",
                children=[
                    html.Span("Session groups", className="fw-semibold"),
                    dbc.Button(
                        "Add",
                        id=ids.POOL_GROUPS_ADD,
                        size="sm",
                        color="link",
                        className="ms-auto p-0 me-2",
                    ),
                    dbc.Button(
                        "Reset",
                        id=ids.POOL_GROUPS_RESET,
                        size="sm",
                        color="link",
                        className="p-0",
                        title="one group per session condition of the chosen maps",
                    ),  # fmt: skip
                ],
            ),
            dbc.CardBody(
                className="p-1",
                children=[
                    html.Div(id=ids.POOL_GROUP_ROWS, className="pmm-pool-groups"),
                    html.Div(GROUP_HELP, className="text-muted small px-1 mt-1"),
                ],
            ),
        ],
    )


def _normalise_card() -> dbc.Card:
    return dbc.Card(
        className="mb-2",
        children=[
            dbc.CardHeader(html.Span("Normalise and show", className="fw-semibold")),
            dbc.CardBody(
                className="p-2",
                children=[
                    dbc.RadioItems(
                        id=ids.POOL_MODE,
                        value="none",
                        className="small",
                        options=[
                            {"label": "as measured", "value": "none"},
                            {"label": "ratio to reference (v / ref)", "value": "ratio"},
                            {"label": "% change from reference", "value": "percent"},
                            {"label": "difference from reference (v − ref)", "value": "difference"},
                        ],
                    ),  # fmt: skip
                    _label("Reference group"),
                    dcc.Dropdown(id=ids.POOL_REFERENCE, options=[], value=None, clearable=False),
                    _label("Error bars"),
                    dbc.RadioItems(
                        id=ids.POOL_ERROR,
                        value="sem",
                        **_RADIO,
                        options=[{"label": "SEM", "value": "sem"}, {"label": "SD", "value": "sd"}],
                    ),  # fmt: skip
                    dbc.Switch(
                        id=ids.POOL_COHORTS,
                        label="cohorts by map condition",
                        value=True,
                        className="mt-2 mb-0 small",
                    ),
                    dbc.Switch(
                        id=ids.POOL_RUNS,
                        label="individual runs (click one to open it)",
                        value=False,
                        className="mb-0 small",
                    ),
                ],
            ),
        ],
    )


def _figures() -> html.Div:
    graph_config: Any = {"displaylogo": False, "toImageButtonOptions": {"scale": 2}}
    return html.Div(
        children=[
            html.Div(
                id=ids.POOL_PROGRESS_BOX,
                style={"display": "none"},
                className="mb-2",
                children=[
                    html.Div(
                        className="d-flex align-items-center gap-2",
                        children=[
                            dbc.Progress(
                                id=ids.POOL_PROGRESS,
                                value=0,
                                label="",
                                striped=True,
                                animated=True,
                                className="flex-grow-1",
                                style={"height": "1.1rem"},
                            ),
                            dbc.Button(
                                "Cancel",
                                id=ids.POOL_CANCEL,
                                size="sm",
                                color="secondary",
                                outline=True,
                            ),
                        ],
                    ),  # fmt: skip
                ],
            ),
            html.Div(id=ids.POOL_MESSAGES),
            dbc.Row(
                className="g-2",
                children=[
                    dbc.Col(
                        dbc.Card(
                            dbc.CardBody(
                                dcc.Graph(
                                    id=ids.POOL_FIGURE,
                                    config=graph_config,
                                    figure={"data": [], "layout": {"height": 440}},
                                ),
                                className="p-1",
                            )
                        ),
                        lg=7,
                    ),  # fmt: skip
                    dbc.Col(
                        dbc.Card(
                            dbc.CardBody(
                                dcc.Graph(
                                    id=ids.POOL_DYNAMICS,
                                    config=graph_config,
                                    figure={"data": [], "layout": {"height": 440}},
                                ),
                                className="p-1",
                            )
                        ),
                        lg=5,
                    ),  # fmt: skip
                ],
            ),
            html.Div(
                className="d-flex flex-wrap align-items-center gap-2 mt-2",
                children=[
                    html.Span("Export", className="pmm-ctl-label"),
                    dbc.ButtonGroup(
                        [
                            dbc.Button(label, id=bid, size="sm", color="secondary", outline=True)
                            for label, bid in (
                                ("Figure PNG", ids.POOL_EXPORT_PNG),
                                ("Figure SVG", ids.POOL_EXPORT_SVG),
                                ("Tidy CSV", ids.POOL_EXPORT_TIDY),
                                ("Summary CSV", ids.POOL_EXPORT_SUMMARY),
                            )
                        ],
                        size="sm",
                    ),  # fmt: skip
                    html.Span(id=ids.POOL_RUN_LINK, className="small ms-2"),
                    html.Span(id=ids.POOL_NOTES, className="text-muted small ms-auto"),
                ],
            ),
            html.Div(id=ids.POOL_SUMMARY, className="mt-2"),
            dcc.Download(id=ids.POOL_DOWNLOAD),
        ],
    )


def layout(**_: Any) -> html.Div:
    """The pooling page (controls left, figures right)."""
    return html.Div(
        className="container-fluid pmm-pool py-2",
        children=[
            dcc.Store(id=ids.POOL_CATALOG, data=[]),
            dcc.Store(id=ids.POOL_GROUPS, data=[]),
            # empty stores have no data at all (None would "change" to undefined when they
            # mount and run their callbacks: here, a background pool job on every open)
            dcc.Store(id=ids.POOL_JOB),
            dcc.Store(id=ids.POOL_READY),
            dcc.Store(id=ids.POOL_RUN_URL),
            html.Div(id=ids.POOL_SINK, style={"display": "none"}),
            html.Div(
                className="d-flex align-items-baseline gap-3 mb-2",
                children=[
                    html.H4("Pool maps", className="mb-0"),
                    html.Span(
                        "a statistic across maps, by session group and cohort",
                        className="text-muted small",
                    ),
                ],
            ),
            dbc.Row(
                className="g-3",
                children=[
                    dbc.Col(
                        [_maps_card(), _stat_card(), _groups_card(), _normalise_card()], lg=3, md=4
                    ),
                    dbc.Col(_figures(), lg=9, md=8),
                ],
            ),
        ],
    )
