"""The map viewer page's server callbacks, called as the browser does."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import dash
import numpy as np
from dash import html

from app import ids
from app.components.map_setup import PageSetup, page_setup
from app.figures.colors import dynamics_colors_for_js
from app.state import PREFS_COOKIE, DisplayPrefs, ViewState
from callbacks import map_viewer as map_viewer_callbacks
from pages import map_viewer
from pymapmanager import Map, load_map, map_values
from tests.callbacks.conftest import NO_UPDATE, DashCaller
from tests.support.components import find as _find


def _ref(name: str = "demo") -> dict[str, str]:
    return {"owner": "public", "name": name, "version": ""}


def _load(call: DashCaller, name: str = "demo", query: dict[str, str] | None = None, prefs: DisplayPrefs | None = None) -> dict[str, Any]:
    """Open a map's page as the browser does when moving to it (Dash's pages router): what
    the page's setup set, by ``id.property``."""
    if prefs is not None:
        call.client.set_cookie(PREFS_COOKIE, prefs.to_cookie())
    try:
        content, _store = call(
            [("_pages_content", "children"), ("_pages_store", "data")],
            [("_pages_location", "pathname", f"/map/public/{name}"), ("_pages_location", "search", "?" + urlencode(query or {}))],
        )
    finally:
        call.client.delete_cookie(PREFS_COOKIE)
    return _setup_values(content)


def _setup_values(page: Any) -> dict[str, Any]:
    """What a page's layout says of every property the page's setup sets (None: unset)."""
    out = {}
    for component, prop in PageSetup.targets():
        (found,) = _find(page, lambda c, component=component: c["props"].get("id") == component)
        out[f"{component}.{prop}"] = found["props"].get(prop)
    return out


def _map(data_dir: Path, name: str) -> Map:
    return load_map(data_dir / "public" / name)


def _median_z(m: Map, session: int) -> int:
    z = np.asarray(m.column(session, "z"), dtype=float)[m.roi_type_mask(session, "spineROI")]
    return int(np.floor(np.median(z) + 0.5))


def _by_type(tree: Any, kind: str) -> list[dict[str, Any]]:
    return _find(tree, lambda c: c.get("type") == kind)


def _by_id_type(tree: Any, kind: str) -> list[dict[str, Any]]:
    return _find(tree, lambda c: isinstance(c["props"].get("id"), dict) and c["props"]["id"].get("type") == kind)


def _json(component: Any) -> Any:
    """A Dash component as the browser gets it (JSON)."""
    return json.loads(json.dumps(component.to_plotly_json(), default=lambda o: o.to_plotly_json()))


def _text(component: Any) -> str:
    return json.dumps(component)


def test_page_setup_is_one_typed_object_whose_fields_are_what_it_sets(app: dash.Dash) -> None:
    names = [f.name for f in dataclasses.fields(PageSetup)]
    targets = PageSetup.targets()
    assert len(targets) == len(names) == len(PageSetup().values())
    assert all(v is dash.no_update for v in PageSetup().values())
    assert targets[0] == (ids.MAP_TITLE, "children")
    # every one is on the page's skeleton, once (apply sets them on it)
    skeleton = _json(map_viewer.layout())
    for component, _prop in targets:
        assert len(_find(skeleton, lambda c, component=component: c["props"].get("id") == component)) == 1, component
    assert not hasattr(map_viewer_callbacks, "load_map")  # no second load_map beside the library's


def test_page_setup_fills_the_controls(call: DashCaller, data_dir: Path) -> None:
    v = _load(call)
    assert v["pmm-map-title.children"] == "demo"
    assert "4 sessions" in v["pmm-map-subtitle.children"] and "mc1" in v["pmm-map-subtitle.children"]
    assert v["pmm-map-error.children"] is None and v["pmm-map-notice.children"] is None
    assert v["pmm-map-body.style"] == {}
    assert [o["value"] for o in v["pmm-sessions.options"]] == [0, 1, 2, 3]
    assert v["pmm-sessions.value"] == [0, 1, 2, 3]
    assert [o["value"] for o in v["pmm-channel.options"]] == [1, 2]
    assert v["pmm-channel.value"] == 1
    stats = [o["value"] for o in v["pmm-plot-x.options"]]
    for s in ("days", "session", "pDist", "sLen3d_int1", "ubssSum_int2"):
        assert s in stats
    assert (v["pmm-plot-x.value"], v["pmm-plot-y.value"]) == ("pDist", "session")
    assert [o["value"] for o in v["pmm-plot-segment.options"]] == [-1, 0, 1]
    assert v["pmm-plot-roi.value"] == "spineROI"
    # no plane asked for: none is sent, each viewer opens at its ViewerMeta.default_z
    assert v["pmm-slice.data"] == {"z": {}}
    v = _load(call, query={"s": "2,3"})
    assert v["pmm-slice.data"] == {"z": {}}
    assert v["pmm-selection.data"] == {"run": None, "session": None, "source": "init"}


def test_session_labels_show_whole_days(call: DashCaller, data_dir: Path) -> None:
    m = _map(data_dir, "nine")
    assert any(not float(s.days).is_integer() for s in m.sessions)  # the header has clock times
    v = _load(call, name="nine")
    labels = [o["label"] for o in v["pmm-sessions.options"]]
    for s, label in zip(m.sessions, labels, strict=True):
        assert f"day {round(s.days)}" in label
        assert not re.search(r"day \d+\.\d", label)
    assert v["pmm-sessions.value"] == [0, 1, 2, 3, 4, 5]


def test_page_setup_follows_the_url(call: DashCaller, data_dir: Path) -> None:
    v = _load(call, query={"s": "1,3", "z": "2,4", "ch": "2", "roi": "spineROI"})
    assert v["pmm-sessions.value"] == [1, 3]
    assert v["pmm-channel.value"] == 2
    assert v["pmm-slice.data"] == {"z": {"1": 2, "3": 4}}
    assert v["pmm-map-notice.children"] is None


def test_out_of_range_url_values_are_replaced_and_named(call: DashCaller, data_dir: Path) -> None:
    m = _map(data_dir, "demo")
    v = _load(call, query={"s": "1,99", "z": "99999", "ch": "9", "run": "100000", "roi": "dendriteROI"})
    assert v["pmm-sessions.value"] == [1]
    assert v["pmm-slice.data"] == {"z": {"1": _median_z(m, 1)}}
    assert v["pmm-channel.value"] == 1
    assert v["pmm-plot-roi.value"] == "spineROI"
    assert v["pmm-selection.data"] == {"run": None, "session": None, "source": "init"}
    notice = _text(v["pmm-map-notice.children"])
    for bit in ("s=99", "z=99999", "ch=9", "run=100000", "roi=dendriteROI"):
        assert bit in notice, bit
    alert = v["pmm-map-notice.children"][0]
    assert alert["type"] == "Alert" and alert["props"]["dismissable"] is True


def test_unreadable_url_values_are_named(call: DashCaller) -> None:
    query = {"ch": "-1", "proj": "bogus", "z": "abc", "k": "0", "link": "maybe", "zoom": "3"}
    view = ViewState.from_query(query)
    assert view.channel is None and view.projection == "none" and view.z == () and view.k == 2 and view.link
    v = _load(call, query=query)
    notice = _text(v["pmm-map-notice.children"])
    for bit in ("ch=-1", "proj=bogus", "z=abc", "k=0", "link=maybe", "zoom=3"):
        assert bit in notice, bit
    assert v["pmm-sessions.value"] == [0, 1, 2, 3]


def test_load_map_default_channel_preference(call: DashCaller) -> None:
    v = _load(call, prefs=DisplayPrefs(default_channel=2))
    assert v["pmm-channel.value"] == 2
    v = _load(call, query={"ch": "1"}, prefs=DisplayPrefs(default_channel=2))
    assert v["pmm-channel.value"] == 1


def test_a_map_that_cannot_be_opened_hides_the_page_and_links_back(app: dash.Dash) -> None:
    # (the page's address is checked first: an unknown map gets the not-found page, below;
    # this is a map gone or broken between that check and its setup)
    with app.server.test_request_context("/map/public/nosuchmap"):
        setup = page_setup({"owner": "public", "name": "nosuchmap"}, {}, {})
        v = _setup_values(_json(setup.apply(map_viewer.layout())))
    error = _text(v["pmm-map-error.children"])
    assert "nosuchmap" in error and '"href": "/"' in error
    assert v["pmm-map-body.style"] == {"display": "none"}
    assert setup.sessions is dash.no_update and v["pmm-sessions.value"] == []


def test_a_map_without_tracing_says_so(call: DashCaller) -> None:
    v = _load(call, name="notrace")
    assert "no tracing" in v["pmm-map-subtitle.children"]
    assert "no dendrite tracing" in _text(v["pmm-map-notice.children"])
    assert "tracing" not in _text(_load(call, name="demo")["pmm-map-notice.children"])


def test_unknown_map_page_is_a_not_found_page(app: dash.Dash, call: DashCaller) -> None:
    content, store = call(
        [("_pages_content", "children"), ("_pages_store", "data")],
        [("_pages_location", "pathname", "/map/public/nosuchmap"), ("_pages_location", "search", "")],
    )
    assert "Map not found" in _text(content) and ids.SESSIONS not in _text(content)
    with app.server.test_request_context("/map/public/nosuchmap"):
        page = map_viewer.layout(owner="public", name="nosuchmap")
    text = json.dumps(page.to_plotly_json(), default=lambda o: o.to_plotly_json())
    assert "Map not found" in text and "public/nosuchmap" in text and '"href": "/"' in text
    assert ids.MAP_BODY not in text and ids.SESSIONS not in text


def _viewers(
    call: DashCaller, sessions: list[int], name: str = "demo", roi: str | None = "spineROI",
    built: list[Any] | None = None, layers: list[Any] | None = None,
) -> Any:  # fmt: skip
    (grid,) = call(
        [(ids.VIEWER_GRID, "children")],
        [(ids.SESSIONS, "value", sessions), (ids.PLOT_ROI, "value", roi)],
        [
            (ids.MAP_REF, "data", _ref(name)),
            (ids.PREFS, "data", {"spine_size": 9, "label_mode": "condition"}),
            # the viewers shown (pattern-matching states: their values as a list)
            (ids.viewer_meta(["ALL"]), "data", built or []),
            (ids.viewer_spines(["ALL"]), "hideout", layers or []),
        ],
    )
    return grid


def test_the_page_setup_brings_the_first_viewers_and_they_are_not_made_twice(call: DashCaller) -> None:
    v = _load(call, query={"s": "1,3"})
    grid = v[f"{ids.VIEWER_GRID}.children"]
    assert [f["props"]["id"]["index"] for f in _by_id_type(grid, ids.VIEWER)] == [1, 3]
    metas = [m["props"]["data"] for m in _by_id_type(grid, ids.VIEWER_META)]
    roi = v[f"{ids.PLOT_ROI}.value"]
    layers = [g["props"]["hideout"] for g in _by_id_type(grid, ids.VIEWER_SPINES)]
    assert [h["roi"] for h in layers] == [roi, roi]
    # the sessions and ROI the setup then sets: those viewers are shown already
    assert _viewers(call, [3, 1], roi=roi, built=metas, layers=layers) is NO_UPDATE
    # another ROI type, other sessions: new viewers
    assert _viewers(call, [1, 3], roi="all", built=metas, layers=layers) is not NO_UPDATE
    assert _viewers(call, [1, 2, 3], roi=roi, built=metas, layers=layers) is not NO_UPDATE


def test_build_viewers_one_per_session(call: DashCaller) -> None:
    grid = _viewers(call, [2, 0])
    frames = _by_id_type(grid, ids.VIEWER)
    assert [f["props"]["id"]["index"] for f in frames] == [0, 2]
    maps = _by_type(grid, "MapContainer")
    assert len(maps) == 2 and all(m["props"]["crs"] == "Simple" for m in maps)
    # the whole image in view, pixel (row, col) at (-row, col); the image layers are made in
    # the browser (app/assets/20-pmm-layers.js; tests/browser cover them)
    assert maps[0]["props"]["bounds"] == [[-64.0, 0.0], [0.0, 80.0]]
    assert not _by_type(grid, "ImageOverlay") and not _by_type(grid, "TileLayer")
    metas = _by_id_type(grid, ids.VIEWER_META)
    meta = metas[0]["props"]["data"]
    assert meta["planes"] == 6 and meta["rows"] == 64 and meta["columns"] == 80
    assert meta["has_images"] is True and meta["tiled"] is False and meta["channels"] == [1, 2]
    assert meta["image_url"] == "/api/v1/maps/public/demo/sessions/0/planes/"
    assert meta["version"]
    # label in the chosen mode
    labels = _by_id_type(grid, ids.VIEWER_LABEL)
    assert labels[0]["props"]["children"].startswith("Session 0 · c")


def test_large_planes_are_tiled(call: DashCaller) -> None:
    grid = _viewers(call, [0], name="big")
    assert _by_type(grid, "MapContainer")[0]["props"]["bounds"] == [[-1100.0, 0.0], [0.0, 1100.0]]
    # the browser makes a TileLayer of the tile endpoint's levels 0..max_level from these
    meta = _by_id_type(grid, ids.VIEWER_META)[0]["props"]["data"]
    assert meta["tiled"] is True and meta["max_level"] == 3
    assert meta["tile_url"] == "/api/v1/maps/public/big/sessions/0/tiles/"


def test_spines_and_tracing_layers(call: DashCaller) -> None:
    grid = _viewers(call, [0, 1])
    spines = _by_id_type(grid, ids.VIEWER_SPINES)
    feats = spines[0]["props"]["data"]["features"]
    real = [f for f in feats if not f["properties"]["ghost"]]
    ghosts = [f for f in feats if f["properties"]["ghost"]]
    assert real and ghosts
    p = real[0]["properties"]
    assert set(p) >= {"run", "row", "z", "dyn", "bad", "seg", "pDist"}
    assert {f["properties"]["dyn"] for f in real} <= {1, 2, 3, 4}
    # GeoJSON positions are [lng, lat] = [col, -row] inside the image
    for f in real:
        x, y = f["geometry"]["coordinates"]
        assert 0 <= x <= 80 and -64 <= y <= 0
    # a run appears once per session: as the spine, or as a ghost where it is absent
    runs = [f["properties"]["run"] for f in feats]
    assert len(runs) == len(set(runs))
    assert spines[0]["props"]["pointToLayer"] == {"variable": "pmm.spineToLayer"}
    assert spines[0]["props"]["hideout"] == {"session": 0, "size": 9, "colors": dynamics_colors_for_js(), "roi": "spineROI"}
    tracing = _by_id_type(grid, ids.VIEWER_TRACING)
    lines = tracing[0]["props"]["data"]["features"]
    assert len(lines) == 2 and all(f["geometry"]["type"] == "LineString" for f in lines)


def test_viewers_of_a_map_without_images(call: DashCaller) -> None:
    grid = _viewers(call, [0], name="noimg")
    frames = _by_id_type(grid, ids.VIEWER)
    assert "pmm-viewer-empty" in frames[0]["props"]["className"]
    assert "No images for this session" in json.dumps(grid)
    assert not _by_type(grid, "ImageOverlay") and not _by_type(grid, "TileLayer")
    assert _by_type(grid, "Rectangle")
    meta = _by_id_type(grid, ids.VIEWER_META)[0]["props"]["data"]
    assert meta["has_images"] is False and meta["rows"] == 64
    spines = _by_id_type(grid, ids.VIEWER_SPINES)
    assert spines[0]["props"]["data"]["features"]


def test_stack_contrast_per_channel(call: DashCaller) -> None:
    (info,) = call([(ids.CONTRAST_INFO, "data")], [(ids.SESSIONS, "value", [1, 2]), (ids.DEFER_HISTOGRAM, "shown", True)], [(ids.MAP_REF, "data", _ref())])
    assert sorted(info) == ["1", "2"]
    c = info["1"]
    assert c["lo"] <= c["hi"] and c["min"] <= c["lo"] and c["hi"] <= c["max"]
    assert len(c["histogram"]["counts"]) + 1 == len(c["histogram"]["edges"])
    (none,) = call([(ids.CONTRAST_INFO, "data")], [(ids.SESSIONS, "value", [0]), (ids.DEFER_HISTOGRAM, "shown", True)], [(ids.MAP_REF, "data", _ref("noimg"))])
    assert none == {}


def _plot(call: DashCaller, x: str = "days", y: str = "ubssSum_int2", color: str = "dynamics", segment: int = -1, bad: bool = False, run: int | None = None, shown: bool = True) -> tuple[Any, Any]:
    fig, info = call(
        [(ids.PLOT, "figure"), (ids.PLOT_INFO, "children")],
        [
            (ids.PLOT_X, "value", x),
            (ids.PLOT_Y, "value", y),
            (ids.PLOT_COLOR, "value", color),
            (ids.PLOT_SEGMENT, "value", segment),
            (ids.PLOT_ROI, "value", "spineROI"),
            (ids.PLOT_BAD, "value", bad),
            (ids.PREF_PLOT_SIZE, "value", 8),
            (ids.EDIT_VERSION, "data", None),
            (ids.DEFER_PLOT, "shown", shown),
        ],
        [(ids.MAP_REF, "data", _ref()), (ids.SELECTION, "data", {"run": run})],
    )
    return fig, info


def test_plot_runs_joined_and_coloured_by_dynamics(call: DashCaller) -> None:
    # nothing is computed while the plot is not shown yet (the first planes come first)
    assert _plot(call, shown=False) == (NO_UPDATE, NO_UPDATE)
    fig, info = _plot(call)
    data = fig["data"]
    assert data[0]["mode"] == "lines" and None in data[0]["x"]
    names = [t["name"] for t in data[1:]]
    assert set(names) <= {"added", "subtracted", "transient", "persistent"} and "persistent" in names
    # the markers in WebGL; the run lines one SVG path under them (cheaper to redraw)
    assert data[0]["type"] == "scatter" and all(t["type"] == "scattergl" for t in data[1:])
    cd = data[1]["customdata"][0]
    assert len(cd) == 2 and isinstance(cd[0], int)
    assert fig["layout"]["xaxis"]["title"]["text"] == "days"
    assert fig["layout"].get("shapes", []) == []
    assert "runs" in info


def test_plot_by_segment_filters_and_selection(call: DashCaller) -> None:
    fig, _ = _plot(call, color="segment")
    assert {t["name"] for t in fig["data"][1:]} == {"segment 0", "segment 1"}
    fig0, _ = _plot(call, color="segment", segment=0)
    assert {t["name"] for t in fig0["data"][1:]} == {"segment 0"}
    run = fig["data"][1]["customdata"][0][0]
    sel, _ = _plot(call, run=run)
    shapes = sel["layout"]["shapes"]
    assert shapes and all(s["name"] == "pmm-selected" for s in shapes)


def test_plot_points_are_exactly_the_maps_filtered_objects(call: DashCaller, data_dir: Path) -> None:
    m = _map(data_dir, "demo")
    good = map_values(m, "ubssSum_int2", roi="spineROI")
    with_bad = map_values(m, "ubssSum_int2", roi="spineROI", include_bad=True)
    seg0 = map_values(m, "ubssSum_int2", roi="spineROI", segment=0)
    n_good, n_all, n_seg0 = (int(v.present().sum()) for v in (good, with_bad, seg0))
    n_bad = sum(int((m.bad_mask(j) & m.roi_type_mask(j, "spineROI")).sum()) for j in range(m.num_sessions))
    assert n_bad > 0 and n_all == n_good + n_bad and 0 < n_seg0 < n_good  # the data can tell the filters apart

    def points(fig: Any) -> list[list[int]]:
        return [cd for t in fig["data"][1:] for cd in t["customdata"]]

    fig, info = _plot(call)
    assert len(points(fig)) == n_good
    assert f"{len(good.runs)} runs, {n_good} points" in info
    bad_fig, _ = _plot(call, bad=True)
    assert len(points(bad_fig)) == n_all
    crosses = sum(sym == "x" for t in bad_fig["data"][1:] for sym in t["marker"]["symbol"])
    assert crosses == n_bad
    assert len(points(_plot(call, segment=0)[0])) == n_seg0
    # every point is the run's object in that session
    runs = {int(r): i for i, r in enumerate(good.runs)}
    for run, session in points(fig):
        assert good.present()[runs[run], session]


def test_plot_hover_shows_integers_as_integers(call: DashCaller) -> None:
    fig, _ = _plot(call, x="pDist", y="session")
    hover = fig["data"][1]["hovertemplate"]
    assert "%{y:d}" in hover and "%{x:.4~g}" in hover
    fig, _ = _plot(call, x="days", y="ubssSum_int2")
    assert "%{x:d}" in fig["data"][1]["hovertemplate"]


def test_plot_unknown_statistic_is_a_message(call: DashCaller) -> None:
    fig, _ = _plot(call, y="nope")
    assert "nope" in json.dumps(fig["layout"]["annotations"])


def _strip(call: DashCaller, run: int | None, name: str = "demo") -> tuple[Any, Any]:
    strip, info = call(
        [(ids.RUN_STRIP, "children"), (ids.RUN_INFO, "children")],
        [(ids.SELECTION, "data", {"run": run}), (ids.CHANNEL, "value", 2), (ids.PREFS, "data", {"contrast": {"2": [10, 200]}}), (ids.EDIT_VERSION, "data", None)],
        [(ids.PLOT_ROI, "value", "spineROI"), (ids.MAP_REF, "data", _ref(name))],
    )
    return strip, info


def test_run_strip_crops_every_session(call: DashCaller) -> None:
    strip, info = _strip(call, 0)
    assert len(_find(strip, lambda c: "pmm-strip-cell" in c["props"].get("className", "").split())) == 4
    assert strip["props"]["style"] == {"--pmm-strip-cols": "4"}
    imgs = _by_type(strip, "Img")
    assert len(imgs) == 4
    src = imgs[0]["props"]["src"]
    assert "/api/v1/maps/public/demo/sessions/0/crop?" in src and "channel=2" in src and "lo=10" in src
    assert info.startswith("run 0 · in ")


def test_run_strip_absent_and_no_images(call: DashCaller) -> None:
    strip, _ = _strip(call, None)
    assert "Click a point" in json.dumps(strip)
    strip, _ = _strip(call, 0, name="noimg")
    assert "no image" in json.dumps(strip) and not _by_type(strip, "Img")


def test_pages_render_without_arguments_and_with_a_cookie(app: dash.Dash) -> None:
    assert isinstance(map_viewer.layout(), html.Div)
    prefs = DisplayPrefs(spine_size=11, plot_size=4, default_channel=2, label_mode="file")
    with app.server.test_request_context("/map/public/demo", headers={"Cookie": f"pmm_prefs={prefs.to_cookie()}"}):
        page = map_viewer.layout(owner="public", name="demo", s="1,2", z="3", ch="2", run="5")
    text = json.dumps(page.to_plotly_json(), default=lambda o: o.to_plotly_json())
    assert '"value": 11' in text and '"value": "file"' in text
    assert '"spine_size": 11' in text
    assert '"run": 5' in text and '"sessions": [1, 2]' in text


def test_first_page_load_builds_the_validation_layout(client: Any) -> None:
    assert client.get("/").status_code == 200
    assert client.get("/_dash-layout").status_code == 200
    deps = client.get("/_dash-dependencies").get_json()
    outputs = json.dumps(deps)
    assert ids.VIEWER_GRID in outputs and ids.RUN_STRIP in outputs


def _page_container(layout: Any) -> dict[str, Any]:
    """The page container's parts in the app's layout, by id."""
    return {c["props"]["id"]: c for c in _find(layout, lambda c: str(c["props"].get("id", "")).startswith("_pages_"))}


def test_the_layout_comes_with_the_page_the_browser_is_on(client: Any, call: DashCaller) -> None:
    search = "?s=1,3&z=2&ch=2"
    got = client.get("/_dash-layout", headers={"Referer": f"http://localhost/map/public/demo{search}"})
    parts = _page_container(got.get_json())
    # the location knows the address already: it does not ask the router for the page again
    assert parts["_pages_location"]["props"]["pathname"] == "/map/public/demo"
    assert parts["_pages_location"]["props"]["search"] == search
    assert parts["_pages_content"]["props"]["data-pmm-page"] == f"/map/public/demo{search}"
    assert parts["_pages_store"]["props"]["data"] == {"title": "demo · PyMapManager"}
    # the map is open, the first viewers are in it: what the router makes for that address
    page = parts["_pages_content"]["props"]["children"]
    v = _setup_values(page)
    assert v["pmm-sessions.value"] == [1, 3] and v["pmm-channel.value"] == 2
    assert v["pmm-slice.data"] == {"z": {"1": 2, "3": 2}}
    assert [f["props"]["id"]["index"] for f in _by_id_type(page, ids.VIEWER)] == [1, 3]
    routed, _store = call(
        [("_pages_content", "children"), ("_pages_store", "data")],
        [("_pages_location", "pathname", "/map/public/demo"), ("_pages_location", "search", search)],
    )
    assert _setup_values(routed) == v
    # other pages too: the catalog, the not-found page
    got = client.get("/_dash-layout", headers={"Referer": "http://localhost/"})
    assert _page_container(got.get_json())["_pages_store"]["props"]["data"] == {"title": "Maps · PyMapManager"}
    got = client.get("/_dash-layout", headers={"Referer": "http://localhost/no/such/page"})
    assert "_pages_location" in _page_container(got.get_json())


def test_without_the_address_the_router_makes_the_page(client: Any) -> None:
    for headers in ({}, {"Referer": "http://elsewhere.example/map/public/demo"}):
        parts = _page_container(client.get("/_dash-layout", headers=headers).get_json())
        assert "pathname" not in parts["_pages_location"]["props"]
        assert parts["_pages_content"]["props"].get("children") is None


def test_default_plane_is_where_the_spines_are_not_the_middle(call: DashCaller, data_dir: Path) -> None:
    m = _map(data_dir, "nine")
    median = _median_z(m, 3)
    assert median != 40 // 2  # the generated stack has its spines off the middle plane
    v = _load(call, name="nine", query={"s": "3,4"})
    # the viewers are told where their spines are (the browser opens them there)...
    assert v["pmm-slice.data"] == {"z": {}}
    metas = _by_id_type(_viewers(call, [3, 4], name="nine"), ids.VIEWER_META)
    assert [meta["props"]["data"]["default_z"] for meta in metas] == [median, _median_z(m, 4)]
    # ...unless the URL says
    v = _load(call, name="nine", query={"s": "3,4", "z": "5"})
    assert v["pmm-slice.data"] == {"z": {"3": 5, "4": 5}}
