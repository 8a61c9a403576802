"""app.state: the small payloads of the stores, the URL and the preferences cookie."""

from __future__ import annotations

from app.state import DisplayPrefs, MapKey, Selection, SliceState, ViewState


def test_view_state_round_trips_through_the_url() -> None:
    v = ViewState(sessions=(0, 2, 3), z=(4, 5, 6), channel=2, projection="sliding", k=3, run=17, roi="spineROI", link=False)
    q = v.to_query()
    assert q == "?s=0,2,3&z=4,5,6&ch=2&proj=sliding&k=3&run=17&roi=spineROI&link=0"
    params = dict(p.split("=", 1) for p in q[1:].split("&"))
    assert ViewState.from_query(params) == v
    assert ViewState.from_store(v.to_store()) == v


def test_view_state_overlay_and_the_browsers_form_of_the_url() -> None:
    v = ViewState(sessions=(0, 1), z=(4,), channel=2, overlay=True, run=3)
    assert ViewState.from_query(dict(p.split("=", 1) for p in v.to_query()[1:].split("&"))) == v
    assert ViewState.from_store(v.to_store()) == v
    # as app/assets/10-pmm-state.js writes it (tests/js/state.test.js)
    js = "s=0,1,2&z=4&ch=2&ov=1&proj=sliding&k=3&run=12&roi=spineROI&link=0"
    got = ViewState.from_query(dict(p.split("=", 1) for p in js.split("&")))
    assert got == ViewState((0, 1, 2), (4,), 2, "sliding", 3, 12, "spineROI", False, True)
    assert ViewState.from_query({"ov": "0"}).overlay is False


def test_view_state_defaults_and_junk() -> None:
    assert ViewState().to_query() == ""
    v = ViewState.from_query({"s": "0-2,5", "z": "3", "ch": "0", "proj": "weird", "k": "999", "run": "-1", "roi": "<script>"})
    assert v.sessions == (0, 1, 2, 5)
    assert v.z == (3,)
    assert v.channel is None and v.projection == "none" and v.k == 2 and v.run is None and v.roi == ""
    assert v.link is True
    # what could not be read is named (and left at its default), never half-read
    assert [n.split(":")[0] for n in v.ignored] == ["ch=0", "proj=weird", "k=999", "run=-1", "roi=<script>"]
    junk = ViewState.from_query({"s": "0-2,x,5", "z": "a,3"})
    assert junk.sessions == () and junk.z == ()
    assert [n.split(":")[0] for n in junk.ignored] == ["s=0-2,x,5", "z=a,3"]
    # the notes travel through the store with the view
    assert ViewState.from_store(junk.to_store()).ignored == junk.ignored
    assert ViewState.from_query({"s": ["1", "2"], "link": "off"}) == ViewState(sessions=(1, 2), link=False)


def test_view_state_plane_per_session() -> None:
    assert ViewState(z=(7,)).z_for([0, 1], 3) == {0: 7, 1: 7}
    assert ViewState(sessions=(1, 2), z=(4, 5)).z_for([1, 2], 0) == {1: 4, 2: 5}
    assert ViewState().z_for([0], 3) == {0: 3}


def test_display_prefs_cookie_round_trip() -> None:
    p = DisplayPrefs(spine_size=9, plot_size=4, default_channel=2, label_mode="file", contrast={"1": (10.0, 300.0)})
    assert DisplayPrefs.from_cookie(p.to_cookie()) == p
    assert ";" not in p.to_cookie() and " " not in p.to_cookie()


def test_display_prefs_tolerates_bad_cookies() -> None:
    assert DisplayPrefs.from_cookie(None) == DisplayPrefs()
    assert DisplayPrefs.from_cookie("%7Bnot json") == DisplayPrefs()
    p = DisplayPrefs.from_store({"spine_size": 99, "label_mode": "x", "contrast": {"1": [5, 2], "x": [1, 2], "2": [1, 4]}})
    assert p.spine_size == DisplayPrefs().spine_size
    assert p.label_mode == "date"
    assert p.contrast == {"2": (1.0, 4.0)}


def test_display_prefs_with_contrast() -> None:
    p = DisplayPrefs().with_contrast(2, (1, 9))
    assert p.contrast == {"2": (1.0, 9.0)}
    assert p.with_contrast(2, None).contrast == {}


def test_small_payloads() -> None:
    assert MapKey.from_store({"owner": "public", "name": "demo"}).id == "public/demo"
    assert MapKey.from_store(None) == MapKey()
    assert Selection.from_store({"run": "3", "session": None, "source": "plot"}) == Selection(3, None, "plot")
    assert SliceState.from_store({"z": {"0": 4, "x": 1, "2": -1}}) == SliceState({0: 4})
    assert SliceState({1: 2}).to_store() == {"z": {"1": 2}}
