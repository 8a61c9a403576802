"""The cache: bounded in bytes at every tier, a shared tier that fails is skipped (circuit
breaker) and tried again by itself, image keys only for what the dashboard asks again."""

from __future__ import annotations

from pathlib import Path

import dash
import pytest
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict

from app.config import Settings
from app.extensions import shared_cache
from app.factory import create_app
from app.services.cache import Breaker, DiskTier, MemoryLRU, SharedCache
from app.services.images import ImageParams
from pymapmanager.errors import InvalidParameterError

MAP = "/api/v1/maps/public/small"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FailingTier:
    """A shared tier that fails while ``down`` and counts the calls it got."""

    name = "redis"
    errors: tuple[type[BaseException], ...] = (OSError,)

    def __init__(self) -> None:
        self.down = False
        self.calls = 0
        self.data: dict[str, bytes] = {}

    def _call(self) -> None:
        self.calls += 1
        if self.down:
            raise ConnectionRefusedError("refused")

    def get_many(self, keys: list[str]) -> list[bytes | None]:
        self._call()
        return [self.data.get(k) for k in keys]

    def set(self, key: str, value: bytes, timeout: int) -> None:
        self._call()
        self.data[key] = value

    def has(self, key: str) -> bool:
        self._call()
        return key in self.data

    def close(self) -> None:
        pass


def test_memory_lru_is_bounded_in_bytes() -> None:
    lru = MemoryLRU(1000)
    for i in range(50):
        lru.set(f"k{i}", bytes(100))
    assert lru.nbytes <= 1000 and len(lru) == 9  # 9 x (100 + 2- or 3-byte key)
    assert lru.get("k49") is not None and lru.get("k0") is None
    lru.set("big", bytes(2000))  # larger than the whole budget: not kept
    assert lru.get("big") is None and lru.nbytes <= 1000


def test_breaker_skips_then_tries_again_by_itself() -> None:
    clock = Clock()
    tier = FailingTier()
    c = SharedCache(tier, 10_000, retry_seconds=5, timeout=60, clock=clock)
    c.set("a", b"1")
    assert c.status()["state"] == "up" and tier.calls == 1
    tier.down = True
    assert c.get("b") is None  # the failure is a miss, not an error
    assert c.status()["state"] == "down" and c.counts["cache_errors"] == 1
    calls = tier.calls
    for _ in range(100):  # while open, the tier is never called
        assert c.get("b") is None
        c.set("c", b"2")
        assert c.has("x") is False
    assert tier.calls == calls
    assert c.get("a") == b"1" and c.get("c") == b"2"  # the local tier keeps serving
    clock.now += 5.1  # half open: one try, which fails: open again
    assert c.get("b") is None and tier.calls == calls + 1
    assert c.status()["state"] == "down"
    clock.now += 5.1
    tier.down = False
    tier.data["b"] = b"3"
    assert c.get("b") == b"3"  # recovered by itself
    assert c.status()["state"] == "degraded"  # a failure less than 30 s ago
    clock.now += 31
    assert c.status()["state"] == "up" and c.ping()


def test_breaker_half_open_lets_one_caller_try() -> None:
    clock = Clock()
    b = Breaker(1.0, clock)
    b.failure()
    assert not b.allow()
    clock.now += 1.5
    assert b.allow() and not b.allow()  # the second caller keeps skipping
    b.success()
    assert b.allow() and b.state() == "degraded"


def test_disk_tier_is_bounded_in_bytes(tmp_path: Path) -> None:
    tier = DiskTier(tmp_path / "store", max_bytes=2_000_000)
    for i in range(60):
        tier.set(f"k{i}", bytes([i % 251]) * 100_000, 0)  # 6 MB in all
    assert tier.volume() <= 2_000_000 + 2 * 100_000 + 200_000  # one cull's slack + the database
    assert tier.get_many(["k59"])[0] is not None


def test_settings_read_the_cache_limits() -> None:
    s = Settings.from_env({"CACHE_DISK_BYTES": "1000000", "CACHE_LOCAL_BYTES": "2000",
                           "CACHE_RETRY_SECONDS": "2.5", "REDIS_TIMEOUT": "0.1",
                           "MAP_STORE_BYTES": "5000"})  # fmt: skip
    assert (s.cache_disk_bytes, s.cache_local_bytes, s.cache_retry_seconds) == (1_000_000, 2000, 2.5)
    assert (s.redis_timeout, s.map_store_bytes) == (0.1, 5000)
    d = Settings.from_env({})
    assert d.cache_disk_bytes == 1 << 30 and d.cache_local_bytes == 64 << 20


def test_distinct_contrast_values_add_nothing_to_the_cache(client: FlaskClient, app: dash.Dash) -> None:
    """Issue 7 finding 9: 100 requests with distinct ``lo`` added 71 MB."""
    cache = shared_cache(app.server)
    assert isinstance(cache.tier, DiskTier)
    v = client.get(MAP).get_json()["version"]
    assert client.get(f"{MAP}/sessions/0/planes/1?v={v}").status_code == 200  # auto: cached
    before_disk, before_local = cache.tier.volume(), cache.local.nbytes
    pngs = set()
    for lo in range(100):
        r = client.get(f"{MAP}/sessions/0/planes/1?lo={lo}&hi=4000&v={v}")
        assert r.status_code == 200 and r.headers["Cache-Control"].endswith("immutable")
        pngs.add(r.data)
    assert len(pngs) > 50  # the display range did change the images
    assert cache.tier.volume() == before_disk and cache.local.nbytes == before_local


def test_sliding_window_wider_than_the_stack_is_one_key(client: FlaskClient, app: dash.Dash) -> None:
    from app.services import images, maps

    with app.server.test_request_context():
        ref = maps.map_ref("public", "small")
        keys = {images.plane_job(ref, 0, 2, ImageParams(projection="sliding", k=k)).key
                for k in range(6, 60)}  # fmt: skip
        assert len(keys) == 1  # 6 planes: every k >= 6 is the same image


def test_embedded_cache_limit_from_settings(tmp_path: Path, template_dir: Path) -> None:
    import shutil

    shutil.copytree(template_dir, tmp_path / "d")
    app = create_app(Settings(data_dir=tmp_path / "d", secret_key="t", create_demo=False,
                              testing=True, cache_disk_bytes=300_000))  # fmt: skip
    c = app.server.test_client()
    for row in range(0, 90, 3):  # 30 distinct crops of 128 x 128
        assert c.get(f"{MAP}/sessions/0/crop?row={row}&col=40&z=1&half=64").status_code == 200
    cache = shared_cache(app.server)
    assert isinstance(cache.tier, DiskTier)
    assert cache.tier.volume() <= 300_000 + 200_000
    status = c.get("/api/v1/status").get_json()
    assert status["cache_state"] == "up" and status["cache_detail"]["disk_limit_bytes"] == 300_000


def test_image_params_round_trip_and_strict_parse() -> None:
    p = ImageParams(channel=2, projection="sliding", k=3, lo=1.5, hi=300.0, plane=4, v="abc")
    assert ImageParams.from_query(MultiDict(_pairs(p.query()))) == p
    assert ImageParams().query() == ""
    assert ImageParams.from_query({"projection": "", "k": "", "lo": ""}) == ImageParams()
    for bad, word in (({"k": "-1"}, "k must be >= 0"), ({"lo": "nan", "hi": "1"}, "finite"),
                      ({"channel": "x"}, "channel must be an integer"), ({"lo": "1"}, "both"),
                      ({"projection": "min"}, "projection must be one of")):  # fmt: skip
        with pytest.raises(InvalidParameterError, match=word):
            ImageParams.from_query(bad)


def _pairs(query: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(query.lstrip("?"))
