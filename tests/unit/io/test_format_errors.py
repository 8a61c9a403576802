"""Bad input gives a MapFormatError naming the file, the line and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

import pymapmanager as pmm
from pymapmanager.io.text import CsvTable, HeaderTable, LinkMap, Tracing
from tests.support.tinymap import write_tiny_map


def _edit(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, 1))


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    return write_tiny_map(tmp_path)


def test_truncated_db2(folder: Path) -> None:
    p = folder / "stackdb/tiny_s1_db2.txt"
    data = p.read_bytes()
    p.write_bytes(data[: data.rindex(b",4.0,") + 3])
    with pytest.raises(pmm.MapFormatError) as e:
        pmm.load_map(folder)
    assert e.value.path.endswith("tiny_s1_db2.txt")
    assert e.value.line == 6
    assert "truncated" in str(e.value)


def test_wrong_column_count(folder: Path) -> None:
    _edit(folder / "stackdb/tiny_s0_db2.txt", b"1,spineROI,0,2,2,2,1,0,", b"1,spineROI,0,2,2,2,1,0,99,")
    with pytest.raises(pmm.MapFormatError, match=r"tiny_s0_db2.txt:4: expected 13 values, found 14"):
        pmm.load_map(folder)


def test_text_in_number_column(folder: Path) -> None:
    _edit(folder / "stackdb/tiny_s2_db2.txt", b"1.25", b"abc")
    m = pmm.load_map(folder)  # structure is fine; the column is read on use
    with pytest.raises(pmm.MapFormatError, match=r"tiny_s2_db2.txt:4: column 'pDist' must hold numbers, found 'abc'"):
        pmm.map_values(m, "pDist")
    problems = m.validate()
    assert len(problems) == 1 and "tiny_s2_db2.txt:4" in problems[0]


def test_text_in_intensity_file(folder: Path) -> None:
    _edit(folder / "stackdb/tiny_s1_Int1.txt", b"301.000000", b"oops")
    m = pmm.load_map(folder)
    with pytest.raises(pmm.MapFormatError, match=r"tiny_s1_Int1.txt:5: column 'ubssSum' must hold numbers"):
        pmm.map_values(m, "ubssSum_int1")


def test_header_names_missing_db2(folder: Path) -> None:
    (folder / "stackdb/tiny_s2_db2.txt").unlink()
    with pytest.raises(pmm.MapFormatError, match=r"tiny_s2_db2.txt: the header names stack 'tiny_s2_ch1' for session 2"):
        pmm.load_map(folder)


def test_objmap_shape_mismatch(folder: Path) -> None:
    p = folder / "tiny_objMap.txt"
    _edit(p, b"rows=4;cols=3", b"rows=4;cols=2")
    with pytest.raises(pmm.MapFormatError, match=r"tiny_objMap.txt"):
        pmm.load_map(folder)


def test_objmap_missing_lines(folder: Path) -> None:
    p = folder / "tiny_objMap.txt"
    lines = p.read_bytes().split(b"\n")
    p.write_bytes(b"\n".join(lines[:20]) + b"\n")
    with pytest.raises(pmm.MapFormatError, match=r"tiny_objMap.txt:\d+: expected 48 data lines .* found 19 \(file truncated\?\)"):
        pmm.load_map(folder)


def test_objmap_text_value(folder: Path) -> None:
    p = folder / "tiny_objMap.txt"
    lines = p.read_bytes().split(b"\n")
    lines[3] = b"2\tx\t2"
    p.write_bytes(b"\n".join(lines))
    with pytest.raises(pmm.MapFormatError, match=r"tiny_objMap.txt:4: 'x' is not a number"):
        pmm.load_map(folder)


def test_objmap_links_past_table(folder: Path) -> None:
    p = folder / "tiny_objMap.txt"
    lines = p.read_bytes().split(b"\n")
    lines[4] = b"3\t3\t7"
    p.write_bytes(b"\n".join(lines))
    with pytest.raises(pmm.MapFormatError, match=r"session 2 links row 7 but tiny_s2_ch1 has only 4"):
        pmm.load_map(folder)


@pytest.mark.parametrize(
    "rel",
    ["tiny.txt", "tiny_objMap.txt", "stackdb/tiny_s0_db2.txt", "stackdb/tiny_s0_Int1.txt", "tiny_segMap.txt"],
)
def test_empty_file(folder: Path, rel: str) -> None:
    (folder / rel).write_bytes(b"")
    with pytest.raises(pmm.MapFormatError, match="empty") as e:
        pmm.load_map(folder)
    assert e.value.path.endswith(rel.split("/")[-1])


def test_missing_objmap(folder: Path) -> None:
    (folder / "tiny_objMap.txt").unlink()
    with pytest.raises(pmm.MapFormatError, match="tiny_objMap.txt: file is missing"):
        pmm.load_map(folder)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(pmm.MapNotFoundError, match="no such map folder"):
        pmm.load_map(tmp_path / "nothing")


def test_intensity_row_count_mismatch(folder: Path) -> None:
    p = folder / "stackdb/tiny_s0_Int1.txt"
    data = p.read_bytes()
    p.write_bytes(data[: data.index(b"3.000000,")])
    with pytest.raises(pmm.MapFormatError, match="has 3 rows but tiny_s0_db2.txt has 4"):
        pmm.load_map(folder)


def test_header_first_line_must_be_tabs() -> None:
    with pytest.raises(pmm.MapFormatError, match=":1: not a map header"):
        HeaderTable.parse("x\t\t\nhsStack\ta\n", "h.txt")


def test_linkmap_bad_header() -> None:
    with pytest.raises(pmm.MapFormatError, match=":1: the first line must give rows"):
        LinkMap.parse("nonsense\n1\t2\n", "o.txt")


def test_tracing_parse_and_errors() -> None:
    text = "\r".join(
        [
            "stack=a;numHeaderRow=1;",
            "Idx,start,stop,",
            "0,0,2,",
            "x,y,z,ID,sDist,pDist",
            "0,0,1,0,0,-1",
            "3,4,1,0,5,4",
            "3,4,3,0,7,6",
        ]
    ) + "\r"
    t = Tracing.parse(text, "l.txt")
    assert t.to_text() == text
    assert t.length(0, dz=1.0) == pytest.approx(7.0)
    assert list(t.segment_ids()) == [0]
    with pytest.raises(pmm.MapFormatError, match="numHeaderRow"):
        Tracing.parse("stack=a;\rx,y\r", "l.txt")
    with pytest.raises(pmm.MapFormatError, match="truncated"):
        Tracing.parse("stack=a;numHeaderRow=3;\rIdx,\r0,\r", "l.txt")
    bad = text.replace("3,4,1,0,5,4", "3,q,1,0,5,4")
    with pytest.raises(pmm.MapFormatError, match=r"l.txt:6: column 'y' must hold numbers"):
        Tracing.parse(bad, "l.txt").points.column("y")


def test_csv_build_and_set_value() -> None:
    t = CsvTable.build(["a", "b", "c"], {"a": [1, 2.5], "b": ["x", None], "c": [float("nan"), 3]}, meta={"k": "v"})
    assert t.to_text() == "k=v;\ra,b,c,\r1,x,NaN,\r2.5,,3,\r"
    t.set_value(1, "a", 7.25)
    t.set_value(0, "b", "y")
    assert t.to_text() == "k=v;\ra,b,c,\r1,y,NaN,\r7.25,,3,\r"
    assert t.data["a"][1] == 7.25
    with pytest.raises(ValueError):
        t.set_value(0, "b", "a,b")


def test_tracing_rows_with_trailing_comma_under_plain_column_line() -> None:
    """rr30a's line files: the point column line has no trailing comma, every row has one."""
    text = "\r".join(
        ["stack=a;numHeaderRow=1;", "Idx,start,", "0,0,", "x,y,z,ID", "0,0,1,0,", "3,4,1,0,"]
    ) + "\r"
    t = Tracing.parse(text, "l.txt")
    assert list(t.points.data["y"]) == [0.0, 4.0]
    assert t.length(0) == 5.0
    assert t.to_text() == text


def test_rows_whose_errors_balance_out_are_still_caught(folder: Path) -> None:
    """One row with a value too many and one with a value too few: the total looks right."""
    p = folder / "stackdb/tiny_s0_db2.txt"
    _edit(p, b"1,spineROI,0,2,2,2,1,0,", b"1,spineROI,0,2,2,2,1,0,7,")
    _edit(p, b"3,spineROI,0,4,4,4,1,1,", b"3,spineROI,0,4,4,4,1,")
    m = pmm.load_map(folder)
    with pytest.raises(pmm.MapFormatError, match=r"tiny_s0_db2.txt:4: expected 13 values, found 14"):
        pmm.map_values(m, "pDist")
