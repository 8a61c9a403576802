"""A Docker daemon for the image and compose tests (and ``bench/``), on this machine.

:func:`docker_host` makes one available or says why it cannot: as root on Debian it installs
``docker.io`` (and ``debootstrap``) with apt when missing, starts ``dockerd`` when none
answers and stops it again at the end if it started it. The base image is the local Debian
bookworm of ``deploy/make-base-image.sh`` (no registry is needed; it is built once and kept
as ``pmm-base:bookworm``). Test sessions of several checkouts on one machine take turns
(an exclusive lock file), so one never stops a daemon another is using; image tags carry the
checkout's name, so they never run each other's code.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tests.deploy.stack import tail

REPO = Path(__file__).resolve().parents[2]
BASE_TAG = "pmm-base:bookworm"
LOCK_FILE = Path("/tmp/pmm-docker-tests.lock")
#: one tag suffix per checkout: two worktrees never run each other's image
CHECKOUT = hashlib.blake2b(str(REPO).encode(), digest_size=4).hexdigest()


class DockerUnavailable(RuntimeError):
    """Docker cannot run here; the message says which step failed and why."""


def _run(argv: Sequence[str], timeout: float = 600, env: Mapping[str, str] | None = None,
         check: bool = True, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:  # fmt: skip
    r = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, cwd=cwd,
                       env=dict(env) if env is not None else None)  # fmt: skip
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited with {r.returncode}:\n{r.stdout[-2000:]}{r.stderr[-3000:]}")
    return r


def docker_cli() -> str | None:
    """Debian's client (it matches Debian's daemon) or any ``docker`` on PATH."""
    if os.access("/usr/bin/docker", os.X_OK):
        return "/usr/bin/docker"
    return shutil.which("docker")


def _apt_install(packages: list[str]) -> None:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise DockerUnavailable(f"{' '.join(packages)} not installed (run as root on Debian to install)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    _run(["apt-get", "update", "-q"], timeout=600, env=env, check=False)
    r = _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages], timeout=1200, env=env, check=False)
    if r.returncode != 0:
        raise DockerUnavailable(f"apt-get install {' '.join(packages)} failed:\n{r.stderr[-2000:]}")


@dataclass
class BuildResult:
    """One ``docker build``: its tag, seconds taken and the image's size in bytes."""

    tag: str
    seconds: float
    size: int
    cached: bool = False


@dataclass
class DockerHost:
    """A daemon that answers; :meth:`close` stops it if this session started it."""

    cli: str
    workdir: Path
    started: subprocess.Popen[bytes] | None = None
    builds: dict[str, BuildResult] = field(default_factory=dict)

    def __call__(self, *args: str, timeout: float = 600, check: bool = True,
                 env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
        """Run the docker client."""
        full = dict(os.environ, DOCKER_BUILDKIT="0", **(env or {}))
        return _run([self.cli, *args], timeout=timeout, env=full, check=check)

    def image_exists(self, tag: str) -> bool:
        return self("image", "inspect", tag, check=False).returncode == 0

    def image_size(self, tag: str) -> int:
        return int(self("image", "inspect", "-f", "{{.Size}}", tag).stdout.strip())

    def base_image(self) -> BuildResult:
        """``pmm-base:bookworm`` from ``deploy/make-base-image.sh`` (debootstrap), made once."""
        if self.image_exists(BASE_TAG):
            return BuildResult(BASE_TAG, 0.0, self.image_size(BASE_TAG), cached=True)
        if shutil.which("debootstrap") is None:
            _apt_install(["debootstrap"])
        t0 = time.monotonic()
        env = dict(os.environ, PATH=f"{Path(self.cli).parent}:{os.environ.get('PATH', '')}")
        r = _run(["bash", str(REPO / "deploy" / "make-base-image.sh"), BASE_TAG], timeout=1800, env=env, check=False)
        if r.returncode != 0:
            raise DockerUnavailable(f"deploy/make-base-image.sh failed:\n{r.stdout[-1000:]}{r.stderr[-2000:]}")
        res = BuildResult(BASE_TAG, time.monotonic() - t0, self.image_size(BASE_TAG))
        self.builds[BASE_TAG] = res
        return res

    def build(self, tag: str, context: Path, dockerfile: Path | None = None,
              args: Mapping[str, str] | None = None, timeout: float = 1800) -> BuildResult:  # fmt: skip
        """``docker build`` (the classic builder: no registry for BuildKit's frontend image)."""
        argv = ["build", "-t", tag, "--label", f"pmm-test-checkout={CHECKOUT}"]
        if dockerfile is not None:
            argv += ["-f", str(dockerfile)]
        for k, v in (args or {}).items():
            argv += ["--build-arg", f"{k}={v}"]
        log = self.workdir / f"build-{tag.replace(':', '-').replace('/', '-')}.log"
        t0 = time.monotonic()
        r = self(*argv, str(context), timeout=timeout, check=False)
        log.write_text(r.stdout + r.stderr)
        if r.returncode != 0:
            raise AssertionError(f"docker build {tag} failed:\n{tail(log, 60)}")
        res = BuildResult(tag, time.monotonic() - t0, self.image_size(tag))
        self.builds[tag] = res
        return res

    def health(self, container: str) -> str:
        """``starting``, ``healthy``, ``unhealthy`` or ``exited``."""
        r = self("inspect", "-f", "{{json .State}}", container, check=False)
        if r.returncode != 0:
            return "gone"
        state: dict[str, Any] = json.loads(r.stdout)
        if not state.get("Running"):
            return "exited"
        return str((state.get("Health") or {}).get("Status", "none"))

    def wait_healthy(self, container: str, timeout: float = 180) -> float:
        """Seconds until the container's HEALTHCHECK says healthy; fails on unhealthy or exit."""
        t0 = time.monotonic()
        while True:
            h = self.health(container)
            if h == "healthy":
                return time.monotonic() - t0
            if h in ("unhealthy", "exited", "gone") or time.monotonic() - t0 > timeout:
                logs = self("logs", "--tail", "40", container, check=False)
                probe = self("inspect", "-f", "{{json .State.Health}}", container, check=False).stdout
                raise AssertionError(f"{container} is {h}:\n{probe[-1500:]}\n{logs.stdout[-2000:]}{logs.stderr[-2000:]}")
            time.sleep(0.5)

    def close(self) -> None:
        if self.started is not None and self.started.poll() is None:
            self.started.terminate()
            try:
                self.started.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.started.kill()
                self.started.wait()


def _answers(cli: str) -> bool:
    try:
        return _run([cli, "info", "--format", "{{.ServerVersion}}"], timeout=20, check=False).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@contextmanager
def _turn(timeout: float = 1800) -> Iterator[IO[str]]:
    """Wait for this machine's other test sessions to be done with Docker."""
    with open(LOCK_FILE, "a") as f:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DockerUnavailable("another test session held Docker for 30 minutes") from None
                time.sleep(1)
        try:
            yield f
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextmanager
def docker_host(workdir: Path) -> Iterator[DockerHost]:
    """A Docker daemon for the duration; raises :class:`DockerUnavailable` with the reason."""
    with _turn():
        cli = docker_cli()
        if cli is None or shutil.which("dockerd") is None:
            _apt_install(["docker.io"])
            cli = docker_cli()
            if cli is None:
                raise DockerUnavailable("docker.io was installed but there is no docker client")
        host = DockerHost(cli, workdir)
        try:
            if not _answers(cli):
                dockerd = shutil.which("dockerd")
                if dockerd is None:
                    raise DockerUnavailable("dockerd is not installed")
                if os.geteuid() != 0:
                    raise DockerUnavailable("no Docker daemon answers and starting one needs root")
                log = workdir / "dockerd.log"
                with open(log, "ab") as out:
                    host.started = subprocess.Popen([dockerd], stdout=out, stderr=subprocess.STDOUT,
                                                    stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
                deadline = time.monotonic() + 60
                while not _answers(cli):
                    if host.started.poll() is not None or time.monotonic() > deadline:
                        raise DockerUnavailable(f"dockerd did not start:\n{tail(log)}")
                    time.sleep(0.5)
            yield host
        finally:
            host.close()


def http_get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    """GET: status and body (HTTP errors included)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_answer(url: str, timeout: float = 120) -> tuple[int, bytes]:
    """GET ``url`` until it answers at all (a 200 or an HTTP error), through published ports."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return http_get(url)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
