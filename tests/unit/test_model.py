"""Reading maps: the model, on the tiny hand-made map and on the real F27A_1."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pymapmanager as pmm
from tests.support.tinymap import write_tiny_map


@pytest.fixture()
def tiny(tmp_path: Path) -> pmm.Map:
    return pmm.load_map(write_tiny_map(tmp_path))


def test_tiny_description(tiny: pmm.Map) -> None:
    assert tiny.name == "tiny"
    assert tiny.num_sessions == 3
    assert tiny.num_channels == 1
    assert tiny.num_map_segments == 2
    assert tiny.num_objects == 12
    assert tiny.map_condition == "mc1"
    assert [s.condition for s in tiny.sessions] == ["c", "c", "e1"]
    assert [s.days for s in tiny.sessions] == [0.0, 2.0, 9.0]
    assert tiny.sessions[1].stack == "tiny_s1"
    assert tiny.sessions[0].shape == (8, 64, 64)
    assert tiny.sessions[0].voxel == (0.5, 0.5, 1.0)


def test_tiny_runs_by_hand(tiny: pmm.Map) -> None:
    nan = np.nan
    expected = np.array([[1, 1, 1], [2, nan, nan], [3, 2, nan], [nan, 3, 2]])
    np.testing.assert_array_equal(tiny.runs, expected)
    np.testing.assert_array_equal(tiny.segment_runs, np.array([[0, 0, 0], [1, 1, nan]]))
    assert tiny.stack_segment(1, 2) is None
    assert tiny.map_segment_of(1, 1.0) == 1


def test_tiny_table_joins_intensity(tiny: pmm.Map) -> None:
    df = tiny.table(1)
    assert list(df.index) == [0, 1, 2, 3]
    assert "ubssSum_int1" in df.columns and "sLen3d_int1" in df.columns
    assert df.loc[2, "ubssSum_int1"] == 301.0
    assert df.loc[2, "roiType"] == "spineROI"
    assert df.loc[1, "pDist"] == 1.5


def test_session_and_channel_errors(tiny: pmm.Map) -> None:
    with pytest.raises(pmm.MapNotFoundError, match="no session 3"):
        tiny.session(3)
    with pytest.raises(pmm.MapNotFoundError, match="no channel 2"):
        tiny.image_path(0, 2)
    assert tiny.image_path(0, 1) is None  # no images: still opens
    with pytest.raises(pmm.InvalidParameterError, match="no statistic 'nope'"):
        tiny.column(0, "nope")


def test_map_without_segments(tmp_path: Path) -> None:
    m = pmm.load_map(write_tiny_map(tmp_path, with_segmap=False))
    assert m.num_map_segments == 0
    assert m.segment_runs.shape == (0, 3)
    v = pmm.map_values(m, "pDist")
    assert v.shape == (3, 3)
    with pytest.raises(pmm.InvalidParameterError, match="no segments"):
        pmm.map_values(m, "pDist", segment=0)
    df = pmm.dynamics_summary(m)
    assert list(df["segment"]) == [-1, -1, -1]
    assert list(df["n"]) == [2, 3, 2]


@pytest.mark.parametrize("eol", ["\r", "\n", "\r\n"])
def test_line_endings(tmp_path: Path, eol: str) -> None:
    folder = write_tiny_map(tmp_path, eol=eol)
    m = pmm.load_map(folder)
    assert pmm.map_values(m, "pDist").counts() == [2, 3, 2]
    assert m.files()["stackdb/tiny_s0_db2.txt"].encode() == (folder / "stackdb/tiny_s0_db2.txt").read_bytes()


def test_load_from_header_file_path(tiny: pmm.Map) -> None:
    m = pmm.load_map(tiny.path / "tiny.txt")
    assert m.num_sessions == 3


def test_other_roi_runs(tiny: pmm.Map) -> None:
    v = pmm.map_values(tiny, "pDist", roi="otherROI")
    np.testing.assert_array_equal(v.values, np.array([[np.nan, np.nan, 5.0]]))


def test_other_roi_default_annotation(tmp_path: Path) -> None:
    folder = write_tiny_map(tmp_path)
    header = folder / "tiny.txt"
    header.write_bytes(header.read_bytes() + b"defaultAnnotation\totherROI\t\t\t\t\n")
    m = pmm.load_map(folder)
    assert m.default_roi == "otherROI"
    assert m.runs.shape == (1, 3)
    assert pmm.map_values(m, "pDist").counts() == [0, 0, 1]


def test_vascular_node_and_slab_rois(tmp_path: Path) -> None:
    folder = write_tiny_map(tmp_path)
    for j in range(3):
        p = folder / "stackdb" / f"tiny_s{j}_db2.txt"
        text = p.read_bytes().decode().replace("spineROI,0", "nodeROI,5").replace("otherROI,4", "slabROI,6")
        p.write_bytes(text.encode())
    header = folder / "tiny.txt"
    header.write_bytes(header.read_bytes() + b"defaultAnnotation\tnodeROI\t\t\t\t\n")
    # objMap nodeType for spines says 0: rewrite it to 5 (nodeROI) as a vascular map would
    om = folder / "tiny_objMap.txt"
    lines = om.read_text().splitlines()
    lines[1 + 9 * 4 + 1] = "5\t5\t5"
    lines[1 + 9 * 4 + 2] = "5\t5\t5"
    lines[1 + 9 * 4 + 3] = "5\t5\t6"
    om.write_text("\n".join(lines) + "\n")
    m = pmm.load_map(folder)
    assert m.roi_type_number("nodeROI") == 5
    assert m.runs.shape == (4, 3)
    v = pmm.map_values(m, "pDist", roi="nodeROI", include_bad=True)
    assert v.counts() == [3, 3, 2]
    assert pmm.map_values(m, "pDist", roi="slabROI").counts() == [0, 0, 1]


# ----------------------------------------------------------------------------- F27A_1


def test_f27a1_description(f27a1: Path) -> None:
    m = pmm.load_map(f27a1)
    assert (m.num_sessions, m.num_map_segments, m.num_objects) == (4, 5, 407)
    assert [s.stack for s in m.sessions] == ["F27A_1_s4", "F27A_1_s5", "F27A_1_s7", "F27A_1_s8"]
    assert m.sessions[3].shape == (73, 2048, 2048)
    assert m.sessions[2].days == pytest.approx(18.969)
    assert m.validate() == []


def test_f27a1_values_match_old_package(f27a1: Path) -> None:
    m = pmm.load_map(f27a1)
    v = pmm.map_values(m, "pDist")
    assert v.shape == (145, 4)
    assert v.counts() == [60, 68, 56, 56]
    expected = [[19, 23, 15, 15], [11, 15, 8, 8], [6, 7, 12, 5], [11, 9, 10, 14], [13, 14, 11, 14]]
    for seg, counts in enumerate(expected):
        assert pmm.map_values(m, "pDist", segment=seg).counts() == counts


def test_f27a1_intensity_columns_all_nan(f27a1: Path) -> None:
    m = pmm.load_map(f27a1)
    v = pmm.map_values(m, "sSum_int1")
    assert v.shape == (145, 4)
    assert np.isnan(v.values).all()
    assert "dbN_int1" in pmm.statistics(m)
