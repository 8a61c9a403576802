"""Callbacks of the map page's tables card: the spine table, the runs x sessions view, the
dynamics panel, "go to run" and the exports.

Selecting a row (or going to a run) selects the run everywhere through the browser's own
selection path, the one a plot click takes (``pmm.state.select`` in ``app/assets``, which
records the ``SELECTION`` store). A selection anywhere selects and scrolls to the run's row
in the browser alone (``app/assets/70-pmm-dash.js``, through the grids' own API, row id =
run), and the spine table follows the session a run was picked in by a clientside callback:
a selection makes no server round trip here. The server only builds the tables' rows (from
the editor's working copy when there are unsaved edits, as the plot).
"""

from __future__ import annotations

import logging
from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State, ctx, dcc, no_update

from app import ids
from app.components.deferred import when_shown
from app.components.spine_table import dynamics_columns, runs_columns, spine_columns
from app.figures.dynamics import dynamics_figure
from app.figures.mapplot import empty_figure
from app.services.edits import reading_version
from app.services.maps import data_version, map_ref
from app.services.viewer import (
    SESSION_LEVEL_STATS,
    TABLE_STATS,
    day_label,
    dynamics_csv,
    map_dynamics,
    map_overview,
    plot_table,
    runs_table,
    session_table,
    values_csv_tidy,
    values_csv_wide,
)
from app.state import MapKey, Selection
from callbacks.map_edit import editing
from pymapmanager import MapManagerError

__all__ = [
    "SELECT_FROM_TABLES",
    "dynamics_view",
    "export_file",
    "export_table",
    "FOLLOW_SELECTION_SESSION",
    "go_to_run",
    "register",
    "runs_view",
    "spine_table",
    "table_setup",
]

log = logging.getLogger(__name__)

#: Browser side of a table pick: select the run everywhere the way a plot click does
#: (``pmm.state.select`` moves every viewer, rings the spine, highlights the plot and records
#: SELECTION); without the viewer script, record SELECTION directly.
SELECT_FROM_TABLES = """
function (spineRows, runRows, pick, selection, tableSession) {
    var dc = window.dash_clientside;
    var nu = dc.no_update;
    var trig = (dc.callback_context.triggered || [])[0];
    var pid = trig ? trig.prop_id : "";
    var run = null, session = null, fromPick = false;
    var tables = window.pmm && window.pmm.tables;
    // a row the browser selected for a selection made elsewhere, or kept with new rows, is
    // no pick (a late one would take back a selection changed since)
    var grid = pid.split(".")[0];
    if (tables && (grid === "pmm-table-grid" || grid === "pmm-runs-grid") && tables.notByUser(grid)) { return nu; }
    if (pid.indexOf("pmm-table-grid.") === 0) {
        if (!spineRows || !spineRows.length) { return nu; }
        run = spineRows[0].run; session = tableSession;
    } else if (pid.indexOf("pmm-runs-grid.") === 0) {
        if (!runRows || !runRows.length) { return nu; }
        run = runRows[0].run;
    } else if (pid.indexOf("pmm-table-pick.") === 0) {
        if (!pick) { return nu; }
        run = pick.run; session = pick.session; fromPick = true;
    }
    if (run === null || run === undefined) { return nu; }
    var s = (session === null || session === undefined) ? null : session;
    if (window.pmm && window.pmm.state && typeof window.pmm.state.select === "function") {
        // a row the browser selected for the view's own selection is not selected again
        if (!fromPick && window.pmm.state.get().run === run) { return nu; }
        // the view state owns the selection (app/assets/10-pmm-state.js): the same path a click takes
        window.pmm.state.select(run, {source: "table", session: s}, {kind: "select", t0: performance.now()});
        return nu;
    }
    if (!fromPick && selection && selection.run === run) { return nu; }
    return {run: run, session: s, source: "table"};
}
"""

#: A run picked in a session's image or in the plot shows that session's spine table
#: (picks from the tables, a selection restored from the address: the table stays).
FOLLOW_SELECTION_SESSION = """
function (selection, current) {
    var nu = window.dash_clientside.no_update;
    var sel = selection || {};
    if (typeof sel.run !== "number" || typeof sel.session !== "number" || sel.session === current) { return nu; }
    if (["table", "init", "restore"].indexOf(sel.source) >= 0) { return nu; }
    return sel.session;
}
"""


def _ref_version(map_data: Any) -> tuple[Any, str] | None:
    key = MapKey.from_store(map_data)
    if not key.owner or not key.name:
        return None
    try:
        ref = map_ref(key.owner, key.name)
        return ref, data_version(ref)
    except MapManagerError:  # unknown, hidden or unreadable: the page says so elsewhere
        return None


def _session_text(s: dict[str, Any]) -> str:
    day = day_label(s.get("days"))
    return " · ".join(b for b in (f"session {s['index']}", day, s.get("condition") or "") if b)


def table_setup(sessions: list[int] | None, map_data: Any, current: int | None) -> tuple[Any, Any, Any, Any]:
    """The spine table's session choices (the first shown session at first) and statistics."""
    try:
        rv = _ref_version(map_data)
        if rv is None:
            return no_update, no_update, no_update, no_update
        ref, version = rv
        ov = map_overview(ref, version)
    except MapManagerError:
        return no_update, no_update, no_update, no_update
    opts = [{"label": _session_text(s), "value": s["index"]} for s in ov["sessions"]]
    valid = {s["index"] for s in ov["sessions"]}
    value: Any = no_update
    if current not in valid:
        shown = sorted(int(s) for s in sessions or [] if s in valid)
        value = shown[0] if shown else (0 if valid else None)
    stats = [s for s in ov["statistics"] if s not in SESSION_LEVEL_STATS]
    default = [s for s in TABLE_STATS if s in stats] or stats[:6]
    stat_opts = [{"label": s, "value": s} for s in stats]
    if ctx.triggered_id == ids.SESSIONS and current in valid:
        return opts, value, no_update, no_update
    return opts, value, stat_opts, default


def spine_table(
    session: int | None,
    stats: list[str] | None,
    roi: str | None,
    map_data: Any,
    edit_version: Any = None,
) -> tuple[Any, ...]:
    """The objects of one session with their statistics (from the editor's working copy when
    ``edit_version`` says there are unsaved edits); the browser selects the selected run's row."""
    if session is None:
        return [], [], ""
    try:
        rv = _ref_version(map_data)
        if rv is None:
            return no_update, no_update, ""
        ref, _saved = rv
        with reading_version(ref, editing(edit_version)) as version:
            t = session_table(ref, version, int(session), stats or [], roi=roi)
    except MapManagerError as e:
        return [], [], str(e)
    missing = [s for s in stats or [] if s not in t["stats"] and s not in SESSION_LEVEL_STATS]
    info = f"{len(t['rows'])} {t['roi']} objects in session {session}"
    if missing:
        info += f" · not in this session: {', '.join(missing)}"
    return t["rows"], spine_columns(t["stats"]), info


def runs_view(
    x: str | None,
    y: str | None,
    segment: int | None,
    roi: str | None,
    include_bad: bool | None,
    map_data: Any,
    edit_version: Any = None,
) -> tuple[Any, ...]:
    """Runs x sessions of the plotted statistic (``y``), with the plot's filters (from the
    editor's working copy when there are unsaved edits, as the plot)."""
    if not x or not y:
        return no_update, no_update, ""
    try:
        rv = _ref_version(map_data)
        if rv is None:
            return no_update, no_update, ""
        ref, _saved = rv
        seg = None if segment is None or segment < 0 else int(segment)
        with reading_version(ref, editing(edit_version)) as version:
            table = plot_table(ref, version, x, y, roi=roi, segment=seg, include_bad=bool(include_bad))
            ov = map_overview(ref, version)
    except MapManagerError as e:
        return [], [], str(e)
    sessions = [
        {"index": s["index"], "label": f"S{s['index']}", "tooltip": _session_text(s)}
        for s in ov["sessions"]
    ]
    rows = runs_table(table, "y")
    where = "all segments" if seg is None else f"segment {seg}"
    info = f"{y} of {len(rows)} runs ({table['roi']}, {where}{', bad included' if include_bad else ''}) · a row selects the run"
    return rows, runs_columns(sessions, y), info


def dynamics_view(roi: str | None, include_bad: bool | None, segment: int | None, map_data: Any) -> tuple[Any, Any, Any]:
    """The dynamics panel: a small figure of the plot's segment and the table of every segment."""
    try:
        rv = _ref_version(map_data)
        if rv is None:
            return no_update, no_update, no_update
        ref, version = rv
        recs = map_dynamics(ref, version, roi=roi, include_bad=bool(include_bad))
    except MapManagerError as e:
        return empty_figure(str(e)), [], []
    seg = None if segment is None or segment < 0 else int(segment)
    return dynamics_figure(recs, seg), recs, dynamics_columns()


def go_to_run(clicks: int | None, submitted: int | None, value: Any, map_data: Any) -> tuple[Any, str]:
    """The "go to run #" box: a run the map has is picked (selected everywhere by the browser)."""
    if value is None or value == "":
        return no_update, "type a run number"
    try:
        run = int(value)
    except (TypeError, ValueError):
        return no_update, f"'{value}' is not a run number"
    try:
        rv = _ref_version(map_data)
        if rv is None:
            return no_update, ""
        ref, version = rv
        n = int(map_overview(ref, version)["num_runs"])
    except MapManagerError as e:
        return no_update, str(e)
    if not 0 <= run < n:
        return no_update, f"no run {run}: the map has runs 0 to {n - 1}"
    return Selection(run, None, "table").to_store() | {"n": int(clicks or 0) + int(submitted or 0)}, ""


def export_file(
    wide: int | None,
    tidy: int | None,
    dyn: int | None,
    x: str | None,
    y: str | None,
    segment: int | None,
    roi: str | None,
    include_bad: bool | None,
    map_data: Any,
) -> Any:
    """CSV downloads: the plotted values (runs x sessions or tidy), the map's dynamics."""
    which = ctx.triggered_id
    rv = _ref_version(map_data)
    if rv is None or which is None:
        return no_update
    ref, version = rv
    seg = None if segment is None or segment < 0 else int(segment)
    where = "" if seg is None else f"_segment{seg}"
    if which == ids.EXPORT_DYNAMICS:
        recs = map_dynamics(ref, version, roi=roi, include_bad=bool(include_bad))
        return dcc.send_string(dynamics_csv(recs), f"{ref.name}_dynamics.csv", type="text/csv")
    if not x or not y:
        return no_update
    table = plot_table(ref, version, x, y, roi=roi, segment=seg, include_bad=bool(include_bad))
    if which == ids.EXPORT_VALUES_WIDE:
        return dcc.send_string(values_csv_wide(table), f"{ref.name}_{y}{where}_runs_x_sessions.csv", type="text/csv")
    return dcc.send_string(values_csv_tidy(table), f"{ref.name}_{x}_{y}{where}_tidy.csv", type="text/csv")


def export_table(clicks: int | None, tab: str | None, session: int | None, y: str | None, map_data: Any) -> tuple[Any, ...]:
    """The open tab's table as shown (filtered, sorted), exported by the grid itself."""
    if not clicks:
        return (no_update,) * 6
    key = MapKey.from_store(map_data)
    out: list[Any] = [no_update] * 6
    if tab == "runs":
        out[2:4] = [True, {"fileName": f"{key.name}_{y}_runs_table.csv"}]
    elif tab == "dynamics":
        out[4:6] = [True, {"fileName": f"{key.name}_dynamics_table.csv"}]
    else:
        out[0:2] = [True, {"fileName": f"{key.name}_session{session}_spines.csv"}]
    return tuple(out)


def _spine_table_outputs(
    session: Any, stats: Any, roi: Any, edit_version: Any, map_data: Any, shown_columns: Any
) -> tuple[Any, ...]:
    rows, columns, info = spine_table(session, stats, roi, map_data, edit_version)
    # the columns the grid has already (a selection in another session: new rows, the same
    # statistics) are not sent again: new column definitions make AG Grid build every
    # header and cell again (most of what a plot click left for the garbage collector)
    if columns is not no_update and columns == shown_columns:
        columns = no_update
    return rows, columns, info


def _runs_view_outputs(
    x: Any, y: Any, segment: Any, roi: Any, include_bad: Any, edit_version: Any, map_data: Any
) -> tuple[Any, ...]:
    return runs_view(x, y, segment, roi, include_bad, map_data, edit_version)


def register(app: dash.Dash) -> None:
    """Bind the tables card's callbacks to ``app``."""
    app.callback(
        Output(ids.TABLE_SESSION, "options"),
        Output(ids.TABLE_SESSION, "value"),
        Output(ids.TABLE_STATS, "options"),
        Output(ids.TABLE_STATS, "value"),
        Input(ids.SESSIONS, "value"),
        Input(ids.MAP_REF, "data"),
        # the tables are filled once they are shown (after the plot): the server answers
        # the first planes and the plot first
        Input(ids.DEFER_TABLES, "shown"),
        State(ids.TABLE_SESSION, "value"),
        # nothing to do before they are shown (the container says so when it draws them)
        prevent_initial_call=True,
    )(when_shown(table_setup, 2))
    app.callback(
        Output(ids.TABLE_GRID, "rowData"),
        Output(ids.TABLE_GRID, "columnDefs"),
        Output(ids.TABLE_INFO, "children"),
        Input(ids.TABLE_SESSION, "value"),
        Input(ids.TABLE_STATS, "value"),
        Input(ids.PLOT_ROI, "value"),
        Input(ids.EDIT_VERSION, "data"),
        State(ids.MAP_REF, "data"),
        State(ids.TABLE_GRID, "columnDefs"),
        prevent_initial_call=True,
    )(_spine_table_outputs)
    app.callback(
        Output(ids.RUNS_GRID, "rowData"),
        Output(ids.RUNS_GRID, "columnDefs"),
        Output(ids.RUNS_INFO, "children"),
        Input(ids.PLOT_X, "value"),
        Input(ids.PLOT_Y, "value"),
        Input(ids.PLOT_SEGMENT, "value"),
        Input(ids.PLOT_ROI, "value"),
        Input(ids.PLOT_BAD, "value"),
        Input(ids.EDIT_VERSION, "data"),
        Input(ids.DEFER_TABLES, "shown"),
        State(ids.MAP_REF, "data"),
        prevent_initial_call=True,
    )(when_shown(_runs_view_outputs, 6))
    # a selection's session, the grids' selected row and their scrolling: in the browser only
    app.clientside_callback(
        FOLLOW_SELECTION_SESSION,
        Output(ids.TABLE_SESSION, "value", allow_duplicate=True),
        Input(ids.SELECTION, "data"),
        State(ids.TABLE_SESSION, "value"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("pmm", "tables"),
        Output(ids.VIEW_SINK, "data", allow_duplicate=True),
        Input(ids.TABLE_GRID, "rowData"),
        Input(ids.RUNS_GRID, "rowData"),
        Input(ids.MAP_TABS, "active_tab"),
        prevent_initial_call=True,
    )
    app.callback(
        Output(ids.DYN_FIGURE, "figure"),
        Output(ids.DYN_GRID, "rowData"),
        Output(ids.DYN_GRID, "columnDefs"),
        Input(ids.PLOT_ROI, "value"),
        Input(ids.PLOT_BAD, "value"),
        Input(ids.PLOT_SEGMENT, "value"),
        Input(ids.DEFER_TABLES, "shown"),
        State(ids.MAP_REF, "data"),
        prevent_initial_call=True,
    )(when_shown(dynamics_view, 3))
    app.callback(
        Output(ids.TABLE_PICK, "data"),
        Output(ids.GOTO_RUN_MSG, "children"),
        Input(ids.GOTO_RUN_GO, "n_clicks"),
        Input(ids.GOTO_RUN, "n_submit"),
        State(ids.GOTO_RUN, "value"),
        State(ids.MAP_REF, "data"),
        prevent_initial_call=True,
    )(go_to_run)
    app.callback(
        Output(ids.MAP_DOWNLOAD, "data"),
        Input(ids.EXPORT_VALUES_WIDE, "n_clicks"),
        Input(ids.EXPORT_VALUES_TIDY, "n_clicks"),
        Input(ids.EXPORT_DYNAMICS, "n_clicks"),
        State(ids.PLOT_X, "value"),
        State(ids.PLOT_Y, "value"),
        State(ids.PLOT_SEGMENT, "value"),
        State(ids.PLOT_ROI, "value"),
        State(ids.PLOT_BAD, "value"),
        State(ids.MAP_REF, "data"),
        prevent_initial_call=True,
    )(export_file)
    app.callback(
        Output(ids.TABLE_GRID, "exportDataAsCsv"),
        Output(ids.TABLE_GRID, "csvExportParams"),
        Output(ids.RUNS_GRID, "exportDataAsCsv"),
        Output(ids.RUNS_GRID, "csvExportParams"),
        Output(ids.DYN_GRID, "exportDataAsCsv"),
        Output(ids.DYN_GRID, "csvExportParams"),
        Input(ids.EXPORT_TABLE, "n_clicks"),
        State(ids.MAP_TABS, "active_tab"),
        State(ids.TABLE_SESSION, "value"),
        State(ids.PLOT_Y, "value"),
        State(ids.MAP_REF, "data"),
        prevent_initial_call=True,
    )(export_table)
    app.clientside_callback(
        SELECT_FROM_TABLES,
        Output(ids.SELECTION, "data", allow_duplicate=True),
        Input(ids.TABLE_GRID, "selectedRows"),
        Input(ids.RUNS_GRID, "selectedRows"),
        Input(ids.TABLE_PICK, "data"),
        State(ids.SELECTION, "data"),
        State(ids.TABLE_SESSION, "value"),
        prevent_initial_call=True,
    )
