"""The API blueprint and its one error handler (every error is JSON with its status)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from werkzeug.exceptions import HTTPException

from pymapmanager import MapManagerError

from ..extensions import SETTINGS_KEY
from ..services.maps import clean_message

__all__ = ["api_blueprint", "error_response"]

api_blueprint = Blueprint("api", __name__)


def error_response(e: Exception) -> tuple[Response, int]:
    """``{"error": kind, "message": text, "status": code}`` for a typed or HTTP error."""
    if isinstance(e, MapManagerError):
        status, kind, message = e.status, type(e).__name__, str(e)
    elif isinstance(e, HTTPException):
        status, kind = e.code or 500, e.name
        message = "internal error" if status >= 500 else (e.description or e.name)
    else:  # pragma: no cover - only the two classes above are registered
        status, kind, message = 500, "Internal Server Error", "internal error"
    settings = current_app.config.get(SETTINGS_KEY)
    message = clean_message(message, getattr(settings, "data_dir", None))  # no server paths
    body = {"error": kind, "message": message, "status": status}
    details = getattr(e, "details", None)  # e.g. an invalid upload's problems, file by file
    if isinstance(details, dict):
        body |= {k: v for k, v in details.items() if k not in body}
    resp = jsonify(body)
    resp.headers["Cache-Control"] = "no-store"
    return resp, status


api_blueprint.register_error_handler(MapManagerError, error_response)
api_blueprint.register_error_handler(HTTPException, error_response)


@api_blueprint.app_errorhandler(HTTPException)
def _api_path_error(e: HTTPException) -> Response | HTTPException | tuple[Response, int]:
    """A URL under the API that no route matches (e.g. a newline in a name): JSON there too."""
    from flask import request

    if request.blueprint is None and "/api/v1/" in request.path + "/":
        return error_response(e)
    return e
