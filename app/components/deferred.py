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

__all__ = ["Deferred", "when_shown"]


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
        className: str | None = None,
        style: dict[str, Any] | None = None,
    ) -> None:
        self._prop_names = ["children", "id", "shown", "after", "timeout", "className", "style"]
        self._valid_wildcard_attributes: list[str] = []
        self.available_properties = list(self._prop_names)
        self.available_wildcard_properties: list[str] = []
        props: dict[str, Any] = {"shown": shown, "after": after, "timeout": timeout}
        if id is not None:
            props["id"] = id
        if className is not None:
            props["className"] = className
        if style is not None:
            props["style"] = style
        super().__init__(children=children, **props)
