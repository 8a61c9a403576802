"""The app database's migrations on SQLite and a real PostgreSQL: schema = models, run once."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from app.db import database_url, engine_for, upgrade
from app.db.models import Base
from tests.auth.conftest import pg_server  # noqa: F401  (the session's PostgreSQL)


def _url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "postgresql":
        return database_url(tmp_path, request.getfixturevalue("pg_server").new_database())
    return database_url(tmp_path, None)


def _upgrade(url: str, lock_dir: str) -> bool:
    eng = engine_for(url)
    try:
        return upgrade(eng, Path(lock_dir))
    finally:
        eng.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_match_the_models(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = _url(backend, tmp_path, request)
    # several workers starting together: exactly one migrates
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        ran = pool.starmap(_upgrade, [(url, str(tmp_path))] * 3)
    assert sorted(ran) == [False, False, True]
    eng = engine_for(url)
    with eng.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    eng.dispose()
    assert diff == [], f"the models changed without a migration: {diff}"
    assert _upgrade(url, str(tmp_path)) is False
