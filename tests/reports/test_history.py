"""History: imported ledgers (monthly totals and per-batch rows, CSV and XLSX) and back-entered paper manifests
become ordinary records marked with their source, feed the figures (which say how much came from history), and a
file with any bad row is refused whole."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import openpyxl
from sqlmodel import Session, func, select

from ledger import batches
from ledger.auth import SYSTEM
from ledger.history.models import SourceDocument
from ledger.journal import JournalRecord
from ledger.registry import assets, units
from tests.conftest import auth, make_user
from tests.reports.scenario import OIL, _credit

API = "/api/v1"
MONTHLY = """月份,废物代码,废物名称,形态,产生量(kg),自行利用量(kg),自行利用方式,委托利用量(kg),委托利用方式,接收单位,月末贮存量(kg)
2019-11,321-001-S01,钢渣,固态,50000,10000,R5,,,,40000
2019-12,321-001-S01,钢渣,固态,30000,,,20000,C2,{rout},50000
2020-01,321-001-S01,钢渣,固态,0,40000,R5,,,,10000
"""


_next = iter(range(90, 200))


def _new_unit(engine) -> tuple[int, dict]:
    with Session(engine) as s:
        u = units.create_unit(s, principal=SYSTEM, data=units.UnitCreate(
            credit_code=_credit(next(_next)), name="戊钢铁", region_code="370112", roles=["generator"], industry_code="C3110"))
        assets.create_facility(s, principal=SYSTEM, unit_id=u.id, data=assets.FacilityCreate(
            kind="generation", code="CS-01", name="炼钢车间"))
        assets.create_facility(s, principal=SYSTEM, unit_id=u.id, data=assets.FacilityCreate(
            kind="storage", code="ZC-01", name="渣场", storage_type="贮存场", storage_capacity_t=Decimal(500)))
        s.commit()
        _, tok = make_user(s, role="unit_admin", unit_id=u.id)
        return u.id, auth(tok)


def upload(client, unit_id, headers, content: bytes, name: str = "history.csv", **form):
    return client.post(f"{API}/units/{unit_id}/imports", headers=headers, files={"file": (name, content)},
                       data={k: str(v).lower() for k, v in form.items()})


def test_monthly_totals_become_batches_and_feed_the_figures(client, engine, world):
    w = world
    e, he = _new_unit(engine)
    rout_credit = _credit(6)
    content = MONTHLY.format(rout=rout_credit).encode()
    dry = upload(client, e, he, content, dry_run=True)
    assert dry.status_code == 200 and dry.json()["dry_run"] and dry.json()["rows"] == 3
    r = upload(client, e, he, content)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["format"] == "monthly_totals" and body["batches"] == 3  # 40 t + 10 t in November, 30 t in December
    assert body["generated_kg"] == {"321-001-S01": "80000.000"}
    y19 = client.get(f"{API}/reports/indicators", params={"scope": "unit", "id": e, "year": 2019},
                     headers=he).json()["kinds"]["general"]
    assert y19["figures"]["generated"]["g"] == 80_000_000 and y19["figures"]["generated"]["imported_kg"] == "80000.000"
    assert y19["figures"]["utilised"]["g"] == 30_000_000 and y19["figures"]["stock_end"]["g"] == 50_000_000
    y20 = client.get(f"{API}/reports/indicators", params={"scope": "unit", "id": e, "year": 2020},
                     headers=he).json()["kinds"]["general"]
    # January 2020 used 40 t drawn from the 2019 batches (oldest first): all 往年贮存量.
    assert y20["figures"]["utilised"]["g"] == y20["figures"]["utilised_prior"]["g"] == 40_000_000
    assert y20["utilisation_rate"]["percent"] == "100.00" and y20["identity"]["balanced"]
    rows = client.get(y19["figures"]["utilised"]["records_url"], headers=he).json()["records"]
    assert {x["origin"] for x in rows} == {"import"} and sum(x["counted_g"] for x in rows) == 30_000_000
    sent = [x for x in rows if x["record_kind"] == "shipped"]
    assert sent and sent[0]["counterparty_id"] == w.u["ROUT"]  # the receiver named by its credit code
    with Session(engine) as s:
        doc = s.exec(select(SourceDocument).where(SourceDocument.unit_id == e)).one()
        recs = s.exec(select(JournalRecord).where(JournalRecord.unit_id == e)).all()
        assert recs and all(x.body["source"] == {"kind": "import", "document": {
            "id": doc.id, "filename": "history.csv", "sha256": doc.sha256, "format": "monthly_totals"}} for x in recs)
    again = upload(client, e, he, content)
    assert again.status_code == 409 and again.json()["error"]["code"] == "import.duplicate"


def test_a_file_with_bad_rows_is_refused_whole(client, engine, world):
    e, he = _new_unit(engine)
    bad = ("月份,废物代码,废物名称,形态,产生量(kg),自行利用量(kg),自行利用方式,月末贮存量(kg)\n"
           "2018-01,321-001-S01,钢渣,固态,1000,,,1000\n"
           "2018-02,321-001-XX,钢渣,固态,1000,,,2000\n"  # bad code
           "2018-03,321-001-S01,钢渣,砖状,1000.1234,500,D1,\n"  # bad form, mass, method kind
           "2018-04,321-001-S01,钢渣,固态,0,5000,R5,\n"  # more used than held
           "2099-01,321-001-S01,钢渣,固态,10,,,\n").encode()  # future
    r = upload(client, e, he, bad)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "import.invalid_rows" and err["details"]["rows"] == [3, 4, 5, 6]
    fields = {(x["row"], x["field"]) for x in err["details"]["errors"]}
    assert {(3, "waste_code"), (4, "form"), (4, "generated_kg"), (4, "used_method"), (5, "generated_kg"),
            (6, "month")} <= fields
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(JournalRecord).where(JournalRecord.unit_id == e)).one() == 0
        assert s.exec(select(SourceDocument).where(SourceDocument.unit_id == e)).first() is None
    r = upload(client, e, he, b"foo,bar\n1,2\n")
    assert r.status_code == 422 and r.json()["error"]["code"] == "import.header"


def test_per_batch_xlsx_and_the_history_boundary(client, engine, world):
    w = world
    e, he = _new_unit(engine)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["产生时间", "废物代码", "废物名称", "形态", "产生量(kg)", "容器类型", "贮存设施编码", "去向", "去向时间",
               "方式", "去向量(kg)", "接收单位"])
    ws.append(["2019-03-05 09:30", OIL, "废机油", "液态", 180.5, "桶", "ZC-01", "委托利用", "2019-04-01 10:00",
               "R9", None, "园区再生资源公司"])
    ws.append(["2019-05-06", OIL, "废机油", "液态", 200, "桶", None, "自行处置", "2019-05-07", "D10", 150, None])
    ws.append(["2019-06-01", OIL, "废机油", "液态", 50, "桶", None, None, None, None, None, None])
    buf = io.BytesIO()
    wb.save(buf)
    r = upload(client, e, he, buf.getvalue(), name="台账2019.xlsx")
    assert r.status_code == 201, r.text
    assert r.json()["format"] == "per_batch" and r.json()["batches"] == 3
    y = client.get(f"{API}/reports/indicators", params={"scope": "unit", "id": e, "year": 2019},
                   headers=he).json()["kinds"]["hazardous"]["figures"]
    assert (y["generated"]["g"], y["utilised"]["g"], y["disposed"]["g"], y["stock_end"]["g"]) == (
        430_500, 180_500, 150_000, 100_000)
    assert y["sent_for_utilisation"]["imported_kg"] == "180.500"
    ledger = client.get(f"{API}/units/{e}/ledger", params={"from": "2019-01-01", "to": "2019-12-31",
                                                          "layout": "standard"}, headers=he).json()["tables"]
    assert len(ledger["B.1"]["rows"]) == 3 and len(ledger["B.2"]["rows"]) == 1 and len(ledger["B.5"]["rows"]) == 1
    # History ends where the live ledger starts: A has records since 2021.
    late = "产生时间,废物代码,废物名称,形态,产生量(kg)\n2022-01-05,900-249-08,废机油,液态,10\n".encode()
    r = upload(client, w.u["A"], w.tokens["A"], late)
    assert r.status_code == 422 and "not history" in r.json()["error"]["details"]["errors"][0]["message"]
    r = upload(client, e, w.tokens["reg"], late)
    assert r.status_code == 403


def test_back_entered_paper_manifest(client, engine, world):
    w = world
    now = datetime.now(UTC)
    with Session(engine) as s:
        b = batches.generate(s, principal=SYSTEM, data=batches.BatchCreate(
            unit_id=w.u["A"], waste_code=OIL, name="废矿物油", form="液态", facility_id=w.f["A.gen"],
            container_type="桶", gross_kg=Decimal("220"), tare_kg=Decimal("20"), scale_id="S1", operator="王",
            occurred_at=now - timedelta(days=6)))
        s.commit()
        digital = b.digital_id
    body = {"paper_number": "鲁0001234", "originator_id": w.u["A"], "hauler_id": w.u["H"], "vehicle_id": w.vehicle,
            "receiver_id": w.u["RIN"], "lines": [{"batch_id": b.id, "planned_method": "R9", "received_kg": "199.5"}],
            "signatories": {"originator": "王五", "hauler": "赵六", "receiver": "孙七"},
            "picked_up_at": (now - timedelta(days=3)).isoformat(), "received_at": (now - timedelta(days=2)).isoformat()}
    r = client.post(f"{API}/manifests/back-entry", json=body, headers=w.tokens["reg"])
    assert r.status_code == 403
    r = client.post(f"{API}/manifests/back-entry", json=body, headers=w.tokens["A"])
    assert r.status_code == 201, r.text
    m = r.json()
    assert m["status"] == "received" and "back_entry" in m["flags"] and "back_entry_late" not in m["flags"]
    by = {e["action"]: str(e) for e in m["events"]}
    assert "孙七（纸质联单" in by["receive"] and "赵六（纸质联单" in by["pickup"] and "王五（纸质联单" in by["submit"]
    with Session(engine) as s:
        recs = s.exec(select(JournalRecord).where(JournalRecord.manifest_id == m["id"])).all()
        assert {x.kind for x in recs} >= {"shipped", "received"}
        assert all(x.body["source"]["kind"] == "back_entry" and x.body["source"]["document"]["paper_number"]
                   == "鲁0001234" for x in recs)
    year = now.year
    fig = client.get(f"{API}/reports/indicators", params={"scope": "unit", "id": w.u["A"], "year": year},
                     headers=w.tokens["A"]).json()["kinds"]["hazardous"]["figures"]
    if (now - timedelta(days=3)).year == year:
        assert Decimal(fig["sent_for_utilisation"]["back_entered_kg"]) == Decimal(200)
    assert client.post(f"{API}/manifests/back-entry", json=body, headers=w.tokens["A"]).status_code == 409
    scanned = client.get(f"{API}/scan/{digital}", headers=w.tokens["A"]).json()["batch"]
    assert scanned["status"] == "closed" and scanned["remaining_kg"] == "0.000"  # it left with the paper manifest
    # More than ten working days after the transfer: only with a reason, and flagged.
    with Session(engine) as s:
        b2 = batches.generate(s, principal=SYSTEM, data=batches.BatchCreate(
            unit_id=w.u["A"], waste_code=OIL, name="废矿物油", form="液态", facility_id=w.f["A.gen"],
            container_type="桶", gross_kg=Decimal("120"), tare_kg=Decimal("20"), scale_id="S1", operator="王",
            occurred_at=now - timedelta(days=45)))
        s.commit()
    late = {**body, "paper_number": "鲁0001299", "lines": [{"batch_id": b2.id, "planned_method": "R9",
                                                            "received_kg": "100"}],
            "picked_up_at": (now - timedelta(days=40)).isoformat(),
            "received_at": (now - timedelta(days=40, hours=-4)).isoformat()}
    r = client.post(f"{API}/manifests/back-entry", json=late, headers=w.tokens["A"])
    assert r.status_code == 422 and r.json()["error"]["code"] == "manifest.back_entry_late"
    r = client.post(f"{API}/manifests/back-entry", json={**late, "late_reason": "系统停机期间的纸质联单，补录延误"},
                    headers=w.tokens["A"])
    assert r.status_code == 201 and "back_entry_late" in r.json()["flags"]
