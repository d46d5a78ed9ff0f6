"""Browser tests: Playwright drives Debian's Chromium (/usr/bin/chromium, installed by .ci/run; never
`playwright install`) against the app served by uvicorn. Screenshots of every page at both sizes go to
tests/web/screenshots/ (git-ignored)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlmodel import select

from ledger.accounts import User
from ledger.workdays import today as shanghai_today
from tests.conftest import batch_body, make_user, setup_transfer

SHOTS = Path(__file__).parent / "screenshots"
SIZES = {"desktop": (1366, 768), "phone": (390, 844)}
CHROMIUM = os.environ.get("LEDGER_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
PASSWORD = "password-123"
JINAN = {"latitude": 36.6512, "longitude": 117.1201}


@pytest.fixture(scope="session")
def browser():  # noqa: ANN201
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"no Chromium at {CHROMIUM}: .ci/run installs Debian's chromium package")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def new_context(browser, live_server):  # noqa: ANN001, ANN201
    """A fresh browser context (its own cookies and localStorage) at one of the two sizes. Any dialog (an
    alert() smuggled in through a name) fails the test."""
    made, dialogs = [], []

    def make(size: str = "desktop", **kw):  # noqa: ANN202
        w, h = SIZES[size]
        ctx = browser.new_context(viewport={"width": w, "height": h}, base_url=live_server, locale="zh-CN",
                                  timezone_id="Asia/Shanghai", **kw)
        ctx.set_default_timeout(15000)
        ctx.on("page", lambda page: page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss())))
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()
    assert not dialogs, f"a page opened a dialog: {dialogs}"


def shoot(page, name: str, size: str) -> Path:  # noqa: ANN001
    """A full-page screenshot; at phone size, also assert that nothing scrolls sideways."""
    SHOTS.mkdir(exist_ok=True)
    if size == "phone":
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{name}: the page scrolls sideways at 390 px ({width} px wide)"
    path = SHOTS / f"{name}-{size}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_js(page, expression: str, timeout: float = 15.0):  # noqa: ANN001, ANN201
    """Poll a JavaScript expression until it is truthy (page.wait_for_function evaluates strings with eval,
    which the pages' Content-Security-Policy forbids, and the tests keep that policy on)."""
    import time

    from playwright.sync_api import Error

    end = time.monotonic() + timeout
    while True:
        try:
            value = page.evaluate(expression)
        except Error as e:  # the page is navigating (an outbox success reloads it): look again
            if "context was destroyed" not in str(e) and "navigat" not in str(e):
                raise
            value = None
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for: {expression}")
        time.sleep(0.1)


def login(page, username: str, password: str = PASSWORD, *, keyboard: bool = False) -> None:  # noqa: ANN001
    """Log in through the login form (with the keyboard alone when asked)."""
    page.goto("/login")
    if keyboard:
        # the form puts the cursor in the username field (autofocus: applied once the page is ready, later on a
        # loaded machine than `goto` returns)
        wait_js(page, "document.activeElement && document.activeElement.id === 'username'")
        page.keyboard.type(username)
        page.keyboard.press("Tab")
        page.keyboard.type(password)
        page.keyboard.press("Enter")
    else:
        page.fill("#username", username)
        page.fill("#password", password)
        page.click("#login-submit")
    page.wait_for_url(lambda url: "/login" not in url)


def username_of(session, user_id: int) -> str:  # noqa: ANN001
    return session.exec(select(User.username).where(User.id == user_id)).one()


def fresh_screenshots() -> None:
    if SHOTS.exists():
        shutil.rmtree(SHOTS)


@pytest.fixture
def transfer(client, admin, session):  # noqa: ANN001, ANN201
    """A plant with three labelled drums, a hauler and a driver, a receiver, and a submitted manifest."""
    w = setup_transfer(client, admin, session)
    op, _ = make_user(session, role="operator", unit_id=w["unit"]["id"], username=f"op-{w['unit']['id']}")
    rcv, _ = make_user(session, role="receiver_operator", unit_id=w["receiver"]["id"],
                       username=f"rcv-{w['receiver']['id']}")
    drums = []
    for gross in ("182.5", "150", "95.25"):
        r = client.post("/api/v1/batches", json=batch_body(w, gross_kg=gross, tare_kg="18.5"), headers=w["op"])
        assert r.status_code == 201, r.text
        drums.append(r.json())
    r = client.post("/api/v1/manifests", headers=w["op"], json={
        "originator_id": w["unit"]["id"], "hauler_id": w["hauler"]["id"], "vehicle_id": w["vehicles"][0],
        "receiver_id": w["receiver"]["id"], "driver_id": w["driver_id"], "planned_date": shanghai_today().isoformat(),
        "lines": [{"batch_id": d["id"], "planned_method": "R9"} for d in drums]})
    assert r.status_code == 201, r.text
    m = r.json()
    r = client.post(f"/api/v1/manifests/{m['id']}/submit", headers=w["op"])
    assert r.status_code == 200, r.text
    w.update(drums=drums, manifest=r.json(), driver=username_of(session, w["driver_id"]), operator=op.username,
             receiver_user=rcv.username)
    return w
