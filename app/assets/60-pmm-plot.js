/*
 * PyMapManager map viewer, 6 of 7: the plot.
 *
 * A click on a point selects its run (state.select; the viewers follow). The selected run
 * is drawn in the plot as layout shapes (a line through its points, a ring on each, as
 * app/figures/mapplot.selected_shapes draws it on the server), changed in place with
 * Plotly.relayout: only the shapes are redrawn, never the WebGL traces, and Dash's figure
 * is not sent anywhere. pmm:plot-highlight times it from the click.
 *
 * Plotly covers the page while the button is down, so the mouseup (the input event timed
 * from) is caught on the document; plotly_click is hooked on first use.
 */
(function () {
    "use strict";

    var pmm = window.pmm;
    var state = pmm.state;
    var IDS = pmm.ids;
    var SELECTED = "#ff2d95";
    var NAME = "pmm-selected";

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

    function shapesOf(pts, size) {
        var shapes = [];
        if (pts.length > 1) {
            shapes.push({type: "path", xref: "x", yref: "y", layer: "above", name: NAME,
                path: "M " + pts.map(function (p) { return p[1] + "," + p[2]; }).join(" L "),
                line: {color: SELECTED, width: 3}});
        }
        var r = size / 2 + 4;
        pts.forEach(function (p) {
            shapes.push({type: "circle", xref: "x", yref: "y", xsizemode: "pixel", ysizemode: "pixel",
                xanchor: p[1], yanchor: p[2], x0: -r, x1: r, y0: -r, y1: r, layer: "above", name: NAME,
                line: {color: SELECTED, width: 2.5}, fillcolor: "rgba(255, 45, 149, 0.15)"});
        });
        return shapes;
    }

    // the shapes showing the state's selection; t0: time it from there
    function highlight(t0) {
        var gd = plotDiv();
        if (!gd || !gd.data || gd.data.length < 2 || !window.Plotly) { return; }
        var run = state.get().run;
        var size = (gd.layout.meta && gd.layout.meta.marker_size) || 7;
        var mine = run === null ? [] : shapesOf(points(gd, run), size);
        var current = gd.layout.shapes || [];
        var others = current.filter(function (sh) { return sh.name !== NAME; });
        var had = current.filter(function (sh) { return sh.name === NAME; });
        if (JSON.stringify(had.map(key)) === JSON.stringify(mine.map(key))) {
            if (typeof t0 === "number") { pmm.measure("plot-highlight", t0); }
            return;
        }
        window.Plotly.relayout(gd, {shapes: others.concat(mine)}).then(function () {
            if (typeof t0 === "number") { pmm.measure("plot-highlight", t0); }
        });
    }

    function key(sh) { return sh.type === "path" ? sh.path : sh.xanchor + "," + sh.yanchor + "," + sh.x1; }

    function hookPlot() {
        var gd = plotDiv();
        if (!gd || gd._pmmHooked || !gd.on) { return; }
        gd._pmmHooked = true;
        gd.on("plotly_click", function (ev) {
            var pt = ev && ev.points && ev.points[0];
            if (!pt || !pt.customdata || typeof pt.customdata[0] !== "number") { return; }
            var t0 = plotInput !== null ? plotInput : performance.now();
            plotInput = null;
            state.select(pt.customdata[0], {source: "plot", session: pt.customdata[1]}, {kind: "select", t0: t0});
        });
        // a new figure from the server: its shapes are those of the selection it was made for
        gd.on("plotly_afterplot", function () { highlight(null); });
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
        if (!ev.keys.run) { return; }
        hookPlot();
        var timed = ev.cause.kind === "select" || ev.cause.kind === "clear";
        highlight(timed ? ev.cause.t0 : null);
    });

    pmm.plot = {highlight: highlight};
}());
