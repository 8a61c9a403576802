"""Benchmark pooling many maps against the old ``pymapmanager`` 0.0.5, and the page's re-pool.

A pool of generated maps (default 100: 50 control + 50 treatment, 10 sessions x ~500
objects x 2 channels, images off; ``pymapmanager.synthetic.pools.make_pool``) is pooled by
``ubssSum_int2`` with groups ``baseline=c`` and ``treatment=e1,...``, normalised to the
baseline by ratio, per cohort:

* **old**: the old package, the way a lab script did it with 0.0.5: each map loaded with
  ``mmMap``, its map values from ``getMapValues2(stat, roiType=['spineROI'],
  segmentID=None, plotBad=False)``, sessions grouped by ``fnmatch`` on ``condStr`` (read
  with ``getValue``), runs averaged per group, normalised and summarised with numpy. It
  runs in the old package's own environment (``bench/oldpmm.py``), in a subprocess that
  runs this file as its worker.
* **new, cold**: ``pymapmanager.pooling.pool_paths`` on the folder: every file read again
  (nothing cached), in one process (``workers=1``) and in one process per CPU.
* **new, warm re-pool through the page**: the pooling page's figure callback
  (``POST /_dash-update-component`` with the Flask test client), after a first pool has
  filled the cache, changing only the normalisation each time.

Old and new batches alternate for ``--rounds`` rounds; medians over every repetition are
reported, with the ratio old / new and PASS/MISS against the targets (reported, never
asserted). The two summaries are compared cell by cell.

Usage::

    .venv/bin/python bench/bench_pool.py [--maps 100] [--reps 3] [--rounds 2] [--quick] [--json FILE]

The pool is generated once and kept in ``bench/.work/pool-<key>/`` (git-ignored; the key
covers the parameters and the generator's source).
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import logging
import math
import os
import platform
import shutil
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

# Only the standard library (and oldpmm, which is standard-library only) at module level:
# the old package's interpreter runs this file as its worker.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import oldpmm  # bench/ is not a package: imported from its folder

log = logging.getLogger("bench_pool")

REPO = Path(__file__).resolve().parents[1]
STAT = "ubssSum_int2"
FACTOR = 1.5
TARGET_COLD = 10.0  # new cold pool >= 10x faster than old
TARGET_WARM_MS = 200.0  # warm re-pool through the page <= 200 ms median


# --------------------------------------------------------------------------- old side (worker)


def _old_pool(pmm: Any, paths: list[str], stat: str, groups: list[list[str]], ref: int) -> dict[str, Any]:
    """The pool, computed the 0.0.5 way (see the module docstring)."""
    import numpy as np

    per_cohort: dict[str, list[Any]] = {}
    for path in paths:
        name = os.path.basename(path.rstrip("/"))
        m = pmm.mmMap(os.path.join(path, name + ".txt"))
        v = m.getMapValues2(stat, roiType=["spineROI"], segmentID=None, plotBad=False)
        v = np.asarray(v, dtype=float)
        conds = [str(m.getValue("condStr", j)) for j in range(m.numSessions)]
        cohort = str(m.getValue("mapCond", 0))
        g = np.full((v.shape[0], len(groups)), np.nan)
        for k, pats in enumerate(groups):
            cols = [j for j, c in enumerate(conds) if any(fnmatch.fnmatchcase(c, p) for p in pats)]
            if cols:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    g[:, k] = np.nanmean(v[:, cols], axis=1)
        g = g[~np.isnan(g).all(axis=1)]
        r = g[:, ref : ref + 1]
        ok = ~np.isnan(r[:, 0]) & (r[:, 0] != 0)
        per_cohort.setdefault(cohort, []).append(g[ok] / r[ok])
    out = []
    for cohort in sorted(per_cohort):
        allv = np.vstack(per_cohort[cohort])
        for k in range(len(groups)):
            x = allv[:, k]
            x = x[~np.isnan(x)]
            n = int(x.size)
            sd = float(np.std(x, ddof=1)) if n > 1 else math.nan
            out.append([cohort, k, float(np.mean(x)) if n else math.nan, sd,
                        sd / math.sqrt(n) if n > 1 else math.nan, n])  # fmt: skip
    return {"summary": out}


def _worker_pool(req: dict[str, Any]) -> dict[str, Any]:
    pmm = oldpmm._import_old()
    args = (req["paths"], req["stat"], req["groups"], req["ref"])
    result: dict[str, Any] = {}

    def once(*_: object) -> None:
        result.update(_old_pool(pmm, *args))

    result["times"] = oldpmm.time_calls(once, req["reps"])
    return result


def worker_main(argv: list[str]) -> int:
    """``bench_pool.py worker REQUEST.json RESULT.json`` (run by the old package's python)."""
    import contextlib

    req = json.loads(Path(argv[0]).read_text())
    warnings.simplefilter("ignore")
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        res = _worker_pool(req)
    Path(argv[1]).write_text(json.dumps(res))
    return 0


def run_old(pkg: Any, req: dict[str, Any]) -> dict[str, Any]:
    """Run :func:`_worker_pool` with the old package (a subprocess in its environment)."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="oldpool-") as tmp:
        rq, rs = Path(tmp) / "req.json", Path(tmp) / "res.json"
        rq.write_text(json.dumps(req))
        p = subprocess.run(
            [str(pkg.python), str(Path(__file__).resolve()), "worker", str(rq), str(rs)],
            env=pkg.env(), cwd=tmp, capture_output=True, text=True, timeout=7200, check=False,
        )  # fmt: skip
        if p.returncode != 0:
            raise oldpmm.OldPackageError(f"old pool worker failed:\n{p.stderr[-3000:]}")
        out: dict[str, Any] = json.loads(rs.read_text())
    return out


# --------------------------------------------------------------------------- new side


def make_bench_pool(maps: int, sessions: int, objects: int, root: Path) -> tuple[Path, dict[str, Any]]:
    """Generate (once; cached) the pool under ``root/pool-<key>/public/``."""
    import pymapmanager.synthetic.maps as demo
    from pymapmanager import load_map
    from pymapmanager.synthetic.pools import make_pool

    src = Path(demo.__file__).read_bytes() + Path(make_pool.__code__.co_filename).read_bytes()
    params = {"maps": maps, "sessions": sessions, "objects": objects, "stat": STAT, "factor": FACTOR}
    key = hashlib.sha256(json.dumps(params).encode() + src).hexdigest()[:10]
    base = root / f"pool-{key}"
    ready = base / "READY.json"
    if ready.is_file():
        return base, json.loads(ready.read_text())
    shutil.rmtree(base, ignore_errors=True)
    # spines per segment for ~`objects` rows per session (2 segments; control points too)
    trial = base / "trial"
    spp = 170
    for _ in range(4):
        shutil.rmtree(trial, ignore_errors=True)
        make_pool(trial, maps_per_cohort=1, sessions=sessions, stat=STAT, factor=FACTOR,
                  spines_per_segment=spp)  # fmt: skip
        m = load_map(next(iter(sorted(trial.iterdir()))))
        per = m.num_objects / m.num_sessions
        if abs(per - objects) <= 0.03 * objects:
            break
        spp = max(1, round(spp * objects / per))
    shutil.rmtree(trial, ignore_errors=True)
    t0 = time.perf_counter()
    pool = make_pool(base / "data" / "public", maps_per_cohort=maps // 2, sessions=sessions,
                     stat=STAT, factor=FACTOR, seed=0, spines_per_segment=spp)  # fmt: skip
    info = {**params, "spines_per_segment": spp, "objects_per_session": round(per),
            "groups": list(pool.groups), "generate_s": round(time.perf_counter() - t0, 1)}  # fmt: skip
    ready.write_text(json.dumps(info, indent=1))
    return base, info


def new_cold(folder: Path, groups: list[str], workers: int, reps: int) -> tuple[list[float], Any]:
    """Time ``pool_paths`` on the folder (every file read each time)."""
    from pymapmanager.pooling import pool_paths

    res: dict[str, Any] = {}

    def once(*_: object) -> None:
        res["r"] = pool_paths([folder], STAT, groups, reference="baseline", mode="ratio",
                              workers=workers)  # fmt: skip

    return oldpmm.time_calls(once, reps), res["r"]


def compare_summaries(old: list[list[Any]], new: Any, groups: list[str]) -> str:
    """Cell-by-cell comparison of the old and new summaries."""
    names = [g.split("=", 1)[0] for g in groups]
    s = new.summary.set_index(["cohort", "group"])
    worst = 0.0
    for cohort, k, mean, sd, sem, n in old:
        row = s.loc[(cohort, names[k])]
        if int(row["n"]) != n:
            return f"DIFFERENT: {cohort}/{names[k]} n old {n} new {int(row['n'])}"
        for a, b in ((mean, row["mean"]), (sd, row["sd"]), (sem, row["sem"])):
            if not (math.isnan(a) and math.isnan(b)):
                worst = max(worst, abs(a - b) / max(abs(a), 1e-300))
    return f"same n in every cell; largest relative difference {worst:.1e}"


def warm_page(data_dir: Path, groups: list[str], reps: int) -> dict[str, Any]:
    """The pool through the pooling page's callbacks (Flask test client, as the browser).

    First the whole pool as the page does it on a cold cache (prepare, then the background
    job, polled until done), then ``reps`` re-pools changing only the normalisation (the
    figure callback; nothing read from the maps), each timed from request to response.
    Each is followed by the same run's baseline, the floor of a re-pool: the library's
    ``combine`` and ``combine_dynamics`` on the cached per-map values, in this process
    (so a slower machine moves both, and page / floor shows what the page adds).
    """
    from app import ids
    from app.config import Settings
    from app.factory import create_app
    from app.services import pooling as svc
    from pymapmanager.pooling import combine, combine_dynamics, parse_groups
    from tests.pool.conftest import PoolCaller

    shutil.rmtree(data_dir / ".cache", ignore_errors=True)  # cold: nothing pooled yet
    app = create_app(Settings(data_dir=data_dir, secret_key="bench", create_demo=False))
    call = PoolCaller(app, app.server.test_client())
    maps = [f"public/{p.name}" for p in sorted((data_dir / "public").iterdir()) if p.is_dir()]
    spec_groups = [g.split("=", 1) for g in groups]
    t0 = time.perf_counter()
    ready, job, _ = call(
        [(ids.POOL_READY, "data"), (ids.POOL_JOB, "data"), (ids.POOL_MESSAGES, "children")],
        [(ids.POOL_MAPS, "value", maps), (ids.POOL_STAT, "value", STAT),
         (ids.POOL_GROUPS, "data", spec_groups), (ids.POOL_ROI, "value", "spineROI"),
         (ids.POOL_SEGMENT, "value", -1), (ids.POOL_BAD, "value", False)],
    )  # fmt: skip
    (ready,) = call([(ids.POOL_READY, "data")], [(ids.POOL_JOB, "data", job)], timeout=1800)
    cold = time.perf_counter() - t0
    out = [(ids.POOL_FIGURE, "figure"), (ids.POOL_DYNAMICS, "figure"), (ids.POOL_SUMMARY, "children"),
           (ids.POOL_MESSAGES, "children"), (ids.POOL_NOTES, "children")]  # fmt: skip
    ref = spec_groups[0][0]
    modes = ["ratio", "percent", "difference", "none"]
    times: list[float] = []
    floor: list[float] = []
    with app.server.app_context():
        bundle = svc.load_bundle(ready["bundle"])
    assert bundle is not None, "the pool is not in the cache"
    gvs, dyns, _ = bundle
    sgroups = parse_groups([f"{n}={p}" for n, p in spec_groups])
    for k in range(reps + 2):
        inputs = [(ids.POOL_READY, "data", ready), (ids.POOL_MODE, "value", modes[k % 4]),
                  (ids.POOL_REFERENCE, "value", ref), (ids.POOL_COHORTS, "value", True),
                  (ids.POOL_ERROR, "value", "sem"), (ids.POOL_RUNS, "value", False)]  # fmt: skip
        t1 = time.perf_counter()
        fig, *_ = call(out, inputs, changed=[f"{ids.POOL_MODE}.value"])
        if k >= 2:  # the first two warm the worker (imports, first cache read)
            times.append(time.perf_counter() - t1)
        assert fig["data"], "the page drew nothing"
        t2 = time.perf_counter()
        mode = svc.mode_of(modes[k % 4])
        res = combine(gvs, sgroups, stat=STAT, reference=ref if mode != "none" else None,
                      mode=mode, cohorts=True)  # fmt: skip
        combine_dynamics([d for d in dyns if d.label in set(res.maps)], sgroups, cohorts=True)
        if k >= 2:
            floor.append(time.perf_counter() - t2)
    return {"times": times, "floor": floor, "cold_s": cold, "maps": len(maps),
            "what": "normalisation changed; POST /_dash-update-component"}  # fmt: skip


# --------------------------------------------------------------------------- main


def _med_ms(ts: list[float]) -> float:
    return statistics.median(ts) * 1e3


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (exit 0: targets are reported, not enforced)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "worker":
        return worker_main(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--maps", type=int, default=100, help="maps in the pool (half per cohort)")
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--objects", type=int, default=500, help="objects per session (about)")
    ap.add_argument("--reps", type=int, default=3, help="cold pools per round, old and new")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--warm-reps", type=int, default=30, help="warm re-pools through the page")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes, parallel cold pool")
    ap.add_argument("--quick", action="store_true", help="20 maps, 1 repetition, 1 round, 10 warm")
    ap.add_argument("--json", type=Path, help="also write every timing to this file")
    args = ap.parse_args(argv)
    if args.quick:
        args.maps, args.reps, args.rounds, args.warm_reps = 20, 1, 1, 10
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.path.insert(0, str(REPO))
    import numpy as np

    import pymapmanager as pmm

    pkg = oldpmm.obtain()
    info = pkg.probe()
    print(f"old: pymapmanager {info['version']} (patched copy), python {info['python']}, "
          f"numpy {info['numpy']}, pandas {info['pandas']}")  # fmt: skip
    print(f"new: pymapmanager {pmm.__version__}, python {platform.python_version()}, numpy {np.__version__}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip

    base, pinfo = make_bench_pool(args.maps, args.sessions, args.objects, oldpmm.work_dir())
    folder = base / "data" / "public"
    paths = sorted(str(p) for p in folder.iterdir() if p.is_dir())
    groups: list[str] = pinfo["groups"]
    print(f"pool: {len(paths)} maps in {folder}: {pinfo['sessions']} sessions x "
          f"~{pinfo['objects_per_session']} objects x 2 channels, images off; {STAT} x{FACTOR} "
          f"in the treatment cohort after baseline; groups {groups}")  # fmt: skip

    old_groups = [g.split("=", 1)[1].split(",") for g in groups]
    req = {"paths": paths, "stat": STAT, "groups": old_groups, "ref": 0, "reps": args.reps}
    old_t: list[float] = []
    new1_t: list[float] = []
    newp_t: list[float] = []
    old_res: dict[str, Any] = {}
    new_res: Any = None
    for k in range(args.rounds):
        log.info("round %d/%d: old package (%d maps x %d) ...", k + 1, args.rounds, len(paths), args.reps)
        old_res = run_old(pkg, req)
        old_t += old_res["times"]
        log.info("round %d/%d: new, 1 process ...", k + 1, args.rounds)
        t, new_res = new_cold(folder, groups, 1, args.reps)
        new1_t += t
        if args.workers > 1:
            log.info("round %d/%d: new, %d processes ...", k + 1, args.rounds, args.workers)
            t, _ = new_cold(folder, groups, args.workers, args.reps)
            newp_t += t
    print(f"\nresults: {compare_summaries(old_res['summary'], new_res, groups)}")
    print(new_res.summary.to_string(index=False))

    rows: list[tuple[str, float, float | None, str, bool | None]] = []
    old_ms = _med_ms(old_t)
    r1 = old_ms / _med_ms(new1_t)
    rows.append(("cold pool, new in 1 process", _med_ms(new1_t), r1, f">= {TARGET_COLD:g}x", r1 >= TARGET_COLD))
    if newp_t:
        rp = old_ms / _med_ms(newp_t)
        rows.append((f"cold pool, new in {args.workers} processes", _med_ms(newp_t), rp,
                     f">= {TARGET_COLD:g}x", rp >= TARGET_COLD))  # fmt: skip
    log.info("the page: a cold pool through its callbacks, then %d warm re-pools ...", args.warm_reps)
    warm = warm_page(base / "data", groups, args.warm_reps)
    w = _med_ms(warm["times"])
    wf = _med_ms(warm["floor"])
    rows.append(("warm re-pool via the page's figure callback", w, None,
                 f"<= {TARGET_WARM_MS:g} ms", w <= TARGET_WARM_MS))  # fmt: skip
    rows.append(("  its floor: combine + combine_dynamics in process", wf, None, "(baseline)", None))
    print(f"\nthe page, cold cache: prepare + background job (process, polled every 0.1 s): "
          f"{warm['cold_s']:.2f} s for {warm['maps']} maps; warm re-pool ({warm['what']}): "
          f"median {w:.1f} ms, max {max(warm['times']) * 1e3:.1f} ms over {len(warm['times'])}; "
          f"the same run's floor (the library's combine on the cached values) {wf:.1f} ms: "
          f"page / floor {w / wf:.1f}x")  # fmt: skip
    print(f"\nold (0.0.5) cold pool: median {old_ms:.0f} ms over {len(old_t)} runs "
          f"({old_ms / len(paths):.1f} ms per map)")  # fmt: skip
    head = f"{'measure':<58} {'median':>11} {'old / new':>10}  {'target':<10} result"
    print(head)
    print("-" * len(head))
    for what, ms, ratio, target, ok in rows:
        rt = "" if ratio is None else f"{ratio:8.1f}x"
        verdict = "" if ok is None else ("PASS" if ok else "MISS")
        print(f"{what:<58} {ms:8.1f} ms {rt:>10}  {target:<10} {verdict}")
    if args.json:
        args.json.write_text(json.dumps({"pool": pinfo, "old": old_t, "new_1": new1_t,
                                         "new_parallel": newp_t, "warm": warm}, indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
