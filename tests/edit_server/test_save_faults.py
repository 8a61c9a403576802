"""The server's save, step by step: unchanged files shared, and a fault at EVERY file-system
operation of a save (the version record and the map) leaves the old or the new map.

The writer's fault hook (:data:`pymapmanager.io.writer.fault_hook`) sees every operation of
the save: the version folder under ``DATA_DIR/.versions`` (its changed files written, the
others hard-linked from the map) and the map's crash-safe save (every text file linked
from the version folder). For N = 1, 2, ... the save is stopped at operation N; afterwards
the map loads and equals the old or the new version, nothing is left beside it, the next
save completes or redoes the interrupted one, and every version's files still equal what
the map held after it (so restoring any version is byte-identical).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.services import edits
from pymapmanager import load_map
from tests.edit_server.conftest import FIRST_SPINE, EditWorld
from tests.support.faults import Fault, failing_at, recording_ops

S0 = FIRST_SPINE


def _version_folder(world: EditWorld, seq: int) -> Path:
    return world.data_dir / ".versions" / "alice" / "m" / str(seq) / "m"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.txt"))}


def _inodes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): os.stat(p).st_ino for p in sorted(folder.rglob("*")) if p.is_file()}


def _save(world: EditWorld) -> dict[str, object]:
    r = world.call("POST", "/save", json={})
    assert r.status_code == 200, r.get_data(as_text=True)
    body: dict[str, object] = r.get_json()
    return body


def _versions(world: EditWorld) -> list[dict[str, object]]:
    versions: list[dict[str, object]] = world.call("GET", "/versions").get_json()["versions"]
    return versions


def test_a_save_writes_only_what_changed(world: EditWorld) -> None:
    original = world.text_files()
    world.edit("alice", {"op": "set_note", "session": 1, "row": S0, "note": "one file"})
    _save(world)
    now = world.text_files()
    changed = {rel for rel in now if now[rel] != original[rel]}
    assert len(changed) == 1, changed
    (rel,) = changed
    assert rel.startswith("stackdb/") and rel.endswith("_db2.txt")
    folder, v0, v1 = world.map_folder(), _version_folder(world, 0), _version_folder(world, 1)
    backup = world.data_dir / "alice" / ".m.previous"
    ino, ino0, ino1, ino_prev = _inodes(folder), _inodes(v0), _inodes(v1), _inodes(backup)
    # the changed file: one new file, shared by the map and version 1; the old one is
    # shared by version 0 and the backup
    assert ino[rel] == ino1[rel] != ino0[rel] == ino_prev[rel]
    assert _files(v1)[rel] == now[rel] and _files(v0)[rel] == original[rel]
    # every other file: one file for the map, its backup and both versions
    for other in set(original) - changed:
        assert ino[other] == ino0[other] == ino1[other] == ino_prev[other], other
    # the images are carried over (linked), not copied, and not in the versions
    images = [r for r in ino if r.startswith("raw/")]
    assert images and all(ino[r] == ino_prev[r] for r in images)
    assert not any(r.startswith("raw/") for r in ino1)
    # versions restore byte-identical: version 0, then version 1 again
    r = world.call("POST", "/versions/0/restore")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert world.text_files() == original == _files(_version_folder(world, 2))
    r = world.call("POST", "/versions/1/restore")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert world.text_files() == now == _files(_version_folder(world, 3))
    assert load_map(world.map_folder()).table(1)["note"].iloc[S0] == "one file"


def test_a_fault_at_every_step_of_a_save(world: EditWorld) -> None:
    # version 0 and a first save exist: the steps counted are those of every later save
    world.edit("alice", {"op": "set_bad", "session": 0, "row": S0, "bad": True})
    _save(world)
    with recording_ops() as ops:
        world.edit("alice", {"op": "set_note", "session": 0, "row": S0, "note": "counting"})
        _save(world)
    total = len(ops)
    kinds = {op for op, _ in ops}
    assert {"mkdir", "link", "write", "fsync", "flush", "rename", "unlink"} <= kinds, kinds
    outcomes = {"old": 0, "new": 0}
    for n in range(1, total + 1):
        note = f"fault at {n}"
        world.edit("alice", {"op": "set_note", "session": n % 3, "row": S0 + 1, "note": note})
        old = world.text_files()
        with failing_at(n), pytest.raises(Fault):
            world.call("POST", "/save", json={})
        # as another process would: no working copy in memory, the state from the database
        world.app.server.extensions.pop(edits.WORKING_KEY, None)
        other = world
        load_map(world.map_folder())  # recovers an interrupted swap
        after_fault = world.text_files()
        state = other.call("GET", "/edits").get_json()
        # the next save completes the version (the map has it) or saves the edit again
        r = other.call("POST", "/save", json={})
        assert r.status_code == 200, (n, r.get_data(as_text=True))
        new = world.text_files()
        assert new != old, f"op {n}: the edit was lost"
        assert after_fault in (old, new), f"op {n}/{total}: the map is neither the old nor the new version"
        assert (after_fault == new) == (state["unsaved"] == 0), f"op {n}: the log disagrees with the map"
        outcomes["new" if after_fault == new else "old"] += 1
        m = load_map(world.map_folder())
        assert m.table(n % 3)["note"].iloc[S0 + 1] == note
        leftovers = sorted(x for x in os.listdir(world.data_dir / "alice")
                           if x.startswith(".m.") and x not in (".m.previous", ".m.edits.lock"))  # fmt: skip
        assert not leftovers, f"op {n}: {leftovers}"
        # the newest version holds exactly the map's files; every version is whole
        versions = _versions(other)
        assert _files(_version_folder(world, int(versions[0]["id"]))) == new  # type: ignore[call-overload]
        assert all(_files(_version_folder(world, int(v["id"]))) for v in versions)  # type: ignore[call-overload]
    # faults before the map's commit point leave the old map, after it the new one
    assert outcomes["old"] > 0 and outcomes["new"] > 0, outcomes
    # after all that, restoring the original is byte-identical
    original = _files(_version_folder(world, 0))
    r = world.call("POST", "/versions/0/restore")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert world.text_files() == original
