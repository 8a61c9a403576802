"""Fixtures of the upload tests: an app per test on its own DATA_DIR, users by name."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import dash
import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.config import Settings
from app.factory import create_app

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
