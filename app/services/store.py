"""Get and set bytes in the app's cache; a cache that is down is a miss, never an error.

See :mod:`app.services.cache` for the tiers (per-process memory, then Redis or the
embedded disk cache), their byte limits and the circuit breaker around Redis.
"""

from __future__ import annotations

import hashlib

from flask import current_app, has_app_context

from ..extensions import CACHE_KEY, cache
from .cache import SharedCache

__all__ = ["etag_of", "get_bytes", "get_many_bytes", "ping", "set_bytes"]


def get_bytes(key: str) -> bytes | None:
    """The bytes stored under ``key``, or None (missing, or the cache is unreachable)."""
    return cache.get(key)


def get_many_bytes(keys: list[str]) -> list[bytes | None]:
    """Like :func:`get_bytes` for several keys in one round trip."""
    if not keys:
        return []
    return cache.get_many(*keys)


def set_bytes(key: str, value: bytes, *, shared: bool = True) -> None:
    """Store ``value`` under ``key`` (best effort); ``shared=False`` keeps it in this
    process's memory tier only."""
    cache.set(key, value, shared=shared)


def etag_of(key: str) -> str:
    """A strong ETag (without quotes) for the content a cache key names."""
    return hashlib.blake2b(key.encode("utf-8"), digest_size=12).hexdigest()


def ping() -> bool:
    """Whether the shared cache tier answers (False while it is being skipped)."""
    if not has_app_context():
        return False
    c = current_app.extensions.get(CACHE_KEY)
    if not isinstance(c, SharedCache):
        return False
    return c.ping()
