/* Clientside callbacks of the pooling page (namespace "pmm_pool"): exporting the figure
   as PNG/SVG with plotly.js, and opening a clicked run in the map viewer in a new tab. */
(function () {
    "use strict";
    window.dash_clientside = window.dash_clientside || {};
    var FIGURE = "pmm-pool-figure";
    var EXPORT_PNG = "pmm-pool-export-png";

    function graphDiv(id) {
        var outer = document.getElementById(id);
        return outer ? (outer.querySelector(".js-plotly-plot") || outer) : null;
    }

    window.dash_clientside.pmm_pool = {
        exportFigure: function (png, svg) {
            var nu = window.dash_clientside.no_update;
            var trig = (window.dash_clientside.callback_context.triggered || [])[0];
            if (!trig || !window.Plotly) { return nu; }
            var format = trig.prop_id.indexOf(EXPORT_PNG) === 0 ? "png" : "svg";
            var gd = graphDiv(FIGURE);
            if (!gd) { return nu; }
            window.Plotly.downloadImage(gd, {
                format: format, filename: "pool_figure", width: 900, height: 560, scale: format === "png" ? 3 : 1
            });
            return format;
        },
        openRun: function (url) {
            if (url) { window.open(url, "_blank", "noopener"); }
            return url || "";
        }
    };
})();
