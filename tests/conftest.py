"""Fixtures shared by every test folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.paths import F27A_1 as SHARED_F27A_1
from tests.support.paths import IN_CI, require_f27a1

__all__ = ["IN_CI", "SHARED_F27A_1", "f27a1"]

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def f27a1() -> Path:
    """The real map F27A_1 (read-only); missing ../shared is a failure under ``CI=true``."""
    return require_f27a1()
