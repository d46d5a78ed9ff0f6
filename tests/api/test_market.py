"""The trading hall: licences checked (never claimed), distance and capacity ordering, offers, deals, expiry, photos."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from PIL import Image
from sqlalchemy import text

from ledger.workdays import today as shanghai_today
from tests.api.collection_world import OIL, add_collector, add_garage, add_receiver, ok
from tests.conftest import auth, create_unit, make_user

D = Decimal


@pytest.fixture
def hall(client, admin, session):
    g = add_garage(client, admin, session, 1, lat=36.66, lon=117.02)
    near = add_receiver(client, admin, session, name="济南近郊再生油厂", region="370112", lat=36.70, lon=117.10)
    far = add_receiver(client, admin, session, name="潍坊远方再生油厂", region="370702", lat=36.71, lon=119.16)
    tight = add_receiver(client, admin, session, name="近而满的再生厂", region="370112", lat=36.67, lon=117.03,
                         capacity_t="0.2")
    wrong = add_receiver(client, admin, session, name="只收废包装桶的单位", codes=("HW49",), region="370112",
                         lat=36.66, lon=117.02)
    col = add_collector(client, admin, session)
    return {"g": g, "near": near, "far": far, "tight": tight, "wrong": wrong, "col": col}


def _post(client, g, **kw):
    return ok(client.post("/api/v1/market/posts", headers=g["adm"], json={
        "unit_id": g["id"], "waste_code": OIL, "name": "废机油", "form": "液态", "monthly_kg": "300", **kw}), 201)


def _png(size=(64, 48), color=(180, 120, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def test_a_receiver_not_licensed_for_a_code_never_sees_a_post_for_it(client, hall, engine):
    g, wrong = hall["g"], hall["wrong"]
    post = _post(client, g)
    photo = ok(client.post(f"/api/v1/market/posts/{post['id']}/photos", headers=g["adm"],
                           files={"file": ("s.png", _png(), "image/png")}), 201)
    assert ok(client.get("/api/v1/market/posts", headers=wrong["adm"])) == []
    assert ok(client.get(f"/api/v1/market/posts?waste_code={OIL}&include_closed=true", headers=wrong["adm"])) == []
    assert client.get(f"/api/v1/market/posts/{post['id']}", headers=wrong["adm"]).status_code == 404
    assert client.get(photo["url"], headers=wrong["adm"]).status_code == 404
    r = client.post(f"/api/v1/market/posts/{post['id']}/offers", headers=wrong["adm"],
                    json={"method": "R9", "fee_yuan_per_t": "800"})
    assert r.status_code == 404
    near = hall["near"]
    assert [p["id"] for p in ok(client.get("/api/v1/market/posts", headers=near["adm"]))] == [post["id"]]
    # checked, not claimed: when its licence lapses, a receiver that saw the post no longer does
    with engine.begin() as conn:
        conn.execute(text("UPDATE permit SET valid_to = :d WHERE unit_id = :u"),
                     {"d": shanghai_today() - timedelta(days=1), "u": near["id"]})
        conn.execute(text("UPDATE registry_version SET stamp = stamp + 1"))  # as the registry's own write would
    assert ok(client.get("/api/v1/market/posts", headers=near["adm"])) == []
    assert client.get(f"/api/v1/market/posts/{post['id']}", headers=near["adm"]).status_code == 404


def test_matching_posts_come_by_capacity_and_distance(client, hall, session):
    g = hall["g"]
    post = _post(client, g)
    seen = {}
    for name in ("near", "far", "tight", "col"):
        rows = ok(client.get("/api/v1/market/posts", headers=hall[name]["adm"]))
        assert [p["id"] for p in rows] == [post["id"]]
        seen[name] = rows[0]
    assert seen["near"]["distance_km"] < 10 < seen["far"]["distance_km"]
    assert D(seen["near"]["capacity_left_t"]) == D(1000) and seen["near"]["fits"]
    assert D(seen["tight"]["capacity_left_t"]) == D("0.2") and not seen["tight"]["fits"]
    assert seen["col"]["fits"] and D(seen["col"]["capacity_left_t"]) == D(500)
    assert seen["near"]["producer_name"] == g["unit"]["name"] and seen["near"]["offers"] == []
    # within_km filters by distance from the viewer's site
    assert ok(client.get("/api/v1/market/posts?within_km=50", headers=hall["far"]["adm"])) == []


def test_several_posts_are_ordered_for_the_viewer(client, hall, admin, session):
    near_g = hall["g"]
    far_g = add_garage(client, admin, session, 9, lat=37.5, lon=121.4, region="370602")
    p_far = _post(client, far_g)
    p_near = _post(client, near_g)
    p_big = _post(client, near_g, waste_code="900-249-08", monthly_kg="2000000")  # beyond its 1000 t a year
    rows = ok(client.get("/api/v1/market/posts", headers=hall["near"]["adm"]))
    # the posts it can take first, nearest first; the one beyond its capacity last, however near
    assert [p["id"] for p in rows] == [p_near["id"], p_far["id"], p_big["id"]]
    assert [p["fits"] for p in rows] == [True, True, False]
    assert rows[0]["distance_km"] < rows[1]["distance_km"] and rows[2]["distance_km"] == rows[0]["distance_km"]
    # the producer sees its own posts only; a regulator sees its region's
    mine = ok(client.get("/api/v1/market/posts", headers=near_g["adm"]))
    assert {p["id"] for p in mine} == {p_near["id"], p_big["id"]}
    _, reg = make_user(session, role="regulator", region_prefix="3701")
    assert {p["id"] for p in ok(client.get("/api/v1/market/posts", headers=auth(reg)))} == {p_near["id"],
                                                                                            p_big["id"]}
    r = client.post("/api/v1/market/posts", headers=auth(reg), json={
        "unit_id": near_g["id"], "waste_code": OIL, "name": "x", "form": "液态", "monthly_kg": "1"})
    assert r.status_code == 403
    r = client.post(f"/api/v1/market/posts/{p_near['id']}/offers", headers=auth(reg),
                    json={"unit_id": hall["near"]["id"], "method": "R9", "fee_yuan_per_t": "1"})
    assert r.status_code == 403


def test_an_offer_and_a_deal_with_a_receiver(client, hall, session):
    g, near, far = hall["g"], hall["near"], hall["far"]
    b = ok(client.post("/api/v1/batches", headers=g["adm"], json={
        "unit_id": g["id"], "waste_code": OIL, "name": "废机油", "form": "液态", "facility_id": g["gen"],
        "container_type": "桶", "gross_kg": "210", "tare_kg": "10", "scale_id": "S", "operator": "店长",
        "occurred_at": datetime.now(UTC).isoformat()}), 201)
    post = _post(client, g)
    r = client.post(f"/api/v1/market/posts/{post['id']}/offers", headers=near["adm"],
                    json={"method": "D10", "fee_yuan_per_t": "800"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "market.licence_method"
    r = client.post(f"/api/v1/market/posts/{post['id']}/offers", headers=hall["tight"]["adm"],
                    json={"method": "R9", "fee_yuan_per_t": "100"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "market.capacity"
    o1 = ok(client.post(f"/api/v1/market/posts/{post['id']}/offers", headers=near["adm"],
                        json={"method": "R9", "fee_yuan_per_t": "-200", "note": "我方付费收购"}), 201)
    o1b = ok(client.post(f"/api/v1/market/posts/{post['id']}/offers", headers=near["adm"],
                         json={"method": "R9", "fee_yuan_per_t": "-250"}), 201)  # replaces its own open offer
    o2 = ok(client.post(f"/api/v1/market/posts/{post['id']}/offers", headers=far["adm"],
                        json={"method": "R9", "fee_yuan_per_t": "300"}), 201)
    view = ok(client.get(f"/api/v1/market/posts/{post['id']}", headers=g["adm"]))
    assert [(o["id"], o["status"]) for o in view["offers"]] == [(o1["id"], "withdrawn"), (o1b["id"], "open"),
                                                                (o2["id"], "open")]
    assert view["open_offers"] == 2
    assert [o["id"] for o in ok(client.get(f"/api/v1/market/posts/{post['id']}", headers=far["adm"]))["offers"]] == \
        [o2["id"]]  # an offerer sees its own offers only
    assert [i["kind"] for i in ok(client.get(f"/api/v1/units/{g['id']}/inbox", headers=g["adm"]))].count(
        "market.offer_received") == 3
    # the deal: the plan gains the receiver as a new version, a draft manifest for what the producer holds
    col = hall["col"]  # the collector also hauls
    deal = ok(client.post(f"/api/v1/market/posts/{post['id']}/offers/{o1b['id']}/accept", headers=g["adm"], json={
        "manifest": {"hauler_id": col["id"], "vehicle_id": col["vehicle"], "planned_date": shanghai_today().isoformat()}}))
    assert deal["status"] == "accepted" and deal["plan_id"] and deal["manifest_id"]
    plans = ok(client.get(f"/api/v1/units/{g['id']}/plans", headers=g["adm"]))
    assert plans[-1]["id"] == deal["plan_id"] and plans[-1]["items"] == [{
        "waste_code": OIL, "planned_kg": "3600.000", "receiver_ids": [near["id"]], "methods": ["R9"]}]
    m = ok(client.get(f"/api/v1/manifests/{deal['manifest_id']}", headers=g["adm"]))
    assert m["status"] == "draft" and m["receiver"]["id"] == near["id"] and m["lines"][0]["batch_id"] == b["id"]
    assert m["flags"] == []  # the receiver is in the plan now
    view = ok(client.get(f"/api/v1/market/posts/{post['id']}", headers=g["adm"]))
    assert view["status"] == "matched" and {o["id"]: o["status"] for o in view["offers"]}[o2["id"]] == "declined"
    assert "market.offer_declined" in [i["kind"] for i in ok(client.get(f"/api/v1/units/{far['id']}/inbox",
                                                                        headers=far["adm"]))]
    assert "market.offer_received" not in [i["kind"] for i in ok(client.get(f"/api/v1/units/{g['id']}/inbox",
                                                                            headers=g["adm"]))]
    r = client.post(f"/api/v1/market/posts/{post['id']}/offers", headers=far["adm"],
                    json={"method": "R9", "fee_yuan_per_t": "1"})
    assert r.status_code == 409  # it still sees the post it answered, which takes no more offers


def test_a_deal_with_a_collector_becomes_a_pickup_order(client, hall):
    g, col = hall["g"], hall["col"]
    post = _post(client, g)
    o = ok(client.post(f"/api/v1/market/posts/{post['id']}/offers", headers=col["adm"],
                       json={"method": "R9", "fee_yuan_per_t": "500"}), 201)
    assert o["role"] == "collector"
    deal = ok(client.post(f"/api/v1/market/posts/{post['id']}/offers/{o['id']}/accept", headers=g["adm"], json={}))
    order = ok(client.get(f"/api/v1/pickup-orders/{deal['pickup_order_id']}", headers=col["adm"]))
    assert order["status"] == "requested" and order["collector_id"] == col["id"] and order["unit_id"] == g["id"]
    assert order["lines"][0]["planned_method"] == "R9" and D(order["lines"][0]["estimated_kg"]) == D(300)
    plan = ok(client.get(f"/api/v1/units/{g['id']}/plans", headers=g["adm"]))[-1]
    assert plan["items"][0]["receiver_ids"] == [col["id"]]


def test_posts_expire_and_can_be_withdrawn(client, hall, admin, engine):
    g, near = hall["g"], hall["near"]
    post = _post(client, g, expires_in_days=1)
    offer = ok(client.post(f"/api/v1/market/posts/{post['id']}/offers", headers=near["adm"],
                           json={"method": "R9", "fee_yuan_per_t": "10"}), 201)
    with engine.begin() as conn:
        conn.execute(text("UPDATE market_post SET expires_at = :t WHERE id = :i"),
                     {"t": datetime.now(UTC) - timedelta(minutes=1), "i": post["id"]})
    assert ok(client.get("/api/v1/market/posts", headers=near["adm"])) == []  # checked on read
    assert ok(client.get("/api/v1/market/posts", headers=g["adm"])) == []
    mine = ok(client.get("/api/v1/market/posts?include_closed=true", headers=g["adm"]))
    assert [(p["id"], p["status"]) for p in mine] == [(post["id"], "expired")]
    assert mine[0]["offers"][0]["status"] == "expired"
    r = client.post(f"/api/v1/market/posts/{post['id']}/offers/{offer['id']}/accept", headers=g["adm"], json={})
    assert r.status_code == 409
    assert client.post("/api/v1/market/expire", headers=g["adm"]).status_code == 403
    assert ok(client.post("/api/v1/market/expire", headers=admin)) == {"posts": 1, "offers": 1}
    p2 = _post(client, g)
    o2 = ok(client.post(f"/api/v1/market/posts/{p2['id']}/offers", headers=near["adm"],
                        json={"method": "R9", "fee_yuan_per_t": "10"}), 201)
    # only the producer withdraws (another unit is told the producer is outside its scope)
    assert client.post(f"/api/v1/market/posts/{p2['id']}/withdraw", headers=near["adm"], json={}).status_code == 404
    w = ok(client.post(f"/api/v1/market/posts/{p2['id']}/withdraw", headers=g["adm"], json={"reason": "已自行解决"}))
    assert w["status"] == "withdrawn" and w["offers"][0]["id"] == o2["id"] and w["offers"][0]["status"] == "declined"
    r = client.post(f"/api/v1/market/posts/{p2['id']}/withdraw", headers=g["adm"], json={})
    assert r.status_code == 409


def test_photos_are_checked_stored_and_served(client, hall):
    g, near = hall["g"], hall["near"]
    post = _post(client, g)
    png = _png()
    up = ok(client.post(f"/api/v1/market/posts/{post['id']}/photos", headers=g["adm"],
                        files={"file": ("s.png", png, "image/png")}), 201)
    assert up["content_type"] == "image/png" and up["size"] == len(png) and (up["width"], up["height"]) == (64, 48)
    r = client.get(up["url"], headers=near["adm"])
    assert r.status_code == 200 and r.content == png and r.headers["content-type"] == "image/png"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert ok(client.get(f"/api/v1/market/posts/{post['id']}", headers=near["adm"]))["photo_urls"] == [up["url"]]
    jpeg = io.BytesIO()
    Image.new("RGB", (10, 10)).save(jpeg, "JPEG")
    for name, data, kind, status in [
        ("x.png", b"<script>alert(1)</script>", "image/png", 415),  # not an image at all
        ("x.png", jpeg.getvalue(), "image/png", 415),  # a JPEG sent as PNG
        ("x.gif", _gif(), "image/gif", 415),  # a real image of a type not accepted
        ("x.png", png[: len(png) // 2], "image/png", 415),  # truncated
        ("x.png", b"\x89PNG" + b"0" * (2 * 1024 * 1024), "image/png", 413),  # too large
    ]:
        r = client.post(f"/api/v1/market/posts/{post['id']}/photos", headers=g["adm"],
                        files={"file": (name, data, kind)})
        assert r.status_code == status, (name, r.text)
        assert r.json()["error"]["details"]["field"] == "file"
    for _ in range(5):
        ok(client.post(f"/api/v1/market/posts/{post['id']}/photos", headers=g["adm"],
                       files={"file": ("s.png", png, "image/png")}), 201)
    r = client.post(f"/api/v1/market/posts/{post['id']}/photos", headers=g["adm"],
                    files={"file": ("s.png", png, "image/png")})
    assert r.status_code == 409 and r.json()["error"]["code"] == "market.too_many_photos"
    r = client.post(f"/api/v1/market/posts/{post['id']}/photos", headers=near["adm"],
                    files={"file": ("s.png", png, "image/png")})
    assert r.status_code == 404  # only the producer adds photos


def _gif() -> bytes:
    buf = io.BytesIO()
    Image.new("P", (4, 4)).save(buf, "GIF")
    return buf.getvalue()


def test_a_post_needs_a_producer_and_a_place(client, hall, admin, session):
    near = hall["near"]
    r = client.post("/api/v1/market/posts", headers=near["adm"], json={
        "unit_id": near["id"], "waste_code": OIL, "name": "x", "form": "液态", "monthly_kg": "1"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "market.not_generator"
    nowhere = create_unit(client, admin, roles=["generator"], name="无坐标单位")
    _, tok = make_user(session, role="unit_admin", unit_id=nowhere["id"])
    r = client.post("/api/v1/market/posts", headers=auth(tok), json={
        "unit_id": nowhere["id"], "waste_code": OIL, "name": "x", "form": "液态", "monthly_kg": "1"})
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "lat"
    r = client.post("/api/v1/market/posts", headers=auth(tok), json={
        "unit_id": nowhere["id"], "waste_code": "999-999-99", "name": "x", "form": "液态", "monthly_kg": "1",
        "lat": 36, "lon": 117})
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "waste_code"
