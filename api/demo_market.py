"""The demo's small producers and market: a collector with a collection centre, a dozen small garages (汽修) with
pickup orders in every state, one collection-centre lot traced to all its producers and on to the recycler, an
active trading hall, a returned plan and a zero report.

Seeded through the same services the API uses, as the users who would act (the garages' own administrators, the
collector's dispatcher, driver and centre keeper), with the ledger's clock set to when each step happened.
"""

from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlmodel import Session, select

from ledger import batches, manifests
from ledger.accounts import User
from ledger.auth import SYSTEM, Principal
from ledger.batches import Batch
from ledger.collection import consents, lots, orders
from ledger.filings import returns, zero_reports
from ledger.market import offers, photos, posts
from ledger.registry import assets, plans, units
from ledger.registry.models import Plan, Unit
from ledger.types import clock_at
from ledger.users import UserCreate, create_user
from ledger.workdays import SHANGHAI

DEMO_PASSWORD = "demo-pass-2026"
OIL = "900-214-08"  # 车辆维修过程中产生的废发动机油
GARAGES = 12
# Site coordinates (WGS 84) of the units the main demo registers, for distances in the trading hall.
SITES = {"plant": (36.70, 117.08), "smelter": (36.80, 118.05), "hauler": (36.68, 117.06),
         "receiver": (36.78, 118.10), "cement": (36.75, 117.99)}


def _credit(first17: str) -> str:
    from api.demo import credit

    return credit(first17)


def seed_market(session: Session, *, world: dict, today: date) -> dict:
    """Seed the collection side and the trading hall on top of the main demo (`world` from api.demo.seed)."""
    real_now = datetime.now(SHANGHAI)

    def at(day: date, hh: int, mm: int = 0) -> datetime:
        """A step's time: the hour of that day, or, for today, the same order squeezed into the last hours."""
        if day < real_now.date():
            return datetime.combine(day, time(hh, mm), tzinfo=SHANGHAI)
        return real_now - timedelta(minutes=(24 * 60 - (hh * 60 + mm)) / 8)

    u = world["units"]
    for key, (lat, lon) in SITES.items():
        unit = session.get(Unit, u[key])
        unit.lat, unit.lon = lat, lon
        session.add(unit)
    receiver = session.get(Unit, u["receiver"])
    fac = world["facilities"]
    start = today - timedelta(days=12)

    # ---- the collector ---------------------------------------------------------------------------------------
    with clock_at(at(start, 9)):
        col = units.create_unit(session, principal=SYSTEM, data=units.UnitCreate(
            credit_code=_credit("91370112MA3C00010"), name="济南绿蜂小微危废收集有限公司", region_code="370112",
            roles=["collector", "hauler"], industry_code="N7724", address="济南市历城区华山街道华山路1号",
            contact="刘经理", phone="0531-88880010", lat=36.69, lon=117.05))
        assets.create_permit(session, principal=SYSTEM, unit_id=col.id, data=assets.PermitCreate(
            kind="collection_licence", number="鲁危收370112001", waste_codes=["HW08", "HW49", "HW31"],
            annual_capacity_t=Decimal(3000), valid_from=date(today.year - 1, 1, 1),
            valid_to=date(today.year + 3, 12, 31)))
        assets.create_permit(session, principal=SYSTEM, unit_id=col.id, data=assets.PermitCreate(
            kind="transport_permit", number="鲁交运管许可济字370100088", valid_from=date(today.year - 1, 1, 1),
            valid_to=date(today.year + 3, 6, 30)))
        van = assets.create_vehicle(session, principal=SYSTEM, unit_id=col.id, data=assets.VehicleCreate(
            plate="鲁A8C001", vehicle_type="危险品厢式货车（小微收集）", capacity_t=Decimal(3)))
        centre = assets.create_facility(session, principal=SYSTEM, unit_id=col.id, data=assets.FacilityCreate(
            kind="storage", storage_type="贮存库", code="JZ-01", name="华山集中收集点（分拣中心）",
            storage_capacity_t=Decimal(30)))
        people = {}
        for username, name, role in (("collector.lf", "绿蜂 调度 刘经理", "unit_admin"),
                                     ("driver.lf", "绿蜂 司机 孙师傅", "driver"),
                                     ("centre.lf", "绿蜂 收集点 李工", "receiver_operator")):
            people[username] = create_user(session, principal=SYSTEM, data=UserCreate(
                username=username, display_name=name, role=role, unit_id=col.id, password=DEMO_PASSWORD,
                phone="13800000010"))
    dispatcher, driver, keeper = (Principal.of(people[n]) for n in ("collector.lf", "driver.lf", "centre.lf"))

    # ---- a dozen garages -------------------------------------------------------------------------------------
    garages: list[dict] = []
    with clock_at(at(start, 10)):
        for n in range(1, GARAGES + 1):
            g = units.create_unit(session, principal=SYSTEM, data=units.UnitCreate(
                credit_code=_credit(f"92370112MA3C2{n:04d}"), name=f"济南历城区{_NAMES[n - 1]}汽车维修服务部",
                region_code="370112", roles=["generator"], industry_code="O8111",
                address=f"济南市历城区{_STREETS[n % len(_STREETS)]}{10 + 7 * n}号", contact="店长",
                phone=f"1390531{n:04d}", lat=36.64 + 0.007 * (n % 6), lon=117.00 + 0.012 * (n // 2)))
            point = assets.create_facility(session, principal=SYSTEM, unit_id=g.id, data=assets.FacilityCreate(
                kind="generation", code="CS-01", name="维修车间（换油工位）"))
            user = create_user(session, principal=SYSTEM, data=UserCreate(
                username=f"garage{n:02d}", display_name=f"{_NAMES[n - 1]}汽修 店长", role="unit_admin",
                unit_id=g.id, password=DEMO_PASSWORD))
            plans.file_plan(session, principal=SYSTEM, unit_id=g.id, data=plans.PlanCreate(year=today.year, items=[
                plans.PlanItemIn(waste_code=OIL, planned_kg=Decimal(600), receiver_ids=[col.id], methods=["R9"]),
                plans.PlanItemIn(waste_code="900-041-49", planned_kg=Decimal(60), receiver_ids=[col.id],
                                 methods=["R2"])]))
            garages.append({"unit": g, "point": point, "user": user, "who": Principal.of(user)})
    with clock_at(at(start + timedelta(days=1), 9)):
        for g in garages[:11]:  # the twelfth has not consented: it raises its own orders
            consents.grant(session, principal=g["who"], unit_id=g["unit"].id,
                           data=consents.ConsentCreate(collector_id=col.id, note="委托绿蜂代为下单、上门称重贴标"))

    def window(day: date) -> dict:
        return {"window_from": at(day, 9), "window_to": at(day, 9) + timedelta(days=2)}

    def order(g: dict, day: date, *, by_collector: bool = True, est: str = "45", open_to_all: bool = False):
        with clock_at(at(day, 8, 30)):
            return orders.raise_order(session, principal=dispatcher if by_collector else g["who"],
                                      data=orders.OrderCreate(
                unit_id=g["unit"].id, collector_id=None if (open_to_all or by_collector) else col.id,
                lines=[orders.OrderLineIn(waste_code=OIL, name="废机油", form="液态", estimated_kg=Decimal(est),
                                          planned_method="R9")], **window(day)))

    def accept(o, day: date):  # noqa: ANN001, ANN202
        with clock_at(at(day, 8, 40)):
            orders.accept(session, principal=dispatcher, order_id=o.id, data=orders.AcceptIn())

    def schedule(o, day: date):  # noqa: ANN001, ANN202
        with clock_at(at(day, 8, 50)):
            orders.schedule(session, principal=dispatcher, order_id=o.id, data=orders.ScheduleIn(
                pickup_date=day, vehicle_id=van.id, driver_id=driver.user_id))

    def weigh(o, day: date, k: int, drums: list[str]):  # noqa: ANN001, ANN202
        with clock_at(at(day, 9 + k // 4, (k % 4) * 12)):
            return orders.weigh(session, principal=driver, order_id=o.id, data=orders.WeighIn(
                scale_id="LF-PORTABLE-01", operator="孙师傅", lat=36.66, lon=117.02, lines=[orders.WeighLineIn(
                    line_no=1, weighings=[orders.WeighingIn(gross_kg=Decimal(x), tare_kg=Decimal("2.4"),
                                                            container_type="塑料桶", container_volume_l=30)
                                          for x in drums])]))[1]

    def confirm(o, g: dict, day: date, k: int, *, on_phone: bool = True):  # noqa: ANN001, ANN202
        with clock_at(at(day, 9 + k // 4, (k % 4) * 12 + 4)):
            who = driver if on_phone else g["who"]
            return orders.confirm(session, principal=who, order_id=o.id, data=orders.ConfirmIn(
                username=g["user"].username if on_phone else None, password=DEMO_PASSWORD if on_phone else None,
                lat=36.66, lon=117.02))[1]

    def load(m, day: date, k: int):  # noqa: ANN001, ANN202
        with clock_at(at(day, 9 + k // 4, (k % 4) * 12 + 8)):
            return manifests.pickup(session, principal=driver, m=m, data=manifests.PickupIn(
                scanned=[session.get(Batch, ln.batch_id).digital_id for ln in manifests.lines_of(session, m)],
                lat=36.66, lon=117.02))

    def unload(m, day: date):  # noqa: ANN001, ANN202
        with clock_at(at(day, 15)):
            manifests.receive(session, principal=keeper, m=m, data=manifests.ReceiveIn(
                facility_id=centre.id, lines=[manifests.ReceiveLineIn(
                    batch_id=ln.batch_id, received_kg=Decimal(ln.mass_g) / 1000, acceptance="accepted")
                    for ln in manifests.lines_of(session, m)]))

    drums = [["24.6", "19.8"], ["31.2"], ["22.5", "22.5", "8.9"], ["27.3"], ["16.4", "21.7"],
             ["25.0"], ["18.6", "18.1"], ["29.4"]]
    state: dict[str, list[str]] = {}

    # Garages 1–5: collected four days ago, received at the centre, combined into one lot, shipped to the recycler.
    d_collect = today - timedelta(days=4)
    for k, g in enumerate(garages[:5]):
        o = order(g, d_collect)
        accept(o, d_collect)
        schedule(o, d_collect)
        weigh(o, d_collect, k, drums[k])
        m = confirm(o, g, d_collect, k, on_phone=k % 2 == 0)
        load(m, d_collect, k)
        unload(m, d_collect)
        state.setdefault("confirmed (received at the centre)", []).append(o.number)
    session.flush()
    with clock_at(at(today - timedelta(days=2), 10)):
        lot = lots.combine(session, principal=keeper, facility_id=centre.id, data=lots.LotCreate(
            waste_code=OIL, container_type="IBC吨桶", container_volume_l=1000, operator="李工"))
    ship_day = today - timedelta(days=1)
    with clock_at(at(ship_day, 8, 30)):
        m = manifests.create(session, principal=dispatcher, data=manifests.ManifestCreate(
            originator_id=col.id, hauler_id=col.id, vehicle_id=van.id, receiver_id=receiver.id,
            driver_id=driver.user_id, planned_date=ship_day, remarks=f"收集点并批 {lot.digital_id}",
            lines=[manifests.LineIn(batch_id=lot.id, planned_method="R9")]))
    with clock_at(at(ship_day, 8, 40)):
        manifests.submit(session, principal=dispatcher, m=m)
    with clock_at(at(ship_day, 9)):
        manifests.pickup(session, principal=driver, m=m, data=manifests.PickupIn(
            scanned=[lot.digital_id], lat=36.69, lon=117.05))
    recycler = Principal.of(session.exec(select(User).where(User.username == "receiver.ly")).one())
    with clock_at(at(ship_day, 14)):
        shipped = manifests.lines_of(session, m)[0].mass_g
        manifests.receive(session, principal=recycler, m=m, data=manifests.ReceiveIn(
            facility_id=fac["receiver_store"], lines=[manifests.ReceiveLineIn(
                batch_id=lot.id, received_kg=(Decimal(shipped) - 300) / 1000, acceptance="accepted")]))
    holding = session.get(Batch, manifests.lines_of(session, m)[0].holding_id)
    with clock_at(at(today, 9)):
        batches.retrieve(session, principal=recycler, batch=holding, data=batches.RetrieveIn(
            operator="赵磊", purpose="in_house"))
        batches.process_in_house(session, principal=recycler, batch=holding, kind="used_in_house",
                                 data=batches.ProcessIn(method="R9", facility_id=fac["receiver_plant"],
                                                        operator="赵磊"))
    with clock_at(at(today, 10)):
        manifests.complete(session, principal=recycler, m=m)

    # Today's round: one order in each state.
    g6, g7, g8, g9, g10, g11, g12 = garages[5:12]
    for k, (g, stop) in enumerate(((g6, "in_transit"), (g7, "submitted"), (g8, "weighed"))):
        o = order(g, today)
        accept(o, today)
        schedule(o, today)
        weigh(o, today, k, drums[5 + k])
        if stop != "weighed":
            mm = confirm(o, g, today, k)
            if stop == "in_transit":
                load(mm, today, k)
        state.setdefault({"in_transit": "confirmed (manifest in transit)", "submitted": "confirmed (manifest "
                          "waiting for pickup)", "weighed": "weighed (awaiting the producer's confirmation)"}[stop],
                         []).append(o.number)
    o = order(g9, today)
    accept(o, today)
    schedule(o, today + timedelta(days=1))
    state["scheduled"] = [o.number]
    o = order(g10, today)
    accept(o, today)
    state["accepted"] = [o.number]
    state["requested (raised by the collector for the producer)"] = [order(g11, today).number]
    state["requested (open, raised by the producer itself)"] = [
        order(g12, today, by_collector=False, open_to_all=True, est="60").number]
    o = order(garages[4], today - timedelta(days=1))
    with clock_at(at(today - timedelta(days=1), 11)):
        orders.cancel(session, principal=garages[4]["who"], order_id=o.id,
                      data=orders.CancelIn(reason="本周换油量少，下周再约"))
    state["cancelled"] = [o.number]

    # ---- the inbox: a returned plan, a zero report ----------------------------------------------------------------
    regulator = Principal.of(session.exec(select(User).where(User.username == "regulator.jn")).one())
    g3_plan = session.exec(select(Plan).where(Plan.unit_id == garages[2]["unit"].id)).first()
    with clock_at(at(today - timedelta(days=1), 16)):
        returns.return_plan(session, principal=regulator, unit_id=garages[2]["unit"].id, plan_id=g3_plan.id,
                            data=returns.ReturnIn(reason="废机油计划量偏低，请按近三年最大产生量核实后重报"))
    with clock_at(at(today - timedelta(days=6), 18)):
        zero_reports.file_zero_report(session, principal=dispatcher, unit_id=col.id,
                                      data=zero_reports.ZeroReportIn(note="当日无收集、无转移"))

    # ---- the trading hall ------------------------------------------------------------------------------------------
    who = {n: Principal.of(session.exec(select(User).where(User.username == n)).one())
           for n in ("admin.mq", "operator.lz", "receiver.ss")}
    hall: dict[str, int] = {}
    with clock_at(at(today - timedelta(days=5), 10)):
        p = posts.create_post(session, principal=who["admin.mq"], data=posts.PostCreate(
            unit_id=u["plant"], waste_code="900-041-49", name="沾油废包装桶", form="固态", monthly_kg=Decimal(400),
            note="200 L 铁桶为主，已沥干", expires_in_days=30))
        photos.add_photo(session, principal=who["admin.mq"], post_id=p.id, data=_sample_png(), content_type="image/png")
        hall["packaging drums (an open offer from the recycler)"] = p.id
    with clock_at(at(today - timedelta(days=4), 11)):
        offers.make_offer(session, principal=recycler, post_id=p.id, data=offers.OfferCreate(
            method="R2", fee_yuan_per_t=Decimal(900), note="含清洗、压块"))
    with clock_at(at(today - timedelta(days=3), 10)):
        p = posts.create_post(session, principal=who["operator.lz"], data=posts.PostCreate(
            unit_id=u["smelter"], waste_code="321-004-48", name="锌浸出渣（新增产线）", form="固态",
            monthly_kg=Decimal(6000), expires_in_days=60))
        hall["leach residue (an open offer from the cement kiln)"] = p.id
    with clock_at(at(today - timedelta(days=2), 9)):
        offers.make_offer(session, principal=who["receiver.ss"], post_id=p.id, data=offers.OfferCreate(
            method="C1", fee_yuan_per_t=Decimal(1200)))
    g4 = garages[3]
    with clock_at(at(today - timedelta(days=3), 15)):
        p = posts.create_post(session, principal=g4["who"], data=posts.PostCreate(
            unit_id=g4["unit"].id, waste_code="900-052-31", name="废铅蓄电池", form="固态", monthly_kg=Decimal(60)))
    with clock_at(at(today - timedelta(days=2), 16)):
        deal = offers.make_offer(session, principal=dispatcher, post_id=p.id, data=offers.OfferCreate(
            method="R4", fee_yuan_per_t=Decimal(-3000), note="按含铅量回收计价"))
    with clock_at(at(today - timedelta(days=1), 10)):
        deal = offers.accept_offer(session, principal=g4["who"], post_id=p.id, offer_id=deal.id,
                                   data=offers.AcceptOfferIn())
    hall["lead batteries (a deal: plan version and pickup order)"] = p.id
    with clock_at(at(today - timedelta(days=9), 10)):
        p = posts.create_post(session, principal=garages[1]["who"], data=posts.PostCreate(
            unit_id=garages[1]["unit"].id, waste_code="900-041-49", name="废机油滤芯", form="固态",
            monthly_kg=Decimal(15), expires_in_days=3))
    hall["oil filters (expired)"] = p.id
    with clock_at(at(today - timedelta(days=2), 10)):
        p = posts.create_post(session, principal=garages[0]["who"], data=posts.PostCreate(
            unit_id=garages[0]["unit"].id, waste_code="900-041-49", name="沾油抹布", form="固态",
            monthly_kg=Decimal(10)))
    with clock_at(at(today - timedelta(days=1), 9)):
        posts.withdraw_post(session, principal=garages[0]["who"], post_id=p.id,
                            data=posts.WithdrawIn(reason="并入绿蜂上门收集"))
    hall["oily rags (withdrawn)"] = p.id
    session.flush()
    return {"market": {"collector": col.id, "centre": centre.id, "garages": [g["unit"].id for g in garages],
                       "lot": lot.id, "lot_digital_id": lot.digital_id, "lot_manifest": m.number,
                       "orders": state, "hall": hall, "deal_pickup_order": deal.pickup_order_id}}


_NAMES = ["顺达", "恒通", "捷安", "鑫源", "宏发", "众诚", "安驰", "骏马", "利民", "快修", "金盾", "永兴"]
_STREETS = ["工业南路", "华龙路", "二环东路", "花园路", "祝舜路", "荷花路"]


def _sample_png() -> bytes:
    """A small picture standing in for a phone photo of the sample."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (320, 240), (214, 205, 188))
    draw = ImageDraw.Draw(img)
    for i, colour in enumerate(((60, 60, 70), (90, 80, 60), (40, 70, 110))):
        draw.rectangle((30 + 95 * i, 60, 110 + 95 * i, 200), fill=colour, outline=(20, 20, 20), width=3)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()
