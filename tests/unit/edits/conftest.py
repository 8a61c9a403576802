"""Fixtures of the edit tests: a small generated map (written once), loaded fresh per test."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest

import pymapmanager as pmm
from pymapmanager.edits import Editor
from pymapmanager.synthetic.maps import generate_map

#: the clock of every editor in these tests
NOW = datetime(2026, 12, 5, 14, 30, 15, 250000)


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-session, 2-channel generated map with tracings (never edited on disk)."""
    return generate_map(
        tmp_path_factory.mktemp("edits-demo"), name="demo", sessions=3, channels=2,
        segments=2, spines_per_segment=12, images=False, seed=3,
    )  # fmt: skip


@pytest.fixture
def demo(demo_folder: Path) -> pmm.Map:
    """The demo map, freshly loaded (edits stay in memory)."""
    return pmm.load_map(demo_folder)


@pytest.fixture
def demo_copy(demo_folder: Path, tmp_path: Path) -> Path:
    """A copy of the demo map's folder that a test may save over."""
    return Path(shutil.copytree(demo_folder, tmp_path / "demo"))


@pytest.fixture
def editor(demo: pmm.Map) -> Editor:
    return Editor(demo, user="tester", now=lambda: NOW)
