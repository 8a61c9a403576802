"""The Groups page through its callbacks: admins create groups and choose members; nobody else can."""

from __future__ import annotations

from typing import Any

from app import ids
from app.auth import users
from app.db import session
from tests.auth.conftest import World, jdump

PATTERNS = (ids.GROUPS_REMOVE_MEMBER, ids.GROUPS_DELETE)


def _post(w: World, role: str, first_output: str, inputs: list[Any], state: list[Any], changed: str) -> list[Any]:
    key = next(k for k in w.app.callback_map if k.startswith(".." + first_output))
    parts = key.strip(".").split("...")
    outputs = [{"id": p.rpartition(".")[0], "property": p.rpartition(".")[2]} for p in parts]

    def prop(i: Any) -> Any:
        if isinstance(i, list):
            return [prop(x) for x in i]
        return {"id": i[0], "property": i[1], "value": i[2]}

    body = {"output": key, "outputs": outputs, "inputs": [prop(i) for i in inputs],
            "state": [prop(x) for x in state], "changedPropIds": [changed]}  # fmt: skip
    r = w.clients[role].post("/_dash-update-component", json=body)
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    resp = r.get_json()["response"]
    return [resp.get(o["id"], {}).get(o["property"].split("@")[0]) for o in outputs]


def _act(w: World, role: str, trigger: tuple[Any, str, Any], name: str = "", group: str | None = None,
         user: str | None = None) -> list[Any]:  # fmt: skip
    inputs: list[Any] = [(ids.GROUPS_CREATE, "n_clicks", None), (ids.GROUPS_MEMBER_ADD, "n_clicks", None)]
    inputs = [trigger if i[:2] == trigger[:2] else i for i in inputs]
    inputs += [[trigger] if isinstance(trigger[0], dict) and trigger[0]["type"] == p else [] for p in PATTERNS]
    state = [(ids.GROUPS_NEW_NAME, "value", name), (ids.GROUPS_MEMBER_GROUP, "value", group),
             (ids.GROUPS_MEMBER_USER, "value", user), (ids.GROUPS_REFRESH, "data", 0)]  # fmt: skip
    tid = trigger[0] if isinstance(trigger[0], str) else jdump(trigger[0]).replace(" ", "")
    return _post(w, role, ids.GROUPS_STATUS, inputs, state, f"{tid}.{trigger[1]}")


def _render(w: World, role: str) -> list[Any]:
    inputs = [(ids.GROUPS_REFRESH, "data", 0), (ids.LOCATION, "pathname", "/groups")]
    return _post(w, role, ids.GROUPS_LIST, inputs, [], f"{ids.GROUPS_REFRESH}.data")


def _members(w: World) -> dict[str, list[str]]:
    with w.app.server.app_context():
        return {g.name: m for g, m in users.list_groups(session())}


def test_admin_creates_a_group_adds_and_removes_members(world: World) -> None:
    status, refresh, name = _act(world, "admin", (ids.GROUPS_CREATE, "n_clicks", 1), name="Lab")
    assert "group lab created" in jdump(status) and refresh == 1 and name == ""
    status, _, _ = _act(world, "admin", (ids.GROUPS_MEMBER_ADD, "n_clicks", 1), group="lab", user="dave")
    assert "dave is in lab" in jdump(status)
    _act(world, "admin", (ids.GROUPS_MEMBER_ADD, "n_clicks", 2), group="lab", user="alice")
    assert _members(world)["lab"] == ["alice", "dave"]
    # the page lists every group with its members, and offers every group and user
    table, group_opts, user_opts, notice, style = _render(world, "admin")
    text = jdump(table)
    assert "lab" in text and "dave" in text and "readers" in text and "bob" in text
    assert {o["value"] for o in group_opts} == {"lab", "readers", "editors"}
    assert {"alice", "bob", "carol", "dave", "admin"} <= {o["value"] for o in user_opts}
    assert notice is None and style == {}
    # take dave out; remove the group
    status, _, _ = _act(world, "admin", (ids.groups_remove_member("lab/dave"), "n_clicks", 1))
    assert "dave is no longer in lab" in jdump(status)
    assert _members(world)["lab"] == ["alice"]
    status, _, _ = _act(world, "admin", (ids.groups_delete("lab"), "n_clicks", 1))
    assert "group lab removed" in jdump(status)
    assert "lab" not in _members(world)


def test_bad_requests_are_messages(world: World) -> None:
    status, refresh, _ = _act(world, "admin", (ids.GROUPS_CREATE, "n_clicks", 1), name="readers")
    assert "exists already" in jdump(status) and refresh is None
    status, _, _ = _act(world, "admin", (ids.GROUPS_CREATE, "n_clicks", 1), name="../x")
    assert "text-danger" in jdump(status)
    status, _, _ = _act(world, "admin", (ids.GROUPS_MEMBER_ADD, "n_clicks", 1), group="readers", user="nobody")
    assert "no user nobody" in jdump(status)
    status, _, _ = _act(world, "admin", (ids.GROUPS_MEMBER_ADD, "n_clicks", 1), group="readers")
    assert "choose a group and a user" in jdump(status)
    status, _, _ = _act(world, "admin", (ids.groups_remove_member("readers/dave"), "n_clicks", 1))
    assert "not in group readers" in jdump(status)


def test_only_admins_change_groups(world: World) -> None:
    before = _members(world)
    for role in ("owner", "reader", "other"):
        status, refresh, _ = _act(world, role, (ids.GROUPS_CREATE, "n_clicks", 1), name="mine")
        assert "only admins manage groups" in jdump(status) and refresh is None, role
        status, _, _ = _act(world, role, (ids.GROUPS_MEMBER_ADD, "n_clicks", 1), group="readers", user=world_user(role))
        assert "only admins manage groups" in jdump(status), role
        status, _, _ = _act(world, role, (ids.groups_delete("readers"), "n_clicks", 1))
        assert "only admins manage groups" in jdump(status), role
    status, _, _ = _act(world, "anonymous", (ids.GROUPS_CREATE, "n_clicks", 1), name="mine")
    assert "text-danger" in jdump(status)
    assert _members(world) == before
    # a user sees only their own groups, read-only; an anonymous visitor is asked to log in
    table, group_opts, user_opts, notice, style = _render(world, "reader")
    assert "readers" in jdump(table) and "editors" not in jdump(table) and "carol" not in jdump(table)
    assert ids.GROUPS_DELETE not in jdump(table) and ids.GROUPS_REMOVE_MEMBER not in jdump(table)
    assert group_opts == [] and user_opts == [] and "Only admins" in jdump(notice) and style == {"display": "none"}
    table, _, user_opts, notice, _ = _render(world, "anonymous")
    assert table == [] and user_opts == [] and "Log in" in jdump(notice)


def world_user(role: str) -> str:
    from tests.auth.conftest import USER_OF

    return str(USER_OF[role])


def test_cross_site_group_changes_are_refused(world: World) -> None:
    c = world.clients["admin"]
    c.environ_base["HTTP_ORIGIN"] = "http://evil.example"
    try:
        r = c.post("/_dash-update-component", json={"output": "x.children", "outputs": {}, "inputs": []})
        assert r.status_code == 403
    finally:
        c.environ_base["HTTP_ORIGIN"] = "http://localhost"
    assert "lab" not in _members(world)
