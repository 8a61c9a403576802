"""Editing maps over the API: the edit log, save, versions and restore (issue 9).

Every route needs a logged-in user (session cookie from this site, or ``Authorization:
Bearer <token>``) with write access to the map for the edit routes (anonymous: 401, a
reader: 403, a map one may not read: 404); the list of versions needs read access.
A map is ``<owner>/<name>``. The "working copy" is the saved map plus my unsaved edits;
the read routes (annotations, values, tracing) answer from it with ``?edits=1``.

Errors are JSON with ``message`` (one line for a person) and ``status``; an invalid
command is ``422`` with ``error`` = the message; a save that would overwrite someone's
work is ``409`` with ``conflicts`` ``[[session, row], ...]`` and ``their_version``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Response, jsonify, request

from pymapmanager.errors import InvalidParameterError

from ..services import edits, maps
from . import schemas as S
from .blueprint import api_blueprint as bp
from .blueprint import error_response
from .params import str_arg
from .spec import Param, doc, json_body, json_response

__all__: list[str] = []

MAP = "/maps/<owner>/<name>"

# --------------------------------------------------------------------------- schemas

_OBJ = {"type": "object"}
APPLIED = S.obj(
    {
        "command": {"type": "object", "description": "the command as stored: {op, ...}"},
        "summary": {"type": "string", "description": "one line saying what changed"},
        "touched": S.arr(S.arr(S.INT)),
        "changed_sessions": S.arr(S.INT),
    }
)
OTHER = S.obj({"user": S.STR, "unsaved": S.INT, "since": S.STR_N})
EDITS_STATE = S.obj(
    {
        "map": S.STR,
        "user": S.STR,
        "base_version": S.STR,
        "saved_version": S.STR,
        "version": S.STR,
        "edits": S.arr(APPLIED),
        "can_undo": S.BOOL,
        "can_redo": S.BOOL,
        "unsaved": S.INT,
        "log_length": S.INT,
        "oldest_unsaved": S.STR_N,
        "others": S.arr(OTHER),
    }
)
EDIT_RESULT = S.obj(
    {
        "applied": APPLIED,
        "version": S.STR,
        "base_version": S.STR,
        "can_undo": S.BOOL,
        "can_redo": S.BOOL,
        "unsaved": S.INT,
        "sessions": {"type": "object", "additionalProperties": S.ANNOTATIONS},
    }
)
DISCARDED = S.obj({"discarded": S.INT, "version": S.STR})
VERSION = S.obj(
    {
        "id": S.INT,
        "user": S.STR,
        "time": S.STR_N,
        "kind": {"type": "string", "enum": ["original", "save", "merge", "restore"]},
        "commands": S.arr(S.STR),
        "applied": S.arr(APPLIED),
        "data_version_before": S.STR_N,
        "data_version_after": S.STR_N,
        "restored_from": S.INT_N,
        "message": S.STR,
    }
)
VERSION_N = {**VERSION, "nullable": True}
SAVE_RESULT = S.obj({"version": VERSION_N, "merged": S.BOOL, "message": S.STR})
RESTORE_RESULT = S.obj({"version": VERSION, "message": S.STR})
VERSIONS = S.obj({"map": S.STR, "versions": S.arr(VERSION)})
_ERR_PROPS: dict[str, Any] = {"error": S.STR, "message": S.STR, "status": S.INT}
_ERR_REQUIRED = ["error", "message", "status"]
REFUSED = S.obj({**_ERR_PROPS, "op": S.STR_N, "reason": S.STR_N}, required=_ERR_REQUIRED)
CONFLICT = S.obj(
    {**_ERR_PROPS, "conflicts": S.arr(S.arr(S.INT)), "their_version": VERSION_N},
    required=_ERR_REQUIRED,
)
_ROI = Param("roi", description="ROI type of the annotations sent back (default the map's) or 'all'")

_COMMAND_BODY = json_body(
    {
        "type": "object",
        "description": (
            "One edit command as in `mapmanager edit`: {op, ...}; op is add_spine, move, delete, "
            "set_bad, set_note, set_user_type, connect, disconnect, undo or redo"
        ),
        "properties": {
            "op": {
                "type": "string",
                "enum": ["add_spine", "move", "delete", "set_bad", "set_note", "set_user_type",
                         "connect", "disconnect", "undo", "redo"],  # fmt: skip
            },
            "session": {"type": "integer", "minimum": 0},
            "row": {"type": "integer", "minimum": 0},
        },
        "required": ["op"],
        "example": {"op": "set_bad", "session": 0, "row": 1, "bad": True},
    }
)


# --------------------------------------------------------------------------- helpers


def _no_store(resp: Response, status: int = 200) -> tuple[Response, int]:
    resp.headers["Cache-Control"] = "no-store"
    return resp, status


def edit_route(view: Callable[..., tuple[Response, int]]) -> Callable[..., tuple[Response, int]]:
    """Resolve the map (404 when hidden or absent), errors reading it are its 422; the
    edit service's refusals and conflicts become JSON with ``error`` = the message."""

    @functools.wraps(view)
    def wrapped(owner: str, name: str, **kw: Any) -> tuple[Response, int]:
        ref = maps.map_ref(owner, name)
        try:
            with maps.map_errors(ref):
                maps.map_folder(ref)
                return view(ref, **kw)
        except (edits.EditRefusedError, edits.SaveConflictError) as e:
            resp, status = error_response(e)
            body = resp.get_json()
            body["error"] = body["message"]  # the contract: error = the message
            return _no_store(jsonify(body), status)

    return wrapped


def _body() -> Any:
    if request.content_length == 0 and not request.data:
        return None
    body = request.get_json(silent=True)
    if body is None and request.data:
        raise InvalidParameterError("the body must be JSON")
    return body


# --------------------------------------------------------------------------- routes


@bp.get(MAP + "/edits")
@doc(
    tags=["edits"],
    auth=True,
    errors=(400, 404, 409),
    responses={200: json_response(EDITS_STATE)},
)
@edit_route
def get_edits(ref: maps.MapRef) -> tuple[Response, int]:
    """My unsaved edits of the map, whether I can undo or redo, and who else has unsaved edits.

    ``version`` is my working copy's version (changes with every edit); ``base_version``
    the data version my edits were made on; ``saved_version`` the map's data version now.
    """
    return _no_store(jsonify(edits.edits_state(ref)))


@bp.post(MAP + "/edits")
@doc(
    tags=["edits"],
    auth=True,
    query=[_ROI],
    body=_COMMAND_BODY,
    errors=(400, 404, 409),
    responses={
        200: json_response(EDIT_RESULT, "The command was applied and stored"),
        422: json_response(REFUSED, "The command is not valid here: nothing was stored"),
    },
)
@edit_route
def post_edit(ref: maps.MapRef) -> tuple[Response, int]:
    """Apply one edit command (or ``{"op": "undo"}`` / ``{"op": "redo"}``) and store it in my log.

    Answers what changed and the annotations of every changed session as my working copy
    now has them (same shape as ``GET .../sessions/<s>/annotations?edits=1``).
    """
    body = _body()
    return _no_store(jsonify(edits.append(ref, body, roi=str_arg("roi"))))


@bp.delete(MAP + "/edits")
@doc(tags=["edits"], auth=True, errors=(400, 404), responses={200: json_response(DISCARDED)})
@edit_route
def discard_edits(ref: maps.MapRef) -> tuple[Response, int]:
    """Discard my unsaved edits of the map (kept in the log, marked discarded)."""
    return _no_store(jsonify(edits.discard(ref)))


@bp.post(MAP + "/save")
@doc(
    tags=["edits"],
    auth=True,
    body=json_body(
        {
            "type": "object",
            "properties": {
                "base_version": {"type": "string", "description": "the base_version of GET .../edits"}
            },
        },
        required=False,
    ),
    errors=(400, 404),
    responses={
        200: json_response(SAVE_RESULT, "Saved as a new version (or nothing to save)"),
        409: json_response(
            CONFLICT, "The map changed since and my edits touch the same objects: nothing written"
        ),
    },
)
@edit_route
def save(ref: maps.MapRef) -> tuple[Response, int]:
    """Save my unsaved edits as a new version of the map (crash-safe; merged when the map changed).

    When the map was saved by someone else since my edits were made and my edits touch
    other objects, they are applied on top of that version (``merged``: true); when they
    touch the same objects: 409 naming them, nothing written, my edits kept.
    """
    body = _body()
    base = None
    if isinstance(body, dict):
        b = body.get("base_version")
        if b is not None and not isinstance(b, str):
            raise InvalidParameterError("base_version must be a string")
        base = b
    elif body is not None:
        raise InvalidParameterError('the body must be a JSON object {"base_version": ...}')
    return _no_store(jsonify(edits.save(ref, base)))


@bp.get(MAP + "/versions")
@doc(tags=["edits"], errors=(400, 404), responses={200: json_response(VERSIONS)})
@edit_route
def versions(ref: maps.MapRef) -> tuple[Response, int]:
    """Every saved version of the map, newest first: who, when, the commands, data versions."""
    return _no_store(jsonify(edits.list_versions(ref)))


@bp.post(MAP + "/versions/<int:version>/restore")
@doc(
    tags=["edits"],
    auth=True,
    errors=(400, 404),
    responses={
        200: json_response(RESTORE_RESULT, "Restored as a new version"),
        409: json_response(CONFLICT, "I have unsaved edits on the map: save or discard them first"),
    },
)
@edit_route
def restore(ref: maps.MapRef, version: int) -> tuple[Response, int]:
    """Restore a version: its files become a new version of the map (nothing is deleted)."""
    return _no_store(jsonify(edits.restore(ref, version)))

