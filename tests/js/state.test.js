// The view state of the map viewer (app/assets/10-pmm-state.js), under node's own test runner:
//     node --test tests/js/
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");

const ViewState = require(path.join(__dirname, "..", "..", "app", "assets", "10-pmm-state.js"));

function meta(session, extra) {
    return Object.assign({
        session: session, planes: 10, rows: 128, columns: 128, has_images: true, tiled: false,
        image_url: `/api/v1/maps/public/demo/sessions/${session}/planes/`,
        tile_url: `/api/v1/maps/public/demo/sessions/${session}/tiles/`,
        max_level: 0, channels: [1, 2], version: "v1"
    }, extra || {});
}

// a state with `n` shown sessions and a recorder of its events
function setup(n, extra) {
    const st = ViewState.create();
    const events = [];
    st.on((ev) => events.push(ev));
    st.setMetas(Array.from({length: n}, (_, i) => meta(i, extra)));
    events.length = 0;
    return {st, events};
}

test("loads in node and in a browser-like global", () => {
    assert.equal(typeof ViewState.create, "function");
    assert.equal(globalThis.PmmViewState, ViewState);
});

test("a viewer shows the middle plane until one is chosen, and nothing before its meta is known", () => {
    const st = ViewState.create();
    assert.equal(st.zOf(0), null);
    st.setMetas([meta(0), meta(1, {planes: 5})]);
    assert.equal(st.zOf(0), 5);
    assert.equal(st.zOf(1), 2);
});

test("a new viewer opens where its spines are (meta.default_z); a plane asked for every session wins", () => {
    const st = ViewState.create();
    st.setMetas([meta(0, {default_z: 7}), meta(1, {default_z: null}), meta(2, {planes: 5, default_z: 9})]);
    // its own default plane, the middle without one, clamped to the stack
    assert.deepEqual([0, 1, 2].map(st.zOf), [7, 5, 4]);
    // stepping moves each from its own plane
    st.step(-1);
    assert.deepEqual([0, 1, 2].map(st.zOf), [6, 4, 3]);
    // a viewer added later opens at its default plane too
    st.setMetas([meta(0, {default_z: 7}), meta(1, {default_z: null}), meta(2, {planes: 5, default_z: 9}), meta(3, {default_z: 2})]);
    assert.deepEqual([0, 1, 2, 3].map(st.zOf), [6, 4, 3, 2]);
    // a plane asked for (the URL's z=) wins over every default, also for viewers added later
    const other = ViewState.create();
    other.request({}, 1);
    other.setMetas([meta(0, {default_z: 7}), meta(1, {default_z: 8})]);
    assert.deepEqual([0, 1].map(other.zOf), [1, 1]);
    other.setMetas([meta(0, {default_z: 7}), meta(1, {default_z: 8}), meta(2, {default_z: 3})]);
    assert.equal(other.zOf(2), 1);
    // per-session planes asked for win in their sessions; the others keep their default
    const each = ViewState.create();
    each.request({0: 2, 1: 4});
    each.setMetas([meta(0, {default_z: 7}), meta(1, {default_z: 8}), meta(2, {default_z: 3})]);
    assert.deepEqual([0, 1, 2].map(each.zOf), [2, 4, 3]);
});

test("planes asked for (the URL) are kept and clamped to each stack", () => {
    const {st, events} = setup(3);
    assert.equal(st.request({0: 3, 1: 3, 2: 30}, 3, {kind: "open"}), true);
    assert.deepEqual([0, 1, 2].map(st.zOf), [3, 3, 9]);
    assert.equal(events.length, 1);
    assert.deepEqual(Object.keys(events[0].keys), ["z"]);
    assert.equal(events[0].cause.kind, "open");
    // the same request again changes nothing and says nothing
    assert.equal(st.request({0: 3, 1: 3, 2: 30}, 3), false);
    assert.equal(events.length, 1);
    // a session shown later takes the plane asked for every session
    st.setMetas([0, 1, 2, 3].map((s) => meta(s)));
    assert.equal(st.zOf(3), 3);
});

test("planes asked for before the viewers exist apply when they appear", () => {
    const st = ViewState.create();
    st.request({0: 2, 1: 4, 2: 7});
    st.setMetas([meta(0), meta(1), meta(2)]);
    assert.deepEqual([0, 1, 2].map(st.zOf), [2, 4, 7]);
    assert.equal(st.query(), "?s=0,1,2&z=2,4,7&ch=1");
});

test("steps move every given session within its stack and remember the direction", () => {
    const {st, events} = setup(2, {planes: 10});
    st.request({0: 8, 1: 2});
    events.length = 0;
    assert.equal(st.step(1, null, {kind: "slice", t0: 12}), true);
    assert.deepEqual([st.zOf(0), st.zOf(1)], [9, 3]);
    assert.equal(events[0].cause.t0, 12);
    // at the end of one stack the other still moves
    assert.equal(st.step(1), true);
    assert.deepEqual([st.zOf(0), st.zOf(1)], [9, 4]);
    assert.equal(st.step(-1, [1]), true);
    assert.deepEqual([st.zOf(0), st.zOf(1)], [9, 3]);
    assert.equal(st.get().direction, -1);
    // nothing moves: no event
    const n = events.length;
    assert.equal(st.step(0), false);
    st.request({0: 9});
    assert.equal(st.step(5, [0]), false);
    assert.equal(events.length, n);
});

test("the plane slider moves linked viewers together, unlinked only its own", () => {
    const {st} = setup(2);
    st.request({0: 2, 1: 6});
    st.goTo(0, 4);
    assert.deepEqual([st.zOf(0), st.zOf(1)], [4, 8]);
    st.set({link: false});
    st.goTo(1, 1);
    assert.deepEqual([st.zOf(0), st.zOf(1)], [4, 1]);
});

test("display settings are normalised and only real changes are emitted", () => {
    const {st, events} = setup(1);
    const keys = st.set({channel: "2", projection: "sliding", k: "3", link: false, overlay: true, spineSize: 9,
        contrast: {1: [10, 200], 2: [5, 1], bogus: "x"}, roi: "spineROI"});
    assert.deepEqual(Object.keys(keys).sort(), ["channel", "contrast", "k", "link", "overlay", "projection", "roi", "spineSize"]);
    const s = st.get();
    assert.equal(s.channel, 2);
    assert.deepEqual(s.contrast, {1: [10, 200]});
    assert.equal(events.length, 1);
    st.set({channel: 2, projection: "sliding", k: 3, contrast: {1: [10, 200]}});
    assert.equal(events.length, 1);
    st.set({projection: "bogus", k: 0, channel: -1});
    assert.equal(events.length, 1);
    assert.equal(s.projection, "sliding");
});

test("a channel the shown sessions lack falls back to one they have", () => {
    const st = ViewState.create();
    st.set({channel: 2});
    st.setMetas([meta(0, {channels: [1]})]);
    assert.equal(st.get().channel, 1);
});

test("plane URLs carry channel, plane, projection, contrast and version", () => {
    const {st} = setup(1);
    st.request({0: 3});
    assert.equal(st.planeUrl(0, 1), "/api/v1/maps/public/demo/sessions/0/planes/3?channel=1&v=v1");
    st.set({projection: "sliding", k: 4, contrast: {2: [10.12345, 200]}});
    assert.equal(st.planeUrl(0, 2), "/api/v1/maps/public/demo/sessions/0/planes/3?channel=2&projection=sliding&k=4&lo=10.123&hi=200&v=v1");
    st.set({projection: "max"});
    assert.equal(st.planeUrl(0, 1), "/api/v1/maps/public/demo/sessions/0/planes/0?channel=1&projection=max&v=v1");
    assert.equal(st.planeUrlAt(st.planeUrl(0, 1), 7), "/api/v1/maps/public/demo/sessions/0/planes/7?channel=1&projection=max&v=v1");
    const t = setup(1, {tiled: true}).st;
    t.request({0: 6});
    assert.equal(t.planeUrl(0, 1), "/api/v1/maps/public/demo/sessions/0/tiles/{z}/{x}/{y}.png?channel=1&plane=6&v=v1");
    assert.equal(t.planeUrlAt(t.planeUrl(0, 1), 2), "/api/v1/maps/public/demo/sessions/0/tiles/{z}/{x}/{y}.png?channel=1&plane=2&v=v1");
    assert.equal(t.planeUrlAt("http://h/api/v1/maps/public/demo/sessions/0/tiles/3/1/0.png?channel=1&plane=6&v=v1", 7),
        "http://h/api/v1/maps/public/demo/sessions/0/tiles/3/1/0.png?channel=1&plane=7&v=v1");
    assert.equal(t.sliceText(0), "z 6 / 9");
});

test("the overlay draws channels 1 and 2 in two colours where a session has both", () => {
    const st = ViewState.create();
    st.setMetas([meta(0), meta(1, {channels: [1]}), meta(2, {has_images: false})]);
    assert.deepEqual(st.layersOf(0), [{channel: 1, tint: null}]);
    st.set({overlay: true});
    assert.deepEqual(st.layersOf(0), [{channel: 1, tint: "green"}, {channel: 2, tint: "magenta"}]);
    assert.deepEqual(st.layersOf(1), [{channel: 1, tint: null}]);
    assert.deepEqual(st.layersOf(2), []);
});

test("spines are drawn within two planes of the slice, from the first look", () => {
    const st = ViewState.create();
    const spine = (z) => ({run: 1, z: z, ghost: false});
    // before the viewer's meta (so its plane) is known, nothing is drawn
    assert.equal(st.look(spine(5), 0).visible, false);
    st.setMetas([meta(0)]);
    assert.equal(st.zOf(0), 5);
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map((z) => st.look(spine(z), 0).visible),
        [false, false, true, true, true, true, true, false, false]);
    assert.equal(st.look(spine(5), 0).opacity, 1);
    assert.equal(st.look(spine(6), 0).opacity, 0.75);
    assert.equal(st.look(spine(3), 0).opacity, 0.5);
    st.set({projection: "sliding", k: 4});
    assert.equal(st.look(spine(1), 0).visible, true);
    st.set({projection: "max"});
    assert.equal(st.look(spine(0), 0).visible, true);
    // ghosts only when their run is selected; the selected run whatever its plane
    st.set({projection: "none"});
    assert.equal(st.look({run: 3, z: 5, ghost: true}, 0).visible, false);
    st.select(3);
    assert.equal(st.look({run: 3, z: 5, ghost: true}, 0).visible, true);
    assert.deepEqual(st.look({run: 3, z: 0, ghost: false}, 0), {visible: true, selected: true, ghost: false, opacity: 1});
});

test("selecting a run moves every viewer to its plane, also viewers whose spines come later", () => {
    const {st, events} = setup(3);
    st.setRuns(0, {7: 2, 8: 9});
    st.setRuns(1, {7: 4});
    events.length = 0;
    st.select(7, {source: "plot", session: 1}, {kind: "select", t0: 5});
    assert.deepEqual([0, 1, 2].map(st.zOf), [2, 4, 5]);
    assert.deepEqual(Object.keys(events[0].keys).sort(), ["run", "z"]);
    assert.deepEqual(st.selectionStore(), {run: 7, session: 1, source: "plot", by: "view"});
    // session 2's spines arrive: it follows the selection once
    st.setRuns(2, {7: 8});
    assert.equal(st.zOf(2), 8);
    st.step(-1, [2]);
    st.setRuns(2, {7: 8});
    assert.equal(st.zOf(2), 7);
    // absent from a session (no plane): that viewer's plane stays
    st.setRuns(2, {7: null});
    st.select(7);
    assert.equal(st.zOf(2), 7);
    // clearing
    st.select(null, {source: "key"});
    assert.equal(st.get().run, null);
    assert.equal(st.query(), "?s=0,1,2&z=2,4,7&ch=1");
});

test("a link's planes win over the planes of the run it selects", () => {
    const st = ViewState.create();
    // the page opens: the selection from the URL first, then the planes, then the viewers and spines
    st.select(7, {source: "init"});
    st.request({0: 1, 1: 1}, 1);
    st.setMetas([meta(0), meta(1)]);
    st.setRuns(0, {7: 6});
    st.setRuns(1, {7: 8});
    assert.deepEqual([st.zOf(0), st.zOf(1)], [1, 1]);
    assert.equal(st.get().run, 7);
    // without planes in the link, the viewers go to the run
    const t = ViewState.create();
    t.select(7, {source: "init"});
    t.setMetas([meta(0), meta(1)]);
    t.setRuns(0, {7: 6});
    t.setRuns(1, {7: 8});
    assert.deepEqual([t.zOf(0), t.zOf(1)], [6, 8]);
    // and a session shown later follows the selection too
    t.setMetas([meta(0), meta(1), meta(2)]);
    t.setRuns(2, {7: 3});
    assert.equal(t.zOf(2), 3);
});

test("the URL query holds the view, as app.state.ViewState reads it", () => {
    const {st} = setup(3);
    st.request({0: 4, 1: 4, 2: 4});
    assert.equal(st.query(), "?s=0,1,2&z=4&ch=1");
    st.set({channel: 2, overlay: true, projection: "sliding", k: 3, roi: "spineROI", link: false});
    st.select(12);
    assert.equal(st.query(), "?s=0,1,2&z=4&ch=2&ov=1&proj=sliding&k=3&run=12&roi=spineROI&link=0");
    assert.equal(ViewState.create().query(), "");
});

test("the view tells its own store payloads from requests made elsewhere", () => {
    const {st} = setup(2);
    assert.equal(st.isOwn(st.sliceStore()), true);
    assert.deepEqual(st.sliceStore(), {z: {0: 5, 1: 5}, by: "view"});
    assert.equal(st.isOwn({z: {0: 3}}), false);
    assert.equal(st.isOwn(null), false);
});

test("a listener's error is reported and does not stop the others", () => {
    const st = ViewState.create();
    const seen = [];
    const errors = [];
    const origReport = globalThis.reportError;
    globalThis.reportError = (e) => errors.push(e);
    try {
        st.on(() => { throw new Error("boom"); });
        st.on((ev) => seen.push(ev));
        st.set({channel: 2});
    } finally {
        globalThis.reportError = origReport;
    }
    assert.equal(seen.length, 1);
    assert.equal(errors.length, 1);
});

test("reset forgets the viewers, planes and selection of the previous page", () => {
    const {st} = setup(2);
    st.request({0: 1});
    st.select(3);
    st.reset();
    const s = st.get();
    assert.deepEqual([s.sessions, s.z, s.run, s.zAll], [[], {}, null, null]);
});
