"""Callbacks of the map page's edit mode (issue 9).

The edit mode itself runs in the browser (``app/assets/75-pmm-edit.js``) over the REST routes;
here: the browser's edit mode is configured from the EDIT_CONFIG store, which the page's setup
fills with the settings of this request (``app.components.map_setup``: only for users who may
edit the map, who also get the toolbar), and the EDIT_VERSION store, which the plot and the run strip callbacks
(``callbacks.map_viewer``) take as an input so that they answer from the working copy.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import ClientsideFunction, Input, Output

from app import ids

__all__ = ["editing", "register"]


def editing(edit_version: Any) -> bool:
    """Whether an EDIT_VERSION payload asks for the working copy (unsaved edits to show)."""
    return isinstance(edit_version, dict) and bool(edit_version.get("edits"))


def register(app: dash.Dash) -> None:
    """Bind the edit mode's callbacks to ``app``."""
    # the settings come with the page (no round trip on open): configured when it is drawn
    app.clientside_callback(
        ClientsideFunction("pmm_edit", "config"),
        Output(ids.VIEW_SINK, "data", allow_duplicate=True),
        Input(ids.EDIT_CONFIG, "data"),
        prevent_initial_call="initial_duplicate",
    )
