"""The developer guide's layout table names every folder of the tree (so it stays current)."""

from __future__ import annotations

import re
import tomllib

from tests.support.paths import REPO

PAGE = REPO / "docs" / "developer.md"
TOP = ("pymapmanager", "app", "pages", "callbacks", "tests", "bench", "docs", "deploy", "igor", "maps", ".ci")
#: folders with sources inside the library and the application, each needs its own row
PACKAGES = ("pymapmanager", "app")


def _rows() -> set[str]:
    return {m.group(1).rstrip("/") for m in re.finditer(r"^\| `([^`]+)` \|", PAGE.read_text(), re.M)}


def test_every_folder_has_a_row() -> None:
    rows = _rows()
    for top in TOP:
        assert (REPO / top).is_dir(), top
        assert top in rows, f"docs/developer.md has no row for {top}/"
    for pkg in PACKAGES:
        for sub in sorted(p for p in (REPO / pkg).iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
            if any(sub.rglob("*.py")) or pkg == "app":
                assert f"{pkg}/{sub.name}" in rows, f"docs/developer.md has no row for {pkg}/{sub.name}/"
    for row in rows:
        assert (REPO / row).is_dir(), f"docs/developer.md names {row}/, which does not exist"


def test_the_page_is_in_the_site() -> None:
    assert "\ndeveloper\n" in (REPO / "docs" / "index.md").read_text()


def test_the_packaging_section_names_every_top_level_package() -> None:
    """The wheel's top-level packages (pyproject's find ``include``) are each named and explained."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    tops = [pat.rstrip("*") for pat in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]]
    text = PAGE.read_text()
    section = text[text.index("## Packaging and releases"):]
    for top in tops:
        assert f"`{top}`" in section, f"the packaging section does not name the top-level package {top}"
    assert "virtual environment of its own" in section
    assert pyproject["project"]["urls"]["Source"].removeprefix("https://github.com/") in section
