"""Manifests over HTTP: every path, every check, the stocks of both parties after each step, races, the PDF."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
import zxingcpp
from pypdf import PdfReader

from ledger.workdays import today as shanghai_today
from ledger.workdays import working_day_deadline
from tests.conftest import batch_body, create_unit, make_user, setup_plant, setup_transfer

D = Decimal
TODAY = shanghai_today().isoformat()


def gen(client, w, **kw):
    r = client.post("/api/v1/batches", json=batch_body(w, **kw), headers=w["op"])
    assert r.status_code == 201, r.text
    return r.json()


def batch(client, w, bid, who="op"):
    return client.get(f"/api/v1/batches/{bid}", headers=w[who]).json()


def draft(client, w, lines, **kw):
    body = {"originator_id": w["unit"]["id"], "hauler_id": w["hauler"]["id"], "vehicle_id": w["vehicles"][0],
            "receiver_id": w["receiver"]["id"], "driver_id": w["driver_id"], "planned_date": TODAY, "lines": lines}
    body.update(kw)
    return client.post("/api/v1/manifests", json=body, headers=w["op"])


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


def to_transit(client, w, lines, scanned):
    m = ok(draft(client, w, lines), 201)
    ok(client.post(f"/api/v1/manifests/{m['id']}/submit", headers=w["op"]))
    return ok(client.post(f"/api/v1/manifests/{m['id']}/pickup", headers=w["drv"],
                          json={"scanned": scanned, "lat": 36.67, "lon": 117.0}))


@pytest.fixture
def w(client, admin, session):
    return setup_transfer(client, admin, session)


def test_normal_path_moves_stock_from_originator_to_receiver(client, w):
    a = gen(client, w, gross_kg="200", tare_kg="20")
    b = gen(client, w, gross_kg="120", tare_kg="20", store_facility_id=w["store"])
    m = ok(draft(client, w, [{"batch_id": a["id"], "planned_method": "R9"},
                             {"batch_id": b["id"], "planned_method": "R9"}]), 201)
    year = str(datetime.now(UTC).astimezone().year)
    assert m["status"] == "draft" and len(m["number"]) == 14 and m["number"].startswith(year + "3701")
    assert m["number"].endswith("000001") and D(m["total_shipped_kg"]) == D(280)
    ok(client.post(f"/api/v1/manifests/{m['id']}/submit", headers=w["op"]))
    m = ok(client.post(f"/api/v1/manifests/{m['id']}/pickup", headers=w["drv"],
                       json={"scanned": [a["digital_id"], b["digital_id"]], "lat": 36.6, "lon": 117.1}))
    assert m["status"] == "in_transit" and m["events"][-1]["lat"] == 36.6
    for bid in (a["id"], b["id"]):  # out of the originator's stock, into transit (the stored one was retrieved)
        x = batch(client, w, bid)
        assert x["status"] == "in_transit" and D(x["remaining_kg"]) == 0 and D(x["stored_kg"]) == 0
    fac = client.get(f"/api/v1/facilities/{w['store']}", headers=w["op"]).json()
    assert D(fac["stock_kg"]) == 0
    assert ok(client.post(f"/api/v1/manifests/{m['id']}/track", headers=w["drv"], json={"points": [
        {"at": datetime.now(UTC).isoformat(), "lat": 36.7, "lon": 117.5}]}))["added"] == 1
    m = ok(client.post(f"/api/v1/manifests/{m['id']}/deliver", headers=w["drv"], json={}))
    delivered = datetime.fromisoformat(m["delivered_at"])
    assert datetime.fromisoformat(m["receipt_deadline"]) == working_day_deadline(delivered, 5)
    m = ok(client.post(f"/api/v1/manifests/{m['id']}/receive", headers=w["rcv"], json={"lines": [
        {"batch_id": a["id"], "received_kg": "179.5", "acceptance": "accepted"},
        {"batch_id": b["id"], "received_kg": "100", "acceptance": "accepted"}]}))
    assert m["status"] == "received"
    assert [ln["transit_difference_kg"] for ln in m["lines"]] == ["0.500", "0.000"]
    assert D(batch(client, w, a["id"])["in_transit_kg"]) == 0
    holdings = [ln["holding_id"] for ln in m["lines"]]
    h0 = batch(client, w, holdings[0], "rcv")
    assert h0["holder_unit_id"] == w["receiver"]["id"] and D(h0["remaining_kg"]) == D("179.5")
    assert h0["digital_id"] == a["digital_id"] and h0["parent_id"] == a["id"]
    r = client.post(f"/api/v1/manifests/{m['id']}/complete", headers=w["rcv"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "manifest.unprocessed_line"
    # the load was stored at receipt in the receiver's only storage facility (接收库): its stock is real
    store = client.get(f"/api/v1/facilities/{w['rstore']}", headers=w["rcv"]).json()
    assert D(store["stock_kg"]) == D("279.5") and D(h0["stored_kg"]) == D("179.5")
    assert [r["kind"] for r in store["recent"]][:2] == ["stored", "received"]
    for h in holdings:
        ok(client.post(f"/api/v1/batches/{h}/retrieve", headers=w["rcv"], json={"operator": "收料员"}), 201)
    for h in holdings:
        ok(client.post(f"/api/v1/batches/{h}/use-in-house", headers=w["rcv"],
                       json={"method": "R9", "facility_id": w["rline"], "operator": "操作工"}), 201)
    m = ok(client.post(f"/api/v1/manifests/{m['id']}/complete", headers=w["rcv"]))
    assert m["status"] == "completed"
    assert [e["action"] for e in m["events"]] == ["create", "submit", "pickup", "deliver", "receive", "complete"]
    tr = client.get(f"/api/v1/batches/{a['id']}/trace", headers=w["op"]).json()
    assert [s["record"]["kind"] for s in tr["steps"]] == ["generated", "shipped", "received", "stored", "retrieved",
                                                          "used_in_house"]
    assert tr["manifests"][0]["number"] == m["number"]
    assert [p["unit_id"] for p in tr["parties"]] == [w["unit"]["id"], w["receiver"]["id"], w["hauler"]["id"]]
    for unit in (w["unit"]["id"], w["receiver"]["id"]):
        who = "op" if unit == w["unit"]["id"] else "rcv"
        assert client.get(f"/api/v1/units/{unit}/verify", headers=w[who]).json()["ok"]


def test_partial_refusal_returns_the_refused_part(client, w):
    a = gen(client, w, gross_kg="520", tare_kg="20")
    m = to_transit(client, w, [{"batch_id": a["id"], "planned_method": "R9"}], [a["digital_id"]])
    r = client.post(f"/api/v1/manifests/{m['id']}/receive", headers=w["rcv"], json={"lines": [
        {"batch_id": a["id"], "received_kg": "498", "acceptance": "partially_refused", "accepted_kg": "400"}]})
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "lines[0].reason"
    m = ok(client.post(f"/api/v1/manifests/{m['id']}/receive", headers=w["rcv"], json={"lines": [
        {"batch_id": a["id"], "received_kg": "498", "acceptance": "partially_refused", "accepted_kg": "400",
         "reason": "含水率超标部分拒收"}]}))
    ln = m["lines"][0]
    assert m["status"] == "received" and ln["refused_kg"] == "98.000" and ln["transit_difference_kg"] == "2.000"
    orig = batch(client, w, a["id"])
    assert D(orig["in_transit_kg"]) == D(98) and D(orig["remaining_kg"]) == 0
    assert D(batch(client, w, ln["holding_id"], "rcv")["remaining_kg"]) == D(400)
    m = ok(client.post(f"/api/v1/manifests/{m['id']}/returned", headers=w["op"], json={}))
    orig = batch(client, w, a["id"])
    assert D(orig["in_transit_kg"]) == 0 and D(orig["remaining_kg"]) == D(98) and orig["status"] == "generated"
    assert m["lines"][0]["returned_kg"] == "98.000"
    r = client.post(f"/api/v1/manifests/{m['id']}/returned", headers=w["op"], json={})
    assert r.status_code == 409


def test_full_refusal_goes_back_on_the_return_leg(client, w):
    a = gen(client, w)
    m = to_transit(client, w, [{"batch_id": a["id"], "planned_method": "R9"}], [a["digital_id"]])
    m = ok(client.post(f"/api/v1/manifests/{m['id']}/receive", headers=w["rcv"], json={"lines": [
        {"batch_id": a["id"], "received_kg": "164", "acceptance": "refused", "reason": "与联单不符"}]}))
    assert m["status"] == "refused" and m["lines"][0]["holding_id"] is None
    assert D(batch(client, w, a["id"])["in_transit_kg"]) == D(164)
    r = client.post(f"/api/v1/manifests/{m['id']}/returned", headers=w["drv"], json={})
    assert r.status_code == 403
    r = client.post(f"/api/v1/manifests/{m['id']}/returned", headers=w["op"], json={})
    assert r.status_code == 409 and r.json()["error"]["details"]["expected"] == ["returning"]  # no skipped state
    m = ok(client.post(f"/api/v1/manifests/{m['id']}/return", headers=w["drv"], json={"lat": 36.8, "lon": 118.0}))
    assert m["status"] == "returning"
    m = ok(client.post(f"/api/v1/manifests/{m['id']}/returned", headers=w["op"], json={}))
    assert m["status"] == "returned"
    x = batch(client, w, a["id"])
    assert D(x["remaining_kg"]) == D(164) and D(x["in_transit_kg"]) == 0 and x["holder_unit_id"] == w["unit"]["id"]
    # back home, the batch can go on a new manifest
    assert draft(client, w, [{"batch_id": a["id"], "planned_method": "R9"}]).status_code == 201
    assert client.get(f"/api/v1/units/{w['unit']['id']}/verify", headers=w["op"]).json()["ok"]


def test_cancel_before_pickup_only(client, w):
    a = gen(client, w)
    m = ok(draft(client, w, [{"batch_id": a["id"], "planned_method": "R9"}]), 201)
    m = ok(client.post(f"/api/v1/manifests/{m['id']}/cancel", headers=w["op"], json={"reason": "车辆故障"}))
    assert m["status"] == "cancelled"
    assert D(batch(client, w, a["id"])["remaining_kg"]) == D(164)
    m2 = to_transit(client, w, [{"batch_id": a["id"], "planned_method": "R9"}], [a["digital_id"]])
    assert m2["number"][-6:] == "000002"  # the cancelled number stays used: no gaps, no reuse
    r = client.post(f"/api/v1/manifests/{m2['id']}/cancel", headers=w["op"], json={"reason": "晚了"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "manifest.invalid_transition"


def test_revision_after_pickup_needs_the_other_parties(client, w):
    a = gen(client, w)
    m = to_transit(client, w, [{"batch_id": a["id"], "planned_method": "R9"}], [a["digital_id"]])
    m = ok(client.post(f"/api/v1/manifests/{m['id']}/revisions", headers=w["drv"],
                       json={"reason": "车辆故障换车", "vehicle_id": w["vehicles"][1]}), 201)
    rev = m["revisions"][0]
    assert rev["status"] == "pending" and rev["original"] == {"vehicle_id": w["vehicles"][0]}
    r = client.post(f"/api/v1/manifests/{m['id']}/revisions/{rev['id']}/approve", headers=w["drv"])
    assert r.status_code == 403  # the proposer does not approve its own change
    m = ok(client.post(f"/api/v1/manifests/{m['id']}/revisions/{rev['id']}/approve", headers=w["op"]))
    assert m["revisions"][0]["status"] == "pending"
    m = ok(client.post(f"/api/v1/manifests/{m['id']}/revisions/{rev['id']}/approve", headers=w["rcv"]))
    assert m["revisions"][0]["status"] == "approved" and m["vehicle_plate"].startswith("鲁AD")
    assert m["events"][-1]["action"] == "revision_applied"
    assert m["events"][-1]["detail"]["original"] == {"vehicle_id": w["vehicles"][0]}
    m = ok(client.post(f"/api/v1/manifests/{m['id']}/deliver", headers=w["drv"], json={"lat": 36.6, "lon": 117.1}))
    assert [r["status"] for r in m["revisions"]] == ["approved"]  # a later step's answer shows the road's revisions


def test_pickup_refuses_a_label_not_on_the_manifest_and_missing_scans(client, w):
    a, b = gen(client, w), gen(client, w)
    m = ok(draft(client, w, [{"batch_id": a["id"], "planned_method": "R9"}]), 201)
    ok(client.post(f"/api/v1/manifests/{m['id']}/submit", headers=w["op"]))
    r = client.post(f"/api/v1/manifests/{m['id']}/pickup", headers=w["drv"],
                    json={"scanned": [a["digital_id"], b["digital_id"]]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "manifest.label_not_on_manifest"
    assert r.json()["error"]["details"]["not_on_manifest"] == [b["digital_id"]]
    c = gen(client, w)
    m = ok(draft(client, w, [{"batch_id": b["id"], "planned_method": "R9"},
                             {"batch_id": c["id"], "planned_method": "R9"}]), 201)
    ok(client.post(f"/api/v1/manifests/{m['id']}/submit", headers=w["op"]))
    r = client.post(f"/api/v1/manifests/{m['id']}/pickup", headers=w["drv"], json={"scanned": [b["digital_id"]]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "manifest.label_not_scanned"
    r = client.post(f"/api/v1/manifests/{m['id']}/pickup", headers=w["op"],
                    json={"scanned": [b["digital_id"], c["digital_id"]]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "manifest.wrong_party"
    assert batch(client, w, b["id"])["status"] == "generated"  # nothing moved


def test_each_check_is_refused_naming_the_rule_and_the_field(client, admin, session, w):
    a = gen(client, w)
    line = [{"batch_id": a["id"], "planned_method": "R9"}]

    def refused(resp, rule, field, status=422):
        assert resp.status_code == status, resp.text
        err = resp.json()["error"]
        assert err["details"]["rule"] == rule and err["details"]["field"] == field, err
        return err

    # the licence covers HW08 and 900-041-49, so a code of another category is refused
    acid = gen(client, w, waste_code="900-300-34", name="废酸", form="液态")
    refused(draft(client, w, [{"batch_id": acid["id"], "planned_method": "R9"}]), "receiver_licence",
            "lines[0].batch_id")
    refused(draft(client, w, [{"batch_id": a["id"], "planned_method": "D10"}]), "receiver_method",
            "lines[0].planned_method")
    big = gen(client, w, gross_kg="30000", tare_kg="0", container_volume_l=None)
    refused(draft(client, w, line, vehicle_id=999999), "vehicle_not_hauler", "vehicle_id")
    other_hauler = create_unit(client, admin, roles=["hauler"])
    refused(draft(client, w, line, hauler_id=other_hauler["id"], driver_id=None), "hauler_permit", "hauler_id")
    refused(draft(client, w, line, driver_id=w["driver_id"], hauler_id=other_hauler["id"]), "driver_not_hauler",
            "driver_id")
    # a permit that ends before the planned date (planned dates lie within a year of today)
    r = client.post(f"/api/v1/units/{other_hauler['id']}/permits", headers=admin, json={
        "kind": "transport_permit", "number": "鲁交运短期", "valid_from": TODAY,
        "valid_to": (shanghai_today() + timedelta(days=10)).isoformat()})
    assert r.status_code == 201, r.text
    refused(draft(client, w, line, hauler_id=other_hauler["id"], driver_id=None,
                  planned_date=(shanghai_today() + timedelta(days=30)).isoformat()), "hauler_permit", "hauler_id")
    refused(draft(client, w, [{"batch_id": a["id"], "mass_kg": "165", "planned_method": "R9"}]), "batch_mass",
            "lines[0].mass_kg")
    ok(draft(client, w, line), 201)
    refused(draft(client, w, line), "batch_on_open_manifest", "lines[0].batch_id", status=409)
    # capacity: 1000 t licence; a 30 t batch is fine, the in-flight mass counts
    assert big["net_kg"] == "30000.000"
    far = create_unit(client, admin, roles=["receiver"], region_code="320102")
    client.post(f"/api/v1/units/{far['id']}/permits", headers=admin, json={
        "kind": "operating_licence", "number": "苏危证0001", "waste_codes": ["HW08"], "methods": ["R9"],
        "annual_capacity_t": "1000", "valid_from": "2025-01-01", "valid_to": "2030-12-31"})
    c = gen(client, w)
    cline = [{"batch_id": c["id"], "planned_method": "R9"}]
    refused(draft(client, w, cline, receiver_id=far["id"]), "cross_province_approval", "approval_id")
    appr = client.post(f"/api/v1/units/{w['unit']['id']}/transfer-approvals", headers=admin, json={
        "number": "跨省审批2026-01", "receiver_id": far["id"], "waste_codes": ["900-214-08"], "cap_kg": "100",
        "valid_from": TODAY, "valid_to": (shanghai_today() + timedelta(days=300)).isoformat()})
    assert appr.status_code == 201, appr.text
    refused(draft(client, w, cline, receiver_id=far["id"], approval_id=appr.json()["id"]), "approval_codes",
            "lines[0].batch_id")
    appr2 = client.post(f"/api/v1/units/{w['unit']['id']}/transfer-approvals", headers=admin, json={
        "number": "跨省审批2026-02", "receiver_id": far["id"], "waste_codes": ["900-249-08"], "cap_kg": "100",
        "valid_from": TODAY, "valid_to": (shanghai_today() + timedelta(days=300)).isoformat()}).json()
    refused(draft(client, w, cline, receiver_id=far["id"], approval_id=appr2["id"]), "approval_cap", "lines")
    r = client.post(f"/api/v1/units/{w['unit']['id']}/transfer-approvals", headers=admin, json={
        "number": "跨省审批2026-03", "receiver_id": far["id"], "waste_codes": ["900-249-08"], "cap_kg": "100",
        "valid_from": "2026-01-01", "valid_to": "2027-06-30"})
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "valid_to"
    past = client.post(f"/api/v1/units/{w['unit']['id']}/transfer-approvals", headers=admin, json={
        "number": "跨省审批2025-01", "receiver_id": far["id"], "waste_codes": ["900-249-08"], "cap_kg": "10000",
        "valid_from": "2025-01-01", "valid_to": "2025-06-30"}).json()
    refused(draft(client, w, cline, receiver_id=far["id"], approval_id=past["id"]), "approval_expired",
            "approval_id")
    elsewhere = client.post("/api/v1/batches", headers=admin, json=batch_body(
        setup_plant(client, admin, session)))
    refused(draft(client, w, [{"batch_id": elsewhere.json()["id"], "planned_method": "R9"}]), "batch_not_held",
            "lines[0].batch_id")


def test_receiver_capacity_counts_what_is_in_flight(client, admin, session):
    w = setup_transfer(client, admin, session, capacity_t="0.3")
    a, b = gen(client, w), gen(client, w)
    to_transit(client, w, [{"batch_id": a["id"], "planned_method": "R9"}], [a["digital_id"]])
    r = draft(client, w, [{"batch_id": b["id"], "planned_method": "R9"}])
    assert r.status_code == 422 and r.json()["error"]["details"]["rule"] == "receiver_capacity"


def test_outside_the_plan_is_allowed_and_flagged(client, admin, w):
    a = gen(client, w, waste_code="900-041-49", name="废包装物", form="固态")
    m = ok(draft(client, w, [{"batch_id": a["id"], "planned_method": "R2"}]), 201)
    assert m["flags"] == ["not_in_plan:900-041-49"]


def test_partial_bulk_line_leaves_the_rest_with_the_originator(client, w):
    a = gen(client, w, gross_kg="1000", tare_kg="0", container_volume_l=None)
    m = to_transit(client, w, [{"batch_id": a["id"], "mass_kg": "600", "planned_method": "R9"}], [a["digital_id"]])
    x = batch(client, w, a["id"])
    assert D(x["remaining_kg"]) == D(400) and D(x["in_transit_kg"]) == D(600)
    m = ok(client.post(f"/api/v1/manifests/{m['id']}/receive", headers=w["rcv"], json={"lines": [
        {"batch_id": a["id"], "received_kg": "600", "acceptance": "accepted"}]}))
    x = batch(client, w, a["id"])
    assert D(x["remaining_kg"]) == D(400) and D(x["in_transit_kg"]) == 0 and x["holder_unit_id"] == w["unit"]["id"]
    assert D(batch(client, w, m["lines"][0]["holding_id"], "rcv")["remaining_kg"]) == D(600)


def test_two_racing_receipts_give_exactly_one_success(client, w, session, live_server):
    a = gen(client, w)
    m = to_transit(client, w, [{"batch_id": a["id"], "planned_method": "R9"}], [a["digital_id"]])
    _, tok2 = make_user(session, role="receiver_operator", unit_id=w["receiver"]["id"])
    heads = [w["rcv"], {"Authorization": f"Bearer {tok2}"}]
    body = {"lines": [{"batch_id": a["id"], "received_kg": "164", "acceptance": "accepted"}]}

    def sign(h):
        with httpx.Client(base_url=live_server, timeout=60) as c:
            return c.post(f"/api/v1/manifests/{m['id']}/receive", json=body, headers=h)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(sign, heads))
    assert sorted(r.status_code for r in results) == [200, 409], [r.text for r in results]
    loser = next(r for r in results if r.status_code == 409).json()["error"]
    assert loser["code"] in ("manifest.invalid_transition", "manifest.concurrent_change")
    m2 = client.get(f"/api/v1/manifests/{m['id']}", headers=w["rcv"]).json()
    assert [e["action"] for e in m2["events"]].count("receive") == 1
    assert len([h for h in (ln["holding_id"] for ln in m2["lines"]) if h]) == 1
    assert D(batch(client, w, m2["lines"][0]["holding_id"], "rcv")["remaining_kg"]) == D(164)


def test_manifest_numbers_stay_gapless_under_concurrent_creation(client, w, live_server):
    ids = [gen(client, w)["id"] for _ in range(8)]

    def make(bid):
        with httpx.Client(base_url=live_server, timeout=60) as c:
            body = {"originator_id": w["unit"]["id"], "hauler_id": w["hauler"]["id"],
                    "vehicle_id": w["vehicles"][0], "receiver_id": w["receiver"]["id"], "planned_date": TODAY,
                    "lines": [{"batch_id": bid, "planned_method": "R9"}]}
            return c.post("/api/v1/manifests", json=body, headers=w["op"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(make, ids))
    assert all(r.status_code == 201 for r in results), [r.text for r in results]
    assert sorted(int(r.json()["number"][-6:]) for r in results) == list(range(1, 9))


def test_pdf_shows_the_number_and_its_qr_decodes(client, w):
    a = gen(client, w)
    m = to_transit(client, w, [{"batch_id": a["id"], "planned_method": "R9"}], [a["digital_id"]])
    r = client.get(f"/api/v1/manifests/{m['id']}.pdf", headers=w["drv"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(r.content))
    text = "".join(page.extract_text() for page in reader.pages)
    assert m["number"] in text
    images = [img.image for page in reader.pages for img in page.images]
    decoded = [c.text for img in images for c in zxingcpp.read_barcodes(img)]
    assert any(d.endswith(f"/m/{m['number']}") for d in decoded), decoded


def test_parties_see_the_manifest_others_do_not(client, admin, session, w):
    a = gen(client, w)
    m = ok(draft(client, w, [{"batch_id": a["id"], "planned_method": "R9"}]), 201)
    for who in ("op", "drv", "rcv"):
        assert client.get(f"/api/v1/manifests/{m['id']}", headers=w[who]).status_code == 200
    _, stranger = make_user(session, role="operator", unit_id=create_unit(client, admin)["id"])
    assert client.get(f"/api/v1/manifests/{m['id']}", headers={"Authorization": f"Bearer {stranger}"}
                      ).status_code == 404
    listed = client.get("/api/v1/manifests", params={"status": "draft"}, headers=w["drv"]).json()
    assert [x["id"] for x in listed] == [m["id"]]
    scan = client.get(f"/api/v1/scan/{a['digital_id']}", headers=w["op"]).json()
    assert "load_onto_manifest" not in scan["next_actions"]  # already on an open manifest


def test_both_parties_ledger_tables_come_from_the_same_records(client, w):
    a = gen(client, w, store_facility_id=w["store"])
    m = to_transit(client, w, [{"batch_id": a["id"], "planned_method": "R9"}], [a["digital_id"]])
    ok(client.post(f"/api/v1/manifests/{m['id']}/receive", headers=w["rcv"], json={"lines": [
        {"batch_id": a["id"], "received_kg": "163.8", "acceptance": "accepted"}]}))
    span = {"from": (shanghai_today() - timedelta(days=1)).isoformat(), "to": (shanghai_today() + timedelta(days=1)).isoformat()}
    mine = client.get(f"/api/v1/units/{w['unit']['id']}/ledger", params=span, headers=w["op"]).json()["tables"]
    theirs = client.get(f"/api/v1/units/{w['receiver']['id']}/ledger", params=span, headers=w["rcv"]).json()["tables"]
    assert [len(mine[t]["rows"]) for t in ("B.1", "B.2", "B.3", "B.4", "B.5")] == [1, 1, 1, 0, 1]
    out, inc = mine["B.5"]["rows"][0], theirs["IN"]["rows"][0]
    assert out["manifest"] == inc["manifest"] == m["number"]
    assert out["digital_id"] == inc["digital_id"] == a["digital_id"]
    assert out["mass_kg"] == inc["shipped_kg"] == "164.000" and inc["accepted_kg"] == "163.800"
    assert out["record_code"].startswith("HWWWLY") and out["method"].startswith("R9")
    assert mine["B.2"]["rows"][0]["from_codes"] == a["batch_code"]
    csv_text = client.get(f"/api/v1/units/{w['unit']['id']}/ledger", params={**span, "format": "csv"},
                          headers=w["op"]).text
    assert csv_text.startswith("\ufefftable,kind,record_id") and m["number"] in csv_text
