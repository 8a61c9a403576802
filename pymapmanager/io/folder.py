"""Opening the files of one map folder safely.

A map is the **regular files inside its folder**. :class:`MapFolder` is the only way the
library opens a map's files, and it enforces that:

* names are relative, without ``..``, control characters or NUL bytes, else
  :class:`~pymapmanager.errors.UnsafeMapPathError`;
* a symbolic link is followed only when its target is inside the map folder (a link
  from ``raw/a_ch1.tif`` to ``images/a.tif`` of the same map is fine; a link to
  ``/etc/passwd``, to another map or a link loop is refused);
* only regular files are opened (a folder, FIFO, socket or device under a map file's name
  is refused, and opening never blocks: FIFOs are opened non-blocking and refused);
* text files larger than :data:`MAX_TEXT_BYTES` are refused before they are read.

Every error names the file relative to the map folder. Files are decoded as UTF-8 when
they are valid UTF-8 and as Latin-1 otherwise (Igor writes Mac Roman / Latin-1 notes);
the encoding is returned so the writer can write the file back byte for byte.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import MapFormatError, UnsafeMapPathError, printable

__all__ = ["MAX_TEXT_BYTES", "FileStat", "MapFolder", "check_name", "decode"]

#: A text file of a map larger than this is refused (a real map's largest text file,
#: the objMap of ~1000 objects x 30 sessions, is a few MB).
MAX_TEXT_BYTES = 256 * 1024 * 1024

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class FileStat:
    """Size and modification time of one file a map reads.

    Parameters
    ----------
    size : int
        Bytes.
    mtime_ns : int
        Modification time, nanoseconds since the epoch.
    """

    size: int
    mtime_ns: int


def check_name(rel: str, what: str = "file name") -> str:
    """Check that ``rel`` is a plain relative name inside a map folder.

    Parameters
    ----------
    rel : str
        A name such as ``stackdb/a_db2.txt`` (``/`` separates folders).
    what : str
        What the name is, for the message.

    Returns
    -------
    str
        ``rel`` unchanged.

    Raises
    ------
    UnsafeMapPathError
        The name is empty, absolute, contains ``..``, a backslash, NUL or another
        control character.

    Examples
    --------
    >>> check_name("stackdb/a_db2.txt")
    'stackdb/a_db2.txt'
    >>> check_name("../other/x.txt")
    Traceback (most recent call last):
    ...
    pymapmanager.errors.UnsafeMapPathError: ../other/x.txt: the file name leaves the map folder ('..')
    """
    if rel in _SAFE_NAMES:
        return rel
    if not rel or _CONTROL.search(rel):
        raise UnsafeMapPathError(rel or "''", f"the {what} is empty or holds control characters")
    if rel.startswith(("/", "\\")) or (len(rel) > 1 and rel[1] == ":"):
        raise UnsafeMapPathError(rel, f"the {what} is an absolute path; names must stay inside the map folder")
    if "\\" in rel:
        raise UnsafeMapPathError(rel, f"the {what} holds a backslash")
    if any(part in ("..", ".") for part in PurePosixPath(rel).parts) or "//" in rel:
        raise UnsafeMapPathError(rel, f"the {what} leaves the map folder ('..')")
    if len(_SAFE_NAMES) < 4096:  # a name is checked once (the first 4096 names met are remembered)
        _SAFE_NAMES.add(rel)
    return rel


_CONTROL = re.compile("[\x00-\x1f\x7f]")
_SAFE_NAMES: set[str] = set()


def decode(data: bytes) -> tuple[str, str]:
    """Decode a map file: UTF-8 when valid, else Latin-1 (every byte kept).

    Parameters
    ----------
    data : bytes
        The file's bytes.

    Returns
    -------
    text : str
    encoding : str
        ``"utf-8"`` or ``"latin-1"``; ``text.encode(encoding) == data``.

    Examples
    --------
    >>> decode("é".encode("utf-8"))
    ('é', 'utf-8')
    >>> decode(b"caf\\xe9")
    ('café', 'latin-1')
    """
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


class MapFolder:
    """The regular files inside one map folder, opened safely.

    Parameters
    ----------
    root : str or Path
        The map folder. It may itself be reached through a symbolic link; files inside
        must stay inside its real location.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "m.txt").write_bytes(b"\\t\\n")
    >>> f = MapFolder(d)
    >>> f.read_text("m.txt")
    ('\\t\\n', 'utf-8')
    >>> f.read_text("missing.txt") is None
    True
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(os.path.abspath(root))
        self._real_root: str | None = None
        self._listings: dict[str, frozenset[str]] = {}
        self._plain: dict[str, bool] = {"": True}

    def __repr__(self) -> str:
        return f"MapFolder({str(self.root)!r})"

    @property
    def _real(self) -> str:
        """The map folder's real location (found when a link is first followed)."""
        if self._real_root is None:
            self._real_root = os.path.realpath(self.root)
        return self._real_root

    # ------------------------------------------------------------------ locating

    def resolve(self, rel: str) -> Path | None:
        """Where ``rel`` really is (links followed), or None when there is no such file.

        Parameters
        ----------
        rel : str
            A name relative to the map folder.

        Returns
        -------
        Path or None
            The real path of a regular file inside the map folder.

        Raises
        ------
        UnsafeMapPathError
            The name leaves the folder, is a link leaving it or a link loop, or is not a
            regular file.
        MapFormatError
            The file cannot be looked at (permissions, a file where a folder should be).
        """
        check_name(rel)
        full = os.path.join(self.root, rel)
        if self._plain_folder(rel.rpartition("/")[0]):
            # the usual case, one lstat: a regular file (not a link) in folders that are
            # not links is inside the map; a link is followed below, only inside it
            try:
                lst = os.lstat(full)
            except FileNotFoundError:
                return None
            except OSError as e:
                if e.errno == errno.ENOTDIR:
                    return None
                raise self._os_error(rel, e) from None
            if stat.S_ISREG(lst.st_mode):
                return Path(full)
            if not stat.S_ISLNK(lst.st_mode):
                raise UnsafeMapPathError(rel, f"is {_kind(lst.st_mode)}, not a regular file")
        real = os.path.realpath(full)
        if not self._inside(real):
            raise UnsafeMapPathError(
                rel, "is a symbolic link leading outside the map folder (only links inside it are followed)"
            )
        try:
            st = os.stat(real)
        except FileNotFoundError:
            try:
                os.lstat(full)
            except FileNotFoundError:
                return None
            except OSError as e:
                raise self._os_error(rel, e) from None
            raise UnsafeMapPathError(rel, "is a broken symbolic link") from None
        except OSError as e:
            if e.errno == errno.ENOTDIR:
                return None  # e.g. 'stackdb' is a file: its files do not exist
            raise self._os_error(rel, e) from None
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeMapPathError(rel, f"is {_kind(st.st_mode)}, not a regular file")
        return Path(real)

    def _inside(self, real: str) -> bool:
        """Whether the real path ``real`` is the map folder or inside it."""
        return real == self._real or real.startswith(self._real + os.sep)

    def _plain_folder(self, sub: str) -> bool:
        """Whether ``sub`` and every folder above it (inside the map) is a folder, not a link
        (asked once per sub-folder and MapFolder, like :meth:`listdir`)."""
        hit = self._plain.get(sub)
        if hit is None:
            parent = sub.rpartition("/")[0]
            try:
                hit = stat.S_ISDIR(os.lstat(os.path.join(self.root, sub)).st_mode) and self._plain_folder(parent)
            except OSError:
                hit = False
            self._plain[sub] = hit
        return hit

    def _os_error(self, rel: str, e: OSError) -> MapFormatError:
        if e.errno == errno.ELOOP:
            return UnsafeMapPathError(rel, "is a symbolic link loop")
        return MapFormatError(rel, f"cannot be read ({e.strerror or type(e).__name__})")

    def folder_problem(self, sub: str) -> str | None:
        """Why the sub-folder ``sub`` (e.g. ``stackdb``) cannot hold files, or None.

        Parameters
        ----------
        sub : str
            A folder name relative to the map folder.

        Returns
        -------
        str or None
            For example ``"stackdb is a file, not a folder"``; None when it is a folder
            inside the map or does not exist.
        """
        check_name(sub, "folder name")
        if self._plain_folder(sub):
            return None
        full = os.path.join(self.root, sub)
        real = os.path.realpath(full)
        if not self._inside(real):
            return f"{sub} is a symbolic link leading outside the map folder"
        try:
            st = os.stat(real)
        except FileNotFoundError:
            return None
        except OSError as e:
            if e.errno == errno.ELOOP:
                return f"{sub} is a symbolic link loop"
            return f"{sub} cannot be read ({e.strerror})"
        if not stat.S_ISDIR(st.st_mode):
            return f"{sub} is {_kind(st.st_mode) if not stat.S_ISREG(st.st_mode) else 'a file'}, not a folder"
        return None

    def listdir(self, sub: str = "") -> frozenset[str]:
        """Names of the entries of sub-folder ``sub`` (empty when it is not a folder).

        Parameters
        ----------
        sub : str
            Relative folder name, ``""`` for the map folder itself.

        Returns
        -------
        frozenset of str
            Entry names (not checked: use :meth:`resolve` on the ones you read).
        """
        hit = self._listings.get(sub)
        if hit is None:
            if sub and self.folder_problem(sub) is not None:
                hit = frozenset()
            else:
                try:
                    hit = frozenset(os.listdir(os.path.join(self.root, sub) if sub else self.root))
                except OSError:
                    hit = frozenset()
            self._listings[sub] = hit
        return hit

    def exists(self, rel: str) -> bool:
        """Whether ``rel`` is a regular file of the map (raises for unsafe names).

        Parameters
        ----------
        rel : str
            A name relative to the map folder.

        Returns
        -------
        bool
        """
        sub, _, name = rel.rpartition("/")
        if name not in self.listdir(sub):
            return False
        return self.resolve(rel) is not None

    def stat(self, rel: str) -> FileStat | None:
        """Size and mtime of ``rel`` (of its target when it is a link), or None.

        Parameters
        ----------
        rel : str
            A name relative to the map folder.

        Returns
        -------
        FileStat or None
        """
        real = self.resolve(rel)
        if real is None:
            return None
        try:
            st = os.stat(real)
        except OSError as e:
            raise self._os_error(rel, e) from None
        return FileStat(int(st.st_size), int(st.st_mtime_ns))

    # ------------------------------------------------------------------ reading

    def read_bytes(self, rel: str, *, limit: int = MAX_TEXT_BYTES) -> bytes | None:
        """The bytes of regular file ``rel``, or None when it does not exist.

        Parameters
        ----------
        rel : str
            A name relative to the map folder.
        limit : int
            Refuse files larger than this.

        Returns
        -------
        bytes or None

        Raises
        ------
        UnsafeMapPathError, MapFormatError
            See :meth:`resolve`; also for files over ``limit`` and read errors.
        """
        real = self.resolve(rel)
        if real is None:
            return None
        try:
            fd = os.open(real, _FLAGS | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return None
        except OSError as e:
            raise self._os_error(rel, e) from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):  # replaced since resolve()
                raise UnsafeMapPathError(rel, f"is {_kind(st.st_mode)}, not a regular file")
            if st.st_size > limit:
                raise MapFormatError(rel, f"is {st.st_size} bytes, more than a map file may hold ({limit})")
            with os.fdopen(fd, "rb", closefd=False) as fh:
                data = fh.read(limit + 1)
        except OSError as e:
            raise self._os_error(rel, e) from None
        finally:
            os.close(fd)
        if len(data) > limit:
            raise MapFormatError(rel, f"is more than a map file may hold ({limit} bytes)")
        return data

    def read_text(self, rel: str, *, limit: int = MAX_TEXT_BYTES) -> tuple[str, str] | None:
        """The text of ``rel`` and its encoding (see :func:`decode`), or None when absent.

        Parameters
        ----------
        rel : str
            A name relative to the map folder.
        limit : int
            Refuse files larger than this.

        Returns
        -------
        (str, str) or None
            Text and encoding.
        """
        data = self.read_bytes(rel, limit=limit)
        return None if data is None else decode(data)

    def require_text(self, rel: str, missing: str = "file is missing") -> tuple[str, str]:
        """Like :meth:`read_text` for a file that must exist.

        Parameters
        ----------
        rel : str
            A name relative to the map folder.
        missing : str
            The problem reported when it does not exist.

        Returns
        -------
        (str, str)
            Text and encoding.

        Raises
        ------
        MapFormatError
            The file does not exist (or see :meth:`read_bytes`).
        """
        got = self.read_text(rel)
        if got is None:
            sub = rel.rpartition("/")[0]
            why = self.folder_problem(sub) if sub else None
            raise MapFormatError(rel, missing if why is None else f"{missing} ({printable(why)})")
        return got
