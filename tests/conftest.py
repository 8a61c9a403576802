"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_F27A_1 = REPO.parent / "shared" / "data" / "maps" / "F27A_1"
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def f27a1() -> Path:
    """The real map F27A_1 (read-only), when ../shared is present beside the repo."""
    if not SHARED_F27A_1.is_dir():
        pytest.skip("../shared/data/maps/F27A_1 is not present")
    return SHARED_F27A_1
