"""Fixtures of the edit server tests: an app on its own DATA_DIR, on SQLite and PostgreSQL.

The map ``alice/m`` (3 sessions, one segment with a tracing, small images) is owned by
``alice``, public (anonymous visitors and ``dave``, in no group, read it), shared for
editing with the group ``editors`` (``carol``) and for reading with ``readers``
(``bob``). ``alice/priv`` is private. Each user has an API token. In every session the
rows from :data:`FIRST_SPINE` on are spines (before them: the pivot and control points).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dash
import pytest
from flask.testing import FlaskClient

from app.auth import users
from app.config import Settings
from app.db import DB_KEY, session_scope
from app.db.models import MapRecord, MapShare
from app.factory import create_app
from pymapmanager.synthetic.maps import generate_map
from tests.auth.conftest import pg_server  # noqa: F401  (the session's PostgreSQL)
from tests.support.postgres import PostgresServer

MAP = "alice/m"
API = "/api/v1/maps/" + MAP
PRIV_API = "/api/v1/maps/alice/priv"
GHOST_API = "/api/v1/maps/alice/ghost"
NAMES = ("alice", "bob", "carol", "dave")
#: the first spine row of every session of alice/m
FIRST_SPINE = 9


@pytest.fixture(scope="session")
def map_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DATA_DIR holding ``alice/m`` (made once; tests copy it)."""
    root = tmp_path_factory.mktemp("edit-template")
    generate_map(root / "alice", name="m", sessions=3, channels=1, shape=(3, 64, 64), seed=3,
                 segments=1, spines_per_segment=8)  # fmt: skip
    generate_map(root / "alice", name="priv", sessions=2, channels=1, shape=(3, 64, 64), seed=4,
                 segments=1, spines_per_segment=4, images=False)  # fmt: skip
    return root


@dataclass
class EditWorld:
    """An app, its data folder, its database URL and a token per user."""

    app: dash.Dash
    data_dir: Path
    backend: str
    database_url: str | None
    tokens: dict[str, str]

    def client(self) -> FlaskClient:
        return self.app.server.test_client()

    def headers(self, user: str | None) -> dict[str, str]:
        """Headers of a request by ``user`` (None: anonymous)."""
        return {} if user is None else {"Authorization": f"Bearer {self.tokens[user]}"}

    def call(self, method: str, path: str, user: str | None = "alice", **kw: Any) -> Any:
        """One API request (path relative to the map's API URL when it starts with '/' + segment)."""
        url = path if path.startswith("/api/") else API + path
        return self.client().open(url, method=method, headers=self.headers(user), **kw)

    def edit(self, user: str, command: dict[str, Any], status: int = 200) -> dict[str, Any]:
        r = self.call("POST", "/edits", user, json=command)
        assert r.status_code == status, r.get_data(as_text=True)
        body: dict[str, Any] = r.get_json()
        return body

    def map_folder(self) -> Path:
        return self.data_dir / "alice" / "m"

    def text_files(self) -> dict[str, bytes]:
        """Every text file of the map (relative path -> bytes)."""
        folder = self.map_folder()
        return {p.relative_to(folder).as_posix(): p.read_bytes()
                for p in sorted(folder.rglob("*.txt"))}  # fmt: skip

    def new_app(self) -> EditWorld:
        """Another app (another process's view) on the same data and database."""
        app = create_app(_settings(self.data_dir, self.database_url))
        return EditWorld(app, self.data_dir, self.backend, self.database_url, self.tokens)


def _settings(data_dir: Path, url: str | None) -> Settings:
    return Settings(data_dir=data_dir, secret_key="test", create_demo=False, testing=True,
                    database_url=url)  # fmt: skip


def build(data_dir: Path, backend: str, url: str | None) -> EditWorld:
    """Users, groups, shares and tokens on a fresh app."""
    app = create_app(_settings(data_dir, url))
    tokens: dict[str, str] = {}
    with app.server.app_context(), session_scope(app.server.extensions[DB_KEY]) as db:
        for name in NAMES:
            users.create_user(db, name, f"{name}-password", cheap_hash=True)
            tokens[name] = users.create_token(db, name, "tests")
        users.create_group(db, "readers")
        users.create_group(db, "editors")
        users.add_member(db, "readers", "bob")
        users.add_member(db, "editors", "carol")
        rec = MapRecord(owner="alice", name="m", public=True)
        db.add(rec)
        db.flush()
        groups = {g.name: g.id for g, _ in users.list_groups(db)}
        db.add_all([MapShare(map_id=rec.id, group_id=groups["readers"], level="read"),
                    MapShare(map_id=rec.id, group_id=groups["editors"], level="edit")])  # fmt: skip
    return EditWorld(app, data_dir, backend, url, tokens)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The app database of the test."""
    return str(request.param)


@pytest.fixture
def world(backend: str, map_template: Path, tmp_path: Path, request: pytest.FixtureRequest) -> EditWorld:
    """A fresh app and map per test, on the backend of the test."""
    d = tmp_path / "data"
    shutil.copytree(map_template, d)
    url = None
    if backend == "postgresql":
        pg: PostgresServer = request.getfixturevalue("pg_server")
        url = pg.new_database()
    return build(d, backend, url)


@pytest.fixture
def spine_of(world: EditWorld) -> Callable[[int, int], dict[str, Any]]:
    """``spine_of(session, row)``: that object in the saved annotations."""

    def get(session: int, row: int) -> dict[str, Any]:
        r = world.call("GET", f"/sessions/{session}/annotations?roi=all")
        objs = {o["row"]: o for o in r.get_json()["objects"]}
        return objs[row]

    return get


