"""Every refusal: a message naming the command and the reason, and the map unchanged."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import pymapmanager as pmm
from pymapmanager import edits
from pymapmanager.edits import Editor, check_invariants
from pymapmanager.errors import EditError, MapManagerError
from pymapmanager.io.text import LinkMap

from .test_commands import linked_spine, spine_rows


def refused(ed: Editor, cmd: Any, op: str, *words: str) -> EditError:
    before = ed.map.file_bytes()
    done = len(ed.done())
    with pytest.raises(EditError) as info:
        ed.apply(cmd)
    e = info.value
    assert str(e).startswith(f"{op} refused: "), str(e)
    assert e.op == op
    for w in words:
        assert w in e.reason, (w, e.reason)
    assert ed.map.file_bytes() == before, "a refused command changed the map"
    assert len(ed.done()) == done
    assert isinstance(e, ValueError) and isinstance(e, MapManagerError) and e.status == 422
    return e


def test_malformed_commands(editor: Editor) -> None:
    refused(editor, {"op": "explode"}, "explode", "unknown op", "add_spine")
    refused(editor, {"session": 1}, "command", "unknown op")
    refused(editor, ["delete"], "command", "JSON object")  # type: ignore[arg-type]
    refused(editor, {"op": "delete", "session": 1}, "delete", "'row' is missing")
    refused(editor, {"op": "delete", "session": 1, "row": 2, "colour": "red"}, "delete", "unknown field 'colour'")
    refused(editor, {"op": "delete", "session": "1", "row": 2}, "delete", "'session' must be a whole number")
    refused(editor, {"op": "delete", "session": 1, "row": 2.5}, "delete", "whole number")
    refused(editor, {"op": "delete", "session": True, "row": 2}, "delete", "whole number")
    refused(editor, {"op": "move", "session": 1, "row": 2, "x_um": "a", "y_um": 1, "z": 1}, "move", "finite number")
    refused(editor, {"op": "move", "session": 1, "row": 2, "x_um": math.nan, "y_um": 1, "z": 1}, "move", "finite")
    refused(editor, {"op": "set_bad", "session": 1, "row": 2, "bad": 1}, "set_bad", "true or false")
    refused(editor, {"op": "set_note", "session": 1, "row": 2, "note": 5}, "set_note", "must be text")
    refused(editor, {"op": "undo", "row": 1}, "undo", "takes no fields")


def test_objects_that_do_not_exist(editor: Editor) -> None:
    n = len(editor.map.db2[1])
    refused(editor, {"op": "delete", "session": 3, "row": 0}, "delete", "no session 3", "sessions 0..2")
    refused(editor, {"op": "delete", "session": -1, "row": 0}, "delete", "no session -1")
    refused(editor, {"op": "delete", "session": 1, "row": n}, "delete", f"no row {n}", f"rows 0..{n - 1}")
    refused(editor, {"op": "set_bad", "session": 1, "row": -1, "bad": True}, "set_bad", "no row -1")
    refused(editor, {"op": "connect", "session": 0, "row": 0, "to_row": 999}, "connect", "to_row")
    refused(
        editor, {"op": "add_spine", "session": 0, "segment": 7, "x_um": 1, "y_um": 1, "z": 1},
        "add_spine", "no map segment 7",
    )  # fmt: skip


def test_positions_outside_the_image(editor: Editor) -> None:
    row = spine_rows(editor.map, 0)[0]
    base = {"op": "move", "session": 0, "row": row, "x_um": 10.0, "y_um": 10.0, "z": 5}
    refused(editor, {**base, "z": 5.5}, "move", "whole number")
    refused(editor, {**base, "z": 30}, "move", "outside the stack", "slices 0..29")
    refused(editor, {**base, "z": -1}, "move", "outside the stack")
    refused(editor, {**base, "x_um": -0.5}, "move", "x -0.5 um is outside the image")
    refused(editor, {**base, "y_um": 1000.0}, "move", "y 1000 um is outside")
    refused(
        editor, {"op": "add_spine", "session": 0, "segment": 0, "x_um": 10, "y_um": 10, "z": 99},
        "add_spine", "outside the stack",
    )  # fmt: skip


def test_tracing_objects_are_not_moved_deleted_or_connected(editor: Editor) -> None:
    rt = editor.map.db2[0].data["roiType"]
    for kind in ("controlPnt", "pivotPnt", "globalPIvot"):
        row = int(np.flatnonzero(rt == kind)[0])
        refused(editor, {"op": "delete", "session": 0, "row": row}, "delete", kind, "part of the tracing")
        refused(editor, {"op": "move", "session": 0, "row": row, "x_um": 1, "y_um": 1, "z": 1}, "move", kind)
        refused(editor, {"op": "connect", "session": 0, "row": row, "to_row": 0}, "connect", kind)


def test_bad_links(editor: Editor) -> None:
    m = editor.map
    row, nx = linked_spine(m, 0)
    refused(editor, {"op": "connect", "session": 2, "row": spine_rows(m, 2)[0], "to_row": 0}, "connect", "last")
    other = next(r for r in spine_rows(m, 1) if r != nx)
    refused(editor, {"op": "connect", "session": 0, "row": row, "to_row": other}, "connect", "already connected", "disconnect it first")
    free = next(r for r in spine_rows(m, 0) if math.isnan(m.objmap.data[LinkMap.NEXT, r, 0]))
    refused(editor, {"op": "connect", "session": 0, "row": free, "to_row": nx}, "connect", f"session 1 row {nx} is already connected")
    # different ROI types
    ctrl = int(np.flatnonzero(m.db2[1].data["roiType"] == "controlPnt")[0])
    refused(editor, {"op": "connect", "session": 0, "row": free, "to_row": ctrl}, "connect", "controlPnt")
    # different map segments
    editor.apply({"op": "disconnect", "session": 0, "row": row})
    seg = m.map_segment_of(0, float(m.db2[0].data["parentID"][row]))
    far = next(
        r for r in spine_rows(m, 1)
        if math.isnan(m.objmap.data[LinkMap.PREV, r, 1])
        and m.map_segment_of(1, float(m.db2[1].data["parentID"][r])) != seg
    )  # fmt: skip
    refused(editor, {"op": "connect", "session": 0, "row": row, "to_row": far}, "connect", "map segment")
    lone = next(
        r for r in spine_rows(m, 1)
        if math.isnan(m.objmap.data[LinkMap.PREV, r, 1]) and math.isnan(m.objmap.data[LinkMap.NEXT, r, 1])
    )  # fmt: skip
    refused(editor, {"op": "disconnect", "session": 1, "row": lone}, "disconnect", "not connected")
    refused(editor, {"op": "disconnect", "session": 1, "row": lone, "side": "prev"}, "disconnect", "not connected")
    refused(editor, {"op": "disconnect", "session": 1, "row": lone, "side": "up"}, "disconnect", "'next' or 'prev'")


def test_bad_field_values(editor: Editor) -> None:
    row = spine_rows(editor.map, 0)[0]
    base = {"op": "set_note", "session": 0, "row": row}
    refused(editor, {**base, "note": "a, b"}, "set_note", "comma")
    refused(editor, {**base, "note": "a\nb"}, "set_note", "line ends")
    refused(editor, {**base, "note": "x" * 1001}, "set_note", "at most 1000")
    refused(editor, {"op": "set_user_type", "session": 0, "row": row, "user_type": 100}, "set_user_type", "0..99")
    refused(editor, {"op": "set_user_type", "session": 0, "row": row, "user_type": -1}, "set_user_type", "0..99")


def test_nothing_to_undo_or_redo(editor: Editor) -> None:
    assert editor.undo() is None and editor.redo() is None
    refused(editor, {"op": "undo"}, "undo", "nothing to undo")
    refused(editor, {"op": "redo"}, "redo", "nothing to redo")


def test_a_map_without_segments_refuses_add_spine(demo_copy: Any) -> None:
    (demo_copy / "demo_segMap.txt").unlink()
    m = pmm.load_map(demo_copy)
    refused(Editor(m), {"op": "add_spine", "session": 0, "segment": 0, "x_um": 5, "y_um": 5, "z": 1},
            "add_spine", "no segments")  # fmt: skip


def test_a_read_only_map_is_not_edited(editor: Editor) -> None:
    before = editor.map.file_bytes()
    editor.map.read_only = "restored from a cache"
    with pytest.raises(EditError, match="set_bad refused: map demo cannot be written: restored from a cache"):
        editor.apply({"op": "set_bad", "session": 0, "row": 1, "bad": True})
    editor.map.read_only = None
    assert editor.map.file_bytes() == before


def test_a_command_that_would_break_an_invariant_is_rolled_back(
    editor: Editor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check after every command: a (faulty) command breaking a link changes nothing."""
    real = edits._RUNNERS["set_note"]

    def faulty(ed: Editor, work: Any, c: Any) -> Any:
        got = real(ed, work, c)
        d = ed.map.objmap.data.copy()
        r, nx = linked_spine(ed.map, 0)
        d[LinkMap.PREV, nx, 1] = np.nan  # one side of a link only
        work.objmap().data = d
        return got

    monkeypatch.setitem(edits._RUNNERS, "set_note", faulty)
    e = refused(editor, {"op": "set_note", "session": 0, "row": 3, "note": "x"}, "set_note", "would break the map", "does not link back")
    assert "objMap: session 0 row" in e.reason


def test_check_invariants_finds_problems(demo: pmm.Map) -> None:
    assert check_invariants(demo) == []
    d = demo.objmap.data
    row, nx = linked_spine(demo, 0)
    d[LinkMap.PREV, nx, 1] = nx + 1
    demo.header.set("numObj", 0, "5")
    demo.invalidate()
    problems = check_invariants(demo)
    assert any("does not link back" in p for p in problems)
    assert any(p.startswith("header numObj is 5") for p in problems)


def test_a_map_already_broken_can_still_be_edited(demo: pmm.Map) -> None:
    """Problems the map had before editing do not block edits (only new ones do)."""
    demo.header.set("numObj", 0, "5")
    ed = Editor(demo)
    ed.apply({"op": "set_bad", "session": 0, "row": 3, "bad": True})
    assert bool(demo.bad_mask(0)[3])


def test_a_user_name_the_table_cannot_hold(demo: pmm.Map) -> None:
    add = {"op": "add_spine", "session": 0, "segment": 0, "x_um": 20.0, "y_um": 14.0, "z": 15}
    refused(Editor(demo, user="a,b"), add, "add_spine", "commas")
    demo.db2[0].encoding = "latin-1"  # as a file Igor wrote with an accented note
    refused(Editor(demo, user="老师"), add, "add_spine", "encoding (latin-1)")


def test_a_problem_the_map_had_does_not_block_a_delete_above_it(demo: pmm.Map) -> None:
    """A delete moves the rows a problem names: it is still the problem the map had."""
    sp = spine_rows(demo, 1)
    demo.objmap.data[LinkMap.NODE_TYPE, sp[-1], 1] = 4  # written so: nodeType disagrees
    demo.invalidate()
    assert check_invariants(demo) == [f"objMap: session 1 row {sp[-1]} has nodeType 4 but roiTypeNum 0"]
    ed = Editor(demo)
    ed.apply({"op": "delete", "session": 1, "row": sp[0]})
    assert check_invariants(demo) == [f"objMap: session 1 row {sp[-1] - 1} has nodeType 4 but roiTypeNum 0"]
    ed.undo()
    ed.apply({"op": "delete", "session": 1, "row": sp[1]})  # known again after an undo


def test_a_new_problem_like_one_the_map_had_is_still_refused(editor: Editor, monkeypatch: pytest.MonkeyPatch) -> None:
    """Problems are counted by kind: a second broken link is refused on a map with one."""
    m = editor.map
    r0, n0 = linked_spine(m, 0)
    m.objmap.data[LinkMap.PREV, n0, 1] = np.nan  # one side of a link only, as written
    m.invalidate()
    assert len(check_invariants(m)) == 1
    real = edits._RUNNERS["set_note"]

    def faulty(ed: Editor, work: Any, c: Any) -> Any:
        got = real(ed, work, c)
        d = ed.map.objmap.data.copy()
        r, nx = linked_spine(ed.map, 1)
        d[LinkMap.PREV, nx, 2] = np.nan
        work.objmap().data = d
        return got

    editor.apply({"op": "set_note", "session": 0, "row": 3, "note": "ok"})  # the known problem alone
    monkeypatch.setitem(edits._RUNNERS, "set_note", faulty)
    r1, n1 = linked_spine(m, 1)
    e = refused(editor, {"op": "set_note", "session": 0, "row": 3, "note": "x"}, "set_note", "would break the map")
    assert e.reason == f"it would break the map: objMap: session 1 row {r1} links next to session 2 row {n1}, which does not link back"
