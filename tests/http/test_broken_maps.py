"""Hand-made broken maps (issue 7's findings, each by name) through every API route and the
catalog page: no 5xx, 422 for the broken map only, no server path or control character in
any body, every other map unaffected."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dash
import pytest
from flask.testing import FlaskClient

from app import ids
from app.config import Settings
from app.factory import create_app
from tests.callbacks.conftest import DashCaller


def _header(folder: Path) -> Path:
    return folder / f"{folder.name}.txt"


def _set_header_cell(folder: Path, row: str, col: int, value: str) -> None:
    p = _header(folder)
    lines = p.read_bytes().split(b"\n")
    for i, line in enumerate(lines):
        cells = line.split(b"\t")
        if cells[0] == row.encode():
            cells[col + 1] = value.encode("latin-1")
            lines[i] = b"\t".join(cells)
            break
    else:  # pragma: no cover - the generator writes every row used here
        raise AssertionError(f"no header row {row}")
    p.write_bytes(b"\n".join(lines))


def _db2(folder: Path, session: int = 0) -> Path:
    return folder / "stackdb" / f"{folder.name}_s{session}_db2.txt"


def _tif(folder: Path, session: int = 0, channel: int = 1) -> Path:
    return folder / "raw" / f"{folder.name}_s{session}_ch{channel}.tif"


def _replace_by_dir(p: Path) -> None:
    p.unlink()
    p.mkdir()


def _truncate(p: Path) -> None:
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


def _stackdb_loop(folder: Path) -> None:
    shutil.rmtree(folder / "stackdb")
    os.symlink("stackdb", folder / "stackdb")


def _stackdb_file(folder: Path) -> None:
    shutil.rmtree(folder / "stackdb")
    (folder / "stackdb").write_text("not a folder\n")


def _fifo(p: Path) -> None:
    p.unlink()
    os.mkfifo(p)


def _control_chars(p: Path) -> None:
    """A number on line 4 replaced by ``0x1F`` followed by escape and bell characters."""
    lines = p.read_bytes().split(b"\n")
    cells = lines[3].split(b"\t")
    cells[0] = b"0x1F\x1b[31m\x07"
    lines[3] = b"\t".join(cells)
    p.write_bytes(b"\n".join(lines))


def _symlink_out(folder: Path) -> None:
    db2 = _db2(folder, 1)
    outside = folder.parent.parent / "outside" / db2.name
    outside.parent.mkdir(exist_ok=True)
    shutil.move(db2, outside)
    os.symlink(outside, db2)


def _stackdb_out(folder: Path) -> None:
    """The whole ``stackdb`` folder moved out of the map and linked back in."""
    outside = folder.parent.parent / "outside" / f"{folder.name}-stackdb"
    outside.parent.mkdir(exist_ok=True)
    shutil.move(folder / "stackdb", outside)
    os.symlink(outside, folder / "stackdb")


#: finding -> how to break a copy of the map "small" (folder named after the finding)
BREAKS: dict[str, Callable[[Path], None]] = {
    "header_is_directory": lambda f: _replace_by_dir(_header(f)),
    "db2_is_directory": lambda f: _replace_by_dir(_db2(f)),
    "nul_in_stack_name": lambda f: _set_header_cell(f, "hsStack", 1, "small\x00_s1_ch1"),
    "num_channels_inf": lambda f: _set_header_cell(f, "numChannels", 0, "inf"),
    "num_channels_1e400": lambda f: _set_header_cell(f, "numChannels", 0, "1e400"),
    "default_channel_inf": lambda f: _set_header_cell(f, "defaultChannel", 0, "inf"),
    "num_channels_huge": lambda f: _set_header_cell(f, "numChannels", 0, "1000000"),
    "fifo_as_table": lambda f: _fifo(f / "stackdb" / f"{f.name}_s1_Int1.txt"),
    "stackdb_symlink_loop": _stackdb_loop,
    "stackdb_plain_file": _stackdb_file,
    "absolute_stack_name": lambda f: _set_header_cell(f, "hsStack", 1, "/etc/passwd_ch1"),
    "control_chars_in_table": lambda f: _control_chars(f / f"{f.name}_segMap.txt"),
    "symlink_leaving_the_folder": _symlink_out,
    "stackdb_folder_linked_outside": _stackdb_out,
}

#: findings that break only the images of session 0 (tables stay readable)
IMAGE_BREAKS: dict[str, Callable[[Path], None]] = {
    "truncated_tiff": lambda f: _truncate(_tif(f)),
}

GOOD = ("small", "noimg")


def _rename(folder: Path) -> None:
    """A map folder renamed without its header: ``renamed/`` holding ``small.txt``..."""
    folder.rename(folder.parent / "renamed")


@pytest.fixture(scope="module")
def broken_dir(template_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DATA_DIR with the good maps and one broken copy of ``small`` per finding."""
    root = tmp_path_factory.mktemp("broken")
    pub = root / "public"
    for name in GOOD:
        shutil.copytree(template_dir / "public" / name, pub / name)
    for name, brk in {**BREAKS, **IMAGE_BREAKS}.items():
        # the copy gets the finding's name: every file renamed after it
        src = template_dir / "public" / "small"
        dst = pub / name
        for p in sorted(src.rglob("*")):
            rel = p.relative_to(src).as_posix().replace("small", name)
            target = dst / rel
            if p.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(p.read_bytes().replace(b"small", name.encode()))
        brk(dst)
    # a folder renamed without its header
    shutil.copytree(template_dir / "public" / "noimg", pub / "renamed")
    # a map folder of another owner linked into public/
    shutil.copytree(template_dir / "public" / "noimg", root / "alice" / "secret")
    os.symlink(root / "alice" / "secret", pub / "linked_from_alice")
    return root


@pytest.fixture(scope="module")
def broken_app(broken_dir: Path) -> Iterator[dash.Dash]:
    yield create_app(Settings(data_dir=broken_dir, secret_key="t", create_demo=False, testing=True))


@pytest.fixture
def bclient(broken_app: dash.Dash) -> FlaskClient:
    return broken_app.server.test_client()


def routes(name: str) -> list[str]:
    """Every API route of one map (session 0, plane 4: past the middle of a stack)."""
    m = f"/api/v1/maps/public/{name}"
    s = m + "/sessions/0"
    return [
        m, m + "/statistics", m + "/values?stat=pDist", m + "/thumbnail",
        s + "/annotations", s + "/annotations?roi=all", s + "/tracing",
        s + "/planes/4", s + "/planes/0?projection=max", s + "/planes/4?projection=sliding&k=1",
        s + "/planes/4/contrast", s + "/tiles/0/0/0.png?plane=4", s + "/tiles/0/0/0.png?projection=max",
        s + "/crop?row=20&col=20&z=4", s + "/crop?row=20&col=20&z=4&k=1&lo=0&hi=100",
    ]  # fmt: skip


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def assert_clean(body: bytes, data_dir: Path) -> None:
    """No server path, no raw control character (JSON escapes them as \\u00XX: checked too)."""
    text = body.decode("utf-8", errors="replace")
    for base in {str(data_dir), os.path.realpath(data_dir), str(Path(data_dir).parent)}:
        assert base not in text, text[:500]
    assert not _CONTROL.search(text), text[:500]
    assert not re.search(r"\\u00[01][0-9a-fA-F]|\\u007[fF]", text), text[:500]
    assert not re.search(r"(^|[\s'\"(=])/(etc|tmp|root|home|usr|work|var)/", text), text[:500]
    assert "Traceback" not in text


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_every_route_of_a_broken_map_is_422(bclient: FlaskClient, broken_dir: Path, name: str) -> None:
    for url in routes(name):
        r = bclient.get(url)
        assert r.status_code == 422, (url, r.status_code, r.get_data(as_text=True)[:300])
        body = r.get_json()
        assert body["error"] == "MapFormatError" and body["message"].startswith(f"public/{name}")
        assert_clean(r.get_data(), broken_dir)


def test_truncated_tiff_is_422_for_images_past_the_cut(bclient: FlaskClient, broken_dir: Path) -> None:
    name = "truncated_tiff"
    image_routes = [u for u in routes(name) if re.search(r"/(planes|tiles|crop|thumbnail)", u)]
    for url in routes(name):
        r = bclient.get(url)
        assert_clean(r.get_data(), broken_dir)
        if url in image_routes:
            assert r.status_code == 422, (url, r.status_code, r.get_data(as_text=True)[:300])
            assert r.get_json()["message"].startswith(f"public/{name}/raw/{name}_s0_ch1.tif")
        else:
            assert r.status_code == 200, url
    # the planes before the cut and the other sessions still show
    assert bclient.get(f"/api/v1/maps/public/{name}/sessions/0/planes/0").status_code == 200
    assert bclient.get(f"/api/v1/maps/public/{name}/sessions/1/planes/4").status_code == 200


@pytest.mark.parametrize("name", ["renamed", "linked_from_alice"])
def test_renamed_and_linked_folders_are_422(bclient: FlaskClient, broken_dir: Path, name: str) -> None:
    for url in routes(name):
        r = bclient.get(url)
        assert r.status_code == 422, (url, r.status_code)
        assert_clean(r.get_data(), broken_dir)


def test_catalog_lists_every_broken_map_with_its_error(bclient: FlaskClient, broken_dir: Path) -> None:
    r = bclient.get("/api/v1/maps")
    assert r.status_code == 200
    assert_clean(r.get_data(), broken_dir)
    maps = {m["id"]: m for m in r.get_json()["maps"]}
    for name in GOOD:
        assert maps[f"public/{name}"]["error"] is None and maps[f"public/{name}"]["num_runs"] > 0
    for name in BREAKS:
        err = maps[f"public/{name}"]["error"]
        assert err and err.startswith(f"public/{name}"), (name, err)
    renamed = maps["public/renamed"]["error"]
    assert "rename the folder to 'noimg'" in renamed and "noimg.txt" in renamed
    assert "symbolic link" in maps["public/linked_from_alice"]["error"]
    assert maps["public/truncated_tiff"]["error"] is None  # its tables are fine
    # the good maps still answer
    for name in GOOD:
        assert bclient.get(f"/api/v1/maps/public/{name}").status_code == 200
        assert bclient.get(f"/api/v1/maps/public/{name}/sessions/0/planes/0").status_code in (200, 404)


def test_catalog_page_lists_broken_maps(broken_app: dash.Dash, broken_dir: Path) -> None:
    client = broken_app.server.test_client()
    assert client.get("/").status_code == 200
    call = DashCaller(client)
    out = ((ids.CATALOG_LIST, "children"), (ids.CATALOG_COUNT, "children"), (ids.CATALOG_CONDITION, "options"),
           (ids.CATALOG_MAP_CONDITION, "options"))  # fmt: skip
    r = call.raw(list(out), [(ids.CATALOG_TEXT, "value", None), (ids.CATALOG_CONDITION, "value", None),
                             (ids.CATALOG_MAP_CONDITION, "value", None), (ids.LOCATION, "pathname", "/")])  # fmt: skip
    assert r.status_code == 200
    assert_clean(r.get_data(), broken_dir)
    text = r.get_data(as_text=True)
    n = len(BREAKS) + len(IMAGE_BREAKS) + len(GOOD) + 2
    assert f"{n} maps" in text
    assert "rename the folder to" in text


def test_other_maps_answer_while_one_is_broken(bclient: FlaskClient) -> None:
    """Interleaved: a broken map's 422 never leaks into another map's answers."""
    for name in BREAKS:
        assert bclient.get(f"/api/v1/maps/public/{name}/values?stat=pDist").status_code == 422
        r = bclient.get("/api/v1/maps/public/small/values?stat=pDist")
        assert r.status_code == 200 and r.get_json()["map"] == "public/small"


def _tree_of(body: Any) -> str:  # pragma: no cover - debugging aid
    return str(body)[:2000]
