/* The first page comes with the app's layout (pages/__init__.py, _page_container): the server
 * made it for the address the layout request came from, and gave the page's location that
 * path and query so Dash's router does not make the page a second time. Should the page made
 * not be the one the browser is on (a proxy rewrote the address, the referrer was stripped on
 * the way), ask the router for the right one: the location compares itself with the address
 * on this event and tells the router what differs.
 */
(function () {
    "use strict";
    function check(tries) {
        var content = document.getElementById("_pages_content");
        if (!content) {
            if (tries < 600) { window.requestAnimationFrame(function () { check(tries + 1); }); }
            return;
        }
        var made = content.getAttribute("data-pmm-page");
        if (made !== null && made !== window.location.pathname + window.location.search) {
            window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
        }
    }
    check(0);
})();
