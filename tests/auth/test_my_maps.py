"""The My maps page's actions through its callbacks: who may share, rename, delete, restore."""

from __future__ import annotations

from typing import Any

from app import ids
from tests.auth.conftest import PASSWORDS, World, jdump

PATTERNS = (ids.MYMAPS_UNSHARE, ids.MYMAPS_RESTORE, ids.MYMAPS_REVOKE)


def _post(w: World, role: str, first_output: str, inputs: list[Any], state: list[Any], changed: str) -> list[Any]:
    """Call the callback whose outputs start with ``first_output`` (duplicate outputs carry a hash)."""
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


def _act(w: World, role: str, trigger: tuple[Any, str, Any], selected: str | None,
         name: str = "", group: str | None = None, level: str = "read") -> list[Any]:  # fmt: skip
    inputs = [(ids.MYMAPS_RENAME, "n_clicks", None), (ids.MYMAPS_PUBLIC, "value", None),
              (ids.MYMAPS_SHARE_ADD, "n_clicks", None), (ids.MYMAPS_DELETE_CONFIRM, "submit_n_clicks", None)]  # fmt: skip
    inputs: list[Any] = [trigger if i[:2] == trigger[:2] else i for i in inputs]
    inputs += [[trigger] if isinstance(trigger[0], dict) and trigger[0]["type"] == p else [] for p in PATTERNS]
    state = [(ids.MYMAPS_SELECTED, "data", selected), (ids.MYMAPS_RENAME_TEXT, "value", name),
             (ids.MYMAPS_SHARE_GROUP, "value", group), (ids.MYMAPS_SHARE_LEVEL, "value", level),
             (ids.MYMAPS_REFRESH, "data", 0)]  # fmt: skip
    tid = trigger[0] if isinstance(trigger[0], str) else jdump(trigger[0]).replace(" ", "")
    return _post(w, role, ids.MYMAPS_STATUS, inputs, state, f"{tid}.{trigger[1]}")


def _ids(w: World, role: str) -> set[str]:
    return {e["id"] for e in w.clients[role].get("/api/v1/maps").get_json()["maps"]}


def test_share_rename_delete_restore(world: World) -> None:
    # dave sees nothing of alice/priv; sharing it with a group he joins shows it to him
    assert "alice/priv" not in _ids(world, "other")
    status, _, _ = _act(world, "other", (ids.MYMAPS_PUBLIC, "value", True), "alice/priv")
    assert "no map alice/priv" in jdump(status)
    status, _, _ = _act(world, "reader", (ids.MYMAPS_SHARE_ADD, "n_clicks", 1), "alice/shared", group="readers",
                        level="edit")  # fmt: skip
    assert "you may not change map alice/shared" in jdump(status)
    status, _, _ = _act(world, "owner", (ids.MYMAPS_PUBLIC, "value", True), "alice/priv")
    assert "alice/priv is public" in jdump(status)
    assert "alice/priv" in _ids(world, "other") and "alice/priv" in _ids(world, "anonymous")
    _act(world, "owner", (ids.MYMAPS_PUBLIC, "value", False), "alice/priv")
    assert "alice/priv" not in _ids(world, "anonymous")
    # rename keeps the sharing; the old name is gone
    status, _, sel = _act(world, "owner", (ids.MYMAPS_RENAME, "n_clicks", 1), "alice/shared", name="shared2")
    assert sel == "alice/shared2", status
    assert "alice/shared2" in _ids(world, "reader") and "alice/shared" not in _ids(world, "reader")
    assert world.clients["reader"].get("/api/v1/maps/alice/shared2/values?stat=pDist").status_code == 200
    status, _, _ = _act(world, "owner", (ids.MYMAPS_RENAME, "n_clicks", 1), "alice/shared2", name="../x")
    assert "not a valid map name" in jdump(status)
    # delete to the trash: gone for everyone, restorable by the owner with its sharing
    status, _, sel = _act(world, "owner", (ids.MYMAPS_DELETE_CONFIRM, "submit_n_clicks", 1), "alice/shared2")
    assert sel is None and "trash" in jdump(status)
    assert "alice/shared2" not in _ids(world, "owner") | _ids(world, "reader")
    assert (world.data_dir / ".trash").is_dir() and not (world.data_dir / "alice" / "shared2").exists()
    with world.app.server.test_request_context():
        from app.auth import Identity, run_as
        from app.services import access

        with run_as(Identity(999, "dave")):
            assert access.list_trash() == []
        with run_as(Identity(1, "alice")):
            (entry,) = access.list_trash()
    status, _, sel = _act(world, "owner", ({"index": entry["id"], "type": ids.MYMAPS_RESTORE}, "n_clicks", 1), None)
    assert sel == "alice/shared2", status
    assert "alice/shared2" in _ids(world, "reader")


def test_token_needs_the_password(world: World) -> None:
    def create(pw: str) -> str:
        shown, cleared, _ = _post(
            world, "owner", ids.MYMAPS_TOKEN_NEW, [(ids.MYMAPS_TOKEN_CREATE, "n_clicks", 1)],
            [(ids.MYMAPS_TOKEN_LABEL, "value", "igor"), (ids.MYMAPS_TOKEN_PASSWORD, "value", pw),
             (ids.MYMAPS_REFRESH, "data", 0)], f"{ids.MYMAPS_TOKEN_CREATE}.n_clicks",
        )  # fmt: skip
        assert cleared == ""
        return jdump(shown)

    assert "Wrong password" in create("not-it")
    shown = create(PASSWORDS["alice"])
    token = shown.split('"pmm_', 1)[1].split('"', 1)[0]
    c = world.app.server.test_client()
    r = c.get("/auth/whoami", headers={"Authorization": f"Bearer pmm_{token}"})
    assert r.get_json()["name"] == "alice"
