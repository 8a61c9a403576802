/*
 * The Deferred container (app/components/deferred.py): its children are drawn, and their
 * scripts loaded (Dash loads a lazy component's chunk when it is first drawn), only once
 * the performance measure `after` has been recorded (the map page's pmm:open: every viewer
 * shows its first image with its spines) or `timeout` ms after the container was drawn.
 * Until then Dash keeps the children's props in its layout (their callbacks update them
 * as usual). Showing them is a change of the container's own Dash prop `shown` (setProps):
 * Dash then draws the children from its layout as it is now (children elements kept from
 * the first render would show the props they had then). Once drawn, the window gets the
 * event "pmm-deferred-shown".
 */
(function () {
    "use strict";

    // scripts loaded on demand (a component library left out of the page's HTML,
    // app/components/deferred.py): one promise per URL, resolved once the script has run
    // (or failed: the children are drawn anyway and Dash says what it cannot find)
    var loading = {};
    function load(url) {
        if (!loading[url]) {
            loading[url] = new Promise(function (resolve) {
                var el = document.createElement("script");
                el.src = url;
                el.onload = function () { resolve(true); };
                el.onerror = function () {
                    if (window.console) { console.error("pmm: could not load " + url); }
                    resolve(false);
                };
                document.head.appendChild(el);
            });
        }
        return loading[url];
    }

    // until its bundle is loaded, a lazy library is a stand-in: Dash looks up the
    // component of every element of a layout (its props), drawn or not; the stand-in's
    // components draw nothing (the Deferred draws them only once the real one is there)
    function standIn() { return null; }
    if (!window.dash_ag_grid) {
        window.dash_ag_grid = {AgGrid: standIn, _pmmStandIn: true};
    }

    function recorded(name) {
        return typeof performance !== "undefined" && performance.getEntriesByName &&
            performance.getEntriesByName(name).length > 0;
    }

    function Deferred(props) {
        var React = window.React;
        var after = props.after || "pmm:open";
        var shown = !!props.shown;
        var setProps = props.setProps;
        React.useEffect(function () {
            if (shown) { return undefined; }
            var done = false;
            var alive = true;
            var observer = null;
            var timer = null;
            function show() {
                if (done) { return; }
                done = true;
                if (observer) { observer.disconnect(); }
                clearTimeout(timer);
                Promise.all((props.scripts || []).map(load)).then(function () {
                    if (alive && setProps) { setProps({shown: true}); }
                });
            }
            timer = setTimeout(show, props.timeout == null ? 6000 : props.timeout);
            try {
                observer = new PerformanceObserver(function (list) {
                    if (list.getEntries().some(function (e) { return e.name === after; })) { show(); }
                });
                observer.observe({type: "measure"});
            } catch (e) {
                observer = null;
            }
            if (recorded(after)) { show(); }
            return function () {
                done = true;
                alive = false;
                clearTimeout(timer);
                if (observer) { observer.disconnect(); }
            };
        }, [shown, after]);
        // once drawn: say so (70-pmm-dash.js hooks the plot and grids that came with it)
        React.useEffect(function () {
            if (shown) { window.dispatchEvent(new CustomEvent("pmm-deferred-shown", {detail: {id: props.id}})); }
        }, [shown]);
        return React.createElement(
            "div",
            {id: props.id, className: props.className, style: props.style, "data-deferred": shown ? "shown" : "waiting"},
            shown ? props.children : null
        );
    }

    window.pmm_components = Object.assign({}, window.pmm_components, {Deferred: Deferred});
})();
