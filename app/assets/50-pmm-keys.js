/*
 * PyMapManager map viewer, 5 of 7: keyboard, mouse wheel, plane slider, key help.
 *
 * Every key is one row of KEYS (what it does, and the help overlay's text), so the help
 * (the ? key) lists exactly the keys there are. Slices: wheel over a viewer, the arrow
 * keys, PageUp/PageDown, Home/End, or the slider at each viewer's right edge; linked
 * viewers move together, unlinked only the one under the mouse. Keys go to the viewers
 * unless a text field has the focus; after a slider, button or toggle has been used with
 * the mouse it gives the focus back, so the keys reach the viewers again.
 */
(function () {
    "use strict";

    var pmm = window.pmm;
    var state = pmm.state;
    var active = null;       // the session under the mouse (unlinked viewers scroll there)

    function targets() {
        var st = state.get();
        if (st.link || active === null || st.sessions.indexOf(active) < 0) { return st.sessions; }
        return [active];
    }

    function step(delta) {
        return function (e) { state.step(delta, targets(), {kind: "slice", t0: e.timeStamp}); };
    }

    function toEnd(last) {
        return function (e) {
            var st = state.get();
            var s = active !== null && st.sessions.indexOf(active) >= 0 ? active : st.sessions[0];
            var meta = st.metas[s];
            if (meta) { state.goTo(s, last ? meta.planes - 1 : 0, {kind: "slice", t0: e.timeStamp}); }
        };
    }

    function channel(e) {
        var ch = parseInt(e.key, 10);
        if (state.channels().indexOf(ch) < 0) { return false; }
        state.set({channel: ch}, {kind: "channel", t0: e.timeStamp});
        return true;
    }

    var KEYS = [
        {keys: ["ArrowDown", "ArrowRight"], label: "↓ →", what: "next plane", run: step(1)},
        {keys: ["ArrowUp", "ArrowLeft"], label: "↑ ←", what: "previous plane", run: step(-1)},
        {keys: ["PageDown"], label: "PageDown", what: "5 planes down", run: step(5)},
        {keys: ["PageUp"], label: "PageUp", what: "5 planes up", run: step(-5)},
        {keys: ["Home"], label: "Home", what: "first plane", run: toEnd(false)},
        {keys: ["End"], label: "End", what: "last plane", run: toEnd(true)},
        {keys: ["1", "2", "3"], label: "1 2 3", what: "channel", run: channel},
        {keys: ["o", "O"], label: "O", what: "overlay channels 1 and 2 (green, magenta) on/off", run: function (e) {
            state.set({overlay: !state.get().overlay}, {kind: "channel", t0: e.timeStamp});
        }},
        {keys: ["m", "M"], label: "M", what: "max projection on/off", run: function (e) {
            state.set({projection: state.get().projection === "max" ? "none" : "max"}, {kind: "projection", t0: e.timeStamp});
        }},
        {keys: ["l", "L"], label: "L", what: "link viewers on/off", run: function () {
            state.set({link: !state.get().link}, {kind: "link"});
        }},
        {keys: ["Escape"], label: "Esc", what: "clear the selection (or close this help)", run: function (e) {
            if (help.isOpen()) { help.close(); return true; }
            if (state.get().run === null) { return false; }
            state.select(null, {source: "key"}, {kind: "clear", t0: e.timeStamp});
            return true;
        }},
        {keys: ["?"], label: "?", what: "this list of keys", run: function () { help.toggle(); }}
    ];
    var MOUSE = [
        ["wheel over a viewer", "previous / next plane"],
        ["slider at a viewer's right", "plane"],
        ["Ctrl + wheel, double-click, + −", "zoom"],
        ["drag", "pan"],
        ["click a spine, or a point in the plot", "select its run in every session"]
    ];

    // ------------------------------------------------------------------ focus

    function isTextField(el) {
        if (!el || !el.closest) { return false; }
        var tag = (el.tagName || "").toLowerCase();
        var kind = (el.type || "").toLowerCase();
        if (tag === "input" && ["radio", "checkbox", "button", "range", "submit"].indexOf(kind) < 0) { return true; }
        return tag === "textarea" || tag === "select" || !!el.isContentEditable;
    }

    // keys that a focused control uses itself (a slider its arrows, a dropdown its typing)
    function ownsKeys(el) {
        if (isTextField(el)) { return true; }
        return !!(el && el.closest && el.closest("[role=slider], .dash-dropdown, [role=combobox], [role=listbox]"));
    }

    // after a control was used with the mouse, the keys go back to the viewers
    var CONTROLS = "[role=slider], .rc-slider, button, .btn, label, input[type=radio], input[type=checkbox], input[type=range]";
    window.addEventListener("pointerup", function (e) {
        var el = e.target && e.target.closest && e.target.closest(CONTROLS);
        if (!el || !document.querySelector(".pmm-viewer")) { return; }
        var focused = document.activeElement;
        if (focused && focused !== document.body && !isTextField(focused) && !focused.closest(".dash-dropdown")) {
            focused.blur();
        }
    });

    function onKey(e) {
        if (e.ctrlKey || e.metaKey || e.altKey) { return; }
        if (!document.querySelector(".pmm-viewer") && !help.isOpen()) { return; }
        if (ownsKeys(e.target) && e.key !== "Escape") { return; }
        for (var i = 0; i < KEYS.length; i++) {
            if (KEYS[i].keys.indexOf(e.key) >= 0) {
                if (KEYS[i].run(e) !== false) { e.preventDefault(); }
                return;
            }
        }
    }

    function onWheel(e) {
        var frame = e.target.closest && e.target.closest(".pmm-viewer[data-session]");
        if (!frame) { return; }
        var s = parseInt(frame.getAttribute("data-session"), 10);
        active = s;
        e.preventDefault();
        if (e.ctrlKey || e.metaKey) {
            var map = pmm.layers.map(s);
            if (!map) { return; }
            var dz = -e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.002);
            dz = Math.max(-1, Math.min(1, dz));
            map.setZoomAround(map.mouseEventToContainerPoint(e), map.getZoom() + dz, {animate: false});
            return;
        }
        var acc = (frame._pmmWheel || 0) + e.deltaY * (e.deltaMode === 1 ? 40 : (e.deltaMode === 2 ? 800 : 1));
        var n = 0;
        while (acc >= 50) { n += 1; acc -= 100; }
        while (acc <= -50) { n -= 1; acc += 100; }
        frame._pmmWheel = acc;
        if (n) { state.step(n, targets(), {kind: "slice", t0: e.timeStamp}); }
    }

    document.addEventListener("wheel", onWheel, {passive: false, capture: true});
    document.addEventListener("keydown", onKey);
    document.addEventListener("mouseover", function (e) {
        var frame = e.target.closest && e.target.closest(".pmm-viewer[data-session]");
        if (frame) { active = parseInt(frame.getAttribute("data-session"), 10); }
    });

    // ------------------------------------------------------------------ plane slider

    var sliders = {};        // session -> input[type=range]

    function syncSlider(s) {
        var input = sliders[s];
        var meta = state.get().metas[s];
        if (!input || !meta) { return; }
        var max = String(Math.max(0, meta.planes - 1));
        if (input.max !== max) { input.max = max; }
        var z = String(state.zOf(s));
        if (input.value !== z) { input.value = z; }
        var off = state.get().projection === "max" || meta.planes < 2;
        if (input.disabled !== off) { input.disabled = off; }
        input.title = "plane " + z + " of 0–" + max;
    }

    pmm.layers.on(function (ev) {
        if (ev.type !== "viewer") { return; }
        var s = ev.session;
        var L = window.L;
        var Slider = L.Control.extend({
            onAdd: function () {
                var box = L.DomUtil.create("div", "pmm-zslider-box");
                var input = L.DomUtil.create("input", "pmm-zslider", box);
                input.type = "range";
                input.min = "0";
                input.step = "1";
                input.setAttribute("aria-label", "plane");
                L.DomEvent.disableClickPropagation(box);
                input.addEventListener("input", function (e) {
                    state.goTo(s, parseInt(input.value, 10), {kind: "slice", t0: e.timeStamp});
                });
                sliders[s] = input;
                syncSlider(s);
                return box;
            },
            onRemove: function () { delete sliders[s]; }
        });
        new Slider({position: "topright"}).addTo(ev.map);
    });

    state.on(function (ev) {
        if (ev.keys.z || ev.keys.metas || ev.keys.projection) { Object.keys(sliders).forEach(syncSlider); }
    });

    // ------------------------------------------------------------------ help overlay

    var help = (function () {
        var box = null;
        function make() {
            box = document.createElement("div");
            box.className = "pmm-help";
            box.setAttribute("role", "dialog");
            box.setAttribute("aria-label", "Keys of the map viewer");
            var card = document.createElement("div");
            card.className = "pmm-help-card";
            var h = document.createElement("h5");
            h.textContent = "Keys";
            card.appendChild(h);
            var table = document.createElement("table");
            var row = function (k, what, cls) {
                var tr = table.insertRow();
                tr.className = cls;
                var th = document.createElement("th");
                k.split(" ").forEach(function (part) {
                    var kbd = document.createElement("kbd");
                    kbd.textContent = part;
                    th.appendChild(kbd);
                    th.appendChild(document.createTextNode(" "));
                });
                tr.appendChild(th);
                tr.insertCell().textContent = what;
            };
            KEYS.forEach(function (k) { row(k.label, k.what, "pmm-help-key"); });
            table.className = "pmm-help-table";
            card.appendChild(table);
            var h2 = document.createElement("h5");
            h2.textContent = "Mouse";
            card.appendChild(h2);
            var mouse = document.createElement("table");
            mouse.className = "pmm-help-table";
            MOUSE.forEach(function (m) {
                var tr = mouse.insertRow();
                tr.insertCell().textContent = m[0];
                tr.insertCell().textContent = m[1];
            });
            card.appendChild(mouse);
            var close = document.createElement("button");
            close.type = "button";
            close.className = "btn btn-sm btn-secondary pmm-help-close";
            close.textContent = "Close";
            card.appendChild(close);
            box.appendChild(card);
            box.addEventListener("click", function (e) {
                if (e.target === box || e.target === close) { api.close(); }
            });
            document.body.appendChild(box);
        }
        var api = {
            isOpen: function () { return !!box && !box.hidden; },
            open: function () { if (!box) { make(); } box.hidden = false; },
            close: function () { if (box) { box.hidden = true; } },
            toggle: function () { if (api.isOpen()) { api.close(); } else { api.open(); } }
        };
        return api;
    }());

    // the key line under the viewers opens the help too
    document.addEventListener("click", function (e) {
        if (e.target.closest && e.target.closest("#" + "pmm-key-help")) { help.open(); }
    });

    pmm.keys = {KEYS: KEYS, MOUSE: MOUSE, help: help};
}());
