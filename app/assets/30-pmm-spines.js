/*
 * PyMapManager map viewer, 3 of 7: the annotations on the images.
 *
 * dash-leaflet's GeoJSON layer of each viewer makes its markers with pmm.spineToLayer
 * (app/components/viewer.py). Each marker is drawn as the view state says (state.look:
 * within two planes of the slice, fainter with distance; the selected run ringed; where
 * the run is absent, a dashed ring on the tracing), restyled only when its look changes.
 * The plane of every run in a session goes to the state (state.setRuns) once its markers
 * are in, so a selection can move each viewer to its run's plane, also in viewers that
 * appear later. On a new selection every viewer pans to the run (the one it was clicked
 * in stays put); pmm:select times it from the click to the frame that shows it.
 */
(function () {
    "use strict";

    var pmm = window.pmm;
    var state = pmm.state;
    var SELECTED = "#ff2d95";
    var BAD = "#94a3b8";
    var PLAIN = "#e2e8f0";

    var markers = {};        // session -> Set of circle markers
    var dirty = {};          // sessions whose run index is to be sent to the state
    var flushing = false;
    var serial = 0;          // selections made, so each viewer is centred once per selection
    var centred = {};        // session -> the selection it was centred for

    // screen radius of a marker: the chosen size, smaller when the image is shown reduced
    // more than 2x (so a whole 2048 x 2048 plane is not a carpet of rings)
    function markerSize(s) {
        var size = state.get().spineSize || 6;
        var map = pmm.layers.map(s);
        if (!map) { return size; }
        var f = Math.pow(2, map.getZoom() + 1);
        return f >= 1 ? size : Math.max(2, Math.round(size * f * 2) / 2);
    }

    function styleOf(m) {
        var p = m.feature.properties;
        var look = state.look(p, m._pmmSession);
        if (!look.visible) { return {key: "h"}; }
        var size = markerSize(m._pmmSession);
        if (look.ghost) {
            return {key: "g|" + size, style: {radius: size + 3, color: SELECTED, weight: 2,
                dashArray: "3 3", opacity: 1, fillColor: SELECTED, fillOpacity: 0.08}};
        }
        var color = p.bad ? BAD : (m._pmmColors[p.dyn] || PLAIN);
        if (look.selected) {
            return {key: "s|" + size + "|" + color, style: {radius: size + 3, color: SELECTED, weight: 3,
                dashArray: null, opacity: 1, fillColor: color, fillOpacity: 0.35}};
        }
        var o = look.opacity;
        return {key: "n|" + size + "|" + color + "|" + o, style: {radius: size, color: color, weight: 2,
            dashArray: p.bad ? "2 2" : null, opacity: o, fillColor: color, fillOpacity: 0.18 * o}};
    }

    function apply(m) {
        var st = styleOf(m);
        if (m._pmmKey === st.key) { return; }
        m._pmmKey = st.key;
        var el = m.getElement();
        if (!st.style) {
            if (el) { el.style.display = "none"; }
            return;
        }
        if (el && el.style.display === "none") { el.style.display = ""; }
        if (m.getRadius() !== st.style.radius) { m.setRadius(st.style.radius); }
        m.setStyle(st.style);
        if (st.key.charAt(0) !== "n") { m.bringToFront(); }
    }

    function applySession(s) {
        if (markers[s]) { markers[s].forEach(apply); }
    }

    function applyAll() { Object.keys(markers).forEach(applySession); }

    // the marker of `run` in session s (the spine itself rather than its ghost)
    function findRun(s, run) {
        var hit = null;
        (markers[s] || new Set()).forEach(function (m) {
            var p = m.feature.properties;
            if (p.run === run && (!hit || (hit.feature.properties.ghost && !p.ghost))) { hit = m; }
        });
        return hit;
    }

    function centreOnRun(s) {
        var st = state.get();
        if (st.run === null || centred[s] === serial) { return; }
        var m = findRun(s, st.run);
        if (!m) { return; }
        centred[s] = serial;
        if (st.runSource === "image" && st.runSession === s) { return; }
        pmm.layers.centre(s, m.getLatLng());
    }

    // the markers of a GeoJSON layer are added in one go: send the run index once after
    function markDirty(s) {
        dirty[s] = true;
        if (flushing) { return; }
        flushing = true;
        queueMicrotask(function () {
            flushing = false;
            var sessions = Object.keys(dirty).map(Number);
            dirty = {};
            sessions.forEach(function (s) {
                var idx = {};
                var ghost = {};
                (markers[s] || new Set()).forEach(function (m) {
                    var p = m.feature.properties;
                    if (typeof p.run !== "number") { return; }
                    if (!(p.run in idx) || (ghost[p.run] && !p.ghost)) {
                        idx[p.run] = typeof p.z === "number" ? p.z : null;
                        ghost[p.run] = !!p.ghost;
                    }
                });
                state.setRuns(s, idx, {kind: "restore"});
                centreOnRun(s);
            });
        });
    }

    // dash-leaflet GeoJSON pointToLayer; the component's props come last
    pmm.spineToLayer = function (feature, latlng, context) {
        var s = context && context.hideout ? context.hideout.session : null;
        var m = window.L.circleMarker(latlng, {radius: state.get().spineSize || 6, bubblingMouseEvents: false});
        m._pmmSession = s;
        // dynamics code -> colour, from the server (app/figures/colors.py via the hideout)
        m._pmmColors = (context && context.hideout && context.hideout.colors) || {};
        m.feature = feature;
        m.on("add", function () {
            (markers[s] = markers[s] || new Set()).add(m);
            m._pmmKey = null;
            apply(m);
            markDirty(s);
        });
        m.on("remove", function () {
            if (markers[s]) { markers[s].delete(m); }
            markDirty(s);
        });
        var p = feature.properties;
        m.on("click", function (e) {
            // the edit mode (75-pmm-edit.js) takes Shift/Alt clicks and the end of a drag
            if (pmm.edit && pmm.edit.onSpineClick(e, m, s)) { return; }
            if (typeof p.run !== "number") { return; }
            var t0 = e.originalEvent ? e.originalEvent.timeStamp : performance.now();
            state.select(p.run, {source: "image", session: s}, {kind: "select", t0: t0});
        });
        var tip = p.ghost
            ? "run " + p.run + " — absent in this session (" + (p.kind === "tracing" ? "same pDist on the tracing" : "position from another session") + ")"
            : "run " + p.run + " · z " + p.z + (p.bad ? " · bad" : "") + (typeof p.pDist === "number" ? " · pDist " + p.pDist.toFixed(1) + " µm" : "");
        m.bindTooltip(tip, {direction: "top", offset: [0, -6], opacity: 0.9});
        return m;
    };

    var STYLE_KEYS = ["metas", "z", "projection", "k", "run", "spineSize"];
    function onChange(ev) {
        if (ev.keys.run) {
            serial += 1;
            state.get().sessions.forEach(centreOnRun);
        }
        if (STYLE_KEYS.some(function (k) { return ev.keys[k]; })) { applyAll(); }
        if (ev.keys.run && ev.cause.kind === "select" && typeof ev.cause.t0 === "number" && state.get().run !== null) {
            pmm.measure("select", ev.cause.t0);
        }
    }
    state.on(function (ev) {
        // a selection: once the plot's highlight is painted (20-pmm-layers.js)
        if (ev.cause.kind === "select") {
            pmm.afterSelectPaint(function () { onChange(ev); });
        } else {
            onChange(ev);
        }
    });

    pmm.layers.on(function (ev) {
        if (ev.type === "viewer") {
            ev.map.on("zoomend", function () { applySession(ev.session); });
            centreOnRun(ev.session);
        }
    });

    pmm.spines = {
        /** The markers of session s (a Set of Leaflet circle markers). */
        markers: function (s) { return markers[s] || new Set(); },
        findRun: findRun,
        /** Draw a marker again after its properties changed (an edit). */
        restyle: function (m) { m._pmmKey = null; apply(m); }
    };
}());
