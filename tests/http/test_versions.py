"""The data version covers what a map reads (symbolic links followed); parsed maps stay in
a per-worker store bounded in bytes; catalog entries match the fully parsed map."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dash
import numpy as np
import pytest
from flask.testing import FlaskClient

import pymapmanager as pmm
from app.config import Settings
from app.factory import create_app
from app.services import catalog, maps
from app.services.maps import MapRef, MapStore

MAP = "/api/v1/maps/public/noimg"


def _edit_pdist(db2: Path) -> None:
    """Change the first spine's pDist in a db2 table (a different number, same layout)."""
    lines = db2.read_bytes().split(b"\r")
    names = lines[1].split(b",")
    col, roi = names.index(b"pDist"), names.index(b"roiType")
    for i in range(2, len(lines)):
        cells = lines[i].split(b",")
        if len(cells) > col and cells[roi] == b"spineROI" and cells[col] not in (b"", b"NaN"):
            cells[col] = b"123.5"
            lines[i] = b",".join(cells)
            break
    db2.write_bytes(b"\r".join(lines))
    st = db2.stat()
    os.utime(db2, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


def test_edit_through_a_linked_folder_changes_the_version(client: FlaskClient, data_dir: Path) -> None:
    """Finding 5: the version did not see inside symbolic-linked folders (stale values)."""
    folder = data_dir / "public" / "noimg"
    (folder / "tables").mkdir()
    shutil.move(folder / "stackdb", folder / "tables" / "stackdb")
    os.symlink("tables/stackdb", folder / "stackdb")  # a link inside the map: allowed
    before = client.get(MAP + "/values?stat=pDist").get_json()
    v1 = client.get(MAP).get_json()["version"]
    _edit_pdist(folder / "tables" / "stackdb" / "noimg_s0_db2.txt")
    v2 = client.get(MAP).get_json()["version"]
    assert v2 != v1
    after = client.get(MAP + "/values?stat=pDist").get_json()
    assert after["values"] != before["values"]
    assert 123.5 in [v for row in after["values"] for v in row]


def test_a_linked_folder_leaving_the_map_is_refused(client: FlaskClient, data_dir: Path) -> None:
    folder = data_dir / "public" / "noimg"
    shutil.move(folder / "line", data_dir / "elsewhere")
    os.symlink(data_dir / "elsewhere", folder / "line")
    r = client.get(MAP + "/sessions/0/tracing")
    assert r.status_code == 422 and r.get_json()["message"] == (
        "public/noimg/line: is a symbolic link leading outside the map folder"
    )
    assert str(data_dir) not in r.get_data(as_text=True)
    assert client.get("/api/v1/maps/public/small").status_code == 200


def test_map_store_is_bounded_in_bytes() -> None:
    store = MapStore(1000)
    a, b, c = MapRef("o", "a"), MapRef("o", "b"), MapRef("o", "c")
    m = object()
    store.put(a, "v1", m, 400)  # type: ignore[arg-type]
    store.put(b, "v1", m, 400)  # type: ignore[arg-type]
    assert store.get(a, "v1") is m  # a is now the most recent
    store.put(c, "v1", m, 400)  # type: ignore[arg-type]
    assert store.get(b, "v1") is None and store.get(a, "v1") is m and store.nbytes == 800
    store.put(a, "v2", m, 300)  # type: ignore[arg-type]  # a new version replaces the old
    assert store.get(a, "v1") is None and len(store) == 2 and store.nbytes == 700
    store.put(b, "v1", m, 5000)  # type: ignore[arg-type]  # larger than the budget: not kept
    assert store.get(b, "v1") is None and store.nbytes <= 1000


def test_each_worker_parses_a_map_once_per_version(client: FlaskClient, data_dir: Path) -> None:
    for path in ("", "/values?stat=pDist", "/sessions/0/annotations", "/sessions/1/tracing"):
        assert client.get(MAP + path).status_code == 200
    counts = client.get("/api/v1/status").get_json()["counters"]
    assert counts["map_parse"] == 1
    _edit_pdist(data_dir / "public" / "noimg" / "stackdb" / "noimg_s0_db2.txt")
    assert client.get(MAP + "/values?stat=pDist").status_code == 200
    assert client.get("/api/v1/status").get_json()["counters"]["map_parse"] == 2


def test_catalog_entry_of_the_real_map(f27a1: Path, tmp_path: Path) -> None:
    """F27A_1's entry from its header and first lines equals what the parsed map says."""
    shutil.copytree(f27a1, tmp_path / "public" / "F27A_1")
    app: dash.Dash = create_app(Settings(data_dir=tmp_path, secret_key="t", create_demo=False, testing=True))
    with app.server.test_request_context():
        (entry,) = catalog.list_maps()
        m = pmm.load_map(f27a1)
        info = m.info()
        assert entry["error"] is None
        for k in ("num_sessions", "num_objects", "num_runs", "num_map_segments", "num_channels"):
            assert entry[k] == info[k], k
        spines = sum(int(m.roi_type_mask(j, "spineROI").sum()) for j in range(m.num_sessions))
        assert entry["num_spines"] == spines
        assert entry["dates"] == [s["date"] for s in info["sessions"]]
        got = maps.values(MapRef("public", "F27A_1"), "pDist")
        np.testing.assert_array_equal(
            np.array(got["values"], dtype=float), pmm.map_values(m, "pDist").values
        )


@pytest.mark.parametrize("name", ["small", "wide"])
def test_versions_differ_between_maps_and_are_stable(client: FlaskClient, name: str) -> None:
    a = client.get(f"/api/v1/maps/public/{name}").get_json()["version"]
    assert a == client.get(f"/api/v1/maps/public/{name}").get_json()["version"]
    assert a != client.get(MAP).get_json()["version"]
