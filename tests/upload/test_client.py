"""pymapmanager.client and ``mapmanager post`` / ``pull`` against a real gunicorn."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from pymapmanager.cli import main
from pymapmanager.client import ApiError, Client, zip_map_folder

from .conftest import LiveServer
from .support import make_map, tree


def _client(live: LiveServer, who: str | None, tmp_path: Path, **kw: object) -> Client:
    token = live.tokens[who] if who else None
    return Client(live.url, token, state_file=tmp_path / "state.json", **kw)  # type: ignore[arg-type]


def test_reading(live: LiveServer, tmp_path: Path) -> None:
    with _client(live, "alice", tmp_path) as c:
        ids = [m["id"] for m in c.list_maps()]
        assert "public/pub" in ids
        info = c.info("public", "pub")
        assert info["num_sessions"] == 2
        assert "pDist" in c.statistics("public", "pub")
        v = c.values("public", "pub", "pDist")
        assert len(v["values"]) == len(v["runs"]) > 0 and len(v["values"][0]) == 2
        ann = c.annotations("public", "pub", 1, roi="all")
        assert ann["session"] == 1 and ann["objects"]
        with pytest.raises(ApiError) as ei:
            c.info("public", "nothere")
        assert ei.value.status == 404


def test_upload_folder_with_progress_then_download(live: LiveServer, tmp_path: Path) -> None:
    src = make_map(tmp_path / "src", "cli_a")
    seen: list[tuple[int, int]] = []
    with _client(live, "alice", tmp_path) as c:
        res = c.upload(src, chunk_size=4096, progress=lambda d, t: seen.append((d, t)))
        assert res["id"] == "alice/cli_a"
        assert seen[-1][0] == seen[-1][1] and len(seen) > 3
        assert [d for d, _ in seen] == sorted(d for d, _ in seen)
        with pytest.raises(ApiError) as ei:
            c.upload(src)
        assert ei.value.status == 409
        got = c.download("alice", "cli_a", tmp_path / "down")
    assert tree(got) == tree(src)
    for p in src.rglob("*"):
        if p.is_file():
            assert (got / p.relative_to(src)).read_bytes() == p.read_bytes()
    with _client(live, "bob", tmp_path) as c, pytest.raises(ApiError) as ei:
        c.download("alice", "cli_a", tmp_path / "bob")
    assert ei.value.status == 404


def test_upload_resumes_after_a_broken_connection(live: LiveServer, tmp_path: Path) -> None:
    src = make_map(tmp_path / "src", "cli_resume")
    zpath = zip_map_folder(src, tmp_path / "cli_resume.zip")
    size = zpath.stat().st_size

    class Breaks(httpx.HTTPTransport):
        """Lets two chunks through, then the network is gone."""

        patches = 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "PATCH":
                Breaks.patches += 1
                if Breaks.patches > 2:
                    raise httpx.ConnectError("network down", request=request)
            return super().handle_request(request)

    with _client(live, "alice", tmp_path, transport=Breaks(), retries=1) as c, pytest.raises(ApiError, match="interrupted"):
        c.upload(zpath, chunk_size=2048)
    # a later run (another process, after a restart...) goes on from the server's offset
    seen: list[int] = []
    with _client(live, "alice", tmp_path) as c:
        res = c.upload(zpath, chunk_size=2048, progress=lambda d, t: seen.append(d))
    assert res["id"] == "alice/cli_resume"
    assert seen[0] == 3 * 2048 < size  # the two chunks sent before the break were not sent again
    assert (live.data_dir / "alice" / "cli_resume" / "cli_resume.txt").is_file()


def test_invalid_map_reports_problems(live: LiveServer, tmp_path: Path) -> None:
    src = make_map(tmp_path / "src", "cli_bad")
    (src / "cli_bad_objMap.txt").unlink()
    with _client(live, "alice", tmp_path) as c, pytest.raises(ApiError) as ei:
        c.upload(src)
    assert ei.value.status == 400
    assert ei.value.problems == [{"file": "cli_bad_objMap.txt", "line": None, "problem": "file is missing"}]


def test_cli_post_and_pull(live: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    src = make_map(tmp_path / "src", "cli_b")
    token = live.tokens["alice"]
    assert main(["post", str(src), "--server", live.url, "--token", token]) == 0
    assert "posted alice/cli_b" in capsys.readouterr().out
    z = tmp_path / "cli_b.zip"
    zip_map_folder(src, z)
    assert main(["post", str(z), "--server", live.url, "--token", token]) == 1
    assert "409" in capsys.readouterr().err
    assert main(["post", str(z), "--server", live.url, "--token", token, "--overwrite"]) == 0
    assert "kept as version" in capsys.readouterr().out
    dest = tmp_path / "pulled"
    assert main(["pull", "alice/cli_b", str(dest), "--server", live.url, "--token", token]) == 0
    assert tree(dest / "cli_b") == tree(src)
    assert main(["pull", "alice/cli_b", str(dest), "--server", live.url, "--token", token]) == 1  # exists
    assert main(["pull", "nonsense", str(dest), "--server", live.url]) == 1
    # the installed command (entry point): an invalid map says why, file by file
    bad = make_map(tmp_path / "src2", "cli_c")
    db2 = next((bad / "stackdb").glob("*_db2.txt"))
    lines = db2.read_bytes().split(b"\r")
    cells = lines[2].split(b",")
    cells[3] = b"oops"
    lines[2] = b",".join(cells)
    db2.write_bytes(b"\r".join(lines))
    exe = Path(sys.executable).with_name("mapmanager")
    r = subprocess.run(
        [str(exe), "post", str(bad), "--server", live.url],
        env={"MAPMANAGER_TOKEN": token, "XDG_STATE_HOME": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 1
    assert f"stackdb/{db2.name}:3" in r.stderr and "400" in r.stderr


def test_download_is_streamed_by_gunicorn(live: LiveServer, tmp_path: Path) -> None:
    with httpx.stream("GET", f"{live.url}/api/v1/maps/public/pub/download") as r:
        assert r.status_code == 200
        assert r.headers.get("transfer-encoding") == "chunked" and "content-length" not in r.headers
        data = b"".join(r.iter_bytes())
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None and "pub/pub.txt" in zf.namelist()


def test_drop_folder_is_imported_at_start(tmp_path: Path) -> None:
    """A map copied into incoming/ while the server is down is there once it is up."""
    from .conftest import gunicorn_server

    data = tmp_path / "data"
    make_map(data / "alice" / "incoming", "dropped")
    (data / "alice" / "incoming" / "junk").mkdir()
    with gunicorn_server(data, workers=2) as live:
        assert (data / "alice" / "dropped" / "dropped.txt").is_file()
        assert not (data / "alice" / "incoming" / "dropped").exists()
        assert "junk.problems.txt" in {p.name for p in (data / "alice" / "incoming").iterdir()}
        with _client(live, "alice", tmp_path) as c:
            assert c.info("alice", "dropped")["num_sessions"] == 2
