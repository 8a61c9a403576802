/*
 * PyMapManager map viewer: the hot paths, in the browser.
 *
 * Slice change (mouse wheel, arrow keys, PageUp/PageDown) and channel keys (1, 2, 3):
 *   the event handler swaps every viewer's image URL on its Leaflet layer at once
 *   (pmm.showPlanes), then records the new state in the SLICE store / CHANNEL control
 *   with dash_clientside.set_props; the clientside callback `render` keeps the Dash props
 *   (ImageOverlay/TileLayer url, slice read-outs) in step and is also the path for every
 *   change that comes from a control (projection, contrast, new viewers...).
 *   Neighbouring planes are preloaded (and decoded) once the current one is shown.
 * Plot click (plotly_click) and spine click: every viewer pans to the run (or to the
 *   matching place on its tracing where the run is absent), rings it and moves to its
 *   plane (pmm.selectRun); the clientside callback `select` records the SELECTION and
 *   SLICE stores; the plot's highlight trace is patched after the viewers have painted.
 * Pan/zoom linking between viewers, the preferences cookie, the URL (replaceState).
 *
 * Every Leaflet map registers itself on its container (L.Map init hook), so this code
 * finds a session's map from its viewer frame (.pmm-viewer[data-session]).
 * Timings of the hot paths are recorded in window.pmm.perf (bench/bench_browser.py):
 * from the input event's timeStamp to the frame after the new pixels are in place.
 * Ids below must match app/ids.py (tests/callbacks/test_assets.py checks them).
 */
(function () {
    "use strict";

    var IDS = {
        SLICE: "pmm-slice",
        SELECTION: "pmm-selection",
        PREFS: "pmm-prefs",
        CHANNEL: "pmm-channel",
        PROJECTION: "pmm-projection",
        LINK: "pmm-link",
        PLOT: "pmm-plot",
        VIEWER_SPINES: "pmm-viewer-spines"
    };
    var PREFS_COOKIE = "pmm_prefs";
    var DYN_COLORS = {1: "#22c55e", 2: "#ef4444", 3: "#3b82f6", 4: "#facc15"};
    var SELECTED = "#ff2d95";
    var Z_WINDOW = 2;        // spines are drawn within this many planes of the slice
    var AHEAD = 3;           // planes preloaded in the direction of travel
    var BEHIND = 1;          // ... and behind

    var pmm = window.pmm = window.pmm || {};
    pmm.ids = IDS;
    pmm.view = {
        z: {}, metas: {}, channel: 1, projection: "none", k: 2, link: true,
        spineSize: 6, run: null, prefs: {}, roi: "", direction: 1
    };
    pmm.perf = {slice: [], select: [], selectPainted: [], plotHighlight: []};
    pmm.markers = {};        // session -> Set of circle markers
    pmm.active = null;       // session under the mouse (slices move there when unlinked)

    var preloadCache = {};   // url -> Image, kept so the browser keeps it decoded
    var preloadOrder = [];

    function now() { return performance.now(); }
    function nu() { return window.dash_clientside.no_update; }
    function isNum(v) { return v !== null && v !== undefined && !isNaN(v); }

    // ------------------------------------------------------------------ Leaflet registry

    function hookLeaflet() {
        if (!window.L || !window.L.Map) { return false; }
        if (window.L.__pmmHooked) { return true; }
        window.L.Map.addInitHook(function () {
            var map = this;
            map.getContainer()._pmmMap = map;
            map.on("move zoomend", function () { onMapMove(map); });
            map.on("zoomend", function () {
                var set = pmm.markers[markerSession(map)];
                if (set) { set.forEach(applyMarker); }
            });
        });
        window.L.__pmmHooked = true;
        return true;
    }
    if (!hookLeaflet()) {
        document.addEventListener("DOMContentLoaded", hookLeaflet);
    }

    function markerSession(map) {
        var frame = map.getContainer().closest(".pmm-viewer");
        return frame ? parseInt(frame.getAttribute("data-session"), 10) : null;
    }

    function viewerFrame(s) {
        return document.querySelector('.pmm-viewer[data-session="' + s + '"]');
    }
    function mapOf(s) {
        var frame = viewerFrame(s);
        var el = frame && frame.querySelector(".leaflet-container");
        return el && el._pmmMap ? el._pmmMap : null;
    }
    function shownSessions() {
        var out = [];
        document.querySelectorAll(".pmm-viewer[data-session]").forEach(function (el) {
            out.push(parseInt(el.getAttribute("data-session"), 10));
        });
        return out;
    }
    function imageLayer(map) {
        var found = null;
        var L = window.L;
        map.eachLayer(function (l) {
            if (!found && (l instanceof L.ImageOverlay || l instanceof L.TileLayer)) { found = l; }
        });
        return found;
    }

    // ------------------------------------------------------------------ spines

    function markerState(m) {
        var p = m.feature.properties;
        var v = pmm.view;
        var z = v.z[m._pmmSession];
        var selected = isNum(v.run) && p.run === v.run;
        var size = markerSize(m._pmmSession);
        if (p.ghost) {
            return selected ? {key: "g|" + size, vis: true, style: {radius: size + 3, color: SELECTED, weight: 2,
                dashArray: "3 3", opacity: 1, fillColor: SELECTED, fillOpacity: 0.08}} : {key: "h", vis: false};
        }
        var color = p.bad ? "#94a3b8" : (DYN_COLORS[p.dyn] || "#e2e8f0");
        if (selected) {
            return {key: "s|" + size + "|" + color, vis: true, style: {radius: size + 3, color: SELECTED, weight: 3,
                dashArray: null, opacity: 1, fillColor: color, fillOpacity: 0.35}};
        }
        var opacity = 1;
        if (v.projection !== "max" && isNum(p.z) && isNum(z)) {
            var win = v.projection === "sliding" ? Math.max(Z_WINDOW, v.k || 0) : Z_WINDOW;
            var d = Math.abs(p.z - z);
            if (d > win) { return {key: "h", vis: false}; }
            opacity = d === 0 ? 1 : (d === 1 ? 0.75 : 0.5);
        }
        return {key: "n|" + size + "|" + color + "|" + opacity, vis: true, style: {radius: size, color: color, weight: 2,
            dashArray: p.bad ? "2 2" : null, opacity: opacity, fillColor: color, fillOpacity: 0.18 * opacity}};
    }

    // screen radius of a spine marker: the chosen size, smaller when the image is shown
    // reduced more than 2x (so a whole 2048 x 2048 plane is not a carpet of rings)
    function markerSize(s) {
        var size = pmm.view.spineSize || 6;
        var map = mapOf(s);
        if (!map) { return size; }
        var f = Math.pow(2, map.getZoom() + 1);
        return f >= 1 ? size : Math.max(2, Math.round(size * f * 2) / 2);
    }

    function applyMarker(m) {
        var st = markerState(m);
        if (m._pmmKey === st.key) { return; }
        var wasHidden = m._pmmKey === "h";
        m._pmmKey = st.key;
        var el = m._path;
        if (!st.vis) {
            if (el) { el.style.display = "none"; }
            return;
        }
        if (el && (wasHidden || el.style.display === "none")) { el.style.display = ""; }
        if (m.options.radius !== st.style.radius) { m.setRadius(st.style.radius); }
        m.setStyle(st.style);
        var p = m.feature.properties;
        if (isNum(pmm.view.run) && p.run === pmm.view.run) { m.bringToFront(); }
    }

    pmm.applyAll = function () {
        Object.keys(pmm.markers).forEach(function (s) {
            pmm.markers[s].forEach(applyMarker);
        });
    };

    // dash-leaflet GeoJSON pointToLayer; the component's props come last
    pmm.spineToLayer = function (feature, latlng, context) {
        var s = context && context.hideout ? context.hideout.session : null;
        var m = window.L.circleMarker(latlng, {radius: pmm.view.spineSize || 6, bubblingMouseEvents: false});
        m._pmmSession = s;
        m.feature = feature;
        m.on("add", function () {
            (pmm.markers[s] = pmm.markers[s] || new Set()).add(m);
            m._pmmKey = null;
            applyMarker(m);
        });
        m.on("remove", function () {
            if (pmm.markers[s]) { pmm.markers[s].delete(m); }
        });
        var p = feature.properties;
        m.on("click", function (e) {
            if (isNum(p.run)) {
                var t0 = e.originalEvent ? e.originalEvent.timeStamp : now();
                pmm.selectRun(p.run, "image", s, t0);
            }
        });
        var tip = p.ghost
            ? "run " + p.run + " — absent in this session (" + (p.kind === "tracing" ? "same pDist on the tracing" : "position from another session") + ")"
            : "run " + p.run + " · z " + p.z + (p.bad ? " · bad" : "") + (isNum(p.pDist) ? " · pDist " + p.pDist.toFixed(1) + " µm" : "");
        m.bindTooltip(tip, {direction: "top", offset: [0, -6], opacity: 0.9});
        return m;
    };

    function findRun(s, run) {
        var set = pmm.markers[s];
        var hit = null;
        if (!set) { return null; }
        set.forEach(function (m) {
            var p = m.feature.properties;
            if (p.run === run && (!hit || (hit.feature.properties.ghost && !p.ghost))) { hit = m; }
        });
        return hit;
    }

    // ------------------------------------------------------------------ planes

    function fmt(v) { return Math.round(v * 1000) / 1000; }

    pmm.planeUrl = function (meta, z) {
        var v = pmm.view;
        var proj = v.projection;
        var q = ["channel=" + v.channel];
        if (meta.tiled) { q.push("plane=" + (proj === "max" ? 0 : z)); }
        if (proj !== "none") {
            q.push("projection=" + proj);
            if (proj === "sliding") { q.push("k=" + v.k); }
        }
        var c = (v.prefs.contrast || {})[String(v.channel)];
        if (c && c.length === 2) { q.push("lo=" + fmt(c[0])); q.push("hi=" + fmt(c[1])); }
        q.push("v=" + encodeURIComponent(meta.version || ""));
        if (meta.tiled) { return meta.tile_url + "{z}/{x}/{y}.png?" + q.join("&"); }
        return meta.image_url + (proj === "max" ? 0 : z) + "?" + q.join("&");
    };

    function remember(url, img) {
        if (!preloadCache[url]) { preloadOrder.push(url); }
        preloadCache[url] = img;
        while (preloadOrder.length > 200) { delete preloadCache[preloadOrder.shift()]; }
    }

    function preload(url) {
        if (preloadCache[url]) { return; }
        var img = new Image();
        img.fetchPriority = "low";
        img.decoding = "async";
        img.src = url;
        if (img.decode) {
            img.decode().then(function () { img._pmmReady = true; }, function () { return null; });
        }
        remember(url, img);
    }

    // show a preloaded, decoded image at once: it takes the place of the overlay's <img>
    // (which is kept, decoded, for its own URL); false when there is none ready
    function swapIn(layer, url) {
        var img = preloadCache[url];
        var old = layer._image;
        if (!img || !img._pmmReady || !old || !old.parentNode || img === old || img.parentNode) { return false; }
        img.className = old.className;
        img.style.cssText = old.style.cssText;
        img.alt = old.alt;
        img.onload = old.onload;
        img.onerror = old.onerror;
        img.onselectstart = old.onselectstart;
        img.onmousemove = old.onmousemove;
        old.parentNode.replaceChild(img, old);
        layer._image = img;
        layer._url = url;
        layer._pmmLoaded = url;
        delete preloadCache[url];
        old.onload = old.onerror = null;
        if (old.complete && old.naturalWidth && layer._pmmShown) {
            old._pmmReady = true;
            remember(layer._pmmShown, old);
        }
        layer._pmmShown = url;
        return true;
    }

    // the URLs of the tiles a tiled viewer shows now, for another plane
    function tileUrls(layer, z) {
        var out = [];
        Object.keys(layer._tiles || {}).forEach(function (key) {
            var src = layer._tiles[key].el.src;
            if (src) { out.push(src.replace(/([?&]plane=)\d+/, "$1" + z)); }
        });
        return out;
    }

    function preloadAround(s) {
        var v = pmm.view;
        var meta = v.metas[s];
        if (!meta || !meta.has_images || v.projection === "max") { return; }
        var z = zOf(s);
        var ahead = v.direction >= 0 ? AHEAD : BEHIND;
        var behind = v.direction >= 0 ? BEHIND : AHEAD;
        var layer = null;
        if (meta.tiled) {
            var map = mapOf(s);
            layer = map && imageLayer(map);
            if (!layer) { return; }
            ahead = Math.min(ahead, 2);
            behind = Math.min(behind, 2);
        }
        var load = function (zz) {
            if (zz < 0 || zz >= meta.planes) { return; }
            if (layer) { tileUrls(layer, zz).forEach(preload); } else { preload(pmm.planeUrl(meta, zz)); }
        };
        for (var d = 1; d <= Math.max(ahead, behind); d++) {
            if (d <= ahead) { load(z + d); }
            if (d <= behind) { load(z - d); }
        }
    }

    // point a tile layer at another plane without clearing it: every tile keeps its
    // pixels until the new ones have loaded; `done` runs when they all have
    function retile(layer, url, done) {
        layer.setUrl(url, true);
        var n = 0;
        Object.keys(layer._tiles || {}).forEach(function (key) {
            var tile = layer._tiles[key];
            var img = tile.el;
            var src = layer.getTileUrl(tile.coords);
            if (img.src === src) { return; }
            n += 1;
            var fin = function () {
                img.removeEventListener("load", fin);
                img.removeEventListener("error", fin);
                n -= 1;
                if (n === 0) { done(); }
            };
            img.addEventListener("load", fin);
            img.addEventListener("error", fin);
            img.src = src;
        });
        if (n === 0) { done(); }
    }

    function zOf(s) {
        var meta = pmm.view.metas[s];
        var z = pmm.view.z[s];
        if (!isNum(z)) { z = meta ? Math.floor((meta.planes || 1) / 2) : 0; }
        if (meta) { z = Math.max(0, Math.min(meta.planes - 1, z)); }
        return z;
    }

    function sliceText(s) {
        var v = pmm.view;
        var meta = v.metas[s];
        if (!meta) { return ""; }
        if (v.projection === "max") { return "max projection · " + meta.planes + " planes"; }
        var txt = "z " + zOf(s) + " / " + (meta.planes - 1);
        return v.projection === "sliding" ? txt + " · max ±" + v.k : txt;
    }

    // record the time from t0 to just after the next frame is painted
    function recordWhenPainted(kind, t0) {
        requestAnimationFrame(function () {
            setTimeout(function () {
                var t = now();
                (pmm.perf[kind] = pmm.perf[kind] || []).push(t - t0);
                pmm.perf["last_" + kind] = {t0: t0, t1: t};
            }, 0);
        });
    }

    // bench/bench_browser.py's baseline: let Dash and React swap the images (the render
    // callback's url outputs, react-leaflet's setUrl) and time it like the direct path
    function timeDashPath(t0) {
        var pending = 0;
        shownSessions().forEach(function (s) {
            var meta = pmm.view.metas[s];
            var map = mapOf(s);
            var layer = map && imageLayer(map);
            if (!meta || !meta.has_images || !layer || layer._url === pmm.planeUrl(meta, zOf(s))) { return; }
            pending += 1;
            layer.once("load", function () {
                pending -= 1;
                if (pending === 0) { recordWhenPainted("dash", t0); }
            });
        });
        pmm.applyAll();
    }

    // swap every shown viewer's image to the current view; time it from t0 when given;
    // `then` runs once the new images are in (or at once, after a frame, if none changed)
    pmm.showPlanes = function (t0, kind, then) {
        var pending = 0;
        var token = {};
        if (isNum(t0)) { pmm.showPlanes.token = token; }
        var finished = false;
        var finish = function () {
            if (finished) { return; }
            finished = true;
            if (isNum(t0) && pmm.showPlanes.token === token) { recordWhenPainted(kind || "slice", t0); }
            if (then) { requestAnimationFrame(function () { setTimeout(then, 0); }); }
        };
        shownSessions().forEach(function (s) {
            var meta = pmm.view.metas[s];
            var frame = viewerFrame(s);
            var label = frame && frame.querySelector(".pmm-viewer-slice");
            if (label) { label.textContent = sliceText(s); }
            if (!meta || !meta.has_images) { return; }
            var map = mapOf(s);
            var layer = map && imageLayer(map);
            if (!layer) { return; }
            var url = pmm.planeUrl(meta, zOf(s));
            if (layer._url === url) {
                if (layer._pmmLoaded === url) { preloadAround(s); }
                return;
            }
            if (!meta.tiled && swapIn(layer, url)) {
                preloadAround(s);
                return;
            }
            pending += 1;
            if (meta.tiled) {
                retile(layer, url, function () {
                    layer._pmmLoaded = url;
                    preloadAround(s);
                    pending -= 1;
                    if (pending === 0) { finish(); }
                });
                return;
            }
            var done = function () {
                layer.off("load", onLoad);
                layer.off("error tileerror", onLoad);
                preloadAround(s);
                pending -= 1;
                if (pending === 0) { finish(); }
            };
            var onLoad = function () { layer._pmmLoaded = url; layer._pmmShown = url; done(); };
            layer.on("load", onLoad);
            layer.on("error tileerror", onLoad);
            layer.setUrl(url);
        });
        pmm.applyAll();
        if (pending === 0) { finish(); }
        else { setTimeout(finish, 1500); }
    };

    // Dash's stores follow the view once the new pixels are on screen (and the user
    // paused): the hot paths do not wait for Dash's own work
    var commitTimer = null;
    var lastSlice = null;
    pmm.commitSlice = function (delay) {
        if (commitTimer) { clearTimeout(commitTimer); }
        commitTimer = setTimeout(function () {
            commitTimer = null;
            lastSlice = JSON.stringify({z: pmm.view.z});
            window.dash_clientside.set_props(IDS.SLICE, {data: {z: pmm.view.z}});
            pmm.syncUrl();
        }, isNum(delay) ? delay : 120);
    };

    // ------------------------------------------------------------------ input

    pmm.stepSlice = function (delta, sessions, t0) {
        var v = pmm.view;
        var z = Object.assign({}, v.z);
        var moved = false;
        sessions.forEach(function (s) {
            var meta = v.metas[s];
            if (!meta) { return; }
            var nz = Math.max(0, Math.min(meta.planes - 1, zOf(s) + delta));
            if (nz !== zOf(s)) { moved = true; }
            z[s] = nz;
        });
        if (!moved) { return; }
        v.z = z;
        v.direction = delta >= 0 ? 1 : -1;
        pmm.showPlanes(t0, "slice", function () { pmm.commitSlice(); });
    };

    function stepTargets(session) {
        var shown = shownSessions();
        if (pmm.view.link || !isNum(session)) { return shown; }
        return [session];
    }

    function onWheel(e) {
        var frame = e.target.closest && e.target.closest(".pmm-viewer");
        if (!frame) { return; }
        var s = parseInt(frame.getAttribute("data-session"), 10);
        pmm.active = s;
        e.preventDefault();
        if (e.ctrlKey || e.metaKey) {
            var map = mapOf(s);
            if (!map) { return; }
            var dz = -e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.002);
            dz = Math.max(-1, Math.min(1, dz));
            map.setZoomAround(map.mouseEventToContainerPoint(e), map.getZoom() + dz, {animate: false});
            return;
        }
        var acc = (frame._pmmWheel || 0) + e.deltaY * (e.deltaMode === 1 ? 40 : (e.deltaMode === 2 ? 800 : 1));
        var step = 0;
        while (acc >= 50) { step += 1; acc -= 100; }
        while (acc <= -50) { step -= 1; acc += 100; }
        frame._pmmWheel = acc;
        if (step) { pmm.stepSlice(step, stepTargets(s), e.timeStamp); }
    }

    function typing(target) {
        if (!target || !target.closest) { return false; }
        var tag = (target.tagName || "").toLowerCase();
        var kind = (target.type || "").toLowerCase();
        // radio buttons, switches and buttons keep the keys for the viewers
        if (tag === "input" && kind !== "radio" && kind !== "checkbox" && kind !== "button") { return true; }
        if (tag === "textarea" || tag === "select" || target.isContentEditable) { return true; }
        return !!target.closest(".rc-slider, [role=slider], .dash-dropdown, [role=combobox], [role=listbox]");
    }

    function availableChannels() {
        var out = [];
        Object.keys(pmm.view.metas).forEach(function (s) {
            (pmm.view.metas[s].channels || []).forEach(function (c) {
                if (out.indexOf(c) < 0) { out.push(c); }
            });
        });
        return out;
    }

    pmm.setChannel = function (ch, t0) {
        if (ch === pmm.view.channel) { return; }
        pmm.view.channel = ch;
        pmm.showPlanes(t0, "slice", function () {
            window.dash_clientside.set_props(IDS.CHANNEL, {value: ch});
        });
    };

    function onKey(e) {
        if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) { return; }
        if (!document.querySelector(".pmm-viewer")) { return; }
        var k = e.key;
        var delta = {ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1, PageDown: 5, PageUp: -5}[k];
        if (delta) {
            e.preventDefault();
            pmm.stepSlice(delta, stepTargets(pmm.active), e.timeStamp);
        } else if (k === "1" || k === "2" || k === "3") {
            var ch = parseInt(k, 10);
            if (availableChannels().indexOf(ch) >= 0) {
                e.preventDefault();
                pmm.setChannel(ch, e.timeStamp);
            }
        } else if (k === "m" || k === "M") {
            e.preventDefault();
            window.dash_clientside.set_props(IDS.PROJECTION, {value: pmm.view.projection === "max" ? "none" : "max"});
        } else if (k === "l" || k === "L") {
            e.preventDefault();
            window.dash_clientside.set_props(IDS.LINK, {value: !pmm.view.link});
        } else if (k === "Escape" && isNum(pmm.view.run)) {
            pmm.selectRun(null, "key", null, e.timeStamp);
        }
    }

    document.addEventListener("wheel", onWheel, {passive: false, capture: true});
    document.addEventListener("keydown", onKey);
    document.addEventListener("mouseover", function (e) {
        var frame = e.target.closest && e.target.closest(".pmm-viewer");
        if (frame) { pmm.active = parseInt(frame.getAttribute("data-session"), 10); }
    });

    // plot clicks: Plotly covers the page while the button is down, so the mouseup (the
    // input event we time from) lands elsewhere; hook plotly_click on first use
    var plotInput = null;
    var plotDown = false;
    function plotDiv() { return document.querySelector("#" + IDS.PLOT + " .js-plotly-plot"); }
    function hookPlot() {
        var gd = plotDiv();
        if (!gd || gd._pmmHooked || !gd.on) { return; }
        gd._pmmHooked = true;
        gd.on("plotly_click", function (ev) {
            var pt = ev && ev.points && ev.points[0];
            if (!pt || !pt.customdata || !isNum(pt.customdata[0])) { return; }
            var t0 = plotInput !== null ? plotInput : now();
            plotInput = null;
            pmm.selectRun(pt.customdata[0], "plot", pt.customdata[1], t0);
        });
    }
    document.addEventListener("mousedown", function (e) {
        plotDown = !!(e.target.closest && e.target.closest("#" + IDS.PLOT));
        if (plotDown) { hookPlot(); }
    }, true);
    document.addEventListener("mouseup", function (e) {
        if (plotDown) { plotInput = e.timeStamp; }
        plotDown = false;
    }, true);

    // ------------------------------------------------------------------ linking pan/zoom

    var syncing = false;
    function onMapMove(map) {
        var c = map.getCenter();
        var prev = map._pmmPrev;
        map._pmmPrev = {lat: c.lat, lng: c.lng};
        if (syncing || !pmm.view.link || !prev) { return; }
        var dlat = c.lat - prev.lat, dlng = c.lng - prev.lng, zoom = map.getZoom();
        syncing = true;
        try {
            shownSessions().forEach(function (s) {
                var other = mapOf(s);
                if (!other || other === map) { return; }
                var oc = other.getCenter();
                other.setView([oc.lat + dlat, oc.lng + dlng], zoom, {animate: false});
                var nc = other.getCenter();
                other._pmmPrev = {lat: nc.lat, lng: nc.lng};
            });
        } finally {
            syncing = false;
        }
    }

    // zoom in on a selection when the viewer still shows the whole image
    function selectionZoom(map, s) {
        var meta = pmm.view.metas[s];
        var z = map.getZoom();
        if (!meta) { return z; }
        var fit = map.getBoundsZoom([[-meta.rows, 0], [0, meta.columns]]);
        return Math.min(map.getMaxZoom(), Math.max(z, fit + 1, 0));
    }

    function centreOn(map, latlng, zoom) {
        syncing = true;
        try {
            map.setView(latlng, isNum(zoom) ? zoom : map.getZoom(), {animate: false});
            var c = map.getCenter();
            map._pmmPrev = {lat: c.lat, lng: c.lng};
        } finally {
            syncing = false;
        }
    }

    // ------------------------------------------------------------------ URL and cookie

    var urlTimer = null;
    pmm.syncUrl = function () {
        if (urlTimer) { clearTimeout(urlTimer); }
        urlTimer = setTimeout(function () {
            urlTimer = null;
            if (location.pathname.indexOf("/map/") < 0) { return; }
            var v = pmm.view;
            var shown = shownSessions();
            if (!shown.length) { return; }
            var zs = shown.map(zOf);
            var same = zs.every(function (z) { return z === zs[0]; });
            var q = ["s=" + shown.join(","), "z=" + (same ? zs[0] : zs.join(",")), "ch=" + v.channel];
            if (v.projection !== "none") { q.push("proj=" + v.projection); }
            if (v.projection === "sliding" && v.k !== 2) { q.push("k=" + v.k); }
            if (isNum(v.run)) { q.push("run=" + v.run); }
            if (v.roi) { q.push("roi=" + encodeURIComponent(v.roi)); }
            if (!v.link) { q.push("link=0"); }
            var url = location.pathname + "?" + q.join("&");
            if (url !== location.pathname + location.search) {
                history.replaceState(history.state, "", url);
            }
        }, 200);
    };

    pmm.writePrefs = function (prefs) {
        var text = encodeURIComponent(JSON.stringify(prefs));
        document.cookie = PREFS_COOKIE + "=" + text + "; path=/; max-age=31536000; SameSite=Lax";
    };

    // ------------------------------------------------------------------ selection

    // the selected run's points (in session order), from the plot's point traces
    function highlightXY(run) {
        var gd = plotDiv();
        var pts = [];
        var data = (gd && gd.data) || [];
        for (var i = 1; i < data.length; i++) {
            var cd = data[i].customdata || [];
            for (var j = 0; j < cd.length; j++) {
                if (cd[j][0] === run) { pts.push([cd[j][1], data[i].x[j], data[i].y[j]]); }
            }
        }
        pts.sort(function (a, b) { return a[0] - b[0]; });
        return pts;
    }

    // layout shapes drawing the selected run (as app/figures/mapplot.selected_shapes)
    function selectedShapes(pts, size) {
        var shapes = [];
        if (pts.length > 1) {
            shapes.push({type: "path", xref: "x", yref: "y", layer: "above", name: "pmm-selected",
                path: "M " + pts.map(function (p) { return p[1] + "," + p[2]; }).join(" L "),
                line: {color: SELECTED, width: 3}});
        }
        var r = size / 2 + 4;
        pts.forEach(function (p) {
            shapes.push({type: "circle", xref: "x", yref: "y", xsizemode: "pixel", ysizemode: "pixel",
                xanchor: p[1], yanchor: p[2], x0: -r, x1: r, y0: -r, y1: r, layer: "above", name: "pmm-selected",
                line: {color: SELECTED, width: 2.5}, fillcolor: "rgba(255, 45, 149, 0.15)"});
        });
        return shapes;
    }

    // highlight the selected run in the plot; done after the viewers have painted
    pmm.patchPlot = function (run, t0) {
        var gd = plotDiv();
        if (!gd || !gd.data || gd.data.length < 2) { return; }
        var size = (gd.layout && gd.layout.meta && gd.layout.meta.marker_size) || 7;
        var shapes = isNum(run) ? selectedShapes(highlightXY(run), size) : [];
        var patch = new window.dash_clientside.Patch();
        patch.assign(["layout", "shapes"], shapes);
        if (isNum(t0) && gd.once) {
            gd.once("plotly_afterplot", function () { recordWhenPainted("plotHighlight", t0); });
        }
        window.dash_clientside.set_props(IDS.PLOT, {figure: patch.build()});
    };

    // move every viewer to `run` (pan, ring, plane); returns the slice of every session
    pmm.goToRun = function (run, source, sourceSession) {
        var v = pmm.view;
        v.run = isNum(run) ? run : null;
        var z = Object.assign({}, v.z);
        if (isNum(run)) {
            shownSessions().forEach(function (s) {
                var m = findRun(s, run);
                if (!m) { return; }
                if (isNum(m.feature.properties.z)) { z[s] = m.feature.properties.z; }
                var map = mapOf(s);
                if (map && !(source === "image" && s === sourceSession)) { centreOn(map, m.getLatLng(), selectionZoom(map, s)); }
            });
        }
        v.z = z;
        return z;
    };

    var handled = null;      // the last selection made here, so `select` does not repeat it

    pmm.selectRun = function (run, source, session, t0) {
        pmm.goToRun(run, source, session);
        handled = {run: pmm.view.run, source: source, at: now()};
        if (isNum(run) && isNum(t0)) { recordWhenPainted("select", t0); }
        pmm.showPlanes(isNum(run) ? t0 : null, "selectPainted", function () {
            var sel = {run: pmm.view.run, session: isNum(session) ? session : null, source: source};
            window.dash_clientside.set_props(IDS.SELECTION, {data: sel});
            pmm.commitSlice(0);
            pmm.patchPlot(pmm.view.run, t0);
        });
    };

    // ------------------------------------------------------------------ clientside callbacks

    function byS(metas) {
        var out = {};
        (metas || []).forEach(function (m) { if (m) { out[m.session] = m; } });
        return out;
    }

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        pmm: {
            // the view's controls and stores -> image URLs and slice read-outs
            render: function (slice, channel, projection, k, prefs, metas, link, roi) {
                hookLeaflet();
                var v = pmm.view;
                v.metas = byS(metas);
                var ctx = window.dash_clientside.callback_context;
                var fromSlice = (ctx.triggered || []).some(function (t) { return t.prop_id === IDS.SLICE + ".data"; });
                // (our own commits come back here: ignore them, and anything older than a
                // step not yet committed; the benchmark's baseline sets SLICE on purpose)
                var external = isNum(pmm.perf.dashT0) || (JSON.stringify(slice) !== lastSlice && !commitTimer);
                if (slice && slice.z && fromSlice && external) {
                    var z = Object.assign({}, v.z);
                    Object.keys(slice.z).forEach(function (s) { z[s] = slice.z[s]; });
                    v.z = z;
                }
                v.channel = channel || 1;
                v.projection = projection || "none";
                v.k = Math.max(1, parseInt(k, 10) || 2);
                v.prefs = prefs || {};
                v.spineSize = v.prefs.spine_size || 6;
                v.link = !!link;
                v.roi = roi || "";
                if (isNum(pmm.perf.dashT0)) {
                    timeDashPath(pmm.perf.dashT0);
                    pmm.perf.dashT0 = null;
                } else {
                    pmm.showPlanes(null);
                }
                var outs = ctx.outputs_list || [[], []];
                var images = outs[0].map(function (o) {
                    var meta = v.metas[o.id.index];
                    return meta && meta.has_images ? pmm.planeUrl(meta, zOf(o.id.index)) : nu();
                });
                var labels = outs[1].map(function (o) { return sliceText(o.id.index); });
                pmm.syncUrl();
                return [images, labels];
            },

            // Dash's record of a plot click or spine click (the viewers moved already,
            // unless the click came before this page's handlers were in place)
            select: function (plotClick, spineClicks, clearClicks) {
                var ctx = window.dash_clientside.callback_context;
                var trig = ctx.triggered && ctx.triggered.length ? ctx.triggered[0] : null;
                if (!trig || trig.value === null || trig.value === undefined) { return nu(); }
                var pid = trig.prop_id || "";
                var run = null, session = null, source = "clear";
                if (pid.indexOf(IDS.PLOT + ".") === 0) {
                    var pt = plotClick && plotClick.points && plotClick.points[0];
                    if (!pt || !pt.customdata) { return nu(); }
                    run = pt.customdata[0]; session = pt.customdata[1]; source = "plot";
                } else if (pid.indexOf(IDS.VIEWER_SPINES) >= 0) {
                    var f = trig.value;
                    if (!f || !f.properties || !isNum(f.properties.run)) { return nu(); }
                    run = f.properties.run; session = JSON.parse(pid.split(".")[0]).index; source = "image";
                }
                if (handled && handled.run === run && handled.source === source && now() - handled.at < 3000) {
                    return nu();
                }
                pmm.selectRun(run, source, session, null);
                return nu();
            },

            // a selection from the URL, or new viewers: move them to the selected run
            applySelection: function (selection, metas) {
                var run = selection && isNum(selection.run) ? selection.run : null;
                var ctx = window.dash_clientside.callback_context;
                var fromStore = (ctx.triggered || []).some(function (t) { return t.prop_id.indexOf(IDS.SELECTION) === 0; });
                if (fromStore && selection && selection.source !== "init") { return nu(); }
                var tries = 0;
                var apply = function () {
                    var shown = shownSessions();
                    var ready = shown.length > 0 && shown.every(function (s) { return pmm.markers[s] && mapOf(s); });
                    if (!ready && tries++ < 150) { setTimeout(apply, 30); return; }
                    if (!isNum(run)) { return; }
                    pmm.goToRun(run, "restore", null);
                    pmm.showPlanes(null, null, function () {
                        pmm.commitSlice(0);
                        pmm.patchPlot(run, null);
                    });
                };
                pmm.view.run = run;
                apply();
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
                pmm.writePrefs(p);
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
                if (trig.indexOf("pmm-contrast.value") === 0 && value && value.length === 2) {
                    p.contrast[ch] = [value[0], value[1]];
                    changed = true;
                } else if (trig.indexOf("pmm-contrast-auto") === 0) {
                    delete p.contrast[ch];
                    changed = true;
                }
                var cur = p.contrast[ch] || [ci.lo, ci.hi];
                if (changed) { pmm.writePrefs(p); }
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
