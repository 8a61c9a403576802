"""Login, logout, My maps and the Groups page in a real Chromium.

A user logs in through the form (a wrong password first: the page says so), sees their
own maps on My maps (and not another user's), uploads a small zipped map through Uppy and
sees it listed, logs out; an admin creates a group and adds a member on the Groups page.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest

from pymapmanager.synthetic.maps import generate_map

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def accounts(data_dir: Path, base_url: str) -> dict[str, str]:
    """``lena`` (a user with the map ``lena/lmap``), ``otto`` (with ``otto/omap``), ``boss`` (admin)."""
    from app.auth.users import create_user, get_user
    from app.config import Settings
    from app.db import DB_KEY, session_scope
    from app.factory import create_app

    app = create_app(Settings(data_dir=data_dir, secret_key="test", create_demo=False))
    with app.server.app_context(), session_scope(app.server.extensions[DB_KEY]) as db:
        for name, admin in (("lena", False), ("otto", False), ("boss", True)):
            if get_user(db, name) is None:
                create_user(db, name, PASSWORD, admin=admin, cheap_hash=True)
    for owner, name in (("lena", "lmap"), ("otto", "omap")):
        if not (data_dir / owner / name).exists():
            generate_map(data_dir / owner, name=name, sessions=2, channels=1, shape=(3, 40, 48), seed=7, images=False)
    return {"user": "lena", "other": "otto", "admin": "boss"}


def _login(page: Any, name: str, password: str) -> None:
    page.fill("#pmm-login-username", name)
    page.fill("#pmm-login-password", password)
    page.click("#pmm-login-form button[type=submit]")


def test_login_wrong_password_my_maps_upload_logout(page: Any, accounts: dict[str, str], tmp_path: Path,
                                                    data_dir: Path) -> None:  # fmt: skip
    page.goto("/my-maps")
    page.wait_for_selector("#pmm-mymaps-notice :text('Log in to see and manage your maps')")
    page.click("#pmm-nav-user a:text('Log in')")
    page.wait_for_selector("#pmm-login-form")
    _login(page, "lena", "not her password")
    page.wait_for_selector("#pmm-login-message:text('Wrong user name or password.')")
    assert "/login" in page.url
    _login(page, "lena", PASSWORD)
    page.wait_for_url(lambda url: "/login" not in url)
    page.wait_for_selector("#pmm-nav-user :text('lena')")
    page.goto("/my-maps")
    page.wait_for_selector("#pmm-mymaps-list :text('lmap')")
    assert "omap" not in page.inner_text("#pmm-mymaps-list")
    assert page.locator("#pmm-nav-user a:text('Groups')").count() == 0  # not an admin

    # a small zipped map through Uppy: it is imported and listed
    src = generate_map(tmp_path, name="lzip", sessions=2, channels=1, shape=(3, 40, 48), seed=8)
    zpath = tmp_path / "lzip.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                zf.write(p, f"lzip/{p.relative_to(src).as_posix()}")
    page.wait_for_selector("#pmm-upload-dashboard .uppy-Dashboard")
    page.wait_for_function("() => window.pmmUppy && window.pmmUppy.getPlugin('Tus').opts.endpoint.endsWith('/uploads/lena')")
    page.set_input_files("#pmm-upload-dashboard input[type=file]:not([webkitdirectory])", str(zpath))
    page.click(".uppy-StatusBar-actionBtn--upload")
    page.wait_for_selector("#pmm-upload-result :text('imported as lena/lzip')", timeout=30_000)
    page.wait_for_selector("#pmm-mymaps-list :text('lzip')")
    assert (data_dir / "lena" / "lzip" / "lzip.txt").is_file()

    # log out: the session is gone
    page.click("#pmm-nav-user button:text('Log out')")
    page.wait_for_selector("#pmm-nav-user a:text('Log in')")
    page.goto("/my-maps")
    page.wait_for_selector("#pmm-mymaps-notice :text('Log in to see and manage your maps')")
    assert page.request.get("/auth/whoami").status == 401  # the context's cookies, outside the page


def test_admin_manages_groups(page: Any, accounts: dict[str, str]) -> None:
    page.goto("/login?next=/groups")
    _login(page, "boss", PASSWORD)
    page.wait_for_url(lambda url: url.endswith("/groups"))
    page.wait_for_selector("#pmm-nav-user a:text('Groups')")
    page.fill("#pmm-groups-new-name", "imaging")
    page.click("#pmm-groups-create")
    page.wait_for_selector("#pmm-groups-status :text('group imaging created')")
    page.wait_for_selector("#pmm-groups-list tr[title=imaging]")
    # add lena: pick the group and the user in the dropdowns
    page.click("#pmm-groups-member-group")
    page.get_by_role("option", name="imaging", exact=True).click()
    page.click("#pmm-groups-member-user")
    page.get_by_role("option", name="lena", exact=True).click()
    page.click("#pmm-groups-member-add")
    page.wait_for_selector("#pmm-groups-status :text('lena is in imaging')")
    page.wait_for_selector("#pmm-groups-list tr[title=imaging] .pmm-groups-member:text('lena')")
    page.click("#pmm-groups-list tr[title=imaging] .pmm-groups-member button")
    page.wait_for_selector("#pmm-groups-status :text('lena is no longer in imaging')")
    page.wait_for_selector("#pmm-groups-list tr[title=imaging] :text('no members')")
