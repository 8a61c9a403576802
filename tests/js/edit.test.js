// The edit mode's pure logic (app/assets/75-pmm-edit.js, PmmEditLogic), under node's test runner:
//     node --test tests/js/
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");

const X = require(path.join(__dirname, "..", "..", "app", "assets", "75-pmm-edit.js"));

const TRACING = {
    segments: [
        {segment: 0, x_um: [0, 10, 20], y_um: [0, 0, 0]},
        {segment: 1, x_um: [0, 0], y_um: [30, 60]},
        {segment: 2, x_um: [null, 5], y_um: [null, 100]}
    ]
};

test("loads in node and as a browser global; the browser part stays out of node", () => {
    assert.equal(typeof X.nearestSegment, "function");
    assert.equal(globalThis.PmmEditLogic, X);
});

test("nearest segment: distance to the polyline, not to its points", () => {
    assert.deepEqual(X.nearestSegment(TRACING, 15, 2), {segment: 0, distance: 2});
    // nearer the middle of segment 1's line than any point of segment 0
    const hit = X.nearestSegment(TRACING, 3, 45);
    assert.equal(hit.segment, 1);
    assert.equal(hit.distance, 3);
    // a segment of one usable point still counts
    assert.equal(X.nearestSegment(TRACING, 5, 99).segment, 2);
});

test("nearest segment: a session without tracing gives null, spines give a fallback", () => {
    assert.equal(X.nearestSegment({segments: []}, 1, 1), null);
    assert.equal(X.nearestSegment(null, 1, 1), null);
    const ann = {objects: [{segment: 3, x_um: 0, y_um: 0}, {segment: 4, x_um: 50, y_um: 50}, {segment: null, x_um: 49, y_um: 49}]};
    assert.equal(X.nearestSpineSegment(ann, 40, 40), 4);
    assert.equal(X.nearestSpineSegment({objects: []}, 1, 1), null);
});

test("features of an annotations payload are the viewer's GeoJSON, ghosts kept for absent runs", () => {
    const ann = {
        voxel: [0.5, 0.25, 1],
        objects: [
            {row: 0, run: 4, x_px: 10, y_px: 20, x_um: 5, y_um: 5, z: 3, dynamics: 4, isBad: false, segment: 0, pDist: 1.23456},
            {row: 1, run: 7, x_px: null, y_px: null, x_um: 5, y_um: 5, z: 2, dynamics: null, isBad: true, segment: null, pDist: null},
            {row: 2, run: 8, x_px: null, y_px: null, x_um: null, y_um: 5, z: 2}
        ]
    };
    const ghost = (run) => ({type: "Feature", geometry: {type: "Point", coordinates: [1, -1]}, properties: {run, ghost: true}});
    const fc = X.featuresOf(ann, [ghost(4), ghost(9), {properties: {run: 10, ghost: false}}]);
    assert.equal(fc.type, "FeatureCollection");
    assert.equal(fc.features.length, 3);
    const [a, b, g] = fc.features;
    assert.deepEqual(a.geometry.coordinates, [10, -20]);
    assert.deepEqual(a.properties, {run: 4, row: 0, z: 3, dyn: 4, bad: false, seg: 0, pDist: 1.235, ghost: false});
    // no pixel position: from µm and the voxel size
    assert.deepEqual(b.geometry.coordinates, [10, -20]);
    assert.equal(b.properties.bad, true);
    assert.equal(b.properties.seg, null);
    assert.equal(g.properties.run, 9);
});

test("connect: two picks in neighbouring sessions, in either order", () => {
    const a = {session: 2, row: 5};
    const b = {session: 3, row: 11};
    const want = {op: "connect", session: 2, row: 5, to_row: 11};
    assert.deepEqual(X.connectCommand(a, b), want);
    assert.deepEqual(X.connectCommand(b, a), want);
    assert.throws(() => X.connectCommand(a, {session: 4, row: 1}), /next or the previous session/);
    assert.throws(() => X.connectCommand(a, {session: 2, row: 1}), /next or the previous session/);
    assert.throws(() => X.connectCommand(a, null), /Alt\+click/);
});

test("disconnect: from the next session, or from the previous one picked", () => {
    const sel = {session: 2, row: 5};
    assert.deepEqual(X.disconnectCommand(sel, null), {op: "disconnect", session: 2, row: 5});
    assert.deepEqual(X.disconnectCommand(sel, {session: 3, row: 1}), {op: "disconnect", session: 2, row: 5});
    assert.deepEqual(X.disconnectCommand(sel, {session: 1, row: 9}), {op: "disconnect", session: 1, row: 9});
    assert.throws(() => X.disconnectCommand(null, null), /Select a spine/);
});

test("age and the unsaved indicator", () => {
    const now = Date.parse("2026-12-05T14:00:00Z");
    assert.equal(X.age("2026-12-05T13:59:55Z", now), "just now");
    assert.equal(X.age("2026-12-05T13:59:20Z", now), "40 s");
    assert.equal(X.age("2026-12-05T13:48:00Z", now), "12 min");
    assert.equal(X.age("2026-12-05T11:00:00Z", now), "3 h");
    assert.equal(X.age("2026-12-03T13:00:00Z", now), "2 d");
    assert.equal(X.age(null, now), "");
    assert.equal(X.age("not a time", now), "");
    assert.equal(X.unsavedText(0, null, now), "no unsaved changes");
    assert.equal(X.unsavedText(1, "2026-12-05T13:48:00Z", now), "1 unsaved change · oldest 12 min ago");
    assert.equal(X.unsavedText(3, "2026-12-05T13:59:58Z", now), "3 unsaved changes · oldest just now");
});

test("who else edits; conflicting objects", () => {
    const now = Date.parse("2026-12-05T14:00:00Z");
    assert.equal(X.othersText([], now), "");
    assert.equal(X.othersText([{user: "bob", unsaved: 0, since: null}], now), "");
    assert.equal(X.othersText([{user: "bob", unsaved: 2, since: "2026-12-05T13:55:00Z"}, {user: "carol", unsaved: 1}], now),
        "Also editing: bob (2 unsaved, 5 min), carol (1 unsaved)");
    assert.equal(X.objectsText([[1, 4], [2, 0]]), "session 1 row 4, session 2 row 0");
});

test("shortcuts: undo, redo, save with Ctrl or ⌘ only", () => {
    assert.equal(X.shortcut({key: "z", ctrlKey: true}), "undo");
    assert.equal(X.shortcut({key: "z", metaKey: true}), "undo");
    assert.equal(X.shortcut({key: "Z", ctrlKey: true, shiftKey: true}), "redo");
    assert.equal(X.shortcut({key: "y", ctrlKey: true}), "redo");
    assert.equal(X.shortcut({key: "s", metaKey: true}), "save");
    assert.equal(X.shortcut({key: "z"}), null);
    assert.equal(X.shortcut({key: "z", ctrlKey: true, altKey: true}), null);
    assert.equal(X.shortcut({key: "S", ctrlKey: true, shiftKey: true}), null);
});

test("user type from the dialog: a whole number 0 to 99", () => {
    assert.equal(X.parseUserType("2"), 2);
    assert.equal(X.parseUserType(" 17 "), 17);
    assert.equal(X.parseUserType("0"), 0);
    for (const bad of ["", "-1", "1.5", "100", "x", null, undefined]) { assert.equal(X.parseUserType(bad), null, String(bad)); }
});

test("the row a spine was added at; an object by row", () => {
    const before = {objects: [{row: 0}, {row: 1}]};
    const after = {objects: [{row: 0}, {row: 1}, {row: 2, run: 9}]};
    assert.deepEqual(X.newRows(before, after), [2]);
    assert.deepEqual(X.newRows(undefined, {objects: [{row: 0}]}), [0]);
    assert.equal(X.objectAt(after, 2).run, 9);
    assert.equal(X.objectAt(after, 5), null);
});
// figures made by app/figures/mapplot.map_plot (pDist against session; 3 sessions, 4 runs):
// the base table, run 0's session 1 left out (bad, include bad off), drawn bad, run 1 gone,
// a spine added in session 1 as run 2 (the runs after it numbered one up), run 2 connected to
// run 3 (session 1 to 2), run 0 disconnected after session 0 (its rest is run 2)
const FIGS = {
    base: [
        {"type": "scatter", "mode": "lines", "name": "runs", "x": [1.5, 2.25, 3.0, null, 6.0, 7.125, null], "y": [0.0, 1.0, 2.0, null, 0.0, 1.0, null], "line": {"color": "rgba(100, 116, 139, 0.35)", "width": 1}, "hoverinfo": "skip", "showlegend": false},
        {"type": "scattergl", "mode": "markers", "name": "added", "x": [8.5], "y": [2.0], "customdata": [[3, 2]], "marker": {"color": "#22c55e", "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5}, "size": 7, "symbol": ["circle"]}, "hovertemplate": "run %{customdata[0]} · session %{customdata[1]}<br>pDist (µm from pivot): %{x:.4~g}<br>session: %{y:d}<extra>%{fullData.name}</extra>"},
        {"type": "scattergl", "mode": "markers", "name": "subtracted", "x": [7.125], "y": [1.0], "customdata": [[2, 1]], "marker": {"color": "#ef4444", "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5}, "size": 7, "symbol": ["circle"]}, "hovertemplate": "run %{customdata[0]} · session %{customdata[1]}<br>pDist (µm from pivot): %{x:.4~g}<br>session: %{y:d}<extra>%{fullData.name}</extra>"},
        {"type": "scattergl", "mode": "markers", "name": "transient", "x": [4.5], "y": [1.0], "customdata": [[1, 1]], "marker": {"color": "#3b82f6", "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5}, "size": 7, "symbol": ["circle"]}, "hovertemplate": "run %{customdata[0]} · session %{customdata[1]}<br>pDist (µm from pivot): %{x:.4~g}<br>session: %{y:d}<extra>%{fullData.name}</extra>"},
        {"type": "scattergl", "mode": "markers", "name": "persistent", "x": [1.5, 2.25, 3.0, 6.0], "y": [0.0, 1.0, 2.0, 0.0], "customdata": [[0, 0], [0, 1], [0, 2], [2, 0]], "marker": {"color": "#facc15", "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5}, "size": 7, "symbol": ["circle", "circle", "circle", "circle"]}, "hovertemplate": "run %{customdata[0]} · session %{customdata[1]}<br>pDist (µm from pivot): %{x:.4~g}<br>session: %{y:d}<extra>%{fullData.name}</extra>"}
    ],
    bad_hidden: [
        {"type": "scatter", "mode": "lines", "name": "runs", "x": [1.5, 3.0, null, 6.0, 7.125, null], "y": [0.0, 2.0, null, 0.0, 1.0, null], "line": {"color": "rgba(100, 116, 139, 0.35)", "width": 1}, "hoverinfo": "skip", "showlegend": false},
        {"type": "scattergl", "mode": "markers", "name": "added", "x": [3.0, 8.5], "y": [2.0, 2.0], "customdata": [[0, 2], [3, 2]], "marker": {"color": "#22c55e", "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5}, "size": 7, "symbol": ["circle", "circle"]}, "hovertemplate": "run %{customdata[0]} · session %{customdata[1]}<br>pDist (µm from pivot): %{x:.4~g}<br>session: %{y:d}<extra>%{fullData.name}</extra>"},
        {"type": "scattergl", "mode": "markers", "name": "subtracted", "x": [1.5, 7.125], "y": [0.0, 1.0], "customdata": [[0, 0], [2, 1]], "marker": {"color": "#ef4444", "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5}, "size": 7, "symbol": ["circle", "circle"]}, "hovertemplate": "run %{customdata[0]} · session %{customdata[1]}<br>pDist (µm from pivot): %{x:.4~g}<br>session: %{y:d}<extra>%{fullData.name}</extra>"},
        {"type": "scattergl", "mode": "markers", "name": "transient", "x": [4.5], "y": [1.0], "customdata": [[1, 1]], "marker": {"color": "#3b82f6", "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5}, "size": 7, "symbol": ["circle"]}, "hovertemplate": "run %{customdata[0]} · session %{customdata[1]}<br>pDist (µm from pivot): %{x:.4~g}<br>session: %{y:d}<extra>%{fullData.name}</extra>"},
        {"type": "scattergl", "mode": "markers", "name": "persistent", "x": [6.0], "y": [0.0], "customdata": [[2, 0]], "marker": {"color": "#facc15", "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5}, "size": 7, "symbol": ["circle"]}, "hovertemplate": "run %{customdata[0]} · session %{customdata[1]}<br>pDist (µm from pivot): %{x:.4~g}<br>session: %{y:d}<extra>%{fullData.name}</extra>"}
    ],
    bad_shown: [
        {"type": "scatter", "mode": "lines", "name": "runs", "x": [1.5, 2.25, 3.0, null, 6.0, 7.125, null], "y": [0.0, 1.0, 2.0, null, 0.0, 1.0, null], "line": {"color": "rgba(100, 116, 139, 0.35)", "width": 1}, "hoverinfo": "skip", "showlegend": false},
        {"type": "scattergl", "mode": "markers", "name": "added", "x": [8.5], "y": [2.0], "customdata": [[3, 2]], "marker": {"color": "#22c55e", "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5}, "size": 7, "symbol": ["circle"]}, "hovertemplate": "run %{customdata[0]} · session %{customdata[1]}<br>pDist (µm from pivot): %{x:.4~g}<br>session: %{y:d}<extra>%{fullData.name}</extra>"},
        {"type": "scattergl", "mode": "markers", "name": "subtracted", "x": [7.125], "y": [1.0], "customdata": [[2, 1]], "marker": {"color": "#ef4444", "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5}, "size": 7, "symbol": ["circle"]}, "hovertemplate": "run %{customdata[0]} · session %{customdata[1]}<br>pDist (µm from pivot): %{x:.4~g}<br>session: %{y:d}<extra>%{fullData.name}</extra>"},
        {"type": "scattergl", "mode": "markers", "name": "transient", "x": [4.5], "y": [1.0], "customdata": [[1, 1]], "marker": {"color": "#3b82f6", "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5}, "size": 7, "symbol": ["circle"]}, "hovertemplate": "run %{customdata[0]} · session %{customdata[1]}<br>pDist (µm from pivot): %{x:.4~g}<br>session: %{y:d}<extra>%{fullData.name}</extra>"},
        {"type": "scattergl", "mode": "markers", "name": "persistent", "x": [1.5, 2.25, 3.0, 6.0], "y": [0.0, 1.0, 2.0, 0.0], "customdata": [[0, 0], [0, 1], [0, 2], [2, 0]], "marker": {"color": "#facc15", "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5}, "size": 7, "symbol": ["circle", "x", "circle", "circle"]}, "hovertemplate": "run %{customdata[0]} · session %{customdata[1]}<br>pDist (µm from pivot): %{x:.4~g}<br>session: %{y:d}<extra>%{fullData.name}</extra>"}
    ],
    run1_gone: [
        {"type": "scatter", "mode": "lines", "name": "runs", "x": [1.5, 2.25, 3.0, null, 6.0, 7.125, null], "y": [0.0, 1.0, 2.0, null, 0.0, 1.0, null], "line": {"color": "rgba(100, 116, 139, 0.35)", "width": 1}, "hoverinfo": "skip", "showlegend": false},
        {"type": "scattergl", "mode": "markers", "name": "added", "x": [8.5], "y": [2.0], "customdata": [[3, 2]], "marker": {"color": "#22c55e", "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5}, "size": 7, "symbol": ["circle"]}, "hovertemplate": "run %{customdata[0]} · session %{customdata[1]}<br>pDist (µm from pivot): %{x:.4~g}<br>session: %{y:d}<extra>%{fullData.name}</extra>"},
        {"type": "scattergl", "mode": "markers", "name": "subtracted", "x": [7.125], "y": [1.0], "customdata": [[2, 1]], "marker": {"color": "#ef4444", "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5}, "size": 7, "symbol": ["circle"]}, "hovertemplate": "run %{customdata[0]} · session %{customdata[1]}<br>pDist (µm from pivot): %{x:.4~g}<br>session: %{y:d}<extra>%{fullData.name}</extra>"},
        {"type": "scattergl", "mode": "markers", "name": "persistent", "x": [1.5, 2.25, 3.0, 6.0], "y": [0.0, 1.0, 2.0, 0.0], "customdata": [[0, 0], [0, 1], [0, 2], [2, 0]], "marker": {"color": "#facc15", "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5}, "size": 7, "symbol": ["circle", "circle", "circle", "circle"]}, "hovertemplate": "run %{customdata[0]} · session %{customdata[1]}<br>pDist (µm from pivot): %{x:.4~g}<br>session: %{y:d}<extra>%{fullData.name}</extra>"}
    ],
    added: [
        {"type": "scatter", "mode": "lines", "name": "runs", "x": [1.5, 2.25, 3.0, null, 6.0, 7.125, null], "y": [0.0, 1.0, 2.0, null, 0.0, 1.0, null], "line": {"color": "rgba(100, 116, 139, 0.35)", "width": 1}, "hoverinfo": "skip", "showlegend": false},
        {"type": "scattergl", "mode": "markers", "name": "added", "x": [8.5], "y": [2.0], "customdata": [[4, 2]], "marker": {"color": "#22c55e", "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5}, "size": 7, "symbol": ["circle"]}, "hovertemplate": "run %{customdata[0]} · session %{customdata[1]}<br>pDist (µm from pivot): %{x:.4~g}<br>session: %{y:d}<extra>%{fullData.name}</extra>"},
        {"type": "scattergl", "mode": "markers", "name": "subtracted", "x": [7.125], "y": [1.0], "customdata": [[3, 1]], "marker": {"color": "#ef4444", "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5}, "size": 7, "symbol": ["circle"]}, "hovertemplate": "run %{customdata[0]} · session %{customdata[1]}<br>pDist (µm from pivot): %{x:.4~g}<br>session: %{y:d}<extra>%{fullData.name}</extra>"},
        {"type": "scattergl", "mode": "markers", "name": "transient", "x": [4.5, 5.5], "y": [1.0, 1.0], "customdata": [[1, 1], [2, 1]], "marker": {"color": "#3b82f6", "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5}, "size": 7, "symbol": ["circle", "circle"]}, "hovertemplate": "run %{customdata[0]} · session %{customdata[1]}<br>pDist (µm from pivot): %{x:.4~g}<br>session: %{y:d}<extra>%{fullData.name}</extra>"},
        {"type": "scattergl", "mode": "markers", "name": "persistent", "x": [1.5, 2.25, 3.0, 6.0], "y": [0.0, 1.0, 2.0, 0.0], "customdata": [[0, 0], [0, 1], [0, 2], [3, 0]], "marker": {"color": "#facc15", "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5}, "size": 7, "symbol": ["circle", "circle", "circle", "circle"]}, "hovertemplate": "run %{customdata[0]} · session %{customdata[1]}<br>pDist (µm from pivot): %{x:.4~g}<br>session: %{y:d}<extra>%{fullData.name}</extra>"}
    ],
    connected: [
        {"type": "scatter", "mode": "lines", "name": "runs", "x": [1.5, 2.25, 3.0, null, 6.0, 7.125, 8.5, null], "y": [0.0, 1.0, 2.0, null, 0.0, 1.0, 2.0, null], "line": {"color": "rgba(100, 116, 139, 0.35)", "width": 1}, "hoverinfo": "skip", "showlegend": false},
        {"type": "scattergl", "mode": "markers", "name": "transient", "x": [4.5], "y": [1.0], "customdata": [[1, 1]], "marker": {"color": "#3b82f6", "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5}, "size": 7, "symbol": ["circle"]}, "hovertemplate": "run %{customdata[0]} · session %{customdata[1]}<br>pDist (µm from pivot): %{x:.4~g}<br>session: %{y:d}<extra>%{fullData.name}</extra>"},
        {"type": "scattergl", "mode": "markers", "name": "persistent", "x": [1.5, 2.25, 3.0, 6.0, 7.125, 8.5], "y": [0.0, 1.0, 2.0, 0.0, 1.0, 2.0], "customdata": [[0, 0], [0, 1], [0, 2], [2, 0], [2, 1], [2, 2]], "marker": {"color": "#facc15", "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5}, "size": 7, "symbol": ["circle", "circle", "circle", "circle", "circle", "circle"]}, "hovertemplate": "run %{customdata[0]} · session %{customdata[1]}<br>pDist (µm from pivot): %{x:.4~g}<br>session: %{y:d}<extra>%{fullData.name}</extra>"}
    ],
    disconnected: [
        {"type": "scatter", "mode": "lines", "name": "runs", "x": [2.25, 3.0, null, 6.0, 7.125, null], "y": [1.0, 2.0, null, 0.0, 1.0, null], "line": {"color": "rgba(100, 116, 139, 0.35)", "width": 1}, "hoverinfo": "skip", "showlegend": false},
        {"type": "scattergl", "mode": "markers", "name": "added", "x": [2.25, 8.5], "y": [1.0, 2.0], "customdata": [[2, 1], [4, 2]], "marker": {"color": "#22c55e", "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5}, "size": 7, "symbol": ["circle", "circle"]}, "hovertemplate": "run %{customdata[0]} · session %{customdata[1]}<br>pDist (µm from pivot): %{x:.4~g}<br>session: %{y:d}<extra>%{fullData.name}</extra>"},
        {"type": "scattergl", "mode": "markers", "name": "subtracted", "x": [1.5, 7.125], "y": [0.0, 1.0], "customdata": [[0, 0], [3, 1]], "marker": {"color": "#ef4444", "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5}, "size": 7, "symbol": ["circle", "circle"]}, "hovertemplate": "run %{customdata[0]} · session %{customdata[1]}<br>pDist (µm from pivot): %{x:.4~g}<br>session: %{y:d}<extra>%{fullData.name}</extra>"},
        {"type": "scattergl", "mode": "markers", "name": "transient", "x": [4.5], "y": [1.0], "customdata": [[1, 1]], "marker": {"color": "#3b82f6", "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5}, "size": 7, "symbol": ["circle"]}, "hovertemplate": "run %{customdata[0]} · session %{customdata[1]}<br>pDist (µm from pivot): %{x:.4~g}<br>session: %{y:d}<extra>%{fullData.name}</extra>"},
        {"type": "scattergl", "mode": "markers", "name": "persistent", "x": [3.0, 6.0], "y": [2.0, 0.0], "customdata": [[2, 2], [3, 0]], "marker": {"color": "#facc15", "line": {"color": "rgba(15,23,42,0.55)", "width": 0.5}, "size": 7, "symbol": ["circle", "circle"]}, "hovertemplate": "run %{customdata[0]} · session %{customdata[1]}<br>pDist (µm from pivot): %{x:.4~g}<br>session: %{y:d}<extra>%{fullData.name}</extra>"}
    ]
};

// the parts of a trace the server's figure and the page's restyle must agree on
function drawn(traces) {
    return traces.map((t) => ({
        name: t.name, mode: t.mode, x: t.x, y: t.y, customdata: t.customdata || null,
        symbol: t.marker ? t.marker.symbol : null, color: t.marker ? t.marker.color : (t.line || {}).color,
        size: t.marker ? t.marker.size : null, hovertemplate: t.hovertemplate || null
    }));
}

function plotOpts(extra) {
    return Object.assign({x: "pDist", y: "session", colorBy: "dynamics", segment: -1, includeBad: false,
        roi: "spineROI", nSessions: 3, colors: {1: "#22c55e", 2: "#ef4444", 3: "#3b82f6", 4: "#facc15"}, known: {}}, extra || {});
}

function edited(fig, changes, opts) {
    const m = X.plotModel(fig, opts.colorBy);
    const done = changes.map((c) => X.plotApply(m, c, opts));
    return {done: done, traces: X.plotTraces(m, opts)};
}

test("plot: a model of map_plot's figure draws the same figure again", () => {
    const opts = plotOpts();
    for (const name of Object.keys(FIGS)) {
        assert.deepEqual(drawn(X.plotTraces(X.plotModel(FIGS[name], "dynamics"), opts)), drawn(FIGS[name]), name);
    }
    assert.equal(X.plotModel([], "dynamics"), null);
    assert.equal(X.plotModel([{mode: "markers", x: []}], "dynamics"), null);
    assert.equal(X.plotModel([FIGS.base[0], {name: "segment 2", customdata: []}], "dynamics"), null);
});

test("plot: bad on with include bad off leaves the point out and re-codes its run's neighbours", () => {
    const opts = plotOpts();
    const r = edited(FIGS.base, [{op: "bad", run: 0, s: 1, bad: true, obj: {pDist: 2.25, segment: 0}}], opts);
    assert.deepEqual(r.done, [true]);
    assert.deepEqual(drawn(r.traces), drawn(FIGS.bad_hidden));
    // its values are remembered for this pair of statistics
    assert.deepEqual(opts.known["pDist|session|0|1"], {x: 2.25, y: 1});
});

test("plot: bad off brings the point back from the annotations' values or the ones seen before", () => {
    let r = edited(FIGS.bad_hidden, [{op: "bad", run: 0, s: 1, bad: false, obj: {pDist: 2.25, segment: 0}}], plotOpts());
    assert.deepEqual(r.done, [true]);
    assert.deepEqual(drawn(r.traces), drawn(FIGS.base));
    const opts = plotOpts({x: "sDist"});
    const sdist = FIGS.bad_hidden.map((t) => Object.assign({}, t));
    r = edited(sdist, [{op: "bad", run: 0, s: 1, bad: false, obj: {pDist: 2.25, segment: 0}}], opts);
    assert.deepEqual(r.done, [false], "sDist is not in the annotations: the server's figure shows it");
    opts.known["sDist|session|0|1"] = {x: 2.25, y: 1};
    r = edited(sdist, [{op: "bad", run: 0, s: 1, bad: false, obj: {segment: 0}}], opts);
    assert.deepEqual(r.done, [true]);
    assert.deepEqual(drawn(r.traces).map((t) => t.x), drawn(FIGS.base).map((t) => t.x));
});

test("plot: with include bad on, bad is a cross; other segments and refused values change nothing", () => {
    const r = edited(FIGS.base, [{op: "bad", run: 0, s: 1, bad: true, obj: {pDist: 2.25, segment: 0}}], plotOpts({includeBad: true}));
    assert.deepEqual(drawn(r.traces), drawn(FIGS.bad_shown));
    const other = edited(FIGS.base, [{op: "bad", run: 0, s: 1, bad: true, obj: {pDist: 2.25, segment: 1}}], plotOpts({segment: 0}));
    assert.deepEqual(drawn(other.traces), drawn(FIGS.base));
});

test("plot: a point removed takes its group's trace with it when it was the last; a new group is made", () => {
    let r = edited(FIGS.base, [{op: "remove", run: 1, s: 1}], plotOpts());
    assert.deepEqual(drawn(r.traces), drawn(FIGS.run1_gone));
    r = edited(FIGS.run1_gone, [{op: "bad", run: 1, s: 1, bad: false, obj: {pDist: 4.5, segment: 0}}], plotOpts());
    assert.deepEqual(r.done, [true]);
    assert.deepEqual(drawn(r.traces), drawn(FIGS.base));
    // without the dynamics colours it is left to the server
    r = edited(FIGS.run1_gone, [{op: "bad", run: 1, s: 1, bad: false, obj: {pDist: 4.5, segment: 0}}], plotOpts({colors: {}}));
    assert.deepEqual(r.done, [false]);
});

test("plot: a session's annotations from the server (sync) give the same figure", () => {
    const ann = {roi: "spineROI", objects: [
        {row: 0, run: 0, isBad: true, pDist: 2.25, segment: 0},
        {row: 1, run: 1, isBad: false, pDist: 4.5, segment: 0},
        {row: 2, run: 2, isBad: false, pDist: 7.125, segment: 0},
        {row: 3, run: null, isBad: false, pDist: 1, segment: 0}
    ]};
    let r = edited(FIGS.base, [{op: "sync", s: 1, ann: ann}], plotOpts());
    assert.deepEqual(r.done, [true]);
    assert.deepEqual(drawn(r.traces), drawn(FIGS.bad_hidden));
    r = edited(FIGS.bad_hidden, [{op: "sync", s: 1, ann: {roi: "spineROI", objects: ann.objects.map((o) => Object.assign({}, o, {isBad: false}))}}], plotOpts());
    assert.deepEqual(drawn(r.traces), drawn(FIGS.base));
    // another ROI type's annotations, or a move with a statistic they lack: not done here
    assert.deepEqual(edited(FIGS.base, [{op: "sync", s: 1, ann: Object.assign({}, ann, {roi: "otherROI"})}], plotOpts()).done, [false]);
    assert.deepEqual(edited(FIGS.base, [{op: "sync", s: 1, ann: ann, moved: true}], plotOpts({x: "sDist"})).done, [false]);
});

test("plot: dynamics codes, group names, hover formats", () => {
    assert.deepEqual([X.dynCode(true, true), X.dynCode(false, true), X.dynCode(true, false), X.dynCode(false, false)], [4, 1, 2, 3]);
    assert.equal(X.groupKey("transient", "dynamics"), 3);
    assert.equal(X.groupKey("segment 12", "segment"), 12);
    assert.equal(X.groupKey("no segment", "segment"), -1);
    assert.equal(X.groupKey("segment 1", "dynamics"), null);
    assert.equal(X.hoverFormat("days", [1.5]), "d");
    assert.equal(X.hoverFormat("pDist", [1, 2]), "d");
    assert.equal(X.hoverFormat("pDist", [1.5, -20000]), ",.0f");
    assert.equal(X.hoverFormat("pDist", [1.5]), ".4~g");
    assert.equal(X.hoverFormat("pDist", []), ".4~g");
});

test("dialogs start with the spine's note and user type", () => {
    assert.equal(X.noteText({note: "thin neck"}), "thin neck");
    assert.equal(X.noteText({note: null}), "");
    assert.equal(X.noteText(null), "");
    assert.equal(X.userTypeText({userType: 7}), "7");
    assert.equal(X.userTypeText({userType: 0}), "0");
    assert.equal(X.userTypeText({userType: null}), "");
    assert.equal(X.userTypeText(undefined), "");
});

test("plot: an added spine's run moves the later runs up one; the session's annotations place it", () => {
    const ann = {roi: "spineROI", objects: [
        {row: 0, run: 0, isBad: false, pDist: 2.25, segment: 0},
        {row: 1, run: 1, isBad: false, pDist: 4.5, segment: 0},
        {row: 2, run: 3, isBad: false, pDist: 7.125, segment: 0},
        {row: 3, run: 2, isBad: false, pDist: 5.5, segment: 0}
    ]};
    const r = edited(FIGS.base, [{op: "insertRun", run: 2}, {op: "sync", s: 1, ann: ann}], plotOpts());
    assert.deepEqual(r.done, [true, true]);
    assert.deepEqual(drawn(r.traces), drawn(FIGS.added));
});

test("plot: connect joins the next run's points to the run and numbers the later runs one down", () => {
    const r = edited(FIGS.base, [{op: "mergeRuns", into: 2, from: 3, s: 1}], plotOpts());
    assert.deepEqual(r.done, [true]);
    assert.deepEqual(drawn(r.traces), drawn(FIGS.connected));
});

test("plot: disconnect cuts a run into a new one and numbers the runs from it one up", () => {
    const r = edited(FIGS.base, [{op: "splitRun", run: 0, s: 0, to: 2}], plotOpts());
    assert.deepEqual(r.done, [true]);
    assert.deepEqual(drawn(r.traces), drawn(FIGS.disconnected));
});

test("changed points of a colour group: gone, added, moved, another symbol; null when out of order", () => {
    const tr = (pts) => ({
        x: pts.map((p) => p[2]), y: pts.map((p) => p[3]),
        customdata: pts.map((p) => [p[0], p[1]]),
        marker: {symbol: pts.map((p) => p[4] || "circle")}
    });
    const was = tr([[1, 0, 10, 1], [1, 1, 11, 1], [2, 0, 20, 2], [3, 0, 30, 3]]);
    // the same points: nothing to draw again
    assert.deepEqual(X.changedPoints(was, tr([[1, 0, 10, 1], [1, 1, 11, 1], [2, 0, 20, 2], [3, 0, 30, 3]])), []);
    // run 1 session 1 gone, run 2 moved, run 3 a cross, run 4 added
    const now = tr([[1, 0, 10, 1], [2, 0, 21, 2], [3, 0, 30, 3, "x"], [4, 0, 40, 4]]);
    assert.deepEqual(X.changedPoints(was, now), [[11, 1], [20, 2], [21, 2], [30, 3], [30, 3], [40, 4]]);
    // not in run, session order (or a point twice): every point is drawn again
    assert.equal(X.changedPoints(was, tr([[2, 0, 20, 2], [1, 0, 10, 1]])), null);
    assert.equal(X.changedPoints(tr([[1, 0, 10, 1], [1, 0, 10, 1]]), was), null);
    assert.equal(X.changedPoints(was, Object.assign(tr([[1, 0, 10, 1]]), {customdata: [["a", 0]]})), null);
});

test("dirty boxes: one a changed point, near ones merged, null when most of the canvas", () => {
    // y up as WebGL's; clipped to the canvas
    assert.deepEqual(X.dirtyBoxes([{x: 50, y: 50}], 10, 200, 100, 0), [[40, 40, 20, 20]]);
    assert.deepEqual(X.dirtyBoxes([{x: 5, y: 95}], 10, 200, 100, 0), [[0, 85, 15, 15]]);
    // far apart: two boxes; overlapping: one
    assert.deepEqual(X.dirtyBoxes([{x: 20, y: 20}, {x: 150, y: 80}], 5, 200, 100, 0), [[15, 15, 10, 10], [145, 75, 10, 10]]);
    assert.deepEqual(X.dirtyBoxes([{x: 20, y: 20}, {x: 26, y: 20}], 5, 200, 100, 0), [[15, 15, 16, 10]]);
    // a pass costs more than the pixels between them: one box
    assert.deepEqual(X.dirtyBoxes([{x: 20, y: 20}, {x: 60, y: 20}], 5, 200, 100, 1000), [[15, 15, 50, 10]]);
    // points not drawn (NaN) need nothing; most of the canvas: null (draw it all)
    assert.deepEqual(X.dirtyBoxes([{x: NaN, y: 3}], 5, 200, 100, 0), []);
    assert.equal(X.dirtyBoxes([{x: 100, y: 50}], 80, 200, 100, 0), null);
});
