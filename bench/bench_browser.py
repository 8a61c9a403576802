"""Browser benchmark of the map viewer's hot paths, in Chromium, on two maps in the same run.

    .venv/bin/python bench/bench_browser.py [--steps 60] [--clicks 40] [--cold 3] [--warm 5] [--maps demo,big9]

Maps (in ``bench/.work/browser-data/public/``, made once and reused; git ignores ``bench/.work``):
  * ``demo``: the demo map of ``app.setup_data.DEMO_MAPS`` (6 sessions x 2 channels x 30 x 512 x 512);
  * ``big9``: a map of real-map size, ``generate_map(sessions=9, channels=2, shape=(70, 2048, 2048),
    spines_per_segment=30, seed=0)``: 9 sessions, 111 runs, 2048 x 2048 planes served as
    tiles, ~10 GB of uint16 images (about 2.5 minutes to make on 2 cores, the first time).

Targets (issue 12), at the 95th percentile:
  * plot click -> every viewer moved and ringed            <= 150 ms
  * plot click -> the plot's own highlight drawn            <= 100 ms
  * slice change -> new pixels in every viewer              <=  50 ms
  * opening a map -> first planes with their spines painted <= 1.0 s warm, <= 1.5 s cold

What is timed: the page's own performance measures (``performance.getEntriesByName``; see
``app/assets/20-pmm-layers.js``), each from the input event's ``timeStamp`` to just after
the frame that shows the result (``requestAnimationFrame`` then a task):
  * ``pmm:slice``: an ArrowDown/ArrowUp key or a wheel step over a viewer, until every
    viewer shows the new plane (its image loaded, or every tile in view reloaded);
  * ``pmm:select``: the plot click's mouseup (the pointer rests on the point for 200 ms
    first, as when a user aims) until every viewer was panned to the run (or to the
    matching place on its tracing), its plane set and the spine ringed;
    ``pmm:select-planes`` until the new planes' images are in too;
    ``pmm:plot-highlight`` until the plot's highlight of the run is drawn;
  * ``pmm:open``: from navigation start (``page.goto``) to the first frame where every
    viewer shows its first image, with the spines drawn (they come with the viewers).
    *Cold*: a new server process with an empty cache (``DATA_DIR/.cache`` removed: the
    map is parsed and every image rendered on demand) and a new browser context (empty
    HTTP cache); the operating system's file cache is warm. *Warm, new browser*: the same
    server again, a new browser context (every script fetched and compiled again).
    *Warm, second visit*: the same server, the map opened a second time in one browser
    context (the scripts from its HTTP cache and V8's code cache, as when a lab member
    opens a map again; the browser context is new for each sample). Printed with it, the median of each step of the open (ms from
    navigation start, from the page's navigation and resource timings): the HTML, the
    scripts run, the app's layout in (it holds the first page), the first image requested, the
    first images loaded, ``pmm:open``; then the plot drawn and the spine table's rows in
    (they are drawn after the first planes), and how many callback requests were sent
    before the first image was asked for.

Baseline, measured in the same run on the same page: a slice change to a plane that was
not preloaded (PageDown / PageUp: 5 planes, beyond the 3 preloaded ahead; first visit of
each plane), timed the same way (``pmm:slice``). The ratio baseline / steps says what the
preloading buys.

The app runs under gunicorn (2 workers, 4 threads: the production setup); the browser is
``$PMM_CHROMIUM`` or Debian's ``/usr/bin/chromium``, headless, software rendering (so read
the figures as upper bounds). No timed asserts: this prints p50/p95 and PASS/MISS. The
server's log goes to ``bench/.work/bench-browser-server.log``; the lines of it that say
something went wrong (a worker timeout, an error, a traceback) are printed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WORK = REPO / "bench" / ".work"
DATA = WORK / "browser-data"
SCREENSHOTS = WORK / "browser-shots"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # nothing but the bench server is reachable (a name lookup of any other host fails);
    # unlike request interception, this keeps the browser's HTTP cache on (the second visit)
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
VIEWPORT = {"width": 1600, "height": 1000}
BUDGETS = {
    "slice": 50.0,
    "select": 150.0,
    "plot-highlight": 100.0,
    "open-warm": 1000.0,
    "open-cold": 1500.0,
}

#: the maps: name -> (generate_map keyword arguments, shown sessions)
BIG9: dict[str, Any] = {
    "sessions": 9,
    "channels": 2,
    "shape": (70, 2048, 2048),
    "seed": 0,
    "spines_per_segment": 30,
}

JS_SPINES_IN = """(n) => { const st = pmm.state.get();
  return st.sessions.length === n && st.sessions.every(s => pmm.spines.markers(s).size > 0); }"""

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

#: where the open's time went, from the page's own timings (navigation, resources, measures),
#: ms from navigation start: the page's HTML, its scripts run (DOMContentLoaded), the app's
#: layout in (preloaded while the scripts load; it holds the first page), the callback
#: requests sent before the first image was asked for, the first image requested, the last image loaded before pmm:open, pmm:open;
#: and (after it) the plot drawn, the spine table's rows.
JS_OPEN_PHASES = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const open = performance.getEntriesByName('pmm:open')[0];
  const end = open.startTime + open.duration;
  const res = performance.getEntriesByType('resource');
  const cbs = res.filter(e => e.name.includes('/_dash-update-component'));
  const imgs = res.filter(e => /\\/api\\/v1\\/maps\\/.*\\/sessions\\//.test(e.name) && e.startTime < end);
  const first = imgs.length ? Math.min(...imgs.map(e => e.startTime)) : null;
  return {
    html: nav.responseEnd, scripts: nav.domContentLoadedEventEnd,
    layout: (res.find(e => e.name.endsWith("/_dash-layout")) || {}).responseEnd ?? null,
    callbacks_before_images: first === null ? null : cbs.filter(e => e.startTime < first).length,
    images_requested: first,
    images_loaded: imgs.some(e => e.responseEnd <= end) ? Math.max(...imgs.filter(e => e.responseEnd <= end).map(e => e.responseEnd)) : null,
    open: end,
  };
}"""
JS_PLOT_DRAWN = """() => { const gd = document.querySelector('#pmm-plot .js-plotly-plot');
  return !!gd && !!gd._fullData && gd._fullData.length > 1; }"""
JS_ROWS_IN = "() => document.querySelectorAll('#pmm-table-grid .ag-row').length > 0"
OPEN_PHASES = ("html", "scripts", "layout", "images_requested", "images_loaded", "open", "plot", "table")

JS_COUNT = "(name) => performance.getEntriesByName('pmm:' + name).length"
JS_LAST = "(name) => { const e = performance.getEntriesByName('pmm:' + name); return e.length ? e[e.length - 1].duration : null; }"


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
        return f"  {name:<40} no samples"
    p50, p95 = statistics.median(values), pct(values, 95)
    verdict = ""
    if budget is not None:
        verdict = f"  p95 <= {budget:.0f} ms: {'PASS' if p95 <= budget else 'MISS'}"
    return f"  {name:<40} n={len(values):<3} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  max {max(values):7.1f} ms{verdict}"


# ---------------------------------------------------------------------------- data and server


def make_data() -> None:
    """The two maps under ``bench/.work/browser-data/public`` (each made once)."""
    from app.setup_data import DEMO_MAPS
    from pymapmanager.synthetic.maps import generate_map

    public = DATA / "public"
    public.mkdir(parents=True, exist_ok=True)
    wanted: dict[str, dict[str, Any]] = {"demo": dict(DEMO_MAPS["demo"]), "big9": BIG9}
    for name, kw in wanted.items():
        marker = DATA / f"{name}.ready"
        spec = json.dumps(kw, sort_keys=True, default=list)
        if (
            marker.is_file()
            and json.loads(marker.read_text()).get("spec") == spec
            and (public / name).is_dir()
        ):
            continue
        shutil.rmtree(public / name, ignore_errors=True)
        print(f"making map {name} {kw} (once; kept in {public})", flush=True)
        t = time.perf_counter()
        generate_map(public, name=name, **kw)
        marker.write_text(json.dumps({"spec": spec, "seconds": round(time.perf_counter() - t, 1)}))
        print(f"  made in {time.perf_counter() - t:.0f} s", flush=True)


class Server:
    """gunicorn on the bench data, restartable with an empty cache. Its log (gunicorn's and
    the app's warnings) goes to :data:`SERVER_LOG`, one section per start; :attr:`problems`
    lists what in it says something went wrong (a worker timed out, an error, a traceback):
    a pipe nobody read would stop the server once full, and hid those."""

    #: the lines of the server's log, since the first start, that say something went wrong
    problems: list[str]

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.log_from = 0
        self.problems = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, cold: bool) -> None:
        self.stop()
        if cold:
            shutil.rmtree(DATA / ".cache", ignore_errors=True)
        self.port = free_port()
        env = dict(os.environ, DATA_DIR=str(DATA), CREATE_DEMO="0", PYTHONPATH=str(REPO))
        env.pop("REDIS_URL", None)
        gunicorn = Path(sys.executable).with_name("gunicorn")
        cmd = [str(gunicorn), "-b", f"127.0.0.1:{self.port}", "-w", "2", "--threads", "4", "-k", "gthread",
               "--log-level", "warning", "app.wsgi:server"]  # fmt: skip
        WORK.mkdir(parents=True, exist_ok=True)
        with SERVER_LOG.open("a") as f:
            f.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} start ({'cold' if cold else 'warm'}) port {self.port}\n")
        self.log_from = SERVER_LOG.stat().st_size
        with SERVER_LOG.open("ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"{self.base}/api/v1/status", timeout=1).read()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("gunicorn exited: " + self._log_since()) from None
                time.sleep(0.2)
        raise RuntimeError("the server did not start")

    def _log_since(self) -> str:
        with SERVER_LOG.open("rb") as f:
            f.seek(self.log_from)
            return f.read().decode(errors="replace")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None
            self.problems += [line for line in self._log_since().splitlines() if PROBLEM.search(line)]


#: where the benchmark's server writes its log (git ignores bench/.work)
SERVER_LOG = WORK / "bench-browser-server.log"
#: a log line saying something went wrong (gunicorn's worker timeout, an error, a traceback)
PROBLEM = re.compile(r"WORKER TIMEOUT|CRITICAL|ERROR|Traceback|Exception", re.IGNORECASE)


# ---------------------------------------------------------------------------- the runs


def new_page(browser: Any, base: str) -> tuple[Any, Any]:
    ctx = browser.new_context(viewport=VIEWPORT)
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    return ctx, page


def open_map(
    browser: Any,
    base: str,
    name: str,
    n: int,
    phases: dict[str, list[float]] | None = None,
    again: bool = False,
) -> tuple[Any, Any, float | None]:
    """Open a map in a new browser context; the page and its pmm:open time. ``phases``:
    where the open's time went (:data:`JS_OPEN_PHASES`) and when the plot and the spine
    table came after it are appended there. ``again``: the map is opened once first (not
    timed), then the open timed is the second visit in the same browser context (scripts,
    styles and the planes from its HTTP cache, as when a user opens a map again)."""
    ctx, page = new_page(browser, base)
    url = f"{base}/map/public/{name}?s={','.join(str(s) for s in range(n))}"
    if again:
        page.goto(url)
        wait(page, "() => performance.getEntriesByName('pmm:open').length > 0", None, 60_000)
        page.goto("about:blank")
    page.goto(url)
    got = wait(page, "() => performance.getEntriesByName('pmm:open').length > 0", None, 60_000)
    wait(page, JS_SPINES_IN, n, 30_000)
    t = page.evaluate(JS_LAST, "open") if got else None
    if got and phases is not None:
        for k, v in page.evaluate(JS_OPEN_PHASES).items():
            if v is not None:
                phases.setdefault(k, []).append(float(v))
        # the plot and the table are drawn after the first planes: when they were there
        # (polled, so to within ~20 ms)
        for k, js in (("plot", JS_PLOT_DRAWN), ("table", JS_ROWS_IN)):
            page.wait_for_function(js, polling=20, timeout=30_000)
            phases.setdefault(k, []).append(float(page.evaluate("() => performance.now()")))
    return ctx, page, t


def timed(page: Any, name: str, act: Any, timeout: float = 10_000) -> float | None:
    """Do ``act()`` and return the duration of the next pmm:<name> measure (None if none came)."""
    n = page.evaluate(JS_COUNT, name)
    act()
    if not wait(page, f"(n) => performance.getEntriesByName('pmm:{name}').length > n", n, timeout):
        return None
    return float(page.evaluate(JS_LAST, name))


def hot_paths(page: Any, steps: int, clicks: int, out: dict[str, list[float]]) -> None:
    """Slice steps, the not-preloaded baseline and plot clicks on an open map."""
    planes = page.evaluate(
        "() => Math.min(...pmm.state.get().sessions.map(s => pmm.state.get().metas[s].planes))"
    )
    box = page.locator(".pmm-viewer[data-session] .leaflet-container").first.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_timeout(1000)  # the first planes' neighbours preload

    # ---- slice steps: a user stepping down through the stack and back up, with keys and
    # the wheel: the way down shows planes for the first time, the way up planes seen before
    seen: set[int] = set()
    direction = 1
    for i in range(steps):
        z = page.evaluate("() => pmm.state.zOf(pmm.state.get().sessions[0])")
        if i == steps // 2 or not 0 <= z + direction < planes:
            direction = -direction
        if i % 2:
            act = lambda d=direction: page.mouse.wheel(0, 100 * d)  # noqa: E731
        else:
            act = lambda d=direction: page.keyboard.press("ArrowDown" if d > 0 else "ArrowUp")  # noqa: E731
        t = timed(page, "slice", act)
        if t is None:
            out.setdefault("lost", []).append(1)
        else:
            out["slice" if z + direction in seen else "slice-first"].append(t)
        seen.add(z)
        seen.add(z + direction)
        page.wait_for_timeout(150)
    out["slice-all"] = out["slice"] + out["slice-first"]

    # ---- baseline: 5-plane jumps to planes not visited (not preloaded)
    visited: set[int] = set()
    z = page.evaluate("() => pmm.state.zOf(pmm.state.get().sessions[0])")
    for _ in range(steps // 4):
        key, dz = ("PageDown", 5) if z + 5 < planes else ("PageUp", -5)
        target = z + dz
        if target in visited or any(abs(target - v) <= 3 for v in visited):
            key, dz = ("PageUp", -5) if key == "PageDown" and z - 5 >= 0 else (key, dz)
        t = timed(page, "slice", lambda k=key: page.keyboard.press(k), 20_000)
        z = page.evaluate("() => pmm.state.zOf(pmm.state.get().sessions[0])")
        if t is not None and z not in visited:
            out["baseline"].append(t)
        visited.update(range(z - 3, z + 4))
        page.wait_for_timeout(400)

    # ---- plot clicks
    points = page.evaluate(JS_PLOT_POINTS)
    random.Random(0).shuffle(points)
    last_run = None
    done = 0
    for pt in points:
        if done >= clicks:
            break
        if pt["run"] == last_run:
            continue
        last_run = pt["run"]
        n = {k: page.evaluate(JS_COUNT, k) for k in ("select", "select-planes", "plot-highlight")}
        page.mouse.move(pt["x"], pt["y"], steps=3)
        page.wait_for_timeout(200)
        page.mouse.down()
        page.mouse.up()
        if not wait(
            page, "(n) => performance.getEntriesByName('pmm:select').length > n", n["select"]
        ):
            out.setdefault("lost", []).append(1)
            continue
        done += 1
        for k in ("select", "select-planes", "plot-highlight"):
            if wait(page, f"(n) => performance.getEntriesByName('pmm:{k}').length > n", n[k], 5000):
                out[k].append(float(page.evaluate(JS_LAST, k)))
        page.wait_for_timeout(400)


def run_map(
    browser: Any, server: Server, name: str, n: int, args: argparse.Namespace
) -> tuple[dict[str, list[float]], dict[str, dict[str, list[float]]]]:
    """The timings of map ``name``, and where its opens' time went (cold, warm)."""
    keys = (
        "open-cold",
        "open-warm",
        "open-again",
        "slice",
        "slice-first",
        "baseline",
        "select",
        "select-planes",
        "plot-highlight",
    )
    out: dict[str, list[float]] = {k: [] for k in keys}
    phases: dict[str, dict[str, list[float]]] = {"cold": {}, "warm": {}, "again": {}}
    for _ in range(args.cold):
        server.start(cold=True)
        ctx, _page, t = open_map(browser, server.base, name, n, phases["cold"])
        if t is not None:
            out["open-cold"].append(t)
        ctx.close()
    if not args.cold:
        server.start(cold=False)
    for i in range(args.warm):
        ctx, page, t = open_map(browser, server.base, name, n, phases["warm"])
        if t is not None:
            out["open-warm"].append(t)
        if i == args.warm - 1:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{name}-open.png"))
            hot_paths(page, args.steps, args.clicks, out)
            page.screenshot(path=str(SCREENSHOTS / f"{name}-selected.png"))
        ctx.close()
    for _ in range(args.warm):
        ctx, _page, t = open_map(browser, server.base, name, n, phases["again"], again=True)
        if t is not None:
            out["open-again"].append(t)
        ctx.close()
    print(f"  {name}: done", flush=True)
    return out, phases


def report_phases(phases: dict[str, dict[str, list[float]]]) -> list[str]:
    """Where the opens' time went: the median of each step, ms from navigation start."""
    lines = []
    for kind in ("cold", "warm", "again"):
        ph = phases.get(kind) or {}
        if not ph.get("open"):
            continue
        steps = "  ".join(
            f"{k.replace('_', ' ')} {statistics.median(ph[k]):.0f}" for k in OPEN_PHASES if ph.get(k)
        )
        rounds = ph.get("callbacks_before_images") or []
        lines.append(f"    {kind} (median ms from navigation start): {steps}")
        if rounds:
            lines.append(f"      callback requests sent before the first image was asked for: {statistics.median(rounds):.0f}")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=60, help="slice steps to time per map")
    ap.add_argument("--clicks", type=int, default=40, help="plot clicks to time per map")
    ap.add_argument(
        "--cold", type=int, default=3, help="cold opens per map (a server restart each)"
    )
    ap.add_argument("--warm", type=int, default=5, help="warm opens per map")
    ap.add_argument("--maps", default="demo,big9", help="which maps (demo, big9)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    make_data()
    shown = {"demo": 6, "big9": 9}
    chromium = os.environ.get("PMM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    server = Server()
    results: dict[str, dict[str, list[float]]] = {}
    phases_of: dict[str, dict[str, dict[str, list[float]]]] = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
            for name in args.maps.split(","):
                results[name], phases_of[name] = run_map(browser, server, name, shown[name], args)
            browser.close()
    finally:
        server.stop()
    if server.problems:
        print(f"\nThe server's log ({SERVER_LOG}) says something went wrong ({len(server.problems)} lines):")
        for line in server.problems[:10]:
            print("   ", line[:200])
    describe = {
        "demo": "demo: 6 sessions x 2 channels x 30 x 512 x 512 (one image per viewer), 6 viewers",
        "big9": "big9: 9 sessions x 2 channels x 70 x 2048 x 2048 (tiles), 111 runs, 9 viewers",
    }
    print()
    print("Chromium (headless, software rendering), gunicorn 2 workers x 4 threads")
    for name, res in results.items():
        print(describe[name])
        print(
            report("open, cold (new server, empty cache)", res["open-cold"], BUDGETS["open-cold"])
        )
        print(report("open, warm server, new browser", res["open-warm"], BUDGETS["open-warm"]))
        print(report("open, warm server, second visit", res["open-again"], BUDGETS["open-warm"]))
        for line in report_phases(phases_of[name]):
            print(line)
        print(report("slice change -> new pixels, all", res["slice-all"], BUDGETS["slice"]))
        print(report("  planes shown before (way back up)", res["slice"]))
        print(report("  first visit (server renders)", res["slice-first"]))
        print(report("  baseline: plane not preloaded", res["baseline"]))
        if res["slice-all"] and res["baseline"]:
            ratio = statistics.median(res["baseline"]) / statistics.median(res["slice-all"])
            print(f"  {'  baseline / steps (median)':<40} {ratio:.1f}x")
        print(report("plot click -> viewers moved+ringed", res["select"], BUDGETS["select"]))
        print(
            report(
                "plot click -> plot highlight drawn",
                res["plot-highlight"],
                BUDGETS["plot-highlight"],
            )
        )
        print(report("plot click -> new planes on screen", res["select-planes"]))
        if res.get("lost"):
            print(f"  {len(res['lost'])} samples lost (no timing within the timeout)")
    if "demo" in results and "big9" in results:
        # the machine's load moves both maps alike: the ratio is steadier than the figures
        print("big9 / demo, same run (p50, p95):")
        for key, label in (("open-cold", "open, cold"), ("open-warm", "open, warm"), ("open-again", "open, second visit"),
                           ("slice-all", "slice change"),
                           ("select", "plot click -> viewers"), ("plot-highlight", "plot click -> highlight")):  # fmt: skip
            a, b = results["big9"].get(key) or [], results["demo"].get(key) or []
            if a and b:
                r50 = statistics.median(a) / statistics.median(b)
                r95 = pct(a, 95) / pct(b, 95)
                print(f"  {label:<40} {r50:4.1f}x  {r95:4.1f}x")
    print(f"screenshots: {SCREENSHOTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
