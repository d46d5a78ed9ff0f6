"""The scheduled scan over a world where every scanned rule has its situation: each gatherer's SQL runs on this
database and brings back the fact its rule fires on."""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import select

from alerts import engine
from alerts.models import Alert
from alerts.rules import REGISTRY
from ledger import batches, manifests
from ledger.auth import SYSTEM
from ledger.batches import Batch
from ledger.registry import assets
from ledger.reports.declarations import Declaration
from ledger.types import clock_at
from tests.alerts import world as w


def _month_day(months_back: int, day: int = 14):  # noqa: ANN202
    d = w.NOW.date()
    n = d.year * 12 + d.month - 1 - months_back
    return w.at(0).replace(year=n // 12, month=n % 12 + 1, day=day)


def build(s):  # noqa: ANN001, ANN201, C901
    ids = {}
    with clock_at(w.at(800)):
        ids["plant"] = p = w.unit(s, name="明泉化工")
        gen = w.facility(s, p, kind="generation", code="CS-01", name="车间")
        store = w.facility(s, p, kind="storage", storage_type="贮存库", code="ZC-01", name="1号库",
                           storage_capacity_t="1")
        point = w.facility(s, p, kind="storage", storage_type="贮存点", code="ZC-02", name="车间贮存点")
        line = w.facility(s, p, kind="utilisation", code="LY-01", name="再生线", annual_capacity_t="0.5",
                          methods=["R9"])
        w.plan(s, p, 2025, {"900-249-08": "1000"})
        ids["smelter"] = m = w.unit(s, name="鲁中冶炼", region="370303")
        mgen = w.facility(s, m, kind="generation", code="CS-01", name="熔炼")
        ids["small"] = u3 = w.unit(s, name="小厂")
        u3gen = w.facility(s, u3, kind="generation", code="CS-01", name="车间")
        u3point = w.facility(s, u3, kind="storage", storage_type="贮存点", code="ZC-01", name="贮存点")
        ids["silent"] = u4 = w.unit(s, name="静默厂")
        u4gen = w.facility(s, u4, kind="generation", code="CS-01", name="车间")
        hauler, vehicle = w.transport(s)
        ids["receiver"] = r = w.receiver(s)
        assets.create_permit(s, principal=SYSTEM, unit_id=r, data=assets.PermitCreate(
            kind="operating_licence", number="鲁危证HW06", waste_codes=["HW06"], methods=["R2"],
            valid_from=date(2020, 1, 1), valid_to=w.NOW.date() + timedelta(days=10)))
        ids["far"] = r2 = w.receiver(s, region="320102")
        approval = manifests.create_approval(s, principal=SYSTEM, unit_id=p, data=manifests.ApprovalCreate(
            number="苏鲁跨2025-01", receiver_id=r2, waste_codes=["900-249-08"], cap_kg=w.D(5000),
            valid_from=date(2025, 1, 1), valid_to=date(2025, 12, 31)))
        s.commit()

    # generation: over the plan (with the store over its 1 t capacity), a late entry, an unplanned code
    for day in range(1, 9):
        w.weigh(s, p, gen, when=w.at(day), kg="165", store=store)
    w.weigh(s, p, gen, when=w.at(3), kg="20", entered=w.at(3) + timedelta(hours=30))
    unplanned = w.weigh(s, p, gen, when=w.at(2), kg="50", code="900-041-49")
    old = w.weigh(s, p, gen, when=w.at(400), kg="80", store=point)  # held more than a year
    # in-house line over its 0.5 t design capacity
    burnt = w.weigh(s, p, gen, when=w.at(10), kg="600")
    with clock_at(w.at(9)):
        batches.process_in_house(s, principal=SYSTEM, batch=s.get(Batch, burnt.id), kind="used_in_house",
                                 data=batches.ProcessIn(method="R9", facility_id=line, operator="王工"))
        s.commit()
    # a month far above the three before it (general waste, no plan filed: no plan rule)
    for back, kg in ((4, "1000"), (3, "1100"), (2, "900"), (1, "2100")):
        w.weigh(s, m, mgen, when=_month_day(back), kg=kg, code="321-001-S01")
    # a small plant crossing 10 t this year, all in its 贮存点; no plan filed
    for day in (30, 20, 10):
        w.weigh(s, u3, u3gen, when=w.at(day), kg="3500", store=u3point)
    # weekly weighings that stopped 40 days ago
    for week in range(12):
        w.weigh(s, u4, u4gen, when=w.at(40 + 7 * week), kg="100", code="321-001-S01")

    # transfers
    def fresh(kg: str, days: float) -> Batch:
        return w.weigh(s, p, gen, when=w.at(days), kg=kg)

    a = w.ship(s, origin=p, hauler=hauler, vehicle=vehicle, receiver_id=r, items=[fb := fresh("200", 6)],
               when=w.at(5), received={fb.id: "150"})
    w.ship(s, origin=p, hauler=hauler, vehicle=vehicle, receiver_id=r, items=[fresh("100", 6)], when=w.at(5),
           refuse=True)
    w.ship(s, origin=p, hauler=hauler, vehicle=vehicle, receiver_id=r, items=[unplanned], when=w.at(1), method="R2")
    w.ship(s, origin=p, hauler=hauler, vehicle=vehicle, receiver_id=r, items=[fresh("90", 12)], when=w.at(11),
           until="delivered")
    road = w.ship(s, origin=p, hauler=hauler, vehicle=vehicle, receiver_id=r, items=[fresh("90", 4)], when=w.at(3),
                  until="in_transit")
    w.ship(s, origin=p, hauler=hauler, vehicle=vehicle, receiver_id=r, items=[fresh("70", 402)], when=w.at(400))
    with clock_at(w.at(2)):
        g = manifests.create(s, principal=SYSTEM, data=manifests.ManifestCreate(
            originator_id=p, hauler_id=hauler, vehicle_id=vehicle, receiver_id=r2, planned_date=w.at(2).date(),
            approval_id=approval.id, lines=[manifests.LineIn(batch_id=fresh("110", 3).id, planned_method="R9")]))
        manifests.submit(s, principal=SYSTEM, m=g)
        s.commit()
    with clock_at(w.at(1.9)):
        b = manifests.lines_of(s, g)[0]
        manifests.pickup(s, principal=SYSTEM, m=g, data=manifests.PickupIn(
            scanned=[s.get(Batch, b.batch_id).digital_id]))
        s.commit()

    # what the ledger itself would refuse, made afterwards behind its back (records corrected later, tampering)
    w.sql(s, "UPDATE permit SET methods = :m, annual_capacity_g = 100000 WHERE unit_id = :r AND number LIKE '鲁危证0%'",
          m='["R2"]', r=r)
    w.sql(s, "UPDATE manifest SET flags = :f WHERE id = :m", f='["method_changed:900-249-08"]', m=a.id)
    w.sql(s, "UPDATE transfer_approval SET cap_g = 1 WHERE id = :a", a=approval.id)
    w.sql(s, "UPDATE batch SET remaining_g = remaining_g + 1 WHERE id = :b", b=old.id)
    ids.update(old=old.id, store=store, point=point, u3point=u3point, weight_manifest=a.id, road=road.id)
    return ids


def test_the_scan_finds_the_situation_of_every_scanned_rule(db):
    ids = build(db)
    # declarations: the plant (重点) filed every monthly one but September's, and no annual one for 2024
    since = w.NOW.date() - timedelta(days=400)
    from alerts.rules.declaration import due_periods

    for kind, start, end, due in due_periods("key", today=w.NOW.date(), since=since):
        if kind == "monthly" and start != date(2025, 9, 1):
            db.add(Declaration(unit_id=ids["plant"], kind=kind, period_start=start, period_end=end, due_on=due,
                               tier="key", status="submitted",
                               submitted_at=w.NOW - timedelta(days=(w.NOW.date() - due).days)))
    db.commit()

    stats = engine.scan(db, now=w.NOW)
    db.commit()
    found = {a.rule for a in db.exec(select(Alert)).all()}
    scanned = {code for code, r in REGISTRY.items() if r.scanned}
    assert found == scanned, (scanned - found, stats)

    def one(rule: str, **kw) -> Alert:
        rows = db.exec(select(Alert).where(Alert.rule == rule)).all()
        rows = [a for a in rows if all(getattr(a, k) == v for k, v in kw.items())]
        assert len(rows) == 1, (rule, kw, [(a.subject, a.tier) for a in rows])
        return rows[0]

    assert one("INV-STORAGE-AGE", subject=f"batch:{ids['old']}").tier == "high"
    assert one("INV-FACILITY-FULL", subject=f"facility:{ids['store']}").tier == "high"
    point = one("INV-STORAGE-POINT", subject=f"facility:{ids['u3point']}")
    assert (point.opened_tier, point.tier, point.escalated_from) == ("mid", "high", "mid")  # opened 20 days ago
    assert one("INV-BALANCE").evidence["batch_ids"] == [ids["old"]]
    assert one("TRN-WEIGHT-DIFF").tier == "high"
    assert one("TRN-TRANSIT-LATE", subject=f"manifest:{ids['road']}").tier == "high"  # no GPS point at all
    assert one("GEN-TIER-CHANGE").evidence["to"] == "simplified"
    assert one("DEC-PLAN-MISSING", unit_id=ids["small"]).tier == "high"
    assert one("DEC-MONTHLY-LATE", unit_id=ids["plant"]).evidence["period_start"] == "2025-09-01"
    assert one("DEC-ANNUAL-LATE", unit_id=ids["plant"]).tier == "high"
    # 简化 from 2025 (it crossed 10 t this year): the three quarters of 2025 due so far, none of 2024
    quarters = db.exec(select(Alert.subject).where(Alert.rule == "DEC-QUARTERLY-LATE")).all()
    assert sorted(quarters) == [f"unit:{ids['small']}:quarterly:2025-0{m}-01" for m in (1, 4, 7)]
    low = db.exec(select(Alert).where(Alert.tier == "low")).all()
    assert low and all(a.status == "pushed" and a.deadline_at is not None for a in low)
    # a low one is with the unit at once (and stays there when it escalates); mid/high wait for their regulator
    assert all(a.status == ("pushed" if a.opened_tier == "low" else "open") for a in db.exec(select(Alert)).all())

    # a second scan at the same time changes nothing: one alert per (rule, subject), evidence already current
    again = engine.scan(db, now=w.NOW)
    db.commit()
    assert (again["opened"], again["updated"], again["cleared"]) == (0, 0, 0)

    # the balance the rebuild command reports is the one the scan found
    assert {d.batch_id for d in batches.rebuild(db)} == {ids["old"]}
