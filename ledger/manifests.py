"""Electronic transfer manifests (电子转移联单): creation, checks, signatures, state machine, ledger effects.

States: draft → submitted → in_transit → (delivered) → received → completed; cancelled before pickup only;
refused → returning → returned. Every transition is `UPDATE … WHERE id = ? AND status = ?`, so of two racing
signatures one wins and the other gets 409; a manifest never skips a state.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint, bindparam, func, or_, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Field, Session, SQLModel, select

from ledger import batches
from ledger.accounts import User
from ledger.auth import Principal, audit, can_see_unit, may, registry_unit, require_unit
from ledger.batches import Batch
from ledger.cache import registry_get
from ledger.codes import city_of, make_manifest_number, province_of
from ledger.counters import next_value
from ledger.errors import Conflict, Forbidden, InvalidInput, NotFound
from ledger.mass import g_to_kg, kg_to_g
from ledger.registry.assets import licence_covers, licences_on, permits_on
from ledger.registry.models import Facility, Method, PlanItem, Unit, Vehicle
from ledger.registry.plans import current_plan_items
from ledger.types import UTCDateTime, utcnow
from ledger.validation import Code, Day, DbId, GpsPoint, Input, Kg, Lat, Lon, PlannedDate, PositiveKg
from ledger.workdays import local_day, local_year, working_day_deadline, year_bounds_utc

RECEIPT_WORKING_DAYS = 5  # 转移管理办法: the receiver confirms within 5 working days of arrival
# A received mass above the shipped mass by more than this (the larger of a share and a mass: two scales differ)
# needs the receiver's explicit confirmation and a reason, and is flagged for the transit-discrepancy alert.
OVER_RECEIPT_TOLERANCE_PCT = Decimal(2)
OVER_RECEIPT_TOLERANCE_G = 5_000
# A received mass above this multiple of the shipped mass cannot be the load that left: it is refused as a typo.
IMPOSSIBLE_RECEIPT_RATIO = Decimal("1.5")
APPROVAL_MAX_DAYS = 366  # a cross-province approval is valid for at most 12 months
OPEN = ("draft", "submitted", "in_transit", "delivered")
STATES = ("draft", "submitted", "in_transit", "delivered", "received", "completed", "cancelled", "refused",
          "returning", "returned")


class TransferApproval(SQLModel, table=True):
    """A cross-province transfer approval (跨省转移审批): codes, quantity cap, parties, validity ≤ 12 months."""

    __tablename__ = "transfer_approval"
    id: int | None = Field(default=None, primary_key=True)
    originator_id: int = Field(foreign_key="unit.id", index=True)
    receiver_id: int = Field(foreign_key="unit.id")
    number: str = Field(max_length=60, unique=True)
    waste_codes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    cap_g: int = Field(sa_column=Column(BigInteger, nullable=False))
    valid_from: date
    valid_to: date
    authority: str | None = Field(default=None, max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Manifest(SQLModel, table=True):
    """One vehicle trip from one originator to one receiver."""

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=14, unique=True)
    status: str = Field(max_length=12, index=True)
    version: int = 1
    hazardous: bool
    originator_id: int = Field(foreign_key="unit.id", index=True)
    hauler_id: int = Field(foreign_key="unit.id", index=True)
    receiver_id: int = Field(foreign_key="unit.id", index=True)
    vehicle_id: int = Field(foreign_key="vehicle.id")
    driver_id: int | None = Field(default=None, foreign_key="app_user.id")
    driver_name: str | None = Field(default=None, max_length=80)
    planned_date: date
    approval_id: int | None = Field(default=None, foreign_key="transfer_approval.id")
    flags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    remarks: str | None = Field(default=None, max_length=500)
    created_by: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    picked_up_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    received_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    receipt_deadline: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)


class ManifestLine(SQLModel, table=True):
    __tablename__ = "manifest_line"
    __table_args__ = (UniqueConstraint("manifest_id", "line_no"), UniqueConstraint("manifest_id", "batch_id"))
    id: int | None = Field(default=None, primary_key=True)
    manifest_id: int = Field(foreign_key="manifest.id", index=True)
    line_no: int
    batch_id: int = Field(foreign_key="batch.id", index=True)
    waste_code: str = Field(max_length=12)
    mass_g: int = Field(sa_column=Column(BigInteger, nullable=False))
    planned_method: str = Field(max_length=8)
    received_g: int | None = Field(default=None, sa_column=Column(BigInteger))
    accepted_g: int | None = Field(default=None, sa_column=Column(BigInteger))
    acceptance: str | None = Field(default=None, max_length=20)
    reason: str | None = Field(default=None, max_length=300)
    holding_id: int | None = Field(default=None, foreign_key="batch.id")
    refused_g: int | None = Field(default=None, sa_column=Column(BigInteger))  # what goes back on the return leg
    returned_g: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    flags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class ManifestEvent(SQLModel, table=True):
    """A signature or other step: who, when, where (optional GPS), and what changed."""

    __tablename__ = "manifest_event"
    id: int | None = Field(default=None, primary_key=True)
    manifest_id: int = Field(foreign_key="manifest.id", index=True)
    action: str = Field(max_length=24)
    from_status: str | None = Field(default=None, max_length=12)
    to_status: str | None = Field(default=None, max_length=12)
    user_id: int | None = None
    user_name: str = Field(max_length=120)
    unit_id: int | None = None
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    lat: float | None = None
    lon: float | None = None
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class TrackPoint(SQLModel, table=True):
    __tablename__ = "track_point"
    id: int | None = Field(default=None, primary_key=True)
    manifest_id: int = Field(foreign_key="manifest.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    lat: float
    lon: float
    speed_kmh: float | None = None


class Revision(SQLModel, table=True):
    """A change after pickup, proposed by one party and applied when every other party approves."""

    id: int | None = Field(default=None, primary_key=True)
    manifest_id: int = Field(foreign_key="manifest.id", index=True)
    status: str = Field(default="pending", max_length=10)
    proposed_by_unit: int
    proposed_by_user: int | None = None
    reason: str = Field(max_length=300)
    changes: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    original: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    approvals: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# ---- schemas -----------------------------------------------------------------------------------------

class LineIn(Input):
    batch_id: DbId
    mass_kg: Kg | None = Field(default=None, description="default: all the batch holds; bulk lines may take part")
    planned_method: Code = Field(description="R*/D*/C* method the receiver will apply")


class ManifestCreate(Input):
    originator_id: DbId
    hauler_id: DbId
    vehicle_id: DbId
    receiver_id: DbId
    driver_id: DbId | None = Field(default=None, description="a driver user of the hauler")
    planned_date: PlannedDate
    approval_id: DbId | None = Field(default=None, description="cross-province approval, required across provinces")
    lines: list[LineIn] = Field(min_length=1, max_length=200)
    remarks: str | None = Field(default=None, max_length=500)


class Where(Input):
    lat: Lat | None = Field(default=None, ge=-90, le=90)
    lon: Lon | None = Field(default=None, ge=-180, le=180)


class PickupIn(Where):
    scanned: list[Code] = Field(min_length=1, max_length=1000, description="digital IDs read from every label loaded")
    released_by: str | None = Field(default=None, min_length=1, max_length=120, description=(
        "the originator's storekeeper who released stored batches at loading (HJ 1259 B.3 出库部门经办人); "
        "default: the person who signed the manifest for the originator"))


class TrackIn(Input):
    points: list[GpsPoint] = Field(min_length=1, max_length=1000, description="[{at, lat, lon, speed_kmh?}]")


class ReceiveLineIn(Input):
    batch_id: DbId
    received_kg: Kg = Field(description="weighed on arrival (a load refused whole may give 0: it goes back "
                            "as shipped)")
    acceptance: Literal["accepted", "partially_refused", "refused"]
    accepted_kg: Kg | None = Field(default=None, description="required when partially_refused")
    reason: str | None = Field(default=None, max_length=300)
    confirm_overweight: bool = Field(default=False, description=(
        "confirms a received mass above the shipped mass by more than the tolerance (2% or 5 kg, the larger); "
        "needs a reason; the line is flagged for the transit-discrepancy alert"))
    facility_id: DbId | None = Field(default=None, description="where this line's load went, if not the receipt's")


class ReceiveIn(Where):
    lines: list[ReceiveLineIn] = Field(min_length=1, max_length=200)
    facility_id: DbId | None = Field(default=None, description=(
        "where the load went: a storage facility of the receiver (接收贮存库: the load is stored at receipt) or "
        "the utilisation/disposal installation it goes straight into; default: the receiver's storage facility "
        "when it has exactly one"))
    operator: str | None = Field(default=None, min_length=1, max_length=120,
                                 description="who weighed and accepted at the gate; default: the signing user")


class CancelIn(Input):
    reason: str = Field(min_length=2, max_length=300)


class RevisionIn(Input):
    reason: str = Field(min_length=2, max_length=300)
    vehicle_id: DbId | None = None
    driver_id: DbId | None = None
    receiver_id: DbId | None = None
    planned_methods: dict[DbId, Code] | None = Field(default=None, max_length=200, description="{batch_id: method}")


class ApprovalCreate(Input):
    number: str = Field(min_length=3, max_length=60)
    receiver_id: DbId
    waste_codes: list[Code] = Field(min_length=1, max_length=500)
    cap_kg: PositiveKg = Field(gt=0)
    valid_from: Day
    valid_to: Day
    authority: str | None = Field(default=None, max_length=120)


# ---- access ------------------------------------------------------------------------------------------

def parties(m: Manifest) -> tuple[int, int, int]:
    return (m.originator_id, m.hauler_id, m.receiver_id)


def can_see_manifest(session: Session, principal: Principal, m: Manifest) -> bool:
    for uid in set(parties(m)):
        unit = registry_unit(session, uid)  # only read: the registry cache's snapshot will do
        if unit is not None and can_see_unit(session, principal, unit):
            return True
    return False


def get_manifest(session: Session, principal: Principal, manifest_id: int) -> Manifest:
    m = session.get(Manifest, manifest_id, populate_existing=True)
    if m is None or not can_see_manifest(session, principal, m):
        raise NotFound(f"manifest {manifest_id} does not exist or is outside your scope", code="manifest.not_found")
    return m


def _sign_as(session: Session, principal: Principal, m: Manifest, unit_id: int, act: str, role_name: str) -> Unit:
    """The signing party (a read-only snapshot), when the principal may sign for it."""
    unit = registry_unit(session, unit_id)
    if principal.is_admin:
        return unit
    if principal.unit_id != unit_id or not may(principal, unit, act):
        raise Forbidden(f"only the {role_name} ({unit.name}) signs this step of manifest {m.number}",
                        code="manifest.wrong_party", details={"unit_id": unit_id})
    return unit


def _batch_on_manifest_visible(session: Session, principal: Principal, b: Batch) -> bool:
    if principal.unit_id is None:
        return False
    q = (select(Manifest.id).join(ManifestLine, ManifestLine.manifest_id == Manifest.id)
         .where(ManifestLine.batch_id.in_([b.id, b.parent_id or b.id, b.root_id or b.id]))
         .where(or_(Manifest.hauler_id == principal.unit_id, Manifest.receiver_id == principal.unit_id,
                    Manifest.originator_id == principal.unit_id)))
    return session.exec(q).first() is not None


batches.extra_visibility.append(_batch_on_manifest_visible)


def _check_processing(session: Session, holding: Batch, method: Method, day: date, principal: Principal) -> dict:
    """A receiver processing a load it received: hazardous waste needs a licence valid that day covering the code and
    the method (as strict as at manifest creation); a method other than the planned one is allowed but flagged on
    the record, the manifest line and the manifest."""
    if holding.parent_id is None:
        return {}
    row = session.exec(select(ManifestLine, Manifest).join(Manifest, Manifest.id == ManifestLine.manifest_id)
                       .where(ManifestLine.holding_id == holding.id)).first()
    if row is None:
        return {}
    ln, m = row
    if holding.hazardous:
        receiver = registry_unit(session, holding.holder_unit_id)
        covering = [p for p in licences_on(session, unit_id=holding.holder_unit_id, on=day)
                    if licence_covers(p, holding.waste_code)]
        if not covering:
            raise _refuse("receiver_licence", f"{receiver.name} holds no licence valid on {day} that covers "
                          f"{holding.waste_code}: it may not utilise or dispose of this load", "method",
                          waste_code=holding.waste_code)
        if not any(method.code in p.methods for p in covering):
            raise _refuse("receiver_method", f"{receiver.name}'s licence for {holding.waste_code} covers "
                          f"{', '.join(sorted({x for p in covering for x in p.methods}))}, not {method.code}",
                          "method", waste_code=holding.waste_code, method=method.code)
    if method.code == ln.planned_method:
        return {}
    ln.flags = sorted({*ln.flags, "method_changed"})
    m.flags = sorted({*m.flags, f"method_changed:{ln.waste_code}"})
    session.add(ln)
    session.add(m)
    _event(session, m, principal, "method_changed", m.status, m.status, holding.holder_unit_id,
           line_no=ln.line_no, planned=ln.planned_method, used=method.code)
    return {"method_differs": {"manifest": m.number, "line_no": ln.line_no, "planned": ln.planned_method,
                               "used": method.code}}


batches.process_checks.append(_check_processing)

# Other modules add fields to the bodies of the records a manifest writes: (session, manifest, kind, holding) ->
# dict. The collection side marks a collector's pass-through `collected: true` so roll-ups count it once.
record_marks: list = []


def _marks(session: Session, m: Manifest, kind: str, holding: Batch) -> dict:
    out: dict = {}
    for fn in record_marks:
        out.update(fn(session, m, kind, holding) or {})
    return out


# ---- checks (each refusal names the rule and the field) -----------------------------------------------

def _refuse(rule: str, message: str, field: str, status: int = 422, **details) -> InvalidInput:
    err = InvalidInput(message, field=field, code=f"manifest.{rule}", details={"rule": rule, **details})
    err.status = status
    return err


def _received_this_year_g(session: Session, receiver_id: int, year: int, exclude: int | None) -> int:
    start, end = year_bounds_utc(year)
    received = session.exec(select(func.coalesce(func.sum(ManifestLine.accepted_g), 0))
                            .join(Manifest, Manifest.id == ManifestLine.manifest_id)
                            .where(Manifest.receiver_id == receiver_id, Manifest.received_at >= start,
                                   Manifest.received_at < end)).one()
    in_flight = session.exec(select(func.coalesce(func.sum(ManifestLine.mass_g), 0))
                             .join(Manifest, Manifest.id == ManifestLine.manifest_id)
                             .where(Manifest.receiver_id == receiver_id, Manifest.status.in_(OPEN[1:]),
                                    Manifest.id != (exclude or 0))).one()
    return int(received) + int(in_flight)


def check_receiver(session: Session, *, receiver: Unit, lines: list[tuple[str, int, str]], on: date,
                   manifest_id: int | None = None) -> None:
    """The receiver holds a valid licence covering each hazardous code and method, with annual capacity left."""
    skip: set[int] = set()
    if receiver.is_collector:  # a collection centre receives on its collection licence
        from ledger.collection.licences import check_collected_lines

        skip = check_collected_lines(session, collector=receiver, lines=lines, on=on, manifest_id=manifest_id)
        if len(skip) == len(lines):
            return
    if not receiver.is_receiver:
        raise _refuse("receiver_not_registered", f"{receiver.name} is not registered as a receiver", "receiver_id")
    licences = licences_on(session, unit_id=receiver.id, on=on)
    need: dict[int, int] = {}
    for i, (code, mass, method) in enumerate(lines):
        if i in skip or code.split("-")[2].startswith("S"):
            continue  # general industrial waste needs no operating licence
        covering = [p for p in licences if licence_covers(p, code)]
        if not covering:
            raise _refuse("receiver_licence", f"{receiver.name} holds no licence valid on {on} that covers {code}",
                          f"lines[{i}].batch_id", waste_code=code)
        with_method = [p for p in covering if method in p.methods]
        if not with_method:
            raise _refuse("receiver_method", f"{receiver.name}'s licence for {code} does not cover method {method}",
                          f"lines[{i}].planned_method", waste_code=code, method=method)
        need[with_method[0].id] = need.get(with_method[0].id, 0) + mass
    by_id = {p.id: p for p in licences}
    for pid, mass in need.items():
        p = by_id[pid]
        if p.annual_capacity_g is None:
            continue
        used = _received_this_year_g(session, receiver.id, on.year, manifest_id)
        if used + mass > p.annual_capacity_g:
            raise _refuse("receiver_capacity", f"licence {p.number} has {g_to_kg(max(p.annual_capacity_g - used, 0))}"
                          f" kg of annual capacity left, less than the {g_to_kg(mass)} kg on this manifest",
                          "lines", licence=p.number)


def check_hauler(session: Session, *, hauler: Unit, vehicle_id: int, on: date) -> Vehicle:
    """The hauler holds a valid transport permit and the vehicle is its own."""
    if not hauler.is_hauler:
        raise _refuse("hauler_not_registered", f"{hauler.name} is not registered as a hauler", "hauler_id")
    if not permits_on(session, unit_id=hauler.id, kind="transport_permit", on=on):
        raise _refuse("hauler_permit", f"{hauler.name} holds no transport permit valid on {on}", "hauler_id")
    vehicle = registry_get(session, Vehicle, vehicle_id)
    if vehicle is None or vehicle.unit_id != hauler.id:
        raise _refuse("vehicle_not_hauler", f"vehicle {vehicle_id} is not a vehicle of {hauler.name}", "vehicle_id")
    return vehicle


def check_approval(session: Session, *, approval_id: int | None, originator: Unit, receiver: Unit,
                   lines: list[tuple[str, int, str]], on: date, manifest_id: int | None = None) -> None:
    """Across provinces: an approval naming these parties, covering every code, valid on the day, within its cap."""
    if province_of(originator.region_code) == province_of(receiver.region_code):
        return
    if approval_id is None:
        raise _refuse("cross_province_approval", "a transfer from province "
                      f"{province_of(originator.region_code)} to {province_of(receiver.region_code)} needs a "
                      "cross-province approval (approval_id)", "approval_id")
    a = session.get(TransferApproval, approval_id)
    if a is None or a.originator_id != originator.id or a.receiver_id != receiver.id:
        raise _refuse("cross_province_approval", f"approval {approval_id} does not name these parties", "approval_id")
    if not (a.valid_from <= on <= a.valid_to):
        raise _refuse("approval_expired", f"approval {a.number} is valid {a.valid_from}–{a.valid_to}, not on {on}",
                      "approval_id")
    for i, (code, _, _) in enumerate(lines):
        if code not in a.waste_codes:
            raise _refuse("approval_codes", f"approval {a.number} does not cover {code}", f"lines[{i}].batch_id")
    used = session.exec(select(func.coalesce(func.sum(ManifestLine.mass_g), 0))
                        .join(Manifest, Manifest.id == ManifestLine.manifest_id)
                        .where(Manifest.approval_id == a.id, Manifest.status.not_in(("cancelled", "draft")),
                               Manifest.id != (manifest_id or 0))).one()
    total = sum(m for _, m, _ in lines)
    if int(used) + total > a.cap_g:
        raise _refuse("approval_cap", f"approval {a.number} allows {g_to_kg(a.cap_g)} kg; {g_to_kg(int(used))} kg "
                      f"already used, {g_to_kg(total)} kg asked", "lines")


def plan_flags(session: Session, *, originator_id: int, receiver_id: int, codes: list[str], year: int) -> list[str]:
    """Codes or receivers outside the originator's plan: allowed, recorded for the alert engine."""
    items: list[PlanItem] = current_plan_items(session, unit_id=originator_id, year=year)
    by_code = {i.waste_code: i for i in items}
    flags = []
    for code in codes:
        item = by_code.get(code)
        if item is None:
            flags.append(f"not_in_plan:{code}")
        elif item.receiver_ids and receiver_id not in item.receiver_ids:
            flags.append(f"receiver_not_in_plan:{code}")
    return sorted(set(flags))


def _methods(session: Session, method: str, field: str) -> Method:
    m = registry_get(session, Method, method.strip().upper())
    if m is None:
        raise _refuse("method_unknown", f"unknown method {method!r}", field)
    return m


def _check_all(session: Session, m: Manifest, lines: list[ManifestLine], on: date) -> None:
    spec = [(ln.waste_code, ln.mass_g, ln.planned_method) for ln in lines]
    originator, receiver, hauler = (registry_unit(session, i) for i in (m.originator_id, m.receiver_id, m.hauler_id))
    check_hauler(session, hauler=hauler, vehicle_id=m.vehicle_id, on=on)
    check_receiver(session, receiver=receiver, lines=spec, on=on, manifest_id=m.id)
    check_approval(session, approval_id=m.approval_id, originator=originator, receiver=receiver, lines=spec, on=on,
                   manifest_id=m.id)


# ---- creation ------------------------------------------------------------------------------------------

# built once (a scan asks it): building a statement costs about as much Python as executing it
_OPEN_MANIFEST_OF = (select(Manifest).join(ManifestLine, ManifestLine.manifest_id == Manifest.id)
                     .where(ManifestLine.batch_id == bindparam("batch_id"), Manifest.status.in_(OPEN),
                            Manifest.id != bindparam("exclude")))


def _open_manifest_of(session: Session, batch_id: int, exclude: int | None = None) -> Manifest | None:
    return session.exec(_OPEN_MANIFEST_OF, params={"batch_id": batch_id, "exclude": exclude or 0}).first()


def create(session: Session, *, principal: Principal, data: ManifestCreate) -> Manifest:
    """The originator drafts a manifest for one vehicle trip; the number is allocated now, without gaps."""
    originator = require_unit(session, principal, data.originator_id, act="operate")
    hauler, receiver = session.get(Unit, data.hauler_id), session.get(Unit, data.receiver_id)
    if hauler is None:
        raise _refuse("hauler_unknown", f"unit {data.hauler_id} does not exist", "hauler_id")
    if receiver is None:
        raise _refuse("receiver_unknown", f"unit {data.receiver_id} does not exist", "receiver_id")
    if data.driver_id is not None:
        driver = session.get(User, data.driver_id)
        if driver is None or driver.unit_id != hauler.id or driver.role not in ("driver", "unit_admin"):
            raise _refuse("driver_not_hauler", f"user {data.driver_id} is not a driver of {hauler.name}", "driver_id")
    lines: list[ManifestLine] = []
    seen: set[int] = set()
    hazardous: set[bool] = set()
    for i, ln in enumerate(data.lines):
        b = session.exec(select(Batch).where(Batch.id == ln.batch_id)).first()
        if b is None or b.holder_unit_id != originator.id:
            raise _refuse("batch_not_held", f"batch {ln.batch_id} is not held by {originator.name}",
                          f"lines[{i}].batch_id")
        if b.id in seen:
            raise _refuse("batch_twice", f"batch {b.id} appears twice", f"lines[{i}].batch_id")
        seen.add(b.id)
        other = _open_manifest_of(session, b.id)
        if other is not None:
            raise _refuse("batch_on_open_manifest", f"batch {b.digital_id} is already on open manifest {other.number}",
                          f"lines[{i}].batch_id", status=409, manifest=other.number)
        mass = kg_to_g(ln.mass_kg, field=f"lines[{i}].mass_kg") if ln.mass_kg is not None else b.remaining_g
        if mass <= 0 or mass > b.remaining_g:
            raise _refuse("batch_mass", f"batch {b.digital_id} holds {g_to_kg(b.remaining_g)} kg; asked "
                          f"{g_to_kg(mass)} kg", f"lines[{i}].mass_kg", available_kg=str(g_to_kg(b.remaining_g)))
        method = _methods(session, ln.planned_method, f"lines[{i}].planned_method")
        hazardous.add(b.hazardous)
        lines.append(ManifestLine(manifest_id=0, line_no=i + 1, batch_id=b.id, waste_code=b.waste_code, mass_g=mass,
                                  planned_method=method.code))
    if len(hazardous) > 1:
        raise _refuse("mixed_kinds", "hazardous and general industrial waste go on separate manifests", "lines")
    spec = [(ln.waste_code, ln.mass_g, ln.planned_method) for ln in lines]
    check_hauler(session, hauler=hauler, vehicle_id=data.vehicle_id, on=data.planned_date)
    check_receiver(session, receiver=receiver, lines=spec, on=data.planned_date)
    check_approval(session, approval_id=data.approval_id, originator=originator, receiver=receiver, lines=spec,
                   on=data.planned_date)
    year = local_year(utcnow())
    serial = next_value(session, f"manifest:{city_of(originator.region_code)}:{year}")
    m = Manifest(number=make_manifest_number(year=year, region_code=originator.region_code, serial=serial),
                 status="draft", hazardous=hazardous.pop(), originator_id=originator.id, hauler_id=hauler.id,
                 receiver_id=receiver.id, vehicle_id=data.vehicle_id, driver_id=data.driver_id,
                 planned_date=data.planned_date, approval_id=data.approval_id, remarks=data.remarks,
                 created_by=principal.user_id or None,
                 flags=plan_flags(session, originator_id=originator.id, receiver_id=receiver.id,
                                  codes=[ln.waste_code for ln in lines], year=data.planned_date.year))
    session.add(m)
    session.flush()
    for ln in lines:
        ln.manifest_id = m.id
        session.add(ln)
    _event(session, m, principal, "create", None, "draft", originator.id)
    audit(session, principal, action="manifest.create", entity="manifest", entity_id=m.id,
          detail={"number": m.number, "flags": m.flags})
    return m


# ---- transitions -----------------------------------------------------------------------------------------

def person_name(session: Session, user_id: int | None, fallback: str) -> str:
    """A user's display name (a person's name on documents and ledger tables), else `fallback`."""
    user = registry_get(session, User, user_id) if user_id else None
    return user.display_name if user is not None else fallback


def _signer_name(session: Session, m: Manifest, action: str) -> str | None:
    """The name of the person who signed `action` on the manifest."""
    e = session.execute(_SIGNER, {"manifest_id": m.id, "action": action}).first()
    return person_name(session, e.user_id, e.user_name) if e is not None else None


# built once (every signature runs them): building a statement costs about as much Python as executing it
_SIGNER = (select(ManifestEvent.user_id, ManifestEvent.user_name)
           .where(ManifestEvent.manifest_id == bindparam("manifest_id"), ManifestEvent.action == bindparam("action"))
           .order_by(ManifestEvent.id.desc()).limit(1))
LINES_OF = select(ManifestLine).where(ManifestLine.manifest_id == bindparam("manifest_id")).order_by(ManifestLine.line_no)


def _event(session: Session, m: Manifest, principal: Principal, action: str, before: str | None, after: str | None,
           unit_id: int | None, where: Where | None = None, **detail) -> None:
    session.add(ManifestEvent(manifest_id=m.id, action=action, from_status=before, to_status=after,
                              user_id=principal.user_id or None, user_name=principal.username, unit_id=unit_id,
                              lat=where.lat if where else None, lon=where.lon if where else None, detail=detail))


def _move(session: Session, m: Manifest, *, expect: tuple[str, ...], to: str, **stamps) -> None:
    """Compare-and-set the status: one of two racing signatures wins, the other gets 409."""
    if m.status not in expect:
        raise Conflict(f"manifest {m.number} is {m.status}; this step needs {' or '.join(expect)}",
                       code="manifest.invalid_transition", details={"status": m.status, "expected": list(expect)})
    values = {"status": to, "version": m.version + 1, **stamps}
    result = session.execute(update(Manifest).where(Manifest.id == m.id, Manifest.status == m.status,
                                                    Manifest.version == m.version).values(**values)
                             .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        session.rollback()
        raise Conflict(f"manifest {m.number} was changed by someone else just now; reload it",
                       code="manifest.concurrent_change")
    for key, value in values.items():  # the row now holds exactly these (no column changes on update by itself)
        set_committed_value(m, key, value)


def _transition(session: Session, principal: Principal, m: Manifest, *, action: str, expect: tuple[str, ...],
                to: str, unit_id: int, where: Where | None = None, detail: dict | None = None, **stamps) -> Manifest:
    """Move the manifest (compare-and-set) and record the signature that moved it."""
    before = m.status
    _move(session, m, expect=expect, to=to, **stamps)
    _event(session, m, principal, action, before, m.status, unit_id, where, **(detail or {}))
    return m


def lines_of(session: Session, m: Manifest) -> list[ManifestLine]:
    return list(session.exec(LINES_OF, params={"manifest_id": m.id}).all())


def submit(session: Session, *, principal: Principal, m: Manifest) -> Manifest:
    """The originator signs: the checks are run again on the day."""
    _sign_as(session, principal, m, m.originator_id, "operate", "originator")
    _check_all(session, m, lines_of(session, m), local_day(utcnow()))
    return _transition(session, principal, m, action="submit", expect=("draft",), to="submitted",
                       unit_id=m.originator_id, submitted_at=utcnow())


def cancel(session: Session, *, principal: Principal, m: Manifest, data: CancelIn) -> Manifest:
    """Cancel before pickup (the originator); after pickup a change is a revision."""
    _sign_as(session, principal, m, m.originator_id, "operate", "originator")
    return _transition(session, principal, m, action="cancel", expect=("draft", "submitted"), to="cancelled",
                       unit_id=m.originator_id, detail={"reason": data.reason}, closed_at=utcnow())


def _lock(session: Session, batch_id: int) -> Batch:
    q = select(Batch).where(Batch.id == batch_id)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    return session.exec(q.execution_options(populate_existing=True)).one()


# A manifest's batches, locked in one statement in id order (so two transactions lock them in the same order).
_BATCHES = select(Batch).where(Batch.id.in_(bindparam("ids", expanding=True))).order_by(Batch.id).execution_options(
    populate_existing=True)
_BATCHES_FOR_UPDATE = _BATCHES.with_for_update()


def _lock_all(session: Session, batch_ids: list[int]) -> dict[int, Batch]:
    q = _BATCHES_FOR_UPDATE if session.get_bind().dialect.name == "postgresql" else _BATCHES
    return {b.id: b for b in session.exec(q, params={"ids": batch_ids})}


def pickup(session: Session, *, principal: Principal, m: Manifest, data: PickupIn) -> Manifest:
    """The hauler signs pickup after scanning every label: a label not on the manifest is refused (标签≠联单不得装车)."""
    _sign_as(session, principal, m, m.hauler_id, "haul", "hauler")
    lines = lines_of(session, m)
    locked = _lock_all(session, [ln.batch_id for ln in lines])
    by_digital = {locked[ln.batch_id].digital_id: ln for ln in lines}
    scanned = [s.strip().upper() for s in data.scanned]
    strangers = [s for s in scanned if s not in by_digital]
    if strangers:
        raise _refuse("label_not_on_manifest", f"label {strangers[0]} is not on manifest {m.number}: do not load it",
                      "scanned", status=409, not_on_manifest=strangers)
    missing = [d for d in by_digital if d not in scanned]
    if missing:
        raise _refuse("label_not_scanned", f"{len(missing)} batch(es) on the manifest were not scanned: "
                      f"{', '.join(missing[:5])}", "scanned", status=409, missing=missing)
    today = local_day(utcnow())
    _check_all(session, m, lines, today)
    before = m.status
    now = utcnow()
    _move(session, m, expect=("submitted",), to="in_transit", picked_up_at=now)
    released_by = data.released_by or _signer_name(session, m, "submit") or principal.username
    carrier = person_name(session, principal.user_id, principal.username)
    for ln in lines:
        b = locked[ln.batch_id]
        loose = batches.state_of(b).loose_g
        if loose < ln.mass_g:  # 出库 at loading: the originator releases what is still in storage
            batches.retrieve(session, principal=principal, batch=b, data=batches.RetrieveIn(
                mass_kg=g_to_kg(ln.mass_g - loose), operator=released_by, purpose="transfer",
                note=f"装车出库 联单 {m.number}"), on_behalf=True,
                extra={"manifest": m.number, "carrier": carrier, "receiver_id": m.receiver_id})
        method = registry_get(session, Method, ln.planned_method)
        kind = "sent_out_for_use" if method.counts_as_utilisation else "sent_out_for_disposal"
        code = batches.record_code(session, unit_id=m.originator_id, kind=kind, day=today, hazardous=b.hazardous)
        batches.record(session, b, kind="shipped", unit_id=m.originator_id, principal=principal,
                       actor_name=released_by, occurred_at=now, mass_g=ln.mass_g, manifest_id=m.id,
                       record_code=code, body={"manifest": m.number, "planned_method": ln.planned_method,
                                               "counts_as_utilisation": method.counts_as_utilisation,
                                               "receiver_id": m.receiver_id, "hauler_id": m.hauler_id,
                                               "shipped_g": ln.mass_g, "line_no": ln.line_no,
                                               "carrier": carrier, **_marks(session, m, "shipped", b)})
    _event(session, m, principal, "pickup", before, m.status, m.hauler_id, data, scanned=scanned)
    return m


def track(session: Session, *, principal: Principal, m: Manifest, data: TrackIn) -> int:
    """Append GPS points while the load is on the road."""
    _sign_as(session, principal, m, m.hauler_id, "haul", "hauler")
    if m.status not in ("in_transit", "returning"):
        raise Conflict(f"manifest {m.number} is {m.status}: the trip has ended (or not begun); GPS points are taken "
                       "on the road only", code="manifest.not_on_the_road", details={"status": m.status})
    n = 0
    for i, p in enumerate(data.points):
        try:
            at = datetime.fromisoformat(str(p["at"]))
            lat, lon = float(p["lat"]), float(p["lon"])
        except (KeyError, ValueError, TypeError) as e:
            raise InvalidInput(f"point {i}: needs at (ISO time with timezone), lat and lon", field=f"points[{i}]") from e
        if at.tzinfo is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise InvalidInput(f"point {i}: give a timezone and valid coordinates", field=f"points[{i}]")
        session.add(TrackPoint(manifest_id=m.id, at=at.astimezone(UTC), lat=lat, lon=lon,
                               speed_kmh=p.get("speed_kmh")))
        n += 1
    session.flush()
    return n


def deliver(session: Session, *, principal: Principal, m: Manifest, data: Where) -> Manifest:
    """Arrival at the receiver (hauler or receiver): the 5-working-day receipt deadline starts now."""
    if principal.unit_id == m.receiver_id:
        _sign_as(session, principal, m, m.receiver_id, "receive", "receiver")
    else:
        _sign_as(session, principal, m, m.hauler_id, "haul", "hauler")
    now = utcnow()
    return _transition(session, principal, m, action="deliver", expect=("in_transit",), to="delivered",
                       unit_id=principal.unit_id, where=data, delivered_at=now,
                       receipt_deadline=working_day_deadline(now, RECEIPT_WORKING_DAYS))


def _receipt_facility(session: Session, m: Manifest, facility_id: int | None, field: str) -> Facility | None:
    """Where a received load goes: a storage facility of the receiver (stored at receipt) or the installation it
    goes straight into. Unnamed: the receiver's one storage facility, or none when it has no storage."""
    if facility_id is None:
        stores = session.exec(select(Facility).where(Facility.unit_id == m.receiver_id, Facility.kind == "storage")
                              .order_by(Facility.id)).all()
        if len(stores) == 1:
            return stores[0]
        if not stores:
            return None
        raise InvalidInput(f"say where the load goes: the receiver has {len(stores)} storage facilities "
                           f"({', '.join(f.code for f in stores)}); give facility_id", field=field,
                           code="manifest.receipt_facility")
    f = session.get(Facility, facility_id)
    if f is None or f.unit_id != m.receiver_id:
        raise InvalidInput(f"facility {facility_id} is not a facility of the receiver", field=field,
                           code="manifest.receipt_facility")
    if f.kind == "generation":
        raise InvalidInput(f"facility {f.code} is a generation point; a received load goes into a storage facility "
                           "or a utilisation/disposal installation", field=field, code="manifest.receipt_facility")
    return f


def _over_tolerance_g(shipped_g: int) -> int:
    return max(OVER_RECEIPT_TOLERANCE_G, int(Decimal(shipped_g) * OVER_RECEIPT_TOLERANCE_PCT / 100))


def _check_receipt_line(i: int, r: ReceiveLineIn, shipped: int) -> tuple[int, int, int, list[str]]:
    """(received, accepted, refused, flags) for one line, or a 422 saying what to fix.

    A load refused whole goes back exactly as it left (the shipped mass), whatever mass was typed; a partial
    refusal sends back what the receiver weighed and did not accept."""
    f = f"lines[{i}]"
    received = kg_to_g(r.received_kg, field=f"{f}.received_kg")
    if received < 0:
        raise InvalidInput("received_kg cannot be negative", field=f"{f}.received_kg")
    if received > shipped * IMPOSSIBLE_RECEIPT_RATIO:
        raise InvalidInput(f"{g_to_kg(received)} kg received cannot be the {g_to_kg(shipped)} kg that was shipped "
                           f"(more than {IMPOSSIBLE_RECEIPT_RATIO}×): check the figure, e.g. its decimal point",
                           field=f"{f}.received_kg", code="manifest.receipt_impossible",
                           details={"shipped_kg": str(g_to_kg(shipped)), "received_kg": str(g_to_kg(received))})
    flags: list[str] = []
    if r.acceptance != "accepted" and not (r.reason or "").strip():
        raise InvalidInput("say why the load is refused (reason)", field=f"{f}.reason")
    if r.acceptance == "refused":
        return received, 0, shipped, flags
    if received == 0:
        raise InvalidInput("received_kg must be more than 0 for a load that is accepted; a load refused whole is "
                           "recorded with acceptance 'refused'", field=f"{f}.received_kg")
    over = received - shipped
    if over > _over_tolerance_g(shipped):
        pct = (Decimal(over) * 100 / shipped).quantize(Decimal("0.1"))
        if not r.confirm_overweight or not (r.reason or "").strip():
            raise InvalidInput(f"{g_to_kg(received)} kg received is {g_to_kg(over)} kg ({pct}%) more than the "
                               f"{g_to_kg(shipped)} kg shipped: weigh again, or confirm the figure with "
                               "confirm_overweight: true and a reason", field=f"{f}.received_kg",
                               code="manifest.receipt_over_shipped",
                               details={"shipped_kg": str(g_to_kg(shipped)), "over_kg": str(g_to_kg(over))})
        flags.append("received_over_shipped")
    if r.acceptance == "accepted":
        return received, received, 0, flags
    if r.accepted_kg is None:
        raise InvalidInput("a partially refused line needs accepted_kg", field=f"{f}.accepted_kg")
    accepted = kg_to_g(r.accepted_kg, field=f"{f}.accepted_kg")
    if not 0 < accepted < received:
        raise InvalidInput("accepted_kg must be more than 0 and less than received_kg", field=f"{f}.accepted_kg")
    if received - accepted > shipped:
        raise InvalidInput(f"the refused part ({g_to_kg(received - accepted)} kg) is more than the "
                           f"{g_to_kg(shipped)} kg that left the originator", field=f"{f}.accepted_kg")
    return received, accepted, received - accepted, flags


def receive(session: Session, *, principal: Principal, m: Manifest, data: ReceiveIn) -> Manifest:
    """The receiver signs: per line the mass weighed, the acceptance and why, and where the load went (stored at
    receipt, like 即入库 at generation). Both masses are kept; the difference is shown and flagged, never absorbed."""
    _sign_as(session, principal, m, m.receiver_id, "receive", "receiver")
    lines = {ln.batch_id: ln for ln in lines_of(session, m)}
    given = {}
    for i, r in enumerate(data.lines):
        if r.batch_id not in lines:
            raise InvalidInput(f"batch {r.batch_id} is not on manifest {m.number}", field=f"lines[{i}].batch_id")
        if r.batch_id in given:
            raise InvalidInput(f"batch {r.batch_id} is given twice", field=f"lines[{i}].batch_id")
        received, accepted, refused, flags = _check_receipt_line(i, r, lines[r.batch_id].mass_g)
        facility = None
        if accepted > 0:
            facility = _receipt_facility(session, m, r.facility_id if r.facility_id is not None else data.facility_id,
                                         f"lines[{i}].facility_id" if r.facility_id is not None else "facility_id")
        given[r.batch_id] = (received, accepted, refused, flags, facility, r)
    missing = [ln.batch_id for ln in lines.values() if ln.batch_id not in given]
    if missing:
        raise InvalidInput(f"every line needs a receipt; missing batches {missing}", field="lines")
    any_accepted = any(g[1] > 0 for g in given.values())
    before = m.status
    now = utcnow()
    stamps = {"received_at": now}
    if m.delivered_at is None:  # nobody signed arrival: the receipt is the arrival, and the deadline runs from it
        stamps.update(delivered_at=now, receipt_deadline=working_day_deadline(now, RECEIPT_WORKING_DAYS))
    _move(session, m, expect=("in_transit", "delivered"), to="received" if any_accepted else "refused", **stamps)
    today = local_day(now)
    operator = data.operator or person_name(session, principal.user_id, principal.username)
    carrier = _signer_name(session, m, "pickup")
    new_flags = list(m.flags)
    for batch_id, (received, accepted, refused, flags, facility, r) in given.items():
        ln = lines[batch_id]
        source = _lock(session, batch_id)
        body = {"manifest": m.number, "line_no": ln.line_no, "shipped_g": ln.mass_g, "received_g": received,
                "accepted_g": accepted, "refused_g": refused, "transit_difference_g": ln.mass_g - received,
                "acceptance": r.acceptance, "reason": r.reason, "originator_id": m.originator_id,
                "hauler_id": m.hauler_id, "planned_method": ln.planned_method, "flags": flags,
                **_marks(session, m, "received", source)}
        code = batches.record_code(session, unit_id=m.receiver_id, kind="received", day=today,
                                   hazardous=source.hazardous)
        stored_at_once = accepted > 0 and facility is not None and facility.kind == "storage"
        # its storage record's code too, before the record takes the chain head: counters before heads, as everywhere
        store_code = batches.record_code(session, unit_id=m.receiver_id, kind="stored", day=today,
                                         hazardous=source.hazardous) if stored_at_once else None
        holding = None
        if accepted > 0:
            holding = batches.split_holding(session, source, receiver_unit_id=m.receiver_id, received_g=received,
                                            facility_id=facility.id if facility else None)
        batches.record(session, holding, kind="received" if accepted else "refused", unit_id=m.receiver_id,
                       principal=principal, actor_name=operator, occurred_at=now, mass_g=accepted,
                       manifest_id=m.id, facility_id=facility.id if facility else None, record_code=code, body=body,
                       source=source)
        if stored_at_once:
            batches.store(session, principal=principal, batch=holding, data=batches.StoreIn(
                facility_id=facility.id, operator=operator, occurred_at=now, note=f"接收入库 联单 {m.number}"),
                extra={"manifest": m.number, "carrier": carrier}, code=store_code)
        ln.received_g, ln.accepted_g, ln.refused_g, ln.acceptance, ln.reason = (
            received, accepted, refused, r.acceptance, r.reason)
        ln.flags = [*ln.flags, *flags]
        ln.holding_id = holding.id if holding else None
        session.add(ln)
        new_flags += [f"{flag}:{ln.waste_code}" for flag in flags]
    if new_flags != list(m.flags):
        m.flags = sorted(set(new_flags))
        session.add(m)
    _event(session, m, principal, "receive", before, m.status, m.receiver_id, data,
           lines={str(k): {"received_g": v[0], "accepted_g": v[1], "refused_g": v[2], "acceptance": v[5].acceptance,
                           "facility_id": v[4].id if v[4] else None, "flags": v[3]}
                  for k, v in given.items()})
    return m


def complete(session: Session, *, principal: Principal, m: Manifest) -> Manifest:
    """The receiver closes the manifest once every accepted line has been utilised or disposed."""
    _sign_as(session, principal, m, m.receiver_id, "receive", "receiver")
    for ln in lines_of(session, m):
        if not ln.accepted_g:
            continue
        holding = session.get(Batch, ln.holding_id, populate_existing=True)
        if holding.remaining_g > 0 or holding.in_transit_g > 0:
            raise Conflict(f"line {ln.line_no} ({ln.waste_code}): {g_to_kg(holding.remaining_g)} kg not yet utilised "
                           "or disposed; record it with use-in-house or dispose-in-house on batch "
                           f"{holding.id}", code="manifest.unprocessed_line",
                           details={"line_no": ln.line_no, "batch_id": holding.id})
    return _transition(session, principal, m, action="complete", expect=("received",), to="completed",
                       unit_id=m.receiver_id, completed_at=utcnow())


def start_return(session: Session, *, principal: Principal, m: Manifest, data: Where) -> Manifest:
    """The hauler takes a fully refused load back: refused → returning."""
    _sign_as(session, principal, m, m.hauler_id, "haul", "hauler")
    return _transition(session, principal, m, action="return", expect=("refused",), to="returning",
                       unit_id=m.hauler_id, where=data)


def confirm_return(session: Session, *, principal: Principal, m: Manifest, data: Where) -> Manifest:
    """The originator takes back what was refused (a whole refused load, or the refused part of lines)."""
    _sign_as(session, principal, m, m.originator_id, "operate", "originator")
    pending = [ln for ln in lines_of(session, m) if (ln.refused_g or 0) > ln.returned_g]
    if not pending:
        raise Conflict(f"nothing refused on manifest {m.number} is waiting to come back",
                       code="manifest.nothing_to_return")
    before = m.status
    if m.status == "refused":
        raise Conflict(f"manifest {m.number} is refused: the hauler signs the return leg (/return) first",
                       code="manifest.invalid_transition", details={"status": m.status, "expected": ["returning"]})
    if m.status == "returning":
        _move(session, m, expect=("returning",), to="returned", closed_at=utcnow())
    elif m.status not in ("received", "completed"):
        raise Conflict(f"manifest {m.number} is {m.status}", code="manifest.invalid_transition")
    now = utcnow()
    for ln in pending:
        b = _lock(session, ln.batch_id)
        back = ln.refused_g - ln.returned_g
        method = session.get(Method, ln.planned_method)
        batches.record(session, b, kind="returned", unit_id=m.originator_id, principal=principal,
                       actor_name=person_name(session, principal.user_id, principal.username), occurred_at=now,
                       mass_g=back, manifest_id=m.id, record_code=b.batch_code,
                       body={"manifest": m.number, "line_no": ln.line_no, "planned_method": ln.planned_method,
                             "counts_as_utilisation": method.counts_as_utilisation, "receiver_id": m.receiver_id,
                             "hauler_id": m.hauler_id, "shipped_g": ln.mass_g, "refused_g": ln.refused_g,
                             "reason": ln.reason, **_marks(session, m, "returned", b)})
        ln.returned_g += back
        session.add(ln)
    _event(session, m, principal, "returned", before, m.status, m.originator_id, data,
           lines=[ln.line_no for ln in pending])
    return m


# ---- revisions after pickup ---------------------------------------------------------------------------------

REVISABLE = ("in_transit", "delivered")


def propose_revision(session: Session, *, principal: Principal, m: Manifest, data: RevisionIn) -> Revision:
    """A party proposes a change after pickup; the other parties approve it, and the original values are kept."""
    if principal.unit_id not in parties(m) and not principal.is_admin:
        raise Forbidden("only a party to the manifest proposes a revision", code="manifest.wrong_party")
    if m.status not in REVISABLE:
        raise Conflict(f"manifest {m.number} is {m.status}: revisions are for loads on the road (before pickup, "
                       "edit by cancelling and drafting anew)", code="manifest.invalid_transition")
    changes, original = {}, {}
    if data.vehicle_id is not None:
        check_hauler(session, hauler=session.get(Unit, m.hauler_id), vehicle_id=data.vehicle_id,
                     on=local_day(utcnow()))
        changes["vehicle_id"], original["vehicle_id"] = data.vehicle_id, m.vehicle_id
    if data.driver_id is not None:
        d = session.get(User, data.driver_id)
        if d is None or d.unit_id != m.hauler_id:
            raise _refuse("driver_not_hauler", f"user {data.driver_id} is not a driver of the hauler", "driver_id")
        changes["driver_id"], original["driver_id"] = data.driver_id, m.driver_id
    lines = lines_of(session, m)
    if data.receiver_id is not None or data.planned_methods:
        methods = {ln.batch_id: ln.planned_method for ln in lines}
        for bid, meth in (data.planned_methods or {}).items():
            if bid not in methods:
                raise InvalidInput(f"batch {bid} is not on the manifest", field="planned_methods")
            methods[bid] = _methods(session, meth, "planned_methods").code
        receiver = session.get(Unit, data.receiver_id or m.receiver_id)
        if receiver is None:
            raise _refuse("receiver_unknown", f"unit {data.receiver_id} does not exist", "receiver_id")
        spec = [(ln.waste_code, ln.mass_g, methods[ln.batch_id]) for ln in lines]
        check_receiver(session, receiver=receiver, lines=spec, on=local_day(utcnow()), manifest_id=m.id)
        check_approval(session, approval_id=m.approval_id, originator=session.get(Unit, m.originator_id),
                       receiver=receiver, lines=spec, on=local_day(utcnow()), manifest_id=m.id)
        if data.receiver_id is not None:
            changes["receiver_id"], original["receiver_id"] = data.receiver_id, m.receiver_id
        if data.planned_methods:
            changes["planned_methods"] = {str(k): methods[k] for k in data.planned_methods}
            original["planned_methods"] = {str(ln.batch_id): ln.planned_method for ln in lines
                                           if ln.batch_id in data.planned_methods}
    if not changes:
        raise InvalidInput("a revision must change something: vehicle_id, driver_id, receiver_id or planned_methods",
                           field="body")
    pending = session.exec(select(Revision).where(Revision.manifest_id == m.id, Revision.status == "pending")).first()
    if pending is not None:
        raise Conflict(f"revision {pending.id} is still awaiting approval", code="manifest.revision_pending")
    rev = Revision(manifest_id=m.id, proposed_by_unit=principal.unit_id or m.originator_id,
                   proposed_by_user=principal.user_id or None, reason=data.reason, changes=changes,
                   original=original, approvals=[principal.unit_id or m.originator_id])
    session.add(rev)
    session.flush()
    _event(session, m, principal, "revision_proposed", m.status, m.status, principal.unit_id, revision=rev.id,
           changes=changes)
    return rev


def decide_revision(session: Session, *, principal: Principal, m: Manifest, revision_id: int, approve: bool
                    ) -> Revision:
    """Another party approves (or rejects) a revision; when all have approved it is applied."""
    rev = session.get(Revision, revision_id)
    if rev is None or rev.manifest_id != m.id:
        raise NotFound(f"revision {revision_id} is not a revision of manifest {m.number}", code="revision.not_found")
    if rev.status != "pending":
        raise Conflict(f"revision {rev.id} is already {rev.status}", code="revision.decided")
    unit_id = principal.unit_id
    if unit_id not in parties(m) or unit_id in rev.approvals:
        raise Forbidden("only another party to the manifest decides on this revision", code="manifest.wrong_party")
    unit = session.get(Unit, unit_id)
    if not (may(principal, unit, "operate") or may(principal, unit, "haul") or may(principal, unit, "receive")):
        raise Forbidden(f"your role '{principal.role}' may not sign for {unit.name}", code="auth.forbidden")
    if not approve:
        rev.status, rev.decided_at = "rejected", utcnow()
        session.add(rev)
        _event(session, m, principal, "revision_rejected", m.status, m.status, unit_id, revision=rev.id)
        return rev
    rev.approvals = [*rev.approvals, unit_id]
    if set(parties(m)) <= set(rev.approvals):
        if m.status not in REVISABLE:
            raise Conflict(f"manifest {m.number} is {m.status}; the revision can no longer apply",
                           code="manifest.invalid_transition")
        for key in ("vehicle_id", "driver_id", "receiver_id"):
            if key in rev.changes:
                setattr(m, key, rev.changes[key])
        for bid, meth in rev.changes.get("planned_methods", {}).items():
            ln = session.exec(select(ManifestLine).where(ManifestLine.manifest_id == m.id,
                                                         ManifestLine.batch_id == int(bid))).one()
            ln.planned_method = meth
            session.add(ln)
        m.version += 1
        session.add(m)
        rev.status, rev.decided_at = "approved", utcnow()
        _event(session, m, principal, "revision_applied", m.status, m.status, unit_id, revision=rev.id,
               changes=rev.changes, original=rev.original)
    else:
        _event(session, m, principal, "revision_approved", m.status, m.status, unit_id, revision=rev.id)
    session.add(rev)
    session.flush()
    return rev


# ---- approvals (registry of cross-province approvals) ------------------------------------------------------

def create_approval(session: Session, *, principal: Principal, unit_id: int, data: ApprovalCreate
                    ) -> TransferApproval:
    """Record a cross-province approval held by the originator (validity at most 12 months)."""
    unit = require_unit(session, principal, unit_id, act="manage")
    if data.valid_to < data.valid_from:
        raise InvalidInput("valid_to is before valid_from", field="valid_to")
    if (data.valid_to - data.valid_from) > timedelta(days=APPROVAL_MAX_DAYS):
        raise InvalidInput("a cross-province approval is valid for at most 12 months", field="valid_to")
    from ledger.registry.catalogue import check_waste_code

    codes = [check_waste_code(session, c, field=f"waste_codes[{i}]") for i, c in enumerate(data.waste_codes)]
    if session.get(Unit, data.receiver_id) is None:
        raise InvalidInput(f"unit {data.receiver_id} does not exist", field="receiver_id")
    if session.exec(select(TransferApproval.id).where(TransferApproval.number == data.number)).first():
        raise Conflict(f"approval {data.number} is already recorded", code="approval.duplicate",
                       details={"field": "number"})
    a = TransferApproval(originator_id=unit.id, receiver_id=data.receiver_id, number=data.number, waste_codes=codes,
                         cap_g=kg_to_g(data.cap_kg, field="cap_kg"), valid_from=data.valid_from,
                         valid_to=data.valid_to, authority=data.authority)
    session.add(a)
    session.flush()
    audit(session, principal, action="approval.create", entity="transfer_approval", entity_id=a.id,
          detail={"number": a.number})
    return a


def list_manifests(session: Session, *, principal: Principal, unit_id: int | None = None, status: str | None = None,
                   limit: int = 100, offset: int = 0) -> list[Manifest]:
    """Manifests visible to the principal, newest first."""
    from ledger.auth import unit_scope

    visible_units = select(Unit.id).where(unit_scope(principal))
    q = select(Manifest).where(or_(Manifest.originator_id.in_(visible_units), Manifest.hauler_id.in_(visible_units),
                                   Manifest.receiver_id.in_(visible_units)))
    if unit_id is not None:
        q = q.where(or_(Manifest.originator_id == unit_id, Manifest.hauler_id == unit_id,
                        Manifest.receiver_id == unit_id))
    if status:
        if status not in STATES:
            raise InvalidInput(f"status must be one of {', '.join(STATES)}", field="status")
        q = q.where(Manifest.status == status)
    return list(session.exec(q.order_by(Manifest.id.desc()).offset(offset).limit(min(limit, 500))).all())


# ---- what other views need to know -------------------------------------------------------------------------

# built once (every trace asks): the holdings of the root (`batches.holdings_of`) in a subquery
_MANIFESTS_OF_ROOT = (select(Manifest, ManifestLine).join(ManifestLine, ManifestLine.manifest_id == Manifest.id)
                      .where(ManifestLine.batch_id.in_(select(Batch.id).where(
                          (Batch.id == bindparam("root_id")) | (Batch.root_id == bindparam("root_id")))))
                      .order_by(Manifest.id))
EVENTS_OF = select(ManifestEvent).where(ManifestEvent.manifest_id == bindparam("manifest_id")).order_by(ManifestEvent.id)


def manifests_for_batch(session: Session, b: Batch) -> list[dict]:
    """Every manifest that carried a holding of this physical batch, for its trace."""
    rows = session.exec(_MANIFESTS_OF_ROOT, params={"root_id": b.root_id or b.id}).all()
    out = []
    for m, ln in rows:
        events = session.exec(EVENTS_OF, params={"manifest_id": m.id}).all()
        out.append({"manifest_id": m.id, "number": m.number, "status": m.status, "party_ids": list(parties(m)),
                    "originator_id": m.originator_id, "hauler_id": m.hauler_id, "receiver_id": m.receiver_id,
                    "line_no": ln.line_no, "shipped_kg": g_to_kg(ln.mass_g), "planned_method": ln.planned_method,
                    "received_kg": g_to_kg(ln.received_g) if ln.received_g is not None else None,
                    "accepted_kg": g_to_kg(ln.accepted_g) if ln.accepted_g is not None else None,
                    "acceptance": ln.acceptance, "reason": ln.reason,
                    "signatures": [{"action": e.action, "by": e.user_name, "unit_id": e.unit_id,
                                    "at": e.at.isoformat(), "lat": e.lat, "lon": e.lon} for e in events]})
    return out


def next_actions_for(session: Session, principal: Principal, b: Batch) -> list[str]:
    """Manifest steps the caller may take with this batch: load it, scan it at pickup, receive it."""
    actions = []
    open_m = _open_manifest_of(session, b.id)
    if open_m is None:
        if principal.unit_id == b.holder_unit_id and b.remaining_g > 0:
            unit = registry_unit(session, b.holder_unit_id)  # only read: the registry cache's snapshot will do
            if may(principal, unit, "operate"):
                actions.append("load_onto_manifest")
        return actions
    if open_m.status == "submitted" and principal.unit_id == open_m.hauler_id:
        if may(principal, registry_unit(session, open_m.hauler_id), "haul"):
            actions.append("pickup_scan")
    if open_m.status in ("in_transit", "delivered") and principal.unit_id == open_m.receiver_id:
        if may(principal, registry_unit(session, open_m.receiver_id), "receive"):
            actions.append("receive")
    return actions
