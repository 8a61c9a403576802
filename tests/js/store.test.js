// Dash's store without its no-op resets, and the graphs' Plotly bundle
// (app/assets/05-pmm-store.js, PmmStore), under
// node's test runner:
//     node --test tests/js/
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");

const S = require(path.join(__dirname, "..", "..", "app", "assets", "05-pmm-store.js"));

const reset = (itempath) => ({type: S.RESET, payload: {itempath}});

// the part of Dash's reducer (dash-renderer src/reducers/reducer.js, layoutHashes) the
// reset acts on, to check the wrapper against
function dashLayoutHashes(state, action) {
    if (action.type === S.RESET && action.payload.itempath) {
        const prefix = action.payload.itempath.join(",");
        return Object.fromEntries(Object.entries(state).filter(([key]) => !key.startsWith(prefix)));
    }
    return state;
}

function fakeStore(layoutHashes) {
    const seen = [];
    let state = {layoutHashes, other: 1};
    return {
        seen,
        getState: () => state,
        dispatch(action) {
            seen.push(action.type);
            state = Object.assign({}, state, {layoutHashes: dashLayoutHashes(state.layoutHashes, action)});
            return action;
        }
    };
}

test("a reset is a no-op exactly when no render hash starts with the component's path", () => {
    const hashes = {
        "0,props,children,1": {hash: 1},
        "0,props,children,2,props,children": {hash: 3}
    };
    const state = {layoutHashes: hashes};
    for (const itempath of [
        [0, "props", "children", 1],
        [0, "props", "children", 2],
        [0, "props", "children", 2, "props", "children"],
        [0, "props"],
        [0, "props", "children", 3],
        [1],
        ["0", "props", "children", 1]
    ]) {
        const after = dashLayoutHashes(hashes, reset(itempath));
        const unchanged = Object.keys(after).length === Object.keys(hashes).length;
        assert.equal(S.isNoopReset(state, reset(itempath)), unchanged, JSON.stringify(itempath));
    }
    // no hashes at all (a first mount): every reset is a no-op
    assert.equal(S.isNoopReset({layoutHashes: {}}, reset([0, "props", "children"])), true);
    // Dash's reducer leaves the hashes alone when the action has no path
    assert.equal(S.isNoopReset({layoutHashes: hashes}, {type: S.RESET, payload: {}}), true);
});

test("other actions, and a state it does not know, always go through", () => {
    assert.equal(S.isNoopReset({layoutHashes: {}}, {type: "ON_PROP_CHANGE", payload: {itempath: [0]}}), false);
    assert.equal(S.isNoopReset({layoutHashes: {}}, null), false);
    assert.equal(S.isNoopReset({}, reset([0])), false);
    assert.equal(S.isNoopReset(undefined, reset([0])), false);
    assert.equal(S.isNoopReset({layoutHashes: {}}, reset("0,props")), false);
});

test("a wrapped store drops only the no-op resets and counts them", () => {
    const store = fakeStore({"5,props,children": {hash: 2}});
    S.quiet(store);
    S.quiet(store);  // wrapping twice wraps once
    assert.equal(store.pmmQuiet, true);
    const action = reset([1, "props"]);
    assert.equal(store.dispatch(action), action);
    assert.deepEqual(store.seen, []);
    assert.equal(store.pmmSkipped, 1);
    store.dispatch({type: "ON_PROP_CHANGE", payload: {}});
    store.dispatch(reset([5, "props"]));
    assert.deepEqual(store.seen, ["ON_PROP_CHANGE", S.RESET]);
    assert.deepEqual(store.getState().layoutHashes, {});
    // now that the entry is gone, the same reset is a no-op
    store.dispatch(reset([5, "props"]));
    assert.deepEqual(store.seen, ["ON_PROP_CHANGE", S.RESET]);
    assert.equal(store.pmmSkipped, 2);
});

test("install catches the stores Dash appends to window.dash_stores, and those already there", () => {
    const win = {};
    S.install(win);
    S.install(win);  // installing twice installs once
    const store = fakeStore({});
    // Dash's renderer: window.dash_stores = window.dash_stores || []; ds.push(store)
    const ds = win.dash_stores = win.dash_stores || [];
    if (!ds.includes(store)) { ds.push(store); }
    assert.equal(ds.length, 1);
    assert.equal(store.pmmQuiet, true);
    store.dispatch(reset([0]));
    assert.deepEqual(store.seen, []);

    const early = fakeStore({});
    const win2 = {dash_stores: [early]};
    S.install(win2);
    assert.equal(early.pmmQuiet, true);
    // something that is not a store is left alone
    win2.dash_stores.push(null, {dispatch: 1});
    assert.equal(win2.dash_stores.length, 3);
});

test("loads in node as a browser global without installing itself", () => {
    assert.equal(globalThis.PmmStore, S);
    assert.equal(globalThis.dash_stores, undefined);
});

test("Dash's graphs load the bundle the page names, whatever the renderer sets", () => {
    const url = "/assets/vendor/plotly/plotly-pmm.min.js?v=0123456789ab";
    const doc = {querySelector: (sel) => sel === 'meta[name="pmm-plotly"]' ? {getAttribute: () => url} : null};
    const win = {};
    assert.equal(S.usePlotlyBundle(win, doc), url);
    // Dash's renderer: window._dashPlotlyJSURL = prefix + "_dash-component-suites/plotly/package_data/plotly.min.js"
    win._dashPlotlyJSURL = "/_dash-component-suites/plotly/package_data/plotly.min.js";
    assert.equal(win._dashPlotlyJSURL, url);
    // no meta tag, or a Plotly already loaded: left as it is
    const bare = {};
    assert.equal(S.usePlotlyBundle(bare, {querySelector: () => null}), null);
    bare._dashPlotlyJSURL = "x";
    assert.equal(bare._dashPlotlyJSURL, "x");
    const loaded = {Plotly: {}};
    assert.equal(S.usePlotlyBundle(loaded, doc), null);
    assert.equal(loaded._dashPlotlyJSURL, undefined);
});
