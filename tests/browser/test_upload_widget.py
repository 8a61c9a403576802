"""The upload widget of My maps in a real Chromium: Uppy (vendored) over our tus endpoint.

A user logs in, drops a zipped map and then a map folder into Uppy's dashboard, presses
upload, and sees each map imported (and a map that is not valid refused, file by file).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pymapmanager.synthetic.maps import generate_map
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser

USER, PASSWORD = "uploader", "correct horse battery staple"


@pytest.fixture(scope="module")
def uploader(data_dir: Path, base_url: str) -> str:
    """A user account on the session's server (same DATA_DIR, so the same database)."""
    from app.auth.users import create_user, get_user
    from app.config import Settings
    from app.db import DB_KEY, session_scope
    from app.factory import create_app

    app = create_app(Settings(data_dir=data_dir, secret_key="test", create_demo=False))
    with app.server.app_context(), session_scope(app.server.extensions[DB_KEY]) as db:
        if get_user(db, USER) is None:
            create_user(db, USER, PASSWORD, cheap_hash=True)
    return USER


def _login(page: Any) -> None:
    log_in(page, USER, PASSWORD)


def _ready(page: Any) -> None:
    page.goto("/my-maps")
    page.wait_for_selector("#pmm-upload-dashboard .uppy-Dashboard")
    page.wait_for_function(
        "() => window.pmmUppy && window.pmmUppy.getPlugin('Tus').opts.endpoint.endsWith('/uploads/uploader')"
    )


def _upload(page: Any) -> None:
    page.click(".uppy-StatusBar-actionBtn--upload")


def test_upload_a_zip_and_a_folder(page: Any, uploader: str, data_dir: Path, tmp_path: Path) -> None:
    src = generate_map(tmp_path, name="web_zip", sessions=2, channels=1, shape=(3, 40, 48), seed=4)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                zf.write(p, f"web_zip/{p.relative_to(src).as_posix()}")
    zpath = tmp_path / "web_zip.zip"
    zpath.write_bytes(buf.getvalue())
    _login(page)
    _ready(page)
    page.set_input_files("#pmm-upload-dashboard input[type=file]:not([webkitdirectory])", str(zpath))
    _upload(page)
    page.wait_for_selector("#pmm-upload-result :text('imported as uploader/web_zip')")
    assert (data_dir / "uploader" / "web_zip" / "web_zip.txt").is_file()
    # the maps list is refreshed
    page.wait_for_selector("#pmm-mymaps-list :text('web_zip')")

    # a map folder picked with the folder dialog: one tus upload per file, one import
    folder = generate_map(tmp_path / "f", name="web_folder", sessions=2, channels=1, shape=(3, 40, 48), seed=5)
    page.evaluate("() => window.pmmUppy.cancelAll()")
    page.set_input_files("#pmm-upload-dashboard input[type=file][webkitdirectory]", str(folder))
    _upload(page)
    page.wait_for_selector("#pmm-upload-result :text('imported as uploader/web_folder')")
    got = data_dir / "uploader" / "web_folder"
    assert {p.relative_to(got) for p in got.rglob("*")} == {p.relative_to(folder) for p in folder.rglob("*")}


@pytest.fixture
def page_400(browser: Any, base_url: str) -> Iterator[Any]:
    """A page whose expected 400 (the refused import) is not counted as a page error."""
    from tests.browser.conftest import VIEWPORT

    context = browser.new_context(viewport=VIEWPORT, base_url=base_url)
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert not errors, errors


def test_an_invalid_map_is_refused_file_by_file(page_400: Any, uploader: str, data_dir: Path, tmp_path: Path) -> None:
    page = page_400
    src = generate_map(tmp_path, name="web_bad", sessions=2, channels=1, shape=(3, 40, 48), seed=6, images=False)
    (src / "web_bad_objMap.txt").unlink()
    zpath = tmp_path / "web_bad.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                zf.write(p, f"web_bad/{p.relative_to(src).as_posix()}")
    _login(page)
    _ready(page)
    page.set_input_files("#pmm-upload-dashboard input[type=file]:not([webkitdirectory])", str(zpath))
    _upload(page)
    page.wait_for_selector("#pmm-upload-result li:text('web_bad_objMap.txt: file is missing')")
    assert not (data_dir / "uploader" / "web_bad").exists()
