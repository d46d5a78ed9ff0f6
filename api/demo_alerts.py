"""The demo's alerts: a few deliberate situations on top of the demo's history, the real engine run over them at the
times they happened, regulators and units working some alerts through their routes, and a final scan "now".

What a newcomer finds (open and closed alerts of every tier and class; one overdue and escalated; all three colours):
- 明泉化工 (plant) — red: a drum held over a year (high, open), a refused load not yet back (high, open); closed: a
  late weighing (low, rectified), a 6% weight difference (mid: pushed, rectified, accepted), another refused load
  (high: pushed by the province, verified by the city, accepted), a drum near a year old that left (low, closed
  itself when its fact was gone).
- 鲁中冶炼 (smelter) — yellow: waste oil outside its plan, left unanswered: overdue and escalated low → mid.
- 山水水泥 (cement) — yellow: a 贮存点 above 3 t (mid, open), a licence about to expire (low, open).
- 绿源环保 (receiver) — green: its expiring HW09 licence was closed by the 淄博 regulator (low, dismissed).
- 华润包装 — red: no management plan this year (declaration, high). 鲁信机加工 — green: filed its plan late; the
  low alert closed itself.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlmodel import Session, select

from alerts import engine, queue, webhooks
from alerts.code import unit_code
from alerts.models import Alert
from alerts.rules import REGISTRY
from ledger import batches, manifests
from ledger.accounts import User
from ledger.auth import SYSTEM, Principal
from ledger.batches import Batch
from ledger.codes import credit_check_character
from ledger.registry import assets, plans, units
from ledger.registry.models import Unit, Vehicle
from ledger.types import clock_at, utcnow
from ledger.workdays import SHANGHAI

D = Decimal


def _at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=SHANGHAI)


def _scan_rules(session: Session, codes: list[str], now: datetime) -> None:
    """Run some rules as the scheduled scan would have at `now` (the demo's past)."""
    rules = [REGISTRY[c] for c in codes]
    engine.reconcile(session, engine.evaluate(session, rules, now=now), rules=rules, now=now, clear=True)
    session.flush()


def _one(session: Session, rule: str, **kw) -> Alert | None:
    q = select(Alert).where(Alert.rule == rule, Alert.status != "closed")
    for k, v in kw.items():
        q = q.where(getattr(Alert, k) == v)
    return session.exec(q.order_by(Alert.id)).first()


def seed_alerts(session: Session, *, world: dict, today: date) -> dict:
    """Seed the demo's alerts (see the module docstring); returns the colour of each unit."""
    u, f = world["units"], world["facilities"]
    who = {name: Principal.of(session.exec(select(User).where(User.username == name)).one())
           for name in ("operator.mq", "admin.mq", "operator.lz", "regulator.sd", "regulator.jn", "regulator.zb",
                        "driver.ay", "receiver.ly")}

    # The plant's environmental officer subscribed its in-house system to the plant's alerts and inbox. Nothing
    # listens on that address in the demo: once the service runs, deliveries fail, are retried with backoff and the
    # subscription is disabled after repeated failures — what /unit/{id}/webhooks shows, with "re-enable".
    webhooks.create(session, principal=who["admin.mq"], data=webhooks.SubscriptionCreate(
        unit_id=u["plant"], url="http://127.0.0.1:9/mingquan-ehs/wasteledger", min_tier="low",
        description="明泉化工 EHS 系统（演示：此地址无人接收）"))

    def weigh(unit: str, gen_id: int, when: datetime, kg: str, code: str, *, store: int | None = None,
              entered: datetime | None = None, op: str = "operator.mq") -> Batch:
        with clock_at(entered or when + timedelta(minutes=2)):
            b = batches.generate(session, principal=who[op] if unit in ("plant", "smelter") else SYSTEM,
                                 data=batches.BatchCreate(
                unit_id=u[unit] if unit in u else unit, waste_code=code, name="废物" if code.endswith("S59") else
                {"900-249-08": "废矿物油", "900-041-49": "废弃包装桶"}.get(code, "危险废物"), form="固态",
                facility_id=gen_id, container_type="桶", gross_kg=D(kg), scale_id="DEMO-SCALE", operator="王工",
                occurred_at=when, store_facility_id=store))
            session.flush()
        return b

    def act(alert: Alert | None, action: str, by: str, when: datetime, **kw) -> None:
        if alert is not None:
            with clock_at(when):
                queue.act(session, principal=who[by], alert_id=alert.id, act=action, **kw)

    now = utcnow()
    d = today

    # -- 明泉化工: a late weighing (low, rectified by the unit) ----------------------------------------------------
    weigh("plant", f["plant_gen"], _at(d - timedelta(days=10), 8), "178.5", "900-249-08", store=f["plant_store"],
          entered=_at(d - timedelta(days=9), 15))
    _scan_rules(session, ["GEN-LATE-ENTRY"], _at(d - timedelta(days=9), 16))
    act(_one(session, "GEN-LATE-ENTRY", unit_id=u["plant"]), "rectify", "admin.mq", _at(d - timedelta(days=8), 10),
        text="称重终端断网一天，已恢复联网并补录；已培训称重员即时录入。",
        attachments=[{"name": "终端维修记录.jpg", "url": "https://files.example/demo/repair.jpg"}])

    # -- 明泉化工: a drum held over a year (high, open) and one near a year that then leaves (low, closes itself) -----
    weigh("plant", f["plant_gen"], _at(d - timedelta(days=400), 9), "181.0", "900-249-08", store=f["plant_store"])
    near = weigh("plant", f["plant_gen"], _at(d - timedelta(days=340), 9), "176.0", "900-249-08",
                 store=f["plant_store"])
    _scan_rules(session, ["INV-STORAGE-AGE"], _at(d - timedelta(days=9), 2))

    # -- 明泉化工: a load shipped with the near-a-year drum; 6% lighter on arrival (mid: pushed, rectified, accepted)
    fresh = weigh("plant", f["plant_gen"], _at(d - timedelta(days=9), 9), "200.0", "900-249-08")
    vehicles = session.exec(select(Vehicle).where(Vehicle.unit_id == u["hauler"]).order_by(Vehicle.id)).all()
    day = d - timedelta(days=8)
    with clock_at(_at(day, 8)):
        m = manifests.create(session, principal=who["operator.mq"], data=manifests.ManifestCreate(
            originator_id=u["plant"], hauler_id=u["hauler"], vehicle_id=vehicles[0].id, receiver_id=u["receiver"],
            planned_date=day, lines=[manifests.LineIn(batch_id=b.id, planned_method="R9") for b in (fresh, near)]))
        manifests.submit(session, principal=who["operator.mq"], m=m)
    with clock_at(_at(day, 9)):
        manifests.pickup(session, principal=who["driver.ay"], m=m, data=manifests.PickupIn(
            scanned=[fresh.digital_id, near.digital_id]))
    with clock_at(_at(day, 14)):
        lines = manifests.lines_of(session, m)
        manifests.receive(session, principal=who["receiver.ly"], m=m, data=manifests.ReceiveIn(lines=[
            manifests.ReceiveLineIn(batch_id=ln.batch_id, acceptance="accepted", received_kg=(
                D(ln.mass_g) / 1000 * (D("0.94") if ln.batch_id == fresh.id else 1)).quantize(D("0.001")))
            for ln in lines]))
    _scan_rules(session, ["TRN-WEIGHT-DIFF"], _at(day, 15))
    diff = _one(session, "TRN-WEIGHT-DIFF", subject=f"manifest:{m.id}")
    act(diff, "push", "regulator.jn", _at(day + timedelta(days=1), 9), note="请核实运输途中是否有泄漏")
    act(diff, "rectify", "admin.mq", _at(day + timedelta(days=2), 10),
        text="出厂称重用的是毛重未扣桶重差异；已校准地磅并附检定证书。",
        attachments=[{"name": "地磅检定证书.pdf", "url": "https://files.example/demo/scale.pdf"}])
    act(diff, "accept", "regulator.jn", _at(day + timedelta(days=3), 11), note="核实无误")

    # -- 明泉化工: refused loads (high): one worked through province → city → province, one left open ----------------
    _scan_rules(session, ["TRN-REFUSAL-OPEN"], _at(d - timedelta(days=4), 20))
    current = world.get("current_manifests", {})
    returning = session.exec(select(manifests.Manifest).where(
        manifests.Manifest.number == current.get("returning"))).first()
    if returning is not None:
        alert = _one(session, "TRN-REFUSAL-OPEN", subject=f"manifest:{returning.id}")
        act(alert, "push", "regulator.sd", _at(d - timedelta(days=3), 9), note="请济南市局核实退运情况")
        act(alert, "rectify", "regulator.jn", _at(d - timedelta(days=2), 16),
            text="现场核实：拒收原因为包装破损，承运车辆已在退运途中，移出人已准备接收。")
        act(alert, "accept", "regulator.sd", _at(d - timedelta(days=1), 10), note="退运途中，继续跟踪")

    # -- 鲁中冶炼: waste oil outside its plan, unanswered: overdue, escalated low → mid ---------------------------------
    weigh("smelter", f["smelter_gen"], _at(d - timedelta(days=25), 10), "95.0", "900-249-08", op="operator.lz")
    _scan_rules(session, ["GEN-NOT-IN-PLAN"], _at(d - timedelta(days=25), 11))

    # -- 山水水泥: a 贮存点 above 3 t (mid) and a licence about to expire (low) -----------------------------------------
    cement = u["cement"]
    with clock_at(_at(d - timedelta(days=30), 8)):
        cgen = assets.create_facility(session, principal=SYSTEM, unit_id=cement, data=assets.FacilityCreate(
            kind="generation", code="CS-01", name="窑尾收尘"))
        cpoint = assets.create_facility(session, principal=SYSTEM, unit_id=cement, data=assets.FacilityCreate(
            kind="storage", storage_type="贮存点", code="ZC-09", name="窑灰临时贮存点"))
        assets.create_permit(session, principal=SYSTEM, unit_id=cement, data=assets.PermitCreate(
            kind="operating_licence", number="鲁危证370300017-2", waste_codes=["HW49"], methods=["C1"],
            valid_from=d - timedelta(days=340), valid_to=d + timedelta(days=20)))
    for back in (6, 4, 2):
        weigh(cement, cgen.id, _at(d - timedelta(days=back), 10), "1100", "900-001-S59", store=cpoint.id)

    # -- 绿源环保: an expiring licence the 淄博 regulator closes (low, dismissed) ---------------------------------------
    with clock_at(_at(d - timedelta(days=20), 8)):
        assets.create_permit(session, principal=SYSTEM, unit_id=u["receiver"], data=assets.PermitCreate(
            kind="operating_licence", number="鲁危证370300001-9", waste_codes=["HW09"], methods=["R9"],
            valid_from=d - timedelta(days=360), valid_to=d + timedelta(days=12)))
    _scan_rules(session, ["OPS-LICENCE-EXPIRY"], _at(d - timedelta(days=5), 2))
    act(_one(session, "OPS-LICENCE-EXPIRY", unit_id=u["receiver"]), "close", "regulator.zb",
        _at(d - timedelta(days=4), 10), reason="已受理换证申请，新证待发")

    # -- declarations: 华润包装 has no plan this year (open); 鲁信机加工 filed late and its alert closed itself --------
    def small(code17: str, name: str) -> tuple[int, int]:
        with clock_at(_at(date(d.year - 1, 3, 1), 9)):
            unit = units.create_unit(session, principal=SYSTEM, data=units.UnitCreate(
                credit_code=code17 + credit_check_character(code17), name=name, region_code="370112",
                roles=["generator"]))
            gen = assets.create_facility(session, principal=SYSTEM, unit_id=unit.id, data=assets.FacilityCreate(
                kind="generation", code="CS-01", name="生产车间"))
        return unit.id, gen.id

    pack, pack_gen = small("91370100MA3C00006", "济南华润包装有限公司")
    weigh(pack, pack_gen, _at(d - timedelta(days=60), 9), "60", "900-041-49")
    late_filed = date(d.year, 4, 3)
    if d > late_filed + timedelta(days=2):
        shop, shop_gen = small("91370100MA3C00007", "济南鲁信机加工有限公司")
        weigh(shop, shop_gen, _at(date(d.year, 1, 20), 9), "45", "900-249-08")
        _scan_rules(session, ["DEC-PLAN-MISSING"], _at(date(d.year, 4, 2), 2))
        with clock_at(_at(late_filed, 10)):
            plans.file_plan(session, principal=SYSTEM, unit_id=shop, data=plans.PlanCreate(year=d.year, items=[
                plans.PlanItemIn(waste_code="900-249-08", planned_kg=D(600))]))
        _scan_rules(session, ["DEC-PLAN-MISSING"], _at(late_filed + timedelta(days=1), 2))

    # -- now: the scheduled scan finds the rest, marks the overdue and escalates them --------------------------------
    stats = engine.scan(session, now=now)
    session.flush()
    colours = {}
    for unit in session.exec(select(Unit).order_by(Unit.id)).all():
        colours[unit.name] = unit_code(session, unit.id, now=now)[0]
    return {"alerts": {"scan": {k: v for k, v in stats.items() if k != "by_rule"},
                       "open": len(session.exec(select(Alert.id).where(Alert.status != "closed")).all()),
                       "closed": len(session.exec(select(Alert.id).where(Alert.status == "closed")).all()),
                       "colours": colours}}
