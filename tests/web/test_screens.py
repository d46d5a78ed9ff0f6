"""Every page at 1366×768 and at 390×844: a screenshot of each (tests/web/screenshots/), nothing scrolls
sideways on the phone, and no name typed by a user runs as a script."""

from __future__ import annotations

import pytest

from tests.web import world
from tests.web.conftest import login, shoot

STATUS = {"403": 403, "404": 404}


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_page_at_both_sizes(size, new_context, client, admin, session):
    built = world.build(client, admin, session)
    seen = 0
    for user, pages in built["pages"].items():
        page = new_context(size).new_page()
        if user:
            login(page, user)
        for name, url in pages:
            resp = page.goto(url)
            assert resp.status == STATUS.get(name, 200), f"{name} {url}: {resp.status}"
            html = page.content()
            assert "<script>alert" not in html, f"{name}: a user's text became a script"
            if name in ("verify", "scan-anon", "received", "console-manifest", "pickup"):
                assert world.XSS in page.inner_text("body"), f"{name}: the name should show as text"
            shoot(page, name, size)
            seen += 1
    assert seen == sum(len(p) for p in built["pages"].values())
