"""Session groups: a name and a pattern of terms choosing sessions (``baseline=c*``).

See :mod:`pymapmanager.pooling` for the pattern syntax.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Literal

from ..errors import InvalidParameterError
from ..model import Map

__all__ = [
    "GroupCheck",
    "SessionGroup",
    "check_groups",
    "default_groups",
    "default_groups_for",
    "is_default_group",
    "parse_group",
    "parse_groups",
]

_NUM = r"-?\d+(?:\.\d*)?|-?\.\d+"
_INDEX_TERM = re.compile(r"^#(\d+)(?:(-)(\d+)?)?$")
_DAYS_TERM = re.compile(rf"^d:({_NUM})(?:(-)({_NUM})?)?$")


@dataclass(frozen=True)
class _Term:
    kind: Literal["condition", "index", "days"]
    text: str
    lo: float = math.nan
    hi: float = math.nan

    def matches(self, index: int, condition: str, days: float) -> bool:
        if self.kind == "condition":
            return fnmatchcase(condition, self.text)
        v = float(index) if self.kind == "index" else days
        return not math.isnan(v) and self.lo <= v <= self.hi


def _split_terms(pattern: str) -> list[str]:
    """Split at commas outside ``[...]``."""
    terms: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in pattern:
        if ch == "[" and depth == 0:
            depth = 1
        elif ch == "]" and depth == 1 and cur and cur[-1] != "[":
            depth = 0
        if ch == "," and depth == 0:
            terms.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    terms.append("".join(cur))
    return terms


class _PatternError(ValueError):
    """What is wrong with a group's name or pattern, in words, without the group's name."""


def _range_term(kind: Literal["index", "days"], pattern: re.Pattern[str], t: str, what: str) -> _Term:
    """A ``#lo-hi`` or ``d:lo-hi`` term (an open end: ``#4-``)."""
    mt = pattern.match(t)
    if mt is None:
        raise _PatternError(f"'{t}' is not {what}")
    lo = float(mt.group(1))
    hi = math.inf if mt.group(2) and mt.group(3) is None else float(mt.group(3) or lo)
    if hi < lo:
        raise _PatternError(f"'{t}' is an empty range (the end is before the start)")
    return _Term(kind, t, lo, hi)


def _parse_term(text: str) -> _Term:
    t = text.strip()
    if not t:
        raise _PatternError("empty term (two commas in a row, or a comma at an end)")
    if t.startswith("#"):
        return _range_term("index", _INDEX_TERM, t, "a session index term (use #3, #0-2 or #4-)")
    if t.startswith("d:"):
        return _range_term("days", _DAYS_TERM, t, "a days term (use d:0, d:0-7 or d:14-)")
    depth = 0
    for ch in t:
        if ch == "[":
            depth = 1
        elif ch == "]":
            depth = 0
    if depth:
        raise _PatternError(f"'{t}' has a '[' without its ']'")
    return _Term("condition", t)


def _parse(name: str, pattern: str) -> tuple[str, str, tuple[_Term, ...]]:
    """The stripped name and pattern and the terms; :class:`_PatternError` says what is wrong."""
    name = name.strip()
    if not name:
        raise _PatternError("a session group needs a name")
    if "=" in name:
        raise _PatternError("the name must not contain '='")
    pattern = pattern.strip()
    if not pattern:
        raise _PatternError("the pattern is empty")
    return name, pattern, tuple(_parse_term(t) for t in _split_terms(pattern))


@dataclass(frozen=True)
class SessionGroup:
    """A named set of sessions, chosen by a pattern (see :mod:`pymapmanager.pooling`).

    Parameters
    ----------
    name : str
        Shown on the figure's x axis and in tables; non-empty, without ``=``.
    pattern : str
        Comma-separated terms: condition wildcards (``c*``), session indices (``#0-2``)
        or days (``d:0-7``).

    Raises
    ------
    InvalidParameterError
        The name is empty or the pattern's syntax is wrong.

    Examples
    --------
    >>> g = SessionGroup("early", "c*, #4")
    >>> g.sessions_of(["c", "c1", "e1", "e2", "e3"])
    [0, 1, 4]
    >>> str(g)
    'early=c*, #4'
    """

    name: str
    pattern: str
    terms: tuple[_Term, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            name, pattern, terms = _parse(self.name, self.pattern)
        except _PatternError as e:
            name = self.name.strip()
            if not name:
                raise InvalidParameterError(str(e)) from None
            if "=" in name:
                raise InvalidParameterError(f"group name '{name}' must not contain '='") from None
            raise InvalidParameterError(f"group '{name}': {e}") from None
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "pattern", pattern)
        object.__setattr__(self, "terms", terms)

    def sessions(self, m: Map) -> list[int]:
        """The sessions of a map in this group.

        Parameters
        ----------
        m : Map

        Returns
        -------
        list of int
            Session indices, ascending.
        """
        return self.sessions_of([s.condition for s in m.sessions], [s.days for s in m.sessions])

    def sessions_of(self, conditions: Sequence[str], days: Sequence[float | None] = ()) -> list[int]:
        """The sessions in this group of a map whose sessions have these conditions and days.

        Parameters
        ----------
        conditions : sequence of str
            Each session's condition (``condStr``), in session order.
        days : sequence of float, optional
            Each session's day; may be shorter than ``conditions`` (a missing day never
            matches a days term).

        Returns
        -------
        list of int
            Session indices, ascending.

        Examples
        --------
        >>> SessionGroup("week1", "d:0-7").sessions_of(["a", "b", "c"], [0.0, 4.0, 9.5])
        [0, 1]
        """
        out = []
        for j, c in enumerate(conditions):
            d = float(days[j]) if j < len(days) and days[j] is not None else math.nan  # type: ignore[arg-type]
            if any(t.matches(j, c, d) for t in self.terms):
                out.append(j)
        return out

    def to_dict(self) -> dict[str, str]:
        """The group as ``{"name": ..., "pattern": ...}``.

        Returns
        -------
        dict
        """
        return {"name": self.name, "pattern": self.pattern}

    def __str__(self) -> str:
        return f"{self.name}={self.pattern}"


@dataclass(frozen=True)
class GroupCheck:
    """What one session group, as typed, matches in a set of maps, or what is wrong with it.

    The structured answer of :func:`check_groups` (the pooling page shows it beside each
    group and pools only the valid ones).

    Parameters
    ----------
    name, pattern : str
        As typed (stripped).
    group : SessionGroup or None
        The group; None when the name or pattern is wrong.
    problem : str or None
        What is wrong, in words, without the group's name (``"the pattern is empty"``,
        ``"two groups are named 'c'"``); None for a valid group.
    sessions : int
        Sessions matched, over every map.
    maps : int
        Maps with at least one matching session.
    total_maps : int
        Maps checked.
    """

    name: str
    pattern: str
    group: SessionGroup | None
    problem: str | None
    sessions: int = 0
    maps: int = 0
    total_maps: int = 0

    @property
    def valid(self) -> bool:
        """The name and pattern are right (the group may still match nothing)."""
        return self.problem is None

    @property
    def matches(self) -> bool:
        """Valid, and matches a session of at least one map."""
        return self.problem is None and self.maps > 0

    def describe(self) -> str:
        """One short line: what the group matches, or what is wrong.

        Returns
        -------
        str
            ``"6 sessions in 3 of 3 maps"``, ``"matches no session"`` or the problem.
        """
        if self.problem is not None:
            return self.problem
        if not self.maps:
            return "matches no session"
        return f"{self.sessions} sessions in {self.maps} of {self.total_maps} maps"


def check_groups(
    rows: Iterable[tuple[str, str]],
    maps: Sequence[tuple[Sequence[str], Sequence[float | None]]] = (),
) -> tuple[GroupCheck, ...]:
    """Check groups as typed: the one rule for valid groups (library, page, command line).

    Parameters
    ----------
    rows : iterable of (name, pattern)
        The groups, in order.
    maps : sequence of (conditions, days)
        Each map's session conditions and days (as :meth:`SessionGroup.sessions_of`).

    Returns
    -------
    tuple of GroupCheck
        One per row, in order. A name used by an earlier valid group is a problem.

    Examples
    --------
    >>> maps = [(["c", "c", "e1"], [0, 2, 4]), (["c", "e1", "e2"], [0, 3, 6])]
    >>> [c.describe() for c in check_groups([("base", "c"), ("late", "e2"), ("x", "#a")], maps)]
    ['3 sessions in 2 of 2 maps', '1 sessions in 1 of 2 maps', "'#a' is not a session index term (use #3, #0-2 or #4-)"]
    >>> check_groups([("a", "c"), ("a", "e*")])[1].problem
    "two groups are named 'a'"
    """
    out: list[GroupCheck] = []
    seen: set[str] = set()
    for raw_name, raw_pattern in rows:
        name, pattern = raw_name.strip(), raw_pattern.strip()
        try:
            _parse(name, pattern)
        except _PatternError as e:
            out.append(GroupCheck(name, pattern, None, str(e), total_maps=len(maps)))
            continue
        if name in seen:
            out.append(GroupCheck(name, pattern, None, f"two groups are named '{name}'",
                                  total_maps=len(maps)))  # fmt: skip
            continue
        seen.add(name)
        g = SessionGroup(name, pattern)
        per = [len(g.sessions_of(c, d)) for c, d in maps]
        out.append(GroupCheck(name, pattern, g, None, sum(per), sum(1 for n in per if n), len(maps)))
    return tuple(out)


def parse_group(text: str) -> SessionGroup:
    """A group from ``NAME=PATTERN``, split at the first ``=``.

    Parameters
    ----------
    text : str
        ``baseline=c*``.

    Returns
    -------
    SessionGroup

    Raises
    ------
    InvalidParameterError
        No ``=``, or a wrong name or pattern.

    Examples
    --------
    >>> parse_group("baseline=c*")
    SessionGroup(name='baseline', pattern='c*')
    """
    name, sep, pattern = text.partition("=")
    if not sep:
        raise InvalidParameterError(f"'{text}' is not NAME=PATTERN (e.g. baseline=c*)")
    return SessionGroup(name, pattern)


def parse_groups(
    groups: Iterable[str | SessionGroup] | Mapping[str, str],
) -> tuple[SessionGroup, ...]:
    """Groups from ``NAME=PATTERN`` strings, :class:`SessionGroup` objects or a name->pattern mapping.

    Parameters
    ----------
    groups : iterable of str or SessionGroup, or mapping of name -> pattern

    Returns
    -------
    tuple of SessionGroup

    Raises
    ------
    InvalidParameterError
        A syntax error, no group at all, or two groups with the same name.

    Examples
    --------
    >>> [str(g) for g in parse_groups({"baseline": "c", "treatment": "e*"})]
    ['baseline=c', 'treatment=e*']
    """
    if isinstance(groups, Mapping):
        out = [SessionGroup(k, v) for k, v in groups.items()]
    else:
        out = [g if isinstance(g, SessionGroup) else parse_group(g) for g in groups]
    if not out:
        raise InvalidParameterError("at least one session group is needed")
    seen: set[str] = set()
    for g in out:
        if g.name in seen:
            raise InvalidParameterError(f"two session groups are named '{g.name}'")
        seen.add(g.name)
    return tuple(out)


def _escape(condition: str) -> str:
    """A pattern matching exactly ``condition`` (wildcards and commas escaped)."""
    return "".join(f"[{c}]" if c in "*?[]," else c for c in condition)


def is_default_group(name: str, pattern: str) -> bool:
    """Whether a group is one :func:`default_groups_for` makes (``c=c``, ``s2=#2``).

    Parameters
    ----------
    name, pattern : str

    Returns
    -------
    bool
        True for a condition's own group or a session index's group.

    Examples
    --------
    >>> is_default_group("e1", "e1"), is_default_group("s3", "#3"), is_default_group("late", "e*")
    (True, True, False)
    """
    name, pattern = name.strip(), pattern.strip()
    if not name:
        return False
    return pattern == _escape(name) or (name == f"s{pattern[1:]}" and pattern[1:].isdigit()
                                        and pattern.startswith("#"))  # fmt: skip


def default_groups(maps: Iterable[Map]) -> tuple[SessionGroup, ...]:
    """One group per distinct session condition found in ``maps``.

    Parameters
    ----------
    maps : iterable of Map

    Returns
    -------
    tuple of SessionGroup
        Ordered as the sessions are (see :func:`default_groups_for`).

    Examples
    --------
    >>> from pymapmanager import load_map
    >>> from pymapmanager.synthetic import generate_map
    >>> m = load_map(generate_map("dg", sessions=4, shape=(2, 32, 32), images=False))
    >>> [str(g) for g in default_groups([m])]
    ['c=c', 'e1=e1', 'e2=e2']
    """
    return default_groups_for([s.condition for s in m.sessions] for m in maps)


def default_groups_for(conditions: Iterable[Sequence[str]]) -> tuple[SessionGroup, ...]:
    """One group per distinct session condition, ordered as the sessions are.

    A condition's place is the mean, over the maps that have it, of the index of its first
    session (then its earliest index, then its first appearance): conditions that come
    earlier in the maps come first, even when one map starts later or skips one. When no
    map has any session condition, one group per session index (``s0=#0``, ``s1=#1``, ...).

    Parameters
    ----------
    conditions : iterable of sequence of str
        Each map's session conditions, in session order.

    Returns
    -------
    tuple of SessionGroup
        Each named as its condition, with a pattern matching exactly that condition.

    Examples
    --------
    >>> [str(g) for g in default_groups_for([["c", "c", "e1", "e2"], ["c", "e2"], ["e1", "e2"]])]
    ['c=c', 'e1=e1', 'e2=e2']
    >>> [str(g) for g in default_groups_for([["", ""]])]
    ['s0=#0', 's1=#1']
    """
    firsts: dict[str, list[int]] = {}
    order: dict[str, int] = {}
    nses = 0
    for conds in conditions:
        nses = max(nses, len(conds))
        seen: set[str] = set()
        for j, c in enumerate(conds):
            if not c or c in seen:
                continue
            seen.add(c)
            firsts.setdefault(c, []).append(j)
            order.setdefault(c, len(order))
    if not firsts:
        return tuple(SessionGroup(f"s{j}", f"#{j}") for j in range(nses))

    def place(c: str) -> tuple[float, int, int]:
        return (sum(firsts[c]) / len(firsts[c]), min(firsts[c]), order[c])

    return tuple(SessionGroup(c, _escape(c)) for c in sorted(firsts, key=place))
