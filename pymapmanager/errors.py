"""Typed errors raised by :mod:`pymapmanager`.

Every error carries enough context (file, line, problem) to be shown to a user as one
clear line, and an HTTP status so the web API can turn it into a JSON error.

Every failure to read any part of a map (header, tables, links, tracings, images) is a
:class:`MapFormatError` or one of its subclasses:

* :class:`MapHeaderMissingError` -- the folder has no ``<folder>.txt`` header (often a
  folder renamed without renaming its header file); the message says what to rename.
* :class:`UnsafeMapPathError` -- a name in the map points outside the map folder
  (``..``, an absolute path, a symbolic link leaving the folder) or at something that is
  not a regular file (a folder, a FIFO, a device).

Their :attr:`MapFormatError.path` is relative to the map folder (``stackdb/x_db2.txt``),
and messages never hold control characters (they are escaped, ``\\x00``).
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = [
    "EditConflict",
    "EditError",
    "InvalidParameterError",
    "MapFormatError",
    "MapHeaderMissingError",
    "MapManagerError",
    "MapNotFoundError",
    "UnsafeMapPathError",
    "printable",
]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MAX_SHOWN = 200


def printable(text: str, limit: int = _MAX_SHOWN) -> str:
    r"""``text`` safe to show in one line: control characters escaped, long text cut.

    Parameters
    ----------
    text : str
        Any text, e.g. a cell of a damaged file.
    limit : int
        At most this many characters of ``text`` are kept (``...`` marks a cut).

    Returns
    -------
    str
        The text with every control character written as ``\xNN``.

    Examples
    --------
    >>> printable("a\x00b\tc")
    'a\\x00b\\x09c'
    >>> printable("x" * 10, limit=4)
    'xxxx...'
    """
    cut = text if len(text) <= limit else text[:limit] + "..."
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", cut)


class MapManagerError(Exception):
    """Base class of every error this package raises on purpose.

    Parameters
    ----------
    message : str
        One line for the user (control characters are escaped).
    """

    status: int = 400

    def __init__(self, message: str) -> None:
        message = printable(message, limit=2000)
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class MapFormatError(MapManagerError):
    """A map file does not follow the Map Manager format (or cannot be read).

    Parameters
    ----------
    path : str or Path
        The file that is wrong, relative to the map folder when raised while reading a
        map (``stackdb/F27A_1_s4_db2.txt``).
    problem : str
        What is wrong, in words a user understands.
    line : int, optional
        1-based line number in the file, when the problem is on one line.
    plane : int, optional
        0-based plane of an image, when the problem is in one plane.

    Examples
    --------
    >>> str(MapFormatError("stackdb/a_db2.txt", "column 'x' must hold numbers", 4))
    "stackdb/a_db2.txt:4: column 'x' must hold numbers"
    >>> str(MapFormatError("raw/a_ch1.tif", "cannot be read", plane=3))
    'raw/a_ch1.tif: plane 3: cannot be read'
    """

    status = 422

    def __init__(
        self, path: str | Path, problem: str, line: int | None = None, *, plane: int | None = None
    ) -> None:
        self.path = printable(str(path))
        self.line = line
        self.plane = plane
        self.problem = printable(problem, limit=1000)
        where = self.path if line is None else f"{self.path}:{line}"
        if plane is not None:
            where += f": plane {plane}"
        super().__init__(f"{where}: {self.problem}")

    def relative_to(self, folder: str | Path, prefix: str = "") -> MapFormatError:
        """The same error with :attr:`path` made relative to ``folder`` (and prefixed).

        Parameters
        ----------
        folder : str or Path
            The map folder; a path outside it keeps only its file name.
        prefix : str
            Put in front of the relative path (e.g. ``"owner/map/"``).

        Returns
        -------
        MapFormatError
            A new error of the same class.

        Examples
        --------
        >>> e = MapFormatError("/data/m/m.txt", "bad")
        >>> str(e.relative_to("/data/m"))
        'm.txt: bad'
        """
        p = Path(self.path)
        if p.is_absolute():
            try:
                rel = p.relative_to(Path(folder)).as_posix()
            except ValueError:
                rel = p.name
        else:
            rel = p.as_posix()
        new = MapFormatError.__new__(type(self))
        MapFormatError.__init__(new, prefix + rel, self.problem, self.line, plane=self.plane)
        return new


class MapHeaderMissingError(MapFormatError):
    """A map folder has no header file named like the folder.

    The message names the header file expected and, when the folder holds exactly one
    other header-like file (``<name>.txt`` beside ``<name>_objMap.txt``), says which file
    or folder to rename.

    Parameters
    ----------
    path : str or Path
        The file, as for :class:`MapFormatError`.
    problem : str
        What is wrong.
    line : int, optional
        1-based line number in the file.
    plane : int, optional
        0-based plane of an image.
    """


class UnsafeMapPathError(MapFormatError):
    """A file name of the map leaves the map folder or is not a regular file.

    Raised for ``..`` and absolute names, symbolic links resolving outside the folder,
    and names of folders, FIFOs, sockets or devices.

    Parameters
    ----------
    path : str or Path
        The file, as for :class:`MapFormatError`.
    problem : str
        What is wrong.
    line : int, optional
        1-based line number in the file.
    plane : int, optional
        0-based plane of an image.
    """


class MapNotFoundError(MapManagerError):
    """A map, session, channel, plane or other named thing does not exist.

    Parameters
    ----------
    message : str
        One line for the user, naming what does not exist.
    """

    status = 404


class InvalidParameterError(MapManagerError):
    """A parameter passed by the caller is out of range or of the wrong kind.

    Parameters
    ----------
    message : str
        One line for the user, naming the parameter and what is wrong with it.
    """

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


class EditError(MapManagerError, ValueError):
    """An edit command was refused; the map is unchanged.

    Parameters
    ----------
    op : str
        The command (``"move"``, ``"delete"``..., or ``"undo"``/``"redo"``).
    reason : str
        Why it was refused, in words a user understands.

    Examples
    --------
    >>> e = EditError("delete", "session 1 has no row 700 (rows 0..649)")
    >>> str(e), e.op
    ('delete refused: session 1 has no row 700 (rows 0..649)', 'delete')
    """

    status = 422

    def __init__(self, op: str, reason: str) -> None:
        self.op = printable(str(op), limit=60)
        self.reason = printable(reason, limit=1000)
        super().__init__(f"{self.op} refused: {self.reason}")


class EditConflict(EditError):
    """Edits made on an older version touch objects a newer save changed.

    Parameters
    ----------
    objects : list of tuple of int
        The conflicting objects as ``(session, row)``, rows as they stand in the base
        version both edits were made on.
    message : str
        What conflicts, in words a user understands.
    op : str
        The command found in conflict (``"rebase"`` when not one).
    """

    status = 409

    def __init__(self, objects: list[tuple[int, int]], message: str, op: str = "rebase") -> None:
        self.objects = [(int(s), int(r)) for s, r in objects]
        super().__init__(op, message)

    @property
    def details(self) -> dict[str, object]:
        """Extra fields of the API's JSON error."""
        return {"conflicts": [list(o) for o in self.objects]}
