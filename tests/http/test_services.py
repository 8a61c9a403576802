"""Service helpers: PNG encoding, the stack pool, contrast, map references, data versions."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.services.images import Contrast, StackPool, encode_png
from app.services.maps import MapRef, clean, data_version, map_ref
from pymapmanager.errors import InvalidParameterError, MapNotFoundError


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (96, 128), (257, 31)])
def test_encode_png_round_trip(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=shape, dtype=np.uint8)
    im = Image.open(io.BytesIO(encode_png(a)))
    assert im.mode == "L" and im.size == (shape[1], shape[0])
    np.testing.assert_array_equal(np.asarray(im), a)


def test_encode_png_with_alpha_and_non_contiguous_input() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, size=(40, 60), dtype=np.uint8)[:, ::2]
    alpha = np.zeros(a.shape, dtype=np.uint8)
    alpha[:10] = 255
    im = Image.open(io.BytesIO(encode_png(a, alpha)))
    assert im.mode == "LA"
    got = np.asarray(im)
    np.testing.assert_array_equal(got[..., 0], a)
    np.testing.assert_array_equal(got[..., 1], alpha)


def test_encode_png_rejects_3d() -> None:
    with pytest.raises(InvalidParameterError):
        encode_png(np.zeros((2, 2, 2), dtype=np.uint8))


def test_stack_pool_keeps_the_most_recent_open(data_dir: Path) -> None:
    raw = data_dir / "public" / "small" / "raw"
    files = sorted(raw.glob("*.tif"))[:3]
    pool = StackPool(size=2)
    a = pool.get(files[0], "v1")
    assert pool.get(files[0], "v1") is a
    b = pool.get(files[1], "v1")
    pool.get(files[0], "v1")  # a is now the most recent
    pool.get(files[2], "v1")  # evicts b
    assert b.closed and not a.closed
    assert pool.get(files[0], "v2") is not a  # another version opens afresh
    assert a.plane(0).shape == (96, 128)  # an evicted stack still reads (reopens)
    pool.close()


def test_contrast() -> None:
    assert Contrast().auto and Contrast().token() == "auto"
    assert Contrast(1, 2).token() == "1-2"
    assert Contrast(1.5, 2).resolve(np.zeros((2, 2))) == (1.5, 2)
    with pytest.raises(InvalidParameterError):
        Contrast(1, None)
    with pytest.raises(InvalidParameterError):
        Contrast(float("inf"), 2)


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", ".hidden", "x.previous", "a b", "-x"])
def test_map_ref_rejects_unsafe_names(bad: str) -> None:
    with pytest.raises(InvalidParameterError):
        MapRef("public", bad)
    with pytest.raises(InvalidParameterError):
        MapRef(bad, "demo")


def test_map_ref_parse_and_access(app) -> None:  # type: ignore[no-untyped-def]
    assert MapRef.parse("public/demo") == MapRef("public", "demo")
    assert MapRef("public", "demo").id == "public/demo"
    with pytest.raises(InvalidParameterError):
        MapRef.parse("demo")
    with app.server.app_context():
        assert map_ref("public", "small") == MapRef("public", "small")
        with pytest.raises(MapNotFoundError):
            map_ref("alice", "small")  # other owners: after login
        with pytest.raises(MapNotFoundError):
            map_ref("public", "..")


def test_data_version_follows_every_file_but_not_hidden_ones(data_dir: Path) -> None:
    ref = MapRef("public", "small")
    v1 = data_version(ref, data_dir)
    assert v1 == data_version(ref, data_dir) and len(v1) == 16
    (data_dir / "public" / "small" / ".lock").write_text("x")
    assert data_version(ref, data_dir) == v1
    db2 = next((data_dir / "public" / "small" / "stackdb").glob("*_db2.txt"))
    st = db2.stat()
    os.utime(db2, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert data_version(ref, data_dir) != v1
    with pytest.raises(MapNotFoundError):
        data_version(MapRef("public", "nomap"), data_dir)


def test_clean_makes_json_ready_values() -> None:
    out = clean({"a": np.float64("nan"), "b": [np.int64(3), np.bool_(True)], 1: np.array([1.5, np.inf])})
    assert out == {"a": None, "b": [3, True], "1": [1.5, None]}
