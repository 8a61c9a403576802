"""Save, versions and restore: files written crash-safely, a copy per version, restore as a new version."""

from __future__ import annotations

from pathlib import Path

import pytest

from pymapmanager import load_map
from tests.edit_server.conftest import FIRST_SPINE, EditWorld

S0 = FIRST_SPINE


def _version_files(world: EditWorld, seq: int) -> dict[str, bytes]:
    folder = world.data_dir / ".versions" / "alice" / "m" / str(seq) / "m"
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.txt"))}


def test_save_records_a_version_with_its_files(world: EditWorld) -> None:
    original = world.text_files()
    images = sorted(p.name for p in (world.map_folder() / "raw").iterdir())
    v0 = world.call("GET", "/edits").get_json()["saved_version"]
    world.edit("alice", {"op": "set_bad", "session": 0, "row": S0, "bad": True})
    world.edit("alice", {"op": "set_note", "session": 2, "row": S0 + 1, "note": "café"})
    state = world.call("GET", "/edits").get_json()
    r = world.call("POST", "/save", json={"base_version": state["base_version"]})
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    v = body["version"]
    assert body["merged"] is False and body["message"] == "2 edits saved"
    assert v["id"] == 1 and v["user"] == "alice" and v["kind"] == "save" and v["restored_from"] is None
    assert v["data_version_before"] == v0 and v["data_version_after"] != v0
    assert [c["command"]["op"] for c in v["applied"]] == ["set_bad", "set_note"]
    assert v["commands"] == [c["summary"] for c in v["applied"]]
    # the map on disk: the edits, images untouched, a backup of the version before
    m = load_map(world.map_folder())
    assert bool(m.bad_mask(0)[S0]) and m.table(2)["note"].iloc[S0 + 1] == "café"
    assert sorted(p.name for p in (world.map_folder() / "raw").iterdir()) == images
    assert (world.data_dir / "alice" / ".m.previous").is_dir()
    # the saved version's data version is the map's now; the log is closed
    after = world.call("GET", "/edits").get_json()
    assert after["saved_version"] == v["data_version_after"] == after["version"]
    assert after["unsaved"] == 0 and after["log_length"] == 0
    # version 0 keeps the original files, version 1 the saved ones
    assert _version_files(world, 0) == original
    assert _version_files(world, 1) == world.text_files()
    listing = world.call("GET", "/versions").get_json()["versions"]
    assert [x["id"] for x in listing] == [1, 0]
    assert listing[1]["kind"] == "original" and listing[1]["data_version_after"] == v0
    # the versions folder is not a map of the catalog
    maps = world.call("GET", "/api/v1/maps", "alice").get_json()["maps"]
    assert sorted(x["id"] for x in maps) == ["alice/m", "alice/priv"]


def test_restore_is_a_new_version_with_the_old_files(world: EditWorld) -> None:
    original = world.text_files()
    world.edit("alice", {"op": "delete", "session": 1, "row": S0})
    v1 = world.call("POST", "/save", json={}).get_json()["version"]
    after1 = world.text_files()
    assert after1 != original
    world.edit("carol", {"op": "set_bad", "session": 0, "row": S0 + 2, "bad": True})
    v2 = world.call("POST", "/save", "carol", json={}).get_json()["version"]
    assert v2["id"] == 2 and v2["data_version_before"] == v1["data_version_after"]
    # restore version 0 (the original): a new version 3 whose files equal version 0's
    r = world.call("POST", "/versions/0/restore", "carol")
    assert r.status_code == 200, r.get_data(as_text=True)
    v3 = r.get_json()["version"]
    assert v3["id"] == 3 and v3["kind"] == "restore" and v3["restored_from"] == 0 and v3["user"] == "carol"
    assert v3["data_version_before"] == v2["data_version_after"]
    assert world.text_files() == original
    assert _version_files(world, 3) == original
    # and restore version 1 again: files equal version 1's
    v4 = world.call("POST", "/versions/1/restore", "alice").get_json()["version"]
    assert v4["id"] == 4 and world.text_files() == after1
    # nothing was deleted: every version is listed and keeps its files
    listing = world.call("GET", "/versions").get_json()["versions"]
    assert [x["id"] for x in listing] == [4, 3, 2, 1, 0]
    for seq in range(5):
        assert _version_files(world, seq)
    # the restored map reads and edits like any other
    world.edit("alice", {"op": "set_bad", "session": 1, "row": S0, "bad": True})
    assert world.call("POST", "/save", json={}).get_json()["version"]["id"] == 5


def test_restore_with_my_unsaved_edits_is_refused(world: EditWorld) -> None:
    world.edit("alice", {"op": "set_bad", "session": 0, "row": S0, "bad": True})
    world.call("POST", "/save", json={})
    world.edit("alice", {"op": "set_bad", "session": 0, "row": S0 + 1, "bad": True})
    before = world.text_files()
    r = world.call("POST", "/versions/0/restore")
    assert r.status_code == 409 and "unsaved" in r.get_json()["message"]
    assert world.text_files() == before


def test_edits_made_before_a_restore_do_not_save_over_it(world: EditWorld) -> None:
    world.edit("alice", {"op": "set_bad", "session": 0, "row": S0, "bad": True})
    world.call("POST", "/save", json={})
    world.edit("carol", {"op": "set_note", "session": 2, "row": S0, "note": "mine"})
    world.call("POST", "/versions/0/restore", "alice")
    restored = world.text_files()
    r = world.call("POST", "/save", "carol", json={})
    assert r.status_code == 409
    body = r.get_json()
    assert "restored" in body["message"] and body["conflicts"] == [[2, S0]]
    assert body["their_version"]["kind"] == "restore"
    assert world.text_files() == restored
    assert world.call("GET", "/edits", "carol").get_json()["unsaved"] == 1  # kept


def test_a_save_interrupted_after_the_files_is_completed(world: EditWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process killed between writing the map and recording the version: the next
    write of the map finds the version's files on disk and completes it."""
    from app.services import edits

    world.edit("alice", {"op": "set_bad", "session": 0, "row": S0, "bad": True})

    def killed(*_a: object, **_k: object) -> None:
        raise SystemExit("killed")

    monkeypatch.setattr(edits, "_finish", killed)
    with pytest.raises(SystemExit):
        world.call("POST", "/save", json={})
    monkeypatch.undo()
    # in another process: the pending version is completed; the edits are saved, not open
    other = world.new_app()
    state = other.call("GET", "/edits").get_json()
    assert state["unsaved"] == 0 and state["log_length"] == 0
    listing = other.call("GET", "/versions").get_json()["versions"]
    assert [x["id"] for x in listing] == [1, 0]
    assert listing[0]["data_version_after"] == state["saved_version"]
    assert bool(load_map(world.map_folder()).bad_mask(0)[S0])


def test_a_save_interrupted_before_the_files_fails_cleanly(world: EditWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed after the version was recorded as pending but before the map was written:
    the version is marked failed (not listed), the edits stay unsaved, a new save works."""
    from app.services import edits

    before = world.text_files()
    world.edit("alice", {"op": "set_bad", "session": 0, "row": S0, "bad": True})

    def killed(*_a: object, **_k: object) -> Path:
        raise SystemExit("killed")

    monkeypatch.setattr(edits, "save_map", killed)
    with pytest.raises(SystemExit):
        world.call("POST", "/save", json={})
    monkeypatch.undo()
    assert world.text_files() == before
    other = world.new_app()
    assert [x["id"] for x in other.call("GET", "/versions").get_json()["versions"]] == [0]
    assert other.call("GET", "/edits").get_json()["unsaved"] == 1
    v = other.call("POST", "/save", json={}).get_json()["version"]
    assert v["id"] == 2  # seq 1 stays the failed attempt's (never reused)
    assert bool(load_map(world.map_folder()).bad_mask(0)[S0])
