"""Fixtures of the upload tests: an app per test on its own DATA_DIR, users by name."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import dash
import pytest
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


@pytest.fixture
def login(monkeypatch: pytest.MonkeyPatch) -> Callable[[str | None], dict[str, str]]:
    """``login(name)``: act as that user (headers to send); ``login(None)``: anonymous."""
    import app.auth as auth

    def as_user(name: str | None) -> dict[str, str]:
        monkeypatch.setattr(auth, "current_user_name", lambda: name)
        return {}

    return as_user
