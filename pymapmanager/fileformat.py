"""Text-level reading and writing of the files in a Map Manager map folder.

Every reader here keeps what it needs to write the file back **byte-identical** when
nothing was changed: the line ending, whether the file ends with one, the exact text of
every header row and cell, and the exact text of every table row. Typed values (numpy
arrays) are parsed from that text; an edit changes both the typed value and the text of
that one cell, so rows nobody touched keep their original number formatting.

The file kinds are described in ``FORMAT.md``:

* :class:`HeaderTable`: ``<map>.txt`` (tab separated, rows of per-session cells)
* :class:`LinkMap`: ``<map>_objMap.txt`` and ``<map>_segMap.txt`` (3D arrays)
* :class:`CsvTable`: ``stackdb/*_db2.txt``, ``*_Int<c>.txt``, ``*_user.txt``
* :class:`Tracing`: ``line/*_l.txt`` (segment table + point table)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import MapFormatError

__all__ = [
    "CsvTable",
    "HeaderTable",
    "LinkMap",
    "Tracing",
    "detect_eol",
    "format_number",
    "parse_key_values",
    "read_text",
    "split_lines",
]


# --------------------------------------------------------------------------- text helpers


def read_text(path: str | Path) -> str:
    """Read a whole file as text (Latin-1 safe: Igor writes Mac Roman / Latin-1 notes).

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    str
        The file's text, line ends untouched.
    """
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def detect_eol(text: str) -> str:
    r"""Return the line ending used by ``text``: ``"\r\n"``, ``"\r"`` or ``"\n"``."""
    if "\r\n" in text:
        return "\r\n"
    if "\r" in text:
        return "\r"
    return "\n"


def split_lines(text: str, eol: str | None = None) -> tuple[list[str], str, bool]:
    """Split ``text`` into lines.

    Returns
    -------
    lines : list of str
        The lines without their ending.
    eol : str
        The line ending found (or given).
    final_eol : bool
        Whether the text ends with a line ending.
    """
    if eol is None:
        eol = detect_eol(text)
    final = text.endswith(eol)
    body = text[: -len(eol)] if final else text
    lines = body.split(eol) if body else []
    return lines, eol, final


def join_lines(lines: Sequence[str], eol: str, final_eol: bool) -> str:
    """Inverse of :func:`split_lines`."""
    text = eol.join(lines)
    if final_eol and lines:
        text += eol
    return text


def parse_key_values(line: str) -> dict[str, str]:
    """Parse a ``key=value;key=value;`` header line (empty items are ignored)."""
    out: dict[str, str] = {}
    for item in line.split(";"):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if sep:
            out[key.strip()] = value
    return out


def format_number(value: float, fmt: str = "%g") -> str:
    """Format a number the way Igor writes it: ``NaN`` for missing, integers plain.

    Parameters
    ----------
    value : float
        The value.
    fmt : str
        printf-style format for non-integers (``"%g"``; Igor's tables often use ``"%f"``).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NaN"
    fv = float(value)
    if math.isinf(fv):
        return "Inf" if fv > 0 else "-Inf"
    if fmt == "%g" and fv.is_integer() and abs(fv) < 1e15:
        return str(int(fv))
    return fmt % fv


def _float_column(values: Sequence[str]) -> np.ndarray | None:
    """Convert strings to float64 (empty -> NaN); ``None`` if any cell is not a number."""
    try:
        if "" in values:
            return np.array([v if v else "nan" for v in values], dtype=np.float64)
        return np.array(values, dtype=np.float64)
    except ValueError:
        return None


def _fast_numbers(text: str, count: int) -> np.ndarray | None:
    """Parse ``count`` tab-separated numbers (``NAN`` allowed); None if anything is off."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            arr = np.fromstring(text, sep="\t")
        except (ValueError, DeprecationWarning):
            return None
    return arr if arr.size == count else None


def _first_bad_number(values: Sequence[str]) -> int:
    for i, v in enumerate(values):
        if v == "":
            continue
        try:
            float(v)
        except ValueError:
            return i
    return -1


# --------------------------------------------------------------------------- header table


@dataclass
class HeaderTable:
    """The map header ``<map>.txt``: named rows of string cells, one cell per session.

    The first line (only tabs) fixes the width. Rows keep their order and exact cells, so
    :meth:`to_text` returns the file unchanged unless a cell was set.
    """

    path: str
    first_line: str
    rows: list[tuple[str, list[str]]]
    eol: str = "\n"
    final_eol: bool = True
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index = {}
        for i, (name, _cells) in enumerate(self.rows):
            self._index.setdefault(name, i)

    @classmethod
    def parse(cls, text: str, path: str | Path = "<header>") -> HeaderTable:
        """Parse the text of a header file."""
        lines, eol, final = split_lines(text)
        if not lines or not any(line.strip() for line in lines):
            raise MapFormatError(path, "the header file is empty")
        first = lines[0]
        if first.strip("\t ") != "":
            raise MapFormatError(path, "the first line must contain only tabs", 1)
        rows: list[tuple[str, list[str]]] = []
        for line in lines[1:]:
            if line == "":
                rows.append(("", []))
                continue
            parts = line.split("\t")
            rows.append((parts[0], parts[1:]))
        return cls(str(path), first, rows, eol, final)

    def to_text(self) -> str:
        """Serialise back to the file's text."""
        lines = [self.first_line]
        for name, cells in self.rows:
            lines.append(name if not cells and name == "" else "\t".join([name, *cells]))
        return join_lines(lines, self.eol, self.final_eol)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def cells(self, name: str) -> list[str]:
        """All cells of row ``name`` (empty list when the row is absent)."""
        i = self._index.get(name)
        return [] if i is None else self.rows[i][1]

    def get(self, name: str, column: int = 0, default: str = "") -> str:
        """One cell of a row, or ``default`` when the row or cell is absent."""
        cells = self.cells(name)
        if column < len(cells):
            return cells[column]
        return default

    def set(self, name: str, column: int, value: str) -> None:
        """Set one cell, padding the row (and adding it at the end) as needed."""
        i = self._index.get(name)
        if i is None:
            width = self.width
            self.rows.append((name, [""] * width))
            i = len(self.rows) - 1
            self._index[name] = i
        cells = self.rows[i][1]
        while len(cells) <= column:
            cells.append("")
        cells[column] = value

    @property
    def width(self) -> int:
        """Number of session columns the file is padded to."""
        return max(self.first_line.count("\t"), 1)

    def row_names(self) -> list[str]:
        """Names of every row, in file order."""
        return [name for name, _ in self.rows]


# --------------------------------------------------------------------------- link maps


_BLOCK_NAMES = (
    "idx",
    "next",
    "nextTP",
    "prev",
    "prevTP",
    "blank",
    "runIdx",
    "dynType",
    "forced",
    "nodeType",
    "segmentID",
    "splitIdx",
)


@dataclass
class LinkMap:
    """``objMap`` / ``segMap``: a (blocks, rows, sessions) float array, NaN for none.

    ``data[b, i, j]`` is block ``b`` of row ``i`` in session ``j``. Block indices follow
    ``blockNames`` in the header line (``idx=0, next=1, nextTP=2, prev=3, prevTP=4,
    runIdx=6, dynType=7, nodeType=9, segmentID=10``).
    """

    path: str
    header_line: str
    data: np.ndarray
    eol: str = "\n"
    final_eol: bool = True
    _lines: list[str] = field(default_factory=list, repr=False)
    _source: np.ndarray | None = field(default=None, repr=False)

    IDX = 0
    NEXT = 1
    NEXT_TP = 2
    PREV = 3
    PREV_TP = 4
    RUN_IDX = 6
    DYN_TYPE = 7
    NODE_TYPE = 9
    SEGMENT_ID = 10

    @property
    def shape(self) -> tuple[int, int, int]:
        """(blocks, rows, sessions)."""
        b, r, s = self.data.shape
        return int(b), int(r), int(s)

    @classmethod
    def parse(cls, text: str, path: str | Path = "<objMap>") -> LinkMap:
        """Parse an objMap/segMap file."""
        lines, eol, final = split_lines(text)
        if not lines or not lines[0].strip():
            raise MapFormatError(path, "the file is empty")
        meta = parse_key_values(lines[0])
        try:
            rows, cols, blocks = int(meta["rows"]), int(meta["cols"]), int(meta["blocks"])
        except (KeyError, ValueError):
            raise MapFormatError(
                path, "the first line must give rows=R;cols=S;blocks=B;", 1
            ) from None
        body = lines[1:]
        expected = rows * blocks
        # trailing blank lines are tolerated (some writers add one)
        while len(body) > expected and body[-1].strip() == "":
            body = body[:-1]
        if len(body) != expected:
            raise MapFormatError(
                path,
                f"expected {expected} data lines ({blocks} blocks x {rows} rows), found {len(body)}"
                + (" (file truncated?)" if len(body) < expected else ""),
                len(body) + 2 if len(body) < expected else expected + 2,
            )
        if expected == 0:
            data = np.full((blocks, 0, cols), np.nan)
        else:
            arr = _fast_numbers("\t".join(body), expected * cols)
            if arr is None:
                for n, line in enumerate(body, start=2):
                    cells = line.split("\t")
                    if len(cells) != cols:
                        raise MapFormatError(
                            path, f"expected {cols} tab-separated values, found {len(cells)}", n
                        )
                    bad = _first_bad_number(cells)
                    if bad >= 0:
                        raise MapFormatError(path, f"'{cells[bad]}' is not a number", n)
                raise MapFormatError(path, "could not read the numbers")  # pragma: no cover
            data = arr.reshape(blocks, rows, cols)
        return cls(str(path), lines[0], data, eol, final, list(body), data.copy())

    @classmethod
    def empty(cls, sessions: int, blocks: int = 12, path: str = "<new>") -> LinkMap:
        """A link map with no rows."""
        names = ",".join(_BLOCK_NAMES[:blocks])
        header = f"rows=0;cols={sessions};blocks={blocks};blockNames={names};"
        data = np.full((blocks, 0, sessions), np.nan)
        return cls(path, header, data, "\n", True, [], data.copy())

    def to_text(self) -> str:
        """Serialise; rows whose numbers did not change keep their original text."""
        b, r, s = self.shape
        meta = parse_key_values(self.header_line)
        header = self.header_line
        if meta.get("rows") != str(r) or meta.get("cols") != str(s) or meta.get("blocks") != str(b):
            meta.update(rows=str(r), cols=str(s), blocks=str(b))
            header = "".join(f"{k}={v};" for k, v in meta.items())
        src = self._source
        same_shape = src is not None and src.shape == self.data.shape and len(self._lines) == b * r
        lines = [header]
        flat = self.data.reshape(b * r, s)
        src_flat = src.reshape(b * r, s) if same_shape and src is not None else None
        for k in range(b * r):
            row = flat[k]
            if src_flat is not None and np.array_equal(row, src_flat[k], equal_nan=True):
                lines.append(self._lines[k])
            else:
                lines.append("\t".join("NAN" if math.isnan(v) else format_number(v) for v in row))
        return join_lines(lines, self.eol, self.final_eol)


# --------------------------------------------------------------------------- csv tables


class _Columns(Mapping[str, np.ndarray]):
    """Read-only mapping column -> typed array; each column is converted on first use."""

    def __init__(self, table: CsvTable) -> None:
        self._t = table

    def __getitem__(self, name: str) -> np.ndarray:
        return self._t.column(name)

    def __contains__(self, name: object) -> bool:
        return name in self._t._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._t.columns)

    def __len__(self) -> int:
        return len(self._t.columns)


@dataclass
class CsvTable:
    """A comma separated table with an optional ``key=value;`` line above the column names.

    Used for ``db2``, ``Int<c>``, ``user`` files and for both tables of a tracing.
    ``columns`` keeps the file's order; ``data`` maps a column to a float64 array (numbers)
    or an object array of str (text), converted from the text on first use. ``lines`` are
    the rows' exact text.
    """

    path: str
    meta_line: str | None
    columns: list[str]
    lines: list[str]
    trailing_comma: bool = True
    eol: str = "\r"
    final_eol: bool = True
    column_line: str = ""
    numeric: frozenset[str] = frozenset()
    all_numeric: bool = False
    first_row_line: int = 3
    _cells: list[tuple[str, ...]] | None = field(default=None, repr=False)
    _typed: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index = {}
        for i, c in enumerate(self.columns):
            self._index.setdefault(c, i)

    @property
    def meta(self) -> dict[str, str]:
        """The ``key=value`` pairs of the first line (empty when there is none)."""
        return parse_key_values(self.meta_line) if self.meta_line else {}

    @property
    def data(self) -> _Columns:
        """Mapping column -> typed array (float64, or object for text columns)."""
        return _Columns(self)

    def __len__(self) -> int:
        return len(self.lines)

    def _column_cells(self, c: int) -> tuple[str, ...]:
        if self._cells is None:
            n = len(self.columns)
            if self.lines:
                rows = [r.split(",") for r in self.lines]
                for r in rows:
                    if len(r) < n:
                        r.extend([""] * (n - len(r)))
                self._cells = list(zip(*rows, strict=False))[:n]
            else:
                self._cells = [() for _ in range(n)]
        return self._cells[c]

    def column(self, name: str) -> np.ndarray:
        """One column as a typed array (cached).

        Raises
        ------
        KeyError
            No such column.
        MapFormatError
            The column must hold numbers and a cell does not.
        """
        arr = self._typed.get(name)
        if arr is not None:
            return arr
        c = self._index[name]
        values = self._column_cells(c)
        conv = _float_column(values)
        if conv is None:
            if self.all_numeric or name in self.numeric:
                bad = _first_bad_number(values)
                raise MapFormatError(
                    self.path,
                    f"column '{name}' must hold numbers, found '{values[bad]}'",
                    self.first_row_line + bad,
                )
            conv = np.array(values, dtype=object)
        self._typed[name] = conv
        return conv

    def validate(self) -> None:
        """Convert every column now (raises :class:`MapFormatError` on text in numbers)."""
        for name in self.columns:
            self.column(name)

    @classmethod
    def parse(
        cls,
        text: str,
        path: str | Path = "<table>",
        *,
        has_meta: bool = True,
        numeric: Iterable[str] = (),
        all_numeric: bool = False,
        first_line_number: int = 1,
        eol: str | None = None,
    ) -> CsvTable:
        """Parse a table (structure now, typed columns on first use).

        Parameters
        ----------
        text : str
            The file text (or a slice of it, for tracings).
        path : str or Path
            Used in error messages.
        has_meta : bool
            Whether the first line is a ``key=value;`` line.
        numeric : iterable of str
            Columns that must hold numbers: text there is a :class:`MapFormatError`.
        all_numeric : bool
            Every column must hold numbers.
        first_line_number : int
            Line number of ``text``'s first line within the file (for messages).
        """
        lines, eol, final = split_lines(text, eol)
        if not lines or (len(lines) == 1 and not lines[0].strip()):
            raise MapFormatError(path, "the file is empty")
        meta_line: str | None = None
        pos = 0
        if has_meta:
            meta_line = lines[0]
            if "=" not in meta_line:
                raise MapFormatError(
                    path, "the first line must be a key=value; header", first_line_number
                )
            pos = 1
        if pos >= len(lines):
            raise MapFormatError(path, "the column names are missing (file truncated?)")
        column_line = lines[pos]
        names = column_line.split(",")
        trailing = names[-1] == "" and len(names) > 1
        if trailing:
            names = names[:-1]
        if not names or names == [""]:
            raise MapFormatError(path, "the column names are missing", first_line_number + pos)
        rows = lines[pos + 1 :]
        while rows and rows[-1] == "":
            rows = rows[:-1]
        ncomma = len(names) - 1 + (1 if trailing else 0)
        first_row = first_line_number + pos + 1
        for k, r in enumerate(rows):
            nc = r.count(",")
            # rows may lack the column line's trailing comma, or end with one it lacks
            # (rr30a-style tracings: "...,pDist3d" over rows "...,-42.24,")
            if (
                nc != ncomma
                and not (trailing and nc == ncomma - 1)
                and not (not trailing and nc == ncomma + 1 and r.endswith(","))
            ):
                found = nc + 1 - (1 if trailing and r.endswith(",") else 0)
                raise MapFormatError(
                    path,
                    f"expected {len(names)} values, found {found}"
                    + (" (file truncated?)" if k == len(rows) - 1 and found < len(names) else ""),
                    first_row + k,
                )
        t = cls(
            str(path),
            meta_line,
            names,
            list(rows),
            trailing,
            eol,
            final,
            column_line,
            frozenset(numeric),
            all_numeric,
            first_row,
        )
        return t

    def to_text(self) -> str:
        """Serialise back to text."""
        out: list[str] = []
        if self.meta_line is not None:
            out.append(self.meta_line)
        out.append(self.column_line or ",".join(self.columns) + ("," if self.trailing_comma else ""))
        out.extend(self.lines)
        return join_lines(out, self.eol, self.final_eol)

    def set_value(self, row: int, column: str, value: object, fmt: str = "%g") -> None:
        """Set one cell, updating the typed array and that row's text."""
        c = self._index[column]
        arr = self.column(column)
        if isinstance(value, str) and arr.dtype != object and value != "":
            try:
                float(value)
            except ValueError:
                if self.all_numeric or column in self.numeric:
                    raise ValueError(f"column '{column}' holds numbers, not '{value}'") from None
                # an all-empty column was read as numbers: it becomes a text column
                arr = np.array(self._column_cells(c), dtype=object)
                self._typed[column] = arr
        if arr.dtype == object:
            text = "" if value is None else str(value)
            arr[row] = text
        else:
            fv = float(value) if value is not None and value != "" else math.nan  # type: ignore[arg-type]
            arr[row] = fv
            text = format_number(fv, fmt)
        if "," in text:
            raise ValueError("a value may not contain a comma")
        cells = self.lines[row].split(",")
        cells[c] = text
        self.lines[row] = ",".join(cells)
        self._cells = None

    @classmethod
    def build(
        cls,
        columns: Sequence[str],
        values: dict[str, Sequence[object]],
        *,
        meta: dict[str, str] | None = None,
        formats: dict[str, str] | None = None,
        default_format: str = "%g",
        trailing_comma: bool = True,
        eol: str = "\r",
        path: str = "<new>",
    ) -> CsvTable:
        """Build a new table from columns of values (used by writers and generators).

        Numbers are written with ``formats[column]`` (default ``default_format``), NaN as
        ``NaN``; str and None are written as text (None as an empty cell).
        """
        formats = formats or {}
        n = len(next(iter(values.values()))) if values else 0
        text_cols: list[list[str]] = []
        for name in columns:
            col = values.get(name, [None] * n)
            fmt = formats.get(name, default_format)
            cells: list[str] = []
            for v in col:
                if v is None:
                    cells.append("")
                elif isinstance(v, str):
                    cells.append(v)
                else:
                    cells.append(format_number(float(v), fmt))  # type: ignore[arg-type]
            text_cols.append(cells)
        tail = "," if trailing_comma else ""
        lines = [",".join(r) + tail for r in zip(*text_cols, strict=True)] if columns else []
        meta_line = None if meta is None else "".join(f"{k}={v};" for k, v in meta.items())
        text = join_lines(
            ([meta_line] if meta_line is not None else [])
            + [",".join(columns) + tail]
            + lines,
            eol,
            True,
        )
        return cls.parse(text, path, has_meta=meta is not None, eol=eol)


# --------------------------------------------------------------------------- tracing


@dataclass
class Tracing:
    """A dendrite tracing ``line/<stack>_l.txt``: a segment table and a point table.

    ``points`` has at least ``x, y`` (µm), ``z`` (slice), ``ID`` (segment), ``sDist``,
    ``pDist``.
    """

    path: str
    meta_line: str
    segments: CsvTable
    points: CsvTable
    eol: str = "\r"
    final_eol: bool = True

    @classmethod
    def parse(cls, text: str, path: str | Path = "<line>") -> Tracing:
        """Parse a tracing file."""
        lines, eol, final = split_lines(text)
        if not lines or not lines[0].strip():
            raise MapFormatError(path, "the file is empty")
        meta = parse_key_values(lines[0])
        try:
            nseg = int(meta["numHeaderRow"])
        except (KeyError, ValueError):
            raise MapFormatError(path, "the first line must give numHeaderRow=N;", 1) from None
        if len(lines) < 2 + nseg + 1:
            raise MapFormatError(
                path, f"expected {nseg} segment rows and a point table (file truncated?)"
            )
        seg_text = eol.join(lines[1 : 2 + nseg])
        segments = CsvTable.parse(
            seg_text, path, has_meta=False, first_line_number=2, eol=eol
        )
        pt_text = eol.join(lines[2 + nseg :])
        points = CsvTable.parse(
            pt_text,
            path,
            has_meta=False,
            numeric=("x", "y", "z", "ID", "sDist", "pDist"),
            first_line_number=3 + nseg,
            eol=eol,
        )
        for col in ("x", "y", "z", "ID"):
            if col not in points.data:
                raise MapFormatError(path, f"the point table has no '{col}' column", 3 + nseg)
        segments.final_eol = points.final_eol = False
        return cls(str(path), lines[0], segments, points, eol, final)

    def to_text(self) -> str:
        """Serialise back to text."""
        parts = [self.meta_line, self.segments.to_text(), self.points.to_text()]
        return join_lines(parts, self.eol, self.final_eol)

    def segment_ids(self) -> np.ndarray:
        """Sorted unique segment IDs present in the point table."""
        ids = self.points.data["ID"]
        ids = ids[~np.isnan(ids)]
        return np.unique(ids).astype(int)

    def xyz(self, segment: int | None = None) -> np.ndarray:
        """Points as an (n, 3) array of x µm, y µm, z slice; one segment or all."""
        d = self.points.data
        xyz = np.column_stack([d["x"], d["y"], d["z"]])
        if segment is None:
            return xyz
        return xyz[d["ID"] == segment]

    def length(self, segment: int, dz: float = 1.0) -> float:
        """3D length in µm of one segment (z converted with ``dz`` µm per slice)."""
        xyz = self.xyz(segment).astype(float).copy()
        if len(xyz) < 2:
            return 0.0
        xyz[:, 2] *= dz
        steps = np.diff(xyz, axis=0)
        return float(np.sqrt((steps**2).sum(axis=1)).sum())
