"""The documentation site builds with every warning an error, and holds what it promises.

One build per module, exactly as ``./dev docs`` makes it (``docs/build.py``) but into a
temporary folder: the screenshots of the guide come from ``tests/browser/test_screenshots.py``
(taken by it earlier in the run, or now when missing), the example notebooks run on demo
data, the REST API page is rendered from the app's OpenAPI document when the app has one.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import pymapmanager
from pymapmanager.cli import build_parser
from tests.support.paths import REPO

pytestmark = pytest.mark.slow

DOCS = REPO / "docs"
PAGES = ["index", "install", "guide/dashboard", "guide/editing", "guide/pooling", "guide/server", "format",
         "reference/library", "reference/cli", "reference/rest-api", "changelog"]  # fmt: skip
NOTEBOOKS = ["load_map", "values_and_dynamics", "pool_maps"]


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


pmm_docs = _load("pmm_docs", DOCS / "_ext" / "pmm_docs.py")
docs_build = _load("pmm_docs_build", DOCS / "build.py")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built site (the build fails on any warning: a failure shows its output)."""
    out = tmp_path_factory.mktemp("site") / "html"
    p = subprocess.run(
        [sys.executable, str(DOCS / "build.py"), "--screenshots", "auto", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    assert p.returncode == 0, f"./dev docs failed:\n{p.stdout[-4000:]}\n{p.stderr[-6000:]}"
    return out


def _html(site: Path, page: str) -> str:
    path = site / f"{page}.html"
    assert path.is_file(), f"{page}.html was not built"
    return path.read_text(encoding="utf-8")


def test_every_page_is_built(site: Path) -> None:
    for page in PAGES + [f"notebooks/{n}" for n in NOTEBOOKS]:
        assert "<h1" in _html(site, page), page
    assert pymapmanager.__version__ in _html(site, "index")


def test_the_guide_shows_the_screenshots(site: Path) -> None:
    shots = docs_build.referenced_screenshots()
    assert {"catalog.png", "map.png", "map-selected.png", "pool.png", "map-edit.png", "login.png", "my-maps.png"} <= set(shots)
    shown = " ".join(_html(site, p) for p in ("guide/dashboard", "guide/pooling", "guide/editing", "guide/server"))
    for name in shots:
        assert re.search(rf'src="[^"]*_images/{re.escape(name)}"', shown), name
        assert (site / "_images" / name).is_file(), name


def test_library_reference_documents_the_public_api(site: Path) -> None:
    model = _html(site, "reference/generated/pymapmanager.model")
    analysis = _html(site, "reference/generated/pymapmanager.analysis")
    for anchor in ("pymapmanager.model.load_map", "pymapmanager.model.Map", "pymapmanager.model.Map.save"):
        assert f'id="{anchor}"' in model, anchor
    for name in ("map_values", "dynamics", "dynamics_summary", "statistics", "MapValues"):
        assert f'id="pymapmanager.analysis.{name}"' in analysis, name
    # numpydoc sections are rendered, not shown as raw text
    assert "Parameters" in model and "---------" not in model
    for module in ("pooling", "synthetic.maps", "io.text", "errors", "images", "navigation", "edits", "client"):
        assert (site / "reference" / "generated" / f"pymapmanager.{module}.html").is_file(), module


def test_cli_reference_lists_every_command(site: Path) -> None:
    html = _html(site, "reference/cli")
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    commands = list(sub.choices)  # type: ignore[union-attr]
    assert len(commands) >= 9
    for command in commands:
        assert f"mapmanager {command}" in html or f">{command}<" in html, command
    assert "--stat" in html and "--normalize" in html


def test_rest_api_page(site: Path) -> None:
    """Rendered from the app's OpenAPI document (required: the API publishes one)."""
    html = _html(site, "reference/rest-api")
    doc = pmm_docs.fetch_openapi()
    assert "does not publish an OpenAPI document" not in html
    for path in doc["paths"]:
        assert path.replace("<", "&lt;").replace(">", "&gt;") in html, path
    for path in ("/api/v1/maps/{owner}/{name}/edits", "/api/v1/maps/{owner}/{name}/save"):
        assert path in doc["paths"], f"{path} is not in the OpenAPI document"
    assert re.search(r'href="[^"]*_downloads/[^"]*/openapi\.json"', html), "no download of openapi.json"


def test_notebooks_ran_and_show_their_figures(site: Path) -> None:
    for name in NOTEBOOKS:
        html = _html(site, f"notebooks/{name}")
        assert "Traceback" not in html, name
        assert re.search(r'<img[^>]+src="[^"]*\.png"', html), f"{name}: no figure in the output"
    assert "treatment / baseline, late sessions: 1." in _html(site, "notebooks/pool_maps")


def test_format_page_covers_every_file_kind() -> None:
    text = (DOCS / "format.md").read_text(encoding="utf-8")
    for kind in ("<map>.txt", "_objMap.txt", "_segMap.txt", "_db2.txt", "_Int<c>.txt", "_l.txt", "_ch<c>.tif"):
        assert kind in text, kind
    cited = [p for p in REPO.joinpath("pymapmanager").rglob("*.py") if "FORMAT.md" in p.read_text(encoding="utf-8")]
    assert not cited, f"still citing FORMAT.md: {cited}"


# --------------------------------------------------------------------------- the OpenAPI page

SAMPLE: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "PyMapManager API", "version": "0.1.0"},
    "paths": {
        "/api/v1/maps/{owner}/{map}/values": {
            "parameters": [{"name": "owner", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {
                "tags": ["maps"],
                "summary": "A statistic as runs x sessions",
                "parameters": [
                    {"$ref": "#/components/parameters/Stat"},
                    {"name": "include_bad", "in": "query", "schema": {"type": "boolean", "default": False}},
                ],
                "responses": {
                    "200": {"description": "the values",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Values"}}}},
                    "404": {"description": "no such map | session"},
                },
            },
        },
        "/api/v1/uploads": {"post": {"requestBody": {"required": True, "content": {
            "application/zip": {"schema": {"type": "string", "format": "binary"}}}},
            "responses": {"201": {"description": "created"}}}},
    },
    "components": {
        "parameters": {"Stat": {"name": "stat", "in": "query", "required": True, "schema": {"type": "string"}}},
        "schemas": {"Values": {"type": "object", "required": ["values"], "properties": {
            "values": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
            "roi": {"type": "string", "enum": ["spineROI", "otherROI"]}}}},
    },
}  # fmt: skip


def test_openapi_rendering() -> None:
    md = pmm_docs.render_openapi(SAMPLE)
    assert "### `GET /api/v1/maps/{owner}/{map}/values`" in md
    assert "| `owner` | path | string | yes |" in md
    assert "| `stat` | query | string | yes |" in md  # a $ref parameter is resolved
    assert "| `include_bad` | query | boolean, default `false` | no |" in md
    assert "{ref}`Values <openapi-schema-values>`" in md and "(openapi-schema-values)=" in md
    assert "no such map \\| session" in md  # a | in a cell is escaped
    assert "### `POST /api/v1/uploads`" in md and "`application/zip`: string (binary)" in md
    assert "| `roi` | string: `spineROI`, `otherROI` | no |" in md


def test_missing_openapi_fails_the_build_when_required(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def unavailable() -> dict[str, Any]:
        raise pmm_docs.OpenApiUnavailable("the app has no route /api/v1/openapi.json")

    monkeypatch.setattr(pmm_docs, "fetch_openapi", unavailable)
    monkeypatch.delenv(pmm_docs.REQUIRE_ENV, raising=False)
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("# x\n\n## API\n\n| endpoint | returns |\n|---|---|\n| `GET /status` | ok |\n")
    assert pmm_docs.write_rest_api(tmp_path / "docs", require=False) is None
    assert "`GET /status`" in (tmp_path / "docs/_build/generated/rest-api.md").read_text()
    from sphinx.errors import ExtensionError

    with pytest.raises(ExtensionError, match="required"):
        pmm_docs.write_rest_api(tmp_path / "docs", require=True)
    with pytest.raises(ExtensionError, match="required"):  # the default: the API publishes one
        pmm_docs.write_rest_api(tmp_path / "docs")
    monkeypatch.setenv(pmm_docs.REQUIRE_ENV, "0")
    assert pmm_docs.write_rest_api(tmp_path / "docs") is None
    monkeypatch.setattr(pmm_docs, "fetch_openapi", lambda: SAMPLE)
    assert pmm_docs.write_rest_api(tmp_path / "docs") == SAMPLE
    assert "GET /api/v1/maps" in (tmp_path / "docs/_build/generated/rest-api.md").read_text()


def test_a_broken_openapi_route_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The route exists but answers an error: the build stops and says what came back."""
    import flask
    from sphinx.errors import ExtensionError

    from app import factory

    real = factory.create_app

    def with_broken_route(*a: Any, **kw: Any) -> Any:
        app = real(*a, **kw)
        rule = next((r for r in app.server.url_map.iter_rules() if r.rule == "/api/v1/openapi.json"), None)
        if rule is None:
            app.server.add_url_rule("/api/v1/openapi.json", "broken_openapi", lambda: flask.abort(500))
        else:
            app.server.view_functions[rule.endpoint] = lambda **kw: flask.abort(500)
        return app

    monkeypatch.setattr(factory, "create_app", with_broken_route)
    with pytest.raises(ExtensionError, match="answered 500"):
        pmm_docs.fetch_openapi()
