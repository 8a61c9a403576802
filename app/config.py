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
    """

    data_dir: Path = field(default_factory=default_data_dir)
    redis_url: str | None = None
    secret_key: str = ""
    url_prefix: str = "/"
    create_demo: bool = True
    cache_timeout: int = 24 * 3600
    cache_disk_bytes: int = 1 << 30
    cache_local_bytes: int = 64 << 20
    cache_retry_seconds: float = 5.0
    redis_timeout: float = 0.25
    map_store_bytes: int = 256 << 20
    testing: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read ``DATA_DIR``, ``REDIS_URL``, ``SECRET_KEY``, ``URL_PREFIX``, ``CREATE_DEMO``,
        ``CACHE_TIMEOUT`` and the cache limits (see the attributes)."""
        e = dict(os.environ if env is None else env)
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
            create_demo=_bool(e.get("CREATE_DEMO"), True),
            cache_timeout=int(e.get("CACHE_TIMEOUT", 24 * 3600)),
            cache_disk_bytes=int(e.get("CACHE_DISK_BYTES") or 1 << 30),
            cache_local_bytes=int(e.get("CACHE_LOCAL_BYTES") or 64 << 20),
            cache_retry_seconds=float(e.get("CACHE_RETRY_SECONDS") or 5.0),
            redis_timeout=float(e.get("REDIS_TIMEOUT") or 0.25),
            map_store_bytes=int(e.get("MAP_STORE_BYTES") or 256 << 20),
        )

    def with_overrides(self, **kw: Any) -> Settings:
        """A copy with some fields replaced (tests use this)."""
        if "data_dir" in kw:
            kw["data_dir"] = Path(kw["data_dir"])
        return replace(self, **kw)

    def resolved_secret_key(self) -> str:
        """The secret key, creating and keeping one in the data directory when unset."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / ".secret_key"
        if path.is_file():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(key)
        try:
            os.link(tmp, path)  # first writer wins, others read it
        except FileExistsError:
            key = path.read_text().strip()
        finally:
            tmp.unlink(missing_ok=True)
        return key
