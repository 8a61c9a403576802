"""Every public function, class and method of the library has a numpydoc docstring.

The public API is found by walking the package (so new modules and names are covered
without listing them here): in each module, the names of ``__all__`` (or, without one,
every name not starting with ``_``) that the module defines itself, and the public
methods and properties those classes define. Each docstring is checked with numpydoc's
own validator: it exists and has a summary; every parameter is documented and nothing
else is; a function that returns (or yields) something has a Returns (Yields) section.
A focused check adds Raises: a function that raises one of the library's errors itself
says so in a Raises section.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from numpydoc.validate import validate

import pymapmanager
from pymapmanager import errors

#: numpydoc's checks that must pass (numpydoc.validate.ERROR_MSGS has the full list)
REQUIRED = {
    "GL08": "no docstring",
    "SS01": "no summary",
    "PR01": "a parameter is not documented",
    "PR02": "a documented parameter does not exist",
    "RT01": "no Returns section",
    "YD01": "no Yields section",
}

#: modules left out, with the reason
LEFT_OUT = {
    "pymapmanager.__main__": "running it is the command line; it defines nothing",
}

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(pymapmanager.__path__, prefix="pymapmanager.")
    if m.name not in LEFT_OUT
)

#: the library's own error classes: raising one of these must be documented
ERRORS = {
    name
    for name, obj in vars(errors).items()
    if inspect.isclass(obj) and issubclass(obj, Exception) and obj.__module__ == errors.__name__
}


def _public_names(module: Any) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    return list(names)


def public_api() -> Iterator[tuple[str, Any]]:
    """(qualified name, object) of every public function, class, method and property."""
    seen: set[str] = set()
    for name in ["pymapmanager", *MODULES]:
        module = importlib.import_module(name)
        for attr in _public_names(module):
            obj = getattr(module, attr, None)
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if obj.__module__ != name:
                continue  # documented where it is defined
            qual = f"{obj.__module__}.{obj.__qualname__}"
            if qual in seen:
                continue
            seen.add(qual)
            if not getattr(obj, "_is_protocol", False):  # a Protocol is never built: no Parameters
                yield qual, obj
            if inspect.isclass(obj):
                for mname, member in vars(obj).items():
                    if mname.startswith("_"):
                        continue
                    if isinstance(member, (staticmethod, classmethod)):
                        member = member.__func__
                    if inspect.isfunction(member) or isinstance(member, property):
                        yield f"{qual}.{mname}", member


API = sorted(public_api(), key=lambda item: item[0])


def test_the_walk_finds_the_api() -> None:
    """The walk sees the names users import (a walk that found nothing would pass)."""
    names = {q for q, _ in API}
    for q in ("pymapmanager.model.load_map", "pymapmanager.analysis.map_values",
              "pymapmanager.io.text.CsvTable.set_value", "pymapmanager.model.Map.column",
              "pymapmanager.pooling.workers.pool_paths", "pymapmanager.client.Client"):  # fmt: skip
        assert q in names, q
    assert len(API) > 200


def _numpydoc_problems(qual: str) -> list[str]:
    result = validate(qual)
    return [f"{code}: {msg}" for code, msg in result["errors"] if code in REQUIRED]


def _own_raises(func: Callable[..., Any]) -> set[str]:
    """The library's errors that ``func``'s own body raises (not nested functions')."""
    try:
        source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        return set()
    tree = ast.parse(source)
    fn = tree.body[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue
            if isinstance(child, ast.Raise) and child.exc is not None:
                exc = child.exc.func if isinstance(child.exc, ast.Call) else child.exc
                name = exc.attr if isinstance(exc, ast.Attribute) else getattr(exc, "id", "")
                if name in ERRORS:
                    found.add(name)
            visit(child)

    visit(fn)
    return found


@pytest.mark.parametrize(("qual", "obj"), API, ids=[q for q, _ in API])
def test_numpydoc_docstring(qual: str, obj: Any) -> None:
    problems = _numpydoc_problems(qual)
    func = obj.fget if isinstance(obj, property) else obj
    if inspect.isfunction(func):
        raised = _own_raises(func)
        doc = inspect.getdoc(func) or ""
        if raised and "Raises\n------" not in doc:
            problems.append(f"raises {', '.join(sorted(raised))} but has no Raises section")
    assert not problems, f"{qual}:\n  " + "\n  ".join(problems)
