"""The demo map generator writes real-format map folders: loadable, linked, seeded, exact."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest

import pymapmanager as pmm
from pymapmanager.analysis import ADDED, PERSISTENT, SUBTRACTED, TRANSIENT
from pymapmanager.errors import InvalidParameterError
from pymapmanager.io.text import LinkMap
from pymapmanager.synthetic.maps import (
    DB2_COLUMNS,
    INT_COLUMNS,
    Effect,
    default_conditions,
    generate_map,
)
from tests.support.paths import F27A_1, require_f27a1

SHAPE = (8, 128, 128)

#: every row of F27A_1's header (a real Map Manager map), in its order
F27A_1_HEADER_ROWS = [
    "stringonly", "folder", "wname", "rawpath", "savepath", "parent", "class", "nvTemplate",
    "isDirty", "index", "hsIdx", "hsType", "hsStack", "hsStackPath", "hsdb", "hsStackNV",
    "date", "time", "hsStackSeconds", "fiducPnt", "numChannels", "defaultChannel", "px", "py",
    "pz", "dx", "dy", "dz", "stackdbVersion", "numSeg", "numObj", "numSpine",
    "importedStackName", "isDirty_stacknv", "isDirty_stackdb", "isDirty_line", "condStr",
    "zeroSession", "sessions", "datetime", "days", "hours", "zsessions", "zdays", "zhours",
    "mapCond", "mapWinPos",
]  # fmt: skip


def _hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small 6-session, 2-channel map with images (shared by the read-only tests)."""
    dest = tmp_path_factory.mktemp("demo")
    return generate_map(dest, name="demo", shape=SHAPE, seed=3, map_condition="mc1")


@pytest.fixture(scope="module")
def demo_map(demo: Path) -> pmm.Map:
    return pmm.load_map(demo)


def test_default_conditions() -> None:
    assert default_conditions(6) == ["c", "c", "c", "e1", "e2", "e3"]
    assert default_conditions(5) == ["c", "c", "e1", "e2", "e3"]
    assert default_conditions(1) == ["c"]
    assert default_conditions(2) == ["c", "e1"]
    assert default_conditions(0) == []


def test_writes_the_folder_layout(demo: Path) -> None:
    assert demo.name == "demo"
    names = {p.relative_to(demo).as_posix() for p in demo.rglob("*") if p.is_file()}
    expected = {"demo.txt", "demo_objMap.txt", "demo_segMap.txt"}
    for j in range(6):
        s = f"demo_s{j}"
        expected |= {f"stackdb/{s}_db2.txt", f"stackdb/{s}_Int1.txt", f"stackdb/{s}_Int2.txt"}
        expected |= {f"line/{s}_l.txt", f"raw/{s}_ch1.tif", f"raw/{s}_ch2.tif"}
    assert names == expected
    # nothing left behind by the staging folder
    assert [p.name for p in demo.parent.iterdir()] == ["demo"]


def test_loads_and_every_value_converts(demo_map: pmm.Map) -> None:
    m = demo_map
    assert m.validate() == []
    for j in range(m.num_sessions):
        m.db2[j].validate()
        assert sorted(m.intensity[j]) == [1, 2]
        for t in m.intensity[j].values():
            t.validate()
            assert t.columns == list(INT_COLUMNS)
            assert len(t) == len(m.db2[j])
        assert m.db2[j].columns == list(DB2_COLUMNS)
        tr = m.tracing(j)
        assert tr is not None
        tr.segments.validate()
        tr.points.validate()


def test_counts_and_header(demo_map: pmm.Map) -> None:
    m = demo_map
    assert m.num_sessions == 6
    assert m.num_channels == 2
    assert m.num_map_segments == 2
    assert m.map_condition == "mc1"
    assert [s.condition for s in m.sessions] == default_conditions(6)
    assert [s.stack for s in m.sessions] == [f"demo_s{j}" for j in range(6)]
    assert m.header.cells("hsStack")[:6] == [f"demo_s{j}_ch1" for j in range(6)]
    assert m.header.row_names() == F27A_1_HEADER_ROWS
    for s in m.sessions:
        assert s.shape == SHAPE
        assert s.voxel[0] == s.voxel[1] > 0.1 and s.voxel[2] == 1.0
    # dates a few days apart; days/hours computed from Igor seconds since 1904
    secs = [float(v) for v in m.header.cells("hsStackSeconds")[:6]]
    days = [s.days for s in m.sessions]
    assert days[0] == 0
    for j in range(1, 6):
        assert 1 <= days[j] - days[j - 1] <= 6
        assert math.isclose(days[j], (secs[j] - secs[0]) / 86400, rel_tol=1e-4)
        assert math.isclose(m.sessions[j].hours, days[j] * 24, rel_tol=1e-4)
    d0 = m.sessions[0].date
    igor = (np.datetime64(f"{d0[:4]}-{d0[4:6]}-{d0[6:]}T{m.sessions[0].time}") - np.datetime64(
        "1904-01-01T00:00:00"
    )).astype(int)  # fmt: skip
    assert igor == secs[0]
    total = sum(len(t) for t in m.db2)
    assert m.header.get("numObj") == str(total)
    spines = sum(int(m.roi_type_mask(j, "spineROI").sum()) for j in range(6))
    assert m.header.get("numSpine") == str(spines)
    assert m.header.get("numSeg") == "2"


def test_text_format_details(demo: Path) -> None:
    header = (demo / "demo.txt").read_bytes()
    lines = header.split(b"\n")
    assert b"\r" not in header and header.endswith(b"\n")
    assert lines[0] == b"\t" * 27
    assert {line.count(b"\t") for line in lines[1:-1]} == {27}
    db2 = (demo / "stackdb/demo_s0_db2.txt").read_bytes()
    assert b"\n" not in db2 and db2.endswith(b",\r")
    rows = db2.split(b"\r")[:-1]
    assert (
        rows[0].startswith(b"stack=demo_s0;stackdb=demo_s0_db2;")
        and b"version=20151224;" in rows[0]
    )
    assert all(r.endswith(b",") for r in rows[1:])
    intens = (demo / "stackdb/demo_s0_Int2.txt").read_bytes()
    assert intens.endswith(b",\r") and b"\n" not in intens
    obj = (demo / "demo_objMap.txt").read_text().split("\n")
    assert obj[0].endswith(
        ";blocks=12;blockNames=idx,next,nextTP,prev,prevTP,blank,runIdx,dynType,forced,"
        "nodeType,segmentID,splitIdx;"
    )
    seg = (demo / "demo_segMap.txt").read_text().split("\n")
    assert seg[0] == (
        "rows=2;cols=6;blocks=11;blockNames=idx,next,nextTP,prev,prevTP,blank,runIdx,"
        "dynType,forced,nodeType,segmentID;"
    )
    line = (demo / "line/demo_s0_l.txt").read_bytes()
    assert b"\n" not in line and line.endswith(b",\r")
    assert b"numHeaderRow=2;" in line.split(b"\r")[0]


def test_roi_types_pivots_and_bad(demo_map: pmm.Map) -> None:
    m = demo_map
    n_bad = 0
    for j in range(m.num_sessions):
        d = m.db2[j].data
        rt = d["roiType"]
        assert rt[0] == "globalPIvot"
        assert sum(rt == "pivotPnt") == 2  # one per segment
        assert sum(rt == "controlPnt") >= 4
        pivots = np.flatnonzero(rt == "pivotPnt")
        assert np.all(d["pDist"][pivots] == 0)
        n_bad += int(m.bad_mask(j).sum())
        assert np.all(d["isBad"][m.roi_type_mask(j, "spineROI")] >= 0)
    assert n_bad >= 1


def test_dynamics_kinds_all_present(demo_map: pmm.Map) -> None:
    mv = pmm.map_values(demo_map, "x")
    codes = set(np.unique(pmm.dynamics(mv.present())[mv.present()]).astype(int).tolist())
    assert codes == {ADDED, SUBTRACTED, TRANSIENT, PERSISTENT}


def test_links_follow_the_same_spine(demo_map: pmm.Map) -> None:
    """Linked objects are the same spine: pDist (relative to the pivot) barely moves."""
    m = demo_map
    link = m.objmap.data
    nxt, nxt_tp, prev = link[LinkMap.NEXT], link[LinkMap.NEXT_TP], link[LinkMap.PREV]
    moved = []
    for j in range(m.num_sessions - 1):
        for i in np.flatnonzero(nxt[:, j] >= 0):
            k = int(nxt[i, j])
            assert nxt_tp[i, j] == j + 1
            assert prev[k, j + 1] == i
            assert m.db2[j].data["roiType"][i] == m.db2[j + 1].data["roiType"][k]
            if m.db2[j].data["roiType"][i] == "spineROI":
                moved.append(abs(m.db2[j].data["pDist"][i] - m.db2[j + 1].data["pDist"][k]))
    assert len(moved) > 100
    assert max(moved) < 1.0 and 0 < np.median(moved) < 0.5  # jitter, never a jump
    # spines: runs hold only spineROI rows
    for j in range(m.num_sessions):
        rows = m.runs[:, j]
        rows = rows[rows >= 0].astype(int)
        assert np.all(m.db2[j].data["roiType"][rows] == "spineROI")


def test_segments_are_followed_through_renumbering(demo_map: pmm.Map) -> None:
    m = demo_map
    # this seed renumbers the stack segments in later sessions, as real maps do
    assert m.segment_runs.tolist() != [[0.0] * 6, [1.0] * 6]
    for k in range(2):
        mv = pmm.map_values(m, "pDist", segment=k)
        assert mv.shape[0] > 20
        spread = np.nanmax(mv.values, axis=1) - np.nanmin(mv.values, axis=1)
        assert np.nanmax(spread) < 1.5


def test_positions_agree_with_the_tracing(demo_map: pmm.Map) -> None:
    m = demo_map
    for j in range(m.num_sessions):
        tr = m.tracing(j)
        assert tr is not None
        pts = tr.points.data
        assert tr.segment_ids().tolist() == [0, 1]
        d = m.db2[j].data
        for i in np.flatnonzero(np.isin(d["roiType"].astype(str), ["spineROI", "controlPnt"])):
            c = int(d["cPnt"][i])
            assert pts["ID"][c] == d["parentID"][i]
            assert math.isclose(pts["pDist"][c], d["pDist"][i], rel_tol=1e-3, abs_tol=1e-3)
            if d["roiType"][i] == "spineROI":
                # the head is off the dendrite, within a few µm of its connection point
                gap = math.hypot(d["x"][i] - d["cx"][i], d["y"][i] - d["cy"][i])
                assert 0.2 < gap < 4.0
                assert math.isclose(m.column(j, "sLen2d_int1")[i], gap, abs_tol=3e-3)  # 5 digits
        for sid in (0, 1):
            sel = pts["ID"] == sid
            assert pts["sDist"][sel][0] == 0
            assert np.all(np.diff(pts["sDist"][sel]) > 0)
            seg_row = tr.segments.data
            assert seg_row["n"][sid] == sel.sum()


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    kw = {"sessions": 3, "channels": 2, "shape": (4, 64, 64), "spines_per_segment": 8}
    a = generate_map(tmp_path / "a", seed=7, **kw)  # type: ignore[arg-type]
    b = generate_map(tmp_path / "b", seed=7, **kw)  # type: ignore[arg-type]
    c = generate_map(tmp_path / "c", seed=8, **kw)  # type: ignore[arg-type]
    ha, hb, hc = _hashes(a), _hashes(b), _hashes(c)
    assert len(ha) == 3 + 3 * 6
    assert ha == hb
    assert ha.keys() == hc.keys()
    assert all(ha[k] != hc[k] for k in ha)


def test_round_trip_is_byte_identical(demo: Path, tmp_path: Path) -> None:
    saved = pmm.load_map(demo).save(tmp_path / "copy" / "demo")
    src, dst = _hashes(demo), _hashes(saved)
    assert src == dst


def test_effect_is_exact(tmp_path: Path) -> None:
    kw = {"shape": (4, 64, 64), "seed": 11, "images": False}
    effect = Effect("ubssSum_int2", 1.5, (3, 4, 5))
    plain = pmm.load_map(generate_map(tmp_path / "plain", **kw))  # type: ignore[arg-type]
    treated = pmm.load_map(generate_map(tmp_path / "treated", effect=effect, **kw))  # type: ignore[arg-type]
    a = pmm.map_values(plain, "ubssSum_int2").values
    b = pmm.map_values(treated, "ubssSum_int2").values
    assert np.array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(b[:, 3:], a[:, 3:] * 1.5, rtol=1e-9)
    np.testing.assert_array_equal(b[:, :3], a[:, :3])
    # nothing else changed: same structure and every other column identical
    for j in range(6):
        for c in ("ubssMean", "sSum"):
            np.testing.assert_array_equal(
                plain.intensity[j][2].data[c], treated.intensity[j][2].data[c]
            )
        assert plain.db2[j].to_text() == treated.db2[j].to_text()
    # Ratio of session means: exactly factor times the ratio without the effect, and the
    # ratio without it is near 1 because each run's values scatter ~6 % around its own
    # baseline. Over 60 seeds this ratio (3 vs 3 sessions, ~50 spines each) had SD 0.04,
    # so 0.12 (3 SD) is the tolerance; the per-run paired median had SD 0.02 -> 0.06.
    ratio_plain = np.nanmean(a[:, 3:]) / np.nanmean(a[:, :3])
    ratio = np.nanmean(b[:, 3:]) / np.nanmean(b[:, :3])
    assert math.isclose(ratio, 1.5 * ratio_plain, rel_tol=1e-9)
    assert abs(ratio / 1.5 - 1) < 0.12
    both = ~np.isnan(b[:, 3:]).all(axis=1) & ~np.isnan(b[:, :3]).all(axis=1)
    paired = np.nanmean(b[both, 3:], axis=1) / np.nanmean(b[both, :3], axis=1)
    assert abs(np.median(paired) / 1.5 - 1) < 0.06


def test_effect_on_a_db2_column(tmp_path: Path) -> None:
    kw = {"sessions": 3, "shape": (4, 64, 64), "seed": 2, "images": False, "channels": 1}
    plain = pmm.load_map(generate_map(tmp_path / "p", **kw))  # type: ignore[arg-type]
    treated = pmm.load_map(
        generate_map(tmp_path / "t", effect=Effect("pDist", 2.0, (1,)), **kw)  # type: ignore[arg-type]
    )
    spines = plain.roi_type_mask(1, "spineROI")
    p, t = plain.db2[1].data["pDist"], treated.db2[1].data["pDist"]
    np.testing.assert_allclose(t[spines], 2 * p[spines], rtol=2e-4)  # 5 significant digits
    np.testing.assert_array_equal(t[~spines], p[~spines])
    np.testing.assert_array_equal(plain.db2[0].data["pDist"], treated.db2[0].data["pDist"])


def test_parameters(tmp_path: Path) -> None:
    p = generate_map(
        tmp_path, name="m3", sessions=1, channels=3, segments=3, spines_per_segment=5,
        shape=(4, 96, 96), conditions=["base"], images=False,
    )  # fmt: skip
    m = pmm.load_map(p)
    assert (m.num_sessions, m.num_channels, m.num_map_segments) == (1, 3, 3)
    assert int(m.roi_type_mask(0, "spineROI").sum()) == 15
    assert sorted(m.intensity[0]) == [1, 2, 3]
    assert m.sessions[0].condition == "base"
    assert not (p / "raw").exists()
    assert m.validate() == []
    # a larger field than 0.12 µm/pixel allows gets a larger pixel size
    assert m.sessions[0].voxel[0] > 0.12


def test_no_spines(tmp_path: Path) -> None:
    m = pmm.load_map(
        generate_map(tmp_path, sessions=2, spines_per_segment=0, shape=(4, 64, 64), images=False)
    )
    assert m.runs.shape == (0, 2)
    assert m.validate() == []


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"channels": 4}, "channels"),
        ({"sessions": 0}, "sessions"),
        ({"conditions": ["c"]}, "conditions"),
        ({"conditions": ["a,b"] * 6}, "may not contain"),
        ({"name": "bad name"}, "map name"),
        ({"shape": (4, 8, 8)}, "16 x 16"),
        ({"shape": (4.5, 64, 64)}, "planes, rows, columns"),
        ({"shape": (64, 64)}, "planes, rows, columns"),
        ({"effect": Effect("nope", 1.5, (1,))}, "not one the generator fills"),
        ({"effect": Effect("ubssSum_int3", 1.5, (1,))}, "channels 1..2"),
        ({"effect": Effect("sLen3d_int2", 1.5, (1,))}, "channel 1 only"),
        ({"effect": Effect("ubssSum_int1", 1.5, (6,))}, "not in 0..5"),
        ({"dtype": "int64"}, "dtype"),
    ],
)
def test_invalid_arguments(tmp_path: Path, kw: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        generate_map(tmp_path, images=False, **kw)  # type: ignore[arg-type]
    assert not (tmp_path / "demo").exists()


def test_never_overwrites(tmp_path: Path) -> None:
    p = generate_map(tmp_path, shape=(4, 64, 64), images=False, sessions=2)
    before = _hashes(p)
    with pytest.raises(FileExistsError):
        generate_map(tmp_path, shape=(4, 64, 64), images=False, sessions=2, seed=5)
    assert _hashes(p) == before


def test_header_rows_match_the_real_map() -> None:
    require_f27a1()
    real = pmm.load_map(F27A_1)
    assert real.header.row_names() == F27A_1_HEADER_ROWS
    assert real.header.width == 27
    assert real.db2[0].columns == list(DB2_COLUMNS)
    assert real.objmap.header_line.split("blockNames=")[1] == (
        "idx,next,nextTP,prev,prevTP,blank,runIdx,dynType,forced,nodeType,segmentID,splitIdx;"
    )
