"""``rebase``: my edits on top of a newer version (disjoint: renumbered; overlapping: conflict)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pymapmanager as pmm
from pymapmanager.edits import Applied, Command, Editor, check_invariants, rebase
from pymapmanager.errors import EditConflict, EditError

from .conftest import NOW
from .test_commands import linked_spine, spine_rows


def where(m: pmm.Map, s: int, xy: tuple[float, float]) -> int:
    """The row of session s at position xy (objects followed by where they are)."""
    d = m.db2[s].data
    hit = np.flatnonzero((d["x"] == xy[0]) & (d["y"] == xy[1]))
    assert hit.size == 1, (s, xy, hit)
    return int(hit[0])


def xy(m: pmm.Map, s: int, row: int) -> tuple[float, float]:
    d = m.db2[s].data
    return float(d["x"][row]), float(d["y"][row])


def test_disjoint_edits_are_renumbered_and_applied(demo_folder: Path) -> None:
    base = pmm.load_map(demo_folder)
    sp1 = spine_rows(base, 1)
    gone, keep = sp1[2], sp1[8]  # they delete an early spine; I annotate a later one
    keep_xy, gone_xy = xy(base, 1, keep), xy(base, 1, gone)
    moved = spine_rows(base, 2)[5]
    moved_xy = xy(base, 2, moved)

    they = Editor(pmm.load_map(demo_folder), user="they", now=lambda: NOW)
    they.replay([
        {"op": "delete", "session": 1, "row": gone},
        {"op": "add_spine", "session": 1, "segment": 0, "x_um": 25.5, "y_um": 15.5, "z": 14},
    ])  # fmt: skip
    theirs = [Applied.from_dict(a.to_dict()) for a in they.done()]  # as a server stores them

    me = Editor(pmm.load_map(demo_folder), user="me", now=lambda: NOW)
    n1 = len(base.db2[1])
    me.replay([
        {"op": "set_note", "session": 1, "row": keep, "note": "mine"},
        {"op": "add_spine", "session": 1, "segment": 1, "x_um": 30.5, "y_um": 44.5, "z": 15},
        {"op": "set_bad", "session": 1, "row": n1, "bad": True},  # the spine I added
        {"op": "move", "session": 2, "row": moved, "x_um": 22.5, "y_um": 13.5, "z": 16},
    ])  # fmt: skip
    mine = [a.command for a in me.done()]

    got = rebase(mine, theirs)
    assert [c.op for c in got] == [c.op for c in mine]
    assert got[0].args["row"] == keep - 1  # shifted by their delete
    assert got[2].args["row"] == n1  # after their delete (-1) and their added spine (+1)
    assert got[3].args == mine[3].args  # another session: unchanged
    # applied on top of their version: both sides' edits are there
    Editor(they.map, user="me", now=lambda: NOW).replay([c.to_dict() for c in got])
    m = they.map
    assert check_invariants(m) == []
    assert m.db2[1].data["note"][where(m, 1, keep_xy)] == "mine"
    assert not np.any((m.db2[1].data["x"] == gone_xy[0]) & (m.db2[1].data["y"] == gone_xy[1]))
    theirs_row, mine_row = where(m, 1, (25.5, 15.5)), where(m, 1, (30.5, 44.5))
    assert mine_row == theirs_row + 1 == len(m.db2[1]) - 1
    assert bool(m.bad_mask(1)[mine_row]) and not m.bad_mask(1)[theirs_row]
    assert where(m, 2, (22.5, 13.5)) == moved
    assert moved_xy != (22.5, 13.5)


def test_both_adding_then_naming_rows_after_theirs(demo_folder: Path) -> None:
    base = pmm.load_map(demo_folder)
    n0 = len(base.db2[0])
    theirs_ed = Editor(pmm.load_map(demo_folder), now=lambda: NOW)
    theirs_ed.replay([{"op": "add_spine", "session": 0, "segment": 0, "x_um": 20.0, "y_um": 14.0, "z": 15}] * 2)
    mine = [
        Command("add_spine", {"session": 0, "segment": 1, "x_um": 30.0, "y_um": 44.0, "z": 15}),
        Command("set_note", {"session": 0, "row": n0, "note": "my new spine"}),
    ]
    got = rebase(mine, theirs_ed.done())
    assert got[1].args["row"] == n0 + 2
    Editor(theirs_ed.map, now=lambda: NOW).replay([c.to_dict() for c in got])
    m = theirs_ed.map
    assert m.db2[0].data["note"][where(m, 0, (30.0, 44.0))] == "my new spine"


def test_overlapping_edits_conflict_naming_the_objects(demo_folder: Path) -> None:
    base = pmm.load_map(demo_folder)
    a, b = spine_rows(base, 0)[3], spine_rows(base, 2)[4]
    they = Editor(pmm.load_map(demo_folder), now=lambda: NOW)
    they.replay([
        {"op": "set_note", "session": 0, "row": a, "note": "theirs"},
        {"op": "set_bad", "session": 2, "row": b, "bad": True},
    ])  # fmt: skip
    mine = [
        Command("set_user_type", {"session": 1, "row": spine_rows(base, 1)[0], "user_type": 3}),
        Command("delete", {"session": 0, "row": a}),
        Command("move", {"session": 2, "row": b, "x_um": 20.0, "y_um": 20.0, "z": 10}),
    ]
    with pytest.raises(EditConflict) as info:
        rebase(mine, they.done())
    e = info.value
    assert e.objects == [(0, a), (2, b)]
    assert f"session 0 row {a}" in str(e) and f"session 2 row {b}" in str(e)
    assert e.status == 409 and e.details == {"conflicts": [[0, a], [2, b]]}
    assert isinstance(e, EditError)


def test_their_delete_conflicts_with_my_edit_of_its_neighbour(demo_folder: Path) -> None:
    """Their delete unlinked its run's neighbours: my edit of one of them conflicts."""
    base = pmm.load_map(demo_folder)
    row, nx = linked_spine(base, 0)
    they = Editor(pmm.load_map(demo_folder), now=lambda: NOW)
    they.apply({"op": "delete", "session": 0, "row": row})
    with pytest.raises(EditConflict) as info:
        rebase([Command("disconnect", {"session": 1, "row": nx, "side": "prev"})], they.done())
    assert (1, nx) in info.value.objects
    # and my edit of a row they deleted
    with pytest.raises(EditConflict) as info:
        rebase([Command("set_note", {"session": 0, "row": row, "note": "x"})], they.done())
    assert info.value.objects == [(0, row)]


def test_rebase_on_nothing_changes_nothing() -> None:
    mine = [Command("delete", {"session": 0, "row": 4}), Command("set_bad", {"session": 0, "row": 4, "bad": True})]
    assert rebase(mine, []) == mine


def test_my_deletes_renumber_my_later_rows_consistently(demo_folder: Path) -> None:
    """Rows I named after my own delete stay mine: only their changes shift them."""
    base = pmm.load_map(demo_folder)
    sp = spine_rows(base, 1)
    they = Editor(pmm.load_map(demo_folder), now=lambda: NOW)
    they.apply({"op": "delete", "session": 1, "row": sp[0]})
    me = Editor(pmm.load_map(demo_folder), now=lambda: NOW)
    me.replay([
        {"op": "delete", "session": 1, "row": sp[5]},
        {"op": "set_note", "session": 1, "row": sp[5], "note": "after mine"},  # the row that moved up
    ])  # fmt: skip
    target = xy(base, 1, sp[5] + 1)
    got = rebase(me.done(), they.done())
    assert [c.args["row"] for c in got] == [sp[5] - 1, sp[5] - 1]
    Editor(they.map, now=lambda: NOW).replay([c.to_dict() for c in got])
    assert they.map.db2[1].data["note"][where(they.map, 1, target)] == "after mine"
