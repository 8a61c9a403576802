"""The app's shared cache of bytes: an accelerator, never a dependency.

Two tiers, both bounded in bytes:

* a small in-process LRU (:class:`MemoryLRU`, ``CACHE_LOCAL_BYTES`` per worker process)
  that answers repeated keys without a round trip and keeps serving while the shared tier
  is away;
* the shared tier: Redis when ``REDIS_URL`` is set (:class:`RedisTier`), else an embedded
  on-disk cache (:class:`DiskTier`, a ``diskcache`` folder in ``DATA_DIR/.cache/store``
  limited to ``CACHE_DISK_BYTES``, least recently stored evicted first).

Keys always contain the map's data version, so an entry never changes: a stale local copy
cannot exist. Redis is reached with short connect and socket timeouts and no retries; after
a failure a circuit breaker skips it for ``CACHE_RETRY_SECONDS`` seconds, then lets one
request try again (the others keep skipping); the first success closes the breaker. No
method here raises: a shared tier that is down is a miss.

With Redis, bound its memory on the server (``maxmemory 512mb`` and
``maxmemory-policy allkeys-lru``, see the README): every key here may be evicted at any
time.
"""

from __future__ import annotations

import io
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import diskcache
import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

__all__ = ["Breaker", "DiskTier", "MemoryLRU", "RedisTier", "SharedCache", "Tier"]

log = logging.getLogger(__name__)

#: how long after a failure the state stays "degraded" once the shared tier answers again
DEGRADED_SECONDS = 30.0


class MemoryLRU:
    """A thread-safe least-recently-used map of ``str -> bytes`` holding at most ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(0, int(max_bytes))
        self._lock = threading.Lock()
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0

    def get(self, key: str) -> bytes | None:
        """The value, marked as most recently used; None when absent."""
        with self._lock:
            v = self._items.get(key)
            if v is not None:
                self._items.move_to_end(key)
            return v

    def set(self, key: str, value: bytes) -> None:
        """Store ``value``; the oldest entries go until the total fits (a value larger
        than the whole budget is not kept)."""
        size = len(value) + len(key)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old) + len(key)
            if size > self.max_bytes:
                return
            self._items[key] = value
            self._bytes += size
            while self._bytes > self.max_bytes:
                k, v = self._items.popitem(last=False)
                self._bytes -= len(v) + len(k)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items

    @property
    def nbytes(self) -> int:
        """Bytes held (values and keys)."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)


class Breaker:
    """A circuit breaker: after a failure, calls are skipped for ``open_seconds``, then one
    caller at a time may try again (half open) until one succeeds."""

    def __init__(self, open_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.open_seconds = float(open_seconds)
        self.clock = clock
        self._lock = threading.Lock()
        self._open_until = 0.0
        self._trial = False
        self._last_failure = -1e18
        self.failures = 0

    def allow(self) -> bool:
        """Whether the caller may use the guarded resource now."""
        now = self.clock()
        with self._lock:
            if self._open_until == 0.0:
                return True  # closed
            if now < self._open_until or self._trial:
                return False  # open, or another caller is trying
            self._trial = True  # half open: this caller tries
            return True

    def success(self) -> None:
        """The resource answered: close the breaker."""
        with self._lock:
            self._open_until = 0.0
            self._trial = False

    def failure(self) -> None:
        """The resource failed: open the breaker for ``open_seconds``."""
        now = self.clock()
        with self._lock:
            self._open_until = now + self.open_seconds
            self._trial = False
            self._last_failure = now
            self.failures += 1

    def state(self) -> str:
        """``up`` (closed, no recent failure), ``degraded`` (closed or trying again after a
        recent failure) or ``down`` (open: the resource is being skipped)."""
        now = self.clock()
        with self._lock:
            if self._open_until and now < self._open_until:
                return "down"
            if self._open_until or now - self._last_failure < DEGRADED_SECONDS:
                return "degraded"
            return "up"

    def retry_in(self) -> float:
        """Seconds until the next try (0 when closed or half open)."""
        with self._lock:
            return max(0.0, self._open_until - self.clock()) if self._open_until else 0.0


class Tier(Protocol):
    """The shared tier's operations; each may raise ``OSError`` or its own error class."""

    name: str
    errors: tuple[type[BaseException], ...]

    def get_many(self, keys: list[str]) -> list[bytes | None]: ...
    def set(self, key: str, value: bytes, timeout: int) -> None: ...
    def has(self, key: str) -> bool: ...
    def close(self) -> None: ...


class RedisTier:
    """Redis with short timeouts and no retries (the breaker decides when to try again)."""

    name = "redis"
    errors: tuple[type[BaseException], ...] = (RedisError, OSError)

    def __init__(self, url: str, timeout: float = 0.25, prefix: str = "pmm:") -> None:
        self.prefix = prefix
        self.client = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            health_check_interval=0,
        )

    def get_many(self, keys: list[str]) -> list[bytes | None]:
        """Values of ``keys`` in one round trip."""
        values = self.client.mget([self.prefix + k for k in keys])
        return [v if isinstance(v, bytes) else None for v in values]

    def set(self, key: str, value: bytes, timeout: int) -> None:
        """Store with an expiry (seconds; 0 = none)."""
        self.client.set(self.prefix + key, value, ex=timeout or None)

    def has(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        return bool(self.client.exists(self.prefix + key))

    def close(self) -> None:
        """Drop the connection pool."""
        self.client.close()


class DiskTier:
    """An embedded on-disk cache shared by the worker processes of one machine, bounded in
    bytes (``diskcache`` culls the least recently stored entries beyond ``max_bytes``)."""

    name = "filesystem"
    errors: tuple[type[BaseException], ...] = (OSError, sqlite3.Error, diskcache.Timeout)

    def __init__(self, folder: Path, max_bytes: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.max_bytes = int(max_bytes)
        self.store = diskcache.Cache(
            str(folder),
            size_limit=self.max_bytes,
            eviction_policy="least-recently-stored",
            cull_limit=4,
            timeout=2.0,
        )

    def get_many(self, keys: list[str]) -> list[bytes | None]:
        """Values of ``keys``."""
        out: list[bytes | None] = []
        for k in keys:
            v = self.store.get(k)
            out.append(v if isinstance(v, bytes) else None)
        return out

    def set(self, key: str, value: bytes, timeout: int) -> None:
        """Store with an expiry (seconds; 0 = none)."""
        # as a file object: diskcache writes bytes by iterating over them, which for a
        # BytesIO means line by line (a 1 MB PNG was ~3700 writes); a reader goes in 4 MB reads
        expire = timeout or None
        if len(value) < self.store.disk_min_file_size:  # kept in the database itself
            self.store.set(key, value, expire=expire)
        else:
            self.store.set(key, io.BytesIO(value), read=True, expire=expire)

    def has(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        return key in self.store

    def volume(self) -> int:
        """Bytes the cache occupies on disk."""
        return int(self.store.volume())

    def close(self) -> None:
        """Close the database."""
        self.store.close()


class SharedCache:
    """The two-tier cache the services use (see the module doc). Never raises."""

    def __init__(
        self, tier: Tier, local_bytes: int, retry_seconds: float, timeout: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.tier = tier
        self.local = MemoryLRU(local_bytes)
        self.breaker = Breaker(retry_seconds, clock)
        self.timeout = int(timeout)
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    @property
    def backend(self) -> str:
        """``redis`` or ``filesystem``."""
        return self.tier.name

    def _count(self, name: str) -> None:
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + 1

    def _failed(self, op: str, e: BaseException) -> None:
        self.breaker.failure()
        self._count("cache_errors")
        log.warning("cache %s failed (%s skipped for %.0f s): %s", op, self.tier.name,
                    self.breaker.open_seconds, e)  # fmt: skip

    def get_many(self, keys: list[str]) -> list[bytes | None]:
        """Values of ``keys`` (None for each miss)."""
        out: list[bytes | None] = [self.local.get(k) for k in keys]
        missing = [i for i, v in enumerate(out) if v is None]
        if not missing or not self.breaker.allow():
            if missing:
                self._count("cache_skipped")
            return out
        try:
            found = self.tier.get_many([keys[i] for i in missing])
        except self.tier.errors as e:
            self._failed("get", e)
            return out
        self.breaker.success()
        for i, v in zip(missing, found, strict=True):
            if v is not None:
                self.local.set(keys[i], v)
                out[i] = v
        return out

    def get(self, key: str) -> bytes | None:
        """The value of ``key``, or None."""
        return self.get_many([key])[0]

    def set(self, key: str, value: bytes, *, shared: bool = True) -> None:
        """Store ``value`` locally and (when ``shared``) in the shared tier, best effort."""
        self.local.set(key, value)
        if not shared:
            return
        if not self.breaker.allow():
            self._count("cache_skipped")
            return
        try:
            self.tier.set(key, value, self.timeout)
        except self.tier.errors as e:
            self._failed("set", e)
            return
        self.breaker.success()

    def has(self, key: str) -> bool:
        """Whether ``key`` is cached (locally or shared)."""
        if key in self.local:
            return True
        if not self.breaker.allow():
            return False
        try:
            found = self.tier.has(key)
        except self.tier.errors as e:
            self._failed("has", e)
            return False
        self.breaker.success()
        return found

    def ping(self) -> bool:
        """Whether the shared tier answers now (False without trying while it is skipped)."""
        if not self.breaker.allow():
            return False
        try:
            self.tier.set("ping", b"1", 60)
            ok = self.tier.get_many(["ping"])[0] == b"1"
        except self.tier.errors as e:
            self._failed("ping", e)
            return False
        self.breaker.success()
        return ok

    def status(self) -> dict[str, object]:
        """What ``/api/v1/status`` shows: backend, state (up, degraded, down), sizes."""
        out: dict[str, object] = {
            "backend": self.tier.name,
            "state": self.breaker.state(),
            "retry_in_s": round(self.breaker.retry_in(), 2),
            "failures": self.breaker.failures,
            "local_bytes": self.local.nbytes,
            "local_limit_bytes": self.local.max_bytes,
            "local_entries": len(self.local),
        }
        if isinstance(self.tier, DiskTier):
            out["disk_limit_bytes"] = self.tier.max_bytes
            try:
                out["disk_bytes"] = self.tier.volume()
            except DiskTier.errors as e:
                log.warning("cache volume unavailable: %s", e)
        return out

    def close(self) -> None:
        """Release the shared tier's connections or files."""
        try:
            self.tier.close()
        except self.tier.errors as e:
            log.warning("closing the cache failed: %s", e)
