"""Pickup orders on phones (390×844): a garage raises an order in one step; the collector's driver finds it among the
open orders, accepts and schedules it, weighs two containers at the door (the network dropping once), and the
garage's manager confirms on the driver's phone with its own password: the order becomes a submitted manifest
signed by the garage, and the garage's ledger has the two weighings without the garage typing them."""

from __future__ import annotations

from datetime import datetime, timedelta

from playwright.sync_api import expect
from sqlmodel import select

from ledger.collection.models import PickupOrder
from ledger.journal import JournalRecord
from ledger.manifests import Manifest, ManifestEvent
from ledger.workdays import SHANGHAI
from ledger.workdays import today as shanghai_today
from tests.api.collection_world import OIL, add_collector, add_garage, ok
from tests.web.conftest import login, shoot, username_of, wait_js


def test_a_garage_orders_on_its_phone_and_the_collector_accepts_weighs_and_gets_it_confirmed(
        new_context, client, admin, session):
    col = add_collector(client, admin, session)
    g = add_garage(client, admin, session, 7)
    ok(client.post(f"/api/v1/units/{g['id']}/plans", headers=admin, json={
        "year": shanghai_today().year, "items": [{"waste_code": OIL, "planned_kg": "600"}]}), 201)
    ok(client.post(f"/api/v1/units/{g['id']}/consents", headers=g["adm"], json={"collector_id": col["id"]}), 201)
    session.rollback()
    driver = username_of(session, col["driver_id"])

    # The garage, on its phone: the planned code is offered; one step raises the order.
    shop = new_context("phone").new_page()
    login(shop, g["username"])
    shop.click("header a[href='/pickup']")
    expect(shop.locator("#order-lines")).to_contain_text(OIL)
    shop.click("#order-submit")  # nothing filled in: the page says what is missing
    expect(shop.locator("#order-form .msg")).to_contain_text("预估重量")
    shop.fill(f"#order-lines li[data-code='{OIL}'] input.kg", "35")
    shop.select_option("#order-slot", "pm")
    shop.fill("#order-note", "<b>后门</b>进")
    shop.click("#order-submit")
    shop.wait_for_url("**/pickup/*")
    expect(shop.locator("#order-status")).to_have_text("待接单")
    shoot(shop, "flow-pickup-raised", "phone")
    session.rollback()
    o = session.exec(select(PickupOrder).where(PickupOrder.unit_id == g["id"])).one()
    tomorrow = shanghai_today() + timedelta(days=1)
    assert o.collector_id is None and o.status == "requested" and o.note == "<b>后门</b>进"
    assert o.window_from == datetime(tomorrow.year, tomorrow.month, tomorrow.day, 13, tzinfo=SHANGHAI)
    assert o.window_to == datetime(tomorrow.year, tomorrow.month, tomorrow.day, 18, tzinfo=SHANGHAI)

    # The collector's driver sees it among the open orders it may take, and accepts it.
    ctx = new_context("phone")
    drv = ctx.new_page()
    login(drv, driver)
    drv.goto("/pickup")
    expect(drv.locator("#group-open")).to_contain_text(o.number)
    drv.click(f"#accept-{o.id}")
    expect(drv.locator("#group-accepted")).to_contain_text(o.number)
    shoot(drv, "flow-pickup-collector", "phone")
    drv.click(f"#group-accepted a[href='/pickup/{o.id}']")
    drv.select_option("#sched-method-1", "R9")
    drv.select_option("#sched-driver", str(col["driver_id"]))
    drv.click("#schedule-submit")
    expect(drv.locator("#order-status")).to_have_text("已排班，待上门")

    # At the door: two containers; the network drops as the weighing is sent, and it goes when it comes back.
    drv.fill("#gross-1-1", "25.5")
    drv.fill("#tare-1-1", "2.5")
    drv.click("#weigh .add-weighing")
    second = drv.locator("#weigh .weighing").nth(1)
    second.locator("[data-k=gross_kg]").fill("13")
    second.locator("[data-k=tare_kg]").fill("1")
    ctx.set_offline(True)
    drv.click("#weigh-submit")
    wait_js(drv, "document.getElementById('outbox-state') && "
                 "document.getElementById('outbox-state').textContent.indexOf('1 项等待发送') >= 0")
    ctx.set_offline(False)
    expect(drv.locator("#order-status")).to_have_text("已称重，待确认", timeout=30000)
    expect(drv.locator("#labels li")).to_have_count(2)
    session.rollback()
    assert [r.kind for r in session.exec(select(JournalRecord).where(JournalRecord.unit_id == g["id"])).all()] == [
        "generated", "generated"]

    # The garage's manager confirms on the driver's phone: a wrong password first.
    drv.fill("#confirm-username", g["username"])
    drv.fill("#confirm-password", "wrong-password")
    drv.click("#confirm-submit")
    expect(drv.locator("#confirm-form .msg")).to_contain_text("用户名或密码不对")
    drv.fill("#confirm-password", "password-123")
    drv.click("#confirm-submit")
    expect(drv.locator("#order-status")).to_have_text("已确认，生成联单")
    assert drv.evaluate("JSON.stringify(localStorage)").find("password-123") < 0  # the password is not kept
    shoot(drv, "flow-pickup-confirmed", "phone")
    session.rollback()
    o = session.get(PickupOrder, o.id, populate_existing=True)
    m = session.get(Manifest, o.manifest_id)
    assert (o.status, o.confirmed_via, o.confirm_failures, m.status) == ("confirmed", "driver_phone", 1, "submitted")
    assert m.originator_id == g["id"] and m.receiver_id == col["id"]
    events = session.exec(select(ManifestEvent).where(ManifestEvent.manifest_id == m.id)).all()
    assert {e.user_name for e in events} == {g["username"]}  # signed by the garage itself
    expect(drv.locator("#order-manifest")).to_have_text(m.number)
    # the garage sees its order confirmed, with its manifest
    shop.goto("/pickup")
    expect(shop.locator(f"li[data-order='{o.id}']")).to_contain_text(m.number)
