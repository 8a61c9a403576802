/*
 * PyMapManager map viewer, 4 of 7: preloading.
 *
 * Once a viewer shows the state's images (pmm.layers "shown"), in the task after the frame
 * that shows them, the planes around it are fetched and decoded at low priority: three
 * ahead in the direction of the last step and one behind (two and two for tiled viewers:
 * those are the tiles in view). The decoded
 * images are kept (the most recent 240 URLs), so the browser keeps their pixels ready and
 * the next step only points the layers at them (20-pmm-layers.js). A failed preload is
 * dropped, so it is asked for again later.
 *
 * Not before the page's open: until every viewer shows its first images (pmm:open), those
 * are all the server and the browser work on. A viewer's preloads asked for as soon as it
 * showed its own images competed with the other viewers' first images (on a cold server
 * each is rendered: 27 tiles of neighbouring planes beside the 9 first ones on a 9-session
 * map). A viewer whose image failed never opens the page: the preloads then start
 * OPEN_WAIT ms after the first viewer showed its images.
 */
(function () {
    "use strict";

    var pmm = window.pmm;
    var state = pmm.state;
    var AHEAD = 3;
    var BEHIND = 1;
    var TILED_MAX = 2;       // tiled viewers: planes each way at most (every tile in view, 9 viewers)
    var KEEP = 240;
    var OPEN_WAIT = 3000;

    var cache = new Map();   // url -> Image (insertion order = age)

    function preload(url) {
        if (cache.has(url)) {
            var img0 = cache.get(url);
            cache.delete(url);
            cache.set(url, img0);
            return;
        }
        var img = new Image();
        img.fetchPriority = "low";
        img.decoding = "async";
        img.src = url;
        cache.set(url, img);
        img.decode().catch(function () { cache.delete(url); });
        while (cache.size > KEEP) { cache.delete(cache.keys().next().value); }
    }

    function around(s) {
        var st = state.get();
        var meta = st.metas[s];
        if (!meta || !meta.has_images || st.projection === "max") { return; }
        var z = state.zOf(s);
        var ahead = st.direction >= 0 ? AHEAD : BEHIND;
        var behind = st.direction >= 0 ? BEHIND : AHEAD;
        if (meta.tiled) {
            ahead = Math.min(ahead, TILED_MAX);
            behind = Math.min(behind, TILED_MAX);
        }
        var urls = pmm.layers.urls(s);
        var load = function (zz) {
            if (zz < 0 || zz >= meta.planes) { return; }
            urls.forEach(function (u) { preload(state.planeUrlAt(u, zz)); });
        };
        for (var d = 1; d <= Math.max(ahead, behind); d++) {
            if (d <= ahead) { load(z + d); }
            if (d <= behind) { load(z - d); }
        }
    }

    // after the frame that shows the viewer's images (and its timing): the preloads' image
    // requests and decodes do not delay that frame
    var due = {};
    var scheduled = false;
    var waited = false;      // OPEN_WAIT has passed without an open
    var waiting = null;

    function ready() { return waited || pmm.layers.opened(); }

    function schedule() {
        if (scheduled || !ready() || !Object.keys(due).length) { return; }
        scheduled = true;
        pmm.afterPaint(function () {
            scheduled = false;
            var sessions = Object.keys(due).map(Number);
            due = {};
            sessions.forEach(around);
        });
    }

    pmm.layers.on(function (ev) {
        if (ev.type === "open") { schedule(); return; }
        if (ev.type !== "shown") { return; }
        due[ev.session] = true;
        if (!ready() && waiting === null) {
            waiting = setTimeout(function () { waited = true; schedule(); }, OPEN_WAIT);
        }
        schedule();
    });

    pmm.preload = {
        /** Whether `url` was preloaded and decoded (kept). */
        has: function (url) { return cache.has(url); },
        size: function () { return cache.size; }
    };
}());
