"""Maps in and out: a zip posted whole, resumable tus uploads, the drop folder, download.

Chunked upload for clients (the tus 1.0.0 protocol, extensions creation and termination;
any tus client works: Uppy's Tus plugin, tus-js-client, tuspy, ``pymapmanager.client``):

1. ``POST /api/v1/uploads/<owner>`` with ``Tus-Resumable: 1.0.0``, ``Upload-Length: N``
   and ``Upload-Metadata: filename <base64>`` (for a folder, one upload per file, each
   with ``relativePath <base64 of map/sub/file>``) -> ``201``, ``Location`` of the upload.
2. ``PATCH <location>`` with ``Content-Type: application/offset+octet-stream``,
   ``Upload-Offset: <where it is>`` and the next bytes -> ``204`` with the new
   ``Upload-Offset``. A chunk at another offset is ``409``; one sent while another
   request writes is ``423`` (retry).
3. After a dropped connection: ``HEAD <location>`` -> ``Upload-Offset``; go on from there.
4. ``POST /api/v1/uploads/<owner>/import`` with ``{"uploads": [ids], "overwrite": false}``
   -> ``202`` with an import job (``Location``: its ``status_url``); ``409`` at once when
   an upload is unfinished or already imported.
5. ``GET <status_url>`` until ``state`` is ``done`` (``result``: the map's id) or
   ``failed`` (``error``: ``status`` 400 with ``problems`` saying why it is not a map, file
   by file; 409 when the name is taken: import again with ``overwrite``).
``DELETE <location>`` abandons an upload. Unfinished uploads expire (setting).
"""

from __future__ import annotations

import logging
import secrets
import threading
from pathlib import Path
from typing import IO, Any

from flask import Response, current_app, jsonify, request, url_for
from werkzeug.formparser import FormDataParser

from pymapmanager.errors import (
    InvalidParameterError,
    MapManagerError,
    MapNotFoundError,
    TooLargeError,
)

from .. import auth
from ..extensions import settings_of
from ..services import maps as maps_service
from ..services import tus, uploads
from . import schemas as S
from .blueprint import api_blueprint as bp
from .blueprint import error_response
from .params import bool_arg
from .spec import Param, binary, doc, empty, header, json_body, json_response

__all__: list[str] = []

log = logging.getLogger(__name__)

#: the chunked protocol for clients (the module's docstring), shown in the OpenAPI document
_PROTOCOL = (__doc__ or "").split("\n\n", 1)[-1]

TUS_HEADERS = {"Tus-Resumable": tus.TUS_VERSION}
_TUS_RESUMABLE = Param(
    "Tus-Resumable", required=True, enum=(tus.TUS_VERSION,), where="header",
    description="the tus protocol version", example=tus.TUS_VERSION,
)  # fmt: skip
_OFFSET_HEADER = {"Upload-Offset": header({"type": "integer", "minimum": 0}, "bytes received")}
_TUS_RESP = {"Tus-Resumable": header({"type": "string"})}
_MULTIPART_OVERHEAD = 64 << 10


# --------------------------------------------------------------------------- access


def _writer(owner: str) -> str:
    """The user who may add maps to ``owner`` (the owner, or an admin); else 401/403/404.

    ``owner`` must be ``public`` or an existing user: no folder is made for anyone else.
    """
    try:
        uploads.check_owner_name(owner)
    except InvalidParameterError:
        raise MapNotFoundError(f"no user {owner}") from None
    auth.check_can_create(owner)
    if owner != auth.PUBLIC_OWNER:
        from ..auth.users import get_user
        from ..db import session

        if get_user(session(), owner) is None:
            raise MapNotFoundError(f"no user {owner}")
    name = auth.current_user_name()
    assert name is not None  # check_can_create needs a login
    return name


def _data_dir() -> Path:
    return settings_of(current_app).data_dir


def _no_store(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    return resp


# --------------------------------------------------------------------------- a zip, whole


def _receive_file(owner_folder: Path, limit: int) -> Path:
    """Stream the multipart field ``file`` to a file in the owner's folder (never in memory)."""
    length = request.content_length
    if length is not None and length > limit + _MULTIPART_OVERHEAD:
        raise TooLargeError(f"the upload of {length} bytes is over the limit of {limit} bytes")
    if request.mimetype != "multipart/form-data":
        raise InvalidParameterError("send the zip as multipart/form-data in the field 'file'")
    tmp_dir = owner_folder / ".uploads"
    tmp_dir.mkdir(exist_ok=True)
    made: list[Path] = []

    def factory(
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        p = tmp_dir / f"post-{secrets.token_hex(8)}.part"
        made.append(p)
        return open(p, "wb+")

    parser = FormDataParser(
        stream_factory=factory,  # type: ignore[arg-type]
        max_form_memory_size=1 << 20,
        max_content_length=limit + _MULTIPART_OVERHEAD,
        max_form_parts=20,
    )
    try:
        _stream, _form, files = parser.parse(
            request.stream, request.mimetype, length, request.mimetype_params
        )
        f = files.get("file")
        if f is None or not made:
            raise InvalidParameterError("the multipart field 'file' (the zip) is missing")
        f.stream.flush()
        keep = Path(f.stream.name)  # type: ignore[union-attr]
        for fs in files.values():
            fs.close()
        size = keep.stat().st_size
        if size > limit:
            raise TooLargeError(f"the upload of {size} bytes is over the limit of {limit} bytes")
    except BaseException:
        for p in made:
            p.unlink(missing_ok=True)
        raise
    for p in made:
        if p != keep:
            p.unlink(missing_ok=True)
    return keep


@bp.post("/maps/<owner>")
@doc(
    tags=["upload"],
    auth=True,
    errors=(400, 404, 409, 413),
    query=[Param("overwrite", "boolean", description="replace a map of that name (the old one is kept as a version)")],
    body={
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            }
        },
    },
    responses={201: json_response(S.IMPORT_RESULT, "The map was imported")},
)
def post_map(owner: str) -> tuple[Response, int]:
    """Upload a zipped map folder (multipart field ``file``); 201 with the map's id.

    The zip holds one folder ``<map>/`` with ``<map>/<map>.txt`` (or the map's files at its
    root). It is checked whole (no absolute or ``..`` paths, links, devices; bomb limits),
    extracted into a staging folder, validated with the library and renamed into place:
    400 when it is not a valid map (``problems`` file by file), 409 when the name exists
    (unless ``overwrite=true``), 413 over the size limit.
    """
    _writer(owner)
    overwrite = bool_arg("overwrite")
    settings = settings_of(current_app)
    folder = uploads.owner_dir(_data_dir(), owner)
    zip_path = _receive_file(folder, settings.upload_max_bytes)
    try:
        res = uploads.import_zip(zip_path, _data_dir(), owner, settings, overwrite=overwrite)
    finally:
        zip_path.unlink(missing_ok=True)
    resp = jsonify(res.to_dict())
    resp.headers["Location"] = url_for("api.map_info", owner=owner, name=res.name)
    return _no_store(resp), 201


@bp.get("/maps/<owner>/<name>/download")
@doc(
    tags=["maps"],
    responses={
        200: binary(
            "application/zip",
            "The map folder as a zip (streamed)",
            {"Content-Disposition": header({"type": "string"})},
        )
    },
)
def download_map(owner: str, name: str) -> Response:
    """The map folder as a zip, streamed as it is written (``<name>/...`` inside)."""
    ref = maps_service.map_ref(owner, name)
    folder = maps_service.map_folder(ref)
    gen = uploads.stream_map_zip(folder, ref.name)
    resp = Response(gen, mimetype="application/zip", direct_passthrough=True)
    resp.headers["Content-Disposition"] = f'attachment; filename="{ref.name}.zip"'
    return _no_store(resp)


@bp.post("/incoming/<owner>")
@doc(
    tags=["upload"],
    auth=True,
    responses={200: json_response(S.INCOMING_RESULTS, "What happened to each entry")},
)
def import_incoming(owner: str) -> Response:
    """Import the maps copied into the owner's drop folder ``DATA_DIR/<owner>/incoming/``.

    Each folder (or zip) is validated, then moved into place; one that is not valid stays,
    with ``<entry>.problems.txt`` beside it.
    """
    _writer(owner)
    results = uploads.import_incoming(_data_dir(), owner, settings_of(current_app))
    return _no_store(jsonify({"owner": owner, "results": results}))


# --------------------------------------------------------------------------- tus


class TusVersionError(MapManagerError):
    """The request's ``Tus-Resumable`` is missing or not a version this server speaks."""

    status = 412


def _tus_version_error(e: TusVersionError) -> tuple[Response, int]:
    resp, status = error_response(e)
    resp.headers["Tus-Version"] = tus.TUS_VERSION
    resp.headers["Tus-Resumable"] = tus.TUS_VERSION
    return resp, status


bp.register_error_handler(TusVersionError, _tus_version_error)


def _check_tus() -> None:
    if request.headers.get("Tus-Resumable") != tus.TUS_VERSION:
        raise TusVersionError(f"the header Tus-Resumable must be {tus.TUS_VERSION}")


def _tus(resp: Response) -> Response:
    resp.headers.update(TUS_HEADERS)
    return _no_store(resp)


def _upload_url(owner: str, upload_id: str) -> str:
    return url_for("api.tus_head", owner=owner, upload_id=upload_id)


@bp.route("/uploads/<owner>", methods=["OPTIONS"], provide_automatic_options=False)
@doc(
    tags=["upload"],
    errors=(),
    responses={
        204: empty(
            "What this tus server supports",
            {
                "Tus-Version": header({"type": "string"}),
                "Tus-Extension": header({"type": "string"}),
                "Tus-Max-Size": header({"type": "integer"}),
            },
        )
    },
)
def tus_options(owner: str) -> Response:
    """tus discovery: version, extensions and the largest upload."""
    resp = Response(status=204)
    resp.headers.update(
        {
            "Tus-Resumable": tus.TUS_VERSION,
            "Tus-Version": tus.TUS_VERSION,
            "Tus-Extension": tus.TUS_EXTENSIONS,
            "Tus-Max-Size": str(settings_of(current_app).upload_max_bytes),
        }
    )
    return resp


@bp.post("/uploads/<owner>")
@doc(
    tags=["upload"],
    auth=True,
    description=_PROTOCOL,
    errors=(400, 404, 412, 413),
    query=[
        _TUS_RESUMABLE,
        Param("Upload-Length", "integer", required=True, minimum=0, where="header",
              description="size of the whole file in bytes", example=1024),
        Param("Upload-Metadata", where="header",
              description="`key base64,key base64`: filename, relativePath (folder uploads)"),
    ],  # fmt: skip
    responses={
        201: empty(
            "Created: PATCH the bytes to Location",
            {"Location": header({"type": "string"}), **_TUS_RESP},
        )
    },
)
def tus_create(owner: str) -> tuple[Response, int]:
    """tus creation: start a resumable upload of ``Upload-Length`` bytes."""
    user = _writer(owner)
    _check_tus()
    text = request.headers.get("Upload-Length", "")
    if not text.isdigit():
        raise InvalidParameterError("Upload-Length (a byte count) is required")
    metadata = tus.parse_metadata(request.headers.get("Upload-Metadata"))
    info = tus.create_upload(
        _data_dir(), owner, int(text), metadata, settings_of(current_app), user
    )
    resp = Response(status=201)
    resp.headers["Location"] = _upload_url(owner, info.id)
    resp.headers["Upload-Offset"] = "0"
    return _tus(resp), 201


@bp.get("/uploads/<owner>")
@doc(tags=["upload"], auth=True, responses={200: json_response(S.UPLOAD_LIST, "The owner's uploads")})
def list_uploads(owner: str) -> Response:
    """The owner's uploads that are unfinished or not imported yet, with their offsets."""
    _writer(owner)
    out: list[dict[str, Any]] = []
    d = uploads.owner_dir(_data_dir(), owner) / ".uploads"
    for meta in sorted(d.glob("*.json")) if d.is_dir() else []:
        if meta.stem.startswith("job-"):  # an import job, not an upload
            continue
        try:
            info, offset = tus.get_upload(_data_dir(), owner, meta.stem)
        except MapNotFoundError:  # removed meanwhile
            continue
        if info.imported is None:
            out.append(tus.upload_json(info, offset))
    return _no_store(jsonify({"uploads": out}))


@bp.route("/uploads/<owner>/<upload_id>", methods=["HEAD"])
@doc(
    tags=["upload"],
    auth=True,
    errors=(404, 412),
    query=[_TUS_RESUMABLE],
    responses={
        200: empty(
            "Where the upload is",
            {**_OFFSET_HEADER, "Upload-Length": header({"type": "integer"}), **_TUS_RESP},
        )
    },
)
def tus_head(owner: str, upload_id: str) -> Response:
    """tus: the upload's offset (resume from there)."""
    _writer(owner)
    _check_tus()
    info, offset = tus.get_upload(_data_dir(), owner, upload_id)
    resp = Response(status=200)
    resp.headers["Upload-Offset"] = str(offset)
    resp.headers["Upload-Length"] = str(info.length)
    return _tus(resp)


@bp.route("/uploads/<owner>/<upload_id>", methods=["PATCH"])
@doc(
    tags=["upload"],
    auth=True,
    errors=(400, 404, 409, 412, 415, 423),
    query=[
        _TUS_RESUMABLE,
        Param("Upload-Offset", "integer", required=True, minimum=0, where="header",
              description="where these bytes go: the upload's current offset"),
    ],  # fmt: skip
    body={
        "required": True,
        "content": {
            "application/offset+octet-stream": {"schema": {"type": "string", "format": "binary"}}
        },
    },
    responses={204: empty("Stored", {**_OFFSET_HEADER, **_TUS_RESP})},
)
def tus_patch(owner: str, upload_id: str) -> Response:
    """tus: append the body at ``Upload-Offset`` (streamed to disk)."""
    _writer(owner)
    _check_tus()
    if request.mimetype != "application/offset+octet-stream":
        from werkzeug.exceptions import UnsupportedMediaType

        raise UnsupportedMediaType("Content-Type must be application/offset+octet-stream")
    text = request.headers.get("Upload-Offset", "")
    if not text.isdigit():
        raise InvalidParameterError("Upload-Offset (a byte count) is required")
    length = request.content_length
    # with a Content-Length, read the server's input directly (append never reads past it):
    # werkzeug's wrapper, and gunicorn's, copy every byte several times (tus.RequestBody)
    body = tus.RequestBody(request.environ, length, None if length is not None else request.stream)
    offset = tus.append(_data_dir(), owner, upload_id, int(text), body)
    resp = Response(status=204)
    resp.headers["Upload-Offset"] = str(offset)
    return _tus(resp)


@bp.route("/uploads/<owner>/<upload_id>", methods=["DELETE"])
@doc(
    tags=["upload"],
    auth=True,
    errors=(404, 412, 423),
    query=[_TUS_RESUMABLE],
    responses={204: empty("Removed", _TUS_RESP)},
)
def tus_delete(owner: str, upload_id: str) -> Response:
    """tus termination: abandon the upload and remove its bytes."""
    _writer(owner)
    _check_tus()
    tus.delete_upload(_data_dir(), owner, upload_id)
    return _tus(Response(status=204))


_IMPORT_JOB = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "owner": {"type": "string"},
        "uploads": {"type": "array", "items": {"type": "string"}},
        "state": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
        "created": {"type": "number"},
        "updated": {"type": "number"},
        "result": {**S.IMPORT_RESULT, "nullable": True},
        "error": {
            "type": "object",
            "nullable": True,
            "properties": {
                "status": {"type": "integer"},
                "error": {"type": "string"},
                "message": {"type": "string"},
                "problems": {"type": "array", "items": S.PROBLEM},
            },
            "required": ["status", "message"],
        },
        "status_url": {"type": "string"},
    },
    "required": ["id", "owner", "uploads", "state", "result", "error", "status_url"],
}

#: per process: the Celery application that queues import jobs (when CELERY_BROKER_URL is set)
_celery_apps: dict[str, Any] = {}


def _launch(owner: str, job_id: str) -> None:
    """Run the job: on a Celery worker when a broker is set, else in a thread of this worker."""
    settings = settings_of(current_app)
    broker = settings.celery_broker_url
    if broker:
        from ..background import make_celery

        if broker not in _celery_apps:
            _celery_apps[broker] = make_celery(settings)
        _celery_apps[broker].send_task(tus.IMPORT_TASK, args=[owner, job_id])
        return
    threading.Thread(
        target=tus.run_import_job, args=(settings.data_dir, owner, job_id, settings),
        name=f"pmm-import-{job_id}", daemon=True,
    ).start()  # fmt: skip


def _job_json(job: tus.ImportJob) -> dict[str, Any]:
    return job.to_json() | {"status_url": url_for("api.import_job", owner=job.owner, job_id=job.id)}


@bp.post("/uploads/<owner>/import")
@doc(
    tags=["upload"],
    auth=True,
    errors=(400, 404, 409),
    body=json_body(
        {
            "type": "object",
            "properties": {
                "uploads": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "overwrite": {"type": "boolean"},
            },
            "required": ["uploads"],
        }
    ),
    responses={
        202: json_response(_IMPORT_JOB, "Accepted: the import runs as a job; poll status_url (Location)")
    },
)
def import_uploads(owner: str) -> tuple[Response, int]:
    """Turn finished uploads into a map (one zip, or every file of one map folder), as a job.

    The uploads are checked at once (404 unknown, 409 unfinished or already imported);
    the import itself (zip checks, extraction, validation with the library, rename into
    place) runs apart from the request, on a Celery worker when ``CELERY_BROKER_URL`` is
    set, else in the web worker's process: 202 with the job, whose ``status_url``
    (``GET``) says ``queued``, ``running``, ``done`` (``result``: the map) or ``failed``
    (``error``: ``status`` 400 with ``problems`` file by file for a map that is not
    valid, 409 for a name taken, ...).
    """
    user = _writer(owner)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("uploads"), list):
        raise InvalidParameterError('send {"uploads": [upload ids], "overwrite": false}')
    ids = body["uploads"]
    if not ids or not all(isinstance(i, str) for i in ids):
        raise InvalidParameterError("uploads must be a list of upload ids")
    overwrite = body.get("overwrite", False)
    if not isinstance(overwrite, bool):
        raise InvalidParameterError("overwrite must be true or false")
    job = tus.start_import(_data_dir(), owner, ids, overwrite=overwrite, user=user)
    _launch(owner, job.id)
    data = _job_json(job)
    resp = jsonify(data)
    resp.headers["Location"] = data["status_url"]
    return _no_store(resp), 202


@bp.get("/uploads/<owner>/jobs/<job_id>")
@doc(tags=["upload"], auth=True, responses={200: json_response(_IMPORT_JOB, "The import job")})
def import_job(owner: str, job_id: str) -> Response:
    """An import job: ``queued``, ``running``, ``done`` (``result``) or ``failed`` (``error``)."""
    _writer(owner)
    return _no_store(jsonify(_job_json(tus.get_job(_data_dir(), owner, job_id))))
