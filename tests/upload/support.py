"""Helpers of the upload tests: small generated maps, zips of them, crafted bad zips."""

from __future__ import annotations

import io
import os
import stat
import struct
import zipfile
from pathlib import Path

from pymapmanager.synthetic.maps import generate_map

#: a small map with images: 2 sessions x 1 channel x 3 planes of 40 x 48
SMALL = {"sessions": 2, "channels": 1, "shape": (3, 40, 48), "seed": 5, "segments": 1,
         "spines_per_segment": 6}  # fmt: skip


def make_map(parent: Path, name: str = "m1", **kw: object) -> Path:
    """A generated map folder ``parent/name``."""
    args = dict(SMALL) | kw
    return generate_map(parent, name=name, **args)  # type: ignore[arg-type]


def zip_folder(folder: Path, dest: Path | None = None, *, root: bool = True) -> bytes:
    """The map folder zipped as ``<name>/...`` (``root=False``: files at the zip's root)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for dirpath, _dirs, names in os.walk(folder):
            for n in sorted(names):
                p = Path(dirpath) / n
                rel = p.relative_to(folder).as_posix()
                zf.write(p, f"{folder.name}/{rel}" if root else rel)
    data = buf.getvalue()
    if dest is not None:
        dest.write_bytes(data)
    return data


def zip_with(folder: Path, extra: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    """A valid map's zip plus ``extra`` entries (names or crafted ZipInfo)."""
    buf = io.BytesIO(zip_folder(folder))
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED) as zf:
        for info, data in extra:
            zf.writestr(info, data)
    return buf.getvalue()


def special(name: str, mode: int, data: bytes = b"") -> tuple[zipfile.ZipInfo, bytes]:
    """An entry whose Unix mode says it is a link, device, FIFO..."""
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (mode | 0o644) << 16
    return info, data


SYMLINK = stat.S_IFLNK
CHARDEV = stat.S_IFCHR
BLOCKDEV = stat.S_IFBLK
FIFO = stat.S_IFIFO


def overlapping_zip() -> bytes:
    """Two central-directory entries pointing at the same data (an overlapping-entry bomb)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("m/a.txt", b"x" * 100)
        zf.writestr("m/b.txt", b"y" * 100)
    data = bytearray(buf.getvalue())
    second = data.find(b"PK\x01\x02", data.find(b"PK\x01\x02") + 4)
    struct.pack_into("<I", data, second + 42, 0)  # local header offset -> the first entry
    return bytes(data)


def tree(root: Path) -> set[str]:
    """Every path under ``root`` (relative, posix)."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}
