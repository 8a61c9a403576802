"""REST API under ``/api/v1``: thin views that adapt the request and call services."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify
from werkzeug.exceptions import HTTPException

from pymapmanager import MapManagerError

from ..extensions import cache_backend

api_blueprint = Blueprint("api", __name__)


@api_blueprint.errorhandler(MapManagerError)
def _map_error(e: MapManagerError) -> Any:
    return jsonify({"error": type(e).__name__, "message": str(e)}), e.status


@api_blueprint.errorhandler(HTTPException)
def _http_error(e: HTTPException) -> Any:
    return jsonify({"error": e.name, "message": e.description}), e.code


@api_blueprint.get("/status")
def status() -> Any:
    """Health and which cache backend is active."""
    import pymapmanager

    return jsonify({"status": "ok", "version": pymapmanager.__version__, "cache": cache_backend(current_app)})
