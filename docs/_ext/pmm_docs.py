"""Sphinx extension of the PyMapManager docs: the REST API reference from the app's OpenAPI.

When the build starts, the dashboard is created (:func:`app.factory.create_app`, on an
empty temporary data folder) and asked for ``/api/v1/openapi.json`` with Flask's test
client, exactly as a script would fetch it from a running server:

* the app has that route: the document must come back as JSON with ``openapi`` and
  ``paths``; it is written to ``_build/generated/openapi.json`` (offered for download on
  the REST API page) and rendered to ``_build/generated/rest-api.md``, which
  ``reference/rest-api.md`` includes. Anything else (an error status, invalid JSON, no
  paths) stops the build with a message saying what was wrong.
* the app has no such route: that is an error too, since the API publishes its document
  (``app/api``). Only with ``PMM_DOCS_REQUIRE_OPENAPI=0`` (building the docs of a version
  from before the document existed) does the page instead say that the API does not
  publish an OpenAPI document and list the endpoints from the README's table.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

log = logging.getLogger(__name__)

OPENAPI_PATH = "/api/v1/openapi.json"
REQUIRE_ENV = "PMM_DOCS_REQUIRE_OPENAPI"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


class OpenApiUnavailable(Exception):
    """The app has no OpenAPI route (the document is not part of the API yet)."""


def generated_dir(srcdir: str | Path) -> Path:
    """Where the build writes what it generates (inside ``docs/_build``, not a source)."""
    return Path(srcdir) / "_build" / "generated"


# --------------------------------------------------------------------------- fetching


def fetch_openapi() -> dict[str, Any]:
    """The app's OpenAPI document, as a client of ``GET /api/v1/openapi.json`` gets it.

    Raises
    ------
    OpenApiUnavailable
        The app has no such route.
    ExtensionError
        The route exists but does not answer a valid OpenAPI document.
    """
    from app.config import Settings
    from app.factory import create_app

    with tempfile.TemporaryDirectory(prefix="pmm-docs-app-") as tmp:
        # a throwaway database: a fixed admin password, so that no random one is printed
        app = create_app(Settings(data_dir=Path(tmp), secret_key="docs", create_demo=False,
                                  admin_password="docs build, throwaway database"))  # fmt: skip
        server = app.server
        rules = [r.rule for r in server.url_map.iter_rules()]
        if not any(r.endswith(OPENAPI_PATH) for r in rules):
            raise OpenApiUnavailable(f"the app has no route {OPENAPI_PATH}")
        resp = server.test_client().get(OPENAPI_PATH)
        if resp.status_code != 200:
            raise ExtensionError(
                f"GET {OPENAPI_PATH} answered {resp.status_code}: "
                f"{resp.get_data(as_text=True)[:500]}"
            )
        try:
            doc = json.loads(resp.get_data(as_text=True))
        except json.JSONDecodeError as e:
            raise ExtensionError(f"GET {OPENAPI_PATH} is not JSON: {e}") from e
    if not isinstance(doc, dict) or "openapi" not in doc or not doc.get("paths"):
        raise ExtensionError(
            f"GET {OPENAPI_PATH} is not an OpenAPI document with paths "
            f"(keys: {sorted(doc) if isinstance(doc, dict) else type(doc).__name__})"
        )
    return doc


# --------------------------------------------------------------------------- rendering


def _cell(text: object) -> str:
    """Text for one Markdown table cell."""
    s = " ".join(str(text if text is not None else "").split())
    return s.replace("|", "\\|") or " "


def _label(name: str) -> str:
    return "openapi-schema-" + re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def schema_text(schema: dict[str, Any] | None, schemas: dict[str, Any]) -> str:
    """A short description of a schema: a link to a named one, or its type."""
    if not schema:
        return ""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return f"{{ref}}`{name} <{_label(name)}>`" if name in schemas else f"`{name}`"
    for key, word in (("oneOf", " or "), ("anyOf", " or "), ("allOf", " and ")):
        if key in schema:
            return word.join(schema_text(s, schemas) for s in schema[key])
    t = schema.get("type", "")
    if isinstance(t, list):
        t = " or ".join(t)
    if t == "array":
        inner = schema_text(schema.get("items"), schemas)
        return f"array of {inner}" if inner else "array"
    text = f"{t}" if t else "any"
    if schema.get("format"):
        text += f" ({schema['format']})"
    if "enum" in schema:
        text += ": " + ", ".join(f"`{v}`" for v in schema["enum"])
    if "default" in schema:
        text += f", default `{json.dumps(schema['default'])}`"
    return text


def _resolve(obj: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` (parameters, responses, request bodies)."""
    seen = 0
    while isinstance(obj, dict) and "$ref" in obj and seen < 10:
        target: Any = doc
        for part in obj["$ref"].lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        obj, seen = target, seen + 1
    return obj


def _operation(method: str, path: str, op: dict[str, Any], shared: list[Any], doc: dict[str, Any]) -> list[str]:
    schemas = doc.get("components", {}).get("schemas", {})
    out = [f"### `{method.upper()} {path}`", ""]
    if op.get("summary"):
        out += [op["summary"].strip(), ""]
    if op.get("description"):
        out += [op["description"].strip(), ""]
    if op.get("deprecated"):
        out += ["**Deprecated.**", ""]
    params = [_resolve(p, doc) for p in [*shared, *op.get("parameters", [])]]
    if params:
        out += ["| parameter | in | type | required | description |", "|---|---|---|---|---|"]
        for p in params:
            out.append(
                f"| `{_cell(p.get('name'))}` | {_cell(p.get('in'))} | "
                f"{_cell(schema_text(p.get('schema'), schemas))} | "
                f"{'yes' if p.get('required') else 'no'} | {_cell(p.get('description'))} |"
            )
        out.append("")
    body = _resolve(op.get("requestBody", {}), doc)
    if body:
        out += [f"Request body{' (required)' if body.get('required') else ''}: "
                + (body.get("description", "").strip() or ""), ""]  # fmt: skip
        for ctype, media in body.get("content", {}).items():
            out.append(f"- `{ctype}`: {schema_text(media.get('schema'), schemas)}")
        out.append("")
    responses = op.get("responses", {})
    if responses:
        out += ["| status | description | content |", "|---|---|---|"]
        for status, resp in responses.items():
            resp = _resolve(resp, doc)
            content = "; ".join(
                f"`{ctype}` {schema_text(media.get('schema'), schemas)}".strip()
                for ctype, media in resp.get("content", {}).items()
            )
            out.append(f"| {_cell(status)} | {_cell(resp.get('description'))} | {_cell(content)} |")
        out.append("")
    return out


def _schema_section(name: str, schema: dict[str, Any], schemas: dict[str, Any]) -> list[str]:
    out = [f"({_label(name)})=", f"### `{name}`", ""]
    if schema.get("description"):
        out += [schema["description"].strip(), ""]
    props = schema.get("properties", {})
    required = set(schema.get("required", []))
    if props:
        out += ["| field | type | required | description |", "|---|---|---|---|"]
        for prop, sub in props.items():
            out.append(
                f"| `{_cell(prop)}` | {_cell(schema_text(sub, schemas))} | "
                f"{'yes' if prop in required else 'no'} | {_cell(sub.get('description'))} |"
            )
        out.append("")
    else:
        out += [f"Type: {schema_text(schema, schemas)}", ""]
    return out


def _tag_of(path: str, op: dict[str, Any]) -> str:
    tags = op.get("tags") or []
    if tags:
        return str(tags[0])
    parts = [p for p in path.split("/") if p and not p.startswith("{")]
    rest = [p for p in parts if p not in ("api", "v1")]
    return rest[0] if rest else "api"


def render_openapi(doc: dict[str, Any]) -> str:
    """The OpenAPI document as a MyST Markdown fragment (operations by tag, then schemas)."""
    info = doc.get("info", {})
    schemas = doc.get("components", {}).get("schemas", {})
    out = [
        f"This reference is generated from the OpenAPI {doc.get('openapi', '')} document "
        f"that the server publishes at `{OPENAPI_PATH}` "
        f"({_cell(info.get('title', 'API'))} {_cell(info.get('version', ''))}); "
        "the same document is {download}`here <../_build/generated/openapi.json>`.",
        "",
    ]
    if info.get("description"):
        out += [info["description"].strip(), ""]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any], list[Any]]]] = {}
    for path, item in doc.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in METHODS:
            if method in item:
                by_tag.setdefault(_tag_of(path, item[method]), []).append((method, path, item[method], shared))
    tag_text = {t.get("name"): t.get("description", "") for t in doc.get("tags", [])}
    order = [t.get("name") for t in doc.get("tags", []) if t.get("name") in by_tag]
    order += [t for t in by_tag if t not in order]
    for tag in order:
        out += [f"## {tag}", ""]
        if tag_text.get(tag):
            out += [tag_text[tag].strip(), ""]
        for method, path, op, shared in by_tag[tag]:
            out += _operation(method, path, op, shared, doc)
    if schemas:
        out += ["## Schemas", ""]
        for name, schema in schemas.items():
            out += _schema_section(name, schema, schemas)
    return "\n".join(out).rstrip() + "\n"


NOT_YET = """\
:::{{note}}
The API does not publish an OpenAPI document yet (the app has no route
`{path}`). Until it does, this list of endpoints is taken from the README; once the
route exists, this page is generated from the document by every docs build.
:::

{table}
"""


def readme_endpoints(readme: str | Path) -> str:
    """The endpoint table of the README's ``## API`` section (its lines starting with ``|``)."""
    text = Path(readme).read_text(encoding="utf-8")
    m = re.search(r"^## API\s*$(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    if not m:
        raise ExtensionError(f"{readme} has no '## API' section to list the endpoints from")
    rows = [line for line in m.group(1).splitlines() if line.startswith("|")]
    if len(rows) < 3:
        raise ExtensionError(f"{readme}: the '## API' section has no endpoint table")
    return "\n".join(rows)


def write_rest_api(srcdir: str | Path, require: bool | None = None) -> dict[str, Any] | None:
    """Fetch the OpenAPI document and write the REST API fragment; the document or None.

    Parameters
    ----------
    srcdir : str or Path
        The docs source folder.
    require : bool, optional
        Fail when the app has no OpenAPI route (default: yes, unless
        ``$PMM_DOCS_REQUIRE_OPENAPI`` is ``0``).
    """
    if require is None:
        require = os.environ.get(REQUIRE_ENV, "1").strip().lower() not in ("0", "false", "no")
    out = generated_dir(srcdir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "openapi.json").unlink(missing_ok=True)
    try:
        doc = fetch_openapi()
    except OpenApiUnavailable as e:
        if require:
            raise ExtensionError(f"the REST API reference is required ({REQUIRE_ENV}) but {e}") from e
        log.info("REST API reference: %s", e)
        table = readme_endpoints(Path(srcdir).parent / "README.md")
        (out / "rest-api.md").write_text(NOT_YET.format(path=OPENAPI_PATH, table=table), encoding="utf-8")
        return None
    (out / "openapi.json").write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    (out / "rest-api.md").write_text(render_openapi(doc), encoding="utf-8")
    return doc


# --------------------------------------------------------------------------- sphinx


def _builder_inited(app: Sphinx) -> None:
    doc = write_rest_api(app.srcdir)
    app.env.pmm_openapi_paths = sorted(doc.get("paths", {})) if doc else []  # type: ignore[attr-defined]


def _skip_unexported(
    app: Sphinx, what: str, name: str, obj: Any, skip: bool, options: Any
) -> bool | None:
    """Skip a module-level function or class that its module's ``__all__`` leaves out.

    (autosummary lists what a module defines; ``__all__`` says what of it is public.)
    """
    if not (inspect.isfunction(obj) or inspect.isclass(obj)):
        return None
    if getattr(obj, "__qualname__", None) != name:  # a method or nested class
        return None
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    exported = getattr(module, "__all__", None)
    if module is None or exported is None or not module.__name__.startswith("pymapmanager"):
        return None
    return True if name not in exported else None


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", _builder_inited)
    app.connect("autodoc-skip-member", _skip_unexported)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

