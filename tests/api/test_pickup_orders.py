"""Pickup orders and consents over HTTP: the producer's ledger fills itself, consent is needed and revocable, the
producer confirms for itself, races give one winner."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlparse

import httpx
import pytest
from sqlmodel import select

from ledger.accounts import AuditLog, User
from ledger.workdays import today as shanghai_today
from tests.api.collection_world import (
    OIL,
    PASSWORD,
    accept_and_schedule,
    add_collector,
    confirm_on_drivers_phone,
    consent,
    ok,
    pickup_and_receive,
    raise_by_collector,
    weigh,
    window,
    world,
)
from tests.conftest import auth, make_user

D = Decimal


@pytest.fixture
def w(client, admin, session):
    return world(client, admin, session, garages=2)


def test_an_order_from_raise_to_receipt_fills_the_producers_ledger(client, w, session):
    col, g = w["col"], w["garages"][0]
    c = consent(client, g, col)  # the producer's first and only write with its own token
    assert c["live"] and c["granted_by_name"] and c["collector_id"] == col["id"]
    o = raise_by_collector(client, g, col)
    assert o["status"] == "requested" and o["raised_by"] == "collector" and o["consent_id"] == c["id"]
    assert o["address"] == g["unit"]["address"] and o["number"].startswith("SY")
    o = accept_and_schedule(client, o, col)
    assert o["status"] == "scheduled" and o["lines"][0]["planned_method"] == "R9"
    res = weigh(client, o, col, grosses=("25.5", "18.25"))
    got = res["batches"]
    assert res["order"]["status"] == "weighed" and [b["net_kg"] for b in got] == ["23.000", "15.750"]
    assert all(b["unit_id"] == g["id"] and b["label_url"].endswith("/label.png") for b in got)
    assert D(res["order"]["lines"][0]["weighed_kg"]) == D("38.75")
    # the labels print from the driver's phone
    for b in got:
        r = client.get(urlparse(b["label_url"]).path, headers=col["drv"])
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    # the producer sees what waits for it
    items = ok(client.get(f"/api/v1/units/{g['id']}/inbox", headers=g["adm"]))
    kinds = [i["kind"] for i in items]
    assert kinds[0] == "pickup_order.awaiting_confirmation" and "pickup_order.raised_for_you" in kinds
    # the producer confirms with its own credentials on the driver's phone
    res = ok(confirm_on_drivers_phone(client, o, col, g))
    m = res["manifest"]
    assert res["order"]["status"] == "confirmed" and res["order"]["confirmed_via"] == "driver_phone"
    assert m["status"] == "submitted" and m["originator"]["id"] == g["id"] and m["receiver"]["id"] == col["id"]
    assert m["hauler"]["id"] == col["id"] and D(m["total_shipped_kg"]) == D("38.75")
    assert [e["action"] for e in m["events"]] == ["create", "submit"]
    assert all(e["by"] == g["username"] for e in m["events"])  # signed by the producer itself
    m = pickup_and_receive(client, m, col)
    assert m["status"] == "received"
    # the producer's ledger: generated and shipped, without it typing anything
    recs = ok(client.get(f"/api/v1/units/{g['id']}/records", headers=g["adm"]))
    assert [r["kind"] for r in recs] == ["generated", "generated", "shipped", "shipped"]
    gen = [r for r in recs if r["kind"] == "generated"]
    assert all(r["body"]["by"]["consent_id"] == c["id"] and r["body"]["by"]["for_collector_id"] == col["id"]
               for r in gen)
    assert all(r["body"]["via_collector"] == col["id"] for r in recs if r["kind"] == "shipped")
    frm, to = (shanghai_today() - timedelta(days=1)).isoformat(), (shanghai_today() + timedelta(days=1)).isoformat()
    ledger = ok(client.get(f"/api/v1/units/{g['id']}/ledger?from={frm}&to={to}", headers=g["adm"]))
    assert len(ledger["tables"]["B.1"]["rows"]) == 2 and len(ledger["tables"]["B.5"]["rows"]) == 2
    assert sum(D(r["mass_kg"]) for r in ledger["tables"]["B.5"]["rows"]) == D("38.75")
    # the collector's receipt is marked as pass-through and stored in its centre
    crecs = ok(client.get(f"/api/v1/units/{col['id']}/records", headers=col["adm"]))
    assert [r["kind"] for r in crecs] == ["received", "stored", "received", "stored"]
    assert all(r["body"]["collected"] for r in crecs if r["kind"] == "received")
    fac = ok(client.get(f"/api/v1/facilities/{col['centre']}", headers=col["adm"]))
    assert D(fac["stock_kg"]) == D("38.75")
    # the producer's only writes: its consent and what its confirmation signed
    rows = session.exec(select(AuditLog).join(User, User.id == AuditLog.user_id).where(User.unit_id == g["id"])).all()
    assert sorted({r.action for r in rows}) == ["consent.grant", "manifest.create", "pickup_order.confirm"]
    for unit, who in ((g["id"], g["adm"]), (col["id"], col["adm"])):
        assert ok(client.get(f"/api/v1/units/{unit}/verify", headers=who))["ok"]
    # the awaiting-confirmation item closed itself; the collector was told
    items = ok(client.get(f"/api/v1/units/{g['id']}/inbox", headers=g["adm"]))
    assert "pickup_order.awaiting_confirmation" not in [i["kind"] for i in items]
    citems = ok(client.get(f"/api/v1/units/{col['id']}/inbox", headers=col["adm"]))
    assert "pickup_order.confirmed" in [i["kind"] for i in citems]


def test_revoked_consent_stops_further_filings(client, w, admin):
    col, g = w["col"], w["garages"][0]
    # without consent a collector can neither raise an order for the producer nor weigh in its name
    r = client.post("/api/v1/pickup-orders", headers=col["adm"], json={
        "unit_id": g["id"], "lines": [{"waste_code": OIL, "form": "液态", "estimated_kg": "30"}], **window()})
    assert r.status_code == 403 and r.json()["error"]["code"] == "consent.missing"
    assert f"/units/{g['id']}/consents" in r.json()["error"]["message"]
    c = consent(client, g, col)
    first = raise_by_collector(client, g, col)
    accept_and_schedule(client, first, col)
    revoked = ok(client.post(f"/api/v1/units/{g['id']}/consents/{c['id']}/revoke", headers=g["adm"],
                             json={"reason": "改由自行委托处置"}))
    assert not revoked["live"] and revoked["revoked_by_name"] and revoked["revoke_reason"] == "改由自行委托处置"
    r = client.post("/api/v1/pickup-orders", headers=col["adm"], json={
        "unit_id": g["id"], "lines": [{"waste_code": OIL, "form": "液态", "estimated_kg": "30"}], **window()})
    assert r.status_code == 403 and r.json()["error"]["code"] == "consent.revoked"
    r = client.post(f"/api/v1/pickup-orders/{first['id']}/weigh", headers=col["drv"], json={
        "scale_id": "S", "lines": [{"line_no": 1, "weighings": [{"gross_kg": "20", "container_type": "桶"}]}]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "consent.revoked"
    assert ok(client.get(f"/api/v1/units/{g['id']}/records", headers=g["adm"])) == []  # nothing was written
    citems = ok(client.get(f"/api/v1/units/{col['id']}/inbox", headers=col["adm"]))
    assert "consent.revoked" in [i["kind"] for i in citems]
    # granting again restores it; the old consent stays on record with who revoked it and when
    consent(client, g, col)
    listed = ok(client.get(f"/api/v1/units/{g['id']}/consents", headers=g["adm"]))
    assert [x["live"] for x in listed] == [True, False]


def test_the_producers_own_labelled_batches_go_without_consent(client, w):
    col, g = w["col"], w["garages"][1]
    from datetime import UTC, datetime

    b = ok(client.post("/api/v1/batches", headers=g["adm"], json={
        "unit_id": g["id"], "waste_code": OIL, "name": "废机油", "form": "液态", "facility_id": g["gen"],
        "container_type": "桶", "gross_kg": "21", "tare_kg": "1", "scale_id": "G-1", "operator": "店长",
        "occurred_at": datetime.now(UTC).isoformat()}), 201)
    o = ok(client.post("/api/v1/pickup-orders", headers=g["adm"], json={
        "unit_id": g["id"], "collector_id": col["id"], "lines": [
            {"waste_code": OIL, "form": "液态", "estimated_kg": "20", "planned_method": "R9"}], **window()}), 201)
    assert o["raised_by"] == "producer" and o["consent_id"] is None
    assert "pickup_order.requested" in [i["kind"] for i in ok(client.get(
        f"/api/v1/units/{col['id']}/inbox", headers=col["adm"]))]
    accept_and_schedule(client, o, col)
    r = client.post(f"/api/v1/pickup-orders/{o['id']}/weigh", headers=col["drv"], json={
        "scale_id": "S", "lines": [{"line_no": 1, "weighings": [{"gross_kg": "20", "container_type": "桶"}]}]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "consent.missing"
    res = ok(client.post(f"/api/v1/pickup-orders/{o['id']}/weigh", headers=col["drv"], json={
        "scale_id": "G-1", "weighed_on": "producer_scale", "lines": [{"line_no": 1, "batch_ids": [b["id"]]}]}))
    assert res["order"]["weighed_on"] == "labelled" and [x["id"] for x in res["batches"]] == [b["id"]]
    # the producer confirms from its own login
    res = ok(client.post(f"/api/v1/pickup-orders/{o['id']}/confirm", headers=g["adm"], json={}))
    assert res["order"]["confirmed_via"] == "own_login" and res["manifest"]["lines"][0]["batch_id"] == b["id"]
    m = pickup_and_receive(client, res["manifest"], col)
    assert D(m["total_received_kg"]) == D(20)


def test_confirmation_is_the_producers_act(client, w, session):
    col, g = w["col"], w["garages"][0]
    other = w["garages"][1]
    consent(client, g, col)
    o = raise_by_collector(client, g, col)
    accept_and_schedule(client, o, col)
    weigh(client, o, col)
    # the driver cannot confirm for the producer by itself, nor with another unit's credentials
    r = client.post(f"/api/v1/pickup-orders/{o['id']}/confirm", headers=col["drv"], json={})
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "username"
    r = confirm_on_drivers_phone(client, o, col, other)
    assert r.status_code == 403 and r.json()["error"]["code"] == "pickup_order.confirmation_failed"
    for left in (3, 2, 1, 0):
        r = confirm_on_drivers_phone(client, o, col, g, password="wrong-password")
        assert r.status_code == 403 and r.json()["error"]["details"]["attempts_left"] == left
    r = confirm_on_drivers_phone(client, o, col, g)  # even the right password: locked on the driver's phone now
    assert r.status_code == 409 and r.json()["error"]["code"] == "pickup_order.confirm_locked"
    # a regulator neither confirms nor acts for the producer
    _, rtok = make_user(session, role="regulator", region_prefix="37")
    r = client.post(f"/api/v1/pickup-orders/{o['id']}/confirm", headers=auth(rtok), json={})
    assert r.status_code == 403
    r = client.post("/api/v1/pickup-orders", headers=auth(rtok), json={
        "unit_id": g["id"], "lines": [{"waste_code": OIL, "form": "液态", "estimated_kg": "30"}], **window()})
    assert r.status_code == 403
    r = client.post(f"/api/v1/units/{g['id']}/consents", headers=auth(rtok), json={"collector_id": col["id"]})
    assert r.status_code == 403
    assert ok(client.get(f"/api/v1/pickup-orders/{o['id']}", headers=auth(rtok)))["status"] == "weighed"
    res = ok(client.post(f"/api/v1/pickup-orders/{o['id']}/confirm", headers=g["adm"], json={}))
    assert res["order"]["status"] == "confirmed"


def test_two_racing_accepts_give_one_success(client, w, admin, session, live_server):
    g = w["garages"][0]
    second = add_collector(client, admin, session, name="济南蓝鲸环保收集有限公司")
    o = ok(client.post("/api/v1/pickup-orders", headers=g["adm"], json={  # open: any licensed collector may take it
        "unit_id": g["id"], "lines": [{"waste_code": OIL, "form": "液态", "estimated_kg": "50"}], **window()}), 201)
    for col in (w["col"], second):
        listed = ok(client.get("/api/v1/pickup-orders?status=requested", headers=col["adm"]))
        assert [x["id"] for x in listed] == [o["id"]]
        assert "pickup_order.requested" in [i["kind"] for i in ok(client.get(
            f"/api/v1/units/{col['id']}/inbox", headers=col["adm"]))]

    def accept(h):
        with httpx.Client(base_url=live_server, timeout=60) as c:
            return c.post(f"/api/v1/pickup-orders/{o['id']}/accept", json={}, headers=h)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(accept, [w["col"]["adm"], second["adm"]]))
    assert sorted(r.status_code for r in results) == [200, 409], [r.text for r in results]
    loser = next(r for r in results if r.status_code == 409).json()["error"]
    assert loser["code"] in ("pickup_order.taken", "pickup_order.concurrent_change")
    won = ok(client.get(f"/api/v1/pickup-orders/{o['id']}", headers=g["adm"]))
    assert won["status"] == "accepted" and [e["action"] for e in won["events"]].count("accept") == 1
    winner = next(r for r in results if r.status_code == 200).json()
    assert won["collector_id"] == winner["collector_id"]
    # the open order left both collectors' inboxes
    for col in (w["col"], second):
        assert "pickup_order.requested" not in [i["kind"] for i in ok(client.get(
            f"/api/v1/units/{col['id']}/inbox", headers=col["adm"]))]


def test_a_collector_not_licensed_for_the_code_cannot_take_the_order(client, w, admin, session):
    g = w["garages"][0]
    batteries = add_collector(client, admin, session, name="铅蓄电池收集站", codes=("HW31",))
    o = ok(client.post("/api/v1/pickup-orders", headers=g["adm"], json={
        "unit_id": g["id"], "lines": [{"waste_code": OIL, "form": "液态", "estimated_kg": "50"}], **window()}), 201)
    assert ok(client.get("/api/v1/pickup-orders", headers=batteries["adm"])) == []
    r = client.post(f"/api/v1/pickup-orders/{o['id']}/accept", headers=batteries["adm"], json={})
    assert r.status_code == 404
    r = client.post("/api/v1/pickup-orders", headers=g["adm"], json={
        "unit_id": g["id"], "collector_id": batteries["id"],
        "lines": [{"waste_code": OIL, "form": "液态", "estimated_kg": "5"}], **window()})
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "lines[0].waste_code"


def test_order_checks_say_what_to_fix(client, w):
    col, g = w["col"], w["garages"][0]
    base = {"unit_id": g["id"], "collector_id": col["id"],
            "lines": [{"waste_code": OIL, "form": "液态", "estimated_kg": "50"}], **window()}
    r = client.post("/api/v1/pickup-orders", headers=g["adm"], json={**base, "window_to": base["window_from"]})
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "window_to"
    r = client.post("/api/v1/pickup-orders", headers=g["adm"], json={**base, "lines": base["lines"] * 2})
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "lines[1].waste_code"
    o = ok(client.post("/api/v1/pickup-orders", headers=g["adm"], json=base), 201)
    ok(client.post(f"/api/v1/pickup-orders/{o['id']}/accept", headers=col["adm"], json={}))
    sched = {"pickup_date": shanghai_today().isoformat(), "vehicle_id": col["vehicle"], "driver_id": col["driver_id"]}
    r = client.post(f"/api/v1/pickup-orders/{o['id']}/schedule", headers=col["adm"], json=sched)
    assert r.status_code == 422 and r.json()["error"]["code"] == "pickup_order.method_missing"
    r = client.post(f"/api/v1/pickup-orders/{o['id']}/schedule", headers=col["adm"],
                    json={**sched, "planned_methods": {"1": "R99"}})
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "planned_methods.1"
    o = ok(client.post(f"/api/v1/pickup-orders/{o['id']}/schedule", headers=col["adm"],
                       json={**sched, "planned_methods": {"1": "R9"}}))
    r = client.post(f"/api/v1/pickup-orders/{o['id']}/confirm", headers=g["adm"], json={})
    assert r.status_code == 409 and r.json()["error"]["code"] == "pickup_order.invalid_transition"
    # the producer cancels; the collector is told; a cancelled order takes no further step
    o = ok(client.post(f"/api/v1/pickup-orders/{o['id']}/cancel", headers=g["adm"], json={"reason": "已自行处理"}))
    assert o["status"] == "cancelled" and o["cancel_reason"] == "已自行处理"
    assert "pickup_order.cancelled" in [i["kind"] for i in ok(client.get(
        f"/api/v1/units/{col['id']}/inbox", headers=col["adm"]))]
    r = client.post(f"/api/v1/pickup-orders/{o['id']}/accept", headers=col["adm"], json={})
    assert r.status_code == 409
    assert [x["id"] for x in ok(client.get(f"/api/v1/pickup-orders?unit_id={g['id']}&status=cancelled",
                                           headers=g["adm"]))] == [o["id"]]
    r = client.get("/api/v1/pickup-orders?status=nonsense", headers=g["adm"])
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "status"


def test_retried_writes_are_idempotent(client, w):
    col, g = w["col"], w["garages"][0]
    consent(client, g, col)
    body = {"unit_id": g["id"], "lines": [{"waste_code": OIL, "form": "液态", "estimated_kg": "30",
                                           "planned_method": "R9"}], **window()}
    h = {**col["adm"], "Idempotency-Key": "raise-1"}
    a = ok(client.post("/api/v1/pickup-orders", headers=h, json=body), 201)
    b = client.post("/api/v1/pickup-orders", headers=h, json=body)
    assert b.status_code == 201 and b.headers.get("Idempotent-Replayed") == "true" and b.json()["id"] == a["id"]
    accept_and_schedule(client, a, col)
    wbody = {"scale_id": "S", "lines": [{"line_no": 1, "weighings": [{"gross_kg": "20", "container_type": "桶"}]}]}
    h = {**col["drv"], "Idempotency-Key": "weigh-1"}
    first = ok(client.post(f"/api/v1/pickup-orders/{a['id']}/weigh", headers=h, json=wbody))
    again = ok(client.post(f"/api/v1/pickup-orders/{a['id']}/weigh", headers=h, json=wbody))
    assert again["batches"] == first["batches"]
    assert len(ok(client.get(f"/api/v1/units/{g['id']}/records", headers=g["adm"]))) == 1


def test_passwords_typed_on_the_drivers_phone_share_the_accounts_login_allowance(client, w):
    col, g = w["col"], w["garages"][0]
    consent(client, g, col)
    ordered = []
    for _ in range(2):
        o = raise_by_collector(client, g, col)
        accept_and_schedule(client, o, col)
        weigh(client, o, col)
        ordered.append(o)
    # Four wrong passwords on one order, one on the next: the account's five login failures are used up, so the
    # next attempt — a login or another order, even with the right password — waits (429 with Retry-After).
    for _ in range(4):
        assert confirm_on_drivers_phone(client, ordered[0], col, g, password="wrong").status_code == 403
    assert confirm_on_drivers_phone(client, ordered[1], col, g, password="wrong").status_code == 403
    r = confirm_on_drivers_phone(client, ordered[1], col, g)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    r = client.post("/api/v1/auth/login", json={"username": g["username"], "password": PASSWORD})
    assert r.status_code == 429
