"""Fixtures of the callback tests: a fresh app per test on small generated maps, and a
helper that calls a callback the way the browser does (:mod:`tests.support.dash_caller`)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import dash
import pytest
from flask.testing import FlaskClient

from app.config import Settings
from app.factory import create_app
from pymapmanager.synthetic.maps import generate_map
from tests.support.dash_caller import NO_UPDATE, DashCaller

__all__ = ["NO_UPDATE", "DashCaller"]

#: public maps of the callback tests: name -> generate_map keyword arguments
MAPS: dict[str, dict[str, object]] = {
    "demo": {"sessions": 4, "channels": 2, "shape": (6, 64, 80), "seed": 1, "map_condition": "mc1"},
    "noimg": {"sessions": 3, "channels": 1, "shape": (6, 64, 80), "seed": 2, "images": False},
    # planes longer than 1024 pixels are served as tiles
    "big": {"sessions": 2, "channels": 1, "shape": (2, 1100, 1100), "seed": 3, "segments": 1, "spines_per_segment": 8},
    # the shape of real maps: 9 sessions, ~650 objects a session
    "nine": {"sessions": 9, "channels": 2, "shape": (40, 96, 96), "seed": 5, "segments": 4, "spines_per_segment": 165, "images": False},
    # no dendrite tracing (its line/ folder is removed)
    "notrace": {"sessions": 3, "channels": 1, "shape": (6, 64, 80), "seed": 4, "images": False},
}


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DATA_DIR with the maps of :data:`MAPS` under ``public/`` (read only by the tests)."""
    root = tmp_path_factory.mktemp("callbacks-data")
    for name, kw in MAPS.items():
        generate_map(root / "public", name=name, **kw)  # type: ignore[arg-type]
    shutil.rmtree(root / "public" / "notrace" / "line")
    return root


@pytest.fixture
def app(data_dir: Path) -> Iterator[dash.Dash]:
    """A fresh Dash app per test."""
    yield create_app(Settings(data_dir=data_dir, secret_key="test", create_demo=False, testing=True))


@pytest.fixture
def client(app: dash.Dash) -> FlaskClient:
    """The Flask test client of :func:`app`."""
    return app.server.test_client()


@pytest.fixture
def call(app: dash.Dash, client: FlaskClient) -> DashCaller:
    """Call a server callback: ``call(outputs, inputs, state)`` -> output values."""
    return DashCaller(app, client)
