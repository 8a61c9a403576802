"""Typed errors raised by :mod:`pymapmanager`.

Every error carries enough context (file, line, problem) to be shown to a user as one
clear line, and an HTTP status so the web API can turn it into a JSON error.
"""

from __future__ import annotations

from pathlib import Path


class MapManagerError(Exception):
    """Base class of every error this package raises on purpose."""

    status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class MapFormatError(MapManagerError):
    """A map file does not follow the Map Manager format.

    Parameters
    ----------
    path : str or Path
        The file that is wrong.
    problem : str
        What is wrong, in words a user understands.
    line : int, optional
        1-based line number in the file, when the problem is on one line.
    """

    status = 422

    def __init__(self, path: str | Path, problem: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {problem}")


class MapNotFoundError(MapManagerError):
    """A map, session, channel, plane or other named thing does not exist."""

    status = 404


class InvalidParameterError(MapManagerError):
    """A parameter passed by the caller is out of range or of the wrong kind."""

    status = 400
