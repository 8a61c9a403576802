"""Bounded load through nginx (loopback only): the production stack under faults.

Starts the stack of ``tests/deploy/stack.py`` -- Debian's nginx with the compose site
template under ``/mapmanager/``, gunicorn (4 workers), a cache Redis, a broker Redis and a
Celery worker -- on a generated data folder, then runs phases of the same request mix
(catalog, map info, values, planes, tiles) from a few client threads:

* ``normal``: nothing happens;
* ``redis``: the cache Redis is killed (SIGKILL) at the start and restarted half-way;
* ``gunicorn``: one gunicorn worker is killed (SIGKILL) at the start (the master replaces it);
* ``celery``: a pooling job is started through nginx and the Celery worker's process running
  it is killed (SIGKILL) in the middle: the job must be run again or reported failed, never
  hang, and never end without an answer (the page would stop waiting with nothing).

Prints requests/s and p50/p95 latency per kind and phase, the errors, and each fault phase's
throughput as a ratio of the normal phase. Nothing is asserted on timings.

    .venv/bin/python bench/bench_load.py [--seconds 10] [--threads 8]
"""

from __future__ import annotations

import argparse
import http.client
import logging
import os
import random
import signal
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pymapmanager.synthetic.maps import generate_map
from pymapmanager.synthetic.pools import make_pool
from tests.deploy.stack import Server, Stack

log = logging.getLogger("bench_load")

PREFIX = "/mapmanager/"
KINDS = ("catalog", "info", "values", "plane", "tile")
SESSIONS, PLANES, SIDE = 3, 8, 512


@dataclass
class Phase:
    """What one phase saw."""

    name: str
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    errors: list[str] = field(default_factory=list)
    #: answers cut off after their headers (the process writing them was killed): nginx
    #: cannot send those again, so a client sees a short body
    cut: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def make_data(root: Path) -> Path:
    """DATA_DIR: one map with images (3 sessions of 8 x 512 x 512) and a pool of 4 + 4 maps."""
    generate_map(root / "public", name="load", sessions=SESSIONS, channels=1, shape=(PLANES, SIDE, SIDE), seed=21)
    make_pool(root / "public", maps_per_cohort=4, sessions=6, seed=5)
    return root


def _paths(rng: random.Random) -> tuple[str, str]:
    kind = KINDS[rng.randrange(len(KINDS))]
    m = "api/v1/maps/public/load"
    s = rng.randrange(SESSIONS)
    if kind == "catalog":
        return kind, "api/v1/maps"
    if kind == "info":
        return kind, m
    if kind == "values":
        return kind, f"{m}/values?stat=pDist"
    if kind == "plane":
        return kind, f"{m}/sessions/{s}/planes/{rng.randrange(PLANES)}"
    return kind, f"{m}/sessions/{s}/tiles/1/{rng.randrange(2)}/{rng.randrange(2)}.png?plane={rng.randrange(PLANES)}"


def load_phase(base: str, phase: Phase, seconds: float, threads: int,
               during: Callable[[], None] | None = None, timeout: float = 30) -> Phase:  # fmt: skip
    """GET the mix from ``threads`` threads for ``seconds``; ``during`` runs meanwhile (the fault)."""
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    ends: list[float] = []

    def client(seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < stop:
            kind, path = _paths(rng)
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(base + path, timeout=timeout) as r:
                    r.read()
                    status = r.status
            except urllib.error.HTTPError as e:
                status = e.code
            except http.client.IncompleteRead as e:
                with lock:
                    phase.cut.append(f"{kind} {path}: {e!r}")
                continue
            except (OSError, http.client.HTTPException) as e:
                # (HTTPException too: uncaught, it ended the thread, whose requests then stopped unseen)
                with lock:
                    phase.errors.append(f"{kind} {path}: {e!r}")
                continue
            dt = time.perf_counter() - t0
            with lock:
                if status == 200:
                    phase.latencies[kind].append(dt)
                else:
                    phase.errors.append(f"{kind} {path}: HTTP {status}")
        with lock:
            ends.append(time.perf_counter())

    t0 = time.perf_counter()
    ts = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    if during is not None:
        during()
    for t in ts:
        t.join()
    # the load's own length (a fault may be waited for longer, e.g. the pooling job's end)
    phase.seconds = max(ends, default=time.perf_counter()) - t0
    return phase


def _children(pid: int) -> list[int]:
    import psutil

    try:
        return [c.pid for c in psutil.Process(pid).children()]
    except psutil.NoSuchProcess:
        return []


@dataclass
class LoadStack:
    """The stack the benchmark (and tests/deploy/test_load.py) runs against."""

    stack: Stack
    base: str
    env: dict[str, str]
    redis_argv: list[str]

    @property
    def app(self) -> Server:
        return self.stack.servers["app"]

    @property
    def worker(self) -> Server:
        return self.stack.servers["worker"]


def start_stack(workdir: Path, data: Path, workers: int = 4) -> LoadStack:
    stack = Stack(workdir)
    try:
        cache = stack.redis("redis", "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
        broker = stack.redis("broker", "--maxmemory-policy", "noeviction")
        env = {"DATA_DIR": str(data), "URL_PREFIX": PREFIX, "REDIS_URL": cache, "CELERY_BROKER_URL": broker,
               "CREATE_DEMO": "0", "SECRET_KEY": "bench-load-secret"}  # fmt: skip
        stack.celery_worker("worker", env, concurrency=1)
        app = stack.gunicorn("app", env, workers=workers)
        nginx = stack.nginx("nginx", [f"127.0.0.1:{app.port}"], PREFIX)
    except BaseException:
        stack.close()
        raise
    redis_argv = list(stack.servers["redis"].proc.args)  # type: ignore[arg-type]
    return LoadStack(stack, f"{nginx.url}{PREFIX}", env, redis_argv)


def kill_and_restart_redis(ls: LoadStack, down_for: float) -> Callable[[], None]:
    def fault() -> None:
        time.sleep(0.5)
        ls.stack.servers["redis"].stop(signal.SIGKILL)
        time.sleep(down_for)
        ls.stack.spawn("redis", ls.redis_argv)

    return fault


def kill_gunicorn_worker(ls: LoadStack, phase: Phase) -> Callable[[], None]:
    def fault() -> None:
        time.sleep(0.5)
        pids = _children(ls.app.proc.pid)
        if not pids:
            phase.notes.append("no gunicorn worker found")
            return
        os.kill(pids[0], signal.SIGKILL)

        def live() -> list[int]:
            # the killed worker stays a child (a zombie) until the master reaps it: it is not
            # one of the workers after, whichever of the two the master has done first
            return [p for p in _children(ls.app.proc.pid) if p != pids[0]]

        deadline = time.monotonic() + 30
        while len(live()) < len(pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        phase.notes.append(f"worker {pids[0]} killed; {len(live())} of {len(pids)} workers after")

    return fault


def pool_with_a_killed_worker(ls: LoadStack, phase: Phase, timeout: float = 120) -> Callable[[], None]:
    """Start a pooling job through nginx, SIGKILL the Celery process running it, wait for its end."""

    def fault() -> None:
        from tests.deploy.live import LiveClient, start_pool_job, wait_pool_job

        maps = sorted(p.name for p in (Path(ls.env["DATA_DIR"]) / "public").glob("pool_*"))
        client = LiveClient(ls.base)
        before = ls.worker.log.read_text(errors="replace").count("received")
        t0 = time.monotonic()
        handles = start_pool_job(client, [f"public/{m}" for m in maps])
        # the task reaches the worker's process: kill that process in the middle
        deadline = time.monotonic() + 30
        while ls.worker.log.read_text(errors="replace").count("received") <= before:
            if time.monotonic() > deadline:
                phase.errors.append("pool: the Celery worker never received the job")
                return
            time.sleep(0.02)
        time.sleep(0.2)
        kids = _children(ls.worker.proc.pid)
        for pid in kids:
            os.kill(pid, signal.SIGKILL)
        phase.notes.append(f"Celery process {kids} killed {time.monotonic() - t0:.1f} s after the job started")
        try:
            ready = wait_pool_job(client, handles, timeout=timeout)
        except TimeoutError as e:
            phase.errors.append(f"pool: {e}")
            return
        finally:
            client.close()
        took = time.monotonic() - t0
        if ready is None:
            # the job ended without an answer, as if cancelled: the page would stop waiting
            # with nothing (what the managers of app/background.py are there to prevent)
            log_tail = "\n".join(ls.worker.log.read_text(errors="replace").splitlines()[-15:])
            phase.errors.append(f"pool: the job ended without an answer after {took:.1f} s; worker log:\n{log_tail}")
        elif isinstance(ready, dict) and "error" in ready:
            phase.notes.append(f"pool reported failed after {took:.1f} s: {ready['error']}")
        else:
            phase.notes.append(f"pool finished after {took:.1f} s (run again by a new Celery process)")
        phase.notes.append(f"pool result: {'bundle' if isinstance(ready, dict) and 'bundle' in ready else ready}")

    return fault


def run(seconds: float = 10, threads: int = 8, workers: int = 4, workdir: Path | None = None) -> list[Phase]:
    """Every phase; the stack is started and stopped here."""
    tmp = Path(tempfile.mkdtemp(prefix="pmm-load-")) if workdir is None else workdir
    data = make_data(tmp / "data")
    (tmp / "stack").mkdir(exist_ok=True)
    ls = start_stack(tmp / "stack", data, workers)
    phases: list[Phase] = []
    try:
        load_phase(ls.base, Phase("warm-up"), min(seconds, 3), threads)
        phases.append(load_phase(ls.base, Phase("normal"), seconds, threads))
        p = Phase("redis")
        phases.append(load_phase(ls.base, p, seconds, threads, kill_and_restart_redis(ls, seconds / 2)))
        p = Phase("gunicorn")
        phases.append(load_phase(ls.base, p, seconds, threads, kill_gunicorn_worker(ls, p)))
        p = Phase("celery")
        phases.append(load_phase(ls.base, p, seconds, threads, pool_with_a_killed_worker(ls, p)))
    finally:
        ls.stack.close()
    return phases


def report(phases: list[Phase]) -> str:
    lines = []
    normal = next((p for p in phases if p.name == "normal"), None)
    for p in phases:
        ratio = f", {p.rate / normal.rate:.2f} x normal" if normal and normal.rate and p is not normal else ""
        lines.append(f"{p.name}: {p.ok} answers in {p.seconds:.1f} s = {p.rate:.0f}/s{ratio}, {len(p.errors)} errors, "
                     f"{len(p.cut)} cut off")
        for k in KINDS:
            xs = p.latencies[k]
            lines.append(f"    {k:8s} {len(xs) / p.seconds:6.1f}/s  p50 {1000 * _pct(xs, 0.5):6.1f} ms  "
                         f"p95 {1000 * _pct(xs, 0.95):6.1f} ms")  # fmt: skip
        lines += [f"    note: {n}" for n in p.notes]
        lines += [f"    error: {e}" for e in p.errors[:10]]
        lines += [f"    cut off: {e}" for e in p.cut[:10]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--seconds", type=float, default=10, help="length of each phase")
    ap.add_argument("--threads", type=int, default=8, help="client threads")
    ap.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("httpx", "alembic", "app", "pymapmanager"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    phases = run(a.seconds, a.threads, a.workers)
    log.info("%s", report(phases))
    # only a killed gunicorn worker may cut answers off (those it was writing)
    return 1 if any(p.errors or (p.cut and p.name != "gunicorn") for p in phases) else 0


if __name__ == "__main__":
    sys.exit(main())

