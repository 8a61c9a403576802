"""The edit log lives in the database: any app (worker, restarted server) sees it; working copies
are cached per process but always equal a replay; saves invalidate every worker's cached views."""

from __future__ import annotations

from typing import Any

from app.services.edits import WORKING_KEY, WorkingCopies
from tests.edit_server.conftest import FIRST_SPINE, EditWorld

S0 = FIRST_SPINE


def _copies(world: EditWorld) -> WorkingCopies:
    c = world.app.server.extensions.setdefault(WORKING_KEY, WorkingCopies())
    assert isinstance(c, WorkingCopies)
    return c


def _bad_rows(ann: dict[str, Any]) -> list[int]:
    return sorted(o["row"] for o in ann["objects"] if o["isBad"])


def test_another_app_sees_the_log(world: EditWorld) -> None:
    world.edit("alice", {"op": "set_bad", "session": 0, "row": S0, "bad": True})
    world.edit("alice", {"op": "add_spine", "session": 1, "segment": 0, "x_um": 10.0, "y_um": 12.0, "z": 1})
    world.edit("alice", {"op": "set_note", "session": 1, "row": S0, "note": "x"})
    world.edit("alice", {"op": "undo"})
    mine = world.call("GET", "/edits").get_json()
    # a new app on the same data and database: a restarted server, or another worker
    other = world.new_app()
    theirs = other.call("GET", "/edits").get_json()
    assert theirs == mine
    assert theirs["unsaved"] == 2 and theirs["log_length"] == 4 and theirs["can_redo"] is True
    a1 = world.call("GET", "/sessions/1/annotations?edits=1&roi=all").get_json()
    a2 = other.call("GET", "/sessions/1/annotations?edits=1&roi=all").get_json()
    assert a1 == a2
    # the other app goes on where the first stopped (redo the note, then one more edit)
    r = other.edit("alice", {"op": "redo"})
    assert r["applied"]["summary"].startswith("redid: ")
    other.edit("alice", {"op": "set_bad", "session": 2, "row": S0, "bad": True})
    # and the first sees that, applying only the new rows to its cached working copy
    replays = _copies(world).replays
    state = world.call("GET", "/edits").get_json()
    assert state == other.call("GET", "/edits").get_json()
    assert state["unsaved"] == 4 and _copies(world).replays == replays
    assert _copies(world).applied >= 2


def test_a_stream_of_edits_does_not_replay(world: EditWorld) -> None:
    copies = _copies(world)
    for k in range(6):
        world.edit("alice", {"op": "set_note", "session": 0, "row": S0 + (k % 3), "note": f"n{k}"})
    assert copies.replays == 0  # every edit applied to the cached working copy
    world.call("GET", "/sessions/0/annotations?edits=1")
    world.call("GET", "/edits")
    assert copies.replays == 0


def test_a_working_version_names_a_state_for_good(world: EditWorld) -> None:
    b1 = world.edit("alice", {"op": "set_bad", "session": 0, "row": S0, "bad": True})
    v1 = b1["version"]
    world.edit("alice", {"op": "set_bad", "session": 0, "row": S0 + 1, "bad": True})
    # the map page's views take the working version like a data version
    from app.services import viewer
    from app.services.maps import MapRef, get_map

    with world.app.server.test_request_context():
        m = get_map(MapRef("alice", "m"), v1)  # an older state: replayed, not the live one
        assert bool(m.bad_mask(0)[S0]) and not bool(m.bad_mask(0)[S0 + 1])
        layer = viewer.spine_layer(MapRef("alice", "m"), v1, 0)
        assert layer is not None
    ann = world.call("GET", "/sessions/0/annotations?edits=1").get_json()
    assert _bad_rows(ann)[:2] == [S0, S0 + 1]


def test_edits_param_is_the_saved_map_for_others(world: EditWorld) -> None:
    world.edit("alice", {"op": "set_bad", "session": 0, "row": S0, "bad": True})
    saved = world.call("GET", "/sessions/0/annotations", "alice").get_json()
    for user in (None, "bob", "carol"):  # anonymous, a reader, another editor
        assert world.call("GET", "/sessions/0/annotations?edits=1", user).get_json() == saved
    assert S0 in _bad_rows(world.call("GET", "/sessions/0/annotations?edits=1", "alice").get_json())


def test_values_and_tracing_from_the_working_copy(world: EditWorld) -> None:
    q = "/values?stat=x&roi=spineROI"
    saved = world.call("GET", q).get_json()
    world.edit("alice", {"op": "move", "session": 1, "row": S0, "x_um": 20.5, "y_um": 14.0, "z": 1})
    work = world.call("GET", q + "&edits=1").get_json()
    assert world.call("GET", q).get_json() == saved
    assert work != saved
    col = [row[1] for row in work["values"]]
    assert 20.5 in col and 20.5 not in [row[1] for row in saved["values"]]
    r1 = world.call("GET", "/sessions/1/tracing?edits=1")
    r2 = world.call("GET", "/sessions/1/tracing")
    assert r1.get_json() == r2.get_json()  # edits never change the tracing
    assert r1.headers["ETag"] != r2.headers["ETag"]  # but the versions differ


def test_save_invalidates_every_workers_views(world: EditWorld) -> None:
    q = "/values?stat=x&roi=spineROI"
    other = world.new_app()  # a second worker: its own map store and memory cache
    before = other.call("GET", q).get_json()
    etag = other.call("GET", q).headers["ETag"]
    ann_before = other.call("GET", "/sessions/1/annotations").get_json()
    world.edit("alice", {"op": "move", "session": 1, "row": S0, "x_um": 21.25, "y_um": 14.0, "z": 1})
    world.edit("alice", {"op": "set_bad", "session": 1, "row": S0 + 1, "bad": True})
    assert other.call("GET", q).get_json() == before  # unsaved: not seen by others
    assert world.call("POST", "/save", json={}).status_code == 200
    after = other.call("GET", q).get_json()
    assert after != before and 21.25 in [row[1] for row in after["values"]]
    r = other.client().get("/api/v1/maps/alice/m" + q, headers={"If-None-Match": etag, **other.headers("alice")})
    assert r.status_code == 200  # the old ETag no longer matches
    ann_after = other.call("GET", "/sessions/1/annotations").get_json()
    assert S0 + 1 in _bad_rows(ann_after) and S0 + 1 not in _bad_rows(ann_before)
    info = other.call("GET", "").get_json()
    assert info["version"] == world.call("GET", "/edits").get_json()["saved_version"]
