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
    """

    data_dir: Path = field(default_factory=default_data_dir)
    redis_url: str | None = None
    secret_key: str = ""
    url_prefix: str = "/"
    celery_broker_url: str | None = None
    celery_result_backend: str | None = None
    create_demo: bool = True
    cache_timeout: int = 24 * 3600
    testing: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read ``DATA_DIR``, ``REDIS_URL``, ``SECRET_KEY``, ``URL_PREFIX``, ``CREATE_DEMO``,
        ``CELERY_BROKER_URL``, ``CELERY_RESULT_BACKEND``."""
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
