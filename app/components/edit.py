"""The map page's edit toolbar (issue 9): Edit toggle, Undo, Redo, Save, Discard, the unsaved
indicator (count and age), who else edits, messages and the History panel.

Layout only: the browser's edit mode (``app/assets/75-pmm-edit.js``) does the work through the
REST routes ``/api/v1/maps/<owner>/<name>/edits``, ``/save``, ``/versions``. The toolbar is
hidden until :func:`edit_config` says the request may edit the map (``callbacks.map_edit``).
"""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html
from flask import current_app

from .. import ids
from ..auth import can_edit, current_user_name
from ..extensions import settings_of

__all__ = ["HIDDEN", "NO_EDIT_CONFIG", "api_base", "edit_bar", "edit_config", "edit_stores"]

HIDDEN: dict[str, Any] = {"display": "none"}


def api_base(owner: str, name: str) -> str:
    """The map's REST base URL (``<prefix>api/v1/maps/<owner>/<name>``)."""
    return f"{settings_of(current_app).url_prefix}api/v1/maps/{owner}/{name}"


#: EDIT_CONFIG's data when this request may not edit the map (the browser's edit mode is off)
NO_EDIT_CONFIG: dict[str, Any] = {}


def edit_config(owner: str, name: str) -> dict[str, Any] | None:
    """What the browser's edit mode needs, or None when this request may not edit the map."""
    if not owner or not name or not can_edit(owner, name):
        return None
    return {"api": api_base(owner, name), "user": current_user_name() or "", "can_edit": True}


def edit_stores() -> list[Any]:
    """The edit mode's stores (always in the page: the plot and run strip callbacks take EDIT_VERSION).

    Neither starts as null: dcc.Store sets a null ``data`` to ``undefined`` when it mounts, a
    change that would run every callback taking it (the plot, the tables, the run strip) on
    every open. EDIT_CONFIG is set by the page's setup (``app.components.map_setup``)."""
    return [
        dcc.Store(id=ids.EDIT_CONFIG, data=NO_EDIT_CONFIG),
        dcc.Store(id=ids.EDIT_VERSION, data={"version": None, "edits": False}),
    ]


def _button(
    label: str, id_: str, title: str, color: str = "secondary", disabled: bool = True
) -> dbc.Button:
    return dbc.Button(
        label, id=id_, size="sm", color=color, outline=True, title=title, disabled=disabled
    )


def edit_bar() -> html.Div:
    """The toolbar (hidden; shown to editors by ``callbacks.map_edit``)."""
    return html.Div(
        id=ids.EDIT_BAR,
        className="pmm-edit-bar",
        style=HIDDEN,
        children=[
            html.Div(
                className="d-flex align-items-center flex-wrap gap-2",
                children=[
                    dbc.Button(
                        "Edit",
                        id=ids.EDIT_TOGGLE,
                        size="sm",
                        color="primary",
                        outline=True,
                        title="edit mode on/off (E); ? lists the edit keys",
                    ),
                    dbc.ButtonGroup(
                        [
                            _button("Undo", ids.EDIT_UNDO, "undo the last edit (Ctrl/⌘ Z)"),
                            _button("Redo", ids.EDIT_REDO, "redo (Ctrl/⌘ Shift Z)"),
                        ],
                        size="sm",
                    ),
                    _button(
                        "Save",
                        ids.EDIT_SAVE,
                        "save your edits to the map as a new version (Ctrl/⌘ S)",
                        "success",
                    ),
                    _button("Discard", ids.EDIT_DISCARD, "throw away your unsaved edits", "danger"),
                    html.Span(
                        "no unsaved changes", id=ids.EDIT_STATUS, className="small pmm-edit-status"
                    ),
                    html.Span(
                        "", id=ids.EDIT_OTHERS, className="small text-warning pmm-edit-others"
                    ),
                    _button(
                        "History",
                        ids.EDIT_HISTORY_OPEN,
                        "saved versions of the map; restore one",
                        disabled=False,
                    ),
                ],
            ),
            html.Div(id=ids.EDIT_MESSAGE, className="pmm-edit-message", hidden=True, role="status"),
            html.Div(
                id=ids.EDIT_HISTORY,
                className="pmm-edit-history card card-body p-2 my-1",
                hidden=True,
            ),
        ],
    )
