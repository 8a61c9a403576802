"""Maps edited by :mod:`pymapmanager.edits` load in the old pymapmanager 0.0.5 with the values expected."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import pymapmanager as pmm
from pymapmanager.edits import Editor
from tests.support.oldpmm import OldPackage, obtain_old_package, oldpmm, require

from .conftest import NOW
from .test_commands import linked_spine, spine_rows

pytestmark = pytest.mark.oldpmm

STATS = ["x", "y", "z", "pDist"]


@pytest.fixture(scope="module")
def old_pkg() -> OldPackage | str:
    return obtain_old_package()


def old_values(pkg: OldPackage, folder: Path, stats: list[str]) -> dict[str, Any]:
    """The old package's values of ``folder``, checked equal to the new library's."""
    old = pkg.run("values", {"map": str(folder), "stats": stats})
    diffs = oldpmm.compare(old, oldpmm.new_values(folder, stats))
    assert not diffs, "old pymapmanager 0.0.5 reads the edited map differently:\n" + "\n".join(diffs)
    return old


def cells_at(old: dict[str, Any], stat: str) -> np.ndarray:
    return np.asarray(old["values"][stat]["None"], dtype=float)


def test_edited_demo_map_reads_in_old_package(old_pkg: OldPackage | str, demo_copy: Path) -> None:
    pkg = require(old_pkg)
    m = pmm.load_map(demo_copy)
    ed = Editor(m, user="old", now=lambda: NOW)
    moved = spine_rows(m, 2)[3]
    row, nx = linked_spine(m, 0)
    bad = spine_rows(m, 1)[6]
    ed.replay([
        {"op": "move", "session": 2, "row": moved, "x_um": 22.25, "y_um": 13.5, "z": 16},
        {"op": "add_spine", "session": 1, "segment": 1, "x_um": 30.5, "y_um": 44.5, "z": 15},
        {"op": "disconnect", "session": 0, "row": row},
        {"op": "set_bad", "session": 1, "row": bad, "bad": True},
        {"op": "delete", "session": 2, "row": spine_rows(m, 2)[0]},
    ])  # fmt: skip
    m.save()
    old = old_values(pkg, demo_copy, STATS)
    new = pmm.map_values(pmm.load_map(demo_copy), "x")
    x = cells_at(old, "x")
    assert x.shape == new.values.shape
    # the moved spine (one row up after the delete above it) has its new position in the old package
    r = int(np.flatnonzero(new.rows[:, 2] == moved - 1)[0])
    assert x[r, 2] == 22.25 and cells_at(old, "y")[r, 2] == 13.5 and cells_at(old, "z")[r, 2] == 16
    # the added spine: a run of its own, present in session 1 only
    n = len(pmm.load_map(demo_copy).db2[1]) - 1
    r = int(np.flatnonzero(new.rows[:, 1] == n)[0])
    assert x[r, 1] == 30.5 and np.isnan(x[r, [0, 2]]).all()
    # the disconnected run is two runs; the bad spine is out
    r0 = int(np.flatnonzero(new.rows[:, 0] == row)[0])
    assert np.isnan(x[r0, 1])
    assert not np.any(new.rows[:, 1] == bad)


def test_edited_f27a1_reads_in_old_package(old_pkg: OldPackage | str, f27a1: Path, tmp_path: Path) -> None:
    pkg = require(old_pkg)
    folder = Path(shutil.copytree(f27a1, tmp_path / "F27A_1"))
    m = pmm.load_map(folder)
    ed = Editor(m, user="ZY", now=lambda: NOW)
    row, nx = linked_spine(m, 1)
    ed.replay([
        {"op": "add_spine", "session": 3, "segment": 2, "x_um": 100.5, "y_um": 60.25, "z": 20},
        {"op": "delete", "session": 1, "row": row},
    ])  # fmt: skip
    m.save()
    old = old_values(pkg, folder, ["x", "pDist"])
    assert old["objects_per_session"] == [98, 108, 98, 103]
    x = cells_at(old, "x")
    new = pmm.map_values(pmm.load_map(folder), "x")
    r = int(np.flatnonzero(new.rows[:, 3] == 102)[0])
    assert x[r, 3] == 100.5 and np.isnan(x[r, :3]).all()
    assert np.isnan(cells_at(old, "pDist")[r, 3])  # no tracing: no pDist, as in the file
