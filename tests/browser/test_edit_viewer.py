"""Editing a map in the map viewer (issue 9), in a real Chromium against the real server.

Users ``ed_alice`` (owns the maps ``ed_alice/*``) and ``ed_bob`` (in a group that may edit
them) log in through the login page. Each test edits its own small generated map. Every wait
is for a condition (the server's answer drawn, the indicator's count, a message), never a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pymapmanager import load_map
from pymapmanager.synthetic.maps import generate_map
from tests.browser.conftest import VIEWPORT, log_in

pytestmark = pytest.mark.browser

PASSWORDS = {"ed_alice": "alice edits spines 1", "ed_bob": "bob edits spines 22"}
GROUP = "ed_editors"
SESSIONS = 3


@pytest.fixture(scope="module")
def editors(data_dir: Path, base_url: str) -> Path:
    """The two users and the group of editors, in the session server's database."""
    from app.auth import users
    from app.config import Settings
    from app.db import DB_KEY, session_scope
    from app.factory import create_app

    app = create_app(Settings(data_dir=data_dir, secret_key="test", create_demo=False))
    with app.server.app_context(), session_scope(app.server.extensions[DB_KEY]) as db:
        for name, pw in PASSWORDS.items():
            if users.get_user(db, name) is None:
                users.create_user(db, name, pw, cheap_hash=True)
        if users.get_group(db, GROUP) is None:
            users.create_group(db, GROUP)
            users.add_member(db, GROUP, "ed_bob")
    return data_dir


def new_map(data_dir: Path, name: str, seed: int) -> Path:
    """A map ``ed_alice/<name>`` that ed_bob's group may edit too."""
    from sqlalchemy import select

    from app.config import Settings
    from app.db import DB_KEY, session_scope
    from app.db.models import Group, MapRecord, MapShare
    from app.factory import create_app

    folder = generate_map(data_dir / "ed_alice", name=name, sessions=SESSIONS, channels=1, shape=(6, 128, 128),
                          seed=seed, segments=1, spines_per_segment=6)  # fmt: skip
    app = create_app(Settings(data_dir=data_dir, secret_key="test", create_demo=False))
    with app.server.app_context(), session_scope(app.server.extensions[DB_KEY]) as db:
        rec = MapRecord(owner="ed_alice", name=name, public=False)
        db.add(rec)
        db.flush()
        group = db.scalar(select(Group).where(Group.name == GROUP))
        assert group is not None
        db.add(MapShare(map_id=rec.id, group_id=group.id, level="edit"))
    return folder


@pytest.fixture
def other_page(browser: Any, base_url: str) -> Iterator[Any]:
    """A second browser context (another user), failing the test on page errors."""
    context = browser.new_context(viewport=VIEWPORT, base_url=base_url)
    context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert not errors, errors


# --------------------------------------------------------------------------- helpers


def login(page: Any, user: str) -> None:
    # the machine may be busy: generous limits (every wait is for a condition)
    page.set_default_timeout(60_000)
    log_in(page, user, PASSWORDS[user])


def open_map(page: Any, name: str, editing: bool = True) -> None:
    """The map page with every session, its spines drawn; the edit mode on."""
    page.goto(f"/map/ed_alice/{name}?s=0,1,2")
    page.wait_for_function(
        """(n) => window.pmm && pmm.state.get().sessions.length === n &&
                  pmm.state.get().sessions.every((s) => pmm.spines.markers(s).size > 0)""",
        arg=SESSIONS,
    )
    page.wait_for_function("() => pmm.edit.get().cfg !== null && pmm.edit.idle()")
    page.wait_for_function(f"() => ({PLOT_COUNT})(0) > 0")
    page.wait_for_selector("#pmm-edit-toggle", state="visible")
    if editing:
        press(page, "e")
        page.wait_for_function("() => pmm.edit.get().on")


def press(page: Any, key: str) -> None:
    """A key to the viewers (the mouse over the first one, nothing focused)."""
    page.evaluate(
        "() => document.activeElement && document.activeElement.blur && document.activeElement.blur()"
    )
    page.keyboard.press(key)


def unsaved(page: Any) -> int:
    return int(page.get_attribute("#pmm-edit-status", "data-unsaved") or 0)


def wait_unsaved(page: Any, n: int) -> None:
    """The server's answer is in and drawn: n unsaved edits, nothing in flight."""
    page.wait_for_function(
        "(n) => pmm.edit.idle() && pmm.edit.get().status.unsaved === n &&"
        " document.getElementById('pmm-edit-status').getAttribute('data-unsaved') === String(n)",
        arg=n,
    )


JS_FEATURE = """([s, row]) => {
    let hit = null;
    pmm.spines.markers(s).forEach((m) => {
        const p = m.feature.properties;
        if (!p.ghost && p.row === row) { hit = m; }
    });
    if (!hit) { return null; }
    const ll = hit.getLatLng();
    return Object.assign({}, hit.feature.properties, {lat: ll.lat, lng: ll.lng});
}"""

PLOT_COUNT = """(s) => { const gd = document.querySelector('#pmm-plot .js-plotly-plot'); let n = 0;
    if (!gd) { return 0; }  // the viewers can be drawn before the plot
    (gd.data || []).forEach((t) => { (t.customdata || []).forEach((c) => { if (c && c[1] === s) n++; }); });
    return n; }"""

JS_COUNT = "(s) => { let n = 0; pmm.spines.markers(s).forEach((m) => { if (!m.feature.properties.ghost) n++; }); return n; }"

# the page position of a spine, shown at its plane; null when another marker covers it
JS_POINT = """([s, row]) => {
    let hit = null;
    pmm.spines.markers(s).forEach((m) => {
        const p = m.feature.properties;
        if (!p.ghost && p.row === row) { hit = m; }
    });
    if (!hit) { return null; }
    const map = pmm.layers.map(s);
    if (pmm.state.zOf(s) !== hit.feature.properties.z) { pmm.state.goTo(s, hit.feature.properties.z, {kind: "test"}); }
    const p = map.latLngToContainerPoint(hit.getLatLng());
    const r = map.getContainer().getBoundingClientRect();
    const x = r.left + p.x, y = r.top + p.y;
    const el = document.elementFromPoint(x, y);
    return {x: x, y: y, top: el === hit.getElement()};
}"""


def rows_of(page: Any, s: int) -> list[int]:
    rows: list[int] = page.evaluate(
        "(s) => { const r = []; pmm.spines.markers(s).forEach((m) => { if (!m.feature.properties.ghost) r.push(m.feature.properties.row); }); return r; }",
        s,
    )
    return rows


def feature(page: Any, s: int, row: int) -> dict[str, Any] | None:
    result: dict[str, Any] | None = page.evaluate(JS_FEATURE, [s, row])
    return result


def count(page: Any, s: int) -> int:
    return int(page.evaluate(JS_COUNT, s))


def point(page: Any, s: int, row: int) -> dict[str, Any]:
    """Where to click spine (s, row): at its plane, not covered by another marker."""
    page.evaluate(JS_POINT, [s, row])
    page.wait_for_function(
        f"""() => {{ let ok = false; pmm.spines.markers({s}).forEach((m) => {{
            const p = m.feature.properties, el = m.getElement();
            if (!p.ghost && p.row === {row} && el && el.style.display !== 'none') ok = true; }}); return ok; }}"""
    )
    result: dict[str, Any] = page.evaluate(JS_POINT, [s, row])
    return result


def clickable_rows(page: Any, s: int, n: int) -> list[int]:
    """n rows of session s whose markers can be clicked (no other marker on top)."""
    rows = page.evaluate(
        "(s) => { const r = []; pmm.spines.markers(s).forEach((m) => { if (!m.feature.properties.ghost) r.push(m.feature.properties.row); }); return r.sort((a, b) => a - b); }",
        s,
    )
    out = []
    for row in rows:
        if point(page, s, row)["top"]:
            out.append(row)
        if len(out) == n:
            return out
    raise AssertionError(f"fewer than {n} clickable spines in session {s}")


def click(page: Any, x: float, y: float, modifiers: list[str]) -> None:
    """A mouse click with modifier keys held."""
    for k in modifiers:
        page.keyboard.down(k)
    page.mouse.click(x, y)
    for k in reversed(modifiers):
        page.keyboard.up(k)


def select(page: Any, s: int, row: int, modifiers: list[str] | None = None) -> None:
    """Click spine (s, row): selects its run in that session (Alt: picks it)."""
    p = point(page, s, row)
    if p["top"]:
        click(page, p["x"], p["y"], modifiers or [])
    else:  # another marker lies on top (a moved one): select it the way a click does
        assert not modifiers, f"spine {s}/{row} is covered"
        run = feature(page, s, row)["run"]  # type: ignore[index]
        page.evaluate(
            "([run, s]) => pmm.state.select(run, {source: 'image', session: s}, {kind: 'select'})",
            [run, s],
        )
    if not modifiers:
        run = feature(page, s, row)["run"]  # type: ignore[index]
        page.wait_for_function(
            "([run, s]) => pmm.state.get().run === run && pmm.state.get().runSession === s",
            arg=[run, s],
        )


def message(page: Any) -> tuple[str, str]:
    box = page.locator("#pmm-edit-message")
    return str(box.get_attribute("data-kind") or ""), box.inner_text()


def wait_message(page: Any, kind: str) -> str:
    page.wait_for_function(
        "(k) => { const b = document.getElementById('pmm-edit-message'); return b && !b.hidden && b.getAttribute('data-kind') === k; }",
        arg=kind,
    )
    return str(message(page)[1])


def plot_points(page: Any, session: int) -> int:
    """Points of the plot (x pDist, y session) in one session."""
    n: int = page.evaluate(
        """(s) => { const gd = document.querySelector('#pmm-plot .js-plotly-plot'); let n = 0;
            (gd.data || []).forEach((t) => { (t.customdata || []).forEach((c) => { if (c && c[1] === s) n++; }); });
            return n; }""",
        session,
    )
    return n


def row_values(folder: Path, session: int, row: int, *cols: str) -> list[Any]:
    m = load_map(folder)
    t = m.db2[session].data
    return [t[c][row] if c in t else None for c in cols]


# --------------------------------------------------------------------------- tests


def test_only_editors_see_the_edit_toolbar(page: Any, editors: Path) -> None:
    new_map(editors, "ro_check", seed=40)
    page.set_default_timeout(60_000)
    page.goto("/map/public/demo?s=0,1")
    page.wait_for_function("() => window.pmm && pmm.state.get().sessions.length === 2")
    assert not page.is_visible("#pmm-edit-toggle")
    press(page, "e")
    assert page.evaluate("() => pmm.edit.get().on") is False
    login(page, "ed_alice")
    open_map(page, "ro_check", editing=False)
    assert page.inner_text("#pmm-edit-status") == "no unsaved changes"
    # the help lists the edit keys
    press(page, "?")
    help_text = page.inner_text(".pmm-help")
    for text in ("edit mode on/off", "bad on/off", "Alt + click", "Shift + click", "Ctrl/⌘"):
        assert text in help_text, text


def test_each_edit_undo_redo_save_and_reload(page: Any, editors: Path) -> None:
    folder = new_map(editors, "single", seed=41)
    login(page, "ed_alice")
    open_map(page, "single")
    r1, r2 = clickable_rows(page, 1, 2)
    plotted = plot_points(page, 1)
    good = page.evaluate(
        "(s) => { let n = 0; pmm.spines.markers(s).forEach((m) => { const p = m.feature.properties; if (!p.ghost && !p.bad) n++; }); return n; }",
        1,
    )
    assert plotted == good

    # b: bad, in the viewer at once and in the plot (which leaves bad spines out)
    select(page, 1, r1)
    press(page, "b")
    wait_unsaved(page, 1)
    assert feature(page, 1, r1)["bad"] is True  # type: ignore[index]
    page.wait_for_function("([s, n]) => (" + PLOT_COUNT + ")(s) === n", arg=[1, plotted - 1])

    # undo and redo (Ctrl+Z, Ctrl+Shift+Z)
    press(page, "Control+z")
    wait_unsaved(page, 0)
    assert feature(page, 1, r1)["bad"] is False  # type: ignore[index]
    page.wait_for_function("([s, n]) => (" + PLOT_COUNT + ")(s) === n", arg=[1, plotted])
    press(page, "Control+Shift+z")
    wait_unsaved(page, 1)
    assert feature(page, 1, r1)["bad"] is True  # type: ignore[index]

    # n: a note; t: a user type (a wrong value is refused in the dialog)
    press(page, "n")
    page.fill(".pmm-edit-dialog-input", "checked twice")
    page.keyboard.press("Enter")
    wait_unsaved(page, 2)
    press(page, "t")
    page.fill(".pmm-edit-dialog-input", "seven")
    page.keyboard.press("Enter")
    assert "whole number" in page.inner_text(".pmm-edit-dialog-error")
    page.fill(".pmm-edit-dialog-input", "7")
    page.keyboard.press("Enter")
    wait_unsaved(page, 3)

    # drag: the spine moves
    before = feature(page, 1, r2)
    p = point(page, 1, r2)
    page.mouse.move(p["x"], p["y"])
    page.mouse.down()
    page.mouse.move(p["x"] + 8, p["y"] + 3, steps=4)
    page.mouse.move(p["x"] + 16, p["y"] + 6, steps=4)
    page.mouse.up()
    wait_unsaved(page, 4)
    after = feature(page, 1, r2)
    assert after is not None and before is not None
    assert after["lng"] > before["lng"] + 2 and after["lat"] < before["lat"] - 0.5

    # Shift+click: a new spine on this plane, selected
    n1 = count(page, 1)
    rows_before = set(rows_of(page, 1))
    box = page.locator(".pmm-viewer[data-session='1'] .leaflet-container").bounding_box()
    click(page, box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.15, ["Shift"])
    wait_unsaved(page, 5)
    assert count(page, 1) == n1 + 1
    (new_row,) = set(rows_of(page, 1)) - rows_before
    added = feature(page, 1, new_row)
    assert added is not None and added["z"] == page.evaluate("() => pmm.state.zOf(1)")
    page.wait_for_function(f"() => pmm.state.get().run === {added['run']}")

    # Delete: the selected (new) spine goes
    press(page, "Delete")
    wait_unsaved(page, 6)
    assert count(page, 1) == n1
    assert feature(page, 1, new_row) is None

    # x: disconnect r1 from session 2, then c: connect it again (Alt+click picks the partner)
    run = feature(page, 1, r1)["run"]  # type: ignore[index]
    partner = page.evaluate(
        "([run]) => { let r = null; pmm.spines.markers(2).forEach((m) => { const p = m.feature.properties; if (!p.ghost && p.run === run) r = p.row; }); return r; }",
        [run],
    )
    assert partner is not None, "the generated map links the spine to the next session"
    select(page, 1, r1)
    press(page, "x")
    wait_unsaved(page, 7)
    assert feature(page, 1, r1)["run"] != feature(page, 2, partner)["run"]  # type: ignore[index]
    select(page, 1, r1)
    select(page, 2, partner, modifiers=["Alt"])
    page.wait_for_function("() => pmm.edit.get().pick !== null")
    press(page, "c")
    wait_unsaved(page, 8)
    assert feature(page, 1, r1)["run"] == feature(page, 2, partner)["run"]  # type: ignore[index]

    # Ctrl+S: saved to the files
    press(page, "Control+s")
    assert "Saved" in wait_message(page, "success")
    wait_unsaved(page, 0)
    bad, note, utype = row_values(folder, 1, r1, "isBad", "note", "userType")
    assert float(bad) == 1 and note == "checked twice" and float(utype) == 7
    m = load_map(folder)
    assert new_row == len(m.db2[1])  # the added spine was deleted again

    # a reload shows the saved map, with nothing unsaved
    page.reload()
    open_map(page, "single", editing=False)
    assert unsaved(page) == 0
    assert feature(page, 1, r1)["bad"] is True  # type: ignore[index]
    moved = feature(page, 1, r2)
    assert moved is not None and abs(moved["lng"] - after["lng"]) < 1.5


def test_unsaved_edits_survive_a_reload_and_leaving_asks_first(page: Any, editors: Path) -> None:
    new_map(editors, "reload", seed=42)
    login(page, "ed_alice")
    open_map(page, "reload")
    (r,) = clickable_rows(page, 0, 1)
    select(page, 0, r)
    press(page, "b")
    wait_unsaved(page, 1)
    dialogs: list[str] = []

    def on_dialog(d: Any) -> None:
        dialogs.append(d.type)
        d.accept()

    page.on("dialog", on_dialog)
    page.reload()
    assert dialogs == ["beforeunload"]
    open_map(page, "reload", editing=False)
    # the log is the server's: the unsaved edit is shown over the saved map
    wait_unsaved(page, 1)
    page.wait_for_function(f"() => ({JS_FEATURE})([0, {r}]).bad === true")
    assert "unsaved" in page.inner_text("#pmm-edit-status")
    # Discard: back to the saved map
    page.click("#pmm-edit-discard")
    wait_unsaved(page, 0)
    page.wait_for_function(f"() => ({JS_FEATURE})([0, {r}]).bad === false")


def test_history_lists_versions_and_restores_one(page: Any, editors: Path) -> None:
    folder = new_map(editors, "history", seed=43)
    login(page, "ed_alice")
    open_map(page, "history")
    r1, r2 = clickable_rows(page, 2, 2)
    for r in (r1, r2):
        select(page, 2, r)
        press(page, "b")
        wait_unsaved(page, 1)
        press(page, "Control+s")
        wait_message(page, "success")
        wait_unsaved(page, 0)
    assert [float(row_values(folder, 2, r, "isBad")[0] or 0) for r in (r1, r2)] == [1, 1]
    page.click("#pmm-edit-history-open")
    page.wait_for_selector("#pmm-edit-history .pmm-edit-version")
    versions = page.locator("#pmm-edit-history .pmm-edit-version")
    n_versions = versions.count()
    assert n_versions >= 2
    assert "bad" in versions.nth(0).inner_text().lower()
    # restore the version before the last save: r2 is good again, r1 still bad
    versions.nth(1).locator(".pmm-edit-restore").click()
    page.wait_for_function(
        "() => document.getElementById('pmm-edit-message').textContent.indexOf('Restored') >= 0"
    )
    assert message(page)[0] == "success"
    page.wait_for_function(f"() => ({JS_FEATURE})([2, {r2}]).bad === false")
    assert feature(page, 2, r1)["bad"] is True  # type: ignore[index]
    assert float(row_values(folder, 2, r2, "isBad")[0] or 0) == 0
    assert float(row_values(folder, 2, r1, "isBad")[0] or 0) == 1
    # the restore is a new version on top; nothing was deleted
    page.wait_for_function(
        "(n) => document.querySelectorAll('#pmm-edit-history .pmm-edit-version').length === n",
        arg=n_versions + 1,
    )
    assert "restore" in versions.nth(0).inner_text().lower()


def test_two_editors_merge_and_conflict(page: Any, other_page: Any, editors: Path) -> None:
    folder = new_map(editors, "two", seed=44)
    alice, bob = page, other_page
    login(alice, "ed_alice")
    login(bob, "ed_bob")
    open_map(alice, "two")
    open_map(bob, "two")
    ra, rb, rc = clickable_rows(alice, 0, 3)

    # different objects: Bob's save is applied on top of Alice's, and says so
    select(alice, 0, ra)
    press(alice, "b")
    wait_unsaved(alice, 1)
    select(bob, 0, rb)
    press(bob, "b")
    wait_unsaved(bob, 1)
    # each sees the other editing
    alice.evaluate("() => pmm.edit.refresh()")
    alice.wait_for_function(
        "() => document.getElementById('pmm-edit-others').textContent.indexOf('ed_bob') >= 0"
    )
    press(alice, "Control+s")
    wait_message(alice, "success")
    press(bob, "Control+s")
    text = wait_message(bob, "info")
    assert bob.get_attribute("#pmm-edit-message", "data-merged") == "1", text
    assert "Saved" in text
    wait_unsaved(bob, 0)
    assert [float(row_values(folder, 0, r, "isBad")[0] or 0) for r in (ra, rb)] == [1, 1]
    # Bob's viewers show Alice's change too
    bob.wait_for_function(f"() => ({JS_FEATURE})([0, {ra}]).bad === true")

    # the same object: the second save is refused, naming it; nothing is overwritten
    alice.evaluate("() => pmm.edit.refresh()")
    select(alice, 0, rc)
    press(alice, "b")
    wait_unsaved(alice, 1)
    select(bob, 0, rc)
    press(bob, "n")
    bob.fill(".pmm-edit-dialog-input", "bob's note")
    bob.keyboard.press("Enter")
    wait_unsaved(bob, 1)
    press(alice, "Control+s")
    wait_message(alice, "success")
    press(bob, "Control+s")
    text = wait_message(bob, "danger")
    assert f"session 0 row {rc}" in text and "Not saved" in text
    assert [0, rc] in __import__("json").loads(
        bob.get_attribute("#pmm-edit-message", "data-conflicts")
    )
    assert bob.is_visible(".pmm-edit-reload")
    assert unsaved(bob) == 1
    bad, note = row_values(folder, 0, rc, "isBad", "note")
    assert float(bad or 0) == 1 and note != "bob's note"
    # reload keeping my edits: the edit is still in Bob's log
    bob.on("dialog", lambda d: d.accept())
    bob.click(".pmm-edit-reload")
    open_map(bob, "two", editing=False)
    wait_unsaved(bob, 1)


# --------------------------------------------------------------------------- the plot at once

PLOT_SNAPSHOT = """() => { const gd = document.querySelector('#pmm-plot .js-plotly-plot');
    return (gd.data || []).map((t) => ({name: t.name || null, x: Array.from(t.x || []), y: Array.from(t.y || []),
        cd: t.customdata ? t.customdata.map((c) => [c[0], c[1]]) : null,
        sym: t.marker && Array.isArray(t.marker.symbol) ? Array.from(t.marker.symbol) : null,
        tpl: t.hovertemplate || null})); }"""

PLOT_POINT = """([run, s]) => { const gd = document.querySelector('#pmm-plot .js-plotly-plot');
    for (const t of gd.data.slice(1)) { const cd = t.customdata || [];
        for (let j = 0; j < cd.length; j++) { if (cd[j][0] === run && cd[j][1] === s) {
            return {name: t.name, x: t.x[j], y: t.y[j], symbol: t.marker.symbol[j]}; } } }
    return null; }"""

MEASURES = "(name) => performance.getEntriesByName('pmm:' + name).length"


class HeldEdits:
    """Holds the page's POSTs of edits (the server does not answer) until released."""

    def __init__(self, page: Any) -> None:
        self.routes: list[Any] = []
        page.route(re.compile(r"/edits(\?.*)?$"), self._route)

    def _route(self, route: Any) -> None:
        if route.request.method == "POST":
            self.routes.append(route)
        else:
            route.continue_()

    def release(self) -> None:
        routes, self.routes = self.routes, []
        for r in routes:
            r.continue_()


class HeldPlot(HeldEdits):
    """Holds Dash's requests for the plot's figure (the server's figure is not drawn) until released."""

    def __init__(self, page: Any) -> None:
        self.routes = []
        page.route(re.compile(r"/_dash-update-component(\?.*)?$"), self._route)

    def _route(self, route: Any) -> None:
        if "pmm-plot.figure" in (route.request.post_data or ""):
            self.routes.append(route)
        else:
            route.continue_()


def plot_point(page: Any, run: int, s: int) -> dict[str, Any] | None:
    result: dict[str, Any] | None = page.evaluate(PLOT_POINT, [run, s])
    return result


def edit_and_compare(page: Any, held: HeldEdits, key: str, shown: str, n_unsaved: int) -> list[Any]:
    """Press `key` with the edit held: the plot shows it (`shown`: a JS condition) before the
    server answers; then the server's figure lands and equals what the page drew itself."""
    before = page.evaluate(MEASURES, "edit-plot-server")
    shown_before = page.evaluate(MEASURES, "edit-plot")
    press(page, key)
    page.wait_for_function(shown)
    page.wait_for_function(f"(n) => ({MEASURES})('edit-plot') > n", arg=shown_before)
    assert len(held.routes) == 1 and unsaved(page) == n_unsaved - 1  # the server has not answered
    local = page.evaluate(PLOT_SNAPSHOT)
    held.release()
    wait_unsaved(page, n_unsaved)
    page.wait_for_function(f"(n) => ({MEASURES})('edit-plot-server') > n", arg=before)
    page.wait_for_function("() => pmm.edit.idle()")
    server = page.evaluate(PLOT_SNAPSHOT)
    assert local == server
    return server


def test_the_plot_shows_an_edit_before_the_server_answers(page: Any, editors: Path) -> None:
    new_map(editors, "plotnow", seed=45)
    login(page, "ed_alice")
    open_map(page, "plotnow")
    held = HeldEdits(page)
    r1, r2 = clickable_rows(page, 1, 2)
    run1 = feature(page, 1, r1)["run"]  # type: ignore[index]
    run2 = feature(page, 1, r2)["run"]  # type: ignore[index]
    assert plot_point(page, run1, 1) is not None
    n1 = plot_points(page, 1)

    # b (include bad off): the point leaves the plot at once, its run's neighbours change
    # dynamics; the server's figure, when it lands, is the same figure
    select(page, 1, r1)
    edit_and_compare(page, held, "b", f"() => ({PLOT_POINT})([{run1}, 1]) === null", 1)
    assert plot_points(page, 1) == n1 - 1
    # b again: the point comes back (its pDist is known) before the server answers
    edit_and_compare(page, held, "b", f"() => ({PLOT_POINT})([{run1}, 1]) !== null", 2)
    assert plot_points(page, 1) == n1

    # include bad on: b draws the point as a cross instead
    page.click("#pmm-plot-bad")
    page.wait_for_function("() => pmm.edit.idle()")
    page.wait_for_function(
        "() => { const gd = document.querySelector('#pmm-plot .js-plotly-plot');"
        " return gd.data.some((t) => (t.marker && Array.isArray(t.marker.symbol) && t.marker.symbol.indexOf('x') >= 0)); }"
    )
    select(page, 1, r2)
    edit_and_compare(page, held, "b", f"() => {{ const p = ({PLOT_POINT})([{run2}, 1]); return p && p.symbol === 'x'; }}", 3)
    assert plot_point(page, run2, 1)["symbol"] == "x"  # type: ignore[index]

    # Delete: the point goes at once (the server renumbers the runs: its figure follows)
    n1 = plot_points(page, 1)
    press(page, "Delete")
    page.wait_for_function(f"() => ({PLOT_POINT})([{run2}, 1]) === null")
    assert len(held.routes) == 1
    assert plot_points(page, 1) == n1 - 1
    held.release()
    wait_unsaved(page, 4)
    page.wait_for_function("([s, n]) => (" + PLOT_COUNT + ")(s) === n", arg=[1, n1 - 1])


# Plotly.restyle held (the page's own restyle of the plot does not run) until released
HOLD_RESTYLE = """() => { window.__pmmHeld = []; window.__pmmRestyle = Plotly.restyle;
    Plotly.restyle = function () { const a = arguments;
        return new Promise((res, rej) => window.__pmmHeld.push(() => window.__pmmRestyle.apply(Plotly, a).then(res, rej))); }; }"""
RELEASE_RESTYLE = """() => { Plotly.restyle = window.__pmmRestyle; const h = window.__pmmHeld;
    window.__pmmHeld = []; h.forEach((f) => f()); return h.length; }"""


def changed_pixels(a: bytes, b: bytes) -> int:
    """How many pixels of two same-size screenshots differ (by more than 48 in a channel)."""
    import io

    from PIL import Image, ImageChops

    ia, ib = Image.open(io.BytesIO(a)).convert("RGB"), Image.open(io.BytesIO(b)).convert("RGB")
    assert ia.size == ib.size
    diff = ImageChops.difference(ia, ib).convert("L").point(lambda v: 255 if v > 48 else 0)
    return int(diff.histogram()[255])


def _one_spine_selected(page: Any, editors: Path, name: str, seed: int) -> tuple[HeldEdits, int]:
    """A new map opened by an editor, the server's answers to edits held, one spine of
    session 1 selected: the held edits and the spine's run."""
    new_map(editors, name, seed=seed)
    login(page, "ed_alice")
    open_map(page, name)
    held = HeldEdits(page)
    (r1,) = clickable_rows(page, 1, 1)
    run1 = feature(page, 1, r1)["run"]  # type: ignore[index]
    select(page, 1, r1)
    page.wait_for_function("() => pmm.edit.idle()")
    return held, int(run1)


def test_the_plot_paints_an_edit_before_plotly_restyles_it_and_plotly_paints_the_same(
    page: Any, editors: Path
) -> None:
    """The edit's points are painted by the plot's WebGL scene at once (quickDraw in
    75-pmm-edit.js), before Plotly.restyle has run; Plotly's own drawing, when it runs,
    is the same picture."""
    held, run1 = _one_spine_selected(page, editors, "quickdraw", seed=47)
    # the selection's rings are drawn from Plotly's data: not part of this comparison
    page.add_style_tag(content="svg.pmm-plot-selection { visibility: hidden; }")
    plot = page.locator("#pmm-plot .js-plotly-plot")
    shot0 = plot.screenshot()
    page.evaluate(HOLD_RESTYLE)
    shown = page.evaluate(MEASURES, "edit-plot")
    press(page, "b")
    page.wait_for_function(f"(n) => ({MEASURES})('edit-plot') > n", arg=shown)
    # painted, while Plotly's data still has the point (its restyle is held)
    assert plot_point(page, run1, 1) is not None
    assert page.evaluate("() => window.__pmmHeld.length") == 1
    shot1 = plot.screenshot()
    assert page.evaluate(RELEASE_RESTYLE) == 1
    page.wait_for_function(f"() => ({PLOT_POINT})([{run1}, 1]) === null")
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)))")
    shot2 = plot.screenshot()
    painted, after = changed_pixels(shot0, shot1), changed_pixels(shot1, shot2)
    # the edit changed the picture (the point gone, its run's line and neighbours redrawn);
    # Plotly's redraw of it is the same picture (pixel for pixel here; a few pixels of
    # anti-aliasing allowed)
    assert painted > 20, painted
    assert after <= 10, (painted, after)
    held.release()
    wait_unsaved(page, 1)


# the plot's WebGL canvas (its drawing buffer is kept): its pixels, to compare
CANVAS_READ = """() => { const gd = document.querySelector('#pmm-plot .js-plotly-plot');
    const gl = gd._fullLayout._plots.xy._scene.scatter2d.regl._gl;
    const px = new Uint8Array(gl.drawingBufferWidth * gl.drawingBufferHeight * 4);
    gl.readPixels(0, 0, gl.drawingBufferWidth, gl.drawingBufferHeight, gl.RGBA, gl.UNSIGNED_BYTE, px);
    (window.__pmmPixels = window.__pmmPixels || []).push(px); return window.__pmmPixels.length - 1; }"""
CANVAS_DIFF = """([i, j]) => { const a = window.__pmmPixels[i], b = window.__pmmPixels[j];
    let n = 0; for (let q = 0; q < a.length; q++) { if (a[q] !== b[q]) { n++; } } return n; }"""
# the whole scene drawn again, as Plotly draws it
CANVAS_REDRAW = """() => { const fl = document.querySelector('#pmm-plot .js-plotly-plot')._fullLayout;
    fl._glcanvas.each((d) => { if (d && d.regl) { d.regl.clear({color: true, depth: true}); } });
    fl._plots.xy._scene.draw(); }"""
# the boxes quickDraw drew again (PmmEditLogic.dirtyBoxes' answers)
SPY_BOXES = """() => { const f = PmmEditLogic.dirtyBoxes; window.__pmmBoxes = [];
    PmmEditLogic.dirtyBoxes = function () { const r = f.apply(this, arguments); window.__pmmBoxes.push(r); return r; }; }"""


def test_the_plot_draws_an_edit_again_only_around_its_points_and_that_is_the_whole_picture(
    page: Any, editors: Path
) -> None:
    """quickDraw clears and draws the plot's scene again only in boxes around the points
    the edit changes (the rest of the canvas is kept); the canvas is then, pixel for pixel,
    the whole scene drawn again, and Plotly's own drawing. b takes the point out of its
    group (a group smaller), b again puts it back (a group larger)."""
    held, run1 = _one_spine_selected(page, editors, "repaint", seed=48)
    plot_settled(page)
    page.evaluate(SPY_BOXES)
    for n, gone in ((1, True), (2, False)):
        page.evaluate(HOLD_RESTYLE)
        shown = page.evaluate(MEASURES, "edit-plot")
        press(page, "b")
        page.wait_for_function(f"(n) => ({MEASURES})('edit-plot') > n", arg=shown)
        boxes = page.evaluate("() => window.__pmmBoxes.pop()")
        assert boxes and 0 < len(boxes) <= 4, boxes
        quick = page.evaluate(CANVAS_READ)
        page.evaluate(CANVAS_REDRAW)
        whole = page.evaluate(CANVAS_READ)
        assert page.evaluate(CANVAS_DIFF, [quick, whole]) == 0
        assert page.evaluate(RELEASE_RESTYLE) == 1
        test = "=== null" if gone else "!== null"
        page.wait_for_function(f"() => ({PLOT_POINT})([{run1}, 1]) {test}")
        page.evaluate("() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)))")
        plotly = page.evaluate(CANVAS_READ)
        assert page.evaluate(CANVAS_DIFF, [whole, plotly]) == 0
        held.release()
        wait_unsaved(page, n)
        # the server's figure of the edits follows (the plot's callback): Plotly draws it
        # before the next round, not between its quick drawing and its reading
        plot_settled(page)


def plot_settled(page: Any) -> None:
    """No callback of the page in flight (the plot's figure from the server is in), twice
    0.3 s apart, and the edit mode idle."""
    quiet = "() => !document.querySelector('[data-dash-is-loading]') && pmm.edit.idle()"
    for _ in range(2):
        page.wait_for_function(quiet)
        page.wait_for_timeout(300)
    page.wait_for_function(quiet)


def test_note_and_user_type_dialogs_start_with_the_current_values(page: Any, editors: Path) -> None:
    new_map(editors, "dialogs", seed=46)
    login(page, "ed_alice")
    open_map(page, "dialogs")
    (r,) = clickable_rows(page, 0, 1)
    select(page, 0, r)
    press(page, "n")
    assert page.input_value(".pmm-edit-dialog-input") == ""
    page.fill(".pmm-edit-dialog-input", "thin neck")
    page.keyboard.press("Enter")
    press(page, "t")
    page.fill(".pmm-edit-dialog-input", "12")
    page.keyboard.press("Enter")
    wait_unsaved(page, 2)
    press(page, "n")
    assert page.input_value(".pmm-edit-dialog-input") == "thin neck"
    page.keyboard.press("Escape")
    press(page, "t")
    assert page.input_value(".pmm-edit-dialog-input") == "12"
    page.keyboard.press("Escape")
    assert page.locator(".pmm-edit-dialog").count() == 0
    # after a reload, from the server's working copy
    page.on("dialog", lambda d: d.accept())
    page.reload()
    open_map(page, "dialogs")
    wait_unsaved(page, 2)
    select(page, 0, r)
    press(page, "n")
    page.wait_for_selector(".pmm-edit-dialog-input")
    assert page.input_value(".pmm-edit-dialog-input") == "thin neck"
    page.keyboard.press("Escape")
    press(page, "t")
    page.wait_for_selector(".pmm-edit-dialog-input")
    assert page.input_value(".pmm-edit-dialog-input") == "12"


JS_RUNS = """async (s) => {
    const cfg = pmm.edit.get().cfg;
    const r = await fetch(cfg.api + '/sessions/' + s + '/annotations?edits=1', {credentials: 'same-origin'});
    const ann = await r.json();
    const server = {}; ann.objects.forEach((o) => { server[o.row] = o.run; });
    const shown = {}; pmm.spines.markers(s).forEach((m) => { const p = m.feature.properties; if (!p.ghost) shown[p.row] = p.run; });
    return [server, shown]; }"""


def test_an_added_spine_shows_in_the_plot_at_once_and_renumbers_every_viewer(page: Any, editors: Path) -> None:
    new_map(editors, "renumber", seed=47)
    login(page, "ed_alice")
    open_map(page, "renumber")
    before = {s: page.evaluate(JS_RUNS, s) for s in (1, 2)}
    assert all(server == shown for server, shown in before.values())
    # a spine added in session 0 starts a run before every run that starts later: the runs
    # of sessions 1 and 2 are numbered again, and their viewers show the new numbers
    held = HeldPlot(page)
    landed = page.evaluate(MEASURES, "edit-plot-server")
    rows = set(rows_of(page, 0))
    box = page.locator(".pmm-viewer[data-session='0'] .leaflet-container").bounding_box()
    click(page, box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.15, ["Shift"])
    wait_unsaved(page, 1)
    # the plot shows the new spine's point from the server's answer (its pDist, its run,
    # the later runs numbered one up) while the server's figure is held back
    (new_row,) = set(rows_of(page, 0)) - rows
    run = feature(page, 0, new_row)["run"]  # type: ignore[index]
    page.wait_for_function(f"() => ({PLOT_POINT})([{run}, 0]) !== null")
    assert held.routes, "the server's figure has not been drawn"
    local = page.evaluate(PLOT_SNAPSHOT)
    held.release()
    page.wait_for_function(f"(n) => ({MEASURES})('edit-plot-server') > n", arg=landed)
    assert page.evaluate(PLOT_SNAPSHOT) == local
    renumbered = 0
    for s in (1, 2):
        server, shown = page.evaluate(JS_RUNS, s)
        assert server == shown, s
        renumbered += sum(1 for row, run in server.items() if before[s][0][row] != run)
    assert renumbered > 0, "the generated map has runs starting in session 1 or 2"


def held_plot_edit(page: Any, held: HeldPlot, act: Any, n_unsaved: int) -> None:
    """`act()` an edit with the server's figure held back: the page's own plot shows it
    (pmm:edit-plot while the figure's request waits), then the server's figure is the same."""
    shown = page.evaluate(MEASURES, "edit-plot")
    landed = page.evaluate(MEASURES, "edit-plot-server")
    act()
    wait_unsaved(page, n_unsaved)
    page.wait_for_function(f"(n) => ({MEASURES})('edit-plot') > n", arg=shown)
    assert held.routes, "the server's figure has not been drawn"
    assert page.evaluate(MEASURES, "edit-plot-server") == landed
    local = page.evaluate(PLOT_SNAPSHOT)
    held.release()
    page.wait_for_function(f"(n) => ({MEASURES})('edit-plot-server') > n", arg=landed)
    assert page.evaluate(PLOT_SNAPSHOT) == local


def test_disconnect_and_connect_show_in_the_plot_before_the_server_figure(page: Any, editors: Path) -> None:
    new_map(editors, "links", seed=48)
    login(page, "ed_alice")
    open_map(page, "links")
    # a spine of session 0 linked to one in session 1, both clickable (the answer holds
    # sessions 0 and 1: the runs starting in session 2 are numbered again by the page itself)
    r1 = partner = None
    for row in rows_of(page, 0):
        run = feature(page, 0, row)["run"]  # type: ignore[index]
        other = page.evaluate(
            "([run]) => { let r = null; pmm.spines.markers(1).forEach((m) => { const p = m.feature.properties; if (!p.ghost && p.run === run) r = p.row; }); return r; }",
            [run],
        )
        if other is not None and point(page, 0, row)["top"] and point(page, 1, other)["top"]:
            r1, partner = row, other
            break
    assert r1 is not None and partner is not None, "the generated map links spines of sessions 0 and 1"
    held = HeldPlot(page)

    def disconnect() -> None:
        select(page, 0, r1)
        press(page, "x")

    held_plot_edit(page, held, disconnect, 1)
    run1, run2 = feature(page, 0, r1)["run"], feature(page, 1, partner)["run"]  # type: ignore[index]
    assert run1 != run2
    assert plot_point(page, run2, 1) is not None and plot_point(page, run1, 1) != plot_point(page, run2, 1)

    def connect() -> None:
        select(page, 0, r1)
        select(page, 1, partner, modifiers=["Alt"])
        page.wait_for_function("() => pmm.edit.get().pick !== null")
        press(page, "c")

    held_plot_edit(page, held, connect, 2)
    run1 = feature(page, 0, r1)["run"]  # type: ignore[index]
    assert feature(page, 1, partner)["run"] == run1  # type: ignore[index]
    assert plot_point(page, run1, 0) is not None and plot_point(page, run1, 1) is not None
