"""The map page's address is spelled once (app/routes.py): the page is registered at it,
the links made with map_path reach it, and the script preloads follow it."""

from __future__ import annotations

import dash
from dash._pages import _path_to_page

from app import routes


def test_the_map_page_is_registered_at_the_template_and_map_path_reaches_it(app: dash.Dash) -> None:
    page = dash.page_registry["pages.map_viewer"]
    assert page["path_template"] == routes.MAP_TEMPLATE
    found, values = _path_to_page(routes.map_path("alice", "F27A_1").strip("/"))
    assert found["module"] == "pages.map_viewer"
    assert values == {"owner": "alice", "name": "F27A_1"}


def test_the_map_page_alone_preloads_its_chunks(app: dash.Dash) -> None:
    client = app.server.test_client()
    on_map = client.get(routes.map_path("public", "demo") + "?s=0").get_data(as_text=True)
    elsewhere = client.get("/pool").get_data(as_text=True)
    assert 'rel="preload" href="/_dash-component-suites/dash_leaflet/async-GeoJSON.js"' in on_map
    assert "async-GeoJSON.js" not in elsewhere
