"""The map page's features in a real Chromium, on a map of the shape of real ones (9 sessions,
~650 objects a session): run strip layout, session headers, not-found page, ignored URL
values, the spine table and its selection both ways, go to run, exports, dynamics."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pymapmanager.synthetic.maps import generate_map
from tests.browser.server import serve_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def nine_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a DATA_DIR with ``public/nine``: 9 sessions, ~650 spines a session."""
    root = tmp_path_factory.mktemp("nine-data")
    generate_map(root / "public", name="nine", sessions=9, channels=1, shape=(12, 128, 128), seed=5, segments=4, spines_per_segment=165)
    with serve_app(root) as url:
        yield url


JS_READY = """(n) => {
  const frames = document.querySelectorAll('.pmm-viewer');
  const rows = document.querySelectorAll('#pmm-table-grid .ag-center-cols-container .ag-row');
  return frames.length === n && rows.length > 5 && window.pmm && pmm.state && pmm.state.get().sessions.length === n
    && pmm.state.get().sessions.every(s => pmm.spines.markers(s).size > 0);
}"""

JS_RECT = """(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
  return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; }"""


def open_nine(page: Any, base: str, query: str = "", n: int = 6) -> None:
    page.goto(f"{base}/map/public/nine{query}")
    page.wait_for_function(JS_READY, arg=n, timeout=30_000)


def selected_run(page: Any) -> Any:
    return page.evaluate("() => window.pmm && pmm.state ? pmm.state.get().run : null")


def test_nine_session_run_strip_fits_inside_its_card(page: Any, nine_url: str) -> None:
    open_nine(page, nine_url, "?run=7")
    page.wait_for_function("() => document.querySelectorAll('.pmm-run-strip .pmm-strip-cell').length === 9")
    card = page.evaluate(JS_RECT, ".pmm-strip-card .card-body")
    cells = page.evaluate(
        """() => [...document.querySelectorAll('.pmm-run-strip .pmm-strip-cell')].map(c => {
          const r = c.getBoundingClientRect(); const l = c.querySelector('.pmm-strip-label');
          return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, w: r.width,
                  clipped: l.scrollWidth > l.clientWidth + 1 || l.scrollHeight > l.clientHeight + 1};
        })"""
    )
    assert len(cells) == 9
    for c in cells:
        assert c["w"] > 30, c
        assert card["left"] - 0.5 <= c["left"] and c["right"] <= card["right"] + 0.5, (c, card)
        assert card["top"] - 0.5 <= c["top"] and c["bottom"] <= card["bottom"] + 0.5, (c, card)
        assert not c["clipped"], c
    # nothing scrolls sideways: every cell is in view
    assert page.evaluate("() => { const s = document.querySelector('.pmm-run-strip'); return s.scrollWidth <= s.clientWidth + 1; }")


def test_session_headers_show_whole_days_and_are_never_cut(page: Any, nine_url: str) -> None:
    open_nine(page, nine_url, "?s=0,3,4,5,6,8&proj=max")
    page.wait_for_function("() => [...document.querySelectorAll('.pmm-viewer-slice')].every(e => e.textContent.startsWith('max'))")
    heads = page.evaluate(
        """() => [...document.querySelectorAll('.pmm-viewer-label')].map(l => ({text: l.textContent,
            cut: l.scrollWidth > l.clientWidth + 1}))"""
    )
    assert len(heads) == 6
    for h in heads:
        assert re.search(r"day \d+$", h["text"]), h
        assert not re.search(r"day \d+\.\d", h["text"]), h
        assert not h["cut"], h
    assert any(re.search(r"day [1-9]\d$", h["text"]) for h in heads)  # two-digit days in full


def test_unknown_map_is_a_not_found_page_with_a_way_back(page: Any, nine_url: str) -> None:
    page.goto(f"{nine_url}/map/public/nosuchmap?s=0")
    page.get_by_text("Map not found").wait_for()
    assert page.locator("#pmm-sessions").count() == 0 and page.locator("#pmm-plot").count() == 0
    page.get_by_role("link", name="Back to the maps").click()
    page.wait_for_url(re.compile(r"/$"))
    page.locator('.pmm-card-wrap[data-map="public/nine"]').wait_for()


def test_invalid_url_values_are_named_and_the_note_can_be_dismissed(page: Any, nine_url: str) -> None:
    open_nine(page, nine_url, "?s=0,99&z=99999&ch=9&proj=bogus", n=1)
    note = page.locator(".pmm-url-ignored")
    note.wait_for()
    text = note.inner_text()
    for bit in ("s=99", "z=99999", "ch=9", "proj=bogus"):
        assert bit in text, text
    # the defaults were used
    assert page.locator("#pmm-projection input:checked").get_attribute("value") == "none"
    note.locator(".btn-close").click()
    note.wait_for(state="detached")


def _row(page: Any, grid: str, run: int) -> Any:
    return page.locator(f'#{grid} .ag-center-cols-container .ag-row[row-id="{run}"]')


def test_a_table_row_selects_the_spine_everywhere(page: Any, nine_url: str) -> None:
    open_nine(page, nine_url)
    row = page.locator("#pmm-table-grid .ag-center-cols-container .ag-row").nth(3)
    run = int(row.get_attribute("row-id"))
    row.click()
    page.wait_for_function("(run) => window.pmm.state.get().run === run", arg=run)
    # the same path as a plot click: the strip, the plot's highlight, the URL
    page.wait_for_function("(run) => document.querySelector('#pmm-run-info').textContent.startsWith('run ' + run + ' ')", arg=run)
    # the plot's highlight is drawn by the browser over the plot (app/assets/60-pmm-plot.js)
    page.wait_for_function("() => { const s = document.querySelector('#pmm-plot svg.pmm-plot-selection'); return s && s.childElementCount > 0; }")
    page.wait_for_function("(run) => location.search.includes('run=' + run)", arg=run)
    assert "ag-row-selected" in (_row(page, "pmm-table-grid", run).get_attribute("class") or "")


def test_a_selection_elsewhere_scrolls_the_table_to_its_row(page: Any, nine_url: str) -> None:
    open_nine(page, nine_url)
    # the last run of the table's session: far down, not rendered until scrolled to
    runs = page.evaluate(
        """() => { const out = []; dash_ag_grid.getApi('pmm-table-grid').forEachNode(n => out.push(n.data.run)); return out; }"""
    )
    assert len(runs) > 600
    target = max(runs)
    assert _row(page, "pmm-table-grid", target).count() == 0
    page.fill("#pmm-goto-run", str(target))
    page.click("#pmm-goto-run-go")
    page.wait_for_function("(run) => window.pmm.state.get().run === run", arg=target)
    row = _row(page, "pmm-table-grid", target)
    row.wait_for()
    page.wait_for_function(
        """(run) => { const r = document.querySelector('#pmm-table-grid .ag-center-cols-container .ag-row[row-id="' + run + '"]');
                      const v = document.querySelector('#pmm-table-grid .ag-body-viewport').getBoundingClientRect();
                      if (!r || !r.classList.contains('ag-row-selected')) return false;
                      const b = r.getBoundingClientRect(); return b.top >= v.top - 1 && b.bottom <= v.bottom + 1; }""",
        arg=target,
    )
    # the runs x sessions view selects it too
    page.get_by_role("tab", name="Runs × sessions").click()
    page.wait_for_function(
        """(run) => { const r = document.querySelector('#pmm-runs-grid .ag-center-cols-container .ag-row[row-id="' + run + '"]');
                      return r && r.classList.contains('ag-row-selected'); }""",
        arg=target,
    )
    # a wrong run number is refused with the range
    page.fill("#pmm-goto-run", "99999")
    page.click("#pmm-goto-run-go")
    page.wait_for_function("() => document.querySelector('#pmm-goto-run-msg').textContent.includes('no run 99999')")
    assert selected_run(page) == target


def test_a_pick_in_another_session_shows_that_sessions_table_with_its_row(page: Any, nine_url: str) -> None:
    open_nine(page, nine_url)
    page.wait_for_function("() => document.querySelector('#pmm-table-info').textContent.includes('in session 0')")
    # a spine of session 2's viewer picked there (the table shows the first session, 0)
    run = page.evaluate(
        """() => { for (const m of pmm.spines.markers(2)) { const p = m.feature.properties;
                     if (!p.ghost && typeof p.run === 'number') { m.fire('click'); return p.run; } } return null; }"""
    )
    assert isinstance(run, int)
    page.wait_for_function("(run) => window.pmm.state.get().run === run", arg=run)
    # the table follows the pick's session (in the browser), and selects and shows its row
    page.wait_for_function("() => document.querySelector('#pmm-table-info').textContent.includes('in session 2')")
    page.wait_for_function(
        """(run) => { const r = document.querySelector('#pmm-table-grid .ag-center-cols-container .ag-row[row-id="' + run + '"]');
                      const v = document.querySelector('#pmm-table-grid .ag-body-viewport').getBoundingClientRect();
                      if (!r || !r.classList.contains('ag-row-selected')) return false;
                      const b = r.getBoundingClientRect(); return b.top >= v.top - 1 && b.bottom <= v.bottom + 1; }""",
        arg=run,
    )
    # clearing the selection clears the row
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.querySelector('#pmm-table-grid .ag-row-selected')")


def test_a_runs_row_selects_the_run(page: Any, nine_url: str) -> None:
    open_nine(page, nine_url)
    page.get_by_role("tab", name="Runs × sessions").click()
    row = page.locator("#pmm-runs-grid .ag-center-cols-container .ag-row").nth(5)
    row.wait_for()
    run = int(row.get_attribute("row-id"))
    row.click()
    page.wait_for_function("(run) => window.pmm.state.get().run === run", arg=run)
    page.wait_for_function("(run) => document.querySelector('#pmm-run-info').textContent.startsWith('run ' + run + ' ')", arg=run)


def test_exports_download_csv(page: Any, nine_url: str, tmp_path: Path) -> None:
    open_nine(page, nine_url)
    page.wait_for_function("() => document.querySelector('#pmm-plot-y').textContent.includes('session')")
    with page.expect_download() as dl:
        page.click("#pmm-export-values-tidy")
    rows = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text())))
    assert dl.value.suggested_filename == "nine_pDist_session_tidy.csv"
    assert len(rows) > 9 * 550 and {"run", "session", "pDist"} <= set(rows[0])
    with page.expect_download() as dl:
        page.click("#pmm-export-values-wide")
    assert dl.value.suggested_filename.endswith("_runs_x_sessions.csv")
    with page.expect_download() as dl:
        page.click("#pmm-export-dynamics")
    assert len(Path(dl.value.path()).read_text().splitlines()) == 1 + 4 * 9
    # the table as shown: filtered by the grid's own filter
    page.locator("#pmm-table-grid .ag-floating-filter input").first.fill("10")
    page.wait_for_function("() => document.querySelectorAll('#pmm-table-grid .ag-center-cols-container .ag-row').length < 5")
    shown = page.locator("#pmm-table-grid .ag-center-cols-container .ag-row").count()
    with page.expect_download() as dl:
        page.click("#pmm-export-table")
    lines = Path(dl.value.path()).read_text(encoding="utf-8-sig").strip().splitlines()
    assert dl.value.suggested_filename.startswith("nine_session0_spines")
    assert lines[0].startswith('"run"') and len(lines) == 1 + shown


def test_dynamics_panel(page: Any, nine_url: str) -> None:
    open_nine(page, nine_url)
    page.get_by_role("tab", name="Dynamics").click()
    page.wait_for_function("() => document.querySelectorAll('#pmm-dyn-figure .bars path, #pmm-dyn-figure .point path').length > 9")
    page.wait_for_function("() => document.querySelectorAll('#pmm-dyn-grid .ag-center-cols-container .ag-row').length > 10")
    headers = page.locator("#pmm-dyn-grid .ag-header-cell-text").all_inner_texts()
    for h in ("added", "subtracted", "persistent", "% added", "per µm"):
        assert h in headers, headers


# when each deferred part first appeared (performance.now()), recorded from the first byte
JS_RECORD_APPEARANCE = """
window.__pmmSeen = {};
new MutationObserver(() => {
  const seen = window.__pmmSeen, now = performance.now();
  const parts = {plot: '#pmm-plot .js-plotly-plot', histogram: '#pmm-histogram .js-plotly-plot',
                 grid: '#pmm-table-grid', viewer: '.pmm-viewer .leaflet-container'};
  for (const [k, sel] of Object.entries(parts)) {
    if (!(k in seen) && document.querySelector(sel)) { seen[k] = now; }
  }
}).observe(document, {childList: true, subtree: true});
"""


def test_the_plot_and_the_tables_come_after_the_first_planes_and_show_the_url_state(page: Any, nine_url: str) -> None:
    page.context.add_init_script(JS_RECORD_APPEARANCE)
    open_nine(page, nine_url, "?run=7")
    opened = page.evaluate("() => { const m = performance.getEntriesByName('pmm:open'); return m.length ? m[0].startTime + m[0].duration : null; }")
    assert opened is not None
    page.wait_for_function("() => ['plot', 'histogram', 'grid'].every(k => k in window.__pmmSeen)")
    seen = page.evaluate("() => window.__pmmSeen")
    # the viewers were on the page before; Plotly and AG Grid only once the first planes were painted
    assert seen["viewer"] < opened
    assert min(seen["plot"], seen["histogram"], seen["grid"]) >= opened
    # and they show what the page shows: the plot's points with the URL's run highlighted,
    # the table's rows with that run's row selected, the contrast histogram
    page.wait_for_function("() => document.querySelector('#pmm-plot .js-plotly-plot')._fullData.length > 1")
    page.wait_for_function("() => { const s = document.querySelector('#pmm-plot svg.pmm-plot-selection'); return s && s.childElementCount > 0; }")
    assert selected_run(page) == 7
    page.wait_for_function("() => !!document.querySelector('#pmm-table-grid .ag-row-selected[row-id=\"7\"]')")
    page.wait_for_function("() => document.querySelector('#pmm-histogram .js-plotly-plot')._fullData.length > 0")


# the plane requests, and when the page opened (atOpen false: a page that never opens, 0)
JS_PLANE_REQUESTS = """(atOpen) => {
  const m = atOpen ? performance.getEntriesByName('pmm:open')[0] : {startTime: 0, duration: 0};
  const first = {};
  pmm.state.get().sessions.forEach(s => { first[s] = pmm.state.zOf(s); });
  const imgs = performance.getEntriesByType('resource').map(e => {
    const p = new URL(e.name).pathname.match(/\\/sessions\\/(\\d+)\\/planes\\/(\\d+)/);
    return p ? {s: +p[1], z: +p[2], start: e.startTime} : null;
  }).filter(Boolean);
  return {open: m.startTime + m.duration, first, imgs};
}"""


def test_neighbouring_planes_are_preloaded_only_once_every_viewer_shows_its_first_plane(page: Any, nine_url: str) -> None:
    """Until pmm:open the server and the browser work on the first planes only: a viewer's
    neighbouring planes are not asked for as soon as that one viewer shows its own (on a
    cold server each is rendered, beside the other viewers' first planes). Session 0's first
    plane comes a second late, so the other viewers show theirs long before the open."""
    held: list[str] = []

    def late(route: Any) -> None:
        if not held:  # the first plane asked for: session 0's first
            held.append(route.request.url)
            time.sleep(1.0)
        route.continue_()

    page.route(re.compile(r".*/sessions/0/planes/.*"), late)
    open_nine(page, nine_url)
    page.wait_for_function("() => pmm.preload.size() >= 6")
    got = page.evaluate(JS_PLANE_REQUESTS, True)
    first = {int(s): z for s, z in got["first"].items()}
    before = [i for i in got["imgs"] if i["start"] < got["open"]]
    after = [i for i in got["imgs"] if i["start"] >= got["open"]]
    # before the open: each viewer's first plane, nothing else
    assert {(i["s"], i["z"]) for i in before} == set(first.items())
    # after it: the neighbouring planes of every viewer
    neighbours = {(i["s"], i["z"]) for i in after if i["z"] != first[i["s"]]}
    assert {s for s, _ in neighbours} == set(first)
    assert all(abs(z - first[s]) <= 3 for s, z in neighbours)
    assert len(held) == 1 and f"/planes/{first[0]}" in held[0]


def test_preloads_start_without_the_open_when_a_first_plane_fails(page: Any, nine_url: str) -> None:
    """A viewer whose first plane fails never opens the page (pmm:open): the other viewers'
    neighbouring planes are preloaded all the same, 3 s after the first viewer showed its own."""
    page.route(re.compile(r".*/sessions/0/planes/.*"), lambda route: route.fulfill(status=500, body="boom"))
    page.goto(f"{nine_url}/map/public/nine")
    page.wait_for_function("() => window.pmm && pmm.layers && pmm.layers.shown(1)", timeout=30_000)
    page.wait_for_function(
        f"() => {{ const g = ({JS_PLANE_REQUESTS})(false); return g.imgs.some(i => i.z !== g.first[i.s]); }}",
        timeout=30_000,
    )
    assert page.evaluate("() => performance.getEntriesByName('pmm:open').length") == 0
    got = page.evaluate(JS_PLANE_REQUESTS, False)
    first = {int(s): z for s, z in got["first"].items()}
    shown = page.evaluate(
        "() => Math.min(...performance.getEntriesByType('resource').filter(e => /\\/sessions\\/[1-9]\\/planes\\//.test(e.name)).map(e => e.responseEnd))"
    )
    preloads = [i["start"] for i in got["imgs"] if i["z"] != first[i["s"]]]
    assert preloads and min(preloads) >= shown + 2900, (min(preloads), shown)
