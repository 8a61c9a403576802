"""Throughput with Redis killed or frozen, against Redis up and against no cache at all.

One gunicorn (two workers, four threads each) serves a generated map (3 sessions x ~650
objects, 2 channels, 1024 x 1024 planes); a load of 8 client threads asks what a
dashboard user asks for (map info, map values, annotations, tracing, planes, tiles, the
catalog). In the same run:

* **normal**: Redis up (after a warm-up);
* **killed**: Redis killed (SIGKILL) under the load;
* **frozen**: Redis stopped (SIGSTOP: connections hang) under the load;
* **uncached** (baseline): a second gunicorn whose cache never answers (``REDIS_URL`` of a
  closed port) and whose per-worker memory tier is 0 bytes: every request computes.

Every request must be answered (any failure is reported). Targets (issue 7): throughput
with Redis down >= half the uncached rate (ratio outage / uncached >= 0.5).

Usage::

    .venv/bin/python bench/bench_redis_outage.py [--requests N]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pymapmanager.synthetic.maps import generate_map  # noqa: E402
from tests.redis.conftest import free_port, redis_executable  # noqa: E402
from tests.redis.procs import LoadResult, RedisProc, get_json, load, start_gunicorn, stop  # noqa: E402

log = logging.getLogger("bench")

MAP = "/api/v1/maps/public/bench"


def paths(version: str) -> list[str]:
    """The dashboard's requests, round robin."""
    s = MAP + "/sessions"
    return [
        MAP, MAP + "/values?stat=pDist", MAP + "/values?stat=ubssSum_int2", s + "/0/annotations",
        s + "/1/annotations", s + "/2/tracing", f"{s}/0/planes/3?v={version}",
        f"{s}/1/planes/5?projection=sliding&k=1&v={version}",
        f"{s}/2/tiles/2/1/1.png?plane=4&v={version}", f"{s}/0/tiles/1/0/1.png?plane=2&v={version}",
        f"{s}/1/crop?row=300&col=400&z=3&half=24&v={version}", "/api/v1/maps",
    ]  # fmt: skip


def row(name: str, r: LoadResult, base: float | None) -> str:
    ratio = f"{r.rate / base:6.2f}" if base else "      "
    return f"{name:<34} {r.rate:8.0f}/s {r.p50() * 1000:8.1f} ms {ratio}  failed {len(r.failed)}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=600)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    exe = redis_executable()
    if exe is None:
        log.error("no redis-server")
        return 2
    n = args.requests
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        generate_map(d / "data" / "public", name="bench", sessions=3, channels=2, shape=(8, 1024, 1024),
                     spines_per_segment=150, seed=3)  # fmt: skip
        r = RedisProc(exe, free_port(), d)
        r.start()
        p1, p2 = free_port(), free_port()
        env = {"DATA_DIR": str(d / "data"), "REDIS_URL": r.url, "CACHE_RETRY_SECONDS": "5"}
        server = start_gunicorn(env, p1, d / "g1.log")
        dead = {"DATA_DIR": str(d / "data"), "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
                "CACHE_LOCAL_BYTES": "0"}  # fmt: skip
        uncached_server = start_gunicorn(dead, p2, d / "g2.log")
        try:
            a, b = f"http://127.0.0.1:{p1}", f"http://127.0.0.1:{p2}"
            version = get_json(a, MAP)["version"]
            todo = paths(version)
            load(b, todo, threads=8, requests=len(todo) * 4)  # workers warm (imports, parsed map)
            uncached = load(b, todo, threads=8, requests=n)
            load(a, todo, threads=8, requests=len(todo) * 4)
            normal = load(a, todo, threads=8, requests=n)
            r.kill()
            killed = load(a, todo, threads=8, requests=n)
            states = {get_json(a, "/api/v1/status")["cache_state"] for _ in range(4)}
            r.start()
            time.sleep(6)  # past the breaker's window: the workers reconnect by themselves
            back = load(a, todo, threads=8, requests=n)
            r.freeze()
            try:
                frozen = load(a, todo, threads=8, requests=n)
            finally:
                r.thaw()
        finally:
            stop(server)
            stop(uncached_server)
            r.stop()
    log.info("%d requests per phase, 8 client threads, gunicorn 2 workers x 4 threads", n)
    log.info("%-34s %10s %11s %6s", "phase", "rate", "p50", "ratio to normal")
    for name, res in (("normal (Redis up)", normal), ("Redis killed", killed), ("Redis back", back),
                      ("Redis frozen (SIGSTOP)", frozen), ("uncached (baseline)", uncached)):  # fmt: skip
        log.info(row(name, res, normal.rate))
    log.info("status while killed: %s", sorted(states))
    for name, res in (("killed", killed), ("frozen", frozen)):
        ratio = res.rate / uncached.rate
        log.info("ratio %s / normal %.2f, %s / uncached %.2f (target >= 0.5) %s", name,
                 res.rate / normal.rate, name, ratio, "PASS" if ratio >= 0.5 else "FAIL")  # fmt: skip
    failed = [f for res in (normal, killed, back, frozen, uncached) for f in res.failed]
    for f in failed[:10]:
        log.error("failed: %s", f)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
