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


def _assert_same_map(a: pmm.Map, b: pmm.Map) -> None:
    assert (a.name, a.num_sessions, a.num_channels, a.num_objects) == (b.name, b.num_sessions, b.num_channels, b.num_objects)
    assert a.info() == b.info()
    np.testing.assert_array_equal(a.runs, b.runs)
    np.testing.assert_array_equal(a.segment_runs, b.segment_runs)
    np.testing.assert_array_equal(a.objmap.data, b.objmap.data)
    for j in range(a.num_sessions):
        assert a.columns(j) == b.columns(j)
        for c in a.columns(j):
            x, y = a.column(j, c), b.column(j, c)
            assert x.dtype == y.dtype, c
            if x.dtype == object:
                assert list(x) == list(y), c
            else:
                np.testing.assert_array_equal(x, y, err_msg=c)  # exact, NaN == NaN
        ta, tb = a.tracing(j), b.tracing(j)
        assert (ta is None) == (tb is None)
        if ta is not None and tb is not None:
            for c in ta.points.columns:
                np.testing.assert_array_equal(ta.points.column(c), tb.points.column(c))


def test_serialised_form_round_trip(tiny: pmm.Map) -> None:
    blob = tiny.to_bytes()
    m2 = pmm.Map.from_bytes(blob)
    _assert_same_map(tiny, m2)
    np.testing.assert_array_equal(pmm.map_values(m2, "pDist").values, pmm.map_values(tiny, "pDist").values)
    with pytest.raises(pmm.InvalidParameterError, match="cannot be written"):
        m2.save()
    with pytest.raises(pmm.InvalidParameterError):
        pmm.Map.from_bytes(b"nonsense")
    with pytest.raises(pmm.InvalidParameterError, match="damaged"):
        pmm.Map.from_bytes(blob[:40])


def test_serialised_form_is_exact_on_a_generated_map(tmp_path: Path) -> None:
    from pymapmanager.synthetic.maps import generate_map

    m = pmm.load_map(generate_map(tmp_path, name="g", sessions=4, channels=2, shape=(6, 96, 96), images=False))
    m.db2[1].set_value(3, "pDist", 1e-12)  # not a short decimal: stored as raw float64
    m.db2[1].set_value(4, "x", float("inf"))
    m2 = pmm.Map.from_bytes(m.to_bytes())
    _assert_same_map(m, m2)
    assert m2.column(1, "pDist")[3] == 1e-12
    assert m2.column(1, "x")[4] == float("inf")
    for stat in ("pDist", "ubssSum_int2", "sLen3d_int1", "days"):
        np.testing.assert_array_equal(pmm.map_values(m, stat).values, pmm.map_values(m2, stat).values)


def test_serialised_form_f27a1(f27a1: Path) -> None:
    m = pmm.load_map(f27a1)
    _assert_same_map(m, pmm.Map.from_bytes(m.to_bytes()))


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
