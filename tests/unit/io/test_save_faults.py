"""Crash-safe saving: a fault at EVERY file-system operation of a save.

For N = 1, 2, ... total operations, the save is stopped at operation N (an exception in
process, and a real process death with ``os._exit`` in a subprocess); afterwards the map
loads under its own name equal to the old or the new version, and after ``recover`` no
leftover remains and the backup is whole.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import pymapmanager as pmm
from pymapmanager.io import writer
from pymapmanager.model import recover
from pymapmanager.synthetic.maps import generate_map
from tests.support.faults import Fault, failing_at, recording_ops

_TEMPLATE: dict[str, Path] = {}


def _make(tmp: Path) -> Path:
    """A copy of one small generated map (generated once per test session)."""
    if "sv" not in _TEMPLATE or not _TEMPLATE["sv"].exists():
        _TEMPLATE["sv"] = generate_map(tmp.parent / "template", name="sv", sessions=2, channels=1,
                                       shape=(2, 16, 16), segments=1, spines_per_segment=2, seed=3)  # fmt: skip
    tmp.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copytree(_TEMPLATE["sv"], tmp / "sv"))


def _edit(m: pmm.Map) -> None:
    m.db2[0].set_value(0, "note", "edited")


def _state(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _count_ops(tmp: Path) -> int:
    src = _make(tmp / "count")
    pmm.load_map(src).save()  # a backup exists: the full rotation is counted
    m = pmm.load_map(src)
    _edit(m)
    with recording_ops() as ops:
        m.save()
    assert {op for op, _ in ops} >= {"write", "fsync", "flush", "rename", "mkdir", "unlink", "rmdir", "link"}
    return len(ops)


def _check(folder: Path, old: dict[str, bytes], new: dict[str, bytes], label: str) -> None:
    pmm.load_map(folder)  # load_map recovers first
    got = _state(folder)
    assert got in (old, new), f"{label}: the map is neither the old nor the new version"
    leftovers = [n for n in os.listdir(folder.parent) if n.startswith(".sv.") and n != ".sv.previous"]
    assert not leftovers, f"{label}: leftovers {leftovers}"
    backup = folder.parent / ".sv.previous"
    if backup.exists():  # the backup is a whole map
        assert _state(backup) in (old, new), f"{label}: the backup is not a whole version"


def test_fault_at_every_operation(tmp_path: Path) -> None:
    total = _count_ops(tmp_path)
    assert total > 20
    for n in range(1, total + 1):
        base = tmp_path / f"run{n}"
        src = _make(base)
        pmm.load_map(src).save()
        old = _state(src)
        m = pmm.load_map(src)
        _edit(m)
        with failing_at(n), pytest.raises(Fault):
            m.save()
        new_map = pmm.load_map(_make(base / "ref"))
        _edit(new_map)
        new = {k: v for k, v in old.items()}
        new.update(new_map.file_bytes())
        _check(src, old, new, f"fault at op {n}/{total}")
        # the next save works and cleans up
        m2 = pmm.load_map(src)
        _edit(m2)
        m2.save()
        assert _state(src) == new


def _save_and_die_at(src: Path, n: int) -> int:
    """Fork a process that saves an edit of ``src`` and dies (``os._exit``) at operation ``n``."""
    pid = os.fork()
    if pid == 0:  # the child: no cleanup, no atexit, no flushing: a real death
        calls = 0

        def hook(op: str, path: str) -> None:
            nonlocal calls
            calls += 1
            if calls == n:
                os._exit(17)

        try:
            writer.fault_hook = hook
            m = pmm.load_map(src)
            _edit(m)
            m.save()
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_process_killed_at_every_operation(tmp_path: Path) -> None:
    total = _count_ops(tmp_path)
    for n in range(1, total + 1):
        base = tmp_path / f"kill{n}"
        src = _make(base)
        pmm.load_map(src).save()
        old = _state(src)
        ref = pmm.load_map(_make(base / "ref"))
        _edit(ref)
        new = dict(old)
        new.update(ref.file_bytes())
        assert _save_and_die_at(src, n) == 17, f"op {n}: the child was not killed"
        _check(src, old, new, f"killed at op {n}/{total}")


def test_recover_repairs_the_old_writers_crash(tmp_path: Path) -> None:
    """The crash of issue 7: only .previous and a .saving-* folder left, no map."""
    src = _make(tmp_path)
    old = _state(src)
    src.rename(tmp_path / ".sv.previous")
    (tmp_path / ".sv.saving-1234").mkdir()
    (tmp_path / ".sv.saving-1234" / "half.txt").write_text("x")
    assert recover(src)
    assert _state(src) == old and sorted(os.listdir(tmp_path)) == ["sv"]
    assert not recover(src)
    assert writer.recover_all(tmp_path) == []
