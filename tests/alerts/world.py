"""A small world for alert tests, built through the ledger's own services at fixed times (`clock_at`).

`build()` returns ids; each helper writes what one situation needs, committing as a request would (so the
event-time rules run at commit, exactly as they do behind the API)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text
from sqlmodel import Session

from ledger import batches, manifests
from ledger.auth import SYSTEM
from ledger.batches import Batch
from ledger.registry import assets, plans, units
from ledger.types import clock_at
from ledger.workdays import SHANGHAI
from tests.conftest import credit

NOW = datetime(2025, 11, 20, 10, 0, tzinfo=SHANGHAI).astimezone(UTC)  # a Thursday
D = Decimal


def at(days_ago: float, *, now: datetime = NOW) -> datetime:
    return now - timedelta(days=days_ago)


def unit(s: Session, *, name: str, region: str = "370112", roles=("generator",)) -> int:
    u = units.create_unit(s, principal=SYSTEM, data=units.UnitCreate(
        credit_code=credit(), name=name, region_code=region, roles=list(roles)))
    s.flush()
    return u.id


def facility(s: Session, unit_id: int, **kw) -> int:
    return assets.create_facility(s, principal=SYSTEM, unit_id=unit_id, data=assets.FacilityCreate(**kw)).id


def plan(s: Session, unit_id: int, year: int, items: dict[str, str]) -> None:
    plans.file_plan(s, principal=SYSTEM, unit_id=unit_id, data=plans.PlanCreate(year=year, items=[
        plans.PlanItemIn(waste_code=c, planned_kg=D(kg)) for c, kg in items.items()]))


def weigh(s: Session, unit_id: int, gen: int, *, when: datetime, kg: str, code: str = "900-249-08",
          store: int | None = None, entered: datetime | None = None) -> Batch:
    """One weighing at `when`, entered at `entered` (default: two minutes later), committed."""
    with clock_at(entered or when + timedelta(minutes=2)):
        b = batches.generate(s, principal=SYSTEM, data=batches.BatchCreate(
            unit_id=unit_id, waste_code=code, name="废物", form="固态", facility_id=gen, container_type="桶",
            gross_kg=D(kg), scale_id="S1", operator="王工", occurred_at=when, store_facility_id=store))
        s.commit()
    return b


def transport(s: Session, *, region: str = "370112") -> tuple[int, int]:
    hauler = unit(s, name="安运物流", region=region, roles=("hauler",))
    assets.create_permit(s, principal=SYSTEM, unit_id=hauler, data=assets.PermitCreate(
        kind="transport_permit", number=f"鲁交运{hauler:05d}", valid_from=date(2020, 1, 1), valid_to=date(2030, 1, 1)))
    v = assets.create_vehicle(s, principal=SYSTEM, unit_id=hauler,
                              data=assets.VehicleCreate(plate=f"鲁A{hauler:05d}"))
    return hauler, v.id


def receiver(s: Session, *, region: str = "370305", codes=("HW08", "HW49"), methods=("R9", "R2"),
             capacity_t: str | None = "1000", valid_to: date = date(2030, 12, 31)) -> int:
    r = unit(s, name="绿源环保", region=region, roles=("receiver",))
    assets.create_permit(s, principal=SYSTEM, unit_id=r, data=assets.PermitCreate(
        kind="operating_licence", number=f"鲁危证{r:05d}", waste_codes=list(codes), methods=list(methods),
        annual_capacity_t=D(capacity_t) if capacity_t else None, valid_from=date(2020, 1, 1), valid_to=valid_to))
    return r


def ship(s: Session, *, origin: int, hauler: int, vehicle: int, receiver_id: int, items: list[Batch], when: datetime,
         until: str = "received", received: dict[int, str] | None = None, refuse: bool = False,
         method: str = "R9") -> manifests.Manifest:
    """A manifest picked up at `when`, driven through its states up to `until` (each step committed)."""
    def step(offset_h: float, fn) -> None:  # noqa: ANN001
        with clock_at(when + timedelta(hours=offset_h)):
            fn()
            s.commit()

    box: dict = {}
    step(-1, lambda: box.update(m=manifests.create(s, principal=SYSTEM, data=manifests.ManifestCreate(
        originator_id=origin, hauler_id=hauler, vehicle_id=vehicle, receiver_id=receiver_id,
        planned_date=when.astimezone(SHANGHAI).date(),
        lines=[manifests.LineIn(batch_id=b.id, planned_method=method) for b in items]))))
    m = box["m"]
    step(-0.5, lambda: manifests.submit(s, principal=SYSTEM, m=m))
    if until == "submitted":
        return m
    step(0, lambda: manifests.pickup(s, principal=SYSTEM, m=m, data=manifests.PickupIn(
        scanned=[b.digital_id for b in items])))
    if until == "in_transit":
        return m
    step(3, lambda: manifests.deliver(s, principal=SYSTEM, m=m, data=manifests.Where()))
    if until == "delivered":
        return m
    lines = manifests.lines_of(s, m)
    receipts = [manifests.ReceiveLineIn(
        batch_id=ln.batch_id, received_kg=D((received or {}).get(ln.batch_id, str(D(ln.mass_g) / 1000))),
        acceptance="refused" if refuse else "accepted", reason="包装破损" if refuse else None) for ln in lines]
    step(4, lambda: manifests.receive(s, principal=SYSTEM, m=m, data=manifests.ReceiveIn(lines=receipts)))
    return m


def sql(s: Session, statement: str, **params) -> None:
    s.execute(text(statement), params)
    s.commit()
