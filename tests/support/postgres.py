"""A throwaway PostgreSQL cluster for tests: initdb into a temp folder, a free loopback port.

Debian's ``postgresql`` package provides the binaries (``/usr/lib/postgresql/<v>/bin``;
``./dev test`` installs it). PostgreSQL refuses to run as root, so as root the cluster is
made and run by the ``postgres`` system user (``runuser``). The tests get a URL per
database (:meth:`PostgresServer.new_database`) and the server is stopped at the end.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

__all__ = ["PostgresServer", "postgres_bin"]


def postgres_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl`` (the newest installed), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    which = shutil.which("initdb")
    return Path(which).parent if which and shutil.which("pg_ctl") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PostgresServer:
    """Start with :meth:`start`, stop with :meth:`stop` (the folder is removed)."""

    def __init__(self) -> None:
        b = postgres_bin()
        if b is None:
            raise FileNotFoundError("PostgreSQL is not installed (Debian package 'postgresql')")
        self.bin = b
        self.root = Path(tempfile.mkdtemp(prefix="pmm-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_user = os.geteuid() == 0
        self._counter = 0

    def _run(self, *cmd: str) -> subprocess.CompletedProcess[str]:
        full = list(cmd)
        if self.as_user:
            full = ["runuser", "-u", "postgres", "--", *full]
        return subprocess.run(full, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> PostgresServer:
        """initdb (trust on loopback only) and pg_ctl start; waits until it accepts connections."""
        if self.as_user:
            shutil.chown(self.root, "postgres", "postgres")
        os.chmod(self.root, 0o700)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "pmm", "--auth=trust",
                  "--no-sync", "-E", "UTF8", "--locale=C")  # fmt: skip
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l",
                  str(self.root / "log.txt"), "-w", "-t", "60", "start")  # fmt: skip
        return self

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of one database."""
        return f"postgresql://pmm@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        self._counter += 1
        name = f"t{os.getpid()}_{self._counter}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=pmm dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
