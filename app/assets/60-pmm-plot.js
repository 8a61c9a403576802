/*
 * PyMapManager map viewer, 6 of 7: the plot.
 *
 * A click on a point selects its run (state.select; the viewers follow). The selected run
 * is drawn over the plot by this script, in an SVG of its own laid over Plotly's plot
 * area (a line through the run's points and a ring on each, as
 * app/figures/mapplot.selected_shapes draws it): no Plotly call at all, so the WebGL
 * traces are never redrawn for a selection. (Plotly.relayout would be: Dash's Graph copies
 * every relayout into its figure prop, and a new figure is a full Plotly.react.) The
 * figure's own selection shapes, drawn by the server for the run selected when the figure
 * was made, are hidden (pmm.css), so the selection has one drawer. The overlay follows
 * zoom and pan (plotly_relayouting, plotly_relayout) and every new figure
 * (plotly_afterplot). pmm:plot-highlight times it from the click.
 *
 * Plotly covers the page while the button is down, so the mouseup (the input event timed
 * from) is caught on the document; plotly_click is hooked on first use, and the graph's
 * other plotly_click listeners (dcc.Graph's clickData) are moved to after the selection's
 * frames (checked again on every mousedown on the plot).
 */
(function () {
    "use strict";

    var pmm = window.pmm;
    var state = pmm.state;
    var IDS = pmm.ids;
    var SELECTED = "#ff2d95";
    var NS = "http://www.w3.org/2000/svg";

    var plotInput = null;
    var plotDown = false;

    function plotDiv() { return document.querySelector("#" + IDS.PLOT + " .js-plotly-plot"); }

    // the selected run's points, in session order (traces 1.. hold the points, customdata [run, session])
    function points(gd, run) {
        var pts = [];
        var data = gd.data || [];
        for (var i = 1; i < data.length; i++) {
            var cd = data[i].customdata || [];
            for (var j = 0; j < cd.length; j++) {
                if (cd[j][0] === run) { pts.push([cd[j][1], data[i].x[j], data[i].y[j]]); }
            }
        }
        return pts.sort(function (a, b) { return a[0] - b[0]; });
    }

    // the overlay SVG over the plot area (made once per graph)
    function overlay(gd) {
        var holder = gd.querySelector(".svg-container");
        if (!holder) { return null; }
        var svg = holder.querySelector("svg.pmm-plot-selection");
        if (!svg) {
            svg = document.createElementNS(NS, "svg");
            svg.setAttribute("class", "pmm-plot-selection");
            holder.appendChild(svg);
        }
        return svg;
    }

    function el(name, attrs, parent) {
        var e = document.createElementNS(NS, name);
        Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
        parent.appendChild(e);
        return e;
    }

    // draw the state's selection; t0: time it from there
    function highlight(t0) {
        var gd = plotDiv();
        var fl = gd && gd._fullLayout;
        if (!gd || !fl || !fl.xaxis || !fl.yaxis || !gd.data || gd.data.length < 2) { return; }
        var svg = overlay(gd);
        if (!svg) { return; }
        var xa = fl.xaxis, ya = fl.yaxis, sz = fl._size;
        svg.setAttribute("width", fl.width);
        svg.setAttribute("height", fl.height);
        while (svg.firstChild) { svg.removeChild(svg.firstChild); }
        var run = state.get().run;
        if (run !== null) {
            var size = (gd.layout.meta && gd.layout.meta.marker_size) || 7;
            var r = size / 2 + 4;
            var clip = el("clipPath", {id: "pmm-selection-clip"}, el("defs", {}, svg));
            el("rect", {x: sz.l, y: sz.t, width: sz.w, height: sz.h}, clip);
            var g = el("g", {"clip-path": "url(#pmm-selection-clip)"}, svg);
            var xy = points(gd, run).map(function (p) {
                return [xa._offset + xa.l2p(p[1]), ya._offset + ya.l2p(p[2])];
            }).filter(function (p) { return isFinite(p[0]) && isFinite(p[1]); });
            if (xy.length > 1) {
                el("path", {d: "M" + xy.map(function (p) { return p[0].toFixed(1) + "," + p[1].toFixed(1); }).join("L"),
                    fill: "none", stroke: SELECTED, "stroke-width": 3}, g);
            }
            xy.forEach(function (p) {
                el("circle", {cx: p[0].toFixed(1), cy: p[1].toFixed(1), r: r, stroke: SELECTED, "stroke-width": 2.5,
                    fill: "rgba(255, 45, 149, 0.15)", "data-run": run}, g);
            });
        }
        if (typeof t0 === "number") { pmm.measure("plot-highlight", t0); }
    }

    // The other plotly_click listeners (dcc.Graph's: its clickData prop, a Dash dispatch
    // and a re-render of the graph, tens of ms on a big map) run once the selection's
    // frames are painted (the highlight's, then the viewers'), not before them.
    function deferOtherClicks(gd) {
        var ee = gd._ev;
        if (!ee || typeof ee.listeners !== "function" || typeof ee.removeListener !== "function") { return; }
        ee.listeners("plotly_click").forEach(function (fn) {
            if (fn._pmmOwn || fn._pmmDeferred) { return; }
            var later = function () {
                var self = this, args = arguments;
                pmm.afterPaint(function () { pmm.afterPaint(function () { fn.apply(self, args); }); });
            };
            later._pmmDeferred = true;
            ee.removeListener("plotly_click", fn);
            ee.on("plotly_click", later);
        });
    }

    function onPlotClick(ev) {
        var pt = ev && ev.points && ev.points[0];
        if (!pt || !pt.customdata || typeof pt.customdata[0] !== "number") { return; }
        var t0 = plotInput !== null ? plotInput : performance.now();
        plotInput = null;
        state.select(pt.customdata[0], {source: "plot", session: pt.customdata[1]}, {kind: "select", t0: t0});
    }
    onPlotClick._pmmOwn = true;

    function hookPlot() {
        var gd = plotDiv();
        if (!gd || !gd.on) { return; }
        deferOtherClicks(gd);
        if (gd._pmmHooked) { return; }
        gd._pmmHooked = true;
        gd.on("plotly_click", onPlotClick);
        // a new figure, a resize, zoom and pan
        gd.on("plotly_afterplot", function () { highlight(null); });
        gd.on("plotly_relayouting", function () { highlight(null); });
        gd.on("plotly_relayout", function () { highlight(null); });
    }

    document.addEventListener("mousedown", function (e) {
        plotDown = !!(e.target.closest && e.target.closest("#" + IDS.PLOT));
        if (plotDown) { hookPlot(); }
    }, true);
    document.addEventListener("mouseup", function (e) {
        if (plotDown) { plotInput = e.timeStamp; }
        plotDown = false;
    }, true);

    state.on(function (ev) {
        hookPlot();
        if (!ev.keys.run) { return; }
        var timed = ev.cause.kind === "select" || ev.cause.kind === "clear";
        highlight(timed ? ev.cause.t0 : null);
    });

    pmm.plot = {highlight: highlight, hook: hookPlot};
}());
