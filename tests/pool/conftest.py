"""Fixtures of the pooling page tests: a fresh app per test on a small demo pool, and a
caller for its callbacks (:mod:`tests.support.dash_caller`), background ones included."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dash
import pytest

from app.config import Settings
from app.factory import create_app
from pymapmanager.synthetic.pools import DemoPool, make_pool
from tests.support.dash_caller import NO_UPDATE, DashCaller
from tests.support.tinymap import write_tiny_map

__all__ = ["NO_UPDATE", "PoolCaller"]


@pytest.fixture(scope="session")
def pool_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoPool]:
    """DATA_DIR with a demo pool (2 + 2 maps x 4 sessions) and the tiny map under ``public/``."""
    root = tmp_path_factory.mktemp("pool-data")
    pool = make_pool(root / "public", maps_per_cohort=2, sessions=4, seed=3)
    write_tiny_map(root / "public")
    return root, pool


@pytest.fixture
def data_dir(pool_data: tuple[Path, DemoPool], tmp_path: Path) -> Path:
    """A copy per test (each app gets its own cache and background job folder)."""
    import shutil

    dest = tmp_path / "data"
    shutil.copytree(pool_data[0], dest)
    return dest


@pytest.fixture
def app(data_dir: Path) -> Iterator[dash.Dash]:
    """A fresh Dash app per test."""
    yield create_app(Settings(data_dir=data_dir, secret_key="test", create_demo=False, testing=True))


#: the pooling page's tests use the shared caller
PoolCaller = DashCaller


@pytest.fixture
def call(app: dash.Dash) -> PoolCaller:
    """Call a callback of the pooling page: ``call(outputs, inputs, state)`` -> values."""
    return DashCaller(app, app.server.test_client(), page="/pool")
