"""Every example in the library's docstrings runs and gives what it shows (doctest).

One test per module of ``pymapmanager`` (found by walking the package, so new modules are
covered without listing them here).
"""

from __future__ import annotations

import doctest
import importlib
import os
import pkgutil
from pathlib import Path

import pytest

import pymapmanager

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(pymapmanager.__path__, prefix="pymapmanager.")
    if not m.name.endswith(".__main__")  # running it is the command line
)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("name", ["pymapmanager", *MODULES])
def test_docstring_examples_run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module(name)
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    for test in finder.find(module, name, globs=vars(module).copy()):
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)


def test_the_library_has_examples() -> None:
    """The examples are there (a finder that found nothing would pass every test above)."""
    finder = doctest.DocTestFinder(exclude_empty=True)
    total = 0
    for name in MODULES:
        for test in finder.find(importlib.import_module(name), name):
            total += sum(1 for e in test.examples if not e.options.get(doctest.SKIP))
    assert total >= 40, total
    assert os.path.isdir(pymapmanager.__path__[0])
