"""Browser benchmark of the map viewer's hot paths, in Chromium on the demo map (6 sessions).

    .venv/bin/python bench/bench_browser.py [--steps 60] [--clicks 40] [--keep]

Targets (the issue's):
  * slice change to new pixels on screen: p95 <= 100 ms
  * plot click to every viewer moved and highlighted: p95 <= 150 ms

What is timed (``performance.now()`` clock, in the page; see ``app/assets/pmm_viewer.js``),
always up to just after the next paint (``requestAnimationFrame`` then a task):
  * slice: from the input event's ``timeStamp`` (ArrowDown/ArrowUp key or mouse wheel)
    until every one of the 6 viewers shows the new plane (a preloaded, decoded image
    swapped in, or the ``load`` of the new one);
  * select: from the plot click's ``mouseup`` (the pointer rests on the point for 200 ms
    first, as when a user aims) until every viewer was panned to the run (or to the
    matching place on its tracing), its plane set and the spine ringed; also reported:
    until the images of the new planes are in, and until the plot's own highlight is drawn.

Baseline measured in the same run: the same slice change made only through Dash (the
SLICE store set with ``dash_clientside.set_props``, the clientside callback ``render``
returning the new ``url`` props, React and react-leaflet swapping the images), timed the
same way from the ``set_props`` call.

The app runs under gunicorn (2 workers, 4 threads: the production setup) on a fresh
DATA_DIR holding the demo map of ``app.setup_data.DEMO_MAPS`` (6 sessions x 2 channels x
30 x 512 x 512); the browser is ``$PMM_CHROMIUM`` or Debian's ``/usr/bin/chromium``.
No timed asserts: this prints p50/p95 and PASS/MISS.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SLICE_BUDGET_MS = 100.0
SELECT_BUDGET_MS = 150.0

JS_IMAGES_READY = """(n) => {
  const frames = [...document.querySelectorAll('.pmm-viewer')];
  return frames.length === n && frames.every(f => {
    const img = f.querySelector('img.leaflet-image-layer');
    return img && img.src.includes('/planes/') && img.complete && img.naturalWidth > 0;
  });
}"""

JS_PLOT_POINTS = """() => {
  const gd = document.querySelector('#pmm-plot .js-plotly-plot');
  const fl = gd._fullLayout, r = gd.getBoundingClientRect(), out = [];
  for (let t = 1; t < gd._fullData.length; t++) {
    const tr = gd._fullData[t];
    for (let i = 0; i < tr.x.length; i++) {
      const x = fl.xaxis.l2p(tr.x[i]), y = fl.yaxis.l2p(tr.y[i]);
      if (x > 6 && y > 6 && x < fl._size.w - 6 && y < fl._size.h - 6)
        out.push({x: r.left + fl._size.l + x, y: r.top + fl._size.t + y, run: tr.customdata[i][0]});
    }
  }
  return out;
}"""

# the baseline: a slice change only through Dash (store -> clientside callback -> url
# props -> React -> react-leaflet setUrl -> load), timed like the direct path
JS_DASH_PATH = """(z) => {
  const shown = [...document.querySelectorAll('.pmm-viewer[data-session]')].map(f => +f.dataset.session);
  const data = {z: {}}; shown.forEach(s => { data.z[s] = z; });
  pmm.perf.dashT0 = performance.now();
  dash_clientside.set_props('pmm-slice', {data: data});
}"""


def wait(page: Any, js: str, arg: Any, timeout: float = 10_000) -> bool:
    """Wait for ``js(arg)`` to hold in the page; False after ``timeout`` ms."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(js, arg=arg, timeout=timeout)
    except PlaywrightTimeout:
        return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    """Percentile (nearest rank) of ``values``."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, round(q / 100 * len(v) + 0.5) - 1))
    return v[k]


def report(name: str, values: list[float], budget: float | None = None) -> str:
    if not values:
        return f"{name:<34} no samples"
    p50, p95 = statistics.median(values), pct(values, 95)
    verdict = ""
    if budget is not None:
        verdict = f"  budget p95 <= {budget:.0f} ms: {'PASS' if p95 <= budget else 'MISS'}"
    return f"{name:<34} n={len(values):<3} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  max {max(values):6.1f} ms{verdict}"


def make_data(root: Path) -> None:
    from app.setup_data import DEMO_MAPS
    from pymapmanager.synthetic.maps import generate_map

    kw = dict(DEMO_MAPS["demo"])
    generate_map(root / "public", name="demo", **kw)  # type: ignore[arg-type]


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, DATA_DIR=str(data_dir), CREATE_DEMO="0", PYTHONPATH=str(REPO))
    gunicorn = Path(sys.executable).with_name("gunicorn")
    cmd = [str(gunicorn), "-b", f"127.0.0.1:{port}", "-w", "2", "--threads", "4", "-k", "gthread",
           "--log-level", "warning", "app.wsgi:server"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/status", timeout=1).read()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("gunicorn exited: " + proc.stderr.read().decode() if proc.stderr else "") from None
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("the server did not start")


def run(base: str, steps: int, clicks: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("PMM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    out: dict[str, list[float]] = {}
    lost = {"slice": 0, "baseline": 0, "select": 0}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
        ctx.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
        page = ctx.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{base}/map/public/demo")
        page.wait_for_function(JS_IMAGES_READY, arg=6)
        page.wait_for_function("() => Object.keys(pmm.markers).length === 6")
        time.sleep(1.0)

        # ---- slice changes: a user stepping through the stack with keys and the wheel
        box = page.locator('.pmm-viewer[data-session="0"] .leaflet-container').bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        slice_ms: list[float] = []
        direction = 1
        for i in range(steps):
            z = page.evaluate("() => pmm.view.z[0] === undefined ? 15 : pmm.view.z[0]")
            if z + direction > 29 or z + direction < 0:
                direction = -direction
            n = page.evaluate("() => pmm.perf.slice.length")
            if i % 2:
                page.mouse.wheel(0, 100 * direction)
            else:
                page.keyboard.press("ArrowDown" if direction > 0 else "ArrowUp")
            if wait(page, "(n) => pmm.perf.slice.length > n", n):
                slice_ms.append(page.evaluate("() => pmm.perf.slice[pmm.perf.slice.length - 1]"))
            else:
                lost["slice"] += 1
            time.sleep(0.15)
        out["slice"] = slice_ms
        print(f"  {len(slice_ms)} slice changes timed", flush=True)
        page.wait_for_function(JS_IMAGES_READY, arg=6)
        time.sleep(0.5)  # let Dash's stores catch up with the last step

        # ---- baseline: the same change only through Dash (store + clientside callback)
        z = page.evaluate("() => pmm.view.z[0]")
        for i in range(max(10, steps // 3)):
            nz = min(29, max(0, z + (1 if (i // 8) % 2 == 0 else -1)))
            if nz == z:
                continue
            n = page.evaluate("() => (pmm.perf.dash || []).length")
            page.evaluate(JS_DASH_PATH, nz)
            if not wait(page, "(n) => (pmm.perf.dash || []).length > n", n):
                lost["baseline"] += 1
                page.evaluate("() => { pmm.perf.dashT0 = null; }")
            z = nz
            time.sleep(0.15)
        base_ms = page.evaluate("() => pmm.perf.dash || []")
        out["baseline"] = base_ms
        print(f"  {len(base_ms)} baseline slice changes timed", flush=True)

        # ---- plot clicks
        points = page.evaluate(JS_PLOT_POINTS)
        rng = random.Random(0)
        rng.shuffle(points)
        select_ms: list[float] = []
        painted_ms: list[float] = []
        plot_ms: list[float] = []
        last_run = None
        for pt in points:
            if len(select_ms) >= clicks:
                break
            if pt["run"] == last_run:
                continue
            last_run = pt["run"]
            n = page.evaluate("() => [pmm.perf.select.length, pmm.perf.selectPainted.length, pmm.perf.plotHighlight.length]")
            # aim first, as a user does (the hover label shows), then click
            page.mouse.move(pt["x"], pt["y"], steps=3)
            time.sleep(0.2)
            page.mouse.down()
            page.mouse.up()
            if not wait(page, "(n) => pmm.perf.select.length > n[0]", n):
                lost["select"] += 1
                continue
            wait(page, "(n) => pmm.perf.selectPainted.length > n[1] && pmm.perf.plotHighlight.length > n[2]", n, 3000)
            got = page.evaluate("() => pmm.perf")
            select_ms.append(got["select"][-1])
            if len(got["selectPainted"]) > n[1]:
                painted_ms.append(got["selectPainted"][-1])
            if len(got["plotHighlight"]) > n[2]:
                plot_ms.append(got["plotHighlight"][-1])
            time.sleep(0.4)
        out["select"] = select_ms
        out["select_painted"] = painted_ms
        out["plot_highlight"] = plot_ms
        browser.close()
    for k, v in lost.items():
        if v:
            print(f"  {v} {k} samples lost (no timing recorded within 10 s)", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=60, help="slice changes to time")
    ap.add_argument("--clicks", type=int, default=40, help="plot clicks to time")
    ap.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pmm-bench-browser-"))
    proc = None
    try:
        t = time.perf_counter()
        make_data(tmp)
        print(f"demo map generated in {time.perf_counter() - t:.1f} s ({tmp})", flush=True)
        port = free_port()
        proc = start_server(tmp, port)
        res = run(f"http://127.0.0.1:{port}", args.steps, args.clicks)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    print("Chromium, demo map with 6 sessions x 2 channels x 30 x 512 x 512, 6 viewers side by side")
    print(report("slice change -> new pixels", res["slice"], SLICE_BUDGET_MS))
    print(report("  baseline: Dash props + React", res["baseline"]))
    if res["slice"] and res["baseline"]:
        ratio = statistics.median(res["baseline"]) / statistics.median(res["slice"])
        print(f"  {'baseline / direct (median)':<32} {ratio:.1f}x")
    print(report("plot click -> viewers moved+ringed", res["select"], SELECT_BUDGET_MS))
    print(report("  ... and new planes on screen", res["select_painted"]))
    print(report("  ... and plot highlight drawn", res["plot_highlight"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
