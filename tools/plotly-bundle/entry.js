// plotly.js with only the trace types the dashboard's figures use (build.sh bundles this).
// core holds scatter and every component (axes, legend, hover, shapes, error bars, modebar).
// tests/callbacks/test_plotly_bundle.py reads TRACES and checks the figures against it.
'use strict';

// TRACES: scatter bar scattergl
var Plotly = require('plotly.js/lib/core');

Plotly.register([
    require('plotly.js/lib/bar'),
    require('plotly.js/lib/scattergl'),
]);

module.exports = Plotly;
