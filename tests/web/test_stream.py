"""The collection stream's pages in a browser: a garage's administrator grants a collector consent and revokes it
on a 390×844 phone (the API's consents agree), and a regulator returns a submitted declaration that the unit then
sees with its correction path."""

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
