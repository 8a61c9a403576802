"""``mapmanager user|group``: the entry-point plugin, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from pymapmanager.cli import main


def _run(argv: list[str], monkeypatch: pytest.MonkeyPatch, stdin: str = "") -> tuple[int, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    out = io.StringIO()
    return main(argv, out=out), out.getvalue()


def test_user_and_group_commands(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    if backend == "postgresql":
        monkeypatch.setenv("DATABASE_URL", request.getfixturevalue("pg_server").new_database())
    else:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    assert _run(["user", "add", "alice", "--password-stdin"], monkeypatch, "alice-password\n")[0] == 0
    assert _run(["user", "add", "root2", "--admin", "--password-stdin"], monkeypatch, "root2-password\n")[0] == 0
    assert _run(["user", "add", "alice", "--password-stdin"], monkeypatch, "alice-password\n")[0] == 1
    assert "exists already" in capsys.readouterr().err
    assert _run(["user", "add", "bob", "--password-stdin"], monkeypatch, "short\n")[0] == 1
    assert _run(["user", "add", "public", "--password-stdin"], monkeypatch, "long-enough-1\n")[0] == 1
    assert _run(["group", "add", "lab"], monkeypatch)[0] == 0
    code, out = _run(["group", "members", "lab", "--add", "alice"], monkeypatch)
    assert code == 0 and out.split() == ["alice"]
    code, out = _run(["user", "list"], monkeypatch)
    assert out.splitlines() == ["alice\tuser\tlab", "root2\tadmin\t"]
    code, token = _run(["user", "token", "alice"], monkeypatch)
    assert code == 0 and token.startswith("pmm_") and len(token.strip()) > 40
    assert _run(["user", "passwd", "alice", "--password-stdin"], monkeypatch, "another-password\n")[0] == 0
    assert _run(["group", "members", "lab", "--remove", "alice"], monkeypatch)[1] == ""
    assert _run(["group", "remove", "lab"], monkeypatch)[0] == 0
    assert _run(["user", "remove", "alice"], monkeypatch)[0] == 0
    assert _run(["user", "remove", "alice"], monkeypatch)[0] == 1
    if backend == "sqlite":
        assert (tmp_path / "app.db").is_file()


def test_library_cli_does_not_import_the_web_stack() -> None:
    import subprocess

    code = ("import sys; import pymapmanager.cli as c; c.build_parser(); "
            "bad = [m for m in ('flask', 'sqlalchemy', 'dash') if m in sys.modules]; print(bad)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
