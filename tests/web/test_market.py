"""The trading hall in a browser: a garage posts waste oil with a sample photo from its phone, a licensed receiver
finds it among the posts its licence covers and offers, the garage accepts with a draft manifest, and the post shows
the deal with its links; the API's state agrees (post matched, offer accepted, plan version, draft manifest)."""

from __future__ import annotations

from decimal import Decimal

from playwright.sync_api import expect

from tests.api.collection_world import OIL, ok
from tests.web import market_world
from tests.web.conftest import login, shoot, wait_js


def test_a_producer_posts_a_receiver_offers_and_the_producer_accepts(new_context, client, admin, session):
    w = market_world.parties(client, admin, session)
    g, near, col = w["g"], w["near"], w["col"]
    market_world.batch(client, g, gross="210")  # 200 kg of oil waiting: the deal can draft the first manifest
    session.rollback()

    # The garage, on its phone: the hall from the navigation, the form, a photo of the sample.
    shop = new_context("phone").new_page()
    login(shop, g["user"])
    shop.click("header a[href='/market']")
    shop.click("#new-post")
    shop.select_option("#post-code", OIL)
    expect(shop.locator("#code-info")).to_contain_text("HW08")  # looked up in the catalogue
    expect(shop.locator("#post-name")).to_have_value("废机油")
    shop.click("#post-submit")  # no monthly mass: the page says what is missing, nothing is sent
    expect(shop.locator("#post-form .msg")).to_contain_text("每月的量")
    shop.fill("#post-monthly", "300")
    shop.fill("#post-note", "<b>桶装</b>，周五可上门")
    shop.set_input_files("#post-photo", files=[{"name": "sample.png", "mimeType": "image/png",
                                                "buffer": market_world.png()}])
    shop.click("#post-submit")
    shop.wait_for_url(lambda url: url.rsplit("/", 1)[1].isdigit())
    post_id = int(shop.url.rsplit("/", 1)[1])
    expect(shop.locator("#post-status")).to_have_text("征集中")
    expect(shop.locator("#post-note")).to_have_text("<b>桶装</b>，周五可上门")
    expect(shop.locator("#post-photos img")).to_have_count(1)
    wait_js(shop, "document.querySelector('#post-photos img').complete")  # loaded, then measured
    assert shop.evaluate("document.querySelector('#post-photos img').naturalWidth") == 320
    expect(shop.locator("#no-offers")).to_be_visible()
    shoot(shop, "flow-market-posted", "phone")

    # A receiver licensed only for HW49 does not see it; the licensed receiver nearby does, and offers.
    other = new_context("desktop").new_page()
    login(other, w["wrong"]["user"])
    other.goto("/market")
    expect(other.locator("#matching")).not_to_contain_text("废机油")
    assert other.goto(f"/market/{post_id}").status == 404
    rcv = new_context("desktop").new_page()
    login(rcv, near["user"])
    rcv.click("header a[href='/market']")
    card = rcv.locator(f"#matching [data-post='{post_id}']")
    expect(card).to_contain_text("能力够")
    expect(card).to_contain_text("300")
    card.locator(f"#post-link-{post_id}").click()
    rcv.select_option("#offer-method", "R9")
    rcv.fill("#offer-fee", "-200")
    rcv.fill("#offer-note", "我方派车，<i>两周内</i>")
    rcv.click("#offer-submit")
    expect(rcv.locator("#offers")).to_contain_text("-200.00")
    expect(rcv.locator("#withdraw-offer")).to_be_visible()
    offer_id = int(rcv.locator("#offers [data-offer]").first.get_attribute("data-offer"))

    # The garage accepts it, drafting the first manifest with the collector's truck; the post shows the deal.
    shop.reload()
    offer = shop.locator(f"#offer-{offer_id}")
    expect(offer).to_contain_text("我方派车，<i>两周内</i>")
    expect(shop.locator("#accept-explained")).to_contain_text("管理计划")
    shop.check(f"#with-manifest-{offer_id}")
    shop.select_option(f"#m-vehicle-{offer_id}", f"{col['id']}:{col['vehicle']}")
    shop.click(f"#accept-{offer_id}")
    expect(shop.locator("#post-status")).to_have_text("已成交")
    expect(shop.locator("#deal")).to_contain_text("济南近郊再生油厂")
    manifest_link = shop.locator("#deal-manifest")
    number = manifest_link.inner_text()
    expect(shop.locator("#deal-links")).to_contain_text("第 1 版")
    assert shop.locator("#accept-form-" + str(offer_id)).count() == 0 and shop.locator("#withdraw-post").count() == 0
    shoot(shop, "flow-market-deal", "phone")
    manifest_link.click()
    shop.wait_for_url(f"**/m/{number}")
    expect(shop.locator("body")).to_contain_text("签发联单")  # the draft waits for the garage's signature

    # The API agrees.
    view = ok(client.get(f"/api/v1/market/posts/{post_id}", headers=g["adm"]))
    assert view["status"] == "matched" and view["note"] == "<b>桶装</b>，周五可上门" and len(view["photo_urls"]) == 1
    assert Decimal(view["monthly_kg"]) == 300 and view["waste_code"] == OIL
    [o] = view["offers"]
    assert (o["id"], o["status"], o["unit_id"], o["method"], Decimal(o["fee_yuan_per_t"])) == \
        (offer_id, "accepted", near["id"], "R9", Decimal("-200"))
    assert o["note"] == "我方派车，<i>两周内</i>" and o["plan_id"] and o["manifest_id"] and not o["pickup_order_id"]
    m = ok(client.get(f"/api/v1/manifests/{o['manifest_id']}", headers=g["adm"]))
    assert m["number"] == number and m["status"] == "draft" and m["receiver"]["id"] == near["id"]
    assert m["hauler"]["id"] == col["id"] and len(m["lines"]) == 1
    plan = ok(client.get(f"/api/v1/units/{g['id']}/plans", headers=g["adm"]))[-1]
    assert plan["id"] == o["plan_id"] and plan["items"][0]["receiver_ids"] == [near["id"]]
    # The receiver sees its accepted offer and the draft manifest it is the receiver of.
    rcv.reload()
    expect(rcv.locator("#deal")).to_be_visible()
    expect(rcv.locator("#deal-manifest")).to_have_text(number)
    assert rcv.locator("#offer-form").count() == 0
