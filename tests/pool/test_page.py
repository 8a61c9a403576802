"""The pooling page's callbacks, called as the browser calls them (Flask test client)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from app import ids
from pymapmanager.pooling import pool_paths
from pymapmanager.synthetic.pools import DemoPool
from tests.pool.conftest import NO_UPDATE, PoolCaller

CATALOG = [(ids.POOL_CATALOG, "data"), (ids.POOL_FILTER_OWNER, "options"), (ids.POOL_FILTER_CONDITION, "options")]
MAPS = [(ids.POOL_MAPS, "options"), (ids.POOL_MAPS, "value"), (ids.POOL_MAPS_COUNT, "children")]
PREPARE = [(ids.POOL_READY, "data"), (ids.POOL_JOB, "data"), (ids.POOL_MESSAGES, "children")]
RENDER = [
    (ids.POOL_FIGURE, "figure"),
    (ids.POOL_DYNAMICS, "figure"),
    (ids.POOL_SUMMARY, "children"),
    (ids.POOL_MESSAGES, "children"),
    (ids.POOL_NOTES, "children"),
]
POOL_IDS = [f"public/pool_{c}_{k:02d}" for c in ("control", "treatment") for k in (1, 2)]
GROUPS = [["baseline", "c"], ["treatment", "e*"]]


def catalog(call: PoolCaller) -> list[dict[str, Any]]:
    data, owners, conds = call(CATALOG, [(ids.LOCATION, "pathname", "/pool")])
    assert owners == [{"label": "public", "value": "public"}]
    assert [c["value"] for c in conds] == ["control", "mc1", "treatment"]
    return list(data)


def prepare(call: PoolCaller, cat: list[dict[str, Any]], maps: list[str], stat: str = "ubssSum_int2",
            groups: list[list[str]] = GROUPS, **kw: Any) -> list[Any]:  # fmt: skip
    inputs = [
        (ids.POOL_MAPS, "value", maps),
        (ids.POOL_STAT, "value", stat),
        (ids.POOL_GROUPS, "data", groups),
        (ids.POOL_ROI, "value", kw.get("roi", "spineROI")),
        (ids.POOL_SEGMENT, "value", kw.get("segment", -1)),
        (ids.POOL_BAD, "value", kw.get("bad", False)),
    ]
    return call(PREPARE, inputs)


def compute(call: PoolCaller, job: Any) -> Any:
    (ready,) = call([(ids.POOL_READY, "data")], [(ids.POOL_JOB, "data", job)])
    return ready


def render(call: PoolCaller, ready: Any, mode: str = "none", reference: str | None = "baseline",
           cohorts: bool = True, error: str = "sem", runs: bool = False) -> list[Any]:  # fmt: skip
    return call(RENDER, [
        (ids.POOL_READY, "data", ready), (ids.POOL_MODE, "value", mode),
        (ids.POOL_REFERENCE, "value", reference), (ids.POOL_COHORTS, "value", cohorts),
        (ids.POOL_ERROR, "value", error), (ids.POOL_RUNS, "value", runs),
    ])  # fmt: skip


def pooled(call: PoolCaller, maps: list[str] = POOL_IDS, **kw: Any) -> Any:
    cat = catalog(call)
    ready, job, _ = prepare(call, cat, maps, **kw)
    if ready is NO_UPDATE:
        ready = compute(call, job)
    return ready


def table_rows(summary: Any) -> list[list[str]]:
    """The cells of the summary table component."""
    text = json.dumps(summary)
    body = summary["props"]["children"][1]["props"]["children"]
    rows = []
    for tr in body:
        rows.append([td["props"]["children"] for td in tr["props"]["children"]])
    assert rows or "cohort" in text
    return rows


# --------------------------------------------------------------------------- choosing


def test_catalog_and_filters(call: PoolCaller) -> None:
    cat = catalog(call)
    assert [e["id"] for e in cat] == [*POOL_IDS, "public/tiny"]
    e = cat[0]
    assert e["map_condition"] == "control" and e["conditions"] == ["c", "c", "e1", "e2"]
    opts, value, count = call(MAPS, [(ids.POOL_CATALOG, "data", cat), (ids.POOL_FILTER_TEXT, "value", None),
                                     (ids.POOL_FILTER_OWNER, "value", []), (ids.POOL_FILTER_CONDITION, "value", [])])  # fmt: skip
    assert value == [*POOL_IDS, "public/tiny"] and count == "5"
    assert opts[0] == {"label": "public/pool_control_01  [control]", "value": "public/pool_control_01"}
    _, value, count = call(MAPS, [(ids.POOL_CATALOG, "data", cat), (ids.POOL_FILTER_TEXT, "value", "TREAT"),
                                  (ids.POOL_FILTER_OWNER, "value", ["public"]), (ids.POOL_FILTER_CONDITION, "value", [])])  # fmt: skip
    assert value == POOL_IDS[2:] and count == "2 of 5"
    _, value, _ = call(MAPS, [(ids.POOL_CATALOG, "data", cat), (ids.POOL_FILTER_TEXT, "value", ""),
                              (ids.POOL_FILTER_OWNER, "value", []), (ids.POOL_FILTER_CONDITION, "value", ["mc1"])])  # fmt: skip
    assert value == ["public/tiny"]


def stats(call: PoolCaller, maps: list[str], current: str | None = None) -> tuple[dict[str, str], str]:
    opts, value = call([(ids.POOL_STAT, "options"), (ids.POOL_STAT, "value")],
                       [(ids.POOL_MAPS, "value", maps)], [(ids.POOL_STAT, "value", current)])  # fmt: skip
    return {o["value"]: o["label"] for o in opts}, value


def test_statistics_are_measurements_with_how_many_maps_have_them(call: PoolCaller) -> None:
    labels, value = stats(call, POOL_IDS)
    assert value == "ubssSum_int2"
    assert labels["ubssSum_int2"] == "ubssSum_int2 · all 4 maps"
    assert labels["sLen3d_int1"] == "sLen3d_int1 · all 4 maps"
    # numbers that measure spines only: no bookkeeping, text, empty or per-session columns
    for s in ("note", "edgeList", "isDirty", "error", "Idx", "isBad", "cSeconds", "roiType",
              "session", "days", "sLen3d_int2", "idx_int1", "isDirty_int2"):  # fmt: skip
        assert s not in labels, s
    # the tiny map (one channel, a few columns) chosen too: every statistic says how many
    # maps have it, those all five share come first, and the default is one of them
    labels, value = stats(call, [*POOL_IDS, "public/tiny"])
    assert labels["ubssSum_int2"] == "ubssSum_int2 · 4 of 5 maps"
    assert labels["pDist"] == "pDist · all 5 maps"
    order = list(labels)
    shared = [s for s in order if labels[s].endswith("all 5 maps")]
    assert order[: len(shared)] == shared and "pDist" in shared
    assert value in shared and value != "ubssSum_int2"
    # a choice every chosen map has stays; one some lack is replaced by a shared one
    assert stats(call, POOL_IDS, "pDist")[1] == "pDist"
    assert stats(call, [*POOL_IDS, "public/tiny"], "ubssSum_int2")[1] in shared
    assert stats(call, [])[0] == {} and stats(call, [])[1] is None


def test_groups_prefilled_added_deleted_and_checked(call: PoolCaller) -> None:
    cat = catalog(call)
    rows_out = [(ids.POOL_GROUP_ROWS, "children")]
    state = [(ids.pool_group_name("ALL"), "value", []), (ids.pool_group_pattern("ALL"), "value", []),
             (ids.POOL_CATALOG, "data", cat)]  # fmt: skip
    inputs = [(ids.POOL_MAPS, "value", POOL_IDS), (ids.POOL_GROUPS_RESET, "n_clicks", None),
              (ids.POOL_GROUPS_ADD, "n_clicks", None), (ids.pool_group_delete("ALL"), "n_clicks", [])]  # fmt: skip
    inputs[3] = ({"type": ids.POOL_GROUP_DELETE, "index": ["ALL"]}, "n_clicks", [])
    state[0] = ({"type": ids.POOL_GROUP_NAME, "index": ["ALL"]}, "value", [])
    state[1] = ({"type": ids.POOL_GROUP_PATTERN, "index": ["ALL"]}, "value", [])
    (rows,) = call(rows_out, inputs, state)
    text = json.dumps(rows)
    names = [r["props"]["children"][0]["props"]["value"] for r in rows]
    assert names == ["c", "e1", "e2"]  # one group per condition, in session order
    assert '"value": "e1"' in text
    # Add: one more row
    inputs2 = list(inputs)
    inputs2[2] = (ids.POOL_GROUPS_ADD, "n_clicks", 1)
    state2 = list(state)
    state2[0] = (state[0][0], "value", names)
    state2[1] = (state[1][0], "value", ["c", "e1", "e2"])
    (rows,) = call(rows_out, inputs2, state2, changed=[f"{ids.POOL_GROUPS_ADD}.n_clicks"])
    assert [r["props"]["children"][0]["props"]["value"] for r in rows] == ["c", "e1", "e2", "group4"]
    # Checking: what each matches, the groups to pool, the reference choices
    out = [({"type": ids.POOL_GROUP_MATCH, "index": ["ALL"]}, "children"), (ids.POOL_GROUPS, "data"),
           (ids.POOL_REFERENCE, "options"), (ids.POOL_REFERENCE, "value")]  # fmt: skip
    matches, data, options, ref = call(
        out,
        [({"type": ids.POOL_GROUP_NAME, "index": ["ALL"]}, "value", ["base", "late", "bad", "none"]),
         ({"type": ids.POOL_GROUP_PATTERN, "index": ["ALL"]}, "value", ["c", "e1,e2", "#x", "zz"]),
         (ids.POOL_MAPS, "value", POOL_IDS)],
        [(ids.POOL_CATALOG, "data", cat), (ids.POOL_REFERENCE, "value", None), (ids.POOL_GROUPS, "data", [])],
    )  # fmt: skip
    assert matches[0] == "✓ 8 sessions in 4 of 4 maps"
    assert matches[1] == "✓ 8 sessions in 4 of 4 maps"
    assert matches[2].startswith("✗ '#x' is not a session index term")
    assert matches[3] == "✗ matches none of the chosen maps; left out"
    # the group matching none of the chosen maps is left out of the pool and the references
    assert data == [["base", "c"], ["late", "e1,e2"], ["bad", "#x"]]
    assert [o["value"] for o in options] == ["base", "late"] and ref == "base"


# --------------------------------------------------------------------------- pooling


def test_pool_in_the_background_then_from_the_cache(call: PoolCaller, pool_data: tuple[Path, DemoPool]) -> None:
    cat = catalog(call)
    ready, job, msgs = prepare(call, cat, POOL_IDS)
    assert ready is NO_UPDATE and msgs == []
    assert job["maps"] == POOL_IDS and job["groups"] == GROUPS
    done = compute(call, job)
    def spec(d: dict) -> dict:  # the job's signed identity grant is not part of the pool
        return {k: v for k, v in d.items() if k != "grant"}

    assert done["bundle"].startswith("pool2bundle:") and spec(done["spec"]) == spec(job)
    # the same pool again: ready at once, no job
    ready2, job2, _ = prepare(call, cat, POOL_IDS)
    assert ready2 == done and job2 is NO_UPDATE
    fig, dfig, summary, msgs, info = render(call, done)
    assert msgs == [] and info.startswith("4 maps, ")
    names = [t.get("name") for t in fig["data"] if t.get("mode") == "lines+markers"]
    assert names == ["control (2 maps)", "treatment (2 maps)"]
    # the same numbers as the library
    lib = pool_paths([pool_data[0] / "public" / m.split("/")[1] for m in POOL_IDS], "ubssSum_int2",
                     ["baseline=c", "treatment=e*"])  # fmt: skip
    rows = table_rows(summary)
    assert [r[:2] for r in rows] == [["control", "baseline"], ["control", "treatment"],
                                      ["treatment", "baseline"], ["treatment", "treatment"]]  # fmt: skip
    for r, (_, rec) in zip(rows, lib.summary.iterrows(), strict=True):
        assert float(r[2]) == pytest.approx(rec["mean"], rel=1e-3) and int(r[5]) == rec["n"]
    means = [t for t in fig["data"] if t.get("mode") == "lines+markers"]
    assert means[0]["y"][0] == pytest.approx(lib.summary["mean"][0])
    assert fig["layout"]["yaxis"]["title"]["text"] == "ubssSum_int2"
    assert len(dfig["data"]) == 6  # 3 measures x 2 cohorts


def test_normalisation_changes_only_the_render(call: PoolCaller, pool_data: tuple[Path, DemoPool]) -> None:
    ready = pooled(call)
    for mode, title in (("ratio", "ratio to baseline"), ("percent", "% change from baseline"),
                        ("difference", "change from baseline")):  # fmt: skip
        fig, _, summary, msgs, info = render(call, ready, mode=mode)
        assert title in fig["layout"]["yaxis"]["title"]["text"]
        assert "runs dropped" in info
        lib = pool_paths([pool_data[0] / "public" / m.split("/")[1] for m in POOL_IDS], "ubssSum_int2",
                         ["baseline=c", "treatment=e*"], reference="baseline", mode=mode)  # type: ignore[arg-type]  # fmt: skip
        rows = table_rows(summary)
        assert float(rows[3][2]) == pytest.approx(lib.summary["mean"][3], rel=1e-3)
    # ratio: the planted effect shows (treatment / control of the treatment group ~ 1.5)
    fig, *_ = render(call, ready, mode="ratio")
    means = [t["y"] for t in fig["data"] if t.get("mode") == "lines+markers"]
    assert means[1][1] / means[0][1] == pytest.approx(1.5, abs=0.15)
    # cohorts off: one line; SD error bars; no reference chosen -> said so
    fig, _, _, msgs, _ = render(call, ready, mode="ratio", cohorts=False, error="sd")
    assert [t["name"] for t in fig["data"] if t.get("mode") == "lines+markers"] == ["all (4 maps)"]
    assert "mean ± SD" in fig["layout"]["legend"]["title"]["text"]
    _, _, _, msgs, _ = render(call, ready, mode="ratio", reference=None)
    assert "Choose a reference group" in json.dumps(msgs)


def test_runs_click_through_to_the_viewer(call: PoolCaller) -> None:
    ready = pooled(call)
    fig, *_ = render(call, ready, runs=True)
    lines = [t for t in fig["data"] if t["type"] == "scattergl"]
    assert len(lines) == 2
    point = next(c for c in lines[0]["customdata"] if c)
    map_id, run, sessions = point
    assert map_id.startswith("public/pool_control_") and sessions in ("0,1", "2,3")
    link, url = call([(ids.POOL_RUN_LINK, "children"), (ids.POOL_RUN_URL, "data")],
                     [(ids.POOL_FIGURE, "clickData", {"points": [{"customdata": point}]})],
                     [(ids.POOL_ROI, "value", "spineROI")])  # fmt: skip
    owner, name = map_id.split("/")
    assert url == f"/map/{owner}/{name}?s={sessions}&run={run}&roi=spineROI"
    assert link["props"]["href"] == url and link["props"]["target"] == "_blank"
    # a click on a mean (no customdata) does nothing
    assert call([(ids.POOL_RUN_LINK, "children"), (ids.POOL_RUN_URL, "data")],
                [(ids.POOL_FIGURE, "clickData", {"points": [{"x": 0, "y": 1}]})],
                [(ids.POOL_ROI, "value", "spineROI")]) == [NO_UPDATE, NO_UPDATE]  # fmt: skip


def test_exports(call: PoolCaller) -> None:
    ready = pooled(call)
    state = [(ids.POOL_READY, "data", ready), (ids.POOL_MODE, "value", "ratio"),
             (ids.POOL_REFERENCE, "value", "baseline"), (ids.POOL_COHORTS, "value", True)]  # fmt: skip
    (d,) = call([(ids.POOL_DOWNLOAD, "data")],
                [(ids.POOL_EXPORT_TIDY, "n_clicks", 1), (ids.POOL_EXPORT_SUMMARY, "n_clicks", None)], state,
                changed=[f"{ids.POOL_EXPORT_TIDY}.n_clicks"])  # fmt: skip
    assert d["filename"] == "pool_ubssSum_int2_tidy.csv"
    tidy = pd.read_csv(io.StringIO(d["content"]))
    assert list(tidy.columns) == ["map", "run", "cohort", "group", "value", "raw", "n_sessions"]
    assert set(tidy["map"]) == set(POOL_IDS)
    (d,) = call([(ids.POOL_DOWNLOAD, "data")],
                [(ids.POOL_EXPORT_TIDY, "n_clicks", 1), (ids.POOL_EXPORT_SUMMARY, "n_clicks", 1)], state,
                changed=[f"{ids.POOL_EXPORT_SUMMARY}.n_clicks"])  # fmt: skip
    assert d["filename"] == "pool_ubssSum_int2_summary.csv"
    assert d["content"].splitlines()[0] == "cohort,group,mean,sd,sem,n"
    assert len(d["content"].splitlines()) == 5


# --------------------------------------------------------------------------- bad input


def test_bad_input_is_reported_by_name(call: PoolCaller) -> None:
    cat = catalog(call)
    # nothing to pool yet: say what is missing
    _, _, msgs = prepare(call, cat, [], stat="ubssSum_int2")
    assert "Choose at least one map." in json.dumps(msgs)
    _, _, msgs = prepare(call, cat, POOL_IDS, groups=[["x", "#a"], ["x2", ""]])
    text = json.dumps(msgs, ensure_ascii=False)
    assert "'#a' is not a session index term" in text and "the pattern is empty" in text
    # the tiny map lacks ubssSum_int2; a group matches nothing anywhere
    ready = pooled(call, maps=[*POOL_IDS, "public/tiny"])
    _, _, _, msgs, _ = render(call, ready)
    text = json.dumps(msgs)
    assert "map public/tiny has no statistic 'ubssSum_int2'; left out" in text
    cat = catalog(call)
    ready, job, _ = prepare(call, cat, POOL_IDS, groups=[["baseline", "c"], ["never", "zz"]])
    ready = compute(call, job) if ready is NO_UPDATE else ready
    fig, _, _, msgs, _ = render(call, ready)
    assert "group 'never' (pattern 'zz') matches no session in any map" in json.dumps(msgs)
    assert fig["data"]  # the other group is still drawn
    # nothing at all: an empty figure with words, and the reasons
    ready, job, _ = prepare(call, cat, ["public/tiny"], stat="ubssSum_int2")
    ready = compute(call, job) if ready is NO_UPDATE else ready
    fig, _, _, msgs, _ = render(call, ready)
    assert "Nothing to show" in json.dumps(fig["layout"]["annotations"])
    assert "no map could be pooled" in json.dumps(msgs)


def test_a_map_saved_after_pooling_is_read_again(call: PoolCaller, data_dir: Path) -> None:
    ready = pooled(call)
    hdr = data_dir / "public" / "pool_control_01" / "pool_control_01.txt"
    hdr.write_text(hdr.read_text().replace("mapCond\tcontrol", "mapCond\ttreatment"))
    cat = catalog(call)
    ready2, job, _ = prepare(call, cat, POOL_IDS)
    assert ready2 is NO_UPDATE  # a new data version: not cached
    ready2 = compute(call, job)
    assert ready2["bundle"] != ready["bundle"]
    fig, *_ = render(call, ready2)
    names = [t.get("name") for t in fig["data"] if t.get("mode") == "lines+markers"]
    assert names == ["control (1 maps)", "treatment (3 maps)"]


def test_compute_reports_progress_and_reuses_maps(app: Any) -> None:
    from app.services import pooling as svc

    spec = svc.PoolSpec(tuple(POOL_IDS), "ubssSum_int2", (("baseline", "c"), ("treatment", "e*")))
    seen: list[tuple[int, int]] = []
    with app.server.test_request_context("/"):
        p = svc.plan(spec)
        assert not svc.is_ready(p)
        svc.compute_bundle(p, lambda d, t: seen.append((d, t)), workers=1)
        assert seen[0] == (0, 4) and seen[-1] == (4, 4) and len(seen) == 5
        assert svc.is_ready(p)
        # one more map: the four already read come from the cache
        seen.clear()
        p2 = svc.plan(svc.PoolSpec((*POOL_IDS, "public/tiny"), spec.stat, spec.groups))
        svc.compute_bundle(p2, lambda d, t: seen.append((d, t)), workers=1)
        assert seen == [(4, 5), (5, 5)]
        gvs, dyns, problems = svc.load_bundle(p2.bundle)  # type: ignore[misc]
        assert [g.label for g in gvs] == [*POOL_IDS, "public/tiny"] and problems == []
        assert not gvs[-1].included and dyns[-1].included
    # the background callback is bound with a progress bar, a running state and cancel
    bg = [v for k, v in app.callback_map.items() if k.startswith("pmm-pool-ready.data@")]
    assert len(bg) == 1 and bg[0].get("background")


def _group_rows_call(call: PoolCaller, cat: list[dict[str, Any]], maps: list[str],
                     rows: list[tuple[str, str]]) -> Any:  # fmt: skip
    """group_rows as the browser calls it when the chosen maps change."""
    (out,) = call(
        [(ids.POOL_GROUP_ROWS, "children")],
        [(ids.POOL_MAPS, "value", maps), (ids.POOL_GROUPS_RESET, "n_clicks", None),
         (ids.POOL_GROUPS_ADD, "n_clicks", None),
         ({"type": ids.POOL_GROUP_DELETE, "index": ["ALL"]}, "n_clicks", [None] * len(rows))],
        [({"type": ids.POOL_GROUP_NAME, "index": ["ALL"]}, "value", [n for n, _ in rows]),
         ({"type": ids.POOL_GROUP_PATTERN, "index": ["ALL"]}, "value", [p for _, p in rows]),
         (ids.POOL_CATALOG, "data", cat)],
    )  # fmt: skip
    if out is NO_UPDATE:
        return NO_UPDATE
    return [(r["props"]["children"][0]["props"]["value"], r["props"]["children"][1]["props"]["value"]) for r in out]


def test_groups_follow_the_chosen_maps(call: PoolCaller) -> None:
    cat = catalog(call)
    auto = [("c", "c"), ("e1", "e1"), ("e2", "e2")]
    # automatic groups follow the maps: the tiny map alone has other sessions
    tiny = next(e for e in cat if e["id"] == "public/tiny")
    got = _group_rows_call(call, cat, ["public/tiny"], auto)
    want = [(g, g) for g in dict.fromkeys(c for c in tiny["conditions"] if c)] or [
        (f"s{j}", f"#{j}") for j in range(len(tiny["conditions"]))
    ]
    assert got == want and got != auto
    # back to the pool: the pool's groups again, in session order
    assert _group_rows_call(call, cat, POOL_IDS, got) == auto
    # the same maps again: nothing to redo
    assert _group_rows_call(call, cat, POOL_IDS, auto) is NO_UPDATE
    # the user's own groups stay when the maps change ...
    own = [("baseline", "c"), ("treatment", "e*")]
    assert _group_rows_call(call, cat, ["public/tiny"], own) is NO_UPDATE
    # ... and one matching none of the chosen maps is flagged and left out of the pool
    out = [({"type": ids.POOL_GROUP_MATCH, "index": ["ALL"]}, "children"), (ids.POOL_GROUPS, "data"),
           (ids.POOL_REFERENCE, "options"), (ids.POOL_REFERENCE, "value")]  # fmt: skip
    matches, data, options, ref = call(
        out,
        [({"type": ids.POOL_GROUP_NAME, "index": ["ALL"]}, "value", ["baseline", "treatment"]),
         ({"type": ids.POOL_GROUP_PATTERN, "index": ["ALL"]}, "value", ["c", "e*"]),
         (ids.POOL_MAPS, "value", POOL_IDS[:1])],
        [(ids.POOL_CATALOG, "data", cat), (ids.POOL_REFERENCE, "value", "baseline"), (ids.POOL_GROUPS, "data", [])],
    )  # fmt: skip
    assert matches == ["✓ 2 sessions in 1 of 1 maps", "✓ 2 sessions in 1 of 1 maps"]
    assert data == [["baseline", "c"], ["treatment", "e*"]] and ref == "baseline"
    matches, data, options, ref = call(
        out,
        [({"type": ids.POOL_GROUP_NAME, "index": ["ALL"]}, "value", ["baseline", "other"]),
         ({"type": ids.POOL_GROUP_PATTERN, "index": ["ALL"]}, "value", ["c", "zz*"]),
         (ids.POOL_MAPS, "value", POOL_IDS[:1])],
        [(ids.POOL_CATALOG, "data", cat), (ids.POOL_REFERENCE, "value", "other"), (ids.POOL_GROUPS, "data", [])],
    )  # fmt: skip
    assert matches[1] == "✗ matches none of the chosen maps; left out"
    assert data == [["baseline", "c"]] and [o["value"] for o in options] == ["baseline"] and ref == "baseline"


def test_many_groups_keep_their_labels_and_the_legend_off_the_data(call: PoolCaller) -> None:
    groups = [[f"group{k}", f"#{k % 4}"] for k in range(7)]
    ready = pooled(call, groups=groups)
    fig, dfig, _, _, _ = render(call, ready, reference=None)
    x = fig["layout"]["xaxis"]
    # every group is a tick with its n = line; the margin grows to hold them, turned so
    # neighbours never overlap
    assert [t.split("<br>")[0] for t in x["ticktext"]] == [g[0] for g in groups]
    assert all("n = " in t for t in x["ticktext"])
    assert x["automargin"] is True and x["tickangle"] == -30
    assert dfig["layout"]["xaxis3"]["automargin"] is True and dfig["layout"]["xaxis3"]["tickangle"] == -30
    # the legend sits above the plot area (paper y > 1), with what the points are as its title
    legend = fig["layout"]["legend"]
    assert legend["y"] > 1 and legend["yanchor"] == "bottom" and legend["orientation"] == "h"
    assert legend["title"]["text"].startswith("mean ± SEM")
    assert not any("mean ±" in a["text"] for a in fig["layout"]["annotations"])
    # two groups: level labels
    fig, _, _, _, _ = render(call, pooled(call), reference=None)
    assert fig["layout"]["xaxis"]["tickangle"] == 0
