"""Pooling maps: group patterns, hand-computed pools of tiny maps, normalisation, warnings, CLI.

The tiny map (tests/support/tinymap.py), statistic pDist, bad objects excluded:

    run  session 0 (c)  session 1 (c)  session 2 (e1)
    A    1.0            1.5            1.25
    C    3.0            3.5            -
    D    -              4.0            4.5          (B is bad in its only session)

Groups base=c (sessions 0, 1) and late=e1 (session 2) give
A: base 1.25, late 1.25;  C: base 3.25, late -;  D: base 4.0, late 4.5.
"""

from __future__ import annotations

import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pymapmanager as pmm
from pymapmanager import pooling as P
from pymapmanager.cli import main
from pymapmanager.errors import InvalidParameterError
from pymapmanager.io.text import CsvTable
from pymapmanager.pooling.workers import _channels_for
from tests.support.tinymap import write_tiny_map

GROUPS = ["base=c", "late=e1"]


def set_header(
    folder: Path, *, map_cond: str | None = None, conds: list[str] | None = None
) -> Path:
    """Edit a tiny map's header: its mapCond and/or condStr row."""
    h = folder / f"{folder.name}.txt"
    lines = h.read_text().split("\n")
    for i, line in enumerate(lines):
        cells = line.split("\t")
        if map_cond is not None and cells[0] == "mapCond":
            cells[1] = map_cond
        if conds is not None and cells[0] == "condStr":
            cells[1 : 1 + len(conds)] = conds
        lines[i] = "\t".join(cells)
    h.write_text("\n".join(lines))
    return folder


def tiny_variant(parent: Path, *, map_cond: str = "mc1", conds: list[str] | None = None) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    return set_header(write_tiny_map(parent), map_cond=map_cond, conds=conds)


@pytest.fixture()
def tiny(tmp_path: Path) -> pmm.Map:
    return pmm.load_map(write_tiny_map(tmp_path))


def row(summary: pd.DataFrame, cohort: str, group: str) -> pd.Series:
    sel = summary[(summary["cohort"] == cohort) & (summary["group"] == group)]
    assert len(sel) == 1, sel
    return sel.iloc[0]


def values_of(res: P.PoolResult, group: str) -> dict[int, float]:
    t = res.tidy[res.tidy["group"] == group]
    return dict(zip(t["run"].tolist(), t["value"].tolist(), strict=True))


# --------------------------------------------------------------------------- patterns


def test_group_patterns_select_sessions(tiny: pmm.Map) -> None:
    def sessions(pattern: str) -> list[int]:
        return P.SessionGroup("g", pattern).sessions(tiny)

    assert sessions("c") == [0, 1]
    assert sessions("e1") == [2]
    assert sessions("c, e1") == [0, 1, 2]  # comma = or, spaces ignored
    assert sessions("c*") == [0, 1]
    assert sessions("?1") == [2]
    assert sessions("[ce]*") == [0, 1, 2]
    assert sessions("*") == [0, 1, 2]
    assert sessions("C") == []  # case-sensitive
    assert sessions("#0") == [0]
    assert sessions("#0-1") == [0, 1]
    assert sessions("#1-") == [1, 2]
    assert sessions("#0,#2") == [0, 2]
    assert sessions("d:0") == [0]  # days 0, 2, 9
    assert sessions("d:0-2") == [0, 1]
    assert sessions("d:2.5-") == [2]
    assert sessions("d:1.5-9.0") == [1, 2]
    assert sessions("#0,e1") == [0, 2]
    assert sessions("zz") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("g=#a", "not a session index term"),
        ("g=#2-1", "empty range"),
        ("g=#", "not a session index term"),
        ("g=d:x", "not a days term"),
        ("g=d:9-2", "empty range"),
        ("g=c,,e1", "empty term"),
        ("g=c,", "empty term"),
        ("g=[ce", "without its ']'"),
        ("g=", "pattern is empty"),
        ("=c", "needs a name"),
        ("baseline", "not NAME=PATTERN"),
    ],
)
def test_group_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(
        InvalidParameterError, match=message.replace("[", r"\[").replace("]", r"\]")
    ):
        P.parse_group(text)


def test_parse_groups_forms_and_duplicates() -> None:
    a = P.parse_groups(["base=c*", "late=e2,e3"])
    b = P.parse_groups({"base": "c*", "late": "e2,e3"})
    assert a == b
    assert [str(g) for g in a] == ["base=c*", "late=e2,e3"]
    assert P.parse_group("x=a=b").pattern == "a=b"  # split at the first '='
    with pytest.raises(InvalidParameterError, match="two session groups are named 'base'"):
        P.parse_groups(["base=c", "base=e1"])
    with pytest.raises(InvalidParameterError, match="at least one"):
        P.parse_groups([])


def test_default_groups(tmp_path: Path) -> None:
    a = pmm.load_map(tiny_variant(tmp_path / "a", conds=["c", "c", "e1"]))
    b = pmm.load_map(tiny_variant(tmp_path / "b", conds=["x*", "e2", "e1"]))
    gs = P.default_groups([a, b])
    # ordered by the earliest session each condition appears in, then first seen
    assert [g.name for g in gs] == ["c", "x*", "e2", "e1"]
    assert [s for g in gs for s in g.sessions(b)] == [0, 1, 2]  # 'x*' escaped: matches itself only
    assert gs[1].sessions(a) == []
    none = pmm.load_map(tiny_variant(tmp_path / "n", conds=["", "", ""]))
    assert [str(g) for g in P.default_groups([none])] == ["s0=#0", "s1=#1", "s2=#2"]


# --------------------------------------------------------------------------- hand-computed pools


def test_pool_one_map_by_hand(tiny: pmm.Map) -> None:
    res = P.pool([tiny], "pDist", GROUPS)
    assert res.cohorts == ("mc1",) and res.maps == ("tiny",) and res.warnings == ()
    assert values_of(res, "base") == {0: 1.25, 2: 3.25, 3: 4.0}
    assert values_of(res, "late") == {0: 1.25, 3: 4.5}
    t = res.tidy
    assert list(t.columns) == list(P.TIDY_COLUMNS)
    assert t[(t["run"] == 3) & (t["group"] == "base")]["n_sessions"].item() == 1
    assert t[(t["run"] == 0) & (t["group"] == "base")]["n_sessions"].item() == 2
    b = row(res.summary, "mc1", "base")
    dev = np.array([1.25, 3.25, 4.0]) - 8.5 / 3
    sd = math.sqrt((dev**2).sum() / 2)
    assert b["mean"] == pytest.approx(8.5 / 3)
    assert b["sd"] == pytest.approx(sd)
    assert b["sem"] == pytest.approx(sd / math.sqrt(3))
    assert (b["n"], b["n_maps"]) == (3, 1)
    late = row(res.summary, "mc1", "late")
    assert late["mean"] == pytest.approx(2.875)
    assert late["sd"] == pytest.approx(3.25 / math.sqrt(2))
    assert late["sem"] == pytest.approx(1.625)
    assert late["n"] == 2


def test_normalisation_modes_by_hand(tiny: pmm.Map) -> None:
    ratio = P.pool([tiny], "pDist", GROUPS, reference="base", mode="ratio")
    assert values_of(ratio, "base") == {0: 1.0, 2: 1.0, 3: 1.0}
    assert values_of(ratio, "late") == {0: 1.0, 3: 1.125}
    late = row(ratio.summary, "mc1", "late")
    assert late["mean"] == pytest.approx(1.0625)
    assert late["sd"] == pytest.approx(0.125 / math.sqrt(2))
    assert late["sem"] == pytest.approx(0.0625)
    assert ratio.dropped == {} and ratio.notes == ()
    base = row(ratio.summary, "mc1", "base")
    assert (base["mean"], base["sd"], base["sem"], base["n"]) == (1.0, 0.0, 0.0, 3)
    # raw values are kept beside the normalised ones
    t = ratio.tidy
    assert t[(t["run"] == 3) & (t["group"] == "late")]["raw"].item() == 4.5

    pct = P.pool([tiny], "pDist", GROUPS, reference="base", mode="percent")
    assert values_of(pct, "late") == {0: 0.0, 3: pytest.approx(12.5)}
    assert row(pct.summary, "mc1", "late")["mean"] == pytest.approx(6.25)

    diff = P.pool([tiny], "pDist", GROUPS, reference="base", mode="difference")
    assert values_of(diff, "late") == {0: 0.0, 3: 0.5}
    assert row(diff.summary, "mc1", "late")["mean"] == pytest.approx(0.25)

    # the default mode with a reference is ratio; without one, none
    assert P.pool([tiny], "pDist", GROUPS, reference="base").mode == "ratio"
    assert P.pool([tiny], "pDist", GROUPS).mode == "none"


def test_runs_lacking_the_reference_are_dropped_and_counted(tiny: pmm.Map) -> None:
    res = P.pool([tiny], "pDist", GROUPS, reference="late", mode="ratio")
    # C has no value in 'late': dropped from every group
    assert res.dropped == {"tiny": 1}
    assert values_of(res, "base") == {0: 1.0, 3: pytest.approx(4.0 / 4.5)}
    assert 2 not in set(res.tidy["run"])
    assert (
        len(res.notes) == 1 and "1 of 3 runs dropped" in res.notes[0] and "'late'" in res.notes[0]
    )
    assert "tiny 1" in res.notes[0]


def test_zero_reference_is_dropped_for_ratio_not_difference(tiny: pmm.Map) -> None:
    # 'session' is 0 in session 0: a run whose reference value is 0 cannot be divided by
    g = ["first=#0", "later=#1-"]
    ratio = P.pool([tiny], "session", g, reference="first", mode="ratio")
    assert ratio.dropped == {"tiny": 3}  # A and C are 0 there, D has no value there
    assert "every run" not in " ".join(ratio.notes)
    assert any("no run has a value in the reference group 'first'" in w for w in ratio.warnings)
    diff = P.pool([tiny], "session", g, reference="first", mode="difference")
    assert diff.dropped == {"tiny": 1}  # only D
    assert values_of(diff, "later") == {0: 1.5, 2: 1.0}


def test_filters_bad_segment_roi(tiny: pmm.Map) -> None:
    res = P.pool([tiny], "pDist", GROUPS, include_bad=True)
    assert values_of(res, "base") == {0: 1.25, 1: 2.0, 2: 3.25, 3: 4.0}
    seg1 = P.pool([tiny], "pDist", GROUPS, segment=1)
    assert values_of(seg1, "base") == {2: 3.25} and values_of(seg1, "late") == {}
    other = P.pool([tiny], "pDist", GROUPS, roi="otherROI")
    assert values_of(other, "late") == {0: 5.0} and values_of(other, "base") == {}
    missing = P.pool([tiny], "pDist", GROUPS, segment=5)
    assert missing.maps == () and missing.left_out == ("tiny",)
    assert any("tiny has no segment 5" in w for w in missing.warnings)


def test_two_maps_two_cohorts_by_hand(tmp_path: Path) -> None:
    tiny_variant(tmp_path / "a", map_cond="mc1")
    tiny_variant(tmp_path / "b", map_cond="mc2", conds=["c", "e1", "e1"])
    maps, warnings = P.load_maps([tmp_path])
    assert warnings == [] and list(maps) == ["a/tiny", "b/tiny"]  # same name: parent/name
    res = P.pool(maps, "pDist", GROUPS)
    assert res.cohorts == ("mc1", "mc2")
    assert list(res.summary["cohort"]) == ["mc1", "mc1", "mc2", "mc2"]
    assert list(res.summary["group"]) == ["base", "late", "base", "late"]
    # b: A base 1, late (1.5 + 1.25) / 2;  C base 3, late 3.5;  D late (4 + 4.5) / 2
    assert row(res.summary, "mc2", "base")["mean"] == pytest.approx(2.0)
    assert row(res.summary, "mc2", "late")["mean"] == pytest.approx((1.375 + 3.5 + 4.25) / 3)
    assert row(res.summary, "mc1", "base")["mean"] == pytest.approx(8.5 / 3)

    off = P.pool(maps, "pDist", GROUPS, cohorts=False)
    assert off.cohorts == ("all",)
    allbase = row(off.summary, "all", "base")
    vals = np.array([1.25, 3.25, 4.0, 1.0, 3.0])
    assert allbase["mean"] == pytest.approx(vals.mean())
    assert allbase["sd"] == pytest.approx(vals.std(ddof=1))
    assert allbase["sem"] == pytest.approx(vals.std(ddof=1) / math.sqrt(5))
    assert (allbase["n"], allbase["n_maps"]) == (5, 2)

    norm = P.pool(maps, "pDist", GROUPS, reference="base", mode="ratio")
    assert norm.dropped == {"b/tiny": 1}  # D has no base value in b
    t = norm.tidy
    b_late = t[(t["map"] == "b/tiny") & (t["group"] == "late")]
    assert dict(zip(b_late["run"], b_late["value"], strict=True)) == {
        0: pytest.approx(1.375),
        2: pytest.approx(3.5 / 3),
    }


def test_cohort_of_maps_without_map_condition(tmp_path: Path) -> None:
    tiny_variant(tmp_path / "a", map_cond="")
    tiny_variant(tmp_path / "b", map_cond="zeta")
    maps, _ = P.load_maps([tmp_path])
    assert P.pool(maps, "pDist", GROUPS).cohorts == ("zeta", P.NO_COHORT)


# --------------------------------------------------------------------------- bad input


def test_warnings_name_the_maps(tmp_path: Path) -> None:
    tiny_variant(tmp_path / "a", map_cond="mc1")
    no_int = tiny_variant(tmp_path / "b", map_cond="mc1")
    for f in (no_int / "stackdb").glob("*_Int1.txt"):
        f.unlink()
    tiny_variant(tmp_path / "c", map_cond="mc1", conds=["q", "q", "q"])
    tiny_variant(tmp_path / "d", map_cond="mc1", conds=["c", "c", "c"])
    maps, _ = P.load_maps([tmp_path])
    res = P.pool(maps, "ubssSum_int1", ["base=c", "late=e1", "never=zz"])
    w = "\n".join(res.warnings)
    assert "map b/tiny has no statistic 'ubssSum_int1'; left out" in w
    assert "map c/tiny: no session matches any group" in w
    assert "map d/tiny: no session matches group 'late'" in w
    assert "group 'never' (pattern 'zz') matches no session in any map" in w
    assert "map a/tiny" not in w
    # a group matching nothing anywhere is reported once, not once per map
    assert w.count("'never'") == 1
    assert res.maps == ("a/tiny", "d/tiny") and set(res.left_out) == {"b/tiny", "c/tiny"}
    # the summary still lists the empty group, with n = 0
    never = row(res.summary, "mc1", "never")
    assert never["n"] == 0 and math.isnan(never["mean"])


def test_nothing_to_pool_says_so(tiny: pmm.Map) -> None:
    res = P.pool([tiny], "nope", GROUPS)
    assert res.maps == () and len(res.tidy) == 0
    assert res.warnings[-1] == "no map could be pooled for 'nope'"
    assert res.summary_csv() == "cohort,group,mean,sd,sem,n\n"


def test_bad_parameters_raise(tiny: pmm.Map) -> None:
    with pytest.raises(InvalidParameterError, match="reference group 'x' is not one of"):
        P.pool([tiny], "pDist", GROUPS, reference="x")
    with pytest.raises(InvalidParameterError, match="needs a reference group"):
        P.pool([tiny], "pDist", GROUPS, mode="ratio")
    with pytest.raises(InvalidParameterError, match="unknown normalisation"):
        P.pool([tiny], "pDist", GROUPS, reference="base", mode="log")  # type: ignore[arg-type]


def test_all_nan_statistic_is_reported(tiny: pmm.Map, tmp_path: Path) -> None:
    # intensities all NaN, as in real maps without intensity analysis
    folder = tiny_variant(tmp_path / "nan")
    for f in (folder / "stackdb").glob("*_Int1.txt"):
        lines = f.read_bytes().split(b"\r")
        out = lines[:2] + [
            b",".join([ln.split(b",")[0], b"NaN", b"NaN", b""]) for ln in lines[2:-1]
        ]
        f.write_bytes(b"\r".join([*out, b""]))
    res = P.pool([pmm.load_map(folder)], "ubssSum_int1", GROUPS)
    assert res.maps == () and any("has no value of 'ubssSum_int1'" in w for w in res.warnings)


# --------------------------------------------------------------------------- stages, caching


def test_group_values_round_trip_and_stages(tiny: pmm.Map) -> None:
    gs = P.parse_groups(GROUPS)
    gv = P.group_values(tiny, "pDist", gs)
    back = P.MapGroupValues.from_bytes(gv.to_bytes())
    assert (
        back.label == "tiny" and back.groups == ("base", "late") and back.sessions == ((0, 1), (2,))
    )
    np.testing.assert_array_equal(back.values, gv.values)
    np.testing.assert_array_equal(back.runs, [0, 2, 3])
    np.testing.assert_array_equal(back.counts, [[2, 1], [2, 0], [1, 1]])
    a = P.combine([back], gs, stat="pDist", reference="base", mode="percent")
    b = P.pool([tiny], "pDist", gs, reference="base", mode="percent")
    pd.testing.assert_frame_equal(a.summary, b.summary)
    with pytest.raises(InvalidParameterError, match="group values are for groups"):
        P.combine([gv], P.parse_groups(["x=c"]))


def test_summary_csv_and_json(tiny: pmm.Map) -> None:
    res = P.pool([tiny], "pDist", GROUPS, reference="base", mode="difference")
    lines = res.summary_csv().splitlines()
    assert lines[0] == "cohort,group,mean,sd,sem,n"
    assert lines[1] == "mc1,base,0,0,0,3"
    cells = lines[2].split(",")
    assert cells[:3] == ["mc1", "late", "0.25"] and cells[4:] == ["0.25", "2"]
    assert float(cells[3]) == pytest.approx(0.5 / math.sqrt(2), rel=1e-15)
    tidy = pd.read_csv(io.StringIO(res.tidy_csv()))
    assert list(tidy.columns) == list(P.TIDY_COLUMNS) and len(tidy) == 5
    d = json.loads(json.dumps(res.to_dict()))
    assert d["mode"] == "difference" and d["reference"] == "base"
    assert d["summary"][1]["mean"] == 0.25 and d["summary"][1]["n"] == 2


# --------------------------------------------------------------------------- dynamics


def test_pooled_dynamics_by_hand(tiny: pmm.Map) -> None:
    sd = P.session_dynamics(tiny)
    # n: session 0 A, C (B bad); session 1 A, C, D; session 2 A, D
    assert sd["n"].tolist() == [2, 3, 2]
    assert sd["added"].tolist() == [0, 1, 0]
    assert sd["pct_added"].tolist()[1:] == [50.0, 0.0] and math.isnan(sd["pct_added"][0])
    assert sd["pct_subtracted"].tolist()[1:] == [0.0, 0.0]
    assert sd["density"].isna().all()  # the tiny map has no tracing
    res = P.pooled_dynamics([tiny], GROUPS)
    s = res.summary.set_index(["cohort", "group", "measure"])
    assert s.loc[("mc1", "base", "pct_added"), "mean"] == 50.0  # session 0 has no % added
    assert s.loc[("mc1", "late", "pct_added"), "mean"] == 0.0
    assert s.loc[("mc1", "base", "pct_added"), "n"] == 1
    assert s.loc[("mc1", "base", "density"), "n"] == 0
    assert any("no dendrite tracing" in w for w in res.warnings)


def test_pooled_dynamics_across_maps(tmp_path: Path) -> None:
    from pymapmanager.synthetic.maps import generate_map

    paths = [
        generate_map(tmp_path, name=f"m{k}", sessions=4, seed=k, images=False, map_condition="x")
        for k in range(3)
    ]
    maps = [pmm.load_map(p) for p in paths]
    groups = ["base=c", "after=e*"]
    res = P.pooled_dynamics(maps, groups)
    per_map = []
    for m in maps:
        df = pmm.dynamics_summary(m)
        tot = df.groupby("session")[["n", "added", "length_um"]].sum()
        pct = 100 * tot["added"] / tot["n"].shift(1)
        dens = tot["n"] / tot["length_um"]
        # conditions c, c, e1, e2: base = sessions 0, 1; after = 2, 3
        per_map.append(
            (pct.iloc[1], pct.iloc[2:].mean(), dens.iloc[:2].mean(), dens.iloc[2:].mean())
        )
    arr = np.array(per_map)
    s = res.summary.set_index(["cohort", "group", "measure"])
    assert s.loc[("x", "base", "pct_added"), "mean"] == pytest.approx(arr[:, 0].mean())
    assert s.loc[("x", "after", "pct_added"), "mean"] == pytest.approx(arr[:, 1].mean())
    assert s.loc[("x", "base", "density"), "mean"] == pytest.approx(arr[:, 2].mean())
    assert s.loc[("x", "after", "density"), "sem"] == pytest.approx(
        arr[:, 3].std(ddof=1) / math.sqrt(3)
    )
    assert s.loc[("x", "after", "density"), "n"] == 3
    # the cache form round trip keeps every value (NaN included) and every field
    orig = P.map_dynamics(maps[0], P.parse_groups(groups))
    back = P.MapDynamics.from_dict(json.loads(json.dumps(orig.to_dict())))
    assert back.values.shape == (2, 3)
    np.testing.assert_array_equal(back.values, orig.values)  # NaN == NaN here
    assert (back.label, back.map_condition, back.groups, back.problems, back.included) == (
        orig.label, orig.map_condition, orig.groups, orig.problems, orig.included
    )
    assert back.values[0, 0] == pytest.approx(per_map[0][0])
    assert back.values[1, 2] == pytest.approx(per_map[0][3])
    # with a NaN in it (a group of session 0 alone has no % added)
    nan = P.map_dynamics(maps[0], P.parse_groups(["first=#0", "rest=#1-"]))
    assert math.isnan(nan.values[0, 0])
    back = P.MapDynamics.from_dict(json.loads(json.dumps(nan.to_dict())))
    np.testing.assert_array_equal(back.values, nan.values)


# --------------------------------------------------------------------------- finding maps


def test_find_maps_in_folders(tmp_path: Path) -> None:
    a = tiny_variant(tmp_path / "owner1" / "x")
    b = tiny_variant(tmp_path / "owner2" / "deep" / "y")
    shutil.copytree(a, tmp_path / "owner1" / "x" / ".tiny.previous")  # a backup: skipped
    (tmp_path / "empty").mkdir()
    assert P.find_maps(tmp_path) == [a, b]
    assert P.find_maps(a) == [a]
    assert P.find_maps(a / "tiny.txt") == [a]
    assert P.find_maps(tmp_path / "empty") == []
    maps, warnings = P.load_maps([tmp_path / "empty", a, tmp_path / "nowhere"])
    assert list(maps) == ["tiny"]
    assert len(warnings) == 2 and all("no map found" in w for w in warnings)


def test_unreadable_map_is_reported(tmp_path: Path) -> None:
    good = tiny_variant(tmp_path / "a")
    bad = tiny_variant(tmp_path / "b")
    (bad / "tiny_objMap.txt").unlink()
    maps, warnings = P.load_maps([tmp_path])
    assert list(maps) == ["a/tiny"]
    assert len(warnings) == 1 and "map b/tiny could not be read" in warnings[0]
    assert good.exists()


# --------------------------------------------------------------------------- command line


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(args, out)
    return code, out.getvalue(), capsys.readouterr().err


def test_cli_pool_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tiny_variant(tmp_path / "a", map_cond="mc1")
    tiny_variant(tmp_path / "b", map_cond="mc2", conds=["c", "e1", "e1"])
    code, text, err = run(
        ["pool", str(tmp_path), "--stat", "pDist", "--group", "base=c", "--group", "late=e1",
         "--normalize", "base", "--mode", "ratio"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    lines = text.splitlines()
    assert lines[0] == "cohort,group,mean,sd,sem,n"
    assert [ln.split(",")[:2] for ln in lines[1:]] == [
        ["mc1", "base"], ["mc1", "late"], ["mc2", "base"], ["mc2", "late"],
    ]  # fmt: skip
    cells = lines[2].split(",")
    assert cells[:3] == ["mc1", "late", "1.0625"] and cells[4:] == ["0.0625", "2"]
    assert float(cells[3]) == pytest.approx(0.125 / math.sqrt(2), rel=1e-15)
    assert "note: 1 of 6 runs dropped" in err and "b/tiny 1" in err


def test_cli_pool_one_map_default_groups_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_tiny_map(tmp_path)
    code, text, err = run(["pool", str(folder), "--stat", "pDist", "--format", "json"], capsys)
    assert code == 0 and err == ""
    d = json.loads(text)
    assert d["groups"] == [{"name": "c", "pattern": "c"}, {"name": "e1", "pattern": "e1"}]
    assert d["maps"] == ["tiny"] and d["mode"] == "none" and d["warnings"] == []
    assert [(r["cohort"], r["group"], r["n"]) for r in d["summary"]] == [
        ("mc1", "c", 3),
        ("mc1", "e1", 2),
    ]
    assert d["summary"][0]["mean"] == pytest.approx(8.5 / 3)


def test_cli_pool_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_tiny_map(tmp_path)
    tidy = tmp_path / "tidy.csv"
    code, text, _ = run(
        ["pool", str(folder), "--stat", "pDist", "--group", "base=#0-1", "--group", "late=d:9",
         "--no-cohorts", "--include-bad", "--segment", "0", "--tidy", str(tidy)],
        capsys,
    )  # fmt: skip
    assert code == 0
    # segment 0 with bad: A (1.25 | 1.25), B (2.0 | -), D (4.0 | 4.5)
    assert text.splitlines()[1].startswith("all,base,2.4166666666666665,")
    t = pd.read_csv(tidy)
    assert sorted(t["run"].unique()) == [0, 1, 3] and set(t["cohort"]) == {"all"}


def test_cli_pool_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_tiny_map(tmp_path)
    with pytest.raises(SystemExit) as exc:  # argparse: a usage error exits with 2
        run(["pool", str(folder), "--stat", "pDist", "--group", "x=#a"], capsys)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "not a session index term" in err and "Traceback" not in err
    code, _, err = run(["pool", str(folder), "--stat", "pDist", "--mode", "ratio"], capsys)
    assert code == 2 and "--mode needs --normalize" in err
    code, _, err = run(
        ["pool", str(folder), "--stat", "pDist", "--group", "a=c", "--normalize", "b"], capsys
    )
    assert code == 1 and "reference group 'b' is not one of the groups" in err
    code, text, err = run(["pool", str(tmp_path / "nowhere"), "--stat", "pDist"], capsys)
    assert code == 1 and "no map found" in err and "no map could be pooled" in err
    assert text == "cohort,group,mean,sd,sem,n\n"
    code, text, err = run(["pool", str(folder), "--stat", "nope"], capsys)
    assert code == 1 and "map tiny has no statistic 'nope'; left out" in err


# --------------------------------------------------------------------------- reading folders


def same_values(a: pmm.MapValues, b: pmm.MapValues) -> None:
    for f in ("values", "rows", "runs", "segments", "bad"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)


def split_reader_map(folder: Path) -> pmm.Map:
    """The map read by splitting every row: the reference the located fields must equal.

    ``CsvTable`` locates fields with numpy; this reads every table the other way (rows
    split on commas, the path non-ASCII tables take) and converts every column at once.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(CsvTable, "_locate_fields", False)
        m = pmm.load_map(folder)
        assert m.validate() == []
    return m


def same_pools(a: P.PoolResult, b: P.PoolResult) -> None:
    pd.testing.assert_frame_equal(a.summary, b.summary)
    pd.testing.assert_frame_equal(a.tidy, b.tidy)
    assert a.warnings == b.warnings and a.notes == b.notes


@pytest.mark.parametrize("eol", ["\r", "\n", "\r\n"])
def test_pool_from_folders_matches_the_row_splitting_reader_on_tiny(tmp_path: Path, eol: str) -> None:
    folder = write_tiny_map(tmp_path, eol=eol)
    ref = split_reader_map(folder)
    for stat in ("pDist", "x", "ubssSum_int1", "sLen3d_int1", "session", "days"):
        for kw in ({}, {"include_bad": True}, {"segment": 1}, {"roi": "otherROI"}):
            lazy = pmm.load_map(folder, channels=_channels_for(stat))  # what a pool task reads
            same_values(pmm.map_values(lazy, stat, **kw), pmm.map_values(ref, stat, **kw))  # type: ignore[arg-type]
            same_pools(P.pool_paths([folder], stat, GROUPS, **kw), P.pool({"tiny": ref}, stat, GROUPS, **kw))  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(
        P.session_dynamics(pmm.load_map(folder, channels=())), P.session_dynamics(ref)
    )


def test_pool_from_folders_matches_the_row_splitting_reader_on_generated_and_real_maps(
    tmp_path: Path,
) -> None:
    from pymapmanager.synthetic.maps import generate_map

    folders = [generate_map(tmp_path, name="g", sessions=5, seed=4, images=False)]
    from tests.support.paths import F27A_1, IN_CI, require_f27a1

    if F27A_1.is_dir() or IN_CI:  # the real map too; missing it fails under CI=true
        folders.append(require_f27a1())
    for folder in folders:
        ref = split_reader_map(folder)
        groups = [f"s{j}=#{j}" for j in range(ref.num_sessions)]
        for stat in ("pDist", "sLen3d_int1", "sSum_int1", "dbN_int1", "isBad", "cAngle", "zdays"):
            if stat not in pmm.statistics(ref):
                continue
            lazy = pmm.load_map(folder, channels=_channels_for(stat))
            same_values(pmm.map_values(lazy, stat), pmm.map_values(ref, stat))
            same_pools(P.pool_paths({"m": folder}, stat, groups), P.pool({"m": ref}, stat, groups))
        pd.testing.assert_frame_equal(
            P.session_dynamics(pmm.load_map(folder, channels=())), P.session_dynamics(ref)
        )


def test_pool_reads_only_the_statistics_channel(tmp_path: Path) -> None:
    from pymapmanager.synthetic.maps import generate_map

    folder = generate_map(tmp_path, name="g", sessions=3, channels=2, images=False)
    assert _channels_for("ubssSum_int2") == (2,)
    assert _channels_for("pDist") == _channels_for(None) == ()
    m = pmm.load_map(folder, channels=(2,))
    assert all(list(ints) == [2] for ints in m.intensity)
    assert "ubssSum_int2" in pmm.statistics(m) and "ubssSum_int1" not in pmm.statistics(m)
    assert m.read_only is not None and "channels [2]" in m.read_only
    with pytest.raises(InvalidParameterError, match="cannot be written"):
        m.files()
    # a broken table of another channel does not stop the pool (it is not read)
    (folder / "stackdb" / "g_s1_Int1.txt").write_bytes(b"")
    assert P.pool_paths([folder], "ubssSum_int2", ["a=#0", "b=#1-"]).maps == ("g",)
    with pytest.raises(pmm.MapFormatError, match="empty"):
        pmm.load_map(folder)


def test_pool_from_folders_with_unusual_files(tmp_path: Path) -> None:
    folder = tiny_variant(tmp_path / "a")
    db = folder / "stackdb" / "tiny_s1_db2.txt"
    db.write_bytes(
        db.read_bytes().replace(b",,,\r", ",,caf\u00e9,\r".encode(), 1)
    )  # a note: non-ASCII, so this table's rows are split, not located
    m = pmm.load_map(folder)
    assert m.db2[1].data["note"][0] == "caf\u00e9" and m.db2[1]._reader().cells is not None
    same_values(pmm.map_values(m, "pDist"), pmm.map_values(split_reader_map(folder), "pDist"))
    # a row with one value too many: the map is left out, the warning names file and line
    bad = tiny_variant(tmp_path / "b")
    db = bad / "stackdb" / "tiny_s0_db2.txt"
    db.write_bytes(db.read_bytes().replace(b"1,0,0,0,0,,,", b"1,0,0,0,0,,,,", 1))
    res = P.pool_paths([tmp_path], "pDist", GROUPS)
    assert res.maps == ("a/tiny",)
    assert any(
        w.startswith("map b/tiny could not be read") and "tiny_s0_db2.txt:3" in w
        for w in res.warnings
    )


def test_pool_paths_equals_pool_of_loaded_maps(tmp_path: Path) -> None:
    from pymapmanager.synthetic.pools import make_pool

    p = make_pool(tmp_path / "pool", maps_per_cohort=2, sessions=4, seed=5)
    tiny_variant(tmp_path / "pool" / "odd", map_cond="control")
    maps, _ = P.load_maps([tmp_path / "pool"])
    calls: list[tuple[int, int]] = []
    for kw in (
        {},
        {"reference": "baseline", "mode": "percent"},
        {"include_bad": True, "segment": 1},
    ):
        a = P.pool(maps, "ubssSum_int2", p.groups, **kw)  # type: ignore[arg-type]
        b = P.pool_paths([tmp_path / "pool"], "ubssSum_int2", p.groups, **kw,  # type: ignore[arg-type]
                         progress=lambda d, t: calls.append((d, t)))  # fmt: skip
        pd.testing.assert_frame_equal(a.summary, b.summary)
        pd.testing.assert_frame_equal(a.tidy, b.tidy)
        assert a.warnings == b.warnings and a.notes == b.notes
    assert calls[-1] == (5, 5) and calls[0] == (1, 5)
    two = P.pool_paths([tmp_path / "pool"], "ubssSum_int2", p.groups, workers=2)
    pd.testing.assert_frame_equal(two.summary, P.pool(maps, "ubssSum_int2", p.groups).summary)
    # default groups come from the headers
    assert P.pool_paths([tmp_path / "pool"], "pDist").group_names == ("c", "e1", "e2")
    # a labelled mapping of folders
    lab = P.pool_paths({"x": p.maps["control"][0]}, "pDist", p.groups)
    assert lab.maps == ("x",)


def test_header_info(tmp_path: Path) -> None:
    folder = tiny_variant(tmp_path, map_cond="mcX", conds=["c", "", "e1"])
    h = P.header_info(folder)
    assert h == P.HeaderInfo("tiny", "mcX", ("c", "", "e1"), (0.0, 2.0, 9.0))
