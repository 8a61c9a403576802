"""Fault injection into the writer (:data:`pymapmanager.io.writer.fault_hook`): count the
filesystem operations of a save, or stop it at the n-th one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pymapmanager.io import writer

__all__ = ["Fault", "failing_at", "recording_ops"]


class Fault(Exception):
    """The injected failure (not an OSError: nothing turns it into another error)."""


@contextmanager
def recording_ops() -> Iterator[list[tuple[str, str]]]:
    """Every ``(operation, path)`` of the writer inside the block, in order."""
    ops: list[tuple[str, str]] = []
    writer.fault_hook = lambda op, path: ops.append((op, path))
    try:
        yield ops
    finally:
        writer.fault_hook = None


@contextmanager
def failing_at(n: int) -> Iterator[None]:
    """The writer's ``n``-th operation (1-based) inside the block raises :class:`Fault`."""
    calls = 0

    def hook(op: str, path: str) -> None:
        nonlocal calls
        calls += 1
        if calls == n:
            raise Fault(f"fault at {op} {path}")

    writer.fault_hook = hook
    try:
        yield
    finally:
        writer.fault_hook = None
