"""Fixtures of the HTTP tests: a fresh app per test on its own copy of small generated maps.

The maps are generated once per session into a template folder and copied (a few hundred
kB) into each test's ``DATA_DIR``, flaskr-style: ``app``, ``client``, ``data_dir``.
"""

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

#: public maps in the template DATA_DIR: name -> generate_map keyword arguments
MAPS: dict[str, dict[str, object]] = {
    # 3 sessions x 2 channels x 6 planes of 96 x 128: one tile per plane
    "small": {"sessions": 3, "channels": 2, "shape": (6, 96, 128), "seed": 1, "map_condition": "mc1"},
    # annotations and tracings, no images
    "noimg": {"sessions": 3, "channels": 1, "shape": (6, 96, 128), "seed": 2, "images": False},
    # 1 channel, 300 x 520 planes: a 3-level tile pyramid (levels 0..2) with edge tiles
    "wide": {"sessions": 2, "channels": 1, "shape": (3, 300, 520), "seed": 3, "segments": 1,
             "spines_per_segment": 8},
}  # fmt: skip


@pytest.fixture(scope="session")
def template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DATA_DIR with the maps of :data:`MAPS` under ``public/`` (made once)."""
    root = tmp_path_factory.mktemp("template")
    for name, kw in MAPS.items():
        generate_map(root / "public", name=name, **kw)  # type: ignore[arg-type]
    return root


@pytest.fixture
def data_dir(template_dir: Path, tmp_path: Path) -> Path:
    """This test's own DATA_DIR (a copy of the template)."""
    d = tmp_path / "data"
    shutil.copytree(template_dir, d)
    return d


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    """Settings of this test's app: no Redis, no demo maps, testing."""
    return Settings(data_dir=data_dir, redis_url=None, secret_key="test", create_demo=False, testing=True)


@pytest.fixture
def app(settings: Settings) -> Iterator[dash.Dash]:
    """A fresh Dash app (and Flask server) per test."""
    yield create_app(settings)


@pytest.fixture
def client(app: dash.Dash) -> FlaskClient:
    """The Flask test client of :func:`app`."""
    return app.server.test_client()
