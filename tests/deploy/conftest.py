"""The production stack on loopback: nginx (the compose site template) in front of gunicorn
(4 workers) under the URL prefix ``/mapmanager/``, a cache Redis (LRU), a broker Redis (no
eviction) and a Celery worker running the pooling page's background jobs.

Started once per test session and stopped at its end. Needs Debian's nginx and
redis-server (installed by ``./dev test``); a missing one fails under ``CI=true``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pymapmanager.synthetic.maps import generate_map
from pymapmanager.synthetic.pools import make_pool
from tests.conftest import IN_CI
from tests.deploy.stack import Stack, StackError

PREFIX = "/mapmanager/"
SECRET = "deploy-test-secret"

#: figures measured by the deployment tests (build times, image sizes, load), printed at the end
FIGURES: dict[str, str] = {}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the figures the deployment tests measured (nothing is asserted on them)."""
    if FIGURES:
        terminalreporter.section("deployment figures")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name}: {value}")


@dataclass
class Deployment:
    """What the tests reach: nginx's base URL (with the prefix) and the stack behind it."""

    stack: Stack
    base: str
    data_dir: Path
    env: dict[str, str]


def _fail_or_skip(msg: str) -> None:
    if IN_CI:
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def deploy_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DATA_DIR: a small map with images, one without, and a small pool of 2 + 2 maps."""
    root = tmp_path_factory.mktemp("deploy-data")
    generate_map(root / "public", name="demo", sessions=4, channels=2, shape=(8, 128, 128), seed=1)
    generate_map(root / "public", name="noimg", sessions=3, channels=1, shape=(8, 128, 128), seed=2, images=False)
    make_pool(root / "pool", maps_per_cohort=2, sessions=4, seed=7)
    return root


@pytest.fixture(scope="session")
def deployment(deploy_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The whole stack, once per session."""
    stack = Stack(tmp_path_factory.mktemp("deploy-stack"))
    try:
        cache = stack.redis("redis", "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
        broker = stack.redis("broker", "--maxmemory-policy", "noeviction")
        env = {
            "DATA_DIR": str(deploy_data), "URL_PREFIX": PREFIX, "REDIS_URL": cache,
            "CELERY_BROKER_URL": broker, "CREATE_DEMO": "0", "SECRET_KEY": SECRET,
        }  # fmt: skip
        worker = stack.celery_worker("worker", env)
        app = stack.gunicorn("app", env, workers=4)
        nginx = stack.nginx("nginx", [f"127.0.0.1:{app.port}"], PREFIX)
        assert worker.proc.poll() is None
    except StackError as e:
        stack.close()
        _fail_or_skip(str(e))
        raise
    try:
        yield Deployment(stack, f"{nginx.url}{PREFIX}", deploy_data, env)
    finally:
        stack.close()
