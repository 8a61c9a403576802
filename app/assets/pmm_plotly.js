/*
 * PyMapManager: Dash's graphs load the partial Plotly bundle.
 *
 * dcc.Graph loads Plotly.js the first time a graph is drawn (when there is no
 * window.Plotly) from window._dashPlotlyJSURL, which Dash's renderer sets to plotly.py's
 * full bundle: 4.8 MB and 40 trace types, about a second of script compilation and
 * evaluation on a 2-core machine, on the way to the map page's plot. The page's
 * <meta name="pmm-plotly"> (app/factory.py) names the partial bundle with the three trace
 * types the dashboard draws (scatter, scattergl, bar; app/assets/vendor/plotly, 1.4 MB);
 * that address is kept whatever the renderer sets. Without the meta tag nothing changes.
 */
(function () {
    "use strict";
    var meta = document.querySelector('meta[name="pmm-plotly"]');
    var url = meta && meta.getAttribute("content");
    if (!url || window.Plotly) { return; }
    Object.defineProperty(window, "_dashPlotlyJSURL", {
        configurable: true,
        enumerable: true,
        get: function () { return url; },
        set: function () { /* the renderer's full bundle: the partial one is kept */ }
    });
}());
