"""Where the repository and the real map in ``../shared`` are."""

import os
from pathlib import Path

import pytest

#: the repository's root folder
REPO = Path(__file__).resolve().parents[2]
#: the real map beside the repository (read only; never copied into the project)
F27A_1 = REPO.parent / "shared" / "data" / "maps" / "F27A_1"

#: under ``CI=true`` a missing real part is a failure, never a silent skip
IN_CI = os.environ.get("CI", "").lower() == "true"


def require_f27a1() -> Path:
    """The real map F27A_1; a skip when ``../shared`` lacks it, a *failure* under ``CI=true``."""
    if not F27A_1.is_dir():
        reason = f"the real map {F27A_1} is not present (../shared/data/maps/F27A_1)"
        if IN_CI:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return F27A_1
