"""Every count the map's files keep follows the commands, and undo puts each back byte for byte.

The counts (docs/format.md): the header's ``numObj`` and ``numSpine``; each db2 table's
``numObjects`` and ``numSpines``; each tracing segment's ``nObj`` (the spines on that
segment, as the project's generator writes it); the objMap's ``rows=``. They are read here
from the files' text, independently of the library's readers, and recounted from the tables.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import pymapmanager as pmm
from pymapmanager import edits
from pymapmanager.edits import Editor, check_invariants
from pymapmanager.errors import EditError
from pymapmanager.io.text import LinkMap

from .conftest import NOW
from .test_commands import linked_spine, spine_rows

Counts = dict[str, int]


def _lines(text: str) -> list[str]:
    return re.split(r"\r\n|\r|\n", text)


def counts_in_files(m: pmm.Map) -> Counts:
    """Every count as the map's files (``Map.files()``) write it, read from their text."""
    files = m.files()
    out: Counts = {}
    for line in _lines(files[f"{m.name}.txt"]):
        cells = line.split("\t")
        if cells[0] in ("numObj", "numSpine"):
            out[f"header {cells[0]}"] = int(cells[1])
    out["objMap rows"] = int(re.match(r"rows=(\d+);", files[f"{m.name}_objMap.txt"]).group(1))  # type: ignore[union-attr]
    for j, ses in enumerate(m.sessions):
        meta = dict(kv.split("=", 1) for kv in _lines(files[f"stackdb/{ses.stack}_db2.txt"])[0].split(";") if kv)
        out[f"s{j} numObjects"] = int(meta["numObjects"])
        out[f"s{j} numSpines"] = int(meta["numSpines"])
        tracing = files.get(f"line/{ses.stack}_l.txt")
        if tracing is None:
            continue
        rows = _lines(tracing)
        nseg = int(re.search(r"numHeaderRow=(\d+);", rows[0]).group(1))  # type: ignore[union-attr]
        cols = rows[1].split(",")
        for r in rows[2 : 2 + nseg]:
            cells = r.split(",")
            out[f"s{j} segment {int(cells[cols.index('Idx')])} nObj"] = int(cells[cols.index("nObj")])
    return out


def recount(m: pmm.Map) -> Counts:
    """What each count should say, counted from the tables."""
    out: Counts = {}
    spines = [spine_rows(m, j) for j in range(m.num_sessions)]
    out["header numObj"] = sum(len(t) for t in m.db2)
    out["header numSpine"] = sum(len(s) for s in spines)
    out["objMap rows"] = max(len(t) for t in m.db2)
    for j, t in enumerate(m.db2):
        out[f"s{j} numObjects"] = len(t)
        out[f"s{j} numSpines"] = len(spines[j])
        tr = m.tracing(j)
        if tr is None:
            continue
        parent = t.data["parentID"]
        for sid in tr.segments.data["Idx"].astype(int).tolist():
            out[f"s{j} segment {sid} nObj"] = sum(1 for r in spines[j] if parent[r] == sid)
    return out


def changed(before: Counts, after: Counts) -> Counts:
    return {k: after[k] - before[k] for k in after if after[k] != before[k]}


def test_the_demo_map_counts_right(demo: pmm.Map) -> None:
    got = counts_in_files(demo)
    assert got == recount(demo)
    assert sum(1 for k in got if k.endswith("nObj")) == 2 * 3  # two segments, three sessions


def test_add_spine_counts_one_more_everywhere_it_is_counted(editor: Editor) -> None:
    m = editor.map
    for s, k in ((0, 0), (1, 1), (2, 1), (2, 0)):
        sid = m.stack_segment(k, s)
        before = counts_in_files(m)
        editor.apply({"op": "add_spine", "session": s, "segment": k, "x_um": 30.0, "y_um": 30.0, "z": 15})
        after = counts_in_files(m)
        assert after == recount(m)
        want = {"header numObj": 1, "header numSpine": 1, f"s{s} numObjects": 1, f"s{s} numSpines": 1,
                f"s{s} segment {sid} nObj": 1}  # fmt: skip
        if after["objMap rows"] != before["objMap rows"]:
            want["objMap rows"] = 1
        assert changed(before, after) == want


def test_delete_counts_one_less_on_its_own_segment(editor: Editor) -> None:
    m = editor.map
    s = 1
    row, _nx = linked_spine(m, s)
    sid = int(m.db2[s].data["parentID"][row])
    before = counts_in_files(m)
    editor.apply({"op": "delete", "session": s, "row": row})
    after = counts_in_files(m)
    assert after == recount(m)
    assert changed(before, after) == {
        "header numObj": -1, "header numSpine": -1, f"s{s} numObjects": -1, f"s{s} numSpines": -1,
        f"s{s} segment {sid} nObj": -1,
    }  # fmt: skip


def test_the_other_commands_change_no_count(editor: Editor) -> None:
    m = editor.map
    row, nx = linked_spine(m, 0)
    sp = spine_rows(m, 2)[3]
    for cmd in (
        {"op": "move", "session": 2, "row": sp, "x_um": 25.0, "y_um": 20.0, "z": 14},
        {"op": "set_bad", "session": 2, "row": sp, "bad": True},
        {"op": "set_note", "session": 2, "row": sp, "note": "n"},
        {"op": "set_user_type", "session": 2, "row": sp, "user_type": 3},
        {"op": "disconnect", "session": 0, "row": row},
        {"op": "connect", "session": 0, "row": row, "to_row": nx},
    ):
        before = counts_in_files(m)
        editor.apply(cmd)
        assert counts_in_files(m) == before, cmd["op"]


def _make_other_roi(m: pmm.Map, s: int, row: int) -> None:
    """Turn spine ``row`` of session s into an otherROI, with every count kept right."""
    t = m.db2[s]
    sid = int(t.data["parentID"][row])
    t.set_value(row, "roiType", "otherROI")
    t.set_value(row, "roiTypeNum", 4)
    assert t.meta_line is not None
    n = int(t.meta["numSpines"])
    t.meta_line = t.meta_line.replace(f"numSpines={n};", f"numSpines={n - 1};")
    m.header.set("numSpine", 0, str(int(m.header.get("numSpine")) - 1))
    d = m.objmap.data
    d[LinkMap.NODE_TYPE, row, s] = 4
    tr = m.tracing(s)
    assert tr is not None
    k = int(np.flatnonzero(tr.segments.data["Idx"] == sid)[0])
    tr.segments.set_value(k, "nObj", float(tr.segments.data["nObj"][k] - 1))
    m.invalidate()


def test_deleting_an_other_roi_counts_it_as_an_object_not_a_spine(demo: pmm.Map) -> None:
    s = 1
    lone = next(
        r for r in spine_rows(demo, s)
        if math.isnan(demo.objmap.data[LinkMap.NEXT, r, s]) and math.isnan(demo.objmap.data[LinkMap.PREV, r, s])
    )  # fmt: skip
    _make_other_roi(demo, s, lone)
    assert check_invariants(demo) == [] and counts_in_files(demo) == recount(demo)
    ed = Editor(demo, now=lambda: NOW)
    before = counts_in_files(demo)
    a = ed.apply({"op": "delete", "session": s, "row": lone})
    assert "(otherROI)" in a.summary
    assert changed(before, counts_in_files(demo)) == {"header numObj": -1, f"s{s} numObjects": -1}
    assert counts_in_files(demo) == recount(demo)


def test_undo_puts_every_count_back_byte_for_byte(editor: Editor) -> None:
    m = editor.map
    row, _ = linked_spine(m, 1)
    script: list[dict[str, Any]] = [
        {"op": "add_spine", "session": 0, "segment": 1, "x_um": 30.0, "y_um": 40.0, "z": 15},
        {"op": "delete", "session": 1, "row": row},
        {"op": "add_spine", "session": 1, "segment": 0, "x_um": 30.0, "y_um": 14.0, "z": 15},
        {"op": "delete", "session": 0, "row": spine_rows(m, 0)[0]},
    ]
    states = [m.file_bytes()]
    for c in script:
        editor.apply(c)
        states.append(m.file_bytes())
        assert counts_in_files(m) == recount(m)
    # the tracing files changed (nObj), and go back to their very bytes
    lines = sorted(k for k in states[0] if k.startswith("line/"))
    assert lines and any(states[-1][k] != states[0][k] for k in lines)
    for k in range(len(script), 0, -1):
        editor.undo()
        assert m.file_bytes() == states[k - 1]
    for k in range(1, len(script) + 1):
        editor.redo()
        assert m.file_bytes() == states[k]


def test_saved_counts_are_the_ones_reloaded(demo_copy: Path) -> None:
    m = pmm.load_map(demo_copy)
    ed = Editor(m, user="c", now=lambda: NOW)
    ed.apply({"op": "add_spine", "session": 2, "segment": 1, "x_um": 30.0, "y_um": 40.0, "z": 15})
    ed.apply({"op": "delete", "session": 0, "row": spine_rows(m, 0)[2]})
    m.save()
    again = pmm.load_map(demo_copy)
    assert counts_in_files(again) == recount(again) == counts_in_files(m)
    stack = again.sessions[2].stack
    assert (demo_copy / "line" / f"{stack}_l.txt").read_bytes() == m.file_bytes()[f"line/{stack}_l.txt"]
    assert again.validate() == [] and check_invariants(again) == []


def test_a_count_already_off_stays_off_by_as_much(demo: pmm.Map) -> None:
    """A map written with wrong counts can be edited: each count moves with the command,
    keeps its offset, and the problem (the same offset) is not a new one."""
    m = demo
    m.header.set("numObj", 0, str(int(m.header.get("numObj")) + 3))
    tr = m.tracing(1)
    assert tr is not None
    tr.segments.set_value(0, "nObj", float(tr.segments.data["nObj"][0] - 2))
    t = m.db2[1]
    assert t.meta_line is not None
    n = int(t.meta["numSpines"])
    t.meta_line = t.meta_line.replace(f"numSpines={n};", f"numSpines={n + 5};")
    problems = check_invariants(m)
    assert len(problems) == 3, problems
    offsets = {k: v for k, v in ((k, counts_in_files(m)[k] - recount(m)[k]) for k in recount(m)) if v}
    assert offsets == {"header numObj": 3, "s1 segment 0 nObj": -2, "s1 numSpines": 5}
    ed = Editor(m, now=lambda: NOW)
    k0 = m.map_segment_of(1, 0.0)
    ed.apply({"op": "add_spine", "session": 1, "segment": k0, "x_um": 30.0, "y_um": 14.0, "z": 15})
    row = next(r for r in spine_rows(m, 1) if m.db2[1].data["parentID"][r] == 0)
    ed.apply({"op": "delete", "session": 1, "row": row})
    ed.apply({"op": "delete", "session": 1, "row": row})
    after = {k: v for k, v in ((k, counts_in_files(m)[k] - recount(m)[k]) for k in recount(m)) if v}
    assert after == offsets
    assert len(check_invariants(m)) == 3


def test_a_command_that_forgets_a_count_is_refused(editor: Editor, monkeypatch: pytest.MonkeyPatch) -> None:
    """The invariant check after every command sees a segment count left behind."""
    monkeypatch.setattr(edits, "_segment_count_change", lambda *a, **k: None)
    before = editor.map.file_bytes()
    with pytest.raises(EditError) as info:
        editor.apply({"op": "add_spine", "session": 0, "segment": 0, "x_um": 30.0, "y_um": 14.0, "z": 15})
    e = info.value
    assert str(e).startswith("add_spine refused: it would break the map: session 0 tracing: segment ")
    assert "has nObj=" in e.reason
    assert editor.map.file_bytes() == before and not editor.can_undo()


def test_a_session_without_tracing_has_no_segment_count(demo_copy: Path) -> None:
    stack = pmm.load_map(demo_copy).sessions[1].stack
    (demo_copy / "line" / f"{stack}_l.txt").unlink()
    m = pmm.load_map(demo_copy)
    ed = Editor(m, now=lambda: NOW)
    before = counts_in_files(m)
    assert not any(k.startswith("s1 segment") for k in before)
    a = ed.apply({"op": "add_spine", "session": 1, "segment": 0, "x_um": 30.0, "y_um": 14.0, "z": 15})
    assert "session 1 has no tracing" in a.summary
    assert changed(before, counts_in_files(m)) == {
        "header numObj": 1, "header numSpine": 1, "s1 numObjects": 1, "s1 numSpines": 1,
    }  # fmt: skip
    assert check_invariants(m) == []


def test_a_malformed_tracing_refuses_add_spine_and_changes_nothing(demo_copy: Path) -> None:
    stack = pmm.load_map(demo_copy).sessions[1].stack
    p = demo_copy / "line" / f"{stack}_l.txt"
    p.write_bytes(p.read_bytes().replace(b"numHeaderRow=2;", b"numHeaderRow=two;"))
    m = pmm.load_map(demo_copy)
    ed = Editor(m, now=lambda: NOW)
    texts = [t.to_text() for t in m.db2] + [m.header.to_text(), m.objmap.to_text()]
    with pytest.raises(EditError) as info:
        ed.apply({"op": "add_spine", "session": 1, "segment": 0, "x_um": 30.0, "y_um": 14.0, "z": 15})
    assert str(info.value).startswith(f"add_spine refused: line/{stack}_l.txt:1: ")
    assert [t.to_text() for t in m.db2] + [m.header.to_text(), m.objmap.to_text()] == texts
    assert not ed.can_undo()
    # a session whose tracing is fine is still edited
    ed.apply({"op": "add_spine", "session": 0, "segment": 0, "x_um": 30.0, "y_um": 14.0, "z": 15})
