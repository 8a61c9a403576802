"""Scale-out: two app "hosts" (gunicorn on two ports) behind one nginx upstream, sharing the
cache Redis, the broker Redis and its Celery worker, the app database (a real PostgreSQL)
and the data folder, with one ``SECRET_KEY`` -- as several machines of a lab would.

A login made on one host is valid on the other; a map saved through one is seen changed
through the other (and through nginx) at once; a pooling job started through one is run by
the Celery worker and its result fetched through the other.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app import ids
from pymapmanager.synthetic.maps import generate_map
from pymapmanager.synthetic.pools import make_pool
from tests.auth.conftest import pg_server  # noqa: F401  (the session's PostgreSQL)
from tests.deploy.conftest import PREFIX, _fail_or_skip
from tests.deploy.live import (
    LiveClient,
    callback_app,
    csrf_of_login_page,
    pool_inputs,
    start_pool_job,
    wait_pool_job,
)
from tests.deploy.stack import Server, Stack, StackError, tail
from tests.support.dash_caller import DashCaller
from tests.support.postgres import PostgresServer
from tests.upload.support import zip_folder

pytestmark = [pytest.mark.deploy, pytest.mark.slow]

ADMIN_PASSWORD = "scale-out admin password"
POOL_IDS = [f"public/pool_{c}_{k:02d}" for c in ("control", "treatment") for k in (1, 2)]


@dataclass
class Hosts:
    stack: Stack
    a: Server
    b: Server
    nginx: Server
    worker: Server
    data_dir: Path

    def base(self, server: Server) -> str:
        """The server's URL with the prefix, no trailing slash."""
        return f"{server.url}{PREFIX}".rstrip("/")


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory, pg_server: PostgresServer) -> Iterator[Hosts]:  # noqa: F811
    data = tmp_path_factory.mktemp("scale-data")
    generate_map(data / "public", name="demo", sessions=4, channels=1, shape=(4, 96, 96), seed=11)
    make_pool(data / "public", maps_per_cohort=2, sessions=4, seed=3)
    stack = Stack(tmp_path_factory.mktemp("scale-stack"))
    try:
        env = {
            "DATA_DIR": str(data), "URL_PREFIX": PREFIX, "CREATE_DEMO": "0", "SECRET_KEY": "scale-out-secret",
            "DATABASE_URL": pg_server.new_database(), "ADMIN_PASSWORD": ADMIN_PASSWORD, "PROXY_FIX": "1",
            "REDIS_URL": stack.redis("redis", "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"),
            "CELERY_BROKER_URL": stack.redis("broker", "--maxmemory-policy", "noeviction"),
        }  # fmt: skip
        a = stack.gunicorn("host-a", env, workers=2)
        b = stack.gunicorn("host-b", env, workers=2)
        worker = stack.celery_worker("worker", env, concurrency=1)
        nginx = stack.nginx("nginx", [f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"], PREFIX)
    except StackError as e:
        stack.close()
        _fail_or_skip(str(e))
        raise
    try:
        yield Hosts(stack, a, b, nginx, worker, data)
    finally:
        stack.close()


def _login(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30, headers={"Origin": base[: -len(PREFIX.rstrip("/"))]})
    token = csrf_of_login_page(client, PREFIX)
    r = client.post("/auth/login", data={"csrf_token": token, "username": "admin", "password": ADMIN_PASSWORD,
                                         "next": PREFIX})  # fmt: skip
    assert r.status_code == 303 and "error=" not in r.headers["Location"], (r.status_code, r.headers)
    return client


def test_a_login_on_one_host_is_valid_on_the_other(hosts: Hosts) -> None:
    a = _login(hosts.base(hosts.a))
    assert a.get("/auth/whoami").json()["name"] == "admin"
    # the same session cookie, on the other host and through nginx (which balances over both)
    for server in (hosts.b, hosts.nginx):
        base = hosts.base(server)
        with httpx.Client(base_url=base, timeout=30, cookies=a.cookies) as other:
            for _ in range(4):
                who = other.get("/auth/whoami")
                assert who.status_code == 200 and who.json() == {"name": "admin", "is_admin": True}, who.text
    # and a stranger is nobody on either
    for server in (hosts.a, hosts.b):
        assert httpx.get(hosts.base(server) + "/auth/whoami", timeout=30).status_code == 401
    a.close()


def test_a_map_saved_through_one_host_is_seen_changed_through_the_other(hosts: Hosts, tmp_path: Path) -> None:
    b = httpx.Client(base_url=hosts.base(hosts.b), timeout=30)
    via_nginx = httpx.Client(base_url=hosts.base(hosts.nginx), timeout=30)
    before = b.get("/api/v1/maps/public/demo").json()
    assert before["num_sessions"] == 4
    values = b.get("/api/v1/maps/public/demo/values", params={"stat": "pDist"}).json()  # cached on B and in Redis
    assert len(values["sessions"]) == 4
    assert via_nginx.get("/api/v1/maps/public/demo").json()["version"] == before["version"]

    # re-upload through host A: the same map name, now 6 sessions
    new = generate_map(tmp_path / "new", name="demo", sessions=6, channels=1, shape=(4, 96, 96), seed=12)
    a = _login(hosts.base(hosts.a))
    r = a.post("/api/v1/maps/public", params={"overwrite": "true"},
               files={"file": ("demo.zip", zip_folder(new), "application/zip")})  # fmt: skip
    assert r.status_code == 201, r.text
    # at once, through the other host and through nginx: the new version, not a cached answer
    after = b.get("/api/v1/maps/public/demo").json()
    assert after["version"] != before["version"] and after["num_sessions"] == 6
    assert len(b.get("/api/v1/maps/public/demo/values", params={"stat": "pDist"}).json()["sessions"]) == 6
    for _ in range(4):  # both upstreams
        assert via_nginx.get("/api/v1/maps/public/demo").json()["version"] == after["version"]

    # a file changed in the shared folder (as Map Manager saving in place): a new version on both
    db = next((hosts.data_dir / "public" / "demo" / "stackdb").glob("*_s0_db2.txt"))
    db.write_text(db.read_text())
    t = time.time() + 5
    os.utime(db, (t, t))
    v_a = httpx.get(hosts.base(hosts.a) + "/api/v1/maps/public/demo", timeout=30).json()["version"]
    v_b = b.get("/api/v1/maps/public/demo").json()["version"]
    assert v_a == v_b != after["version"]
    for c in (a, b, via_nginx):
        c.close()


def test_a_pooling_job_started_on_one_host_runs_on_the_worker(hosts: Hosts) -> None:
    log = hosts.worker.log
    before = log.read_text(errors="replace").count("succeeded in")
    a, b = LiveClient(hosts.base(hosts.a)), LiveClient(hosts.base(hosts.b))
    ready = wait_pool_job(b, start_pool_job(a, POOL_IDS))
    assert "error" not in ready and ready["bundle"].startswith("pool2bundle:"), ready
    assert ready["spec"]["maps"] == POOL_IDS
    text = log.read_text(errors="replace")
    assert text.count("succeeded in") == before + 1, tail(log)
    # neither web host ran it: no Dash job process of their own
    for server in (hosts.a, hosts.b):
        assert "background_callback" not in server.log.read_text(errors="replace")
    # the same pool again through B: ready at once from the shared cache, no job
    caller_b = DashCaller(callback_app(), b, page="/pool")  # type: ignore[arg-type]
    again, job, _ = caller_b([(ids.POOL_READY, "data"), (ids.POOL_JOB, "data"), (ids.POOL_MESSAGES, "children")],
                             pool_inputs(POOL_IDS))  # fmt: skip
    assert again["bundle"] == ready["bundle"]
    a.close()
    b.close()
