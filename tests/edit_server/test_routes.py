"""Every edit route: who may call it (401/403/404), invalid commands (422), the answers' shapes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.edit_server.conftest import API, FIRST_SPINE, GHOST_API, PRIV_API, EditWorld

S0 = FIRST_SPINE

#: (method, path relative to the map's API URL, JSON body)
ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/edits", None),
    ("POST", "/edits", {"op": "set_bad", "session": 0, "row": S0, "bad": True}),
    ("DELETE", "/edits", None),
    ("POST", "/save", {}),
    ("POST", "/versions/0/restore", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_who_may_edit(world: EditWorld, method: str, path: str, body: Any) -> None:
    # anonymous (the map is public: readable, not editable): 401
    r = world.call(method, path, None, json=body)
    assert r.status_code == 401, r.get_data(as_text=True)
    assert r.get_json()["status"] == 401 and r.get_json()["message"]
    # readers: 403 (bob reads through his group, dave because the map is public)
    for user in ("bob", "dave"):
        r = world.call(method, path, user, json=body)
        assert r.status_code == 403, (user, r.get_data(as_text=True))
    # a private map of someone else, and a map that does not exist: 404, the same answer
    hidden = world.client().open(
        PRIV_API + path, method=method, headers=world.headers("dave"), json=body
    )
    ghost = world.client().open(
        GHOST_API + path, method=method, headers=world.headers("dave"), json=body
    )
    assert hidden.status_code == ghost.status_code == 404
    assert hidden.get_json()["message"].replace("priv", "X") == ghost.get_json()["message"].replace("ghost", "X")
    # nothing was stored by any of them
    assert world.call("GET", "/edits", "alice").get_json()["log_length"] == 0
    assert world.call("GET", "/versions", "alice").get_json()["versions"] == []


def test_versions_are_listed_for_readers_only(world: EditWorld) -> None:
    assert world.call("GET", "/versions", None).status_code == 200  # public map
    assert world.call("GET", "/versions", "bob").get_json() == {"map": "alice/m", "versions": []}
    priv = PRIV_API + "/versions"
    assert world.client().get(priv, headers=world.headers("dave")).status_code == 404
    assert world.client().get(priv, headers=world.headers("alice")).status_code == 200


def test_owner_and_group_editor_may_edit(world: EditWorld) -> None:
    for user, row in (("alice", S0), ("carol", S0 + 1)):
        b = world.edit(user, {"op": "set_bad", "session": 0, "row": row, "bad": True})
        assert b["applied"]["touched"] == [[0, row]]
        assert b["applied"]["changed_sessions"] == [0]
        assert b["unsaved"] == 1 and b["can_undo"] is True and b["can_redo"] is False
    # each sees only their own edits, and the other as "others"
    a = world.call("GET", "/edits", "alice").get_json()
    c = world.call("GET", "/edits", "carol").get_json()
    assert [e["command"]["row"] for e in a["edits"]] == [S0]
    assert [e["command"]["row"] for e in c["edits"]] == [S0 + 1]
    assert [o["user"] for o in a["others"]] == ["carol"] and a["others"][0]["unsaved"] == 1
    assert [o["user"] for o in c["others"]] == ["alice"]


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ({"op": "delete", "session": 0, "row": 9999}, "row 9999"),
        ({"op": "delete", "session": 7, "row": 1}, "session 7"),
        ({"op": "fly", "session": 0}, "unknown op"),
        ({"op": "set_bad", "session": 0, "row": S0}, "bad"),
        ({"op": "set_bad", "session": 0, "row": S0, "bad": True, "extra": 1}, "extra"),
        ({"op": "undo"}, "nothing to undo"),
        ({"op": "redo"}, "nothing to redo"),
        ({"op": "undo", "row": 1}, "row"),
        ([1, 2], "JSON object"),
        ("set_bad", "JSON object"),
    ],
)
def test_invalid_commands_are_refused_and_not_stored(world: EditWorld, command: Any, words: str) -> None:
    before = world.text_files()
    r = world.call("POST", "/edits", "alice", json=command)
    assert r.status_code == 422, r.get_data(as_text=True)
    body = r.get_json()
    assert body["status"] == 422 and words in body["error"] and body["error"] == body["message"]
    assert r.headers["Cache-Control"] == "no-store"
    state = world.call("GET", "/edits", "alice").get_json()
    assert state["log_length"] == 0 and state["unsaved"] == 0
    assert world.text_files() == before


def test_a_body_that_is_not_json_is_a_400(world: EditWorld) -> None:
    r = world.call("POST", "/edits", "alice", data=b"{not json", content_type="application/json")
    assert r.status_code == 400
    r = world.call("POST", "/save", "alice", json=["x"])
    assert r.status_code == 400
    r = world.call("POST", "/save", "alice", json={"base_version": 3})
    assert r.status_code == 400


def test_a_refused_command_after_good_ones_keeps_them(world: EditWorld) -> None:
    world.edit("alice", {"op": "set_note", "session": 1, "row": S0, "note": "first"})
    v1 = world.call("GET", "/edits", "alice").get_json()["version"]
    r = world.call("POST", "/edits", "alice", json={"op": "delete", "session": 1, "row": 9999})
    assert r.status_code == 422
    state = world.call("GET", "/edits", "alice").get_json()
    assert state["version"] == v1 and state["unsaved"] == 1
    b = world.edit("alice", {"op": "set_note", "session": 1, "row": S0, "note": "second"})
    assert b["version"] != v1


def test_post_answers_the_changed_sessions_annotations(world: EditWorld) -> None:
    b = world.edit("alice", {"op": "set_bad", "session": 1, "row": S0 + 2, "bad": True})
    assert set(b["sessions"]) == {"1"}
    ann = b["sessions"]["1"]
    assert ann["session"] == 1 and ann["map"] == "alice/m"
    obj = {o["row"]: o for o in ann["objects"]}[S0 + 2]
    assert obj["isBad"] is True
    # the same as the read route with ?edits=1, and the saved map is unchanged
    same = world.call("GET", "/sessions/1/annotations?edits=1", "alice").get_json()
    assert same == ann
    saved = world.call("GET", "/sessions/1/annotations", "alice").get_json()
    assert {o["row"]: o for o in saved["objects"]}[S0 + 2]["isBad"] is False
    # ?roi=all answers every object type
    b = world.edit("alice", {"op": "set_bad", "session": 1, "row": S0 + 3, "bad": True})
    assert all(o["roiType"] == "spineROI" for o in b["sessions"]["1"]["objects"])
    r = world.call("POST", "/edits?roi=all", "alice", json={"op": "undo"})
    assert {o["roiType"] for o in r.get_json()["sessions"]["1"]["objects"]} > {"spineROI"}


def test_undo_redo_and_state(world: EditWorld) -> None:
    world.edit("alice", {"op": "set_bad", "session": 0, "row": S0, "bad": True})
    world.edit("alice", {"op": "set_note", "session": 0, "row": S0, "note": "n"})
    u = world.edit("alice", {"op": "undo"})
    assert u["applied"]["summary"].startswith("undid: ") and u["applied"]["command"]["op"] == "set_note"
    assert u["unsaved"] == 1 and u["can_redo"] is True
    r = world.edit("alice", {"op": "redo"})
    assert r["applied"]["summary"].startswith("redid: ") and r["unsaved"] == 2 and r["can_redo"] is False
    world.edit("alice", {"op": "undo"})
    world.edit("alice", {"op": "undo"})
    state = world.call("GET", "/edits", "alice").get_json()
    assert state["unsaved"] == 0 and state["edits"] == [] and state["log_length"] == 6
    assert state["oldest_unsaved"] is None and state["can_undo"] is False and state["can_redo"] is True
    # a save of nothing effective writes nothing and closes the log
    before = world.text_files()
    s = world.call("POST", "/save", "alice", json={"base_version": state["base_version"]})
    assert s.status_code == 200 and s.get_json()["version"] is None
    assert world.text_files() == before
    assert world.call("GET", "/edits", "alice").get_json()["log_length"] == 0


def test_discard(world: EditWorld) -> None:
    before = world.text_files()
    world.edit("alice", {"op": "set_bad", "session": 0, "row": S0, "bad": True})
    world.edit("alice", {"op": "delete", "session": 2, "row": S0})
    r = world.call("DELETE", "/edits", "alice")
    assert r.status_code == 200 and r.get_json()["discarded"] == 2
    state = world.call("GET", "/edits", "alice").get_json()
    assert state["unsaved"] == 0 and state["version"] == state["saved_version"]
    assert world.text_files() == before
    assert world.call("POST", "/save", "alice", json={}).get_json()["message"] == "nothing to save"
    # the discarded rows are kept in the log (nothing is ever deleted)
    from sqlalchemy import select

    from app.db import session
    from app.db.models import EditLogEntry

    with world.app.server.app_context():
        states = session().scalars(select(EditLogEntry.state)).all()
    assert sorted(states) == ["discarded", "discarded"]


def test_save_with_a_base_version_the_server_does_not_hold_is_a_409(world: EditWorld) -> None:
    world.edit("alice", {"op": "set_bad", "session": 0, "row": S0, "bad": True})
    r = world.call("POST", "/save", "alice", json={"base_version": "0123456789abcdef"})
    assert r.status_code == 409 and "reload" in r.get_json()["error"]
    assert world.call("GET", "/edits", "alice").get_json()["unsaved"] == 1


def test_restore_of_an_unknown_version_is_404(world: EditWorld) -> None:
    r = world.call("POST", "/versions/7/restore", "alice")
    assert r.status_code == 404 and "no version 7" in r.get_json()["message"]


def test_cross_site_post_with_a_session_cookie_is_refused(world: EditWorld) -> None:
    from tests.auth.conftest import login, new_client

    c = new_client(world.app)
    assert login(c, "alice", "alice-password").status_code == 303
    ok = c.post(API + "/edits", json={"op": "set_bad", "session": 0, "row": S0, "bad": True})
    assert ok.status_code == 200
    evil = c.post(
        API + "/edits",
        json={"op": "set_bad", "session": 0, "row": S0 + 1, "bad": True},
        headers={"Origin": "http://evil.example"},
    )
    assert evil.status_code == 403
    assert c.get(API + "/edits").get_json()["unsaved"] == 1


def test_routes_are_in_the_openapi_document(world: EditWorld) -> None:
    doc = world.client().get("/api/v1/openapi.json").get_json()
    paths = doc["paths"]
    base = "/api/v1/maps/{owner}/{name}"
    assert set(paths[base + "/edits"]) == {"get", "post", "delete"}
    assert set(paths[base + "/save"]) == {"post"}
    assert set(paths[base + "/versions"]) == {"get"}
    assert set(paths[base + "/versions/{version}/restore"]) == {"post"}
    post = paths[base + "/edits"]["post"]
    assert {"200", "401", "403", "404", "422"} <= set(post["responses"])
    assert {"200", "401", "403", "404", "409"} <= set(paths[base + "/save"]["post"]["responses"])
    ann = paths[base + "/sessions/{session}/annotations"]["get"]
    assert "edits" in {p["name"] for p in ann["parameters"]}
