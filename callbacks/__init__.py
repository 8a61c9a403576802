"""Callbacks: one module per page, plain functions bound in ``register(app)``."""

from __future__ import annotations

import dash


def register(app: dash.Dash) -> None:
    """Bind every page's callbacks to ``app``."""
