"""The app database: one SQLAlchemy engine per app, sessions per request, Alembic at start.

``DATABASE_URL`` names the database (``postgresql://user:pw@host/db`` uses psycopg 3);
without it, SQLite in ``DATA_DIR/app.db``. :func:`init_db` (called by ``create_app``)
brings the schema to the newest migration (``alembic upgrade head``, run programmatically
under a lock, so several gunicorn workers starting together migrate once) and binds a
session factory to the server. :func:`session` is the current app context's session,
closed when the context ends. Migrations live in ``app/db/migrations`` (add one with
``alembic -c app/db/alembic.ini revision --autogenerate -m "..."``).
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from .models import Base

__all__ = [
    "Base",
    "aware",
    "database_url",
    "engine_for",
    "init_db",
    "session",
    "session_scope",
    "upgrade",
]

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DB_KEY = "pmm_db"
_G_KEY = "_pmm_db_session"
#: any fixed number: the PostgreSQL advisory lock held while migrating
_PG_LOCK = 7_202_610


def database_url(data_dir: Path, url: str | None) -> str:
    """The SQLAlchemy URL: ``url`` (``postgres://`` and ``postgresql://`` use psycopg 3), or SQLite."""
    if not url:
        return f"sqlite:///{Path(data_dir) / 'app.db'}"
    u = make_url(url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url)
    if u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA journal_mode=WAL")  # readers in every worker, one writer
    cur.close()


def _fork_safe(eng: Engine) -> Engine:
    """Connections never cross a fork (background callbacks run in forked processes).

    SQLAlchemy's recipe: remember the process a connection was opened in, and refuse it
    (the pool then opens a new one) when checked out in another.
    """

    @event.listens_for(eng, "connect")
    def _connect(_dbapi_conn: Any, record: Any) -> None:
        record.info["pid"] = os.getpid()

    @event.listens_for(eng, "checkout")
    def _checkout(_dbapi_conn: Any, record: Any, proxy: Any) -> None:
        if record.info.get("pid") != os.getpid():
            record.dbapi_connection = proxy.dbapi_connection = None
            raise exc.DisconnectionError("connection opened in another process")

    return eng


def engine_for(url: str) -> Engine:
    """An engine for ``url`` (SQLite: foreign keys on, WAL, a busy timeout; the file 0600)."""
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:" and not os.path.exists(path):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # password hashes inside
        eng = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(eng, "connect", _sqlite_pragmas)
        return _fork_safe(eng)
    return _fork_safe(create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5))


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def _current_and_head(connection: Any) -> tuple[str | None, str | None]:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    current = MigrationContext.configure(connection).get_current_revision()
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    return current, head


def upgrade(engine: Engine, lock_dir: Path | None = None) -> bool:
    """``alembic upgrade head`` on ``engine``; True when a migration ran.

    Serialised by a file lock in ``lock_dir`` (workers of one machine) and, on PostgreSQL,
    an advisory lock (several machines).
    """
    from alembic import command

    lock_file = None
    if lock_dir is not None:
        lock_dir.mkdir(parents=True, exist_ok=True)
        lock_file = open(lock_dir / ".db.lock", "w")
        fcntl.flock(lock_file, fcntl.LOCK_EX)
    try:
        with engine.connect() as conn:
            pg = conn.dialect.name == "postgresql"
            if pg:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK})
            try:
                current, head = _current_and_head(conn)
                if current == head:
                    return False
                log.info("migrating the app database from %s to %s", current or "empty", head)
                command.upgrade(_alembic_config(conn), "head")
                conn.commit()
                return True
            finally:
                if pg:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK})
                    conn.commit()
    finally:
        if lock_file is not None:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
            lock_file.close()


def init_db(server: Flask, url: str, lock_dir: Path | None) -> sessionmaker[Session]:
    """Migrate the database at ``url`` and bind its session factory to ``server``."""
    engine = engine_for(url)
    upgrade(engine, lock_dir)
    factory = sessionmaker(engine, expire_on_commit=False)
    server.extensions[DB_KEY] = factory

    @server.teardown_appcontext
    def _close(_exc: BaseException | None) -> None:
        s = g.pop(_G_KEY, None)
        if s is not None:
            s.close()

    return factory


def session() -> Session:
    """The current app context's database session (closed at the end of the context)."""
    s = g.get(_G_KEY)
    if s is None:
        s = current_app.extensions[DB_KEY]()
        setattr(g, _G_KEY, s)
    assert isinstance(s, Session)
    return s


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session outside a request (command line): committed on success, else rolled back."""
    s = factory()
    try:
        yield s
        s.commit()
    except BaseException:
        s.rollback()
        raise
    finally:
        s.close()


def aware(dt: datetime) -> datetime:
    """``dt`` as timezone-aware UTC (SQLite gives back naive datetimes)."""
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
