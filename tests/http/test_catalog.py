"""The catalog: every visible map with its owner, cached by data version."""

from __future__ import annotations

import shutil
from pathlib import Path

import dash
from flask.testing import FlaskClient

from app.services import catalog


def test_list_maps(client: FlaskClient) -> None:
    r = client.get("/api/v1/maps")
    assert r.status_code == 200
    maps = r.get_json()["maps"]
    assert [m["id"] for m in maps] == ["public/noimg", "public/small", "public/wide"]
    small = maps[1]
    assert small["owner"] == "public" and small["name"] == "small"
    assert small["num_sessions"] == 3 and len(small["dates"]) == 3 and len(small["conditions"]) == 3
    assert small["map_condition"] == "mc1"
    assert small["num_channels"] == 2 and small["num_map_segments"] == 2
    assert 0 < small["num_spines"] < small["num_objects"] and small["num_runs"] > 0
    assert small["has_images"] is True and small["error"] is None
    assert small["thumbnail_url"] == f"/api/v1/maps/public/small/thumbnail?v={small['version']}"
    assert client.get(small["thumbnail_url"]).status_code == 200
    assert maps[0]["has_images"] is False and maps[0]["thumbnail_url"] is None


def test_catalog_skips_backups_hidden_folders_and_other_owners(
    client: FlaskClient, data_dir: Path
) -> None:
    pub = data_dir / "public"
    shutil.copytree(pub / "noimg", pub / ".noimg.previous")  # a save's backup
    shutil.copytree(pub / "noimg", data_dir / ".cache" / "noimg")
    (pub / "notamap").mkdir()  # no header
    (pub / "stray.txt").write_text("x")
    (data_dir / "alice").mkdir()
    shutil.copytree(pub / "noimg", data_dir / "alice" / "noimg")  # login comes later
    ids = [m["id"] for m in client.get("/api/v1/maps").get_json()["maps"]]
    assert ids == ["public/noimg", "public/small", "public/wide"]
    assert client.get("/api/v1/maps?owner=alice").get_json()["maps"] == []
    assert len(client.get("/api/v1/maps?owner=public").get_json()["maps"]) == 3


def test_broken_map_is_listed_with_its_error(client: FlaskClient, data_dir: Path) -> None:
    (data_dir / "public" / "small" / "small_objMap.txt").write_text("nonsense\n")
    maps = {m["id"]: m for m in client.get("/api/v1/maps").get_json()["maps"]}
    assert maps["public/small"]["error"].startswith("public/small/small_objMap.txt")
    assert maps["public/small"]["num_objects"] is None
    assert maps["public/wide"]["error"] is None


def test_catalog_is_cached_by_data_version(app: dash.Dash, data_dir: Path) -> None:
    with app.server.test_request_context():
        first = catalog.list_maps()
        again = catalog.list_maps()
        assert first == again
        shutil.rmtree(data_dir / "public" / "wide")
        assert [m["id"] for m in catalog.list_maps()] == ["public/noimg", "public/small"]
    c = app.server.test_client().get("/api/v1/status").get_json()["counters"]
    assert c["catalog_entry_build"] == 3  # each entry built once
    assert "map_parse" not in c  # from the header and first lines: no map is parsed


def test_plain_functions_for_callbacks(app: dash.Dash) -> None:
    from app.services import images, maps

    with app.server.test_request_context():
        ref = maps.map_ref("public", "small")
        info = maps.map_info(ref)
        assert catalog.map_summary(ref)["version"] == info["version"]
        P = images.ImageParams
        url = images.tile_url_template(ref, 1, P(plane=2, channel=1, v=info["version"]))
        assert url == (
            "/api/v1/maps/public/small/sessions/1/tiles/{z}/{x}/{y}.png"
            f"?channel=1&plane=2&v={info['version']}"
        )
        assert images.plane_url(ref, 0, 3, P(projection="max", v="abc")) == (
            "/api/v1/maps/public/small/sessions/0/planes/3?projection=max&v=abc"
        )
        assert images.crop_url(ref, 0, P(row=10.6, col=3.2, z=1, half=8)) == (
            "/api/v1/maps/public/small/sessions/0/crop?row=11&col=3&z=1&half=8"
        )
        job = images.plane_job(ref, 0, 1)
        assert images.image_bytes(job).startswith(b"\x89PNG")


def test_cheap_entries_equal_the_parsed_maps(app: dash.Dash) -> None:
    """Each entry (header and first lines only) says what the fully parsed map says."""
    from app.services import maps

    with app.server.test_request_context():
        for entry in catalog.list_maps():
            ref = maps.MapRef.parse(entry["id"])
            m = maps.get_map(ref)
            info = maps.map_info(ref)
            spines = sum(int(m.roi_type_mask(j, "spineROI").sum()) for j in range(m.num_sessions))
            assert entry["num_spines"] == spines
            for k in ("num_sessions", "num_objects", "num_runs", "num_map_segments",
                      "num_channels", "has_images", "map_condition"):  # fmt: skip
                assert entry[k] == info[k], k
            assert entry["dates"] == [s["date"] for s in info["sessions"]]
            assert entry["conditions"] == [s["condition"] for s in info["sessions"]]
