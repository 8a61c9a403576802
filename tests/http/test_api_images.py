"""Image endpoints: planes, projections, tiles, crops, thumbnails; ETag, 304, Cache-Control."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import tifffile
from flask.testing import FlaskClient
from PIL import Image

from pymapmanager.images import auto_contrast, crop, max_level, thumbnail, tile, to_uint8

MAP = "/api/v1/maps/public/small"
WIDE = "/api/v1/maps/public/wide"
IMMUTABLE = "public, max-age=31536000, immutable"


def png(data: bytes) -> np.ndarray:
    """Decode a PNG to an array (L, or LA as (rows, cols, 2))."""
    im = Image.open(io.BytesIO(data))
    assert im.format == "PNG"
    return np.asarray(im)


def stack(data_dir: Path, name: str, session: int, channel: int) -> np.ndarray:
    return tifffile.imread(data_dir / "public" / name / "raw" / f"{name}_s{session}_ch{channel}.tif")


def version(client: FlaskClient, url: str = MAP) -> str:
    v = client.get(url).get_json()["version"]
    assert isinstance(v, str)
    return v


def test_plane_is_the_8bit_plane(client: FlaskClient, data_dir: Path) -> None:
    r = client.get(MAP + "/sessions/1/planes/2?channel=2")
    assert r.status_code == 200 and r.mimetype == "image/png"
    img = png(r.data)
    plane = stack(data_dir, "small", 1, 2)[2]
    lo, hi = auto_contrast(plane)
    assert img.dtype == np.uint8 and img.shape == (96, 128)
    np.testing.assert_array_equal(img, to_uint8(plane, lo, hi))


def test_plane_default_channel_and_explicit_contrast(client: FlaskClient, data_dir: Path) -> None:
    plane = stack(data_dir, "small", 0, 1)[0]
    img = png(client.get(MAP + "/sessions/0/planes/0?lo=100&hi=900").data)
    np.testing.assert_array_equal(img, to_uint8(plane, 100, 900))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("projection=max", lambda s: s.max(axis=0)),
        ("projection=max&k=9", lambda s: s.max(axis=0)),
        ("projection=sliding&k=1", lambda s: s[2:5].max(axis=0)),
        ("projection=sliding", lambda s: s[1:6].max(axis=0)),  # k defaults to 2
        ("projection=none", lambda s: s[3]),
    ],
)
def test_projections(client: FlaskClient, data_dir: Path, query: str, expected) -> None:  # type: ignore[no-untyped-def]
    s = stack(data_dir, "small", 2, 1)
    img = png(client.get(f"{MAP}/sessions/2/planes/3?channel=1&{query}").data)
    want = expected(s)
    np.testing.assert_array_equal(img, to_uint8(want, *auto_contrast(want)))


def test_unversioned_image_is_revalidated_by_etag(client: FlaskClient) -> None:
    url = MAP + "/sessions/0/planes/1"
    r = client.get(url)
    assert r.headers["Cache-Control"] == "no-cache"
    etag = r.headers["ETag"]
    assert etag.startswith('"') and len(etag) > 10
    r2 = client.get(url, headers={"If-None-Match": etag})
    assert r2.status_code == 304 and r2.data == b""
    assert r2.headers["ETag"] == etag and r2.headers["Cache-Control"] == "no-cache"
    # another plane, channel or contrast is another image
    etags = {
        etag,
        client.get(MAP + "/sessions/0/planes/2").headers["ETag"],
        client.get(url + "?channel=2").headers["ETag"],
        client.get(url + "?lo=1&hi=2").headers["ETag"],
        client.get(url + "?projection=max").headers["ETag"],
    }
    assert len(etags) == 5


def test_versioned_image_is_immutable(client: FlaskClient, data_dir: Path) -> None:
    v = version(client)
    url = f"{MAP}/sessions/0/planes/1?v={v}"
    r = client.get(url)
    assert r.headers["Cache-Control"] == IMMUTABLE
    r304 = client.get(url, headers={"If-None-Match": r.headers["ETag"]})
    assert r304.status_code == 304 and r304.headers["Cache-Control"] == IMMUTABLE
    # a stale version is served (current pixels) but not cached forever
    r = client.get(f"{MAP}/sessions/0/planes/1?v=0123456789abcdef")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-cache"


def test_changing_the_map_changes_the_image_etag(client: FlaskClient, data_dir: Path) -> None:
    url = MAP + "/sessions/0/planes/1"
    etag = client.get(url).headers["ETag"]
    tif = data_dir / "public" / "small" / "raw" / "small_s0_ch1.tif"
    data = tifffile.imread(tif)
    data[1] = 7
    tifffile.imwrite(tif, data, photometric="minisblack", metadata={"axes": "ZYX"})
    r = client.get(url, headers={"If-None-Match": etag})
    assert r.status_code == 200 and r.headers["ETag"] != etag
    assert (png(r.data) == 0).all()  # a constant plane: lo == hi, everything at or below lo


def test_rendered_once_then_cached(client: FlaskClient) -> None:
    url = MAP + "/sessions/1/planes/4?channel=2"
    a, b = client.get(url).data, client.get(url).data
    assert a == b
    counts = client.get("/api/v1/status").get_json()["counters"]
    assert counts["image_render"] == 1 and counts["image_cache_hit"] == 1


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/sessions/3/planes/0", 404, "has no session 3"),
        ("/sessions/0/planes/6", 404, "has no plane 6 (planes 0..5)"),
        ("/sessions/0/planes/0?channel=3", 404, "has no channel 3"),
        ("/sessions/0/planes/0?channel=0", 400, "channel"),
        ("/sessions/0/planes/0?channel=one", 400, "channel"),
        ("/sessions/0/planes/0?projection=min", 400, "projection"),
        ("/sessions/0/planes/0?projection=sliding&k=-1", 400, "k must be"),
        ("/sessions/0/planes/0?lo=3", 400, "both lo and hi"),
        ("/sessions/0/planes/0?lo=3&hi=nan", 400, "finite"),
        ("/sessions/0/planes/0?lo=a&hi=b", 400, "lo must be a number"),
        ("/sessions/0/planes/0/contrast?channel=9", 404, "has no channel 9"),
    ],
)
def test_plane_errors(client: FlaskClient, path: str, status: int, message: str) -> None:
    r = client.get(MAP + path)
    assert r.status_code == status and r.is_json
    assert message in r.get_json()["message"]


def test_map_without_images_is_a_labelled_404(client: FlaskClient) -> None:
    for path in ("/sessions/1/planes/0", "/sessions/1/tiles/0/0/0.png", "/thumbnail",
                 "/sessions/1/crop?row=1&col=1&z=0"):  # fmt: skip
        r = client.get("/api/v1/maps/public/noimg" + path)
        assert r.status_code == 404 and r.is_json, path
        assert "map public/noimg has no images for session" in r.get_json()["message"]


def test_missing_stack_file_is_404(client: FlaskClient, data_dir: Path) -> None:
    (data_dir / "public" / "small" / "raw" / "small_s2_ch2.tif").unlink()
    r = client.get(MAP + "/sessions/2/planes/0?channel=2")
    assert r.status_code == 404
    assert r.get_json()["message"] == "map public/small has no images for session 2 channel 2"
    info = client.get(MAP).get_json()
    assert info["sessions"][2]["channels_with_images"] == [1]


def test_damaged_stack_is_422_without_server_paths(client: FlaskClient, data_dir: Path) -> None:
    tif = data_dir / "public" / "small" / "raw" / "small_s0_ch1.tif"
    tif.write_bytes(b"II*\x00garbage" * 10)
    r = client.get(MAP + "/sessions/0/planes/0")
    assert r.status_code == 404 and r.is_json  # an unreadable file is left out of the images
    assert r.get_json()["message"] == "map public/small has no images for session 0 channel 1"
    assert str(data_dir) not in client.get(MAP).get_data(as_text=True)


def test_contrast_endpoint(client: FlaskClient, data_dir: Path) -> None:
    body = client.get(MAP + "/sessions/0/planes/2/contrast?channel=1").get_json()
    plane = stack(data_dir, "small", 0, 1)[2]
    assert (body["lo"], body["hi"]) == auto_contrast(plane)
    assert body["min"] == plane.min() and body["max"] == plane.max()
    assert body["dtype"] == "uint16" and sum(body["histogram"]["counts"]) == plane.size


def test_tiles_follow_the_leaflet_simple_crs_scheme(client: FlaskClient, data_dir: Path) -> None:
    info = client.get(WIDE).get_json()
    im = info["sessions"][1]["image"]
    assert im["shape"] == [3, 300, 520] and im["max_level"] == 2 == max_level((300, 520))
    plane = stack(data_dir, "wide", 1, 1)[1]
    lo, hi = auto_contrast(plane)
    v = info["version"]
    # full resolution (level 2): tile (x=1, y=0) is columns 256..511 of rows 0..255
    r = client.get(f"{WIDE}/sessions/1/tiles/2/1/0.png?plane=1&v={v}")
    assert r.status_code == 200 and r.headers["Cache-Control"] == IMMUTABLE
    np.testing.assert_array_equal(png(r.data), to_uint8(plane[0:256, 256:512], lo, hi))
    # edge tile (x=2, y=1): 44 rows x 8 columns of image, the rest transparent
    la = png(client.get(f"{WIDE}/sessions/1/tiles/2/2/1.png?plane=1").data)
    assert la.shape == (256, 256, 2)
    np.testing.assert_array_equal(la[:44, :8, 0], to_uint8(plane[256:, 512:], lo, hi))
    assert (la[:44, :8, 1] == 255).all() and (la[44:, :, 1] == 0).all() and (la[:, 8:, 1] == 0).all()
    # level 0: the whole plane reduced 4x by block mean, in one tile
    top = png(client.get(f"{WIDE}/sessions/1/tiles/0/0/0.png?plane=1").data)
    np.testing.assert_array_equal(top[..., 0], to_uint8(tile(plane, 0, 0, 0), lo, hi))
    assert (top[:75, :130, 1] == 255).all() and (top[75:, :, 1] == 0).all()


@pytest.mark.parametrize(
    "path",
    ["/sessions/1/tiles/3/0/0.png", "/sessions/1/tiles/2/3/0.png", "/sessions/1/tiles/2/0/2.png",
     "/sessions/1/tiles/0/1/0.png", "/sessions/1/tiles/0/0/0.png?plane=3",
     "/sessions/2/tiles/0/0/0.png", "/sessions/1/tiles/-1/0/0.png"],
)  # fmt: skip
def test_tiles_out_of_range_are_404(client: FlaskClient, path: str) -> None:
    r = client.get(WIDE + path)
    assert r.status_code == 404 and r.is_json


def test_tile_of_a_projection_with_fixed_contrast(client: FlaskClient, data_dir: Path) -> None:
    s = stack(data_dir, "wide", 0, 1)
    img = png(client.get(f"{WIDE}/sessions/0/tiles/2/0/0.png?projection=max&lo=0&hi=4095").data)
    np.testing.assert_array_equal(img, to_uint8(s.max(axis=0)[:256, :256], 0, 4095))


def test_crop(client: FlaskClient, data_dir: Path) -> None:
    r = client.get(MAP + "/sessions/1/crop?row=10.4&col=120&z=3&half=16&channel=2")
    assert r.status_code == 200
    img = png(r.data)
    c = crop(stack(data_dir, "small", 1, 2)[3], 10, 120, 16)
    np.testing.assert_array_equal(img, to_uint8(c, *auto_contrast(c)))
    r = client.get(MAP + "/sessions/1/crop?row=10&col=120&z=3&half=16&k=1&lo=0&hi=1000")
    c = crop(stack(data_dir, "small", 1, 1)[2:5].max(axis=0), 10, 120, 16)
    np.testing.assert_array_equal(png(r.data), to_uint8(c, 0, 1000))


@pytest.mark.parametrize(
    ("query", "status"),
    [("row=1&col=1", 400), ("row=1&z=1", 400), ("row=x&col=1&z=0", 400),
     ("row=1&col=1&z=0&half=0", 400), ("row=1&col=1&z=0&half=100000", 400),
     ("row=1&col=1&z=6", 404), ("row=1&col=1&z=0&channel=5", 404)],
)  # fmt: skip
def test_crop_errors(client: FlaskClient, query: str, status: int) -> None:
    r = client.get(f"{MAP}/sessions/0/crop?{query}")
    assert r.status_code == status and r.is_json


def test_thumbnail(client: FlaskClient, data_dir: Path) -> None:
    r = client.get("/api/v1/maps/public/wide/thumbnail")
    assert r.status_code == 200
    img = png(r.data)
    small = thumbnail(stack(data_dir, "wide", 0, 1).max(axis=0), 256)
    assert img.shape == small.shape and max(img.shape) == 256
    np.testing.assert_array_equal(img, to_uint8(small, *auto_contrast(small)))
