"""Layout pieces of the pooling page that its callbacks build: group rows, the summary table."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from .. import ids

__all__ = ["group_row", "summary_table"]


def group_row(index: int, name: str, pattern: str) -> html.Div:
    """One editable session group: name, pattern, what it matches, and a delete button."""
    return html.Div(
        className="pmm-pool-group d-flex flex-wrap align-items-center gap-1 mb-1",
        children=[
            dbc.Input(
                id=ids.pool_group_name(index),
                value=name,
                size="sm",
                debounce=True,
                placeholder="name",
                className="pmm-pool-group-name",
                style={"width": "38%"},
            ),  # fmt: skip
            dbc.Input(
                id=ids.pool_group_pattern(index),
                value=pattern,
                size="sm",
                debounce=True,
                placeholder="pattern, e.g. c*",
                className="pmm-pool-group-pattern",
                style={"width": "50%", "fontFamily": "monospace"},
            ),  # fmt: skip
            html.Span(
                id=ids.pool_group_match(index),
                className="pmm-pool-group-match small text-muted",
                style={"width": "100%", "order": 3, "lineHeight": "1.1", "paddingLeft": "2px"},
            ),  # fmt: skip
            dbc.Button(
                "×",
                id=ids.pool_group_delete(index),
                size="sm",
                color="link",
                className="p-0 text-muted",
                title="remove this group",
            ),  # fmt: skip
        ],
    )


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return "–" if v != v else f"{v:.4g}"
    return str(v)


def summary_table(records: list[dict[str, Any]]) -> Any:
    """The summary (cohort, group, mean, sd, sem, n, n_maps) as a small table."""
    if not records:
        return []
    cols = ["cohort", "group", "mean", "sd", "sem", "n", "n_maps"]
    head = html.Thead(html.Tr([html.Th(c) for c in cols]))
    body = html.Tbody([html.Tr([html.Td(_fmt(r.get(c))) for c in cols]) for r in records])
    return dbc.Table([head, body], size="sm", bordered=False, striped=True, hover=True,
                     className="pmm-pool-summary mb-0 small")  # fmt: skip
