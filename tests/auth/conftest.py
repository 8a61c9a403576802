"""Fixtures of the access tests: one small world of users, groups and maps, on SQLite and PostgreSQL.

Maps (tiny, with images): ``public/pub`` (the public owner), ``alice/priv`` (private),
``alice/shared`` (group ``readers``: read; group ``editors``: read and edit), ``alice/open``
(made public by its owner). ``alice/ghost`` does not exist: a hidden map must be answered
exactly like it. Users: ``alice`` (owner), ``bob`` (in readers), ``carol`` (in editors),
``dave`` (in no group), ``admin``; plus anonymous visitors. Each role has its own test
client, logged in through the real login form (CSRF token from the rendered login page).

Every test using :func:`world` runs twice: on SQLite in ``DATA_DIR`` and on a PostgreSQL
cluster started for the session (Debian's package; under ``CI=true`` a missing
PostgreSQL fails).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dash
import pytest
from flask.testing import FlaskClient

from app.auth import users
from app.config import Settings
from app.db import session
from app.db.models import MapRecord, MapShare
from app.factory import create_app
from pymapmanager.synthetic.maps import generate_map
from tests.callbacks.conftest import DashCaller
from tests.conftest import IN_CI
from tests.support.postgres import PostgresServer, postgres_bin

ROLES = ("anonymous", "owner", "reader", "editor", "other", "admin")
#: role -> user name (None: not logged in)
USER_OF = {"anonymous": None, "owner": "alice", "reader": "bob", "editor": "carol", "other": "dave",
           "admin": "admin"}  # fmt: skip
PASSWORDS = {"alice": "alice-password", "bob": "bob-password", "carol": "carol-password",
             "dave": "dave-password", "admin": "admin-password"}  # fmt: skip
MAPS = ("public/pub", "alice/priv", "alice/shared", "alice/open")
GHOST = "alice/ghost"

#: which roles may read each map
READERS: dict[str, set[str]] = {
    "public/pub": set(ROLES),
    "alice/priv": {"owner", "admin"},
    "alice/shared": {"owner", "reader", "editor", "admin"},
    "alice/open": set(ROLES),
}
#: which roles may edit each map
EDITORS: dict[str, set[str]] = {
    "public/pub": {"admin"},
    "alice/priv": {"owner", "admin"},
    "alice/shared": {"owner", "editor", "admin"},
    "alice/open": {"owner", "admin"},
}
#: which roles may manage (rename, share, delete) each map
MANAGERS: dict[str, set[str]] = {m: {"admin"} | ({"owner"} if m.startswith("alice/") else set()) for m in MAPS}

ORIGIN = "http://localhost"


@pytest.fixture(scope="session")
def auth_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DATA_DIR holding the four maps (made once)."""
    root = tmp_path_factory.mktemp("auth-template")
    for i, mid in enumerate(MAPS):
        owner, name = mid.split("/")
        generate_map(root / owner, name=name, sessions=2, channels=1, shape=(3, 64, 64), seed=i + 1,
                     segments=1, spines_per_segment=6)  # fmt: skip
    return root


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster for the session."""
    if postgres_bin() is None:
        if IN_CI:
            pytest.fail("PostgreSQL is not installed (./dev test installs Debian's postgresql)")
        pytest.skip("PostgreSQL is not installed (Debian package 'postgresql')")
    server = PostgresServer().start()
    yield server
    server.stop()


def find_prop(tree: Any, name: str) -> Any:
    """The ``value`` of the first component in a layout tree whose ``name`` prop is ``name``."""
    if isinstance(tree, dict):
        props = tree.get("props")
        if isinstance(props, dict) and props.get("name") == name:
            return props.get("value")
        for v in tree.values():
            found = find_prop(v, name)
            if found is not None:
                return found
    elif isinstance(tree, list):
        for v in tree:
            found = find_prop(v, name)
            if found is not None:
                return found
    return None


def render_page(client: FlaskClient, path: str, search: str = "") -> Any:
    """A page's layout as the browser gets it (Dash's pages callback)."""
    caller = DashCaller(client)
    out = caller([("_pages_content", "children"), ("_pages_store", "data")],
                 [("_pages_location", "pathname", path), ("_pages_location", "search", search)])  # fmt: skip
    return out[0]


def login(client: FlaskClient, name: str, password: str) -> Any:
    """Log in through the login page's form; the response of the form's POST."""
    token = find_prop(render_page(client, "/login"), "csrf_token")
    assert token, "the login page has no CSRF token"
    return client.post("/auth/login", data={"csrf_token": token, "username": name, "password": password,
                                            "next": "/my-maps"})  # fmt: skip


def new_client(app: dash.Dash) -> FlaskClient:
    """A test client that sends this site's Origin, as a browser does."""
    c = app.server.test_client()
    c.environ_base["HTTP_ORIGIN"] = ORIGIN
    c.get("/")
    return c


@dataclass
class World:
    """The app, its data folder and one logged-in client per role."""

    app: dash.Dash
    data_dir: Path
    backend: str
    clients: dict[str, FlaskClient] = field(default_factory=dict)

    def call(self, role: str) -> DashCaller:
        """Callback caller of one role."""
        return DashCaller(self.clients[role])


def build_world(data_dir: Path, backend: str, pg: PostgresServer | None) -> World:
    """Users, groups, shares and logged-in clients on a copy of the template."""
    url = pg.new_database() if pg is not None else None
    settings = Settings(data_dir=data_dir, secret_key="test", create_demo=False, testing=True,
                        database_url=url, admin_password=PASSWORDS["admin"])  # fmt: skip
    app = create_app(settings)
    with app.server.app_context():
        db = session()
        for name in ("alice", "bob", "carol", "dave"):
            users.create_user(db, name, PASSWORDS[name], cheap_hash=True)
        users.create_group(db, "readers")
        users.create_group(db, "editors")
        users.add_member(db, "readers", "bob")
        users.add_member(db, "editors", "carol")
        shared = MapRecord(owner="alice", name="shared", public=False)
        db.add_all([shared, MapRecord(owner="alice", name="open", public=True)])
        db.flush()
        groups = {g.name: g.id for g, _ in users.list_groups(db)}
        db.add_all([MapShare(map_id=shared.id, group_id=groups["readers"], level="read"),
                    MapShare(map_id=shared.id, group_id=groups["editors"], level="edit")])  # fmt: skip
        db.commit()
    w = World(app, data_dir, backend)
    for role in ROLES:
        c = new_client(app)
        name = USER_OF[role]
        if name is not None:
            r = login(c, name, PASSWORDS[name])
            assert r.status_code == 303 and r.headers["Location"].endswith("/my-maps"), r.headers
        w.clients[role] = c
    return w


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The app database of the test."""
    return str(request.param)


@pytest.fixture
def world(backend: str, auth_template: Path, tmp_path: Path, request: pytest.FixtureRequest) -> World:
    """A fresh world per test (tests that change things)."""
    d = tmp_path / "data"
    shutil.copytree(auth_template, d)
    pg = request.getfixturevalue("pg_server") if backend == "postgresql" else None
    return build_world(d, backend, pg)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_world(
    request: pytest.FixtureRequest, auth_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> World:
    """One world per module and backend, for tests that only read."""
    d = tmp_path_factory.mktemp("world") / "data"
    shutil.copytree(auth_template, d)
    pg = request.getfixturevalue("pg_server") if request.param == "postgresql" else None
    return build_world(d, str(request.param), pg)


def body_of(resp: Any) -> str:
    """A response's body as text (images as a length)."""
    if resp.mimetype and resp.mimetype.startswith("image/"):
        return f"<{len(resp.data)} bytes of {resp.mimetype}>"
    return resp.get_data(as_text=True)


def jdump(value: Any) -> str:
    """Stable JSON text of a value."""
    return json.dumps(value, sort_keys=True, default=str)
