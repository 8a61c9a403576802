"""Seeded corruptions of map folders (reused by the library and the API fuzz tests).

:func:`corruptions` yields ``(label, apply)`` pairs; ``apply(folder)`` damages a copy of a
map folder in place. Kinds: byte flips (to control characters or letters), truncations,
line deletions and duplications, number mutations (``inf``, ``1e400``, huge, negative,
``3.7``), encoding garbage, and files replaced by folders, symlinks (loops, outside) or FIFOs.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

Corruption = tuple[str, Callable[[Path], None]]

#: numbers that are wrong wherever a number is expected to be sane
HOSTILE_NUMBERS = ["inf", "-inf", "1e400", "3.7", "-4294967298", "1000000", "NaN", "-1", "x"]

_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?")


def map_files(folder: Path) -> list[str]:
    """Every regular file of a map folder, relative, sorted."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _bytes_op(rel: str, fn: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        p = folder / rel
        p.write_bytes(fn(p.read_bytes()))

    return apply


def _replace(rel: str, kind: str) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        p = folder / rel
        p.unlink()
        if kind == "dir":
            p.mkdir()
        elif kind == "fifo":
            os.mkfifo(p)
        elif kind == "loop":
            os.symlink(p.name, p)
        elif kind == "outside":
            outside = folder.parent / f"outside-{p.name}"
            outside.write_bytes(b"\t\n")
            os.symlink(outside, p)
        elif kind == "missing":
            pass

    return apply


def _corrupt_one(rng: random.Random, rel: str, data: bytes) -> Corruption:
    kind = rng.choice(["flip", "truncate", "delete_line", "dup_line", "number", "encoding", "number", "flip"])
    eol = b"\r" if data.count(b"\r") > data.count(b"\n") else b"\n"
    lines = data.split(eol)
    if kind == "flip" and data:
        i = rng.randrange(len(data))
        b = rng.choice([0, 1, 0x1B, 0x7F, ord("q"), ord("\t"), ord(","), ord("\n"), ord("\r")])
        return f"{rel}: byte {i} -> {b:#x}", _bytes_op(rel, lambda d: d[:i] + bytes([b]) + d[i + 1 :])
    if kind == "truncate" and data:
        n = rng.randrange(len(data))
        return f"{rel}: truncated to {n} bytes", _bytes_op(rel, lambda d: d[:n])
    if kind in ("delete_line", "dup_line") and len(lines) > 1:
        k = rng.randrange(len(lines) - 1)
        if kind == "delete_line":
            return f"{rel}: line {k + 1} deleted", _bytes_op(rel, lambda d: eol.join(d.split(eol)[:k] + d.split(eol)[k + 1 :]))
        return f"{rel}: line {k + 1} duplicated", _bytes_op(
            rel, lambda d: eol.join(d.split(eol)[: k + 1] + d.split(eol)[k:])
        )
    if kind == "number":
        spans = [m.span() for m in _NUMBER.finditer(data)]
        if spans:
            a, b = rng.choice(spans)
            v = rng.choice(HOSTILE_NUMBERS).encode()
            return f"{rel}: number at {a} -> {v.decode()}", _bytes_op(rel, lambda d: d[:a] + v + d[b:])
    if kind == "encoding" and data:
        i = rng.randrange(len(data))
        g = rng.choice([b"\xff\xfe", b"\xc3", b"\xe9", b"\x80\x81"])
        return f"{rel}: encoding garbage {g!r} at {i}", _bytes_op(rel, lambda d: d[:i] + g + d[i:])
    return f"{rel}: truncated to 0 bytes", _bytes_op(rel, lambda d: b"")


def corruptions(folder: Path, count: int, seed: int = 0) -> Iterator[Corruption]:
    """``count`` seeded corruptions of the map in ``folder`` (read, not changed).

    Parameters
    ----------
    folder : Path
        A clean map folder to base the corruptions on.
    count : int
        How many.
    seed : int
        The random seed: the same seed gives the same corruptions.
    """
    rng = random.Random(seed)
    files = map_files(folder)
    contents = {rel: (folder / rel).read_bytes() for rel in files}
    for k in range(count):
        rel = rng.choice(files)
        if rng.random() < 0.1:
            kind = rng.choice(["dir", "fifo", "loop", "outside", "missing"])
            yield f"{rel}: replaced by {kind}", _replace(rel, kind)
            continue
        if rel.endswith(".tif") and rng.random() < 0.6:
            data = contents[rel]
            n = rng.randrange(8, len(data))
            yield f"{rel}: truncated to {n} bytes", _bytes_op(rel, lambda d, n=n: d[:n])
            continue
        label, fn = _corrupt_one(rng, rel, contents[rel])
        yield f"#{k} {label}", fn


def corrupted_copy(src: Path, dest_parent: Path, apply: Callable[[Path], None]) -> Path:
    """Copy the map ``src`` into ``dest_parent`` and corrupt the copy; returns it."""
    dest = dest_parent / src.name
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest)
    apply(dest)
    return dest
