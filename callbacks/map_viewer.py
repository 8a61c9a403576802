"""Callbacks of the map viewer page.

The page comes with the map open and its first viewers (``app.components.map_setup``, set on
the layout). Server callbacks (plain functions below) build the viewers of other sessions,
the plot and the run strip. The hot paths are clientside (``app/assets/*-pmm-*.js``,
namespace ``pmm``): the view state (planes, channel, overlay, projection, selection) lives
in the browser and writes the SLICE and SELECTION stores; labels, preferences, contrast
and session paging are clientside callbacks too.
"""

from __future__ import annotations

import logging
from typing import Any

import dash
from dash import ALL, ClientsideFunction, Input, Output, State, html, no_update

from app import ids
from app.components.deferred import when_shown
from app.components.map_setup import build_viewers, error_alert, ref_version
from app.figures.colors import DYNAMICS_COLORS, NO_DYNAMICS_COLOR
from app.figures.mapplot import empty_figure, map_plot
from app.services.edits import reading_version
from app.services.viewer import contrast_info, day_label, map_overview, plot_table, run_strip
from app.state import DisplayPrefs, Selection
from callbacks.map_edit import editing
from pymapmanager.errors import MapManagerError

__all__ = [
    "build_viewers",
    "plot_figure",
    "register",
    "run_strip_view",
    "stack_contrast",
]

log = logging.getLogger(__name__)


def stack_contrast(sessions: list[int] | None, map_data: Any) -> Any:
    """Automatic range and histogram per channel, from the first shown session with images."""
    try:
        rv = ref_version(map_data)
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
    edit_version: Any = None,
) -> tuple[Any, str]:
    """The map plot of ``y`` against ``x``, and a one-line summary under it (from the
    editor's working copy when ``edit_version`` says there are unsaved edits)."""
    if not x or not y:
        return no_update, ""
    try:
        rv = ref_version(map_data)
        if rv is None:
            return no_update, ""
        ref, _saved = rv
        seg = None if segment is None or segment < 0 else int(segment)
        with reading_version(ref, editing(edit_version)) as version:
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
    edit_version: Any = None,
) -> tuple[Any, str]:
    """Crops of the selected run in every session, side by side (from the editor's working
    copy when ``edit_version`` says there are unsaved edits)."""
    sel = Selection.from_store(selection)
    if sel.run is None:
        return html.Div("Click a point in the plot or a spine in an image.", className="text-muted small"), ""
    try:
        rv = ref_version(map_data)
        if rv is None:
            return no_update, ""
        ref, _saved = rv
        prefs = DisplayPrefs.from_store(prefs_data)
        ch = int(channel or 1)
        with reading_version(ref, editing(edit_version)) as version:
            cells = run_strip(ref, version, sel.run, roi=roi, channel=ch, contrast=prefs.contrast.get(str(ch)))
            ov = map_overview(ref, version)
    except MapManagerError as e:
        return error_alert(str(e)), ""
    items = []
    present = 0
    for c in cells:
        s = c["session"]
        info = ov["sessions"][s]
        label = f"{s}" + (f" · {info['condition']}" if info["condition"] else "")
        if c["present"]:
            present += 1
            color = DYNAMICS_COLORS.get(c["dyn"] or 0, NO_DYNAMICS_COLOR)
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
                title=f"session {s}" + (f", {day_label(info.get('days'))}" if day_label(info.get("days")) else "") + ("" if c["z"] is None else f", z {int(c['z'])}") + ("" if c["present"] else f" (absent: {c['kind']})"),
                children=[html.Div(label, className="pmm-strip-label"), img, caption],
            )
        )
    strip = html.Div(items, className="pmm-strip-cells", style={"--pmm-strip-cols": str(_strip_columns(len(items)))})
    return strip, f"run {sel.run} · in {present} of {len(cells)} sessions"


def _plot_figure_outputs(
    x: Any, y: Any, color_by: Any, segment: Any, roi: Any, include_bad: Any, marker_size: Any,
    edit_version: Any, map_data: Any, selection: Any,
) -> tuple[Any, str]:  # fmt: skip
    return plot_figure(x, y, color_by, segment, roi, include_bad, marker_size, map_data, selection, edit_version)


def _run_strip_outputs(
    selection: Any, channel: Any, prefs_data: Any, edit_version: Any, roi: Any, map_data: Any
) -> tuple[Any, str]:
    return run_strip_view(selection, channel, prefs_data, roi, map_data, edit_version)


def _strip_columns(n: int) -> int:
    """Cells per row of the run strip: all in one row up to 6, else two rows."""
    return n if n <= 6 else (n + 1) // 2


def register(app: dash.Dash) -> None:
    """Bind the map viewer's callbacks to ``app``."""
    app.callback(
        Output(ids.VIEWER_GRID, "children", allow_duplicate=True),
        Input(ids.SESSIONS, "value"),
        Input(ids.PLOT_ROI, "value"),
        State(ids.MAP_REF, "data"),
        State(ids.PREFS, "data"),
        State(ids.viewer_meta(ALL), "data"),
        State(ids.viewer_spines(ALL), "hideout"),
        prevent_initial_call=True,
    )(build_viewers)
    app.callback(
        Output(ids.CONTRAST_INFO, "data"),
        Input(ids.SESSIONS, "value"),
        # computed once the histogram is shown (after the first planes)
        Input(ids.DEFER_HISTOGRAM, "shown"),
        State(ids.MAP_REF, "data"),
        prevent_initial_call=True,
    )(when_shown(stack_contrast, 1))
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
        Input(ids.EDIT_VERSION, "data"),
        # computed once the plot is shown: the server answers the first planes first
        Input(ids.DEFER_PLOT, "shown"),
        State(ids.MAP_REF, "data"),
        State(ids.SELECTION, "data"),
        prevent_initial_call=True,
    )(when_shown(_plot_figure_outputs, 8))
    app.callback(
        Output(ids.RUN_STRIP, "children"),
        Output(ids.RUN_INFO, "children"),
        Input(ids.SELECTION, "data"),
        Input(ids.CHANNEL, "value"),
        Input(ids.PREFS, "data"),
        Input(ids.EDIT_VERSION, "data"),
        State(ids.PLOT_ROI, "value"),
        State(ids.MAP_REF, "data"),
    )(_run_strip_outputs)

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
