/*
 * Typing into a dropdown searches it, on every page (catalog, map page, pooling page).
 *
 * Dash 4's dcc.Dropdown opens its menu (a Radix popover, portalled to the end of the page)
 * with the focus on the selected option's checkbox when it has a value: a typed letter went
 * nowhere. Here a printable key pressed in an open menu outside its search box moves the
 * focus into the search box with that character typed (through the input's native value
 * setter and an "input" event, so React's onChange sees it). Space is left alone (it
 * toggles the focused option). A closed dropdown with the focus opens and searches on a
 * typed character by itself (Dash's own key handler on its button).
 */
(function () {
    "use strict";

    var SEARCH = "input.dash-dropdown-search";

    function printable(e) {
        return !e.ctrlKey && !e.metaKey && !e.altKey && !e.isComposing && typeof e.key === "string" &&
            e.key.length === 1 && e.key !== " ";
    }

    function type(input, ch) {
        input.focus();
        var setter = Object.getOwnPropertyDescriptor(window.HTMLInputElement.prototype, "value").set;
        setter.call(input, (input.value || "") + ch);
        input.dispatchEvent(new Event("input", {bubbles: true}));
    }

    function onKey(e) {
        if (!printable(e) || !e.target || !e.target.closest) { return; }
        var el = e.target;
        if (el.matches && el.matches(SEARCH)) { return; }
        var content = el.closest(".dash-dropdown-content");
        if (content) {
            var input = content.querySelector(SEARCH);
            if (!input) { return; }
            e.preventDefault();
            e.stopPropagation();
            type(input, e.key);
        }
    }

    // capture: before the viewer's own keys (50-pmm-keys.js) and the menu's handlers
    window.addEventListener("keydown", onKey, true);
}());
