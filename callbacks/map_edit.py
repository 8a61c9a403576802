"""Callbacks of the map page's edit mode (issue 9).

The edit mode itself runs in the browser (``app/assets/75-pmm-edit.js``) over the REST routes;
here: whether the request may edit the map (the toolbar is shown and the browser configured
only then), and the EDIT_VERSION store, which the plot and the run strip callbacks
(``callbacks.map_viewer``) take as an input so that they answer from the working copy.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import ClientsideFunction, Input, Output

from app import ids
from app.components.edit import HIDDEN, edit_config
from app.state import MapKey

__all__ = ["edit_setup", "editing", "register"]


def edit_setup(map_data: Any) -> tuple[Any, Any]:
    """The edit mode's settings for this request and the toolbar's style (hidden for readers)."""
    key = MapKey.from_store(map_data)
    cfg = edit_config(key.owner, key.name)
    return cfg, ({} if cfg else HIDDEN)


def editing(edit_version: Any) -> bool:
    """Whether an EDIT_VERSION payload asks for the working copy (unsaved edits to show)."""
    return isinstance(edit_version, dict) and bool(edit_version.get("edits"))


def register(app: dash.Dash) -> None:
    """Bind the edit mode's callbacks to ``app``."""
    app.callback(
        Output(ids.EDIT_CONFIG, "data"),
        Output(ids.EDIT_BAR, "style"),
        Input(ids.MAP_REF, "data"),
    )(edit_setup)
    app.clientside_callback(
        ClientsideFunction("pmm_edit", "config"),
        Output(ids.VIEW_SINK, "data", allow_duplicate=True),
        Input(ids.EDIT_CONFIG, "data"),
        prevent_initial_call=True,
    )
