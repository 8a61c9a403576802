"""Reading Dash component trees (as JSON) in tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["find"]


def find(tree: Any, pred: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """Every component (as JSON) in ``tree`` for which ``pred(component)`` holds."""
    out = []
    if isinstance(tree, dict):
        if "props" in tree and pred(tree):
            out.append(tree)
        for v in tree.values():
            out.extend(find(v, pred))
    elif isinstance(tree, list):
        for v in tree:
            out.extend(find(v, pred))
    return out
