"""Edit commands as data: add, move, delete, mark, connect objects; undo and redo.

An edit is a small JSON-serialisable :class:`Command` (``{"op": "move", "session": 2,
"row": 17, "x_um": 40.0, "y_um": 21.0, "z": 13}``) applied to a
:class:`~pymapmanager.model.Map` by an :class:`Editor`, which keeps each command's inverse
so that any number of commands can be undone and redone. Objects are named by session
index and table row (``row`` = the object's row in the session's ``db2`` table, as it
stands after the commands before).

The commands (:data:`OPS`):

``add_spine`` (``session``, ``segment``, ``x_um``, ``y_um``, ``z``)
    A new ``spineROI`` row at the end of the session's table, on map segment
    ``segment``: attached to the nearest point of that segment's tracing in the session
    (``parentID``, ``cPnt``, ``sDist``, ``pDist`` from the segment's pivot, ``cx/cy/cz``).
    Without a tracing (or without points on that segment) those are left empty, and the
    summary says so. Creation and modification date, time and Igor seconds and the user
    name are filled in; intensity rows are added empty (``NaN``) until measured.
``move`` (``session``, ``row``, ``x_um``, ``y_um``, ``z``)
    New position; the connection to the tracing is recomputed on the object's segment.
``delete`` (``session``, ``row``)
    The row goes (rows after it move up by one, in every table and link); its run is
    cut there: the objects it linked to in the neighbouring sessions lose their link to it.
``set_bad`` (``bad``), ``set_note`` (``note``), ``set_user_type`` (``user_type``)
    One field of one object (``session``, ``row``); the modification time is updated.
``connect`` (``session``, ``row``, ``to_row``)
    Links the object to row ``to_row`` of session ``session + 1`` (both must be free).
``disconnect`` (``session``, ``row``, optional ``side``: ``"next"`` or ``"prev"``)
    Removes the object's link to the next session (by default; to the previous one when
    it has no next or ``side`` is ``"prev"``).

After every command the map's invariants are checked (:func:`check_invariants`: links
symmetric, runs consistent, indices in range, counts right). A command that is invalid
or would break an invariant raises :class:`~pymapmanager.errors.EditError` naming the
command and the reason, and the map is left exactly as it was. The counts the files
keep follow ``add_spine`` and ``delete``: the header's ``numObj``/``numSpine``, the
tables' ``numObjects``/``numSpines``, each tracing segment's ``nObj`` (the spines on it)
and the objMap's ``rows``; a count a map was written with wrong stays off by as much.
The objMap's ``runIdx`` and ``dynType`` blocks are recomputed; derived caches are
invalidated.

Undo puts back the very table objects the command replaced, so after undoing every
command each file the map writes is byte-identical to the original.

Examples
--------
>>> import tempfile
>>> from pymapmanager import load_map
>>> from pymapmanager.synthetic.maps import generate_map
>>> m = load_map(generate_map(tempfile.mkdtemp(), name="ex", sessions=2, images=False))
>>> ed = Editor(m, user="doc")
>>> ed.apply({"op": "set_note", "session": 0, "row": 5, "note": "checked"}).summary
"session 0: note of row 5 (controlPnt) set to 'checked' (was '')"
>>> before = m.file_bytes()
>>> ed.apply({"op": "delete", "session": 1, "row": 40}).changed_sessions
frozenset({0, 1})
>>> _ = ed.undo(); m.file_bytes() == before
True
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Any

import numpy as np

from .errors import EditConflict, EditError, MapFormatError
from .io.text import CsvTable, HeaderTable, LinkMap, Tracing, format_number, join_lines, split_lines
from .model import Map

__all__ = [
    "OPS",
    "Applied",
    "Command",
    "Editor",
    "check_invariants",
    "igor_seconds",
    "rebase",
]

log = logging.getLogger(__name__)

#: The edit commands.
OPS: tuple[str, ...] = (
    "add_spine",
    "move",
    "delete",
    "set_bad",
    "set_note",
    "set_user_type",
    "connect",
    "disconnect",
)
#: Commands :meth:`Editor.apply` also takes (they are not recorded as commands).
HISTORY_OPS: tuple[str, ...] = ("undo", "redo")

#: ROI types that define the tracing: they are not moved, deleted or connected here
STRUCTURAL_ROIS = frozenset({"controlPnt", "pivotPnt", "globalPIvot"})

#: Igor Pro's time origin (``cSeconds``/``mSeconds`` count seconds from it, local time)
IGOR_EPOCH = datetime(1904, 1, 1)

#: Largest ``userType`` accepted.
MAX_USER_TYPE = 99

_INT = "int"
_NUM = "number"
_BOOL = "bool"
_STR = "str"

#: op -> (required fields, optional fields), each field -> kind
_FIELDS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "add_spine": ({"session": _INT, "segment": _INT, "x_um": _NUM, "y_um": _NUM, "z": _NUM}, {}),
    "move": ({"session": _INT, "row": _INT, "x_um": _NUM, "y_um": _NUM, "z": _NUM}, {}),
    "delete": ({"session": _INT, "row": _INT}, {}),
    "set_bad": ({"session": _INT, "row": _INT, "bad": _BOOL}, {}),
    "set_note": ({"session": _INT, "row": _INT, "note": _STR}, {}),
    "set_user_type": ({"session": _INT, "row": _INT, "user_type": _INT}, {}),
    "connect": ({"session": _INT, "row": _INT, "to_row": _INT}, {}),
    "disconnect": ({"session": _INT, "row": _INT}, {"side": _STR}),
}

_MAX_NOTE = 1000


def igor_seconds(when: datetime) -> float:
    """Seconds since Igor's epoch (1904-01-01, local time) of a time.

    Parameters
    ----------
    when : datetime
        A naive local time, or an aware time (converted to local time).

    Returns
    -------
    float
        Seconds (with their fraction) since 1904-01-01 00:00 local time, as Map Manager
        writes ``cSeconds`` and ``mSeconds``.

    Examples
    --------
    >>> igor_seconds(datetime(2016, 4, 6, 11, 52, 48, 556000))
    3542788368.556
    """
    if when.tzinfo is not None:
        when = when.astimezone().replace(tzinfo=None)
    return (when - IGOR_EPOCH).total_seconds()


# --------------------------------------------------------------------------- commands


def _check_field(op: str, name: str, kind: str, value: Any) -> Any:
    """The field's value normalised (whole floats to int), or raise EditError."""
    if kind == _INT:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise EditError(op, f"'{name}' must be a whole number, not {value!r}")
        if isinstance(value, float):
            if not value.is_integer():
                raise EditError(op, f"'{name}' must be a whole number, not {value!r}")
            value = int(value)
        return int(value)
    if kind == _NUM:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise EditError(op, f"'{name}' must be a finite number, not {value!r}")
        return value
    if kind == _BOOL:
        if not isinstance(value, bool):
            raise EditError(op, f"'{name}' must be true or false, not {value!r}")
        return value
    if not isinstance(value, str):
        raise EditError(op, f"'{name}' must be text, not {value!r}")
    return value


@dataclass(frozen=True)
class Command:
    """One edit command: ``op`` (one of :data:`OPS`) and its fields.

    Parameters
    ----------
    op : str
        The command's name.
    args : mapping
        Exactly the JSON fields of the command line's script lines, minus ``"op"``.

    Examples
    --------
    >>> c = Command.from_dict({"op": "set_bad", "session": 0, "row": 3, "bad": True})
    >>> c.to_dict()
    {'op': 'set_bad', 'session': 0, 'row': 3, 'bad': True}
    """

    op: str
    args: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Command:
        """Validate a command dict (``{"op": ..., **fields}``) into a :class:`Command`.

        Parameters
        ----------
        d : mapping
            The command as JSON gives it.

        Returns
        -------
        Command

        Raises
        ------
        EditError
            Not a mapping, an unknown ``op``, a missing or unknown field, or a field of
            the wrong kind (whole numbers for sessions and rows, finite numbers for
            positions, true/false for ``bad``, text for ``note``).

        Examples
        --------
        >>> Command.from_dict({"op": "delete", "session": 1.0, "row": 5})
        Command(op='delete', args={'session': 1, 'row': 5})
        >>> Command.from_dict({"op": "delete", "session": 1})
        Traceback (most recent call last):
        ...
        pymapmanager.errors.EditError: delete refused: the field 'row' is missing
        """
        if not isinstance(d, Mapping):
            raise EditError("command", f"a command must be a JSON object, not {type(d).__name__}")
        op = d.get("op")
        if not isinstance(op, str) or op not in _FIELDS:
            known = ", ".join((*OPS, *HISTORY_OPS))
            raise EditError(str(op) if op is not None else "command", f"unknown op {op!r}; the ops: {known}")
        required, optional = _FIELDS[op]
        unknown = sorted(k for k in d if k != "op" and k not in required and k not in optional)
        if unknown:
            raise EditError(op, f"unknown field '{unknown[0]}' (fields: {', '.join([*required, *optional])})")
        args: dict[str, Any] = {}
        for name, kind in required.items():
            if name not in d:
                raise EditError(op, f"the field '{name}' is missing")
            args[name] = _check_field(op, name, kind, d[name])
        for name, kind in optional.items():
            if name in d and d[name] is not None:
                args[name] = _check_field(op, name, kind, d[name])
        return cls(op, args)

    def to_dict(self) -> dict[str, Any]:
        """The command as a JSON-serialisable dict ``{"op": ..., **args}``.

        Returns
        -------
        dict
            What :meth:`from_dict` reads back into an equal command.

        Examples
        --------
        >>> Command("connect", {"session": 1, "row": 8, "to_row": 11}).to_dict()
        {'op': 'connect', 'session': 1, 'row': 8, 'to_row': 11}
        """
        return {"op": self.op, **dict(self.args)}

    def __str__(self) -> str:
        fields = " ".join(f"{k}={v!r}" for k, v in self.args.items())
        return f"{self.op} {fields}".strip()


@dataclass(frozen=True)
class Applied:
    """What a command did (or, from :meth:`Editor.undo`, what was undone).

    Parameters
    ----------
    command : Command
        The command.
    summary : str
        One line for a person: ``"session 2: added spine row 650 on map segment 0 ..."``.
    touched : frozenset of (int, int)
        ``(session, row)`` of every object read or changed, rows as they stood before the
        command (for ``add_spine``, the new row).
    changed_sessions : frozenset of int
        Sessions whose annotations changed (viewers redraw these).

    Examples
    --------
    >>> import tempfile
    >>> from pymapmanager import load_map
    >>> from pymapmanager.synthetic.maps import generate_map
    >>> m = load_map(generate_map(tempfile.mkdtemp(), name="ex", sessions=2, segments=1,
    ...                           spines_per_segment=5, images=False))
    >>> a = Editor(m).apply({"op": "disconnect", "session": 0, "row": 8})
    >>> a.summary
    'session 0 row 8 disconnected from session 1 row 8 (two runs now)'
    >>> sorted(a.touched), sorted(a.changed_sessions)
    ([(0, 8), (1, 8)], [0, 1])
    """

    command: Command
    summary: str
    touched: frozenset[tuple[int, int]] = frozenset()
    changed_sessions: frozenset[int] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-serialisable data (what a saved version stores).

        Returns
        -------
        dict
            ``{"command": {...}, "summary": str, "touched": [[session, row], ...],
            "changed_sessions": [...]}``, lists sorted.

        Examples
        --------
        >>> a = Applied(Command("delete", {"session": 1, "row": 2}), "deleted", frozenset({(1, 2)}), frozenset({1}))
        >>> a.to_dict()
        {'command': {'op': 'delete', 'session': 1, 'row': 2}, 'summary': 'deleted', 'touched': [[1, 2]], 'changed_sessions': [1]}
        """
        return {
            "command": self.command.to_dict(),
            "summary": self.summary,
            "touched": [list(t) for t in sorted(self.touched)],
            "changed_sessions": sorted(self.changed_sessions),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Applied:
        """The inverse of :meth:`to_dict` (e.g. a saved version's commands, for :func:`rebase`).

        Parameters
        ----------
        d : mapping
            What :meth:`to_dict` returned.

        Returns
        -------
        Applied

        Raises
        ------
        EditError
            The command inside is not valid.

        Examples
        --------
        >>> d = {"command": {"op": "set_bad", "session": 0, "row": 3, "bad": True},
        ...      "summary": "marked bad", "touched": [[0, 3]], "changed_sessions": [0]}
        >>> a = Applied.from_dict(d)
        >>> a.command.op, sorted(a.touched), a.to_dict() == d
        ('set_bad', [(0, 3)], True)
        """
        try:
            touched = frozenset((int(s), int(r)) for s, r in d.get("touched", []))
            sessions = frozenset(int(s) for s in d.get("changed_sessions", []))
        except (TypeError, ValueError) as e:
            raise EditError("command", f"not an applied command: {e}") from None
        return cls(Command.from_dict(d["command"]), str(d.get("summary", "")), touched, sessions)


# --------------------------------------------------------------------------- copies of the map's parts

#: a part of a map that a command replaces: ("header",), ("objmap",), ("db2", j),
#: ("int", j) (all channels of a session), ("user", j), ("tracing", j)
_Slot = tuple[Any, ...]


def _get(m: Map, slot: _Slot) -> Any:
    kind = slot[0]
    if kind == "header":
        return m.header
    if kind == "objmap":
        return m.objmap
    if kind == "db2":
        return m.db2[slot[1]]
    if kind == "int":
        return m.intensity[slot[1]]
    if kind == "user":
        return m.user[slot[1]]
    if kind == "tracing":
        return m.tracing(slot[1])
    raise KeyError(slot)  # pragma: no cover


def _put(m: Map, slot: _Slot, obj: Any) -> None:
    kind = slot[0]
    if kind == "header":
        m.header = obj
    elif kind == "objmap":
        m.objmap = obj
    elif kind == "db2":
        m.db2[slot[1]] = obj
    elif kind == "int":
        m.intensity[slot[1]] = obj
    elif kind == "user":
        m.user[slot[1]] = obj
    elif kind == "tracing":
        m.set_tracing(slot[1], obj)
    else:  # pragma: no cover
        raise KeyError(slot)


def _head_lines(t: CsvTable, meta_line: str | None) -> list[str]:
    head = [] if meta_line is None else [meta_line]
    head.append(t.column_line or ",".join(t.columns) + ("," if t.trailing_comma else ""))
    return head


def _table_rows(t: CsvTable) -> list[str]:
    """The rows' text of a table (a new list; the table is not changed)."""
    lines, _eol, _final = split_lines(t.to_text(), t.eol)
    return lines[(1 if t.meta_line is not None else 0) + 1 :]


def _rebuild(t: CsvTable, rows: list[str], meta_line: str | None = None, *, keep_meta: bool = True) -> CsvTable:
    """A new table like ``t`` (same header, options, encoding) holding ``rows``."""
    meta = t.meta_line if keep_meta else meta_line
    head = _head_lines(t, meta)
    text = join_lines(head + rows, t.eol, t.final_eol or not rows)
    return CsvTable.parse(
        text,
        t.path,
        has_meta=meta is not None,
        numeric=t.numeric,
        all_numeric=t.all_numeric,
        first_line_number=max(1, t.first_row_line - len(head)),
        eol=t.eol,
        finite=t.finite,
        encoding=t.encoding,
    )


def _copy_table(t: CsvTable) -> CsvTable:
    return _rebuild(t, _table_rows(t))


def _copy_tracing(tr: Tracing) -> Tracing:
    """A tracing whose segment table is a copy (the point table, never edited, is shared)."""
    return replace(tr, segments=_copy_table(tr.segments))


def _copy_header(h: HeaderTable) -> HeaderTable:
    return HeaderTable(h.path, h.first_line, [(n, list(c)) for n, c in h.rows], h.eol, h.final_eol, h.encoding)


def _link_array(lm: LinkMap) -> np.ndarray:
    """A copy of a link map's (blocks, rows, sessions) array (the map itself left as read)."""
    nb, R, S = lm.shape
    if nb == 0:
        return np.full((0, R, S), np.nan)
    return np.stack([lm.block(b) for b in range(nb)]).astype(float)


def _copy_links(lm: LinkMap) -> LinkMap:
    new = LinkMap.parse(lm.to_text(), lm.path, lm.encoding)
    new.data = _link_array(lm)
    return new


def _set_meta(meta_line: str | None, key: str, value: str) -> str | None:
    """``meta_line`` with ``key=...;`` set to ``value`` (only when the key is there)."""
    if meta_line is None:
        return None
    pat = re.compile(rf"(^|;)({re.escape(key)})=([^;]*)")
    return pat.sub(lambda mt: f"{mt.group(1)}{mt.group(2)}={value}", meta_line, count=1)


def _whole_format(text: str) -> str:
    """The format a whole number was written in (``41.000000`` -> ``%f``, ``41`` -> ``%g``)."""
    return "%f" if "." in text else "%g"


def _renumber_rows(rows: list[str], col: int, first: int, delta: int) -> None:
    """Rows from ``first`` whose cell ``col`` equals their old position get it moved by ``delta``."""
    for k in range(first, len(rows)):
        cells = rows[k].split(",")
        if col >= len(cells):
            continue
        try:
            v = float(cells[col])
        except ValueError:
            continue
        old = k - delta  # the row's position before the change
        if v == old:
            cells[col] = format_number(float(k), _whole_format(cells[col]))
            rows[k] = ",".join(cells)


def _num(v: float) -> str:
    """A number for a summary."""
    return "none" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.5g}"


class _Work:
    """The parts of a map one command replaces: copied on first use, put back on failure."""

    def __init__(self, m: Map) -> None:
        self.m = m
        self.before: dict[_Slot, Any] = {}

    def take(self, slot: _Slot, make: Callable[[Any], Any]) -> Any:
        """The working copy of ``slot`` (made from the current one by ``make`` on first use)."""
        if slot not in self.before:
            cur = _get(self.m, slot)
            self.before[slot] = cur
            _put(self.m, slot, make(cur))
        return _get(self.m, slot)

    def original(self, slot: _Slot) -> Any:
        """``slot`` as it was before the command."""
        return self.before[slot] if slot in self.before else _get(self.m, slot)

    def replace(self, slot: _Slot, obj: Any) -> None:
        """Put ``obj`` in place of ``slot`` (remembering the original)."""
        if slot not in self.before:
            self.before[slot] = _get(self.m, slot)
        _put(self.m, slot, obj)

    def db2(self, s: int) -> CsvTable:
        t: CsvTable = self.take(("db2", s), _copy_table)
        return t

    def header(self) -> HeaderTable:
        h: HeaderTable = self.take(("header",), _copy_header)
        return h

    def objmap(self) -> LinkMap:
        lm: LinkMap = self.take(("objmap",), _copy_links)
        return lm

    def tracing(self, s: int) -> Tracing:
        tr: Tracing = self.take(("tracing", s), _copy_tracing)
        return tr

    def after(self) -> dict[_Slot, Any]:
        return {slot: _get(self.m, slot) for slot in self.before}

    def rollback(self) -> None:
        for slot, obj in self.before.items():
            _put(self.m, slot, obj)
        self.m.invalidate()


@dataclass
class _Entry:
    applied: Applied
    before: dict[_Slot, Any]
    after: dict[_Slot, Any]


# --------------------------------------------------------------------------- the editor


class Editor:
    """Applies edit commands to a map, with undo and redo of any number of them.

    Parameters
    ----------
    m : Map
        The map to edit (changed in place; save it with :meth:`Map.save`).
    user : str
        Written as ``userName`` of the objects added.
    now : callable, optional
        Returns the current time (naive local, or aware) for creation and modification
        stamps; default :meth:`datetime.now`.

    Examples
    --------
    >>> import tempfile
    >>> from pymapmanager import load_map
    >>> from pymapmanager.synthetic.maps import generate_map
    >>> m = load_map(generate_map(tempfile.mkdtemp(), name="ex", sessions=2, images=False))
    >>> ed = Editor(m, user="ab")
    >>> a = ed.apply({"op": "set_bad", "session": 1, "row": 3, "bad": True})
    >>> bool(m.bad_mask(1)[3]), ed.can_undo(), ed.can_redo()
    (True, True, False)
    >>> ed.undo().summary.startswith("undid: "), bool(m.bad_mask(1)[3])
    (True, False)
    """

    def __init__(self, m: Map, *, user: str = "", now: Callable[[], datetime] | None = None) -> None:
        self.map = m
        self.user = user
        self._now = now or datetime.now
        self._done: list[_Entry] = []
        self._undone: list[_Entry] = []
        #: what is wrong with the map as it stands (:func:`_problem_identities`); None:
        #: to be computed before the next command (at first, and after undo/redo)
        self._known: Counter[str] | None = None
        self._known_messages: frozenset[str] = frozenset()
        self._warned = False

    # ------------------------------------------------------------------ history

    def can_undo(self) -> bool:
        """Whether there is a command to undo.

        Returns
        -------
        bool
            True when at least one command is applied and not undone.

        Examples
        --------
        >>> import tempfile
        >>> from pymapmanager import load_map
        >>> from pymapmanager.synthetic.maps import generate_map
        >>> m = load_map(generate_map(tempfile.mkdtemp(), name="ex", sessions=2, segments=1,
        ...                           spines_per_segment=5, images=False))
        >>> ed = Editor(m)
        >>> ed.can_undo()
        False
        >>> _ = ed.apply({"op": "set_user_type", "session": 0, "row": 9, "user_type": 2})
        >>> ed.can_undo()
        True
        """
        return bool(self._done)

    def can_redo(self) -> bool:
        """Whether there is an undone command to redo.

        A new command (not undo/redo) forgets the undone ones.

        Returns
        -------
        bool
            True when at least one command was undone since the last new command.

        Examples
        --------
        >>> import tempfile
        >>> from pymapmanager import load_map
        >>> from pymapmanager.synthetic.maps import generate_map
        >>> m = load_map(generate_map(tempfile.mkdtemp(), name="ex", sessions=2, segments=1,
        ...                           spines_per_segment=5, images=False))
        >>> ed = Editor(m)
        >>> _ = ed.apply({"op": "set_user_type", "session": 0, "row": 9, "user_type": 2})
        >>> _ = ed.undo(); ed.can_redo()
        True
        >>> _ = ed.apply({"op": "set_bad", "session": 0, "row": 9, "bad": True}); ed.can_redo()
        False
        """
        return bool(self._undone)

    def done(self) -> list[Applied]:
        """The effective commands, in order (undone ones excluded).

        Returns
        -------
        list of Applied
            What each command did, as :meth:`apply` returned it (a saved version stores
            these, and :func:`rebase` reads them).

        Examples
        --------
        >>> import tempfile
        >>> from pymapmanager import load_map
        >>> from pymapmanager.synthetic.maps import generate_map
        >>> m = load_map(generate_map(tempfile.mkdtemp(), name="ex", sessions=2, segments=1,
        ...                           spines_per_segment=5, images=False))
        >>> ed = Editor(m)
        >>> ed.replay([{"op": "set_bad", "session": 1, "row": 9, "bad": True},
        ...            {"op": "delete", "session": 1, "row": 10}, {"op": "undo"}])  # doctest: +ELLIPSIS
        [Applied(...), Applied(...), Applied(...)]
        >>> [a.command.op for a in ed.done()]
        ['set_bad']
        """
        return [e.applied for e in self._done]

    def undo(self) -> Applied | None:
        """Undo the last command.

        Returns
        -------
        Applied or None
            What was undone (summary ``"undid: ..."``), or None when nothing is left.

        Examples
        --------
        >>> import tempfile
        >>> from pymapmanager import load_map
        >>> from pymapmanager.synthetic.maps import generate_map
        >>> m = load_map(generate_map(tempfile.mkdtemp(), name="ex", sessions=2, segments=1,
        ...                           spines_per_segment=5, images=False))
        >>> ed = Editor(m)
        >>> before = m.file_bytes()
        >>> _ = ed.apply({"op": "add_spine", "session": 1, "segment": 0, "x_um": 20, "y_um": 20, "z": 3})
        >>> ed.undo().summary  # doctest: +ELLIPSIS
        'undid: session 1: added spine row 14 on map segment 0 ...'
        >>> m.file_bytes() == before, ed.undo()
        (True, None)
        """
        return self._step(self._done, self._undone, undo=True)

    def redo(self) -> Applied | None:
        """Redo the last undone command.

        Returns
        -------
        Applied or None
            What was redone (summary ``"redid: ..."``), or None when nothing is left.

        Examples
        --------
        >>> import tempfile
        >>> from pymapmanager import load_map
        >>> from pymapmanager.synthetic.maps import generate_map
        >>> m = load_map(generate_map(tempfile.mkdtemp(), name="ex", sessions=2, segments=1,
        ...                           spines_per_segment=5, images=False))
        >>> ed = Editor(m)
        >>> _ = ed.apply({"op": "set_note", "session": 0, "row": 8, "note": "thin"})
        >>> after = m.file_bytes()
        >>> _ = ed.undo()
        >>> ed.redo().summary
        "redid: session 0: note of row 8 (spineROI) set to 'thin' (was '')"
        >>> m.file_bytes() == after, ed.redo()
        (True, None)
        """
        return self._step(self._undone, self._done, undo=False)

    def _step(self, source: list[_Entry], target: list[_Entry], *, undo: bool) -> Applied | None:
        """Move the last entry of ``source`` to ``target``, putting back the objects as they
        were before (undo) or after (redo) its command."""
        if not source:
            return None
        e = source.pop()
        for slot, obj in (e.before if undo else e.after).items():
            _put(self.map, slot, obj)
        self.map.invalidate()
        self._known = None
        target.append(e)
        a = e.applied
        word = "undid" if undo else "redid"
        return Applied(a.command, f"{word}: {a.summary}", a.touched, a.changed_sessions)

    # ------------------------------------------------------------------ applying

    def apply(self, cmd: Command | Mapping[str, Any]) -> Applied:
        """Apply one command (or ``{"op": "undo"}`` / ``{"op": "redo"}``).

        Parameters
        ----------
        cmd : Command or mapping
            The command, or its dict form.

        Returns
        -------
        Applied
            What changed.

        Raises
        ------
        EditError
            The command is invalid, names an object that does not exist, would break an
            invariant of the map, reads a tracing that is malformed, or there is nothing
            to undo/redo. The map is unchanged.

        Examples
        --------
        >>> import tempfile
        >>> from pymapmanager import load_map
        >>> from pymapmanager.synthetic.maps import generate_map
        >>> m = load_map(generate_map(tempfile.mkdtemp(), name="ex", sessions=2, segments=1,
        ...                           spines_per_segment=5, images=False))
        >>> ed = Editor(m, user="doc")
        >>> ed.apply({"op": "delete", "session": 1, "row": 9}).summary
        'session 1: deleted row 9 (spineROI); unlinked from session 0 row 10; rows 10..13 are now 9..12'
        >>> ed.apply({"op": "delete", "session": 1, "row": 40})
        Traceback (most recent call last):
        ...
        pymapmanager.errors.EditError: delete refused: session 1 has no row 40 (rows 0..12)
        >>> ed.apply({"op": "undo"}).summary.startswith("undid: session 1: deleted row 9")
        True
        """
        op = cmd.op if isinstance(cmd, Command) else (cmd.get("op") if isinstance(cmd, Mapping) else None)
        if op in HISTORY_OPS:
            extra = sorted(k for k in (cmd.args if isinstance(cmd, Command) else cmd) if k != "op")
            if extra:
                raise EditError(str(op), f"takes no fields, found '{extra[0]}'")
            got = self.undo() if op == "undo" else self.redo()
            if got is None:
                raise EditError(str(op), f"nothing to {op}")
            return got
        command = Command.from_dict(cmd.to_dict() if isinstance(cmd, Command) else cmd)
        m = self.map
        if m.read_only:
            raise EditError(command.op, f"map {m.name} cannot be written: {m.read_only}")
        if self._known is None:
            problems, keys = _invariants(m, tracings=())
            self._known = _problem_identities(problems, keys)
            self._known_messages = frozenset(problems)
            if problems and not self._warned:
                self._warned = True
                log.warning(
                    "map %s already breaks %d invariant(s) before editing, e.g. %s",
                    m.name, len(problems), problems[0],
                )  # fmt: skip
        work = _Work(m)
        try:
            applied = _RUNNERS[command.op](self, work, command)
            m.invalidate()
            problems, keys = _invariants(m, tracings=())
            known = _problem_identities(problems, keys)
            # the tracing counts of the sessions the command changed, before and after it
            t_before: list[str] = []
            t_after: list[str] = []
            for j in sorted({slot[1] for slot in work.before if slot[0] in ("db2", "tracing")}):
                _tracing_problems(j, work.original(("db2", j)), partial(work.original, ("tracing", j)), t_before, keys)
                _tracing_problems(j, m.db2[j], partial(m.tracing, j), t_after, keys)
            new = (known - self._known) + (
                _problem_identities(t_after, keys) - _problem_identities(t_before, keys)
            )
            broken = [p for p in problems + t_after if new[_problem_identity(p, keys)] > 0]
            # name a new problem first
            broken.sort(key=lambda p: p in self._known_messages or p in t_before)
        except EditError:
            work.rollback()
            raise
        except MapFormatError as e:  # a file the command reads (a tracing) is malformed
            work.rollback()
            raise EditError(command.op, str(e)) from None
        except (ValueError, KeyError, IndexError) as e:  # a value the files cannot hold
            work.rollback()
            raise EditError(command.op, str(e).strip("'\"")) from None
        if broken:
            work.rollback()
            raise EditError(command.op, f"it would break the map: {broken[0]}")
        self._known, self._known_messages = known, frozenset(problems)
        self._done.append(_Entry(applied, work.before, work.after()))
        self._undone.clear()
        return applied

    def replay(self, log: Iterable[Mapping[str, Any]]) -> list[Applied]:
        """Apply a stored log of command dicts in order (``undo``/``redo`` included).

        Parameters
        ----------
        log : iterable of mapping
            Command dicts, as :meth:`Command.to_dict` (or the command line's script) gives them.

        Returns
        -------
        list of Applied
            One per entry.

        Raises
        ------
        EditError
            An entry is refused; the ones before it stay applied.

        Examples
        --------
        >>> import tempfile
        >>> from pymapmanager import load_map
        >>> from pymapmanager.synthetic.maps import generate_map
        >>> m = load_map(generate_map(tempfile.mkdtemp(), name="ex", sessions=2, segments=1,
        ...                           spines_per_segment=5, images=False))
        >>> log = [{"op": "set_note", "session": 0, "row": 8, "note": "a"},
        ...        {"op": "set_note", "session": 0, "row": 8, "note": "b"}, {"op": "undo"}]
        >>> [a.summary for a in Editor(m).replay(log)]  # doctest: +NORMALIZE_WHITESPACE
        ["session 0: note of row 8 (spineROI) set to 'a' (was '')",
         "session 0: note of row 8 (spineROI) set to 'b' (was 'a')",
         "undid: session 0: note of row 8 (spineROI) set to 'b' (was 'a')"]
        >>> m.db2[0].data["note"][8]
        'a'
        """
        return [self.apply(c) for c in log]

    # ------------------------------------------------------------------ helpers for the commands

    def _stamp(self) -> tuple[str, str, str]:
        """(date, time, Igor seconds) of now, as Map Manager writes them."""
        when = self._now()
        if when.tzinfo is not None:
            when = when.astimezone().replace(tzinfo=None)
        return when.strftime("%Y-%m-%d"), when.strftime("%H:%M:%S"), f"{round(igor_seconds(when), 3):f}"

    def _touch(self, work: _Work, s: int, row: int) -> None:
        """Set the modification date, time and seconds of one object (columns present only)."""
        t = work.db2(s)
        day, clock, secs = self._stamp()
        for col, v in (("mDate", day), ("mTime", clock), ("mSeconds", secs)):
            if col in t.columns:
                t.set_value(row, col, v, "%f")


# --------------------------------------------------------------------------- checks shared by commands


def _session(m: Map, op: str, s: int) -> int:
    if not 0 <= s < m.num_sessions:
        raise EditError(op, f"map {m.name} has no session {s} (sessions 0..{m.num_sessions - 1})")
    return s


def _row(m: Map, op: str, s: int, row: int, what: str = "row") -> int:
    _session(m, op, s)
    n = len(m.db2[s])
    if not 0 <= row < n:
        rng = f"rows 0..{n - 1}" if n else "no rows"
        raise EditError(op, f"session {s} has no {what} {row} ({rng})")
    return row


def _cell(t: CsvTable, col: str, row: int) -> Any:
    if col not in t.columns:
        return math.nan
    return t.data[col][row]


def _roi(t: CsvTable, row: int) -> str:
    v = _cell(t, "roiType", row)
    return v if isinstance(v, str) else ""


def _position(m: Map, op: str, s: int, x: float, y: float, z: float) -> None:
    """Refuse a position outside the session's image (when the header gives its size)."""
    if not float(z).is_integer():
        raise EditError(op, f"z is a slice index and must be a whole number, not {z!r}")
    pz, py, px = m.sessions[s].shape
    dx, dy, _dz = m.sessions[s].voxel
    if z < 0 or (pz and z >= pz):
        raise EditError(op, f"z {z:g} is outside the stack of session {s} (slices 0..{(pz or 1) - 1})")
    for name, v, npx, d in (("x", x, px, dx), ("y", y, py, dy)):
        top = npx * d if npx and d == d else math.inf
        if v < 0 or v > top:
            raise EditError(op, f"{name} {v:g} um is outside the image of session {s} (0..{top:g} um)")


def _map_segment_of_row(m: Map, s: int, row: int) -> int | None:
    parent = _cell(m.db2[s], "parentID", row)
    if not isinstance(parent, float) or math.isnan(parent):
        return None
    return m.map_segment_of(s, parent)


def _links(m: Map) -> np.ndarray:
    """The objMap's array, read-only (blocks parsed on first use, nothing materialised)."""
    lm = m.objmap
    nb, R, S = lm.shape
    return np.stack([lm.block(b) for b in range(nb)]) if nb else np.full((0, R, S), np.nan)


def _linked(m: Map, s: int, row: int) -> tuple[int | None, int | None]:
    """(row in session s+1, row in session s-1) the object links to, or None."""
    b, R, _S = m.objmap.shape
    if row >= R:
        return None, None
    d = _links(m)
    nx, pv = d[LinkMap.NEXT, row, s], d[LinkMap.PREV, row, s]
    return (None if math.isnan(nx) else int(nx)), (None if math.isnan(pv) else int(pv))


def _attach(m: Map, s: int, sid: int, x: float, y: float, z: float) -> dict[str, float] | str:
    """Where an object at (x, y, z) attaches to stack segment ``sid``'s tracing in session s.

    Returns the ``cPnt``, ``sDist``, ``pDist``, ``cx``, ``cy``, ``cz`` values, or why there
    are none.
    """
    tr = m.tracing(s)
    if tr is None:
        return f"session {s} has no tracing"
    pts = tr.points.data
    ids = pts["ID"]
    on = np.flatnonzero(ids == sid)
    if on.size == 0:
        return f"the tracing of session {s} has no points on segment {sid}"
    dz = m.sessions[s].voxel[2]
    dz = 1.0 if not dz == dz else dz
    px, py, pz = pts["x"][on], pts["y"][on], pts["z"][on]
    d2 = (px - x) ** 2 + (py - y) ** 2 + ((pz - z) * dz) ** 2
    k = int(on[int(np.argmin(d2))])
    sdist = float(pts["sDist"][k]) if "sDist" in pts else math.nan
    pdist = math.nan
    t = m.db2[s]
    if "cPnt" in t.columns and "parentID" in t.columns:
        piv = np.flatnonzero((t.data["roiType"] == "pivotPnt") & (t.data["parentID"] == sid))
        if piv.size:
            c = t.data["cPnt"][piv[0]]
            if c == c and 0 <= c < len(tr.points) and "sDist" in pts:
                pdist = sdist - float(pts["sDist"][int(c)])
    if math.isnan(pdist) and "pDist" in pts:
        pdist = float(pts["pDist"][k])
    return {
        "cPnt": float(k),
        "sDist": sdist,
        "pDist": pdist,
        "cx": float(pts["x"][k]),
        "cy": float(pts["y"][k]),
        "cz": float(pts["z"][k]),
    }


_POSITION_FORMATS = {"cPnt": "%g", "cx": "%.5g", "cy": "%.5g", "cz": "%.5g", "sDist": "%.5g", "pDist": "%.5g"}


def _count_change(work: _Work, s: int, d_obj: int, d_spine: int) -> None:
    """Add to the header's ``numObj``/``numSpine`` and the table's ``numObjects``/``numSpines``."""
    m = work.m
    for row, d in (("numObj", d_obj), ("numSpine", d_spine)):
        if d and row in m.header:
            cur = m.header.get(row, 0)
            try:
                v = int(float(cur))
            except ValueError:
                continue  # a count we cannot read is left as it is
            work.header().set(row, 0, str(v + d))
    t = work.db2(s)
    meta = t.meta
    new_meta = t.meta_line
    for key, d in (("numObjects", d_obj), ("numSpines", d_spine)):
        if d and key in meta:
            try:
                v = int(float(meta[key]))
            except ValueError:
                continue
            new_meta = _set_meta(new_meta, key, str(v + d))
    if new_meta != t.meta_line:
        work.replace(("db2", s), _rebuild(t, _table_rows(t), new_meta, keep_meta=False))


def _segment_rows(seg: CsvTable) -> dict[int, int]:
    """Segment ID -> row of a tracing's segment table (by its ``Idx`` column, else by position)."""
    if "Idx" not in seg.columns:
        return {i: i for i in range(len(seg))}
    idx = seg.data["Idx"]
    if idx.dtype == object:
        return {}
    return {int(v): i for i, v in enumerate(idx.tolist()) if v == v and float(v).is_integer()}


def _whole_cell(t: CsvTable, row: int, col: str) -> tuple[int, str] | None:
    """A cell holding a whole number: (its value, its text), or None (empty, text, fraction)."""
    k = t.columns.index(col)
    cells = _table_rows(t)[row].split(",")
    text = cells[k] if k < len(cells) else ""
    try:
        v = float(text)
    except ValueError:
        return None
    if not (math.isfinite(v) and v.is_integer()):
        return None
    return int(v), text


def _segment_count_change(work: _Work, s: int, sid: float, d: int) -> None:
    """Add ``d`` to ``nObj`` (spines on the segment) of segment ``sid`` in session s's tracing.

    Left as it is when the session has no tracing, the tracing has no ``nObj`` column or no
    row for the segment, or the cell is not a whole number.
    """
    if not isinstance(sid, (int, float)) or math.isnan(sid) or not float(sid).is_integer():
        return
    tr = work.m.tracing(s)
    if tr is None or "nObj" not in tr.segments.columns:
        return
    row = _segment_rows(tr.segments).get(int(sid))
    if row is None:
        return
    got = _whole_cell(tr.segments, row, "nObj")
    if got is None:
        return
    v, text = got
    work.tracing(s).segments.set_value(row, "nObj", float(v + d), _whole_format(text))


def _recompute_run_blocks(d: np.ndarray, nrows: Sequence[int]) -> None:
    """Rewrite the objMap's ``runIdx`` and ``dynType`` blocks from the links (in place).

    Runs are numbered as Map Manager numbers them: by the session they start in, then by
    row; ``dynType`` is 1 added, 2 subtracted, 3 linked on both sides (or on its only
    side in the first/last session), 4 alone.
    """
    nb, R, S = d.shape
    if R == 0 or S == 0:
        return
    idx, nxt, prv = d[LinkMap.IDX], d[LinkMap.NEXT], d[LinkMap.PREV]
    present = ~np.isnan(idx)
    has_prev = present & ~np.isnan(prv)
    has_next = present & ~np.isnan(nxt)
    if nb > LinkMap.RUN_IDX:
        run = np.full((R, S), np.nan)
        counter = 0
        for j in range(S):
            rows = np.flatnonzero(present[:, j])
            for i in rows.tolist():
                if has_prev[i, j] and j > 0:
                    p = int(prv[i, j])
                    run[i, j] = run[p, j - 1] if p < R else np.nan
                    if not math.isnan(run[i, j]):
                        continue
                run[i, j] = counter
                counter += 1
        d[LinkMap.RUN_IDX] = run
    if nb > LinkMap.DYN_TYPE:
        dyn = np.full((R, S), np.nan)
        for j in range(S):
            hp, hn = has_prev[:, j], has_next[:, j]
            if S == 1:
                v = np.full(R, 4.0)
            elif j == 0:
                v = np.where(hn, 3.0, 2.0)
            elif j == S - 1:
                v = np.where(hp, 3.0, 1.0)
            else:
                v = np.select([hp & hn, hp, hn], [3.0, 2.0, 1.0], 4.0)
            dyn[:, j] = np.where(present[:, j], v, np.nan)
        d[LinkMap.DYN_TYPE] = dyn


def _set_links(work: _Work, d: np.ndarray) -> None:
    """Install a changed objMap array (``runIdx``/``dynType`` recomputed)."""
    m = work.m
    _recompute_run_blocks(d, [len(t) for t in m.db2])
    work.objmap().data = d


# --------------------------------------------------------------------------- the commands


def _add_spine(ed: Editor, work: _Work, c: Command) -> Applied:
    m, a, op = ed.map, c.args, c.op
    s = _session(m, op, a["session"])
    k = a["segment"]
    if m.num_map_segments == 0:
        raise EditError(op, f"map {m.name} has no segments (no segMap): a spine needs a map segment")
    if not 0 <= k < m.num_map_segments:
        raise EditError(op, f"map {m.name} has no map segment {k} (map segments 0..{m.num_map_segments - 1})")
    sid = m.stack_segment(k, s)
    if sid is None:
        raise EditError(op, f"map segment {k} is not in session {s}")
    x, y, z = float(a["x_um"]), float(a["y_um"]), float(a["z"])
    _position(m, op, s, x, y, z)
    t = m.db2[s]
    n = len(t)
    spine_num = m.roi_type_number("spineROI")
    spine_num = 0 if spine_num is None else spine_num
    at = _attach(m, s, sid, x, y, z)
    day, clock, secs = ed._stamp()
    channel = m.sessions[s].default_channel
    values: dict[str, str] = {
        "Idx": format_number(float(n), "%g"),
        "roiType": "spineROI",
        "roiTypeNum": str(spine_num),
        "x": format_number(x, "%.5g"),
        "y": format_number(y, "%.5g"),
        "z": format_number(z, "%g"),
        "channel": str(channel),
        "parentID": str(sid),
        "cDate": day,
        "cTime": clock,
        "mDate": day,
        "mTime": clock,
        "cSeconds": secs,
        "mSeconds": secs,
        "userName": ed.user,
    }
    if isinstance(at, dict):
        for col, v in at.items():
            values[col] = format_number(v, _POSITION_FORMATS[col])
        where = (
            f"attached to tracing point {int(at['cPnt'])} "
            f"(sDist {_num(at['sDist'])}, pDist {_num(at['pDist'])} um)"
        )
    else:
        where = f"not attached: {at} (cPnt, sDist, pDist, cx, cy, cz left empty)"
    for col in ("roiType", "x", "y", "z"):
        if col not in t.columns:
            raise EditError(op, f"the table of session {s} has no '{col}' column")
    cells = [values.get(col, "") for col in t.columns]
    row_text = ",".join(cells) + ("," if t.trailing_comma else "")
    for text in values.values():
        if "," in text or "\r" in text or "\n" in text:
            raise EditError(op, f"the value '{text}' cannot be written in a table (commas and line ends are not allowed)")
        try:
            text.encode(t.encoding)
        except UnicodeEncodeError:
            raise EditError(op, f"'{text}' cannot be written in the table's encoding ({t.encoding})") from None
    work.replace(("db2", s), _rebuild(t, [*_table_rows(t), row_text]))
    # intensity rows: empty (NaN) until measured
    ints = m.intensity[s]
    if len(ints):
        new_ints: dict[int, CsvTable] = {}
        for ch in sorted(ints):
            it = ints[ch]
            rows = _table_rows(it)
            idx_fmt = "%f"
            if rows and "idx" in it.columns:
                idx_fmt = _whole_format(rows[-1].split(",")[it.columns.index("idx")])
            icells = [format_number(float(n), idx_fmt) if col.lower() == "idx" else "NaN" for col in it.columns]
            new_ints[ch] = _rebuild(it, [*rows, ",".join(icells) + ("," if it.trailing_comma else "")])
        work.replace(("int", s), new_ints)
    # links: a new object, in no run yet
    d = _links(m).copy()
    nb, R, S = d.shape
    if n >= R:
        d = np.concatenate([d, np.full((nb, n + 1 - R, S), np.nan)], axis=1)
    d[LinkMap.IDX, n, s] = n
    if nb > LinkMap.NODE_TYPE:
        d[LinkMap.NODE_TYPE, n, s] = spine_num
    if nb > 8:
        d[8, n, s] = 0  # "forced", 0 on every spine Map Manager writes
    if nb > LinkMap.SEGMENT_ID:
        d[LinkMap.SEGMENT_ID, n, s] = sid
    _set_links(work, d)
    _count_change(work, s, 1, 1)
    _segment_count_change(work, s, sid, 1)
    summary = (
        f"session {s}: added spine row {n} on map segment {k} (segment {sid} of the session) "
        f"at x {x:g} y {y:g} um z {z:g}; {where}"
    )
    return Applied(c, summary, frozenset({(s, n)}), frozenset({s}))


def _move(ed: Editor, work: _Work, c: Command) -> Applied:
    m, a, op = ed.map, c.args, c.op
    s, row = a["session"], a["row"]
    _row(m, op, s, row)
    t = m.db2[s]
    roi = _roi(t, row)
    if roi in STRUCTURAL_ROIS:
        raise EditError(op, f"row {row} of session {s} is a {roi}, part of the tracing (retrace it in Map Manager)")
    x, y, z = float(a["x_um"]), float(a["y_um"]), float(a["z"])
    _position(m, op, s, x, y, z)
    old = tuple(float(_cell(t, col, row)) for col in ("x", "y", "z"))
    w = work.db2(s)
    w.set_value(row, "x", x, "%.5g")
    w.set_value(row, "y", y, "%.5g")
    w.set_value(row, "z", z, "%g")
    note = ""
    parent = _cell(t, "parentID", row)
    if isinstance(parent, float) and not math.isnan(parent):
        at = _attach(m, s, int(parent), x, y, z)
        if isinstance(at, dict):
            for col, v in at.items():
                if col in w.columns:
                    w.set_value(row, col, v, _POSITION_FORMATS[col])
            note = f"; attached to tracing point {int(at['cPnt'])} (pDist {_num(at['pDist'])} um)"
        else:
            note = f"; connection point unchanged ({at})"
    ed._touch(work, s, row)
    summary = (
        f"session {s}: moved row {row} ({roi or 'object'}) from x {_num(old[0])} y {_num(old[1])} z {_num(old[2])} "
        f"to x {x:g} y {y:g} um z {z:g}{note}"
    )
    return Applied(c, summary, frozenset({(s, row)}), frozenset({s}))


def _delete(ed: Editor, work: _Work, c: Command) -> Applied:
    m, a, op = ed.map, c.args, c.op
    s, row = a["session"], a["row"]
    _row(m, op, s, row)
    t = m.db2[s]
    roi = _roi(t, row)
    if roi in STRUCTURAL_ROIS:
        raise EditError(op, f"row {row} of session {s} is a {roi}, part of the tracing (retrace it in Map Manager)")
    n = len(t)
    touched = {(s, row)}
    # the links: cut the run at this object, then close the gap its row leaves
    d = _links(m).copy()
    nb, R, S = d.shape
    unlinked: list[str] = []
    nx, pv = _linked(m, s, row)
    if nx is not None and s + 1 < S:
        d[LinkMap.PREV, nx, s + 1] = np.nan
        d[LinkMap.PREV_TP, nx, s + 1] = np.nan
        touched.add((s + 1, nx))
        unlinked.append(f"session {s + 1} row {nx}")
    if pv is not None and s > 0:
        d[LinkMap.NEXT, pv, s - 1] = np.nan
        d[LinkMap.NEXT_TP, pv, s - 1] = np.nan
        touched.add((s - 1, pv))
        unlinked.append(f"session {s - 1} row {pv}")
    col = d[:, :, s].copy()
    col[:, row:-1] = col[:, row + 1 :]
    col[:, -1] = np.nan
    with np.errstate(invalid="ignore"):
        col[LinkMap.IDX, row:n - 1] -= 1
    d[:, :, s] = col
    with np.errstate(invalid="ignore"):
        for link, tp in ((LinkMap.NEXT, LinkMap.NEXT_TP), (LinkMap.PREV, LinkMap.PREV_TP)):
            into = (d[tp] == s) & (d[link] > row)
            d[link][into] -= 1
    old_max = max((len(x) for x in m.db2), default=0)
    new_max = max([len(x) for j, x in enumerate(m.db2) if j != s] + [n - 1])
    if R == old_max and new_max < R:
        d = d[:, :new_max, :]
    # the tables
    rows = _table_rows(t)
    del rows[row]
    if "Idx" in t.columns:
        _renumber_rows(rows, t.columns.index("Idx"), row, -1)
    work.replace(("db2", s), _rebuild(t, rows))
    ints = m.intensity[s]
    if len(ints):
        new_ints: dict[int, CsvTable] = {}
        for ch in sorted(ints):
            it = ints[ch]
            irows = _table_rows(it)
            if row < len(irows):
                del irows[row]
            if "idx" in it.columns:
                _renumber_rows(irows, it.columns.index("idx"), row, -1)
            new_ints[ch] = _rebuild(it, irows)
        work.replace(("int", s), new_ints)
    u = m.user[s]
    if u is not None:
        urows = _table_rows(u)
        if "Idx" in u.columns:
            ci = u.columns.index("Idx")
            kept = []
            for r_text in urows:
                cells = r_text.split(",")
                try:
                    v = float(cells[ci])
                except (ValueError, IndexError):
                    kept.append(r_text)
                    continue
                if v == row:
                    continue
                if v > row:
                    cells[ci] = format_number(v - 1, _whole_format(cells[ci]))
                kept.append(",".join(cells))
            urows = kept
        elif row < len(urows):
            del urows[row]
        work.replace(("user", s), _rebuild(u, urows))
    _set_links(work, d)
    _count_change(work, s, -1, -1 if roi == "spineROI" else 0)
    if roi == "spineROI":
        _segment_count_change(work, s, _cell(t, "parentID", row), -1)
    after = f"; rows {row + 1}..{n - 1} are now {row}..{n - 2}" if row < n - 1 else ""
    cut = f"; unlinked from {' and '.join(unlinked)}" if unlinked else ""
    summary = f"session {s}: deleted row {row} ({roi or 'object'}){cut}{after}"
    return Applied(c, summary, frozenset(touched), frozenset(p for p, _ in touched))


def _set_field(ed: Editor, work: _Work, c: Command, col: str, value: Any, fmt: str, shown: str) -> Applied:
    m, a, op = ed.map, c.args, c.op
    s, row = a["session"], a["row"]
    _row(m, op, s, row)
    t = m.db2[s]
    if col not in t.columns:
        raise EditError(op, f"the table of session {s} has no '{col}' column")
    old = _cell(t, col, row)
    w = work.db2(s)
    w.set_value(row, col, value, fmt)
    ed._touch(work, s, row)
    roi = _roi(t, row) or "object"
    old_shown = repr(old) if isinstance(old, str) else _num(old)
    summary = f"session {s}: {shown} of row {row} ({roi}) set to {value!r} (was {old_shown})"
    return Applied(c, summary, frozenset({(s, row)}), frozenset({s}))


def _set_bad(ed: Editor, work: _Work, c: Command) -> Applied:
    bad = bool(c.args["bad"])
    s, row = c.args["session"], c.args["row"]
    _row(ed.map, c.op, s, row)
    was = bool(ed.map.bad_mask(s)[row])
    got = _set_field(ed, work, c, "isBad", 1 if bad else 0, "%g", "isBad")
    state = "bad" if bad else "good"
    return Applied(
        c,
        f"session {s}: row {row} marked {state} (was {'bad' if was else 'good'})",
        got.touched,
        got.changed_sessions,
    )


def _set_note(ed: Editor, work: _Work, c: Command) -> Applied:
    note = c.args["note"]
    if len(note) > _MAX_NOTE:
        raise EditError(c.op, f"a note may hold at most {_MAX_NOTE} characters, this one has {len(note)}")
    if "," in note:
        raise EditError(c.op, "a note may not contain a comma (the table is comma separated)")
    if any(ch in note for ch in "\r\n\t") or any(ord(ch) < 32 or ord(ch) == 127 for ch in note):
        raise EditError(c.op, "a note may not contain line ends, tabs or control characters")
    return _set_field(ed, work, c, "note", note, "%g", "note")


def _set_user_type(ed: Editor, work: _Work, c: Command) -> Applied:
    ut = c.args["user_type"]
    if not 0 <= ut <= MAX_USER_TYPE:
        raise EditError(c.op, f"user_type must be 0..{MAX_USER_TYPE}, not {ut}")
    return _set_field(ed, work, c, "userType", ut, "%g", "userType")


def _connectable(m: Map, op: str, s: int, row: int) -> str:
    roi = _roi(m.db2[s], row)
    if roi in STRUCTURAL_ROIS:
        raise EditError(op, f"row {row} of session {s} is a {roi}: tracing points are linked with their segment")
    return roi


def _connect(ed: Editor, work: _Work, c: Command) -> Applied:
    m, a, op = ed.map, c.args, c.op
    s, row, to = a["session"], a["row"], a["to_row"]
    _row(m, op, s, row)
    if s + 1 >= m.num_sessions:
        raise EditError(op, f"session {s} is the last: there is no next session to connect to")
    _row(m, op, s + 1, to, "row (to_row)")
    r1, r2 = _connectable(m, op, s, row), _connectable(m, op, s + 1, to)
    if r1 != r2:
        raise EditError(op, f"session {s} row {row} is a {r1 or 'object'} but session {s + 1} row {to} is a {r2 or 'object'}")
    nx, _ = _linked(m, s, row)
    if nx is not None:
        raise EditError(op, f"session {s} row {row} is already connected to session {s + 1} row {nx} (disconnect it first)")
    _, pv = _linked(m, s + 1, to)
    if pv is not None:
        raise EditError(op, f"session {s + 1} row {to} is already connected to session {s} row {pv} (disconnect it first)")
    k1, k2 = _map_segment_of_row(m, s, row), _map_segment_of_row(m, s + 1, to)
    if k1 is not None and k2 is not None and k1 != k2:
        raise EditError(op, f"session {s} row {row} is on map segment {k1} but session {s + 1} row {to} is on map segment {k2}")
    d = _links(m).copy()
    d[LinkMap.NEXT, row, s], d[LinkMap.NEXT_TP, row, s] = to, s + 1
    d[LinkMap.PREV, to, s + 1], d[LinkMap.PREV_TP, to, s + 1] = row, s
    _set_links(work, d)
    summary = f"session {s} row {row} connected to session {s + 1} row {to} (one run now)"
    return Applied(c, summary, frozenset({(s, row), (s + 1, to)}), frozenset({s, s + 1}))


def _disconnect(ed: Editor, work: _Work, c: Command) -> Applied:
    m, a, op = ed.map, c.args, c.op
    s, row = a["session"], a["row"]
    _row(m, op, s, row)
    side = a.get("side")
    if side not in (None, "next", "prev"):
        raise EditError(op, f"side must be 'next' or 'prev', not {side!r}")
    nx, pv = _linked(m, s, row)
    if side is None:
        side = "next" if nx is not None else "prev"
    d = _links(m).copy()
    if side == "next":
        if nx is None:
            raise EditError(op, f"session {s} row {row} is not connected to the next session" + (
                "" if pv is None else f" (it is connected to session {s - 1} row {pv}: side 'prev')"))
        d[LinkMap.NEXT, row, s] = d[LinkMap.NEXT_TP, row, s] = np.nan
        d[LinkMap.PREV, nx, s + 1] = d[LinkMap.PREV_TP, nx, s + 1] = np.nan
        other = (s + 1, nx)
    else:
        if pv is None:
            raise EditError(op, f"session {s} row {row} is not connected to another session")
        d[LinkMap.PREV, row, s] = d[LinkMap.PREV_TP, row, s] = np.nan
        d[LinkMap.NEXT, pv, s - 1] = d[LinkMap.NEXT_TP, pv, s - 1] = np.nan
        other = (s - 1, pv)
    _set_links(work, d)
    summary = f"session {s} row {row} disconnected from session {other[0]} row {other[1]} (two runs now)"
    return Applied(c, summary, frozenset({(s, row), other}), frozenset({s, other[0]}))


_RUNNERS: dict[str, Callable[[Editor, _Work, Command], Applied]] = {
    "add_spine": _add_spine,
    "move": _move,
    "delete": _delete,
    "set_bad": _set_bad,
    "set_note": _set_note,
    "set_user_type": _set_user_type,
    "connect": _connect,
    "disconnect": _disconnect,
}


# --------------------------------------------------------------------------- invariants

_MAX_PROBLEMS = 20


def _link_problems(name: str, d: np.ndarray, nrows: Sequence[int] | None, out: list[str]) -> None:
    """Links of one link map: in range, to the next/previous session, and symmetric."""
    nb, R, S = d.shape
    if nb <= LinkMap.PREV_TP or R == 0:
        return
    nxt, ntp, prv, ptp = d[LinkMap.NEXT], d[LinkMap.NEXT_TP], d[LinkMap.PREV], d[LinkMap.PREV_TP]
    sizes = list(nrows) if nrows is not None else [R] * S
    for j in range(S):
        for link, tp, step, word, back, back_tp in (
            (nxt, ntp, 1, "next", prv, ptp),
            (prv, ptp, -1, "prev", nxt, ntp),
        ):
            col = link[:, j]
            rows = np.flatnonzero(~np.isnan(col))
            for i in rows.tolist():
                t = int(col[i])
                k = j + step
                where = f"{name}: session {j} row {i}"
                if i >= sizes[j]:
                    out.append(f"{where} has a {word} link but session {j} has {sizes[j]} rows")
                elif not 0 <= k < S:
                    out.append(f"{where} links {word} beyond the sessions")
                elif tp[i, j] != k:
                    out.append(f"{where} links {word} to session {tp[i, j]:g}, not {k}")
                elif not 0 <= t < sizes[k]:
                    out.append(f"{where} links {word} to row {t} but session {k} has {sizes[k]} rows")
                elif back[t, k] != i or back_tp[t, k] != j:
                    out.append(f"{where} links {word} to session {k} row {t}, which does not link back")
                if len(out) >= _MAX_PROBLEMS:
                    return


_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _problem_identity(problem: str, keys: Mapping[str, str]) -> str:
    """What a problem is, whatever rows and values it names.

    A count's problem is the count and its offset (``keys``); any other problem is its
    message with every number replaced by ``#``, so that a problem a map already had is
    still the same problem when a command moves the rows it names (a delete above it).
    """
    return keys.get(problem) or _NUMBER.sub("#", problem)


def _problem_identities(problems: Sequence[str], keys: Mapping[str, str]) -> Counter[str]:
    """How many problems of each identity: a command may not add to any."""
    return Counter(_problem_identity(p, keys) for p in problems)


def check_invariants(m: Map) -> list[str]:
    """What is wrong with a map's links, runs, indices and counts (empty when fine).

    Checks: the objMap has one column per session and a row for every object, its
    ``idx`` names each object's own row; ``next``/``prev`` (objMap and segMap) point to
    existing rows of the next/previous session and link back; every object is in exactly
    one run; objMap ``nodeType`` agrees with ``roiTypeNum``; every ``parentID`` is a
    segment of its session (when the map has a segMap); header ``numObj``/``numSpine``
    and the tables' ``numObjects``/``numSpines`` count the rows; each tracing segment's
    ``nObj`` counts the spines on it; intensity tables have one row per object.

    Parameters
    ----------
    m : Map
        The map.

    Returns
    -------
    list of str
        One line per problem (at most a few dozen).

    Examples
    --------
    >>> import tempfile
    >>> from pymapmanager import load_map
    >>> from pymapmanager.synthetic.maps import generate_map
    >>> check_invariants(load_map(generate_map(tempfile.mkdtemp(), name="ex", sessions=3, images=False)))
    []
    """
    return _invariants(m)[0]


def _invariants(m: Map, tracings: Collection[int] | None = None) -> tuple[list[str], dict[str, str]]:
    """The problems :func:`check_invariants` lists, and a key for each count problem.

    ``tracings``: the sessions whose tracing counts are checked (None: all). The editor
    refuses a command that adds a problem of some identity (:func:`_problem_identity`) to
    those the map had before it; it checks the tracings of the sessions a command changed
    only (reading every tracing at the first command cost more than the command).
    """
    out: list[str] = []
    keys: dict[str, str] = {}
    S = m.num_sessions
    nrows = [len(t) for t in m.db2]
    lm = m.objmap
    nb, R, cols = lm.shape
    if R == 0:
        if any(nrows):
            out.append("objMap has no rows but the sessions have objects")
    elif cols != S:
        out.append(f"objMap has {cols} session columns, the map has {S} sessions")
        return out, keys
    elif R < max(nrows, default=0):
        out.append(f"objMap has {R} rows but session {int(np.argmax(nrows))} has {max(nrows)} objects")
    else:
        d = _links(m)
        idx = d[LinkMap.IDX]
        for j, n in enumerate(nrows):
            col = idx[:, j]
            good = np.arange(n, dtype=float)
            if not np.array_equal(col[:n], good):
                bad = int(np.flatnonzero(col[:n] != good)[0])
                out.append(f"objMap: session {j} row {bad} has idx {col[bad]:g}, not {bad}")
            if n < R and not np.isnan(d[:, n:, j]).all():
                out.append(f"objMap: session {j} has link cells below its {n} objects")
        _link_problems("objMap", d, nrows, out)
        if not out:
            runs = m.runs_of(None)
            for j, n in enumerate(nrows):
                got = runs[:, j]
                got = np.sort(got[~np.isnan(got)])
                if not np.array_equal(got, np.arange(n, dtype=float)):
                    out.append(f"runs: session {j} has {n} objects but its runs hold {got.size} rows")
        if nb > LinkMap.NODE_TYPE:
            for j, t in enumerate(m.db2):
                if "roiTypeNum" not in t.columns or not nrows[j]:
                    continue
                num = t.data["roiTypeNum"]
                if num.dtype == object:
                    continue
                node = d[LinkMap.NODE_TYPE, : nrows[j], j]
                both = ~np.isnan(num) & ~np.isnan(node)
                diff = np.flatnonzero(both & (num != node))
                if diff.size:
                    i = int(diff[0])
                    out.append(f"objMap: session {j} row {i} has nodeType {node[i]:g} but roiTypeNum {num[i]:g}")
    if m.segmap is not None and m.segmap.shape[1] > 0:
        sd = _link_array(m.segmap)
        _link_problems("segMap", sd, None, out)
        for j, t in enumerate(m.db2):
            if "parentID" not in t.columns or not nrows[j] or j >= sd.shape[2]:
                continue
            parent = t.data["parentID"]
            if parent.dtype == object:
                continue
            ids = sd[LinkMap.IDX, :, j]
            known = set(ids[~np.isnan(ids)].astype(int).tolist())
            if not known:
                continue
            used = parent[~np.isnan(parent)]
            unknown = sorted({int(v) for v in used.tolist() if v not in known})
            if unknown:
                row = int(np.flatnonzero(parent == unknown[0])[0])
                out.append(f"session {j} row {row} is on segment {unknown[0]}, which session {j} does not have")
    _count_problems(m, nrows, out, keys)
    for j in range(S) if tracings is None else sorted(tracings):
        _tracing_problems(j, m.db2[j], partial(m.tracing, j), out, keys)
    return out[: _MAX_PROBLEMS * 2], keys


def _count_off(out: list[str], keys: dict[str, str], where: str, got: int, want: int, message: str) -> None:
    out.append(message)
    keys[message] = f"{where} off by {got - want}"


def _count_problems(m: Map, nrows: list[int], out: list[str], keys: dict[str, str]) -> None:
    """Counts the files keep that do not count what they name.

    Each problem's key in ``keys`` names the count and how far off it is, not the two
    numbers: a count that was already off by the same amount before a command (a map
    written that way) is not a new problem when the command moves both.
    """

    def off(where: str, got: int, want: int, message: str) -> None:
        _count_off(out, keys, where, got, want, message)

    spines = [int(np.count_nonzero(t.data["roiType"] == "spineROI")) if "roiType" in t.columns else 0 for t in m.db2]
    for row, want in (("numObj", sum(nrows)), ("numSpine", sum(spines))):
        if row in m.header:
            cell = m.header.get(row, 0).strip()
            try:
                got = int(float(cell))
            except ValueError:
                continue
            if got != want:
                off(f"header {row}", got, want, f"header {row} is {got}, the map has {want}")
    for j, t in enumerate(m.db2):
        meta = t.meta
        for key, want in (("numObjects", nrows[j]), ("numSpines", spines[j])):
            if key in meta:
                try:
                    got = int(float(meta[key]))
                except ValueError:
                    continue
                if got != want:
                    off(f"session {j} {key}", got, want, f"session {j} table says {key}={got}, it has {want}")
        for ch in list(m.intensity[j]):
            n = len(m.intensity[j][ch])
            if n != nrows[j]:
                off(f"session {j} intensity channel {ch} rows", n, nrows[j],
                    f"session {j} intensity channel {ch} has {n} rows, the table {nrows[j]}")  # fmt: skip


def _tracing_problems(
    j: int, t: CsvTable, tracing: Callable[[], Tracing | None], out: list[str], keys: dict[str, str]
) -> None:
    """``nObj`` of each segment of session j's tracing against the spines on it in ``t``."""
    try:
        tr = tracing()
    except MapFormatError as e:
        out.append(f"session {j} tracing cannot be read: {e}")
        return
    if tr is None or "nObj" not in tr.segments.columns or "parentID" not in t.columns or "roiType" not in t.columns:
        return
    parent = t.data["parentID"]
    if parent.dtype == object:
        return
    spine = t.data["roiType"] == "spineROI"
    for sid, row in _segment_rows(tr.segments).items():
        got = _whole_cell(tr.segments, row, "nObj")
        if got is None:
            continue
        want = int(np.count_nonzero(spine & (parent == sid)))
        if got[0] != want:
            _count_off(
                out, keys, f"session {j} tracing segment {sid} nObj", got[0], want,
                f"session {j} tracing: segment {sid} has nObj={got[0]}, {want} spines are on it",
            )  # fmt: skip


# --------------------------------------------------------------------------- rebase

_Token = tuple[str, int]  # ("base", row in the base version) or ("theirs", serial)


def _rows_of(c: Command) -> list[tuple[int, int]]:
    """(session, row) the command names, rows as they stand before it (none for add_spine)."""
    a = c.args
    if c.op == "add_spine":
        return []
    out = [(a["session"], a["row"])]
    if c.op == "connect":
        out.append((a["session"] + 1, a["to_row"]))
    return out


def rebase(mine: Sequence[Command | Applied], theirs: Sequence[Applied]) -> list[Command]:
    """My commands, made on version B, renumbered to apply on top of a newer version.

    The newer version was made from B by ``theirs`` (their effective commands, with what
    each touched). Rows shifted by their deletes, and rows I added (placed after the rows
    they added), are renumbered; my commands are otherwise unchanged. Applying the result
    still checks every command (a link both made, say, is refused then).

    Parameters
    ----------
    mine : sequence of Command or Applied
        My effective commands (undone ones excluded), in order, rows as they stood when
        each was made.
    theirs : sequence of Applied
        The commands that made the newer version from B, in order (as
        :meth:`Editor.done` gives them: an ``add_spine``'s ``touched`` names its new row).

    Returns
    -------
    list of Command
        My commands for the newer version.

    Raises
    ------
    EditConflict
        My commands and theirs touch the same object: ``objects`` names them, rows as
        they stand in B (the message says which).
    EditError
        One of their ``add_spine`` records does not name its new row in ``touched``.

    Notes
    -----
    Rows are followed as tokens: each row of B, and each row they added. Sessions are
    padded with rows of B beyond any row named, which stand for the rows past the end:
    a row I added sits there, after the rows they added, as it will when my commands
    are applied on top of theirs.

    Examples
    --------
    >>> theirs = [Applied(Command("delete", {"session": 0, "row": 2}), "", frozenset({(0, 2)}), frozenset({0}))]
    >>> mine = [Command("set_bad", {"session": 0, "row": 7, "bad": True})]
    >>> rebase(mine, theirs)[0].args["row"]
    6
    """
    my_cmds = [c.command if isinstance(c, Applied) else c for c in mine]
    top = 0
    for a in theirs:
        for _s, r in set(a.touched) | set(_rows_of(a.command)):
            top = max(top, r + 1)
    for c in my_cmds:
        for _s, r in _rows_of(c):
            top = max(top, r + 1)
    big = top + len(theirs) + len(my_cmds) + 2
    their_rows: dict[int, list[_Token]] = {}
    my_rows: dict[int, list[_Token]] = {}

    def rows(table: dict[int, list[_Token]], s: int) -> list[_Token]:
        if s not in table:
            table[s] = [("base", i) for i in range(big)]
        return table[s]

    their_touched: set[tuple[int, int]] = set()
    for k, a in enumerate(theirs):
        c = a.command
        if c.op == "add_spine":
            s = c.args["session"]
            new = sorted(r for t_s, r in a.touched if t_s == s)
            if not new:
                raise EditError("rebase", f"their add_spine in session {s} does not name its new row")
            lst = rows(their_rows, s)
            lst.insert(min(new[0], len(lst)), ("theirs", k))
            continue
        for s, r in a.touched:
            lst = rows(their_rows, s)
            if 0 <= r < len(lst) and lst[r][0] == "base":
                their_touched.add((s, lst[r][1]))
        if c.op == "delete":
            lst = rows(their_rows, c.args["session"])
            r = c.args["row"]
            if 0 <= r < len(lst):
                del lst[r]
    out: list[Command] = []
    conflicts: set[tuple[int, int]] = set()
    for c in my_cmds:
        new_args = dict(c.args)
        for s, r in _rows_of(c):
            tok = rows(my_rows, s)[r]
            if tok in rows(their_rows, s) and (s, tok[1]) not in their_touched:
                key = "to_row" if (c.op == "connect" and s == c.args["session"] + 1) else "row"
                new_args[key] = rows(their_rows, s).index(tok)
            else:
                conflicts.add((s, tok[1]))
        if c.op == "delete":
            s, r = c.args["session"], c.args["row"]
            tok = rows(my_rows, s).pop(r)
            if tok in rows(their_rows, s):
                rows(their_rows, s).remove(tok)
        out.append(Command(c.op, new_args))
    if conflicts:
        objs = sorted(conflicts)
        names = ", ".join(f"session {s} row {r}" for s, r in objs)
        raise EditConflict(objs, f"my edits and the newer version both change {names}")
    return out
