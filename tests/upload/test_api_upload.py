"""The upload API over HTTP (Flask test client): POST a zip, download, tus, drop folder, access."""

from __future__ import annotations

import base64
import fcntl
import io
import os
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dash
import pytest
from flask.testing import FlaskClient

from app.config import Settings
from app.factory import create_app

from .support import tree, zip_folder

Auth = Callable[[str | None], dict[str, str]]
TUS = {"Tus-Resumable": "1.0.0"}


def _post_zip(client: FlaskClient, headers: dict[str, str], data: bytes, owner: str = "alice", query: str = ""):
    return client.post(
        f"/api/v1/maps/{owner}{query}",
        data={"file": (io.BytesIO(data), "m1.zip")},
        headers=headers,
        content_type="multipart/form-data",
    )


# --------------------------------------------------------------------------- POST /maps/<owner>


def test_post_zip_201_then_409_then_overwrite(client: FlaskClient, auth: Auth, src_map: Path, data_dir: Path) -> None:
    data = zip_folder(src_map)
    r = _post_zip(client, auth("alice"), data)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["id"] == "alice/m1"
    assert r.headers["Location"].endswith("/api/v1/maps/alice/m1")
    info = client.get("/api/v1/maps/alice/m1", headers=auth("alice"))
    assert info.status_code == 200 and info.get_json()["num_sessions"] == 2
    r = _post_zip(client, auth("alice"), data)
    assert r.status_code == 409 and "already exists" in r.get_json()["message"]
    r = _post_zip(client, auth("alice"), data, query="?overwrite=true")
    assert r.status_code == 201 and r.get_json()["replaced_version"]
    assert len(list((data_dir / "alice" / ".versions" / "m1").iterdir())) == 1
    # nothing left behind by the uploads themselves
    assert list((data_dir / "alice" / ".uploads").iterdir()) == []


def test_post_zip_not_a_map_400_says_what_is_missing(client: FlaskClient, auth: Auth) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("thesis/chapter1.txt", "text")
    r = _post_zip(client, auth("alice"), buf.getvalue())
    assert r.status_code == 400
    body = r.get_json()
    assert "thesis/thesis.txt" in body["message"]
    assert body["problems"] == [{"file": "thesis.txt", "line": None, "problem": "the map header file is missing"}]


def test_post_zip_unsafe_entry_400_names_it(client: FlaskClient, auth: Auth, src_map: Path, data_dir: Path) -> None:
    from .support import zip_with

    data = zip_with(src_map, [("m1/../../../escape.txt", b"x")])
    r = _post_zip(client, auth("alice"), data)
    assert r.status_code == 400
    assert "m1/../../../escape.txt" in r.get_json()["message"]
    assert tree(data_dir / "alice") & {"m1", "escape.txt"} == set()
    assert not (data_dir.parent / "escape.txt").exists()


def test_post_zip_over_the_limit_413(settings: Settings, src_map: Path) -> None:
    from .conftest import make_tokens

    app = create_app(settings.with_overrides(upload_max_bytes=10_000))
    tokens = make_tokens(app.server, {"alice": False})
    client = app.server.test_client()
    r = _post_zip(client, {"Authorization": f"Bearer {tokens['alice']}"}, zip_folder(src_map))
    assert r.status_code == 413 and r.get_json()["error"]
    assert list((settings.data_dir / "alice" / ".uploads").iterdir()) == []


def test_post_zip_missing_field_400(client: FlaskClient, auth: Auth) -> None:
    r = client.post("/api/v1/maps/alice", data={"other": "x"}, headers=auth("alice"))
    assert r.status_code == 400 and "'file'" in r.get_json()["message"]


@pytest.mark.parametrize(
    ("who", "owner", "status"),
    [(None, "alice", 401), ("bob", "alice", 403), ("alice", "public", 403), ("root", "alice", 201),
     ("root", "public", 201), ("root", "nobody", 404), ("alice", "alice", 201)],
)  # fmt: skip
def test_post_zip_access(who: str | None, owner: str, status: int, client: FlaskClient, auth: Auth, src_map: Path, data_dir: Path) -> None:
    r = _post_zip(client, auth(who), zip_folder(src_map), owner=owner)
    assert r.status_code == status, r.get_json()
    if status != 201:
        assert not (data_dir / owner / "m1").exists()
    assert not (data_dir / "nobody").exists()


def test_download_streams_a_zip_and_follows_access(client: FlaskClient, auth: Auth, src_map: Path) -> None:
    assert _post_zip(client, auth("alice"), zip_folder(src_map)).status_code == 201
    r = client.get("/api/v1/maps/alice/m1/download", headers=auth("alice"))
    assert r.status_code == 200 and r.mimetype == "application/zip"
    assert r.is_streamed and "Content-Length" not in r.headers
    assert 'filename="m1.zip"' in r.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(r.data)) as zf:
        assert zf.read("m1/m1.txt") == (src_map / "m1.txt").read_bytes()
        assert len(zf.namelist()) == sum(1 for p in src_map.rglob("*") if p.is_file())
    for who in (None, "bob"):
        r = client.get("/api/v1/maps/alice/m1/download", headers=auth(who))
        assert r.status_code == 404  # private: not even its existence is shown
    assert client.get("/api/v1/maps/alice/m1/download", headers=auth("root")).status_code == 200


# --------------------------------------------------------------------------- tus


def _meta(**kw: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in kw.items())


def _create(client: FlaskClient, headers: dict[str, str], length: int, owner: str = "alice", **meta: str):
    h = headers | TUS | {"Upload-Length": str(length), "Upload-Metadata": _meta(**meta)}
    return client.post(f"/api/v1/uploads/{owner}", headers=h)


def _patch(client: FlaskClient, headers: dict[str, str], url: str, offset: int, data: bytes, **extra: str):
    h = headers | TUS | {"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"} | extra
    return client.patch(url, data=data, headers=h)


def _send(client: FlaskClient, headers: dict[str, str], url: str, data: bytes, chunk: int) -> None:
    for off in range(0, len(data), chunk):
        r = _patch(client, headers, url, off, data[off : off + chunk])
        assert r.status_code == 204, r.get_json()
        assert int(r.headers["Upload-Offset"]) == min(off + chunk, len(data))


def test_tus_options(client: FlaskClient) -> None:
    r = client.options("/api/v1/uploads/alice")
    assert r.status_code == 204
    assert r.headers["Tus-Version"] == "1.0.0" and "creation" in r.headers["Tus-Extension"]
    assert int(r.headers["Tus-Max-Size"]) > 0


def test_tus_upload_of_a_zip_in_chunks(client: FlaskClient, auth: Auth, src_map: Path, data_dir: Path) -> None:
    data = zip_folder(src_map)
    h = auth("alice")
    r = _create(client, h, len(data), filename="m1.zip")
    assert r.status_code == 201 and r.headers["Tus-Resumable"] == "1.0.0"
    url = r.headers["Location"]
    uid = url.rsplit("/", 1)[1]
    assert client.head(url, headers=h | TUS).headers["Upload-Offset"] == "0"
    half = len(data) // 2
    _send(client, h, url, data[:half], 7000)
    # out of order (ahead) and repeated (behind) chunks: 409, nothing written
    assert _patch(client, h, url, half + 100, data[half + 100 : half + 200]).status_code == 409
    assert _patch(client, h, url, 0, data[:100]).status_code == 409
    r = client.head(url, headers=h | TUS)
    assert r.headers["Upload-Offset"] == str(half) and r.headers["Cache-Control"] == "no-store"
    assert (data_dir / "alice" / ".uploads" / f"{uid}.part").stat().st_size == half
    # importing an unfinished upload is a conflict
    r = client.post("/api/v1/uploads/alice/import", json={"uploads": [uid]}, headers=h)
    assert r.status_code == 409 and "not finished" in r.get_json()["message"]
    _send_from(client, h, url, data, half, 9000)
    listed = client.get("/api/v1/uploads/alice", headers=h).get_json()["uploads"]
    assert [(u["id"], u["offset"], u["length"]) for u in listed] == [(uid, len(data), len(data))]
    # the last chunk sent again: 409
    assert _patch(client, h, url, len(data) - 10, data[-10:]).status_code == 409
    status, body = import_job(client, h, "alice", [uid])
    assert status == 201, body
    assert body["id"] == "alice/m1"
    assert tree(data_dir / "alice" / "m1") == tree(src_map)
    # finished twice: the second import and any later PATCH are conflicts
    r = client.post("/api/v1/uploads/alice/import", json={"uploads": [uid]}, headers=h)
    assert r.status_code == 409 and "already imported" in r.get_json()["message"]
    assert _patch(client, h, url, len(data), b"").status_code == 409
    assert not (data_dir / "alice" / ".uploads" / f"{uid}.part").exists()


def import_job(client: FlaskClient, h: dict[str, str], owner: str, ids: list[str],
               overwrite: bool = False) -> tuple[int, dict[str, Any]]:  # fmt: skip
    """Ask for an import (202, a job) and poll the job until it ends: (201, the map) when
    done, (the error's status, the error) when it failed."""
    r = client.post(f"/api/v1/uploads/{owner}/import", json={"uploads": ids, "overwrite": overwrite}, headers=h)
    assert r.status_code == 202, r.get_json()
    job = r.get_json()
    assert r.headers["Location"] == job["status_url"] and job["state"] in ("queued", "running", "done", "failed")
    deadline = time.monotonic() + 60
    while job["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
        got = client.get(job["status_url"], headers=h)
        assert got.status_code == 200 and got.headers["Cache-Control"] == "no-store"
        job = got.get_json()
    if job["state"] == "done":
        return 201, job["result"]
    return int(job["error"]["status"]), job["error"]


def _send_from(client: FlaskClient, h: dict[str, str], url: str, data: bytes, start: int, chunk: int) -> None:
    for off in range(start, len(data), chunk):
        r = _patch(client, h, url, off, data[off : off + chunk])
        assert r.status_code == 204, r.get_json()


def test_tus_resumes_after_a_server_restart(settings: Settings, auth: Auth, tokens: dict[str, str], src_map: Path) -> None:
    data = zip_folder(src_map)
    h = auth("alice")
    first = create_app(settings).server.test_client()
    url = _create(first, h, len(data), filename="m1.zip").headers["Location"]
    _send(first, h, url, data[:5000], 1000)
    del first  # the server goes away; a new one (another worker, a restart) carries on
    second = create_app(settings).server.test_client()
    offset = int(second.head(url, headers=h | TUS).headers["Upload-Offset"])
    assert offset == 5000
    _send_from(second, h, url, data, offset, 4096)
    status, body = import_job(second, h, "alice", [url.rsplit("/", 1)[1]])
    assert status == 201 and body["id"] == "alice/m1"


def test_tus_dropped_connection_keeps_what_arrived(client: FlaskClient, auth: Auth, data_dir: Path) -> None:
    h = auth("alice")
    url = _create(client, h, 10_000, filename="x.zip").headers["Location"]

    from werkzeug.test import EnvironBuilder

    env = EnvironBuilder(
        path=url, method="PATCH", headers=h | TUS | {"Upload-Offset": "0"},
        content_type="application/offset+octet-stream", data=b"",
    ).get_environ()  # fmt: skip
    # the client announced 5000 bytes, but the connection drops after 3000
    env["wsgi.input"] = io.BytesIO(b"a" * 3000)
    env["CONTENT_LENGTH"] = "5000"
    r = client.open(env)  # type: ignore[arg-type]
    # 204 with what arrived, or 400 when the server notices the disconnect: either way kept
    assert r.status_code in (204, 400)
    assert client.head(url, headers=h | TUS).headers["Upload-Offset"] == "3000"


def test_tus_protocol_errors(client: FlaskClient, auth: Auth, settings: Settings) -> None:
    h = auth("alice")
    r = client.post("/api/v1/uploads/alice", headers=h | {"Upload-Length": "10"})
    assert r.status_code == 412 and r.headers["Tus-Version"] == "1.0.0"
    r = client.post("/api/v1/uploads/alice", headers=h | TUS)
    assert r.status_code == 400 and "Upload-Length" in r.get_json()["message"]
    r = _create(client, h, settings.upload_max_bytes + 1, filename="big.zip")
    assert r.status_code == 413
    r = client.post("/api/v1/uploads/alice", headers=h | TUS | {"Upload-Length": "5", "Upload-Metadata": "filename !!notbase64"})
    assert r.status_code == 400 and "base64" in r.get_json()["message"]
    url = _create(client, h, 10, filename="a.zip").headers["Location"]
    r = client.patch(url, data=b"12345", headers=h | TUS | {"Upload-Offset": "0", "Content-Type": "text/plain"})
    assert r.status_code == 415
    r = _patch(client, h, url, 0, b"x" * 11)
    assert r.status_code == 400 and "beyond" in r.get_json()["message"]
    assert client.head(url, headers=h | TUS).headers["Upload-Offset"] == "0"
    r = client.patch(url, data=b"1", headers=h | TUS | {"Content-Type": "application/offset+octet-stream"})
    assert r.status_code == 400  # no Upload-Offset
    # another request writing to it: 423 (tus clients retry)
    part = settings.data_dir / "alice" / ".uploads" / (url.rsplit("/", 1)[1] + ".part")
    fd = os.open(part, os.O_WRONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert _patch(client, h, url, 0, b"12345").status_code == 423
    finally:
        os.close(fd)
    assert _patch(client, h, url, 0, b"12345").status_code == 204
    # termination
    assert client.delete(url, headers=h | TUS).status_code == 204
    assert client.head(url, headers=h | TUS).status_code == 404
    assert not part.exists()
    assert client.head("/api/v1/uploads/alice/..%2F..%2Fetc", headers=h | TUS).status_code == 404


def test_tus_access(app: dash.Dash, auth: Auth) -> None:
    def client() -> FlaskClient:  # a fresh one per request: no cookie carried over
        return app.server.test_client()

    url = _create(client(), auth("alice"), 10, filename="a.zip").headers["Location"]
    assert _create(client(), auth(None), 10).status_code == 401
    assert _create(client(), auth("bob"), 10).status_code == 403
    assert client().head(url, headers=auth("bob") | TUS).status_code == 403
    assert _patch(client(), auth("bob"), url, 0, b"x").status_code == 403
    assert client().delete(url, headers=auth(None) | TUS).status_code == 401
    assert client().get("/api/v1/uploads/alice", headers=auth("bob")).status_code == 403
    assert client().head(url, headers=auth("root") | TUS).status_code == 200


def test_tus_folder_upload(client: FlaskClient, auth: Auth, src_map: Path, data_dir: Path) -> None:
    """A folder picked in the browser: one upload per file, named by relativePath."""
    h = auth("alice")
    ids = []
    for p in sorted(src_map.rglob("*")):
        if not p.is_file():
            continue
        body = p.read_bytes()
        rel = f"m1/{p.relative_to(src_map).as_posix()}"
        r = _create(client, h, len(body), filename=p.name, relativePath=rel)
        url = r.headers["Location"]
        if body:
            _send(client, h, url, body, 65536)
        ids.append(url.rsplit("/", 1)[1])
    status, body = import_job(client, h, "alice", ids)
    assert status == 201, body
    assert tree(data_dir / "alice" / "m1") == tree(src_map)
    for p in src_map.rglob("*"):
        if p.is_file():
            assert (data_dir / "alice" / "m1" / p.relative_to(src_map)).read_bytes() == p.read_bytes()


def test_tus_folder_upload_with_a_bad_path_is_refused(client: FlaskClient, auth: Auth, src_map: Path, data_dir: Path) -> None:
    h = auth("alice")
    url = _create(client, h, 4, filename="x", relativePath="../../outside.txt").headers["Location"]
    _send(client, h, url, b"evil", 4)
    status, body = import_job(client, h, "alice", [url.rsplit("/", 1)[1]])
    assert status == 400 and "../../outside.txt" in body["message"]
    assert not (data_dir / "outside.txt").exists() and not (data_dir.parent / "outside.txt").exists()


def test_import_body_errors(client: FlaskClient, auth: Auth) -> None:
    h = auth("alice")
    assert client.post("/api/v1/uploads/alice/import", json={}, headers=h).status_code == 400
    assert client.post("/api/v1/uploads/alice/import", json={"uploads": []}, headers=h).status_code == 400
    r = client.post("/api/v1/uploads/alice/import", json={"uploads": ["A" * 24]}, headers=h)
    assert r.status_code == 404


# --------------------------------------------------------------------------- drop folder


def test_drop_folder_button(client: FlaskClient, auth: Auth, src_map: Path, data_dir: Path) -> None:
    import shutil

    incoming = data_dir / "alice" / "incoming"
    incoming.mkdir(parents=True)
    shutil.copytree(src_map, incoming / "m1")
    assert client.post("/api/v1/incoming/alice", headers=auth("bob")).status_code == 403
    r = client.post("/api/v1/incoming/alice", headers=auth("alice"))
    assert r.status_code == 200
    (res,) = r.get_json()["results"]
    assert res["status"] == "imported" and res["map"] == "alice/m1"
    assert client.get("/api/v1/maps/alice/m1", headers=auth("alice")).status_code == 200


# --------------------------------------------------------------------------- access matrix


def test_download_and_listing_access_matrix(app: dash.Dash, tokens: dict[str, str], auth: Auth, src_map: Path) -> None:
    """A private map of alice shared with a group: who may list and download it."""
    from app.auth import Identity, run_as
    from app.auth.users import add_member, create_group, create_token, create_user
    from app.db import DB_KEY, session_scope
    from app.services import access
    from app.services.maps import MapRef

    from .conftest import PASSWORD

    with app.server.app_context(), session_scope(app.server.extensions[DB_KEY]) as db:
        for name in ("reader", "editor"):
            create_user(db, name, PASSWORD, cheap_hash=True)
            tokens[name] = create_token(db, name)
        for group, member in (("readers", "reader"), ("editors", "editor")):
            create_group(db, group)
            add_member(db, group, member)
    client = app.server.test_client()
    assert _post_zip(client, auth("alice"), zip_folder(src_map)).status_code == 201
    with app.server.test_request_context(), run_as(Identity(user_id=-1, name="root", is_admin=True)):
        access.set_share(MapRef("alice", "m1"), "readers", "read")
        access.set_share(MapRef("alice", "m1"), "editors", "edit")
    expected = {None: 404, "alice": 200, "reader": 200, "editor": 200, "bob": 404, "root": 200}
    for who, status in expected.items():
        c = app.server.test_client()
        r = c.get("/api/v1/maps/alice/m1/download", headers=auth(who))
        assert r.status_code == status, who
        listed = {m["id"] for m in c.get("/api/v1/maps", headers=auth(who)).get_json()["maps"]}
        assert ("alice/m1" in listed) == (status == 200), who
        # only the owner (or an admin) adds maps or versions, not the group members
        up = _post_zip(c, auth(who), zip_folder(src_map), query="?overwrite=true")
        assert up.status_code == {None: 401, "alice": 201, "root": 201}.get(who, 403), who
