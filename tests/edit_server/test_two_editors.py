"""Two editors on one map: disjoint edits merge automatically; overlapping ones are a 409."""

from __future__ import annotations

from pymapmanager import load_map
from tests.edit_server.conftest import FIRST_SPINE, EditWorld

S0 = FIRST_SPINE


def test_overlapping_edits_are_a_conflict(world: EditWorld) -> None:
    world.edit("alice", {"op": "set_bad", "session": 0, "row": S0 + 1, "bad": True})
    world.edit("carol", {"op": "set_note", "session": 0, "row": S0 + 1, "note": "carol's"})
    world.edit("carol", {"op": "set_bad", "session": 2, "row": S0, "bad": True})
    # carol's page shows alice as another editor with unsaved edits
    assert [o["user"] for o in world.call("GET", "/edits", "carol").get_json()["others"]] == ["alice"]
    a = world.call("POST", "/save", "alice", json={}).get_json()["version"]
    saved = world.text_files()
    carol_base = world.call("GET", "/edits", "carol").get_json()["base_version"]
    r = world.call("POST", "/save", "carol", json={"base_version": carol_base})
    assert r.status_code == 409, r.get_data(as_text=True)
    body = r.get_json()
    assert body["conflicts"] == [[0, S0 + 1]]
    assert body["their_version"]["id"] == a["id"] and body["their_version"]["user"] == "alice"
    assert "alice" in body["message"] and body["error"] == body["message"]
    # nothing written, carol's log kept (her page still shows her edits over her base)
    assert world.text_files() == saved
    state = world.call("GET", "/edits", "carol").get_json()
    assert state["unsaved"] == 2 and state["base_version"] == carol_base
    ann = world.call("GET", "/sessions/2/annotations?edits=1", "carol").get_json()
    assert {o["row"]: o for o in ann["objects"]}[S0]["isBad"] is True
    assert [v["id"] for v in world.call("GET", "/versions").get_json()["versions"]] == [1, 0]
    # she may go on editing her working copy, and discard to start again from alice's version
    world.edit("carol", {"op": "set_bad", "session": 1, "row": S0, "bad": True})
    assert world.call("DELETE", "/edits", "carol").get_json()["discarded"] == 3
    world.edit("carol", {"op": "set_note", "session": 0, "row": S0 + 1, "note": "carol's"})
    r = world.call("POST", "/save", "carol", json={})
    assert r.status_code == 200 and r.get_json()["merged"] is False


def test_disjoint_edits_are_merged(world: EditWorld) -> None:
    # alice deletes a spine of session 1 (rows after it shift down); carol edits other spines,
    # one of them after the deleted row in the same session
    world.edit("alice", {"op": "delete", "session": 1, "row": S0})
    world.edit("alice", {"op": "set_bad", "session": 0, "row": S0, "bad": True})
    world.edit("carol", {"op": "set_note", "session": 1, "row": S0 + 3, "note": "after the deleted"})
    world.edit("carol", {"op": "set_bad", "session": 2, "row": S0 + 2, "bad": True})
    carol_saw = world.call("GET", "/sessions/1/annotations?edits=1&roi=all", "carol").get_json()
    moved = {o["row"]: o for o in carol_saw["objects"]}[S0 + 3]
    a = world.call("POST", "/save", "alice", json={}).get_json()["version"]
    r = world.call("POST", "/save", "carol", json={})
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert body["merged"] is True and "merged" in body["message"] and "alice" in body["message"]
    v = body["version"]
    assert v["kind"] == "merge" and v["id"] == a["id"] + 1
    assert v["data_version_before"] == a["data_version_after"]
    # carol's note landed on the same spine, now one row up
    assert v["applied"][0]["command"] == {"op": "set_note", "session": 1, "row": S0 + 2, "note": "after the deleted"}
    m = load_map(world.map_folder())
    assert m.table(1)["note"].iloc[S0 + 2] == "after the deleted"
    assert float(m.table(1)["x"].iloc[S0 + 2]) == moved["x_um"]
    assert bool(m.bad_mask(2)[S0 + 2]) and bool(m.bad_mask(0)[S0])
    assert len(m.db2[1]) == len(carol_saw["objects"]) - 1
    # both logs are closed, the map is at carol's version
    for user in ("alice", "carol"):
        st = world.call("GET", "/edits", user).get_json()
        assert st["unsaved"] == 0 and st["saved_version"] == v["data_version_after"]
    # a third save built on the original version rebases over both
    listing = world.call("GET", "/versions").get_json()["versions"]
    assert [x["kind"] for x in listing] == ["merge", "save", "original"]


def test_others_see_the_merge_in_their_working_copy_only_after_their_save(world: EditWorld) -> None:
    world.edit("alice", {"op": "set_bad", "session": 0, "row": S0, "bad": True})
    world.edit("carol", {"op": "set_bad", "session": 0, "row": S0 + 2, "bad": True})
    world.call("POST", "/save", "alice", json={})
    # carol's working copy stays on her base until she saves (her rows keep their meaning)
    ann = world.call("GET", "/sessions/0/annotations?edits=1", "carol").get_json()
    bad = sorted(o["row"] for o in ann["objects"] if o["isBad"])
    assert S0 + 2 in bad and S0 not in bad
    assert world.call("POST", "/save", "carol", json={}).get_json()["merged"] is True
    ann = world.call("GET", "/sessions/0/annotations", "carol").get_json()
    bad = sorted(o["row"] for o in ann["objects"] if o["isBad"])
    assert S0 in bad and S0 + 2 in bad
