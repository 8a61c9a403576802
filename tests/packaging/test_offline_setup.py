"""The test command stays offline except for package installs (issue 13).

The old ``pymapmanager`` 0.0.5 that the compatibility tests compare against is fetched once
by the set-up step of ``./dev test`` (``python -m tests.support.oldpmm``), before pytest
starts; the tests only look it up in the cache, with pip's index switched off, and never
download it themselves.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support import oldpmm as support
from tests.support.paths import REPO


def _dev_case(name: str) -> str:
    """The body of ``./dev <name>``'s case branch."""
    text = (REPO / "dev").read_text()
    m = re.search(rf"^{name}\)\n(.*?)^\s*;;", text, re.M | re.S)
    assert m, f"./dev has no '{name})' branch"
    return m.group(1)


def test_dev_test_fetches_the_old_package_before_the_tests() -> None:
    body = _dev_case("test")
    fetch = body.index("python -m tests.support.oldpmm")
    assert fetch < body.index("pytest -q"), "the old package must be fetched before pytest runs"


def test_a_missing_cache_is_reported_never_downloaded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(support.oldpmm.WORK_DIR_ENV, str(tmp_path / "empty"))

    def no_network(*a: Any, **kw: Any) -> Any:
        raise AssertionError("the tests tried to obtain the old package from PyPI")

    for name in ("download_sdist", "prepare_source", "ensure_venv", "obtain"):
        monkeypatch.setattr(support.oldpmm, name, no_network)
    got = support.obtain_old_package()
    assert isinstance(got, str)
    assert "is not in" in got and support.FETCH_HINT in got


def test_a_cached_copy_is_used_with_pip_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(support.oldpmm.WORK_DIR_ENV, str(tmp_path))
    monkeypatch.delenv("PIP_NO_INDEX", raising=False)
    ready = tmp_path / f"pymapmanager-{support.oldpmm.OLD_VERSION}-{support.oldpmm._RECIPE}" / "READY.json"
    ready.parent.mkdir(parents=True)
    ready.write_text("{}")
    seen: dict[str, Any] = {}

    def obtain(work: Path, *, python: str) -> str:
        seen["work"], seen["no_index"] = work, os.environ.get("PIP_NO_INDEX")
        return "the package"

    monkeypatch.setattr(support.oldpmm, "obtain", obtain)
    assert support.obtain_old_package() == "the package"
    assert seen == {"work": tmp_path, "no_index": "1"}
    assert "PIP_NO_INDEX" not in os.environ


def test_no_test_module_fetches_the_old_package() -> None:
    """Only the set-up step calls the fetching functions; test modules go through the cache."""
    fetching = re.compile(r"\b(fetch|obtain|download_sdist|prepare_source|ensure_venv)\(")
    offenders = []
    for path in sorted((REPO / "tests").rglob("test_*.py")):
        if path == Path(__file__).resolve():
            continue
        if "oldpmm" in (text := path.read_text(encoding="utf-8")) and fetching.search(
            re.sub(r"obtain_old_package\(", "", text)
        ):
            offenders.append(path.relative_to(REPO).as_posix())
    assert not offenders, f"test modules that may download the old package: {offenders}"
