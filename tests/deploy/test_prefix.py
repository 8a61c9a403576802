"""The app under a URL prefix behind nginx (the compose site template), 4 gunicorn workers,
Redis and a Celery worker: the API, images and assets answer under the prefix, and a real
Chromium uses the catalog, a map and the pooling page (its pool runs on the Celery worker)
with every request under the prefix and none failing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import pytest

from app.healthcheck import status_url
from tests.deploy.conftest import PREFIX, Deployment
from tests.deploy.stack import tail

pytestmark = [pytest.mark.deploy, pytest.mark.slow]


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    """GET without following redirects: status, body, headers."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kw: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(req, timeout=30) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def test_api_images_and_assets_under_the_prefix(deployment: Deployment) -> None:
    base = deployment.base
    status, body, _ = fetch(base + "api/v1/status")
    assert status == 200 and json.loads(body)["status"] == "ok"
    ids = {m["id"] for m in json.loads(fetch(base + "api/v1/maps")[1])["maps"]}
    assert {"public/demo", "public/noimg"} <= ids
    info = json.loads(fetch(base + "api/v1/maps/public/demo")[1])
    assert info["num_sessions"] == 4 and len(info["sessions"]) == 4
    status, png, headers = fetch(base + "api/v1/maps/public/demo/sessions/1/planes/3")
    assert status == 200 and headers["Content-Type"] == "image/png" and png[:8] == b"\x89PNG\r\n\x1a\n"
    status, png, _ = fetch(base + "api/v1/maps/public/demo/thumbnail")
    assert status == 200 and png[:4] == b"\x89PNG"

    # the prefix without its slash leads to it; nothing is served outside it
    origin = base[: -len(PREFIX)]
    status, _, headers = fetch(origin + PREFIX.rstrip("/"))
    assert status == 301 and headers["Location"].endswith(PREFIX)
    assert fetch(origin + "/api/v1/status")[0] == 404

    # static assets: served under the prefix and cached by nginx
    first = fetch(base + "assets/pmm.css")
    second = fetch(base + "assets/pmm.css")
    assert first[0] == second[0] == 200 and first[1] == second[1] and b"pmm" in first[1]
    assert second[2].get("X-Cache-Status") == "HIT", second[2]
    assert "max-age=3600" in second[2].get("Cache-Control", "")


def test_forwarded_headers_reach_the_app_unchanged_paths(deployment: Deployment) -> None:
    """The app builds its links with the prefix (thumbnails, API) as seen through nginx."""
    entries = json.loads(fetch(deployment.base + "api/v1/maps")[1])["maps"]
    thumbs = [m["thumbnail_url"] for m in entries if m["has_images"]]
    assert thumbs and all(t.startswith(PREFIX + "api/v1/") for t in thumbs), thumbs


def test_the_dashboard_in_chromium_under_the_prefix(browser: Any, deployment: Deployment) -> None:
    base = deployment.base
    origin = base[: -len(PREFIX)]
    context = browser.new_context(viewport={"width": 1500, "height": 950})
    context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(60_000)
    seen: list[tuple[int, str]] = []
    errors: list[str] = []
    page.on("response", lambda r: seen.append((r.status, r.url)))
    page.on("pageerror", lambda e: errors.append(str(e)))

    # the catalog, with its thumbnails
    page.goto(base)
    page.wait_for_function("() => document.querySelectorAll('.pmm-card-wrap').length >= 2")
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.pmm-thumb')].some(i => i.complete && i.naturalWidth > 0)"
    )

    # a map: every session's viewer paints its plane
    page.goto(base + "map/public/demo?s=0,1,2,3")
    page.wait_for_function(
        """() => [...document.querySelectorAll('.pmm-viewer img.leaflet-image-layer, .pmm-viewer img.leaflet-tile')]
                   .filter(i => i.complete && i.naturalWidth > 0).length >= 4"""
    )

    # the pooling page: its pool is a background callback, run by the Celery worker
    worker_log = deployment.stack.servers["worker"].log
    before = worker_log.read_text(errors="replace").count("succeeded in")
    page.goto(base + "pool")
    page.wait_for_function(
        """() => { const gd = document.querySelector('#pmm-pool-figure .js-plotly-plot');
                   return gd && gd.data && gd.data.some(t => t.mode === 'lines+markers'); }"""
    )
    deadline = time.monotonic() + 30
    while worker_log.read_text(errors="replace").count("succeeded in") <= before:
        assert time.monotonic() < deadline, worker_log.read_text()[-3000:]
        time.sleep(0.2)
    assert "background_callback_" in worker_log.read_text(errors="replace")
    context.close()

    assert not errors, errors
    local = [(s, u) for s, u in seen if u.startswith(origin)]
    assert local, seen
    outside = [u for _, u in local if not urlsplit(u).path.startswith(PREFIX)]
    assert not outside, outside
    failed = [(s, u) for s, u in local if s >= 400]
    logs = {name: tail(server.log) for name, server in deployment.stack.servers.items() if name in ("app", "nginx")}
    assert not failed, (failed, logs)


def test_healthcheck_follows_bind_and_prefix(deployment: Deployment) -> None:
    app = deployment.stack.servers["app"]
    env = {"BIND": f"127.0.0.1:{app.port}", "URL_PREFIX": PREFIX, "PATH": ""}
    ok = subprocess.run([sys.executable, "-m", "app.healthcheck"], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    wrong = subprocess.run([sys.executable, "-m", "app.healthcheck"], env={**env, "URL_PREFIX": "/other/"},
                           capture_output=True, text=True)  # fmt: skip
    assert wrong.returncode == 1 and "unhealthy" in wrong.stderr


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({}, "http://127.0.0.1:8050/api/v1/status"),
        ({"PORT": "9000"}, "http://127.0.0.1:9000/api/v1/status"),
        ({"BIND": "0.0.0.0:8051", "PORT": "9000"}, "http://127.0.0.1:8051/api/v1/status"),
        ({"BIND": "[::]:8052", "URL_PREFIX": "mm"}, "http://[::1]:8052/mm/api/v1/status"),
        ({"BIND": "10.1.2.3:80", "URL_PREFIX": "/a/b/"}, "http://10.1.2.3:80/a/b/api/v1/status"),
        ({"HEALTHCHECK_URL": "http://x/y"}, "http://x/y"),
    ],
)
def test_status_url(env: dict[str, str], url: str) -> None:
    assert status_url(env) == url
