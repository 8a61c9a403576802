"""Login, logout, tokens and the request hardening (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from app.auth import users
from app.auth.login import INITIAL_PASSWORD_FILE
from app.config import Settings
from app.db import session
from app.factory import create_app
from tests.auth.conftest import PASSWORDS, World, find_prop, login, new_client, render_page
from tests.support.dash_caller import find_component


def test_login_form_needs_its_csrf_token(world: World) -> None:
    c = new_client(world.app)
    r = c.post("/auth/login", data={"username": "alice", "password": PASSWORDS["alice"]})
    assert r.status_code == 303 and "error=expired" in r.headers["Location"]
    assert c.get("/auth/whoami").status_code == 401
    r = c.post("/auth/login", data={"csrf_token": "forged", "username": "alice", "password": PASSWORDS["alice"]})
    assert "error=expired" in r.headers["Location"]


def test_wrong_password_and_logout(world: World) -> None:
    c = new_client(world.app)
    r = login(c, "alice", "not-her-password")
    assert r.status_code == 303 and "error=bad" in r.headers["Location"]
    assert c.get("/auth/whoami").status_code == 401
    r = login(c, "alice", PASSWORDS["alice"])
    assert r.status_code == 303
    assert c.get("/auth/whoami").get_json()["name"] == "alice"
    cookie = c.get_cookie("pmm_session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    token = find_prop(render_page(c, "/login"), "csrf_token")
    assert c.post("/auth/logout", data={"csrf_token": token}).status_code == 303
    assert c.get("/auth/whoami").status_code == 401


def test_login_is_rate_limited(world: World) -> None:
    c = new_client(world.app)
    # 10 a minute per address; the world's five logins came from the same address
    statuses = [login(c, "alice", "wrong-password").headers["Location"] for _ in range(6)]
    assert all("error=bad" in s for s in statuses[:5])
    assert "error=limit" in statuses[5]
    assert "error=limit" in login(c, "alice", PASSWORDS["alice"]).headers["Location"]


def test_passwords_never_logged(world: World, caplog: pytest.LogCaptureFixture) -> None:
    c = new_client(world.app)
    login(c, "alice", "secret-wrong-guess")
    login(c, "alice", PASSWORDS["alice"])
    assert "secret-wrong-guess" not in caplog.text and PASSWORDS["alice"] not in caplog.text


def test_cross_site_posts_are_refused(world: World) -> None:
    c = world.clients["owner"]
    body = {"output": "x.children", "outputs": {"id": "x", "property": "children"}, "inputs": [],
            "changedPropIds": []}  # fmt: skip
    r = c.post("/_dash-update-component", json=body, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    # a cookie session without Origin or Referer is not a browser of this site
    c.environ_base.pop("HTTP_ORIGIN")
    try:
        assert c.post("/_dash-update-component", json=body).status_code == 403
    finally:
        c.environ_base["HTTP_ORIGIN"] = "http://localhost"


def test_security_headers(world: World) -> None:
    r = world.clients["anonymous"].get("/")
    csp = r.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in csp and "default-src 'self'" in csp and "sha256-" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert r.headers["Referrer-Policy"] == "same-origin"


def test_bearer_tokens(world: World) -> None:
    with world.app.server.app_context():
        token = users.create_token(session(), "bob", "script")
        session().commit()
    c = world.app.server.test_client()  # no cookie, no Origin: a script
    h = {"Authorization": f"Bearer {token}"}
    ids = {e["id"] for e in c.get("/api/v1/maps", headers=h).get_json()["maps"]}
    assert "alice/shared" in ids and "alice/priv" not in ids
    bad = c.get("/api/v1/maps", headers={"Authorization": "Bearer pmm_not-a-token"})
    assert bad.status_code == 401 and bad.get_json()["status"] == 401
    with world.app.server.app_context():
        uid = users.get_user(session(), "bob").id  # type: ignore[union-attr]
        (tok,) = users.list_tokens(session(), uid)
        assert tok.last_used_at is not None and token not in repr(tok)
        users.revoke_token(session(), uid, tok.id)
        session().commit()
    assert c.get("/api/v1/maps", headers=h).status_code == 401


def test_new_password_ends_other_sessions(world: World) -> None:
    c = world.clients["reader"]
    assert c.get("/auth/whoami").status_code == 200
    with world.app.server.app_context():
        users.set_password(session(), "bob", "a-new-password")
        session().commit()
    assert c.get("/auth/whoami").status_code == 401


def test_first_admin_and_secret_key(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, create_demo=False, testing=True)
    create_app(s)
    pw = tmp_path / INITIAL_PASSWORD_FILE
    key = tmp_path / ".secret_key"
    assert pw.stat().st_mode & 0o777 == 0o600 and key.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "app.db").stat().st_mode & 0o777 == 0o600
    app2 = create_app(s)  # a second worker: same key, no second admin
    assert app2.server.config["SECRET_KEY"] == key.read_text().strip()
    c = new_client(app2)
    assert login(c, "admin", pw.read_text().strip()).status_code == 303
    assert c.get("/auth/whoami").get_json() == {"name": "admin", "is_admin": True}


def test_anonymous_read_off(tmp_path: Path, auth_template: Path) -> None:
    import shutil

    shutil.copytree(auth_template, tmp_path / "d")
    app = create_app(Settings(data_dir=tmp_path / "d", secret_key="k", create_demo=False, testing=True,
                              anonymous_read=False))  # fmt: skip
    c = app.server.test_client()
    assert c.get("/api/v1/maps").status_code == 401
    assert c.get("/api/v1/maps/public/pub").status_code == 401
    assert c.get("/api/v1/maps/public/nothing").status_code == 401
    assert c.get("/api/v1/status").status_code == 200
    r = c.get("/api/v1/maps/public/pub/download")
    assert r.status_code == 401 and r.is_json and r.get_json()["status"] == 401
    assert c.get("/api/v1/openapi.json").status_code == 200


def test_anonymous_read_off_sends_pages_to_the_login_page(tmp_path: Path, auth_template: Path) -> None:
    import shutil
    from urllib.parse import parse_qs, urlsplit

    shutil.copytree(auth_template, tmp_path / "d")
    app = create_app(Settings(data_dir=tmp_path / "d", secret_key="k", create_demo=False, testing=True,
                              anonymous_read=False, admin_password=PASSWORDS["admin"]))  # fmt: skip
    c = new_client(app)
    for path in ("/", "/map/public/pub?sessions=1", "/my-maps", "/pool", "/no-such-page"):
        r = c.get(path)
        assert r.status_code == 303, path
        where = urlsplit(r.headers["Location"])
        assert where.path == "/login" and parse_qs(where.query)["next"] == [path], path
    # moving inside the app (Dash renders the next page without a page load): the page is
    # a jump to the login page, no content
    for path, search in (("/", ""), ("/map/public/pub", "?sessions=1"), ("/my-maps", ""), ("/pool", ""),
                         ("/groups", "")):  # fmt: skip
        tree = render_page(c, path, search)
        jump = find_component(tree, "pmm-login-redirect")
        assert jump is not None and jump["props"]["refresh"] is True, path
        where = urlsplit(jump["props"]["href"])
        assert where.path == "/login" and parse_qs(where.query)["next"] == [path + search], path
        assert "pub" not in json.dumps(tree).replace(jump["props"]["href"], ""), path
    # the login page and what it needs stay open
    assert c.get("/login").status_code == 200
    assert c.get("/login?next=/my-maps").status_code == 200
    assert c.get("/_dash-layout").status_code == 200
    assert c.get("/_dash-dependencies").status_code == 200
    # an API route answers 401 JSON, never a redirect
    r = c.get("/api/v1/maps")
    assert r.status_code == 401 and r.get_json()["message"] == "log in or send an API token"
    # logged in (through the form, going back to where the visitor was): everything answers
    token = find_prop(render_page(c, "/login"), "csrf_token")
    r = c.post("/auth/login", data={"csrf_token": token, "username": "admin", "password": PASSWORDS["admin"],
                                    "next": "/map/public/pub?sessions=1"})  # fmt: skip
    assert r.status_code == 303 and r.headers["Location"] == "/map/public/pub?sessions=1"
    assert c.get("/map/public/pub?sessions=1").status_code == 200
    assert c.get("/api/v1/maps").status_code == 200
    assert find_component(render_page(c, "/map/public/pub", "?sessions=1"), "pmm-login-redirect") is None
    # ANONYMOUS_READ on (the default): anonymous visitors see pages
    app2 = create_app(Settings(data_dir=tmp_path / "d", secret_key="k", create_demo=False, testing=True))
    assert app2.server.test_client().get("/map/public/pub").status_code == 200


def test_proxy_headers_only_when_configured(tmp_path: Path) -> None:
    for n, secure in ((0, False), (1, True)):
        d = tmp_path / str(n)
        app = create_app(Settings(data_dir=d, secret_key="k", create_demo=False, testing=True, proxy_fix=n,
                                  admin_password=PASSWORDS["admin"]))  # fmt: skip
        c = app.server.test_client()
        c.environ_base.update(HTTP_X_FORWARDED_PROTO="https", HTTP_ORIGIN="https://localhost")
        render_page(c, "/login")
        cookie = c.get_cookie("pmm_session")
        assert cookie is not None and cookie.secure == secure, n
    assert os.environ.get("PROXY_FIX") is None


def test_the_first_page_after_a_start_allows_every_inline_script(tmp_path: Path, auth_template: Path) -> None:
    """An API request first (a health check), then the first page: its policy lists the hash
    of every inline script the page holds (Dash adds some when it serves its first page)."""
    import base64
    import hashlib
    import re
    import shutil

    shutil.copytree(auth_template, tmp_path / "d")
    app = create_app(Settings(data_dir=tmp_path / "d", secret_key="k", create_demo=False, testing=True))
    c = app.server.test_client()
    assert c.get("/api/v1/status").status_code == 200
    r = c.get("/map/public/pub")
    html = r.get_data(as_text=True)
    html = re.sub(r"<!--.*?-->", "", html, flags=re.S)  # (Internet Explorer's note: never run)
    tags = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    # run in the page: no src, not data (Dash's config is JSON)
    inline = [body for attrs, body in tags if "src=" not in attrs and "application/json" not in attrs and body.strip()]
    assert len(inline) >= 2, tags
    csp = r.headers["Content-Security-Policy"]
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp, script[:120]
