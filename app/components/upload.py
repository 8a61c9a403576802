"""The upload widget of the My maps page: Uppy (vendored) over our tus endpoint, and the drop folder.

The browser script ``assets/pmm_upload.js`` loads the vendored Uppy bundle when the widget
is on the page, mounts its dashboard (files or a whole map folder, progress bar, pause and
resume) and sends every file by the tus protocol to ``/api/v1/uploads/<owner>`` in chunks:
a dropped connection or a server restart resumes where it stopped, and a file added again
after a reload resumes from the server's offset. When the files are up it asks
``/api/v1/uploads/<owner>/import`` to make the map (one zip, or the files of one folder)
and shows the answer: the new map, or why it is not a valid map, file by file.
"""

from __future__ import annotations

import logging
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State, dcc, html, no_update
from flask import current_app

from app import ids

from .. import auth
from ..extensions import settings_of
from ..services import uploads

__all__ = ["import_drop_folder", "register", "result_view", "upload_widget"]

log = logging.getLogger(__name__)


def upload_widget() -> html.Div:
    """The widget (cheap: Dash builds every layout at start)."""
    return html.Div(
        id=ids.UPLOAD_WIDGET,
        className="card shadow-sm pmm-upload",
        **{
            "data-api": dash.get_relative_path("/api/v1/"),
            "data-assets": dash.get_asset_url(""),
            "data-result-id": ids.UPLOAD_RESULT,
            "data-refresh-id": ids.MYMAPS_REFRESH,
            "data-overwrite-id": ids.UPLOAD_OVERWRITE,
        },
        children=[
            html.Div(
                className="card-header d-flex align-items-center gap-3",
                children=[
                    html.H6("Upload maps", className="mb-0"),
                    html.Span(
                        "a zipped map folder, or a map folder; large uploads resume after a break",
                        className="small text-muted",
                    ),
                ],
            ),
            html.Div(
                className="card-body",
                children=[
                    dcc.Store(id=ids.UPLOAD_OWNER),
                    html.Div(id=ids.UPLOAD_DASHBOARD, className="pmm-upload-dashboard"),
                    html.Div(
                        className="d-flex align-items-center gap-3 mt-2",
                        children=[
                            dbc.Checkbox(
                                id=ids.UPLOAD_OVERWRITE,
                                label="Replace a map of the same name (the old one is kept)",
                                value=False,
                            ),
                            dbc.Button(
                                "Import the drop folder", id=ids.UPLOAD_INCOMING, size="sm",
                                color="secondary", outline=True, className="ms-auto",
                                title="maps copied into DATA_DIR/<owner>/incoming/ on the server",
                            ),  # fmt: skip
                        ],
                    ),
                    html.Div(id=ids.UPLOAD_RESULT, className="mt-2 small", role="status"),
                ],
            ),
        ],
    )


def result_view(results: list[dict[str, Any]]) -> list[Any]:
    """One line per import: the map made, or why not (problems file by file)."""
    out: list[Any] = []
    for r in results:
        ok = r.get("status") == "imported"
        head = f"{r.get('entry', '')}: {r.get('message', '')}" if not ok else f"{r['entry']}: imported as {r['map']}"
        problems = [
            html.Li(f"{p.get('file') or '-'}{'' if p.get('line') is None else ':' + str(p['line'])}: {p.get('problem')}")
            for p in r.get("problems") or []
        ]
        out.append(
            html.Div(
                [html.Span(head), html.Ul(problems, className="mb-1") if problems else None],
                className="text-success" if ok else ("text-muted" if r.get("status") == "busy" else "text-danger"),
            )
        )
    if not out:
        out.append(html.Div("The drop folder is empty.", className="text-muted"))
    return out


def import_drop_folder(n_clicks: int | None, owner: str | None, refresh: int | None) -> tuple[Any, Any]:
    """The drop-folder button: import ``DATA_DIR/<owner>/incoming/`` (owner or admin only)."""
    if not n_clicks or not owner:
        return no_update, no_update
    try:
        auth.check_can_create(owner)
        results = uploads.import_incoming(settings_of(current_app).data_dir, owner, settings_of(current_app))
    except auth.LoginRequiredError:
        return html.Div("Log in to import maps.", className="text-danger"), no_update
    except auth.AccessDeniedError as e:
        return html.Div(str(e), className="text-danger"), no_update
    except OSError as e:
        log.warning("drop folder of %s: %s", owner, e)
        return html.Div(f"The drop folder could not be read: {e.strerror}", className="text-danger"), no_update
    imported = any(r["status"] == "imported" for r in results)
    return result_view(results), ((refresh or 0) + 1) if imported else no_update


def register(app: dash.Dash) -> None:
    """Bind the widget's callbacks (the owner mirror for the browser script, the drop folder)."""
    app.clientside_callback(
        ClientsideFunction(namespace="pmm_upload", function_name="set_owner"),
        Output(ids.UPLOAD_OWNER, "data"),
        Input(ids.MYMAPS_OWNER, "value"),
    )
    app.callback(
        Output(ids.UPLOAD_RESULT, "children"),
        Output(ids.MYMAPS_REFRESH, "data", allow_duplicate=True),
        Input(ids.UPLOAD_INCOMING, "n_clicks"),
        State(ids.MYMAPS_OWNER, "value"),
        State(ids.MYMAPS_REFRESH, "data"),
        prevent_initial_call=True,
    )(import_drop_folder)
