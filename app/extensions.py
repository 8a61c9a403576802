"""Extensions created unbound here and bound to the Flask server in ``create_app``."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_caching import Cache

from .config import Settings

__all__ = ["cache", "cache_backend", "init_cache", "settings_of"]

cache = Cache()

SETTINGS_KEY = "PMM_SETTINGS"


def init_cache(server: Flask, settings: Settings) -> None:
    """Bind the cache: Redis when ``REDIS_URL`` is set, else an embedded file cache."""
    cfg: dict[str, Any] = {"CACHE_DEFAULT_TIMEOUT": settings.cache_timeout}
    if settings.redis_url:
        cfg.update(CACHE_TYPE="RedisCache", CACHE_REDIS_URL=settings.redis_url, CACHE_KEY_PREFIX="pmm:")
    else:
        cache_dir = settings.data_dir / ".cache"
        cache_dir.mkdir(parents=True, exist_ok=True)
        cfg.update(CACHE_TYPE="FileSystemCache", CACHE_DIR=str(cache_dir), CACHE_THRESHOLD=20000)
    cache.init_app(server, config=cfg)


def cache_backend(server: Flask) -> str:
    """``"redis"`` or ``"filesystem"``: which cache backend the server uses."""
    return "redis" if server.config.get(SETTINGS_KEY) and server.config[SETTINGS_KEY].redis_url else "filesystem"


def settings_of(server: Flask) -> Settings:
    """The Settings the server was created with."""
    s = server.config[SETTINGS_KEY]
    assert isinstance(s, Settings)
    return s
