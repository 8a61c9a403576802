"""The hand-made broken maps of issue 7, each by name: one clear MapFormatError each."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import pymapmanager as pmm
from pymapmanager.errors import MapFormatError, MapHeaderMissingError, UnsafeMapPathError
from pymapmanager.model import map_files, map_folder_error
from tests.support.tinymap import write_tiny_map


def _header_set(folder: Path, row: str, value: str) -> None:
    p = folder / "tiny.txt"
    lines = p.read_text().split("\n")
    for k, line in enumerate(lines):
        if line.startswith(row + "\t"):
            cells = line.split("\t")
            cells[1] = value
            lines[k] = "\t".join(cells)
    p.write_text("\n".join(lines))


def _fails(folder: Path, match: str, cls: type[Exception] = MapFormatError) -> str:
    with pytest.raises(cls, match=match) as e:
        pmm.load_map(folder)
    msg = str(e.value)
    assert str(folder.parent) not in msg and not any(ord(c) < 32 for c in msg), msg
    return msg


CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "file_is_a_directory": (
        lambda f: ((f / "stackdb/tiny_s1_db2.txt").unlink(), (f / "stackdb/tiny_s1_db2.txt").mkdir()),
        r"stackdb/tiny_s1_db2.txt: is a folder, not a regular file",
    ),
    "nul_in_stack_name": (lambda f: _header_set(f, "hsStack", "tiny\x00_s0_ch1"), r"tiny.txt:\d+: holds the control character \\x00"),
    "numchannels_inf": (lambda f: _header_set(f, "numChannels", "inf"), "numChannels must be a whole number from 1 to 16, found 'inf'"),
    "numchannels_1e400": (lambda f: _header_set(f, "numChannels", "1e400"), "numChannels must be a whole number"),
    "numchannels_huge": (lambda f: _header_set(f, "numChannels", "1000000"), "numChannels must be a whole number from 1 to 16, found '1000000'"),
    "numchannels_negative": (lambda f: _header_set(f, "numChannels", "-2"), "numChannels must be a whole number"),
    "defaultchannel_inf": (lambda f: _header_set(f, "defaultChannel", "inf"), "defaultChannel must be a whole number"),
    "stackdb_symlink_loop": (
        lambda f: (shutil.rmtree(f / "stackdb"), os.symlink("stackdb", f / "stackdb")),
        "stackdb: is a symbolic link loop",
    ),
    "stackdb_plain_file": (
        lambda f: (shutil.rmtree(f / "stackdb"), (f / "stackdb").write_text("x")),
        "stackdb: is a file, not a folder",
    ),
    "absolute_stack_name": (lambda f: _header_set(f, "hsStack", "/etc/passwd"), "a stack name must be a plain name, not a path"),
    "dotdot_stack_name": (lambda f: _header_set(f, "hsStack", "../other/tiny_s0_ch1"), "a stack name must be a plain name"),
    "db2_symlink_outside": (
        lambda f: ((f / "stackdb/tiny_s0_db2.txt").unlink(), os.symlink("/etc/hostname", f / "stackdb/tiny_s0_db2.txt")),
        "stackdb/tiny_s0_db2.txt: is a symbolic link leading outside the map folder",
    ),
    "fifo": (
        lambda f: ((f / "tiny_segMap.txt").unlink(), os.mkfifo(f / "tiny_segMap.txt")),
        r"tiny_segMap.txt: is a FIFO \(named pipe\), not a regular file",
    ),
    "mixed_line_endings": (
        lambda f: (f / "stackdb/tiny_s0_db2.txt").write_bytes((f / "stackdb/tiny_s0_db2.txt").read_bytes().replace(b"\r", b"\n", 2)),
        "stackdb/tiny_s0_db2.txt:3: mixed line endings: this line ends with CR, the first with LF",
    ),
    "negative_sizes": (
        lambda f: (f / "tiny_objMap.txt").write_text((f / "tiny_objMap.txt").read_text().replace("rows=4;", "rows=-4294967298;")),
        r"tiny_objMap.txt:1: the first line must give rows=R;cols=S;blocks=B; as whole numbers \(0 to 10000000 for rows\), found rows='-4294967298'",
    ),
    "header_truncated": (
        lambda f: (f / "tiny.txt").write_bytes((f / "tiny.txt").read_bytes()[: len((f / "tiny.txt").read_bytes()) // 4]),
        r"tiny.txt(:\d+)?: (the header has no|the last row has)",
    ),
    "missing_int_table": (lambda f: (f / "stackdb/tiny_s1_Int1.txt").unlink(), "stackdb/tiny_s1_Int1.txt: is missing"),
    "objmap_index_3_7": (
        lambda f: (f / "tiny_objMap.txt").write_text((f / "tiny_objMap.txt").read_text().replace("\n1\t1\t1\n", "\n3.7\t1\t1\n", 1)),
        "tiny_objMap.txt:3: '3.7' is not a whole number",
    ),
    "duplicate_column": (
        lambda f: (f / "stackdb/tiny_s0_db2.txt").write_bytes((f / "stackdb/tiny_s0_db2.txt").read_bytes().replace(b"Idx,roiType", b"x,roiType")),
        "the column name 'x' appears twice",
    ),
    "empty_column": (
        lambda f: (f / "stackdb/tiny_s0_db2.txt").write_bytes((f / "stackdb/tiny_s0_db2.txt").read_bytes().replace(b"Idx,roiType", b",roiType")),
        "column 1 has no name",
    ),
    "db2_row_deleted": (
        lambda f: (f / "stackdb/tiny_s2_db2.txt").write_bytes(b"\r".join((f / "stackdb/tiny_s2_db2.txt").read_bytes().split(b"\r")[:-2]) + b"\r"),
        "(links row 3 but|rows but)",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_broken_map(tmp_path: Path, case: str) -> None:
    folder = write_tiny_map(tmp_path)
    pmm.load_map(folder)
    breaker, match = CASES[case]
    breaker(folder)
    result: dict[str, object] = {}

    def run() -> None:  # a FIFO must never block: run in a thread and give it 20 s
        try:
            result["msg"] = _fails(folder, match)
            result["problems"] = []
        except (AssertionError, Exception) as e:  # noqa: BLE001 - re-raised in the test thread
            result["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(20)
    assert not t.is_alive(), f"{case}: load_map blocked"
    if "error" in result:
        raise result["error"]  # type: ignore[misc]


def test_inf_coordinates_and_tracing_rows(tmp_path: Path) -> None:
    from pymapmanager.synthetic.maps import generate_map

    src = generate_map(tmp_path / "g", name="g", sessions=2, channels=1, images=False, spines_per_segment=3)
    db2 = src / "stackdb/g_s0_db2.txt"
    lines = db2.read_bytes().split(b"\r")
    cells = lines[3].split(b",")
    cells[3] = b"inf"
    lines[3] = b",".join(cells)
    db2.write_bytes(b"\r".join(lines))
    with pytest.raises(MapFormatError, match=r"stackdb/g_s0_db2.txt:4: column 'x' must hold finite numbers"):
        pmm.load_map(src).validate()
        pmm.load_map(src).db2[0].column("x")
    src2 = generate_map(tmp_path / "h", name="g", sessions=2, channels=1, images=False, spines_per_segment=3)
    line = src2 / "line/g_s0_l.txt"
    rows = line.read_bytes().split(b"\r")
    for label, new in (("deleted", rows[:6] + rows[7:]), ("duplicated", rows[:6] + [rows[6]] + rows[6:])):
        line.write_bytes(b"\r".join(new))
        m = pmm.load_map(src2)
        problems = m.validate()
        assert any("point rows deleted or duplicated" in p or "rows deleted" in p for p in problems), (label, problems)
        with pytest.raises(MapFormatError):
            pmm.load_map(src2).tracing(0)


def test_info_on_objmap_file_is_not_a_header(tmp_path: Path) -> None:
    folder = write_tiny_map(tmp_path)
    with pytest.raises(MapFormatError, match="tiny_objMap.txt: not a map header"):
        pmm.load_map(folder / "tiny_objMap.txt")


def test_renamed_folder_says_what_to_rename(tmp_path: Path) -> None:
    folder = write_tiny_map(tmp_path)
    moved = folder.rename(tmp_path / "fz005")
    err = map_folder_error(moved)
    assert isinstance(err, MapHeaderMissingError)
    assert "rename the folder to 'tiny'" in str(err) and str(tmp_path) not in str(err)
    with pytest.raises(MapHeaderMissingError, match="rename the folder to 'tiny'"):
        pmm.load_map(moved)
    assert map_folder_error(write_tiny_map(tmp_path / "ok")) is None


def test_symlinks_inside_the_folder_are_followed(tmp_path: Path) -> None:
    folder = write_tiny_map(tmp_path)
    before = pmm.load_map(folder).db2[0].column("pDist").tolist()
    (folder / "keep").mkdir()
    (folder / "stackdb/tiny_s0_db2.txt").rename(folder / "keep/s0.txt")
    os.symlink("../keep/s0.txt", folder / "stackdb/tiny_s0_db2.txt")
    assert pmm.load_map(folder).db2[0].column("pDist").tolist() == before
    files = map_files(folder)
    assert "stackdb/tiny_s0_db2.txt" in files and files["stackdb/tiny_s0_db2.txt"].size > 0
    assert "keep/s0.txt" not in files  # listed under the name the map reads


def test_map_files_lists_exactly_what_is_read(tmp_path: Path) -> None:
    folder = write_tiny_map(tmp_path)
    (folder / "notes.txt").write_text("not part of the map")
    files = map_files(folder)
    assert sorted(files) == sorted(
        ["tiny.txt", "tiny_objMap.txt", "tiny_segMap.txt"]
        + [f"stackdb/tiny_s{j}_{k}.txt" for j in range(3) for k in ("db2", "Int1")]
    )
    st = (folder / "tiny.txt").stat()
    assert files["tiny.txt"].size == st.st_size and files["tiny.txt"].mtime_ns == st.st_mtime_ns


def test_latin1_round_trip_and_edit(tmp_path: Path) -> None:
    folder = write_tiny_map(tmp_path)
    p = folder / "stackdb/tiny_s0_db2.txt"
    p.write_bytes(p.read_bytes().replace(b"bad one", b"caf\xe9 \xa0mac"))
    raw = {q: q.read_bytes() for q in folder.rglob("*.txt")}
    m = pmm.load_map(folder)
    m.save()
    assert {q: q.read_bytes() for q in folder.rglob("*.txt")} == raw  # unedited: byte-identical
    m = pmm.load_map(folder)
    m.db2[0].set_value(1, "note", "\u00e9t\u00e9")
    m.save()
    assert b"\xe9t\xe9" in p.read_bytes() and b"caf\xe9" in p.read_bytes()
    m = pmm.load_map(folder)
    with pytest.raises(ValueError, match="cannot be written in this file's encoding"):
        m.db2[0].set_value(1, "note", "\u20ac")


def test_real_map_saves_byte_identical(tmp_path: Path, f27a1: Path) -> None:
    src = f27a1
    m = pmm.load_map(src)
    assert m.validate(images=True) == []
    dest = m.save(tmp_path / src.name)
    for rel in map_files(src):
        assert (dest / rel).read_bytes() == (src / rel).read_bytes(), rel


def test_unsafe_errors_are_format_errors() -> None:
    assert issubclass(UnsafeMapPathError, MapFormatError) and issubclass(MapHeaderMissingError, MapFormatError)
