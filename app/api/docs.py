"""``/api/v1/openapi.json`` (built from the routes) and ``/api/docs`` (Swagger UI, vendored)."""

from __future__ import annotations

import html
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from ..extensions import settings_of
from .blueprint import api_blueprint as bp
from .spec import build_spec, doc, json_response

__all__ = ["docs_blueprint", "openapi_document"]

#: ``/api/docs`` lives beside ``/api/v1``, outside the versioned API.
docs_blueprint = Blueprint("api_docs", __name__)

_SPEC_KEY = "pmm_openapi"


def openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document (built once per app: routes do not change after start)."""
    spec = current_app.extensions.get(_SPEC_KEY)
    if spec is None:
        spec = build_spec(current_app)
        current_app.extensions[_SPEC_KEY] = spec
    return dict(spec)


@bp.get("/openapi.json")
@doc(tags=["service"], errors=(), responses={200: json_response({"type": "object"}, "OpenAPI 3")})
def openapi_json() -> Response:
    """This API's OpenAPI 3 document, generated from the route definitions."""
    resp = jsonify(openapi_document())
    resp.headers["Cache-Control"] = "no-cache"
    return resp


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>PyMapManager API</title>
<link rel="stylesheet" href="{assets}vendor/swagger-ui/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{assets}vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="{assets}apidocs/pmm_api_docs.js" data-spec-url="{spec}"></script>
</body>
</html>
"""


@docs_blueprint.get("/docs")
def docs_page() -> Response:
    """The API's documentation page: Swagger UI rendering ``openapi.json``."""
    prefix = settings_of(current_app).url_prefix
    page = _PAGE.format(
        assets=html.escape(prefix + "assets/"),
        spec=html.escape(prefix + "api/v1/openapi.json"),
    )
    resp = Response(page, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-cache"
    return resp

