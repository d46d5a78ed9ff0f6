"""The collection stream's pages in a browser: a garage's administrator grants a collector consent and revokes it
on a 390×844 phone (the API's consents agree); a regulator returns a submitted declaration that the unit then
sees with its correction path; the collector's administrator subscribes a webhook (its secret shown once) and
re-enables a disabled one; its operator combines two holdings into a lot (并批)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.api.collection_world import ok
from tests.web import stream_world
from tests.web.conftest import login, shoot


def test_a_garage_grants_and_revokes_consent_on_its_phone(new_context, client, admin, session):
    w = stream_world.build(client, admin, session)
    g3, col = w["garages"][2], w["col"]
    phone = new_context("phone").new_page()
    login(phone, g3["username"])
    phone.goto(f"/unit/{g3['id']}")
    phone.click("#consents-link")
    expect(phone.locator("#no-consents")).to_be_visible()
    phone.select_option("#grant-collector", str(col["id"]))
    phone.fill("#grant-codes", "HW08, 900-214-08")
    shoot(phone, "flow-consent-grant", "phone")
    phone.click("#grant-submit")
    item = phone.locator("#consents-given li[data-consent]")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("有效")
    expect(item).to_contain_text("HW08、900-214-08")
    expect(phone.locator("#no-collectors")).to_be_visible()  # its only collector now holds its consent
    consents = ok(client.get(f"/api/v1/units/{g3['id']}/consents", headers=g3["adm"]))
    assert [(c["collector_id"], c["live"], c["waste_codes"]) for c in consents] == [
        (col["id"], True, ["HW08", "900-214-08"])]
    cid = consents[0]["id"]
    phone.click(f"#revoke-{cid}")  # no reason: the browser asks for one, nothing is sent
    assert ok(client.get(f"/api/v1/units/{g3['id']}/consents", headers=g3["adm"]))[0]["live"] is True
    phone.fill(f"#revoke-reason-{cid}", "改由其他单位收集")
    phone.click(f"#revoke-{cid}")
    expect(item).to_contain_text("已撤回")
    expect(item).to_contain_text("改由其他单位收集")
    expect(phone.locator(f"#revoke-{cid}")).to_have_count(0)
    shoot(phone, "flow-consent-revoked", "phone")
    c = ok(client.get(f"/api/v1/units/{g3['id']}/consents", headers=g3["adm"]))[0]
    assert c["live"] is False and c["revoke_reason"] == "改由其他单位收集"
    # the grant form is back for a new consent
    expect(phone.locator("#grant-form")).to_be_visible()


def test_a_regulator_returns_a_declaration_and_the_unit_sees_how_to_correct_it(new_context, client, admin,
                                                                                session):
    w = stream_world.build(client, admin, session)
    g1, d = w["garages"][0], w["declaration"]
    url = f"/unit/{g1['id']}/declarations/{d['id']}"
    reg = new_context("desktop").new_page()
    login(reg, w["reg"])
    reg.goto(url)
    expect(reg.locator("#declaration-status")).to_have_text("已提交")
    expect(reg.locator("#declaration-actions")).to_have_count(0)  # a regulator never acts as the unit
    reg.fill("#return-reason", "危险废物产生量与转移联单不符，请核对")
    reg.click("#declaration-return-submit")
    expect(reg.locator("#return-list li")).to_have_count(1)
    expect(reg.locator("#return-list")).to_contain_text("危险废物产生量与转移联单不符")
    expect(reg.locator("#return-form")).to_have_count(0)
    expect(reg.locator("#return-path")).to_contain_text("等待单位更正")
    shoot(reg, "flow-declaration-returned", "desktop")
    got = ok(client.get(f"/api/v1/units/{g1['id']}/declarations/{d['id']}", headers=g1["adm"]))
    assert [r["reason"] for r in got["returns"]] == ["危险废物产生量与转移联单不符，请核对"]
    # the unit's administrator, on its phone: the inbox item opens the declaration with its correction path
    unit = new_context("phone").new_page()
    login(unit, g1["username"])
    unit.goto(f"/unit/{g1['id']}")
    unit.click(f"#inbox-list a[href='{url}']")
    expect(unit.locator("#return-path")).to_contain_text("更正")
    expect(unit.locator("#declaration-correct")).to_be_visible()
    shoot(unit, "flow-declaration-return-unit", "phone")


def test_the_collectors_administrator_subscribes_a_webhook_and_re_enables_one(new_context, client, admin, session):
    """The webhook form in a browser: a URL that is no web address is refused by the page (nothing sent); a good
    one is created with the ticked event and the tier, its signing secret shown once — the very secret the
    deliveries are signed with — and then the list; a subscription disabled after failures is re-enabled."""
    from sqlmodel import select

    from alerts.models import WebhookSubscription

    w = stream_world.build(client, admin, session)
    cid, disabled = w["col"]["id"], w["hooks"][1]["id"]
    page = new_context("desktop").new_page()
    login(page, w["col_admin"])
    page.goto(f"/unit/{cid}/webhooks")
    expect(page.locator("#webhook-list .webhook")).to_have_count(2)
    page.fill("#webhook-url", "ftp://erp.example.com/in")
    page.click("#webhook-submit")
    expect(page.locator("#webhook-form .msg")).to_contain_text("https://")
    page.fill("#webhook-url", "https://mes.example.com/ledger/alerts")
    page.select_option("#webhook-tier", "high")
    page.click("#webhook-new details summary")
    page.check("#webhook-new input[name=event][value='alert.opened']")
    page.fill("#webhook-desc", "MES 告警")
    page.click("#webhook-submit")
    expect(page.locator("#webhook-secret")).to_be_visible()
    secret = page.inner_text("#webhook-secret-value").strip()
    session.rollback()
    subs = session.exec(select(WebhookSubscription).where(WebhookSubscription.unit_id == cid)
                        .order_by(WebhookSubscription.id)).all()
    assert len(subs) == 3  # the refused URL created nothing
    new = subs[-1]
    assert (new.url, new.events, new.min_tier, new.description, new.active) == (
        "https://mes.example.com/ledger/alerts", ["alert.opened"], "high", "MES 告警", True)
    assert secret and secret == new.secret
    shoot(page, "flow-webhook-created", "desktop")
    page.click("#webhook-secret-done")
    expect(page.locator("#webhook-list .webhook")).to_have_count(3)
    expect(page.locator("#webhook-secret")).to_be_hidden()
    assert secret not in page.content()  # shown once, never again
    # the subscription disabled after eight failures: re-enabled from its card
    card = page.locator(f"[data-webhook='{disabled}']")
    expect(card).to_contain_text("已停用")
    page.click(f"#enable-{disabled}")
    expect(card).to_contain_text("启用")
    expect(page.locator(f"#enable-{disabled}")).to_have_count(0)
    session.rollback()
    again = session.get(WebhookSubscription, disabled)
    assert again.active and again.consecutive_failures == 0


def test_the_collectors_operator_combines_two_holdings_into_a_lot(new_context, client, admin, session):
    """The 并批 form in a browser: unticking all but one source is refused by the page; the two holdings left at
    the centre become one lot whose page opens, its sources and mass as the API tells them."""
    w = stream_world.build(client, admin, session)
    cid, by_unit = w["col"]["id"], w["by_unit"]
    g1, g2 = w["garages"][0], w["garages"][1]
    left = sorted([by_unit[g1["id"]][1], by_unit[g2["id"]][1]])
    page = new_context("desktop").new_page()
    login(page, w["col_op"])
    page.goto(f"/unit/{cid}/lots")
    form = page.locator("form.lot-form")
    expect(form).to_have_count(1)
    boxes = form.locator("input[name=source]")
    assert sorted(int(v) for v in boxes.evaluate_all("els => els.map(e => e.value)")) == left
    expect(form.locator(".lot-sum")).to_contain_text("已选 2 批")
    boxes.nth(1).uncheck()
    expect(form.locator(".lot-sum")).to_contain_text("已选 1 批")
    form.locator("[type=submit]").click()
    expect(form.locator(".msg")).to_contain_text("至少勾选 2 批")
    boxes.nth(1).check()
    form.locator("input[name=operator]").fill("站长李")
    form.locator("[type=submit]").click()
    page.wait_for_url(lambda url: f"/unit/{cid}/lots/" in url and not url.endswith("/lots/"))
    lot_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    lot = ok(client.get(f"/api/v1/lots/{lot_id}", headers=w["col"]["adm"]))
    assert {x["producer_id"] for x in lot["sources"]} == {g1["id"], g2["id"]} and lot["producers"] == 2
    assert lot["net_kg"] == lot["sources_total_kg"]
    expect(page.locator("#lot-net")).to_contain_text(lot["net_kg"].rstrip("0").rstrip("."))
    rows = page.locator("#lot-source-rows li:not(.total)")
    expect(rows).to_have_count(2)
    for x in lot["sources"]:
        expect(page.locator("#lot-source-rows")).to_contain_text(x["digital_id"])
    shoot(page, "flow-lot-combined", "desktop")
    page.goto(f"/unit/{cid}/lots")
    expect(page.locator("#no-sources")).to_be_visible()  # nothing left to combine
    expect(page.locator(f"#lot-list tr[data-lot='{lot_id}']")).to_have_count(1)
