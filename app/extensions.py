"""Extensions created unbound here and bound to the Flask server in ``create_app``."""

from __future__ import annotations

import threading

from flask import Flask, current_app, has_app_context

from .config import Settings
from .services.cache import DiskTier, RedisTier, SharedCache, Tier

__all__ = [
    "CACHE_KEY",
    "COUNTERS_KEY",
    "SETTINGS_KEY",
    "Counters",
    "cache",
    "cache_backend",
    "counters",
    "init_cache",
    "init_counters",
    "settings_of",
    "shared_cache",
]

SETTINGS_KEY = "PMM_SETTINGS"
COUNTERS_KEY = "pmm_counters"
CACHE_KEY = "pmm_cache"


def init_cache(server: Flask, settings: Settings) -> SharedCache:
    """Bind the cache (:mod:`app.services.cache`): Redis when ``REDIS_URL`` is set, else an
    embedded on-disk cache in ``DATA_DIR/.cache/store``; both behind a per-process memory tier."""
    tier: Tier
    if settings.redis_url:
        tier = RedisTier(settings.redis_url, timeout=settings.redis_timeout)
    else:
        tier = DiskTier(settings.data_dir / ".cache" / "store", settings.cache_disk_bytes)
    c = SharedCache(tier, settings.cache_local_bytes, settings.cache_retry_seconds,
                    settings.cache_timeout)  # fmt: skip
    server.extensions[CACHE_KEY] = c
    return c


class _CacheProxy:
    """``cache``: the current app's :class:`SharedCache` (a miss outside an app)."""

    def _target(self) -> SharedCache | None:
        if has_app_context():
            c = current_app.extensions.get(CACHE_KEY)
            if isinstance(c, SharedCache):
                return c
        return None

    def get(self, key: str) -> bytes | None:
        """See :meth:`SharedCache.get`."""
        c = self._target()
        return c.get(key) if c is not None else None

    def get_many(self, *keys: str) -> list[bytes | None]:
        """See :meth:`SharedCache.get_many`."""
        c = self._target()
        return c.get_many(list(keys)) if c is not None else [None] * len(keys)

    def set(self, key: str, value: bytes, *, shared: bool = True) -> None:
        """See :meth:`SharedCache.set`."""
        c = self._target()
        if c is not None:
            c.set(key, value, shared=shared)

    def has(self, key: str) -> bool:
        """See :meth:`SharedCache.has`."""
        c = self._target()
        return c.has(key) if c is not None else False


cache = _CacheProxy()


def shared_cache(server: Flask) -> SharedCache:
    """The server's :class:`SharedCache`."""
    c = server.extensions[CACHE_KEY]
    assert isinstance(c, SharedCache)
    return c


def cache_backend(server: Flask) -> str:
    """``"redis"`` or ``"filesystem"``: which cache backend the server uses."""
    c = server.extensions.get(CACHE_KEY)
    return c.backend if isinstance(c, SharedCache) else "filesystem"


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
