"""Callbacks of the map viewer page.

Server callbacks (plain functions below) load the map's description, build the session
viewers, the plot and the run strip. The hot paths are clientside (``app/assets/*-pmm-*.js``,
namespace ``pmm``): the view state (planes, channel, overlay, projection, selection) lives
in the browser and writes the SLICE and SELECTION stores; labels, preferences, contrast
and session paging are clientside callbacks too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, ClientsideFunction, Input, Output, State, dcc, html, no_update

from app import ids
from app.components.deferred import when_shown
from app.components.viewer import session_viewer
from app.figures.colors import DYNAMICS_COLORS, NO_DYNAMICS_COLOR
from app.figures.mapplot import empty_figure, map_plot
from app.services.edits import reading_version
from app.services.maps import data_version, map_ref
from app.services.viewer import (
    contrast_info,
    day_label,
    map_overview,
    median_planes,
    plot_table,
    run_strip,
    spine_layer,
    tracing_layer,
    viewer_metas,
)
from app.state import DisplayPrefs, MapKey, Selection, SliceState, ViewState
from callbacks.map_edit import editing
from pymapmanager.errors import MapManagerError

__all__ = [
    "PageSetup",
    "build_viewers",
    "page_setup",
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


def _cannot_open(message: str) -> html.Div:
    """Why the map cannot be shown, and the way back to the catalog."""
    return html.Div(
        className="py-4 pmm-map-missing",
        children=[
            dbc.Alert(message, color="danger"),
            dcc.Link("← Back to the maps", href=dash.get_relative_path("/"), className="btn btn-primary"),
        ],
    )


def _out(component: str, prop: str, **kw: Any) -> Any:
    """Field metadata: the Dash output a :class:`PageSetup` field goes to."""
    return field(default=no_update, metadata={"output": (component, prop, kw)})


@dataclass
class PageSetup:
    """What opening a map sets on the page: title, notes, every control's options and first
    value (from the URL, checked against the map), the first planes. A field left at
    ``no_update`` is not changed. The fields, in order, are the callback's outputs."""

    title: Any = _out(ids.MAP_TITLE, "children")
    subtitle: Any = _out(ids.MAP_SUBTITLE, "children")
    error: Any = _out(ids.MAP_ERROR, "children")
    notice: Any = _out(ids.MAP_NOTICE, "children")
    body_style: Any = _out(ids.MAP_BODY, "style")
    session_options: Any = _out(ids.SESSIONS, "options")
    sessions: Any = _out(ids.SESSIONS, "value")
    channel_options: Any = _out(ids.CHANNEL, "options")
    channel: Any = _out(ids.CHANNEL, "value")
    x_options: Any = _out(ids.PLOT_X, "options")
    x: Any = _out(ids.PLOT_X, "value")
    y_options: Any = _out(ids.PLOT_Y, "options")
    y: Any = _out(ids.PLOT_Y, "value")
    segment_options: Any = _out(ids.PLOT_SEGMENT, "options")
    segment: Any = _out(ids.PLOT_SEGMENT, "value")
    roi_options: Any = _out(ids.PLOT_ROI, "options")
    roi: Any = _out(ids.PLOT_ROI, "value")
    slice: Any = _out(ids.SLICE, "data")
    include_bad: Any = _out(ids.PLOT_BAD, "value")
    selection: Any = _out(ids.SELECTION, "data", allow_duplicate=True)
    # the first viewers come with the page's setup: no second round trip before them
    viewers: Any = _out(ids.VIEWER_GRID, "children", allow_duplicate=True)

    @classmethod
    def outputs(cls) -> list[Output]:
        """The Dash outputs, in field order."""
        out = []
        for f in fields(cls):
            component, prop, kw = f.metadata["output"]
            out.append(Output(component, prop, **kw))
        return out

    def values(self) -> tuple[Any, ...]:
        """The output values, in field order."""
        return tuple(getattr(self, f.name) for f in fields(self))

    @classmethod
    def failed(cls, message: str) -> PageSetup:
        """The page of a map that cannot be opened: the reason and a way back, no controls."""
        return cls(title="Map not found" if "no map" in message else no_update, error=_cannot_open(message), body_style={"display": "none"})


def _session_label(s: dict[str, Any]) -> str:
    bits = [str(s["index"])]
    day = day_label(s.get("days"))
    if day:
        bits.append(day)
    if s.get("condition"):
        bits.append(s["condition"])
    return " · ".join(bits)


def _notice(ignored: list[str], tracing_note: str) -> Any:
    alerts: list[Any] = []
    if ignored:
        alerts.append(
            dbc.Alert(
                [
                    html.Strong("Some values of the address were ignored (defaults used instead):"),
                    html.Ul([html.Li(t) for t in ignored], className="mb-0"),
                ],
                color="warning",
                dismissable=True,
                className="my-2 pmm-url-ignored",
            )
        )
    if tracing_note:
        alerts.append(dbc.Alert(tracing_note, color="info", dismissable=True, className="my-2 pmm-no-tracing"))
    return alerts or None


def page_setup(map_data: Any, initial: Any, prefs_data: Any) -> PageSetup:
    """Open the map: its title, notes, every control's options and first value, first planes.

    URL values that cannot be read or lie outside the map (``z=99999``, ``ch=9``, ``s=99``,
    ``proj=bogus``...) are replaced by defaults and listed in a dismissible note.
    """
    try:
        rv = _ref_version(map_data)
    except MapManagerError as e:
        return PageSetup.failed(str(e))
    if rv is None:
        return PageSetup()
    ref, version = rv
    try:
        ov = map_overview(ref, version)
    except MapManagerError as e:
        return PageSetup.failed(f"This map cannot be opened: {e}")
    view = ViewState.from_store(initial)
    ignored = list(view.ignored)
    prefs = DisplayPrefs.from_store(prefs_data)
    nses = ov["num_sessions"]
    sess_opts = [{"label": _session_label(s), "value": s["index"]} for s in ov["sessions"]]
    shown = [s for s in view.sessions if 0 <= s < nses]
    outside = [s for s in view.sessions if not 0 <= s < nses]
    if outside:
        ignored.append(f"s={','.join(str(s) for s in outside)}: the map has sessions 0 to {nses - 1}")
    if not shown:
        shown = list(range(min(nses, DEFAULT_SHOWN)))
    channels = list(range(1, max(1, ov["num_channels"]) + 1))
    ch_opts = [{"label": str(c), "value": c} for c in channels]
    if view.channel is not None and view.channel not in channels:
        ignored.append(f"ch={view.channel}: the map has channel{'s 1 to ' + str(channels[-1]) if len(channels) > 1 else ' 1 only'}")
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
    if view.roi and view.roi not in rois:
        ignored.append(f"roi={view.roi}: the map's ROI types are {', '.join(rois)}")
    roi = view.roi if view.roi in rois else ov["default_roi"]
    selection: Any = no_update
    if view.run is not None and not 0 <= view.run < int(ov["num_runs"]):
        ignored.append(f"run={view.run}: the map has runs 0 to {int(ov['num_runs']) - 1}")
        selection = Selection(None, None, "init").to_store()
    planes = {s["index"]: int(s["planes"] or 1) for s in ov["sessions"]}
    # only the planes the URL asks for go to the viewers; every other viewer opens where its
    # own session's spines are (ViewerMeta.default_z, read by the browser's view state, also
    # for viewers added later), not the middle of the stack
    slice_z: dict[int, int] = {}
    wanted = view.z_for(shown, -1) if view.z else {}
    beyond: dict[int, list[int]] = {}
    medians: list[int | None] | None = None
    for s in shown:
        z = wanted.get(s, -1)
        if z >= planes[s]:
            beyond.setdefault(z, []).append(s)
            if medians is None:
                medians = median_planes(ref, version)
            median = medians[s] if s < len(medians) else None
            z = max(0, min(planes[s] - 1, planes[s] // 2 if median is None else int(median)))
        if z >= 0:
            slice_z[s] = z
    for z, where in beyond.items():
        last = sorted({planes[s] - 1 for s in where})
        ignored.append(
            f"z={z}: beyond the last plane ({', '.join(map(str, last))}) of session{'s' if len(where) > 1 else ''} "
            f"{', '.join(map(str, where))}; opened where the spines are"
        )
    traced = [s["index"] for s in ov["sessions"] if s["has_tracing"]]
    tracing_note = ""
    if not traced:
        tracing_note = "This map has no dendrite tracing: spines are shown without the dendrite line, and pDist, sDist and density per µm are not available."
    elif len(traced) < nses:
        missing = [str(s["index"]) for s in ov["sessions"] if not s["has_tracing"]]
        tracing_note = f"No dendrite tracing in session{'s' if len(missing) > 1 else ''} {', '.join(missing)}."
    bits = [f"{nses} sessions", f"{ov['num_channels']} channel{'s' if ov['num_channels'] != 1 else ''}"]
    bits.append(f"{ov['num_map_segments']} segments" if ov["num_map_segments"] else "no segments")
    if ov["map_condition"]:
        bits.append(f"condition {ov['map_condition']}")
    if not ov["has_images"]:
        bits.append("no images")
    if not traced:
        bits.append("no tracing")
    return PageSetup(
        title=ov["name"],
        subtitle=" · ".join(bits),
        error=None,
        notice=_notice(ignored, tracing_note),
        body_style={},
        session_options=sess_opts,
        sessions=shown,
        channel_options=ch_opts,
        channel=channel,
        x_options=stat_opts,
        x=x,
        y_options=stat_opts,
        y=y,
        segment_options=seg_opts,
        segment=-1,
        roi_options=[{"label": r, "value": r} for r in rois],
        roi=roi,
        slice=SliceState(slice_z).to_store(),
        include_bad=False,
        selection=selection,
        viewers=build_viewers(shown, roi, map_data, prefs_data),
    )


def _page_setup_outputs(map_data: Any, initial: Any, prefs_data: Any) -> tuple[Any, ...]:
    return page_setup(map_data, initial, prefs_data).values()


def build_viewers(
    sessions: list[int] | None,
    roi: str | None,
    map_data: Any,
    prefs_data: Any,
    built: list[Any] | None = None,
    layers: list[Any] | None = None,
) -> Any:
    """One viewer per chosen session, side by side; nothing new when the viewers shown
    (``built``: their ViewerMeta payloads, ``layers``: their spine layers' hideouts) are
    those sessions' with this ROI type already (the page's setup made them)."""
    want = sorted(int(s) for s in sessions or [])
    have = sorted(int(m["session"]) for m in built or [] if isinstance(m, dict) and "session" in m)
    if want and want == have and layers and all(isinstance(h, dict) and h.get("roi") == roi for h in layers):
        return no_update
    try:
        rv = _ref_version(map_data)
        if rv is None or not sessions:
            return [] if rv is not None else no_update
        ref, saved = rv
        prefs = DisplayPrefs.from_store(prefs_data)
        metas = viewer_metas(ref, saved, sorted(int(s) for s in sessions))
        out = []
        # an editor's unsaved edits are drawn from the first paint (a reload shows them at
        # once; the browser's own refresh after reading the log can come before the viewers)
        with reading_version(ref, True) as version:
            for meta in metas:
                out.append(
                    session_viewer(
                        meta,
                        spine_layer(ref, version, meta.session, roi),
                        tracing_layer(ref, version, meta.session),
                        spine_size=prefs.spine_size,
                        label=meta.label.get(prefs.label_mode, meta.label["index"]),
                        roi=roi,
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
    edit_version: Any = None,
) -> tuple[Any, str]:
    """The map plot of ``y`` against ``x``, and a one-line summary under it (from the
    editor's working copy when ``edit_version`` says there are unsaved edits)."""
    if not x or not y:
        return no_update, ""
    try:
        rv = _ref_version(map_data)
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
        rv = _ref_version(map_data)
        if rv is None:
            return no_update, ""
        ref, _saved = rv
        prefs = DisplayPrefs.from_store(prefs_data)
        ch = int(channel or 1)
        with reading_version(ref, editing(edit_version)) as version:
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
        *PageSetup.outputs(),
        Input(ids.MAP_REF, "data"),
        State(ids.INITIAL_VIEW, "data"),
        State(ids.PREFS, "data"),
        # it runs on load; one output (SELECTION) is shared with the browser's callbacks
        prevent_initial_call="initial_duplicate",
    )(_page_setup_outputs)
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
