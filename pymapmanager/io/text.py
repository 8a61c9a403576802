"""Text-level reading and writing of the files in a Map Manager map folder.

Every reader here keeps what it needs to write the file back **byte-identical** when
nothing was changed: the line ending, whether the file ends with one, the exact text of
every header row and cell, and the exact text of every table row. Typed values (numpy
arrays) are parsed from that text; an edit changes both the typed value and the text of
that one cell, so rows nobody touched keep their original number formatting.

The file kinds are described in ``docs/format.md`` (the documentation site's "The map folder"):

* :class:`HeaderTable`: ``<map>.txt`` (tab separated, rows of per-session cells)
* :class:`LinkMap`: ``<map>_objMap.txt`` and ``<map>_segMap.txt`` (3D arrays)
* :class:`CsvTable`: ``stackdb/*_db2.txt``, ``*_Int<c>.txt``, ``*_user.txt``
* :class:`Tracing`: ``line/*_l.txt`` (segment table + point table)
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping, MutableSequence, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import ClassVar, overload

import numpy as np

from ..errors import InvalidParameterError, MapFormatError, printable
from .folder import decode

__all__ = [
    "MAX_BLOCKS",
    "MAX_SESSIONS",
    "CsvTable",
    "HeaderTable",
    "LinkMap",
    "Tracing",
    "check_eol",
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
    with open(path, "rb") as fh:
        data = fh.read()
    return decode(data)[0]


#: Most sessions (columns of a link map) a map may have.
MAX_SESSIONS = 10_000
#: Most blocks a link map may have (the format defines 12).
MAX_BLOCKS = 64
#: Most rows (objects or segments) a link map may have per session.
MAX_LINK_ROWS = 10_000_000

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _control_problem(text: str) -> str | None:
    """A message when ``text`` holds control characters other than tab/CR/LF."""
    m = _CONTROL_RE.search(text)
    if m is None:
        return None
    return f"holds the control character {printable(m.group())} (a damaged file?)"


def check_eol(text: str, eol: str, path: str | Path) -> None:
    r"""Raise when ``text`` mixes line endings (``eol`` is the one found first).

    Parameters
    ----------
    text : str
        A file's text.
    eol : str
        Its line ending, ``"\n"``, ``"\r"`` or ``"\r\n"`` (see :func:`detect_eol`).
    path : str or Path
        For the message.

    Raises
    ------
    MapFormatError
        A line ends differently from the first one; the message gives that line.

    Examples
    --------
    >>> check_eol("a\rb\r", "\r", "t.txt")
    >>> check_eol("a\rb\nc\r", "\r", "t.txt")
    Traceback (most recent call last):
    ...
    pymapmanager.errors.MapFormatError: t.txt:2: mixed line endings: this line ends with LF, the first with CR
    """
    names = {"\r": "CR", "\n": "LF", "\r\n": "CR LF"}
    if eol == "\r\n":
        if text.count("\r") == text.count("\n") == text.count("\r\n"):
            return
        bad = next(i for i, c in enumerate(text) if c in "\r\n" and text[i : i + 2] != "\r\n" and text[i - 1 : i + 1] != "\r\n")
        found = "CR" if text[bad] == "\r" else "LF"
    else:
        other = "\n" if eol == "\r" else "\r"
        bad = text.find(other)
        if bad < 0:
            return
        found = "CR LF" if text[bad : bad + 2] == "\r\n" else names[other]
    line = text.count(eol, 0, bad) + 1
    raise MapFormatError(path, f"mixed line endings: this line ends with {found}, the first with {names[eol]}", line)


def detect_eol(text: str) -> str:
    r"""Return the line ending used by ``text`` (the first one found).

    Parameters
    ----------
    text : str
        A file's text.

    Returns
    -------
    str
        ``"\r\n"``, ``"\r"`` or ``"\n"`` (also for text without any line end).

    Examples
    --------
    >>> detect_eol("a\rb\r"), detect_eol("a\r\nb"), detect_eol("a")
    ('\r', '\r\n', '\n')
    """
    cr = text.find("\r")
    lf = text.find("\n")
    if cr < 0:
        return "\n"
    if lf < 0 or cr < lf - 1:
        return "\r"
    if lf == cr + 1:
        return "\r\n"
    return "\n"


def split_lines(text: str, eol: str | None = None) -> tuple[list[str], str, bool]:
    """Split ``text`` into lines.

    Parameters
    ----------
    text : str
        A file's text.
    eol : str, optional
        Its line ending (default: :func:`detect_eol`).

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
    """Parse a ``key=value;key=value;`` header line (empty items are ignored).

    Parameters
    ----------
    line : str
        The line.

    Returns
    -------
    dict of str to str
        The values by key (keys stripped of blanks, values exactly as written).

    Examples
    --------
    >>> parse_key_values("rows=2;cols=3;;name= a b;")
    {'rows': '2', 'cols': '3', 'name': ' a b'}
    """
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

    Returns
    -------
    str
        The text of the cell.

    Examples
    --------
    >>> format_number(3.0), format_number(float("nan")), format_number(0.25, "%f")
    ('3', 'NaN', '0.250000')
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
    for v in values:  # a text column shows itself in its first non-empty cell
        if v:
            try:
                float(v)
            except ValueError:
                return None
            break
    try:
        if "" in values:
            return np.array([v if v else "nan" for v in values], dtype=np.float64)
        return np.array(values, dtype=np.float64)
    except ValueError:
        return None


def _fast_numbers(text: str, count: int) -> np.ndarray | None:
    """Parse ``count`` tab-separated numbers (``NAN`` allowed); None if anything is off.

    Link maps hold small non-negative integers and ``NAN``: those are read as integers
    (several times faster), anything else as floats.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if "-" not in text and "." not in text and "e" not in text:
            try:
                ints = np.fromstring(text.replace("NAN", "-1"), dtype=np.int64, sep="\t")
            except (ValueError, DeprecationWarning):
                ints = None
            if ints is not None and ints.size == count:
                out = ints.astype(np.float64)
                out[ints < 0] = np.nan
                return out
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

    Parameters
    ----------
    path : str
        Named in error messages.
    first_line : str
        The first line's exact text (only tabs).
    rows : list of (str, list of str)
        Each row's name and cells, in file order.
    eol : str
        The line ending.
    final_eol : bool
        Whether the file ends with a line ending.
    encoding : str
        The file's encoding (``utf-8`` or ``latin-1``), to write it back in.
    """

    path: str
    first_line: str
    rows: list[tuple[str, list[str]]]
    eol: str = "\n"
    final_eol: bool = True
    #: the file's encoding (``utf-8`` or ``latin-1``): :meth:`to_bytes` writes it back in it
    encoding: str = "utf-8"
    _index: dict[str, int] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._index = {}
        for i, (name, _cells) in enumerate(self.rows):
            self._index.setdefault(name, i)

    @classmethod
    def parse(cls, text: str, path: str | Path = "<header>", encoding: str = "utf-8") -> HeaderTable:
        """Parse the text of a header file.

        Parameters
        ----------
        text : str
            The file's text.
        path : str or Path
            Named in error messages.
        encoding : str
            The encoding the text was read in (kept to write it back).

        Returns
        -------
        HeaderTable

        Raises
        ------
        MapFormatError
            The text is empty, is not a map header (its first line is not only tabs),
            mixes line endings, holds control characters or was cut in a row.

        Examples
        --------
        >>> h = HeaderTable.parse("\\t\\t\\nhsStack\\ta_ch1\\tb_ch1\\n", "m.txt")
        >>> h.cells("hsStack"), h.width
        (['a_ch1', 'b_ch1'], 2)
        >>> h.to_text() == "\\t\\t\\nhsStack\\ta_ch1\\tb_ch1\\n"
        True
        """
        lines, eol, final = split_lines(text)
        if not lines or not any(line.strip() for line in lines):
            raise MapFormatError(path, "the header file is empty")
        first = lines[0]
        if first.strip("\t ") != "" or "\t" not in first:
            raise MapFormatError(
                path, "not a map header (the first line of a map header holds only tabs)", 1
            )
        check_eol(text, eol, path)
        rows: list[tuple[str, list[str]]] = []
        for k, line in enumerate(lines[1:], start=2):
            if line == "":
                rows.append(("", []))
                continue
            bad = _control_problem(line)
            if bad is not None:
                raise MapFormatError(path, bad, k)
            parts = line.split("\t")
            rows.append((parts[0], parts[1:]))
        width = max(first.count("\t"), 1)
        if not final and rows and 0 < len(rows[-1][1]) < width:
            raise MapFormatError(
                path,
                f"the last row has {len(rows[-1][1])} cells, the first line gives {width} (file truncated?)",
                len(lines),
            )
        return cls(str(path), first, rows, eol, final, encoding)

    def to_text(self) -> str:
        """Serialise back to the file's text.

        Returns
        -------
        str
            The file's text (unchanged unless a cell was set).
        """
        lines = [self.first_line]
        for name, cells in self.rows:
            lines.append(name if not cells and name == "" else "\t".join([name, *cells]))
        return join_lines(lines, self.eol, self.final_eol)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def cells(self, name: str) -> list[str]:
        """All cells of row ``name``.

        Parameters
        ----------
        name : str
            The row.

        Returns
        -------
        list of str
            One cell per session (the row's own list; empty when the row is absent).
        """
        i = self._index.get(name)
        return [] if i is None else self.rows[i][1]

    def get(self, name: str, column: int = 0, default: str = "") -> str:
        """One cell of a row.

        Parameters
        ----------
        name : str
            The row.
        column : int
            The cell (the session).
        default : str
            What to return when the row or the cell is absent.

        Returns
        -------
        str
            The cell's text, or ``default``.
        """
        cells = self.cells(name)
        if column < len(cells):
            return cells[column]
        return default

    def set(self, name: str, column: int, value: str) -> None:
        """Set one cell, padding the row (and adding it at the end) as needed.

        Parameters
        ----------
        name : str
            The row.
        column : int
            The cell (the session).
        value : str
            Its new text.
        """
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
        """Names of every row, in file order.

        Returns
        -------
        list of str
            The names (an empty line gives an empty name).
        """
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


class LinkMap:
    """``objMap`` / ``segMap``: a (blocks, rows, sessions) float array, NaN for none.

    ``data[b, i, j]`` is block ``b`` of row ``i`` in session ``j``. Block indices follow
    ``blockNames`` in the header line (``idx=0, next=1, nextTP=2, prev=3, prevTP=4,
    runIdx=6, dynType=7, nodeType=9, segmentID=10``).

    Blocks are parsed on first use (:meth:`block`); :attr:`data` parses them all and is
    the array to edit. Rows whose numbers did not change keep their original text.

    Parameters
    ----------
    path : str
        Named in error messages.
    header_line : str
        The first line's exact text (``rows=R;cols=S;blocks=B;...``).
    shape : tuple of int
        (blocks, rows, sessions).
    lines : list of str
        The data lines' exact text (``blocks * rows`` of them), or empty with ``data``.
    eol : str
        The line ending.
    final_eol : bool
        Whether the file ends with a line ending.
    data : ndarray, optional
        The whole (blocks, rows, sessions) array, for a link map made in memory.
    """

    IDX = 0
    NEXT = 1
    NEXT_TP = 2
    PREV = 3
    PREV_TP = 4
    RUN_IDX = 6
    DYN_TYPE = 7
    NODE_TYPE = 9
    SEGMENT_ID = 10

    def __init__(
        self,
        path: str,
        header_line: str,
        shape: tuple[int, int, int],
        lines: list[str],
        eol: str = "\n",
        final_eol: bool = True,
        data: np.ndarray | None = None,
    ) -> None:
        self.path = path
        self.header_line = header_line
        self._shape = shape
        self._lines = lines
        self.eol = eol
        self.final_eol = final_eol
        self._data = data
        self._blocks: dict[int, np.ndarray] = {}
        #: the file's encoding: :meth:`to_bytes` writes it back in it
        self.encoding = "utf-8"

    @property
    def shape(self) -> tuple[int, int, int]:
        """(blocks, rows, sessions)."""
        if self._data is not None:
            b, r, s = self._data.shape
            return int(b), int(r), int(s)
        return self._shape

    def _parse_lines(self, first: int, count: int) -> np.ndarray:
        """Parse ``count`` body lines from ``first`` into a (count, sessions) array."""
        _, _, cols = self._shape
        if count == 0:
            return np.full((0, cols), np.nan)
        body = self._lines[first : first + count]
        arr = _fast_numbers("\t".join(body), count * cols)
        if arr is None:
            for n, line in enumerate(body, start=first + 2):
                cells = line.split("\t")
                if len(cells) != cols:
                    raise MapFormatError(
                        self.path, f"expected {cols} tab-separated values, found {len(cells)}", n
                    )
                bad = _first_bad_number(cells)
                if bad >= 0:
                    raise MapFormatError(self.path, f"'{cells[bad]}' is not a number", n)
            raise MapFormatError(self.path, "could not read the numbers")  # pragma: no cover
        with np.errstate(invalid="ignore"):
            odd = ~np.isnan(arr) & ~((arr == np.round(arr)) & (arr >= 0) & (arr < 2.0**53))
        if odd.any():
            k = int(np.argmax(odd))
            raise MapFormatError(
                self.path,
                f"'{arr[k]:g}' is not a whole number from 0 (links hold row numbers and codes; NAN for none)",
                first + k // cols + 2,
            )
        return arr.reshape(count, cols)

    def block(self, b: int) -> np.ndarray:
        """One block, parsed on first use.

        Parameters
        ----------
        b : int
            The block (e.g. :attr:`NEXT`).

        Returns
        -------
        ndarray, shape (rows, sessions)
            The block's numbers, NaN for none; read-only unless :attr:`data` was read.

        Raises
        ------
        MapFormatError
            A number of the block is not a whole number from 0.
        """
        if self._data is not None:
            return self._data[b]
        arr = self._blocks.get(b)
        if arr is None:
            _, rows, _ = self._shape
            arr = self._parse_lines(b * rows, rows)
            arr.flags.writeable = False
            self._blocks[b] = arr
        return arr

    @property
    def data(self) -> np.ndarray:
        """The whole (blocks, rows, sessions) array (parsed now if needed); edit this."""
        if self._data is None:
            blocks, rows, cols = self._shape
            self._data = self._parse_lines(0, blocks * rows).reshape(blocks, rows, cols)
            self._blocks.clear()
        return self._data

    @data.setter
    def data(self, value: np.ndarray) -> None:
        self._data = np.asarray(value, dtype=float)
        self._blocks.clear()

    @classmethod
    def parse(
        cls, text: str, path: str | Path = "<objMap>", encoding: str = "utf-8", *, min_blocks: int = 1
    ) -> LinkMap:
        """Parse an objMap/segMap file (its structure now, its numbers on first use).

        Parameters
        ----------
        text : str
            The file's text.
        path : str or Path
            Named in error messages.
        encoding : str
            The encoding the text was read in (kept to write it back).
        min_blocks : int
            The fewest blocks the reader needs (e.g. 10 for an objMap: up to ``nodeType``).

        Returns
        -------
        LinkMap

        Raises
        ------
        MapFormatError
            The first line does not give sane ``rows``, ``cols`` and ``blocks`` (whole
            numbers, not negative, below :data:`MAX_LINK_ROWS`, :data:`MAX_SESSIONS`,
            :data:`MAX_BLOCKS`), or the file does not have ``rows x blocks`` data lines.
            Numbers are checked on first use.

        Examples
        --------
        >>> lm = LinkMap.parse("rows=1;cols=2;blocks=1;\\n0\\tNAN\\n", "m_objMap.txt")
        >>> lm.block(0).tolist()
        [[0.0, nan]]
        """
        lines, eol, final = split_lines(text)
        if not lines or not lines[0].strip():
            raise MapFormatError(path, "the file is empty")
        check_eol(text, eol, path)
        meta = parse_key_values(lines[0])
        limits = {"rows": MAX_LINK_ROWS, "cols": MAX_SESSIONS, "blocks": MAX_BLOCKS}
        sizes: dict[str, int] = {}
        for key, top in limits.items():
            raw = meta.get(key, "").strip()
            if not raw.isdigit() or len(raw) > 12 or int(raw) > top:
                raise MapFormatError(
                    path,
                    "the first line must give rows=R;cols=S;blocks=B; as whole numbers "
                    f"(0 to {top} for {key}), found {key}={raw!r}" if key in meta else
                    "the first line must give rows=R;cols=S;blocks=B;",
                    1,
                )
            sizes[key] = int(raw)
        rows, cols, blocks = sizes["rows"], sizes["cols"], sizes["blocks"]
        if blocks < min_blocks and rows > 0:
            raise MapFormatError(path, f"has {blocks} blocks, at least {min_blocks} are needed", 1)
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
        for k, line in enumerate(body[:1]):
            if line.count("\t") + 1 != cols and rows:
                raise MapFormatError(
                    path, f"expected {cols} tab-separated values, found {line.count(chr(9)) + 1}", k + 2
                )
        lm = cls(str(path), lines[0], (blocks, rows, cols), list(body), eol, final)
        lm.encoding = encoding
        return lm

    @classmethod
    def from_array(cls, data: np.ndarray, path: str = "<new>") -> LinkMap:
        """A link map holding ``data``, e.g. to write a new map.

        Parameters
        ----------
        data : ndarray, shape (blocks, rows, sessions)
            The links, NaN for none.
        path : str
            Named in error messages.

        Returns
        -------
        LinkMap
        """
        blocks, rows, cols = (int(v) for v in data.shape)
        names = ",".join(_BLOCK_NAMES[:blocks])
        header = f"rows={rows};cols={cols};blocks={blocks};blockNames={names};"
        return cls(path, header, (blocks, rows, cols), [], "\n", True, np.asarray(data, dtype=float))

    @classmethod
    def empty(cls, sessions: int, blocks: int = 12, path: str = "<new>") -> LinkMap:
        """A link map with no rows.

        Parameters
        ----------
        sessions : int
            Its number of sessions (columns).
        blocks : int
            Its number of blocks (12 in the format).
        path : str
            Named in error messages.

        Returns
        -------
        LinkMap
        """
        names = ",".join(_BLOCK_NAMES[:blocks])
        header = f"rows=0;cols={sessions};blocks={blocks};blockNames={names};"
        return cls(path, header, (blocks, 0, sessions), [], "\n", True, np.full((blocks, 0, sessions), np.nan))

    def to_text(self) -> str:
        """Serialise back to the file's text.

        Returns
        -------
        str
            The text; rows whose numbers did not change keep their original text.
        """
        if self._data is None:  # never materialised, so never edited
            return join_lines([self.header_line, *self._lines], self.eol, self.final_eol)
        b, r, s = self.shape
        meta = parse_key_values(self.header_line)
        header = self.header_line
        if meta.get("rows") != str(r) or meta.get("cols") != str(s) or meta.get("blocks") != str(b):
            meta.update(rows=str(r), cols=str(s), blocks=str(b))
            header = "".join(f"{k}={v};" for k, v in meta.items())
        src_flat: np.ndarray | None = None
        if self._shape == (b, r, s) and len(self._lines) == b * r:
            src_flat = self._parse_lines(0, b * r)
        lines = [header]
        flat = self._data.reshape(b * r, s)
        same = np.zeros(b * r, dtype=bool)
        if src_flat is not None:  # rows unchanged keep their text (one comparison for all)
            same = ((flat == src_flat) | (np.isnan(flat) & np.isnan(src_flat))).all(axis=1)
        for k in range(b * r):
            row = flat[k]
            if same[k]:
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


_COMMA = 44  # ord(",")
_ZERO = 48  # ord("0")
#: 10**k as float64 (exact)
_POW10 = np.array([float(10**k) for k in range(10)])


def _eol_count(buf: np.ndarray, eol: str) -> int:
    """Number of line ends ``eol`` in the ASCII bytes ``buf``."""
    if len(eol) == 1:
        return int(np.count_nonzero(buf == ord(eol)))
    return int(np.count_nonzero((buf[:-1] == 13) & (buf[1:] == 10)))


class _Fields:
    """Where every field of a table's rows is, found once with numpy (ASCII rows only).

    ``seps`` holds the offset of every comma and every line end in the rows' bytes (a line
    end is added after the last row); row ``r``'s separators are ``seps[first[r]]`` up to
    its line end ``seps[ends[r]]``, and the row starts at ``row_start[r]``. Field ``k`` of
    row ``r`` is then the text between two known offsets, for every row at once.
    """

    __slots__ = ("buf", "ends", "first", "row_start", "seps")

    def __init__(self, raw: bytes, eol: str) -> None:
        buf = np.frombuffer(raw + eol.encode("ascii"), dtype=np.uint8)
        if len(eol) == 1:
            mask = buf == _COMMA
            mask |= buf == ord(eol)
        else:  # "\r\n": a row ends at the "\r" of each pair
            mask = buf == _COMMA
            mask[:-1] |= (buf[:-1] == 13) & (buf[1:] == 10)
        seps = np.flatnonzero(mask)
        ends = np.flatnonzero(buf[seps] != _COMMA)
        first = np.zeros(ends.size, dtype=np.intp)
        first[1:] = ends[:-1] + 1
        row_start = np.zeros(ends.size, dtype=np.intp)
        row_start[1:] = seps[ends[:-1]] + len(eol)
        self.buf = buf
        self.seps = seps
        self.ends = ends
        self.first = first
        self.row_start = row_start

    @property
    def commas(self) -> np.ndarray:
        """Number of commas in each row."""
        return self.ends - self.first

    def ends_with_comma(self) -> np.ndarray:
        """Whether each row's last character is a comma."""
        before = self.seps[np.maximum(self.ends - 1, 0)]
        return (self.commas > 0) & (before == self.seps[self.ends] - 1)

    def bounds(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Start and end offsets of field ``k`` in every row (each row has >= k commas)."""
        end = self.seps[self.first + k]
        start = self.row_start if k == 0 else self.seps[self.first + (k - 1)] + 1
        return start, end


def _small_ints(buf: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray | None:
    """Read fields ``buf[start:end]`` that are small integers, without cutting them out.

    The fields must each be empty, ``nan`` in any case (both NaN) or unsigned integers of
    at most 9 digits (``isBad``, ``roiTypeNum``, ``parentID``, ``Idx``): the answer is then
    exactly ``float()`` of each field. Any other field (``-1``, ``1.0``, `` 1``, text)
    makes the answer None, and the caller converts the column's text instead.

    Parameters
    ----------
    buf : ndarray of uint8, shape (bytes,)
        The rows' ASCII bytes; ``buf[end]`` exists for every field (a separator).
    start, end : ndarray of int, shape (rows,)
        Where each field starts and ends.
    """
    size = start.size
    if size == 0:
        return np.zeros(0)
    n = end - start
    m = int(n.max())
    if m == 0:
        return np.full(size, np.nan)
    if m > 9:
        return None
    if m == 1:  # the common case: one digit or nothing
        c = buf[start].astype(np.int16) - _ZERO
        one = n == 1
        if ((c < 0) | (c > 9))[one].any():
            return None
        return np.where(one, c, np.nan)
    k0 = int(np.argmax(n))  # one look at a field turns most other columns away
    f0 = buf[start[k0] : end[k0]].tobytes()
    if not (f0.isdigit() or f0.lower() == b"nan"):
        return None
    # digits right-aligned in an (rows, m) matrix: column j is worth 10**(m - 1 - j)
    j = np.arange(m)
    d = buf[np.maximum(end[:, None] - m + j[None, :], 0)].astype(np.int16) - _ZERO
    valid = j[None, :] >= (m - n)[:, None]
    digit = (d >= 0) & (d <= 9)
    ok = (digit | ~valid).all(axis=1)
    nan = np.zeros(size, dtype=bool)
    if not ok.all():  # only "nan" may be anything but digits
        bad = np.flatnonzero(~ok)
        if not (n[bad] == 3).all():
            return None
        low = buf[start[bad, None] + np.arange(3)[None, :]] | 32
        if not ((low[:, 0] == 110) & (low[:, 1] == 97) & (low[:, 2] == 110)).all():
            return None
        nan[bad] = True
    out = np.where(valid & digit, d, 0).astype(np.float64) @ _POW10[m - 1 :: -1]
    out[nan | (n == 0)] = np.nan
    return out


def _check_names(
    names: list[str], column_line: str, meta_line: str | None, path: str | Path, line: int
) -> None:
    """Raise for an empty or repeated column name or control characters in the header lines."""
    if meta_line is not None:
        bad = _control_problem(meta_line)
        if bad is not None:
            raise MapFormatError(path, f"the first line {bad}", line - 1)
    bad = _control_problem(column_line)
    if bad is not None:
        raise MapFormatError(path, f"the column names {bad}", line)
    seen: set[str] = set()
    for k, n in enumerate(names):
        if not n.strip():
            raise MapFormatError(path, f"column {k + 1} has no name", line)
        if n in seen:
            raise MapFormatError(path, f"the column name '{n}' appears twice", line)
        seen.add(n)


@dataclass(frozen=True, eq=False)
class _RowText:
    """The rows' exact text, immutable: the rows joined by the line end (none after the last).

    ``count`` is the number of rows (0 for no rows; a single empty row has an empty
    ``body`` and ``count`` 1). An edit makes a new one; what is derived from the text
    (its ASCII bytes, its rows as a tuple) is derived on first use and never changes.
    """

    body: str
    eol: str
    count: int

    @classmethod
    def of_rows(cls, rows: Sequence[str], eol: str) -> _RowText:
        """The text of ``rows``."""
        text = cls(eol.join(rows), eol, len(rows))
        if isinstance(rows, tuple):
            text.__dict__["rows"] = rows
        return text

    @classmethod
    def of_body(cls, body: str, eol: str) -> _RowText:
        """The text ``body`` (rows joined by ``eol``), its rows counted."""
        if not body:
            return cls(body, eol, 0)
        raw = body.encode("ascii") if body.isascii() else None
        if raw is None:
            count = body.count(eol) + 1
        else:
            count = _eol_count(np.frombuffer(raw, dtype=np.uint8), eol) + 1
        text = cls(body, eol, count)
        text.__dict__["ascii"] = raw
        return text

    @cached_property
    def ascii(self) -> bytes | None:
        """The body's bytes when it is ASCII (the located path reads those), else None."""
        return self.body.encode("ascii") if self.body.isascii() else None

    @cached_property
    def rows(self) -> tuple[str, ...]:
        """The rows, one str each."""
        return tuple(self.body.split(self.eol)) if self.count else ()

    @cached_property
    def starts(self) -> np.ndarray:
        """Where each row starts in ``body``, and where a row after the last would."""
        le = len(self.eol)
        out = np.zeros(self.count + 1, dtype=np.intp)
        if self.count:
            raw = self.ascii
            if raw is None:
                ends = np.array([m.start() for m in re.finditer(re.escape(self.eol), self.body)], dtype=np.intp)
            else:
                buf = np.frombuffer(raw, dtype=np.uint8)
                if le == 1:
                    ends = np.flatnonzero(buf == ord(self.eol))
                else:
                    ends = np.flatnonzero((buf[:-1] == 13) & (buf[1:] == 10))
            out[1:-1] = ends + le
            out[-1] = len(self.body) + le
        return out

    def _index(self, k: int) -> int:
        if not -self.count <= k < self.count:
            raise IndexError(f"row {k} out of range ({self.count} rows)")
        return k + self.count if k < 0 else k

    def row(self, k: int) -> str:
        """Row ``k``'s text (negative ``k`` counts from the end).

        Raises
        ------
        IndexError
            No such row.
        """
        k = self._index(k)
        if "rows" in self.__dict__:
            return self.rows[k]
        s = self.starts
        return self.body[s[k] : s[k + 1] - len(self.eol)]

    def with_row(self, k: int, row: str) -> _RowText:
        """The same rows with row ``k`` replaced by ``row`` (the other rows' text is copied)."""
        k = self._index(k)
        s = self.starts
        a, b = int(s[k]), int(s[k + 1]) - len(self.eol)
        text = _RowText(self.body[:a] + row + self.body[b:], self.eol, self.count)
        shifted = s.copy()
        shifted[k + 1 :] += len(row) - (b - a)
        text.__dict__["starts"] = shifted
        return text


@dataclass(frozen=True, eq=False)
class _RowReader:
    """How the columns of one :class:`_RowText` are read: field positions, or split rows.

    Exactly one of ``fields`` (an ASCII table: every field's offsets, found with numpy)
    and ``cells`` (any other table: every row split at its commas, short rows padded) is
    set. Made when a column is first read from ``text``; a new text needs a new reader.
    """

    text: _RowText
    fields: _Fields | None = None
    cells: tuple[list[str], ...] | None = None

    def column_cells(self, c: int) -> list[str]:
        """The text of column ``c`` in every row."""
        if self.cells is not None:
            return [r[c] for r in self.cells]
        assert self.fields is not None
        start, end = self.fields.bounds(c)
        body = self.text.body
        return [body[a:b] for a, b in zip(start.tolist(), end.tolist(), strict=True)]


@dataclass(eq=False)
class _ColumnCache:
    """The one cache of a :class:`CsvTable`: its columns converted so far, and its reader.

    ``typed`` maps a column to its array (converted on first use; an edit changes the
    cell in the array and in the text, so the two agree). ``reader`` reads columns out of
    one text (:class:`_RowReader`); it is dropped whenever the rows' text changes.
    """

    typed: dict[str, np.ndarray] = field(default_factory=dict)
    reader: _RowReader | None = None


class _RowsView(MutableSequence[str]):
    """The rows' text as a list whose changes go to the table (:attr:`CsvTable.lines`).

    Reading it changes nothing; every change through it gives the table new row text
    (columns already converted are kept, as they were: see :attr:`CsvTable.lines`).
    """

    def __init__(self, table: CsvTable) -> None:
        self._t = table

    def _set(self, rows: list[str]) -> None:
        self._t._set_text(_RowText.of_rows(tuple(rows), self._t.eol))

    def __len__(self) -> int:
        return self._t._text.count

    @overload
    def __getitem__(self, k: int) -> str: ...
    @overload
    def __getitem__(self, k: slice) -> list[str]: ...
    def __getitem__(self, k: int | slice) -> str | list[str]:
        rows = self._t._text.rows
        return list(rows[k]) if isinstance(k, slice) else rows[k]

    @overload
    def __setitem__(self, k: int, row: str) -> None: ...
    @overload
    def __setitem__(self, k: slice, row: Iterable[str]) -> None: ...
    def __setitem__(self, k: int | slice, row: str | Iterable[str]) -> None:
        rows = list(self._t._text.rows)
        rows[k] = row  # type: ignore[index,assignment]
        self._set(rows)

    def __delitem__(self, k: int | slice) -> None:
        rows = list(self._t._text.rows)
        del rows[k]
        self._set(rows)

    def insert(self, index: int, value: str) -> None:
        """Insert a row's text before row ``index``.

        Parameters
        ----------
        index : int
            Where (as :meth:`list.insert`).
        value : str
            The row's text, without a line end.
        """
        rows = list(self._t._text.rows)
        rows.insert(index, value)
        self._set(rows)

    def extend(self, values: Iterable[str]) -> None:
        """Append rows' text (one change of the table's text).

        Parameters
        ----------
        values : iterable of str
            The rows, without line ends.
        """
        self._set([*self._t._text.rows, *values])

    def __iter__(self) -> Iterator[str]:
        return iter(self._t._text.rows)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _RowsView | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(list(self))


class CsvTable:
    """A comma separated table with an optional ``key=value;`` line above the column names.

    Used for ``db2``, ``Int<c>``, ``user`` files and for both tables of a tracing.
    ``columns`` keeps the file's order; ``data`` maps a column to a float64 array (numbers)
    or an object array of str (text), converted from the text on first use. The rows keep
    their exact text (:meth:`rows`).

    Parameters
    ----------
    path : str
        Named in error messages.
    meta_line : str or None
        The ``key=value;`` line above the column names (None: the table has none).
    columns : list of str
        The column names, in the file's order.
    lines : sequence of str, optional
        The rows' exact text, without line ends.
    trailing_comma : bool
        Whether the column line (and so each row) ends with a comma.
    eol : str
        The line end.
    final_eol : bool
        Whether the text ends with a line end.
    column_line : str
        The column line's exact text ("" to write it from ``columns``).
    numeric : frozenset of str
        Columns that must hold numbers.
    all_numeric : bool
        Every column must hold numbers.
    first_row_line : int
        The first row's line number in its file (for messages).
    finite : frozenset of str
        Columns whose numbers must be finite (``"*"``: every column).
    encoding : str
        The file's encoding (kept to write it back; edits must fit it).

    Notes
    -----
    What a table holds is plain: the header (attributes), the rows' text as one
    immutable value, and one cache (the columns converted so far and the reader of the
    current text). Parsing finds the header lines and checks the number of values with
    one count over the rows; nothing is split. The first column asked for locates every
    field of an ASCII table at once with numpy (offsets of every comma and line end);
    each column is then the text between known offsets, and columns of small unsigned
    integers (``isBad``, ``parentID``, ``roiTypeNum``) are converted without cutting out
    their text. Tables with other text (a note in Latin-1, say) are split row by row
    instead, with the same results. An edit (:meth:`set_value`) gives the table new row
    text and a new reader; the columns converted so far are kept, with the edited cell
    changed in its column.
    """

    #: Locate fields with numpy when the rows are ASCII (False: always split rows, the
    #: reference path that tests compare the located one with).
    _locate_fields: ClassVar[bool] = True

    def __init__(
        self,
        path: str,
        meta_line: str | None,
        columns: list[str],
        lines: Sequence[str] | None = None,
        trailing_comma: bool = True,
        eol: str = "\r",
        final_eol: bool = True,
        column_line: str = "",
        numeric: frozenset[str] = frozenset(),
        all_numeric: bool = False,
        first_row_line: int = 3,
        finite: frozenset[str] = frozenset(),
        encoding: str = "utf-8",
    ) -> None:
        self.path = path
        #: columns whose numbers must be finite (coordinates): ``inf`` there is an error
        self.finite = finite
        #: the file's encoding: :meth:`to_bytes` writes it back in it, edits must fit it
        self.encoding = encoding
        self.meta_line = meta_line
        self.columns = columns
        self.trailing_comma = trailing_comma
        self.eol = eol
        self.final_eol = final_eol
        self.column_line = column_line
        self.numeric = numeric
        self.all_numeric = all_numeric
        self.first_row_line = first_row_line
        #: rows of a restored table (its text is not kept); -1 for a table read from text
        self.n_rows = -1
        self._text = _RowText.of_rows(tuple(lines or ()), eol)
        self._cache = _ColumnCache()
        self._index: dict[str, int] = {}
        for i, c in enumerate(self.columns):
            self._index.setdefault(c, i)

    def __repr__(self) -> str:
        return f"<CsvTable {self.path}: {len(self)} rows x {len(self.columns)} columns>"

    @property
    def meta(self) -> dict[str, str]:
        """The ``key=value`` pairs of the first line (empty when there is none)."""
        return parse_key_values(self.meta_line) if self.meta_line else {}

    @property
    def data(self) -> Mapping[str, np.ndarray]:
        """Mapping column -> typed array (float64, or object for text columns)."""
        return _Columns(self)

    def rows(self) -> list[str]:
        """The rows' exact text, one str per row (without line ends).

        Returns
        -------
        list of str
            A new list: changing it does not change the table (see :meth:`set_rows`).
        """
        return list(self._text.rows)

    def set_rows(self, rows: Sequence[str]) -> None:
        """Replace every row's text; every column is read again from the new rows.

        Parameters
        ----------
        rows : sequence of str
            The rows' text, without line ends.
        """
        self._set_text(_RowText.of_rows(tuple(rows), self.eol))
        self._cache.typed.clear()

    @property
    def lines(self) -> MutableSequence[str]:
        """The rows' exact text as a list whose changes change the table.

        Kept for code written against the earlier table: reading rows is :meth:`rows`,
        replacing them :meth:`set_rows`. Changing a row through this list (or assigning a
        list to it) changes the rows' text; columns not yet converted are then read from
        the new text, while columns already converted are kept as they are (use
        :meth:`set_rows` to have every column read again).
        """
        return _RowsView(self)

    @lines.setter
    def lines(self, rows: Sequence[str]) -> None:
        self._set_text(_RowText.of_rows(tuple(rows), self.eol))

    def __len__(self) -> int:
        return self.n_rows if self.n_rows >= 0 else self._text.count

    @classmethod
    def restored(
        cls,
        path: str,
        meta_line: str | None,
        columns: list[str],
        typed: dict[str, np.ndarray],
        n_rows: int,
        *,
        trailing_comma: bool = True,
        eol: str = "\r",
        numeric: frozenset[str] = frozenset(),
        all_numeric: bool = False,
    ) -> CsvTable:
        """A table rebuilt from typed columns (no row text: it can be read, not written).

        Parameters
        ----------
        path : str
            Named in error messages.
        meta_line : str or None
            The ``key=value;`` line (None: none).
        columns : list of str
            The column names.
        typed : dict of str to ndarray
            Every column's values.
        n_rows : int
            The number of rows.
        trailing_comma : bool
            Whether the column line ends with a comma.
        eol : str
            The line end.
        numeric : frozenset of str
            Columns that must hold numbers.
        all_numeric : bool
            Every column must hold numbers.

        Returns
        -------
        CsvTable
            A table whose :meth:`to_text` raises :class:`InvalidParameterError`.
        """
        t = cls(path, meta_line, list(columns), [], trailing_comma, eol, True, "", numeric, all_numeric)
        t._cache.typed.update(typed)
        t.n_rows = n_rows
        return t

    # ------------------------------------------------------------------ the rows' text

    def _set_text(self, text: _RowText) -> None:
        """Make ``text`` the rows; the reader of the old text goes."""
        self._text = text
        self._cache.reader = None

    def _reader(self) -> _RowReader:
        """The reader of the current text (made on first use; only for a table with rows).

        Raises
        ------
        MapFormatError
            A row has the wrong number of values (also when the rows' errors balance out,
            which the count at parse time cannot see).
        """
        reader = self._cache.reader
        if reader is None:
            text = self._text
            raw = text.ascii if self._locate_fields else None
            if raw is not None:
                f = _Fields(raw, text.eol)
                self._check_rows(f)
                reader = _RowReader(text, fields=f)
            else:
                reader = _RowReader(text, cells=self._split_rows(text))
            self._cache.reader = reader
        return reader

    def _split_rows(self, text: _RowText) -> tuple[list[str], ...]:
        """Every row split at its commas (checked; rows a trailing value short padded)."""
        n = len(self.columns)
        rows = tuple(r.split(",") for r in text.rows)
        ncell = n + (1 if self.trailing_comma else 0)
        if any(len(r) != ncell for r in rows):
            for k, r in enumerate(rows):
                self._check_row(k, len(r) - 1, text.rows[k].endswith(","))
                if len(r) < n:
                    r.extend([""] * (n - len(r)))
        return rows

    def _check_rows(self, f: _Fields) -> None:
        """Raise for the first row with the wrong number of values (see :meth:`_check_row`)."""
        n = len(self.columns)
        ncomma = n - 1 + (1 if self.trailing_comma else 0)
        commas = f.commas
        ok = commas == ncomma
        if self.trailing_comma:
            ok |= commas == ncomma - 1
        else:
            ok |= (commas == ncomma + 1) & f.ends_with_comma()
        if not ok.all():
            k = int(np.argmin(ok))
            self._check_row(k, int(commas[k]), bool(f.ends_with_comma()[k]))
            raise AssertionError("unreachable: the row was found wrong")  # pragma: no cover

    def _check_row(self, k: int, ncomma_row: int, ends_with_comma: bool) -> None:
        """Raise when row ``k`` (with ``ncomma_row`` commas) has the wrong number of values."""
        n = len(self.columns)
        ncomma = n - 1 + (1 if self.trailing_comma else 0)
        if (
            ncomma_row == ncomma
            or (self.trailing_comma and ncomma_row == ncomma - 1)
            # rr30a-style tracings: "...,pDist3d" over rows "...,-42.24,"
            or (not self.trailing_comma and ncomma_row == ncomma + 1 and ends_with_comma)
        ):
            return
        found = ncomma_row + 1 - (1 if self.trailing_comma and ends_with_comma else 0)
        raise MapFormatError(
            self.path,
            f"expected {n} values, found {found}"
            + (" (file truncated?)" if k == self._text.count - 1 and found < n else ""),
            self.first_row_line + k,
        )

    def _column_cells(self, c: int) -> list[str]:
        """The text of column ``c`` in every row."""
        return self._reader().column_cells(c) if self._text.count else []

    # ------------------------------------------------------------------ typed columns

    def column(self, name: str) -> np.ndarray:
        """One column as a typed array (converted on first use, then kept).

        Parameters
        ----------
        name : str
            The column.

        Returns
        -------
        ndarray, shape (rows,)
            float64 for a column of numbers (empty cells NaN), else object (str).

        Raises
        ------
        KeyError
            No such column.
        MapFormatError
            The column must hold numbers and a cell does not, or a row has the wrong
            number of values.
        """
        arr = self._cache.typed.get(name)
        if arr is not None:
            return arr
        c = self._index[name]
        conv: np.ndarray | None = None
        f = self._reader().fields if self._text.count else None
        if f is not None:
            start, end = f.bounds(c)
            conv = _small_ints(f.buf, start, end)
        values = self._column_cells(c) if conv is None else []
        if conv is None:
            conv = _float_column(values)
            if conv is None:
                if self.all_numeric or name in self.numeric:
                    bad = _first_bad_number(values)
                    raise MapFormatError(
                        self.path,
                        f"column '{name}' must hold numbers, found '{values[bad]}'",
                        self.first_row_line + bad,
                    )
                for k, v in enumerate(values):
                    bad_text = _control_problem(v)
                    if bad_text is not None:
                        raise MapFormatError(
                            self.path, f"column '{name}' {bad_text}", self.first_row_line + k
                        )
                conv = np.array(values, dtype=object)
        if conv.dtype != object and (name in self.finite or "*" in self.finite):
            inf = np.isinf(conv)
            if inf.any():
                k = int(np.argmax(inf))
                raise MapFormatError(
                    self.path, f"column '{name}' must hold finite numbers, found '{conv[k]}'", self.first_row_line + k
                )
        self._cache.typed[name] = conv
        return conv

    def validate(self) -> None:
        """Convert every column now.

        Raises
        ------
        MapFormatError
            A column that must hold numbers holds text, or a row has the wrong number
            of values.
        """
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
        finite: Iterable[str] = (),
        encoding: str = "utf-8",
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
        eol : str, optional
            The line end (default: the first one found in ``text``, and the text must
            not mix line ends).
        finite : iterable of str
            Columns whose numbers must be finite (``inf`` there is a :class:`MapFormatError`);
            ``"*"`` for every column.
        encoding : str
            The encoding the text was read in (kept to write it back).

        Returns
        -------
        CsvTable

        Raises
        ------
        MapFormatError
            The text is empty, mixes line ends, has no column names, an empty or repeated
            column name, or a row with the wrong number of values.

        Examples
        --------
        >>> t = CsvTable.parse("a=1;\\rx,note,\\r1.5,hi,\\r", "t.txt", numeric=["x"])
        >>> t.column("x").tolist(), t.column("note").tolist()
        ([1.5], ['hi'])
        """
        if eol is None:
            eol = detect_eol(text)
            check_eol(text, eol, path)
        le = len(eol)
        final = text.endswith(eol)
        stop = len(text) - le if final else len(text)  # text[:stop] is what split_lines splits
        if stop <= 0 or (text.find(eol, 0, stop) < 0 and not text[:stop].strip()):
            raise MapFormatError(path, "the file is empty")
        meta_line: str | None = None
        start = 0
        pos = 0
        if has_meta:
            i = text.find(eol, 0, stop)
            meta_line = text[:stop] if i < 0 else text[:i]
            if "=" not in meta_line:
                raise MapFormatError(
                    path, "the first line must be a key=value; header", first_line_number
                )
            if i < 0:
                raise MapFormatError(path, "the column names are missing (file truncated?)")
            start, pos = i + le, 1
        j = text.find(eol, start, stop)
        column_line = text[start:stop] if j < 0 else text[start:j]
        names = column_line.split(",")
        trailing = names[-1] == "" and len(names) > 1
        if trailing:
            names = names[:-1]
        if not names or names == [""]:
            raise MapFormatError(path, "the column names are missing", first_line_number + pos)
        _check_names(names, column_line, meta_line, path, first_line_number + pos)
        body = ""
        if j >= 0:  # the rows, without empty rows at the end
            while stop > j + le and text.startswith(eol, stop - le):
                stop -= le
            body = text[j + le : stop]
        t = cls(
            str(path),
            meta_line,
            names,
            None,
            trailing,
            eol,
            final,
            column_line,
            frozenset(numeric),
            all_numeric,
            first_line_number + pos + 1,
            frozenset(finite),
            encoding,
        )
        rows = _RowText.of_body(body, eol)
        t._set_text(rows)
        # One count over the whole body; only when it is off are the rows read (fields
        # located, or rows split), which checks every row. Rows whose errors balance each
        # other out are caught when a column is first read.
        raw = rows.ascii
        commas = body.count(",") if raw is None else int(np.count_nonzero(np.frombuffer(raw, dtype=np.uint8) == _COMMA))
        if commas != (len(names) - 1 + (1 if trailing else 0)) * rows.count:
            t._reader()
        return t

    def to_text(self) -> str:
        """Serialise back to text.

        Returns
        -------
        str
            The table's text: rows nobody changed exactly as they were read.

        Raises
        ------
        InvalidParameterError
            The table was :meth:`restored` without its text.
        """
        if self.n_rows >= 0 and self._text.count != self.n_rows:
            raise InvalidParameterError(f"{self.path}: this table was restored without its text")
        out: list[str] = []
        if self.meta_line is not None:
            out.append(self.meta_line)
        out.append(self.column_line or ",".join(self.columns) + ("," if self.trailing_comma else ""))
        if self._text.count:
            out.append(self._text.body)
        return join_lines(out, self.eol, self.final_eol)

    def set_value(self, row: int, column: str, value: object, fmt: str = "%g") -> None:
        """Set one cell, in its column's array and in that row's text.

        Other rows keep their exact text. When the value is refused, nothing changes.

        Parameters
        ----------
        row : int
            The row (0-based, as in the arrays).
        column : str
            The column.
        value : object
            A number (NaN or None for an empty cell in a column of numbers), or text for
            a text column. Text set in a column read as numbers that need not hold
            numbers (e.g. an all-empty note column) makes it a text column.
        fmt : str
            printf-style format for a non-integer number (see :func:`format_number`).

        Raises
        ------
        KeyError
            No such column.
        IndexError
            No such row.
        ValueError
            Text in a column that must hold numbers, or text holding a comma, a control
            character or a line end, or characters the file's encoding cannot write.
        """
        c = self._index[column]
        arr = self.column(column)
        old_row = self._text.row(row)  # IndexError before anything changes
        becomes_text = False
        if isinstance(value, str) and arr.dtype != object and value != "":
            try:
                float(value)
            except ValueError:
                if self.all_numeric or column in self.numeric:
                    raise ValueError(f"column '{column}' holds numbers, not '{value}'") from None
                becomes_text = True
        cell: object
        if arr.dtype == object or becomes_text:
            text = "" if value is None else str(value)
            cell = text
        else:
            cell = float(value) if value is not None and value != "" else math.nan  # type: ignore[arg-type]
            text = format_number(cell, fmt)  # type: ignore[arg-type]
        if "," in text:
            raise ValueError("a value may not contain a comma")
        if _control_problem(text) is not None or "\r" in text or "\n" in text:
            raise ValueError("a value may not contain control characters or line ends")
        try:
            text.encode(self.encoding)
        except UnicodeEncodeError:
            raise ValueError(
                f"'{text}' cannot be written in this file's encoding ({self.encoding})"
            ) from None
        if becomes_text:  # a column read as numbers (all empty, say) becomes a text column
            arr = np.array(self._column_cells(c), dtype=object)
            self._cache.typed[column] = arr
        arr[row] = cell
        cells = old_row.split(",")
        cells[c] = text
        self._set_text(self._text.with_row(row, ",".join(cells)))

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

        Parameters
        ----------
        columns : sequence of str
            The column names, in order.
        values : dict of str to sequence
            Each column's values (all of one length); a column absent here is empty.
        meta : dict of str to str, optional
            The ``key=value;`` line (None: the table has none).
        formats : dict of str to str, optional
            printf-style formats by column.
        default_format : str
            The format of the other columns' numbers.
        trailing_comma : bool
            End the column line and each row with a comma (as Igor does).
        eol : str
            The line ending.
        path : str
            Named in error messages.

        Returns
        -------
        CsvTable

        Examples
        --------
        >>> t = CsvTable.build(["x", "note"], {"x": [1.5, None], "note": ["a", None]})
        >>> t.to_text()
        'x,note,\\r1.5,a,\\r,,\\r'
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


def _check_segments(segments: CsvTable, points: CsvTable, path: str) -> None:
    """Raise when the segment table's ``start``/``stop``/``n`` disagree with the points.

    Each segment row ``k`` covers point rows ``start..stop`` (``n`` of them), all with
    ``ID`` equal to the row's ``Idx`` (``k`` without one); together the rows cover every
    point once. Tables without ``start``/``stop`` numbers are not checked.
    """
    if "start" not in segments.data or "stop" not in segments.data or not len(segments):
        return
    start, stop = segments.column("start"), segments.column("stop")
    if start.dtype == object or stop.dtype == object:
        return
    ids = points.column("ID")
    seg_ids = segments.column("Idx") if "Idx" in segments.data else np.arange(len(segments), dtype=float)
    counts = segments.column("n") if "n" in segments.data else None
    if seg_ids.dtype == object or (counts is not None and counts.dtype == object):
        return
    npts = len(points)
    covered = 0
    for k in range(len(segments)):
        a, b = start[k], stop[k]
        line = segments.first_row_line + k
        if math.isnan(a) or math.isnan(b):
            return  # an old file without positions: nothing to check
        if not (a.is_integer() and b.is_integer() and 0 <= a <= b < npts):
            raise MapFormatError(
                path,
                f"segment row {k} covers points {a:g}..{b:g} but the point table has {npts} rows "
                "(rows deleted?)",
                line,
            )
        if counts is not None and counts[k] == counts[k] and counts[k] != b - a + 1:
            raise MapFormatError(path, f"segment row {k} gives n={counts[k]:g} for points {a:g}..{b:g}", line)
        got = ids[int(a) : int(b) + 1]
        if not (got == seg_ids[k]).all():
            raise MapFormatError(
                path,
                f"points {a:g}..{b:g} should all belong to segment {seg_ids[k]:g} "
                "(point rows deleted or duplicated?)",
                line,
            )
        covered += int(b - a + 1)
    if covered != npts:
        raise MapFormatError(
            path,
            f"the segment table covers {covered} points but the point table has {npts} rows "
            "(point rows deleted or duplicated?)",
            points.first_row_line + min(covered, npts),
        )


@dataclass
class Tracing:
    """A dendrite tracing ``line/<stack>_l.txt``: a segment table and a point table.

    ``points`` has at least ``x, y`` (µm), ``z`` (slice), ``ID`` (segment), ``sDist``,
    ``pDist``.

    Parameters
    ----------
    path : str
        Named in error messages.
    meta_line : str
        The first line (``...;numHeaderRow=N;``).
    segments : CsvTable
        The segment table (one row per segment).
    points : CsvTable
        The point table.
    eol : str
        The line ending.
    final_eol : bool
        Whether the file ends with a line ending.
    encoding : str
        The file's encoding, to write it back in.
    """

    path: str
    meta_line: str
    segments: CsvTable
    points: CsvTable
    eol: str = "\r"
    final_eol: bool = True
    #: the file's encoding: :meth:`to_bytes` writes it back in it
    encoding: str = "utf-8"

    @classmethod
    def parse(cls, text: str, path: str | Path = "<line>", encoding: str = "utf-8") -> Tracing:
        """Parse a tracing file.

        Parameters
        ----------
        text : str
            The file's text.
        path : str or Path
            Named in error messages.
        encoding : str
            The encoding the text was read in (kept to write it back).

        Returns
        -------
        Tracing

        Raises
        ------
        MapFormatError
            The file is empty, mixes line ends, lacks ``numHeaderRow``, a table or a
            point column, holds infinite coordinates, or its segment table's ``start``,
            ``stop`` and ``n`` do not match the point table (point rows deleted or
            duplicated).
        """
        eol = detect_eol(text)
        check_eol(text, eol, path)
        final = text.endswith(eol)
        whole = text[: -len(eol)] if final else text  # what split_lines would split
        # the line ends closing the meta line, the segment table and the point column line
        # are found one by one; the tables are cut out, never split into lines here
        ends: list[int] = []
        i = whole.find(eol)
        meta_line = whole if i < 0 else whole[:i]
        if not whole or not meta_line.strip():
            raise MapFormatError(path, "the file is empty")
        meta = parse_key_values(meta_line)
        try:
            nseg = int(meta["numHeaderRow"])
        except (KeyError, ValueError):
            nseg = -1
        if nseg < 0:
            raise MapFormatError(path, "the first line must give numHeaderRow=N;", 1)
        while i >= 0 and len(ends) < nseg + 2:
            ends.append(i)
            i = whole.find(eol, i + len(eol))
        if len(ends) < nseg + 2:  # fewer than 2 + nseg + 1 lines
            raise MapFormatError(
                path, f"expected {nseg} segment rows and a point table (file truncated?)"
            )
        seg_text = whole[ends[0] + len(eol) : ends[nseg + 1]]
        segments = CsvTable.parse(
            seg_text, path, has_meta=False, first_line_number=2, eol=eol
        )
        pt_text = whole[ends[nseg + 1] + len(eol) :]
        points = CsvTable.parse(
            pt_text,
            path,
            has_meta=False,
            numeric=("x", "y", "z", "ID", "sDist", "pDist"),
            first_line_number=3 + nseg,
            eol=eol,
            finite=("*",),
            encoding=encoding,
        )
        segments.encoding = encoding
        segments.finite = frozenset(("*",))
        for col in ("x", "y", "z", "ID"):
            if col not in points.data:
                raise MapFormatError(path, f"the point table has no '{col}' column", 3 + nseg)
        if len(segments) != nseg:
            raise MapFormatError(path, f"numHeaderRow={nseg} but the segment table has {len(segments)} rows", 1)
        _check_segments(segments, points, str(path))
        segments.final_eol = points.final_eol = False
        return cls(str(path), meta_line, segments, points, eol, final, encoding)

    def to_text(self) -> str:
        """Serialise back to text.

        Returns
        -------
        str
            The file's text.
        """
        parts = [self.meta_line, self.segments.to_text(), self.points.to_text()]
        return join_lines(parts, self.eol, self.final_eol)

    def segment_ids(self) -> np.ndarray:
        """The segments the point table has points of.

        Returns
        -------
        ndarray of int
            Their IDs, sorted, each once.
        """
        ids = self.points.data["ID"]
        ids = ids[~np.isnan(ids)]
        return np.unique(ids).astype(int)

    def xyz(self, segment: int | None = None) -> np.ndarray:
        """The points of one segment or of all.

        Parameters
        ----------
        segment : int, optional
            The segment ID (None: every point).

        Returns
        -------
        ndarray, shape (points, 3)
            x µm, y µm, z slice.
        """
        d = self.points.data
        xyz = np.column_stack([d["x"], d["y"], d["z"]])
        if segment is None:
            return xyz
        return xyz[d["ID"] == segment]

    def length(self, segment: int, dz: float = 1.0) -> float:
        """The 3D length of one segment.

        Parameters
        ----------
        segment : int
            The segment ID.
        dz : float
            µm per slice (z is in slices).

        Returns
        -------
        float
            The length in µm along its points (0 with fewer than two).
        """
        xyz = self.xyz(segment).astype(float).copy()
        if len(xyz) < 2:
            return 0.0
        xyz[:, 2] *= dz
        steps = np.diff(xyz, axis=0)
        return float(np.sqrt((steps**2).sum(axis=1)).sum())
