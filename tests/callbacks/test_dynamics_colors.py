"""The dynamics colours have one definition (``app.figures.colors.DYNAMICS_COLORS``).

The plot, the dynamics panel and the run strip use it in Python; the viewer's markers get
it from the server in the spine layer's ``hideout``; no script, stylesheet or other module
spells the colours again. (``tests/browser/test_dynamics_colors.py`` checks the markers a
real browser draws.)
"""

from __future__ import annotations

import json
import re

from app import ids
from app.components.viewer import session_viewer
from app.figures.colors import DYNAMICS_COLORS, DYNAMICS_LABELS, dynamics_colors_for_js
from app.figures.dynamics import dynamics_figure
from app.figures.mapplot import map_plot
from app.state import ViewerMeta
from pymapmanager.analysis import DYNAMICS_NAMES
from tests.support.dash_caller import find_component
from tests.support.paths import REPO

COLORS = {c.lower() for c in DYNAMICS_COLORS.values()}
HEX = re.compile(r"#[0-9a-fA-F]{6}\b")


def test_four_colours_named_as_the_library_names_them() -> None:
    assert DYNAMICS_LABELS == DYNAMICS_NAMES
    assert set(DYNAMICS_COLORS) == set(DYNAMICS_NAMES) and len(COLORS) == 4
    assert dynamics_colors_for_js() == {str(k): v for k, v in DYNAMICS_COLORS.items()}


def test_no_other_file_spells_them() -> None:
    """Scripts, stylesheets and Python modules: only app/figures/colors.py has the colours."""
    own = REPO / "app" / "figures" / "colors.py"
    files = [p for folder in ("app", "pages", "callbacks", "pymapmanager") for p in (REPO / folder).rglob("*")
             if p.suffix in (".py", ".js", ".css") and "vendor" not in p.parts and ".min." not in p.name]  # fmt: skip
    assert any(p.name == "30-pmm-spines.js" for p in files) and any(p.name == "pmm.css" for p in files)
    for p in files:
        if p == own:
            continue
        spelled = {h.lower() for h in HEX.findall(p.read_text(encoding="utf-8"))} & COLORS
        assert not spelled, f"{p.relative_to(REPO)} spells the dynamics colours {sorted(spelled)}"


def test_the_viewer_hands_them_to_its_markers() -> None:
    meta = ViewerMeta(session=2, planes=3, rows=64, columns=64, has_images=False, tiled=False,
                      image_url="", tile_url="", max_level=0, channels=(1,), date="", condition="",
                      imported_name="", days=None)  # fmt: skip
    empty = {"type": "FeatureCollection", "features": []}
    layout = session_viewer(meta, empty, empty).to_plotly_json()
    tree = json.loads(json.dumps(layout, default=lambda o: o.to_plotly_json()))
    spines = find_component(tree, ids.viewer_spines(2))
    assert spines is not None
    assert spines["props"]["hideout"]["colors"] == dynamics_colors_for_js()
    script = (REPO / "app" / "assets" / "30-pmm-spines.js").read_text(encoding="utf-8")
    assert "context.hideout.colors" in script  # where the marker script takes them from


def test_the_plot_and_the_dynamics_panel_use_them() -> None:
    table = {"runs": [0, 1, 2, 3], "x": "session", "y": "pDist",
             "xs": [[0.0, 1.0]] * 4, "ys": [[1.0, 2.0]] * 4,
             "dyn": [[1, 1], [2, 2], [3, 3], [4, 4]], "seg": [[0, 0]] * 4,
             "bad": [[False, False]] * 4, "present": [[True, True]] * 4}  # fmt: skip
    fig = map_plot(table, color_by="dynamics")
    by_name = {t.name: t.marker.color for t in fig.data[1:] if t.name in DYNAMICS_LABELS.values()}
    assert by_name == {DYNAMICS_LABELS[k]: v for k, v in DYNAMICS_COLORS.items()}
    rows = [{"segment": 0, "session": s, "n": 5, "added": 1, "subtracted": 1, "persistent": 4,
             "length_um": 10.0} for s in range(3)]  # fmt: skip
    bars = {t.name: t.marker.color for t in dynamics_figure(rows).data if t.type == "bar"}
    assert bars == {name: DYNAMICS_COLORS[code] for code, name in DYNAMICS_LABELS.items() if name in bars}
    assert set(bars) == {"added", "subtracted", "persistent"}
