"""Fixtures of the browser tests: the app served once per session on a free port, with a
small generated demo map (6 sessions x 2 channels x 10 x 128 x 128) and a map without
images, and a real Chromium driven by Playwright (a fresh context, so fresh cookies, per
test).

Chromium: ``$PMM_CHROMIUM``, else Playwright's own, else Debian's ``/usr/bin/chromium``.
Without one the tests are skipped with the reason, except under ``CI=true`` where a
missing browser is a failure. ``PMM_SCREENSHOTS=<dir>`` saves a screenshot at the end of
every test.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pymapmanager.synthetic.maps import generate_map
from tests.browser.server import serve_app
from tests.conftest import IN_CI

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1600, "height": 1000}


def log_in(page: Any, name: str, password: str) -> None:
    """Log in through the login page's form; back on the page it sends to."""
    page.goto("/login")
    page.fill("#pmm-login-username", name)
    page.fill("#pmm-login-password", password)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"browser tests cannot run under CI: {reason}")
    pytest.skip(reason)


def chromium_path() -> str | None:
    """The Chromium to drive (None: Playwright's own download)."""
    env = os.environ.get("PMM_CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DATA_DIR with ``public/demo`` (images) and ``public/noimg`` (annotations only)."""
    root = tmp_path_factory.mktemp("browser-data")
    generate_map(root / "public", name="demo", sessions=6, channels=2, shape=(10, 128, 128), seed=1, map_condition="mc1")
    generate_map(root / "public", name="noimg", sessions=3, channels=1, shape=(10, 128, 128), seed=2, images=False)
    return root


@pytest.fixture(scope="session")
def base_url(data_dir: Path) -> Iterator[str]:
    """The app, served by a threaded WSGI server on a free port for the whole session."""
    with serve_app(data_dir) as url:
        yield url


@pytest.fixture
def page(browser: Any, base_url: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page in a fresh browser context; fails the test on uncaught page errors."""
    context = browser.new_context(viewport=VIEWPORT, base_url=base_url)
    # the tests need no other server (a CDN stylesheet would only slow them down)
    context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    errors: list[str] = []

    def on_console(m: Any) -> None:
        if m.type != "error":
            return
        where = (m.location or {}).get("url", "")
        if m.text.startswith("Failed to load resource") and not where.startswith(base_url):
            return
        errors.append(m.text)

    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", on_console)
    yield pg
    shots = os.environ.get("PMM_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(Path(shots) / f"{request.node.name}.png"))
    context.close()
    assert not errors, errors
