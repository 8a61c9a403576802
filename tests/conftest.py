"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import F27A_1 as SHARED_F27A_1
from tests.support.paths import IN_CI, require_f27a1

__all__ = ["IN_CI", "SHARED_F27A_1", "f27a1"]

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def f27a1() -> Path:
    """The real map F27A_1 (read-only); missing ../shared is a failure under ``CI=true``."""
    return require_f27a1()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Chromium for the whole session (browser and deployment tests share it: Playwright's
    sync API allows one instance per thread)."""
    from tests.browser.conftest import CHROMIUM_ARGS, _unavailable, chromium_path

    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
        raise
    path = chromium_path()
    pw = sync_playwright().start()
    try:
        try:
            b = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        except Error as e:
            _unavailable(f"Chromium could not be started ({path or 'playwright download'}): {str(e).splitlines()[0]}")
            raise
        yield b
        b.close()
    finally:
        pw.stop()
