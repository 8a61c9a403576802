"""The dynamics colours have one definition (``app.figures.mapplot.DYNAMICS_COLORS``): the
stylesheet's variables and the viewer script's colours must be the same ones."""

from __future__ import annotations

import re

from app.figures.mapplot import DYNAMICS_COLORS, DYNAMICS_LABELS
from tests.support.paths import REPO

ASSETS = REPO / "app" / "assets"


def test_the_stylesheet_uses_the_python_colours() -> None:
    css = (ASSETS / "pmm.css").read_text()
    for code, name in DYNAMICS_LABELS.items():
        m = re.search(rf"--pmm-{name}:\s*(#[0-9a-fA-F]{{6}})", css)
        assert m, f"--pmm-{name} is not defined in pmm.css"
        assert m.group(1).lower() == DYNAMICS_COLORS[code].lower(), name


def test_the_viewer_script_uses_the_python_colours() -> None:
    """Either the script reads the stylesheet's variables, or it spells the same colours."""
    scripts = {p.name: p.read_text() for p in ASSETS.glob("*.js") if not p.name.endswith(".min.js")}
    reads_css = any("--pmm-added" in text for text in scripts.values())
    literal = [
        m.group(1)
        for text in scripts.values()
        for m in re.finditer(r"DYN_COLORS\s*=\s*(\{[^}]*\})", text)
    ]
    assert reads_css or literal, "no dynamics colours in the viewer scripts"
    for block in literal:
        got = {int(k): v.lower() for k, v in re.findall(r"(\d)\s*:\s*\"(#[0-9a-fA-F]{6})\"", block)}
        assert got == {k: v.lower() for k, v in DYNAMICS_COLORS.items()}, block
