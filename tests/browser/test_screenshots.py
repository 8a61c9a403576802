"""Screenshots of the dashboard for the user guide, taken in a real Chromium.

The guide (``docs/guide/*.md``) shows these pictures; ``./dev docs`` runs this module
before building the site, and ``./dev test`` runs it with the other browser tests, so the
pictures always show the dashboard as it is. They are written to
``docs/_build/screenshots/`` (not kept in git). Each test waits until what it shows is
complete (images decoded, plots drawn) and checks the picture is not blank.

The app serves its own data here: a demo map with images, a map without images and a
small demo pool of two cohorts (control, treatment) for the pooling page, and a map of the
user ``guide`` (who logs in to show the edit mode).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import pymapmanager as pmm
from pymapmanager.synthetic import generate_map, make_pool
from tests.browser.conftest import log_in
from tests.browser.server import serve_app
from tests.browser.test_dashboard import JS_IMAGES_READY
from tests.support.paths import REPO

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = REPO / "docs" / "_build" / "screenshots"
VIEWPORT = {"width": 1440, "height": 900}
SHOWN = "0,1,2"  # the sessions shown on the map page's pictures
EDITOR, EDITOR_PASSWORD = "guide", "guide edits spines 7"  # owns the map guide/spines

JS_PLOT_DRAWN = "() => document.querySelectorAll('#pmm-plot .scatterlayer, #pmm-plot .gl-container').length > 0"
JS_POOL_DRAWN = """() => {
    const gd = document.querySelector('#pmm-pool-figure .js-plotly-plot');
    return gd && gd.data && gd.data.some(t => t.mode === 'lines+markers');
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The app on a free port with the guide's data; (base URL, data folder)."""
    root = tmp_path_factory.mktemp("screenshots")
    public = root / "public"
    generate_map(public, name="demo", sessions=6, channels=2, shape=(12, 256, 256), seed=3, map_condition="mc1")
    generate_map(public, name="noimages", sessions=3, channels=1, shape=(12, 256, 256), seed=4, images=False)
    make_pool(public, maps_per_cohort=3, sessions=6, seed=7)
    generate_map(root / EDITOR, name="spines", sessions=3, channels=1, shape=(12, 256, 256), seed=3)
    _add_editor(root)
    with serve_app(root) as url:
        yield url, root


@pytest.fixture
def shot_page(browser: Any, site: tuple[str, Path]) -> Iterator[Any]:
    """A page of a fresh context at the guide's window size; fails on page errors."""
    context = browser.new_context(viewport=VIEWPORT, base_url=site[0], device_scale_factor=1)
    context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert not errors, errors


def save(page: Any, name: str, full_page: bool = False) -> Path:
    """Screenshot into :data:`SCREENSHOTS`; check it is the window's size and not blank."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.wait_for_timeout(300)  # let CSS transitions end
    page.screenshot(path=str(path), full_page=full_page)
    with Image.open(path) as im:
        assert im.width == VIEWPORT["width"] and im.height >= VIEWPORT["height"], im.size
        gray = np.asarray(im.convert("L"), dtype=float)
    assert gray.std() > 5, f"{name} looks blank"
    return path


def _add_editor(data_dir: Path) -> None:
    """The user :data:`EDITOR` in the app database of ``data_dir`` (owner of ``guide/spines``)."""
    from app.auth import users
    from app.config import Settings
    from app.db import DB_KEY, session_scope
    from app.factory import create_app

    app = create_app(Settings(data_dir=data_dir, secret_key="test", create_demo=False))
    with app.server.app_context(), session_scope(app.server.extensions[DB_KEY]) as db:
        users.create_user(db, EDITOR, EDITOR_PASSWORD, cheap_hash=True)


def _run_in_sessions(folder: Path, sessions: list[int]) -> int:
    """A run of the map whose spine is present in every one of ``sessions``."""
    v = pmm.map_values(pmm.load_map(folder), "pDist")
    present = v.present()[:, sessions].all(axis=1)
    assert present.any(), "the demo map has no run present in the shown sessions"
    return int(v.runs[int(np.flatnonzero(present)[len(np.flatnonzero(present)) // 2])])


def test_catalog(shot_page: Any) -> None:
    shot_page.goto("/")
    shot_page.locator(".pmm-card-wrap").first.wait_for()
    shot_page.wait_for_function(
        "() => { const i = document.querySelector('.pmm-thumb'); return i && i.complete && i.naturalWidth > 0; }"
    )
    assert shot_page.locator(".pmm-card-wrap").count() == 8  # demo, noimages and 6 pool maps
    save(shot_page, "catalog.png")


def test_map_page(shot_page: Any) -> None:
    shot_page.goto(f"/map/public/demo?s={SHOWN}")
    shot_page.wait_for_function(JS_IMAGES_READY, arg=len(SHOWN.split(",")))
    shot_page.wait_for_function(JS_PLOT_DRAWN)
    save(shot_page, "map.png")


def test_map_page_with_a_selected_spine(shot_page: Any, site: tuple[str, Path]) -> None:
    sessions = [int(s) for s in SHOWN.split(",")]
    run = _run_in_sessions(site[1] / "public" / "demo", sessions)
    shot_page.goto(f"/map/public/demo?s={SHOWN}&run={run}")
    shot_page.wait_for_function(JS_IMAGES_READY, arg=len(sessions))
    shot_page.wait_for_function(JS_PLOT_DRAWN)
    shot_page.wait_for_function(
        "() => (document.querySelector('#pmm-plot .js-plotly-plot').layout.shapes || []).length > 0"
    )
    shot_page.wait_for_function(
        """(n) => {
            const cells = [...document.querySelectorAll('.pmm-run-strip .pmm-strip-cell img')];
            return cells.length >= n && cells.every(i => i.complete && i.naturalWidth > 0);
        }""",
        arg=len(sessions),
    )
    assert f"run {run}" in shot_page.locator("#pmm-run-info").inner_text()
    save(shot_page, "map-selected.png", full_page=True)


def test_map_without_images(shot_page: Any) -> None:
    shot_page.goto("/map/public/noimages")
    shot_page.wait_for_function(JS_IMAGES_READY, arg=3)
    shot_page.wait_for_function(JS_PLOT_DRAWN)
    assert shot_page.locator("text=No images for this session").count() >= 1
    save(shot_page, "map-noimages.png")


def test_pool_page(shot_page: Any) -> None:
    shot_page.goto("/pool")
    shot_page.wait_for_function(JS_POOL_DRAWN)
    names = shot_page.evaluate("""() => document.querySelector('#pmm-pool-figure .js-plotly-plot').data
        .filter(t => t.mode === 'lines+markers' && t.type !== 'scattergl').map(t => t.name)""")
    assert {"control", "treatment"} <= {n.split(" (")[0] for n in names}, names
    save(shot_page, "pool.png", full_page=True)


def test_map_page_in_edit_mode(shot_page: Any, site: tuple[str, Path]) -> None:
    """The edit toolbar with the edit mode on, a selected spine marked bad: one unsaved change."""
    _log_in(shot_page)
    sessions = [int(s) for s in SHOWN.split(",")]
    run = _run_in_sessions(site[1] / EDITOR / "spines", sessions)
    shot_page.goto(f"/map/{EDITOR}/spines?s={SHOWN}")
    shot_page.wait_for_function(JS_IMAGES_READY, arg=len(sessions))
    shot_page.wait_for_function(JS_PLOT_DRAWN)
    shot_page.wait_for_function("() => pmm.edit.get().cfg !== null && pmm.edit.idle()")
    shot_page.locator("#pmm-edit-toggle").click()
    shot_page.wait_for_function("() => pmm.edit.get().on")
    shot_page.evaluate("(run) => pmm.state.select(run, {source: 'image', session: 1}, {kind: 'select'})", run)
    shot_page.wait_for_function("(run) => pmm.edit.selected() && pmm.edit.selected().session === 1", arg=run)
    shot_page.evaluate("() => document.activeElement && document.activeElement.blur && document.activeElement.blur()")
    shot_page.keyboard.press("b")
    shot_page.wait_for_function(
        "() => pmm.edit.idle() && document.getElementById('pmm-edit-status').getAttribute('data-unsaved') === '1'"
    )
    shot_page.wait_for_function(JS_PLOT_DRAWN)
    assert "marked bad" in shot_page.inner_text("#pmm-edit-message")
    assert shot_page.inner_text("#pmm-edit-toggle") == "Editing"
    save(shot_page, "map-edit.png")


def _log_in(page: Any) -> None:
    log_in(page, EDITOR, EDITOR_PASSWORD)


def test_login_page(shot_page: Any) -> None:
    shot_page.goto("/login")
    shot_page.wait_for_selector("#pmm-login-form")
    save(shot_page, "login.png")


def test_my_maps_page(shot_page: Any) -> None:
    """The editor's own maps, the upload box and the API tokens."""
    _log_in(shot_page)
    shot_page.goto("/my-maps")
    shot_page.wait_for_selector(".pmm-mymaps-table :text('spines')")
    shot_page.wait_for_selector("#pmm-upload-dashboard .uppy-Dashboard")
    save(shot_page, "my-maps.png", full_page=True)
