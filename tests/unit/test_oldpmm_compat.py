"""What we write must still load in the old pymapmanager 0.0.5 from PyPI and give the same values.

The old package is downloaded once (cached in a temporary folder), patched with four
one-line fixes so it runs on today's Python/numpy/pandas (see ``bench/oldpmm.py``), and
run in a subprocess on maps the new library saved. Its ``getMapValues2`` must agree
exactly (NaN where NaN) with :func:`pymapmanager.map_values` on the same folder.
Under ``CI=true`` not being able to obtain the old package is a failure, elsewhere a skip.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import pymapmanager as pmm
from tests.support.oldpmm import OldPackage, obtain_old_package, oldpmm, require
from tests.support.paths import require_f27a1

pytestmark = pytest.mark.oldpmm


POSITION_STATS = ["pDist", "x", "y", "z"]
DEMO_STATS = [*POSITION_STATS, "ubssSum_int2", "sLen3d_int1"]


@pytest.fixture(scope="session")
def old_pkg() -> OldPackage | str:
    """The patched old package, or why it is missing (downloaded once, cached in a temp folder)."""
    return obtain_old_package()


@pytest.fixture
def f27a1_path() -> Path:
    return require_f27a1()


def assert_same_in_old(pkg: OldPackage, folder: Path, stats: list[str]) -> dict[str, Any]:
    """The old package and the new library read ``folder`` the same; the old result."""
    old = pkg.run("values", {"map": str(folder), "stats": stats})
    new = oldpmm.new_values(folder, stats)
    diffs = oldpmm.compare(old, new)
    assert not diffs, "old pymapmanager 0.0.5 reads differently:\n" + "\n".join(diffs)
    assert new["num_sessions"] > 0 and any(
        np.asarray(v, dtype=float).size for v in new["values"][stats[0]].values()
    ), "nothing was compared"
    return old


def test_saved_f27a1_reads_the_same_in_old_package(
    old_pkg: OldPackage | str, f27a1_path: Path, tmp_path: Path
) -> None:
    pkg = require(old_pkg)
    m = pmm.load_map(f27a1_path)
    saved = m.save(tmp_path / "F27A_1")
    old = assert_same_in_old(pkg, saved, POSITION_STATS)
    # the known figures of this map, as the old package gives them on the original folder
    assert old["num_sessions"] == 4
    assert old["num_map_segments"] == 5
    counts = np.sum(~np.isnan(np.asarray(old["values"]["pDist"]["None"], dtype=float)), axis=0)
    assert np.asarray(old["values"]["pDist"]["None"]).shape == (145, 4)
    assert counts.tolist() == [60, 68, 56, 56]


def _spine_cells(m: pmm.Map, n: int) -> list[tuple[int, int]]:
    """``n`` (run position, db2 row) of good spines in session 0 that belong to a run."""
    mv = pmm.map_values(m, "pDist")
    out = []
    for r, row in enumerate(mv.rows[:, 0]):
        if not math.isnan(row) and not math.isnan(mv.values[r, 0]):
            out.append((r, int(row)))
        if len(out) == n:
            break
    assert len(out) == n
    return out


def test_edited_values_reach_old_package(
    old_pkg: OldPackage | str, f27a1_path: Path, tmp_path: Path
) -> None:
    pkg = require(old_pkg)
    m = pmm.load_map(f27a1_path)
    (r_p, row_p), (_, row_i), (_, row_bad) = _spine_cells(m, 3)
    before = pmm.map_values(m, "pDist").values[r_p, 0]
    assert before != 1.25
    m.db2[0].set_value(row_p, "pDist", 1.25)
    m.intensity[0][1].set_value(row_i, "sLen3d", 2.5)  # F27A_1's intensities are all NaN
    m.db2[0].set_value(row_bad, "isBad", 1)
    saved = m.save(tmp_path / "F27A_1")

    old = assert_same_in_old(pkg, saved, [*POSITION_STATS, "sLen3d_int1"])
    new = pmm.map_values(pmm.load_map(saved), "pDist")
    r_new = int(np.flatnonzero(new.rows[:, 0] == row_p)[0])
    assert old["values"]["pDist"]["None"][r_new][0] == 1.25
    r_int = int(np.flatnonzero(new.rows[:, 0] == row_i)[0])
    assert old["values"]["sLen3d_int1"]["None"][r_int][0] == 2.5
    # the row marked bad is gone from session 0 in both (plotBad=False / include_bad=False)
    assert not np.any(new.rows[:, 0] == row_bad)
    assert np.sum(~np.isnan(np.asarray(old["values"]["pDist"]["None"], dtype=float))[:, 0]) == 59


def _generate_demo(dest: Path) -> Path:
    """A generated 2-channel map without images (``pymapmanager.synthetic.maps``): its folder."""
    from pymapmanager.synthetic.maps import generate_map

    folder = generate_map(dest, name="demo", channels=2, images=False, seed=0)
    assert (folder / "demo.txt").is_file()
    return folder


def test_generated_demo_map_reads_the_same_in_old_package(
    old_pkg: OldPackage | str, tmp_path: Path
) -> None:
    pkg = require(old_pkg)
    folder = _generate_demo(tmp_path / "gen")
    m = pmm.load_map(folder)
    assert m.num_channels == 2
    assert_same_in_old(pkg, folder, DEMO_STATS)
    # and after a load/save round trip by the new library
    saved = m.save(tmp_path / "resaved" / "demo")
    old = assert_same_in_old(pkg, saved, DEMO_STATS)
    assert np.any(~np.isnan(np.asarray(old["values"]["ubssSum_int2"]["None"], dtype=float)))
