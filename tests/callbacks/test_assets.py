"""The clientside code in assets/ uses the same ids and callback names as the Python side."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import dash
import pytest

from app import ids

ASSETS = Path(__file__).resolve().parents[2] / "app" / "assets"


def test_clientside_ids_match_app_ids() -> None:
    js = (ASSETS / "pmm_viewer.js").read_text()
    block = re.search(r"var IDS = \{(.*?)\};", js, re.S)
    assert block
    pairs = dict(re.findall(r"(\w+): \"([^\"]+)\"", block.group(1)))
    assert pairs
    known = ids.clientside_ids()
    for name, value in pairs.items():
        assert known.get(name) == value, name
    # literal ids used in the callbacks' trigger checks exist too
    for literal in set(re.findall(r"indexOf\(\"(pmm-[a-z-]+)", js)) - set(pairs.values()):
        assert literal in known.values() or literal.startswith("pmm-viewer"), literal


def test_every_clientside_function_is_defined(app: dash.Dash) -> None:
    js = (ASSETS / "pmm_viewer.js").read_text()
    defined = set(re.findall(r"^            (\w+): function", js, re.M))
    used = {
        cb["clientside_function"]["function_name"]
        for cb in app._callback_list
        if cb.get("clientside_function") and cb["clientside_function"].get("namespace") == "pmm"
    }
    assert used and used <= defined, used - defined


def test_prefs_cookie_name_matches() -> None:
    from app.state import PREFS_COOKIE

    assert f'var PREFS_COOKIE = "{PREFS_COOKIE}"' in (ASSETS / "pmm_viewer.js").read_text()


def test_clientside_code_parses() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (the browser tests load the code anyway)")
    r = subprocess.run([node, "--check", str(ASSETS / "pmm_viewer.js")], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
