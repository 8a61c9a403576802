"""REST API under ``/api/v1``: thin views that adapt the request and call services."""

from __future__ import annotations

from . import views  # noqa: F401  (defines the routes on the blueprint)
from .blueprint import api_blueprint

__all__ = ["api_blueprint"]
