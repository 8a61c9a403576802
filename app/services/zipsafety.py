"""Zip archives checked whole before anything is extracted, then extracted safely.

A zip is refused whole (:class:`UnsafeArchiveError`, 400, naming the entry) when any entry
is unsafe: an absolute path or a drive letter, a ``..`` component, control characters, a
symbolic link, a device, FIFO or socket, an encrypted entry, an unknown compression, two
entries of the same name or sharing their data (overlapping entries: a zip bomb trick), or
when the archive is over the bomb limits (:class:`ZipLimits`: total uncompressed size,
number of entries, compression ratio). Extraction never trusts the sizes the zip declares:
it counts the bytes it writes and stops at the declared size, opens every target with
``O_EXCL | O_NOFOLLOW`` and checks that it lies inside the destination.

``__MACOSX/`` resource forks, ``.DS_Store`` and ``Thumbs.db`` are skipped. Backslashes (zips
written by old Windows tools) count as folder separators.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pymapmanager.errors import UnsafeArchiveError

__all__ = ["ZipEntry", "ZipLimits", "check_zip", "extract_entries"]

#: Entries ignored (operating-system litter), by first component or by file name.
_SKIP_DIRS = frozenset({"__MACOSX"})
_SKIP_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")
_COMPRESSIONS = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)
_CHUNK = 1 << 20
#: Entries smaller than this are not held to the per-entry ratio (tiny text files of zeros).
RATIO_MIN_BYTES = 1 << 20


@dataclass(frozen=True)
class ZipLimits:
    """Zip bomb limits (see :class:`app.config.Settings`)."""

    max_bytes: int = 50 << 30
    max_files: int = 20000
    max_ratio: float = 200.0


@dataclass(frozen=True)
class ZipEntry:
    """A regular file of the zip to extract: its stored info and its checked relative path."""

    info: zipfile.ZipInfo
    path: PurePosixPath


def shown(name: str) -> str:
    """An entry name printable on one line (control characters escaped)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", name)


def _kind(info: zipfile.ZipInfo) -> str | None:
    """What an entry is when it is not a file or folder (from its Unix mode), else None."""
    mode = info.external_attr >> 16
    if info.create_system != 3 or mode == 0:
        return None
    fmt = stat.S_IFMT(mode)
    if fmt in (0, stat.S_IFREG, stat.S_IFDIR):
        return None
    return {
        stat.S_IFLNK: "a symbolic link",
        stat.S_IFCHR: "a character device",
        stat.S_IFBLK: "a block device",
        stat.S_IFIFO: "a FIFO",
        stat.S_IFSOCK: "a socket",
    }.get(fmt, "not a regular file")


def _clean_path(name: str) -> PurePosixPath | None:
    """The entry's relative path, None for a folder entry; raises when unsafe."""
    if _CONTROL.search(name):
        raise UnsafeArchiveError(shown(name), "the name holds control characters")
    text = name.replace("\\", "/")
    if text.startswith("/") or _DRIVE.match(text):
        raise UnsafeArchiveError(name, "absolute path")
    parts = text.split("/")
    if any(p == ".." for p in parts):
        raise UnsafeArchiveError(name, "the path leaves the folder ('..')")
    kept = [p for p in parts if p not in ("", ".")]
    if not kept:
        return None
    if text.endswith("/"):
        return None
    return PurePosixPath(*kept)


def check_zip(zf: zipfile.ZipFile, limits: ZipLimits, archive_size: int) -> list[ZipEntry]:
    """Check every entry of ``zf``; return the regular files to extract, in zip order.

    Parameters
    ----------
    zf : zipfile.ZipFile
        The open archive.
    limits : ZipLimits
        Bomb limits.
    archive_size : int
        Size of the zip file in bytes (for the whole-archive ratio).

    Raises
    ------
    UnsafeArchiveError
        At the first unsafe entry, or when a limit is exceeded (the whole zip is refused).
    """
    infos = zf.infolist()
    if len(infos) > limits.max_files:
        raise UnsafeArchiveError(
            "", f"the zip has {len(infos)} entries, more than the limit of {limits.max_files}"
        )
    files: list[ZipEntry] = []
    seen: set[str] = set()
    offsets: set[int] = set()
    total = 0
    for info in infos:
        name = info.filename
        path = _clean_path(name)
        kind = _kind(info)
        if kind is not None:
            raise UnsafeArchiveError(shown(name), f"{kind} (only files and folders are allowed)")
        if info.header_offset in offsets:
            raise UnsafeArchiveError(shown(name), "shares its data with another entry (zip bomb)")
        offsets.add(info.header_offset)
        if path is None or info.is_dir():
            continue
        if path.parts[0] in _SKIP_DIRS or path.name in _SKIP_FILES:
            continue
        if info.flag_bits & 0x1:
            raise UnsafeArchiveError(shown(name), "encrypted entries are not supported")
        if info.compress_type not in _COMPRESSIONS:
            raise UnsafeArchiveError(
                shown(name), f"unsupported compression method {info.compress_type}"
            )
        key = path.as_posix()
        if key.casefold() in seen:
            raise UnsafeArchiveError(shown(name), "two entries have this name")
        seen.add(key.casefold())
        total += info.file_size
        if total > limits.max_bytes:
            raise UnsafeArchiveError(
                shown(name),
                f"the zip holds more than {limits.max_bytes} bytes uncompressed (zip bomb limit)",
            )
        if (
            info.file_size >= RATIO_MIN_BYTES
            and info.file_size > limits.max_ratio * max(info.compress_size, 1)
        ):
            raise UnsafeArchiveError(
                shown(name),
                f"compressed {info.file_size / max(info.compress_size, 1):.0f} to 1, more than "
                f"the limit of {limits.max_ratio:g} (zip bomb)",
            )
        files.append(ZipEntry(info, path))
    if total >= RATIO_MIN_BYTES and total > limits.max_ratio * max(archive_size, 1):
        raise UnsafeArchiveError(
            "",
            f"the zip expands {total / max(archive_size, 1):.0f} times, more than the limit "
            f"of {limits.max_ratio:g} (zip bomb)",
        )
    return files


def _inside(root: Path, target: Path) -> bool:
    real_root = os.path.realpath(root)
    real = os.path.realpath(target.parent)
    return real == real_root or real.startswith(real_root + os.sep)


def extract_entries(
    zf: zipfile.ZipFile, entries: list[tuple[ZipEntry, PurePosixPath]], dest: Path
) -> Iterator[int]:
    """Extract each ``(entry, relative target)`` under ``dest``; yield bytes written so far.

    Targets are created exclusively (never replacing or following anything); an entry that
    expands beyond its declared size raises :class:`UnsafeArchiveError`.
    """
    done = 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    for entry, rel in entries:
        target = dest.joinpath(*rel.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not _inside(dest, target):  # pragma: no cover - _clean_path already refused it
            raise UnsafeArchiveError(entry.info.filename, "the path leaves the folder")
        fd = os.open(target, flags, 0o644)
        limit = entry.info.file_size
        written = 0
        with os.fdopen(fd, "wb") as out, zf.open(entry.info) as src:
            while True:
                chunk = src.read(_CHUNK)
                if not chunk:
                    break
                written += len(chunk)
                if written > limit:
                    raise UnsafeArchiveError(
                        shown(entry.info.filename), "expands beyond its declared size (zip bomb)"
                    )
                out.write(chunk)
                done += len(chunk)
        yield done
