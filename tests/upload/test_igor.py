"""The Igor procedure's request, built byte for byte as ``igor/MapManagerPost.ipf`` builds it.

The test reads the string constants of the ``.ipf`` (boundary prefix, line end, part
headers, request headers) and assembles the body exactly as ``MM_MultipartBody`` and the
headers exactly as ``MM_PostMap`` do, then sends it to a real gunicorn with a raw HTTP
connection (no client library reshaping it).
"""

from __future__ import annotations

import http.client
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

from .conftest import LiveServer
from .support import make_map, tree, zip_folder

IPF = Path(__file__).resolve().parents[2] / "igor" / "MapManagerPost.ipf"


def _igor_string(literal: str) -> str:
    """An Igor string literal's value (escapes \\r \\n \\t \\" \\\\)."""
    return re.sub(r"\\(.)", lambda m: {"r": "\r", "n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), literal)


def _constants() -> dict[str, str]:
    text = IPF.read_text(encoding="utf-8")
    return {
        m.group(1): _igor_string(m.group(2))
        for m in re.finditer(r'^StrConstant\s+(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"', text, re.M)
    }


def _body(k: dict[str, str], zip_bytes: bytes, zip_name: str, boundary: str) -> bytes:
    """MM_MultipartBody, line for line."""
    crlf = k["kMMCRLF"].encode()
    body = b"--" + boundary.encode() + crlf
    body += k["kMMDisposition"].encode() + zip_name.encode() + b'"' + crlf
    body += k["kMMPartType"].encode() + crlf + crlf
    body += zip_bytes + crlf
    body += b"--" + boundary.encode() + b"--" + crlf
    return body


def _post(live: LiveServer, k: dict[str, str], token: str, owner: str, zip_bytes: bytes, name: str, overwrite: bool = False) -> tuple[int, dict[str, object]]:
    boundary = k["kMMBoundaryPrefix"] + "123456789"
    body = _body(k, zip_bytes, name + ".zip", boundary)
    headers_str = k["kMMContentType"] + boundary + k["kMMHeaderSep"] + k["kMMAuthorization"] + token
    headers = dict(h.split(": ", 1) for h in headers_str.split(k["kMMHeaderSep"]))
    url = urlsplit(live.url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=60)
    path = f"/api/v1/maps/{owner}" + ("?overwrite=true" if overwrite else "")
    conn.request("POST", path, body=body, headers=headers)
    resp = conn.getresponse()
    data = json.loads(resp.read())
    conn.close()
    return resp.status, data


def test_ipf_defines_what_the_test_uses() -> None:
    k = _constants()
    assert {"kMMBoundaryPrefix", "kMMCRLF", "kMMDisposition", "kMMPartType", "kMMContentType",
            "kMMAuthorization", "kMMHeaderSep"} <= set(k)  # fmt: skip
    text = IPF.read_text(encoding="utf-8")
    assert "URLRequest/DFIL=bodyPath" in text and "method=post" in text
    assert 'url = RemoveEnding(server, "/") + "/api/v1/maps/" + owner' in text
    assert (IPF.parent / "README.md").is_file()


def test_igor_request_is_accepted(live: LiveServer, tmp_path: Path) -> None:
    k = _constants()
    src = make_map(tmp_path, "igor_a")
    data = zip_folder(src)
    status, body = _post(live, k, live.tokens["alice"], "alice", data, "igor_a")
    assert status == 201, body
    assert body["id"] == "alice/igor_a"
    assert tree(live.data_dir / "alice" / "igor_a") == tree(src)
    status, body = _post(live, k, live.tokens["alice"], "alice", data, "igor_a")
    assert status == 409
    status, body = _post(live, k, live.tokens["alice"], "alice", data, "igor_a", overwrite=True)
    assert status == 201 and body["replaced_version"]
    status, body = _post(live, k, live.tokens["bob"], "alice", data, "igor_a")
    assert status == 403


def test_igor_request_of_a_windows_zip(live: LiveServer, tmp_path: Path) -> None:
    """PowerShell 5's Compress-Archive writes backslashes in entry names: still one map."""
    import io
    import zipfile

    src = make_map(tmp_path, "igor_win")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                zf.write(p, "igor_win\\" + str(p.relative_to(src)).replace("/", "\\"))
    status, body = _post(live, _constants(), live.tokens["alice"], "alice", buf.getvalue(), "igor_win")
    assert status == 201, body
    assert tree(live.data_dir / "alice" / "igor_win") == tree(src)
