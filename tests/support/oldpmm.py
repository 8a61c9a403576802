"""Test access to the old pymapmanager 0.0.5: the logic lives in ``bench/oldpmm.py``.

This module loads that file (it is not a package) and adds what only tests need: where
the test cache lives, and skip-or-fail when the old package cannot be obtained.

The old package is fetched **once**, by the set-up step of ``./dev test``, which runs
``python -m tests.support.oldpmm`` (download from PyPI, patch, and a virtual environment
if this interpreter cannot run it), into a cache that outlives the project's ``.venv``:
``$PYMAPMANAGER_OLDPMM_DIR``, else ``$XDG_CACHE_HOME/pymapmanager/oldpmm`` (by default
``~/.cache/pymapmanager/oldpmm``). The tests themselves never download: they use the
cached copy, with pip's index switched off, and a missing copy is a skip (a failure under
``CI=true``) that says how to fetch it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
from collections.abc import Iterator
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


FETCH_HINT = "./dev test fetches it once (or run: .venv/bin/python -m tests.support.oldpmm)"


def cache_dir() -> Path:
    """Where the download, the patched copy and any venv are cached (see the module doc)."""
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return oldpmm.work_dir(Path(xdg) / "pymapmanager" / "oldpmm")


def fetched(work: Path | None = None) -> bool:
    """Whether the patched copy is in the cache (what the set-up step makes)."""
    work = work or cache_dir()
    return (work / f"pymapmanager-{oldpmm.OLD_VERSION}-{oldpmm._RECIPE}" / "READY.json").is_file()


@contextlib.contextmanager
def _no_package_index() -> Iterator[None]:
    """pip may use nothing but what is cached: the tests never download."""
    saved = os.environ.get("PIP_NO_INDEX")
    os.environ["PIP_NO_INDEX"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PIP_NO_INDEX", None)
        else:
            os.environ["PIP_NO_INDEX"] = saved


def fetch() -> OldPackage:
    """The set-up step: download, patch and (if needed) install the old package once.

    Raises
    ------
    oldpmm.OldPackageError
        It could not be obtained (no network, no pip, ...).
    """
    return oldpmm.obtain(cache_dir(), python=sys.executable)


def obtain_old_package() -> OldPackage | str:
    """The cached old package, run by this interpreter (or the cached venv if it must).

    Never downloads. Returns the reason as a string when the copy is missing or broken,
    so that a session fixture can hand it to every test: see :func:`require`.
    """
    work = cache_dir()
    if not fetched(work):
        return f"the old pymapmanager {oldpmm.OLD_VERSION} is not in {work}: {FETCH_HINT}"
    try:
        with _no_package_index():
            return oldpmm.obtain(work, python=sys.executable)
    except oldpmm.OldPackageError as e:
        return f"the cached old pymapmanager {oldpmm.OLD_VERSION} in {work} does not run: {e} ({FETCH_HINT})"


def require(got: OldPackage | str) -> OldPackage:
    """Call in a test body: a *failure* under ``CI=true`` when the old package is missing,
    a skip with the reason elsewhere (a failing fixture would count as an error instead).
    """
    if isinstance(got, str):
        if IN_CI:
            pytest.fail(got, pytrace=False)
        pytest.skip(got)
    return got


def _main() -> int:
    """``python -m tests.support.oldpmm``: fetch once (``./dev test`` runs this)."""
    logging.basicConfig(level=logging.INFO, format="oldpmm: %(message)s")
    if fetched():
        logging.info("the old pymapmanager %s is cached in %s", oldpmm.OLD_VERSION, cache_dir())
    try:
        pkg = fetch()
    except oldpmm.OldPackageError as e:
        logging.error("could not fetch the old pymapmanager %s: %s", oldpmm.OLD_VERSION, e)
        return 1
    logging.info("ready: %s (run by %s)", pkg.src, pkg.python)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
