"""Typing into an open dropdown searches it, on every page (issue 12, defect 7).

Dash 4 opens a dropdown that has a value with the focus on its selected option, so a typed
letter went nowhere (app/assets/pmm_dropdowns.js moves it into the search box).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.test_dashboard import open_map

pytestmark = pytest.mark.browser

JS_DROPDOWNS = """() => [...document.querySelectorAll('button.dash-dropdown')]
  .filter(b => !b.disabled && b.offsetParent !== null).map(b => b.id)"""
JS_FOCUS = """() => { const a = document.activeElement;
  return {search: a.matches('input.dash-dropdown-search'), value: a.value || ''}; }"""
# the menu has put the focus where it wants it (a frame after opening)
JS_MENU_FOCUSED = "() => !!document.activeElement.closest('.dash-dropdown-content')"
# no callback of the page is waiting, running or being applied (Dash's own queues): a
# dropdown whose options or value a late answer sets would be drawn again under the test
JS_CALLBACKS_IDLE = """() => { const c = window.store && window.store.getState().callbacks;
  return !!c && ['requested', 'prioritized', 'blocked', 'executing', 'watched', 'executed', 'stored']
    .every(k => Array.isArray(c[k]) && c[k].length === 0); }"""
JS_OPTIONS = "() => [...document.querySelectorAll('.dash-dropdown-content .dash-options-list-option')].map(o => o.textContent.trim())"


def _type_in_each(page: Any, letters: str = "se") -> list[str]:
    """Open every visible dropdown, type ``letters``; the ids whose search got them."""
    searched = []
    page.wait_for_function(JS_CALLBACKS_IDLE, timeout=30_000)
    dropdowns = page.evaluate(JS_DROPDOWNS)
    assert dropdowns
    for dd in dropdowns:
        page.locator(f"#{dd}").click()
        page.locator(".dash-dropdown-content").wait_for()
        if page.locator(".dash-dropdown-content input.dash-dropdown-search").count() == 0:
            page.keyboard.press("Escape")
            continue
        page.wait_for_function(JS_MENU_FOCUSED)
        page.keyboard.type(letters)
        focus = page.evaluate(JS_FOCUS)
        assert focus == {"search": True, "value": letters}, (dd, focus)
        # the options are filtered by what was typed
        page.wait_for_function(
            "(t) => [...document.querySelectorAll('.dash-dropdown-content .dash-options-list-option')]"
            ".every(o => o.textContent.toLowerCase().includes(t))",
            arg=letters,
        )
        searched.append(dd)
        page.keyboard.press("Escape")
        page.locator(".dash-dropdown-content").wait_for(state="detached")
    return searched


def test_typing_into_the_map_pages_dropdowns_searches(page: Any) -> None:
    open_map(page)
    # a dropdown with a value opens with the focus on that value
    page.locator("#pmm-plot-x").click()
    page.locator(".dash-dropdown-content").wait_for()
    page.wait_for_function(JS_MENU_FOCUSED)
    page.keyboard.type("sLen")
    assert page.evaluate(JS_FOCUS) == {"search": True, "value": "sLen"}
    page.wait_for_function(
        f"() => {{ const t = ({JS_OPTIONS})(); return t.length > 0 && t.every(x => x.startsWith('sLen')); }}"
    )
    # the viewer's keys (m: max projection, 2: channel) do not act while typing there
    page.keyboard.type("m2")
    assert page.evaluate("() => [pmm.state.get().projection, pmm.state.get().channel]") == [
        "none",
        1,
    ]
    page.keyboard.press("Escape")
    searched = _type_in_each(page)
    assert {"pmm-sessions", "pmm-plot-x", "pmm-plot-y", "pmm-plot-segment", "pmm-plot-roi"} <= set(
        searched
    )
    # a focused, closed dropdown searches on a typed letter too (Dash's own handler)
    page.locator("#pmm-plot-y").click()
    page.keyboard.press("Escape")
    page.locator(".dash-dropdown-content").wait_for(state="detached")
    page.keyboard.type("p")
    page.locator(".dash-dropdown-content").wait_for()
    page.wait_for_function("() => document.activeElement.matches('input.dash-dropdown-search')")
    assert page.evaluate(JS_FOCUS) == {"search": True, "value": "p"}


def test_typing_into_the_catalog_and_pooling_dropdowns_searches(page: Any) -> None:
    page.goto("/")
    page.locator(".pmm-card-wrap").first.wait_for()
    # a condition chosen first, so the menu opens on it
    dd = page.evaluate(JS_DROPDOWNS)[0]
    page.locator(f"#{dd}").click()
    page.locator(".dash-dropdown-content .dash-options-list-option").first.click()
    page.keyboard.press("Escape")
    page.locator(".dash-dropdown-content").wait_for(state="detached")
    assert _type_in_each(page, "c")
    page.goto("/pool")
    page.wait_for_function(
        "() => { const b = document.querySelector('#pmm-pool-stat'); return b && b.textContent.trim().length > 0; }"
    )
    searched = _type_in_each(page, "s")
    assert "pmm-pool-stat" in searched
