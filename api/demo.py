"""The demo dataset: a small Shandong-like province with plants, a hauler, receivers and a park.

Seeded through the same services the API uses, so every row passed the same checks.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlmodel import Session, select

from ledger.accounts import User, issue_token
from ledger.auth import SYSTEM
from ledger.codes import credit_check_character
from ledger.registry import assets, plans, units
from ledger.registry.models import Unit
from ledger.users import UserCreate, create_user

DEMO_PASSWORD = "demo-pass-2026"
DEMO_MARKER = "913701000000000001"  # first 17 chars are completed with their check character below


def credit(first17: str) -> str:
    """A valid 统一社会信用代码 from its first 17 characters."""
    return first17 + credit_check_character(first17)


def seed(session: Session, *, today: date | None = None) -> dict:
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

    for year in range(today.year - 3, today.year + 1):
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
        ("operator.mq", "明泉化工 称重员", "operator", {"unit_id": plant.id}),
        ("admin.mq", "明泉化工 环保负责人", "unit_admin", {"unit_id": plant.id}),
        ("operator.lz", "鲁中冶炼 称重员", "operator", {"unit_id": smelter.id}),
        ("driver.ay", "安运 司机 张师傅", "driver", {"unit_id": hauler.id}),
        ("receiver.ly", "绿源环保 收料员", "receiver_operator", {"unit_id": receiver.id}),
        ("receiver.ss", "山水水泥 收料员", "receiver_operator", {"unit_id": cement.id}),
        ("park.jn", "化工产业园 管委会", "park_manager", {"park_id": park.id}),
    ]
    for username, name, role, binding in people:
        create_user(session, principal=p, data=UserCreate(username=username, display_name=name, role=role,
                                                          password=DEMO_PASSWORD, **binding))
    admin = session.exec(select(User).where(User.username == "admin")).one()
    token = issue_token(session, user=admin, name="demo admin token")
    return {"seeded": True, "admin_token": token, "units": [plant.id, smelter.id, hauler.id, receiver.id, cement.id],
            "park": park.id, "facilities": {k: v.id for k, v in fac.items()}}
