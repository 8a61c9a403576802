"""Saving: byte-identical round trips, edits, atomic swap with a backup."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

import pymapmanager as pmm
from pymapmanager.io import writer
from pymapmanager.io.writer import backup_path
from tests.support.tinymap import write_tiny_map


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("eol", ["\r", "\n", "\r\n"])
def test_round_trip_is_byte_identical(tmp_path: Path, eol: str) -> None:
    src = write_tiny_map(tmp_path / "a", eol=eol)
    (src / "raw").mkdir()
    (src / "raw" / "tiny_s0_ch1.tif").write_bytes(b"II*\x00fake image bytes")
    out = pmm.load_map(src).save(tmp_path / "b" / "tiny")
    assert _digest(out) == _digest(src)


def test_f27a1_round_trip(f27a1: Path, tmp_path: Path) -> None:
    out = pmm.load_map(f27a1).save(tmp_path / "F27A_1")
    assert _digest(out) == _digest(f27a1)


def test_edit_changes_only_that_cell(tmp_path: Path) -> None:
    src = write_tiny_map(tmp_path)
    before = (src / "stackdb/tiny_s1_db2.txt").read_bytes()
    m = pmm.load_map(src)
    m.db2[1].set_value(2, "pDist", 3.75)
    m.db2[1].set_value(2, "note", "moved")
    m.header.set("mapCond", 0, "mc2")
    m.save()
    after = (src / "stackdb/tiny_s1_db2.txt").read_bytes()
    assert after == before.replace(b"2,spineROI,0,4,4,4,1,1,3,3,3.5,,,", b"2,spineROI,0,4,4,4,1,1,3,3,3.75,,moved,")
    m2 = pmm.load_map(src)
    assert m2.map_condition == "mc2"
    assert pmm.map_values(m2, "pDist").values[1, 1] == 3.75
    # the previous version is kept, complete
    old = pmm.load_map(backup_path(src) / "tiny.txt")
    assert old.map_condition == "mc1"
    assert pmm.map_values(old, "pDist").values[1, 1] == 3.5


def test_objmap_edit_is_written(tmp_path: Path) -> None:
    src = write_tiny_map(tmp_path)
    m = pmm.load_map(src)
    m.objmap.data[1, 2, 0] = 2  # link B (session 0 row 2) forward to row 2 of session 1
    m.save(backup=False)
    assert not backup_path(src).exists()
    lines = (src / "tiny_objMap.txt").read_text().splitlines()
    assert lines[1 + 4 + 2] == "2\tNAN\tNAN"
    assert lines[1] == "0\t0\t0"  # untouched rows keep their text


def test_save_failure_leaves_old_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = write_tiny_map(tmp_path)
    before = _digest(src)
    m = pmm.load_map(src)
    m.header.set("mapCond", 0, "changed")
    m.db2[0].set_value(1, "note", "changed too")
    calls = {"n": 0}
    real_write = writer._write_file

    def failing(path: Path, data: bytes, **kw: bool) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # only the two changed files are written
            raise OSError(28, "No space left on device")
        real_write(path, data, **kw)

    monkeypatch.setattr(writer, "_write_file", failing)
    with pytest.raises(OSError):
        m.save()
    assert _digest(src) == before
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "tiny"]
    assert leftovers == []


def test_images_are_hard_linked_not_copied(tmp_path: Path) -> None:
    src = write_tiny_map(tmp_path)
    (src / "raw").mkdir()
    img = src / "raw" / "tiny_s0_ch1.tif"
    img.write_bytes(b"x" * 1000)
    pmm.load_map(src).save()
    new = src / "raw" / "tiny_s0_ch1.tif"
    old = backup_path(src) / "raw" / "tiny_s0_ch1.tif"
    assert os.stat(new).st_ino == os.stat(old).st_ino


def test_save_to_wrong_folder_name(tmp_path: Path) -> None:
    m = pmm.load_map(write_tiny_map(tmp_path / "a"))
    (tmp_path / "b" / "other").mkdir(parents=True)
    (tmp_path / "b" / "other" / "other.txt").write_text("x")
    with pytest.raises(pmm.InvalidParameterError, match="must be saved in a folder named tiny"):
        m.save(tmp_path / "b" / "other")


def test_save_into_parent_folder(tmp_path: Path) -> None:
    m = pmm.load_map(write_tiny_map(tmp_path / "a"))
    (tmp_path / "b").mkdir()
    out = m.save(tmp_path / "b")
    assert out == (tmp_path / "b" / "tiny").resolve()
    np.testing.assert_array_equal(pmm.load_map(out).runs, m.runs)
