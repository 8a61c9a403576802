"""What a cache entry costs against what it saves: parsing the text against encoding and
decoding the cached form (issue 7: "the cache must pay for itself").

On a generated real-size map (9 sessions x ~650 objects x 2 channels, tracings, no
images), measured in the same run:

* baseline **parse**: ``load_map`` + the first map values (what a worker without any cache
  does for its first view of a map);
* the compact form of a whole parsed map (``Map.to_bytes`` / ``from_bytes``, the old
  cached form; measured only while it exists): encode, and decode + first map values;
* what the server caches now, the derived JSON views (map info, map values of two
  statistics, annotations of a session): encode (``json.dumps``) and decode
  (``json.loads``), each against the parse.

Targets (the issue's): encoding costs no more than parsing (ratio <= 1), decoding at most
a third of it (ratio <= 0.33).

Usage::

    .venv/bin/python bench/bench_cache_form.py [--reps N]
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pymapmanager as pmm  # noqa: E402
from app.services.maps import clean  # noqa: E402
from pymapmanager.synthetic.maps import generate_map  # noqa: E402

log = logging.getLogger("bench")

GEN: dict[str, Any] = {"sessions": 9, "channels": 2, "segments": 3, "spines_per_segment": 150,
                       "seed": 0, "images": False}  # fmt: skip


def timed(fn: Callable[[], object], reps: int) -> float:
    """Median seconds of ``reps`` calls (garbage collected once before the batch)."""
    gc.collect()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def views(m: pmm.Map) -> dict[str, Any]:
    """The JSON views a dashboard's first look at a map builds (as the server caches them)."""
    v1 = pmm.map_values(m, "pDist")
    v2 = pmm.map_values(m, "ubssSum_int2")
    t = m.table(0)
    return clean({
        "info": m.info(),
        "values_pDist": {"runs": v1.runs, "values": v1.values, "rows": v1.rows},
        "values_ubssSum_int2": {"runs": v2.runs, "values": v2.values},
        "annotations_0": {c: t[c].tolist() for c in ("x", "y", "z", "pDist", "roiType")},
    })  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=15)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory() as tmp:
        path = generate_map(Path(tmp), name="form", **GEN)
        m = pmm.load_map(path)
        text_bytes = sum(p.stat().st_size for p in path.rglob("*.txt"))
        log.info("map: %s, %.1f MB of text", m, text_bytes / 1e6)

        parse = timed(lambda: pmm.map_values(pmm.load_map(path), "pDist"), args.reps)
        rows: list[tuple[str, float, float, str]] = []
        if hasattr(pmm.Map, "to_bytes"):
            blob = pmm.load_map(path).to_bytes()
            enc = timed(lambda: pmm.load_map(path).to_bytes(), max(3, args.reps // 3)) - timed(
                lambda: pmm.load_map(path), args.reps
            )
            dec = timed(lambda: pmm.map_values(pmm.Map.from_bytes(blob), "pDist"), args.reps)
            rows += [("compact form (whole map): encode", enc, enc / parse, "<= 1"),
                     ("compact form: decode + first values", dec, dec / parse, "<= 0.33"),
                     (f"compact form: {len(blob) / 1e6:.2f} MB", 0.0, len(blob) / text_bytes, "(size / text)")]  # fmt: skip
        built = views(pmm.load_map(path))
        blobs = {k: json.dumps(v, allow_nan=False, separators=(",", ":")).encode() for k, v in built.items()}
        enc_json = timed(lambda: [json.dumps(v, allow_nan=False, separators=(",", ":")) for v in built.values()],
                         args.reps)  # fmt: skip
        dec_json = timed(lambda: [json.loads(b) for b in blobs.values()], args.reps)
        build = timed(lambda: views(pmm.load_map(path)), max(3, args.reps // 3))
        size = sum(len(b) for b in blobs.values())
        rows += [("JSON views (cached now): encode", enc_json, enc_json / parse, "<= 1"),
                 ("JSON views: decode", dec_json, dec_json / parse, "<= 0.33"),
                 ("JSON views: build from text (miss)", build, build / parse, "(info)"),
                 (f"JSON views: {size / 1e6:.2f} MB", 0.0, size / text_bytes, "(size / text)")]  # fmt: skip
    log.info("baseline parse (load_map + first map values): %.1f ms", parse * 1000)
    log.info("%-42s %10s %10s  %s", "measure", "ms", "ratio", "target")
    for name, t, ratio, target in rows:
        log.info("%-42s %10s %10.3f  %s", name, f"{t * 1000:.1f}" if t else "", ratio, target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
