"""The Redis cache backend: shared by separate app processes, and harmless when down."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from app.config import Settings
from app.factory import create_app
from pymapmanager.synthetic.maps import generate_map
from tests.redis.conftest import free_port

pytestmark = pytest.mark.redis

REPO = Path(__file__).resolve().parents[2]
MAP = "/api/v1/maps/public/small"


def get(base: str, path: str) -> tuple[int, bytes, dict[str, str]]:
    """GET ``base + path``: status, body, headers (HTTP errors included)."""
    try:
        with urllib.request.urlopen(base + path, timeout=30) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def get_json(base: str, path: str) -> Any:
    status, body, _ = get(base, path)
    assert status == 200, body
    return json.loads(body)


@pytest.fixture(scope="module")
def shared_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DATA_DIR with one small map with images."""
    d = tmp_path_factory.mktemp("shared")
    generate_map(d / "public", name="small", sessions=2, channels=1, shape=(4, 64, 96), seed=5)
    return d


@pytest.fixture(scope="module")
def two_servers(
    redis_server: str, shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """Two gunicorn processes (one worker each) with the same REDIS_URL and DATA_DIR."""
    redis.Redis.from_url(redis_server).flushall()
    logs = tmp_path_factory.mktemp("gunicorn")
    procs: list[subprocess.Popen[bytes]] = []
    bases, log_files = [], []
    for i in range(2):
        port = free_port()
        env = dict(os.environ, DATA_DIR=str(shared_data), REDIS_URL=redis_server,
                   CREATE_DEMO="0", BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1",
                   ACCESS_LOG="0", LOG_LEVEL="warning")  # fmt: skip
        log_file = logs / f"server{i}.log"
        log_files.append(log_file)
        with open(log_file, "wb") as out:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "gunicorn", "--config", "app/gunicorn_conf.py",
                     "app.wsgi:server"],
                    cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                )  # fmt: skip
            )
        bases.append(f"http://127.0.0.1:{port}")
    try:
        for proc, base, log_file in zip(procs, bases, log_files, strict=True):
            deadline = time.monotonic() + 60
            while True:
                try:
                    if get(base, "/api/v1/status")[0] == 200:
                        break
                except OSError:
                    pass  # not listening yet
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = log_file.read_text(errors="replace")[-2000:]
                    pytest.fail(f"gunicorn on {base} did not start: {err}")
                time.sleep(0.1)
        yield bases[0], bases[1]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_two_processes_share_parsed_maps_and_images(
    two_servers: tuple[str, str], redis_server: str
) -> None:
    a, b = two_servers
    sa, sb = get_json(a, "/api/v1/status"), get_json(b, "/api/v1/status")
    assert sa["cache"] == sb["cache"] == "redis" and sa["pid"] != sb["pid"]
    assert sa["cache_reachable"] and sb["cache_reachable"]

    info_a = get_json(a, MAP)
    assert get_json(a, "/api/v1/status")["counters"]["map_parse"] == 1
    info_b = get_json(b, MAP)
    assert info_b == info_a
    cb = get_json(b, "/api/v1/status")["counters"]
    assert cb.get("map_parse", 0) == 0 and cb["json_cache_hit"] >= 1

    values_a = get_json(a, MAP + "/values?stat=pDist")
    assert get_json(b, MAP + "/values?stat=pDist") == values_a

    plane = f"{MAP}/sessions/1/planes/2?v={info_a['version']}"
    status, png_a, headers = get(a, plane)
    assert status == 200 and headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert get_json(a, "/api/v1/status")["counters"]["image_render"] == 1
    status, png_b, headers_b = get(b, plane)
    assert status == 200 and png_b == png_a and headers_b["ETag"] == headers["ETag"]
    cb = get_json(b, "/api/v1/status")["counters"]
    assert cb.get("image_render", 0) == 0 and cb["image_cache_hit"] == 1
    assert cb.get("map_parse", 0) == 0

    keys = {k.decode() for k in redis.Redis.from_url(redis_server).keys("pmm:*")}
    v = info_a["version"]
    assert f"pmm:info:public/small:{v}" in keys
    assert not any(k.startswith("pmm:map:") for k in keys)  # parsed maps stay in the worker
    assert any(k.startswith(f"pmm:img:plane:public/small:{v}:1:1:2:") for k in keys)


def test_status_reports_redis(redis_url: str, tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, redis_url=redis_url, secret_key="t",
                              create_demo=False, testing=True))  # fmt: skip
    body = app.server.test_client().get("/api/v1/status").get_json()
    assert body["cache"] == "redis" and body["cache_reachable"] is True


def test_unreachable_redis_degrades_to_no_cache(shared_data: Path) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app(Settings(data_dir=shared_data, redis_url=dead, secret_key="t",
                              create_demo=False, testing=True))  # fmt: skip
    c = app.server.test_client()
    assert c.get(MAP).status_code == 200
    assert c.get(MAP + "/sessions/0/planes/0").status_code == 200
    body = c.get("/api/v1/status").get_json()
    assert body["cache"] == "redis" and body["cache_reachable"] is False
    assert body["cache_state"] == "down"  # skipped for a few seconds after the failure
    assert body["counters"]["cache_errors"] >= 1 and body["counters"]["cache_skipped"] >= 1
