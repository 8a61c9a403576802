"""The map page's tables card (spine table, runs x sessions, dynamics, go to run, exports),
called as the browser does, checked against the map's own data."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import dash
import numpy as np
import pytest

from app import ids
from pymapmanager import Map, dynamics_summary, load_map, map_values
from tests.callbacks.conftest import NO_UPDATE, DashCaller


def _ref(name: str) -> dict[str, str]:
    return {"owner": "public", "name": name, "version": ""}


@pytest.fixture(scope="module")
def nine(data_dir: Path) -> Map:
    return load_map(data_dir / "public" / "nine")


def _setup(call: DashCaller, name: str, sessions: list[int], current: int | None = None) -> list[Any]:
    return call(
        [(ids.TABLE_SESSION, "options"), (ids.TABLE_SESSION, "value"), (ids.TABLE_STATS, "options"), (ids.TABLE_STATS, "value")],
        [(ids.SESSIONS, "value", sessions), (ids.MAP_REF, "data", _ref(name)), (ids.DEFER_TABLES, "shown", True)],
        [(ids.TABLE_SESSION, "value", current)],
        changed=[f"{ids.MAP_REF}.data"],
    )


def test_table_setup_offers_every_session_and_the_statistics(call: DashCaller, nine: Map) -> None:
    opts, value, stat_opts, stats = _setup(call, "nine", [3, 4, 5])
    assert [o["value"] for o in opts] == list(range(9))
    assert f"day {round(nine.sessions[4].days)}" in opts[4]["label"]
    assert value == 3  # the first shown session
    offered = [o["value"] for o in stat_opts]
    assert "days" not in offered and "session" not in offered and "pDist" in offered
    assert stats and set(stats) <= set(offered) and "pDist" in stats
    # nothing is computed while the tables are not shown yet (the first planes come first)
    got = call(
        [(ids.TABLE_SESSION, "options"), (ids.TABLE_SESSION, "value"), (ids.TABLE_STATS, "options"), (ids.TABLE_STATS, "value")],
        [(ids.SESSIONS, "value", [3, 4, 5]), (ids.MAP_REF, "data", _ref("nine")), (ids.DEFER_TABLES, "shown", False)],
        [(ids.TABLE_SESSION, "value", None)],
        changed=[f"{ids.MAP_REF}.data"],
    )
    assert got == [NO_UPDATE] * 4
    # a session chosen already is kept
    _, value, _, _ = _setup(call, "nine", [3, 4, 5], current=7)
    assert value is NO_UPDATE


def _table(call: DashCaller, session: int, stats: list[str], shown_columns: Any = None) -> list[Any]:
    return call(
        [(ids.TABLE_GRID, "rowData"), (ids.TABLE_GRID, "columnDefs"), (ids.TABLE_INFO, "children")],
        [
            (ids.TABLE_SESSION, "value", session),
            (ids.TABLE_STATS, "value", stats),
            (ids.PLOT_ROI, "value", "spineROI"),
            (ids.EDIT_VERSION, "data", None),
        ],
        [(ids.MAP_REF, "data", _ref("nine")), (ids.TABLE_GRID, "columnDefs", shown_columns)],
    )


def test_another_session_sends_new_rows_and_the_columns_only_when_they_change(call: DashCaller) -> None:
    """A selection in another session gives the table that session's rows; the columns the
    grid has already are not sent again (AG Grid would build every header and cell again)."""
    rows4, cols, _ = _table(call, 4, ["pDist", "sLen3d_int1"])
    rows5, cols5, info = _table(call, 5, ["pDist", "sLen3d_int1"], shown_columns=cols)
    assert cols5 is NO_UPDATE
    assert rows5 and rows5 != rows4 and "session 5" in info
    # other statistics: other columns, sent
    _, cols_z, _ = _table(call, 5, ["pDist"], shown_columns=cols)
    assert [c["field"] for c in cols_z] == ["run", "segment", "dynamics", "bad", "z", "pDist"]


def test_spine_table_is_the_sessions_objects_with_their_statistics(call: DashCaller, nine: Map) -> None:
    rows, cols, info = _table(call, 4, ["pDist", "sLen3d_int1", "nope"])
    mask = nine.roi_type_mask(4, "spineROI")
    assert len(rows) == int(mask.sum()) > 600
    assert f"{len(rows)} spineROI objects in session 4" in info and "nope" in info
    # one row per run, each the run's object in session 4, with its values
    mv = map_values(nine, "pDist", roi="spineROI", include_bad=True)
    by_run = {int(r): i for i, r in enumerate(mv.runs)}
    assert len({r["run"] for r in rows}) == len(rows)
    pdist = nine.column(4, "pDist")
    for r in rows[:50]:
        assert int(mv.rows[by_run[r["run"]], 4]) == r["row"]
        assert math.isclose(r["pDist"], float(pdist[r["row"]]), rel_tol=1e-9)
    fields = [c["field"] for c in cols]
    assert fields == ["run", "segment", "dynamics", "bad", "z", "pDist", "sLen3d_int1"]
    num = {c["field"]: c for c in cols}
    assert num["pDist"]["filter"] == "agNumberColumnFilter" and "d3.format" in num["pDist"]["valueFormatter"]["function"]


def test_a_selection_makes_no_server_round_trip(app: dash.Dash) -> None:
    """The grids' selected row and the table's session follow a selection in the browser
    (app/assets/70-pmm-dash.js, FOLLOW_SELECTION_SESSION): no server callback takes it."""
    for cb in app._callback_list:
        inputs = {i["id"] + "." + i["property"] for i in cb["inputs"]}
        if f"{ids.SELECTION}.data" in inputs and not cb.get("clientside_function"):
            outputs = str(cb["output"])
            assert ids.TABLE_GRID not in outputs and ids.RUNS_GRID not in outputs and ids.TABLE_SESSION not in outputs, outputs


def _runs(call: DashCaller, y: str = "ubssSum_int2", segment: int = -1, bad: bool = False) -> list[Any]:
    return call(
        [(ids.RUNS_GRID, "rowData"), (ids.RUNS_GRID, "columnDefs"), (ids.RUNS_INFO, "children")],
        [
            (ids.PLOT_X, "value", "pDist"),
            (ids.PLOT_Y, "value", y),
            (ids.PLOT_SEGMENT, "value", segment),
            (ids.PLOT_ROI, "value", "spineROI"),
            (ids.PLOT_BAD, "value", bad),
            (ids.EDIT_VERSION, "data", None),
            (ids.DEFER_TABLES, "shown", True),
        ],
        [(ids.MAP_REF, "data", _ref("nine"))],
    )


def test_runs_by_sessions_of_the_plotted_statistic(call: DashCaller, nine: Map) -> None:
    rows, cols, info = _runs(call, segment=2)
    mv = map_values(nine, "ubssSum_int2", roi="spineROI", segment=2)
    assert [r["run"] for r in rows] == [int(r) for r in mv.runs]
    assert [c["field"] for c in cols] == ["run", "segment", "n"] + [f"s{j}" for j in range(9)]
    assert {r["segment"] for r in rows} == {2}
    for r, vals, present in zip(rows, mv.values, mv.present(), strict=True):
        assert r["n"] == int(present.sum())
        for j in range(9):
            if present[j]:
                assert math.isclose(r[f"s{j}"], float(vals[j]), rel_tol=1e-9)
            else:
                assert r[f"s{j}"] is None
    assert "ubssSum_int2" in info and "segment 2" in info


def test_dynamics_panel_per_session_and_segment(call: DashCaller, nine: Map) -> None:
    fig, rows, cols = call(
        [(ids.DYN_FIGURE, "figure"), (ids.DYN_GRID, "rowData"), (ids.DYN_GRID, "columnDefs")],
        [(ids.PLOT_ROI, "value", "spineROI"), (ids.PLOT_BAD, "value", False), (ids.PLOT_SEGMENT, "value", -1), (ids.DEFER_TABLES, "shown", True)],
        [(ids.MAP_REF, "data", _ref("nine"))],
    )
    df = dynamics_summary(nine, roi="spineROI")
    assert len(rows) == len(df) == 4 * 9
    for r, (_, d) in zip(rows, df.iterrows(), strict=True):
        assert (r["segment"], r["session"], r["n"]) == (d["segment"], d["session"], d["n"])
        if r["session"] == 0:
            assert r["added"] is None and r["persistent"] is None
        else:
            assert (r["added"], r["subtracted"]) == (d["added"], d["subtracted"])
            assert r["persistent"] == d["n"] - d["added"]
            assert math.isclose(r["pct_added"], d["pct_added"]) and math.isclose(r["density"], d["density"])
        assert r["day"] == round(nine.sessions[r["session"]].days)
    assert {"added", "subtracted", "persistent", "density"} <= {c["field"] for c in cols}
    bars = {t["name"]: t for t in fig["data"]}
    assert set(bars) == {"persistent", "added", "subtracted", "density /µm"}
    # the figure sums the segments: objects per session = persistent + added
    n = df.groupby("session")["n"].sum().to_numpy()
    stacked = np.asarray(bars["persistent"]["y"]) + np.asarray(bars["added"]["y"])
    assert stacked.tolist() == n.tolist()
    assert all(v <= 0 for v in bars["subtracted"]["y"])


def _go(call: DashCaller, value: Any) -> list[Any]:
    return call(
        [(ids.TABLE_PICK, "data"), (ids.GOTO_RUN_MSG, "children")],
        [(ids.GOTO_RUN_GO, "n_clicks", 1), (ids.GOTO_RUN, "n_submit", None)],
        [(ids.GOTO_RUN, "value", value), (ids.MAP_REF, "data", _ref("nine"))],
    )


def test_go_to_run(call: DashCaller, nine: Map) -> None:
    pick, msg = _go(call, 12)
    assert pick["run"] == 12 and pick["source"] == "table" and pick["session"] is None and msg == ""
    n = nine.runs_of("spineROI").shape[0]
    pick, msg = _go(call, n)
    assert pick is NO_UPDATE and f"no run {n}" in msg and f"0 to {n - 1}" in msg
    pick, msg = _go(call, None)
    assert pick is NO_UPDATE and "run number" in msg


def _export(call: DashCaller, button: str, x: str = "pDist", y: str = "ubssSum_int2", segment: int = -1) -> dict[str, Any]:
    (dl,) = call(
        [(ids.MAP_DOWNLOAD, "data")],
        [(ids.EXPORT_VALUES_WIDE, "n_clicks", 1), (ids.EXPORT_VALUES_TIDY, "n_clicks", 1), (ids.EXPORT_DYNAMICS, "n_clicks", 1)],
        [
            (ids.PLOT_X, "value", x),
            (ids.PLOT_Y, "value", y),
            (ids.PLOT_SEGMENT, "value", segment),
            (ids.PLOT_ROI, "value", "spineROI"),
            (ids.PLOT_BAD, "value", False),
            (ids.MAP_REF, "data", _ref("nine")),
        ],
        changed=[f"{button}.n_clicks"],
    )
    return dl  # type: ignore[no-any-return]


def _csv_rows(dl: dict[str, Any]) -> list[dict[str, str]]:
    assert dl["base64"] is False and dl["type"] == "text/csv"
    return list(csv.DictReader(io.StringIO(dl["content"])))


def test_export_plotted_values_runs_by_sessions(call: DashCaller, nine: Map) -> None:
    dl = _export(call, ids.EXPORT_VALUES_WIDE, segment=1)
    assert dl["filename"] == "nine_ubssSum_int2_segment1_runs_x_sessions.csv"
    rows = _csv_rows(dl)
    my = map_values(nine, "ubssSum_int2", roi="spineROI", segment=1)
    mx = map_values(nine, "pDist", roi="spineROI", segment=1)
    assert [int(r["run"]) for r in rows] == [int(r) for r in my.runs]
    assert list(rows[0]) == ["run", "segment"] + [f"pDist_s{j}" for j in range(9)] + [f"ubssSum_int2_s{j}" for j in range(9)]
    for r, yv, xv in zip(rows, my.values, mx.values, strict=True):
        for j in range(9):
            for text, v in ((r[f"ubssSum_int2_s{j}"], yv[j]), (r[f"pDist_s{j}"], xv[j])):
                assert (text == "") == bool(np.isnan(v))
                if text:
                    assert math.isclose(float(text), float(v), rel_tol=1e-5)
    # a per-session x (days) is not repeated for every run
    rows = _csv_rows(_export(call, ids.EXPORT_VALUES_WIDE, x="days"))
    assert not any(k.startswith("days") for k in rows[0])


def test_export_plotted_values_tidy(call: DashCaller, nine: Map) -> None:
    dl = _export(call, ids.EXPORT_VALUES_TIDY)
    assert dl["filename"] == "nine_pDist_ubssSum_int2_tidy.csv"
    rows = _csv_rows(dl)
    my = map_values(nine, "ubssSum_int2", roi="spineROI")
    assert len(rows) == int(my.present().sum())
    assert list(rows[0]) == ["run", "session", "segment", "dynamics", "bad", "pDist", "ubssSum_int2"]
    assert {r["dynamics"] for r in rows} <= {"added", "subtracted", "transient", "persistent"}
    i = {int(r): k for k, r in enumerate(my.runs)}
    for r in rows[:200]:
        assert math.isclose(float(r["ubssSum_int2"]), float(my.values[i[int(r["run"])], int(r["session"])]), rel_tol=1e-5)


def test_export_dynamics(call: DashCaller, nine: Map) -> None:
    dl = _export(call, ids.EXPORT_DYNAMICS)
    assert dl["filename"] == "nine_dynamics.csv"
    rows = _csv_rows(dl)
    df = dynamics_summary(nine, roi="spineROI")
    assert len(rows) == len(df)
    assert list(rows[0])[:8] == ["segment", "session", "day", "n", "n_bad", "added", "subtracted", "persistent"]
    assert [int(r["n"]) for r in rows] == df["n"].tolist()


def test_export_the_open_tables_as_shown(call: DashCaller) -> None:
    def export(tab: str) -> list[Any]:
        return call(
            [
                (ids.TABLE_GRID, "exportDataAsCsv"),
                (ids.TABLE_GRID, "csvExportParams"),
                (ids.RUNS_GRID, "exportDataAsCsv"),
                (ids.RUNS_GRID, "csvExportParams"),
                (ids.DYN_GRID, "exportDataAsCsv"),
                (ids.DYN_GRID, "csvExportParams"),
            ],
            [(ids.EXPORT_TABLE, "n_clicks", 1)],
            [(ids.MAP_TABS, "active_tab", tab), (ids.TABLE_SESSION, "value", 3), (ids.PLOT_Y, "value", "pDist"), (ids.MAP_REF, "data", _ref("nine"))],
        )

    out = export("spines")
    assert out[0] is True and out[1] == {"fileName": "nine_session3_spines.csv"} and out[2] is NO_UPDATE
    out = export("runs")
    assert out[0] is NO_UPDATE and out[2] is True and out[3] == {"fileName": "nine_pDist_runs_table.csv"}
    out = export("dynamics")
    assert out[4] is True and out[5] == {"fileName": "nine_dynamics_table.csv"}
