"""REST API under ``/api/v1``: thin views that adapt the request and call services.

``/api/v1/openapi.json`` describes every route (generated from the routes: ``spec.py``);
``/api/docs`` renders it.
"""

from __future__ import annotations

from . import docs, edits, uploads, views  # noqa: F401  (define the routes on the blueprint)
from .blueprint import api_blueprint
from .docs import docs_blueprint

__all__ = ["api_blueprint", "docs_blueprint"]
