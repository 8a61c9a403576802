"""Tests of pymapmanager.images: stacks, projections, contrast, tiles, crops."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import tifffile

from pymapmanager.errors import InvalidParameterError, MapFormatError, MapNotFoundError
from pymapmanager.images import (
    ImageStack,
    PlaneRequest,
    auto_contrast,
    crop,
    downsample,
    image_histogram,
    max_level,
    open_stack,
    read_plane,
    thumbnail,
    tile,
    tile_grid,
    to_uint8,
    um_to_px,
)

# ----------------------------------------------------------------------------- fixtures


def _stack(dtype: type[np.generic], shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    top = 255 if dtype is np.uint8 else 4095
    return rng.integers(0, top + 1, size=shape).astype(dtype)


@pytest.fixture
def u16_stack(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """Uncompressed contiguous 3D uint16 stack: the memory-mapped path."""
    data = _stack(np.uint16, (7, 40, 52), seed=1)
    path = tmp_path / "s_ch1.tif"
    tifffile.imwrite(path, data, photometric="minisblack")
    return path, data


@pytest.fixture
def u8_stack(tmp_path: Path) -> tuple[Path, np.ndarray]:
    data = _stack(np.uint8, (5, 33, 21), seed=2)
    path = tmp_path / "u8_ch1.tif"
    tifffile.imwrite(path, data, photometric="minisblack")
    return path, data


@pytest.fixture
def zlib_stack(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """zlib-compressed stack: planes must be decoded by tifffile."""
    data = _stack(np.uint16, (6, 30, 26), seed=3)
    path = tmp_path / "z_ch1.tif"
    tifffile.imwrite(path, data, photometric="minisblack", compression="zlib")
    return path, data


def _write_variants(tmp_path: Path, data: np.ndarray) -> dict[str, Path]:
    """The same stack written the ways acquisition and analysis software write stacks."""
    paths = {
        "shaped": tmp_path / "shaped.tif",
        "imagej": tmp_path / "imagej.tif",
        "generic": tmp_path / "generic.tif",
        "strips": tmp_path / "strips.tif",
        "bigendian": tmp_path / "bigendian.tif",
        "interleaved": tmp_path / "interleaved.tif",
        "pages": tmp_path / "pages.tif",
        "zlib": tmp_path / "zlib.tif",
        "predictor": tmp_path / "predictor.tif",
    }
    tifffile.imwrite(paths["shaped"], data, photometric="minisblack")
    tifffile.imwrite(paths["imagej"], data, imagej=True, metadata={"axes": "ZYX"})
    tifffile.imwrite(paths["generic"], data, metadata=None, photometric="minisblack")
    tifffile.imwrite(paths["strips"], data, metadata=None, rowsperstrip=4, photometric="minisblack")
    tifffile.imwrite(paths["bigendian"], data, byteorder=">", photometric="minisblack")
    with tifffile.TiffWriter(paths["interleaved"]) as tw:  # IFD, data, IFD, data...
        for plane in data:
            tw.write(plane, contiguous=False, metadata=None)
    with tifffile.TiffWriter(paths["pages"]) as tw:  # one "shaped" 2D series per page
        for plane in data:
            tw.write(plane, contiguous=False)
    tifffile.imwrite(paths["zlib"], data, compression="zlib", photometric="minisblack")
    tifffile.imwrite(
        paths["predictor"], data, compression="zlib", predictor=True, photometric="minisblack"
    )
    return paths


# ----------------------------------------------------------------------------- reading


def test_stack_describes_file(u16_stack: tuple[Path, np.ndarray]) -> None:
    path, data = u16_stack
    with ImageStack(path) as stack:
        assert stack.closed  # lazy
        assert stack.path == path
        assert stack.shape == data.shape
        assert stack.num_planes == 7
        assert stack.dtype == np.uint16
        assert not stack.closed
        assert stack.is_memory_mapped
    assert stack.closed


@pytest.mark.parametrize(
    "variant",
    [
        "shaped",
        "imagej",
        "generic",
        "strips",
        "bigendian",
        "interleaved",
        "pages",
        "zlib",
        "predictor",
    ],
)
def test_plane_equals_source_in_every_layout(tmp_path: Path, variant: str) -> None:
    data = _stack(np.uint16, (4, 24, 20), seed=4)
    path = _write_variants(tmp_path, data)[variant]
    with open_stack(path) as stack:
        assert stack.shape == data.shape
        assert stack.dtype == np.dtype(np.uint16)  # native order, also for big-endian
        assert stack.is_memory_mapped == (variant not in ("zlib", "predictor"))
        for z in range(data.shape[0]):
            plane = stack.plane(z)
            assert plane.shape == (24, 20)
            assert plane.dtype == np.dtype(np.uint16)
            np.testing.assert_array_equal(plane, data[z])
        np.testing.assert_array_equal(stack.max_projection(), data.max(axis=0))


def test_plane_is_a_writable_copy(u16_stack: tuple[Path, np.ndarray]) -> None:
    path, data = u16_stack
    with open_stack(path) as stack:
        plane = stack.plane(2)
        assert plane.flags.writeable and plane.flags.owndata and plane.flags.c_contiguous
        plane[:] = 0
        np.testing.assert_array_equal(stack.plane(2), data[2])


def test_uint8_stack(u8_stack: tuple[Path, np.ndarray]) -> None:
    path, data = u8_stack
    with open_stack(path) as stack:
        assert stack.dtype == np.uint8
        for z in range(data.shape[0]):
            np.testing.assert_array_equal(stack.plane(z), data[z])
        np.testing.assert_array_equal(stack.max_projection(), data.max(axis=0))


def test_compressed_stack_is_decoded(zlib_stack: tuple[Path, np.ndarray]) -> None:
    path, data = zlib_stack
    with open_stack(path) as stack:
        assert not stack.is_memory_mapped
        assert stack.shape == data.shape
        for z in range(data.shape[0]):
            np.testing.assert_array_equal(stack.plane(z), data[z])
        np.testing.assert_array_equal(stack.max_projection(), data.max(axis=0))
        np.testing.assert_allclose(
            stack.projection(1, 2, "mean"), data[0:4].mean(axis=0), rtol=1e-6
        )


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_2d_file_is_one_plane(tmp_path: Path, dtype: type[np.generic]) -> None:
    data = _stack(dtype, (17, 23), seed=5)
    path = tmp_path / "flat.tif"
    tifffile.imwrite(path, data)
    with open_stack(path) as stack:
        assert stack.shape == (1, 17, 23)
        assert stack.num_planes == 1
        np.testing.assert_array_equal(stack.plane(0), data)
        np.testing.assert_array_equal(stack.max_projection(), data)
        np.testing.assert_array_equal(stack.projection(0, 3), data)


def test_2d_compressed_file(tmp_path: Path) -> None:
    data = _stack(np.uint16, (17, 23), seed=6)
    path = tmp_path / "flatz.tif"
    tifffile.imwrite(path, data, compression="zlib")
    with open_stack(path) as stack:
        assert stack.shape == (1, 17, 23)
        np.testing.assert_array_equal(stack.plane(0), data)


@pytest.mark.parametrize("compressed", [False, True])
def test_concurrent_reads(tmp_path: Path, compressed: bool) -> None:
    data = _stack(np.uint16, (12, 40, 30), seed=16)
    path = tmp_path / "threads.tif"
    tifffile.imwrite(
        path, data, photometric="minisblack", compression="zlib" if compressed else None
    )
    with ImageStack(path) as stack, ThreadPoolExecutor(max_workers=8) as pool:
        zs = [z % 12 for z in range(96)]
        for z, plane in zip(zs, pool.map(stack.plane, zs), strict=True):
            np.testing.assert_array_equal(plane, data[z])


def test_stack_reopens_after_close(u16_stack: tuple[Path, np.ndarray]) -> None:
    path, data = u16_stack
    stack = open_stack(path)
    stack.close()
    np.testing.assert_array_equal(stack.plane(3), data[3])
    stack.close()


def test_float_stack(tmp_path: Path) -> None:
    data = np.random.default_rng(7).normal(size=(3, 10, 12)).astype(np.float32)
    path = tmp_path / "f.tif"
    tifffile.imwrite(path, data, photometric="minisblack")
    with open_stack(path) as stack:
        assert stack.dtype == np.float32
        np.testing.assert_array_equal(stack.plane(1), data[1])
        counts, edges = stack.histogram(bins=16)
        ref_counts, ref_edges = np.histogram(data, bins=16)
        np.testing.assert_array_equal(counts, ref_counts)
        np.testing.assert_allclose(edges, ref_edges)


# ----------------------------------------------------------------------------- projections


def test_projections_match_numpy(u16_stack: tuple[Path, np.ndarray]) -> None:
    path, data = u16_stack
    with open_stack(path) as stack:
        mp = stack.max_projection()
        assert mp.dtype == np.uint16 and mp.shape == data.shape[1:]
        np.testing.assert_array_equal(mp, data.max(axis=0))
        np.testing.assert_array_equal(stack.projection(3, 1, "max"), data[2:5].max(axis=0))
        np.testing.assert_array_equal(stack.projection(3, 0, "max"), data[3])
        mean = stack.projection(3, 2, "mean")
        assert mean.dtype == np.float32
        np.testing.assert_allclose(mean, data[1:6].mean(axis=0), rtol=1e-6)


@pytest.mark.parametrize(
    ("z", "k", "first", "stop"),
    [(0, 2, 0, 3), (1, 3, 0, 5), (6, 2, 4, 7), (5, 4, 1, 7), (3, 100, 0, 7)],
)
def test_sliding_projection_clips_at_edges(
    u16_stack: tuple[Path, np.ndarray], z: int, k: int, first: int, stop: int
) -> None:
    path, data = u16_stack
    with open_stack(path) as stack:
        np.testing.assert_array_equal(stack.projection(z, k), data[first:stop].max(axis=0))
        np.testing.assert_allclose(
            stack.projection(z, k, mode="mean"), data[first:stop].mean(axis=0), rtol=1e-6
        )


def test_projection_bad_parameters(u16_stack: tuple[Path, np.ndarray]) -> None:
    path, _ = u16_stack
    with open_stack(path) as stack:
        with pytest.raises(InvalidParameterError, match="mode"):
            stack.projection(2, 1, mode="median")
        with pytest.raises(InvalidParameterError, match="k"):
            stack.projection(2, -1)
        with pytest.raises(InvalidParameterError, match="k"):
            stack.projection(2, 1.5)  # type: ignore[arg-type]
        with pytest.raises(MapNotFoundError, match=r"0\.\.6"):
            stack.projection(7, 1)


def test_stack_histogram(u16_stack: tuple[Path, np.ndarray]) -> None:
    path, data = u16_stack
    with open_stack(path) as stack:
        counts, edges = stack.histogram(None, bins=64)
        ref_counts, ref_edges = np.histogram(data, bins=64)
        np.testing.assert_array_equal(counts, ref_counts)
        np.testing.assert_allclose(edges, ref_edges)
        counts, edges = stack.histogram(4, bins=10, value_range=(0, 4096))
        ref_counts, ref_edges = np.histogram(data[4], bins=10, range=(0, 4096))
        np.testing.assert_array_equal(counts, ref_counts)
        np.testing.assert_allclose(edges, ref_edges)
        assert counts.sum() == data[4].size


# ----------------------------------------------------------------------------- requests


def test_plane_request_is_a_cache_key() -> None:
    a = PlaneRequest(session=1, channel=2, z=5, projection="sliding", k=2)
    b = PlaneRequest(1, 2, 5, "sliding", 2)
    assert a == b and hash(a) == hash(b)
    assert len({a, b, PlaneRequest(1, 2, 5)}) == 2
    assert a.validate() is a
    with pytest.raises(AttributeError):
        a.z = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    "req",
    [
        PlaneRequest(-1, 1, 0),
        PlaneRequest(0, 0, 0),
        PlaneRequest(0, 1, -2),
        PlaneRequest(0, 1, 0, "median"),
        PlaneRequest(0, 1, 0, "sliding", -1),
        PlaneRequest(0, 1, 1.5),  # type: ignore[arg-type]
        PlaneRequest(0, 1, True),
    ],
)
def test_plane_request_validate_rejects(req: PlaneRequest) -> None:
    with pytest.raises(InvalidParameterError):
        req.validate()


def test_read_plane_dispatches(u16_stack: tuple[Path, np.ndarray]) -> None:
    path, data = u16_stack
    with open_stack(path) as stack:
        np.testing.assert_array_equal(read_plane(stack, PlaneRequest(0, 1, 4)), data[4])
        np.testing.assert_array_equal(
            read_plane(stack, PlaneRequest(0, 1, 0, "max")), data.max(axis=0)
        )
        np.testing.assert_array_equal(
            read_plane(stack, PlaneRequest(0, 1, 6, "sliding", 1)), data[5:7].max(axis=0)
        )
        with pytest.raises(MapNotFoundError):
            read_plane(stack, PlaneRequest(0, 1, 9))
        with pytest.raises(InvalidParameterError):
            read_plane(stack, PlaneRequest(0, 1, 0, "avg"))


# ----------------------------------------------------------------------------- errors


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "raw" / "nope_ch1.tif"
    with pytest.raises(MapNotFoundError, match="nope_ch1.tif") as info:
        open_stack(path)
    assert info.value.status == 404
    stack = ImageStack(path)  # lazy: fails on first use
    with pytest.raises(MapNotFoundError, match="nope_ch1.tif"):
        _ = stack.shape


def test_z_out_of_range_names_range_and_file(u16_stack: tuple[Path, np.ndarray]) -> None:
    path, _ = u16_stack
    with open_stack(path) as stack:
        for z in (7, -1, 100):
            with pytest.raises(MapNotFoundError, match=r"valid planes are 0\.\.6") as info:
                stack.plane(z)
            assert path.name in str(info.value)
        with pytest.raises(InvalidParameterError):
            stack.plane(1.0)  # type: ignore[arg-type]


def test_4d_file_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "hyper.tif"
    tifffile.imwrite(path, np.zeros((3, 2, 8, 9), np.uint16), metadata={"axes": "ZCYX"})
    with pytest.raises(MapFormatError, match="4D") as info:
        open_stack(path)
    assert info.value.path == path.name  # never the full path
    assert info.value.path == path.name and str(path.parent) not in str(info.value)


def test_rgb_file_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "rgb.tif"
    tifffile.imwrite(path, np.zeros((8, 9, 3), np.uint8), photometric="rgb")
    with pytest.raises(MapFormatError, match="RGB") as info:
        open_stack(path)
    assert info.value.path == path.name and str(path.parent) not in str(info.value)


def test_multi_series_of_different_shapes_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "multi.tif"
    with tifffile.TiffWriter(path) as tw:
        tw.write(np.zeros((4, 8, 9), np.uint16), photometric="minisblack")
        tw.write(np.zeros((5, 6), np.uint16))
    with pytest.raises(MapFormatError, match="2 images") as info:
        open_stack(path)
    assert info.value.path == path.name and str(path.parent) not in str(info.value)


def test_not_a_tiff_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "text_ch1.tif"
    path.write_text("this is not a TIFF file\n")
    with pytest.raises(MapFormatError, match="TIFF") as info:
        open_stack(path)
    assert info.value.path == path.name and str(path.parent) not in str(info.value)


# ----------------------------------------------------------------------------- contrast


def test_to_uint8_exact_at_lo_hi_and_clipped() -> None:
    image = np.array([[0, 99, 100, 101, 150], [199, 200, 201, 5000, 65535]], np.uint16)
    out = to_uint8(image, 100, 200)
    assert out.dtype == np.uint8 and out.shape == image.shape
    expected = np.array([[0, 0, 0, 3, 128], [252, 255, 255, 255, 255]], np.uint8)
    np.testing.assert_array_equal(out, expected)
    # (101 - 100) * 2.55 = 2.55 -> 3 ; (150 - 100) * 2.55 = 127.5 -> 128 (half up)


def test_to_uint8_matches_float64_formula() -> None:
    image = _stack(np.uint16, (64, 64), seed=8)
    lo, hi = 317.0, 3702.5
    out = to_uint8(image, lo, hi)
    ref = np.clip(np.floor((image - lo) * (255 / (hi - lo)) + 0.5), 0, 255)
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1  # float32 rounding at .5
    assert np.mean(out == ref) > 0.99
    np.testing.assert_array_equal(out[image <= lo], 0)
    np.testing.assert_array_equal(out[image >= hi], 255)


def test_to_uint8_identity_and_inputs_untouched() -> None:
    image = np.arange(256, dtype=np.uint8).reshape(16, 16)
    before = image.copy()
    out = to_uint8(image, 0, 255)
    np.testing.assert_array_equal(out, image)
    assert out is not image
    out16 = to_uint8(image.astype(np.uint16) * 257, 0, 65535)
    np.testing.assert_array_equal(out16, image)
    np.testing.assert_array_equal(image, before)


def test_to_uint8_lo_equals_hi_is_a_step() -> None:
    image = np.array([[0, 5, 6, 10]], np.uint16)
    np.testing.assert_array_equal(to_uint8(image, 5, 5), [[0, 0, 255, 255]])
    np.testing.assert_array_equal(to_uint8(np.zeros((3, 3), np.uint8), 0, 0), 0)
    np.testing.assert_array_equal(to_uint8(image, 8, 2), [[0, 0, 0, 255]])


def test_to_uint8_float_and_nan() -> None:
    image = np.array([[np.nan, -1.0, 0.0, 0.5, 1.0, 2.0, np.inf]], np.float32)
    np.testing.assert_array_equal(to_uint8(image, 0.0, 1.0), [[0, 0, 0, 128, 255, 255, 255]])
    with pytest.raises(InvalidParameterError):
        to_uint8(image, 0.0, np.nan)


def test_auto_contrast_known_distribution() -> None:
    image = np.arange(10000, dtype=np.uint16).reshape(100, 100)
    assert auto_contrast(image) == (49.0, 9949.0)
    assert auto_contrast(image, 0, 100) == (0.0, 9999.0)
    assert auto_contrast(image, 10, 90) == (999.0, 8999.0)
    u8 = np.repeat(np.arange(200, dtype=np.uint8), 50).reshape(100, 100)
    assert auto_contrast(u8, 1, 99) == (1.0, 197.0)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32])
def test_auto_contrast_matches_numpy(dtype: type[np.generic]) -> None:
    rng = np.random.default_rng(9)
    image = (rng.gamma(2.0, 300.0, size=(80, 90)) - (500 if dtype is np.int16 else 0)).astype(dtype)
    if dtype is np.uint8:
        image = (rng.gamma(2.0, 30.0, size=(80, 90)).clip(0, 255)).astype(np.uint8)
    before = image.copy()
    lo, hi = auto_contrast(image, 0.5, 99.5)
    ref = np.percentile(image, [0.5, 99.5], method="inverted_cdf")
    assert (lo, hi) == (float(ref[0]), float(ref[1]))
    np.testing.assert_array_equal(image, before)


def test_auto_contrast_subsamples_big_images() -> None:
    image = np.arange(1 << 16, dtype=np.uint16).reshape(256, 256)
    lo, hi = auto_contrast(image, 1, 99, max_samples=1 << 12)
    assert abs(lo - 655) < 1000 and abs(hi - 64880) < 1000  # within 1.5% of the range
    assert auto_contrast(image, 1, 99, max_samples=None) == (655.0, 64880.0)


def test_auto_contrast_edge_cases() -> None:
    assert auto_contrast(np.zeros((0, 5), np.uint16)) == (0.0, 0.0)
    assert auto_contrast(np.full((4, 4), np.nan)) == (0.0, 0.0)
    assert auto_contrast(np.full((4, 4), 7, np.uint16)) == (7.0, 7.0)
    with pytest.raises(InvalidParameterError):
        auto_contrast(np.zeros((4, 4)), 60, 40)
    with pytest.raises(InvalidParameterError):
        auto_contrast(np.zeros((4, 4)), -1, 40)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float64])
def test_image_histogram_matches_numpy(dtype: type[np.generic]) -> None:
    image = (np.random.default_rng(10).normal(100, 20, size=(50, 40))).astype(dtype)
    for value_range in (None, (0, 256)):
        counts, edges = image_histogram(image, bins=32, value_range=value_range)
        ref_counts, ref_edges = np.histogram(image, bins=32, range=value_range)
        np.testing.assert_array_equal(counts, ref_counts)
        np.testing.assert_allclose(edges, ref_edges)
    with pytest.raises(InvalidParameterError):
        image_histogram(image, bins=0)


# ----------------------------------------------------------------------------- tiles


def test_max_level() -> None:
    assert max_level((2048, 2048)) == 3
    assert max_level((72, 2048, 2048), 256) == 3
    assert max_level((256, 256)) == 0
    assert max_level((100, 30)) == 0
    assert max_level((257, 10)) == 1
    assert max_level((1000, 1500)) == 3
    assert max_level((1024, 1024), tile_size=512) == 1


def test_tile_grid() -> None:
    assert tile_grid((2048, 2048), 3) == (8, 8)
    assert tile_grid((2048, 2048), 2) == (4, 4)
    assert tile_grid((2048, 2048), 0) == (1, 1)
    assert tile_grid((1000, 1500), 3) == (4, 6)  # full res: 1000/256 -> 4, 1500/256 -> 6
    assert tile_grid((1000, 1500), 2) == (2, 3)  # 500 x 750
    assert tile_grid((1000, 1500), 1) == (1, 2)  # 250 x 375
    with pytest.raises(MapNotFoundError, match=r"0\.\.3"):
        tile_grid((2048, 2048), 4)


def test_downsample_block_mean() -> None:
    image = np.array([[0, 2, 4, 6, 9], [1, 3, 5, 7, 9], [10, 10, 20, 20, 1]], np.uint8)
    out = downsample(image, 2)
    # blocks [[0,2],[1,3]] -> 1.5 -> 2 (half up); [[4,6],[5,7]] -> 5.5 -> 6;
    # edge block [[9],[9]] -> 9; bottom row blocks [10,10] -> 10, [20,20] -> 20, [1] -> 1
    np.testing.assert_array_equal(out, [[2, 6, 9], [10, 20, 1]])
    assert out.dtype == np.uint8
    big = _stack(np.uint16, (64, 48), seed=11)
    ref = big.reshape(16, 4, 12, 4).astype(np.float64).mean(axis=(1, 3))
    np.testing.assert_array_equal(downsample(big, 4), np.floor(ref + 0.5).astype(np.uint16))
    fl = big.astype(np.float32)
    np.testing.assert_allclose(downsample(fl, 4), ref, rtol=1e-6)
    np.testing.assert_array_equal(downsample(big, 1), big)


def test_tile_full_resolution_is_the_region() -> None:
    image = _stack(np.uint16, (600, 700), seed=12)  # max_level 2 with 256 tiles
    top = max_level(image.shape)
    assert top == 2
    ny, nx = tile_grid(image.shape, top)
    assert (ny, nx) == (3, 3)
    for ty in range(ny):
        for tx in range(nx):
            t = tile(image, top, tx, ty)
            assert t.shape == (256, 256) and t.dtype == np.uint16
            region = image[ty * 256 : (ty + 1) * 256, tx * 256 : (tx + 1) * 256]
            h, w = region.shape
            np.testing.assert_array_equal(t[:h, :w], region)
            assert not t[h:, :].any() and not t[:, w:].any()  # padding at bottom/right
    # the last tile column holds columns 512..699: 188 wide, the rest zero
    t = tile(image, top, 2, 0)
    np.testing.assert_array_equal(t[:, :188], image[:256, 512:700])
    np.testing.assert_array_equal(t[:, 188:], 0)


def test_tile_lower_levels_match_downsampled_image() -> None:
    image = _stack(np.uint8, (600, 700), seed=13)
    for level, f in ((1, 2), (0, 4)):
        reduced = downsample(image, f)
        ny, nx = tile_grid(image.shape, level)
        for ty in range(ny):
            for tx in range(nx):
                t = tile(image, level, tx, ty)
                region = reduced[ty * 256 : (ty + 1) * 256, tx * 256 : (tx + 1) * 256]
                h, w = region.shape
                np.testing.assert_array_equal(t[:h, :w], region)
                np.testing.assert_array_equal(t[h:, :], 0)
                np.testing.assert_array_equal(t[:, w:], 0)
    # level 0 is the whole image reduced 4x (150 x 175) in the top-left corner
    t0 = tile(image, 0, 0, 0)
    np.testing.assert_array_equal(t0[:150, :175], downsample(image, 4))


def test_tile_small_tiles_and_errors() -> None:
    image = np.arange(64, dtype=np.uint16).reshape(8, 8)
    assert max_level(image.shape, 4) == 1
    np.testing.assert_array_equal(tile(image, 1, 1, 0, tile_size=4), image[0:4, 4:8])
    np.testing.assert_array_equal(tile(image, 1, 0, 1, tile_size=4), image[4:8, 0:4])
    np.testing.assert_array_equal(tile(image, 0, 0, 0, tile_size=4), downsample(image, 2))
    with pytest.raises(MapNotFoundError, match="tx"):
        tile(image, 1, 2, 0, tile_size=4)
    with pytest.raises(MapNotFoundError, match="ty"):
        tile(image, 1, 0, -1, tile_size=4)
    with pytest.raises(MapNotFoundError, match="level"):
        tile(image, 2, 0, 0, tile_size=4)
    with pytest.raises(InvalidParameterError):
        tile(image, 0, 0, 0, tile_size=0)
    with pytest.raises(InvalidParameterError):
        tile(np.zeros((2, 8, 8)), 0, 0, 0)


def test_tile_does_not_modify_input() -> None:
    image = _stack(np.uint16, (300, 300), seed=14)
    before = image.copy()
    t = tile(image, 1, 0, 0)
    t[:] = 0
    np.testing.assert_array_equal(image, before)


# ----------------------------------------------------------------------------- crops etc.


def test_crop_inside_and_padded_at_borders() -> None:
    image = np.arange(1, 101, dtype=np.uint16).reshape(10, 10)  # no zeros inside
    out = crop(image, 5, 5, 2)
    assert out.shape == (4, 4)
    np.testing.assert_array_equal(out, image[3:7, 3:7])
    assert out[2, 2] == image[5, 5]
    corner = crop(image, 0, 0, 3)  # rows/cols -3..2
    assert corner.shape == (6, 6)
    np.testing.assert_array_equal(corner[3:, 3:], image[0:3, 0:3])
    np.testing.assert_array_equal(corner[:3, :], 0)
    np.testing.assert_array_equal(corner[:, :3], 0)
    far = crop(image, np.float64(9), 9.4, 2)  # rows/cols 7..10, rounded centre (9, 9)
    np.testing.assert_array_equal(far[:3, :3], image[7:10, 7:10])
    np.testing.assert_array_equal(far[3, :], 0)
    np.testing.assert_array_equal(far[:, 3], 0)
    outside = crop(image, 50, -20, 3)
    assert outside.shape == (6, 6) and not outside.any()
    with pytest.raises(InvalidParameterError):
        crop(image, 1, 1, 0)


def test_um_to_px() -> None:
    assert um_to_px(10.0, 5.0, 0.5, 0.25) == (20.0, 20.0)
    col, row = um_to_px(np.array([0.0, 1.2]), np.array([3.0, 0.3]), 0.12, 0.1)
    np.testing.assert_allclose(col, [0.0, 10.0])
    np.testing.assert_allclose(row, [30.0, 3.0])
    with pytest.raises(InvalidParameterError, match="dx"):
        um_to_px(1.0, 1.0, 0.0, 1.0)
    with pytest.raises(InvalidParameterError, match="dy"):
        um_to_px(1.0, 1.0, 1.0, float("nan"))


def test_thumbnail_keeps_aspect() -> None:
    image = _stack(np.uint16, (600, 1000), seed=15)
    small = thumbnail(image, 256)
    assert small.shape == (154, 256) and small.dtype == np.uint16
    square = np.zeros((512, 512), np.uint8)
    square[:256, :] = 200
    sq = thumbnail(square, 256)
    assert sq.shape == (256, 256)
    np.testing.assert_array_equal(sq, downsample(square, 2))
    tiny = np.ones((10, 20), np.uint8)
    out = thumbnail(tiny, 256)
    np.testing.assert_array_equal(out, tiny)
    assert out is not tiny
    tall = thumbnail(np.zeros((3000, 10), np.uint8), 100)
    assert tall.shape == (100, 1)
