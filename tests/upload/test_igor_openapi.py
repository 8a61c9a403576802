"""The Igor procedure's HTTP request against the API's own description (``/api/v1/openapi.json``).

Igor cannot run here, so the ``.ipf`` is read as text: the URL it builds, its method, its
headers and its multipart part must be exactly what the OpenAPI document says the route
takes. (``test_igor.py`` sends the same bytes to a real server.)
"""

from __future__ import annotations

import re
from typing import Any

import dash

from .test_igor import IPF, _constants


def _ipf() -> str:
    return IPF.read_text(encoding="utf-8")


def _url_parts(text: str) -> tuple[str, list[str]]:
    """The path template MM_PostMap builds, and the query strings it may add."""
    m = re.search(r'String url = RemoveEnding\(server, "/"\) \+ "([^"]+)" \+ owner\s*$', text, re.M)
    assert m, "MM_PostMap no longer builds its URL as <server> + <path> + owner"
    queries = re.findall(r'url \+= "\?([^"]+)"', text)
    return m.group(1) + "{owner}", queries


def _operation(doc: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    assert path in doc["paths"], f"{path} is not in the API's document"
    op = doc["paths"][path].get(method)
    assert op is not None, f"{method.upper()} {path} is not in the API's document"
    return dict(op)


def test_the_ipf_request_matches_the_openapi_document(app: dash.Dash) -> None:
    doc = app.server.test_client().get("/api/v1/openapi.json").get_json()
    text = _ipf()
    k = _constants()

    # the URL: <server>/api/v1/maps/<owner>[?overwrite=true], posted
    path, queries = _url_parts(text)
    assert path == "/api/v1/maps/{owner}"
    call = re.search(r"^\s*URLRequest\b(.*)$", text, re.M)
    assert call, "no URLRequest in the .ipf"
    assert re.search(r"\bmethod\s*=\s*post\b", call.group(1), re.I), call.group(1)
    assert re.search(r"\bheaders\s*=\s*headers\b", call.group(1)), call.group(1)
    assert re.search(r"/DFIL=bodyPath\b", call.group(1)), "the body is not sent from the file"
    op = _operation(doc, path, "post")
    params = {(p["in"], p["name"]): p for p in op.get("parameters", [])}
    assert ("path", "owner") in params
    for q in queries:
        name, _, value = q.partition("=")
        p = params.get(("query", name))
        assert p is not None, f"the .ipf sends ?{q}, which the API does not take"
        assert p["schema"]["type"] == "boolean" and value in ("true", "false")

    # the headers: one multipart Content-Type, one bearer token; the API says both
    headers = k["kMMContentType"] + "B" + k["kMMHeaderSep"] + k["kMMAuthorization"] + "T"
    sent = dict(h.split(": ", 1) for h in headers.split(k["kMMHeaderSep"]))
    assert set(sent) == {"Content-Type", "Authorization"}
    mime, _, boundary = sent["Content-Type"].partition("; ")
    assert boundary == "boundary=B"
    assert mime in op["requestBody"]["content"] and op["requestBody"]["required"] is True
    scheme, _, token = sent["Authorization"].partition(" ")
    schemes = doc["components"]["securitySchemes"]
    bearer = [n for n, s in schemes.items() if s.get("type") == "http" and s.get("scheme") == "bearer"]
    assert scheme == "Bearer" and token == "T" and bearer
    assert any(bearer[0] in req for req in op.get("security", doc.get("security", []))), op.get("security")

    # the multipart part: the field the API requires, as a file
    schema = op["requestBody"]["content"][mime]["schema"]
    field = re.search(r'name="([^"]+)"; filename="$', k["kMMDisposition"])
    assert field and k["kMMDisposition"].startswith("Content-Disposition: form-data; ")
    assert schema["required"] == [field.group(1)]
    assert schema["properties"][field.group(1)] == {"type": "string", "format": "binary"}
    assert k["kMMPartType"] == "Content-Type: application/zip"
    assert k["kMMCRLF"] == "\r\n"

    # what the .ipf says the answers mean is what the API documents
    for status in ("201", "400", "409", "413"):
        assert status in op["responses"], status
    assert "id" in op["responses"]["201"]["content"]["application/json"]["schema"]["required"]
