"""Maps arriving (a zip, a folder of uploaded files, the drop folder) and leaving (a zip).

Every import follows one path, so no half-imported map is ever visible:

1. the files go into a fresh staging folder inside the owner's folder
   (``DATA_DIR/<owner>/.staging/<random>/<map>/``); a zip is checked whole first
   (:mod:`app.services.zipsafety`);
2. the staged folder is read and validated with the library (:func:`validate_folder`); a
   map that is not valid raises :class:`InvalidMapError` listing the problems file by file;
3. under the owner's per-name lock (``.locks/<map>.lock``, shared by every worker through
   ``flock``), the folder is renamed into place: one ``rename`` on one file system. With
   ``overwrite`` the map already there is first renamed to ``.versions/<map>/<UTC time>/``
   (kept, not deleted); without it the import is a :class:`MapExistsError` (409).

Nothing is written outside ``DATA_DIR/<owner>/``. Layout of an owner's folder::

    <map>/            maps                       incoming/   the drop folder
    .staging/         imports in progress        .uploads/   chunked uploads (app.services.tus)
    .versions/<map>/  maps replaced by overwrite  .locks/     per-name lock files
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import secrets
import shutil
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from pymapmanager import load_map
from pymapmanager.errors import (
    InvalidMapError,
    InvalidParameterError,
    MapExistsError,
    MapFormatError,
    MapManagerError,
    MapNotFoundError,
    UnsafeArchiveError,
)

from ..config import Settings
from .zipsafety import ZipEntry, ZipLimits, check_zip, extract_entries, shown

__all__ = [
    "INCOMING",
    "RESERVED_NAMES",
    "ImportResult",
    "check_map_name",
    "check_owner_name",
    "import_folder",
    "import_incoming",
    "import_zip",
    "owner_dir",
    "stream_map_zip",
    "validate_folder",
    "zip_limits",
]

log = logging.getLogger(__name__)

#: The drop folder of an owner: ``DATA_DIR/<owner>/incoming/``.
INCOMING = "incoming"
#: Names no map may take (folders of the owner's tree, the public owner, Windows devices).
RESERVED_NAMES = frozenset(
    {INCOMING, "trash", "public", "uploads", "staging", "versions", "locks", "api", "assets"}
    | {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(1, 10)}
    | {f"lpt{i}" for i in range(1, 10)}
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
MAX_NAME = 100
_CHUNK = 1 << 20


@dataclass
class ImportResult:
    """What an import did: the new map's id, files and bytes, the version kept (if any)."""

    owner: str
    name: str
    files: int
    bytes: int
    replaced_version: str | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> str:
        """``owner/name``."""
        return f"{self.owner}/{self.name}"

    def to_dict(self) -> dict[str, Any]:
        """JSON of the API's 201 answer."""
        return {
            "id": self.id,
            "owner": self.owner,
            "name": self.name,
            "files": self.files,
            "bytes": self.bytes,
            "replaced_version": self.replaced_version,
        }


# --------------------------------------------------------------------------- names


def _name_problem(name: str, what: str) -> str | None:
    if name == "":
        return f"the {what} name is empty"
    if len(name) > MAX_NAME:
        return f"the {what} name is longer than {MAX_NAME} characters"
    if re.search(r"[\x00-\x1f\x7f]", name):
        return f"the {what} name '{shown(name)}' holds control characters"
    if "/" in name or "\\" in name:
        return f"the {what} name '{name}' holds a slash"
    if name.startswith(".") or name in (".", ".."):
        return f"the {what} name '{name}' starts with a dot"
    if not _NAME.match(name):
        return (
            f"the {what} name '{name}' may hold only letters, digits, '_', '-' and '.', "
            "and must start with a letter or digit"
        )
    if name.endswith((".previous", ".zip")):
        return f"the {what} name '{name}' ends in a reserved suffix"
    return None


def check_map_name(name: str) -> str:
    """``name`` when it may name a map folder, else :class:`InvalidParameterError` (400)."""
    problem = _name_problem(name, "map")
    if problem is None and name.lower() in RESERVED_NAMES:
        problem = f"the map name '{name}' is reserved"
    if problem is not None:
        raise InvalidParameterError(problem)
    return name


def check_owner_name(owner: str) -> str:
    """``owner`` when it may name an owner folder, else :class:`InvalidParameterError`."""
    problem = _name_problem(owner, "owner")
    if problem is not None:
        raise InvalidParameterError(problem)
    return owner


def owner_dir(data_dir: Path, owner: str) -> Path:
    """``DATA_DIR/<owner>`` (created), after checking the owner's name."""
    d = data_dir / check_owner_name(owner)
    d.mkdir(parents=True, exist_ok=True)
    return d


def zip_limits(settings: Settings) -> ZipLimits:
    """The zip bomb limits of the settings."""
    return ZipLimits(settings.unzip_max_bytes, settings.unzip_max_files, settings.unzip_max_ratio)


# --------------------------------------------------------------------------- validation


def _rel(path: str, folder: Path) -> str:
    if not Path(path).is_absolute():  # the library names files relative to the map folder
        return Path(path).as_posix()
    try:
        return Path(path).resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return Path(path).name


_PROBLEM = re.compile(r"^(?P<path>.+?)(?::(?P<line>\d+))?: (?P<problem>.*)$")


def _problem_of_text(text: str, folder: Path) -> dict[str, Any]:
    m = _PROBLEM.match(text)
    if m is None:
        return {"file": None, "line": None, "problem": text}
    line = m.group("line")
    return {
        "file": _rel(m.group("path"), folder),
        "line": None if line is None else int(line),
        "problem": m.group("problem"),
    }


def validate_folder(folder: Path) -> list[dict[str, Any]]:
    """Read and validate the map in ``folder`` with the library; the problems, file by file.

    Returns
    -------
    list of dict
        ``{"file": path relative to the folder or None, "line": int or None, "problem"}``;
        empty when the map reads cleanly.
    """
    try:
        m = load_map(folder)
    except MapFormatError as e:
        return [{"file": _rel(e.path, folder), "line": e.line, "problem": e.problem}]
    except MapManagerError as e:
        return [{"file": None, "line": None, "problem": str(e)}]
    problems = [_problem_of_text(p, folder) for p in m.validate()]
    return problems


def _raise_if_invalid(folder: Path, name: str) -> None:
    problems = validate_folder(folder)
    if problems:
        first = problems[0]
        where = first["file"] or name
        raise InvalidMapError(
            f"'{name}' is not a valid map: {where}: {first['problem']}"
            + (f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""),
            problems,
        )


# --------------------------------------------------------------------------- install


@contextmanager
def name_lock(owner_folder: Path, name: str) -> Iterator[None]:
    """Hold the owner's lock of one map name (every process of every worker shares it)."""
    locks = owner_folder / ".locks"
    locks.mkdir(exist_ok=True)
    fd = os.open(locks / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def _install(owner_folder: Path, staged: Path, name: str, overwrite: bool) -> str | None:
    """Rename the validated ``staged`` folder to ``<owner>/<name>``; the version kept, if any."""
    target = owner_folder / name
    with name_lock(owner_folder, name):
        kept: str | None = None
        if target.exists() or target.is_symlink():
            if not overwrite:
                raise MapExistsError(
                    f"a map named '{name}' already exists (upload with overwrite=true to "
                    "replace it; the old one is kept as a version)"
                )
            kept = _stamp()
            versions = owner_folder / ".versions" / name
            versions.mkdir(parents=True, exist_ok=True)
            os.rename(target, versions / kept)
        os.rename(staged, target)
    log.info("imported map %s/%s%s", owner_folder.name, name, f" (kept {kept})" if kept else "")
    return kept


@contextmanager
def staging(owner_folder: Path) -> Iterator[Path]:
    """A fresh staging folder inside the owner's folder, removed afterwards."""
    root = owner_folder / ".staging"
    root.mkdir(exist_ok=True)
    d = root / secrets.token_hex(8)
    d.mkdir()
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _count(folder: Path) -> tuple[int, int]:
    n = size = 0
    for dirpath, _dirs, names in os.walk(folder):
        for f in names:
            n += 1
            size += os.lstat(os.path.join(dirpath, f)).st_size
    return n, size


# --------------------------------------------------------------------------- zip


def _map_root(entries: list[ZipEntry]) -> tuple[str, tuple[str, ...]]:
    """The map's name and the folder prefix of its files inside the zip.

    A zip holds either one folder ``<map>/`` with ``<map>/<map>.txt`` in it, or the map's
    files at its root with one ``<map>.txt`` beside a ``<map>_objMap.txt``.
    """
    if not entries:
        raise InvalidMapError("the zip is empty: it holds no map", [])
    tops = {e.path.parts[0] for e in entries if len(e.path.parts) > 1}
    root_files = {e.path.name for e in entries if len(e.path.parts) == 1}
    if len(tops) == 1 and not root_files:
        top = next(iter(tops))
        names = {e.path.as_posix() for e in entries}
        if f"{top}/{top}.txt" in names:
            return top, (top,)
        # one folder inside another (a zip of the folder holding the map)
        inner = {e.path.parts[1] for e in entries if len(e.path.parts) > 2}
        if len(inner) == 1:
            sub = next(iter(inner))
            if f"{top}/{sub}/{sub}.txt" in names:
                return sub, (top, sub)
        raise InvalidMapError(
            f"not a map: the zip holds a folder '{top}' but no header file '{top}/{top}.txt'",
            [{"file": f"{top}.txt", "line": None, "problem": "the map header file is missing"}],
        )
    headers = sorted(
        f[: -len(".txt")]
        for f in root_files
        if f.endswith(".txt") and f"{f[: -len('.txt')]}_objMap.txt" in root_files
    )
    if len(headers) == 1:
        return headers[0], ()
    listing = ", ".join(sorted(root_files | {f"{t}/" for t in tops})[:10])
    raise InvalidMapError(
        "not a map: the zip should hold one map folder '<map>/' with '<map>/<map>.txt' in it "
        f"(it holds {listing})",
        [{"file": "<map>.txt", "line": None, "problem": "the map header file is missing"}],
    )


def import_zip(
    zip_path: Path,
    data_dir: Path,
    owner: str,
    settings: Settings,
    *,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Check, extract, validate and install the map in ``zip_path`` for ``owner``.

    The zip file is left where it is (the caller removes it).

    Raises
    ------
    UnsafeArchiveError
        An unsafe entry or a bomb limit (the whole zip is refused; nothing extracted).
    InvalidMapError
        Not a zip, no map in it, or a map that does not validate (problems file by file).
    InvalidParameterError
        The map's name is unsafe or reserved.
    MapExistsError
        The name is taken and ``overwrite`` is false.
    """
    folder = owner_dir(data_dir, owner)
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as e:
        raise InvalidMapError(f"not a zip file: {e}", []) from None
    with zf:
        entries = check_zip(zf, zip_limits(settings), zip_path.stat().st_size)
        name, prefix = _map_root(entries)
        check_map_name(name)
        plan = [
            (e, PurePosixPath(*e.path.parts[len(prefix) :]))
            for e in entries
            if e.path.parts[: len(prefix)] == prefix
        ]
        total = sum(e.info.file_size for e, _ in plan)
        with staging(folder) as stage:
            staged = stage / name
            staged.mkdir()
            try:
                for done in extract_entries(zf, plan, staged):
                    if progress is not None:
                        progress(done, total)
            except (zipfile.BadZipFile, EOFError) as e:
                raise InvalidMapError(f"the zip is damaged: {e}", []) from None
            except UnicodeDecodeError as e:  # pragma: no cover - zipfile decodes names
                raise UnsafeArchiveError("", f"a name cannot be decoded: {e}") from None
            _raise_if_invalid(staged, name)
            kept = _install(folder, staged, name, overwrite)
    return ImportResult(owner, name, len(plan), total, kept)


# --------------------------------------------------------------------------- folder of files


def import_folder(
    files: Iterable[tuple[str, Path]],
    data_dir: Path,
    owner: str,
    *,
    overwrite: bool = False,
    move: bool = True,
) -> ImportResult:
    """Import a map given as ``(relative path, file on disk)`` pairs (a browser folder upload).

    The relative paths (``<map>/<map>.txt``, ``<map>/stackdb/...``) are checked like zip
    entries. With ``move`` the files are renamed into the staging folder (they must be on
    the same file system, inside the owner's folder), else copied.
    """
    from .zipsafety import _SKIP_DIRS, _SKIP_FILES, _clean_path

    folder = owner_dir(data_dir, owner)
    pairs: list[tuple[PurePosixPath, Path]] = []
    seen: set[str] = set()
    for rel, src in files:
        path = _clean_path(rel)
        if path is None:
            raise UnsafeArchiveError(rel, "not a file path")
        if path.parts[0] in _SKIP_DIRS or path.name in _SKIP_FILES:
            continue
        if path.as_posix().casefold() in seen:
            raise UnsafeArchiveError(rel, "two files have this path")
        seen.add(path.as_posix().casefold())
        pairs.append((path, src))
    fake = [ZipEntry(zipfile.ZipInfo(p.as_posix()), p) for p, _ in pairs]
    name, prefix = _map_root(fake)
    check_map_name(name)
    with staging(folder) as stage:
        staged = stage / name
        staged.mkdir()
        for path, src in pairs:
            if path.parts[: len(prefix)] != prefix:
                continue
            target = staged.joinpath(*path.parts[len(prefix) :])
            target.parent.mkdir(parents=True, exist_ok=True)
            if move:
                os.rename(src, target)
            else:
                shutil.copyfile(src, target, follow_symlinks=False)
        _raise_if_invalid(staged, name)
        n, size = _count(staged)
        kept = _install(folder, staged, name, overwrite)
    return ImportResult(owner, name, n, size, kept)


# --------------------------------------------------------------------------- drop folder


def _newest_mtime(path: Path) -> float:
    newest = path.lstat().st_mtime
    if path.is_dir():
        for dirpath, dirs, names in os.walk(path):
            for f in [*dirs, *names]:
                newest = max(newest, os.lstat(os.path.join(dirpath, f)).st_mtime)
    return newest


def import_incoming(data_dir: Path, owner: str, settings: Settings) -> list[dict[str, Any]]:
    """Import every map of ``DATA_DIR/<owner>/incoming/`` (folders and zips).

    Each entry is validated, then moved into place; one that is not valid stays where it
    is, with ``<entry>.problems.txt`` beside it saying why. An entry changed less than
    ``settings.incoming_quiet_seconds`` ago (a copy still under way) is left for later.

    Returns
    -------
    list of dict
        Per entry: ``{"entry", "status": "imported" | "invalid" | "exists" | "busy",
        "map": id or None, "message", "problems"}``.
    """
    folder = owner_dir(data_dir, owner)
    incoming = folder / INCOMING
    incoming.mkdir(exist_ok=True)
    with name_lock(folder, INCOMING):  # one import of the drop folder at a time (workers)
        results = _import_incoming(data_dir, owner, settings, folder, incoming)
    for r in results:
        log.info("drop folder %s/%s: %s %s", owner, r["entry"], r["status"], r["message"])
    return results


def _import_incoming(
    data_dir: Path, owner: str, settings: Settings, folder: Path, incoming: Path
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    now = time.time()
    for entry in sorted(incoming.iterdir()):
        if entry.name.startswith(".") or entry.name.endswith(".problems.txt"):
            continue
        is_zip = entry.is_file() and entry.suffix.lower() == ".zip"
        if not (entry.is_dir() or is_zip) or entry.is_symlink():
            continue
        report = incoming / f"{entry.name}.problems.txt"
        rec: dict[str, Any] = {"entry": entry.name, "map": None, "problems": []}
        if now - _newest_mtime(entry) < settings.incoming_quiet_seconds:
            results.append(rec | {"status": "busy", "message": "still being copied; try later"})
            continue
        try:
            if is_zip:
                res = import_zip(entry, data_dir, owner, settings)
                entry.unlink()
            else:
                res = _import_dropped_folder(entry, folder)
        except MapExistsError as e:
            rec |= {"status": "exists", "message": str(e)}
        except InvalidMapError as e:
            rec |= {"status": "invalid", "message": str(e), "problems": e.problems}
        except MapManagerError as e:
            rec |= {"status": "invalid", "message": str(e)}
        else:
            report.unlink(missing_ok=True)
            results.append(rec | {"status": "imported", "map": res.id, "message": "imported"})
            continue
        lines = [rec["message"]] + [
            f"{p['file'] or '-'}{'' if p['line'] is None else ':' + str(p['line'])}: {p['problem']}"
            for p in rec["problems"]
        ]
        report.write_text("\n".join(lines) + "\n", encoding="utf-8")
        results.append(rec)
    return results


def _import_dropped_folder(entry: Path, owner_folder: Path) -> ImportResult:
    name = check_map_name(entry.name)
    if not (entry / f"{name}.txt").is_file():
        raise InvalidMapError(
            f"not a map: '{name}' has no header file '{name}/{name}.txt'",
            [{"file": f"{name}.txt", "line": None, "problem": "the map header file is missing"}],
        )
    for dirpath, dirs, names in os.walk(entry):
        for f in [*dirs, *names]:
            p = os.path.join(dirpath, f)
            if os.path.islink(p) or not (os.path.isdir(p) or os.path.isfile(p)):
                raise UnsafeArchiveError(
                    os.path.relpath(p, entry), "only files and folders are allowed"
                )
    _raise_if_invalid(entry, name)
    n, size = _count(entry)
    with staging(owner_folder) as stage:
        staged = stage / name
        os.rename(entry, staged)  # out of incoming first: then one rename into place
        try:
            kept = _install(owner_folder, staged, name, overwrite=False)
        except MapExistsError:
            os.rename(staged, entry)
            raise
    return ImportResult(owner_folder.name, name, n, size, kept)


def import_all_incoming(data_dir: Path, settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """Run :func:`import_incoming` for every owner that has a drop folder (at start)."""
    out: dict[str, list[dict[str, Any]]] = {}
    if not data_dir.is_dir():
        return out
    for d in sorted(data_dir.iterdir()):
        if d.is_dir() and not d.name.startswith(".") and (d / INCOMING).is_dir():
            try:
                out[d.name] = import_incoming(data_dir, d.name, settings)
            except InvalidParameterError:
                log.warning("drop folder of %s skipped: not a valid owner name", d)
    return out


# --------------------------------------------------------------------------- download


class _Sink:
    """A write-only stream that keeps what zipfile writes until the generator takes it."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


_STORED_EXT = frozenset({".tif", ".tiff", ".png", ".jpg", ".jpeg", ".zip", ".gz"})


def _map_files(folder: Path) -> list[tuple[Path, str]]:
    out: list[tuple[Path, str]] = []
    for dirpath, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in sorted(names):
            p = Path(dirpath) / f
            if f.startswith(".") or p.is_symlink() or not p.is_file():
                continue
            out.append((p, p.relative_to(folder).as_posix()))
    return out


def stream_map_zip(folder: Path, name: str, chunk: int = _CHUNK) -> Iterator[bytes]:
    """The map folder as a zip, produced piece by piece (never whole in memory).

    Entries are ``<name>/<relative path>``; images are stored, text is deflated. zipfile
    writes to an unseekable sink, so sizes go in data descriptors and zip64 is used when
    needed.
    """
    if not (folder / f"{name}.txt").is_file():
        raise MapNotFoundError(f"no map {name}")
    files = _map_files(folder)
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", allowZip64=True) as zf:  # type: ignore[call-overload]
        for path, rel in files:
            method = zipfile.ZIP_STORED if path.suffix.lower() in _STORED_EXT else zipfile.ZIP_DEFLATED
            info = zipfile.ZipInfo.from_file(path, f"{name}/{rel}")
            info.compress_type = method
            big = info.file_size > 0x7FFF0000
            with open(path, "rb") as src, zf.open(info, "w", force_zip64=big) as dst:
                while True:
                    data = src.read(chunk)
                    if not data:
                        break
                    dst.write(data)
                    out = sink.take()
                    if out:
                        yield out
            out = sink.take()
            if out:
                yield out
    out = sink.take()
    if out:
        yield out
