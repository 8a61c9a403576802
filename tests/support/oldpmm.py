"""Test access to the old pymapmanager 0.0.5: the logic lives in ``bench/oldpmm.py``.

This module loads that file (it is not a package) and adds what only tests need: where
the test cache lives, and skip-or-fail when the old package cannot be obtained.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

from tests.support.paths import IN_CI, REPO


def _load_oldpmm() -> ModuleType:
    name = "oldpmm"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / "oldpmm.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {REPO / 'bench' / 'oldpmm.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses need the module registered while it runs
    spec.loader.exec_module(module)
    return module


oldpmm = _load_oldpmm()
if TYPE_CHECKING:
    from bench.oldpmm import OldPackage
else:
    OldPackage = oldpmm.OldPackage


def cache_dir() -> Path:
    """Where tests cache the download and patched copy (``$PYMAPMANAGER_OLDPMM_DIR`` or tmp)."""
    return oldpmm.work_dir(Path(tempfile.gettempdir()) / "pymapmanager-oldpmm-cache")


def obtain_old_package() -> OldPackage | str:
    """The patched old package run by this interpreter (or a cached venv if it must).

    Returns the reason as a string when it cannot be obtained (no network, no pip, ...),
    so that a session fixture can hand it to every test: see :func:`require`.
    """
    try:
        return oldpmm.obtain(cache_dir(), python=sys.executable)
    except oldpmm.OldPackageError as e:
        return f"could not obtain the old pymapmanager {oldpmm.OLD_VERSION} from PyPI: {e}"


def require(got: OldPackage | str) -> OldPackage:
    """Call in a test body: a *failure* under ``CI=true`` when the old package is missing,
    a skip with the reason elsewhere (a failing fixture would count as an error instead).
    """
    if isinstance(got, str):
        if IN_CI:
            pytest.fail(got, pytrace=False)
        pytest.skip(got)
    return got
