"""pymapmanager.navigation: spines and tracings in pixels, and where a viewer goes for a run."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from pymapmanager import load_map
from pymapmanager.io.text import Tracing
from pymapmanager.navigation import (
    COPIED,
    ON_TRACING,
    PRESENT,
    UNKNOWN,
    point_at_pdist,
    run_targets,
    spine_pixels,
    tracing_pixels,
    um_per_pixel,
)
from tests.support.tinymap import write_tiny_map

# The tiny map's runs (see tests/support/tinymap.py): A in 0,1,2; B in 0; C in 0,1; D in 1,2.
A, B, C, D = 0, 1, 2, 3


def _tracing_text(segments: dict[int, list[tuple[float, float, float, float]]], eol: str = "\r") -> str:
    """A line file: each segment's points as (x µm, y µm, z, pDist)."""
    lines = [f"stack=tiny;numHeaderRow={len(segments)};", "Idx,start,stop,n,um,"]
    start = 0
    for sid, pts in segments.items():
        lines.append(f"{sid},{start},{start + len(pts) - 1},{len(pts)},1,")
        start += len(pts)
    lines.append("x,y,z,ID,sDist,pDist,")
    for sid, pts in segments.items():
        s = 0.0
        for i, (x, y, z, p) in enumerate(pts):
            if i:
                s += math.dist(pts[i - 1][:2], (x, y))
            lines.append(f"{x},{y},{z},{sid},{s},{p},")
    return eol.join(lines) + eol


def _straight(n: int, x0: float, y: float, z: float, p0: float) -> list[tuple[float, float, float, float]]:
    """n points 1 µm apart along x, pDist from p0 upwards."""
    return [(x0 + i, y, z, p0 + i) for i in range(n)]


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_tiny_map(tmp_path)


@pytest.fixture
def tiny_traced(tmp_path: Path) -> Path:
    """The tiny map with a tracing in every session: segment 0 along y=1 µm with pDist
    -1..9 from x=0..10 µm (slice 2); segment 1 along y=4 µm (slice 4), pDist 0..6."""
    folder = write_tiny_map(tmp_path)
    (folder / "line").mkdir()
    for j in range(3):
        segs = {0: _straight(11, 0.0, 1.0, 2.0, -1.0)}
        if j < 2:
            segs[1] = _straight(7, 0.0, 4.0, 4.0, 0.0)
        (folder / "line" / f"tiny_s{j}_l.txt").write_bytes(_tracing_text(segs).encode())
    return folder


def test_um_per_pixel_from_the_header(tiny: Path) -> None:
    m = load_map(tiny)
    assert um_per_pixel(m, 0) == (0.5, 0.5)


def test_um_per_pixel_defaults_to_one_without_voxel_size(tiny: Path) -> None:
    header = tiny / "tiny.txt"
    text = header.read_text().replace("dx\t0.5\t0.5\t0.5", "dx\t\t\t").replace("dy\t0.5\t0.5\t0.5", "dy\tnan\tnan\tnan")
    header.write_text(text)
    m = load_map(tiny)
    assert um_per_pixel(m, 1) == (1.0, 1.0)


def test_spine_pixels_converts_um_to_pixels(tiny: Path) -> None:
    m = load_map(tiny)
    px = spine_pixels(m, 0)
    assert px.shape == (4, 3)
    # row 1: x = y = 2 µm at 0.5 µm per pixel, slice 2
    assert px[1].tolist() == [4.0, 4.0, 2.0]
    assert px[3].tolist() == [8.0, 8.0, 4.0]


def test_point_at_pdist_interpolates_between_points() -> None:
    seg = np.array([[0, 0, 1, -2.0], [10, 0, 1, 0.0], [10, 10, 3, 10.0]])
    assert point_at_pdist(seg, -1.0) == (5.0, 0.0, 1.0)
    assert point_at_pdist(seg, 5.0) == (10.0, 5.0, 2.0)
    assert point_at_pdist(seg, 0.0) == (10.0, 0.0, 1.0)


def test_point_at_pdist_clamps_to_the_segment_ends() -> None:
    seg = np.array([[0, 0, 1, -2.0], [10, 0, 1, 0.0]])
    assert point_at_pdist(seg, -50.0) == (0.0, 0.0, 1.0)
    assert point_at_pdist(seg, 50.0) == (10.0, 0.0, 1.0)


def test_point_at_pdist_works_in_either_point_order() -> None:
    seg = np.array([[10, 0, 1, 0.0], [0, 0, 1, -2.0]])
    assert point_at_pdist(seg, -1.0) == (5.0, 0.0, 1.0)


def test_point_at_pdist_without_pdist_uses_distance_along() -> None:
    seg = np.array([[0, 0, 0, np.nan], [3, 4, 2, np.nan], [3, 10, 2, np.nan]])
    assert point_at_pdist(seg, 5.0) == (3.0, 4.0, 2.0)
    assert point_at_pdist(seg, 8.0) == (3.0, 7.0, 2.0)


def test_point_at_pdist_edge_cases() -> None:
    assert point_at_pdist(np.empty((0, 4)), 1.0) is None
    assert point_at_pdist(np.array([[1.0, 2.0, 3.0, 0.0]]), float("nan")) is None
    assert point_at_pdist(np.array([[1.0, 2.0, 3.0, 0.0]]), 7.0) == (1.0, 2.0, 3.0)


def test_tracing_pixels_splits_segments_and_converts() -> None:
    text = _tracing_text({0: _straight(3, 0.0, 1.0, 2.0, -1.0), 5: _straight(2, 4.0, 2.0, 1.0, 0.0)})
    tr = Tracing.parse(text)
    segs = tracing_pixels(tr, 0.5, 0.25)
    assert sorted(segs) == [0, 5]
    assert segs[0].tolist() == [[0, 4, 2, -1], [2, 4, 2, 0], [4, 4, 2, 1]]
    assert segs[5][:, :2].tolist() == [[8, 8], [10, 8]]


def test_run_targets_present_objects_are_their_own_position(tiny: Path) -> None:
    m = load_map(tiny)
    t = run_targets(m)
    assert t.xyz.shape == (4, 3, 3)
    assert (t.kind[A] == PRESENT).all()
    assert t.xyz[A, 0].tolist() == [4.0, 4.0, 2.0]
    assert t.kind[B, 0] == PRESENT and t.kind[C, 1] == PRESENT and t.kind[D, 2] == PRESENT


def test_run_targets_without_tracing_copy_the_nearest_session(tiny: Path) -> None:
    m = load_map(tiny)
    t = run_targets(m)
    # B only in session 0: sessions 1 and 2 look where it was in session 0
    assert t.kind[B, 1] == COPIED and t.kind[B, 2] == COPIED
    assert t.xyz[B, 2].tolist() == t.xyz[B, 0].tolist() == [6.0, 6.0, 3.0]
    # C in sessions 0 and 1: session 2 copies session 1 (nearest)
    assert t.xyz[C, 2].tolist() == t.xyz[C, 1].tolist()
    # D in sessions 1 and 2: session 0 copies session 1
    assert t.xyz[D, 0].tolist() == t.xyz[D, 1].tolist()


def test_run_targets_on_the_tracing_at_the_same_pdist(tiny_traced: Path) -> None:
    m = load_map(tiny_traced)
    t = run_targets(m)
    # B (segment 0, pDist 2.0 in session 0) in session 1: on segment 0 at pDist 2 ->
    # x = 3 µm, y = 1 µm -> (6, 2) px, slice 2
    assert t.kind[B, 1] == ON_TRACING
    assert t.xyz[B, 1].tolist() == [6.0, 2.0, 2.0]
    # D (segment 0, pDist 4.0 in session 1) in session 0 -> x = 5 µm
    assert t.kind[D, 0] == ON_TRACING
    assert t.xyz[D, 0].tolist() == [10.0, 2.0, 2.0]
    # C is on segment 1, which session 2 does not have: copied from session 1
    assert t.kind[C, 2] == COPIED


def test_run_targets_ties_prefer_the_earlier_session(tiny_traced: Path) -> None:
    m = load_map(tiny_traced)
    t = run_targets(m)
    # A is everywhere; B is only in 0 so session 2 (distance 2) still uses session 0
    assert t.kind[B, 2] == ON_TRACING
    assert t.xyz[B, 2].tolist() == [6.0, 2.0, 2.0]


def test_run_targets_of_an_unknown_roi_type_are_empty(tiny: Path) -> None:
    m = load_map(tiny)
    t = run_targets(m, "nodeROI")
    assert t.xyz.shape == (0, 3, 3)
    assert t.kind.shape == (0, 3)
    assert UNKNOWN == 0
