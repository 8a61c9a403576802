/*
 * PyMapManager map viewer, 1 of 7: the view state.
 *
 * The one owner of what the viewers show: the plane of every session, channel, channel
 * overlay, projection, contrast, link, spine size, ROI type and the selected run. Every
 * change goes through a method here, which normalises it, applies it and emits ONE
 * synchronous "change" event naming the keys that changed and their cause
 * ({kind, t0, source, session}); a change to the same value emits nothing, so writing a
 * value back is harmless. The other scripts only react to these events:
 *   20-pmm-layers.js   image layers, plane swapping, slice read-outs, timings
 *   30-pmm-spines.js   annotation markers, centring on the selected run
 *   40-pmm-preload.js  neighbouring planes, decoded ahead of time
 *   50-pmm-keys.js     keyboard, wheel, plane slider, help overlay
 *   60-pmm-plot.js     plot clicks and the plot's highlight
 *   70-pmm-dash.js     the only writer of Dash's stores and of the URL
 *
 * No DOM, no Leaflet, no Dash here: the same file runs under node (tests/js/) and in the
 * browser (window.PmmViewState; the page's instance is window.pmm.state).
 */
(function (root, factory) {
    "use strict";
    var api = factory();
    if (typeof module === "object" && module.exports) { module.exports = api; }
    if (root) { root.PmmViewState = api; }
}(typeof globalThis !== "undefined" ? globalThis : this, function () {
    "use strict";

    // Dash component ids (as app/ids.py; tests/callbacks/test_assets.py checks them)
    var IDS = {
        SLICE: "pmm-slice",
        SELECTION: "pmm-selection",
        PREFS: "pmm-prefs",
        CHANNEL: "pmm-channel",
        OVERLAY: "pmm-overlay",
        PROJECTION: "pmm-projection",
        LINK: "pmm-link",
        PLOT: "pmm-plot",
        CONTRAST: "pmm-contrast",
        VIEWER_SPINES: "pmm-viewer-spines",
        TABLE_GRID: "pmm-table-grid",
        RUNS_GRID: "pmm-runs-grid"
    };
    // the stores' payloads written by the view carry this, so the view can tell its own
    // writes (coming back through Dash) from requests made elsewhere (server, URL, table)
    var OWN = "view";
    var PROJECTIONS = ["none", "max", "sliding"];
    var Z_WINDOW = 2;            // spines are drawn within this many planes of the slice
    var OVERLAY_CHANNELS = [1, 2];
    var OVERLAY_TINTS = ["green", "magenta"];

    function isInt(v) { return typeof v === "number" && isFinite(v) && Math.floor(v) === v; }
    function toInt(v) {
        if (typeof v === "string" && v.trim() !== "") { v = Number(v); }
        return isInt(v) ? v : null;
    }
    function clamp(v, lo, hi) { return Math.max(lo, Math.min(hi, v)); }
    function fmt(v) { return Math.round(v * 1000) / 1000; }
    function sameJSON(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

    function normContrast(c) {
        var out = {};
        Object.keys(c || {}).forEach(function (ch) {
            var v = c[ch];
            if (v && v.length === 2 && typeof v[0] === "number" && typeof v[1] === "number" && v[0] < v[1]) {
                out[String(ch)] = [v[0], v[1]];
            }
        });
        return out;
    }

    function create() {
        var listeners = [];
        var s = {
            metas: {},           // session -> ViewerMeta payload, for the shown viewers
            sessions: [],        // shown sessions, ascending
            z: {},               // session -> plane chosen (by step, selection or request)
            zAll: null,          // a plane asked for every session without its own (else meta.default_z)
            channel: 1,
            overlay: false,
            projection: "none",
            k: 2,
            contrast: {},        // channel (string) -> [lo, hi]; absent: automatic
            spineSize: 6,
            link: true,
            roi: "",
            run: null,           // the selected run
            runSource: "",
            runSession: null,
            direction: 1,        // of the last slice step (preloading looks ahead)
            runs: {},            // session -> {run: plane} of its annotations (null: ghost without plane)
            pending: {},         // sessions whose plane still follows the selection once their runs are known
            requested: {},       // sessions whose plane was asked for since the selection (it stays)
            keepPlanes: false    // the selection leaves the planes where they are
        };

        function emit(keys, cause) {
            var names = Object.keys(keys);
            if (!names.length) { return false; }
            var ev = {keys: keys, cause: cause || {}};
            listeners.slice().forEach(function (fn) {
                try {
                    fn(ev);
                } catch (e) {
                    if (typeof reportError === "function") { reportError(e); } else { console.error(e); }
                }
            });
            return true;
        }

        function meta(session) { return s.metas[session] || null; }

        // the plane session `session` shows (clamped to its stack); null before its meta is known
        function zOf(session) {
            var m = meta(session);
            if (!m) { return null; }
            var planes = Math.max(1, m.planes || 1);
            var z = s.z[session];
            // nothing chosen: the plane asked for every session, else where the session's
            // spines are (the server's default_z), else the middle of the stack
            if (!isInt(z)) { z = isInt(s.zAll) ? s.zAll : (isInt(m.default_z) ? m.default_z : Math.floor(planes / 2)); }
            return clamp(z, 0, planes - 1);
        }

        function channels() {
            var out = [];
            s.sessions.forEach(function (session) {
                (meta(session).channels || []).forEach(function (c) {
                    if (out.indexOf(c) < 0) { out.push(c); }
                });
            });
            return out.sort(function (a, b) { return a - b; });
        }

        // set planes; `zs` maps session -> plane; returns whether any shown plane changed
        function putZ(zs, keys) {
            var before = {};
            s.sessions.forEach(function (session) { before[session] = zOf(session); });
            Object.keys(zs).forEach(function (k) {
                var z = toInt(zs[k]);
                var session = toInt(k);
                if (z === null || session === null || z < 0) { return; }
                var m = meta(session);
                s.z[session] = m ? clamp(z, 0, Math.max(1, m.planes || 1) - 1) : z;
            });
            var changed = s.sessions.some(function (session) { return zOf(session) !== before[session]; });
            if (changed) { keys.z = true; }
            return changed;
        }

        // the selected run's plane in every session whose annotations are known
        function followRun(keys) {
            var zs = {};
            Object.keys(s.pending).forEach(function (k) {
                var session = Number(k);
                var idx = s.runs[session];
                if (!idx) { return; }
                delete s.pending[k];
                var z = idx[s.run];
                if (isInt(z)) { zs[session] = z; }
            });
            putZ(zs, keys);
        }

        var api = {
            IDS: IDS,

            /** The state itself (read it, never write it: use the methods). */
            get: function () { return s; },

            /** Call fn({keys, cause}) after every change; returns a function that unsubscribes. */
            on: function (fn) {
                listeners.push(fn);
                return function () { listeners = listeners.filter(function (f) { return f !== fn; }); };
            },

            zOf: zOf,
            channels: channels,

            /** A new page: forget the viewers, planes and selection (display settings stay). */
            reset: function (cause) {
                s.metas = {};
                s.sessions = [];
                s.z = {};
                s.zAll = null;
                s.run = null;
                s.runSource = "";
                s.runSession = null;
                s.direction = 1;
                // s.runs stays: it is the index of the spine markers on the page, kept by their
                // own add/remove events (30-pmm-spines.js), and the first viewers' markers can
                // be added before the page's first view callback resets the state
                s.pending = {};
                s.requested = {};
                s.keepPlanes = false;
                return emit({metas: true, z: true, run: true}, cause);
            },

            /** Display settings from the controls and preferences; unknown or invalid values are ignored. */
            set: function (patch, cause) {
                var keys = {};
                var p = patch || {};
                var ch = toInt(p.channel);
                if (ch !== null && ch >= 1 && ch !== s.channel) { s.channel = ch; keys.channel = true; }
                if (typeof p.overlay === "boolean" && p.overlay !== s.overlay) { s.overlay = p.overlay; keys.overlay = true; }
                if (PROJECTIONS.indexOf(p.projection) >= 0 && p.projection !== s.projection) {
                    s.projection = p.projection;
                    keys.projection = true;
                }
                var k = toInt(p.k);
                if (k !== null && k >= 1 && k <= 50 && k !== s.k) { s.k = k; keys.k = true; }
                if (p.contrast !== undefined) {
                    var c = normContrast(p.contrast);
                    if (!sameJSON(c, s.contrast)) { s.contrast = c; keys.contrast = true; }
                }
                var size = toInt(p.spineSize);
                if (size !== null && size >= 1 && size !== s.spineSize) { s.spineSize = size; keys.spineSize = true; }
                if (typeof p.link === "boolean" && p.link !== s.link) { s.link = p.link; keys.link = true; }
                if (typeof p.roi === "string" && p.roi !== s.roi) { s.roi = p.roi; keys.roi = true; }
                emit(keys, cause);
                return keys;
            },

            /** The shown viewers' descriptions (ViewerMeta payloads), in any order. */
            setMetas: function (list, cause) {
                var metas = {};
                (list || []).forEach(function (m) { if (m && isInt(m.session)) { metas[m.session] = m; } });
                if (sameJSON(metas, s.metas)) { return false; }
                var before = {};
                s.sessions.forEach(function (session) { before[session] = zOf(session); });
                s.metas = metas;
                s.sessions = Object.keys(metas).map(Number).sort(function (a, b) { return a - b; });
                var keys = {metas: true};
                if (s.run !== null) {
                    s.sessions.forEach(function (session) {
                        if (!(session in before) && !s.keepPlanes && !s.requested[session]) { s.pending[session] = true; }
                    });
                    followRun(keys);
                }
                // a channel none of the shown sessions has falls back to the first one they have
                var chs = channels();
                if (chs.length && chs.indexOf(s.channel) < 0) { s.channel = chs[0]; keys.channel = true; }
                return emit(keys, cause);
            },

            /**
             * Planes asked for from outside the view (the URL through the server, a link):
             * {session: plane}; `all` applies to every session without one of its own.
             * A plane asked for wins over the plane of a selection still being restored.
             */
            request: function (zs, all, cause) {
                var keys = {};
                var before = {};
                s.sessions.forEach(function (session) { before[session] = zOf(session); });
                var a = toInt(all);
                if (a !== null && a >= 0) { s.zAll = a; }
                Object.keys(zs || {}).forEach(function (k) { delete s.pending[k]; s.requested[k] = true; });
                putZ(zs || {}, keys);
                if (s.sessions.some(function (session) { return zOf(session) !== before[session]; })) { keys.z = true; }
                return emit(keys, cause);
            },

            /** Move `sessions` (default: every shown one) by `delta` planes, each within its stack. */
            step: function (delta, sessions, cause) {
                var d = toInt(delta);
                if (!d) { return false; }
                var zs = {};
                (sessions || s.sessions).forEach(function (session) {
                    var z = zOf(session);
                    if (z !== null) { zs[session] = z + d; }
                });
                var keys = {};
                if (!putZ(zs, keys)) { return false; }
                s.direction = d > 0 ? 1 : -1;
                return emit(keys, cause);
            },

            /** Show plane `z` in `session`; linked, the other shown sessions move by as many planes. */
            goTo: function (session, z, cause) {
                var cur = zOf(session);
                var target = toInt(z);
                if (cur === null || target === null) { return false; }
                var targets = s.link ? s.sessions : [session];
                return api.step(target - cur, targets, cause);
            },

            /**
             * Select `run` (null clears). opts: source ("plot", "image", "key", "init", ...),
             * session (where it was picked), keepPlanes (leave every plane where it is).
             * Otherwise every viewer moves to the run's plane in its session, now or as soon
             * as that session's annotations are known (setRuns).
             */
            select: function (run, opts, cause) {
                var o = opts || {};
                var r = toInt(run);
                if (r !== null && r < 0) { r = null; }
                var keys = {};
                var same = r === s.run;
                s.run = r;
                s.runSource = String(o.source || "");
                s.runSession = toInt(o.session);
                s.pending = {};
                s.requested = {};
                s.keepPlanes = !!o.keepPlanes;
                if (!same) { keys.run = true; }
                if (r !== null && !o.keepPlanes) {
                    s.sessions.forEach(function (session) { s.pending[session] = true; });
                    followRun(keys);
                }
                // a repeated click on the selected run still re-centres the viewers
                if (same && r !== null) { keys.run = true; }
                return emit(keys, cause);
            },

            /** The plane of every run in `session`'s annotations (from the spine layer). */
            setRuns: function (session, index, cause) {
                s.runs[session] = index || {};
                var keys = {};
                if (s.run !== null && s.pending[session]) { followRun(keys); }
                keys.runs = true;
                return emit(keys, cause);
            },

            // ---------------------------------------------------------- derived views

            /** Image layers of a viewer: [{channel, tint}] (tint null: grey). */
            layersOf: function (session) {
                var m = meta(session);
                if (!m || !m.has_images) { return []; }
                var have = m.channels || [];
                if (s.overlay) {
                    var both = OVERLAY_CHANNELS.filter(function (c) { return have.indexOf(c) >= 0; });
                    if (both.length === 2) {
                        return both.map(function (c, i) { return {channel: c, tint: OVERLAY_TINTS[i]}; });
                    }
                }
                var ch = have.indexOf(s.channel) >= 0 || !have.length ? s.channel : have[0];
                return [{channel: ch, tint: null}];
            },

            /** The URL of a session's plane (or, for a tiled viewer, its Leaflet tile template). */
            planeUrl: function (session, channel) {
                var m = meta(session);
                if (!m) { return null; }
                var z = zOf(session);
                var proj = s.projection;
                var q = ["channel=" + channel];
                if (m.tiled) { q.push("plane=" + (proj === "max" ? 0 : z)); }
                if (proj !== "none") {
                    q.push("projection=" + proj);
                    if (proj === "sliding") { q.push("k=" + s.k); }
                }
                var c = s.contrast[String(channel)];
                if (c) { q.push("lo=" + fmt(c[0])); q.push("hi=" + fmt(c[1])); }
                q.push("v=" + encodeURIComponent(m.version || ""));
                if (m.tiled) { return m.tile_url + "{z}/{x}/{y}.png?" + q.join("&"); }
                return m.image_url + (proj === "max" ? 0 : z) + "?" + q.join("&");
            },

            /** The same URL at another plane (preloading). */
            planeUrlAt: function (url, z) {
                if (url.indexOf("/tiles/") >= 0) { return url.replace(/([?&]plane=)\d+/, "$1" + z); }
                return url.replace(/\/planes\/\d+\?/, "/planes/" + z + "?");
            },

            /** The slice read-out above a viewer. */
            sliceText: function (session) {
                var m = meta(session);
                if (!m) { return ""; }
                if (s.projection === "max") { return "max projection · " + m.planes + " planes"; }
                var txt = "z " + zOf(session) + " / " + (m.planes - 1);
                return s.projection === "sliding" ? txt + " · max ±" + s.k : txt;
            },

            /**
             * How an annotation is drawn: {visible, selected, ghost, opacity}. Spines are
             * drawn within Z_WINDOW planes of the session's plane (k for a wider sliding max),
             * fainter with distance, all of them in max projection; ghosts (where an absent
             * run would be) only when their run is selected; nothing before the plane is known.
             */
            look: function (props, session) {
                var selected = s.run !== null && props.run === s.run;
                if (props.ghost) {
                    return {visible: selected, selected: selected, ghost: true, opacity: 1};
                }
                if (selected) { return {visible: true, selected: true, ghost: false, opacity: 1}; }
                if (s.projection === "max") { return {visible: true, selected: false, ghost: false, opacity: 1}; }
                var z = zOf(session);
                if (z === null) { return {visible: false, selected: false, ghost: false, opacity: 0}; }
                if (!isInt(props.z)) { return {visible: true, selected: false, ghost: false, opacity: 1}; }
                var win = s.projection === "sliding" ? Math.max(Z_WINDOW, s.k) : Z_WINDOW;
                var d = Math.abs(props.z - z);
                if (d > win) { return {visible: false, selected: false, ghost: false, opacity: 0}; }
                return {visible: true, selected: false, ghost: false, opacity: d === 0 ? 1 : (d === 1 ? 0.75 : 0.5)};
            },

            /** The SLICE store's payload. */
            sliceStore: function () {
                var z = {};
                s.sessions.forEach(function (session) { z[String(session)] = zOf(session); });
                return {z: z, by: OWN};
            },

            /** The SELECTION store's payload. */
            selectionStore: function () {
                return {run: s.run, session: s.runSession, source: s.runSource, by: OWN};
            },

            /** Whether a store payload was written by the view itself. */
            isOwn: function (data) { return !!data && data.by === OWN; },

            /** The URL query of the view (as app.state.ViewState.from_query reads it). */
            query: function () {
                if (!s.sessions.length) { return ""; }
                var zs = s.sessions.map(zOf);
                var same = zs.every(function (z) { return z === zs[0]; });
                var q = ["s=" + s.sessions.join(","), "z=" + (same ? zs[0] : zs.join(",")), "ch=" + s.channel];
                if (s.overlay) { q.push("ov=1"); }
                if (s.projection !== "none") { q.push("proj=" + s.projection); }
                if (s.projection === "sliding" && s.k !== 2) { q.push("k=" + s.k); }
                if (s.run !== null) { q.push("run=" + s.run); }
                if (s.roi) { q.push("roi=" + encodeURIComponent(s.roi)); }
                if (!s.link) { q.push("link=0"); }
                return "?" + q.join("&");
            }
        };
        return api;
    }

    return {create: create, IDS: IDS, Z_WINDOW: Z_WINDOW, OWN: OWN};
}));
