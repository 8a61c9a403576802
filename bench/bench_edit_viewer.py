"""Browser benchmark of the edit mode (issue 9): key press -> marker updated in every viewer and the plot.

    .venv/bin/python bench/bench_edit_viewer.py [--presses 40]

Map: ``generate_map(sessions=9, channels=1, shape=(20, 512, 512), segments=4,
spines_per_segment=165, images=False, seed=9)``: 9 sessions, ~650 objects a session, all
nine viewers shown (about 5,900 markers), made in a temporary DATA_DIR, served by the
threaded test server (tests/browser/server.py) to a logged-in owner.

Timed (the page's own performance measures, from the key's ``timeStamp`` to just after the
frame that shows the result; app/assets/75-pmm-edit.js):
  * ``pmm:edit-set_bad``: ``b`` pressed -> the marker restyled (the optimistic update,
    before the server answers);
  * ``pmm:edit-server``: ``b`` pressed -> the server's answer (the changed session's
    annotations from the working copy) drawn in the viewers;
  * ``pmm:edit-plot``: ``b`` pressed -> the plot shows the edit (the bad spine leaves it:
    the plot excludes bad spines; its run's neighbours change dynamics). The page restyles
    the plot's own traces from the server's last figure, before the server answers;
  * ``pmm:edit-plot-server``: ``b`` pressed -> the server's figure, made from the working
    copy, drawn (it confirms the plot; the page's restyle equals it, see
    tests/browser/test_edit_viewer.py).
Baseline in the same run, on the same page: the same viewer and plot update without an
edit, a selection change (``pmm:select``: every viewer restyled and ringed;
``pmm:plot-highlight``: the plot's highlight, an SVG over the plot), from a select call at
``performance.now()``; and the plot's WebGL traces redrawn without an edit
(``pmm:bench-plot-restyle``: Plotly.restyle of one trace with its own symbols, to the frame
after it), the least any change of the plot's points costs in this browser.

Target: key -> marker updated in every viewer and the plot <= 100 ms at the 95th percentile.
No timed asserts: prints p50/p95 and PASS/MISS.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

USER, PASSWORD = "bench", "bench edits spines 1"
TARGET_MS = 100.0


def pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, max(0, round(q / 100 * (len(v) - 1))))]


def report(name: str, values: list[float], budget: float | None = None) -> str:
    if not values:
        return f"{name:<34} no samples"
    p50, p95 = statistics.median(values), pct(values, 95)
    verdict = (
        ""
        if budget is None
        else ("  PASS" if p95 <= budget else f"  MISS (target {budget:.0f} ms)")
    )
    return f"{name:<34} n={len(values):3d}  p50 {p50:7.1f} ms  p95 {p95:7.1f} ms{verdict}"


def setup(data_dir: Path) -> None:
    from app.auth.users import create_user
    from app.config import Settings
    from app.db import DB_KEY, session_scope
    from app.factory import create_app
    from pymapmanager.synthetic.maps import generate_map

    generate_map(data_dir / USER, name="edit9", sessions=9, channels=1, shape=(20, 512, 512), segments=4,
                 spines_per_segment=165, images=False, seed=9)  # fmt: skip
    app = create_app(Settings(data_dir=data_dir, secret_key="bench", create_demo=False))
    with app.server.app_context(), session_scope(app.server.extensions[DB_KEY]) as db:
        create_user(db, USER, PASSWORD, cheap_hash=True)


LAST = "(name) => { const e = performance.getEntriesByName('pmm:' + name); return e.length ? e[e.length - 1].duration : null; }"
COUNT = "(name) => performance.getEntriesByName('pmm:' + name).length"
RESTYLE = """() => { const gd = document.querySelector('#pmm-plot .js-plotly-plot'); const t0 = performance.now();
    const i = gd.data.length - 1;
    return Plotly.restyle(gd, {'marker.symbol': [gd.data[i].marker.symbol.slice()]}, [i])
        .then(() => pmm.measure('bench-plot-restyle', t0)); }"""


def run(page: Any, presses: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {
        k: []
        for k in (
            "select", "plot-highlight", "bench-plot-restyle",
            "edit-set_bad", "edit-server", "edit-plot", "edit-plot-server",
        )
    }
    runs = page.evaluate(
        "() => { const r = []; pmm.spines.markers(4).forEach((m) => { const p = m.feature.properties; if (!p.ghost && typeof p.run === 'number') r.push(p.run); }); return r; }"
    )
    for i in range(presses):
        run_ = runs[(i * 7) % len(runs)]
        # baseline: the same viewer and plot update without an edit (a selection change)
        before = {k: page.evaluate(COUNT, k) for k in ("select", "plot-highlight")}
        page.evaluate(
            "(r) => pmm.state.select(r, {source: 'image', session: 4, keepPlanes: true}, {kind: 'select', t0: performance.now()})",
            run_,
        )
        for k in before:
            page.wait_for_function(
                f"(n) => performance.getEntriesByName('pmm:{k}').length > n", arg=before[k]
            )
            out[k].append(page.evaluate(LAST, k))
        # baseline: the plot's points redrawn without an edit
        n = page.evaluate(COUNT, "bench-plot-restyle")
        page.evaluate(RESTYLE)
        page.wait_for_function(
            "(n) => performance.getEntriesByName('pmm:bench-plot-restyle').length > n", arg=n
        )
        out["bench-plot-restyle"].append(page.evaluate(LAST, "bench-plot-restyle"))
        # the edit: b on the selected spine
        before = {
            k: page.evaluate(COUNT, k) for k in ("edit-set_bad", "edit-server", "edit-plot", "edit-plot-server")
        }
        page.keyboard.press("b")
        for k in before:
            page.wait_for_function(
                f"(n) => performance.getEntriesByName('pmm:{k}').length > n",
                arg=before[k],
                timeout=30_000,
            )
            out[k].append(page.evaluate(LAST, k))
        page.wait_for_function("() => pmm.edit.idle()")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--presses", type=int, default=40)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM_ARGS, VIEWPORT, chromium_path
    from tests.browser.server import serve_app

    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        data_dir = Path(tmp)
        setup(data_dir)
        with serve_app(data_dir) as base, sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
            )
            page = browser.new_context(viewport=VIEWPORT, base_url=base).new_page()
            page.set_default_timeout(30_000)
            page.goto("/login")
            page.fill("#pmm-login-username", USER)
            page.fill("#pmm-login-password", PASSWORD)
            page.keyboard.press("Enter")
            page.wait_for_url(lambda url: "/login" not in url)
            page.goto(f"/map/{USER}/edit9?s=0,1,2,3,4,5,6,7,8")
            page.wait_for_function(
                "() => window.pmm && pmm.state.get().sessions.length === 9 && pmm.state.get().sessions.every((s) => pmm.spines.markers(s).size > 0)"
            )
            page.wait_for_function(
                "() => pmm.edit.get().cfg !== null && document.querySelector('#pmm-plot .js-plotly-plot') !== null"
            )
            markers = page.evaluate(
                "() => pmm.state.get().sessions.reduce((n, s) => n + pmm.spines.markers(s).size, 0)"
            )
            page.keyboard.press("e")
            page.wait_for_function("() => pmm.edit.get().on")
            # warm up (first answers parse the map, build the working copy)
            run(page, 3)
            out = run(page, args.presses)
            browser.close()
    print(
        f"map: 9 sessions, {markers} markers in 9 viewers; {args.presses} presses of b (and as many selections)"
    )
    print("baseline (no edit):")
    print("  " + report("select -> every viewer", out["select"]))
    print("  " + report("select -> plot highlight", out["plot-highlight"]))
    print("  " + report("plot restyled (WebGL), no edit", out["bench-plot-restyle"]))
    print("edit (b on the selected spine):")
    print("  " + report("key -> marker in the viewer", out["edit-set_bad"], TARGET_MS))
    print("  " + report("key -> server answer drawn", out["edit-server"]))
    print("  " + report("key -> plot shows it", out["edit-plot"], TARGET_MS))
    print("  " + report("key -> server's plot drawn", out["edit-plot-server"]))
    b = pct(out["select"], 95)
    print(f"ratios p95: viewer edit / select {pct(out['edit-set_bad'], 95) / b:.2f}; "
          f"plot edit / plot highlight {pct(out['edit-plot'], 95) / pct(out['plot-highlight'], 95):.2f}; "
          f"plot edit / plot restyled {pct(out['edit-plot'], 95) / pct(out['bench-plot-restyle'], 95):.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
