"""The demo dataset: a small Shandong-like province with plants, a hauler, receivers and a park.

Seeded through the same services the API uses, so every row passed the same checks.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlmodel import Session, select

from api.demo_alerts import seed_alerts
from api.demo_market import seed_market
from api.demo_reports import seed_reports
from ledger import batches, manifests
from ledger.accounts import User, issue_token
from ledger.auth import SYSTEM, Principal
from ledger.batches import Batch
from ledger.codes import credit_check_character
from ledger.registry import assets, plans, units
from ledger.registry.models import Unit, Vehicle
from ledger.types import clock_at
from ledger.users import UserCreate, create_user
from ledger.workdays import SHANGHAI

DEMO_PASSWORD = "demo-pass-2026"
DEMO_MARKER = "913701000000000001"  # first 17 chars are completed with their check character below


def credit(first17: str) -> str:
    """A valid 统一社会信用代码 from its first 17 characters."""
    return first17 + credit_check_character(first17)


def seed(session: Session, *, today: date | None = None, history: bool = True) -> dict:
    """Create the demo registry (idempotent: returns what exists when already seeded)."""
    today = today or date.today()
    existing = session.exec(select(Unit).where(Unit.credit_code == credit("91370100MA3C00001"))).first()
    if existing is not None:
        return {"seeded": False}
    p = SYSTEM
    U = units.UnitCreate
    plant = units.create_unit(session, principal=p, data=U(
        credit_code=credit("91370100MA3C00001"), name="济南明泉化工有限公司", region_code="370112",
        roles=["generator"], industry_code="C2614", address="济南市历城区工业北路88号", contact="王工",
        phone="0531-88880001"))
    smelter = units.create_unit(session, principal=p, data=U(
        credit_code=credit("91370300MA3C00002"), name="淄博鲁中有色金属冶炼有限公司", region_code="370303",
        roles=["generator"], industry_code="C3216", address="淄博市张店区冶金路6号", contact="李工",
        phone="0533-66660002"))
    hauler = units.create_unit(session, principal=p, data=U(
        credit_code=credit("91370100MA3C00003"), name="济南安运危险货物运输有限公司", region_code="370112",
        roles=["hauler"], industry_code="G5430", contact="赵队长", phone="0531-88880003"))
    receiver = units.create_unit(session, principal=p, data=U(
        credit_code=credit("91370300MA3C00004"), name="淄博绿源环保科技有限公司", region_code="370305",
        roles=["receiver"], industry_code="N7724", contact="孙工", phone="0533-66660004"))
    cement = units.create_unit(session, principal=p, data=U(
        credit_code=credit("91370300MA3C00005"), name="淄博山水水泥有限公司", region_code="370304",
        roles=["receiver", "generator"], industry_code="C3011", contact="周工", phone="0533-66660005"))
    park = units.create_park(session, principal=p, data=units.ParkCreate(
        code="SD-JN-HG-01", name="济南新材料化工产业园", region_code="370112", level="省级"))
    for u in (plant, hauler):
        units.add_member(session, principal=p, park_id=park.id,
                         data=units.MemberCreate(unit_id=u.id, since=date(today.year - 4, 1, 1)))

    F = assets.FacilityCreate
    fac = {}
    fac["plant_gen"] = assets.create_facility(session, principal=p, unit_id=plant.id, data=F(
        kind="generation", code="CS-01", name="精馏车间产废点"))
    fac["plant_store"] = assets.create_facility(session, principal=p, unit_id=plant.id, data=F(
        kind="storage", storage_type="贮存库", code="ZC-01", name="1号危废贮存库", storage_capacity_t=Decimal(60)))
    fac["smelter_gen"] = assets.create_facility(session, principal=p, unit_id=smelter.id, data=F(
        kind="generation", code="CS-01", name="熔炼车间"))
    fac["smelter_yard"] = assets.create_facility(session, principal=p, unit_id=smelter.id, data=F(
        kind="storage", storage_type="贮存场", code="ZC-02", name="冶炼渣贮存场", storage_capacity_t=Decimal(5000)))
    fac["receiver_store"] = assets.create_facility(session, principal=p, unit_id=receiver.id, data=F(
        kind="storage", storage_type="贮存库", code="ZC-01", name="接收贮存库", storage_capacity_t=Decimal(500)))
    fac["receiver_plant"] = assets.create_facility(session, principal=p, unit_id=receiver.id, data=F(
        kind="utilisation", code="LY-01", name="废矿物油再生装置", annual_capacity_t=Decimal(20000),
        methods=["R9", "R2"]))
    fac["cement_kiln"] = assets.create_facility(session, principal=p, unit_id=cement.id, data=F(
        kind="utilisation", code="SN-01", name="水泥窑协同处置线", annual_capacity_t=Decimal(100000),
        methods=["C1"]))

    P = assets.PermitCreate
    y0 = date(today.year - 3, 1, 1)
    assets.create_permit(session, principal=p, unit_id=receiver.id, data=P(
        kind="operating_licence", number="鲁危证370300001", waste_codes=["HW08", "HW06", "900-041-49"],
        methods=["R9", "R2"], annual_capacity_t=Decimal(20000), valid_from=y0, valid_to=date(today.year + 2, 12, 31)))
    assets.create_permit(session, principal=p, unit_id=cement.id, data=P(
        kind="operating_licence", number="鲁危证370300017", waste_codes=["HW17", "HW18", "HW48"],
        methods=["C1"], annual_capacity_t=Decimal(50000), valid_from=y0, valid_to=date(today.year + 2, 12, 31)))
    assets.create_permit(session, principal=p, unit_id=hauler.id, data=P(
        kind="transport_permit", number="鲁交运管许可济字370100001", valid_from=y0,
        valid_to=date(today.year + 3, 6, 30)))
    for plate in ("鲁A12345", "鲁AD6789"):
        assets.create_vehicle(session, principal=p, unit_id=hauler.id,
                              data=assets.VehicleCreate(plate=plate, vehicle_type="危险品厢式货车", capacity_t=Decimal(10)))

    def on_time(year: int) -> datetime:  # plans are filed in January of their own year, before the 31 March deadline
        return min(_at(date(year, 1, 10), 10), datetime.now(SHANGHAI) - timedelta(minutes=1))

    for year in range(today.year - 3, today.year + 1):
        with clock_at(on_time(year)):
            plans.file_plan(session, principal=p, unit_id=plant.id, data=plans.PlanCreate(year=year, items=[
                plans.PlanItemIn(waste_code="900-249-08", planned_kg=Decimal(120000), receiver_ids=[receiver.id],
                                 methods=["R9"]),
                plans.PlanItemIn(waste_code="900-041-49", planned_kg=Decimal(15000), receiver_ids=[receiver.id],
                                 methods=["R2"]),
            ]))
        for u, va, out in ((plant, 52000, 210000), (smelter, 88000, 460000), (cement, 40000, 150000)):
            plans.set_economics(session, principal=p, unit_id=u.id, data=plans.EconomicsIn(
                year=year, value_added_10k=Decimal(va + 1500 * (year - today.year + 3)),
                output_value_10k=Decimal(out + 6000 * (year - today.year + 3))))

    people = [
        ("admin", "平台管理员", "admin", {}),
        ("regulator.sd", "山东省生态环境厅 审核员", "regulator", {"region_prefix": "37"}),
        ("regulator.jn", "济南市生态环境局 审核员", "regulator", {"region_prefix": "3701"}),
        ("regulator.zb", "淄博市生态环境局 审核员", "regulator", {"region_prefix": "3703"}),
        ("operator.mq", "明泉化工 称重员 王强", "operator", {"unit_id": plant.id}),
        ("admin.mq", "明泉化工 环保负责人", "unit_admin", {"unit_id": plant.id}),
        ("operator.lz", "鲁中冶炼 称重员 李敏", "operator", {"unit_id": smelter.id}),
        ("driver.ay", "安运 司机 张建国", "driver", {"unit_id": hauler.id}),
        ("receiver.ly", "绿源环保 收料员 赵磊", "receiver_operator", {"unit_id": receiver.id}),
        ("receiver.ss", "山水水泥 收料员 孙丽", "receiver_operator", {"unit_id": cement.id}),
        ("park.jn", "化工产业园 管委会", "park_manager", {"park_id": park.id}),
    ]
    for username, name, role, binding in people:
        create_user(session, principal=p, data=UserCreate(username=username, display_name=name, role=role,
                                                          password=DEMO_PASSWORD, **binding))
    for year in range(today.year - 3, today.year + 1):
        with clock_at(on_time(year) + timedelta(minutes=30)):
            plans.file_plan(session, principal=p, unit_id=smelter.id, data=plans.PlanCreate(year=year, items=[
                plans.PlanItemIn(waste_code="321-004-48", planned_kg=Decimal(110000), receiver_ids=[cement.id],
                                 methods=["C1"]),
                plans.PlanItemIn(waste_code="321-001-S01", planned_kg=Decimal(1500000), receiver_ids=[cement.id],
                                 methods=["C2"]),
            ]))
    admin = session.exec(select(User).where(User.username == "admin")).one()
    token = issue_token(session, user=admin, name="demo admin token")
    world = {"seeded": True, "admin_token": token,
             "units": {"plant": plant.id, "smelter": smelter.id, "hauler": hauler.id, "receiver": receiver.id,
                       "cement": cement.id},
             "park": park.id, "facilities": {k: v.id for k, v in fac.items()}}
    if history:
        world.update(seed_history(session, world=world, today=today))
        world["reports"] = seed_reports(session, world, today)
    world.update(seed_market(session, world=world, today=today))  # collectors, pickup orders, the trading hall
    world.update(seed_alerts(session, world=world, today=today))
    return world


# ---- three years of history, and manifests in every state ---------------------------------------------------

COMPONENTS = {"900-249-08": "矿物油、水、少量金属屑", "900-041-49": "沾染矿物油的铁桶、塑料桶",
              "321-004-48": "锌、铅、镉、砷化合物", "321-001-S01": "硅酸盐、氧化铁、氧化钙"}


def _at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=SHANGHAI)


def seed_history(session: Session, *, world: dict, today: date) -> dict:
    """Weighings, storage, transfers and processing from 1 January three years ago until today."""
    rng = random.Random(1259)
    u, f = world["units"], world["facilities"]
    users = {name: session.exec(select(User).where(User.username == name)).one()
             for name in ("operator.mq", "operator.lz", "driver.ay", "receiver.ly", "receiver.ss")}
    who = {name: Principal.of(user) for name, user in users.items()}
    # 经办人 in the ledger is a person: the last word of the display name ("明泉化工 称重员 王强" → 王强).
    person = {name: user.display_name.split()[-1] for name, user in users.items()}
    vehicles = session.exec(select(Vehicle).where(Vehicle.unit_id == u["hauler"]).order_by(Vehicle.id)).all()
    counts = {"batches": 0, "manifests": 0}

    def weigh(day: date, hh: int, *, unit: str, gen: str, store: str | None, code: str, name: str, form: str,
              container: str, volume: float | None, gross: Decimal, tare: Decimal, op: str) -> Batch:
        when = _at(day, hh, rng.randint(0, 59))
        with clock_at(when + timedelta(minutes=2)):
            b = batches.generate(session, principal=who[op], data=batches.BatchCreate(
                unit_id=u[unit], waste_code=code, name=name, form=form, facility_id=f[gen], container_type=container,
                container_volume_l=volume, gross_kg=gross, tare_kg=tare, scale_id=f"{unit.upper()}-SCALE-1",
                operator=person[op], occurred_at=when, store_facility_id=f[store] if store else None,
                components=COMPONENTS.get(code)))
        counts["batches"] += 1
        return b

    def ship(day: date, *, origin: str, receiver: str, items: list[tuple[Batch, Decimal | None, str]],
             op: str, rcv: str, until: str = "completed", refuse: str | None = None) -> manifests.Manifest:
        lines = [manifests.LineIn(batch_id=b.id, mass_kg=m, planned_method=meth) for b, m, meth in items]
        with clock_at(_at(day, 8, 30)):
            m = manifests.create(session, principal=who[op], data=manifests.ManifestCreate(
                originator_id=u[origin], hauler_id=u["hauler"], vehicle_id=vehicles[counts["manifests"] % 2].id,
                receiver_id=u[receiver], driver_id=None, planned_date=day, lines=lines))
        counts["manifests"] += 1
        steps = ["submitted", "in_transit", "delivered", "received", "completed"]
        stop = steps.index(until) if until in steps else None
        if until == "cancelled":
            with clock_at(_at(day, 9)):
                manifests.cancel(session, principal=who[op], m=m, data=manifests.CancelIn(reason="车辆调度变更"))
            return m
        if until == "draft":
            return m
        with clock_at(_at(day, 9)):
            manifests.submit(session, principal=who[op], m=m)
        if until == "submitted":
            return m
        scanned = [b.digital_id for b, _, _ in items]
        with clock_at(_at(day, 10)):
            manifests.pickup(session, principal=who["driver.ay"], m=m, data=manifests.PickupIn(
                scanned=scanned, lat=36.68, lon=117.05))
        if until == "in_transit":
            return m
        with clock_at(_at(day, 13)):
            manifests.deliver(session, principal=who["driver.ay"], m=m, data=manifests.Where(lat=36.80, lon=118.05))
        if until == "delivered":
            return m
        lines_now = manifests.lines_of(session, m)
        receipts = []
        for ln in lines_now:
            shipped = Decimal(ln.mass_g) / 1000
            got = (shipped - Decimal(rng.randint(0, 3)) / 10).quantize(Decimal("0.001"))
            if refuse == "all":
                receipts.append(manifests.ReceiveLineIn(batch_id=ln.batch_id, received_kg=got, acceptance="refused",
                                                        reason="包装破损渗漏，与联单不符"))
            elif refuse == "part" and ln is lines_now[0]:
                receipts.append(manifests.ReceiveLineIn(
                    batch_id=ln.batch_id, received_kg=got, acceptance="partially_refused",
                    accepted_kg=(got * Decimal("0.8")).quantize(Decimal("0.001")), reason="部分含水率超标"))
            else:
                receipts.append(manifests.ReceiveLineIn(batch_id=ln.batch_id, received_kg=got, acceptance="accepted"))
        with clock_at(_at(day, 15)):
            # the recycler stores what it receives in its 接收贮存库; the cement kiln takes loads straight in
            into = f["receiver_store"] if receiver == "receiver" else f["cement_kiln"]
            manifests.receive(session, principal=who[rcv], m=m, data=manifests.ReceiveIn(
                lines=receipts, facility_id=into))
        if refuse == "all":
            if until in ("returning", "returned"):
                with clock_at(_at(day, 16)):
                    manifests.start_return(session, principal=who["driver.ay"], m=m, data=manifests.Where())
            if until == "returned":
                with clock_at(_at(day + timedelta(days=1), 9)):
                    manifests.confirm_return(session, principal=who[op], m=m, data=manifests.Where())
            return m
        if stop is not None and stop < steps.index("completed"):
            return m
        process = day + timedelta(days=1)
        for ln in manifests.lines_of(session, m):
            if not ln.holding_id:
                continue
            h = session.get(Batch, ln.holding_id)
            method = ln.planned_method
            line_fac = f["receiver_plant"] if receiver == "receiver" else f["cement_kiln"]
            fac_id = line_fac if method in ("R9", "R2", "C1") else None
            with clock_at(_at(process, 10)):
                if h.stored_g:
                    batches.retrieve(session, principal=who[rcv], batch=h, data=batches.RetrieveIn(
                        operator=person[rcv], purpose="in_house"))
                batches.process_in_house(session, principal=who[rcv], batch=h, kind="used_in_house",
                                         data=batches.ProcessIn(method=method, facility_id=fac_id,
                                                                operator=person[rcv]))
        with clock_at(_at(process, 16)):
            manifests.complete(session, principal=who[rcv], m=m)
        if refuse == "part":
            with clock_at(_at(process, 17)):
                manifests.confirm_return(session, principal=who[op], m=m, data=manifests.Where())
        return m

    first = date(today.year - 3, 1, 1)
    month = first
    cutoff = today - timedelta(days=10)  # the last days are left for the "current state" below
    while month <= cutoff:
        growth = Decimal(1) - Decimal(month.year - first.year) * Decimal("0.06")  # waste reduction over the years
        drums = []
        for d in (3, 10, 17, 24):
            day = month.replace(day=d)
            if day > cutoff:
                break
            drums.append(weigh(day, 9, unit="plant", gen="plant_gen", store="plant_store", code="900-249-08",
                               name="废矿物油", form="液态", container="钢桶", volume=200,
                               gross=(Decimal(rng.randint(1650, 1850)) / 10 * growth).quantize(Decimal("0.1")),
                               tare=Decimal("18.5"), op="operator.mq"))
        if month.replace(day=12) <= cutoff:
            drums.append(weigh(month.replace(day=12), 14, unit="plant", gen="plant_gen", store="plant_store",
                               code="900-041-49", name="废弃包装桶", form="固态", container="吨袋", volume=1000,
                               gross=Decimal(rng.randint(300, 420)), tare=Decimal(6), op="operator.mq"))
        slag = []
        for d in (2, 9, 16, 23):
            day = month.replace(day=d)
            if day > cutoff:
                break
            slag.append(weigh(day, 11, unit="smelter", gen="smelter_gen", store="smelter_yard", code="321-001-S01",
                              name="冶炼炉渣", form="固态", container="散装", volume=None,
                              gross=(Decimal(rng.randint(28000, 36000)) * growth).quantize(Decimal(1)),
                              tare=Decimal(0), op="operator.lz"))
        leach = None
        if month.replace(day=6) <= cutoff:
            leach = weigh(month.replace(day=6), 10, unit="smelter", gen="smelter_gen", store="smelter_yard",
                          code="321-004-48", name="锌浸出渣", form="固态", container="吨袋", volume=1000,
                          gross=(Decimal(rng.randint(7500, 9000)) * growth).quantize(Decimal(1)), tare=Decimal(40),
                          op="operator.lz")
        ship_day = month.replace(day=26)
        if ship_day <= cutoff:
            # the last month's oil is still in the recycler's 接收贮存库, waiting for its line
            ship(ship_day, origin="plant", receiver="receiver", op="operator.mq", rcv="receiver.ly",
                 items=[(b, None, "R9" if b.waste_code == "900-249-08" else "R2") for b in drums],
                 until="received" if ship_day > cutoff - timedelta(days=31) else "completed")
            if slag:
                with clock_at(_at(ship_day, 7)):
                    stored = sum(b.stored_g for b in slag)
                    lot_code, draws = batches.retrieve_lot(session, principal=who["operator.lz"],
                                                           facility_id=f["smelter_yard"], data=batches.LotRetrieveIn(
                        waste_code="321-001-S01", mass_kg=Decimal(stored * 85 // 100) / 1000,
                        operator=person["operator.lz"], purpose="transfer"))
                ship(ship_day, origin="smelter", receiver="cement", op="operator.lz", rcv="receiver.ss",
                     items=[(d.batch, Decimal(d.record.mass_g) / 1000, "C2") for d in draws])
            if leach is not None:
                ship(ship_day, origin="smelter", receiver="cement", op="operator.lz", rcv="receiver.ss",
                     items=[(leach, None, "C1")])
        month = (month.replace(day=28) + timedelta(days=7)).replace(day=1)
        session.commit()  # a month at a time: keeps the session small, so each flush stays cheap
        session.expunge_all()

    # The current state: one manifest in each state, recent labelled batches in store.
    recent = {}
    d0 = today - timedelta(days=6)
    mk = lambda day, gross: weigh(day, 9, unit="plant", gen="plant_gen", store="plant_store",  # noqa: E731
                                  code="900-249-08", name="废矿物油", form="液态", container="钢桶", volume=200,
                                  gross=Decimal(gross), tare=Decimal("18.5"), op="operator.mq")
    plan = [("returned", "all", 0), ("returning", "all", 1), ("refused", "all", 1), ("completed", "part", 2),
            ("received", None, 4), ("in_transit", None, 5), ("submitted", None, 5), ("draft", None, 6),
            ("cancelled", None, 3)]
    for state, refuse, offset in plan:
        day = d0 + timedelta(days=offset)
        items = [(mk(day, 178 + offset), None, "R9"), (mk(day, 181 + offset), None, "R9")]
        recent[state] = ship(day, origin="plant", receiver="receiver", op="operator.mq", rcv="receiver.ly",
                             items=items, until=state, refuse=refuse).number
    leach = weigh(today - timedelta(days=2), 10, unit="smelter", gen="smelter_gen", store="smelter_yard",
                  code="321-004-48", name="锌浸出渣", form="固态", container="吨袋", volume=1000, gross=Decimal(8200),
                  tare=Decimal(40), op="operator.lz")
    recent["delivered"] = ship(today - timedelta(days=1), origin="smelter", receiver="cement", op="operator.lz",
                               rcv="receiver.ss", items=[(leach, None, "C1")], until="delivered").number
    for gross in ("176.5", "182.0", "179.5"):
        mk(today, gross)
    session.flush()
    return {"history": counts, "current_manifests": recent}
