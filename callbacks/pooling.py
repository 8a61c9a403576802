"""Callbacks of the pooling page.

The flow: the maps, statistic, groups and filters make a :class:`PoolSpec`;
:func:`prepare_pool` answers at once when its bundle is cached, else hands it to
:func:`compute_pool`, a background callback (own process, progress bar, cancel) that
reads the maps. :func:`render_pool` turns a bundle into the figures, the summary and the
messages; it is the only callback that runs when just the normalisation, cohorts, error
bars or run lines change, and it never reads a map.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, ClientsideFunction, Input, Output, State, html, no_update
from flask import Flask

from app import ids
from app.auth import identity_from_grant, identity_grant, run_as
from app.background import LOST_JOB_MESSAGE
from app.components.pooling import group_row, summary_table
from app.figures.pooling import dynamics_figure, empty_figure, pool_figure
from app.services import pooling as svc
from pymapmanager.errors import MapManagerError

__all__ = [
    "check_groups",
    "download",
    "filter_maps",
    "group_rows",
    "load_catalog",
    "open_run",
    "prepare_pool",
    "read_groups",
    "register",
    "render_pool",
    "stats_for",
]

log = logging.getLogger(__name__)

#: at most this many warnings are listed; the rest are counted
MAX_MESSAGES = 8


# --------------------------------------------------------------------------- choosing maps


def load_catalog(
    pathname: str | None,
) -> tuple[list[dict[str, Any]], list[dict[str, str]], list[dict[str, str]]]:
    """Every visible map (for the picker), and the owners and map conditions to filter by."""
    entries = svc.pool_entries()
    slim = [
        {
            k: e.get(k)
            for k in ("id", "owner", "name", "map_condition", "conditions", "days", "error")
        }
        for e in entries
    ]
    owners = sorted({e["owner"] for e in entries})
    conds = sorted({e["map_condition"] or "(none)" for e in entries})
    return (
        slim,
        [{"label": o, "value": o} for o in owners],
        [{"label": c, "value": c} for c in conds],
    )


def filter_maps(
    catalog: list[dict[str, Any]] | None,
    text: str | None,
    owners: list[str] | None,
    conditions: list[str] | None,
) -> tuple[list[dict[str, str]], list[str], str]:
    """The maps passing the filters: as options, all of them chosen, and a count."""
    entries = catalog or []
    needle = (text or "").strip().lower()
    shown = [
        e
        for e in entries
        if not e.get("error")
        and (not needle or needle in e["name"].lower() or needle in e["id"].lower())
        and (not owners or e["owner"] in owners)
        and (not conditions or (e.get("map_condition") or "(none)") in conditions)
    ]
    options = [
        {"label": f"{e['id']}" + (f"  [{e['map_condition']}]" if e.get("map_condition") else ""),
         "value": e["id"]}
        for e in shown
    ]  # fmt: skip
    bad = sum(1 for e in entries if e.get("error"))
    count = f"{len(shown)} of {len(entries)}" if len(shown) != len(entries) else f"{len(entries)}"
    if bad:
        count += f" ({bad} unreadable)"
    return options, [e["id"] for e in shown], count


def stats_for(
    maps: list[str] | None, current: str | None
) -> tuple[list[dict[str, str]], str | None]:
    """The statistics worth pooling of the chosen maps, each with how many maps have it.

    The value stays when every chosen map has it; else it becomes a statistic they all
    share (see :func:`app.services.pooling.default_stat`).
    """
    choices = svc.stat_choices(maps or [])
    shared = {c.stat for c in choices if c.maps == c.total}
    value = current if current in shared else svc.default_stat(choices)
    return [{"label": c.label, "value": c.stat} for c in choices], value


# --------------------------------------------------------------------------- session groups


def _entries_of(
    maps: Sequence[str] | None, catalog: Sequence[Mapping[str, Any]] | None
) -> list[Mapping[str, Any]]:
    chosen = set(maps or [])
    return [e for e in catalog or [] if e["id"] in chosen]


def check_groups(
    rows: Sequence[tuple[str, str]], entries: Sequence[Mapping[str, Any]]
) -> list[svc.GroupCheck]:
    """What each group matches in the chosen maps, or what is wrong with it."""
    return list(svc.check_rows(rows, entries))


def _match_text(c: svc.GroupCheck) -> str:
    """The line beside a group: ✓ what it matches, or ✗ why it is not pooled."""
    if not c.valid:
        return f"✗ {c.describe()}"
    if not c.matches:
        return "✗ matches none of the chosen maps; left out"
    return f"✓ {c.describe()}"


def group_rows(
    maps: list[str] | None,
    reset: int | None,
    add: int | None,
    deletes: list[int | None] | None,
    names: list[str | None] | None,
    patterns: list[str | None] | None,
    catalog: list[dict[str, Any]] | None,
) -> Any:
    """Rebuild the list of groups: filled from the maps' conditions (first time, Reset, and
    when the chosen maps change while the groups are the automatic ones), one added (Add),
    one removed (×). Typing in a row does not rebuild it."""
    trig = dash.ctx.triggered_id
    rows = [(n or "", p or "") for n, p in zip(names or [], patterns or [], strict=False)]
    entries = _entries_of(maps, catalog)
    if isinstance(trig, Mapping) and trig.get("type") == ids.POOL_GROUP_DELETE:
        k = trig.get("index")
        clicked = (deletes or [])[k] if isinstance(k, int) and k < len(deletes or []) else None
        if not clicked:
            return no_update  # a button just created, not clicked
        rows = [r for i, r in enumerate(rows) if i != k]
    elif trig == ids.POOL_GROUPS_ADD:
        if not add:
            return no_update
        taken = {n for n, _ in rows}
        k = len(rows) + 1
        while f"group{k}" in taken:
            k += 1
        rows.append((f"group{k}", "*"))
    elif trig == ids.POOL_GROUPS_RESET or not rows or (
        trig == ids.POOL_MAPS and all(svc.is_default_group(n, p) for n, p in rows)
    ):
        # first time, Reset, or new maps while the groups are still the automatic ones:
        # one group per condition of the chosen maps, in session order
        if trig == ids.POOL_GROUPS_RESET and not reset:
            return no_update
        new = [(g["name"], g["pattern"]) for g in svc.groups_for(entries)]
        if new == rows:
            return no_update
        rows = new
        if not rows and not entries:
            return []
    else:
        return no_update  # the user's own groups stay; read_groups flags those left out
    return [group_row(k, n, p) for k, (n, p) in enumerate(rows)]


def read_groups(
    names: list[str | None] | None,
    patterns: list[str | None] | None,
    maps: list[str] | None,
    catalog: list[dict[str, Any]] | None,
    reference: str | None,
    current: Any,
) -> tuple[list[str], Any, list[dict[str, str]], str | None]:
    """Check the groups as typed: what each matches, the groups to pool, the reference choices."""
    rows = [
        ((n or "").strip(), (p or "").strip())
        for n, p in zip(names or [], patterns or [], strict=False)
    ]
    checks = check_groups(rows, _entries_of(maps, catalog))
    matches = [_match_text(c) for c in checks]
    # the groups to pool: the invalid ones (reported by name when pooling) and those that
    # match a session of the chosen maps; a valid group matching none of them is left out
    pooled_rows = [(c.name, c.pattern) for c in checks if not c.valid or c.matches]
    usable = [c.name for c in checks if c.matches]
    options = [{"label": n, "value": n} for n in usable]
    value = reference if reference in usable else (usable[0] if usable else None)
    data = [[n, p] for n, p in pooled_rows]
    return matches, (no_update if data == current else data), options, value


# --------------------------------------------------------------------------- pooling


def _messages(items: Sequence[str], color: str = "warning") -> Any:
    if not items:
        return []
    head = list(items[:MAX_MESSAGES])
    rest = len(items) - len(head)
    body: list[Any] = [html.Ul([html.Li(m) for m in head], className="mb-0 ps-3 small")]
    if rest:
        body.append(html.Details([html.Summary(f"and {rest} more", className="small"),
                                  html.Ul([html.Li(m) for m in items[MAX_MESSAGES:]],
                                          className="mb-0 ps-3 small")]))  # fmt: skip
    return dbc.Alert(body, color=color, className="py-2 px-3 mb-2", dismissable=False)


def _spec(
    maps: list[str] | None,
    stat: str | None,
    rows: list[list[str]] | None,
    roi: str | None,
    segment: int | None,
    bad: bool | None,
) -> tuple[svc.PoolSpec | None, list[str]]:
    """The spec, or None and why not."""
    problems: list[str] = []
    if not maps:
        problems.append("Choose at least one map.")
    if not stat:
        problems.append("Choose a statistic.")
    typed = [
        (str(r[0] or ""), str(r[1] or "")) if len(r) == 2 else ("", "") for r in rows or []
    ]
    groups: list[tuple[str, str]] = []
    for c in svc.check_rows(typed, []):
        if c.valid:
            groups.append((c.name, c.pattern))
        else:
            problems.append(f"Session group '{c.name or '?'}': {c.problem}")
    if not groups and not problems:
        problems.append("Add at least one session group.")
    if problems or not maps or not stat:
        return None, problems
    seg = None if segment is None or int(segment) < 0 else int(segment)
    return svc.PoolSpec(tuple(maps), stat, tuple(groups), roi or None, seg, bool(bad)), []


def prepare_pool(
    maps: list[str] | None,
    stat: str | None,
    rows: list[list[str]] | None,
    roi: str | None,
    segment: int | None,
    bad: bool | None,
) -> tuple[Any, Any, Any]:
    """The pool when its bundle is cached (at once); else a job for :func:`compute_pool`.

    Returns ``(ready, job, messages)``.
    """
    spec, problems = _spec(maps, stat, rows, roi, segment, bad)
    if spec is None:
        return None, no_update, _messages(problems, "secondary")
    p = svc.plan(spec)
    if svc.is_ready(p):
        return {"bundle": p.bundle, "spec": spec.to_store()}, no_update, []
    # the background process acts for this user: a signed, short-lived grant (not the browser's word)
    return no_update, spec.to_store() | {"grant": identity_grant()}, []


def compute_pool(server: Flask) -> Callable[..., Any]:
    """The background callback: read the maps of a job (progress, cancel) into a bundle."""

    def compute(set_progress: Callable[[Any], None], job: Any) -> Any:
        if not job:
            return no_update
        with server.app_context(), run_as(identity_from_grant(job.get("grant"))):
            try:
                spec = svc.PoolSpec.from_store(job)
                p = svc.plan(spec)

                def progress(done: int, total: int) -> None:
                    set_progress(
                        (round(100 * done / max(total, 1)), f"reading maps: {done} of {total}")
                    )

                key = svc.compute_bundle(p, progress)
            except MapManagerError as e:
                log.warning("pooling failed: %s", e)
                return {"error": str(e)}
        return {"bundle": key, "spec": spec.to_store()}

    return compute


def pool_job_failed(err: Exception) -> dict[str, str]:
    """The ready store of a pooling job that raised outside its own handling, or whose worker
    was lost for good: the page says so (instead of stopping its progress bar with nothing)."""
    if LOST_JOB_MESSAGE in str(err):
        log.warning("pooling job lost: %s", err)
        return {"error": LOST_JOB_MESSAGE}
    log.error("pooling job failed: %s", err)
    return {"error": "an unexpected error stopped it (the server's log has the details); change any setting to pool again"}


def _result(ready: Any, mode: str | None, reference: str | None, cohorts: bool | None) -> Any:
    """(pool, dynamics, messages) from a ready store, or (None, None, messages)."""
    if not ready:
        return None, None, []
    if ready.get("error"):
        return None, None, [f"Pooling failed: {ready['error']}"]
    spec = svc.PoolSpec.from_store(ready.get("spec") or {})
    notes: list[str] = []
    m = svc.mode_of(mode)
    if m != "none" and reference not in spec.group_names():
        notes.append("Choose a reference group to normalise to; showing values as they are.")
        m = "none"
    got = svc.pooled(ready["bundle"], spec.session_groups(), stat=spec.stat, mode=m,
                     reference=reference if m != "none" else None, cohorts=bool(cohorts))  # fmt: skip
    if got is None:
        return None, None, ["The pooled data left the cache; change any setting to pool again."]
    res, dres = got
    return res, dres, notes


def render_pool(
    ready: Any,
    mode: str | None,
    reference: str | None,
    cohorts: bool | None,
    error: str | None,
    runs: bool | None,
) -> tuple[Any, Any, Any, Any, str]:
    """The figures, the summary table, the messages and the notes of a computed pool."""
    if not ready:
        blank = empty_figure("Choose maps, a statistic and session groups.")
        return blank, empty_figure(), [], no_update, ""
    res, dres, notes = _result(ready, mode, reference, cohorts)
    if res is None:
        blank = empty_figure("Nothing pooled: see the message above.")
        return blank, empty_figure(), [], _messages(notes, "danger"), ""
    err = error if error in ("sem", "sd") else "sem"
    sessions_of: dict[str, list[tuple[int, ...]]] = {}
    if runs:
        got = svc.load_bundle(ready["bundle"])
        if got is not None:
            sessions_of = {gv.label: list(gv.sessions) for gv in got[0]}
    fig = pool_figure(res, error=err, show_runs=bool(runs), sessions_of=sessions_of)
    dfig = dynamics_figure(dres, error=err, cohorts=res.cohorts)
    table = summary_table(res.summary.to_dict(orient="records"))
    warnings = [*res.warnings, *(w for w in dres.warnings if w not in res.warnings)]
    msgs = [*notes, *warnings]
    n_runs = len(res.tidy.drop_duplicates(["map", "run"])) if len(res.tidy) else 0
    info = f"{len(res.maps)} maps, {n_runs} runs" + (
        "; " + "; ".join(res.notes) if res.notes else ""
    )
    return fig, dfig, table, _messages(msgs), info


def download(
    n_tidy: int | None,
    n_summary: int | None,
    ready: Any,
    mode: str | None,
    reference: str | None,
    cohorts: bool | None,
) -> Any:
    """The tidy table or the summary as a CSV file."""
    res, _, _ = _result(ready, mode, reference, cohorts)
    if res is None:
        return no_update
    stat = re.sub(r"[^A-Za-z0-9_.-]+", "_", res.stat) or "pool"
    if dash.ctx.triggered_id == ids.POOL_EXPORT_TIDY:
        return {"content": res.tidy_csv(), "filename": f"pool_{stat}_tidy.csv", "type": "text/csv"}
    return {"content": res.summary_csv(), "filename": f"pool_{stat}_summary.csv",
            "type": "text/csv"}  # fmt: skip


def open_run(click: Any, roi: str | None) -> tuple[Any, Any]:
    """A click on a run's point: a link to that map in the viewer with the run selected."""
    try:
        point = click["points"][0]
        map_id, run, sessions = point["customdata"]
    except (TypeError, KeyError, IndexError, ValueError):
        return no_update, no_update  # a click on a mean, not on a run
    ses = [int(s) for s in str(sessions).split(",") if s.strip().isdigit()]
    url = svc.viewer_url(str(map_id), int(run), ses, roi)
    link = html.A(f"open {map_id}, run {int(run)} in the viewer ↗", href=url, target="_blank")
    return link, url


# --------------------------------------------------------------------------- binding


def register(app: dash.Dash) -> None:
    """Bind the pooling page's callbacks to ``app``."""
    app.callback(
        Output(ids.POOL_CATALOG, "data"),
        Output(ids.POOL_FILTER_OWNER, "options"),
        Output(ids.POOL_FILTER_CONDITION, "options"),
        Input(ids.LOCATION, "pathname"),
    )(load_catalog)
    app.callback(
        Output(ids.POOL_MAPS, "options"),
        Output(ids.POOL_MAPS, "value"),
        Output(ids.POOL_MAPS_COUNT, "children"),
        Input(ids.POOL_CATALOG, "data"),
        Input(ids.POOL_FILTER_TEXT, "value"),
        Input(ids.POOL_FILTER_OWNER, "value"),
        Input(ids.POOL_FILTER_CONDITION, "value"),
    )(filter_maps)
    app.callback(
        Output(ids.POOL_STAT, "options"),
        Output(ids.POOL_STAT, "value"),
        Input(ids.POOL_MAPS, "value"),
        State(ids.POOL_STAT, "value"),
    )(stats_for)
    app.callback(
        Output(ids.POOL_GROUP_ROWS, "children"),
        Input(ids.POOL_MAPS, "value"),
        Input(ids.POOL_GROUPS_RESET, "n_clicks"),
        Input(ids.POOL_GROUPS_ADD, "n_clicks"),
        Input(ids.pool_group_delete(ALL), "n_clicks"),
        State(ids.pool_group_name(ALL), "value"),
        State(ids.pool_group_pattern(ALL), "value"),
        State(ids.POOL_CATALOG, "data"),
    )(group_rows)
    app.callback(
        Output(ids.pool_group_match(ALL), "children"),
        Output(ids.POOL_GROUPS, "data"),
        Output(ids.POOL_REFERENCE, "options"),
        Output(ids.POOL_REFERENCE, "value"),
        Input(ids.pool_group_name(ALL), "value"),
        Input(ids.pool_group_pattern(ALL), "value"),
        Input(ids.POOL_MAPS, "value"),
        State(ids.POOL_CATALOG, "data"),
        State(ids.POOL_REFERENCE, "value"),
        State(ids.POOL_GROUPS, "data"),
    )(read_groups)
    app.callback(
        Output(ids.POOL_READY, "data"),
        Output(ids.POOL_JOB, "data"),
        Output(ids.POOL_MESSAGES, "children", allow_duplicate=True),
        Input(ids.POOL_MAPS, "value"),
        Input(ids.POOL_STAT, "value"),
        Input(ids.POOL_GROUPS, "data"),
        Input(ids.POOL_ROI, "value"),
        Input(ids.POOL_SEGMENT, "value"),
        Input(ids.POOL_BAD, "value"),
        prevent_initial_call=True,
    )(prepare_pool)
    app.callback(
        Output(ids.POOL_READY, "data", allow_duplicate=True),
        Input(ids.POOL_JOB, "data"),
        background=True,
        progress=[Output(ids.POOL_PROGRESS, "value"), Output(ids.POOL_PROGRESS, "label")],
        progress_default=[0, ""],
        running=[
            (Output(ids.POOL_PROGRESS_BOX, "style"), {"display": "block"}, {"display": "none"})
        ],
        cancel=[Input(ids.POOL_CANCEL, "n_clicks")],
        prevent_initial_call=True,
        on_error=pool_job_failed,
    )(compute_pool(app.server))
    app.callback(
        Output(ids.POOL_FIGURE, "figure"),
        Output(ids.POOL_DYNAMICS, "figure"),
        Output(ids.POOL_SUMMARY, "children"),
        Output(ids.POOL_MESSAGES, "children"),
        Output(ids.POOL_NOTES, "children"),
        Input(ids.POOL_READY, "data"),
        Input(ids.POOL_MODE, "value"),
        Input(ids.POOL_REFERENCE, "value"),
        Input(ids.POOL_COHORTS, "value"),
        Input(ids.POOL_ERROR, "value"),
        Input(ids.POOL_RUNS, "value"),
    )(render_pool)
    app.callback(
        Output(ids.POOL_DOWNLOAD, "data"),
        Input(ids.POOL_EXPORT_TIDY, "n_clicks"),
        Input(ids.POOL_EXPORT_SUMMARY, "n_clicks"),
        State(ids.POOL_READY, "data"),
        State(ids.POOL_MODE, "value"),
        State(ids.POOL_REFERENCE, "value"),
        State(ids.POOL_COHORTS, "value"),
        prevent_initial_call=True,
    )(download)
    app.callback(
        Output(ids.POOL_RUN_LINK, "children"),
        Output(ids.POOL_RUN_URL, "data"),
        Input(ids.POOL_FIGURE, "clickData"),
        State(ids.POOL_ROI, "value"),
        prevent_initial_call=True,
    )(open_run)
    app.clientside_callback(
        ClientsideFunction("pmm_pool", "exportFigure"),
        Output(ids.POOL_SINK, "children"),
        Input(ids.POOL_EXPORT_PNG, "n_clicks"),
        Input(ids.POOL_EXPORT_SVG, "n_clicks"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("pmm_pool", "openRun"),
        Output(ids.POOL_SINK, "title"),
        Input(ids.POOL_RUN_URL, "data"),
        prevent_initial_call=True,
    )
