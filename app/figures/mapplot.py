"""The map plot: one statistic against another, every run's points joined by a line.

Trace layout (the clientside code relies on it): trace 0 holds the run lines, traces
``1 ..`` the points (one trace per colour group, ``customdata = [run, session]``). The
selected run is drawn as layout shapes (a path and a ring per point), so highlighting
another run only redraws shapes, not the WebGL traces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from pymapmanager.jsonable import json_number

from .colors import DYNAMICS_COLORS, DYNAMICS_LABELS, NO_DYNAMICS_COLOR

__all__ = [
    "DYNAMICS_COLORS",
    "DYNAMICS_LABELS",
    "SEGMENT_COLORS",
    "SELECTED_COLOR",
    "empty_figure",
    "hover_format",
    "map_plot",
    "selected_shapes",
]

# DYNAMICS_COLORS and DYNAMICS_LABELS are defined in app.figures.colors (re-exported here)
SEGMENT_COLORS: tuple[str, ...] = (
    "#0ea5e9", "#f97316", "#a855f7", "#14b8a6", "#e11d48", "#84cc16", "#6366f1", "#f59e0b",
)  # fmt: skip
SELECTED_COLOR = "#ff2d95"
LINE_COLOR = "rgba(100, 116, 139, 0.35)"

_STAT_LABELS = {
    "days": "days",
    "session": "session",
    "pDist": "pDist (µm from pivot)",
    "sDist": "sDist (µm along segment)",
}


def _label(stat: str) -> str:
    return _STAT_LABELS.get(stat, stat)


def _axis(stat: str) -> dict[str, Any]:
    axis: dict[str, Any] = {"title": {"text": _label(stat)}, "zeroline": False}
    if stat == "session":
        axis.update(dtick=1, tick0=0, tickformat="d")
    return axis


def hover_format(stat: str, values: Sequence[float]) -> str:
    """The d3 format of a statistic in the hover: integers as integers (``session: 1``, not
    ``1.000``), days as whole days, others with up to 4 significant digits."""
    if stat in ("session", "days"):
        return "d"
    if values and all(float(v).is_integer() for v in values):
        return "d"
    big = max((abs(v) for v in values), default=0.0)
    return ",.0f" if big >= 1e4 else ".4~g"


_num = json_number


def empty_figure(message: str = "") -> go.Figure:
    """A blank figure with a message in the middle."""
    fig = go.Figure()
    fig.update_layout(
        template="plotly_white",
        margin={"l": 40, "r": 10, "t": 10, "b": 40},
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[
            {
                "text": message,
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "font": {"size": 14, "color": "#64748b"},
            }
        ]
        if message
        else [],
    )
    return fig


def selected_shapes(xs: Sequence[float], ys: Sequence[float], size: int) -> list[dict[str, Any]]:
    """Layout shapes drawing the selected run: a line through its points and a ring on each."""
    shapes: list[dict[str, Any]] = []
    if len(xs) > 1:
        path = "M " + " L ".join(f"{x},{y}" for x, y in zip(xs, ys, strict=True))
        shapes.append(
            {
                "type": "path",
                "path": path,
                "xref": "x",
                "yref": "y",
                "line": {"color": SELECTED_COLOR, "width": 3},
                "layer": "above",
                "name": "pmm-selected",
            }
        )
    r = size / 2 + 4
    for x, y in zip(xs, ys, strict=True):
        shapes.append(
            {
                "type": "circle",
                "xref": "x",
                "yref": "y",
                "xsizemode": "pixel",
                "ysizemode": "pixel",
                "xanchor": x,
                "yanchor": y,
                "x0": -r,
                "x1": r,
                "y0": -r,
                "y1": r,
                "line": {"color": SELECTED_COLOR, "width": 2.5},
                "fillcolor": "rgba(255, 45, 149, 0.15)",
                "layer": "above",
                "name": "pmm-selected",
            }
        )
    return shapes


def map_plot(
    table: dict[str, Any],
    *,
    color_by: str = "dynamics",
    marker_size: int = 7,
    selected_run: int | None = None,
    revision: str = "",
) -> go.Figure:
    """The scattergl figure of a plot table (see :func:`app.services.viewer.plot_table`).

    Parameters
    ----------
    table : dict
        ``runs``, ``xs``, ``ys``, ``dyn``, ``seg``, ``bad``, ``present`` (runs x sessions)
        and the statistic names ``x``, ``y``.
    color_by : {"dynamics", "segment"}
    marker_size : int
    selected_run : int, optional
        Run drawn as the selection.
    revision : str
        Plotly ``uirevision``: zoom is kept while it stays the same.
    """
    runs: list[int] = [int(r) for r in table["runs"]]
    xs, ys = table["xs"], table["ys"]
    dyn, seg, bad = table["dyn"], table["seg"], table["bad"]
    line_x: list[float | None] = []
    line_y: list[float | None] = []
    groups: dict[Any, dict[str, list[Any]]] = {}
    sel_x: list[float] = []
    sel_y: list[float] = []
    for i, run in enumerate(runs):
        pts = []
        for s in range(len(xs[i])):
            x, y = _num(xs[i][s]), _num(ys[i][s])
            if x is None or y is None:
                continue
            pts.append((s, x, y))
            if color_by == "segment":
                key: Any = seg[i][s] if seg[i][s] is not None else -1
            else:
                key = dyn[i][s] if dyn[i][s] is not None else 0
            g = groups.setdefault(key, {"x": [], "y": [], "cd": [], "sym": []})
            g["x"].append(x)
            g["y"].append(y)
            g["cd"].append([run, s])
            g["sym"].append("x" if bad[i][s] else "circle")
        if len(pts) > 1:
            for _, x, y in pts:
                line_x.append(x)
                line_y.append(y)
            line_x.append(None)
            line_y.append(None)
        if run == selected_run:
            sel_x = [p[1] for p in pts]
            sel_y = [p[2] for p in pts]
    data: list[dict[str, Any]] = [
        {
            # the run lines as one SVG path (under the WebGL markers): drawn by WebGL they
            # were two thirds of every redraw of the plot, also in software-rendered browsers
            "type": "scatter",
            "mode": "lines",
            "name": "runs",
            "x": line_x,
            "y": line_y,
            "line": {"color": LINE_COLOR, "width": 1},
            "hoverinfo": "skip",
            "showlegend": False,
        }
    ]
    all_x = [x for g in groups.values() for x in g["x"]]
    all_y = [y for g in groups.values() for y in g["y"]]
    fx, fy = hover_format(table["x"], all_x), hover_format(table["y"], all_y)
    hover = (
        f"run %{{customdata[0]}} · session %{{customdata[1]}}<br>{_label(table['x'])}: %{{x:{fx}}}"
        f"<br>{_label(table['y'])}: %{{y:{fy}}}<extra>%{{fullData.name}}</extra>"
    )
    for key in sorted(groups, key=lambda k: (k is None, k)):
        g = groups[key]
        if color_by == "segment":
            name = "no segment" if key == -1 else f"segment {int(key)}"
            color = "#94a3b8" if key == -1 else SEGMENT_COLORS[int(key) % len(SEGMENT_COLORS)]
        else:
            name = DYNAMICS_LABELS.get(int(key), "unknown")
            color = DYNAMICS_COLORS.get(int(key), NO_DYNAMICS_COLOR)
        data.append(
            {
                "type": "scattergl",
                "mode": "markers",
                "name": name,
                "x": g["x"],
                "y": g["y"],
                "customdata": g["cd"],
                "marker": {
                    "size": marker_size,
                    "color": color,
                    "symbol": g["sym"],
                    "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5},
                },
                "hovertemplate": hover,
            }
        )
    fig = go.Figure(data=data)
    fig.update_layout(
        template="plotly_white",
        margin={"l": 55, "r": 10, "t": 30, "b": 45},
        xaxis=_axis(table["x"]),
        yaxis=_axis(table["y"]),
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0, "font": {"size": 11}},
        clickmode="event",
        hovermode="closest",
        uirevision=revision or f"{table['x']}|{table['y']}",
        font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
        shapes=selected_shapes(sel_x, sel_y, marker_size),
        meta={"marker_size": marker_size},
    )
    return fig
