"""One frozen Settings object built from the environment."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = ["Settings", "default_data_dir"]


def default_data_dir() -> Path:
    """The per-user data directory (``$XDG_DATA_HOME/pymapmanager`` or ``~/.local/share/...``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "pymapmanager"


def _size(value: str | None, default: int) -> int:
    """A byte count: ``123``, ``500M``, ``20G`` (powers of 1024); empty means ``default``."""
    if value is None or value.strip() == "":
        return default
    text = value.strip().upper().removesuffix("B")
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(text[-1:], 1)
    number = text[:-1] if scale != 1 else text
    return int(float(number) * scale)


#: settings that may instead be given as a file (``NAME_FILE=/run/secrets/...``: Docker secrets)
SECRET_SETTINGS = ("SECRET_KEY", "ADMIN_PASSWORD", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL",
                   "CELERY_RESULT_BACKEND")  # fmt: skip


def _with_secret_files(env: dict[str, str]) -> dict[str, str]:
    """``NAME_FILE=/path`` sets ``NAME`` (one of :data:`SECRET_SETTINGS`) from that file's
    text, unless ``NAME`` itself is set."""
    for name in SECRET_SETTINGS:
        path = env.get(name + "_FILE")
        if path and not env.get(name):
            try:
                env[name] = Path(path).read_text().strip()
            except OSError as e:
                raise ValueError(f"{name}_FILE: cannot read {path}: {e.strerror}") from None
    return env


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    """Application settings.

    Attributes
    ----------
    data_dir : Path
        Maps live in ``data_dir/<owner>/<map>/``; the owner ``public`` is visible to all.
    redis_url : str or None
        When set, flask-caching's Redis backend (shared by every worker); otherwise an
        embedded file-system cache under ``data_dir/.cache`` (shared by the workers of one
        machine).
    secret_key : str
        Flask's secret key (sessions, login). Generated once and kept in
        ``data_dir/.secret_key`` when not given.
    url_prefix : str
        Where the dashboard is mounted (``/`` by default).
    celery_broker_url : str or None
        When set (``CELERY_BROKER_URL``), Dash background callbacks (pooling) run on Celery
        workers (``celery -A app.celery_worker:celery_app worker``) through this broker, results in
        ``CELERY_RESULT_BACKEND`` (default: the broker). Otherwise each job runs in a process
        of the web server's machine (Dash's ``DiskcacheManager``). The broker must not evict
        keys: use a Redis of its own, not the cache's LRU Redis.
    celery_result_backend : str or None
        Where Celery keeps job results and progress (default: the broker's URL).
    create_demo : bool
        Create the demo maps under ``data_dir/public`` on first run.
    cache_timeout : int
        Seconds a cache entry lives (entries are keyed by data version, so this only
        bounds memory).
    cache_disk_bytes : int
        ``CACHE_DISK_BYTES``: byte limit of the embedded on-disk cache (default 1 GiB; the
        least recently stored entries go first). With Redis, bound it on the server:
        ``maxmemory`` and ``maxmemory-policy allkeys-lru``.
    cache_local_bytes : int
        ``CACHE_LOCAL_BYTES``: byte limit of each worker process's in-memory cache tier
        (default 64 MiB), which also serves while Redis is away.
    cache_retry_seconds : float
        ``CACHE_RETRY_SECONDS``: after a Redis failure, Redis is skipped this long, then
        tried again (default 5).
    redis_timeout : float
        ``REDIS_TIMEOUT``: connect and socket timeout in seconds (default 0.25).
    map_store_bytes : int
        ``MAP_STORE_BYTES``: byte limit of each worker's store of parsed maps (estimated
        from the size of the map's text files; default 256 MiB).
    upload_max_bytes : int
        Largest upload (a zip posted, or one file of a chunked upload): over it, 413.
    unzip_max_bytes, unzip_max_files, unzip_max_ratio
        Zip bomb limits: total uncompressed size, number of entries, and uncompressed /
        compressed size (of the whole zip, and of any entry over 1 MiB).
    upload_expiry_hours : float
        Unfinished chunked uploads older than this are removed.
    incoming_quiet_seconds : float
        A drop-folder entry is imported only when nothing in it changed for this long (a
        copy still under way is left for later).
    database_url : str or None
        The app database (users, groups, tokens, sharing); default SQLite in
        ``data_dir/app.db``. ``postgresql://...`` uses psycopg 3.
    anonymous_read : bool
        Visitors who are not logged in may browse public maps (``ANONYMOUS_READ``, default on).
    admin_password : str or None
        Password of the ``admin`` made on first start (``ADMIN_PASSWORD``); default random,
        printed once in the log and written to ``data_dir/initial-admin-password``.
    proxy_fix : int
        Trust this many proxies' ``X-Forwarded-*`` headers (``PROXY_FIX``; 0: trust none).
    login_limit : str
        Login attempts allowed per client address (``LOGIN_RATE_LIMIT``, Flask-Limiter syntax).
    """

    data_dir: Path = field(default_factory=default_data_dir)
    redis_url: str | None = None
    secret_key: str = ""
    url_prefix: str = "/"
    celery_broker_url: str | None = None
    celery_result_backend: str | None = None
    create_demo: bool = True
    cache_timeout: int = 24 * 3600
    cache_disk_bytes: int = 1 << 30
    cache_local_bytes: int = 64 << 20
    cache_retry_seconds: float = 5.0
    redis_timeout: float = 0.25
    map_store_bytes: int = 256 << 20
    testing: bool = False
    upload_max_bytes: int = 20 << 30
    unzip_max_bytes: int = 50 << 30
    unzip_max_files: int = 20000
    unzip_max_ratio: float = 200.0
    upload_expiry_hours: float = 7 * 24.0
    incoming_quiet_seconds: float = 10.0
    database_url: str | None = None
    anonymous_read: bool = True
    admin_password: str | None = field(default=None, repr=False)
    proxy_fix: int = 0
    login_limit: str = "10 per minute;50 per hour"
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read ``DATA_DIR``, ``REDIS_URL``, ``SECRET_KEY``, ``URL_PREFIX``, ``CREATE_DEMO``,
        ``CACHE_TIMEOUT``, the cache limits (see the attributes),
        ``DATABASE_URL``, ``ANONYMOUS_READ``, ``ADMIN_PASSWORD``, ``PROXY_FIX``, ``LOGIN_RATE_LIMIT``,
        ``UPLOAD_MAX_BYTES``, ``UNZIP_MAX_BYTES``, ``UNZIP_MAX_FILES``, ``UNZIP_MAX_RATIO``,
        ``UPLOAD_EXPIRY_HOURS``, ``INCOMING_QUIET_SECONDS``,
        ``CELERY_BROKER_URL``, ``CELERY_RESULT_BACKEND``; ``NAME_FILE`` for secrets."""
        e = _with_secret_files(dict(os.environ if env is None else env))
        data_dir = Path(e["DATA_DIR"]).expanduser() if e.get("DATA_DIR") else default_data_dir()
        prefix = e.get("URL_PREFIX", "/") or "/"
        if not prefix.startswith("/"):
            prefix = "/" + prefix
        if not prefix.endswith("/"):
            prefix += "/"
        return cls(
            data_dir=data_dir,
            redis_url=e.get("REDIS_URL") or None,
            secret_key=e.get("SECRET_KEY", ""),
            url_prefix=prefix,
            celery_broker_url=e.get("CELERY_BROKER_URL") or None,
            celery_result_backend=e.get("CELERY_RESULT_BACKEND") or None,
            create_demo=_bool(e.get("CREATE_DEMO"), True),
            cache_timeout=int(e.get("CACHE_TIMEOUT", 24 * 3600)),
            cache_disk_bytes=int(e.get("CACHE_DISK_BYTES") or 1 << 30),
            cache_local_bytes=int(e.get("CACHE_LOCAL_BYTES") or 64 << 20),
            cache_retry_seconds=float(e.get("CACHE_RETRY_SECONDS") or 5.0),
            redis_timeout=float(e.get("REDIS_TIMEOUT") or 0.25),
            map_store_bytes=int(e.get("MAP_STORE_BYTES") or 256 << 20),
            upload_max_bytes=_size(e.get("UPLOAD_MAX_BYTES"), cls.upload_max_bytes),
            unzip_max_bytes=_size(e.get("UNZIP_MAX_BYTES"), cls.unzip_max_bytes),
            unzip_max_files=int(e.get("UNZIP_MAX_FILES") or cls.unzip_max_files),
            unzip_max_ratio=float(e.get("UNZIP_MAX_RATIO") or cls.unzip_max_ratio),
            upload_expiry_hours=float(e.get("UPLOAD_EXPIRY_HOURS") or cls.upload_expiry_hours),
            incoming_quiet_seconds=float(
                e.get("INCOMING_QUIET_SECONDS") or cls.incoming_quiet_seconds
            ),
            database_url=e.get("DATABASE_URL") or None,
            anonymous_read=_bool(e.get("ANONYMOUS_READ"), True),
            admin_password=e.get("ADMIN_PASSWORD") or None,
            proxy_fix=int(e.get("PROXY_FIX", "0") or 0),
            login_limit=e.get("LOGIN_RATE_LIMIT") or "10 per minute;50 per hour",
        )

    def with_overrides(self, **kw: Any) -> Settings:
        """A copy with some fields replaced (tests use this)."""
        if "data_dir" in kw:
            kw["data_dir"] = Path(kw["data_dir"])
        return replace(self, **kw)

    def resolved_secret_key(self) -> str:
        """The secret key, creating and keeping one in the data directory when unset.

        Every worker and every host sharing ``DATA_DIR`` reads the same key (mode 0600),
        so a login made through one worker is valid in all of them.
        """
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / ".secret_key"
        if path.is_file():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key)
        try:
            os.link(tmp, path)  # first writer wins, others read it
        except FileExistsError:
            key = path.read_text().strip()
        finally:
            tmp.unlink(missing_ok=True)
        return key
