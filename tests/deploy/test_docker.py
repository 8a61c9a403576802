"""The Docker image and the compose stack, for real, on this machine's Docker daemon.

The image is built on the local Debian base (``deploy/make-base-image.sh``: debootstrap, the
host's CA certificates), run with the defaults and with ``PORT``/``URL_PREFIX`` set (its
HEALTHCHECK must follow them), asked for the API and stopped. Then ``docker-compose up``
brings up the whole stack of ``docker-compose.yml`` from images built here (Redis from
``deploy/images/redis.Dockerfile`` and nginx from ``deploy/nginx/Dockerfile`` on the same
base: no registry), and the catalog, a map and the first admin's login answer through nginx
under the prefix. Where Docker cannot run, these steps are reported as not run (a failure
under ``CI=true``). Build times and image sizes are printed at the end of the session.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pymapmanager.synthetic.maps import generate_map
from tests.deploy.conftest import FIGURES, _fail_or_skip
from tests.deploy.docker import (
    BASE_TAG,
    CHECKOUT,
    REPO,
    DockerHost,
    DockerUnavailable,
    _apt_install,
    docker_host,
    wait_answer,
)
from tests.support.net import free_port

pytestmark = [pytest.mark.deploy, pytest.mark.slow]

APP_TAG = f"pymapmanager:test-{CHECKOUT}"
NGINX_TAG = f"pymapmanager-nginx:test-{CHECKOUT}"
REDIS_TAG = f"pmm-redis:test-{CHECKOUT}"
STEPS = "install docker.io, start dockerd, build the base and the image, run it, wait for healthy, call the API, stop"


@pytest.fixture(scope="module")
def docker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerHost]:
    """A Docker daemon with the local base image (this module's tests take turns with other sessions')."""
    workdir = tmp_path_factory.mktemp("docker")
    try:
        with docker_host(workdir) as host:
            try:
                base = host.base_image()
            except DockerUnavailable as e:
                _fail_or_skip(f"not run ({STEPS}): {e}")
                raise
            FIGURES["docker base image"] = (
                f"{BASE_TAG} {base.size / 1e6:.0f} MB" + (" (kept from an earlier run)" if base.cached else f", built in {base.seconds:.0f} s")
            )  # fmt: skip
            yield host
    except DockerUnavailable as e:
        _fail_or_skip(f"not run ({STEPS}): {e}")


def _figure(host: DockerHost, name: str, tag: str) -> None:
    b = host.builds[tag]
    log = (host.workdir / f"build-{tag.replace(':', '-').replace('/', '-')}.log").read_text(errors="replace")
    steps = log.count("\nStep ")
    cached = log.count("Using cache")
    FIGURES[name] = f"{b.size / 1e6:.0f} MB, built in {b.seconds:.0f} s ({cached} of {steps} steps from the layer cache)"


@pytest.fixture(scope="module")
def app_image(docker: DockerHost) -> str:
    """The project's image on the local base (the layer cache keeps the dependency layer)."""
    docker.build(APP_TAG, REPO, args={"BASE_IMAGE": BASE_TAG})
    _figure(docker, "docker app image", APP_TAG)
    return APP_TAG


def _data_folder(root: Path) -> Path:
    """A DATA_DIR with one small map, owned by the image's user (uid 1000)."""
    generate_map(root / "public", name="demo", sessions=2, channels=1, shape=(4, 64, 64), seed=5)
    for path in [root, *root.rglob("*")]:
        os.chown(path, 1000, 1000)
    return root


def _run(docker: DockerHost, name: str, image: str, data: Path, port: int, cport: int, env: dict[str, str]) -> str:
    argv = ["run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:{cport}", "-v", f"{data}:/data",
            # the image's own HEALTHCHECK command, probed every 2 s instead of 30 s
            "--health-interval", "2s", "--health-retries", "3"]  # fmt: skip
    for k, v in env.items():
        argv += ["-e", f"{k}={v}"]
    docker("rm", "-f", name, check=False)
    docker(*argv, image)
    return name


def test_image_layout(docker: DockerHost, app_image: str) -> None:
    """Non-root, the HEALTHCHECK of app.healthcheck, no build leftovers (source, pip cache, lock)."""
    conf = json.loads(docker("image", "inspect", "-f", "{{json .Config}}", app_image).stdout)
    assert conf["User"] == "pmm"
    assert "app.healthcheck" in " ".join(conf["Healthcheck"]["Test"])
    assert "PORT=8050" in conf["Env"] and "DATA_DIR=/data" in conf["Env"]
    out = docker("run", "--rm", "--entrypoint", "sh", app_image, "-c",
                 "id -un; ls -A /tmp; ls -d /src /root/.cache /home/pmm/.cache 2>/dev/null; "
                 "find /opt/venv -name '*.whl' -o -name 'pip-*.tmp' | head -3").stdout.split()  # fmt: skip
    assert out == ["pmm"], out


def test_image_runs_healthy_and_serves_the_api(docker: DockerHost, app_image: str, tmp_path: Path) -> None:
    data = _data_folder(tmp_path / "data")
    tag = f"pmm-test-{CHECKOUT}-{os.getpid()}"
    plain_port, prefixed_port = free_port(), free_port()
    env = {"CREATE_DEMO": "0", "SECRET_KEY": "docker-test", "WEB_CONCURRENCY": "2"}
    # the defaults (0.0.0.0:8050, no prefix) and a platform's PORT with a URL prefix, side by side
    plain = _run(docker, f"{tag}-plain", app_image, data, plain_port, 8050, env)
    prefixed = _run(docker, f"{tag}-prefix", app_image, data, prefixed_port, 9000,
                    {**env, "PORT": "9000", "URL_PREFIX": "/pmm/"})  # fmt: skip
    try:
        t_plain = docker.wait_healthy(plain)
        t_prefixed = docker.wait_healthy(prefixed)
        FIGURES["docker healthy after"] = f"{t_plain:.0f} s (defaults), {t_prefixed:.0f} s (PORT=9000, URL_PREFIX=/pmm/)"

        for base in (f"http://127.0.0.1:{plain_port}/", f"http://127.0.0.1:{prefixed_port}/pmm/"):
            status, body = wait_answer(base + "api/v1/status")
            assert status == 200 and json.loads(body)["status"] == "ok", body
            maps = httpx.get(base + "api/v1/maps", timeout=30).json()["maps"]
            assert [m["id"] for m in maps] == ["public/demo"]
            info = httpx.get(base + "api/v1/maps/public/demo", timeout=30).json()
            assert info["num_sessions"] == 2
            png = httpx.get(base + "api/v1/maps/public/demo/sessions/1/planes/2", timeout=30)
            assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
            page = httpx.get(base, timeout=30)
            assert page.status_code == 200 and "_dash-config" in page.text
        # under the prefix only
        assert httpx.get(f"http://127.0.0.1:{prefixed_port}/api/v1/status", timeout=30).status_code == 404

        # a clean stop: gunicorn ends on SIGTERM with status 0
        for name in (plain, prefixed):
            docker("stop", "-t", "30", name, timeout=60)
            assert docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip() == "0"
    finally:
        for name in (plain, prefixed):
            docker("rm", "-f", name, check=False)


# --------------------------------------------------------------------------- compose


def _compose_cli(docker: DockerHost) -> list[str]:
    """Debian's docker-compose (v1), else the compose plugin; installs Debian's when neither is there."""
    exe = shutil.which("docker-compose")
    if exe:
        return [exe]
    if docker("compose", "version", check=False).returncode == 0:
        return [docker.cli, "compose"]
    _apt_install(["docker-compose"])
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose was installed but is not on PATH"
    return [exe]


class Compose:
    def __init__(self, docker: DockerHost, project: str, env: dict[str, str]) -> None:
        self.docker, self.project = docker, project
        self.env = dict(os.environ, DOCKER_BUILDKIT="0", COMPOSE_DOCKER_CLI_BUILD="0", **env)
        self.argv = [*_compose_cli(docker), "-p", project, "-f", str(REPO / "docker-compose.yml")]

    def __call__(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([*self.argv, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO, env=self.env)
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
        return r

    def container(self, service: str) -> str:
        return self("ps", "-q", service).stdout.strip()

    def logs(self) -> str:
        r = self("logs", "--no-color", "--tail", "30", check=False)
        return r.stdout[-6000:]


def test_compose_stack_through_nginx(docker: DockerHost, app_image: str, tmp_path: Path) -> None:
    """docker-compose.yml as it is: nginx -> app (gunicorn), worker (Celery), redis, broker."""
    docker.build(REDIS_TAG, REPO / "deploy" / "images", REPO / "deploy" / "images" / "redis.Dockerfile",
                 {"BASE_IMAGE": BASE_TAG})  # fmt: skip
    _figure(docker, "docker redis image", REDIS_TAG)
    docker.build(NGINX_TAG, REPO / "deploy" / "nginx", args={"BASE_IMAGE": BASE_TAG})
    _figure(docker, "docker nginx image", NGINX_TAG)

    port = free_port()
    prefix = "/mapmanager/"
    admin_password = "compose admin password"
    compose = Compose(docker, f"pmmtest{CHECKOUT}", {
        "PMM_IMAGE": app_image, "PMM_NGINX_IMAGE": NGINX_TAG, "REDIS_IMAGE": REDIS_TAG,
        "HTTP_BIND": "127.0.0.1", "HTTP_PORT": str(port), "URL_PREFIX": prefix, "CREATE_DEMO": "0",
        "WEB_CONCURRENCY": "2", "CELERY_CONCURRENCY": "1", "ADMIN_PASSWORD": admin_password,
        "SECRET_KEY": "compose-test-secret",
    })  # fmt: skip
    compose("config", "-q")
    compose("down", "-v", "--remove-orphans", check=False)
    t0 = time.monotonic()
    try:
        compose("up", "-d", "--no-build", timeout=600)
        base = f"http://127.0.0.1:{port}{prefix}"
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(base + "api/v1/status", timeout=10).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, compose.logs()
            time.sleep(1)
        FIGURES["compose up -> answering through nginx"] = f"{time.monotonic() - t0:.0f} s"

        # a map into the shared /data volume
        maps = _data_folder(tmp_path / "maps")
        app = compose.container("app")
        docker("exec", app, "mkdir", "-p", "/data/public")
        docker("cp", str(maps / "public" / "demo"), f"{app}:/data/public/")
        # Celery's worker is up, on the broker
        worker = compose.container("worker")
        deadline = time.monotonic() + 120
        while "ready." not in (docker("logs", worker, check=False).stderr + docker("logs", worker, check=False).stdout):
            assert time.monotonic() < deadline, compose.logs()
            time.sleep(1)

        with httpx.Client(base_url=base.rstrip("/"), timeout=30, headers={"Origin": f"http://127.0.0.1:{port}"}) as c:
            # the catalog page and its API, every link under the prefix
            page = c.get("/")
            assert page.status_code == 200
            config = json.loads(re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>',
                                          page.text, re.S).group(1))  # type: ignore[union-attr]  # fmt: skip
            assert config["requests_pathname_prefix"] == prefix
            entries = c.get("/api/v1/maps").json()["maps"]
            assert [m["id"] for m in entries] == ["public/demo"]
            assert entries[0]["thumbnail_url"].startswith(prefix)
            assert c.get(entries[0]["thumbnail_url"][len(prefix) - 1 :]).content[:4] == b"\x89PNG"
            info = c.get("/api/v1/maps/public/demo").json()
            assert info["num_sessions"] == 2
            css = c.get("/assets/pmm.css")
            assert css.status_code == 200 and c.get("/assets/pmm.css").headers.get("X-Cache-Status") == "HIT"
            # nothing outside the prefix
            assert httpx.get(f"http://127.0.0.1:{port}/api/v1/status", timeout=10).status_code == 404

            # the first admin logs in through nginx (ADMIN_PASSWORD from the environment)
            login_as(c, prefix, "admin", admin_password)
            who = c.get("/auth/whoami")
            assert who.status_code == 200 and who.json() == {"name": "admin", "is_admin": True}
            status = c.get("/api/v1/status").json()
            assert status["cache"] == "redis" and status["cache_state"] == "up", status
        FIGURES["compose images"] = ", ".join(f"{t} {docker.image_size(t) / 1e6:.0f} MB" for t in (app_image, NGINX_TAG, REDIS_TAG))
    finally:
        compose("down", "-v", "--remove-orphans", "-t", "20", timeout=300, check=False)
    assert compose("ps", "-q").stdout.strip() == ""


def login_as(client: httpx.Client, prefix: str, name: str, password: str) -> None:
    """Log in as the login page's form does: its CSRF token, then the POST."""
    from tests.deploy.live import csrf_of_login_page

    token = csrf_of_login_page(client, prefix)
    r = client.post("/auth/login", data={"csrf_token": token, "username": name, "password": password,
                                         "next": prefix})  # fmt: skip
    assert r.status_code == 303 and "error=" not in r.headers["Location"], (r.status_code, r.headers)
