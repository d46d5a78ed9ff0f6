"""A four-year world (2021–2024) written through the ordinary services at historical times (`clock_at`).

Units: A (waste oil, in the park), B (slag, in the park), C (furnace slag, joins the park on 2023-06-15), D (outside,
ships waste oil and scrap to RIN), RIN (licensed receiver inside the park), ROUT (cement plant outside the park),
H (hauler). Every event is listed in `EVENTS` order in the docstring of `build`; the tests compute the expected
figures by hand from these masses.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from sqlmodel import Session, select

from ledger import batches, manifests
from ledger.accounts import User
from ledger.auth import SYSTEM, Principal
from ledger.batches import Batch
from ledger.codes import credit_check_character
from ledger.journal import JournalRecord
from ledger.registry import assets, plans, units
from ledger.types import clock_at
from ledger.users import UserCreate, create_user
from ledger.workdays import SHANGHAI

OIL, SLAG, FURNACE, SCRAP = "900-249-08", "321-001-S01", "321-002-S03", "900-001-S17"
PARK_JOIN_C = date(2023, 6, 15)


def at(d: str, hh: int = 9, mm: int = 0) -> datetime:
    return datetime.combine(date.fromisoformat(d), time(hh, mm), tzinfo=SHANGHAI)


def _credit(n: int) -> str:
    first = f"91370100MA9R{n:05d}"
    return first + credit_check_character(first)


class World:
    def __init__(self, session: Session):
        self.s = session
        self.u: dict[str, int] = {}
        self.f: dict[str, int] = {}
        self.who: dict[str, Principal] = {}
        self.batches: dict[str, Batch] = {}
        self.manifests: dict[str, manifests.Manifest] = {}
        self.park = 0
        self.vehicle = 0

    # -- registry ---------------------------------------------------------------------------------------------------

    def unit(self, key: str, n: int, name: str, roles: list[str], region: str = "370112") -> int:
        u = units.create_unit(self.s, principal=SYSTEM, data=units.UnitCreate(
            credit_code=_credit(n), name=name, region_code=region, roles=roles, industry_code="C2614"))
        self.u[key] = u.id
        role = {"H": "driver"}.get(key, "receiver_operator" if "receiver" in roles else "unit_admin")
        user = create_user(self.s, principal=SYSTEM, data=UserCreate(
            username=f"{key.lower()}.user", display_name=f"{name} 操作员", role=role, password="password-123",
            unit_id=u.id))
        self.who[key] = Principal.of(user)
        return u.id

    def fac(self, key: str, unit: str, kind: str, code: str, **kw) -> int:
        f = assets.create_facility(self.s, principal=SYSTEM, unit_id=self.u[unit], data=assets.FacilityCreate(
            kind=kind, code=code, name=f"{unit}-{code}", **kw))
        self.f[key] = f.id
        return f.id

    # -- ledger events --------------------------------------------------------------------------------------------

    def gen(self, key: str, unit: str, code: str, kg: int, when: str, *, store: str | None = None,
            name: str = "废物") -> Batch:
        t = at(when)
        form = "液态" if code == OIL else "固态"
        with clock_at(t):
            b = batches.generate(self.s, principal=self.who[unit], data=batches.BatchCreate(
                unit_id=self.u[unit], waste_code=code, name=name, form=form, facility_id=self.f[f"{unit}.gen"],
                container_type="桶" if code == OIL else "散装", gross_kg=Decimal(kg), tare_kg=Decimal(0),
                scale_id=f"{unit}-SCALE", operator="称重员", occurred_at=t,
                store_facility_id=self.f[store] if store else None))
        self.batches[key] = b
        return b

    def process(self, unit: str, batch: Batch, kg: int, when: str, method: str, *, dispose: bool = False,
                facility: str | None = None) -> None:
        t = at(when, 10)
        b = self.s.get(Batch, batch.id, populate_existing=True)
        with clock_at(t):
            if b.stored_g:
                batches.retrieve(self.s, principal=self.who[unit], batch=b, data=batches.RetrieveIn(
                    mass_kg=Decimal(min(kg, b.stored_g // 1000)), operator="库管", occurred_at=at(when, 8)))
            batches.process_in_house(self.s, principal=self.who[unit], batch=b,
                                     kind="disposed_in_house" if dispose else "used_in_house",
                                     data=batches.ProcessIn(method=method, mass_kg=Decimal(kg), operator="操作工",
                                                            occurred_at=t,
                                                            facility_id=self.f[facility] if facility else None))

    def ship(self, key: str, origin: str, receiver: str, items: list[tuple[Batch, int | None, str]], day: str, *,
             received: list[tuple[int, str, int | None]], process: list[tuple[int, str, bool]] | None = None,
             process_day: str | None = None, refused_back: str | None = None,
             reason: str = "与联单不符") -> manifests.Manifest:
        """Create → submit → pickup → receive (per line: received kg, acceptance, accepted kg); then the receiver
        processes each accepted holding (kg, method, dispose?) on `process_day`, and refused mass comes back on
        `refused_back`."""
        s, d = self.s, date.fromisoformat(day)
        lines = [manifests.LineIn(batch_id=b.id, mass_kg=Decimal(kg) if kg is not None else None,
                                  planned_method=meth) for b, kg, meth in items]
        with clock_at(at(day, 7)):
            m = manifests.create(s, principal=self.who[origin], data=manifests.ManifestCreate(
                originator_id=self.u[origin], hauler_id=self.u["H"], vehicle_id=self.vehicle,
                receiver_id=self.u[receiver], planned_date=d, lines=lines))
        with clock_at(at(day, 8)):
            manifests.submit(s, principal=self.who[origin], m=m)
        with clock_at(at(day, 10)):
            manifests.pickup(s, principal=self.who["H"], m=m, data=manifests.PickupIn(
                scanned=[b.digital_id for b, _, _ in items]))
        recs = []
        for (b, _, _), (rkg, acc, akg) in zip(items, received, strict=True):
            recs.append(manifests.ReceiveLineIn(
                batch_id=b.id, received_kg=Decimal(rkg), acceptance=acc,
                accepted_kg=Decimal(akg) if akg is not None else None,
                reason=None if acc == "accepted" else reason))
        with clock_at(at(day, 15)):
            manifests.receive(s, principal=self.who[receiver], m=m, data=manifests.ReceiveIn(lines=recs))
        if m.status == "refused":
            with clock_at(at(day, 16)):
                manifests.start_return(s, principal=self.who["H"], m=m, data=manifests.Where())
        for ln, (kg, meth, dispose) in zip(manifests.lines_of(s, m), process or [], strict=False):
            if ln.holding_id and kg:
                self.process(receiver, s.get(Batch, ln.holding_id), kg, process_day or day, meth, dispose=dispose)
        if refused_back:
            with clock_at(at(refused_back, 11)):
                manifests.confirm_return(s, principal=self.who[origin], m=m, data=manifests.Where())
        self.manifests[key] = m
        return m


def build(session: Session) -> World:
    """The events, in order (masses in kg):

    2021  A gen oil a1 1000 (03-10, stored); A uses 800 R9 (04-01).
          B gen slag b1 30000 (05-05, stored); ships it to ROUT C2 (06-01): received 29990; ROUT uses 29990.
          B gen slag b2 10000 (11-11); ships to ROUT D1 (12-01): received 10000; ROUT disposes 10000.
    2022  A uses a1's last 200 R9 (02-01, generated 2021: 往年).
          B gen slag b3 20000 (03-03); ships to ROUT C2 (04-04): received 19950; ROUT uses 19950.
          A gen oil a2 500 (12-20, stored).
    2023  A ships a2 500 to RIN R9 (01-10): received 498; RIN uses 498 (01-20).
          D gen scrap d1 4000 (03-03); ships to RIN R4 (03-10): received 4000; RIN uses 3000 (12-28).
          D gen oil d2 300 (04-04); ships to RIN R9 (04-05): received 300; RIN uses 300 (04-10).
          A gen oil a3 600 (05-05); ships to RIN R9 (05-20): refused whole (received 600); back with A (05-22);
            A uses 600 R9 (06-01).
          C gen furnace slag c1 5000 (06-01, before joining the park on 06-15), c2 7000 (06-20);
            C disposes 4000 of c1 D1 (06-25); C uses c2 7000 R5 (07-01); C gen c3 3000 (08-08).
          B gen slag b4 15000 (09-09); ships to ROUT C2 (09-15): received 14990, accepted 12000, refused 2990;
            ROUT uses 12000 (09-16); the 2990 is back with B (09-20).
    2024  RIN uses the last 1000 of d1 R4 (01-05, received 2023: 往年).
          A gen oil a4 400 (02-02); A uses 400 R9 (03-03); a4's weighing is corrected to 410 on 05-01.
          B ships b4's 2990 to ROUT C2 (02-10): received 2990; ROUT uses 2990 (02-11).
          C gen c4 2000 (03-03); C disposes 2000 D1 (03-10); C disposes c1's last 1000 D1 (04-04).
    """
    w = World(session)
    s = session
    w.unit("A", 1, "甲化工", ["generator"])
    w.unit("B", 2, "乙冶炼", ["generator"])
    w.unit("C", 3, "丙电力", ["generator"])
    w.unit("D", 4, "丁机械", ["generator"], region="370303")
    w.unit("RIN", 5, "园区再生资源公司", ["receiver"])
    w.unit("ROUT", 6, "园外水泥厂", ["receiver"], region="370304")
    w.unit("H", 7, "危运公司", ["hauler"])
    park = units.create_park(s, principal=SYSTEM, data=units.ParkCreate(code="T-PARK", name="测试化工园区",
                                                                         region_code="370112", level="省级"))
    w.park = park.id
    for key, since in (("A", date(2021, 1, 1)), ("B", date(2021, 1, 1)), ("RIN", date(2021, 1, 1)),
                       ("C", PARK_JOIN_C)):
        units.add_member(s, principal=SYSTEM, park_id=park.id, data=units.MemberCreate(unit_id=w.u[key], since=since))
    for key in ("A", "B", "C", "D"):
        w.fac(f"{key}.gen", key, "generation", "CS-01")
    w.fac("A.store", "A", "storage", "ZC-01", storage_type="贮存库", storage_capacity_t=Decimal(10))
    w.fac("A.line", "A", "utilisation", "LY-01", methods=["R9"])
    w.fac("B.yard", "B", "storage", "ZC-02", storage_type="贮存场", storage_capacity_t=Decimal(5000))
    valid = dict(valid_from=date(2020, 1, 1), valid_to=date(2030, 12, 31))
    assets.create_permit(s, principal=SYSTEM, unit_id=w.u["RIN"], data=assets.PermitCreate(
        kind="operating_licence", number="鲁危证T001", waste_codes=["HW08"], methods=["R9"],
        annual_capacity_t=Decimal(1000), **valid))
    assets.create_permit(s, principal=SYSTEM, unit_id=w.u["H"], data=assets.PermitCreate(
        kind="transport_permit", number="鲁交运T001", **valid))
    w.vehicle = assets.create_vehicle(s, principal=SYSTEM, unit_id=w.u["H"],
                                      data=assets.VehicleCreate(plate="鲁A9T001")).id
    for year, values in ((2021, {"A": 1000, "B": 2000, "RIN": 500}), (2022, {"A": 1000, "B": 2000, "RIN": 500}),
                         (2023, {"A": 1100, "B": 2000, "RIN": 500, "C": 730}),
                         (2024, {"A": 1200, "B": 2000, "RIN": 500, "C": 800})):
        for key, va in values.items():
            plans.set_economics(s, principal=SYSTEM, unit_id=w.u[key], data=plans.EconomicsIn(
                year=year, value_added_10k=Decimal(va), output_value_10k=Decimal(va * 5)))
    s.flush()

    # 2021
    a1 = w.gen("a1", "A", OIL, 1000, "2021-03-10", store="A.store")
    w.process("A", a1, 800, "2021-04-01", "R9", facility="A.line")
    b1 = w.gen("b1", "B", SLAG, 30000, "2021-05-05", store="B.yard")
    w.ship("m1", "B", "ROUT", [(b1, None, "C2")], "2021-06-01", received=[(29990, "accepted", None)],
           process=[(29990, "C2", False)], process_day="2021-06-02")
    b2 = w.gen("b2", "B", SLAG, 10000, "2021-11-11")
    w.ship("m2", "B", "ROUT", [(b2, None, "D1")], "2021-12-01", received=[(10000, "accepted", None)],
           process=[(10000, "D1", True)], process_day="2021-12-02")
    s.commit()
    # 2022
    w.process("A", a1, 200, "2022-02-01", "R9", facility="A.line")
    b3 = w.gen("b3", "B", SLAG, 20000, "2022-03-03")
    w.ship("m3", "B", "ROUT", [(b3, None, "C2")], "2022-04-04", received=[(19950, "accepted", None)],
           process=[(19950, "C2", False)], process_day="2022-04-05")
    w.gen("a2", "A", OIL, 500, "2022-12-20", store="A.store")
    s.commit()
    # 2023
    w.ship("m4", "A", "RIN", [(w.batches["a2"], None, "R9")], "2023-01-10", received=[(498, "accepted", None)],
           process=[(498, "R9", False)], process_day="2023-01-20")
    d1 = w.gen("d1", "D", SCRAP, 4000, "2023-03-03")
    w.ship("m5", "D", "RIN", [(d1, None, "R4")], "2023-03-10", received=[(4000, "accepted", None)],
           process=[(3000, "R4", False)], process_day="2023-12-28")
    d2 = w.gen("d2", "D", OIL, 300, "2023-04-04")
    w.ship("m6", "D", "RIN", [(d2, None, "R9")], "2023-04-05", received=[(300, "accepted", None)],
           process=[(300, "R9", False)], process_day="2023-04-10")
    a3 = w.gen("a3", "A", OIL, 600, "2023-05-05")
    w.ship("m7", "A", "RIN", [(a3, None, "R9")], "2023-05-20", received=[(600, "refused", None)],
           refused_back="2023-05-22")
    w.process("A", a3, 600, "2023-06-01", "R9", facility="A.line")
    c1 = w.gen("c1", "C", FURNACE, 5000, "2023-06-01")
    c2 = w.gen("c2", "C", FURNACE, 7000, "2023-06-20")
    w.process("C", c1, 4000, "2023-06-25", "D1", dispose=True)
    w.process("C", c2, 7000, "2023-07-01", "R5")
    w.gen("c3", "C", FURNACE, 3000, "2023-08-08")
    b4 = w.gen("b4", "B", SLAG, 15000, "2023-09-09")
    w.ship("m8", "B", "ROUT", [(b4, None, "C2")], "2023-09-15", received=[(14990, "partially_refused", 12000)],
           process=[(12000, "C2", False)], process_day="2023-09-16", refused_back="2023-09-20", reason="含水率超标")
    s.commit()
    # 2024
    rin_d1 = session.exec(select(Batch).where(Batch.parent_id == d1.id)).one()
    w.process("RIN", rin_d1, 1000, "2024-01-05", "R4")
    a4 = w.gen("a4", "A", OIL, 400, "2024-02-02")
    w.process("A", a4, 400, "2024-03-03", "R9", facility="A.line")
    w.ship("m9", "B", "ROUT", [(s.get(Batch, b4.id), 2990, "C2")], "2024-02-10",
           received=[(2990, "accepted", None)], process=[(2990, "C2", False)], process_day="2024-02-11")
    c4 = w.gen("c4", "C", FURNACE, 2000, "2024-03-03")
    w.process("C", c4, 2000, "2024-03-10", "D1", dispose=True)
    w.process("C", c1, 1000, "2024-04-04", "D1", dispose=True)
    original = session.exec(select(JournalRecord).where(JournalRecord.batch_id == a4.id,
                                                                JournalRecord.kind == "generated")).one()
    with clock_at(at("2024-05-01")):
        batches.correct(s, principal=w.who["A"], batch=s.get(Batch, a4.id), data=batches.CorrectionIn(
            record_id=original.id, mass_kg=Decimal(410), reason="地磅校准后复核"))
    s.commit()
    users = {k: session.exec(select(User).where(User.id == p.user_id)).one() for k, p in w.who.items()}
    w.users = users
    return w
