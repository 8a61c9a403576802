"""Bad zips are refused whole, naming the entry, and nothing is written outside the owner."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from app.config import Settings
from app.services.uploads import import_zip
from pymapmanager.errors import InvalidMapError, UnsafeArchiveError

from .support import (
    BLOCKDEV,
    CHARDEV,
    FIFO,
    SYMLINK,
    overlapping_zip,
    special,
    tree,
    zip_folder,
    zip_with,
)


def _import(data_dir: Path, settings: Settings, data: bytes, tmp_path: Path, **kw: object):
    z = tmp_path / "upload.zip"
    z.write_bytes(data)
    return import_zip(z, data_dir, "alice", settings, **kw)  # type: ignore[arg-type]


def _assert_nothing_imported(data_dir: Path) -> None:
    """Only the owner's bookkeeping folders exist, and they are empty of maps."""
    owner = data_dir / "alice"
    visible = [p.name for p in owner.iterdir() if not p.name.startswith(".")]
    assert visible == []
    staging = owner / ".staging"
    assert not staging.exists() or list(staging.iterdir()) == []
    # nothing anywhere in DATA_DIR outside the owner's folder
    assert {p.name for p in data_dir.iterdir()} == {"alice"}


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("../evil.txt", "leaves the folder"),
        ("m1/../../evil.txt", "leaves the folder"),
        ("m1/stackdb/../../../evil.txt", "leaves the folder"),
        ("/etc/evil.txt", "absolute path"),
        ("C:/evil.txt", "absolute path"),
        ("..\\..\\evil.txt", "leaves the folder"),
        ("m1/bad\x01name.txt", "control characters"),
    ],
)
def test_unsafe_paths_refuse_the_whole_zip(
    entry: str, problem: str, src_map: Path, data_dir: Path, settings: Settings, tmp_path: Path
) -> None:
    data = zip_with(src_map, [(zipfile.ZipInfo(entry), b"owned")])
    with pytest.raises(UnsafeArchiveError) as ei:
        _import(data_dir, settings, data, tmp_path)
    assert problem in str(ei.value)
    assert ei.value.status == 400
    assert ei.value.entry.replace("\\x01", "\x01") == entry
    _assert_nothing_imported(data_dir)
    assert not (tmp_path / "evil.txt").exists() and not (data_dir / "evil.txt").exists()


@pytest.mark.parametrize(
    ("mode", "kind"),
    [(SYMLINK, "symbolic link"), (CHARDEV, "character device"), (BLOCKDEV, "block device"), (FIFO, "FIFO")],
)
def test_links_and_devices_are_refused(
    mode: int, kind: str, src_map: Path, data_dir: Path, settings: Settings, tmp_path: Path
) -> None:
    data = zip_with(src_map, [special("m1/stackdb/link", mode, b"/etc/passwd")])
    with pytest.raises(UnsafeArchiveError) as ei:
        _import(data_dir, settings, data, tmp_path)
    assert kind in str(ei.value) and "m1/stackdb/link" in str(ei.value)
    _assert_nothing_imported(data_dir)


def test_zip_bomb_total_size(src_map: Path, data_dir: Path, tmp_path: Path, settings: Settings) -> None:
    small = settings.with_overrides(unzip_max_bytes=100_000)
    data = zip_with(src_map, [("m1/big.bin", b"\0" * 200_000)])
    with pytest.raises(UnsafeArchiveError, match="more than 100000 bytes uncompressed"):
        _import(data_dir, small, data, tmp_path)
    _assert_nothing_imported(data_dir)


def test_zip_bomb_ratio(src_map: Path, data_dir: Path, tmp_path: Path, settings: Settings) -> None:
    # 20 MB of zeros deflate to ~20 kB: ~1000 to 1
    data = zip_with(src_map, [("m1/zeros.bin", b"\0" * (20 << 20))])
    with pytest.raises(UnsafeArchiveError, match="zip bomb") as ei:
        _import(data_dir, settings, data, tmp_path)
    assert "m1/zeros.bin" in str(ei.value)
    _assert_nothing_imported(data_dir)


def test_zip_bomb_file_count(src_map: Path, data_dir: Path, tmp_path: Path, settings: Settings) -> None:
    few = settings.with_overrides(unzip_max_files=50)
    data = zip_with(src_map, [(f"m1/extra/{i}.txt", b"x") for i in range(60)])
    with pytest.raises(UnsafeArchiveError, match="more than the limit of 50"):
        _import(data_dir, few, data, tmp_path)
    _assert_nothing_imported(data_dir)


def test_overlapping_entries_are_refused(data_dir: Path, tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(UnsafeArchiveError, match="shares its data"):
        _import(data_dir, settings, overlapping_zip(), tmp_path)


def test_duplicate_and_encrypted_entries(src_map: Path, data_dir: Path, tmp_path: Path, settings: Settings) -> None:
    dup = zip_with(src_map, [("m1/M1_extra.txt", b"a"), ("m1/m1_EXTRA.txt", b"b")])
    with pytest.raises(UnsafeArchiveError, match="two entries"):
        _import(data_dir, settings, dup, tmp_path)
    enc = bytearray(zip_with(src_map, [("m1/secret.txt", b"x")]))
    last = enc.rfind(b"PK\x01\x02")
    enc[last + 8] |= 0x1  # the "encrypted" bit of the entry's flags
    with pytest.raises(UnsafeArchiveError, match="encrypted"):
        _import(data_dir, settings, bytes(enc), tmp_path)
    _assert_nothing_imported(data_dir)


def test_entry_larger_than_declared_is_refused(src_map: Path, data_dir: Path, tmp_path: Path, settings: Settings) -> None:
    buf = io.BytesIO(zip_folder(src_map))
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_STORED) as zf:
        zf.writestr("m1/liar.bin", b"z" * 5000)
    data = bytearray(buf.getvalue())
    # shrink the declared size of the last entry in the central directory to 10 bytes
    last = data.rfind(b"PK\x01\x02")
    data[last + 24 : last + 28] = (10).to_bytes(4, "little")
    with pytest.raises((UnsafeArchiveError, InvalidMapError)):
        _import(data_dir, settings, bytes(data), tmp_path)
    _assert_nothing_imported(data_dir)


def test_not_a_zip(data_dir: Path, tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(InvalidMapError, match="not a zip"):
        _import(data_dir, settings, b"this is text, not a zip", tmp_path)


def test_os_litter_is_skipped(src_map: Path, data_dir: Path, tmp_path: Path, settings: Settings) -> None:
    data = zip_with(src_map, [("__MACOSX/m1/._m1.txt", b"\0\x05"), ("m1/.DS_Store", b"\0")])
    res = _import(data_dir, settings, data, tmp_path)
    assert res.id == "alice/m1"
    assert "__MACOSX" not in tree(data_dir) and not any(".DS_Store" in p for p in tree(data_dir))
