"""Undo and redo: explicit cases and Hypothesis properties (every file byte-identical)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import pymapmanager as pmm
from pymapmanager.edits import OPS, Editor, check_invariants
from pymapmanager.errors import EditError
from pymapmanager.io.text import LinkMap

from .conftest import NOW
from .test_commands import linked_spine, spine_rows

PROPS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


def draw_command(data: st.DataObject, m: pmm.Map) -> dict[str, Any]:
    """A command for the map as it stands: mostly valid, sometimes not."""
    op = data.draw(st.sampled_from(OPS), label="op")
    S = m.num_sessions
    s = data.draw(st.integers(0, S - 1), label="session")
    n = len(m.db2[s])
    spines = spine_rows(m, s) or [0]
    row = data.draw(st.one_of(st.sampled_from(spines), st.integers(-1, n)), label="row")
    pz, py, px = m.sessions[s].shape
    dx = m.sessions[s].voxel[0]
    pos = {
        "x_um": data.draw(st.floats(0, (px or 100) * dx, allow_nan=False), label="x"),
        "y_um": data.draw(st.floats(0, (py or 100) * dx, allow_nan=False), label="y"),
        "z": data.draw(st.integers(0, (pz or 10) - 1), label="z"),
    }
    if op == "add_spine":
        return {"op": op, "session": s, "segment": data.draw(st.integers(0, m.num_map_segments)), **pos}
    if op == "move":
        return {"op": op, "session": s, "row": row, **pos}
    if op == "set_bad":
        return {"op": op, "session": s, "row": row, "bad": data.draw(st.booleans())}
    if op == "set_note":
        note = data.draw(st.text(st.characters(codec="latin-1", exclude_characters=",\r\n\t"), max_size=12))
        return {"op": op, "session": s, "row": row, "note": note}
    if op == "set_user_type":
        return {"op": op, "session": s, "row": row, "user_type": data.draw(st.integers(0, 9))}
    if op == "connect":
        s = min(s, S - 2)
        d = m.objmap.data
        free_from = [r for r in spine_rows(m, s) if np.isnan(d[LinkMap.NEXT, r, s])] or [0]
        frm = data.draw(st.sampled_from(free_from))
        seg = m.map_segment_of(s, float(m.db2[s].data["parentID"][frm]))
        free_to = [
            r for r in spine_rows(m, s + 1)
            if np.isnan(d[LinkMap.PREV, r, s + 1]) and m.map_segment_of(s + 1, float(m.db2[s + 1].data["parentID"][r])) == seg
        ] or [0]  # fmt: skip
        return {"op": op, "session": s, "row": frm, "to_row": data.draw(st.sampled_from(free_to))}
    return {"op": op, "session": s, "row": row}


@PROPS
@given(data=st.data())
def test_random_commands_then_undo_all_gives_the_original_files(demo_folder: Path, data: st.DataObject) -> None:
    m = pmm.load_map(demo_folder)
    original = m.file_bytes()
    ed = Editor(m, user="prop", now=lambda: NOW)
    steps = data.draw(st.integers(1, 8), label="steps")
    for _ in range(steps):
        if ed.can_undo() and data.draw(st.integers(0, 5), label="history") == 0:
            ed.apply({"op": data.draw(st.sampled_from(["undo", "redo"]), label="hop")} if ed.can_redo() else {"op": "undo"})
            continue
        cmd = draw_command(data, m)
        before = m.file_bytes()
        try:
            ed.apply(cmd)
        except EditError as e:
            assert m.file_bytes() == before  # refused: unchanged
            event(f"refused {cmd['op']}: {str(e).split(':')[1][:30]}")
            continue
        event(f"applied {cmd['op']}")
        assert check_invariants(m) == []
    while ed.can_undo():
        ed.undo()
    assert m.file_bytes() == original
    assert check_invariants(m) == []


@PROPS
@given(data=st.data())
def test_any_command_then_undo_is_identity_and_redo_repeats_it(demo_folder: Path, data: st.DataObject) -> None:
    m = pmm.load_map(demo_folder)
    ed = Editor(m, user="prop", now=lambda: NOW)
    for _ in range(data.draw(st.integers(0, 3), label="warm-up")):  # start from an edited map too
        try:
            ed.apply(draw_command(data, m))
        except EditError:
            pass
    before = m.file_bytes()
    cmd = draw_command(data, m)
    try:
        applied = ed.apply(cmd)
    except EditError:
        assert m.file_bytes() == before
        return
    after = m.file_bytes()
    undone = ed.undo()
    assert undone is not None and undone.command == applied.command
    assert m.file_bytes() == before
    assert ed.redo() is not None
    assert m.file_bytes() == after
    assert check_invariants(m) == []


def test_undo_redo_many(editor: Editor) -> None:
    m = editor.map
    original = m.file_bytes()
    row, nx = linked_spine(m, 1)
    script = [
        {"op": "disconnect", "session": 0, "row": linked_spine(m, 0)[0]},
        {"op": "set_bad", "session": 0, "row": 30, "bad": True},
        {"op": "delete", "session": 1, "row": row},
        {"op": "add_spine", "session": 1, "segment": 0, "x_um": 25.0, "y_um": 15.0, "z": 15},
    ]
    states = [original]
    for c in script:
        editor.apply(c)
        states.append(m.file_bytes())
    assert [a.command.op for a in editor.done()] == ["disconnect", "set_bad", "delete", "add_spine"]
    for k in range(len(script), 0, -1):
        u = editor.undo()
        assert u is not None and u.summary.startswith("undid: ")
        assert m.file_bytes() == states[k - 1]
    assert not editor.can_undo() and editor.can_redo()
    for k in range(1, len(script) + 1):
        r = editor.redo()
        assert r is not None and r.summary.startswith("redid: ")
        assert m.file_bytes() == states[k]
    assert editor.can_undo() and not editor.can_redo()
    # a new command after an undo drops what was undone
    editor.undo()
    editor.apply({"op": "set_note", "session": 2, "row": 30, "note": "new"})
    assert not editor.can_redo()
    assert [a.command.op for a in editor.done()] == ["disconnect", "set_bad", "delete", "set_note"]


def test_replay_gives_the_same_map(demo_folder: Path) -> None:
    """A stored log (with undo/redo) replayed on a fresh copy gives the same files."""
    log: list[dict[str, Any]] = [
        {"op": "set_note", "session": 0, "row": 30, "note": "one"},
        {"op": "delete", "session": 2, "row": 31},
        {"op": "undo"},
        {"op": "redo"},
        {"op": "undo"},
        {"op": "add_spine", "session": 2, "segment": 1, "x_um": 25.0, "y_um": 45.0, "z": 15},
    ]
    a = Editor(pmm.load_map(demo_folder), user="u", now=lambda: NOW)
    got = a.replay(log)
    assert [g.summary.split(":")[0] for g in got][2:5] == ["undid", "redid", "undid"]
    b = Editor(pmm.load_map(demo_folder), user="u", now=lambda: NOW)
    b.replay(log)
    assert a.map.file_bytes() == b.map.file_bytes()
    assert [x.command.op for x in a.done()] == ["set_note", "add_spine"]


def test_derived_caches_follow_undo(editor: Editor) -> None:
    m = editor.map
    row = spine_rows(m, 0)[0]
    x0 = float(m.table(0)["x"][row])
    editor.apply({"op": "move", "session": 0, "row": row, "x_um": 20.0, "y_um": 20.0, "z": 10})
    assert float(m.table(0)["x"][row]) == 20.0
    assert float(m.stacked("x")[m.offsets()[0] + row]) == 20.0
    editor.undo()
    assert float(m.table(0)["x"][row]) == x0
    assert np.isclose(pmm.map_values(m, "x").values, pmm.map_values(pmm.load_map(m.path), "x").values, equal_nan=True).all()
