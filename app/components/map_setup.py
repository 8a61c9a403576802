"""Opening a map on its page: the title, notes, every control's options and first value,
and the first viewers, set on the page's layout when it is made (``pages.map_viewer``), so
the page comes with the map open; and the viewers for a choice of sessions (the page's
sessions control, ``callbacks.map_viewer``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html, no_update
from dash.development.base_component import Component

from app import ids
from app.components.edit import HIDDEN, NO_EDIT_CONFIG, edit_config
from app.components.viewer import session_viewer
from app.services.edits import reading_version
from app.services.maps import data_version, map_ref
from app.services.viewer import (
    day_label,
    map_overview,
    median_planes,
    spine_layer,
    tracing_layer,
    viewer_metas,
)
from app.state import DisplayPrefs, MapKey, Selection, SliceState, ViewState
from pymapmanager.errors import MapManagerError

L = TypeVar("L", bound=Component)

__all__ = ["DEFAULT_SHOWN", "PageSetup", "build_viewers", "error_alert", "page_setup", "ref_version"]


#: Sessions shown at first when the URL does not say (more are a click away).
DEFAULT_SHOWN = 6


def ref_version(data: Any) -> tuple[Any, str] | None:
    key = MapKey.from_store(data)
    if not key.owner or not key.name:
        return None
    ref = map_ref(key.owner, key.name)
    return ref, data_version(ref)


def error_alert(message: str) -> dbc.Alert:
    """A warning in place of what cannot be shown."""
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


def _to(component: str, prop: str) -> Any:
    """Field metadata: the component property a :class:`PageSetup` field sets."""
    return field(default=no_update, metadata={"target": (component, prop)})


@dataclass
class PageSetup:
    """What opening a map sets on the page: title, notes, every control's options and first
    value (from the URL, checked against the map), the first planes. A field left at
    ``no_update`` is not changed. :meth:`apply` sets them on the page's layout."""

    title: Any = _to(ids.MAP_TITLE, "children")
    subtitle: Any = _to(ids.MAP_SUBTITLE, "children")
    error: Any = _to(ids.MAP_ERROR, "children")
    notice: Any = _to(ids.MAP_NOTICE, "children")
    body_style: Any = _to(ids.MAP_BODY, "style")
    session_options: Any = _to(ids.SESSIONS, "options")
    sessions: Any = _to(ids.SESSIONS, "value")
    channel_options: Any = _to(ids.CHANNEL, "options")
    channel: Any = _to(ids.CHANNEL, "value")
    x_options: Any = _to(ids.PLOT_X, "options")
    x: Any = _to(ids.PLOT_X, "value")
    y_options: Any = _to(ids.PLOT_Y, "options")
    y: Any = _to(ids.PLOT_Y, "value")
    segment_options: Any = _to(ids.PLOT_SEGMENT, "options")
    segment: Any = _to(ids.PLOT_SEGMENT, "value")
    roi_options: Any = _to(ids.PLOT_ROI, "options")
    roi: Any = _to(ids.PLOT_ROI, "value")
    slice: Any = _to(ids.SLICE, "data")
    include_bad: Any = _to(ids.PLOT_BAD, "value")
    selection: Any = _to(ids.SELECTION, "data")
    # the first viewers come with the page's setup: no second round trip before them
    viewers: Any = _to(ids.VIEWER_GRID, "children")
    # the edit mode's settings and toolbar: only for users who may edit the map
    edit_config: Any = _to(ids.EDIT_CONFIG, "data")
    edit_bar_style: Any = _to(ids.EDIT_BAR, "style")

    @classmethod
    def targets(cls) -> list[tuple[str, str]]:
        """The ``(component id, property)`` each field sets, in field order."""
        return [f.metadata["target"] for f in fields(cls)]

    def values(self) -> tuple[Any, ...]:
        """The fields' values, in field order."""
        return tuple(getattr(self, f.name) for f in fields(self))

    def apply(self, layout: L) -> L:
        """Set every field that is not ``no_update`` on its component in ``layout`` (the
        page's skeleton), so the page comes with the map opened: no round trip after it."""
        by_id = {c.id: c for c in layout._traverse() if isinstance(getattr(c, "id", None), str)}
        for (component, prop), value in zip(self.targets(), self.values(), strict=True):
            if value is no_update:
                continue
            if component not in by_id:
                raise KeyError(f"the page has no component {component!r} for {prop!r}")
            setattr(by_id[component], prop, value)
        return layout

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
        rv = ref_version(map_data)
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
    cfg = edit_config(ref.owner, ref.name)
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
        edit_config=cfg or NO_EDIT_CONFIG,
        edit_bar_style={} if cfg else HIDDEN,
    )


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
        rv = ref_version(map_data)
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
        return [error_alert(f"The viewers cannot be shown: {e}")]
