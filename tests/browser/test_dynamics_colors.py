"""The viewer's markers are drawn in the dynamics colours the server defines
(``app.figures.colors``), which the page hands to the marker script."""

from __future__ import annotations

from typing import Any

import pytest

from app.figures.colors import DYNAMICS_COLORS
from tests.browser.test_dashboard import open_map

pytestmark = pytest.mark.browser

# stroke colour of every plain marker (shown, not bad, not a ghost, not the selection)
JS_MARKER_COLOURS = """() => {
  const st = pmm.state.get(), out = [];
  st.sessions.forEach(s => pmm.spines.markers(s).forEach(m => {
    const p = m.feature.properties, el = m.getElement();
    if (!el || el.style.display === 'none' || p.bad || p.ghost || p.run === st.run) return;
    out.push([p.dyn, el.getAttribute('stroke')]);
  }));
  return out;
}"""


def test_markers_have_the_servers_dynamics_colours(page: Any) -> None:
    open_map(page)
    got = page.evaluate(JS_MARKER_COLOURS)
    seen: dict[int, set[str]] = {}
    for dyn, stroke in got:
        if dyn is not None:
            seen.setdefault(int(dyn), set()).add(stroke.lower())
    assert set(seen) == set(DYNAMICS_COLORS), seen  # the demo map has all four kinds near its first plane
    for code, strokes in seen.items():
        assert strokes == {DYNAMICS_COLORS[code].lower()}, (code, strokes)
