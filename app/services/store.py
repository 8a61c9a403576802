"""Get and set compact bytes in the shared cache; a cache that is down is a miss, not an error."""

from __future__ import annotations

import hashlib
import logging

from redis.exceptions import RedisError

from ..extensions import cache, counters

__all__ = ["etag_of", "get_bytes", "get_many_bytes", "ping", "set_bytes"]

log = logging.getLogger(__name__)


def get_bytes(key: str) -> bytes | None:
    """The bytes stored under ``key``, or None (missing, or the cache is unreachable)."""
    try:
        value = cache.get(key)
    except RedisError as e:
        counters().incr("cache_errors")
        log.warning("cache get %s failed: %s", key, e)
        return None
    return value if isinstance(value, bytes) else None


def get_many_bytes(keys: list[str]) -> list[bytes | None]:
    """Like :func:`get_bytes` for several keys in one round trip."""
    if not keys:
        return []
    try:
        values = cache.get_many(*keys)
    except RedisError as e:
        counters().incr("cache_errors")
        log.warning("cache get_many failed: %s", e)
        return [None] * len(keys)
    return [v if isinstance(v, bytes) else None for v in values]


def set_bytes(key: str, value: bytes) -> None:
    """Store ``value`` under ``key`` (best effort)."""
    try:
        cache.set(key, value)
    except RedisError as e:
        counters().incr("cache_errors")
        log.warning("cache set %s failed: %s", key, e)


def etag_of(key: str) -> str:
    """A strong ETag (without quotes) for the content a cache key names."""
    return hashlib.blake2b(key.encode("utf-8"), digest_size=12).hexdigest()


def ping() -> bool:
    """Whether the cache answers (a write and a read of a tiny key)."""
    try:
        cache.set("ping", b"1", timeout=60)
        return cache.get("ping") == b"1"
    except RedisError as e:
        log.warning("cache ping failed: %s", e)
        return False
