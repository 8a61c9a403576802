"""Synthetic stacks: drawn where the annotations say, absent where they say absent."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile

import pymapmanager as pmm
from pymapmanager.errors import InvalidParameterError, MapNotFoundError
from pymapmanager.synthetic.images import render_images, render_stack
from pymapmanager.synthetic.maps import generate_map
from tests.support.paths import F27A_1, require_f27a1

SHAPE = (8, 128, 128)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> pmm.Map:
    p = generate_map(tmp_path_factory.mktemp("synth"), name="demo", shape=SHAPE, seed=5)
    return pmm.load_map(p)


def _voxel(m: pmm.Map, j: int, row: int) -> tuple[int, int, int]:
    d = m.db2[j].data
    dx, dy, _ = m.sessions[j].voxel
    return int(round(d["z"][row])), int(round(d["y"][row] / dy)), int(round(d["x"][row] / dx))


def _local(img: np.ndarray, z: int, y: int, x: int) -> float:
    """Mean of the 3 x 3 pixels around (y, x) in plane z (averages the noise a little)."""
    return float(img[z, max(0, y - 1) : y + 2, max(0, x - 1) : x + 2].mean())


def test_written_images_have_the_map_shape(demo: pmm.Map) -> None:
    for j in range(demo.num_sessions):
        for c in (1, 2):
            p = demo.image_path(j, c)
            assert p is not None and p.name == f"demo_s{j}_ch{c}.tif"
            with tifffile.TiffFile(p) as t:
                assert len(t.series) == 1
                assert t.series[0].shape == SHAPE
                assert t.series[0].dtype == np.uint16


def test_images_are_render_stack(demo: pmm.Map) -> None:
    p = demo.image_path(2, 2)
    assert p is not None
    np.testing.assert_array_equal(tifffile.imread(p), render_stack(demo, 2, 2, seed=5))


def test_spines_are_bright_where_annotated(demo: pmm.Map) -> None:
    j = 0
    img = tifffile.imread(demo.image_path(j, 1))  # type: ignore[arg-type]
    background = float(np.median(img))
    rows = np.flatnonzero(demo.roi_type_mask(j, "spineROI"))
    assert rows.size > 20
    values = np.array([img[_voxel(demo, j, r)] for r in rows], dtype=float)
    assert np.mean(values > 3 * background) > 0.9
    assert np.median(values) > 5 * background


def test_absent_spines_are_absent(demo: pmm.Map) -> None:
    """Where a spine is in one session and gone in the next, its place is dark there."""
    m = demo
    runs = m.runs
    best: tuple[float, int, int, int] | None = None
    for r in range(runs.shape[0]):
        for j in range(m.num_sessions - 1):
            here, there = runs[r, j], runs[r, j + 1]
            if not (here >= 0) or there >= 0:
                continue
            # how far, in session j + 1, the spot is from anything drawn there (µm)
            d = m.db2[j].data
            x, y = d["x"][int(here)], d["y"][int(here)]
            d1 = m.db2[j + 1].data
            tr = m.tracing(j + 1)
            assert tr is not None
            px, py = tr.points.data["x"], tr.points.data["y"]
            heads = m.roi_type_mask(j + 1, "spineROI")
            gap = min(
                float(np.min(np.hypot(px - x, py - y))) - 0.6,  # dendrite radius
                float(np.min(np.hypot(d1["x"][heads] - x, d1["y"][heads] - y))),
            )
            if best is None or gap > best[0]:
                best = (gap, r, j, int(here))
    assert best is not None, "no spine disappears in this map"
    gap, r, j, row = best
    assert gap > 1.0
    z, y, x = _voxel(m, j, row)
    present = tifffile.imread(m.image_path(j, 1))  # type: ignore[arg-type]
    absent = tifffile.imread(m.image_path(j + 1, 1))  # type: ignore[arg-type]
    background = float(np.median(absent))
    bright = _local(present, z, y, x) - background
    dark = _local(absent, z, y, x) - background
    assert bright > 2 * background
    assert dark < 0.15 * bright


def test_channel_two_is_different(demo: pmm.Map) -> None:
    a = render_stack(demo, 0, 1, seed=1).astype(float)
    b = render_stack(demo, 0, 2, seed=1).astype(float)
    assert b.mean() < a.mean()
    assert not np.array_equal(a, b)


def test_seeded(demo: pmm.Map) -> None:
    a = render_stack(demo, 1, 1, seed=3)
    assert np.array_equal(a, render_stack(demo, 1, 1, seed=3))
    assert not np.array_equal(a, render_stack(demo, 1, 1, seed=4))


@pytest.mark.parametrize(("dtype", "top"), [("uint8", 255), ("float32", 1.5)])
def test_dtypes(demo: pmm.Map, dtype: str, top: float) -> None:
    a = render_stack(demo, 0, 1, dtype=dtype)
    assert a.dtype == np.dtype(dtype) and a.shape == SHAPE
    assert 0 <= a.min() and a.max() <= top and a.max() > 0.5 * min(top, 1.0)


def test_shape_override_scales_positions(demo: pmm.Map) -> None:
    small = render_stack(demo, 0, 1, shape=(4, 64, 64))
    assert small.shape == (4, 64, 64)
    background = float(np.median(small))
    rows = np.flatnonzero(demo.roi_type_mask(0, "spineROI"))
    d = demo.db2[0].data
    dx = demo.sessions[0].voxel[0]
    values = [
        small[
            int(round((d["z"][r] + 0.5) * 0.5 - 0.5)),
            int(round((d["y"][r] / dx + 0.5) * 0.5 - 0.5)),
            int(round((d["x"][r] / dx + 0.5) * 0.5 - 0.5)),
        ]
        for r in rows
    ]
    assert np.median(values) > 3 * background


def test_errors(demo: pmm.Map) -> None:
    with pytest.raises(MapNotFoundError):
        render_stack(demo, 0, 3)
    with pytest.raises(MapNotFoundError):
        render_stack(demo, 6, 1)
    with pytest.raises(InvalidParameterError):
        render_stack(demo, 0, 1, dtype="int64")
    with pytest.raises(InvalidParameterError):
        render_stack(demo, 0, 1, shape=(0, 10, 10))


def test_header_without_size_needs_a_shape(demo: pmm.Map) -> None:
    m = pmm.load_map(demo.path)
    for j in range(m.num_sessions):
        m.header.set("px", j, "")
    with pytest.raises(InvalidParameterError, match="pass shape"):
        render_stack(m, 0, 1)
    assert render_stack(m, 0, 1, shape=(2, 32, 32)).shape == (2, 32, 32)


def test_render_images_keeps_existing_files(tmp_path: Path) -> None:
    p = generate_map(tmp_path, sessions=2, channels=1, shape=(4, 64, 64), images=False)
    calls: list[tuple[int, int]] = []
    written = render_images(p, progress=lambda done, total: calls.append((done, total)))
    assert [w.name for w in written] == ["demo_s0_ch1.tif", "demo_s1_ch1.tif"]
    assert calls == [(1, 2), (2, 2)]
    stamp = written[0].stat().st_mtime_ns
    assert render_images(p) == []
    assert written[0].stat().st_mtime_ns == stamp
    assert len(render_images(p, overwrite=True, seed=1)) == 2


def test_render_images_for_a_real_map_without_images(tmp_path: Path) -> None:
    require_f27a1()
    copy = tmp_path / "F27A_1"
    shutil.copytree(F27A_1, copy)
    for p in [copy, *copy.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    written = render_images(copy, shape=(4, 128, 128))
    assert [p.name for p in written] == [
        "F27A_1_s4_ch1.tif", "F27A_1_s5_ch1.tif", "F27A_1_s7_ch1.tif", "F27A_1_s8_ch1.tif",
    ]  # fmt: skip
    assert all(p.parent == copy / "raw" for p in written)
    m = pmm.load_map(copy)
    img = tifffile.imread(written[0])
    assert img.shape == (4, 128, 128) and img.dtype == np.uint16
    # header 2048 x 2048 x 72 at 0.108 µm: spines land at (x / 0.108) / 16
    background = float(np.median(img))
    d = m.db2[0].data
    rows = np.flatnonzero(m.roi_type_mask(0, "spineROI"))
    f, fz = 128 / 2048, 4 / 72
    values = [
        img[
            min(3, int(round((d["z"][r] + 0.5) * fz - 0.5))),
            int(round((d["y"][r] / 0.108 + 0.5) * f - 0.5)),
            int(round((d["x"][r] / 0.108 + 0.5) * f - 0.5)),
        ]
        for r in rows
    ]
    assert np.median(values) > 2 * background
