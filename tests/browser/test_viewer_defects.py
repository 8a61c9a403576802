"""Issue 12's viewer defects, each reproduced in a real Chromium."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.test_dashboard import JS_IMAGE_SRCS, JS_IMAGES_READY, JS_SLICE_LABELS, open_map

pytestmark = pytest.mark.browser

# every annotation marker: its session, plane, whether it is a ghost and whether it is drawn
JS_MARKERS = """() => { const out = [];
  pmm.state.get().sessions.forEach(s => pmm.spines.markers(s).forEach(m => { const p = m.feature.properties;
    out.push({s: s, z: p.z, ghost: !!p.ghost, shown: !!m.getElement() && m.getElement().style.display !== 'none'}); }));
  return out; }"""


def test_the_plane_in_the_url_is_restored(page: Any) -> None:
    open_map(page, "?s=0,1,2&z=3", n=3)
    assert page.evaluate(JS_SLICE_LABELS) == ["z 3 / 9"] * 3
    assert all("/planes/3?" in s for s in page.evaluate(JS_IMAGE_SRCS))
    page.wait_for_url(re.compile(r"[?&]s=0,1,2&z=3(&|$)"))
    # per-session planes too (as written once the viewers went to a spine)
    open_map(page, "?s=0,1,2&z=2,4,7", n=3)
    assert page.evaluate(JS_SLICE_LABELS) == ["z 2 / 9", "z 4 / 9", "z 7 / 9"]
    page.wait_for_url(re.compile(r"[?&]z=2,4,7(&|$)"))


# the plane each shown viewer opens at when nothing asks for one: its ViewerMeta.default_z
JS_DEFAULT_Z = "() => pmm.state.get().sessions.map(s => pmm.state.get().metas[s].default_z)"


@pytest.mark.parametrize("query", ["", "?z=1"])
def test_spines_are_filtered_to_the_plane_from_the_first_paint(page: Any, query: str) -> None:
    open_map(page, query)
    zs = [1] * 6 if query else page.evaluate(JS_DEFAULT_Z)
    assert page.evaluate(JS_SLICE_LABELS) == [f"z {z} / 9" for z in zs]
    page.wait_for_function(
        "() => pmm.state.get().sessions.map(s => pmm.spines.markers(s)).every(set => [...set].every(m => m.getElement()))"
    )
    marks = [m for m in page.evaluate(JS_MARKERS) if not m["ghost"]]
    near = [m for m in marks if abs(m["z"] - zs[m["s"]]) <= 2]
    far = [m for m in marks if abs(m["z"] - zs[m["s"]]) > 2]
    assert near and far, "the demo map has spines near and far from the plane"
    assert all(m["shown"] for m in near)
    assert not any(m["shown"] for m in far), (
        f"{sum(m['shown'] for m in far)} of {len(far)} far spines drawn"
    )


def test_viewers_open_where_their_spines_are(page: Any) -> None:
    """Each viewer opens at the median plane of its session's spines (not the middle of the
    stack, nor the first session's plane), also a viewer added later; the URL's plane wins."""
    open_map(page, "?s=0,1", n=2)
    # sessions 2-4 of the demo map have their spines' median at plane 6, not the middle (5)
    page.evaluate("() => window.dash_clientside.set_props('pmm-sessions', {value: [0, 1, 2]})")
    page.wait_for_function(JS_IMAGES_READY, arg=3)
    defaults = page.evaluate(JS_DEFAULT_Z)
    assert defaults[2] == 6 and defaults[2] != defaults[0], defaults
    assert page.evaluate(JS_SLICE_LABELS) == [f"z {z} / 9" for z in defaults]
    assert all(f"/planes/{z}?" in src for z, src in zip(defaults, page.evaluate(JS_IMAGE_SRCS), strict=True))
    page.wait_for_url(re.compile(rf"[?&]z={defaults[0]},{defaults[1]},{defaults[2]}(&|$)"))
    # a plane in the URL wins, for the viewers opened with it and those added later
    open_map(page, "?s=0,1&z=3", n=2)
    page.evaluate("() => window.dash_clientside.set_props('pmm-sessions', {value: [0, 1, 2]})")
    page.wait_for_function(JS_IMAGES_READY, arg=3)
    assert page.evaluate(JS_SLICE_LABELS) == ["z 3 / 9"] * 3


def test_keys_go_to_the_viewers_after_dragging_the_contrast_slider(page: Any) -> None:
    open_map(page, "?s=0,1", n=2)
    page.wait_for_function("() => !document.querySelector('#pmm-contrast [data-disabled]')")
    handle = page.locator("#pmm-contrast [role=slider]").first
    before = handle.get_attribute("aria-valuenow")
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 40, y, steps=4)
    page.mouse.up()
    page.wait_for_function(
        "() => document.querySelector('.pmm-viewer img.leaflet-image-layer').src.includes('lo=')"
    )
    after = handle.get_attribute("aria-valuenow")
    assert after != before
    page.keyboard.press("ArrowDown")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.pmm-viewer-slice')].every(e => e.textContent === 'z 6 / 9')"
    )
    assert handle.get_attribute("aria-valuenow") == after
    page.keyboard.press("2")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.pmm-viewer img.leaflet-image-layer')].every(i => i.src.includes('channel=2'))"
    )
    page.keyboard.press("m")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.pmm-viewer img.leaflet-image-layer')].every(i => i.src.includes('projection=max'))"
    )
    page.wait_for_function(JS_IMAGES_READY, arg=2)


def test_a_key_pressed_while_a_preference_changes_is_not_taken_back(page: Any) -> None:
    """The page's callback runs for a preference with the channel control's old value;
    the channel a key chose a moment before (not yet written to its control) stays."""
    open_map(page, "?s=0,1", n=2)
    page.wait_for_function(JS_IMAGES_READY, arg=2)
    for size in (7, 9, 11):
        want = 2 if page.evaluate("() => pmm.state.get().channel") == 1 else 1
        page.evaluate(
            """([want, size]) => {
                document.dispatchEvent(new KeyboardEvent('keydown', {key: String(want), bubbles: true}));
                const c = document.cookie.split('; ').find(x => x.startsWith('pmm_prefs='));
                const now = c ? JSON.parse(decodeURIComponent(c.slice('pmm_prefs='.length))) : {};
                const prefs = Object.assign({}, now, {spine_size: size});
                window.dash_clientside.set_props('pmm-prefs', {data: prefs});
            }""",
            [want, size],
        )
        page.wait_for_function(
            "(ch) => [...document.querySelectorAll('.pmm-viewer img.leaflet-image-layer')]"
            ".every(i => i.src.includes('channel=' + ch))",
            arg=want,
        )
        page.wait_for_timeout(600)
        assert page.evaluate("() => pmm.state.get().channel") == want
        assert page.evaluate("() => document.getElementById('pmm-channel') !== null")
        srcs = page.evaluate("() => [...document.querySelectorAll('.pmm-viewer img.leaflet-image-layer')].map(i => i.src)")
        assert all(f"channel={want}" in s for s in srcs), srcs
