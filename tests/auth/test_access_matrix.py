"""Every route x every role: the expected status, and nothing leaks.

Routes are enumerated from ``app.server.url_map`` (and the callbacks from
``app.callback_map``), so a route added later is checked too. For a map one may not read,
the answer must be *exactly* the answer for a map that does not exist (``alice/ghost``):
the same status, type and body with the name swapped. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from app import ids
from tests.auth.conftest import (
    EDITORS,
    GHOST,
    MAPS,
    READERS,
    ROLES,
    USER_OF,
    World,
    body_of,
    jdump,
    render_page,
)

#: query strings that make a readable request of these routes succeed
QUERY = {
    "/values": "?stat=pDist",
    "/crop": "?row=10&col=10&z=0",
}
#: concrete values of the routes' other arguments
ARGS = {"session": "0", "z": "0", "level": "0", "x": "0", "y": "0"}

#: routes that are not about one map, and what every role gets from them (GET)
OPEN_ROUTES = {
    "/": 200,
    "/<path:path>": 200,  # Dash pages: the same HTML shell for every URL
    "/_dash-layout": 200,
    "/_dash-dependencies": 200,
    "/_reload-hash": 200,
    "/_favicon.ico": 200,
    "/api/v1/": 200,
    "/api/v1/status": 200,
    "/api/v1/maps": 200,
    "/api/v1/<path:rest>": 404,
    "/api/v1/openapi.json": 200,  # the API's description (no data)
    "/api/docs": 200,
}
#: routes whose answer depends on being logged in: role -> status
LOGIN_ROUTES = {"/auth/whoami": {r: 401 if r == "anonymous" else 200 for r in ROLES}}
#: routes only reached with other methods, or with file names (checked elsewhere)
SKIPPED = {
    "/_dash-update-component",  # the callbacks, below
    "/auth/login",  # tests/auth/test_login.py
    "/auth/logout",
    "/assets/<path:filename>",
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>",
    "/static/<path:filename>",
}


def _rules(w: World) -> list[Any]:
    return list(w.app.server.url_map.iter_rules())


def _concrete(rule: str, mid: str) -> str:
    owner, name = mid.split("/")
    path = rule.replace("<owner>", owner).replace("<name>", name)
    for arg, val in ARGS.items():
        path = re.sub(rf"<(?:int:|string:)?{arg}>", val, path)
    for suffix, q in QUERY.items():
        if rule.endswith(suffix):
            return path + q
    return path


def _map_rules(w: World) -> list[Any]:
    return [r for r in _rules(w) if {"owner", "name"} <= set(r.arguments)]


def _swap(text: str, mid: str) -> str:
    return text.replace(GHOST, mid).replace(GHOST.split("/")[1], mid.split("/")[1])


def test_every_route_is_classified(shared_world: World) -> None:
    """Each route is a map route (checked below), an open route, or checked by another test."""
    unknown = [
        r.rule
        for r in _rules(shared_world)
        if not ({"owner", "name"} <= set(r.arguments)) and r.rule not in OPEN_ROUTES and r.rule not in SKIPPED
        and r.rule not in LOGIN_ROUTES and "owner" not in r.arguments
    ]  # fmt: skip
    assert not unknown, f"routes without an access expectation: {unknown}"
    assert len(_map_rules(shared_world)) >= 10


@pytest.mark.parametrize("role", ROLES)
def test_open_routes(shared_world: World, role: str) -> None:
    """Open routes answer every role alike and name no map the role may not read."""
    c = shared_world.clients[role]
    hidden = [m for m in MAPS if role not in READERS[m]]
    for rule, status in OPEN_ROUTES.items():
        path = rule.replace("<path:path>", "some/page").replace("<path:rest>", "nothing/here")
        r = c.get(path)
        assert r.status_code == status, (rule, role, r.status_code)
        text = body_of(r)
        for m in hidden:
            assert m not in text, (rule, role, m)
    for rule, by_role in LOGIN_ROUTES.items():
        r = c.get(rule)
        assert r.status_code == by_role[role], (rule, role)
        if r.status_code == 200:
            assert r.get_json()["name"] == USER_OF[role]


@pytest.mark.parametrize("role", ROLES)
def test_map_routes(shared_world: World, role: str) -> None:
    """Each map route: 200 when the role may read the map, else the same 404 as a missing map."""
    c = shared_world.clients[role]
    checked = 0
    for rule in _map_rules(shared_world):
        methods = rule.methods or set()
        if "GET" not in methods:
            continue
        ghost = c.get(_concrete(rule.rule, GHOST))
        assert ghost.status_code == 404, (rule.rule, role, ghost.status_code)
        for mid in MAPS:
            r = c.get(_concrete(rule.rule, mid))
            if role in READERS[mid] and rule.rule.endswith("/edits") and role not in EDITORS[mid]:
                # my edit log: editors only (readers: 401 anonymous, 403 logged in)
                assert r.status_code == (401 if role == "anonymous" else 403), (rule.rule, mid, role)
            elif role in READERS[mid]:
                assert r.status_code == 200, (rule.rule, mid, role, r.status_code, body_of(r)[:300])
            else:
                assert r.status_code == 404, (rule.rule, mid, role, r.status_code)
                assert r.mimetype == ghost.mimetype
                assert body_of(r) == _swap(body_of(ghost), mid), (rule.rule, mid, role)
                assert sorted(r.headers.keys()) == sorted(ghost.headers.keys())
            checked += 1
    assert checked >= 40


@pytest.mark.parametrize("role", ROLES)
def test_unsafe_map_routes_refuse_non_readers(shared_world: World, role: str) -> None:
    """Map routes taking other methods (uploads, deletes) give nothing to those who may not read."""
    c = shared_world.clients[role]
    for rule in _map_rules(shared_world):
        for method in sorted((rule.methods or set()) - {"GET", "HEAD", "OPTIONS"}):
            ghost = c.open(_concrete(rule.rule, GHOST), method=method)
            for mid in MAPS:
                if role in READERS[mid]:
                    continue
                r = c.open(_concrete(rule.rule, mid), method=method)
                assert r.status_code in (401, 403, 404), (rule.rule, method, mid, role)
                assert r.status_code == ghost.status_code
                assert body_of(r) == _swap(body_of(ghost), mid)


@pytest.mark.parametrize("role", ROLES)
def test_listing_shows_exactly_the_readable_maps(shared_world: World, role: str) -> None:
    """``GET /api/v1/maps`` (and ``?owner=``) list what the role may read, nothing else."""
    c = shared_world.clients[role]
    want = {m for m in MAPS if role in READERS[m]}
    got = {e["id"] for e in c.get("/api/v1/maps").get_json()["maps"]}
    assert got == want
    got_alice = {e["id"] for e in c.get("/api/v1/maps?owner=alice").get_json()["maps"]}
    assert got_alice == {m for m in want if m.startswith("alice/")}
    got_dave = c.get("/api/v1/maps?owner=dave").get_json()["maps"]
    assert got_dave == []


# --------------------------------------------------------------------------- callbacks

DEFAULTS: dict[str, Any] = {
    f"{ids.SESSIONS}.value": [0, 1],
    f"{ids.PLOT_ROI}.value": "spineROI",
    f"{ids.PLOT_X}.value": "pDist",
    f"{ids.PLOT_Y}.value": "session",
    f"{ids.PLOT_COLOR}.value": "dynamics",
    f"{ids.PLOT_SEGMENT}.value": -1,
    f"{ids.PLOT_BAD}.value": False,
    f"{ids.PREF_PLOT_SIZE}.value": 7,
    f"{ids.SELECTION}.data": {"run": 0, "session": 0, "source": "plot"},
    f"{ids.CHANNEL}.value": 1,
}


def _outputs(key: str) -> list[tuple[Any, str]]:
    parts = key.strip(".").split("...") if key.startswith("..") else [key]
    out = []
    for p in parts:
        cid, _, prop = p.rpartition(".")
        out.append((json.loads(cid) if cid.startswith("{") else cid, prop))
    return out


def _map_callbacks(w: World) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for key, cb in w.app.callback_map.items():
        if "callback" not in cb:  # clientside: runs in the browser, no server function
            continue
        deps = [*cb.get("inputs", []), *cb.get("state", [])]
        if any(d["id"] == ids.MAP_REF and d["property"] == "data" for d in deps):
            found.append((key, cb))
    return found


def _call_with_map(w: World, role: str, key: str, cb: dict[str, Any], mid: str) -> tuple[int, str]:
    owner, name = mid.split("/")

    def value(d: dict[str, Any]) -> Any:
        if d["id"] == ids.MAP_REF:
            return {"owner": owner, "name": name, "version": ""}
        return DEFAULTS.get(f"{d['id']}.{d['property']}")

    inputs = [(d["id"], d["property"], value(d)) for d in cb["inputs"]]
    state = [(d["id"], d["property"], value(d)) for d in cb.get("state", [])]
    r = w.call(role).raw(_outputs(key), inputs, state)
    return r.status_code, r.get_data(as_text=True)


@pytest.mark.parametrize("role", ROLES)
def test_callbacks_taking_a_map(shared_world: World, role: str) -> None:
    """Every callback given a map id answers a hidden map exactly as a missing one."""
    cbs = _map_callbacks(shared_world)
    assert len(cbs) >= 4
    for key, cb in cbs:
        g_status, g_body = _call_with_map(shared_world, role, key, cb, GHOST)
        assert g_status in (200, 204)
        for mid in MAPS:
            status, body = _call_with_map(shared_world, role, key, cb, mid)
            assert status in (200, 204), (key, mid, role, body[:300])
            if role not in READERS[mid]:
                assert (status, body) == (g_status, _swap(g_body, mid)), (key, mid, role)


@pytest.mark.parametrize("role", ROLES)
def test_map_page_opens_only_for_readers(shared_world: World, role: str) -> None:
    """The map page comes with the map open (its layout, as Dash's router makes it or as the
    first layout request brings it): readers see the map, everyone else 'no map'."""
    caller = shared_world.call(role)
    client = shared_world.clients[role]
    for mid in MAPS:
        content, _store = caller(
            [("_pages_content", "children"), ("_pages_store", "data")],
            [("_pages_location", "pathname", f"/map/{mid}"), ("_pages_location", "search", "")],
        )
        first = client.get("/_dash-layout", headers={"Referer": f"http://localhost/map/{mid}"})
        for body in (jdump(content), json.dumps(first.get_json(), ensure_ascii=False)):
            if role in READERS[mid]:
                assert "no map" not in body and "2 sessions" in body, (mid, role)
            else:
                assert f"no map {mid}" in body and "2 sessions" not in body, (mid, role)


@pytest.mark.parametrize("role", ROLES)
def test_catalog_and_pool_pages_list_only_readable_maps(shared_world: World, role: str) -> None:
    """The catalog's cards and the pooling page's map list: readable maps only."""
    caller = shared_world.call(role)
    want = {m for m in MAPS if role in READERS[m]}
    cards, _, _, _ = caller(
        [(ids.CATALOG_LIST, "children"), (ids.CATALOG_COUNT, "children"), (ids.CATALOG_CONDITION, "options"),
         (ids.CATALOG_MAP_CONDITION, "options")],
        [(ids.CATALOG_TEXT, "value", ""), (ids.CATALOG_CONDITION, "value", []),
         (ids.CATALOG_MAP_CONDITION, "value", []), (ids.LOCATION, "pathname", "/")],
    )  # fmt: skip
    text = jdump(cards)
    for m in MAPS:
        assert (f"/map/{m}" in text) == (m in want), (m, role)
    catalog, _, _ = caller(
        [(ids.POOL_CATALOG, "data"), (ids.POOL_FILTER_OWNER, "options"), (ids.POOL_FILTER_CONDITION, "options")],
        [(ids.LOCATION, "pathname", "/pool")],
    )
    assert {e["id"] for e in catalog} == want
    options, _ = caller([(ids.POOL_STAT, "options"), (ids.POOL_STAT, "value")],
                        [(ids.POOL_MAPS, "value", ["alice/priv"])], [(ids.POOL_STAT, "value", None)])  # fmt: skip
    assert bool(options) == ("alice/priv" in want), role


@pytest.mark.parametrize("role", ROLES)
def test_pages_render_for_every_role(shared_world: World, role: str) -> None:
    """Every Dash page renders for every role; the map page names no data of a hidden map."""
    c = shared_world.clients[role]
    for path in ("/", "/pool", "/login", "/my-maps", "/map/alice/priv", "/nothing"):
        layout = render_page(c, path)
        assert layout is not None, path
    text = jdump(render_page(c, "/map/alice/priv"))
    # the page comes with the map open for its readers; for anyone else, nothing of it
    assert ("2016-" in text) == (role in READERS["alice/priv"]), role
