/*
 * PyMapManager map viewer, 2 of 7: the viewers' image layers.
 *
 * Every Leaflet map of a session viewer registers itself here (an L.Map init hook; the
 * viewer frame .pmm-viewer[data-session] says which session). Its image layers are made
 * here with Leaflet's public API, in their own pane under the annotations: one
 * L.imageOverlay (planes up to 1024 pixels) or L.tileLayer (larger planes, 256-pixel tiles)
 * per shown channel; two with the channel overlay, tinted green and magenta by SVG colour
 * matrices and added on screen (mix-blend-mode: screen).
 *
 * On every change of the view state that alters what a viewer shows, each layer gets its
 * new URL: ImageOverlay.setUrl, or for tiles TileLayer.setUrl(url, true) and the src of
 * every tile in view set in place (so each tile keeps its pixels until the new ones have
 * arrived: no blank frame; the tiles kept out of view are dropped, to be made again when
 * they come into view). A layer counts as showing a URL only once that URL has loaded
 * (an image the browser has in memory, preloaded or seen before, is loaded as its src is
 * set); a failed load is not recorded as shown and puts a notice on the viewer.
 *
 * Timings (performance.measure, read by bench/bench_browser.py and visible in DevTools):
 *   pmm:<cause kind>  from the input event to just after the frame showing every new image
 *                     (slice, channel, select-planes, ...)
 *   pmm:open          from navigation start to the first frame with every viewer's first
 *                     image and its spines on screen (once per page load)
 * Events: pmm.layers.on(fn) calls fn({type: "viewer", session, map}) for each new
 * viewer and fn({type: "shown", session}) when a viewer shows the state's images.
 */
(function () {
    "use strict";

    var pmm = window.pmm = window.pmm || {};
    var state = pmm.state = pmm.state || window.PmmViewState.create();
    pmm.ids = state.IDS;

    var PANE = "pmmImages";
    // the timing of a change's images, by the kind of change (a selection's own timing,
    // viewers moved and ringed, is pmm:select: 30-pmm-spines.js)
    var ROUND_NAMES = {select: "select-planes"};
    var views = {};          // session -> {map, frame, recs: [layer records], notice}
    var listeners = [];
    var round = null;        // the latest change being shown: {cause, pending: [recs], failed}
    var opened = false;      // pmm:open measured (once per page load)

    function emit(ev) { listeners.forEach(function (fn) { fn(ev); }); }

    // After-paint work, in ONE task after the next frame (requestAnimationFrame, then a
    // task: nextTask): first the timings of that frame (pmm.measure: so a timing ends as soon as its
    // frame is painted, not after work queued behind it), then the selection's viewer work
    // (pmm.afterSelectPaint), then everything else (pmm.afterPaint), each list in order.
    var after = {measures: [], select: [], other: [], scheduled: false};

    function runAll(list) {
        list.forEach(function (fn) {
            try {
                fn();
            } catch (e) {
                if (typeof reportError === "function") { reportError(e); } else { console.error(e); }
            }
        });
    }

    function flushAfter() {
        var q = after;
        after = {measures: [], select: [], other: [], scheduled: false};
        var now = performance.now();
        runAll(q.measures.map(function (m) { return function () { m(now); }; }));
        runAll(q.select);
        runAll(q.other);
    }

    // The task right after a frame: with the Prioritized Task Scheduling API, at
    // user-blocking priority, so it runs before the tasks queued meanwhile (images loaded,
    // the server's answers and Dash's re-renders of them, tens to hundreds of ms on a big
    // map), which a setTimeout would wait behind: a selection's viewers were drawn, and its
    // timing ended, only after them. setTimeout where there is no scheduler.
    function nextTask(fn) {
        var sch = window.scheduler;
        if (sch && typeof sch.postTask === "function") {
            sch.postTask(fn, {priority: "user-blocking"}).catch(function (e) {
                if (typeof reportError === "function") { reportError(e); } else { console.error(e); }
            });
        } else {
            setTimeout(fn, 0);
        }
    }

    function scheduleAfter() {
        if (after.scheduled) { return; }
        after.scheduled = true;
        requestAnimationFrame(function () { nextTask(flushAfter); });
    }

    // run fn once the next frame has been painted
    pmm.afterPaint = function (fn) {
        after.other.push(fn);
        scheduleAfter();
    };

    // A selection's work in the viewers (new planes, markers restyled, every viewer panned:
    // tens of ms with 9 tiled viewers) is done once the frame after the click is painted,
    // so that first frame shows the plot's highlight (60-pmm-plot.js) at once, and its
    // timing ends there; the viewers follow in the next frame (pmm:select is timed to that
    // one). fn(): run then, in order.
    pmm.afterSelectPaint = function (fn) {
        after.select.push(fn);
        scheduleAfter();
    };

    // a timing from `t0` (an input event's timeStamp, or 0: navigation start) to just after the next paint
    pmm.measure = function (name, t0, detail) {
        after.measures.push(function (end) {
            performance.measure("pmm:" + name, {start: t0, end: end, detail: detail || null});
        });
        scheduleAfter();
    };

    function absolute(url) { return new URL(url, document.baseURI).href; }

    // ------------------------------------------------------------------ registry

    function sessionOf(map) {
        var frame = map.getContainer().closest(".pmm-viewer[data-session]");
        return frame ? parseInt(frame.getAttribute("data-session"), 10) : null;
    }

    function register(map) {
        var s = sessionOf(map);
        if (s === null) { return; }
        var frame = map.getContainer().closest(".pmm-viewer");
        var view = views[s] = {map: map, frame: frame, recs: [], notice: null};
        map.getContainer()._pmmMap = map;
        map.createPane(PANE).style.zIndex = 250;   // above the tile pane, under the annotations
        map.on("move zoomend", function () { onMapMove(map); });
        // where a move starts from: the first move of a drag (or a zoom) is followed by the
        // linked viewers only if the map's centre before it is known
        map.on("movestart zoomstart", function () { if (!map._pmmPrev) { rememberCentre(map); } });
        rememberCentre(map);
        map.on("unload", function () {
            if (views[s] === view) { delete views[s]; }
        });
        emit({type: "viewer", session: s, map: map});
        build(s);
        labels();
    }

    // Leaflet's SVG renderer, after every pan (moveend), sets the outline ("d") of every
    // path again: every spine marker and tracing of every viewer, although the outlines are
    // in layer coordinates, which a pan does not change. Setting an attribute makes the
    // browser recompute the element's style and geometry and repaint it even when the value
    // is the same: thousands of SVG elements on a 9-session map, after each plot click and
    // each step of a linked drag. The outline is set only when it differs from the one the
    // element has (the value is still computed, so paths culled or clipped by the new view,
    // and those whose radius or position changed, are drawn as before).
    function skipSamePaths(L) {
        var svg = L.SVG && L.SVG.prototype;
        if (!svg || typeof svg._setPath !== "function" || svg._setPath.__pmm) { return; }
        var setPath = svg._setPath;
        var patched = function (layer, path) {
            var el = layer && layer._path;
            if (el && el.__pmmD === path) { return; }
            setPath.call(this, layer, path);
            if (el) { el.__pmmD = path; }
        };
        patched.__pmm = true;
        svg._setPath = patched;
    }

    function hookLeaflet() {
        var L = window.L;
        if (!L || !L.Map) { return false; }
        if (!L.__pmmHooked) {
            L.__pmmHooked = true;
            L.Map.addInitHook(function () { register(this); });
            skipSamePaths(L);
        }
        return true;
    }
    if (!hookLeaflet()) { document.addEventListener("DOMContentLoaded", hookLeaflet); }

    // dash-leaflet loads the code of its GeoJSON layer (the annotations) only once the first
    // viewer is drawn, which puts a script download between the viewers and their spines.
    // On a map page, that chunk is fetched now, beside the page's own start (it registers
    // itself with dash-leaflet's loader: the viewers then find it there).
    function preloadGeoJSON() {
        if (location.pathname.indexOf("/map/") < 0) { return true; }
        var main = document.querySelector("script[src*='/dash_leaflet/dash_leaflet']");
        if (!main) { return false; }
        if (document.querySelector("script[data-pmm-preload]")) { return true; }
        var el = document.createElement("script");
        el.src = main.src.replace(/\/dash_leaflet[^/]*\.js(\?.*)?$/, "/async-GeoJSON.js");
        el.async = true;
        el.setAttribute("data-pmm-preload", "GeoJSON");
        document.head.appendChild(el);
        return true;
    }
    if (!preloadGeoJSON()) { document.addEventListener("DOMContentLoaded", preloadGeoJSON); }

    // ------------------------------------------------------------------ layers

    // the colour matrices of the overlay's tints (referenced by pmm.css: .pmm-tint-*)
    var TINTS = {green: "0 0 0 0 0  1 0 0 0 0  0 0 0 0 0  0 0 0 1 0", magenta: "1 0 0 0 0  0 0 0 0 0  1 0 0 0 0  0 0 0 1 0"};
    function tintFilters() {
        if (document.getElementById("pmm-tint-filters")) { return; }
        var ns = "http://www.w3.org/2000/svg";
        var svg = document.createElementNS(ns, "svg");
        svg.id = "pmm-tint-filters";
        svg.setAttribute("width", "0");
        svg.setAttribute("height", "0");
        svg.setAttribute("aria-hidden", "true");
        svg.style.position = "absolute";
        Object.keys(TINTS).forEach(function (name) {
            var f = document.createElementNS(ns, "filter");
            f.id = "pmm-tint-" + name;
            f.setAttribute("color-interpolation-filters", "sRGB");
            var m = document.createElementNS(ns, "feColorMatrix");
            m.setAttribute("type", "matrix");
            m.setAttribute("values", TINTS[name]);
            f.appendChild(m);
            svg.appendChild(f);
        });
        document.body.appendChild(svg);
    }

    function tintClass(spec) {
        if (!spec.tint) { return ""; }
        tintFilters();
        return " pmm-tint pmm-tint-" + spec.tint;
    }

    function elementOf(rec) {
        return rec.tiled ? rec.layer.getContainer() : rec.layer.getElement();
    }

    function setTint(rec, spec) {
        if (spec.tint) { tintFilters(); }
        var el = elementOf(rec);
        if (el) {
            ["green", "magenta"].forEach(function (t) { el.classList.toggle("pmm-tint-" + t, spec.tint === t); });
            el.classList.toggle("pmm-tint", !!spec.tint);
        }
        rec.spec = spec;
    }

    function tileKey(c) { return c.x + ":" + c.y + ":" + c.z; }

    // Leaflet places each tile with a 3D translation, which makes every tile a compositing
    // layer of its own: 90 and more on a 9-session map, each layerized and committed again
    // in every frame (the frames of a click, a step, a drag). A tile never moves within its
    // zoom level (Leaflet moves the level, and the map pane, as a whole), so a 2D
    // translation places it the same, painted into the layer of its pane.
    var TRANSLATE3D = /^translate3d\(([^,]+),([^,]+),[^)]*\)/;
    function flatten(tile) {
        var t = tile.style.transform;
        if (t && TRANSLATE3D.test(t)) { tile.style.transform = t.replace(TRANSLATE3D, "translate($1,$2)"); }
    }

    // The tiles of a tiled layer in view: a test coords -> bool for the map's current tile
    // zoom and view (the layer also keeps tiles around the view, up to keepBuffer, and
    // those of the previous zoom while the new ones load).
    function tilesInView(rec) {
        var map = rec.layer._map;
        var o = rec.layer.options;
        if (!map) { return function () { return true; }; }
        var tz = Math.min(o.maxNativeZoom, Math.max(o.minZoom, Math.round(map.getZoom())));
        var b = map.getBounds();
        var nw = map.project(b.getNorthWest(), tz), se = map.project(b.getSouthEast(), tz);
        var size = o.tileSize;
        var x0 = Math.floor(Math.min(nw.x, se.x) / size), x1 = Math.floor((Math.max(nw.x, se.x) - 1) / size);
        var y0 = Math.floor(Math.min(nw.y, se.y) / size), y1 = Math.floor((Math.max(nw.y, se.y) - 1) / size);
        return function (c) { return c.z === tz && c.x >= x0 && c.x <= x1 && c.y >= y0 && c.y <= y1; };
    }

    function makeLayer(s, meta, spec, url) {
        var L = window.L;
        var bounds = L.latLngBounds([[-meta.rows, 0], [0, meta.columns]]);
        var rec = {session: s, tiled: !!meta.tiled, spec: spec, target: url, shown: null, failed: null, tiles: {}, expect: null};
        if (meta.tiled) {
            rec.layer = L.tileLayer(url, {
                pane: PANE, tileSize: 256, zoomOffset: meta.max_level, minZoom: -meta.max_level - 2,
                maxNativeZoom: 0, maxZoom: 5, noWrap: true, bounds: bounds, keepBuffer: 4,
                updateWhenZooming: false, className: "pmm-tiles" + tintClass(spec)
            });
            rec.layer.on("tileloadstart", function (e) {
                rec.tiles[tileKey(e.coords)] = {el: e.tile, coords: e.coords};
                flatten(e.tile);
            });
            rec.layer.on("tileunload", function (e) {
                var k = tileKey(e.coords);
                delete rec.tiles[k];
                if (rec.expect && rec.expect[k]) { delete rec.expect[k]; tileSettled(rec, true); }
            });
            rec.layer.on("tileload tileerror", function (e) {
                var k = tileKey(e.coords);
                if (rec.expect && rec.expect[k] && rec.expect[k] === e.tile.src) {
                    delete rec.expect[k];
                    if (e.type === "tileerror") { rec.tileFailed = true; }
                    tileSettled(rec, false);
                } else if (!rec.expect && e.type === "tileerror") {
                    rec.tileFailed = true;
                }
            });
            // the first load of the layer (every tile in view): Leaflet's own "load"
            rec.layer.on("load", function () {
                if (rec.expect === null && rec.shown === null && rec.failed === null) {
                    settled(rec, !rec.tileFailed);
                }
            });
        } else {
            rec.layer = L.imageOverlay(url, bounds, {pane: PANE, interactive: false, className: "pmm-plane" + tintClass(spec)});
            rec.layer.on("load", function () {
                // (a plane already in memory counted as shown when its URL was set: retarget)
                if (rec.shown !== rec.target && rec.layer.getElement().src === absolute(rec.target)) { settled(rec, true); }
            });
            rec.layer.on("error", function () {
                if (rec.layer.getElement().src === absolute(rec.target)) { settled(rec, false); }
            });
        }
        return rec;
    }

    function tileSettled(rec) {
        if (rec.expect && !Object.keys(rec.expect).length) {
            rec.expect = null;
            settled(rec, !rec.tileFailed);
        }
    }

    // An image whose URL the browser has in memory (preloaded: 40-pmm-preload.js, or shown
    // before) is complete as soon as its src is set: the next frame paints it, so there is
    // no load event to wait for (it still comes, a task later, behind whatever is queued).
    function inMemory(img) { return !!img && img.complete && img.naturalWidth > 0; }

    // point a layer at `url`; true when that means waiting for a load
    function retarget(rec, url) {
        if (rec.target === url && (rec.shown === url || rec.failed !== url)) {
            return rec.shown !== url;
        }
        rec.target = url;
        rec.failed = null;
        if (!rec.tiled) {
            rec.layer.setUrl(url);
            if (inMemory(rec.layer.getElement())) {
                rec.shown = url;
                return false;
            }
            return true;
        }
        // tiles: the template for new tiles, and every tile in view in place to the new
        // plane; the tiles kept out of view are dropped (Leaflet makes them again, from the
        // new template, when they come into view): no requests for what is not seen, and
        // no tile of an old plane shown on a pan
        rec.layer.setUrl(url, true);
        rec.expect = {};
        rec.tileFailed = false;
        var offset = rec.layer.options.zoomOffset || 0;
        var seen = tilesInView(rec);
        var drop = typeof rec.layer._removeTile === "function";
        Object.keys(rec.tiles).forEach(function (k) {
            var t = rec.tiles[k];
            var src = window.L.Util.template(url, {x: t.coords.x, y: t.coords.y, z: t.coords.z + offset});
            var shown = seen(t.coords);
            if (t.el.src === absolute(src)) {
                // made from the new template already (a selection's pan: newTemplates):
                // waited for while it loads; one that failed fails the plane
                if (shown && !t.el.complete) {
                    rec.expect[k] = absolute(src);
                } else if (shown && !t.el.naturalWidth) {
                    rec.tileFailed = true;
                }
                return;
            }
            if (!shown && drop) {
                rec.layer._removeTile(k);      // its tileunload forgets it (makeLayer)
                return;
            }
            t.el.src = src;
            if (shown && !inMemory(t.el)) { rec.expect[k] = absolute(src); }
        });
        if (!Object.keys(rec.expect).length) {
            rec.expect = null;
            rec.shown = url;
            return false;
        }
        return true;
    }

    // a layer has loaded its target (ok) or failed to
    function settled(rec, ok) {
        if (ok) {
            rec.shown = rec.target;
        } else {
            rec.failed = rec.target;
        }
        notice(rec.session);
        if (round) {
            var i = round.pending.indexOf(rec);
            if (i >= 0) {
                round.pending.splice(i, 1);
                if (!ok) { round.failed = true; }
                if (!round.pending.length) { finishRound(); }
            }
        }
        if (viewShown(rec.session)) { emit({type: "shown", session: rec.session}); }
        checkOpen();
    }

    function viewShown(s) {
        var view = views[s];
        if (!view) { return false; }
        return view.recs.every(function (r) { return r.shown === r.target; });
    }

    // the viewer says when an image could not be loaded (a Leaflet control, bottom left)
    function notice(s) {
        var view = views[s];
        if (!view) { return; }
        var failed = view.recs.some(function (r) { return r.failed === r.target; });
        if (failed && !view.notice) {
            var Notice = window.L.Control.extend({
                onAdd: function () {
                    var div = window.L.DomUtil.create("div", "pmm-image-failed");
                    div.textContent = "This image could not be loaded; change the plane or channel to try again.";
                    return div;
                }
            });
            view.notice = new Notice({position: "bottomleft"}).addTo(view.map);
        } else if (!failed && view.notice) {
            view.notice.remove();
            view.notice = null;
        }
    }

    // make or update a viewer's layers for the current state; returns the records to wait for
    // (a viewer whose new images were all in memory shows them at once: `instant`)
    function build(s, instant) {
        var view = views[s];
        var meta = state.get().metas[s];
        if (!view || !meta) { return []; }
        var specs = state.layersOf(s);
        var wait = [];
        specs.forEach(function (spec, i) {
            var url = state.planeUrl(s, spec.channel);
            var rec = view.recs[i];
            if (rec && rec.tiled !== !!meta.tiled) {
                view.map.removeLayer(rec.layer);
                rec = null;
            }
            if (!rec) {
                rec = view.recs[i] = makeLayer(s, meta, spec, url);
                view.map.addLayer(rec.layer);
                wait.push(rec);
                return;
            }
            if (rec.spec.tint !== spec.tint || rec.spec.channel !== spec.channel) { setTint(rec, spec); }
            var was = rec.shown;
            if (retarget(rec, url)) {
                wait.push(rec);
            } else if (rec.shown !== was && instant) {
                instant[s] = true;
            }
        });
        view.recs.splice(specs.length).forEach(function (rec) { view.map.removeLayer(rec.layer); });
        notice(s);
        return wait;
    }

    function labels() {
        document.querySelectorAll(".pmm-viewer[data-session]").forEach(function (frame) {
            var s = parseInt(frame.getAttribute("data-session"), 10);
            var el = frame.querySelector(".pmm-viewer-slice");
            var txt = state.sliceText(s);
            if (el && txt && el.textContent !== txt) { el.textContent = txt; }
        });
    }

    function finishRound() {
        var r = round;
        round = null;
        if (!r.failed && typeof r.cause.t0 === "number") {
            pmm.measure(ROUND_NAMES[r.cause.kind] || r.cause.kind || "change", r.cause.t0);
        }
        if (r.failed) { performance.mark("pmm:image-error"); }
    }

    // every viewer to the current state; timed from cause.t0 when given
    function showAll(cause) {
        var pending = [];
        var instant = {};
        state.get().sessions.forEach(function (s) { pending = pending.concat(build(s, instant)); });
        labels();
        round = {cause: cause || {}, pending: pending, failed: false};
        if (!pending.length) { finishRound(); }
        Object.keys(instant).map(Number).forEach(function (s) {
            if (viewShown(s)) { emit({type: "shown", session: s}); }
        });
    }

    function checkOpen() {
        if (opened) { return; }
        var st = state.get();
        if (!st.sessions.length) { return; }
        var ready = st.sessions.every(function (s) {
            var meta = st.metas[s];
            return views[s] && (!meta.has_images || (views[s].recs.length && viewShown(s)));
        });
        if (ready) {
            opened = true;
            pmm.measure("open", 0, {sessions: st.sessions.length});
            emit({type: "open"});
        }
    }

    // A selection's tiles: the tiled layers' templates are pointed at the new planes first
    // (nothing is asked for), the viewers are panned to the run (30-pmm-spines.js, later in
    // the same task: the tiles of the run's place are made from the new planes), and only
    // then are the tiles still in view pointed at them (showAll, in a microtask: after the
    // pans). Retargeting first asked every viewer for the new plane's tiles where it was,
    // then panned away from them: up to half of a click's 70-100 tile requests (9 tiled
    // viewers) were for tiles never shown, served while the click's frames were drawn.
    function newTemplates() {
        state.get().sessions.forEach(function (s) {
            var view = views[s];
            if (!view) { return; }
            state.layersOf(s).forEach(function (spec, i) {
                var rec = view.recs[i];
                if (rec && rec.tiled) { rec.layer.setUrl(state.planeUrl(s, spec.channel), true); }
            });
        });
    }

    var IMAGE_KEYS = ["metas", "z", "channel", "overlay", "projection", "k", "contrast"];
    state.on(function (ev) {
        if (IMAGE_KEYS.some(function (k) { return ev.keys[k]; })) {
            if (ev.cause.kind === "select") {
                pmm.afterSelectPaint(function () {
                    newTemplates();
                    queueMicrotask(function () { showAll(ev.cause); });
                });
            } else {
                showAll(ev.cause);
            }
        }
        if (ev.keys.metas) { checkOpen(); }
    });

    // ------------------------------------------------------------------ linked pan and zoom

    var syncing = false;
    function rememberCentre(map) {
        // (not before the map's first view is set: no centre yet)
        if (!map._loaded || !map._pixelOrigin) { return; }
        var c = map.getCenter();
        map._pmmPrev = {lat: c.lat, lng: c.lng};
    }

    function onMapMove(map) {
        var c = map.getCenter();
        var prev = map._pmmPrev;
        map._pmmPrev = {lat: c.lat, lng: c.lng};
        if (syncing) { return; }
        map._pmmDebt = null;   // a viewer moved by itself is where it is
        if (!state.get().link || !prev) { return; }
        var dlat = c.lat - prev.lat, dlng = c.lng - prev.lng, zoom = map.getZoom();
        syncing = true;
        try {
            Object.keys(views).forEach(function (s) {
                var other = views[s].map;
                if (other === map) { return; }
                // a linked viewer held at its image's edge (maxBounds) while the dragged one
                // goes past it (and bounces back) keeps what it could not follow, and makes
                // it up on the next moves: it ends where the dragged one's moves put it
                var debt = other._pmmDebt || {lat: 0, lng: 0};
                var oc = other.getCenter();
                var tlat = oc.lat + dlat + debt.lat, tlng = oc.lng + dlng + debt.lng;
                other.setView([tlat, tlng], zoom, {animate: false});
                var nc = other.getCenter();
                other._pmmPrev = {lat: nc.lat, lng: nc.lng};
                var owed = {lat: tlat - nc.lat, lng: tlng - nc.lng};
                other._pmmDebt = Math.abs(owed.lat) > 1e-9 || Math.abs(owed.lng) > 1e-9 ? owed : null;
            });
        } finally {
            syncing = false;
        }
    }

    // centre a viewer on `latlng`, zooming in when it still shows the whole image
    function centre(s, latlng) {
        var view = views[s];
        var meta = state.get().metas[s];
        if (!view) { return; }
        var map = view.map;
        var zoom = map.getZoom();
        if (meta) {
            var fit = map.getBoundsZoom([[-meta.rows, 0], [0, meta.columns]]);
            zoom = Math.min(map.getMaxZoom(), Math.max(zoom, fit + 1, 0));
        }
        syncing = true;
        try {
            if (zoom === map.getZoom()) {
                // a pan only translates the map: setView, and panBy beyond the map's own size,
                // reset the view, which re-projects every marker and tile (tens of ms per
                // viewer). Leaflet's own unanimated pan within the size is this same raw
                // pan; the tiles of the new view load on moveend as with any pan.
                var off = map.latLngToContainerPoint(latlng).subtract(map.getSize().divideBy(2)).round();
                if (typeof map._rawPanBy === "function" && !map.getSize().contains(off)) {
                    map._rawPanBy(off);
                    map.fire("move").fire("moveend");
                } else {
                    map.panBy(off, {animate: false});
                }
            } else {
                map.setView(latlng, zoom, {animate: false});
            }
            rememberCentre(map);
            map._pmmDebt = null;
        } finally {
            syncing = false;
        }
    }

    pmm.layers = {
        on: function (fn) { listeners.push(fn); },
        map: function (s) { return views[s] ? views[s].map : null; },
        frame: function (s) { return views[s] ? views[s].frame : null; },
        sessions: function () { return Object.keys(views).map(Number); },
        /** The URLs a viewer's layers show now (tiles: of the tiles in view), for preloading. */
        urls: function (s) {
            var view = views[s];
            if (!view) { return []; }
            var out = [];
            view.recs.forEach(function (rec) {
                if (!rec.tiled) { out.push(rec.shown); return; }
                if (!view.map.hasLayer(rec.layer)) { return; }
                var offset = rec.layer.options.zoomOffset || 0;
                var seen = tilesInView(rec);
                Object.keys(rec.tiles).forEach(function (k) {
                    var t = rec.tiles[k];
                    if (!seen(t.coords)) { return; }
                    out.push(window.L.Util.template(rec.shown || rec.target, {x: t.coords.x, y: t.coords.y, z: t.coords.z + offset}));
                });
            });
            return out.filter(Boolean);
        },
        shown: viewShown,
        /** Whether every viewer has shown its first images (pmm:open) in this page load. */
        opened: function () { return opened; },
        centre: centre,
        /** Called as a page's view starts: Leaflet hooked, dash-leaflet's GeoJSON code on its way. */
        hook: function () { preloadGeoJSON(); return hookLeaflet(); }
    };
}());
