"""The pooling page in a real Chromium: pool, edit groups, normalise, export, open a run.

Uses the session's Chromium of ``tests/browser/conftest.py`` (Debian's ``/usr/bin/chromium``
or ``$PMM_CHROMIUM``; a missing browser is a failure under ``CI=true``) and its own server
with a demo pool. ``PMM_SCREENSHOTS=<dir>`` keeps a screenshot of the page.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pymapmanager.synthetic.pools import make_pool
from tests.browser.server import serve_app
from tests.support.tinymap import write_tiny_map

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def pool_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a free port, with a demo pool of 3 + 3 maps and the tiny map."""
    root = tmp_path_factory.mktemp("pool-browser")
    make_pool(root / "public", maps_per_cohort=3, sessions=6, seed=7)
    write_tiny_map(root / "public")
    with serve_app(root) as url:
        yield url


def _mean_traces(page: Any) -> Any:
    return page.evaluate(
        """() => {
            const gd = document.querySelector('#pmm-pool-figure .js-plotly-plot');
            if (!gd || !gd.data) return null;
            return gd.data.filter(t => t.mode === 'lines+markers' && t.type !== 'scattergl')
                          .map(t => ({name: t.name, y: t.y}));
        }"""
    )


def test_pool_page_in_chromium(browser: Any, pool_url: str, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, base_url=pool_url,
                                   accept_downloads=True)  # fmt: skip
    context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto("/pool")

    # everything visible is chosen, groups come from the conditions, the pool computes
    page.wait_for_function("""() => {
        const gd = document.querySelector('#pmm-pool-figure .js-plotly-plot');
        return gd && gd.data && gd.data.some(t => t.mode === 'lines+markers');
    }""")  # fmt: skip
    traces = _mean_traces(page)
    assert [t["name"] for t in traces] == ["control (3 maps)", "mc1 (1 maps)", "treatment (3 maps)"]
    # drawn with the partial Plotly bundle (app/assets/vendor/plotly), not plotly.py's full one
    loaded = page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('plotly'))")
    assert any("plotly-pmm.min.js" in n for n in loaded) and not any("plotly.min.js" in n for n in loaded), loaded
    assert page.locator(".pmm-pool-group-name").count() == 4  # c, e1, e2, e3
    assert page.locator(".pmm-pool-group-name").first.input_value() == "c"
    # the first statistic is one every chosen map has; the one the pool is built for says
    # how many maps have it, and choosing it names the map that lacks it
    stat = page.locator("#pmm-pool-stat")
    assert stat.inner_text().strip().endswith("· all 7 maps"), stat.inner_text()
    stat.click()
    option = page.get_by_text("ubssSum_int2 · 6 of 7 maps", exact=True)
    option.scroll_into_view_if_needed()
    option.click()
    page.wait_for_selector("text=map public/tiny has no statistic 'ubssSum_int2'; left out")
    page.wait_for_function("""() => {
        const gd = document.querySelector('#pmm-pool-figure .js-plotly-plot');
        return gd && gd.data.filter(t => t.mode === 'lines+markers').length === 2;
    }""")  # fmt: skip

    # groups: baseline = c, treatment = e*  (rename, edit, delete)
    names, patterns = page.locator(".pmm-pool-group-name"), page.locator(".pmm-pool-group-pattern")
    names.nth(0).fill("baseline")
    names.nth(0).press("Enter")
    names.nth(1).fill("treatment")
    names.nth(1).press("Enter")
    patterns.nth(1).fill("e*")
    patterns.nth(1).press("Enter")
    for _ in range(2):
        rows = page.locator(".pmm-pool-group-name").count()
        page.locator("#pmm-pool-group-rows button").last.click()
        page.wait_for_function(
            "(n) => document.querySelectorAll('.pmm-pool-group-name').length === n - 1", arg=rows
        )
    page.wait_for_function("() => document.querySelectorAll('.pmm-pool-group-name').length === 2")
    try:
        page.wait_for_function("""() => {
            const gd = document.querySelector('#pmm-pool-figure .js-plotly-plot');
            return gd && gd.layout.xaxis.ticktext &&
                gd.layout.xaxis.ticktext.map(t => t.split('<br>')[0]).join() === 'baseline,treatment';
        }""")  # fmt: skip
    except Exception as e:  # say what the page showed instead
        shown = page.evaluate("""() => {
            const gd = document.querySelector('#pmm-pool-figure .js-plotly-plot');
            const vals = sel => [...document.querySelectorAll(sel)].map(e => e.value);
            return {ticks: gd && gd.layout.xaxis.ticktext, names: vals('.pmm-pool-group-name'),
                    patterns: vals('.pmm-pool-group-pattern'),
                    matches: [...document.querySelectorAll('.pmm-pool-group-match')].map(e => e.textContent),
                    messages: (document.getElementById('pmm-pool-messages') || {}).textContent,
                    progress: (document.getElementById('pmm-pool-progress-box') || {style: {}}).style.display};
        }""")  # fmt: skip
        raise AssertionError(f"the figure never showed the groups baseline, treatment: {shown}; errors {errors}") from e

    # normalise by ratio to baseline: only the render runs; the planted 1.5x shows
    page.locator("#pmm-pool-mode label", has_text="ratio").click()
    page.wait_for_function("""() => {
        const gd = document.querySelector('#pmm-pool-figure .js-plotly-plot');
        return gd && gd.layout.yaxis.title.text.indexOf('ratio to baseline') >= 0;
    }""")  # fmt: skip
    traces = _mean_traces(page)
    ratio = traces[1]["y"][1] / traces[0]["y"][1]
    assert 1.3 < ratio < 1.7, traces

    shots = Path(os.environ.get("PMM_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "pool_page.png"), full_page=True)

    # export: summary CSV and the figure as SVG
    with page.expect_download() as dl:
        page.get_by_role("button", name="Summary CSV").click()
    text = Path(dl.value.path()).read_text()
    assert text.splitlines()[0] == "cohort,group,mean,sd,sem,n" and len(text.splitlines()) == 5
    with page.expect_download() as dl:
        page.get_by_role("button", name="Figure SVG").click()
    assert dl.value.suggested_filename == "pool_figure.svg"
    assert Path(dl.value.path()).read_text().lstrip().startswith("<svg")

    # individual runs; a click on one opens that map in the viewer, run selected
    page.locator("label", has_text="individual runs").click()
    page.wait_for_function("""() => {
        const gd = document.querySelector('#pmm-pool-figure .js-plotly-plot');
        return gd && gd.data.some(t => t.type === 'scattergl');
    }""")  # fmt: skip
    # a real click on a point of a run's line (where no other point is near it)
    point = page.evaluate("""() => {
        const gd = document.querySelector('#pmm-pool-figure .js-plotly-plot');
        const fl = gd._fullLayout, box = gd.getBoundingClientRect(), pts = [];
        gd._fullData.forEach((t, ti) => (t.x || []).forEach((x, i) => {
            if (t.y[i] === null || t.y[i] === undefined) return;
            pts.push({ti: ti, gl: t.type === 'scattergl', cd: t.customdata ? t.customdata[i] : null,
                      px: fl.xaxis._offset + fl.xaxis.d2p(x), py: fl.yaxis._offset + fl.yaxis.d2p(t.y[i])}); }));
        const runs = pts.filter(p => p.gl && p.cd);
        let best = null;
        runs.forEach(p => { const d = Math.min(...pts.filter(q => q !== p).map(q => Math.hypot(q.px - p.px, q.py - p.py)));
            if (!best || d > best.d) best = {d: d, p: p}; });
        return {customdata: best.p.cd, x: box.left + best.p.px, y: box.top + best.p.py};
    }""")  # fmt: skip
    page.mouse.move(point["x"], point["y"])
    with context.expect_page() as new_page:
        page.mouse.click(point["x"], point["y"])
    viewer = new_page.value
    viewer.wait_for_load_state()
    map_id, run, sessions = point["customdata"]
    assert f"/map/{map_id}?s={sessions.replace(',', '%2C')}&run={run}" in viewer.url or (
        f"/map/{map_id}?s={sessions}&run={run}" in viewer.url
    ), viewer.url
    link = page.locator("#pmm-pool-run-link a")
    assert link.get_attribute("target") == "_blank" and f"run={run}" in (
        link.get_attribute("href") or ""
    )
    context.close()
    assert not errors, errors
