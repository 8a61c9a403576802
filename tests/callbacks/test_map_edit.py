"""The map page's edit mode, server side: the toolbar and the browser's settings only for users
who may edit the map; the browser script's ids and callbacks match the Python side."""

from __future__ import annotations

import re
from pathlib import Path

import dash
import pytest

from app import ids
from app.auth import users
from app.components.edit import HIDDEN, NO_EDIT_CONFIG
from app.config import Settings
from app.db import session
from app.factory import create_app
from callbacks.map_edit import editing
from pymapmanager.synthetic.maps import generate_map
from tests.auth.conftest import login, new_client
from tests.support.components import find
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
    """The edit settings and the toolbar's style the map page comes with for ``user``
    (made by Dash's pages router, as when the browser moves to the page; the layout request
    makes the same page, tests/callbacks/test_map_viewer.py)."""
    client = new_client(app)
    if user is not None:
        r = login(client, user, f"{user}-password-123")
        assert r.status_code == 303, r.headers
    caller = DashCaller(app, client)
    content, _store = caller(
        [("_pages_content", "children"), ("_pages_store", "data")],
        [("_pages_location", "pathname", f"/map/{owner}/{name}"), ("_pages_location", "search", "")],
    )
    found: dict[str, object] = {}
    for cid, prop in OUTPUTS:
        components = find(content, lambda c, cid=cid: c["props"].get("id") == cid)
        assert len(components) <= 1, cid
        found[cid] = components[0]["props"].get(prop) if components else None  # type: ignore[attr-defined]
    return [found[cid] for cid, _ in OUTPUTS]


def test_the_owner_gets_the_toolbar_and_the_edit_settings(edit_app: dash.Dash) -> None:
    cfg, style = _setup(edit_app, "ed", "ed", "own")
    assert style == {}
    assert cfg == {"api": "/api/v1/maps/ed/own", "user": "ed", "can_edit": True}


@pytest.mark.parametrize(
    ("user", "owner", "name"),
    [
        (None, "public", "pub"),
        ("ro", "public", "pub"),
        ("ed", "public", "pub"),
    ],
)
def test_readers_get_no_toolbar(
    edit_app: dash.Dash, user: str | None, owner: str, name: str
) -> None:
    cfg, style = _setup(edit_app, user, owner, name)
    assert cfg == NO_EDIT_CONFIG
    assert style == HIDDEN


def test_a_private_map_page_gives_others_no_edit_settings(edit_app: dash.Dash) -> None:
    """A visitor gets no page of ``ed/own`` at all (the login prompt): no edit stores, no toolbar."""
    cfg, style = _setup(edit_app, None, "ed", "own")
    assert cfg is None and style is None


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
