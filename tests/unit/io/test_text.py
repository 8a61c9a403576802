"""CsvTable: fields located with numpy give exactly what splitting rows gives.

``CsvTable`` reads an ASCII table by locating every comma and line end once and slicing
columns out between known offsets (small-integer columns are converted without slicing);
tables with other text are split row by row. Setting ``CsvTable._locate_fields = False``
forces the row-splitting path, the reference every test here compares with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from pymapmanager.errors import InvalidParameterError, MapFormatError
from pymapmanager.io.text import (
    CsvTable,
    Tracing,
    _float_column,
    _small_ints,
    read_text,
)


@contextmanager
def splitting_rows() -> Iterator[None]:
    """Every table read inside reads its columns by splitting rows."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(CsvTable, "_locate_fields", False)
        yield


def outcome(t: CsvTable, name: str) -> tuple[str, object]:
    """A column's dtype and values (NaN kept comparable), or the error it raises."""
    try:
        a = t.column(name)
    except MapFormatError as e:
        return ("error", str(e))
    if a.dtype == object:
        return ("object", a.tolist())
    assert a.dtype == np.float64
    return ("float64", [repr(float(v)) for v in a])  # repr: NaN == NaN, -0.0 != 0.0


def same_tables(read: Callable[[], CsvTable], *, located: bool = True) -> CsvTable:
    """Read a table both ways; every column (in file order and reversed) must agree."""
    t = read()
    with splitting_rows():
        ref = read()
        want = {c: outcome(ref, c) for c in ref.columns}
    assert t.columns == ref.columns and len(t) == len(ref)
    for c in reversed(t.columns):  # order of first use does not matter
        assert outcome(t, c) == want[c], c
    assert t.to_text() == ref.to_text()
    if located and len(t):
        assert t._reader().fields is not None  # really the located path
    return t


def tables_of(folder: Path) -> Iterator[tuple[Path, Callable[[], CsvTable]]]:
    """Every table file of a map (db2, Int, user, both tables of each tracing)."""
    for p in sorted((folder / "stackdb").glob("*.txt")):
        text = read_text(p)
        if p.name.endswith("_db2.txt"):
            yield p, lambda text=text, p=p: CsvTable.parse(text, p, numeric=("x", "y", "z", "pDist"))
        elif "_Int" in p.name:
            yield p, lambda text=text, p=p: CsvTable.parse(text, p, all_numeric=True)
        else:
            yield p, lambda text=text, p=p: CsvTable.parse(text, p, has_meta=False)
    for p in sorted((folder / "line").glob("*.txt")) if (folder / "line").is_dir() else []:
        text = read_text(p)
        yield p, lambda text=text, p=p: Tracing.parse(text, p).segments
        yield p, lambda text=text, p=p: Tracing.parse(text, p).points


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pymapmanager.synthetic.maps import generate_map

    tmp = tmp_path_factory.mktemp("demo")
    return generate_map(tmp, name="g", sessions=3, channels=2, shape=(4, 64, 64), images=False)


# --------------------------------------------------------------------------- whole maps


def test_every_table_of_a_generated_map(demo: Path) -> None:
    kinds = set()
    for p, read in tables_of(demo):
        t = same_tables(read)
        if p.parent.name == "stackdb":
            assert t.to_text() == read_text(p)
        kinds.add(p.parent.name + ("/Int" if "_Int" in p.name else "/" + p.stem.rsplit("_", 1)[-1]))
    assert {"stackdb/db2", "stackdb/Int", "line/l"} <= kinds
    for p in (demo / "line").glob("*.txt"):
        assert Tracing.parse(read_text(p), p).to_text() == read_text(p)


def test_every_table_of_f27a1(f27a1: Path) -> None:
    n = 0
    for p, read in tables_of(f27a1):
        t = same_tables(read)
        assert t.to_text() == read_text(p)
        n += 1
    assert n == 8  # 4 db2 and 4 Int1 tables


# --------------------------------------------------------------------------- line ends and text


@pytest.mark.parametrize("eol", ["\r", "\n", "\r\n"])
def test_line_ends(eol: str) -> None:
    rows = ["0,spineROI,1.5,,", "1,pivotPnt,NaN,1,", "2,spineROI,-2,0,"]
    text = eol.join(["a=1;", "Idx,roiType,pDist,isBad,", *rows]) + eol
    t = same_tables(lambda: CsvTable.parse(text, "t.txt"))
    assert t.eol == eol and t.to_text() == text
    assert t.column("isBad").tolist()[1:] == [1.0, 0.0] and np.isnan(t.column("isBad")[0])
    assert t.column("roiType").tolist() == ["spineROI", "pivotPnt", "spineROI"]
    # blank rows at the end are not rows; the text without a final line end round-trips
    assert len(CsvTable.parse(text + eol + eol, "t.txt")) == 3
    assert CsvTable.parse(text[: -len(eol)], "t.txt").to_text() == text[: -len(eol)]


def test_other_line_end_characters_stay_in_cells() -> None:
    """A CR file may hold a LF in a cell (and a CRLF file a lone CR): text, not a row end."""
    for eol, odd in (("\r", "\n"), ("\r\n", "\r"), ("\n", "\r")):
        text = eol.join(["a=1;", "n,note,", f"1,x{odd}y,", f"2,{odd},", "3,z,"]) + eol
        t = same_tables(lambda text=text, eol=eol: CsvTable.parse(text, "t.txt", eol=eol))
        assert t.column("note").tolist() == [f"x{odd}y", odd, "z"]
        assert t.to_text() == text


def test_non_ascii_notes_fall_back_to_splitting_rows() -> None:
    text = "a=1;\rIdx,note,x,\r0,caf\u00e9,1.5,\r1,,2,\r2,\u00b5m,,\r"
    t = same_tables(lambda: CsvTable.parse(text, "t.txt"), located=False)
    assert t._reader().cells is not None and t._reader().fields is None
    assert t.column("note").tolist() == ["caf\u00e9", "", "\u00b5m"]
    assert t.column("x")[:2].tolist() == [1.5, 2.0] and np.isnan(t.column("x")[2])
    assert t.to_text() == text
    # a Latin-1 file (Igor's notes) reads the same way
    raw = text.encode("latin-1")
    assert CsvTable.parse(raw.decode("latin-1"), "t.txt").column("note")[0] == "caf\u00e9"


# --------------------------------------------------------------------------- small integers


def one_column(cells: list[str]) -> CsvTable:
    return CsvTable.parse("\r".join(["a=1;", "x,c,y,", *(f"t,{c},1.5," for c in cells)]) + "\r", "t.txt")


@pytest.mark.parametrize(
    ("cells", "vectorised"),
    [
        ([], True),
        (["", "", ""], True),
        (["0", "1", "", "9"], True),
        (["NaN", "nan", "NAN", "nAn", "3", ""], True),
        (["10", "7", "123", "007", ""], True),
        (["123456789", "1"], True),
        (["1234567890", "1"], False),  # 10 digits: the float path
        (["-1", "0", "2"], False),  # negative: the float path
        (["1.0", "2"], False),
        (["1", " 2"], False),
        (["1", "+2"], False),
        (["1e3", "1"], False),
        (["inf", "1"], False),
        (["12", "na"], False),  # text: an object column
        (["spineROI", "pivotPnt"], False),
        (["1", "x"], False),
        (["7", "a"], False),
    ],
)
def test_small_integer_columns(cells: list[str], vectorised: bool) -> None:
    t = same_tables(lambda: one_column(cells))
    if cells:
        f = t._reader().fields
        assert f is not None
        start, end = f.bounds(1)
        got = _small_ints(f.buf, start, end)
        assert (got is not None) == vectorised
    want = _float_column(cells)  # the float path's answer for the same strings
    a = t.column("c")
    if want is None:
        assert a.dtype == object and a.tolist() == cells
    else:
        assert a.dtype == np.float64
        np.testing.assert_array_equal(a, want)


def test_small_integers_with_crlf_and_at_the_end_of_rows() -> None:
    text = "a=1;\r\nx,c\r\n1.5,12\r\n2.5,\r\n3.5,nan\r\n4.5,3"  # no trailing comma, no final line end
    t = same_tables(lambda: CsvTable.parse(text, "t.txt"))
    assert repr(t.column("c").tolist()) == "[12.0, nan, nan, 3.0]"
    assert t.to_text() == text


# --------------------------------------------------------------------------- value counts and errors


def test_wrong_number_of_values_is_found_at_parse_time() -> None:
    head = "a=1;\rA,B,C,\r"
    with pytest.raises(MapFormatError, match=r"t.txt:4: expected 3 values, found 4"):
        CsvTable.parse(head + "1,2,3,\r1,2,3,4,\r1,2,3,\r", "t.txt")
    with pytest.raises(MapFormatError, match=r"t.txt:5: expected 3 values, found 2 \(file truncated\?\)"):
        CsvTable.parse(head + "1,2,3,\r1,2,3,\r1,2\r", "t.txt")
    with pytest.raises(MapFormatError, match=r"t.txt:3: expected 3 values, found 1$"):
        CsvTable.parse(head + "1,\r1,2,3,\r", "t.txt")
    with splitting_rows(), pytest.raises(MapFormatError, match=r"t.txt:4: expected 3 values, found 4"):
        CsvTable.parse(head + "1,2,3,\r1,2,3,4,\r", "t.txt")
    non_ascii = head + "\u00e9,2,3,\r1,2,3,4,\r"
    with pytest.raises(MapFormatError, match=r"t.txt:4: expected 3 values, found 4"):
        CsvTable.parse(non_ascii, "t.txt")


@pytest.mark.parametrize("split", [False, True])
def test_rows_whose_errors_balance_out(split: bool) -> None:
    """One row a value short, the next one over: the count at parse time looks right."""
    text = "a=1;\rA,B,C,\r1,2,3,\r1,2,\r1,2,3,4,\r"
    text2 = "a=1;\rA,B,C,\r1,2,3,\r1,2,3,4,\r1,2,\r"
    for txt, line, found in ((text, 5, 4), (text2, 4, 4)):
        if split:
            with splitting_rows():
                t = CsvTable.parse(txt, "t.txt")
                with pytest.raises(MapFormatError, match=rf"t.txt:{line}: expected 3 values, found {found}"):
                    t.column("B")
        else:
            t = CsvTable.parse(txt, "t.txt")  # structure looks fine: nothing raised yet
            with pytest.raises(MapFormatError, match=rf"t.txt:{line}: expected 3 values, found {found}"):
                t.column("B")
        assert t.to_text() == txt


def test_rows_without_the_trailing_comma_and_rr30a_rows() -> None:
    # rows may lack the trailing comma the column line has
    t = same_tables(lambda: CsvTable.parse("a=1;\rA,B,\r1,2\r3,4,\r5,\r", "t.txt"))
    assert t.column("A").tolist() == [1.0, 3.0, 5.0]
    assert repr(t.column("B").tolist()) == "[2.0, 4.0, nan]"
    # rr30a: the column line has no trailing comma, every row ends with one
    text = "x,y,z,ID\r0,0,1,0,\r3,4,1,0,\r"
    t = same_tables(lambda: CsvTable.parse(text, "l.txt", has_meta=False))
    assert t.column("ID").tolist() == [0.0, 0.0] and t.column("y").tolist() == [0.0, 4.0]
    assert t.to_text() == text
    # but a row with one value too many still is one
    with pytest.raises(MapFormatError, match=r"l.txt:3: expected 4 values, found 5"):
        CsvTable.parse("x,y,z,ID\r0,0,1,0,\r3,4,1,0,9\r", "l.txt", has_meta=False)


@pytest.mark.parametrize("split", [False, True])
def test_text_in_a_number_column(split: bool) -> None:
    text = "a=1;\rIdx,x,note,\r0,1.5,,\r1,2.5,,\r2,abc,,\r3,4,,\r"
    if split:
        with splitting_rows():
            t = CsvTable.parse(text, "db.txt", numeric=("x",))
            t.column("Idx")
    else:
        t = CsvTable.parse(text, "db.txt", numeric=("x",))
    with pytest.raises(MapFormatError, match=r"db.txt:5: column 'x' must hold numbers, found 'abc'"):
        t.column("x")
    # the same column in a table that allows text is text
    assert CsvTable.parse(text, "db.txt").column("x").tolist() == ["1.5", "2.5", "abc", "4"]
    # line numbers count from the table's first line within its file (tracings)
    tr = "stack=a;numHeaderRow=1;\rIdx,start,\r0,0,\rx,y,z,ID\r0,0,1,0\r3,q,1,0\r"
    with pytest.raises(MapFormatError, match=r"l.txt:6: column 'y' must hold numbers, found 'q'"):
        Tracing.parse(tr, "l.txt").points.column("y")


def test_empty_tables_and_files() -> None:
    t = CsvTable.parse("a=1;\rA,B,\r", "t.txt")
    assert len(t) == 0 and t.column("A").dtype == np.float64 and t.column("A").size == 0
    assert t.to_text() == "a=1;\rA,B,\r"
    for bad, msg in (("", "empty"), ("\r", "empty"), ("a=1;", "column names are missing"),
                     ("nokey\rA,\r", "key=value"), ("a=1;\r\r", "column names are missing")):  # fmt: skip
        with pytest.raises(MapFormatError, match=msg):
            CsvTable.parse(bad, "t.txt", eol="\r")


# --------------------------------------------------------------------------- edits


def test_edits_keep_other_rows_and_later_columns_read_the_edited_text() -> None:
    text = "a=1;\rIdx,x,note,isBad,\r0,1.50,,,\r1,2.25,hi,1,\r2,3,,,\r"
    t = CsvTable.parse(text, "t.txt")
    assert t.column("x").tolist() == [1.5, 2.25, 3.0]  # fields located
    t.set_value(1, "x", 7.5)
    assert t.to_text() == "a=1;\rIdx,x,note,isBad,\r0,1.50,,,\r1,7.5,hi,1,\r2,3,,,\r"
    t.set_value(2, "note", "caf\u00e9")  # non-ASCII now: later columns split rows
    assert repr(t.column("isBad").tolist()) == "[nan, 1.0, nan]"
    assert t.column("note").tolist() == ["", "hi", "caf\u00e9"]
    t.set_value(0, "isBad", 1)
    assert t.lines == ["0,1.50,,1,", "1,7.5,hi,1,", "2,3,caf\u00e9,,"]
    assert t.to_text().endswith("\r0,1.50,,1,\r1,7.5,hi,1,\r2,3,caf\u00e9,,\r")
    # an all-empty column read as numbers becomes text when text is set
    t2 = CsvTable.parse(text, "t.txt")
    t2.set_value(0, "note", "x")
    assert t2.column("note").tolist() == ["x", "hi", ""]
    with pytest.raises(ValueError, match="comma"):
        t2.set_value(0, "note", "a,b")


def test_lines_given_out_are_the_text() -> None:
    t = CsvTable.parse("a=1;\rA,B,\r1,2,\r3,4,\r", "t.txt")
    assert t.column("A").tolist() == [1.0, 3.0]
    rows = t.lines
    rows.append("5,6,")
    assert len(t) == 3 and t.column("B").tolist() == [2.0, 4.0, 6.0]
    t.lines = ["9,8,"]
    assert len(t) == 1 and t.column("B").tolist() == [2.0, 4.0, 6.0]  # converted columns stay
    assert t.to_text() == "a=1;\rA,B,\r9,8,\r"


def test_build_and_restored() -> None:
    t = CsvTable.build(["a", "b"], {"a": [1, 2.5, None], "b": ["x", None, "y"]}, meta={"k": "v"})
    assert t.to_text() == "k=v;\ra,b,\r1,x,\r2.5,,\r,y,\r"
    same_tables(lambda: CsvTable.build(["a", "b"], {"a": [1, 2.5, None], "b": ["x", None, "y"]}))
    r = CsvTable.restored("p", "k=v;", ["a", "b"], {"a": t.column("a"), "b": t.column("b")}, 3)
    assert len(r) == 3 and r.column("b").tolist() == ["x", "", "y"]
    with pytest.raises(InvalidParameterError, match="restored without its text"):
        r.to_text()


def test_reading_rows_changes_nothing() -> None:
    """Reading the rows (``rows()``, ``lines``) keeps the reader of the text: no state changes."""
    t = CsvTable.parse("a=1;\rA,B,\r1,2,\r3,4,\r", "t.txt")
    t.column("A")
    reader = t._cache.reader
    assert reader is not None and reader.fields is not None
    assert t.rows() == ["1,2,", "3,4,"] and list(t.lines) == ["1,2,", "3,4,"] and t.lines[1] == "3,4,"
    assert t._cache.reader is reader  # still the located fields of the same text
    copy = t.rows()
    copy.append("5,6,")  # a copy: the table is unchanged
    assert len(t) == 2 and t.to_text() == "a=1;\rA,B,\r1,2,\r3,4,\r"


def test_the_lines_list_writes_through() -> None:
    t = CsvTable.parse("a=1;\rA,B,\r1,2,\r3,4,\r", "t.txt")
    rows = t.lines
    rows.insert(0, "0,0,")
    del rows[2]
    rows.extend(["5,6,", "7,8,"])
    rows[-1] = "9,9,"
    assert rows == ["0,0,", "1,2,", "5,6,", "9,9,"] and rows[1:3] == ["1,2,", "5,6,"]
    assert t.to_text() == "a=1;\rA,B,\r0,0,\r1,2,\r5,6,\r9,9,\r"
    assert t.column("B").tolist() == [0.0, 2.0, 6.0, 9.0]


def test_set_rows_reads_every_column_again() -> None:
    t = CsvTable.parse("a=1;\rA,B,\r1,2,\r3,4,\r", "t.txt")
    assert t.column("A").tolist() == [1.0, 3.0]
    t.set_rows(["7,8,"])
    assert len(t) == 1 and t.column("A").tolist() == [7.0] and t.column("B").tolist() == [8.0]
    assert t.to_text() == "a=1;\rA,B,\r7,8,\r"


@pytest.mark.parametrize("split", [False, True])
def test_a_refused_edit_changes_nothing(split: bool) -> None:
    text = "a=1;\rIdx,x,note,\r0,1.50,,\r1,2.25,hi,\r"
    with pytest.MonkeyPatch.context() as mp:
        if split:
            mp.setattr(CsvTable, "_locate_fields", False)
        t = CsvTable.parse(text, "t.txt", numeric=("x",), encoding="latin-1")
        before = {c: outcome(t, c) for c in t.columns}
        for row, col, value, err in ((0, "note", "a,b", ValueError), (1, "note", "x\ry", ValueError),
                                     (0, "x", "abc", ValueError), (0, "note", "\u20ac", ValueError),
                                     (5, "x", 1.0, IndexError), (0, "nope", 1.0, KeyError)):  # fmt: skip
            with pytest.raises(err):
                t.set_value(row, col, value)
            assert t.to_text() == text and {c: outcome(t, c) for c in t.columns} == before
        t.set_value(1, "note", "caf\u00e9")  # Latin-1 can write it
        assert t.to_text() == "a=1;\rIdx,x,note,\r0,1.50,,\r1,2.25,caf\u00e9,\r"


@pytest.mark.parametrize("eol", ["\r", "\n", "\r\n"])
@pytest.mark.parametrize("note", ["", "caf\u00e9"])
def test_editing_any_row_keeps_every_other_row(eol: str, note: str) -> None:
    """Rows replaced in place (first, middle, last, from the end) match splitting and joining."""
    rows = ["0,1.5,a,", f"1,2,{note},", "2,,x,", "3,4,y,"]
    t = CsvTable.parse(eol.join(["k=v;", "n,x,t,", *rows]) + eol, "t.txt", eol=eol)
    want = list(rows)
    for k, value in ((0, 9.5), (3, 7.0), (-2, 1.25), (1, 0.5), (-1, 8.0)):
        t.set_value(k, "x", value)
        cells = want[k].split(",")
        cells[1] = f"{value:g}"
        want[k] = ",".join(cells)
        assert t.rows() == want and [t._text.row(i) for i in range(-4, 4)] == want[-4:] + want
    assert t.to_text() == eol.join(["k=v;", "n,x,t,", *want]) + eol
    assert t.column("t").tolist() == ["a", note, "x", "y"]
    with pytest.raises(IndexError):
        t.set_value(4, "x", 1.0)
