"""Start and stop a real redis-server and a gunicorn server (tests and ``bench/``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

REPO = Path(__file__).resolve().parents[2]


def get(base: str, path: str, timeout: float = 30) -> tuple[int, bytes, dict[str, str]]:
    """GET ``base + path``: status, body, headers (HTTP errors included)."""
    try:
        with urllib.request.urlopen(base + path, timeout=timeout) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def get_json(base: str, path: str) -> Any:
    """The JSON body of a 200 answer."""
    status, body, _ = get(base, path)
    assert status == 200, body
    return json.loads(body)


class RedisProc:
    """A redis-server on a fixed loopback port that can be killed, restarted, frozen."""

    def __init__(self, exe: str, port: int, workdir: Path, maxmemory: str = "256mb") -> None:
        self.exe, self.port, self.workdir, self.maxmemory = exe, port, workdir, maxmemory
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it answers."""
        self.proc = subprocess.Popen(
            [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir), "--daemonize", "no",
             "--loglevel", "warning", "--maxmemory", self.maxmemory,
             "--maxmemory-policy", "allkeys-lru"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("redis-server did not start") from None
                    time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL (as a crash would)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def freeze(self) -> None:
        """SIGSTOP: connections are accepted by the kernel but never answered."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Terminate (after thawing)."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


def start_gunicorn(env: dict[str, str], port: int, log_file: Path, workers: int = 2) -> subprocess.Popen[bytes]:
    """gunicorn (``app/gunicorn_conf.py``) on ``127.0.0.1:port``; waits until it answers."""
    full = dict(os.environ, **env, BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY=str(workers),
                ACCESS_LOG="0", LOG_LEVEL="warning", CREATE_DEMO="0")  # fmt: skip
    with open(log_file, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "app/gunicorn_conf.py", "app.wsgi:server"],
            cwd=REPO, env=full, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if get(base, "/api/v1/status", timeout=5)[0] == 200:
                return proc
        except OSError:
            pass  # not listening yet
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("gunicorn did not start: " + log_file.read_text(errors="replace")[-2000:])
        time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server process (kill it after 10 s)."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class LoadResult:
    """What a load run saw."""

    ok: int = 0
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Answered requests per second."""
        return self.ok / self.seconds if self.seconds else 0.0

    def p50(self) -> float:
        """Median latency (s)."""
        s = sorted(self.latencies)
        return s[len(s) // 2] if s else 0.0


def load(base: str, paths: Iterable[str], *, threads: int = 4, requests: int = 200,
         timeout: float = 20) -> LoadResult:  # fmt: skip
    """GET the paths round robin from ``threads`` threads, ``requests`` in all; every answer
    that is not a 200 (or a connection error, a timeout) is a failure."""
    todo = list(paths)
    res = LoadResult()
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            path = todo[i % len(todo)]
            t0 = time.perf_counter()
            try:
                status, body, _ = get(base, path, timeout=timeout)
            except OSError as e:
                with lock:
                    res.failed.append(f"{path}: {e}")
                continue
            dt = time.perf_counter() - t0
            with lock:
                if status == 200:
                    res.ok += 1
                    res.latencies.append(dt)
                else:
                    res.failed.append(f"{path}: {status} {body[:200]!r}")

    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    res.seconds = time.perf_counter() - t0
    return res
