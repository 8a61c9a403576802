"""The OpenAPI 3 document of ``/api/v1``, generated from the routes themselves.

Every route of the API blueprint is found in Flask's URL map: its path, methods and path
parameters (with their converters' types) come from the route definition, its summary from
the view's docstring. What a rule cannot say (query parameters, headers, the body, the
shape of the answers) is declared next to the view with :func:`doc`, so the document moves
with the code. :func:`build_spec` assembles it with apispec; ``/api/v1/openapi.json``
serves it and ``/api/docs`` renders it with the vendored Swagger UI.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from apispec import APISpec
from flask import Flask
from werkzeug.routing import Rule
from werkzeug.routing.converters import FloatConverter, IntegerConverter, PathConverter

import pymapmanager

__all__ = ["Param", "binary", "build_spec", "doc", "empty", "json_body", "json_response"]

F = TypeVar("F", bound=Callable[..., Any])

#: Where :func:`doc` keeps what it declares on the view function.
ATTR = "_openapi"

ERROR = {"$ref": "#/components/schemas/Error"}


@dataclass(frozen=True)
class Param:
    """A query parameter or a request header."""

    name: str
    type: str = "string"
    required: bool = False
    description: str = ""
    enum: tuple[str, ...] | None = None
    minimum: float | None = None
    example: Any = None
    where: str = "query"

    def to_dict(self) -> dict[str, Any]:
        """The OpenAPI parameter object."""
        schema: dict[str, Any] = {"type": self.type}
        if self.enum is not None:
            schema["enum"] = list(self.enum)
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        out: dict[str, Any] = {
            "name": self.name,
            "in": self.where,
            "required": self.required,
            "schema": schema,
        }
        if self.description:
            out["description"] = self.description
        if self.example is not None:
            out["example"] = self.example
        return out


@dataclass
class Doc:
    """What :func:`doc` declared for one view."""

    query: list[Param] = field(default_factory=list)
    responses: dict[int, dict[str, Any]] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    auth: bool = False
    tags: list[str] = field(default_factory=list)
    etag: bool = False
    description: str | None = None
    errors: tuple[int, ...] = (400, 404)


def doc(
    *,
    query: list[Param] | None = None,
    responses: dict[int, dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    auth: bool = False,
    tags: list[str] | None = None,
    etag: bool = False,
    errors: tuple[int, ...] = (400, 404),
    description: str | None = None,
) -> Callable[[F], F]:
    """Declare what the route definition cannot say: parameters, body, answers.

    Parameters
    ----------
    query : list of Param
        Query parameters (and headers, with ``where="header"``).
    responses : dict
        Status -> response object (:func:`json_response`, :func:`binary`, :func:`empty`).
    body : dict, optional
        The request body object (:func:`json_body` or a multipart/binary one).
    auth : bool
        The route needs a logged-in user or a token (adds 401 and 403).
    etag : bool
        The answer carries an ETag (adds 304).
    errors : tuple of int
        Error statuses answered as JSON :data:`ERROR` besides those (default 400, 404).
    """

    def wrap(fn: F) -> F:
        setattr(
            fn,
            ATTR,
            Doc(
                query=list(query or []),
                responses=dict(responses or {}),
                body=body,
                auth=auth,
                tags=list(tags or []),
                etag=etag,
                errors=errors,
                description=description,
            ),
        )
        return fn

    return wrap


def json_response(schema: dict[str, Any], description: str = "OK", headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """A JSON response object."""
    out: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        out["headers"] = headers
    return out


def binary(mimetype: str, description: str = "OK", headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """A response of raw bytes (an image, a zip)."""
    out: dict[str, Any] = {
        "description": description,
        "content": {mimetype: {"schema": {"type": "string", "format": "binary"}}},
    }
    if headers:
        out["headers"] = headers
    return out


def empty(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """A response without a body."""
    out: dict[str, Any] = {"description": description}
    if headers:
        out["headers"] = headers
    return out


def json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    """A JSON request body."""
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def header(schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    """A response header object."""
    out: dict[str, Any] = {"schema": schema}
    if description:
        out["description"] = description
    return out


# --------------------------------------------------------------------------- building

_STATUS_TEXT = {
    304: "Not modified (the ETag still matches)",
    400: "Bad request: a parameter, the body or an upload is not valid",
    401: "No valid login or token",
    403: "Not allowed for this user",
    404: "No such map, session, upload or route (or not visible to this user)",
    405: "Method not allowed",
    409: "Conflict with the current state",
    411: "Length required",
    412: "Precondition failed",
    413: "Over the size limit",
    415: "Unsupported media type",
    423: "Locked: another request is using it (retry)",
}

_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "message", "status"],
    "properties": {
        "error": {"type": "string", "description": "the kind of error"},
        "message": {"type": "string", "description": "one line for a person"},
        "status": {"type": "integer"},
        "problems": {
            "type": "array",
            "description": "why an upload is not a valid map, file by file",
            "items": {
                "type": "object",
                "properties": {
                    "file": {"type": "string", "nullable": True},
                    "line": {"type": "integer", "nullable": True},
                    "problem": {"type": "string"},
                },
            },
        },
    },
}


def _openapi_path(rule: Rule) -> tuple[str, list[dict[str, Any]]]:
    """``/maps/<owner>/<int:session>`` -> ``/maps/{owner}/{session}`` and its parameters."""
    params: list[dict[str, Any]] = []
    converters = rule._converters  # the rule's own record of its parameters

    def repl(m: re.Match[str]) -> str:
        name = m.group("name")
        conv = converters.get(name)
        if isinstance(conv, IntegerConverter):
            schema: dict[str, Any] = {"type": "integer", "minimum": 0}
        elif isinstance(conv, FloatConverter):
            schema = {"type": "number", "minimum": 0}
        elif isinstance(conv, PathConverter):
            schema = {"type": "string", "minLength": 1}
        else:
            schema = {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
        return "{" + name + "}"

    path = re.sub(r"<(?:[a-zA-Z_]+(?:\([^)]*\))?:)?(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)>", repl, rule.rule)
    return path, params


def _summary(fn: Callable[..., Any]) -> tuple[str, str]:
    text = (fn.__doc__ or "").strip()
    first, _, rest = text.partition("\n")
    return first.strip(), rest.strip()


def build_spec(server: Flask, blueprint: str = "api", exclude: tuple[str, ...] = ("api.unknown",)) -> dict[str, Any]:
    """The OpenAPI 3 document of every route of ``blueprint`` on ``server``."""
    spec = APISpec(
        title="PyMapManager API",
        version=pymapmanager.__version__,
        openapi_version="3.0.3",
        info={
            "description": (
                "Maps of dendritic spines: list, read, upload (a zip, or resumable by the "
                "tus 1.0.0 protocol), download. Send a token as `Authorization: Bearer "
                "<token>`; errors are JSON `{error, message, status}`."
            )
        },
    )
    spec.components.schema("Error", _ERROR_SCHEMA)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme(
        "session", {"type": "apiKey", "in": "cookie", "name": "session"}
    )
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(server.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.endpoint.startswith(blueprint + ".") or rule.endpoint in exclude:
            continue
        fn = server.view_functions[rule.endpoint]
        meta: Doc = getattr(fn, ATTR, None) or Doc()
        path, path_params = _openapi_path(rule)
        methods = set(rule.methods or ())
        if "GET" in methods:
            methods.discard("HEAD")  # implied by GET
        if "OPTIONS" in methods and getattr(rule, "provide_automatic_options", True):
            methods.discard("OPTIONS")
        summary, description = _summary(fn)
        for method in sorted(methods):
            responses: dict[str | int, Any] = {str(k): v for k, v in meta.responses.items()}
            codes = set(meta.errors)
            if meta.auth:
                codes |= {401, 403}
            for code in sorted(codes):
                responses.setdefault(
                    str(code), json_response(ERROR, _STATUS_TEXT.get(code, "Error"))
                )
            if meta.etag:
                responses.setdefault("304", empty(_STATUS_TEXT[304]))
            op: dict[str, Any] = {
                "operationId": rule.endpoint.split(".", 1)[1] + ("" if len(methods) == 1 else f"_{method.lower()}"),
                "summary": summary,
                "parameters": path_params + [p.to_dict() for p in meta.query],
                "responses": responses,
            }
            if meta.description or description:
                op["description"] = meta.description or description
            if meta.tags:
                op["tags"] = meta.tags
            if meta.body is not None and method in ("POST", "PUT", "PATCH"):
                op["requestBody"] = meta.body
            op["security"] = [{"bearer": []}, {"session": []}] if meta.auth else [{}, {"bearer": []}, {"session": []}]
            paths.setdefault(path, {})[method.lower()] = op
    for path, ops in paths.items():
        spec.path(path=path, operations=ops)
    return spec.to_dict()
