"""Pickup orders: the request and response schemas, and who sees which order (reading only; the steps are in
ledger/collection/orders.py, which re-exports these names)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy import or_
from sqlmodel import Field, Session, SQLModel, select

from ledger import batches, manifests
from ledger.auth import Principal, can_see_unit, unit_scope
from ledger.batches import Batch
from ledger.codes import province_of
from ledger.collection.licences import covering_licences, is_general
from ledger.collection.models import ORDER_STATES, PickupOrder, PickupOrderEvent, PickupOrderLine
from ledger.errors import InvalidInput, LedgerError, NotFound
from ledger.mass import g_to_kg
from ledger.registry.models import Unit
from ledger.validation import (
    Code,
    DbId,
    Input,
    Kg,
    Lat,
    Litres,
    Lon,
    Moment,
    PastTime,
    PlannedDate,
    PositiveKg,
    Seq,
)
from ledger.workdays import today as shanghai_today

# ---- schemas --------------------------------------------------------------------------------------------------

class OrderLineIn(Input):
    waste_code: Code
    name: str | None = Field(default=None, max_length=200, description="the producer's name for it, e.g. 废机油; "
                             "default: the catalogue's")
    form: Literal["固态", "半固态", "液态", "气态"]
    estimated_kg: PositiveKg = Field(description="the producer's estimate")
    planned_method: Code | None = Field(default=None, description="R*/D*/C* at the end receiver; the collector "
                                       "sets it at accept or schedule when the producer does not know")


class OrderCreate(Input):
    unit_id: DbId = Field(description="the producer")
    collector_id: DbId | None = Field(default=None, description="a collector; none: open to the licensed "
                                     "collectors of the province, the first to accept takes it")
    lines: list[OrderLineIn] = Field(min_length=1, max_length=20)
    address: str | None = Field(default=None, max_length=300, description="default: the unit's address")
    contact: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=40)
    window_from: Moment = Field(description="the wished-for window, with its timezone")
    window_to: Moment
    generation_facility_id: DbId | None = Field(default=None, description="the producer's generation point where "
                                               "the waste is weighed; default its only one")
    note: str | None = Field(default=None, max_length=500)


class AcceptIn(Input):
    planned_methods: dict[Seq, Code] = Field(default_factory=dict, max_length=20, description="{line_no: method} for lines "
                                            "without one")
    note: str | None = Field(default=None, max_length=300)


class ScheduleIn(Input):
    pickup_date: PlannedDate
    vehicle_id: DbId
    driver_id: DbId | None = Field(default=None, description="a driver user of the hauler")
    hauler_id: DbId | None = Field(default=None, description="default: the collector (it holds a transport permit)")
    planned_methods: dict[Seq, Code] = Field(default_factory=dict, max_length=20, description="{line_no: method}")


class WeighingIn(Input):
    gross_kg: Kg
    tare_kg: Kg = Decimal(0)
    container_type: str = Field(min_length=1, max_length=40)
    container_count: int = Field(default=1, ge=1, le=1000)
    container_volume_l: Litres | None = None
    components: str | None = Field(default=None, max_length=300)


class WeighLineIn(Input):
    line_no: Seq
    weighings: list[WeighingIn] = Field(default_factory=list, max_length=100,
                                        description="containers weighed and labelled at the door now")
    batch_ids: list[DbId] = Field(default_factory=list, max_length=100,
                                 description="batches the producer already weighed and labelled itself")


class Where(Input):
    lat: Lat | None = None
    lon: Lon | None = None


class WeighIn(Where):
    lines: list[WeighLineIn] = Field(min_length=1)
    scale_id: str = Field(min_length=1, max_length=60, description="the scale used (the collector's portable "
                          "scale, or the producer's)")
    weighed_on: Literal["collector_scale", "producer_scale"] = "collector_scale"
    operator: str | None = Field(default=None, min_length=1, max_length=120, description="who weighed; default "
                                 "the signing user")
    occurred_at: PastTime | None = None


class ConfirmIn(Where):
    username: str | None = Field(default=None, max_length=120, description="on the driver's phone: the producer's own username")
    password: str | None = Field(default=None, max_length=200, description="and its password (checked, nothing is stored)")


class CancelIn(Input):
    reason: str = Field(min_length=2, max_length=300)


class OrderLinePublic(SQLModel):
    line_no: int
    waste_code: str
    name: str
    form: str
    estimated_kg: Decimal
    planned_method: str | None
    batch_ids: list[int]
    weighed_kg: Decimal | None


class OrderEventPublic(SQLModel):
    action: str
    from_status: str | None
    to_status: str | None
    by: str
    acting_unit_id: int | None
    consent_id: int | None
    at: datetime
    lat: float | None
    lon: float | None
    detail: dict


class OrderPublic(SQLModel):
    id: int
    number: str
    status: str
    unit_id: int
    producer_name: str
    collector_id: int | None
    raised_by: Literal["producer", "collector"]
    consent_id: int | None
    address: str
    contact: str | None
    phone: str | None
    window_from: datetime
    window_to: datetime
    note: str | None
    hauler_id: int | None
    vehicle_id: int | None
    driver_id: int | None
    pickup_date: date | None
    weighed_on: str | None
    confirmed_via: str | None
    manifest: dict | None
    cancel_reason: str | None
    created_at: datetime
    lines: list[OrderLinePublic]
    events: list[OrderEventPublic]


class ConfirmationFailed(LedgerError):
    """Wrong producer credentials on the driver's phone; the failure is counted (in its own transaction)."""

    status = 403
    code = "pickup_order.confirmation_failed"
    attempts: list = []  # the login-limit keys a wrong password counts against


# ---- reading -------------------------------------------------------------------------------------------------

def lines_of(session: Session, o: PickupOrder) -> list[PickupOrderLine]:
    return list(session.exec(select(PickupOrderLine).where(PickupOrderLine.order_id == o.id)
                             .order_by(PickupOrderLine.line_no)).all())


def order_public(session: Session, o: PickupOrder) -> OrderPublic:
    m = session.get(manifests.Manifest, o.manifest_id) if o.manifest_id else None
    events = session.exec(select(PickupOrderEvent).where(PickupOrderEvent.order_id == o.id)
                          .order_by(PickupOrderEvent.id)).all()
    return OrderPublic(
        id=o.id, number=o.number, status=o.status, unit_id=o.unit_id, producer_name=session.get(Unit, o.unit_id).name,
        collector_id=o.collector_id, raised_by="producer" if o.raised_by_unit == o.unit_id else "collector",
        consent_id=o.consent_id, address=o.address, contact=o.contact, phone=o.phone, window_from=o.window_from,
        window_to=o.window_to, note=o.note, hauler_id=o.hauler_id, vehicle_id=o.vehicle_id, driver_id=o.driver_id,
        pickup_date=o.pickup_date, weighed_on=o.weighed_on, confirmed_via=o.confirmed_via,
        manifest={"id": m.id, "number": m.number, "status": m.status} if m else None, cancel_reason=o.cancel_reason,
        created_at=o.created_at,
        lines=[OrderLinePublic(line_no=ln.line_no, waste_code=ln.waste_code, name=ln.name, form=ln.form,
                               estimated_kg=g_to_kg(ln.estimated_g), planned_method=ln.planned_method,
                               batch_ids=ln.batch_ids,
                               weighed_kg=g_to_kg(ln.weighed_g) if ln.weighed_g is not None else None)
               for ln in lines_of(session, o)],
        events=[OrderEventPublic(action=e.action, from_status=e.from_status, to_status=e.to_status, by=e.user_name,
                                 acting_unit_id=e.acting_unit_id, consent_id=e.consent_id, at=e.at, lat=e.lat,
                                 lon=e.lon, detail=e.detail) for e in events])


def _collector_of(session: Session, principal: Principal) -> Unit | None:
    unit = session.get(Unit, principal.unit_id) if principal.unit_id else None
    return unit if unit is not None and unit.is_collector else None


def _eligible(session: Session, collector: Unit, o: PickupOrder, codes: list[str], on: date) -> bool:
    """A collector may take an open order: same province, and its collection licence covers every code."""
    producer = session.get(Unit, o.unit_id)
    if province_of(producer.region_code) != province_of(collector.region_code):
        return False
    return all(is_general(c) or covering_licences(session, collector=collector, code=c, on=on) for c in codes)


def can_see_order(session: Session, principal: Principal, o: PickupOrder) -> bool:
    """The producer's scope, the collector and hauler on it, and collectors that may take it while it is open."""
    if can_see_unit(session, principal, session.get(Unit, o.unit_id)):
        return True
    if principal.unit_id is not None and principal.unit_id in (o.collector_id, o.hauler_id):
        return True
    collector = _collector_of(session, principal)
    if collector is not None and o.collector_id is None and o.status == "requested":
        return _eligible(session, collector, o, [ln.waste_code for ln in lines_of(session, o)], shanghai_today())
    return False


def get_order(session: Session, principal: Principal, order_id: int) -> PickupOrder:
    o = session.get(PickupOrder, order_id, populate_existing=True)
    if o is None or not can_see_order(session, principal, o):
        raise NotFound(f"pickup order {order_id} does not exist or is outside your scope",
                       code="pickup_order.not_found")
    return o


def list_orders(session: Session, *, principal: Principal, unit_id: int | None = None, status: str | None = None,
                limit: int = 100, offset: int = 0) -> list[PickupOrder]:
    """Orders the caller may see (newest first): its own, those it collects, and open ones it may take."""
    if status is not None and status not in ORDER_STATES:
        raise InvalidInput(f"status must be one of {', '.join(ORDER_STATES)}", field="status")
    visible = select(Unit.id).where(unit_scope(principal))
    conds = [PickupOrder.unit_id.in_(visible)]
    collector = _collector_of(session, principal)
    if principal.unit_id is not None:
        conds += [PickupOrder.collector_id == principal.unit_id, PickupOrder.hauler_id == principal.unit_id]
    if collector is not None:  # open orders in its province; the licence check is applied below
        conds.append((PickupOrder.collector_id.is_(None)) & (PickupOrder.status == "requested") & PickupOrder.unit_id
                     .in_(select(Unit.id).where(Unit.region_code.startswith(province_of(collector.region_code)))))
    q = select(PickupOrder).where(or_(*conds))
    if unit_id is not None:
        q = q.where(or_(PickupOrder.unit_id == unit_id, PickupOrder.collector_id == unit_id))
    if status:
        q = q.where(PickupOrder.status == status)
    rows = session.exec(q.order_by(PickupOrder.id.desc()).offset(offset).limit(min(limit, 500))).all()
    return [o for o in rows if o.collector_id is not None or o.status != "requested"
            or can_see_order(session, principal, o)]


def _batch_weighed_for_collector(session: Session, principal: Principal, b: Batch) -> bool:
    """The collector sees (and prints the labels of) the batches it weighed at a producer's door while the order
    waits for confirmation; afterwards the manifest makes it a party."""
    if principal.unit_id is None or b.parent_id is not None:
        return False
    rows = session.exec(select(PickupOrderLine.batch_ids).join(PickupOrder, PickupOrder.id == PickupOrderLine.order_id)
                        .where(PickupOrder.unit_id == b.unit_id, PickupOrder.collector_id == principal.unit_id,
                               PickupOrder.status == "weighed")).all()
    return any(b.id in ids for ids in rows)


batches.extra_visibility.append(_batch_weighed_for_collector)
