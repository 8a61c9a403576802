"""``mapmanager edit PATH --script FILE [--dry-run] [--user NAME]``."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

import pymapmanager as pmm
from pymapmanager.cli import main
from pymapmanager.edits import check_invariants
from pymapmanager.io.writer import backup_path

from .test_commands import linked_spine, spine_rows


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(args, out)
    return code, out.getvalue(), capsys.readouterr().err


def write_script(path: Path, cmds: Sequence[object], extra: str = "") -> Path:
    path.write_text("\n".join(json.dumps(c) for c in cmds) + "\n" + extra, encoding="utf-8")
    return path


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def script_cmds(demo_copy: Path) -> list[dict[str, object]]:
    m = pmm.load_map(demo_copy)
    row, _nx = linked_spine(m, 1)
    sp = spine_rows(m, 0)
    return [
        {"op": "disconnect", "session": 0, "row": linked_spine(m, 0)[0]},
        {"op": "add_spine", "session": 2, "segment": 0, "x_um": 30.0, "y_um": 14.0, "z": 15},
        {"op": "move", "session": 2, "row": spine_rows(m, 2)[1], "x_um": 21.0, "y_um": 14.0, "z": 16},
        {"op": "delete", "session": 1, "row": row},
        {"op": "set_bad", "session": 0, "row": sp[0], "bad": True},
        {"op": "set_note", "session": 0, "row": sp[0], "note": "merged with neighbour"},
        {"op": "set_user_type", "session": 0, "row": sp[0], "user_type": 2},
        {"op": "undo"},
        {"op": "redo"},
    ]


def test_edit_applies_prints_and_saves_with_backup(
    demo_copy: Path, script_cmds: list[dict[str, object]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = folder_bytes(demo_copy)
    script = write_script(tmp_path / "edits.jsonl", script_cmds, extra="\n\n")  # blank lines are skipped
    code, out, err = run(["edit", str(demo_copy), "--script", str(script), "--user", "ana"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == len(script_cmds) + 1
    assert lines[1].startswith("line 2: session 2: added spine row ")
    assert lines[3].startswith("line 4: session 1: deleted row ")
    assert lines[7].startswith("line 8: undid: ") and lines[8].startswith("line 9: redid: ")
    assert lines[-1].startswith("saved demo to ") and "backup" in lines[-1]
    assert err == ""
    m = pmm.load_map(demo_copy)
    assert check_invariants(m) == [] and m.validate() == []
    n = len(m.db2[2]) - 1
    assert m.db2[2].data["userName"][n] == "ana"
    noted = script_cmds[5]["row"]
    assert isinstance(noted, int) and m.db2[0].data["note"][noted] == "merged with neighbour"
    assert folder_bytes(backup_path(demo_copy)) == before  # the previous version, whole


def test_dry_run_saves_nothing(
    demo_copy: Path, script_cmds: list[dict[str, object]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = folder_bytes(demo_copy)
    script = write_script(tmp_path / "edits.jsonl", script_cmds)
    code, out, _ = run(["edit", str(demo_copy), "--script", str(script), "--dry-run"], capsys)
    assert code == 0
    assert out.splitlines()[-1] == f"dry run: {len(script_cmds)} command(s) applied, nothing saved"
    assert folder_bytes(demo_copy) == before
    assert not backup_path(demo_copy).exists()


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ('{"op": "delete", "session": 9, "row": 1}', "delete refused: map demo has no session 9"),
        ('{"op": "delete", ', "not a JSON object"),
        ('[1, 2]', "command refused: a command must be a JSON object"),
        ('{"op": "fly"}', "fly refused: unknown op 'fly'"),
        ('{"op": "redo"}', "redo refused: nothing to redo"),
    ],
)
def test_an_invalid_line_stops_everything(
    demo_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str, words: str
) -> None:
    before = folder_bytes(demo_copy)
    script = tmp_path / "edits.jsonl"
    script.write_text(
        '{"op": "set_bad", "session": 0, "row": 30, "bad": true}\n\n' + bad + "\n"
        '{"op": "set_bad", "session": 0, "row": 31, "bad": true}\n',
        encoding="utf-8",
    )
    code, out, err = run(["edit", str(demo_copy), "--script", str(script)], capsys)
    assert code == 1
    assert err.startswith("mapmanager: error: line 3: ") and words in err and err.rstrip().endswith("nothing saved")
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert out.splitlines() == ["line 1: session 0: row 30 marked bad (was good)"]
    assert folder_bytes(demo_copy) == before and not backup_path(demo_copy).exists()


def test_missing_script_and_map(demo_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["edit", str(demo_copy), "--script", str(tmp_path / "none.jsonl")], capsys)
    assert code == 1 and err.startswith("mapmanager: error: ") and "none.jsonl" in err
    script = write_script(tmp_path / "s.jsonl", [{"op": "undo"}])
    code, _, err = run(["edit", str(tmp_path / "nomap"), "--script", str(script)], capsys)
    assert code == 1 and err.startswith("mapmanager: error: ")
    (tmp_path / "latin.jsonl").write_bytes(b'{"op": "set_note", "note": "\xe9"}\n')
    code, _, err = run(["edit", str(demo_copy), "--script", str(tmp_path / "latin.jsonl")], capsys)
    assert code == 1 and "not UTF-8" in err


def test_an_empty_script_saves_nothing(demo_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = folder_bytes(demo_copy)
    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    code, out, _ = run(["edit", str(demo_copy), "--script", str(tmp_path / "empty.jsonl")], capsys)
    assert code == 0 and out == "demo: no change to save (0 command(s))\n"
    assert folder_bytes(demo_copy) == before


def test_script_is_required(demo_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["edit", str(demo_copy)], io.StringIO())
    assert e.value.code == 2
    assert "--script" in capsys.readouterr().err


def test_the_installed_command_without_stdin(demo_copy: Path, tmp_path: Path) -> None:
    """As a process with no standard input (cron, CI): works, and a bad line is one message."""
    script = write_script(tmp_path / "s.jsonl", [{"op": "set_bad", "session": 1, "row": 30, "bad": True}])
    cmd = [sys.executable, "-m", "pymapmanager", "edit", str(demo_copy), "--script", str(script), "--user", "cron"]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0] == "line 1: session 1: row 30 marked bad (was good)"
    assert bool(pmm.load_map(demo_copy).bad_mask(1)[30])
    # the script from stdin ("-"), and stdin closed: a clean error, no traceback
    p = subprocess.run(
        [*cmd[:6], "-"], input='{"op": "set_note", "session": 1, "row": 30, "note": "piped"}\n',
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert pmm.load_map(demo_copy).db2[1].data["note"][30] == "piped"
    p = subprocess.run([*cmd[:6], "-"], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "no change to save" in p.stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"op": "move", "session": 1, "row": 30}\n', encoding="utf-8")
    p = subprocess.run([*cmd[:6], str(bad)], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert p.returncode == 1
    assert p.stderr == "mapmanager: error: line 1: move refused: the field 'x_um' is missing; nothing saved\n"


def test_add_spine_without_tracing_says_so(demo_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The command line prints why the new spine has no connection point."""
    stack = pmm.load_map(demo_copy).sessions[1].stack
    (demo_copy / "line" / f"{stack}_l.txt").unlink()
    script = write_script(tmp_path / "s.jsonl", [
        {"op": "add_spine", "session": 1, "segment": 0, "x_um": 30.0, "y_um": 14.0, "z": 15},
        {"op": "add_spine", "session": 0, "segment": 0, "x_um": 30.0, "y_um": 14.0, "z": 15},
    ])  # fmt: skip
    code, out, err = run(["edit", str(demo_copy), "--script", str(script), "--dry-run"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("line 1: session 1: added spine row ")
    assert lines[0].endswith("not attached: session 1 has no tracing (cPnt, sDist, pDist, cx, cy, cz left empty)")
    assert lines[1].startswith("line 2: session 0: added spine row ") and "attached to tracing point" in lines[1]
