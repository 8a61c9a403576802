"""The clientside code in app/assets/ uses the same ids and callback names as the Python side."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import dash
import pytest

from app import ids
from tests.conftest import IN_CI

ASSETS = Path(__file__).resolve().parents[2] / "app" / "assets"
#: the map viewer's scripts, in the order Dash serves them (alphabetical: numeric prefixes)
VIEWER_SCRIPTS = [
    "05-pmm-store.js",
    "10-pmm-state.js",
    "20-pmm-layers.js",
    "30-pmm-spines.js",
    "40-pmm-preload.js",
    "50-pmm-keys.js",
    "60-pmm-plot.js",
    "70-pmm-dash.js",
    "75-pmm-edit.js",
]


def _js(name: str) -> str:
    return (ASSETS / name).read_text()


def test_viewer_scripts_are_served_in_their_order(app: dash.Dash) -> None:
    html = app.server.test_client().get("/").get_data(as_text=True)
    served = [Path(src.split("?")[0]).name for src in re.findall(r'<script src="([^"]+)"', html)]
    leaflet = next(i for i, n in enumerate(served) if n.startswith("dash_leaflet"))
    pos = [served.index(script) for script in VIEWER_SCRIPTS]
    assert pos == sorted(pos) and leaflet < pos[0], served
    assert sorted(p.name for p in ASSETS.glob("*-pmm-*.js")) == VIEWER_SCRIPTS
    # the store's wrapper runs before Dash's renderer makes the store (the page's last script)
    assert html.rindex("05-pmm-store.js") < html.index('id="_dash-renderer"'), html


def test_clientside_ids_match_app_ids() -> None:
    js = _js("10-pmm-state.js")
    block = re.search(r"var IDS = \{(.*?)\};", js, re.S)
    assert block
    pairs = dict(re.findall(r"(\w+): \"([^\"]+)\"", block.group(1)))
    assert pairs
    known = ids.clientside_ids()
    for name, value in pairs.items():
        assert known.get(name) == value, name
    # literal ids the viewer scripts address components by exist too
    for script in VIEWER_SCRIPTS:
        js = _js(script)
        used = re.findall(r"(?:indexOf|set_props)\(\"(pmm-[a-z-]+)", js)
        used += re.findall(r"\"#\" \+ \"(pmm-[a-z-]+)\"", js)
        for literal in set(used):
            assert literal in known.values(), (script, literal)


def test_every_clientside_function_is_defined(app: dash.Dash) -> None:
    js = _js("70-pmm-dash.js")
    defined = set(re.findall(r"^            (\w+): function", js, re.M))
    used = {
        cb["clientside_function"]["function_name"]
        for cb in app._callback_list
        if cb.get("clientside_function") and cb["clientside_function"].get("namespace") == "pmm"
    }
    assert used and used <= defined, used - defined


def test_prefs_cookie_name_matches() -> None:
    from app.state import PREFS_COOKIE

    assert f'var PREFS_COOKIE = "{PREFS_COOKIE}"' in _js("70-pmm-dash.js")


def test_clientside_code_parses() -> None:
    node = shutil.which("node")
    if node is None:
        if IN_CI:
            pytest.fail("node is not installed (./dev test installs Debian's nodejs)")
        pytest.skip("node is not installed (the browser tests load the code anyway)")
    for script in [*VIEWER_SCRIPTS, "pmm_pool.js"]:
        r = subprocess.run(
            [node, "--check", str(ASSETS / script)], capture_output=True, text=True, check=False
        )
        assert r.returncode == 0, (script, r.stderr)
