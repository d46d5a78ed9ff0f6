"""Receipt and processing as strict as dispatch: masses, licences, where the load goes, refusals, deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ledger.workdays import today as shanghai_today
from ledger.workdays import working_day_deadline
from tests.api.test_manifests import batch, draft, gen, ok, to_transit
from tests.conftest import batch_body, make_user, setup_transfer

D = Decimal


@pytest.fixture
def w(client, admin, session):
    return setup_transfer(client, admin, session)


def in_transit(client, w, **kw):
    a = gen(client, w, **kw)
    m = to_transit(client, w, [{"batch_id": a["id"], "planned_method": "R9"}], [a["digital_id"]])
    return a, m


def receive(client, w, m, lines, **kw):
    return client.post(f"/api/v1/manifests/{m['id']}/receive", headers=w["rcv"], json={"lines": lines, **kw})


def test_a_receipt_ten_times_the_shipped_mass_is_refused(client, w):
    a, m = in_transit(client, w)  # 164 kg net
    r = receive(client, w, m, [{"batch_id": a["id"], "received_kg": "1640", "acceptance": "accepted"}])
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "manifest.receipt_impossible" and err["details"]["field"] == "lines[0].received_kg"
    assert "decimal point" in err["message"]
    assert client.get(f"/api/v1/manifests/{m['id']}", headers=w["rcv"]).json()["status"] == "in_transit"


def test_a_receipt_above_the_tolerance_needs_confirmation_and_is_flagged(client, w):
    a, m = in_transit(client, w)  # 164 kg net; tolerance 5 kg
    line = {"batch_id": a["id"], "received_kg": "180", "acceptance": "accepted"}
    r = receive(client, w, m, [line])
    assert r.status_code == 422 and r.json()["error"]["code"] == "manifest.receipt_over_shipped"
    assert "confirm_overweight" in r.json()["error"]["message"]
    r = receive(client, w, m, [{**line, "confirm_overweight": True}])
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "lines[0].received_kg"  # no reason
    m2 = ok(receive(client, w, m, [{**line, "confirm_overweight": True, "reason": "接收方地磅复核两次"}]))
    ln = m2["lines"][0]
    assert ln["flags"] == ["received_over_shipped"] and "received_over_shipped:900-249-08" in m2["flags"]
    assert ln["shipped_kg"] == "164.000" and ln["received_kg"] == "180.000" and ln["transit_difference_kg"] == "-16.000"
    # the trace tells both masses: the generator's 164 kg shipped, the receiver's 180 kg received
    tr = client.get(f"/api/v1/batches/{a['id']}/trace", headers=w["op"]).json()
    rec = next(s["record"] for s in tr["steps"] if s["record"]["kind"] == "received")
    assert rec["body"]["shipped_g"] == 164000 and rec["body"]["received_g"] == 180000
    assert rec["body"]["flags"] == ["received_over_shipped"]
    assert tr["manifests"][0]["shipped_kg"] == "164.000" and tr["manifests"][0]["received_kg"] == "180.000"


def test_a_receipt_within_the_tolerance_passes_unflagged(client, w):
    a, m = in_transit(client, w)
    m2 = ok(receive(client, w, m, [{"batch_id": a["id"], "received_kg": "168.9", "acceptance": "accepted"}]))
    assert m2["lines"][0]["flags"] == [] and m2["flags"] == []


def test_processing_a_received_load_is_checked_against_the_licence(client, w, admin):
    a, m = in_transit(client, w)
    m = ok(receive(client, w, m, [{"batch_id": a["id"], "received_kg": "164", "acceptance": "accepted"}]))
    h = m["lines"][0]["holding_id"]
    ok(client.post(f"/api/v1/batches/{h}/retrieve", headers=w["rcv"], json={"operator": "收料员"}), 201)
    # the receiver's licence covers R9/R2 only: D10 is refused, naming the rule
    r = client.post(f"/api/v1/batches/{h}/dispose-in-house", headers=w["rcv"],
                    json={"method": "D10", "operator": "操作工"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"]["rule"] == "receiver_method" and "D10" in r.json()["error"]["message"]
    # a licensed method other than the planned one is allowed, and recorded as such
    rec = ok(client.post(f"/api/v1/batches/{h}/use-in-house", headers=w["rcv"],
                         json={"method": "R2", "operator": "操作工"}), 201)["record"]
    assert rec["body"]["method_differs"] == {"manifest": m["number"], "line_no": 1, "planned": "R9", "used": "R2"}
    m = ok(client.post(f"/api/v1/manifests/{m['id']}/complete", headers=w["rcv"]))
    assert "method_changed:900-249-08" in m["flags"] and m["lines"][0]["flags"] == ["method_changed"]
    assert "method_changed" in [e["action"] for e in m["events"]]


def test_processing_after_the_licence_expired_is_refused(client, w, admin, session):
    a, m = in_transit(client, w)
    m = ok(receive(client, w, m, [{"batch_id": a["id"], "received_kg": "164", "acceptance": "accepted"}]))
    h = m["lines"][0]["holding_id"]
    ok(client.post(f"/api/v1/batches/{h}/retrieve", headers=w["rcv"], json={"operator": "收料员"}), 201)
    from sqlalchemy import text

    with session.bind.connect() as conn:  # the licence lapsed before processing
        conn.execute(text("UPDATE permit SET valid_to = :d WHERE unit_id = :u"),
                     {"d": (datetime.now(UTC) - timedelta(days=3)).date(), "u": w["receiver"]["id"]})
        conn.execute(text("UPDATE registry_version SET stamp = stamp + 1"))  # as the registry's own write would
        conn.commit()
    r = client.post(f"/api/v1/batches/{h}/use-in-house", headers=w["rcv"], json={"method": "R9", "operator": "操作工"})
    assert r.status_code == 422 and r.json()["error"]["details"]["rule"] == "receiver_licence"


def test_receipt_names_where_the_load_went(client, w, admin):
    a, m = in_transit(client, w)
    # a second storage facility: the receiver must now say which one
    r = client.post(f"/api/v1/units/{w['receiver']['id']}/facilities", headers=admin, json={
        "kind": "storage", "code": "ZC-02", "name": "二号库", "storage_type": "贮存库", "storage_capacity_t": "10"})
    second = r.json()["id"]
    line = {"batch_id": a["id"], "received_kg": "164", "acceptance": "accepted"}
    r = receive(client, w, m, [line])
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "facility_id"
    r = receive(client, w, m, [line], facility_id=w["store"])  # the originator's store is not the receiver's
    assert r.status_code == 422 and r.json()["error"]["code"] == "manifest.receipt_facility"
    m = ok(receive(client, w, m, [line], facility_id=second))
    h = batch(client, w, m["lines"][0]["holding_id"], "rcv")
    assert h["storage_facility_id"] == second and D(h["stored_kg"]) == D(164) and h["status"] == "stored"
    recs = client.get(f"/api/v1/units/{w['receiver']['id']}/records", headers=w["rcv"]).json()
    received = next(r for r in recs if r["kind"] == "received")
    assert received["facility_id"] == second and received["record_code"].startswith("HWJS")
    stored = next(r for r in recs if r["kind"] == "stored")
    assert stored["facility_id"] == second and stored["body"]["from_codes"] == [received["record_code"]]
    card = client.get(f"/api/v1/facilities/{second}", headers=w["rcv"]).json()
    assert D(card["stock_kg"]) == D(164)


def test_receipt_straight_into_the_line(client, w):
    a, m = in_transit(client, w)
    m = ok(receive(client, w, m, [{"batch_id": a["id"], "received_kg": "164", "acceptance": "accepted",
                                   "facility_id": w["rline"]}]))
    h = batch(client, w, m["lines"][0]["holding_id"], "rcv")
    assert D(h["stored_kg"]) == 0 and h["status"] == "generated"
    ok(client.post(f"/api/v1/batches/{h['id']}/use-in-house", headers=w["rcv"],
                   json={"method": "R9", "facility_id": w["rline"], "operator": "操作工"}), 201)


def test_a_receiver_scanning_a_label_gets_its_own_holding(client, w):
    a, m = in_transit(client, w)
    m = ok(receive(client, w, m, [{"batch_id": a["id"], "received_kg": "164", "acceptance": "accepted"}]))
    s = ok(client.get(f"/api/v1/scan/{a['digital_id']}", headers=w["rcv"]))
    assert s["batch"]["id"] == m["lines"][0]["holding_id"] and s["batch"]["holder_unit_id"] == w["receiver"]["id"]
    assert "retrieve" in s["next_actions"] and "receive" not in s["next_actions"]  # stored at receipt
    mine = ok(client.get(f"/api/v1/scan/{a['digital_id']}", headers=w["op"]))
    assert mine["batch"]["id"] == a["id"]  # the generator still sees its own (closed) holding


def test_a_load_refused_whole_with_zero_typed_comes_back_as_shipped(client, w):
    a, m = in_transit(client, w)
    r = receive(client, w, m, [{"batch_id": a["id"], "received_kg": "0", "acceptance": "refused"}])
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "lines[0].reason"
    m = ok(receive(client, w, m, [{"batch_id": a["id"], "received_kg": "0", "acceptance": "refused",
                                   "reason": "未卸车，整车拒收"}]))
    assert m["status"] == "refused" and m["lines"][0]["refused_kg"] == "164.000"
    ok(client.post(f"/api/v1/manifests/{m['id']}/return", headers=w["drv"], json={}))
    m = ok(client.post(f"/api/v1/manifests/{m['id']}/returned", headers=w["op"], json={}))
    assert m["status"] == "returned" and m["lines"][0]["returned_kg"] == "164.000"
    x = batch(client, w, a["id"])
    assert D(x["remaining_kg"]) == D(164) and D(x["in_transit_kg"]) == 0


def test_an_accepted_line_of_zero_is_refused(client, w):
    a, m = in_transit(client, w)
    r = receive(client, w, m, [{"batch_id": a["id"], "received_kg": "0", "acceptance": "accepted"}])
    assert r.status_code == 422 and "refused" in r.json()["error"]["message"]


def test_continuous_point_records_daily_totals_within_its_capacity(client, w, admin):
    uid = w["unit"]["id"]
    r = client.post(f"/api/v1/units/{uid}/facilities", headers=admin, json={
        "kind": "generation", "code": "CS-ASH", "name": "电除尘灰斗", "continuous": True})
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "daily_capacity_t"
    ash = ok(client.post(f"/api/v1/units/{uid}/facilities", headers=admin, json={
        "kind": "generation", "code": "CS-ASH", "name": "电除尘灰斗", "continuous": True,
        "daily_capacity_t": "300"}), 201)["id"]
    body = batch_body(w, waste_code="900-249-08", facility_id=ash, container_type="管道", gross_kg="150000",
                      tare_kg="0")
    r = client.post("/api/v1/batches", json=body, headers=w["op"])
    assert r.status_code == 422 and r.json()["error"]["code"] == "weighing.too_heavy"  # a container: 40 t cap
    r = client.post("/api/v1/batches", json={**body, "period": "day", "facility_id": w["gen"]}, headers=w["op"])
    assert r.status_code == 422 and r.json()["error"]["code"] == "weighing.not_continuous"
    b = ok(client.post("/api/v1/batches", json={**body, "period": "shift"}, headers=w["op"]), 201)
    assert D(b["net_kg"]) == D(150000)
    r = client.post("/api/v1/batches", json={**body, "period": "shift", "gross_kg": "150001"}, headers=w["op"])
    assert r.status_code == 422 and r.json()["error"]["code"] == "weighing.over_daily_capacity"
    r = client.post("/api/v1/batches", json={**body, "period": "day", "gross_kg": "1000"}, headers=w["op"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "weighing.period_recorded"
    ok(client.post("/api/v1/batches", json={**body, "period": "shift", "gross_kg": "150000"}, headers=w["op"]), 201)


def test_the_receipt_deadline_is_one_rule(client, w):
    a, m1 = in_transit(client, w)
    assert m1["receipt_deadline"] is None  # no arrival yet
    m1 = ok(client.post(f"/api/v1/manifests/{m1['id']}/deliver", headers=w["drv"], json={}))
    assert datetime.fromisoformat(m1["receipt_deadline"]) == working_day_deadline(
        datetime.fromisoformat(m1["delivered_at"]), 5)
    b, m2 = in_transit(client, w)  # nobody signs arrival: the receipt is the arrival
    m2 = ok(receive(client, w, m2, [{"batch_id": b["id"], "received_kg": "164", "acceptance": "accepted"}]))
    arrived = datetime.fromisoformat(m2["delivered_at"])
    assert arrived == datetime.fromisoformat(m2["received_at"])
    assert datetime.fromisoformat(m2["receipt_deadline"]) == working_day_deadline(arrived, 5)


def test_gps_points_after_the_trip_ended_are_refused(client, w):
    a, m = in_transit(client, w)
    point = {"points": [{"at": datetime.now(UTC).isoformat(), "lat": 36.7, "lon": 117.5}]}
    assert ok(client.post(f"/api/v1/manifests/{m['id']}/track", headers=w["drv"], json=point))["added"] == 1
    ok(client.post(f"/api/v1/manifests/{m['id']}/deliver", headers=w["drv"], json={}))
    r = client.post(f"/api/v1/manifests/{m['id']}/track", headers=w["drv"], json=point)
    assert r.status_code == 409 and r.json()["error"]["code"] == "manifest.not_on_the_road"


def test_records_keep_who_was_logged_in_beside_who_weighed(client, w, session):
    b = gen(client, w, operator="王工")
    rec = client.get(f"/api/v1/units/{w['unit']['id']}/records", headers=w["op"]).json()[0]
    assert rec["actor_name"] == "王工"
    by = rec["body"]["by"]
    assert by["username"].startswith("operator") and by["user_id"] and by["token_id"]
    stored = ok(client.post(f"/api/v1/batches/{b['id']}/store", headers=w["op"],
                            json={"facility_id": w["store"], "operator": "库管李"}), 201)["record"]
    assert stored["actor_name"] == "库管李" and stored["body"]["by"]["token_id"] == by["token_id"]
    assert client.get(f"/api/v1/units/{w['unit']['id']}/verify", headers=w["op"]).json()["ok"]


def test_storing_a_stored_batch_says_where_it_is(client, w):
    b = gen(client, w, store_facility_id=w["store"])
    r = client.post(f"/api/v1/batches/{b['id']}/store", headers=w["op"],
                    json={"facility_id": w["yard"], "operator": "库管"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "batch.already_stored"
    assert "ZC-01" in r.json()["error"]["message"] and "mass" not in r.json()["error"]["message"]


def test_timestamps_come_back_in_utc(client, w):
    when = (datetime.now(UTC) - timedelta(minutes=5)).astimezone(
        __import__("zoneinfo").ZoneInfo("Asia/Shanghai")).isoformat()
    assert when.endswith("+08:00")
    b = gen(client, w, occurred_at=when)
    assert b["occurred_at"].endswith("Z")
    again = batch(client, w, b["id"])
    assert again["occurred_at"] == b["occurred_at"]
    m = ok(draft(client, w, [{"batch_id": b["id"], "planned_method": "R9"}]), 201)
    assert m["created_at"].endswith("Z")


def test_a_driver_is_not_named_as_the_storekeeper_at_loading(client, w, session):
    b = gen(client, w, store_facility_id=w["store"])
    _, tok = make_user(session, role="unit_admin", unit_id=w["unit"]["id"], username="admin.store")
    m = ok(draft(client, w, [{"batch_id": b["id"], "planned_method": "R9"}]), 201)
    ok(client.post(f"/api/v1/manifests/{m['id']}/submit", headers={"Authorization": f"Bearer {tok}"}))
    ok(client.post(f"/api/v1/manifests/{m['id']}/pickup", headers=w["drv"], json={"scanned": [b["digital_id"]]}))
    recs = client.get(f"/api/v1/units/{w['unit']['id']}/records", headers=w["op"]).json()
    out = next(r for r in recs if r["kind"] == "retrieved")
    assert out["actor_name"] == "unit_admin"  # the display name of the person who signed for the originator
    assert out["body"]["carrier"] == "driver" and out["body"]["manifest"] == m["number"]


# Columns that apply only to some receivers (exempt units, foreign units, exports) or to some rows.
OPTIONAL = {"exempt_unit", "foreign_unit", "export_notice_no", "from_codes", "reason", "refused_kg"}


def test_every_hj1259_column_is_filled_from_the_records(client, w):

    from ledger.reports.ledger_tables import TABLE_COLUMNS

    a = gen(client, w, store_facility_id=w["store"], container_type="钢桶")
    b = gen(client, w, store_facility_id=w["store"])
    c = gen(client, w)
    ok(client.post(f"/api/v1/batches/{c['id']}/use-in-house", headers=w["op"],
                   json={"method": "R9", "facility_id": w["line"], "operator": "操作工"}), 201)
    m = to_transit(client, w, [{"batch_id": a["id"], "planned_method": "R9"},
                               {"batch_id": b["id"], "planned_method": "R9"}], [a["digital_id"], b["digital_id"]])
    ok(receive(client, w, m, [
        {"batch_id": a["id"], "received_kg": "163.5", "acceptance": "accepted"},
        {"batch_id": b["id"], "received_kg": "164", "acceptance": "partially_refused", "accepted_kg": "100",
         "reason": "部分含水"}]))
    ok(client.post(f"/api/v1/manifests/{m['id']}/returned", headers=w["orig"], json={}))
    span = {"from": (shanghai_today() - timedelta(days=1)).isoformat(), "to": (shanghai_today() + timedelta(days=1)).isoformat()}
    tables = ok(client.get(f"/api/v1/units/{w['unit']['id']}/ledger", params=span, headers=w["op"]))["tables"]
    assert [len(tables[t]["rows"]) for t in ("B.1", "B.2", "B.3", "B.4", "B.5")] == [3, 2, 2, 1, 3]
    for t in ("B.1", "B.2", "B.3", "B.4", "B.5"):
        for row in tables[t]["rows"]:
            empty = [k for k, _ in TABLE_COLUMNS[t] if k not in OPTIONAL and row[k] in ("", None)]
            assert not empty, (t, row["record_code"], empty)
    b3 = tables["B.3"]["rows"][0]
    assert b3["operator"] != "driver" and b3["carrier"] == "driver" and "委外" in b3["destination"]
    b5 = tables["B.5"]["rows"]
    assert [r["shipped_kg"] for r in b5] == ["164.000", "164.000", "164.000"]
    assert b5[0]["received_kg"] == "163.500" and b5[0]["licence_no"].startswith("鲁危证")
    back = b5[2]
    assert back["mass_kg"] == "-64.000" and back["method"].startswith("R9") and back["receiver_name"] == "绿源环保"
    csv_text = client.get(f"/api/v1/units/{w['unit']['id']}/ledger", params={**span, "format": "csv", "table": "B.5"},
                          headers=w["op"]).text
    assert csv_text.startswith("\ufeff序号,委外利用/处置批次编码,出厂时间") and m["number"] in csv_text


def test_a_retried_signature_gets_its_first_answer_not_a_conflict(client, w):
    a = gen(client, w)
    m = ok(draft(client, w, [{"batch_id": a["id"], "planned_method": "R9"}]), 201)
    key = {**w["op"], "Idempotency-Key": "submit-1"}
    first = client.post(f"/api/v1/manifests/{m['id']}/submit", headers=key)
    assert first.status_code == 200 and first.json()["status"] == "submitted"
    again = client.post(f"/api/v1/manifests/{m['id']}/submit", headers=key)  # the answer was lost; the phone retries
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    other = client.post(f"/api/v1/manifests/{m['id']}/cancel", headers=key, json={"reason": "重复"})
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency.key_reused"
    fresh = client.post(f"/api/v1/manifests/{m['id']}/submit", headers={**w["op"], "Idempotency-Key": "submit-2"})
    assert fresh.status_code == 409  # a new request to sign again is refused: it is already submitted


def test_two_loads_of_a_manifest_processed_at_once_each_keep_their_method_flag(client, w, engine):
    """Two receivers' operators (two processes) use two loads of one manifest at once, each by a method other than
    the planned one: each adds its flag to the manifest, and neither is lost (the manifest is locked while its flags
    change, and its version moves twice)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL: SQLite's writers take turns on the whole database")
    import threading

    from sqlmodel import Session

    from ledger import batches as bsvc
    from ledger import manifests as msvc
    from tests.api.test_group_commit import deferred

    a, b = gen(client, w), gen(client, w, waste_code="900-041-49", name="废过滤棉")
    m = to_transit(client, w, [{"batch_id": a["id"], "planned_method": "R9"},
                               {"batch_id": b["id"], "planned_method": "R9"}], [a["digital_id"], b["digital_id"]])
    m = ok(receive(client, w, m, [{"batch_id": x["id"], "received_kg": "164", "acceptance": "accepted"}
                                  for x in (a, b)], facility_id=w["rline"]))
    with Session(engine) as s:
        v0 = s.get(msvc.Manifest, m["id"]).version
    holdings = [ln["holding_id"] for ln in m["lines"]]
    first_in, go = threading.Event(), threading.Event()
    errors: list = []

    def use(h: int, hold: bool) -> None:
        try:
            with Session(engine, expire_on_commit=False) as s:
                p = deferred(w["rcv"]).credentials.principal(s)
                bsvc.process_in_house(s, principal=p, batch=bsvc.get_batch(s, p, h, lock=True), kind="used_in_house",
                                      data=bsvc.ProcessIn(method="R2", operator="操作工"))
                if hold:  # the first holds the manifest until the second is waiting for it
                    first_in.set()
                    go.wait(10)
                s.commit()
        except Exception as e:  # noqa: BLE001 — reported below
            errors.append(e)
    t1 = threading.Thread(target=use, args=(holdings[0], True))
    t1.start()
    assert first_in.wait(10), errors
    t2 = threading.Thread(target=use, args=(holdings[1], False))
    t2.start()
    t2.join(1)
    assert t2.is_alive()  # waiting for the manifest the first holds
    go.set()
    t1.join(10)
    t2.join(10)
    assert not errors, errors
    got = client.get(f"/api/v1/manifests/{m['id']}", headers=w["rcv"]).json()
    assert {"method_changed:900-249-08", "method_changed:900-041-49"} <= set(got["flags"])
    assert [e["action"] for e in got["events"]].count("method_changed") == 2
    with Session(engine) as s:
        assert s.get(msvc.Manifest, m["id"]).version == v0 + 2
