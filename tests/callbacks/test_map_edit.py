"""The map page's edit mode, server side: the toolbar and the browser's settings only for users
who may edit the map; the browser script's ids and callbacks match the Python side."""

from __future__ import annotations

import re
from pathlib import Path

import dash
import pytest

from app import ids
from app.auth import users
from app.components.edit import HIDDEN
from app.config import Settings
from app.db import session
from app.factory import create_app
from callbacks.map_edit import editing
from pymapmanager.synthetic.maps import generate_map
from tests.auth.conftest import login, new_client
from tests.support.dash_caller import DashCaller

ASSETS = Path(__file__).resolve().parents[2] / "app" / "assets"
OUTPUTS = [(ids.EDIT_CONFIG, "data"), (ids.EDIT_BAR, "style")]


@pytest.fixture
def edit_app(tmp_path: Path) -> dash.Dash:
    """An app with a public map and ``ed/own`` (owned by user ``ed``); users ``ed`` and ``ro``."""
    kw = {
        "sessions": 2,
        "channels": 1,
        "shape": (3, 48, 48),
        "segments": 1,
        "spines_per_segment": 4,
        "images": False,
    }
    generate_map(tmp_path / "public", name="pub", seed=1, **kw)  # type: ignore[arg-type]
    generate_map(tmp_path / "ed", name="own", seed=2, **kw)  # type: ignore[arg-type]
    app = create_app(
        Settings(data_dir=tmp_path, secret_key="test", create_demo=False, testing=True)
    )
    with app.server.app_context():
        db = session()
        users.create_user(db, "ed", "ed-password-123", cheap_hash=True)
        users.create_user(db, "ro", "ro-password-123", cheap_hash=True)
        db.commit()
    return app


def _setup(app: dash.Dash, user: str | None, owner: str, name: str) -> list[object]:
    client = new_client(app)
    if user is not None:
        r = login(client, user, f"{user}-password-123")
        assert r.status_code == 303, r.headers
    caller = DashCaller(app, client)
    return list(caller(OUTPUTS, [(ids.MAP_REF, "data", {"owner": owner, "name": name})]))


def test_the_owner_gets_the_toolbar_and_the_edit_settings(edit_app: dash.Dash) -> None:
    cfg, style = _setup(edit_app, "ed", "ed", "own")
    assert style == {}
    assert cfg == {"api": "/api/v1/maps/ed/own", "user": "ed", "can_edit": True}


@pytest.mark.parametrize(
    ("user", "owner", "name"),
    [
        (None, "public", "pub"),
        ("ro", "public", "pub"),
        (None, "ed", "own"),
        ("ed", "public", "pub"),
    ],
)
def test_readers_get_no_toolbar(
    edit_app: dash.Dash, user: str | None, owner: str, name: str
) -> None:
    cfg, style = _setup(edit_app, user, owner, name)
    assert cfg is None
    assert style == HIDDEN


def test_the_page_has_the_edit_stores_and_a_hidden_toolbar(edit_app: dash.Dash) -> None:
    from pages.map_viewer import layout

    with edit_app.server.test_request_context("/"):
        tree = str(layout("public", "pub").to_plotly_json())
    for cid in (
        ids.EDIT_CONFIG,
        ids.EDIT_VERSION,
        ids.EDIT_BAR,
        ids.EDIT_TOGGLE,
        ids.EDIT_SAVE,
        ids.EDIT_HISTORY,
    ):
        assert f"'{cid}'" in tree, cid


def test_editing_reads_the_version_store() -> None:
    assert not editing(None)
    assert not editing({"version": "abc", "edits": False})
    assert editing({"version": "abc", "edits": True})


def test_the_edit_script_uses_the_app_ids() -> None:
    js = (ASSETS / "75-pmm-edit.js").read_text()
    block = re.search(r"var IDS = \{(.*?)\};", js, re.S)
    assert block
    pairs = dict(re.findall(r"(\w+): \"([^\"]+)\"", block.group(1)))
    known = ids.clientside_ids()
    assert pairs
    for name, value in pairs.items():
        want = known.get("EDIT_" + name, known.get(name, known.get("VIEWER_" + name)))
        assert want == value, name


def test_the_edit_callbacks_are_defined_in_the_script(edit_app: dash.Dash) -> None:
    js = (ASSETS / "75-pmm-edit.js").read_text()
    defined = set(re.findall(r"^        (\w+): function", js, re.M))
    used = {
        cb["clientside_function"]["function_name"]
        for cb in edit_app._callback_list
        if cb.get("clientside_function")
        and cb["clientside_function"].get("namespace") == "pmm_edit"
    }
    assert used == {"config"} and used <= defined
