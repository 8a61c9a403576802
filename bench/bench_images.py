"""Benchmark the plane image endpoint against the in-process floor, measured in the same run.

A map of 3 sessions x 1 channel x 20 planes of 1024 x 1024 ``uint16`` is generated in a
temporary DATA_DIR; gunicorn serves it with 2 workers (``app/gunicorn_conf.py``, embedded
file-system cache, or Redis when ``--redis-url`` is given) on a free port. Then:

* floor: in this process, right after each cold request, read the same plane with ``tifffile.imread(path, key=z)`` and encode
  the very 8-bit image the server returns as PNG with the server's settings. The floor
  leaves out the display-range step (automatic contrast + ``to_uint8``), which the
  server does; a second floor that includes it is printed too.
* cold: ``GET /api/v1/maps/public/bench/sessions/<s>/planes/<z>?channel=1&v=<version>``
  once per distinct (session, plane) (never rendered before), keep-alive connection.
* warm: the same plane URL again and again (served from the cache).
* 304: the same with ``If-None-Match`` (revalidation).

Targets: cold median <= 2 x floor median; warm median <= 5 ms. Prints medians, ratios and
PASS/MISS, plus a comparison of encoders (PNG levels, WebP lossless) on one plane.
No timing asserts anywhere in the test suite: this is the place for them.

Usage::

    .venv/bin/python bench/bench_images.py [--planes 20] [--sessions 3] [--size 1024]
        [--warm 200] [--workers 2] [--redis-url redis://...] [--keep]
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.services.images import PNG_COMPRESS_LEVEL, encode_png  # noqa: E402
from pymapmanager.images import auto_contrast, to_uint8  # noqa: E402
from pymapmanager.synthetic.maps import generate_map  # noqa: E402

log = logging.getLogger("bench")

TARGET_COLD_RATIO = 2.0
TARGET_WARM_MS = 5.0


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def median_ms(times: list[float]) -> float:
    """Median of seconds, in milliseconds."""
    return statistics.median(times) * 1000.0


class Client:
    """A keep-alive HTTP client timing each request."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(
        self, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes, float, Any]:
        """Status, body, seconds, headers."""
        t0 = time.perf_counter()
        self.conn.request("GET", path, headers=headers or {})
        r = self.conn.getresponse()
        body = r.read()
        dt = time.perf_counter() - t0
        return r.status, body, dt, r.headers

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


def start_server(
    data_dir: Path, port: int, workers: int, redis_url: str | None
) -> subprocess.Popen[bytes]:
    """gunicorn with the project's config, waiting until it answers."""
    env = dict(os.environ, DATA_DIR=str(data_dir), CREATE_DEMO="0", BIND=f"127.0.0.1:{port}",
               WEB_CONCURRENCY=str(workers), ACCESS_LOG="0", LOG_LEVEL="warning")  # fmt: skip
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "app/gunicorn_conf.py", "app.wsgi:server"],
        cwd=REPO, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            c = Client(port)
            status, _, _, _ = c.get("/api/v1/status")
            c.close()
            if status == 200:
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def floor_strict(path: Path, z: int, u8: np.ndarray) -> float:
    """Seconds to read plane ``z`` with tifffile and PNG-encode ``u8`` (nothing else)."""
    t0 = time.perf_counter()
    tifffile.imread(path, key=z)
    encode_png(u8)
    return time.perf_counter() - t0


def floor_full(path: Path, z: int) -> float:
    """Seconds for tifffile read + automatic contrast + to_uint8 + PNG encode."""
    t0 = time.perf_counter()
    p = tifffile.imread(path, key=z)
    encode_png(to_uint8(p, *auto_contrast(p)))
    return time.perf_counter() - t0


def encoders(u8: np.ndarray, reps: int = 5) -> list[tuple[str, float, int]]:
    """(name, median ms, bytes) of several encoders on one 8-bit image."""
    im = Image.fromarray(u8, mode="L")
    candidates: dict[str, Callable[[io.BytesIO], None]] = {
        "server: png Up filter, zlib 1 RLE": lambda b: b.write(encode_png(u8)) and None,
        "pillow png level 0": lambda b: im.save(b, format="PNG", compress_level=0),
        "pillow png level 1": lambda b: im.save(b, format="PNG", compress_level=1),
        "pillow png level 3": lambda b: im.save(b, format="PNG", compress_level=3),
        "pillow png level 6 (default)": lambda b: im.save(b, format="PNG", compress_level=6),
        "pillow webp lossless method 0": lambda b: im.save(
            b, format="WEBP", lossless=True, method=0, quality=0
        ),
        "pillow webp lossy q90 method 0": lambda b: im.save(b, format="WEBP", quality=90, method=0),
    }
    out = []
    for name, fn in candidates.items():
        times, size = [], 0
        for _ in range(reps):
            buf = io.BytesIO()
            t0 = time.perf_counter()
            fn(buf)
            times.append(time.perf_counter() - t0)
            size = len(buf.getvalue())
        out.append((name, median_ms(times), size))
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 0 when both targets are met."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=3)
    ap.add_argument("--planes", type=int, default=20)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--warm", type=int, default=200, help="repeated requests")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--redis-url", default=None)
    ap.add_argument("--keep", action="store_true", help="keep the temporary DATA_DIR")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    tmp = Path(tempfile.mkdtemp(prefix="pmm-bench-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        t0 = time.perf_counter()
        folder = generate_map(tmp / "public", name="bench", sessions=args.sessions, channels=1,
                              shape=(args.planes, args.size, args.size), seed=7,
                              segments=3, spines_per_segment=30)  # fmt: skip
        log.info("generated %s in %.1f s", folder, time.perf_counter() - t0)
        port = free_port()
        proc = start_server(tmp, port, args.workers, args.redis_url)
        c = Client(port)
        status, body, _, _ = c.get("/api/v1/maps/public/bench")
        assert status == 200, body
        info = json.loads(body)
        v = info["version"]
        log.info("server: %s", json.loads(c.get("/api/v1/status")[1]))

        # cold: every (session, plane) once, never rendered before; each request is followed
        # by the floor of the same plane in this process, so both see the same machine load
        cold: list[float] = []
        floor_s: list[float] = []
        floor_f: list[float] = []
        sizes: list[int] = []
        for s in range(args.sessions):
            path = folder / "raw" / f"bench_s{s}_ch1.tif"
            for z in range(args.planes):
                status, body, dt, _ = c.get(f"/api/v1/maps/public/bench/sessions/{s}/planes/{z}?channel=1&v={v}")
                assert status == 200, body
                cold.append(dt)
                sizes.append(len(body))
                u8 = np.asarray(Image.open(io.BytesIO(body)))
                floor_s.append(floor_strict(path, z, u8))
                floor_f.append(floor_full(path, z))
                if z < 2:  # the server's pixels are exactly the in-process 8-bit image
                    p = tifffile.imread(path, key=z)
                    np.testing.assert_array_equal(u8, to_uint8(p, *auto_contrast(p)))

        # warm: one URL again and again; and revalidation
        url = f"/api/v1/maps/public/bench/sessions/1/planes/5?channel=1&v={v}"
        _, _, _, h = c.get(url)
        etag = h["ETag"]
        warm = [c.get(url)[2] for _ in range(args.warm)]
        reval = []
        for _ in range(args.warm):
            status, _, dt, _ = c.get(url, {"If-None-Match": etag})
            assert status == 304
            reval.append(dt)
        counters = json.loads(c.get("/api/v1/status")[1])
        c.close()

        size_kb = statistics.median(sizes) / 1024
        cold_ms, floor_ms, floor_full_ms = median_ms(cold), median_ms(floor_s), median_ms(floor_f)
        warm_ms, reval_ms = median_ms(warm), median_ms(reval)
        ratio = cold_ms / floor_ms
        ok_cold, ok_warm = ratio <= TARGET_COLD_RATIO, warm_ms <= TARGET_WARM_MS
        print(f"\nplane {args.size}x{args.size} uint16 -> 8-bit PNG (zlib level {PNG_COMPRESS_LEVEL}), "
              f"median {size_kb:.0f} kB; gunicorn {args.workers} workers, "
              f"cache {'redis' if args.redis_url else 'filesystem'}; {len(cold)} cold planes, "
              f"{args.warm} warm requests")  # fmt: skip
        print(f"{'measure':<52}{'median ms':>10}")
        print(f"{'floor: tifffile read + PNG encode (in process)':<52}{floor_ms:>10.2f}")
        print(f"{'floor + automatic contrast + to_uint8':<52}{floor_full_ms:>10.2f}")
        print(f"{'HTTP cold (distinct planes)':<52}{cold_ms:>10.2f}")
        print(f"{'HTTP warm (repeated plane, from the cache)':<52}{warm_ms:>10.2f}")
        print(f"{'HTTP revalidation (If-None-Match -> 304)':<52}{reval_ms:>10.2f}")
        print(
            f"cold / floor = {ratio:.2f} (target <= {TARGET_COLD_RATIO}): {'PASS' if ok_cold else 'MISS'}"
        )
        print(f"cold / (floor + contrast) = {cold_ms / floor_full_ms:.2f}")
        print(
            f"warm median {warm_ms:.2f} ms (target <= {TARGET_WARM_MS} ms): {'PASS' if ok_warm else 'MISS'}"
        )
        print(f"304 median {reval_ms:.2f} ms")
        print(f"server counters (one worker): {counters['counters']}")
        sample = u8
        print("\nencoders on one 8-bit plane (median of 5):")
        for name, ms, nbytes in encoders(sample):
            print(f"  {name:<36}{ms:>8.2f} ms {nbytes / 1024:>8.0f} kB")
        return 0 if ok_cold and ok_warm else 1
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
        if args.keep:
            log.info("data kept in %s", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
