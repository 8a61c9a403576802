"""The partial Plotly bundle (app/assets/vendor/plotly, built by tools/plotly-bundle) has
every trace type the dashboard draws, is the plotly.js version plotly.py makes figures
for, and is the one the pages' graphs load."""

from __future__ import annotations

import re
from pathlib import Path

import dash
import plotly.graph_objects as go
from plotly.basedatatypes import BaseTraceType
from plotly.offline import get_plotlyjs_version

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "app" / "assets" / "vendor" / "plotly" / "plotly-pmm.min.js"
ENTRY = ROOT / "tools" / "plotly-bundle" / "entry.js"
#: where figures are made: the server's figure builders and pages, and the page scripts
#: (the contrast histogram is drawn in app/assets/70-pmm-dash.js)
SOURCES = [*(ROOT / "app" / "figures").glob("*.py"), *(ROOT / "pages").glob("*.py"), *(ROOT / "callbacks").glob("*.py"),
           *(ROOT / "app" / "assets").glob("*.js")]  # fmt: skip


def _banner() -> re.Match[str]:
    head = BUNDLE.read_text(encoding="utf-8")[:300]
    m = re.match(r"/\*! plotly\.js v(\S+), partial bundle for PyMapManager \(traces: ([a-z0-9 ]+)\)", head)
    assert m, head
    return m


def _entry_traces() -> set[str]:
    m = re.search(r"^// TRACES: (.+)$", ENTRY.read_text(), re.M)
    assert m
    return set(m.group(1).split())


def _trace_types() -> set[str]:
    types: set[str] = set()
    for name in go.__all__:
        obj = getattr(go, name)
        if isinstance(obj, type) and issubclass(obj, BaseTraceType):
            types.add(str(obj().type))
    return types


def test_the_bundle_is_the_plotly_js_plotly_py_makes_figures_for() -> None:
    assert _banner().group(1) == get_plotlyjs_version()
    assert "Plotly" in (BUNDLE.parent / "LICENSE").read_text()


def test_the_bundle_has_the_traces_its_recipe_names_and_registers_them() -> None:
    traces = _entry_traces()
    assert set(_banner().group(2).split()) == traces
    entry = ENTRY.read_text()
    # scatter comes with core; every other one is registered
    assert traces - {"scatter"} == set(re.findall(r"require\('plotly\.js/lib/([a-z0-9]+)'\)", entry)) - {"core"}


def test_every_trace_type_the_dashboard_draws_is_in_the_bundle() -> None:
    known = _trace_types()
    assert {"scatter", "scattergl", "bar", "box", "violin"} <= known
    used: dict[str, set[str]] = {}
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        names = set(re.findall(r"""["']?type["']?\s*[:=]\s*["']([a-z0-9]+)["']""", text)) & known
        # plotly.py's builders: fig.add_bar(...), go.Scatter(...)
        names |= {n for n in re.findall(r"\.add_([a-z0-9]+)\(", text) if n in known}
        names |= {n.lower() for n in re.findall(r"\bgo\.([A-Z][A-Za-z0-9]+)\(", text) if n.lower() in known}
        for n in names:
            used.setdefault(n, set()).add(str(path.relative_to(ROOT)))
    assert {"scatter", "scattergl", "bar"} <= set(used), used
    missing = {n: files for n, files in used.items() if n not in _entry_traces()}
    assert not missing, f"trace types drawn but not in the partial Plotly bundle (tools/plotly-bundle): {missing}"


def test_the_pages_name_the_bundle_with_its_content_hash(app: dash.Dash) -> None:
    html = app.server.test_client().get("/").get_data(as_text=True)
    m = re.search(r'<meta name="pmm-plotly" content="([^"]+)">', html)
    assert m, html[:2000]
    url = m.group(1)
    assert re.fullmatch(r"/assets/vendor/plotly/plotly-pmm\.min\.js\?v=[0-9a-f]{12}", url), url
    # served, and not also as a script of every page
    assert app.server.test_client().get(url).status_code == 200
    assert "plotly-pmm.min.js" not in "".join(re.findall(r'<script src="([^"]+)"', html))
    assert "/assets/05-pmm-store.js" in html


def test_go_figure_validates_the_dashboard_traces() -> None:
    # the builders' dicts are checked by plotly.py against the same schema version
    fig = go.Figure(data=[{"type": t, "x": [1], "y": [1]} for t in sorted(_entry_traces())])
    assert [d.type for d in fig.data] == sorted(_entry_traces())
