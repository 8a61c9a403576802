"""Extensions created unbound here and bound to the Flask server in ``create_app``."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask, current_app, has_app_context
from flask_caching import Cache

from .config import Settings

__all__ = [
    "COUNTERS_KEY",
    "SETTINGS_KEY",
    "Counters",
    "cache",
    "cache_backend",
    "counters",
    "init_cache",
    "init_counters",
    "settings_of",
]

cache = Cache()

SETTINGS_KEY = "PMM_SETTINGS"
COUNTERS_KEY = "pmm_counters"


def init_cache(server: Flask, settings: Settings) -> None:
    """Bind the cache: Redis when ``REDIS_URL`` is set, else an embedded file cache."""
    cfg: dict[str, Any] = {"CACHE_DEFAULT_TIMEOUT": settings.cache_timeout}
    if settings.redis_url:
        cfg.update(
            CACHE_TYPE="RedisCache",
            CACHE_REDIS_URL=settings.redis_url,
            CACHE_KEY_PREFIX="pmm:",
            # a Redis that is down must not hang requests: services fall back to no cache
            CACHE_OPTIONS={"socket_timeout": 2.0, "socket_connect_timeout": 2.0},
        )
    else:
        cache_dir = settings.data_dir / ".cache"
        cache_dir.mkdir(parents=True, exist_ok=True)
        cfg.update(CACHE_TYPE="FileSystemCache", CACHE_DIR=str(cache_dir), CACHE_THRESHOLD=20000)
    cache.init_app(server, config=cfg)


def cache_backend(server: Flask) -> str:
    """``"redis"`` or ``"filesystem"``: which cache backend the server uses."""
    settings = server.config.get(SETTINGS_KEY)
    return "redis" if isinstance(settings, Settings) and settings.redis_url else "filesystem"


def settings_of(server: Flask) -> Settings:
    """The Settings the server was created with."""
    s = server.config[SETTINGS_KEY]
    assert isinstance(s, Settings)
    return s


class Counters:
    """Per-process event counters (map parses, cache hits, renders) shown by ``/status``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def incr(self, name: str, n: int = 1) -> None:
        """Add ``n`` to counter ``name``."""
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + n

    def snapshot(self) -> dict[str, int]:
        """A copy of every counter."""
        with self._lock:
            return dict(sorted(self._counts.items()))


def init_counters(server: Flask) -> Counters:
    """Bind a fresh Counters object to the server (one per process and app)."""
    c = Counters()
    server.extensions[COUNTERS_KEY] = c
    return c


def counters() -> Counters:
    """The current app's counters (a throwaway object outside an app context)."""
    if has_app_context():
        c = current_app.extensions.get(COUNTERS_KEY)
        if isinstance(c, Counters):
            return c
    return Counters()
