"""Declarations: what each tier owes and when, drafts from the balances (HJ 1259 C.1–C.3 figures), remarks,
submission by the unit only, frozen once submitted, corrections as new versions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlmodel import Session, select

from ledger import batches
from ledger.auth import SYSTEM
from ledger.journal import JournalRecord
from ledger.registry import units
from ledger.reports.declarations import owed_periods, period_of
from ledger.workdays import today as shanghai_today
from tests.reports.scenario import OIL

API = "/api/v1"


def test_periods_and_due_dates():
    assert period_of("monthly", date(2023, 12, 1)).due_on == date(2024, 1, 15)
    assert period_of("quarterly", date(2023, 10, 1)).due_on == date(2024, 1, 15)  # 15th of the quarter's 1st month
    assert period_of("quarterly", date(2023, 4, 1)).end == date(2023, 6, 30)
    assert period_of("annual", date(2023, 1, 1)).due_on == date(2024, 3, 31)
    assert [p.start for p in owed_periods("quarterly", date(2023, 5, 17), date(2024, 1, 2))] == [
        date(2023, 4, 1), date(2023, 7, 1), date(2023, 10, 1)]
    assert owed_periods("annual", date(2023, 5, 17), date(2023, 12, 31)) == []


def post(client, w, path, who, body=None, status=200):
    r = client.post(f"{API}{path}", json=body or {}, headers=w.tokens[who])
    assert r.status_code == status, r.text
    return r.json()


def test_a_key_unit_drafts_annotates_submits_and_corrects(client, engine, world):
    w = world
    a = w.u["A"]
    listing = client.get(f"{API}/units/{a}/declarations", headers=w.tokens["A"]).json()
    kinds = {(o["kind"], o["period_start"]) for o in listing["owed"]}
    assert ("monthly", "2021-03-01") in kinds and ("annual", "2021-01-01") in kinds  # key tier: own R9 line
    assert ("quarterly", "2021-01-01") not in kinds
    # past their due date, overdue; last month's (owed from the 1st, due on the 15th) is still missing until then
    assert all(o["state"] == ("overdue" if date.fromisoformat(o["due_on"]) < shanghai_today() else "missing")
               for o in listing["owed"])
    # Regulators and the platform admin supervise; they do not declare for the unit.
    for who in ("reg", "admin"):
        r = client.post(f"{API}/units/{a}/declarations", json={"kind": "monthly", "period_start": "2023-01-01"},
                        headers=w.tokens[who])
        assert r.status_code == 403 and r.json()["error"]["code"] == "declaration.not_declarant"
    jan = post(client, w, f"/units/{a}/declarations", "A", {"kind": "monthly", "period_start": "2023-01-01"}, 201)
    assert jan["status"] == "draft" and jan["due_on"] == "2023-02-15" and jan["version"] == 1
    row = jan["figures"]["rows"][0]
    assert row["waste_code"] == OIL and row["generated_kg"] == "0.000"
    assert row["opening_stock_kg"] == "500.000" and row["closing_stock_kg"] == "0.000"  # a2 left on 10 January
    assert row["sent_out"] == [{"province": "37", "receiver_id": w.u["RIN"], "receiver": "园区再生资源公司",
                                "licence": "鲁危证T001", "method": "R9", "method_name": "废油再提炼或其他废油的再利用",
                                "kg": "500.000"}]
    year = post(client, w, f"/units/{a}/declarations", "A", {"kind": "annual", "period_start": "2023-01-01"}, 201)
    row = year["figures"]["rows"][0]
    assert row["generated_kg"] == "600.000" and row["in_house"] == [
        {"method": "R9", "method_name": "废油再提炼或其他废油的再利用", "kind": "利用", "kg": "600.000"}]
    assert row["sent_out"][0]["kg"] == "500.000"  # a3's 600 went and came back: net 0
    assert year["figures"]["table"] == "C.3" and jan["figures"]["table"] == "C.1"
    r = client.patch(f"{API}/units/{a}/declarations/{jan['id']}", json={"annotations": {"000-000-00": "x"}},
                     headers=w.tokens["A"])
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "annotations"
    r = client.patch(f"{API}/units/{a}/declarations/{jan['id']}", headers=w.tokens["A"],
                     json={"note": "1月无新产生", "annotations": {OIL: "上年12月入库 500 kg 本月转移"}})
    assert r.status_code == 200 and r.json()["annotations"] == {OIL: "上年12月入库 500 kg 本月转移"}
    sub = post(client, w, f"/units/{a}/declarations/{jan['id']}/submit", "A")
    assert sub["status"] == "submitted" and sub["on_time"] is False and sub["submitted_by_name"] == "reports.a"
    r = client.patch(f"{API}/units/{a}/declarations/{jan['id']}", json={"note": "改"}, headers=w.tokens["A"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "declaration.frozen"
    r = client.post(f"{API}/units/{a}/declarations", json={"kind": "monthly", "period_start": "2023-01-01"},
                    headers=w.tokens["A"])
    assert r.status_code == 409 and r.json()["error"]["details"]["declaration_id"] == jan["id"]
    assert client.get(f"{API}/units/{a}/declarations/{jan['id']}", headers=w.tokens["reg"]).json()[
        "differs_from_ledger"] is False
    # A late correction of a2's weighing (December 2022) changes January's opening stock.
    with Session(engine) as s:
        rec = s.exec(select(JournalRecord).where(JournalRecord.batch_id == w.batches["a2"].id,
                                                 JournalRecord.kind == "generated")).one()
        batches.correct(s, principal=SYSTEM, batch=s.get(batches.Batch, w.batches["a2"].id),
                        data=batches.CorrectionIn(record_id=rec.id, mass_kg=Decimal("505"), reason="复核地磅"))
        s.commit()
    frozen = client.get(f"{API}/units/{a}/declarations/{jan['id']}", headers=w.tokens["A"]).json()
    assert frozen["differs_from_ledger"] is True and frozen["figures"]["rows"][0]["opening_stock_kg"] == "500.000"
    v2 = post(client, w, f"/units/{a}/declarations/{jan['id']}/correct", "A", {"reason": "期初库存更正"}, 201)
    assert v2["version"] == 2 and v2["replaces_id"] == jan["id"] and v2["status"] == "draft"
    assert v2["figures"]["rows"][0]["opening_stock_kg"] == "505.000"
    r = client.post(f"{API}/units/{a}/declarations/{jan['id']}/correct", json={"reason": "再次更正"},
                    headers=w.tokens["A"])
    assert r.status_code == 409  # only the latest submitted version is corrected
    post(client, w, f"/units/{a}/declarations/{v2['id']}/submit", "A")
    assert client.get(f"{API}/units/{a}/declarations/{jan['id']}", headers=w.tokens["A"]).json()[
        "status"] == "superseded"
    owed = {(o["kind"], o["period_start"]): o for o in client.get(
        f"{API}/units/{a}/declarations", headers=w.tokens["A"]).json()["owed"]}
    assert owed[("monthly", "2023-01-01")]["state"] == "late" and owed[("monthly", "2023-01-01")]["version"] == 2
    assert owed[("annual", "2023-01-01")]["state"] == "overdue"  # drafted, never submitted


def test_tiers_decide_what_is_owed(client, engine, world):
    w = world
    d = w.u["D"]
    with Session(engine) as s:
        units.override_tier(s, principal=SYSTEM, unit_id=d, data=units.TierOverride(tier="simplified",
                                                                                    reason="年产生量 10 吨以上"))
        s.commit()
    _, tok = None, None
    from tests.conftest import auth, make_user

    with Session(engine) as s:
        _, tok = make_user(s, role="operator", unit_id=d)
    hd = auth(tok)
    r = client.post(f"{API}/units/{d}/declarations", json={"kind": "monthly", "period_start": "2023-01-01"},
                    headers=hd)
    assert r.status_code == 422 and r.json()["error"]["code"] == "declaration.kind_not_owed"
    r = client.post(f"{API}/units/{d}/declarations", json={"kind": "quarterly", "period_start": "2023-02-01"},
                    headers=hd)
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "period_start"
    q = client.post(f"{API}/units/{d}/declarations", json={"kind": "quarterly", "period_start": "2023-04-01"},
                    headers=hd).json()
    assert q["due_on"] == "2023-07-15" and q["figures"]["table"] == "C.2"
    assert [r["generated_kg"] for r in q["figures"]["rows"]] == ["300.000"]  # d2, HW08 (the scrap is general)
    owed = client.get(f"{API}/units/{d}/declarations", headers=hd).json()["owed"]
    assert {o["kind"] for o in owed} == {"quarterly", "annual"}
    r = client.post(f"{API}/units/{d}/declarations", json={"kind": "annual", "period_start": f"{shanghai_today().year}-01-01"},
                    headers=hd)
    assert r.status_code == 422 and r.json()["error"]["code"] == "declaration.period_open"


def test_a_regulator_returns_a_submitted_declaration_and_the_correction_settles_it(client, world):
    w = world
    a = w.u["A"]
    mar = post(client, w, f"/units/{a}/declarations", "A", {"kind": "monthly", "period_start": "2023-03-01"}, 201)
    r = client.post(f"{API}/units/{a}/declarations/{mar['id']}/return", json={"reason": "请补充转移去向"},
                    headers=w.tokens["reg"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "declaration.not_submitted"  # a draft is the unit's
    post(client, w, f"/units/{a}/declarations/{mar['id']}/submit", "A")
    r = client.post(f"{API}/units/{a}/declarations/{mar['id']}/return", json={"reason": "请补充转移去向"},
                    headers=w.tokens["A"])
    assert r.status_code == 403  # the unit does not return its own filing
    item = post(client, w, f"/units/{a}/declarations/{mar['id']}/return", "reg", {"reason": "请补充转移去向"}, 201)
    assert item["kind"] == "declaration.returned" and item["needs_action"] and item["open"]
    r = client.post(f"{API}/units/{a}/declarations/{mar['id']}/return", json={"reason": "再次退回"},
                    headers=w.tokens["reg"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "declaration.already_returned"
    inbox = client.get(f"{API}/units/{a}/inbox", headers=w.tokens["A"]).json()
    assert [i["id"] for i in inbox if i["kind"] == "declaration.returned"] == [item["id"]]
    r = client.post(f"{API}/units/{a}/inbox/{item['id']}/ack", headers=w.tokens["A"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "inbox.needs_action"  # it closes by correcting
    seen = client.get(f"{API}/units/{a}/declarations/{mar['id']}", headers=w.tokens["A"]).json()
    assert seen["status"] == "submitted" and seen["returns"][0]["reason"] == "请补充转移去向"
    v2 = post(client, w, f"/units/{a}/declarations/{mar['id']}/correct", "A", {"reason": "补充转移去向"}, 201)
    still = client.get(f"{API}/units/{a}/inbox", headers=w.tokens["A"]).json()
    assert any(i["id"] == item["id"] for i in still)  # a draft correction is not yet a filing
    post(client, w, f"/units/{a}/declarations/{v2['id']}/submit", "A")
    after = client.get(f"{API}/units/{a}/inbox", headers=w.tokens["A"]).json()
    assert not any(i["id"] == item["id"] for i in after)
