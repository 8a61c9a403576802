"""The map viewer's channel overlay, plane slider, key help and failed images, in Chromium."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.test_dashboard import JS_IMAGES_READY, JS_SLICE_LABELS, open_map

pytestmark = pytest.mark.browser

JS_LAYERS = """() => [...document.querySelectorAll('.pmm-viewer[data-session="0"] img.leaflet-image-layer')].map(i => ({
  src: i.src.split('/sessions/')[1], cls: i.className, filter: getComputedStyle(i).filter, blend: getComputedStyle(i).mixBlendMode}))"""


def test_channel_overlay_in_two_colours_with_contrast_per_channel(page: Any) -> None:
    open_map(page, "?s=0,1", n=2)
    page.wait_for_function("() => !document.querySelector('#pmm-contrast [data-disabled]')")
    # a contrast for channel 1 (the slider edits the channel chosen)
    lo = page.locator("#pmm-contrast [role=slider]").first
    lo.focus()
    lo.press("ArrowRight")
    page.wait_for_function(
        "() => document.querySelector('.pmm-viewer img.leaflet-image-layer').src.includes('lo=')"
    )
    page.locator("#pmm-overlay").click()
    page.wait_for_function(
        "() => document.querySelectorAll('.pmm-viewer[data-session=\"0\"] img.leaflet-image-layer').length === 2"
    )
    page.wait_for_function(JS_IMAGES_READY, arg=2)
    layers = page.evaluate(JS_LAYERS)
    assert "channel=1" in layers[0]["src"] and "lo=" in layers[0]["src"]
    assert "channel=2" in layers[1]["src"] and "lo=" not in layers[1]["src"]
    assert "pmm-tint-green" in layers[0]["cls"] and "url(" in layers[0]["filter"]
    assert "pmm-tint-magenta" in layers[1]["cls"] and layers[1]["blend"] == "screen"
    page.wait_for_url(re.compile(r"[?&]ov=1(&|$)"))
    # the pixels are green and magenta: no grey pixel where the two channels differ
    page.evaluate(
        "() => new Promise(resolve => requestAnimationFrame(() => setTimeout(resolve, 0)))"
    )
    shot = page.locator('.pmm-viewer[data-session="0"] .leaflet-container').screenshot()
    from io import BytesIO

    import numpy as np
    from PIL import Image

    px = [tuple(int(v) for v in p) for p in np.asarray(Image.open(BytesIO(shot)).convert("RGB")).reshape(-1, 3)]
    assert any(g > r + 30 for r, g, b in px), "green pixels (channel 1)"
    assert any(r > g + 30 and b > g + 30 for r, g, b in px), "magenta pixels (channel 2)"
    # O toggles it off again; slices still step both layers
    page.keyboard.press("ArrowDown")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.pmm-viewer img.leaflet-image-layer')].every(i => i.src.includes('/planes/6?'))"
    )
    page.keyboard.press("o")
    page.wait_for_function(
        "() => document.querySelectorAll('.pmm-viewer[data-session=\"0\"] img.leaflet-image-layer').length === 1"
    )
    page.wait_for_function("() => !document.querySelector('#pmm-overlay').checked")


def test_plane_slider_moves_the_linked_viewers(page: Any) -> None:
    open_map(page, "?s=0,1&z=2,4", n=2)
    slider = page.locator('.pmm-viewer[data-session="0"] input.pmm-zslider')
    assert slider.get_attribute("max") == "9" and slider.input_value() == "2"
    box = slider.bounding_box()
    # a real click low on the (vertical, plane 0 at the top) slider
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.9)
    page.wait_for_function(
        "() => document.querySelectorAll('.pmm-viewer-slice')[0].textContent !== 'z 2 / 9'"
    )
    z0 = int(page.evaluate(JS_SLICE_LABELS)[0].split()[1])
    assert z0 >= 7
    page.wait_for_function(
        "(z) => document.querySelectorAll('.pmm-viewer-slice')[1].textContent === `z ${Math.min(9, z + 2)} / 9`",
        arg=z0,
    )
    # the keys work again right after (the slider gives the focus back)
    page.keyboard.press("ArrowUp")
    page.wait_for_function(
        "(z) => document.querySelectorAll('.pmm-viewer-slice')[0].textContent === `z ${z - 1} / 9`",
        arg=z0,
    )
    assert page.locator('.pmm-viewer[data-session="0"] input.pmm-zslider').input_value() == str(
        z0 - 1
    )


def test_question_mark_lists_every_key(page: Any) -> None:
    open_map(page, "?s=0", n=1)
    page.keyboard.press("?")
    dialog = page.locator(".pmm-help")
    dialog.wait_for()
    listed = page.evaluate(
        "() => [...document.querySelectorAll('.pmm-help-key th')].map(th => th.textContent.trim())"
    )
    handled = page.evaluate("() => pmm.keys.KEYS.map(k => k.label)")
    assert listed == handled and len(listed) >= 10
    text = dialog.inner_text()
    for word in (
        "next plane",
        "channel",
        "overlay",
        "max projection",
        "link",
        "clear the selection",
        "wheel",
        "zoom",
    ):
        assert word in text
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.querySelector('.pmm-help').hidden")
    # the key line under the viewers opens it too
    page.click("#pmm-key-help")
    page.wait_for_function("() => !document.querySelector('.pmm-help').hidden")
    page.click(".pmm-help-close")
    page.wait_for_function("() => document.querySelector('.pmm-help').hidden")


def test_a_failed_image_is_not_taken_as_shown(browser: Any, base_url: str) -> None:
    # its own context: the failed request is logged as a console error, on purpose
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, base_url=base_url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        _failed_image(page)
    finally:
        context.close()


def _failed_image(page: Any) -> None:
    page.route(re.compile(r"/planes/7\?"), lambda route: route.fulfill(status=500, body="boom"))
    open_map(page, "?s=0&z=6", n=1)
    page.keyboard.press("ArrowDown")
    page.wait_for_function("() => document.querySelector('.pmm-image-failed')")
    assert page.evaluate(JS_SLICE_LABELS) == ["z 7 / 9"]
    assert page.evaluate("() => pmm.layers.shown(0)") is False
    assert page.evaluate("() => performance.getEntriesByName('pmm:slice').length") == 0
    page.unroute(re.compile(r"/planes/7\?"))
    page.keyboard.press("ArrowDown")
    page.wait_for_function(
        "() => !document.querySelector('.pmm-image-failed') && pmm.layers.shown(0)"
    )
    page.wait_for_function("() => performance.getEntriesByName('pmm:slice').length === 1")


# ---- tiled viewers (planes over 1024 pixels): a slice change in place, pans to the plane's tiles

JS_TILES = """() => [...document.querySelectorAll('.pmm-viewer[data-session]')].map(v => {
  const box = v.querySelector('.leaflet-container').getBoundingClientRect();
  return [...v.querySelectorAll('.leaflet-pmmImages-pane img.leaflet-tile')].map(t => {
    const r = t.getBoundingClientRect();
    const inView = r.right > box.left && r.left < box.right && r.bottom > box.top && r.top < box.bottom;
    return {plane: Number(new URL(t.src).searchParams.get('plane')), inView, loaded: t.complete && t.naturalWidth > 0};
  });
})"""


@pytest.fixture(scope="module")
def tiled_map(data_dir: Any) -> Iterator[str]:
    """A map with planes served as tiles, in the session's data folder for this module only
    (the other modules' catalog checks list the folder's maps)."""
    from pymapmanager.synthetic.maps import generate_map

    folder = data_dir / "public" / "tiled"
    generate_map(data_dir / "public", name="tiled", sessions=2, channels=1, shape=(6, 1100, 1100), seed=3)
    yield "/map/public/tiled"
    shutil.rmtree(folder, ignore_errors=True)


def _tiles_at(page: Any, z: int) -> list[list[dict[str, Any]]]:
    """Wait until every tile in view of every viewer shows plane z, loaded; the tiles."""
    page.wait_for_function(
        f"(z) => {{ const v = ({JS_TILES})(); return v.length === 2 && v.every(t => t.some(x => x.inView)"
        " && t.filter(x => x.inView).every(x => x.plane === z && x.loaded)); }",
        arg=z,
    )
    return page.evaluate(JS_TILES)


def test_a_tiled_viewer_steps_in_place_and_pans_to_tiles_of_its_plane(page: Any, tiled_map: str) -> None:
    page.goto(tiled_map + "?s=0,1&z=2")
    page.wait_for_function("() => performance.getEntriesByName('pmm:open').length > 0", timeout=30_000)
    # zoom in beyond the planes' own pixels
    page.evaluate("() => pmm.layers.map(0).setZoom(1, {animate: false})")
    page.wait_for_function("() => pmm.layers.map(1).getZoom() === 1")
    _tiles_at(page, 2)
    page.evaluate("() => pmm.layers.map(0).panBy([700, 500], {animate: false})")
    page.wait_for_timeout(300)
    _tiles_at(page, 2)
    page.keyboard.press("ArrowDown")
    tiles = _tiles_at(page, 3)
    # the step's timing is recorded in the task after its frame (it can come after the tiles)
    page.wait_for_function("() => performance.getEntriesByName('pmm:slice').length >= 1")
    n = page.evaluate("() => performance.getEntriesByName('pmm:slice').length")
    # no tile of the old plane is left (in view it was set in place, out of view dropped)
    assert all(t["plane"] == 3 for viewer in tiles for t in viewer)
    # a pan back brings tiles made from the new plane
    page.evaluate("() => pmm.layers.map(0).panBy([-700, -500], {animate: false})")
    page.wait_for_timeout(300)
    tiles = _tiles_at(page, 3)
    assert all(t["plane"] == 3 for viewer in tiles for t in viewer)
    # the way back: plane 2 was shown before (in memory), shown in place too
    page.keyboard.press("ArrowUp")
    tiles = _tiles_at(page, 2)
    assert all(t["plane"] == 2 for viewer in tiles for t in viewer)
    page.wait_for_function("(n) => performance.getEntriesByName('pmm:slice').length > n", arg=n)


# ---- the frames of a pan: outlines not set again, tiles not layers of their own

JS_WATCH_OUTLINES = """() => {
  window.__pmmOutlines = {same: 0, changed: 0};
  const count = (recs) => recs.forEach((r) => {
    if (r.target.getAttribute('d') === r.oldValue) { window.__pmmOutlines.same++; } else { window.__pmmOutlines.changed++; }
  });
  const obs = new MutationObserver(count);
  document.querySelectorAll('.pmm-viewer .leaflet-overlay-pane').forEach((el) =>
    obs.observe(el, {attributes: true, attributeFilter: ['d'], attributeOldValue: true, subtree: true}));
  window.__pmmOutlinesFlush = () => count(obs.takeRecords());
}"""

JS_TILE_PLACES = """() => [...document.querySelectorAll('.pmm-viewer[data-session]')].map((v) =>
  [...v.querySelectorAll('.leaflet-pmmImages-pane img.leaflet-tile')].map((t) => {
    const r = t.getBoundingClientRect();
    return {transform: t.style.transform, x: r.left, y: r.top, w: r.width, h: r.height};
  }))"""


def test_a_pan_sets_no_outline_again_and_tiles_are_placed_flat(page: Any, tiled_map: str) -> None:
    """Leaflet's SVG renderer sets every path's outline again after each pan; the page skips
    an outline equal to the one the path has (each set restyles and repaints the element).
    Tiles are placed with 2D translations (each 3D one made a compositing layer per tile)."""
    page.goto(tiled_map + "?s=0,1&z=2")
    page.wait_for_function("() => performance.getEntriesByName('pmm:open').length > 0", timeout=30_000)
    # zoomed in on a spine
    page.wait_for_function("() => pmm.spines.markers(0).size > 0 && pmm.spines.markers(1).size > 0")
    page.evaluate("() => { const m = [...pmm.spines.markers(0)][0]; pmm.layers.map(0).setView(m.getLatLng(), 1, {animate: false}); }")
    page.wait_for_function("() => pmm.layers.map(1).getZoom() === 1")
    _tiles_at(page, 2)
    drawn = page.evaluate("() => [...document.querySelectorAll('.pmm-viewer .leaflet-overlay-pane path')]"
                          ".filter((p) => p.getAttribute('d') !== 'M0 0').length")  # fmt: skip
    assert drawn > 5, drawn  # spines and tracings in view
    page.evaluate(JS_WATCH_OUTLINES)
    # a pan of the linked viewers (each fires moveend: Leaflet redraws every path)
    page.evaluate("() => pmm.layers.map(0).panBy([60, 40], {animate: false})")
    page.wait_for_timeout(300)
    page.evaluate("() => window.__pmmOutlinesFlush()")
    moved = page.evaluate("() => window.__pmmOutlines")
    assert moved["same"] == 0, moved
    # a zoom changes the outlines: they are drawn
    page.evaluate("() => pmm.layers.map(0).setZoom(2, {animate: false})")
    page.wait_for_function("() => pmm.layers.map(1).getZoom() === 2")
    page.wait_for_timeout(300)
    page.evaluate("() => window.__pmmOutlinesFlush()")
    zoomed = page.evaluate("() => window.__pmmOutlines")
    assert zoomed["same"] == 0 and zoomed["changed"] > 0, zoomed
    # the tiles: 2D translations, on a gap-free grid of the tile size
    _tiles_at(page, 2)
    viewers = page.evaluate(JS_TILE_PLACES)
    assert len(viewers) == 2 and all(viewers), viewers
    for tiles in viewers:
        assert all(t["transform"].startswith("translate(") for t in tiles), tiles[:3]
        w = tiles[0]["w"]
        assert w > 0 and all(abs(t["w"] - w) < 0.5 and abs(t["h"] - w) < 0.5 for t in tiles), tiles[:3]
        for axis in ("x", "y"):
            steps = sorted({round(t[axis] - tiles[0][axis], 1) for t in tiles})
            assert all(abs(s / w - round(s / w)) < 0.01 for s in steps), (axis, steps[:8], w)


JS_FAR_RUN = """() => {
  // the run of session 0's spine farthest from the view's centre, on another plane
  const map = pmm.layers.map(0), c = map.getCenter(), z = pmm.state.zOf(0);
  let best = null, far = -1;
  pmm.spines.markers(0).forEach((m) => {
    const p = m.feature.properties;
    if (p.ghost || typeof p.run !== 'number' || p.z === z) { return; }
    const d = map.distance(c, m.getLatLng());
    if (d > far) { far = d; best = {run: p.run, z: p.z}; }
  });
  return best;
}"""


def test_a_selection_asks_only_for_the_tiles_of_the_runs_place(page: Any, tiled_map: str) -> None:
    """A selection that pans to another place on another plane: the tiled viewers are
    panned before their tiles are pointed at the new plane, so no tile of the new plane is
    asked for where the viewer was (it pans away from them at once: up to half of a plot
    click's tile requests on a 9-session map)."""
    page.goto(tiled_map + "?s=0,1&z=2")
    page.wait_for_function("() => performance.getEntriesByName('pmm:open').length > 0", timeout=30_000)
    page.wait_for_function("() => pmm.spines.markers(0).size > 0 && pmm.spines.markers(1).size > 0")
    page.evaluate("() => performance.setResourceTimingBufferSize(100000)")
    page.evaluate("() => pmm.layers.map(0).setView([-100, 100], 1, {animate: false})")
    page.wait_for_function("() => pmm.layers.map(1).getZoom() === 1")
    _tiles_at(page, 2)
    run = page.evaluate(JS_FAR_RUN)
    assert run is not None
    t0 = page.evaluate(
        "(run) => { const t0 = performance.now(); pmm.state.select(run, {source: 'plot'}, {kind: 'select', t0}); return t0; }",
        run["run"],
    )
    page.wait_for_function("() => performance.getEntriesByName('pmm:select-planes').length > 0")
    planes = page.evaluate("() => pmm.state.get().sessions.map(s => pmm.state.zOf(s))")
    assert planes[0] == run["z"] != 2
    tiles = _tiles_at(page, run["z"]) if planes[0] == planes[1] else page.evaluate(JS_TILES)
    assert all(any(t["inView"] for t in viewer) for viewer in tiles)
    got = page.evaluate(
        """([t0, planes]) => {
          const inView = new Set();
          document.querySelectorAll('.pmm-viewer[data-session]').forEach(v => {
            const box = v.querySelector('.leaflet-container').getBoundingClientRect();
            v.querySelectorAll('.leaflet-pmmImages-pane img.leaflet-tile').forEach(t => {
              const r = t.getBoundingClientRect();
              if (r.right > box.left && r.left < box.right && r.bottom > box.top && r.top < box.bottom) inView.add(t.src);
            });
          });
          const asked = performance.getEntriesByType('resource').filter(e => e.startTime >= t0 && e.name.includes('/tiles/'))
            .map(e => e.name).filter(u => {
              const s = Number(u.match(/sessions\\/(\\d+)\\//)[1]);
              return Number(new URL(u).searchParams.get('plane')) === planes[s];
            });
          return {asked, inView: [...inView]};
        }""",
        [t0, planes],
    )
    assert got["asked"], "the new plane's tiles were asked for"
    stray = [u for u in got["asked"] if u not in got["inView"]]
    assert not stray, (len(stray), len(got["asked"]), stray[:4])
