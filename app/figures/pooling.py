"""Figures of the pooling page, styled for a paper: pooled statistic and pooled dynamics.

Pure functions of :class:`~pymapmanager.pooling.PoolResult` /
:class:`~pymapmanager.pooling.DynamicsResult`. The pool figure's run lines carry
``customdata = [map id, run, "sessions"]`` per point, which the page turns into a link to
the map viewer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pymapmanager.jsonable import json_number
from pymapmanager.pooling import DynamicsResult, PoolResult

__all__ = [
    "COHORT_COLORS",
    "ERRORS",
    "cohort_color",
    "dynamics_figure",
    "empty_figure",
    "pool_figure",
    "y_title",
]

#: Okabe-Ito colours (colour-blind safe), black first
COHORT_COLORS: tuple[str, ...] = (
    "#000000", "#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
)  # fmt: skip
#: error bar kinds
ERRORS = ("sem", "sd")
FONT = {"family": "Arial, Helvetica, sans-serif", "size": 14, "color": "#000"}
_AXIS = {
    "showline": True,
    "linecolor": "#000",
    "linewidth": 1.2,
    "ticks": "outside",
    "tickcolor": "#000",
    "ticklen": 5,
    "showgrid": False,
    "zeroline": False,
    "mirror": False,
}
#: at most this many run lines per cohort are drawn (an even sample of them)
MAX_RUN_LINES = 3000


def cohort_color(k: int) -> str:
    """The colour of the ``k``-th cohort."""
    return COHORT_COLORS[k % len(COHORT_COLORS)]


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _base_layout(height: int) -> dict[str, Any]:
    return {
        "font": FONT,
        "height": height,
        "margin": {"l": 70, "r": 16, "t": 36, "b": 50},
        "paper_bgcolor": "#fff",
        "plot_bgcolor": "#fff",
        "hovermode": "closest",
        # above the plot, never over the data (the margin grows to hold it)
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "xanchor": "left", "yanchor": "bottom",
                   "bgcolor": "rgba(255,255,255,0)", "borderwidth": 0, "font": {"size": 13}},
        "annotations": [],
        "shapes": [],
    }  # fmt: skip


def _note(text: str) -> dict[str, Any]:
    return {"text": text, "x": 1, "y": 1.02, "xref": "paper", "yref": "paper",
            "xanchor": "right", "yanchor": "bottom", "showarrow": False,
            "font": {"size": 12, "color": "#444"}}  # fmt: skip


def empty_figure(message: str = "", height: int = 420) -> dict[str, Any]:
    """A blank figure with a message in the middle."""
    layout = _base_layout(height)
    layout["xaxis"] = {"visible": False}
    layout["yaxis"] = {"visible": False}
    if message:
        layout["annotations"] = [{"text": message, "x": 0.5, "y": 0.5, "xref": "paper",
                                  "yref": "paper", "showarrow": False,
                                  "font": {"size": 14, "color": "#666"}}]  # fmt: skip
    return {"data": [], "layout": layout}


def y_title(stat: str, mode: str, reference: str | None) -> str:
    """The y axis title: the statistic and its normalisation."""
    if mode == "ratio" and reference:
        return f"{stat} (ratio to {reference})"
    if mode == "percent" and reference:
        return f"{stat} (% change from {reference})"
    if mode == "difference" and reference:
        return f"{stat} (change from {reference})"
    return stat


def _offsets(n: int, step: float = 0.09) -> list[float]:
    return [(k - (n - 1) / 2) * step for k in range(n)]


def _fmt(v: float) -> str:
    return "–" if not math.isfinite(v) else f"{v:.4g}"


def _run_lines(
    res: PoolResult,
    cohort: str,
    x_of: Mapping[str, float],
    sessions_of: Mapping[str, Sequence[Sequence[int]]] | None,
) -> tuple[list[Any], list[Any], list[Any], int, int]:
    """x, y (None between runs) and customdata of one cohort's run lines; (shown, total)."""
    t = res.tidy
    sub = t[t["cohort"] == cohort]
    if sub.empty:
        return [], [], [], 0, 0
    gi = sub["group"].cat.codes.to_numpy()
    key = sub["map"].astype(str).to_numpy() + "\x00" + sub["run"].astype(str).to_numpy()
    order = np.lexsort((gi, key))
    key, gi = key[order], gi[order]
    vals = sub["value"].to_numpy()[order]
    maps = sub["map"].astype(str).to_numpy()[order]
    runs = sub["run"].to_numpy()[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    total = starts.size
    keep = np.arange(total)
    if total > MAX_RUN_LINES:
        keep = np.unique(np.linspace(0, total - 1, MAX_RUN_LINES).astype(int))
    ends = np.r_[starts[1:], key.size]
    groups = list(res.group_names)
    xs: list[Any] = []
    ys: list[Any] = []
    cd: list[Any] = []
    for i in keep:
        a, b = starts[i], ends[i]
        for j in range(a, b):
            g = groups[gi[j]]
            ses = ""
            if sessions_of is not None and maps[j] in sessions_of:
                ses = ",".join(str(s) for s in sessions_of[maps[j]][gi[j]])
            xs.append(x_of[g])
            ys.append(float(vals[j]))
            cd.append([maps[j], int(runs[j]), ses])
        xs.append(None)
        ys.append(None)
        cd.append(None)
    return xs, ys, cd, int(keep.size), int(total)


def _ticks_with_n(groups: Sequence[str], ns: Sequence[tuple[str, np.ndarray]]) -> list[str]:
    """Group names with the number of runs of each cohort under them, in its colour."""
    out = []
    for i, g in enumerate(groups):
        parts = [f"<span style='color:{c}'>{int(n[i])}</span>" for c, n in ns]
        out.append(f"{g}<br><span style='font-size:11px'>n = {' · '.join(parts)}</span>")
    return out


#: with more groups than this, tick labels are turned so that neighbours never overlap
MAX_LEVEL_GROUPS = 5


def _group_ticks(groups: Sequence[str], text: Sequence[str]) -> dict[str, Any]:
    """The x axis of session groups: every label (and its ``n =`` line) shown whole.

    ``automargin`` lets the bottom margin grow to hold the labels; with many groups (or long
    names) the labels are turned by 30° at a fixed angle, so they never overlap their
    neighbours and Plotly does not drop or clip any of them.
    """
    longest = max((len(g) for g in groups), default=0)
    turn = len(groups) > MAX_LEVEL_GROUPS or longest * len(groups) > 48
    return {
        "tickmode": "array",
        "tickvals": list(range(len(groups))),
        "ticktext": list(text),
        "range": [-0.5, len(groups) - 0.5],
        "tickangle": -30 if turn else 0,
        "automargin": True,
    }


def _num_list(a: np.ndarray) -> list[float | None]:
    return [json_number(v) for v in a]


def pool_figure(
    res: PoolResult,
    *,
    error: str = "sem",
    show_runs: bool = False,
    sessions_of: Mapping[str, Sequence[Sequence[int]]] | None = None,
    height: int = 440,
) -> dict[str, Any]:
    """Mean ± SEM (or SD) per session group, one line per cohort, ``n`` over each point.

    A plain plotly figure dict (no validation: fast enough for every request).

    Parameters
    ----------
    res : PoolResult
    error : {"sem", "sd"}
    show_runs : bool
        Also draw every run as a faint line (at most :data:`MAX_RUN_LINES` per cohort);
        its points carry ``customdata = [map id, run, "sessions of that group"]``.
    sessions_of : mapping, optional
        Map id -> the map's sessions in each group (for the run lines' customdata).
    """
    groups = list(res.group_names)
    if not groups or not len(res.tidy):
        return empty_figure("Nothing to show: see the messages on the left.", height)
    layout = _base_layout(height)
    data: list[dict[str, Any]] = []
    offs = _offsets(len(res.cohorts))
    s = res.summary
    notes = []
    maps_per_cohort = res.tidy.groupby("cohort", observed=True)["map"].nunique()
    ns: list[tuple[str, np.ndarray]] = []
    for k, cohort in enumerate(res.cohorts):
        color = cohort_color(k)
        x_of = {g: i + offs[k] for i, g in enumerate(groups)}
        if show_runs:
            xs, ys, cd, shown, total = _run_lines(res, cohort, x_of, sessions_of)
            if total:
                data.append({
                    "type": "scattergl", "x": xs, "y": ys, "customdata": cd,
                    "mode": "lines+markers", "name": f"{cohort} runs",
                    "line": {"color": _rgba(color, 0.18), "width": 1},
                    "marker": {"color": _rgba(color, 0.2), "size": 3},
                    "hovertemplate": "%{customdata[0]} run %{customdata[1]}<br>%{y:.4g}<extra></extra>",
                    "showlegend": False, "legendgroup": cohort,
                })  # fmt: skip
                if shown < total:
                    notes.append(f"{cohort}: {shown} of {total} runs drawn")
        c = s[s["cohort"] == cohort].set_index("group").reindex(groups)
        mean = c["mean"].to_numpy(dtype=float)
        err = np.nan_to_num(c[error].to_numpy(dtype=float), nan=0.0)
        n = c["n"].fillna(0).to_numpy(dtype=int)
        nm = c["n_maps"].fillna(0).to_numpy(dtype=int)
        x = [i + offs[k] for i in range(len(groups))]
        hover = [
            f"<b>{cohort}</b> · {g}<br>mean {_fmt(mv)} ± {_fmt(ev)} ({error.upper()})"
            f"<br>n = {nv} runs from {mv_} maps"
            for g, mv, ev, nv, mv_ in zip(groups, mean, err, n, nm, strict=True)
        ]
        data.append({
            "type": "scatter", "x": x, "y": _num_list(mean), "mode": "lines+markers",
            "name": f"{cohort} ({int(maps_per_cohort.get(cohort, 0))} maps)",
            "legendgroup": cohort,
            "line": {"color": color, "width": 2},
            "marker": {"color": color, "size": 9},
            "error_y": {"type": "data", "array": err.tolist(), "visible": True, "color": color,
                        "thickness": 1.5, "width": 6},
            "hovertext": hover, "hoverinfo": "text",
        })  # fmt: skip
        ns.append((color, n))
    layout["xaxis"] = {**_AXIS, **_group_ticks(groups, _ticks_with_n(groups, ns)),
                       "title": {"text": "session group", "standoff": 4}}  # fmt: skip
    layout["margin"] = {**layout["margin"], "b": 72}
    layout["yaxis"] = {**_AXIS, "title": {"text": y_title(res.stat, res.mode, res.reference)}}
    ref = {"ratio": 1.0, "percent": 0.0, "difference": 0.0}.get(res.mode)
    if ref is not None and res.reference:
        layout["shapes"].append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y",
                                 "y0": ref, "y1": ref, "layer": "below",
                                 "line": {"color": "#888", "width": 1, "dash": "dash"}})  # fmt: skip
    label = "mean ± SEM" if error == "sem" else "mean ± SD"
    # what the points are heads the legend (a note in the corner would sit on the legend)
    title = label + ("; " + "; ".join(notes) if notes else "") + ":"
    layout["legend"] = {**layout["legend"], "title": {"text": title, "side": "left"}}
    return {"data": data, "layout": layout}


_DYN_TITLES = {"pct_added": "% added", "pct_subtracted": "% subtracted", "density": "spines / µm"}


def dynamics_figure(
    dres: DynamicsResult,
    *,
    error: str = "sem",
    height: int = 440,
    cohorts: Sequence[str] | None = None,
) -> dict[str, Any]:
    """% added, % subtracted and density per group: mean ± SEM (or SD) across maps.

    Three panels sharing the x axis; a plain plotly figure dict. ``cohorts`` gives the
    colour order (that of the pool figure); default the result's own.
    """
    groups = list(dres.groups)
    if not groups or dres.summary.empty or int(dres.summary["n"].sum()) == 0:
        return empty_figure("No dynamics to show.", height)
    layout = _base_layout(height)
    layout["showlegend"] = False
    layout["margin"] = {"l": 70, "r": 12, "t": 36, "b": 50}
    data: list[dict[str, Any]] = []
    offs = _offsets(len(dres.cohorts))
    s = dres.summary
    order = list(cohorts) if cohorts is not None else list(dres.cohorts)
    domains = ([0.72, 1.0], [0.36, 0.64], [0.0, 0.28])
    ticks = _group_ticks(groups, groups)
    for r, meas in enumerate(_DYN_TITLES):
        ax = "" if r == 0 else str(r + 1)
        for k, cohort in enumerate(dres.cohorts):
            color = cohort_color(order.index(cohort) if cohort in order else len(order) + k)
            c = (
                s[(s["cohort"] == cohort) & (s["measure"] == meas)]
                .set_index("group")
                .reindex(groups)
            )
            mean = c["mean"].to_numpy(dtype=float)
            err = np.nan_to_num(c[error].to_numpy(dtype=float), nan=0.0)
            n = c["n"].fillna(0).to_numpy(dtype=int)
            hover = [
                f"<b>{cohort}</b> · {g}<br>{_DYN_TITLES[meas]}: {_fmt(mv)} ± {_fmt(ev)}"
                f"<br>n = {nv} maps"
                for g, mv, ev, nv in zip(groups, mean, err, n, strict=True)
            ]
            data.append({
                "type": "scatter", "xaxis": f"x{ax}", "yaxis": f"y{ax}",
                "x": [i + offs[k] for i in range(len(groups))], "y": _num_list(mean),
                "mode": "lines+markers", "name": cohort,
                "line": {"color": color, "width": 1.5}, "marker": {"color": color, "size": 7},
                "error_y": {"type": "data", "array": err.tolist(), "visible": True,
                            "color": color, "thickness": 1.2, "width": 4},
                "hovertext": hover, "hoverinfo": "text",
            })  # fmt: skip
        layout[f"yaxis{ax}"] = {**_AXIS, "domain": domains[r], "anchor": f"x{ax}",
                                "title": {"text": _DYN_TITLES[meas], "font": {"size": 12}}}  # fmt: skip
        layout[f"xaxis{ax}"] = {**_AXIS, **ticks, "anchor": f"y{ax}",
                                "showticklabels": r == 2}  # fmt: skip
        if r:
            layout[f"xaxis{ax}"]["matches"] = "x"
    layout["xaxis3"]["title"] = {"text": "session group"}
    label = (
        "turnover, mean ± SEM across maps" if error == "sem" else "turnover, mean ± SD across maps"
    )
    layout["annotations"].append(_note(label))
    return {"data": data, "layout": layout}
