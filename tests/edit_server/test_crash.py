"""A real gunicorn: a worker killed with SIGKILL in the middle of a stream of edits, then a full
server restart: every acknowledged edit is still there, and a save gives the expected files."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import psutil
from sqlalchemy import select

from app.auth import users
from app.config import Settings
from app.db import DB_KEY, session, session_scope
from app.db.models import EditLogEntry
from app.factory import create_app
from pymapmanager import load_map
from pymapmanager.edits import Editor
from tests.deploy.stack import Stack
from tests.edit_server.conftest import FIRST_SPINE

REPO = Path(__file__).resolve().parents[2]
#: columns stamped with the time of the edit (the server's clock, not the test's)
STAMPS = ("cDate", "cTime", "cSeconds", "mDate", "mTime", "mSeconds")


@contextmanager
def gunicorn(data_dir: Path, workers: int = 2) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """gunicorn serving the app on ``data_dir`` (its users already made); stopped after."""
    stack = Stack(data_dir.parent)
    try:
        env = {"DATA_DIR": str(data_dir), "CREATE_DEMO": "0", "SECRET_KEY": "crash-test", "DATABASE_URL": ""}
        server = stack.gunicorn("crash-gunicorn", env, workers)
        yield server.url, server.proc
    finally:
        stack.close()


def _commands(n: int) -> list[dict[str, Any]]:
    """A stream of distinct edits (notes, bad marks, added spines, moves, an undo)."""
    out: list[dict[str, Any]] = []
    for k in range(n):
        s, row = k % 3, FIRST_SPINE + (k % 6)
        kind = k % 5
        if kind == 0:
            out.append({"op": "set_note", "session": s, "row": row, "note": f"note {k}"})
        elif kind == 1:
            out.append({"op": "set_bad", "session": s, "row": row, "bad": k % 2 == 1})
        elif kind == 2:
            out.append({"op": "add_spine", "session": s, "segment": 0, "x_um": 8.0 + k % 7, "y_um": 12.0, "z": 1})
        elif kind == 3:
            out.append({"op": "move", "session": s, "row": row, "x_um": 9.0 + k % 5, "y_um": 13.0, "z": 1})
        else:
            out.append({"op": "set_user_type", "session": s, "row": row, "user_type": k % 4})
    out[len(out) // 2] = {"op": "undo"}
    return out


def _tables(folder: Path) -> dict[str, Any]:
    """The map's tables with the time stamps left out, and its link files' bytes."""
    m = load_map(folder)
    out: dict[str, Any] = {}
    for s in range(m.num_sessions):
        t = m.table(s)
        out[f"db2 {s}"] = t.drop(columns=[c for c in STAMPS if c in t.columns])
    for name in (f"{m.name}_objMap.txt", f"{m.name}_segMap.txt", f"{m.name}.txt"):
        p = folder / name
        out[name] = p.read_bytes() if p.exists() else None
    return out


def test_a_killed_worker_and_a_restart_lose_no_acknowledged_edit(tmp_path: Path) -> None:
    from pymapmanager.synthetic.maps import generate_map

    data = tmp_path / "data"
    generate_map(data / "alice", name="m", sessions=3, channels=1, shape=(3, 64, 64), seed=3,
                 segments=1, spines_per_segment=8)  # fmt: skip
    original = tmp_path / "original" / "m"
    shutil.copytree(data / "alice" / "m", original)
    app = create_app(Settings(data_dir=data, secret_key="crash-test", create_demo=False))
    with app.server.app_context(), session_scope(app.server.extensions[DB_KEY]) as db:
        users.create_user(db, "alice", "alice-password", cheap_hash=True)
        token = users.create_token(db, "alice", "tests")
    headers = {"Authorization": f"Bearer {token}"}
    api = "/api/v1/maps/alice/m"
    commands = _commands(60)
    acked: list[int] = []  # indexes of the commands answered 200
    unknown: list[int] = []  # sent, but the connection died: stored or not
    refused: list[int] = []  # answered 422 (e.g. an undo after nothing)

    with gunicorn(data) as (url, proc):
        master = psutil.Process(proc.pid)
        workers = [c.pid for c in master.children()]
        assert len(workers) == 2
        killed: list[int] = []
        lock_file = data / "alice" / ".m.edits.lock"

        def killer() -> None:
            while len(acked) < 20:
                time.sleep(0.002)
            # both workers, while one of them is inside an edit (it holds the map's edit lock):
            # that edit may or may not have been stored, and is not answered
            fd = os.open(lock_file, os.O_RDWR)
            try:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        break
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
            for pid in workers:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        t = threading.Thread(target=killer)
        t.start()
        for i, cmd in enumerate(commands):
            # a new connection per edit: the edits spread over the workers
            try:
                r = httpx.post(url + api + "/edits", json=cmd, headers=headers, timeout=60)
            except httpx.TransportError:
                unknown.append(i)
                continue
            if r.status_code == 200:
                acked.append(i)
            elif r.status_code == 422:
                refused.append(i)
            elif r.status_code >= 500:
                unknown.append(i)  # a worker died under the request
            else:
                raise AssertionError(f"edit {i}: {r.status_code} {r.text}")
        t.join()
        assert len(killed) == 2
        # the master replaced the killed workers
        assert set(c.pid for c in master.children()).isdisjoint(killed)
        assert len(acked) >= 50, (acked, unknown, refused)
    assert unknown, "the kill did not land during an edit"
    # a full restart of the server
    with gunicorn(data) as (url, _proc):
        state = httpx.get(url + api + "/edits", headers=headers, timeout=30).json()
        assert state["log_length"] >= len(acked)
        r = httpx.post(url + api + "/save", json={"base_version": state["base_version"]}, headers=headers, timeout=60)
        assert r.status_code == 200, r.text
        assert r.json()["version"]["id"] == 1
    with app.server.app_context():
        rows = list(session().scalars(select(EditLogEntry).order_by(EditLogEntry.seq)))
    stored = [r.command for r in rows]
    assert all(r.state == "saved" for r in rows)
    # match the stored log against the stream: acked ones all there, in order
    it = iter(range(len(commands)))
    positions = []
    for cmd in stored:
        for i in it:
            if _same(commands[i], cmd):
                positions.append(i)
                break
        else:
            raise AssertionError(f"stored command {cmd} is not in the stream")
    assert set(acked) <= set(positions)
    assert set(positions) - set(acked) <= set(unknown)
    # the saved files: the original map with the stored commands applied
    expected = tmp_path / "expected" / "m"
    shutil.copytree(original, expected)
    ed = Editor(load_map(expected), user="alice")
    ed.replay(stored)
    ed.map.save()
    got, want = _tables(data / "alice" / "m"), _tables(expected)
    assert got.keys() == want.keys()
    for k in want:
        if isinstance(want[k], pd.DataFrame):
            pd.testing.assert_frame_equal(got[k], want[k], check_dtype=False)
        else:
            assert got[k] == want[k], k


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a == b or (a.get("op") == b.get("op") and {k: a[k] for k in a} == {k: b.get(k) for k in a})
