"""A container whose children are drawn only once the page's first paint is done.

The map page's plot, contrast histogram and tables (Plotly: 4.8 MB of script to evaluate
and a first WebGL plot; AG Grid: its grid chunk and first layout) are not needed to see
the first planes: inside a :class:`Deferred` they are in the page's layout from the start
(their callbacks fill them as usual, the values wait in Dash's layout) but React draws
them, and Dash loads their scripts, only once the performance measure ``after`` has been
recorded (the viewers' ``pmm:open``: every viewer shows its first image with its spines),
or ``timeout`` ms after the container was drawn, whichever comes first (a viewer whose
image failed to load never records ``pmm:open``); the browser then sets ``shown``, and
Dash draws the children with their props as they are then. The browser side is ``Deferred`` in
``app/assets/pmm_deferred.js``; until then the container is an empty ``div`` with the
given class (give it the children's height so nothing moves when they come).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dash.development.base_component import Component
from dash.exceptions import PreventUpdate

__all__ = ["Deferred", "LAZY_SCRIPTS", "lazy_script_urls", "make_lazy", "when_shown"]

#: component libraries whose main bundle is not in every page's HTML: a :class:`Deferred`
#: loads it (``scripts``) before drawing the children that need it. AG Grid's main bundle
#: (1.3 MB) was evaluated before anything was drawn, on every page, for the map page's
#: tables only (drawn after the plot). Until it is loaded, ``app/assets/pmm_deferred.js``
#: gives Dash a stand-in of the library (Dash looks up every component of a layout).
LAZY_SCRIPTS: dict[str, str] = {"dash_ag_grid": "dash_ag_grid.min.js"}


def make_lazy() -> None:
    """Leave :data:`LAZY_SCRIPTS` out of the pages' HTML (Dash still serves them, as its
    ``dynamic`` resources); called once by the app factory."""
    import importlib

    for namespace, rel in LAZY_SCRIPTS.items():
        for res in importlib.import_module(namespace)._js_dist:
            if res.get("relative_package_path") == rel and not res.get("async"):
                res["dynamic"] = True


def lazy_script_urls(*namespaces: str) -> list[str]:
    """The fingerprinted URLs (long-cached, as Dash's own) of these libraries' main bundles."""
    import importlib
    import os

    import dash
    from dash.fingerprint import build_fingerprint

    urls = []
    for namespace in namespaces:
        rel = LAZY_SCRIPTS[namespace]
        module = importlib.import_module(namespace)
        modified = int(os.stat(os.path.join(os.path.dirname(module.__file__ or ""), rel)).st_mtime)
        fingerprint = build_fingerprint(rel, module.__version__, modified)
        urls.append(dash.get_relative_path(f"/_dash-component-suites/{namespace}/{fingerprint}"))
    return urls


def when_shown(fn: Callable[..., Any], at: int) -> Callable[..., Any]:
    """``fn`` as a callback that also takes a :class:`Deferred`'s ``shown`` as its argument
    number ``at`` (an extra ``Input``): it computes nothing until the container is shown
    (the first planes are on screen), so the server answers the images first, then runs
    ``fn`` without that argument."""

    def run(*args: Any) -> Any:
        if not args[at]:
            raise PreventUpdate
        return fn(*args[:at], *args[at + 1 :])

    run.__name__ = getattr(fn, "__name__", "callback")
    run.__doc__ = fn.__doc__
    return run


class Deferred(Component):
    """Children drawn after the performance measure ``after`` (or ``timeout`` ms).

    Parameters
    ----------
    children : component or list of components
        What to draw once the page's first paint is done.
    id : str, optional
        The wrapping ``div``'s id (from :mod:`app.ids`).
    shown : bool
        Whether the children are drawn; set by the browser (default False: not yet).
    after : str
        The name of the performance measure to wait for (default ``"pmm:open"``).
    timeout : int
        Milliseconds after which the children are drawn anyway (default 6000).
    scripts : list of str
        Scripts to load before the children are drawn (:func:`lazy_script_urls`).
    className, style
        Of the wrapping ``div``.
    """

    _children_props: list[str] = []
    _base_nodes = ["children"]
    _namespace = "pmm_components"
    _type = "Deferred"

    def __init__(
        self,
        children: Any = None,
        id: str | None = None,
        shown: bool = False,
        after: str = "pmm:open",
        timeout: int = 6000,
        scripts: list[str] | None = None,
        className: str | None = None,
        style: dict[str, Any] | None = None,
    ) -> None:
        self._prop_names = ["children", "id", "shown", "after", "timeout", "scripts", "className", "style"]
        self._valid_wildcard_attributes: list[str] = []
        self.available_properties = list(self._prop_names)
        self.available_wildcard_properties: list[str] = []
        props: dict[str, Any] = {"shown": shown, "after": after, "timeout": timeout}
        if scripts:
            props["scripts"] = list(scripts)
        if id is not None:
            props["id"] = id
        if className is not None:
            props["className"] = className
        if style is not None:
            props["style"] = style
        super().__init__(children=children, **props)
