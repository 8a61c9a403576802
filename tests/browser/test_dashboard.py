"""The dashboard in a real Chromium: catalog, viewers, keyboard, plot and spine clicks, prefs."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

pytestmark = pytest.mark.browser

SELECTED = "#ff2d95"

# ---------------------------------------------------------------------------- helpers

JS_IMAGES_READY = """(n) => {
  const frames = [...document.querySelectorAll('.pmm-viewer')];
  if (frames.length !== n) return false;
  return frames.every(f => {
    if (f.classList.contains('pmm-viewer-empty')) return true;
    const img = f.querySelector('img.leaflet-image-layer');
    return img && img.src.includes('/planes/') && img.complete && img.naturalWidth > 0;
  });
}"""

JS_IMAGE_SRCS = """() => [...document.querySelectorAll('.pmm-viewer img.leaflet-image-layer')]
  .map(i => i.src.split('/sessions/')[1])"""

JS_SLICE_LABELS = "() => [...document.querySelectorAll('.pmm-viewer-slice')].map(e => e.textContent)"

# every shown viewer has its annotation markers
JS_SPINES_IN = """() => { const st = pmm.state.get();
  return st.sessions.length > 0 && st.sessions.every(s => pmm.spines.markers(s).size > 0); }"""

# where every viewer looks, and where the selected run is in it (map units = pixels)
JS_VIEWERS = """() => [...document.querySelectorAll('.pmm-viewer[data-session]')].map(f => {
  const s = +f.dataset.session;
  const map = f.querySelector('.leaflet-container')._pmmMap;
  const c = map.getCenter();
  let sel = null;
  pmm.spines.markers(s).forEach(m => {
    const p = m.feature.properties;
    if (p.run === pmm.state.get().run && (!sel || sel.ghost)) {
      const ll = m.getLatLng();
      sel = {lat: ll.lat, lng: ll.lng, ghost: p.ghost, z: p.z,
             stroke: m.getElement() ? m.getElement().getAttribute('stroke') : null,
             shown: m.getElement() ? m.getElement().style.display !== 'none' : false};
    }
  });
  return {session: s, lat: c.lat, lng: c.lng, sel: sel, slice: f.querySelector('.pmm-viewer-slice').textContent};
})"""

# resolves once no viewer has moved for a few frames
JS_SETTLED = """() => new Promise(resolve => {
  let last = '', same = 0;
  const tick = () => {
    const now = [...document.querySelectorAll('.leaflet-container')].map(c => { const m = c._pmmMap.getCenter(); return m.lat.toFixed(3) + ',' + m.lng.toFixed(3); }).join(';');
    same = now === last ? same + 1 : 0; last = now;
    if (same >= 5) resolve(); else requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})"""

JS_PLOT_POINT = """([trace, i]) => {
  const gd = document.querySelector('#pmm-plot .js-plotly-plot');
  const fl = gd._fullLayout, tr = gd._fullData[trace];
  const r = gd.getBoundingClientRect();
  return {x: r.left + fl._size.l + fl.xaxis.l2p(tr.x[i]), y: r.top + fl._size.t + fl.yaxis.l2p(tr.y[i]),
          run: tr.customdata[i][0], session: tr.customdata[i][1]};
}"""

# a run absent from at least one session (it has a ghost feature there), and a point of it
JS_RUN_WITH_GAP = """() => {
  const gd = document.querySelector('#pmm-plot .js-plotly-plot');
  const ghosts = new Set();
  pmm.state.get().sessions.map(s => pmm.spines.markers(s)).forEach(set => set.forEach(m => { if (m.feature.properties.ghost) ghosts.add(m.feature.properties.run); }));
  for (let t = 1; t < gd._fullData.length; t++) {
    const cd = gd._fullData[t].customdata || [];
    for (let i = 0; i < cd.length; i++) { if (ghosts.has(cd[i][0])) return [t, i]; }
  }
  return null;
}"""


def open_map(page: Any, query: str = "", n: int = 6, name: str = "demo") -> None:
    page.goto(f"/map/public/{name}{query}")
    page.wait_for_function(JS_IMAGES_READY, arg=n)
    # the plot and the tables are drawn after the viewers' first planes: wait for the plot's
    # points and the spine table's rows too
    page.wait_for_function("() => { const gd = document.querySelector('#pmm-plot .js-plotly-plot'); return !!gd && !!gd._fullData && gd._fullData.length > 1 && document.querySelectorAll('#pmm-plot .scatterlayer, #pmm-plot .gl-container').length > 0; }")
    page.wait_for_function("() => document.querySelectorAll('#pmm-table-grid .ag-row').length > 0")
    page.wait_for_function(JS_SPINES_IN)


def wait_centred(page: Any, skip: int | None = None) -> list[dict[str, Any]]:
    """The viewers once each is centred on the selected run (their work follows the frame
    that shows the selection in the plot); checked again by :func:`assert_centred_on_selection`."""
    page.wait_for_function(
        f"""(skip) => ({JS_VIEWERS})().every(v => v.sel && v.sel.shown && (v.session === skip ||
            (Math.abs(v.lat - v.sel.lat) < 1 && Math.abs(v.lng - v.sel.lng) < 1 &&
             (v.sel.z === null || v.sel.z === undefined || v.slice.startsWith('z ' + v.sel.z + ' /')))))""",
        arg=skip,
    )
    viewers: list[dict[str, Any]] = page.evaluate(JS_VIEWERS)
    assert_centred_on_selection(viewers, skip)
    return viewers


def assert_centred_on_selection(viewers: list[dict[str, Any]], skip: int | None = None) -> None:
    for v in viewers:
        assert v["sel"] is not None, v
        assert v["sel"]["shown"], v
        if v["session"] == skip:
            continue
        assert abs(v["lat"] - v["sel"]["lat"]) < 1.0 and abs(v["lng"] - v["sel"]["lng"]) < 1.0, v
        if v["sel"]["z"] is not None:
            assert v["slice"].startswith(f"z {v['sel']['z']} /"), v


# ---------------------------------------------------------------------------- catalog


def test_catalog_lists_filters_and_opens_a_map(page: Any) -> None:
    page.goto("/")
    cards = page.locator(".pmm-card-wrap")
    cards.first.wait_for()
    assert cards.count() == 2
    demo = page.locator('.pmm-card-wrap[data-map="public/demo"]')
    assert "6" in demo.locator(".pmm-stats").inner_text()
    assert "mc1" in demo.inner_text()
    page.wait_for_function("() => { const i = document.querySelector('.pmm-thumb'); return i && i.complete && i.naturalWidth > 0; }")
    assert "no images" in page.locator('.pmm-card-wrap[data-map="public/noimg"]').inner_text()
    page.fill("#pmm-catalog-text", "NOIM")
    page.wait_for_function("() => document.querySelectorAll('.pmm-card-wrap').length === 1")
    assert page.locator("#pmm-catalog-count").inner_text() == "1 of 2 maps"
    page.fill("#pmm-catalog-text", "")
    page.wait_for_function("() => document.querySelectorAll('.pmm-card-wrap').length === 2")
    demo.click()
    page.wait_for_url(re.compile(r"/map/public/demo"))
    page.wait_for_function(JS_IMAGES_READY, arg=6)
    assert page.locator("#pmm-map-title").inner_text() == "demo"


# ---------------------------------------------------------------------------- slices and channels


def test_scroll_slices_with_wheel_and_keys(page: Any) -> None:
    open_map(page, "?z=5")
    assert page.evaluate(JS_SLICE_LABELS) == ["z 5 / 9"] * 6
    box = page.locator('.pmm-viewer[data-session="2"] .leaflet-container').bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, 100)
    page.wait_for_function("() => [...document.querySelectorAll('.pmm-viewer-slice')].every(e => e.textContent === 'z 6 / 9')")
    page.wait_for_function(JS_IMAGES_READY, arg=6)
    assert all("/planes/6?" in s for s in page.evaluate(JS_IMAGE_SRCS))
    for _ in range(3):
        page.keyboard.press("ArrowUp")
    page.wait_for_function("() => [...document.querySelectorAll('.pmm-viewer-slice')].every(e => e.textContent === 'z 3 / 9')")
    page.wait_for_function(JS_IMAGES_READY, arg=6)
    assert all("/planes/3?" in s for s in page.evaluate(JS_IMAGE_SRCS))
    # the slice is in the URL (so a link reproduces it)
    page.wait_for_url(re.compile(r"[?&]z=3(&|$)"))
    # spines far from the slice are hidden, near ones shown
    counts = page.evaluate(
        """() => { let shown = 0, hidden = 0; pmm.state.get().sessions.map(s => pmm.spines.markers(s)).forEach(set => set.forEach(m => {
             if (m.feature.properties.ghost) return;
             if (m.getElement().style.display === 'none') { hidden++; if (Math.abs(m.feature.properties.z - 3) <= 2) throw new Error('near spine hidden'); }
             else { shown++; if (Math.abs(m.feature.properties.z - 3) > 2) throw new Error('far spine shown'); } })); return [shown, hidden]; }"""
    )
    assert counts[0] > 0 and counts[1] > 0


def test_linked_viewers_pan_and_zoom_together(page: Any) -> None:
    open_map(page, "?s=0,1,2", n=3)
    before = page.evaluate(JS_VIEWERS)
    box = page.locator('.pmm-viewer[data-session="0"] .leaflet-container').bounding_box()
    # a place on the image with no spine under it (a drag that starts on a spine does not pan)
    x, y = page.evaluate(
        """(b) => { for (const fy of [0.5, 0.3, 0.7, 0.2, 0.8]) for (const fx of [0.5, 0.35, 0.65, 0.2, 0.8]) {
            const x = b.x + b.width * fx, y = b.y + b.height * fy;
            const e = document.elementFromPoint(x, y);
            if (e && e.closest('.leaflet-container') && !e.closest('.leaflet-interactive, .leaflet-control')) return [x, y];
          } return [b.x + b.width / 2, b.y + b.height / 2]; }""",
        box,
    )
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y + 30, steps=5)
    page.mouse.up()
    page.evaluate(JS_SETTLED)  # the drag's inertia has ended
    # the linked viewers follow the dragged one (their moves can land a frame later)
    try:
        page.wait_for_function(
            f"""(before) => {{ const after = ({JS_VIEWERS})();
                const d = after.map((a, i) => [a.lat - before[i].lat, a.lng - before[i].lng]);
                return Math.abs(d[0][1]) > 5 && d.every(x => Math.abs(x[0] - d[0][0]) < 0.5 && Math.abs(x[1] - d[0][1]) < 0.5); }}""",
            arg=before,
        )
    except Exception as e:
        raise AssertionError(f"drag at {(x, y)} in {box}: before {before}, after {page.evaluate(JS_VIEWERS)}") from e
    after = page.evaluate(JS_VIEWERS)
    moved = [(a["lat"] - b["lat"], a["lng"] - b["lng"]) for a, b in zip(after, before, strict=True)]
    assert abs(moved[0][1]) > 5
    for d in moved[1:]:
        assert abs(d[0] - moved[0][0]) < 0.5 and abs(d[1] - moved[0][1]) < 0.5
    zoom0 = page.evaluate("() => document.querySelector('.leaflet-container')._pmmMap.getZoom()")
    page.locator('.pmm-viewer[data-session="1"] .leaflet-control-zoom-in').click()
    page.wait_for_function(
        "(z0) => { const z = [...document.querySelectorAll('.leaflet-container')].map(c => c._pmmMap.getZoom());"
        " return z.every(v => v === z[0] && v > z0); }",
        arg=zoom0,
    )


def test_unlinked_viewers_scroll_on_their_own(page: Any) -> None:
    open_map(page, "?s=0,1&link=0", n=2)
    box = page.locator('.pmm-viewer[data-session="1"] .leaflet-container').bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 40)
    page.mouse.wheel(0, 100)
    page.mouse.wheel(0, 100)
    page.wait_for_function("() => document.querySelectorAll('.pmm-viewer-slice')[1].textContent === 'z 7 / 9'")
    assert page.evaluate(JS_SLICE_LABELS)[0] == "z 5 / 9"


def test_page_through_sessions(page: Any) -> None:
    open_map(page, "?s=0,1", n=2)
    page.click("#pmm-sessions-next")
    page.wait_for_function("() => [...document.querySelectorAll('.pmm-viewer')].map(f => f.dataset.session).join() === '2,3'")
    page.wait_for_function(JS_IMAGES_READY, arg=2)
    page.click("#pmm-sessions-next")
    page.wait_for_function("() => [...document.querySelectorAll('.pmm-viewer')].map(f => f.dataset.session).join() === '4,5'")
    page.click("#pmm-sessions-next")  # already the last page
    page.click("#pmm-sessions-prev")
    page.wait_for_function("() => [...document.querySelectorAll('.pmm-viewer')].map(f => f.dataset.session).join() === '2,3'")
    page.wait_for_url(re.compile(r"s=2,3"))
    page.click("#pmm-sessions-all")
    page.wait_for_function(JS_IMAGES_READY, arg=6)


def test_channel_keys_and_projection(page: Any) -> None:
    open_map(page)
    assert all("channel=1" in s for s in page.evaluate(JS_IMAGE_SRCS))
    page.keyboard.press("2")
    page.wait_for_function("() => [...document.querySelectorAll('.pmm-viewer img.leaflet-image-layer')].every(i => i.src.includes('channel=2'))")
    page.wait_for_function(JS_IMAGES_READY, arg=6)
    page.wait_for_function("() => document.querySelector('#pmm-channel input[value=\"2\"]').checked")
    page.keyboard.press("3")  # the map has no channel 3: nothing changes
    page.keyboard.press("1")
    page.wait_for_function("() => [...document.querySelectorAll('.pmm-viewer img.leaflet-image-layer')].every(i => i.src.includes('channel=1'))")
    page.keyboard.press("m")
    page.wait_for_function("() => [...document.querySelectorAll('.pmm-viewer img.leaflet-image-layer')].every(i => i.src.includes('projection=max'))")
    page.wait_for_function(JS_IMAGES_READY, arg=6)
    assert page.evaluate(JS_SLICE_LABELS)[0].startswith("max projection")
    page.wait_for_url(re.compile(r"proj=max"))
    # sliding max over z +- k; the arrow keys still move the slice after a click on a toggle
    page.click("#pmm-projection label:has-text('Sliding')")
    page.wait_for_function("() => [...document.querySelectorAll('.pmm-viewer img.leaflet-image-layer')].every(i => i.src.includes('projection=sliding&k=2'))")
    page.fill("#pmm-sliding-k", "3")
    page.wait_for_function("() => [...document.querySelectorAll('.pmm-viewer img.leaflet-image-layer')].every(i => i.src.includes('k=3'))")
    page.click("#pmm-projection label:has-text('Plane')")
    page.keyboard.press("ArrowDown")
    page.wait_for_function("() => document.querySelector('.pmm-viewer-slice').textContent === 'z 6 / 9'")
    assert page.locator("#pmm-projection input[value=none]").is_checked()


# ---------------------------------------------------------------------------- selection


def test_plot_click_moves_every_viewer_to_the_spine(page: Any) -> None:
    open_map(page)
    pt = page.evaluate(JS_PLOT_POINT, [1, 5])
    page.mouse.click(pt["x"], pt["y"])
    page.wait_for_function("(run) => pmm.state.get().run === run", arg=pt["run"])
    page.wait_for_function(JS_IMAGES_READY, arg=6)
    viewers = wait_centred(page)
    present = [v for v in viewers if not v["sel"]["ghost"]]
    assert present and all(v["sel"]["stroke"] == SELECTED for v in present)
    # the run is highlighted in the plot, shown in the run strip and kept in the URL
    page.wait_for_function("() => document.querySelectorAll('#pmm-plot svg.pmm-plot-selection circle').length > 0")
    page.wait_for_url(re.compile(rf"[?&]run={pt['run']}(&|$)"))
    page.wait_for_function("() => document.querySelectorAll('.pmm-run-strip .pmm-strip-cell').length === 6")
    assert f"run {pt['run']}" in page.locator("#pmm-run-info").inner_text()


def test_absent_spine_goes_to_the_matching_place_on_the_tracing(page: Any) -> None:
    open_map(page)
    where = page.evaluate(JS_RUN_WITH_GAP)
    assert where, "the demo map has runs absent from some session"
    pt = page.evaluate(JS_PLOT_POINT, where)
    page.mouse.click(pt["x"], pt["y"])
    page.wait_for_function("(run) => pmm.state.get().run === run", arg=pt["run"])
    viewers = wait_centred(page)
    ghosts = [v for v in viewers if v["sel"]["ghost"]]
    assert ghosts and all(v["sel"]["stroke"] == SELECTED for v in ghosts)


def test_spine_click_selects_its_run_in_the_plot_and_other_sessions(page: Any) -> None:
    open_map(page)
    target = page.evaluate(
        """() => { const f = document.querySelector('.pmm-viewer[data-session="1"]');
           const map = f.querySelector('.leaflet-container')._pmmMap; let best = null;
           pmm.spines.markers(1).forEach(m => { const p = m.feature.properties;
             if (!p.ghost && m.getElement().style.display !== 'none' && p.run !== null) {
               const pt = map.latLngToContainerPoint(m.getLatLng());
               if (!best || Math.abs(pt.x - 150) + Math.abs(pt.y - 150) < best.d) best = {run: p.run, x: pt.x, y: pt.y, d: Math.abs(pt.x - 150) + Math.abs(pt.y - 150)}; } });
           const r = f.querySelector('.leaflet-container').getBoundingClientRect();
           return {run: best.run, x: r.left + best.x, y: r.top + best.y}; }"""
    )
    page.mouse.click(target["x"], target["y"])
    page.wait_for_function("(run) => pmm.state.get().run === run", arg=target["run"])
    wait_centred(page, skip=1)
    # the plot highlights exactly the points of that run
    page.wait_for_function("() => document.querySelectorAll('#pmm-plot svg.pmm-plot-selection circle').length > 0")
    # (rings drawn over the plot, in page pixels, at the data points of the run)
    check = page.evaluate(
        """(run) => { const gd = document.querySelector('#pmm-plot .js-plotly-plot'); const fl = gd._fullLayout;
           const rings = [...gd.querySelectorAll('svg.pmm-plot-selection circle')].map(c => [+c.getAttribute('cx'), +c.getAttribute('cy')]);
           const pts = []; gd.data.slice(1).forEach(t => (t.customdata || []).forEach((c, i) => { if (c[0] === run)
             pts.push([fl.xaxis._offset + fl.xaxis.l2p(t.x[i]), fl.yaxis._offset + fl.yaxis.l2p(t.y[i])]); }));
           return {rings: rings.length, points: pts.length,
             same: pts.every(p => rings.some(r => Math.abs(r[0] - p[0]) < 0.2 && Math.abs(r[1] - p[1]) < 0.2))}; }""",
        target["run"],
    )
    assert check["rings"] == check["points"] > 0 and check["same"]
    page.wait_for_url(re.compile(rf"[?&]run={target['run']}(&|$)"))
    # Esc clears the selection
    page.keyboard.press("Escape")
    page.wait_for_function("() => pmm.state.get().run === null")
    page.wait_for_function("() => document.querySelectorAll('#pmm-plot svg.pmm-plot-selection circle').length === 0")


def test_a_link_reproduces_the_view(page: Any) -> None:
    open_map(page)
    pt = page.evaluate(JS_PLOT_POINT, [1, 9])
    page.mouse.click(pt["x"], pt["y"])
    page.wait_for_function("(run) => pmm.state.get().run === run", arg=pt["run"])
    page.keyboard.press("2")
    page.wait_for_url(re.compile(rf"ch=2.*run={pt['run']}"))
    wait_centred(page)  # every viewer at the run's plane before its labels are read
    url = page.url
    labels = page.evaluate(JS_SLICE_LABELS)
    other = page.context.new_page()
    try:
        open_map(other, url.split("/map/public/demo")[1])
        other.wait_for_function("(run) => pmm.state.get().run === run", arg=pt["run"])
        other.wait_for_function("(l) => JSON.stringify([...document.querySelectorAll('.pmm-viewer-slice')].map(e => e.textContent)) === JSON.stringify(l)", arg=labels)
        assert all("channel=2" in s for s in other.evaluate(JS_IMAGE_SRCS))
        wait_centred(other)
    finally:
        other.close()


# ---------------------------------------------------------------------------- preferences, no images


def test_display_options_are_kept_across_reloads(page: Any) -> None:
    open_map(page, "?s=0,1", n=2)
    page.click("#pmm-prefs-open")
    page.select_option("#pmm-pref-label-mode", "file")
    page.wait_for_function("() => document.querySelector('.pmm-viewer-label').textContent.startsWith('demo_')")
    handle = page.locator("#pmm-pref-spine-size [role=slider]")
    handle.focus()
    for _ in range(3):
        handle.press("ArrowRight")
    page.select_option("#pmm-pref-default-channel", "2")
    page.wait_for_function("() => document.cookie.includes('pmm_prefs')")
    page.wait_for_function("() => decodeURIComponent(document.cookie).includes('\"spine_size\":9')")
    page.goto("/map/public/demo?s=0,1")
    page.wait_for_function(JS_IMAGES_READY, arg=2)
    page.wait_for_function("() => document.querySelector('.pmm-viewer-label').textContent.startsWith('demo_')")
    # the default channel applies when the URL does not say
    page.wait_for_function("() => document.querySelector('.pmm-viewer img.leaflet-image-layer').src.includes('channel=2')")
    page.click("#pmm-prefs-open")
    assert page.locator("#pmm-pref-spine-size [role=slider]").get_attribute("aria-valuenow") == "9"
    assert page.locator("#pmm-pref-label-mode").input_value() == "file"
    page.wait_for_function(JS_SPINES_IN)
    radius = page.evaluate("() => { let r = 0; pmm.spines.markers(0).forEach(m => { if (!m.feature.properties.ghost) r = m.getRadius(); }); return r; }")
    assert radius == 9


def test_contrast_is_kept_per_channel(page: Any) -> None:
    open_map(page, "?s=0", n=1)
    page.wait_for_function("() => !document.querySelector('#pmm-contrast .rc-slider-disabled, #pmm-contrast [data-disabled]')")
    lo = page.locator("#pmm-contrast [role=slider]").first
    lo.focus()
    for _ in range(5):
        lo.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('.pmm-viewer img.leaflet-image-layer').src.includes('lo=')")
    page.reload()
    page.wait_for_function(JS_IMAGES_READY, arg=1)
    assert "lo=" in page.evaluate(JS_IMAGE_SRCS)[0]
    page.click("#pmm-contrast-auto")
    page.wait_for_function("() => !document.querySelector('.pmm-viewer img.leaflet-image-layer').src.includes('lo=')")


def test_map_without_images_opens_on_an_empty_labelled_canvas(page: Any) -> None:
    open_map(page, name="noimg", n=3)
    frames = page.locator(".pmm-viewer")
    assert frames.count() == 3
    assert "No images for this session" in frames.first.inner_text()
    page.wait_for_function("() => [0, 1, 2].every(s => pmm.spines.markers(s).size > 0)")
    # the map opens where its spines are; a key moves one plane down from there
    start = int(page.locator(".pmm-viewer-slice").first.inner_text().split()[1])
    page.keyboard.press("ArrowDown")
    page.wait_for_function("(z) => document.querySelector('.pmm-viewer-slice').textContent === `z ${z} / 9`", arg=start + 1)


def _router_calls(page: Any) -> list[str]:
    """The bodies of the page's calls of Dash's pages router (kept as they are made)."""
    calls: list[str] = []

    def on_request(r: Any) -> None:
        body = r.post_data or ""
        if "_dash-update-component" in r.url and "_pages_content" in body:
            calls.append(body)

    page.on("request", on_request)
    return calls


def test_the_first_page_comes_with_the_layout_not_after_it(page: Any, base_url: str) -> None:
    """The map page is made in the app's layout request: no router call after it, and the
    layout and callbacks are asked for once each, while the scripts load (preloaded)."""
    calls = _router_calls(page)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "_dash-layout" in r.url or "_dash-dependencies" in r.url else None)
    page.goto("/map/public/demo?s=1,2&z=3")
    page.wait_for_function(JS_IMAGES_READY, arg=2)
    page.wait_for_function(JS_SPINES_IN)
    assert calls == []
    assert sorted(u.rsplit("/", 1)[1] for u in asked) == ["_dash-dependencies", "_dash-layout"]
    starts = page.evaluate("""() => performance.getEntriesByType('resource')
        .filter(e => /_dash-(layout|dependencies)$/.test(e.name)).map(e => e.initiatorType)""")
    assert starts == ["link", "link"]
    assert page.evaluate("() => pmm.state.get().sessions") == [1, 2]
    assert page.evaluate("() => pmm.state.get().z") in ({"1": 3, "2": 3}, {1: 3, 2: 3})
    assert page.title() == "demo · PyMapManager"
    # moving to another page and back is the router's work, as before
    page.click("a.nav-link:has-text('Pool maps')")
    page.wait_for_selector("#pmm-pool-maps", timeout=20_000)
    assert len(calls) == 1
    page.go_back()
    page.wait_for_function(JS_IMAGES_READY, arg=2)
    assert len(calls) == 2 and "/map/public/demo?s=1,2&z=3" in page.url


def test_a_first_page_made_for_another_address_is_made_again(page: Any, base_url: str) -> None:
    """Should the layout request's Referer not be the page's address (a proxy, a stripped
    referrer), the page made with the layout is replaced by the router's."""
    calls = _router_calls(page)

    def other_referer(route: Any) -> None:
        # (made outside the browser: Chromium keeps its own Referer on a continued request)
        got = route.fetch(headers={**route.request.headers, "referer": f"{base_url}/pool"})
        assert "pmm-pool-maps" in got.text()
        route.fulfill(response=got)

    page.route("**/_dash-layout", other_referer)
    page.goto("/map/public/demo?s=0,3")
    page.wait_for_function(JS_IMAGES_READY, arg=2)
    assert len(calls) == 1 and "/map/public/demo" in calls[0]
    assert page.evaluate("() => pmm.state.get().sessions") == [0, 3]
    assert "/map/public/demo?s=0,3" in page.url
    page.wait_for_function("() => document.title === 'demo · PyMapManager'")


def test_the_page_runs_without_dash_babel_polyfill(page: Any) -> None:
    """Dash's Babel polyfill is left out of the page (app.factory._without_polyfill): the
    ``regeneratorRuntime`` global its bundles' lazy components call comes from the vendored
    regenerator-runtime, and the lazy components (dcc's dropdowns and sliders, whose chunks
    load through that code) are drawn and answer."""
    page.goto("/map/public/demo?s=0,1")
    page.wait_for_function(JS_IMAGES_READY, arg=2)
    srcs = page.evaluate("() => [...document.scripts].map(s => s.src).filter(Boolean)")
    assert not [s for s in srcs if "polyfill" in s]
    assert [s for s in srcs if "/vendor/regenerator-runtime/runtime.js" in s]
    assert page.evaluate("() => typeof regeneratorRuntime.mark") == "function"
    page.wait_for_selector("#pmm-contrast [role=slider]", timeout=20_000)
    dropdown = page.locator("button.dash-dropdown:visible").first
    dropdown.wait_for(timeout=20_000)
    dropdown.click()
    page.wait_for_selector(".dash-dropdown-content .dash-options-list-option", timeout=10_000)


def test_opening_a_map_asks_the_server_nothing_the_page_already_has(page: Any) -> None:
    """Before the first planes are on screen, the only callback asked for is the run strip's:
    the user area, the edit settings and the toolbar come with the layout, the tables wait
    until they are shown, and no store or location "changes" as it is drawn (a null
    ``dcc.Store`` is set to undefined when it mounts, which ran the plot, the tables and the
    run strip on every open; a location without the page's address is set to it)."""
    asked: list[tuple[str, list[str]]] = []

    def on_request(r: Any) -> None:
        if "_dash-update-component" in r.url:
            body = json.loads(r.post_data or "{}")
            asked.append((body.get("output", ""), body.get("changedPropIds", [])))

    page.on("request", on_request)
    page.goto("/map/public/demo?s=0,1,2")
    page.wait_for_function("() => performance.getEntriesByName('pmm:open').length > 0", timeout=30_000)
    # how many callback requests started before the open's frame (in the order they were sent)
    n = page.evaluate("""() => { const o = performance.getEntriesByName('pmm:open')[0];
      return performance.getEntriesByType('resource').filter(e => e.name.includes('/_dash-update-component')
        && e.startTime <= o.startTime + o.duration).length; }""")
    before = asked[:n]
    strip = "..pmm-run-strip.children...pmm-run-info.children.."
    # the run strip's initial call, and (on a slow machine, before the planes are in) the
    # view's own writing of the selection: no store or location changing as it mounts
    assert before and before[0] == (strip, []), before
    assert all(out == strip and changed in ([], ["pmm-selection.data"]) for out, changed in before), before
    # the plot and the tables are still computed, once shown
    page.wait_for_function(JS_SPINES_IN)
    page.wait_for_selector("#pmm-plot .js-plotly-plot .scatterlayer, #pmm-plot .js-plotly-plot .gl-container", timeout=30_000)
    outputs = [out for out, _ in asked]
    assert any("pmm-plot.figure" in o for o in outputs), outputs


def test_the_map_page_preloads_the_chunks_its_first_planes_need(page: Any) -> None:
    """dash-leaflet's GeoJSON chunk (the spines) and dcc's dropdown and slider chunks are
    asked for with the page's scripts, not once their components are drawn (a round trip
    after the layout, on the way to the first planes); each is fetched once; other pages
    preload none (an unused preload is a console warning)."""
    page.goto("/map/public/demo?s=0,1")
    page.wait_for_function(JS_IMAGES_READY, arg=2)
    page.wait_for_function(JS_SPINES_IN)
    page.wait_for_selector("#pmm-contrast [role=slider]", timeout=20_000)
    timing = page.evaluate("""() => performance.getEntriesByType('resource').map(e =>
        ({name: e.name, start: e.startTime, end: e.responseEnd}))""")
    layout = [t for t in timing if t["name"].endswith("/_dash-layout")]
    assert len(layout) == 1, layout
    for chunk in ("dash_leaflet/async-GeoJSON.js", "dash/dcc/async-dropdown.js", "dash/dcc/async-slider.js"):
        got = [t for t in timing if t["name"].split("?")[0].endswith("/_dash-component-suites/" + chunk)]
        assert len(got) == 1, (chunk, got)
        # asked for before the layout had arrived (drawing a component of it asks only after)
        assert got[0]["start"] < layout[0]["end"], (chunk, got[0], layout[0])
    page.goto("/")
    page.locator(".pmm-card-wrap").first.wait_for()
    assert page.evaluate("() => document.querySelectorAll('link[rel=preload][as=script]').length") == 0


def test_dash_no_op_resets_are_left_out_and_the_page_still_follows_a_click(page: Any) -> None:
    """Dash dispatches a reset from each component it mounts, a no-op on a first mount
    that still runs every mounted component's store selectors (app/assets/05-pmm-store.js):
    the page's store leaves those out, and the run strip, made again by a callback after
    a plot click, still shows the run."""
    open_map(page)
    store = page.evaluate("""() => { const s = (window.dash_stores || [])[0];
      return s ? {quiet: s.pmmQuiet === true, same: s === window.store, skipped: s.pmmSkipped} : null; }""")
    assert store is not None and store["quiet"] and store["same"], store
    # one per component mounted: the map page has well over a hundred
    mounted = page.evaluate("() => document.querySelectorAll('[id]').length")
    assert store["skipped"] >= 100, (store, mounted)
    pt = page.evaluate(JS_PLOT_POINT, [1, 4])
    page.mouse.click(pt["x"], pt["y"])
    page.wait_for_function("(run) => pmm.state.get().run === run", arg=pt["run"])
    page.wait_for_function("() => document.querySelectorAll('.pmm-run-strip .pmm-strip-cell').length === 6")
    page.wait_for_function("(run) => document.querySelector('#pmm-run-info').innerText.includes('run ' + run)", arg=pt["run"])
    # the strip's cells were mounted again, their resets left out too
    assert page.evaluate("() => window.dash_stores[0].pmmSkipped") > store["skipped"]


def test_the_graphs_draw_with_the_partial_plotly_bundle(page: Any) -> None:
    """Dash's graphs load the partial Plotly bundle (app/assets/vendor/plotly: scatter,
    scattergl, bar; 1.4 MB), not plotly.py's full one (4.8 MB); the plot and the contrast
    histogram are drawn with it."""
    from plotly.offline import get_plotlyjs_version

    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" or "trace type" in m.text else None)
    open_map(page)
    page.wait_for_function("""() => { const h = document.querySelector('#pmm-histogram .js-plotly-plot');
      return !!h && !!h._fullData && h._fullData.length > 0; }""")
    got = page.evaluate("""() => ({
      version: Plotly.version, traces: Object.keys(Plotly.PlotSchema.get().traces).sort(),
      loaded: performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('plotly')),
      plot: document.querySelector('#pmm-plot .js-plotly-plot')._fullData.map(t => t.type),
      histogram: document.querySelector('#pmm-histogram .js-plotly-plot')._fullData.map(t => t.type)})""")
    assert got["version"] == get_plotlyjs_version()
    assert got["traces"] == ["bar", "scatter", "scattergl"]
    assert any("/assets/vendor/plotly/plotly-pmm.min.js?v=" in n for n in got["loaded"]), got["loaded"]
    assert not any("plotly.min.js" in n for n in got["loaded"]), got["loaded"]
    assert set(got["plot"]) == {"scatter", "scattergl"} and got["histogram"] == ["bar"], got
    assert not errors, errors


def test_a_plot_click_reaches_dash_after_the_viewers_are_drawn(page: Any) -> None:
    """The plot's own Dash listener (dcc.Graph's clickData: a store update and a re-render
    of the graph) runs after the selection's frames, the plot's highlight and then the
    viewers moved to the run (pmm:select), not in the task that draws the viewers; it
    still runs."""
    open_map(page)
    page.evaluate("""() => {
      window.__clickDataAt = null;
      const tick = () => {
        const g = window.dash_component_api.getLayout('pmm-plot');
        if (g && g.props && g.props.clickData) { window.__clickDataAt = performance.now(); return; }
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    }""")
    pt = page.evaluate(JS_PLOT_POINT, [1, 3])
    page.mouse.click(pt["x"], pt["y"])
    page.wait_for_function("() => window.__clickDataAt !== null", timeout=10_000)
    page.wait_for_function("() => performance.getEntriesByName('pmm:select').length > 0")
    end = page.evaluate("() => { const e = performance.getEntriesByName('pmm:select')[0]; return e.startTime + e.duration; }")
    at = page.evaluate("() => window.__clickDataAt")
    assert at >= end, (at, end)
    clicked = page.evaluate("() => window.dash_component_api.getLayout('pmm-plot').props.clickData.points[0].customdata")
    assert clicked[0] == pt["run"], (clicked, pt)


def test_after_paint_work_is_not_queued_behind_other_tasks(page: Any) -> None:
    """The work done once a frame is painted (a selection's viewers after the plot's
    highlight, the timings) runs in the next task at user-blocking priority, before the
    tasks queued meanwhile (here a timer set while that frame was drawn; on a real page
    images loaded and the server's answers), which a setTimeout would wait behind."""
    page.goto("/map/public/demo?s=0,1")
    page.wait_for_function(JS_IMAGES_READY, arg=2)
    page.wait_for_timeout(500)
    orders = page.evaluate("""async () => {
      const out = [];
      for (let i = 0; i < 3; i++) {
        await new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)));
        const log = [];
        // this frame's callbacks: first one that queues a timer, then the after-paint task's
        requestAnimationFrame(() => setTimeout(() => log.push('timer'), 0));
        pmm.afterPaint(() => log.push('after-paint'));
        await new Promise(r => setTimeout(r, 200));
        out.push(log.join(','));
      }
      return out;
    }""")
    assert orders == ["after-paint,timer"] * 3, orders
