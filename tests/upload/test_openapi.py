"""The OpenAPI document describes every route, and every route answers as it says (Schemathesis)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dash
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.config import Settings
from app.factory import create_app

from .conftest import make_tokens
from .support import make_map

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# tus chunks are raw bytes: send them as Schemathesis sends application/octet-stream
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")

#: generated requests per operation (bounded: the whole module runs in well under 2 minutes)
EXAMPLES = int(os.environ.get('PMM_SCHEMATHESIS_EXAMPLES', '25'))


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dash.Dash, dict[str, str]]]:
    """One app for the module: a public map and one of alice's, users with tokens."""
    data = tmp_path_factory.mktemp("openapi") / "data"
    make_map(data / "public", "pub")
    make_map(data / "alice", "mine", images=False)
    app = create_app(Settings(data_dir=data, secret_key="test", create_demo=False, testing=True))
    yield app, make_tokens(app.server)


def test_document_lists_every_api_route(api: tuple[dash.Dash, dict[str, str]]) -> None:
    app, _ = api
    client = app.server.test_client()
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    rules = set()
    for r in app.server.url_map.iter_rules():
        if not r.endpoint.startswith("api.") or r.endpoint == "api.unknown":
            continue
        methods = set(r.methods or ())
        if "GET" in methods:
            methods.discard("HEAD")  # implied by GET
        if getattr(r, "provide_automatic_options", True):
            methods.discard("OPTIONS")  # Flask's own
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", r.rule)
        rules |= {(path, m.lower()) for m in methods}
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert rules == documented
    for p, ops in doc["paths"].items():
        for m, op in ops.items():
            assert op["summary"], (p, m)
            assert op["responses"], (p, m)
    assert {"/api/v1/maps/{owner}", "/api/v1/uploads/{owner}/{upload_id}", "/api/v1/maps/{owner}/{name}/download"} <= set(doc["paths"])


def test_docs_page_renders_the_document_with_vendored_assets(api: tuple[dash.Dash, dict[str, str]]) -> None:
    app, _ = api
    client = app.server.test_client()
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', html)
    assert len(assets) == 3 and "/api/v1/openapi.json" in html
    for a in assets:
        assert client.get(a).status_code == 200, a
    assert "https://" not in html  # no CDN
    root = Path(app.server.root_path) / "assets" / "vendor"
    assert (root / "swagger-ui" / "LICENSE").is_file() and (root / "uppy" / "LICENSE").is_file()


#: real values for the path parameters, so that the answers of existing maps are checked too
REAL = {"owner": "public", "name": "pub", "session": 0, "z": 0, "level": 0, "x": 0, "y": 0}


def _run_operation(op: Any, headers: dict[str, str], mode: GenerationMode) -> None:
    @given(case=op.as_strategy(generation_mode=mode))
    @hsettings(
        max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
        phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    def run(case: Any) -> None:
        resp = case.call(headers=headers)
        case.validate_response(resp, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        # an operation without parameters or body has no invalid request to make
        assert mode == GenerationMode.NEGATIVE, op.path


def test_every_route_conforms(api: tuple[dash.Dash, dict[str, str]]) -> None:
    app, tokens = api
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app.server)
    headers = {"Authorization": f"Bearer {tokens['alice']}"}
    ops = [r.ok() for r in schema.get_all_operations()]
    assert len(ops) >= 20
    for op in ops:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _run_operation(op, headers, mode)
        # and once on a real map, with the required query parameters filled in
        path = {k: REAL[k] for k in (p.name for p in op.path_parameters) if k in REAL}
        if "/uploads/" in op.path or "/incoming/" in op.path:
            path["owner"] = "alice"
        if op.path.endswith("/edits"):  # editing needs write access: alice's own map
            path["owner"], path["name"] = "alice", "mine"
        if op.method.upper() != "GET" or len(path) != len(list(op.path_parameters)):
            continue
        query = {"stat": "pDist", "row": 10, "col": 10, "z": 0}
        query = {k: v for k, v in query.items() if k in {p.name for p in op.query}}
        case = op.Case(path_parameters=path, query=query)
        resp = case.call(headers=headers)
        assert resp.status_code == 200, (op.path, resp.status_code, resp.text[:200])
        case.validate_response(resp, checks=CHECKS)
