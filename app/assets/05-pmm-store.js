/*
 * PyMapManager: Dash's store without its no-op "reset" actions, and Dash's graphs on the
 * partial Plotly bundle (both set up before Dash's renderer starts; one file, one request).
 *
 * Dash's renderer dispatches RESET_COMPONENT_STATE from every component it mounts (in
 * an effect, one action per component). The action only drops the component's entries
 * from the store's render hashes (state.layoutHashes); a component mounted for the first
 * time has none, so the action changes nothing. Every dispatch still runs the reducers
 * and every mounted component's store selectors: mounting N components costs N
 * dispatches times N selectors. The map page of a 9-session map mounts about 240
 * components before its first planes, and the run strip re-mounts about 40 after each
 * plot click.
 *
 * This wraps the store's dispatch so a reset that would drop no entry is not dispatched.
 * A reset that would drop entries, and every other action, goes through unchanged. The
 * store is caught as Dash creates it (it appends each store to window.dash_stores), before
 * any component is drawn; if a Dash version stops doing that, nothing is wrapped and Dash
 * works as it did.
 *
 * dcc.Graph loads Plotly.js the first time a graph is drawn (when there is no
 * window.Plotly) from window._dashPlotlyJSURL, which Dash's renderer sets to plotly.py's
 * full bundle: 4.8 MB and 40 trace types, about a second of script compilation and
 * evaluation on a 2-core machine, on the way to the map page's plot. The page's
 * <meta name="pmm-plotly"> (app/factory.py) names the partial bundle with the three trace
 * types the dashboard draws (scatter, scattergl, bar; app/assets/vendor/plotly, 1.4 MB);
 * that address is kept whatever the renderer sets. Without the meta tag nothing changes.
 *
 * The same file runs under node (tests/js/store.test.js).
 */
(function (root, factory) {
    "use strict";
    var api = factory();
    if (typeof module === "object" && module.exports) { module.exports = api; }
    if (root) {
        root.PmmStore = api;
        if (typeof window !== "undefined" && root === window) {
            api.install(window);
            api.usePlotlyBundle(window, document);
        }
    }
}(typeof globalThis !== "undefined" ? globalThis : this, function () {
    "use strict";

    var RESET = "RESET_COMPONENT_STATE";

    /** True when `action` is a reset that would leave `state` as it is: none of the
     *  store's render hashes starts with the component's path (the reducer's own test,
     *  a prefix match on the path joined with commas). */
    function isNoopReset(state, action) {
        if (!action || action.type !== RESET) { return false; }
        var path = action.payload && action.payload.itempath;
        // the reducer leaves the hashes alone without a path
        if (!path) { return true; }
        if (!Array.isArray(path)) { return false; }
        var hashes = state && state.layoutHashes;
        if (!hashes || typeof hashes !== "object") { return false; }
        var prefix = path.join(",");
        for (var key in hashes) {
            if (Object.prototype.hasOwnProperty.call(hashes, key) && key.indexOf(prefix) === 0) {
                return false;
            }
        }
        return true;
    }

    /** Wrap one store's dispatch (once). Counts the resets left out in store.pmmSkipped. */
    function quiet(store) {
        if (!store || typeof store.dispatch !== "function" || typeof store.getState !== "function"
                || store.pmmQuiet) {
            return store;
        }
        var dispatch = store.dispatch;
        store.pmmSkipped = 0;
        store.dispatch = function (action) {
            if (isNoopReset(store.getState(), action)) {
                store.pmmSkipped += 1;
                return action;
            }
            return dispatch.apply(this, arguments);
        };
        store.pmmQuiet = true;
        return store;
    }

    /** Catch the stores Dash appends to `win.dash_stores`, and any already there. */
    function install(win) {
        var stores = win.dash_stores;
        if (!Array.isArray(stores)) { stores = win.dash_stores = []; }
        if (stores.pmmQuiet) { return stores; }
        var push = stores.push;
        stores.push = function () {
            for (var i = 0; i < arguments.length; i++) { quiet(arguments[i]); }
            return push.apply(this, arguments);
        };
        stores.forEach(quiet);
        Object.defineProperty(stores, "pmmQuiet", {value: true});
        return stores;
    }

    /** Keep `win._dashPlotlyJSURL` on the address of `doc`'s <meta name="pmm-plotly">.
     *  Returns that address, or null (no meta tag, or Plotly already there). */
    function usePlotlyBundle(win, doc) {
        var meta = doc && doc.querySelector ? doc.querySelector('meta[name="pmm-plotly"]') : null;
        var url = meta && meta.getAttribute("content");
        if (!url || win.Plotly) { return null; }
        Object.defineProperty(win, "_dashPlotlyJSURL", {
            configurable: true,
            enumerable: true,
            get: function () { return url; },
            set: function () { /* the renderer's full bundle: the partial one is kept */ }
        });
        return url;
    }

    return {isNoopReset: isNoopReset, quiet: quiet, install: install, usePlotlyBundle: usePlotlyBundle, RESET: RESET};
}));
