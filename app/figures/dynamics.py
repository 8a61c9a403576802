"""The dynamics panel's figure: per session, persistent + added objects stacked up, the
subtracted ones below zero, and the density per µm on a second axis."""

from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go

from .colors import DYNAMICS_COLORS
from .mapplot import empty_figure

__all__ = ["dynamics_figure"]


def _sum(records: list[dict[str, Any]], key: str) -> float | None:
    vals = [r[key] for r in records if r.get(key) is not None]
    return float(sum(vals)) if vals else None


def dynamics_figure(records: list[dict[str, Any]], segment: int | None = None) -> go.Figure:
    """Bars per session of one map segment (``segment`` None or < 0: every segment summed).

    Parameters
    ----------
    records : list of dict
        :func:`app.services.viewer.map_dynamics` rows (``segment, session, n, added,
        subtracted, persistent, length_um``...).
    segment : int, optional
    """
    rows = [r for r in records if segment is None or segment < 0 or r["segment"] == segment]
    if not rows:
        return empty_figure("no objects in this segment")
    sessions = sorted({int(r["session"]) for r in rows})
    per = {s: [r for r in rows if r["session"] == s] for s in sessions}
    labels = [f"{s}" for s in sessions]
    n = [_sum(per[s], "n") or 0.0 for s in sessions]
    added = [_sum(per[s], "added") for s in sessions]
    subtracted = [_sum(per[s], "subtracted") for s in sessions]
    persistent = [_sum(per[s], "persistent") for s in sessions]
    density: list[float | None] = []
    for s, count in zip(sessions, n, strict=True):
        length = _sum([r for r in per[s] if r.get("length_um") is not None and math.isfinite(r["length_um"])], "length_um")
        density.append(count / length if length else None)
    # the first session has no previous one: all of it is the baseline
    base = [p if p is not None else c for p, c in zip(persistent, n, strict=True)]
    fig = go.Figure()
    fig.add_bar(x=labels, y=base, name="persistent", marker_color=DYNAMICS_COLORS[4], hovertemplate="session %{x}: %{y:d} persistent<extra></extra>")
    fig.add_bar(x=labels, y=[a or 0 for a in added], name="added", marker_color=DYNAMICS_COLORS[1], hovertemplate="session %{x}: %{y:d} added<extra></extra>")
    fig.add_bar(x=labels, y=[-(v or 0) for v in subtracted], name="subtracted", marker_color=DYNAMICS_COLORS[2], customdata=[v or 0 for v in subtracted], hovertemplate="session %{x}: %{customdata:d} subtracted<extra></extra>")
    if any(d is not None for d in density):
        fig.add_scatter(
            x=labels,
            y=density,
            name="density /µm",
            yaxis="y2",
            mode="lines+markers",
            line={"color": "#0f172a", "width": 2},
            hovertemplate="session %{x}: %{y:.3~f} per µm<extra></extra>",
        )
    fig.update_layout(
        template="plotly_white",
        barmode="relative",
        height=260,
        margin={"l": 50, "r": 55, "t": 30, "b": 40},
        xaxis={"title": {"text": "session"}, "type": "category"},
        yaxis={"title": {"text": "objects"}, "zeroline": True, "zerolinecolor": "#94a3b8"},
        yaxis2={"title": {"text": "per µm"}, "overlaying": "y", "side": "right", "showgrid": False, "rangemode": "tozero", "tickformat": ".2~f", "nticks": 5},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0, "font": {"size": 11}},
        font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
    )
    return fig
