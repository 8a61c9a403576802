"""The tus PATCH body moved socket -> pipe -> file inside the kernel (app.services.tus)."""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.services import tus
from pymapmanager.client import Client

from .conftest import LiveServer

F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
DEFAULT_PIPE = 1 << 16


@pytest.fixture(autouse=True)
def fresh_pipe_size(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test finds out the pipe size afresh (the module remembers the last one)."""
    monkeypatch.setattr(tus, "_pipe_size", None)
    yield


def _close(*fds: int) -> None:
    for fd in fds:
        os.close(fd)


def test_the_pipe_is_as_large_as_the_kernel_allows() -> None:
    limit = tus._pipe_max_size()
    r, w, size = tus.splice_pipe()
    try:
        assert size == fcntl.fcntl(w, F_GETPIPE_SZ)  # what the pipe really holds
        assert size <= tus._CHUNK
        if limit > DEFAULT_PIPE:  # not the 64 KiB default the 4 MiB request used to leave
            assert size >= min(limit, tus._CHUNK)
    finally:
        _close(r, w)
    r, w, again = tus.splice_pipe()  # the next request gets the same size at once
    try:
        assert again == size == fcntl.fcntl(w, F_GETPIPE_SZ)
    finally:
        _close(r, w)


class _Refusing:
    """``fcntl`` that refuses pipes over ``limit`` bytes (EPERM), as the kernel does for a
    process without CAP_SYS_RESOURCE asking for more than pipe-max-size."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.asked: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(fcntl, name)

    def fcntl(self, fd: int, cmd: int, arg: int = 0) -> int:
        if cmd == F_SETPIPE_SZ:
            self.asked.append(arg)
            if arg > self.limit:
                raise PermissionError(errno.EPERM, "Operation not permitted")
        return fcntl.fcntl(fd, cmd, arg)


def test_a_refused_size_falls_back_to_pipe_max_size(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _Refusing(256 << 10)
    monkeypatch.setattr(tus, "fcntl", fake)
    monkeypatch.setattr(tus, "_pipe_max_size", lambda: 256 << 10)
    r, w, size = tus.splice_pipe()
    try:
        assert size == 256 << 10 == fcntl.fcntl(w, F_GETPIPE_SZ)
        assert fake.asked == [tus._CHUNK, 256 << 10]
    finally:
        _close(r, w)


def test_a_refused_size_halves_when_pipe_max_size_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _Refusing(512 << 10)
    monkeypatch.setattr(tus, "fcntl", fake)
    monkeypatch.setattr(tus, "_pipe_max_size", lambda: 0)
    r, w, size = tus.splice_pipe()
    try:
        assert size == 512 << 10 == fcntl.fcntl(w, F_GETPIPE_SZ)
        assert fake.asked == [tus._CHUNK, tus._CHUNK // 2, tus._CHUNK // 4, 512 << 10]
    finally:
        _close(r, w)


def test_everything_refused_keeps_the_default_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tus, "fcntl", _Refusing(0))
    monkeypatch.setattr(tus, "_pipe_max_size", lambda: 1 << 20)
    r, w, size = tus.splice_pipe()
    try:
        assert size == fcntl.fcntl(w, F_GETPIPE_SZ) == DEFAULT_PIPE
    finally:
        _close(r, w)
    assert tus._pipe_size is None  # nothing remembered: the next request asks again


def test_chunks_of_several_pipes_land_byte_for_byte_under_gunicorn(live: LiveServer, tmp_path: Path) -> None:
    """Under gunicorn a PATCH body is spliced a pipe's worth at a time: chunks larger than
    the pipe, not multiples of it, arrive whole and in order."""
    data = os.urandom(5 * (1 << 20) + 12345)
    src = tmp_path / "noise.zip"
    src.write_bytes(data)
    chunk = (2 << 20) + 777
    with Client(live.url, live.tokens["alice"], state_file=tmp_path / "state.json") as c, open(src, "rb") as f:
        url = c._create(src, "alice")
        offset = 0
        while offset < len(data):
            status, offset = c._patch(url, f, offset, min(chunk, len(data) - offset))
            assert status == 204
        assert c._offset(url) == len(data)
    upload_id = url.rstrip("/").rsplit("/", 1)[1]
    part = live.data_dir / "alice" / ".uploads" / f"{upload_id}.part"
    assert part.read_bytes() == data
