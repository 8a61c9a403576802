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


class UnsafeArchiveError(MapManagerError):
    """A zip archive holds an entry that may not be extracted (the whole zip is refused).

    Parameters
    ----------
    entry : str
        The entry's name as stored in the zip (control characters escaped).
    problem : str
        Why it is refused: a path leaving the folder, a link, a device, a zip bomb...
    """

    status = 400

    def __init__(self, entry: str, problem: str) -> None:
        self.entry = entry
        self.problem = problem
        super().__init__(f"zip entry '{entry}': {problem}" if entry else problem)


class InvalidMapError(MapManagerError):
    """An uploaded or dropped folder is not a valid map; ``problems`` says why, file by file.

    Parameters
    ----------
    message : str
        One line for a person.
    problems : list of dict
        ``{"file": path relative to the map folder, "line": int or None, "problem": str}``.
    """

    status = 400

    def __init__(self, message: str, problems: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])

    @property
    def details(self) -> dict[str, object]:
        """Extra fields of the API's JSON error."""
        return {"problems": self.problems}


class ConflictError(MapManagerError):
    """The request conflicts with the current state (a name taken, an upload at another offset)."""

    status = 409


class MapExistsError(ConflictError):
    """A map of that name already exists (upload with ``overwrite`` to add a new version)."""


class TooLargeError(MapManagerError):
    """An upload is over the server's size limit."""

    status = 413
