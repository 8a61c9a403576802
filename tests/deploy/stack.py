"""Real servers for the deployment tests: redis-server, gunicorn, a Celery worker and
Debian's nginx rendering the same site template docker-compose.yml uses
(``deploy/nginx/pymapmanager.conf.template``), all on free loopback ports.

Each server is a subprocess logging to a file in the stack's folder; :class:`Stack` stops
them all (children first) when it is closed.
"""

from __future__ import annotations

import os
import shutil
import signal
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.net import free_port

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "deploy" / "nginx" / "pymapmanager.conf.template"
#: the variables the nginx container's entrypoint substitutes (deploy/nginx/entrypoint.sh)
TEMPLATE_VARS = ("LISTEN_PORT", "URL_PREFIX", "APP_SERVERS", "CLIENT_MAX_BODY_SIZE", "NGINX_CACHE_DIR")
VENV_BIN = Path(sys.executable).parent


class StackError(RuntimeError):
    """A server of the stack did not start; the message holds the end of its log."""




def render_site(values: Mapping[str, str]) -> str:
    """The nginx site of the template with exactly the entrypoint's variables substituted."""
    missing = [k for k in TEMPLATE_VARS if k not in values]
    if missing:
        raise KeyError(f"missing template values: {missing}")
    # like `envsubst '${A} ${B}'`: only the listed ${NAME}s change; nginx's own $vars stay
    text = TEMPLATE.read_text()
    for key in TEMPLATE_VARS:
        text = text.replace("${" + key + "}", values[key])
    return text


def nginx_conf(site: str, workdir: Path) -> str:
    """A whole nginx.conf around ``site`` that runs unprivileged from ``workdir``."""
    mime = "/etc/nginx/mime.types"
    tmp = workdir / "tmp"
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    # as root, nginx's workers would run as nobody, who cannot enter pytest's 0700 folders
    user = "user root root;" if os.geteuid() == 0 else ""
    return string.Template(
        """
$user
worker_processes 2;
pid $workdir/nginx.pid;
error_log $workdir/error.log warn;
daemon off;
events { worker_connections 1024; }
http {
    include $mime;
    default_type application/octet-stream;
    access_log $workdir/access.log;
    client_body_temp_path $tmp/client_body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    sendfile on;
    keepalive_timeout 65;
$site
}
"""
    ).substitute(user=user, workdir=workdir, mime=mime, tmp=tmp, site=site)


def wait_http(url: str, ok: Callable[[int], bool], timeout: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``url`` until ``ok(status)``; raise :class:`StackError` if ``proc`` dies or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if ok(r.status):
                    return
        except urllib.error.HTTPError as e:
            if ok(e.code):
                return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise StackError(f"{url} did not answer ({'exited' if proc.poll() is not None else 'timeout'}):\n{tail(log)}")
        time.sleep(0.1)


def tail(path: Path, n: int = 40) -> str:
    """The last ``n`` lines of a log file."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


@dataclass
class Server:
    """One subprocess of the stack."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        """Stop the process group (gunicorn's and Celery's children too)."""
        if self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@dataclass
class Stack:
    """Servers started by a test session, stopped together."""

    workdir: Path
    servers: dict[str, Server] = field(default_factory=dict)

    def spawn(self, name: str, argv: list[str], env: Mapping[str, str] | None = None, port: int | None = None) -> Server:
        log = self.workdir / f"{name}.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                argv, cwd=REPO, env=dict(env or os.environ), stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        server = Server(name, proc, log, port)
        self.servers[name] = server
        return server

    # ------------------------------------------------------------------ the parts
    def redis(self, name: str, *args: str) -> str:
        """A redis-server; returns its URL. ``args``: extra settings (e.g. the eviction policy)."""
        exe = shutil.which("redis-server")
        if exe is None:
            raise StackError("redis-server is not installed")
        port = free_port()
        folder = self.workdir / name
        folder.mkdir(exist_ok=True)
        argv = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(folder),
                "--daemonize", "no", "--loglevel", "warning", *args]  # fmt: skip
        server = self.spawn(name, argv, port=port)
        import redis

        client = redis.Redis(port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError as e:
                if server.proc.poll() is not None or time.monotonic() > deadline:
                    raise StackError(f"redis-server {name} did not start:\n{tail(server.log)}") from e
                time.sleep(0.05)
        client.close()
        return f"redis://127.0.0.1:{port}/0"

    def gunicorn(self, name: str, env: Mapping[str, str], workers: int = 4) -> Server:
        """gunicorn with the project's config (as the Docker image runs it)."""
        port = free_port()
        full = dict(os.environ, **env, BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY=str(workers),
                    ACCESS_LOG="0", LOG_LEVEL="warning")  # fmt: skip
        argv = [str(VENV_BIN / "gunicorn"), "--config", "python:app.gunicorn_conf", "app.wsgi:server"]
        server = self.spawn(name, argv, full, port=port)
        prefix = full.get("URL_PREFIX", "/")
        wait_http(f"{server.url}{prefix}api/v1/status", lambda s: s == 200, 120, server.proc, server.log)
        return server

    def celery_worker(self, name: str, env: Mapping[str, str], concurrency: int = 2) -> Server:
        """A Celery worker of the background jobs (as docker-compose's worker runs it)."""
        full = dict(os.environ, **env)
        argv = [str(VENV_BIN / "celery"), "-A", "app.celery_worker:celery_app", "worker", "--loglevel=INFO",
                f"--concurrency={concurrency}", "--without-gossip", "--without-mingle",
                "--hostname", f"{name}@%h"]  # fmt: skip
        server = self.spawn(name, argv, full)
        deadline = time.monotonic() + 120
        while "ready." not in server.log.read_text(errors="replace"):
            if server.proc.poll() is not None or time.monotonic() > deadline:
                raise StackError(f"celery worker did not start:\n{tail(server.log)}")
            time.sleep(0.2)
        return server

    def nginx(self, name: str, upstreams: list[str], prefix: str, max_body: str = "4g") -> Server:
        """Debian's nginx serving the compose site template in front of ``upstreams``."""
        exe = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
        if exe is None:
            raise StackError("nginx is not installed")
        port = free_port()
        folder = self.workdir / name
        folder.mkdir(exist_ok=True)
        site = render_site({
            "LISTEN_PORT": f"127.0.0.1:{port}",
            "URL_PREFIX": prefix,
            "APP_SERVERS": " ".join(f"server {u};" for u in upstreams),
            "CLIENT_MAX_BODY_SIZE": max_body,
            "NGINX_CACHE_DIR": str(folder / "cache"),
        })  # fmt: skip
        conf = folder / "nginx.conf"
        conf.write_text(nginx_conf(site, folder))
        check = subprocess.run([exe, "-t", "-q", "-c", str(conf), "-p", str(folder)], capture_output=True, text=True)
        if check.returncode != 0:
            raise StackError(f"nginx -t failed:\n{check.stderr}")
        server = self.spawn(name, [exe, "-c", str(conf), "-p", str(folder)], port=port)
        wait_http(f"{server.url}{prefix}api/v1/status", lambda s: s == 200, 30, server.proc, folder / "error.log")
        return server

    def close(self) -> None:
        for server in reversed(list(self.servers.values())):
            server.stop()
