"""The map page's spine table answers from the editor's working copy (unsaved edits shown,
as the plot and the viewers), and from the saved map for everyone else."""

from __future__ import annotations

from typing import Any

from callbacks.map_tables import spine_table
from tests.edit_server.conftest import FIRST_SPINE, EditWorld

MAP_DATA = {"owner": "alice", "name": "m", "version": ""}
EDITING = {"version": "x", "edits": True}


def _bad(world: EditWorld, user: str | None, edit_version: Any) -> dict[int, bool]:
    with world.app.server.test_request_context("/map/alice/m", headers=world.headers(user)):
        rows, _cols, info = spine_table(0, ["pDist"], "spineROI", MAP_DATA, edit_version)
    assert "objects in session 0" in info
    return {r["row"]: bool(r["bad"]) for r in rows}


def test_the_spine_table_shows_the_editors_unsaved_edits(world: EditWorld) -> None:
    before = _bad(world, "alice", EDITING)
    assert before[FIRST_SPINE] is False
    world.edit("alice", {"op": "set_bad", "session": 0, "row": FIRST_SPINE, "bad": True})
    assert _bad(world, "alice", EDITING)[FIRST_SPINE] is True
    # without the edit version's word (no unsaved edits known), and for a reader: the saved map
    assert _bad(world, "alice", None)[FIRST_SPINE] is False
    assert _bad(world, "bob", EDITING)[FIRST_SPINE] is False
