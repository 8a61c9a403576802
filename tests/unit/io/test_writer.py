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


def _inodes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): os.stat(p).st_ino for p in sorted(folder.rglob("*")) if p.is_file()}


def test_unchanged_files_are_shared_and_changed_ones_rewritten(tmp_path: Path) -> None:
    from pymapmanager.synthetic.maps import generate_map

    src = generate_map(tmp_path, name="g", sessions=3, channels=2, shape=(2, 16, 16), segments=1,
                       spines_per_segment=3, seed=1)  # fmt: skip
    pmm.load_map(src).save()
    before = {rel: (src / rel).read_bytes() for rel in _inodes(src)}
    m = pmm.load_map(src)
    m.db2[1].set_value(3, "note", "changed")
    expected = m.file_bytes()
    changed = {rel for rel, b in expected.items() if before[rel] != b}
    assert changed == {f"stackdb/{m.sessions[1].stack}_db2.txt"}
    ops: list[tuple[str, str, bool]] = []  # (operation, path relative to the stage, a folder?)

    def hook(op: str, path: str) -> None:
        p = Path(path)
        rel = p.relative_to(tmp_path).as_posix()
        if rel.startswith(".g.saving-"):
            rel = "/".join(["<stage>", *Path(rel).parts[1:]])
        ops.append((op, rel, p.is_dir()))

    writer.fault_hook = hook
    try:
        m.save()
    finally:
        writer.fault_hook = None
    new, old = _inodes(src), _inodes(backup_path(src))
    assert new.keys() == old.keys() == before.keys()
    for rel in new:
        data = (src / rel).read_bytes()
        if rel in changed:  # a new file; the backup keeps the old bytes
            assert new[rel] != old[rel] and data == expected[rel]
            assert (backup_path(src) / rel).read_bytes() == before[rel]
        else:  # the same file (text and images), byte-identical
            assert new[rel] == old[rel] and data == before[rel]
    # in the stage: the changed file written and fsynced, every other file linked and its
    # data written out; then the stage's folders fsynced, once each, after every file
    stage = [(op, rel[len("<stage>/"):], d) for op, rel, d in ops if rel.startswith("<stage>/")]
    assert {rel for op, rel, _ in stage if op == "write"} == changed
    assert {rel for op, rel, d in stage if op == "fsync" and not d} == changed
    assert {rel for op, rel, _ in stage if op == "link"} == {rel for op, rel, _ in stage if op == "flush"} == set(new) - changed
    last_file_op = max(i for i, (op, _, d) in enumerate(stage) if not d and op in ("write", "link", "flush", "fsync"))
    dir_syncs = [(i, rel) for i, (op, rel, d) in enumerate(stage) if op == "fsync" and d]
    assert sorted(rel for _, rel in dir_syncs) == sorted({str(Path(r).parent) for r in new} - {"."})
    assert min(i for i, _ in dir_syncs) > last_file_op
    assert ("fsync", "<stage>", True) in ops


def test_a_file_that_cannot_be_linked_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = write_tiny_map(tmp_path / "a")
    before = _digest(src)

    def no_link(a: object, b: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(writer.os, "link", no_link)
    out = pmm.load_map(src).save(tmp_path / "b" / "tiny")
    assert _digest(out) == before
    assert not set(_inodes(out).values()) & set(_inodes(src).values())


def test_write_files_links_what_is_the_same(tmp_path: Path) -> None:
    a = tmp_path / "a"
    assert writer.write_files(a, {"x.txt": b"1", "s/y.txt": b"2", "s/t/z.txt": b"3"}) == {"written": 3, "linked": 0}
    other = tmp_path / "other"
    other.mkdir()
    (other / "w.txt").write_bytes(b"4")
    files = {"x.txt": b"1", "s/y.txt": b"changed", "s/t/z.txt": b"3", "w.txt": b"4", "n.txt": b"5"}
    b = tmp_path / "deep" / "er" / "b"
    assert writer.write_files(b, files, same_as=[a, other]) == {"written": 2, "linked": 3}
    assert {p.relative_to(b).as_posix(): p.read_bytes() for p in b.rglob("*") if p.is_file()} == files
    assert os.stat(b / "x.txt").st_ino == os.stat(a / "x.txt").st_ino
    assert os.stat(b / "s/t/z.txt").st_ino == os.stat(a / "s/t/z.txt").st_ino
    assert os.stat(b / "w.txt").st_ino == os.stat(other / "w.txt").st_ino
    assert os.stat(b / "s/y.txt").st_ino != os.stat(a / "s/y.txt").st_ino
    assert (a / "s/y.txt").read_bytes() == b"2"


def test_save_links_from_same_as(tmp_path: Path) -> None:
    src = write_tiny_map(tmp_path / "maps")
    m = pmm.load_map(src)
    m.header.set("mapCond", 0, "mc9")
    copy = tmp_path / "copy"
    writer.write_files(copy, m.file_bytes())
    writer.save_map(m, same_as=[copy])
    for rel, ino in _inodes(copy).items():
        assert os.stat(src / rel).st_ino == ino, rel
    assert pmm.load_map(src).map_condition == "mc9"


def test_files_under_a_linked_folder_are_written_not_shared(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    writer.write_files(outside, {"y.txt": b"2"})
    a = tmp_path / "a"
    writer.write_files(a, {"x.txt": b"1"})
    (a / "s").symlink_to(outside)
    b = tmp_path / "b"
    assert writer.write_files(b, {"x.txt": b"1", "s/y.txt": b"2"}, same_as=[a]) == {"written": 1, "linked": 1}
    assert os.stat(b / "s" / "y.txt").st_ino != os.stat(outside / "y.txt").st_ino
    assert (b / "s" / "y.txt").read_bytes() == b"2"
