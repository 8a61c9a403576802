"""The API's views: thin adapters from the request to :mod:`app.services` and back.

Every route is documented in the README's API section. JSON views answer with
``Cache-Control: no-cache`` and an ETag derived from the map's data version (a browser
revalidates and gets 304 while the map is unchanged); image views are described in
:mod:`app.services.images`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, jsonify, request
from werkzeug.exceptions import MethodNotAllowed, NotFound

import pymapmanager

from ..extensions import CACHE_KEY, cache_backend, counters
from ..services import catalog, edits, images, maps
from ..services.cache import SharedCache
from ..services.store import etag_of, ping
from . import schemas as S
from .blueprint import api_blueprint as bp
from .params import bool_arg, int_arg, str_arg
from .spec import Param, binary, doc, json_response

__all__: list[str] = []

IMMUTABLE = "public, max-age=31536000, immutable"

# OpenAPI declarations shared by several views (see app.api.spec)
_PNG = {200: binary("image/png", "A PNG image", {"ETag": {"schema": {"type": "string"}}})}
_PROJECTION = [
    Param("projection", enum=images.PROJECTIONS, description="none, max or sliding (max over z-k..z+k)"),
    Param("k", "integer", minimum=0, description="half width of a sliding projection"),
    Param("channel", "integer", minimum=1, description="channel (default the map's)"),
]
_CONTRAST = [
    Param("lo", "number", description="display range low (default automatic)"),
    Param("hi", "number", description="display range high"),
    Param("v", description="the map's data version: the answer is then immutable"),
]
_ROI = Param("roi", description="ROI type (default the map's, usually spineROI) or 'all'")
_EDITS = Param("edits", "boolean", description="answer from my working copy (saved map + my unsaved edits; editors only)")

MAP = "/maps/<owner>/<name>"
SESSION = MAP + "/sessions/<int:session>"


# --------------------------------------------------------------------------- helpers


def _not_modified(etag: str, cache_control: str) -> Response | None:
    """A 304 when the request's If-None-Match holds ``etag``."""
    if request.if_none_match.contains(etag):
        counters().incr("not_modified")
        resp = Response(status=304)
        resp.set_etag(etag)
        resp.headers["Cache-Control"] = cache_control
        return resp
    return None


def _json(build: Any, version: str | None = None) -> Response:
    """JSON from ``build()``, revalidated by an ETag of the URL and data version."""
    if version is None:
        resp = jsonify(build())
        resp.headers["Cache-Control"] = "no-cache"
        return resp
    etag = etag_of(f"{request.full_path}:{version}")
    early = _not_modified(etag, "no-cache")
    if early is not None:
        return early
    resp = jsonify(build())
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = "no-cache"
    return resp


def _image(job: images.ImageJob) -> Response:
    """The job's PNG, immutable when the URL carries the current data version (``v=``)."""
    versioned = request.args.get("v") == job.version
    cache_control = IMMUTABLE if versioned else "no-cache"
    etag = job.etag
    early = _not_modified(etag, cache_control)
    if early is not None:
        return early
    resp = Response(images.image_bytes(job), mimetype=job.mimetype)
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = cache_control
    return resp


def _params() -> images.ImageParams:
    return images.ImageParams.from_query(request.args)


def map_route(view: Callable[..., Response]) -> Callable[..., Response]:
    """Run a map's view so that any failure reading that map's files is its 422."""

    @functools.wraps(view)
    def wrapped(owner: str, name: str, **kw: Any) -> Response:
        ref = maps.map_ref(owner, name)
        with maps.map_errors(ref):
            maps.map_folder(ref)  # a folder that is not a readable map: 422 at once
            return view(owner, name, **kw)

    return wrapped


# --------------------------------------------------------------------------- service


@bp.get("/")
@doc(tags=["service"], errors=(), responses={200: json_response(S.INDEX)})
def index() -> Response:
    """The API's routes."""
    rules = sorted(
        {r.rule for r in current_app.url_map.iter_rules() if r.endpoint.startswith("api.")}
    )
    return jsonify({"api": "pymapmanager", "version": pymapmanager.__version__, "routes": rules})


@bp.get("/status")
@doc(tags=["service"], errors=(), responses={200: json_response(S.STATUS)})
def status() -> Response:
    """Health, the cache (backend, ``cache_state`` up/degraded/down, sizes) and this worker
    process's counters. Always answers, whatever state the cache is in."""
    shared = current_app.extensions.get(CACHE_KEY)
    reachable = ping()
    detail = shared.status() if isinstance(shared, SharedCache) else {}
    counts = counters().snapshot()
    if isinstance(shared, SharedCache):
        for k, v in shared.counts.items():
            counts[k] = counts.get(k, 0) + v
    resp = jsonify(
        {
            "status": "ok",
            "version": pymapmanager.__version__,
            "cache": cache_backend(current_app),
            "cache_reachable": reachable,
            "cache_state": detail.get("state", "down"),
            "cache_detail": detail,
            "pid": os.getpid(),
            "counters": dict(sorted(counts.items())),
        }
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.route("/<path:rest>", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def unknown(rest: str) -> Response:
    """Any other path under the API: a JSON 404 (405 when only the method is wrong)."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    endpoint, _ = adapter.match(method="GET")
    if endpoint != "api.unknown" and request.method not in ("GET", "HEAD"):
        raise MethodNotAllowed(valid_methods=["GET", "HEAD"])
    raise NotFound(f"no API endpoint /{rest}")


# --------------------------------------------------------------------------- maps (JSON)


@bp.get("/maps")
@doc(
    tags=["maps"],
    errors=(400,),
    query=[Param("owner", description="only this owner's maps", example="public")],
    responses={200: json_response(S.MAP_LIST)},
)
def list_maps() -> Response:
    """Every visible map (``?owner=`` for one owner's)."""
    owner = str_arg("owner")
    return _json(lambda: {"maps": catalog.list_maps(owner)})


@bp.get(MAP)
@doc(tags=["maps"], etag=True, responses={200: json_response(S.MAP_INFO)})
@map_route
def map_info(owner: str, name: str) -> Response:
    """``mapmanager info --json`` plus id, version and images per session."""
    ref = maps.map_ref(owner, name)
    version = maps.data_version(ref)
    return _json(lambda: maps.map_info(ref, version), version)


@bp.get(MAP + "/statistics")
@doc(tags=["maps"], etag=True, responses={200: json_response(S.STATISTICS)})
@map_route
def statistics(owner: str, name: str) -> Response:
    """The statistics ``values`` accepts."""
    ref = maps.map_ref(owner, name)
    version = maps.data_version(ref)
    return _json(lambda: {"map": ref.id, "statistics": maps.map_statistics(ref, version)}, version)


@bp.get(MAP + "/values")
@doc(
    tags=["maps"],
    etag=True,
    query=[
        Param("stat", required=True, description="a statistic of /statistics", example="pDist"),
        _ROI,
        Param("segment", description="map segment number or 'all'"),
        Param("include_bad", "boolean", description="include objects marked bad"),
        _EDITS,
    ],
    responses={200: json_response(S.VALUES)},
)
@map_route
def values(owner: str, name: str) -> Response:
    """Map values: ``?stat=`` (required) ``&roi=&segment=&include_bad=``."""
    ref = maps.map_ref(owner, name)
    stat = str_arg("stat")
    if stat is None:
        raise pymapmanager.InvalidParameterError("the parameter 'stat' is required")
    seg_text = request.args.get("segment", "")
    segment = None if seg_text in ("", "all") else int_arg("segment", minimum=0)
    roi = str_arg("roi")
    include_bad = bool_arg("include_bad")
    with edits.reading_version(ref, bool_arg("edits")) as version:
        return _json(
            lambda: maps.values(
                ref, stat, roi=roi, segment=segment, include_bad=include_bad, version=version
            ),
            version,
        )


@bp.get(SESSION + "/annotations")
@doc(tags=["maps"], etag=True, query=[_ROI, _EDITS], responses={200: json_response(S.ANNOTATIONS)})
@map_route
def session_annotations(owner: str, name: str, session: int) -> Response:
    """Every object of a session (``?roi=`` a type or ``all``)."""
    ref = maps.map_ref(owner, name)
    roi = str_arg("roi")
    with edits.reading_version(ref, bool_arg("edits")) as version:
        return _json(lambda: maps.session_annotations(ref, session, roi=roi, version=version), version)


@bp.get(SESSION + "/tracing")
@doc(tags=["maps"], etag=True, query=[_EDITS], responses={200: json_response(S.TRACING)})
@map_route
def session_tracing(owner: str, name: str, session: int) -> Response:
    """The session's dendrite tracing, one polyline per segment."""
    ref = maps.map_ref(owner, name)
    with edits.reading_version(ref, bool_arg("edits")) as version:
        return _json(lambda: maps.tracing(ref, session, version=version), version)


# --------------------------------------------------------------------------- images


@bp.get(SESSION + "/planes/<int:z>")
@doc(tags=["images"], etag=True, query=_PROJECTION + _CONTRAST, responses=_PNG)
@map_route
def plane(owner: str, name: str, session: int, z: int) -> Response:
    """An 8-bit PNG of a plane or projection."""
    ref = maps.map_ref(owner, name)
    return _image(images.plane_job(ref, session, z, _params()))


@bp.get(SESSION + "/planes/<int:z>/contrast")
@doc(tags=["images"], etag=True, query=_PROJECTION, responses={200: json_response(S.CONTRAST)})
@map_route
def plane_contrast(owner: str, name: str, session: int, z: int) -> Response:
    """Automatic display range and histogram of a plane or projection."""
    ref = maps.map_ref(owner, name)
    p = _params()
    job = images.plane_job(ref, session, z, images.ImageParams(p.channel, p.projection, p.k))
    return _json(lambda: images.plane_contrast(job), job.version)


@bp.get(SESSION + "/tiles/<int:level>/<int:x>/<int:y>.png")
@doc(
    tags=["images"],
    etag=True,
    query=[Param("plane", "integer", minimum=0, description="plane index z"), *_PROJECTION, *_CONTRAST],
    responses=_PNG,
)
@map_route
def tile(owner: str, name: str, session: int, level: int, x: int, y: int) -> Response:
    """One 256 x 256 PNG tile for Leaflet (``crs="Simple"``; see ``app.services.images``)."""
    ref = maps.map_ref(owner, name)
    return _image(images.tile_job(ref, session, level, x, y, _params()))


@bp.get(SESSION + "/crop")
@doc(
    tags=["images"],
    etag=True,
    query=[
        Param("row", "number", required=True, description="centre row (pixels)", example=10),
        Param("col", "number", required=True, description="centre column (pixels)", example=10),
        Param("z", "integer", required=True, minimum=0, description="plane", example=0),
        Param("half", "integer", minimum=1, description="half side of the square"),
        Param("k", "integer", minimum=0, description="planes each side in the max projection"),
        Param("channel", "integer", minimum=1),
        *_CONTRAST,
    ],
    responses=_PNG,
)
@map_route
def crop(owner: str, name: str, session: int) -> Response:
    """A square crop around ``(row, col)`` of plane ``z`` (a cell of a run strip)."""
    ref = maps.map_ref(owner, name)
    return _image(images.crop_job(ref, session, _params()))


@bp.get(MAP + "/thumbnail")
@doc(tags=["images"], etag=True, responses=_PNG)
@map_route
def thumbnail(owner: str, name: str) -> Response:
    """The map's thumbnail: max projection of session 0 as a small PNG."""
    ref = maps.map_ref(owner, name)
    return _image(images.thumbnail_job(ref))
