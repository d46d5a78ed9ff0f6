"""Every page at 1366×768 and at 390×844: a screenshot of each (tests/web/screenshots/), nothing scrolls
sideways on the phone, and no name typed by a user runs as a script. One world and one login per user serve both
sizes (the viewport changes between them)."""

from __future__ import annotations

from tests.web import market_world, park_world, stream_world, world
from tests.web.conftest import SIZES, login, shoot, wait_js

STATUS = {"403": 403, "404": 404, "public-unit-404": 404, "park-other-404": 404}
# Pages that show a name typed with a script in it: it must read as text.
SHOWS_XSS = ("verify", "scan-anon", "received", "console-manifest", "pickup", "console-alert", "unit-alert-rectify",
             "pickup-producer", "pickup-weigh", "pickup-confirm-phone", "collector-unit")


def visit(new_context, pages_by_user: dict, *, xss: str, shows_xss, check=None) -> None:  # noqa: ANN001
    """Open every page of every user at both sizes: the expected status, no user's text run as a script, the
    text shown as typed where `shows_xss(name)`, any page-specific `check(page, name)`, and a screenshot each."""
    seen = 0
    for user, pages in pages_by_user.items():
        page = new_context("desktop").new_page()
        if user:
            login(page, user)
        for size in ("desktop", "phone"):
            w, h = SIZES[size]
            page.set_viewport_size({"width": w, "height": h})
            for name, url in pages:
                resp = page.goto(url)
                assert resp.status == STATUS.get(name, 200), f"{name} {url}: {resp.status}"
                assert "<script>alert" not in page.content(), f"{name}: a user's text became a script"
                if shows_xss(name):
                    assert xss in page.inner_text("body"), f"{name}: the text should show as typed"
                if check is not None:
                    check(page, name)
                shoot(page, name, size)
                seen += 1
    assert seen == 2 * sum(len(p) for p in pages_by_user.values())


def test_every_page_at_both_sizes(new_context, client, admin, session):
    built = world.build(client, admin, session)
    visit(new_context, built["pages"], xss=world.XSS, shows_xss=lambda name: name in SHOWS_XSS)


def test_park_declaration_and_ledger_pages_at_both_sizes(new_context, session):
    """The park pages (list, a park's year, another kind and year, a figure's records, the manager's console home),
    a unit's declarations and ledger downloads; the park's name carries a script."""
    built = park_world.build(session)
    visit(new_context, built["pages"], xss=world.XSS,  # the park's name
          shows_xss=lambda name: name.startswith("park") and name != "park-other-404")


# The hall's pages that show a name or note typed with a script in it (the post's name, note and address, the
# receiver's name, the collector's offer note).
MARKET_XSS = ("market-producer", "market-post-producer", "market-receiver", "market-post-offerer",
              "market-regulator", "market-post-regulator", "market-deal", "market-collector")


def test_market_pages_at_both_sizes(new_context, client, admin, session):
    """The trading hall: a producer's list, form, post with offers and a deal; a licensed receiver's and a
    collector's list and post; a regulator's read-only list and posts."""
    built = market_world.build(client, admin, session)

    def photo_decoded(page, name: str) -> None:  # noqa: ANN001
        if name == "market-post-producer":  # the sample photo is served to the page (decoded, not broken)
            img = "document.querySelector('#post-photos img')"
            wait_js(page, f"{img}.complete")  # a loaded machine decodes late
            assert page.evaluate(f"{img}.naturalWidth") == 320

    visit(new_context, built["pages"], xss=market_world.XSS, shows_xss=lambda name: name in MARKET_XSS,
          check=photo_decoded)


# The collection stream's pages that show a name or reason typed with a script in it (the first garage's name, the
# revoked consent's reason, the webhook's description).
STREAM_XSS = ("consents-producer", "garage-home", "consents-collector", "lots", "lot", "webhooks",
              "consents-regulator", "lots-regulator", "webhooks-regulator", "declaration-regulator")


def test_stream_pages_at_both_sizes(new_context, client, admin, session):
    """Consents (a producer's with the grant form, one without any, a collector's, a regulator's), a centre's lots
    and one lot, the webhooks of a collector (admin, operator, regulator), a declaration seen by its unit and by a
    regulator with the 退回 form."""
    built = stream_world.build(client, admin, session)
    visit(new_context, built["pages"], xss=world.XSS, shows_xss=lambda name: name in STREAM_XSS)
