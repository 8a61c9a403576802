#!/bin/sh
# Rebuilds app/assets/vendor/plotly/plotly-pmm.min.js and its LICENSE from the npm registry
# (versions pinned in package.json and package-lock.json). Needs node and npm; the
# dashboard and its tests do not: the bundle is kept in the repository.
#
# The options are plotly.js's own (its esbuild-config.js): regl is plotly's fork, `global`
# is window, no AMD. CSS is left out: the only CSS plotly imports is maplibre's, for map
# traces, which the bundle has not.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../../app/assets/vendor/plotly"
cd "$here"
npm ci --no-audit --no-fund
version=$(node -p "require('plotly.js/package.json').version")
traces=$(sed -n 's/^\/\/ TRACES: //p' entry.js)
npx esbuild entry.js --bundle --minify --format=iife --global-name=Plotly \
    --alias:regl=@plotly/regl --define:global=window --define:define.amd=false \
    --target=es2016 --loader:.css=empty --legal-comments=eof \
    --banner:js="/*! plotly.js v$version, partial bundle for PyMapManager (traces: $traces). MIT licence: LICENSE */" \
    --outfile="$out/plotly-pmm.min.js"
cp node_modules/plotly.js/LICENSE "$out/LICENSE"
rm -rf node_modules
echo "built $out/plotly-pmm.min.js (plotly.js $version: $traces)"
