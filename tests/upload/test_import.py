"""Imports are validated before they are visible, atomic, versioned; the drop folder; download."""

from __future__ import annotations

import io
import os
import shutil
import threading
import zipfile
from pathlib import Path

import pytest

import app.services.uploads as uploads
from app.config import Settings
from app.services.uploads import (
    check_map_name,
    import_folder,
    import_incoming,
    import_zip,
    stream_map_zip,
)
from pymapmanager import load_map
from pymapmanager.errors import (
    InvalidMapError,
    InvalidParameterError,
    MapExistsError,
    UnsafeArchiveError,
)

from .support import make_map, tree, zip_folder


def _zip(tmp_path: Path, folder: Path, name: str = "upload.zip", **kw: bool) -> Path:
    z = tmp_path / name
    zip_folder(folder, z, **kw)
    return z


def test_zip_of_a_folder_becomes_a_map(src_map: Path, data_dir: Path, settings: Settings, tmp_path: Path) -> None:
    res = import_zip(_zip(tmp_path, src_map), data_dir, "alice", settings)
    assert res.id == "alice/m1" and res.replaced_version is None
    dest = data_dir / "alice" / "m1"
    assert tree(dest) == tree(src_map)
    assert load_map(dest).num_sessions == 2
    for f in src_map.rglob("*"):
        if f.is_file():
            assert (dest / f.relative_to(src_map)).read_bytes() == f.read_bytes()


def test_zip_with_the_files_at_its_root(src_map: Path, data_dir: Path, settings: Settings, tmp_path: Path) -> None:
    res = import_zip(_zip(tmp_path, src_map, root=False), data_dir, "alice", settings)
    assert res.id == "alice/m1"
    assert load_map(data_dir / "alice" / "m1").num_sessions == 2


def test_zip_that_is_not_a_map_says_what_is_missing(data_dir: Path, settings: Settings, tmp_path: Path) -> None:
    z = tmp_path / "notes.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("notes/readme.txt", "hello")
        zf.writestr("notes/data.csv", "1,2")
    with pytest.raises(InvalidMapError) as ei:
        import_zip(z, data_dir, "alice", settings)
    assert "notes/notes.txt" in str(ei.value)
    assert ei.value.problems[0]["problem"] == "the map header file is missing"


def test_invalid_map_lists_problems_file_by_file(src_map: Path, data_dir: Path, settings: Settings, tmp_path: Path) -> None:
    db2 = next((src_map / "stackdb").glob("*_db2.txt"))
    lines = db2.read_bytes().split(b"\r")
    cells = lines[2].split(b",")
    cells[3] = b"not-a-number"  # x of the first object
    lines[2] = b",".join(cells)
    db2.write_bytes(b"\r".join(lines))
    (src_map / "m1_objMap.txt").unlink()
    with pytest.raises(InvalidMapError) as ei:
        import_zip(_zip(tmp_path, src_map), data_dir, "alice", settings)
    assert ei.value.problems == [
        {"file": "m1_objMap.txt", "line": None, "problem": "file is missing"}
    ]
    assert not (data_dir / "alice" / "m1").exists()
    # with the objMap back, the bad number is reported by validate, naming file and line
    good = make_map(tmp_path / "again", "m1")
    (src_map / "m1_objMap.txt").write_bytes((good / "m1_objMap.txt").read_bytes())
    with pytest.raises(InvalidMapError) as ei:
        import_zip(_zip(tmp_path, src_map, name="b.zip"), data_dir, "alice", settings)
    files = {p["file"] for p in ei.value.problems}
    assert files == {f"stackdb/{db2.name}"}
    assert all(p["line"] == 3 for p in ei.value.problems)
    assert "is not a valid map" in str(ei.value)
    assert [p.name for p in (data_dir / "alice").iterdir() if not p.name.startswith(".")] == []


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", ".hidden", "a/b", "a\\b", "a\x00b", "tab\tname", "x" * 101, "incoming",
     "public", "Public", ".trash", "trash", "CON", "nul", "com1", "old.previous", "m.zip", "-dash",
     "sp ace", "é"],
)  # fmt: skip
def test_unsafe_or_reserved_map_names(name: str) -> None:
    with pytest.raises(InvalidParameterError):
        check_map_name(name)


@pytest.mark.parametrize("name", ["m1", "F27A_1", "a.b-c_d", "x" * 100])
def test_good_map_names(name: str) -> None:
    assert check_map_name(name) == name


def test_reserved_name_inside_a_zip_is_refused(src_map: Path, data_dir: Path, settings: Settings, tmp_path: Path) -> None:
    z = tmp_path / "incoming.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("incoming/incoming.txt", "x")
        zf.writestr("incoming/incoming_objMap.txt", "x")
    with pytest.raises(InvalidParameterError, match="reserved"):
        import_zip(z, data_dir, "alice", settings)
    assert not (data_dir / "alice" / "incoming").exists()


def test_existing_name_is_409_and_overwrite_keeps_the_old_version(
    src_map: Path, data_dir: Path, settings: Settings, tmp_path: Path
) -> None:
    z = _zip(tmp_path, src_map)
    import_zip(z, data_dir, "alice", settings)
    with pytest.raises(MapExistsError) as ei:
        import_zip(z, data_dir, "alice", settings)
    assert ei.value.status == 409
    header = src_map / "m1.txt"
    header.write_bytes(header.read_bytes())  # same content, new zip
    (src_map / "notes.txt").write_text("second version")
    res = import_zip(_zip(tmp_path, src_map, name="v2.zip"), data_dir, "alice", settings, overwrite=True)
    assert res.replaced_version is not None
    assert (data_dir / "alice" / "m1" / "notes.txt").read_text() == "second version"
    old = data_dir / "alice" / ".versions" / "m1" / res.replaced_version
    assert (old / "m1.txt").is_file() and not (old / "notes.txt").exists()


def test_no_half_imported_map_is_ever_visible(
    src_map: Path, data_dir: Path, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    real = uploads.validate_folder

    def spy(folder: Path) -> list[dict[str, object]]:
        # while the map is being validated, it is not in the owner's folder yet
        seen.append((data_dir / "alice" / "m1").exists())
        assert ".staging" in folder.parts
        return real(folder)

    monkeypatch.setattr(uploads, "validate_folder", spy)
    import_zip(_zip(tmp_path, src_map), data_dir, "alice", settings)
    assert seen == [False]
    assert list((data_dir / "alice" / ".staging").iterdir()) == []


def test_two_imports_of_one_name_at_once(src_map: Path, data_dir: Path, settings: Settings, tmp_path: Path) -> None:
    zips = [_zip(tmp_path, src_map, name=f"{i}.zip") for i in range(2)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def run(z: Path) -> None:
        barrier.wait()
        try:
            import_zip(z, data_dir, "alice", settings)
            outcomes.append("ok")
        except MapExistsError:
            outcomes.append("exists")

    threads = [threading.Thread(target=run, args=(z,)) for z in zips]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["exists", "ok"]
    assert tree(data_dir / "alice" / "m1") == tree(src_map)
    assert load_map(data_dir / "alice" / "m1").validate() == []


def test_folder_of_files_becomes_a_map(src_map: Path, data_dir: Path, tmp_path: Path) -> None:
    files = [(f"m1/{p.relative_to(src_map).as_posix()}", p) for p in src_map.rglob("*") if p.is_file()]
    res = import_folder(files, data_dir, "alice", move=False)
    assert res.id == "alice/m1" and res.files == len(files)
    with pytest.raises(UnsafeArchiveError, match="leaves the folder"):
        import_folder([("m1/../../x.txt", files[0][1])], data_dir, "alice", move=False)


def test_drop_folder(src_map: Path, data_dir: Path, settings: Settings, tmp_path: Path) -> None:
    incoming = data_dir / "alice" / "incoming"
    incoming.mkdir(parents=True)
    shutil.copytree(src_map, incoming / "m1")
    bad = incoming / "broken"
    bad.mkdir()
    (bad / "broken.txt").write_text("\t\nhsStack\tbroken_s0_ch1\n")
    z = incoming / "m2.zip"
    m2 = tmp_path / "m2"
    shutil.copytree(src_map, m2)
    for p in list(m2.rglob("*m1*")):
        p.rename(p.with_name(p.name.replace("m1", "m2")))
    header = m2 / "m2.txt"
    header.write_text(header.read_text().replace("m1_", "m2_"))
    zip_folder(m2, z)
    results = {r["entry"]: r for r in import_incoming(data_dir, "alice", settings)}
    assert results["m1"]["status"] == "imported" and results["m1"]["map"] == "alice/m1"
    assert results["m2.zip"]["status"] == "imported", results["m2.zip"]
    assert results["broken"]["status"] == "invalid"
    # the header lacks required rows (and the objMap is missing): the first problem names one
    assert results["broken"]["problems"][0]["file"] in ("broken.txt", "broken_objMap.txt")
    assert (data_dir / "alice" / "m1" / "m1.txt").is_file() and not (incoming / "m1").exists()
    assert not z.exists()
    # left in place with its problems named (the header's missing rows come first)
    assert bad.is_dir() and "broken.txt: the header has no" in (incoming / "broken.problems.txt").read_text()
    # a copy still under way is left for later
    shutil.copytree(src_map, incoming / "m3src")
    slow = settings.with_overrides(incoming_quiet_seconds=3600)
    again = {r["entry"]: r for r in import_incoming(data_dir, "alice", slow)}
    assert again["m3src"]["status"] == "busy"
    # a name that exists is not overwritten from the drop folder
    shutil.copytree(src_map, incoming / "m1")
    again = {r["entry"]: r for r in import_incoming(data_dir, "alice", settings)}
    assert again["m1"]["status"] == "exists" and (incoming / "m1" / "m1.txt").is_file()


def test_drop_folder_refuses_links(src_map: Path, data_dir: Path, settings: Settings, tmp_path: Path) -> None:
    incoming = data_dir / "alice" / "incoming"
    incoming.mkdir(parents=True)
    shutil.copytree(src_map, incoming / "m1")
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    os.symlink(secret, incoming / "m1" / "stackdb" / "link.txt")
    (r,) = import_incoming(data_dir, "alice", settings)
    assert r["status"] == "invalid" and "link.txt" in r["message"]
    assert not (data_dir / "alice" / "m1").exists()


def test_download_is_a_stream_of_the_map(src_map: Path, tmp_path: Path) -> None:
    parts = list(stream_map_zip(src_map, "m1", chunk=4096))
    assert len(parts) > 3  # produced piece by piece
    largest_file = max(p.stat().st_size for p in src_map.rglob("*") if p.is_file())
    assert max(len(p) for p in parts) < largest_file  # never a whole file at once
    with zipfile.ZipFile(io.BytesIO(b"".join(parts))) as zf:
        assert zf.testzip() is None
        names = set(zf.namelist())
        assert names == {f"m1/{p}" for p in tree(src_map) if (src_map / p).is_file()}
        for n in names:
            assert zf.read(n) == (src_map / n.removeprefix("m1/")).read_bytes()
