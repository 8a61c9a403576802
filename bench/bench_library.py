"""Benchmark the new ``pymapmanager`` library against the old ``pymapmanager`` 0.0.5 (PyPI).

Both run on the same maps in the same run: the real map F27A_1 (when ``../shared`` is
present) and a generated map of 9 sessions x ~300 objects x 2 channels. The old package
runs in its own virtual environment (``bench/.work/``, made once and cached; see
``bench/oldpmm.py``) in a subprocess, timed there by the same repetition scheme as the new
library here. Old and new batches alternate for ``--rounds`` rounds; the table shows
medians over every repetition and the ratio new vs old against the targets.

Usage::

    .venv/bin/python bench/bench_library.py [--reps N] [--rounds R] [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import pymapmanager as pmm

sys.path.insert(0, str(Path(__file__).resolve().parent))
import oldpmm  # bench/ is not a package: imported from its folder

log = logging.getLogger("bench")

REPO = Path(__file__).resolve().parents[1]
F27A_1 = REPO.parent / "shared" / "data" / "maps" / "F27A_1"

#: targets: new must be this many times faster
TARGET_LOAD = 10.0
TARGET_VALUES = 20.0

#: generated map: 9 sessions x ~300 objects (db2 rows: ~200 spines, control and pivot
#: points) x 2 channels; spines_per_segment=69 gives 306 objects/session with seed 0
GEN_KWARGS: dict[str, Any] = {
    "name": "bench",
    "sessions": 9,
    "channels": 2,
    "segments": 3,
    "spines_per_segment": 69,
    "seed": 0,
    "images": False,
}


@dataclass
class BenchMap:
    """A map to benchmark and the statistics to time on it."""

    label: str
    path: Path
    stats: list[str]
    note: str = ""


# --------------------------------------------------------------------------- new library


def _load_values(path: Path, stat: str) -> pmm.MapValues:
    return pmm.map_values(pmm.load_map(path), stat)


def _values_unmemoised(m: pmm.Map, stat: str) -> pmm.MapValues:
    """Map values on a map already parsed, recomputing every filter (no memoised selection).

    The old package keeps its parsed tables in memory too but recomputes everything per
    call; clearing the map's memo makes the comparison like for like.
    """
    m.derived.forget("selection", "roi_mask")
    return pmm.map_values(m, stat)


def new_timings(path: Path, stats: list[str], reps: dict[str, int]) -> dict[str, Any]:
    """The new library timed like ``oldpmm._worker_bench`` times the old one."""
    load, values = pmm.load_map, pmm.map_values
    out: dict[str, Any] = {"values_first": {}, "values_warm": {}, "shapes": {}}
    out["load"] = oldpmm.time_calls(partial(load, path), reps["load"])
    out["load_values"] = oldpmm.time_calls(partial(_load_values, path, stats[0]), reps["load"])
    for stat in stats:
        out["values_first"][stat] = oldpmm.time_calls(
            partial(values, stat=stat), reps["values_first"], setup=partial(load, path)
        )
        m = load(path)
        v = values(m, stat).values
        out["shapes"][stat] = [list(v.shape), [int(c) for c in (~np.isnan(v)).sum(axis=0)]]
        out["values_warm"][stat] = oldpmm.time_calls(
            partial(_values_unmemoised, m, stat), reps["values_warm"]
        )
    return out


def _merge(acc: dict[str, Any], new: dict[str, Any]) -> None:
    """Append the timing lists of one round to the accumulated ones."""
    for key, val in new.items():
        if isinstance(val, list) and val and isinstance(val[0], float):
            acc.setdefault(key, []).extend(val)
        elif isinstance(val, dict) and key.startswith("values"):
            sub = acc.setdefault(key, {})
            for stat, times in val.items():
                sub.setdefault(stat, []).extend(times)
        else:
            acc[key] = val


# --------------------------------------------------------------------------- maps


def generated_map(dest: Path) -> BenchMap:
    """The generated map: 9 sessions x ~300 objects (db2 rows) x 2 channels, no images."""
    from pymapmanager.synthetic.maps import generate_map

    folder = generate_map(dest, **GEN_KWARGS)
    m = pmm.load_map(folder)
    per = m.num_objects / m.num_sessions
    spines = np.mean([m.roi_type_mask(j, "spineROI").sum() for j in range(m.num_sessions)])
    kw = ", ".join(f"{k}={v!r}" for k, v in GEN_KWARGS.items())
    note = (
        f"{m.num_sessions} sessions x {per:.0f} objects/session ({spines:.0f} spines) x "
        f"{m.num_channels} channels, {m.num_map_segments} map segments; generate_map({kw})"
    )
    if abs(per - 300) > 30:
        log.warning("the generated map has %.0f objects per session, not ~300", per)
    return BenchMap("generated", folder, ["pDist", "ubssSum_int2"], note)


# --------------------------------------------------------------------------- report


def _med(times: list[float]) -> float:
    return statistics.median(times)


def _fmt_time(sec: float) -> str:
    return f"{sec * 1e3:9.3f} ms"


def _fmt_bytes(n: float) -> str:
    return f"{n / 1024:9.1f} kB"


def rows_for(bm: BenchMap, old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Table rows (medians, ratio, target, PASS/MISS) for one map."""
    rows: list[dict[str, Any]] = []

    def timed(measure: str, o: list[float], n: list[float], target: float | None) -> None:
        """One row; ``target`` None marks an informational row (no PASS/MISS)."""
        ratio = _med(o) / _med(n)
        rows.append({
            "map": bm.label, "measure": measure, "old": _med(o), "new": _med(n), "n_old": len(o),
            "n_new": len(n), "ratio": ratio, "ratio_text": f"{ratio:8.1f}x faster",
            "target": "(info)" if target is None else f">= {target:g}x faster",
            "pass": None if target is None else ratio >= target, "kind": "time",
        })  # fmt: skip

    timed("cold load: mmMap(path) / load_map(path)", old["load"], new["load"], TARGET_LOAD)
    timed(
        f"load + first map values ({bm.stats[0]})",
        old["load_values"],
        new["load_values"],
        None,  # columns are parsed on first use: this shows what lazy parsing moved
    )
    for stat in bm.stats:
        timed(f"map values {stat}, first call after load", old["values_first"][stat],
              new["values_first"][stat], None)  # fmt: skip
        timed(f"map values {stat}, map parsed in memory (no memo)", old["values_warm"][stat],
              new["values_warm"][stat], TARGET_VALUES)  # fmt: skip
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    """The results table (plain output)."""
    head = f"{'map':<10} {'measure':<48} {'old (median)':>13} {'new (median)':>13} {'new vs old':>16}  {'target':<17} result"
    print(head)
    print("-" * len(head))
    for r in rows:
        fmt = _fmt_time if r["kind"] == "time" else _fmt_bytes
        print(
            f"{r['map']:<10} {r['measure']:<48} {fmt(r['old']):>13} {fmt(r['new']):>13} "
            f"{r['ratio_text']:>16}  {r['target']:<17} {'' if r['pass'] is None else 'PASS' if r['pass'] else 'MISS'}"
        )


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 0 unless the baseline cannot run (targets are reported)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--reps", type=int, default=20, help="repetitions per round of loads / first calls"
    )
    ap.add_argument(
        "--warm-reps", type=int, default=100, help="repetitions per round of repeated map values"
    )
    ap.add_argument("--rounds", type=int, default=3, help="alternating old/new rounds")
    ap.add_argument("--quick", action="store_true", help="--reps 3 --warm-reps 10 --rounds 1")
    ap.add_argument("--json", type=Path, help="also write every timing to this file")
    args = ap.parse_args(argv)
    if args.quick:
        args.reps, args.warm_reps, args.rounds = 3, 10, 1
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    reps = {"load": args.reps, "values_first": args.reps, "values_warm": args.warm_reps}

    try:
        pkg = oldpmm.obtain()
        info = pkg.probe()
    except oldpmm.OldPackageError as e:
        log.error("cannot run the baseline (old pymapmanager %s): %s", oldpmm.OLD_VERSION, e)
        return 1
    print(f"old: pymapmanager {info['version']} (patched copy {pkg.src}), python {info['python']}, "
          f"numpy {info['numpy']}, pandas {info['pandas']}, in {pkg.python}")  # fmt: skip
    print(f"new: pymapmanager {pmm.__version__}, python {platform.python_version()}, "
          f"numpy {np.__version__}, pandas {pd.__version__}")  # fmt: skip
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus; repetitions per round: {reps}, "
          f"rounds: {args.rounds}")  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="pmm-bench-") as tmp:
        maps: list[BenchMap] = []
        if F27A_1.is_dir():
            maps.append(BenchMap("F27A_1", F27A_1, ["pDist"], "real map, 4 sessions, 1 channel"))
        else:
            log.warning("%s is not present: skipping it", F27A_1)
        maps.append(generated_map(Path(tmp)))
        all_rows: list[dict[str, Any]] = []
        raw: dict[str, Any] = {}
        for bm in maps:
            print(f"\n{bm.label}: {bm.path}  ({bm.note})")
            old_acc: dict[str, Any] = {}
            new_acc: dict[str, Any] = {}
            for k in range(args.rounds):
                log.info("  round %d/%d: old package ...", k + 1, args.rounds)
                _merge(
                    old_acc,
                    pkg.run("bench", {"map": str(bm.path), "stats": bm.stats, "reps": reps}),
                )
                log.info("  round %d/%d: new library ...", k + 1, args.rounds)
                _merge(new_acc, new_timings(bm.path, bm.stats, reps))
            for stat in bm.stats:
                same = old_acc["shapes"][stat] == new_acc["shapes"][stat]
                print(f"  {stat}: old {old_acc['shapes'][stat]}  new {new_acc['shapes'][stat]}  "
                      f"{'same shape and counts' if same else 'DIFFERENT'}")  # fmt: skip
            print(f"  old serialised as: {old_acc['pickle_what']}")
            all_rows.extend(rows_for(bm, old_acc, new_acc))
            raw[bm.label] = {"path": str(bm.path), "note": bm.note, "old": old_acc, "new": new_acc}
    print()
    print_table(all_rows)
    targeted = [r for r in all_rows if r["pass"] is not None]
    print(f"\n{sum(r['pass'] for r in targeted)} of {len(targeted)} targets met "
          "(ratios: old median / new median for times, new / old for sizes)")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"rows": all_rows, "raw": raw}, indent=1))
        print(f"timings written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
