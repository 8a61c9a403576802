"""Saving a map folder crash-safely, keeping the previous version as a backup.

A save never changes a file of the map in place. Beside the map folder ``<name>/`` it
uses these names (all in the map's parent folder):

``.<name>.saving-<id>/``
    the new version being written (the text files that changed written, the others and
    every other file such as ``raw/*.tif`` hard-linked or copied), every file and folder
    flushed to disk;
``.<name>.new/``
    the new version, complete (the staging folder renamed: the commit point);
``.<name>.old-<id>/``
    the version being replaced, between the swap and the backup rotation;
``.<name>.previous/``
    the backup: the version before the last save (images there are hard links);
``.<name>.trash-<id>/``
    something being deleted (never read again).

The staging folder is filled without rewriting what did not change: a text file whose
new bytes equal the file of the same name in the map being saved (or in a folder passed
as ``same_as``) is hard-linked from it, like the images; only the changed files are
written. A map's files are therefore shared (same inode) by the map, its backup and any
version folder linked from it: **no file of a map folder is ever changed in place** --
this writer only creates new files and renames folders; a program that rewrites a map's
file in place would change the backup with it. Once everything is in the staging folder,
the files written are fsynced, the data of the linked ones is written out (Linux
``sync_file_range``; elsewhere fsync) and made durable by the directory fsyncs that follow,
and every folder of the stage is fsynced once.

The steps: write the staging folder; rename it to ``.new``; rename ``<name>`` to
``.old-<id>``; rename ``.new`` to ``<name>``; rename the old backup to ``.trash-<id>``;
rename ``.old-<id>`` to ``.previous``; delete the trash. Every rename is atomic, so at
every instant the map is one of: ``<name>`` (old or new, complete), or -- only between
the second and third rename -- ``.new`` beside ``.old-<id>``; and a backup is always
there whole (``.previous``, or ``.old-<id>`` just before it becomes ``.previous``).

:func:`recover` (called by :func:`~pymapmanager.model.load_map` and by every save, and
what a server should call for each map at start, or once with :func:`recover_all`)
finishes or undoes an interrupted save from those names alone: a missing ``<name>``
with a complete ``.new`` is rolled forward, a ``.new`` beside ``<name>`` is dropped, an
``.old-<id>`` becomes the backup, staging folders and trash are deleted. A save and a
recovery of the same parent folder exclude each other with an advisory lock
(``flock``) on the parent folder, so a reader never "recovers" a save in progress.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import stat
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from ..errors import InvalidParameterError, MapFormatError

__all__ = [
    "SaveableMap",
    "backup_path",
    "recover",
    "recover_all",
    "save_map",
    "write_files",
    "write_text_atomic",
]

log = logging.getLogger(__name__)

#: Called with the name of every file-system operation a save or recovery is about to do
#: (``"mkdir"``, ``"write"``, ``"fsync"``, ``"flush"`` (writing out a linked file's
#: data), ``"rename"``, ``"unlink"``, ``"rmdir"``, ``"link"``, ``"copy"``, ``"symlink"``)
#: and its path. Tests set it to inject faults
#: at every step; None in normal use.
fault_hook: Callable[[str, str], None] | None = None

#: How long a reader waits for a save in progress before giving up on recovering.
LOCK_WAIT_SECONDS = 30.0


class SaveableMap(Protocol):
    """What :func:`save_map` needs of a map (:class:`pymapmanager.model.Map` has it)."""

    path: Path
    name: str

    def file_bytes(self) -> dict[str, bytes]:
        """Every text file of the map, relative path -> bytes."""
        ...


def _op(name: str, path: str | Path) -> None:
    hook = fault_hook
    if hook is not None:
        hook(name, str(path))


def backup_path(map_folder: Path) -> Path:
    """Where the previous version of ``map_folder`` is kept after a save.

    Parameters
    ----------
    map_folder : Path
        A map folder.

    Returns
    -------
    Path
        ``<parent>/.<name>.previous``.

    Examples
    --------
    >>> backup_path(Path("/data/maps/F27A_1")).name
    '.F27A_1.previous'
    """
    return map_folder.parent / f".{map_folder.name}.previous"


def _new_path(target: Path) -> Path:
    return target.parent / f".{target.name}.new"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        _op("fsync", path)
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _rename(src: Path, dst: Path) -> None:
    _op("rename", src)
    os.rename(src, dst)


def _write_file(path: Path, data: bytes, *, sync: bool = True) -> None:
    """Create ``path`` (it must not exist) holding ``data``; fsync it unless ``sync`` is False."""
    _op("write", path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        if sync:
            _op("fsync", path)
            os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        _op("fsync", path)
        os.fsync(fd)
    finally:
        os.close(fd)


#: libc's ``sync_file_range`` once looked up (a list: empty when there is none)
_sync_file_range: list[Callable[[int, int, int, int], int]] | None = None


def _get_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """libc's ``sync_file_range`` (Linux), or None."""
    global _sync_file_range
    if _sync_file_range is None:
        found: list[Callable[[int, int, int, int], int]] = []
        if os.uname().sysname == "Linux":
            try:
                import ctypes

                fn = ctypes.CDLL(None, use_errno=True).sync_file_range
                fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
                fn.restype = ctypes.c_int
                found.append(fn)
            except (OSError, AttributeError):  # pragma: no cover - an unusual libc
                pass
        _sync_file_range = found
    return _sync_file_range[0] if _sync_file_range else None


def _flush_data(path: Path) -> None:
    """Write out the data of ``path`` (a file hard-linked into a stage from a folder that
    may not have been written by this writer, e.g. just extracted from a zip).

    On Linux ``sync_file_range`` (wait, write, wait) sends any dirty page to the disk --
    nothing to do, and no disk cache flush, for a file already on disk -- and the
    directory fsyncs that follow flush the disk cache and commit the journal; elsewhere
    the file is fsynced.
    """
    _op("flush", path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        fn = _get_sync_file_range()
        # SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER
        if fn is None or fn(fd, 0, 0, 7) != 0:
            os.fsync(fd)
    finally:
        os.close(fd)


def _same_bytes(path: Path, data: bytes) -> bool:
    """Whether ``path`` is a regular file holding exactly ``data``."""
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size != len(data):
            return False
        with open(path, "rb") as fh:
            return fh.read() == data
    except OSError:
        return False


def _mkdir(path: Path) -> None:
    _op("mkdir", path)
    os.mkdir(path)


def _remove_tree(path: Path) -> None:
    """Delete a folder (or file) bottom-up, one hooked operation per entry."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        _op("unlink", path)
        os.unlink(path)
        return
    for entry in list(os.scandir(path)):
        p = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            _remove_tree(p)
        else:
            _op("unlink", p)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(p)
    _op("rmdir", path)
    with contextlib.suppress(FileNotFoundError):
        os.rmdir(path)


def write_text_atomic(path: Path, text: str, encoding: str = "utf-8") -> None:
    """Write one file atomically (temporary file in the same folder, fsync, rename).

    Parameters
    ----------
    path : Path
        The file.
    text : str
        Its new text.
    encoding : str
        How to encode it.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "a.txt"
    >>> write_text_atomic(p, "caf\\u00e9", "latin-1"); p.read_bytes()
    b'caf\\xe9'
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    _write_file(tmp, text.encode(encoding))
    _op("rename", tmp)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- locking


@contextlib.contextmanager
def _locked(parent: Path, *, wait: float | None = None) -> Iterator[bool]:
    """Hold the advisory lock of ``parent`` (yields False when not taken within ``wait``).

    ``wait=None`` waits as long as it takes (a save); a number is a reader's patience.
    """
    try:
        fd = os.open(parent, os.O_RDONLY)
    except OSError:
        yield True  # nothing to lock (e.g. the parent vanished): proceed
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Windows
        os.close(fd)
        yield True
        return
    try:
        if wait is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            got = True
        else:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    got = True
                    break
                except OSError as e:
                    if e.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                        got = False
                        break
                    time.sleep(0.01)
        yield got
    finally:
        os.close(fd)  # releases the lock


# --------------------------------------------------------------------------- recovery


def _leftovers(target: Path) -> list[Path]:
    prefix = f".{target.name}."
    try:
        names = os.listdir(target.parent)
    except OSError:
        return []
    out = []
    for n in names:
        if n.startswith(prefix):
            rest = n[len(prefix) :]
            if rest == "new" or rest.startswith(("saving-", "old-", "trash-")):
                out.append(target.parent / n)
    return sorted(out)


def recover(map_folder: str | Path) -> bool:
    """Finish or undo an interrupted save of ``map_folder``; delete its leftovers.

    Safe to call at any time, from any process: it does nothing when there is nothing
    to do (one listing of the parent folder), and waits for a save in progress.

    Parameters
    ----------
    map_folder : str or Path
        The map folder (it may be missing: a crash can leave only ``.new``/``.old-*``).

    Returns
    -------
    bool
        Whether anything was changed.

    Raises
    ------
    MapFormatError
        Leftovers could not be cleaned up (e.g. permissions); the map itself is intact.

    Examples
    --------
    >>> import tempfile
    >>> recover(Path(tempfile.mkdtemp()) / "nothing")
    False
    """
    target = Path(os.path.abspath(map_folder))
    if not _leftovers(target):
        return False
    with _locked(target.parent, wait=LOCK_WAIT_SECONDS) as got:
        if not got:
            log.warning("recover %s: a save holds the lock; not recovering now", target.name)
            return False
        try:
            return _recover_locked(target)
        except OSError as e:
            raise MapFormatError(
                target.name, f"an interrupted save could not be cleaned up ({e.strerror or e})"
            ) from None


def _recover_locked(target: Path) -> bool:
    items = _leftovers(target)
    if not items:
        return False
    new = _new_path(target)
    backup = backup_path(target)
    olds = [p for p in items if p.name.startswith(f".{target.name}.old-")]
    changed = False
    if not target.exists():
        if new.exists():  # killed between the two renames of the swap: roll forward
            _rename(new, target)
            changed = True
        elif olds:  # (no .new: cannot happen with this writer; be safe) roll back
            _rename(olds[-1], target)
            olds = olds[:-1]
            changed = True
        elif backup.exists():  # an older writer's crash left only the backup
            _rename(backup, target)
            changed = True
    if new.exists():  # complete but not swapped in: the save did not happen
        trash = target.parent / f".{target.name}.trash-{uuid.uuid4().hex[:8]}"
        _rename(new, trash)
        changed = True
    for old in olds:  # the version replaced by the last save becomes the backup
        if old.exists():
            if backup.exists():
                trash = target.parent / f".{target.name}.trash-{uuid.uuid4().hex[:8]}"
                _rename(backup, trash)
            _rename(old, backup)
            changed = True
    for p in _leftovers(target):
        rest = p.name[len(f".{target.name}.") :]
        if rest.startswith(("saving-", "trash-")):
            _remove_tree(p)
            changed = True
    _fsync_dir(target.parent)
    if changed:
        log.info("recovered an interrupted save of %s", target.name)
    return changed


def recover_all(parent: str | Path) -> list[str]:
    """Run :func:`recover` for every map with leftovers directly in ``parent``.

    Parameters
    ----------
    parent : str or Path
        A folder of map folders (e.g. one owner's folder).

    Returns
    -------
    list of str
        The names of the maps that were repaired or cleaned up.

    Examples
    --------
    >>> import tempfile
    >>> recover_all(tempfile.mkdtemp())
    []
    """
    p = Path(parent)
    try:
        names = os.listdir(p)
    except OSError:
        return []
    maps: set[str] = set()
    for n in names:
        if n.startswith(".") and n != ".":
            for marker in (".new", ".saving-", ".old-", ".trash-"):
                k = n.find(marker, 1)
                if k > 1:
                    maps.add(n[1:k])
                    break
    done = []
    for name in sorted(maps):
        if recover(p / name):
            done.append(name)
    return done


# --------------------------------------------------------------------------- saving


def _carry_over(src: Path, stage: Path, written: set[str], made: list[Path], linked: list[Path],
                copied: list[Path]) -> None:
    """Hard-link (or copy) every other regular file of ``src`` into ``stage``.

    Symbolic links whose target stays inside ``src`` are recreated as they are; links
    leaving the folder, FIFOs and other special files are not carried over. The folders
    made, the files linked and the files copied are appended to ``made``, ``linked`` and
    ``copied`` (the caller makes them durable).
    """
    real_src = os.path.realpath(src)
    for root, dirs, files in os.walk(src):
        rel_root = Path(root).relative_to(src)
        for d in list(dirs):
            full = Path(root) / d
            if full.is_symlink():
                dirs.remove(d)  # linked folders are not walked into
        for f in files:
            p = Path(root) / f
            rel = (rel_root / f).as_posix()
            if rel in written:
                continue
            dst = stage / rel
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                real = os.path.realpath(p)
                if not real.startswith(real_src + os.sep):
                    log.warning("not carrying over %s: a link leaving the map folder", rel)
                    continue
                _make_parents(stage, dst, made)
                _op("symlink", dst)
                os.symlink(os.readlink(p), dst)
                continue
            if not stat.S_ISREG(st.st_mode):
                log.warning("not carrying over %s: not a regular file", rel)
                continue
            _make_parents(stage, dst, made)
            try:
                _op("link", dst)
                os.link(p, dst)
                linked.append(dst)
            except OSError:
                _op("copy", dst)
                shutil.copy2(p, dst)
                copied.append(dst)


def _target_of(m: SaveableMap, dest: str | Path | None) -> Path:
    target = Path(dest) if dest is not None else m.path
    target = target.resolve() if target.exists() else target.absolute()
    if target.name != m.name:
        target = target / m.name if target.is_dir() and not (target / f"{target.name}.txt").exists() else target
    if target.name != m.name:
        raise InvalidParameterError(
            f"a map named {m.name} must be saved in a folder named {m.name}, not {target.name}"
        )
    return target


def _make_parents(root: Path, path: Path, made: list[Path]) -> None:
    """Make the missing folders between ``root`` (which exists) and ``path``'s folder."""
    missing = []
    d = path.parent
    while d != root and not d.exists():
        missing.append(d)
        d = d.parent
    for d in reversed(missing):
        _mkdir(d)
        made.append(d)


def _fill(
    dest: Path, files: Mapping[str, bytes], same_as: Sequence[Path], made: list[Path],
    written: list[Path], linked: list[Path],
) -> None:  # fmt: skip
    """Put ``files`` into ``dest`` (which exists): each hard-linked from the first folder of
    ``same_as`` holding a file of that name with exactly its bytes, else written (no fsync)."""
    real = {f: os.path.realpath(f) for f in same_as}

    def inside(folder: Path, src: Path) -> bool:
        r = os.path.realpath(src.parent)
        return r == real[folder] or r.startswith(real[folder] + os.sep)

    for rel, data in files.items():
        path = dest / rel
        _make_parents(dest, path, made)
        for folder in same_as:
            src = folder / rel
            # (not through a linked folder: never share a file from outside the folder)
            if _same_bytes(src, data) and inside(folder, src):
                try:
                    _op("link", path)
                    os.link(src, path)
                except OSError:  # another file system, too many links, ...: write it
                    continue
                linked.append(path)
                break
        else:
            _write_file(path, data, sync=False)
            written.append(path)


def _make_durable(written: Sequence[Path], linked: Sequence[Path], folders: Sequence[Path]) -> None:
    """fsync the files written, write out the data of the files linked, then fsync the
    folders (deepest first): after this, the folders' entries and contents are on disk."""
    for p in written:
        _fsync_file(p)
    for p in linked:
        _flush_data(p)
    for d in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        _fsync_dir(d)


def write_files(dest: str | Path, files: Mapping[str, bytes], *, same_as: Sequence[str | Path] = ()) -> dict[str, int]:
    """Write ``files`` into the new folder ``dest``, durably, sharing unchanged files.

    A file whose bytes equal the file of the same relative path in one of the ``same_as``
    folders is hard-linked from there instead of written (those files must never be
    changed in place: the map folders of this writer and their version copies). When it
    returns, every file and the folder entries down from ``dest``'s parent are on disk.

    Parameters
    ----------
    dest : str or Path
        The folder to make (its parents are made as needed); it must not exist.
    files : mapping of str to bytes
        Relative path (``/``-separated) -> the file's bytes.
    same_as : sequence of str or Path
        Folders that may hold some of these files already, searched in order.

    Returns
    -------
    dict
        ``{"written": n, "linked": n}``.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> write_files(d / "a", {"x.txt": b"1", "s/y.txt": b"2"})
    {'written': 2, 'linked': 0}
    >>> write_files(d / "b", {"x.txt": b"1", "s/y.txt": b"3"}, same_as=[d / "a"])
    {'written': 1, 'linked': 1}
    >>> os.stat(d / "a" / "x.txt").st_ino == os.stat(d / "b" / "x.txt").st_ino
    True
    """
    dest = Path(dest)
    made: list[Path] = []
    top = dest
    while not top.parent.exists():
        top = top.parent
    _make_parents(top.parent, dest / "x", made)
    written: list[Path] = []
    linked: list[Path] = []
    _fill(dest, files, [Path(f) for f in same_as], made, written, linked)
    _make_durable(written, linked, [*made, top.parent])
    return {"written": len(written), "linked": len(linked)}


def _write_stage(m: SaveableMap, stage: Path, same_as: Sequence[Path]) -> None:
    files = m.file_bytes()
    _mkdir(stage)
    made: list[Path] = [stage]
    written: list[Path] = []
    linked: list[Path] = []
    sources = [*same_as, m.path] if m.path.is_dir() else list(same_as)
    _fill(stage, files, sources, made, written, linked)
    copied: list[Path] = []
    if m.path.is_dir():  # images, notes and any other file of the source map
        _carry_over(m.path, stage, set(files), made, linked, copied)
    _make_durable([*written, *copied], linked, made)


def save_map(
    m: SaveableMap,
    dest: str | Path | None = None,
    *,
    backup: bool = True,
    same_as: Sequence[str | Path] = (),
) -> Path:
    """Write ``m`` to ``dest`` (default its own folder), crash-safely.

    Parameters
    ----------
    m : Map
        The map (anything with ``path``, ``name`` and ``file_bytes()``).
    dest : str or Path, optional
        The destination map folder. Its name becomes the map's file prefix only when it
        equals the map's name; saving under another folder name keeps the file names
        (``<map>.txt``) so the folder must be named like the map.
    backup : bool
        Keep the replaced version as ``.<name>.previous``.
    same_as : sequence of str or Path
        Folders besides the map's own that may hold some of its files with the same
        bytes (e.g. the version copy just written): those are hard-linked, not written.
        Their files must never be changed in place.

    Returns
    -------
    Path
        The map folder written.

    Raises
    ------
    InvalidParameterError
        The folder is not named like the map, or the map cannot be written.
    OSError
        The disk refused a write; the map on disk is unchanged (or, if the failure came
        after the commit point, the new version) and the next save or :func:`recover`
        cleans up.

    Examples
    --------
    >>> import tempfile
    >>> from pymapmanager import load_map
    >>> from pymapmanager.synthetic.maps import generate_map
    >>> m = load_map(generate_map(tempfile.mkdtemp(), name="ex", sessions=2, images=False))
    >>> save_map(m).name, backup_path(m.path).exists()
    ('ex', True)
    """
    target = _target_of(m, dest)
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    with _locked(parent):
        _recover_locked(target)
        stage = parent / f".{target.name}.saving-{uuid.uuid4().hex[:8]}"
        try:
            _write_stage(m, stage, [Path(f) for f in same_as])
        except BaseException:
            with contextlib.suppress(OSError):
                _remove_tree(stage)
            raise
        new = _new_path(target)
        _rename(stage, new)  # the commit point: the new version is complete
        _fsync_dir(parent)
        if target.exists():
            old = parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
            _rename(target, old)
            _rename(new, target)
            _fsync_dir(parent)
            if backup:
                prev = backup_path(target)
                if prev.exists():
                    trash = parent / f".{target.name}.trash-{uuid.uuid4().hex[:8]}"
                    _rename(prev, trash)
                _rename(old, prev)
            else:
                trash = parent / f".{target.name}.trash-{uuid.uuid4().hex[:8]}"
                _rename(old, trash)
            _fsync_dir(parent)
        else:
            _rename(new, target)
            _fsync_dir(parent)
        for p in _leftovers(target):
            if p.name.startswith(f".{target.name}.trash-"):
                _remove_tree(p)
    log.info("saved map %s to %s", m.name, target)
    if dest is None or Path(dest).resolve() == m.path.resolve():
        m.path = target
    return target
