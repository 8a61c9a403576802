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
