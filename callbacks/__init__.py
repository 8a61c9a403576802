"""Callbacks: one module per page, plain functions bound in ``register(app)``."""

from __future__ import annotations

import dash

from app.components import upload as upload_widget

from . import catalog, groups, map_edit, map_tables, map_viewer, my_maps, pooling

__all__ = ["register"]


def register(app: dash.Dash) -> None:
    """Bind every page's callbacks to ``app``."""
    catalog.register(app)
    map_viewer.register(app)
    map_tables.register(app)
    map_edit.register(app)
    pooling.register(app)
    my_maps.register(app)
    groups.register(app)
    upload_widget.register(app)
