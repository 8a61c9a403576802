"""Callbacks of the map viewer page.

Server callbacks (plain functions below) load the map's description, build the session
viewers, the plot and the run strip. The hot paths are clientside (``app/assets/*-pmm-*.js``,
namespace ``pmm``): the view state (planes, channel, overlay, projection, selection) lives
in the browser and writes the SLICE and SELECTION stores; labels, preferences, contrast
and session paging are clientside callbacks too.
"""

from __future__ import annotations

import logging
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, ClientsideFunction, Input, Output, State, html, no_update

from app import ids
from app.components.viewer import session_viewer
from app.figures.mapplot import DYNAMICS_COLORS, empty_figure, map_plot
from app.services.maps import data_version, map_ref
from app.services.viewer import (
    contrast_info,
    map_overview,
    plot_table,
    run_strip,
    spine_layer,
    tracing_layer,
    viewer_metas,
)
from app.state import DisplayPrefs, MapKey, Selection, SliceState, ViewState
from pymapmanager import MapManagerError

__all__ = [
    "build_viewers",
    "load_map",
    "plot_figure",
    "register",
    "run_strip_view",
    "stack_contrast",
]

log = logging.getLogger(__name__)

#: Sessions shown at first when the URL does not say (more are a click away).
DEFAULT_SHOWN = 6


def _ref_version(data: Any) -> tuple[Any, str] | None:
    key = MapKey.from_store(data)
    if not key.owner or not key.name:
        return None
    ref = map_ref(key.owner, key.name)
    return ref, data_version(ref)


def _error(message: str) -> dbc.Alert:
    return dbc.Alert(message, color="warning", className="my-2")


def load_map(map_data: Any, initial: Any, prefs_data: Any) -> tuple[Any, ...]:
    """The map's title and every control's options and first value (from the URL)."""
    n_out = 17
    try:
        rv = _ref_version(map_data)
    except MapManagerError as e:
        return (no_update,) * 2 + (_error(str(e)),) + (no_update,) * (n_out - 3)
    if rv is None:
        return (no_update,) * n_out
    ref, version = rv
    try:
        ov = map_overview(ref, version)
    except MapManagerError as e:
        return (no_update,) * 2 + (_error(f"This map cannot be opened: {e}"),) + (no_update,) * (n_out - 3)
    view = ViewState.from_store(initial)
    prefs = DisplayPrefs.from_store(prefs_data)
    nses = ov["num_sessions"]
    sess_opts = [
        {"label": f"{s['index']}" + (f" · {s['condition']}" if s["condition"] else ""), "value": s["index"]}
        for s in ov["sessions"]
    ]
    shown = [s for s in view.sessions if 0 <= s < nses]
    if not shown:
        shown = list(range(min(nses, DEFAULT_SHOWN)))
    channels = list(range(1, max(1, ov["num_channels"]) + 1))
    ch_opts = [{"label": str(c), "value": c} for c in channels]
    channel = next(
        (c for c in (view.channel, prefs.default_channel or None, ov["default_channel"]) if c in channels),
        channels[0],
    )
    stats = ov["statistics"]
    stat_opts = [{"label": s, "value": s} for s in stats]
    x = "pDist" if "pDist" in stats else stats[0]
    y = "session" if "session" in stats else stats[min(1, len(stats) - 1)]
    seg_opts = [{"label": "all", "value": -1}] + [
        {"label": f"segment {i}", "value": i} for i in range(ov["num_map_segments"])
    ]
    rois = ov["roi_types"] or [ov["default_roi"]]
    roi = view.roi if view.roi in rois else ov["default_roi"]
    roi_opts = [{"label": r, "value": r} for r in rois]
    planes = {s["index"]: s["planes"] or 1 for s in ov["sessions"]}
    slice_z: dict[int, int] = {}
    if view.z:
        for s, z in view.z_for(shown, 0).items():
            slice_z[s] = max(0, min(int(planes.get(s, 1)) - 1, z))
    bits = [f"{nses} sessions", f"{ov['num_channels']} channel{'s' if ov['num_channels'] != 1 else ''}"]
    bits.append(f"{ov['num_map_segments']} segments" if ov["num_map_segments"] else "no segments")
    if ov["map_condition"]:
        bits.append(f"condition {ov['map_condition']}")
    if not ov["has_images"]:
        bits.append("no images")
    return (
        ov["name"],
        " · ".join(bits),
        None,
        sess_opts,
        shown,
        ch_opts,
        channel,
        stat_opts,
        x,
        stat_opts,
        y,
        seg_opts,
        roi_opts,
        roi,
        SliceState(slice_z).to_store(),
        -1,
        False,
    )


def build_viewers(sessions: list[int] | None, roi: str | None, map_data: Any, prefs_data: Any) -> Any:
    """One viewer per chosen session, side by side."""
    try:
        rv = _ref_version(map_data)
        if rv is None or not sessions:
            return [] if rv is not None else no_update
        ref, version = rv
        prefs = DisplayPrefs.from_store(prefs_data)
        metas = viewer_metas(ref, version, sorted(int(s) for s in sessions))
        out = []
        for meta in metas:
            out.append(
                session_viewer(
                    meta,
                    spine_layer(ref, version, meta.session, roi),
                    tracing_layer(ref, version, meta.session),
                    spine_size=prefs.spine_size,
                    label=meta.label.get(prefs.label_mode, meta.label["index"]),
                )
            )
        return out
    except MapManagerError as e:
        return [_error(f"The viewers cannot be shown: {e}")]


def stack_contrast(sessions: list[int] | None, map_data: Any) -> Any:
    """Automatic range and histogram per channel, from the first shown session with images."""
    try:
        rv = _ref_version(map_data)
        if rv is None:
            return no_update
        ref, version = rv
        ov = map_overview(ref, version)
        with_images = [s for s in sorted(sessions or []) if 0 <= s < ov["num_sessions"] and ov["sessions"][s]["has_images"]]
        if not with_images:
            return {}
        return contrast_info(ref, version, with_images[0])
    except MapManagerError as e:
        log.warning("contrast information unavailable: %s", e)
        return {}


def plot_figure(
    x: str | None,
    y: str | None,
    color_by: str | None,
    segment: int | None,
    roi: str | None,
    include_bad: bool | None,
    marker_size: int | None,
    map_data: Any,
    selection: Any,
) -> tuple[Any, str]:
    """The map plot of ``y`` against ``x``, and a one-line summary under it."""
    if not x or not y:
        return no_update, ""
    try:
        rv = _ref_version(map_data)
        if rv is None:
            return no_update, ""
        ref, version = rv
        seg = None if segment is None or segment < 0 else int(segment)
        table = plot_table(ref, version, x, y, roi=roi, segment=seg, include_bad=bool(include_bad))
    except MapManagerError as e:
        return empty_figure(str(e)), ""
    sel = Selection.from_store(selection)
    fig = map_plot(
        table,
        color_by=color_by or "dynamics",
        marker_size=int(marker_size or 7),
        selected_run=sel.run,
        revision=f"{ref.id}|{x}|{y}|{seg}|{roi}",
    )
    n_runs = len(table["runs"])
    n_pts = sum(1 for row in table["present"] for p in row if p)
    return fig, f"{n_runs} runs, {n_pts} points · click a point to go to that spine in every session"


def run_strip_view(
    selection: Any,
    channel: int | None,
    prefs_data: Any,
    roi: str | None,
    map_data: Any,
) -> tuple[Any, str]:
    """Crops of the selected run in every session, side by side."""
    sel = Selection.from_store(selection)
    if sel.run is None:
        return html.Div("Click a point in the plot or a spine in an image.", className="text-muted small"), ""
    try:
        rv = _ref_version(map_data)
        if rv is None:
            return no_update, ""
        ref, version = rv
        prefs = DisplayPrefs.from_store(prefs_data)
        ch = int(channel or 1)
        cells = run_strip(ref, version, sel.run, roi=roi, channel=ch, contrast=prefs.contrast.get(str(ch)))
        ov = map_overview(ref, version)
    except MapManagerError as e:
        return _error(str(e)), ""
    items = []
    present = 0
    for c in cells:
        s = c["session"]
        info = ov["sessions"][s]
        label = f"{s}" + (f" · {info['condition']}" if info["condition"] else "")
        if c["present"]:
            present += 1
            color = DYNAMICS_COLORS.get(c["dyn"] or 0, "#94a3b8")
            caption = html.Span(c["dyn_name"] or "", style={"color": color}, className="pmm-strip-dyn")
        else:
            caption = html.Span("absent", className="pmm-strip-absent")
        if c["url"]:
            img: Any = html.Img(src=c["url"], className="pmm-strip-img" + ("" if c["present"] else " pmm-strip-img-absent"), alt=f"run {sel.run} session {s}")
        else:
            img = html.Div("no image", className="pmm-strip-img pmm-strip-noimg")
        items.append(
            html.Div(
                className="pmm-strip-cell" + (" pmm-strip-cell-absent" if not c["present"] else ""),
                title=f"session {s}, z {c['z']}" + ("" if c["present"] else f" (absent: {c['kind']})"),
                children=[html.Div(label, className="pmm-strip-label"), img, caption],
            )
        )
    return items, f"run {sel.run} · in {present} of {len(cells)} sessions"


def register(app: dash.Dash) -> None:
    """Bind the map viewer's callbacks to ``app``."""
    app.callback(
        Output(ids.MAP_TITLE, "children"),
        Output(ids.MAP_SUBTITLE, "children"),
        Output(ids.MAP_ERROR, "children"),
        Output(ids.SESSIONS, "options"),
        Output(ids.SESSIONS, "value"),
        Output(ids.CHANNEL, "options"),
        Output(ids.CHANNEL, "value"),
        Output(ids.PLOT_X, "options"),
        Output(ids.PLOT_X, "value"),
        Output(ids.PLOT_Y, "options"),
        Output(ids.PLOT_Y, "value"),
        Output(ids.PLOT_SEGMENT, "options"),
        Output(ids.PLOT_ROI, "options"),
        Output(ids.PLOT_ROI, "value"),
        Output(ids.SLICE, "data"),
        Output(ids.PLOT_SEGMENT, "value"),
        Output(ids.PLOT_BAD, "value"),
        Input(ids.MAP_REF, "data"),
        State(ids.INITIAL_VIEW, "data"),
        State(ids.PREFS, "data"),
    )(load_map)
    app.callback(
        Output(ids.VIEWER_GRID, "children"),
        Input(ids.SESSIONS, "value"),
        Input(ids.PLOT_ROI, "value"),
        State(ids.MAP_REF, "data"),
        State(ids.PREFS, "data"),
        prevent_initial_call=True,
    )(build_viewers)
    app.callback(
        Output(ids.CONTRAST_INFO, "data"),
        Input(ids.SESSIONS, "value"),
        State(ids.MAP_REF, "data"),
        prevent_initial_call=True,
    )(stack_contrast)
    app.callback(
        Output(ids.PLOT, "figure"),
        Output(ids.PLOT_INFO, "children"),
        Input(ids.PLOT_X, "value"),
        Input(ids.PLOT_Y, "value"),
        Input(ids.PLOT_COLOR, "value"),
        Input(ids.PLOT_SEGMENT, "value"),
        Input(ids.PLOT_ROI, "value"),
        Input(ids.PLOT_BAD, "value"),
        Input(ids.PREF_PLOT_SIZE, "value"),
        State(ids.MAP_REF, "data"),
        State(ids.SELECTION, "data"),
        prevent_initial_call=True,
    )(plot_figure)
    app.callback(
        Output(ids.RUN_STRIP, "children"),
        Output(ids.RUN_INFO, "children"),
        Input(ids.SELECTION, "data"),
        Input(ids.CHANNEL, "value"),
        Input(ids.PREFS, "data"),
        State(ids.PLOT_ROI, "value"),
        State(ids.MAP_REF, "data"),
    )(run_strip_view)

    # ---- clientside (app/assets/*-pmm-*.js): the view state lives in the browser. `view`
    # hands it the controls, preferences, viewers and any SLICE / SELECTION payload the view
    # did not write itself; the view writes the stores back (70-pmm-dash.js).
    app.clientside_callback(
        ClientsideFunction("pmm", "view"),
        Output(ids.VIEW_SINK, "data"),
        Input(ids.MAP_REF, "data"),
        Input(ids.SLICE, "data"),
        Input(ids.SELECTION, "data"),
        Input(ids.viewer_meta(ALL), "data"),
        Input(ids.CHANNEL, "value"),
        Input(ids.OVERLAY, "value"),
        Input(ids.PROJECTION, "value"),
        Input(ids.SLIDING_K, "value"),
        Input(ids.LINK, "value"),
        Input(ids.PLOT_ROI, "value"),
        Input(ids.PREFS, "data"),
    )
    app.clientside_callback(
        ClientsideFunction("pmm", "clear"),
        Output(ids.VIEW_SINK, "data", allow_duplicate=True),
        Input(ids.CLEAR_SELECTION, "n_clicks"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("pmm", "labels"),
        Output(ids.viewer_label(ALL), "children"),
        Input(ids.PREFS, "data"),
        Input(ids.viewer_meta(ALL), "data"),
    )
    app.clientside_callback(
        ClientsideFunction("pmm", "prefs"),
        Output(ids.PREFS, "data", allow_duplicate=True),
        Input(ids.PREF_SPINE_SIZE, "value"),
        Input(ids.PREF_PLOT_SIZE, "value"),
        Input(ids.PREF_DEFAULT_CHANNEL, "value"),
        Input(ids.PREF_LABEL_MODE, "value"),
        State(ids.PREFS, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("pmm", "contrast"),
        Output(ids.PREFS, "data", allow_duplicate=True),
        Output(ids.CONTRAST, "value"),
        Output(ids.CONTRAST, "min"),
        Output(ids.CONTRAST, "max"),
        Output(ids.CONTRAST, "disabled"),
        Output(ids.HISTOGRAM, "figure"),
        Input(ids.CHANNEL, "value"),
        Input(ids.CONTRAST, "value"),
        Input(ids.CONTRAST_AUTO, "n_clicks"),
        Input(ids.CONTRAST_INFO, "data"),
        State(ids.PREFS, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("pmm", "page"),
        Output(ids.SESSIONS, "value", allow_duplicate=True),
        Input(ids.SESSIONS_PREV, "n_clicks"),
        Input(ids.SESSIONS_NEXT, "n_clicks"),
        Input(ids.SESSIONS_ALL, "n_clicks"),
        State(ids.SESSIONS, "value"),
        State(ids.SESSIONS, "options"),
        prevent_initial_call=True,
    )
