"""Each edit command and its effect on the map's files: values, links, counts, runs."""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import pymapmanager as pmm
from pymapmanager.edits import OPS, Applied, Command, Editor, check_invariants, igor_seconds
from pymapmanager.io.text import LinkMap

from .conftest import NOW


def spine_rows(m: pmm.Map, s: int) -> list[int]:
    return np.flatnonzero(m.db2[s].data["roiType"] == "spineROI").tolist()


def linked_spine(m: pmm.Map, s: int) -> tuple[int, int]:
    """A spine of session s linked to session s+1: (row, next row)."""
    d = m.objmap.data
    for r in spine_rows(m, s):
        nx = d[LinkMap.NEXT, r, s]
        if not math.isnan(nx):
            return r, int(nx)
    raise AssertionError("no linked spine")


def run_of(m: pmm.Map, s: int, row: int) -> list[float]:
    runs = m.runs_of(None)
    hit = np.flatnonzero(runs[:, s] == row)
    assert hit.size == 1
    return runs[hit[0]].tolist()


def line_of(m: pmm.Map, rel: str, row: int) -> str:
    """The text of table row ``row`` of file ``rel`` (below the two header lines)."""
    return m.files()[rel].split("\r")[2 + row]


def cell(m: pmm.Map, s: int, col: str, row: int) -> Any:
    return m.db2[s].data[col][row]


# --------------------------------------------------------------------------- commands as data


def test_command_round_trips_as_json() -> None:
    for d in (
        {"op": "add_spine", "session": 2, "segment": 0, "x_um": 41.5, "y_um": 20.3, "z": 12},
        {"op": "move", "session": 2, "row": 17, "x_um": 40.0, "y_um": 21.0, "z": 13},
        {"op": "delete", "session": 1, "row": 5},
        {"op": "set_bad", "session": 0, "row": 3, "bad": True},
        {"op": "set_note", "session": 0, "row": 3, "note": "merged with neighbour"},
        {"op": "set_user_type", "session": 0, "row": 3, "user_type": 2},
        {"op": "connect", "session": 1, "row": 8, "to_row": 11},
        {"op": "disconnect", "session": 1, "row": 8},
    ):
        c = Command.from_dict(d)
        assert c.to_dict() == d
    assert {Command.from_dict(d).op for d in [{"op": "delete", "session": 0, "row": 1}]} <= set(OPS)
    # whole floats from JSON become ints
    assert Command.from_dict({"op": "delete", "session": 1.0, "row": 5.0}).args == {"session": 1, "row": 5}


def test_applied_to_dict_and_back() -> None:
    a = Applied(Command("delete", {"session": 1, "row": 2}), "s", frozenset({(1, 2), (0, 4)}), frozenset({0, 1}))
    d = a.to_dict()
    assert d == {
        "command": {"op": "delete", "session": 1, "row": 2},
        "summary": "s",
        "touched": [[0, 4], [1, 2]],
        "changed_sessions": [0, 1],
    }
    assert Applied.from_dict(d) == a


# --------------------------------------------------------------------------- add_spine


def test_add_spine_attaches_to_the_nearest_tracing_point(editor: Editor) -> None:
    m = editor.map
    s = 1
    ref = spine_rows(m, s)[3]  # an existing spine: add one at its connection point
    sid = int(cell(m, s, "parentID", ref))
    k = m.map_segment_of(s, sid)
    assert k is not None
    cx, cy, cz = (float(cell(m, s, c, ref)) for c in ("cx", "cy", "cz"))
    tr = m.tracing(s)
    assert tr is not None
    cp = int(cell(m, s, "cPnt", ref))
    px, py, pz = (float(tr.points.data[c][cp]) for c in ("x", "y", "z"))
    n = len(m.db2[s])
    counts = int(m.header.get("numObj")), int(m.header.get("numSpine"))
    meta = m.db2[s].meta
    runs_before = m.runs.shape[0]

    a = editor.apply({"op": "add_spine", "session": s, "segment": k, "x_um": px, "y_um": py, "z": pz})

    assert a.touched == frozenset({(s, n)}) and a.changed_sessions == frozenset({s})
    assert f"added spine row {n} on map segment {k}" in a.summary and "tracing point" in a.summary
    assert len(m.db2[s]) == n + 1
    assert cell(m, s, "roiType", n) == "spineROI" and cell(m, s, "roiTypeNum", n) == 0
    assert cell(m, s, "Idx", n) == n
    assert (cell(m, s, "x", n), cell(m, s, "y", n), cell(m, s, "z", n)) == pytest.approx((px, py, pz), abs=1e-3)
    assert cell(m, s, "parentID", n) == sid
    assert cell(m, s, "cPnt", n) == cp
    for col in ("sDist", "pDist"):
        assert cell(m, s, col, n) == pytest.approx(float(cell(m, s, col, ref)), abs=2e-3)
    assert (cell(m, s, "cx", n), cell(m, s, "cy", n)) == pytest.approx((px, py), abs=1e-3)
    # who and when, as Map Manager writes them
    assert cell(m, s, "cDate", n) == cell(m, s, "mDate", n) == "2026-12-05"
    assert cell(m, s, "cTime", n) == cell(m, s, "mTime", n) == "14:30:15"
    assert cell(m, s, "cSeconds", n) == pytest.approx(igor_seconds(NOW), abs=1e-3)
    assert cell(m, s, "userName", n) == "tester"
    text = line_of(m, f"stackdb/{m.sessions[s].stack}_db2.txt", n)
    assert re.search(r",2026-12-05,14:30:15,2026-12-05,14:30:15,\d{10}\.\d{6},\d{10}\.\d{6},tester,", text)
    assert text.endswith(",")
    # intensities: a row per channel, empty until measured
    for ch in (1, 2):
        it = m.intensity[s][ch]
        assert len(it) == n + 1
        assert it.data["idx"][n] == n
        assert all(math.isnan(it.data[c][n]) for c in it.columns if c != "idx")
    # links: a new object in no run but its own
    d = m.objmap.data
    assert d[LinkMap.IDX, n, s] == n and d[LinkMap.NODE_TYPE, n, s] == 0 and d[LinkMap.SEGMENT_ID, n, s] == sid
    assert all(math.isnan(d[b, n, s]) for b in (LinkMap.NEXT, LinkMap.PREV))
    assert d[LinkMap.DYN_TYPE, n, s] == 4 and not math.isnan(d[LinkMap.RUN_IDX, n, s])
    assert m.runs.shape[0] == runs_before + 1
    assert run_of(m, s, n) == [math.nan if j != s else n for j in range(3)] or np.allclose(
        run_of(m, s, n), [np.nan, n, np.nan], equal_nan=True
    )
    # counts
    assert (int(m.header.get("numObj")), int(m.header.get("numSpine"))) == (counts[0] + 1, counts[1] + 1)
    assert int(m.db2[s].meta["numObjects"]) == int(meta["numObjects"]) + 1
    assert int(m.db2[s].meta["numSpines"]) == int(meta["numSpines"]) + 1
    assert check_invariants(m) == []


def test_add_spine_on_another_stack_segment_id(demo_folder: Path) -> None:
    """The map segment is translated to the session's own segment ID (segMap)."""
    m = pmm.load_map(demo_folder)
    ed = Editor(m, now=lambda: NOW)
    for k in range(m.num_map_segments):
        sid = m.stack_segment(k, 2)
        a = ed.apply({"op": "add_spine", "session": 2, "segment": k, "x_um": 30.0, "y_um": 30.0, "z": 15})
        (s, n), = a.touched
        assert cell(m, s, "parentID", n) == sid
        tr = m.tracing(2)
        assert tr is not None
        assert tr.points.data["ID"][int(cell(m, s, "cPnt", n))] == sid


def test_add_spine_without_tracing_leaves_the_connection_empty(demo_copy: Path) -> None:
    m0 = pmm.load_map(demo_copy)
    stack = m0.sessions[0].stack
    (demo_copy / "line" / f"{stack}_l.txt").unlink()
    m = pmm.load_map(demo_copy)
    ed = Editor(m, user="tester", now=lambda: NOW)
    a = ed.apply({"op": "add_spine", "session": 0, "segment": 1, "x_um": 20.0, "y_um": 40.0, "z": 14})
    assert "session 0 has no tracing" in a.summary and "left empty" in a.summary
    (_, n), = a.touched
    for col in ("cPnt", "sDist", "pDist", "cx", "cy", "cz"):
        assert math.isnan(cell(m, 0, col, n)), col
    assert cell(m, 0, "parentID", n) == m.stack_segment(1, 0)
    assert check_invariants(m) == []
    m.save()
    again = pmm.load_map(demo_copy)
    assert again.validate() == [] and check_invariants(again) == []
    assert again.db2[0].data["userName"][n] == "tester"


def test_add_spine_to_a_copy_of_f27a1_looks_like_igors(f27a1: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(f27a1, tmp_path / "F27A_1"))
    m = pmm.load_map(folder)
    ed = Editor(m, user="ZY", now=lambda: NOW)
    a = ed.apply({"op": "add_spine", "session": 1, "segment": 0, "x_um": 80.0, "y_um": 35.0, "z": 27})
    assert "session 1 has no tracing" in a.summary
    (_, n), = a.touched
    rel = "stackdb/F27A_1_s5_db2.txt"
    new = line_of(m, rel, n)
    igor = line_of(m, rel, n - 1)  # the spine above it, as Igor wrote it
    assert new.count(",") == igor.count(",")
    pattern = r"^\d+,spineROI,0,[\d.]+,[\d.]+,\d+,1,,\d+,"
    assert re.match(pattern, new) and re.match(pattern, igor)
    stamp = r",\d{4}-\d\d-\d\d,\d\d:\d\d:\d\d,\d{4}-\d\d-\d\d,\d\d:\d\d:\d\d,\d{10}\.\d{6},\d{10}\.\d{6},ZY,"
    assert re.search(stamp, new) and re.search(stamp, igor)
    assert m.header.get("numObj") == "408" and m.header.get("numSpine") == "241"
    it = m.intensity[1][1].to_text().split("\r")
    assert it[2 + n].startswith(f"{n}.000000,NaN,NaN")  # F27A_1 writes idx as %f
    m.save()
    again = pmm.load_map(folder)
    assert again.validate() == [] and check_invariants(again) == []
    assert len(again.db2[1]) == n + 1


# --------------------------------------------------------------------------- move


def test_move_sets_the_position_and_reattaches(editor: Editor) -> None:
    m = editor.map
    s, row = 0, spine_rows(editor.map, 0)[2]
    cdate = cell(m, s, "cDate", row)
    a = editor.apply({"op": "move", "session": s, "row": row, "x_um": 33.0, "y_um": 14.5, "z": 12})
    assert a.touched == frozenset({(s, row)}) and a.changed_sessions == frozenset({s})
    assert "moved row" in a.summary and "to x 33 y 14.5 um z 12" in a.summary
    assert (cell(m, s, "x", row), cell(m, s, "y", row), cell(m, s, "z", row)) == (33.0, 14.5, 12.0)
    tr = m.tracing(s)
    assert tr is not None
    cp = int(cell(m, s, "cPnt", row))
    pts = tr.points.data
    sid = cell(m, s, "parentID", row)
    on = np.flatnonzero(pts["ID"] == sid)
    d2 = (pts["x"][on] - 33.0) ** 2 + (pts["y"][on] - 14.5) ** 2 + (pts["z"][on] - 12) ** 2
    assert cp == on[np.argmin(d2)]
    assert cell(m, s, "sDist", row) == pytest.approx(pts["sDist"][cp], abs=1e-3)
    assert cell(m, s, "cx", row) == pytest.approx(pts["x"][cp], abs=1e-3)
    assert cell(m, s, "cDate", row) == cdate and cell(m, s, "mDate", row) == "2026-12-05"
    assert cell(m, s, "mTime", row) == "14:30:15"
    assert check_invariants(m) == []


# --------------------------------------------------------------------------- delete


def test_delete_shifts_rows_repairs_links_and_counts(editor: Editor) -> None:
    m = editor.map
    s = 1
    row, nx = linked_spine(m, s)
    d0 = m.objmap.data.copy()
    pv = d0[LinkMap.PREV, row, s]
    assert not math.isnan(pv)
    pv = int(pv)
    n = len(m.db2[s])
    below = [(float(cell(m, s, "x", r)), float(cell(m, s, "y", r))) for r in range(row + 1, n)]
    # a run through a row after the deleted one, by positions: it must survive renumbered
    later, later_next = next((r, int(d0[LinkMap.NEXT, r, s])) for r in range(row + 1, n) if not math.isnan(d0[LinkMap.NEXT, r, s]))
    later_prev = d0[LinkMap.PREV, later, s]
    num_obj, num_spine = int(m.header.get("numObj")), int(m.header.get("numSpine"))
    ints = {ch: m.intensity[s][ch].data["ubssSum"][row + 1] for ch in (1, 2)}

    a = editor.apply({"op": "delete", "session": s, "row": row})

    assert a.touched == frozenset({(s, row), (s + 1, nx), (s - 1, pv)})
    assert a.changed_sessions == frozenset({s - 1, s, s + 1})
    assert f"deleted row {row}" in a.summary and "unlinked from" in a.summary
    assert len(m.db2[s]) == n - 1
    assert [(float(cell(m, s, "x", r)), float(cell(m, s, "y", r))) for r in range(row, n - 1)] == below
    assert m.db2[s].data["Idx"].tolist() == list(range(n - 1))
    for ch in (1, 2):
        it = m.intensity[s][ch]
        assert len(it) == n - 1 and it.data["idx"].tolist() == list(range(n - 1))
        assert it.data["ubssSum"][row] == ints[ch] or (math.isnan(ints[ch]) and math.isnan(it.data["ubssSum"][row]))
    d = m.objmap.data
    assert math.isnan(d[LinkMap.PREV, nx, s + 1]) and math.isnan(d[LinkMap.NEXT, pv, s - 1])
    assert d[LinkMap.DYN_TYPE, pv, s - 1] == 2  # its run now ends in session s-1 (subtracted)
    # the later run is intact, its row in session s one less
    assert d[LinkMap.NEXT, later - 1, s] == later_next
    assert d[LinkMap.PREV, later_next, s + 1] == later - 1
    if not math.isnan(later_prev):
        assert d[LinkMap.NEXT, int(later_prev), s - 1] == later - 1
    assert int(m.header.get("numObj")) == num_obj - 1 and int(m.header.get("numSpine")) == num_spine - 1
    assert int(m.db2[s].meta["numObjects"]) == n - 1
    assert check_invariants(m) == []
    assert m.objmap.shape[1] == max(len(t) for t in m.db2)


def test_delete_the_last_row_of_the_longest_session_shrinks_the_objmap(editor: Editor) -> None:
    m = editor.map
    rows0 = m.objmap.shape[1]
    a = editor.apply({"op": "add_spine", "session": 0, "segment": 0, "x_um": 30.0, "y_um": 14.0, "z": 15})
    (_, n), = a.touched
    assert n == rows0 and m.objmap.shape[1] == rows0 + 1  # session 0 is now the longest
    assert f"rows={rows0 + 1};" in m.files()["demo_objMap.txt"].split("\n")[0]
    editor.apply({"op": "delete", "session": 0, "row": n})
    assert m.objmap.shape[1] == rows0 == max(len(t) for t in m.db2)
    assert f"rows={rows0};" in m.files()["demo_objMap.txt"].split("\n")[0]
    assert check_invariants(m) == []


# --------------------------------------------------------------------------- fields


def test_set_bad_note_user_type(editor: Editor) -> None:
    m = editor.map
    s, row = 2, spine_rows(editor.map, 2)[0]
    a = editor.apply({"op": "set_bad", "session": s, "row": row, "bad": True})
    assert bool(m.bad_mask(s)[row]) and a.summary == f"session {s}: row {row} marked bad (was good)"
    assert cell(m, s, "mDate", row) == "2026-12-05"
    editor.apply({"op": "set_bad", "session": s, "row": row, "bad": False})
    assert not m.bad_mask(s)[row] and cell(m, s, "isBad", row) == 0
    a = editor.apply({"op": "set_note", "session": s, "row": row, "note": "merged with neighbour"})
    assert cell(m, s, "note", row) == "merged with neighbour" and "note of row" in a.summary
    editor.apply({"op": "set_user_type", "session": s, "row": row, "user_type": 2})
    assert cell(m, s, "userType", row) == 2
    assert pmm.map_values(m, "userType").values.size  # the column reads as numbers
    assert check_invariants(m) == []
    assert m.table(s)["note"][row] == "merged with neighbour"  # derived caches see the edit


def test_set_bad_reaches_the_analysis(editor: Editor) -> None:
    m = editor.map
    s, row = 0, spine_rows(editor.map, 0)[1]
    before = pmm.map_values(m, "x")
    assert np.any(before.rows[:, s] == row)
    editor.apply({"op": "set_bad", "session": s, "row": row, "bad": True})
    after = pmm.map_values(m, "x")
    assert not np.any(after.rows[:, s] == row)


# --------------------------------------------------------------------------- connect / disconnect


def test_disconnect_then_connect(editor: Editor) -> None:
    m = editor.map
    s = 0
    row, nx = linked_spine(m, s)
    runs = m.runs.shape[0]
    a = editor.apply({"op": "disconnect", "session": s, "row": row})
    assert a.touched == frozenset({(s, row), (s + 1, nx)}) and a.changed_sessions == frozenset({0, 1})
    assert m.runs.shape[0] == runs + 1
    d = m.objmap.data
    assert math.isnan(d[LinkMap.NEXT, row, s]) and math.isnan(d[LinkMap.PREV, nx, s + 1])
    assert check_invariants(m) == []
    a = editor.apply({"op": "connect", "session": s, "row": row, "to_row": nx})
    assert a.touched == frozenset({(s, row), (s + 1, nx)})
    d = m.objmap.data
    assert (d[LinkMap.NEXT, row, s], d[LinkMap.NEXT_TP, row, s]) == (nx, s + 1)
    assert (d[LinkMap.PREV, nx, s + 1], d[LinkMap.PREV_TP, nx, s + 1]) == (row, s)
    assert m.runs.shape[0] == runs
    assert run_of(m, s, row)[s + 1] == nx
    assert check_invariants(m) == []


def test_disconnect_prev_side(editor: Editor) -> None:
    m = editor.map
    row, nx = linked_spine(m, 0)
    a = editor.apply({"op": "disconnect", "session": 1, "row": nx, "side": "prev"})
    assert a.touched == frozenset({(1, nx), (0, row)})
    assert math.isnan(m.objmap.data[LinkMap.NEXT, row, 0])


def test_connect_an_added_spine_makes_one_run(editor: Editor) -> None:
    m = editor.map
    a = editor.apply({"op": "add_spine", "session": 2, "segment": 0, "x_um": 30.0, "y_um": 14.0, "z": 15})
    (_, n), = a.touched
    free = next(r for r in spine_rows(m, 1) if math.isnan(m.objmap.data[LinkMap.NEXT, r, 1])
                and m.map_segment_of(1, float(cell(m, 1, "parentID", r))) == 0)  # fmt: skip
    editor.apply({"op": "connect", "session": 1, "row": free, "to_row": n})
    assert run_of(m, 2, n)[1] == free
    assert m.objmap.data[LinkMap.RUN_IDX, n, 2] == m.objmap.data[LinkMap.RUN_IDX, free, 1]
    assert m.objmap.data[LinkMap.DYN_TYPE, n, 2] == 3
    assert check_invariants(m) == []


# --------------------------------------------------------------------------- saving


def test_edited_map_saves_and_reloads(demo_copy: Path) -> None:
    m = pmm.load_map(demo_copy)
    ed = Editor(m, user="tester", now=lambda: NOW)
    row, nx = linked_spine(m, 0)
    script = [
        {"op": "add_spine", "session": 1, "segment": 1, "x_um": 30.0, "y_um": 44.0, "z": 15},
        {"op": "move", "session": 2, "row": spine_rows(m, 2)[4], "x_um": 25.0, "y_um": 15.0, "z": 16},
        {"op": "delete", "session": 0, "row": row},
        {"op": "set_note", "session": 1, "row": nx, "note": "was linked"},
    ]
    ed.replay(script)
    files = m.file_bytes()
    m.save()
    again = pmm.load_map(demo_copy)
    assert again.file_bytes() == files
    assert again.validate() == [] and check_invariants(again) == []
    assert (demo_copy.parent / ".demo.previous").is_dir()
