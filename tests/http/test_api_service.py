"""Status, routing and error shape of the API."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient


def test_status_reports_filesystem_cache(client: FlaskClient) -> None:
    r = client.get("/api/v1/status")
    assert r.status_code == 200
    body = r.get_json()
    assert body["status"] == "ok"
    assert body["cache"] == "filesystem"
    assert body["cache_reachable"] is True
    assert isinstance(body["pid"], int)
    assert body["counters"] == {}
    assert r.headers["Cache-Control"] == "no-store"


def test_index_lists_routes(client: FlaskClient) -> None:
    body = client.get("/api/v1/").get_json()
    assert "/api/v1/maps/<owner>/<name>/sessions/<int:session>/planes/<int:z>" in body["routes"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nothing",
        "/api/v1/maps/public/small/nothing",
        "/api/v1/maps/public/small/sessions/abc/planes/1",
        "/api/v1/maps/public/small/sessions/-1/planes/1",
        "/api/v1/maps/public/small/sessions/0/planes/1.5",
        "/api/v1/maps/public",
    ],
)
def test_unknown_api_path_is_json_404(client: FlaskClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert r.is_json
    body = r.get_json()
    assert body["status"] == 404 and body["message"]


def test_wrong_method_is_json_405(client: FlaskClient) -> None:
    r = client.post("/api/v1/maps")
    assert r.status_code == 405 and r.is_json
    r = client.delete("/api/v1/whatever")
    assert r.status_code == 404 and r.is_json


def test_dash_pages_still_served_outside_the_api(client: FlaskClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert b"<html" in r.data.lower() or b"<!doctype" in r.data.lower()
