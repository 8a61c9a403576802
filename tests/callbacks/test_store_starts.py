"""No page has a store that "changes" as it is drawn.

Dash's ``dcc.Store`` sets a ``data`` of ``None`` (null) to ``undefined`` when it mounts, and
Dash counts that as a change: every callback taking that store as an input runs when the
page is drawn, whatever its ``prevent_initial_call`` (on the map page that was the plot, the
tables and the run strip on every open; on the pooling page a background pool job). A store
that starts empty has no ``data`` at all, or a non-null one.
"""

from __future__ import annotations

from typing import Any

import dash
import pytest
from dash import dcc

from pages import catalog, groups, login, map_viewer, my_maps, not_found, pooling
from pages import shell as app_shell

PAGES: dict[str, Any] = {
    "catalog": catalog.layout,
    "groups": groups.layout,
    "login": login.layout,
    "map": lambda: map_viewer.layout("public", "demo"),
    "my maps": my_maps.layout,
    "not found": not_found.layout,
    "pooling": pooling.layout,
    "shell": app_shell,
}


def _inputs(app: dash.Dash) -> set[str]:
    """Every ``id.property`` some callback takes as an input."""
    out = set()
    for cb in app.callback_map.values():
        for i in cb.get("inputs", []):
            if isinstance(i.get("id"), str):
                out.add(f"{i['id']}.{i['property']}")
    return out


@pytest.mark.parametrize("page", sorted(PAGES))
def test_no_store_an_input_starts_as_null(app: dash.Dash, page: str) -> None:
    inputs = _inputs(app)
    assert "pmm-edit-version.data" in inputs  # the map read is the callbacks' map
    with app.server.test_request_context("/"):
        tree = PAGES[page]()
    stores = [c for c in tree._traverse() if isinstance(c, dcc.Store)]
    assert stores or page in ("not found", "login", "groups", "catalog"), page
    null = [
        c.id
        for c in stores
        if "data" in c.to_plotly_json()["props"] and c.data is None and f"{c.id}.data" in inputs
    ]
    assert null == [], f"stores that start as null and are callback inputs: {null}"
