"""Fixtures of the upload tests: an app per test on its own DATA_DIR, users by name."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dash
import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.config import Settings
from app.factory import create_app
from tests.support.net import free_port

from .support import make_map


@pytest.fixture(scope="session")
def map_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated small map folder ``.../m1`` (made once; copy it before changing it)."""
    return make_map(tmp_path_factory.mktemp("maps"), "m1")


@pytest.fixture
def src_map(map_template: Path, tmp_path: Path) -> Path:
    """This test's own copy of the small map, at ``tmp_path/src/m1``."""
    dest = tmp_path / "src" / "m1"
    shutil.copytree(map_template, dest)
    return dest


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir, secret_key="test", create_demo=False, testing=True,
        incoming_quiet_seconds=0.0,
    )  # fmt: skip


@pytest.fixture
def app(settings: Settings) -> Iterator[dash.Dash]:
    yield create_app(settings)


@pytest.fixture
def client(app: dash.Dash) -> FlaskClient:
    return app.server.test_client()


#: users made in every test app: name -> is admin
USERS = {"alice": False, "bob": False, "root": True}
PASSWORD = "correct horse battery staple"


def make_tokens(server: Flask, users: dict[str, bool] = USERS) -> dict[str, str]:
    """Create ``users`` (cheap hashes) and one API token each; name -> token."""
    from app.auth.users import create_token, create_user
    from app.db import DB_KEY, session_scope

    tokens: dict[str, str] = {}
    with server.app_context(), session_scope(server.extensions[DB_KEY]) as db:
        for name, admin in users.items():
            create_user(db, name, PASSWORD, admin=admin, cheap_hash=True)
            tokens[name] = create_token(db, name, "tests")
    return tokens


@pytest.fixture
def tokens(app: dash.Dash) -> dict[str, str]:
    """alice and bob (users) and root (admin), with a token each."""
    return make_tokens(app.server)


@pytest.fixture
def auth(tokens: dict[str, str]) -> Callable[[str | None], dict[str, str]]:
    """``auth(name)``: the headers of a request by that user; ``auth(None)``: anonymous."""

    def headers(name: str | None) -> dict[str, str]:
        return {} if name is None else {"Authorization": f"Bearer {tokens[name]}"}

    return headers


# --------------------------------------------------------------------------- a real gunicorn


@dataclass
class LiveServer:
    """A gunicorn serving the app on a free loopback port."""

    url: str
    data_dir: Path
    tokens: dict[str, str]
    process: subprocess.Popen[bytes]


@contextmanager
def gunicorn_server(data_dir: Path, workers: int = 2, extra_env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    """Start gunicorn on ``data_dir`` (users alice, bob, root with tokens); stop it after."""
    data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(Settings(data_dir=data_dir, secret_key="live-test", create_demo=False))
    tokens = make_tokens(app.server)
    port = free_port()
    env = os.environ | {
        "DATA_DIR": str(data_dir), "BIND": f"127.0.0.1:{port}", "CREATE_DEMO": "0",
        "SECRET_KEY": "live-test", "WEB_CONCURRENCY": str(workers), "ACCESS_LOG": "0",
        "LOG_LEVEL": "warning", "INCOMING_QUIET_SECONDS": "0",
    } | (extra_env or {})  # fmt: skip
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "app/gunicorn_conf.py", "app.wsgi:server"],
        cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/api/v1/status", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(f"gunicorn did not start: {err[-2000:]}")
            time.sleep(0.2)
        yield LiveServer(url, data_dir, tokens, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One gunicorn (2 workers) for the session; a public map ``public/pub`` on it."""
    data = tmp_path_factory.mktemp("live") / "data"
    make_map(data / "public", "pub")
    with gunicorn_server(data) as server:
        yield server
