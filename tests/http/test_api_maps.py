"""JSON endpoints of one map: info, statistics, values, annotations, tracing."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
from flask.testing import FlaskClient

from pymapmanager import load_map, map_values

MAP = "/api/v1/maps/public/small"


def test_map_info_has_the_cli_fields(client: FlaskClient, data_dir: Path) -> None:
    r = client.get(MAP)
    assert r.status_code == 200
    info = r.get_json()
    expected = load_map(data_dir / "public" / "small").info()
    for k, v in expected.items():
        if k == "path":
            assert info["path"] == "public/small"  # server paths stay private
        elif k == "sessions":
            for got, want in zip(info["sessions"], v, strict=True):
                for sk, sv in want.items():
                    assert got[sk] == (list(sv) if isinstance(sv, tuple) else sv), sk
        else:
            assert info[k] == v, k
    assert info["id"] == "public/small" and info["owner"] == "public"
    assert info["has_images"] is True
    s0 = info["sessions"][0]
    assert s0["has_images"] is True and s0["channels_with_images"] == [1, 2]
    assert s0["image"] == {"shape": [6, 96, 128], "dtype": "uint16", "max_level": 0}
    assert len(info["version"]) == 16
    assert info["tile_size"] == 256


def test_map_without_images_says_so(client: FlaskClient) -> None:
    info = client.get("/api/v1/maps/public/noimg").get_json()
    assert info["has_images"] is False
    assert all(s["has_images"] is False and s["image"] is None for s in info["sessions"])


def test_map_info_revalidates_with_etag(client: FlaskClient, data_dir: Path) -> None:
    r = client.get(MAP)
    etag = r.headers["ETag"]
    assert r.headers["Cache-Control"] == "no-cache"
    r2 = client.get(MAP, headers={"If-None-Match": etag})
    assert r2.status_code == 304 and r2.data == b""
    # any change to a file of the map changes the version and the ETag
    header = data_dir / "public" / "small" / "small.txt"
    st = header.stat()
    os.utime(header, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    r3 = client.get(MAP, headers={"If-None-Match": etag})
    assert r3.status_code == 200
    assert r3.get_json()["version"] != r.get_json()["version"]


@pytest.mark.parametrize(
    "path", ["/api/v1/maps/public/nomap", "/api/v1/maps/nobody/small", "/api/v1/maps/public/..",
             "/api/v1/maps/public/.small.previous"]
)  # fmt: skip
def test_unknown_map_is_404(client: FlaskClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404 and r.is_json
    assert "no map" in r.get_json()["message"] or "no API endpoint" in r.get_json()["message"]


def test_other_owners_maps_are_hidden_until_login(client: FlaskClient, data_dir: Path) -> None:
    (data_dir / "alice").mkdir()
    (data_dir / "public" / "small").rename(data_dir / "alice" / "small")
    r = client.get("/api/v1/maps/alice/small")
    assert r.status_code == 404 and r.get_json()["message"] == "no map alice/small"


def test_statistics(client: FlaskClient) -> None:
    stats = client.get(MAP + "/statistics").get_json()["statistics"]
    assert "pDist" in stats and "ubssSum_int2" in stats and "session" in stats


def test_values_match_the_library_with_null_for_nan(client: FlaskClient, data_dir: Path) -> None:
    r = client.get(MAP + "/values?stat=ubssSum_int1&include_bad=true")
    assert r.status_code == 200
    body = r.get_json()
    mv = map_values(load_map(data_dir / "public" / "small"), "ubssSum_int1", include_bad=True)
    assert body["runs"] == mv.runs.tolist()
    assert body["sessions"] == [0, 1, 2]
    assert body["roi"] == "spineROI" and body["include_bad"] is True and body["segment"] is None
    flat = [v for row in body["values"] for v in row]
    assert None in flat  # absent cells are null, never NaN
    for got, want in zip(body["values"], mv.values, strict=True):
        for g, w in zip(got, want, strict=True):
            assert (g is None and math.isnan(w)) or g == pytest.approx(w)
    assert all(v is None or isinstance(v, int) for row in body["rows"] for v in row)
    assert b"NaN" not in r.data


def test_values_filters(client: FlaskClient, data_dir: Path) -> None:
    m = load_map(data_dir / "public" / "small")
    body = client.get(MAP + "/values?stat=pDist&segment=1&include_bad=0").get_json()
    mv = map_values(m, "pDist", segment=1)
    assert body["runs"] == mv.runs.tolist() and body["segment"] == 1
    assert client.get(MAP + "/values?stat=pDist&segment=all").get_json()["segment"] is None
    body = client.get(MAP + "/values?stat=x&roi=controlPnt").get_json()
    assert body["roi"] == "controlPnt"
    assert body["runs"] == map_values(m, "x", roi="controlPnt").runs.tolist()


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 400),
        ("?stat=", 400),
        ("?stat=nosuchstat", 400),
        ("?stat=roiType", 400),
        ("?stat=pDist&include_bad=maybe", 400),
        ("?stat=pDist&segment=x", 400),
        ("?stat=pDist&segment=-1", 400),
        ("?stat=pDist&segment=7", 404),
        ("?stat=pDist&roi=nosuchroi", 400),
    ],
)
def test_values_bad_parameters(client: FlaskClient, query: str, status: int) -> None:
    r = client.get(MAP + "/values" + query)
    assert r.status_code == status, r.get_json()
    assert r.is_json and r.get_json()["message"]


def test_annotations(client: FlaskClient, data_dir: Path) -> None:
    m = load_map(data_dir / "public" / "small")
    body = client.get(MAP + "/sessions/1/annotations").get_json()
    assert body["session"] == 1 and body["roi"] == "spineROI"
    objs = body["objects"]
    rt = m.db2[1].data["roiType"]
    assert [o["row"] for o in objs] == [int(i) for i in np.flatnonzero(rt == "spineROI")]
    dx, dy, _ = m.sessions[1].voxel
    names = {o["dynamics_name"] for o in objs}
    assert names <= {"added", "subtracted", "transient", "persistent"} and "persistent" in names
    mv = map_values(m, "session", include_bad=True)
    for o in objs:
        assert o["x_px"] == pytest.approx(o["x_um"] / dx)
        assert o["y_px"] == pytest.approx(o["y_um"] / dy)
        assert isinstance(o["z"], int) and isinstance(o["isBad"], bool)
        # the run is the row of the runs table holding this object in this session
        i = mv.runs.tolist().index(o["run"])
        assert mv.rows[i, 1] == o["row"]
    assert {o["segment"] for o in objs} <= {0, 1}


def test_annotations_all_types(client: FlaskClient) -> None:
    body = client.get(MAP + "/sessions/0/annotations?roi=all").get_json()
    types = {o["roiType"] for o in body["objects"]}
    assert {"spineROI", "controlPnt", "pivotPnt"} <= types
    assert body["roi"] == "all"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/sessions/3/annotations", 404),
        ("/sessions/0/annotations?roi=bogus", 400),
        ("/sessions/3/tracing", 404),
    ],
)
def test_session_errors(client: FlaskClient, path: str, status: int) -> None:
    r = client.get(MAP + path)
    assert r.status_code == status and r.is_json


def test_tracing(client: FlaskClient, data_dir: Path) -> None:
    m = load_map(data_dir / "public" / "small")
    body = client.get(MAP + "/sessions/2/tracing").get_json()
    assert body["has_tracing"] is True
    tr = m.tracing(2)
    assert tr is not None
    assert [s["id"] for s in body["segments"]] == tr.segment_ids().tolist()
    seg = body["segments"][0]
    assert len(seg["x_um"]) == len(seg["y_px"]) == len(seg["z"]) > 10
    assert seg["segment"] in (0, 1) and seg["length_um"] > 0


def test_tracing_missing_file_is_empty_not_error(client: FlaskClient, data_dir: Path) -> None:
    for p in (data_dir / "public" / "noimg" / "line").glob("*_l.txt"):
        p.unlink()
    body = client.get("/api/v1/maps/public/noimg/sessions/0/tracing").get_json()
    assert body == {
        "map": "public/noimg",
        "session": 0,
        "has_tracing": False,
        "voxel": body["voxel"],
        "segments": [],
    }


def test_map_is_parsed_once_then_served_from_the_cache(client: FlaskClient) -> None:
    client.get(MAP)
    client.get(MAP + "/values?stat=pDist")
    client.get(MAP + "/sessions/0/annotations")
    counts = client.get("/api/v1/status").get_json()["counters"]
    assert counts["map_parse"] == 1
    assert counts["map_store_hit"] >= 1  # the worker keeps the parsed map (never the shared cache)


def test_a_second_app_on_the_same_data_uses_the_embedded_cache(client: FlaskClient, settings) -> None:  # type: ignore[no-untyped-def]
    from app.factory import create_app

    client.get(MAP + "/values?stat=pDist")
    other = create_app(settings).server.test_client()
    other.get(MAP + "/values?stat=pDist")
    counts = other.get("/api/v1/status").get_json()["counters"]
    assert counts.get("map_parse", 0) == 0 and counts["json_cache_hit"] >= 1


def test_corrupt_map_is_422_not_500(client: FlaskClient, data_dir: Path) -> None:
    (data_dir / "public" / "small" / "small_objMap.txt").write_text("garbage\n")
    r = client.get(MAP)
    assert r.status_code == 422 and r.is_json
    msg = r.get_json()["message"]
    assert msg.startswith("public/small/small_objMap.txt") and str(data_dir) not in msg
