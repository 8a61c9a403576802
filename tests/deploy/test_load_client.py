"""The load bench's clients (``bench/bench_load.py``) against a server that cuts an answer
off after its headers, and one that answers with a broken status line: each is recorded
(cut off, or an error) and the client goes on, instead of its thread dying unseen."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from bench.bench_load import Phase, load_phase


def _serve(reply: bytes) -> Iterator[str]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.2)
    done = threading.Event()

    def loop() -> None:
        while not done.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(reply)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.getsockname()[1]}/"
    finally:
        done.set()
        t.join(2)
        srv.close()


@pytest.fixture
def cutting_server() -> Iterator[str]:
    # headers promise 100 bytes; 10 come, then the connection closes (a killed worker)
    yield from _serve(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n0123456789")


@pytest.fixture
def garbled_server() -> Iterator[str]:
    yield from _serve(b"HTTP/1.1 2x0 OK\r\n\r\n")


def test_an_answer_cut_off_is_counted_and_the_client_goes_on(cutting_server: str) -> None:
    phase = load_phase(cutting_server, Phase("cut"), seconds=0.5, threads=2, timeout=5)
    assert phase.errors == []
    assert phase.ok == 0
    # both threads kept going: more cut answers than threads
    assert len(phase.cut) > 2, phase.cut
    assert all("IncompleteRead" in c for c in phase.cut), phase.cut[:3]


def test_a_broken_answer_is_an_error_and_the_client_goes_on(garbled_server: str) -> None:
    phase = load_phase(garbled_server, Phase("garbled"), seconds=0.5, threads=2, timeout=5)
    assert phase.cut == []
    assert len(phase.errors) > 2, phase.errors
