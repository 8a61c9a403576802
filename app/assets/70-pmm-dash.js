/*
 * PyMapManager map viewer, 7 of 7: Dash.
 *
 * Into the view state: the clientside callback `view` (callbacks/map_viewer.py) hands it
 * the page's controls, preferences and viewer descriptions (state.set, setMetas: a value
 * it already has changes nothing), and any SLICE or SELECTION payload the view did not
 * write itself (the server's planes from the URL, a selection from elsewhere on the page):
 * state.request, state.select.
 *
 * Out of the view state, in this one place: after every change, once its frame is painted,
 * the SLICE and SELECTION stores and the controls the keys change (channel, overlay,
 * projection, link) are written with dash_clientside.set_props, and the address bar with
 * history.replaceState. The view's payloads carry by: "view", so they are not taken back
 * in as requests. (The address bar is written at most every URL_EVERY ms, the last state
 * always: browsers stop honouring replaceState called hundreds of times in a few seconds.)
 *
 * The tables' selected row: the row of the selected run is selected in the spine table and
 * the runs x sessions view, and scrolled to, through the grids' own API (dash_ag_grid.getApi;
 * row id = run): after a selection, once its frame is painted; after new rows; when a tab
 * is shown (a hidden grid cannot scroll). No Dash store and no server round trip.
 *
 * Also here: the display preferences (cookie), the contrast slider and histogram, session
 * labels and session paging.
 */
(function () {
    "use strict";

    var pmm = window.pmm;
    var state = pmm.state;
    var IDS = pmm.ids;
    var PREFS_COOKIE = "pmm_prefs";
    var URL_EVERY = 250;

    function nu() { return window.dash_clientside.no_update; }
    function isNum(v) { return typeof v === "number" && isFinite(v); }

    // ------------------------------------------------------------------ out: stores and URL

    var dirty = {};
    var scheduled = false;
    var CONTROL_OF = {channel: IDS.CHANNEL, overlay: IDS.OVERLAY, projection: IDS.PROJECTION, link: IDS.LINK};

    function write() {
        scheduled = false;
        var d = dirty;
        dirty = {};
        var set = window.dash_clientside && window.dash_clientside.set_props;
        var st = state.get();
        if (set && st.sessions.length) {
            if (d.z || d.metas) { set(IDS.SLICE, {data: state.sliceStore()}); }
            if (d.run) { set(IDS.SELECTION, {data: state.selectionStore()}); }
            Object.keys(CONTROL_OF).forEach(function (k) {
                if (d[k] && document.getElementById(CONTROL_OF[k])) {
                    seen.controls[k] = st[k];
                    set(CONTROL_OF[k], {value: st[k]});
                }
            });
        }
        url();
    }

    var urlAt = -Infinity;
    var urlPending = false;
    function url() {
        if (location.pathname.indexOf("/map/") < 0 || !state.get().sessions.length) { return; }
        var wait = urlAt + URL_EVERY - performance.now();
        if (wait > 0) {
            if (!urlPending) {
                urlPending = true;
                setTimeout(function () { urlPending = false; url(); }, wait);
            }
            return;
        }
        urlAt = performance.now();
        var next = location.pathname + state.query();
        if (next !== location.pathname + location.search) {
            history.replaceState(history.state, "", next);
        }
    }

    state.on(function (ev) {
        // controls changed by their own callback need no writing back (only those: a key
        // pressed just before, not yet written to its control, still is)
        var fromControl = ev.cause.kind === "control";
        Object.keys(ev.keys).forEach(function (k) {
            if (fromControl && CONTROL_OF[k]) { delete dirty[k]; } else { dirty[k] = true; }
        });
        if (!scheduled) {
            scheduled = true;
            // a selection's viewers are drawn a frame later (20-pmm-layers.js): the stores
            // (whose callbacks busy the page) are written after that frame
            if (ev.cause.kind === "select") {
                pmm.afterPaint(function () { pmm.afterPaint(write); });
            } else {
                pmm.afterPaint(write);
            }
        }
    });

    // ------------------------------------------------------------------ out: the tables' row

    var GRIDS = [IDS.TABLE_GRID, IDS.RUNS_GRID];

    // what last changed each grid's selection: the user (a click) or this code, new rows...
    var selectedBy = {};
    var NOT_USER = /^(api|rowData|gridInitializing|selectableChanged)/;

    function hookApi(id, api) {
        if (api._pmmHooked) { return; }
        api._pmmHooked = true;
        // new rows (a session, statistics, filters): the selected run's row again
        api.addEventListener("rowDataUpdated", function () { syncGrid(id, true); });
        // the first rows: a grid's API can exist before its rows do (its first rows are not
        // a rowDataUpdated), and a sync then finds no row to select
        api.addEventListener("firstDataRendered", function () { syncGrid(id, true); });
        api.addEventListener("selectionChanged", function (e) { selectedBy[id] = String(e.source || ""); });
    }

    function gridApi(id) {
        var g = window.dash_ag_grid;
        if (!g || !document.getElementById(id)) { return null; }
        var api = null;
        try {
            api = g.getApi(id);
        } catch (e) {
            return null;        // not made yet: its rows' arrival syncs it (tables, below)
        }
        if (!api || (api.isDestroyed && api.isDestroyed())) { return null; }
        hookApi(id, api);
        return api;
    }

    // whether grid `id` is on its tab shown (read from classes: no layout forced)
    function shown(id) {
        var el = document.getElementById(id);
        var pane = el && el.closest(".tab-pane");
        return !!el && (!pane || pane.classList.contains("active"));
    }

    // select the selected run's row (or none) in grid `id`; scroll: bring it into view
    function syncGrid(id, scroll) {
        var api = gridApi(id);
        if (!api) { return; }
        var st = state.get();
        var node = st.run === null ? null : api.getRowNode(String(st.run));
        if (!node) {
            if (api.getSelectedNodes().length) { api.deselectAll(); }
            return;
        }
        if (!node.isSelected()) { node.setSelected(true, true); }
        // a row picked in the table stays where it is; elsewhere, the row comes to the middle
        if (scroll && shown(id)) { api.ensureNodeVisible(node, st.runSource === "table" ? null : "middle"); }
    }

    function syncGrids() { GRIDS.forEach(function (id) { syncGrid(id, true); }); }

    function hookGrid(id) {
        var g = window.dash_ag_grid;
        if (!g || !g.getApiAsync || !document.getElementById(id)) { return; }
        g.getApiAsync(id).then(function (api) {
            hookApi(id, api);
            pmm.afterPaint(function () { syncGrid(id, true); });
        }, function () { /* the page went away */ });
    }

    // the plot and the grids are drawn after the first paint (app/components/deferred.py):
    // each is hooked once its lazy chunk has made it (the selection may be older: the
    // plot's highlight is drawn and the selected run's row synced then)
    // (the plot, once drawn, records pmm:plot-shown: the tables wait for it, so Plotly and AG
    // Grid are not loaded and run at the same time)
    var PLOT_DIV = "#" + IDS.PLOT + " .js-plotly-plot";
    var plotShown = false;
    window.addEventListener("pmm-deferred-shown", function () {
        var tries = 0;
        var waiting = GRIDS.concat([PLOT_DIV]);
        (function again() {
            waiting = waiting.filter(function (id) {
                if (id === PLOT_DIV) {
                    var gd = document.querySelector(PLOT_DIV);
                    if (!gd || !gd.on || !gd._fullLayout) { return true; }
                    pmm.plot.hook();
                    pmm.plot.highlight(null);
                    if (!plotShown) {
                        plotShown = true;
                        pmm.measure("plot-shown", 0);
                    }
                    return false;
                }
                if (!document.getElementById(id)) { return true; }
                hookGrid(id);
                return false;
            });
            if (waiting.length && ++tries < 100) { setTimeout(again, 100); }
        })();
    });

    pmm.tables = {
        /** Whether grid `id`'s selection was last changed by this code (or new rows), not a click. */
        notByUser: function (id) { return NOT_USER.test(selectedBy[id] || ""); }
    };

    var gridsScheduled = false;
    state.on(function (ev) {
        if (!ev.keys.run || gridsScheduled) { return; }
        gridsScheduled = true;
        // after the selection's frames (the plot's, then the viewers')
        pmm.afterPaint(function () { pmm.afterPaint(function () { gridsScheduled = false; syncGrids(); }); });
    });

    function writePrefs(prefs) {
        var text = encodeURIComponent(JSON.stringify(prefs));
        document.cookie = PREFS_COOKIE + "=" + text + "; path=/; max-age=31536000; SameSite=Lax";
    }

    // ------------------------------------------------------------------ in: callbacks

    // what the callback last saw of each input; controls: the value each control last had
    // (as the callback saw it or as the view wrote it), so a callback run for another input
    // (a preference, the viewers) does not take back a key pressed since with a stale value
    var seen = {mapRef: null, slice: null, selection: null, controls: {}};

    // the controls whose value changed since last seen
    function changedControls(values) {
        var out = {};
        Object.keys(values).forEach(function (k) {
            if (!(k in seen.controls) || seen.controls[k] !== values[k]) {
                seen.controls[k] = values[k];
                out[k] = values[k];
            }
        });
        return out;
    }

    function byS(metas) {
        var out = {};
        (metas || []).forEach(function (m) { if (m) { out[m.session] = m; } });
        return out;
    }

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        pmm: {
            // the page's view inputs -> the view state (see the top of this file)
            view: function (mapRef, slice, selection, metas, channel, overlay, projection, k, link, roi, prefs) {
                pmm.layers.hook();
                pmm.plot.hook();
                var cause = {kind: "control"};
                // a new page (its stores are new objects): start afresh
                if (mapRef !== seen.mapRef) {
                    seen.mapRef = mapRef;
                    seen.controls = {};
                    state.reset({kind: "open"});
                }
                var p = prefs || {};
                var values = changedControls({
                    channel: channel, overlay: !!overlay, projection: projection, k: k, link: !!link, roi: roi || ""
                });
                values.contrast = p.contrast || {};
                values.spineSize = p.spine_size;
                state.set(values, cause);
                state.setMetas(metas, {kind: "viewers"});
                if (slice !== seen.slice) {
                    seen.slice = slice;
                    if (slice && !state.isOwn(slice)) {
                        var zs = slice.z || {};
                        var vals = Object.keys(zs).map(function (s) { return zs[s]; });
                        var all = vals.length && vals.every(function (v) { return v === vals[0]; }) ? vals[0] : null;
                        state.request(zs, all, {kind: "open"});
                    }
                }
                if (selection !== seen.selection) {
                    seen.selection = selection;
                    if (selection && !state.isOwn(selection) && (isNum(selection.run) || state.get().run !== null)) {
                        state.select(isNum(selection.run) ? selection.run : null,
                            {source: selection.source, session: selection.session}, {kind: "restore"});
                    }
                }
                return nu();
            },

            // new rows in a table, a tab shown: the tables' selected row (see the top)
            tables: function () {
                GRIDS.forEach(hookGrid);
                return nu();
            },

            // the Clear button
            clear: function (n) {
                if (n) { state.select(null, {source: "clear"}, {kind: "clear", t0: performance.now()}); }
                return nu();
            },

            // session labels from the label mode
            labels: function (prefs, metas) {
                var mode = (prefs && prefs.label_mode) || "date";
                var m = byS(metas);
                var outs = window.dash_clientside.callback_context.outputs_list || [];
                return outs.map(function (o) {
                    var meta = m[o.id.index];
                    return meta ? (meta.label[mode] || meta.label.index) : nu();
                });
            },

            // display preference controls -> PREFS (and the cookie)
            prefs: function (spineSize, plotSize, defaultChannel, labelMode, prefs) {
                var p = Object.assign({}, prefs || {});
                p.spine_size = spineSize;
                p.plot_size = plotSize;
                p.default_channel = parseInt(defaultChannel, 10) || 0;
                p.label_mode = labelMode;
                writePrefs(p);
                return p;
            },

            // contrast slider / Auto / channel -> PREFS.contrast, slider range and value, histogram
            contrast: function (channel, value, autoClicks, info, prefs) {
                var ctx = window.dash_clientside.callback_context;
                var trig = ctx.triggered && ctx.triggered.length ? ctx.triggered[0].prop_id : "";
                var ch = String(channel || 1);
                var ci = (info || {})[ch];
                if (!ci) {
                    return [nu(), [0, 1], 0, 1, true, emptyHistogram()];
                }
                var p = Object.assign({}, prefs || {});
                p.contrast = Object.assign({}, p.contrast || {});
                var changed = false;
                if (trig.indexOf(IDS.CONTRAST + ".value") === 0 && value && value.length === 2) {
                    p.contrast[ch] = [value[0], value[1]];
                    changed = true;
                } else if (trig.indexOf("pmm-contrast-auto") === 0) {
                    delete p.contrast[ch];
                    changed = true;
                }
                var cur = p.contrast[ch] || [ci.lo, ci.hi];
                if (changed) { writePrefs(p); }
                var lo = Math.min(isNum(ci.min) ? ci.min : 0, cur[0]);
                var hi = Math.max(isNum(ci.max) ? ci.max : 1, cur[1], lo + 1);
                return [changed ? p : nu(), [cur[0], cur[1]], lo, hi, false, histogramFigure(ci, cur, lo, hi, !p.contrast[ch])];
            },

            // session paging: previous / next page of as many sessions as are shown, or all
            page: function (prevClicks, nextClicks, allClicks, value, options) {
                var ctx = window.dash_clientside.callback_context;
                var trig = ctx.triggered && ctx.triggered.length ? ctx.triggered[0].prop_id : "";
                var all = (options || []).map(function (o) { return o.value; });
                if (!all.length) { return nu(); }
                if (trig.indexOf("pmm-sessions-all") === 0) { return all; }
                var cur = (value || []).slice().sort(function (a, b) { return a - b; });
                var n = Math.max(1, cur.length);
                var first = cur.length ? all.indexOf(cur[0]) : 0;
                var start = trig.indexOf("pmm-sessions-next") === 0 ? first + n : first - n;
                start = Math.max(0, Math.min(all.length - n, start));
                return all.slice(start, start + n);
            }
        }
    });

    function emptyHistogram() {
        return {data: [], layout: {height: 44, margin: {l: 4, r: 4, t: 2, b: 2},
            xaxis: {visible: false}, yaxis: {visible: false},
            paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
            annotations: [{text: "no images", showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5,
                font: {size: 11, color: "#94a3b8"}}]}};
    }

    function histogramFigure(ci, cur, lo, hi, auto) {
        var h = ci.histogram || {counts: [], edges: []};
        var xs = [];
        for (var i = 0; i + 1 < h.edges.length; i++) { xs.push((h.edges[i] + h.edges[i + 1]) / 2); }
        var ys = h.counts.map(function (c) { return Math.log10(1 + c); });
        var ymax = Math.max.apply(null, ys.concat([1]));
        var line = function (x) {
            return {type: "line", x0: x, x1: x, y0: 0, y1: ymax, line: {color: auto ? "#0ea5e9" : "#f97316", width: 2}};
        };
        return {
            data: [{type: "bar", x: xs, y: ys, marker: {color: "#94a3b8"}, hoverinfo: "skip"}],
            layout: {
                margin: {l: 4, r: 4, t: 2, b: 2}, height: 44, bargap: 0,
                xaxis: {visible: false, range: [lo, hi]}, yaxis: {visible: false}, showlegend: false,
                paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
                shapes: [line(cur[0]), line(cur[1])]
            }
        };
    }
}());
