"""Facilities, permits (licences and transport permits) and vehicles of a unit."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Literal

from sqlalchemy import bindparam
from sqlmodel import Field, Session, SQLModel, select

from ledger.auth import Principal, audit, require_unit
from ledger.cache import cached, snapshot
from ledger.errors import Conflict, InvalidInput
from ledger.mass import g_to_kg, kg_to_g
from ledger.registry.catalogue import check_code_or_category, check_methods
from ledger.registry.models import Facility, Permit, Unit, Vehicle
from ledger.validation import Code, Day, Input, PositiveTonnes

# 省份简称 + 发证机关代号 (letter) + 5 characters (6 for new-energy plates); 挂 for trailers.
PLATE_RE = re.compile(r"^[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-HJ-NP-Z][A-HJ-NP-Z0-9]{4,5}[A-HJ-NP-Z0-9挂学警]$")


class FacilityCreate(Input):
    kind: Literal["generation", "storage", "utilisation", "disposal"]
    code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    storage_type: Literal["贮存库", "贮存场", "贮存点"] | None = Field(
        default=None, description="required for storage facilities")
    storage_capacity_t: PositiveTonnes | None = Field(default=None, description="storage capacity in tonnes")
    annual_capacity_t: PositiveTonnes | None = Field(default=None, description="annual capacity in tonnes")
    methods: list[Code] = Field(default_factory=list, max_length=50,
                                description="method codes for utilisation/disposal")
    continuous: bool = Field(default=False, description="a generation point whose waste arises continuously "
                             "(fly ash, slag, piped waste): accounted as daily or shift totals")
    daily_capacity_t: PositiveTonnes | None = Field(default=None, description="the most a continuous generation "
                                                    "point can produce in a day, tonnes; caps its daily totals")


class FacilityPublic(SQLModel):
    id: int
    unit_id: int
    kind: str
    code: str
    name: str
    storage_type: str | None
    storage_capacity_t: Decimal | None
    annual_capacity_t: Decimal | None
    methods: list[str]
    continuous: bool = False
    daily_capacity_t: Decimal | None = None


class PermitCreate(Input):
    kind: Literal["operating_licence", "transport_permit", "collection_licence"] = Field(description=(
        "operating_licence: a receiver's 经营许可证 (codes, methods, capacity); collection_licence: a collector's "
        "收集经营许可证 (codes and annual capacity; it allows collecting and storing, not utilisation or disposal); "
        "transport_permit: a hauler's permit"))
    number: str = Field(min_length=3, max_length=60)
    waste_codes: list[Code] = Field(default_factory=list, max_length=500,
                                    description="codes (900-249-08) or categories (HW08)")
    methods: list[Code] = Field(default_factory=list, max_length=50)
    annual_capacity_t: PositiveTonnes | None = None
    valid_from: Day
    valid_to: Day


class PermitPublic(SQLModel):
    id: int
    unit_id: int
    kind: str
    number: str
    waste_codes: list[str]
    methods: list[str]
    annual_capacity_t: Decimal | None
    valid_from: date
    valid_to: date


class VehicleCreate(Input):
    plate: str = Field(min_length=7, max_length=10, description="车牌号, e.g. 鲁B12345 or 鲁BD12345")
    vehicle_type: str | None = Field(default=None, max_length=40)
    capacity_t: PositiveTonnes | None = None


class VehiclePublic(SQLModel):
    id: int
    unit_id: int
    plate: str
    vehicle_type: str | None
    capacity_t: Decimal | None


def _t_to_g(value: Decimal | None, field: str) -> int | None:
    return None if value is None else kg_to_g(value * 1000, field=field)


def _g_to_t(g: int | None) -> Decimal | None:
    return None if g is None else g_to_kg(g) / 1000


def facility_public(f: Facility) -> FacilityPublic:
    return FacilityPublic(id=f.id, unit_id=f.unit_id, kind=f.kind, code=f.code, name=f.name,
                          storage_type=f.storage_type, storage_capacity_t=_g_to_t(f.storage_capacity_g),
                          annual_capacity_t=_g_to_t(f.annual_capacity_g), methods=f.methods,
                          continuous=f.continuous, daily_capacity_t=_g_to_t(f.daily_capacity_g))


def permit_public(p: Permit) -> PermitPublic:
    return PermitPublic(id=p.id, unit_id=p.unit_id, kind=p.kind, number=p.number, waste_codes=p.waste_codes,
                        methods=p.methods, annual_capacity_t=_g_to_t(p.annual_capacity_g), valid_from=p.valid_from,
                        valid_to=p.valid_to)


def vehicle_public(v: Vehicle) -> VehiclePublic:
    return VehiclePublic(id=v.id, unit_id=v.unit_id, plate=v.plate, vehicle_type=v.vehicle_type,
                         capacity_t=_g_to_t(v.capacity_g))


def create_facility(session: Session, *, principal: Principal, unit_id: int, data: FacilityCreate) -> Facility:
    """Register a facility of the unit (the unit's own registry data)."""
    unit = require_unit(session, principal, unit_id, act="register")
    if data.kind == "storage" and data.storage_type is None:
        raise InvalidInput("a storage facility needs storage_type 贮存库, 贮存场 or 贮存点", field="storage_type")
    if data.kind != "storage" and data.storage_type is not None:
        raise InvalidInput("storage_type applies to storage facilities only", field="storage_type")
    if data.kind in ("utilisation", "disposal") and not data.methods:
        raise InvalidInput(f"a {data.kind} facility needs its method codes", field="methods")
    if data.kind != "generation" and (data.continuous or data.daily_capacity_t is not None):
        raise InvalidInput("continuous and daily_capacity_t apply to generation points only", field="continuous")
    if data.continuous and data.daily_capacity_t is None:
        raise InvalidInput("a continuous generation point needs its daily_capacity_t (it caps daily totals)",
                           field="daily_capacity_t")
    methods = check_methods(session, data.methods)
    if session.exec(select(Facility.id).where(Facility.unit_id == unit.id, Facility.code == data.code)).first():
        raise Conflict(f"unit {unit.id} already has a facility coded {data.code}", code="facility.duplicate",
                       details={"field": "code"})
    f = Facility(unit_id=unit.id, kind=data.kind, code=data.code, name=data.name, storage_type=data.storage_type,
                 storage_capacity_g=_t_to_g(data.storage_capacity_t, "storage_capacity_t"),
                 annual_capacity_g=_t_to_g(data.annual_capacity_t, "annual_capacity_t"), methods=methods,
                 continuous=data.continuous, daily_capacity_g=_t_to_g(data.daily_capacity_t, "daily_capacity_t"))
    session.add(f)
    session.flush()
    audit(session, principal, action="facility.create", entity="facility", entity_id=f.id,
          detail={"unit_id": unit.id, "code": data.code, "kind": data.kind})
    return f


def list_facilities(session: Session, *, principal: Principal, unit_id: int) -> list[Facility]:
    unit = require_unit(session, principal, unit_id)
    return list(session.exec(select(Facility).where(Facility.unit_id == unit.id).order_by(Facility.id)).all())


def create_permit(session: Session, *, principal: Principal, unit_id: int, data: PermitCreate) -> Permit:
    """Record a receiver licence or a hauler transport permit, after checking codes, methods and validity.

    Permits are issued by the authority, so they are recorded by a regulator of the unit's region (or an admin),
    never by the unit itself: a unit cannot widen its own licence.
    """
    unit: Unit = require_unit(session, principal, unit_id, act="certify")
    if data.valid_to < data.valid_from:
        raise InvalidInput(f"valid_to ({data.valid_to}) is before valid_from ({data.valid_from})", field="valid_to",
                           code="permit.invalid_validity")
    if data.kind == "operating_licence":
        if not unit.is_receiver:
            raise InvalidInput("an operating licence belongs to a receiver; register the unit with role receiver",
                               field="kind")
        if not data.waste_codes:
            raise InvalidInput("a licence must list the codes or categories it covers", field="waste_codes")
        if not data.methods:
            raise InvalidInput("a licence must list the methods it covers", field="methods")
    elif data.kind == "collection_licence":
        if not unit.is_collector:
            raise InvalidInput("a collection licence belongs to a collector; register the unit with role collector",
                               field="kind")
        if not data.waste_codes:
            raise InvalidInput("a collection licence must list the codes or categories it covers",
                               field="waste_codes")
        if data.methods:
            raise InvalidInput("a collection licence covers collecting and storing only: leave methods empty (the "
                               "end receiver's licence covers the method)", field="methods")
    elif not unit.is_hauler:
        raise InvalidInput("a transport permit belongs to a hauler; register the unit with role hauler", field="kind")
    codes = [check_code_or_category(session, c, field=f"waste_codes[{i}]") for i, c in enumerate(data.waste_codes)]
    methods = check_methods(session, data.methods)
    existing = session.exec(select(Permit).where(Permit.kind == data.kind, Permit.number == data.number)).first()
    if existing is not None:
        raise Conflict(f"{data.kind} {data.number} is already registered", code="permit.duplicate",
                       details={"field": "number"})
    p = Permit(unit_id=unit.id, kind=data.kind, number=data.number, waste_codes=codes, methods=methods,
               annual_capacity_g=_t_to_g(data.annual_capacity_t, "annual_capacity_t"), valid_from=data.valid_from,
               valid_to=data.valid_to)
    session.add(p)
    session.flush()
    audit(session, principal, action="permit.create", entity="permit", entity_id=p.id,
          detail={"unit_id": unit.id, "kind": data.kind, "number": data.number})
    return p


def list_permits(session: Session, *, principal: Principal, unit_id: int) -> list[Permit]:
    unit = require_unit(session, principal, unit_id)
    return list(session.exec(select(Permit).where(Permit.unit_id == unit.id).order_by(Permit.id)).all())


def normalize_plate(plate: str, *, field: str = "plate") -> str:
    """A Chinese licence plate, upper-cased, without spaces or separators."""
    p = re.sub(r"[\s·\-]", "", plate).upper()
    if not PLATE_RE.match(p):
        raise InvalidInput(f"{plate!r} is not a licence plate: expected a province character, a letter and 5 or 6 "
                           "characters, e.g. 鲁B12345 or 鲁BD12345", field=field)
    return p


def create_vehicle(session: Session, *, principal: Principal, unit_id: int, data: VehicleCreate) -> Vehicle:
    """Register a vehicle of a hauler."""
    unit = require_unit(session, principal, unit_id, act="register")
    if not unit.is_hauler:
        raise InvalidInput("vehicles belong to haulers; register the unit with role hauler", field="unit_id")
    plate = normalize_plate(data.plate)
    other = session.exec(select(Vehicle).where(Vehicle.plate == plate)).first()
    if other is not None:
        raise Conflict(f"vehicle {plate} is already registered to unit {other.unit_id}", code="vehicle.duplicate",
                       details={"field": "plate"})
    v = Vehicle(unit_id=unit.id, plate=plate, vehicle_type=data.vehicle_type,
                capacity_g=_t_to_g(data.capacity_t, "capacity_t"))
    session.add(v)
    session.flush()
    audit(session, principal, action="vehicle.create", entity="vehicle", entity_id=v.id, detail={"plate": plate})
    return v


def list_vehicles(session: Session, *, principal: Principal, unit_id: int) -> list[Vehicle]:
    unit = require_unit(session, principal, unit_id)
    return list(session.exec(select(Vehicle).where(Vehicle.unit_id == unit.id).order_by(Vehicle.id)).all())




def licence_covers(p: Permit, code: str) -> bool:
    """True when an operating licence lists the waste code or its HW category."""
    return code in p.waste_codes or ("HW" + code[-2:]) in p.waste_codes


# the unit's permits of a kind valid on a day, built once: every manifest signature checks licences and permits
_PERMITS_ON = (select(Permit).where(Permit.unit_id == bindparam("unit_id"), Permit.kind == bindparam("kind"),
                                    Permit.valid_from <= bindparam("on"), Permit.valid_to >= bindparam("on"))
               .order_by(Permit.id))


def permits_on(session: Session, *, unit_id: int, kind: str, on: date) -> list[Permit]:
    """The unit's permits of `kind` valid on a day, as read-only snapshots from the registry cache (a new, changed
    or deleted permit invalidates it). The list is the caller's own."""
    def load() -> list[Permit]:
        return [snapshot(p) for p in session.exec(_PERMITS_ON, params={"unit_id": unit_id, "kind": kind, "on": on})]

    return list(cached(session, ("permits_on", unit_id, kind, on), load))


def licences_on(session: Session, *, unit_id: int, on: date) -> list[Permit]:
    """The unit's operating licences valid on a day."""
    return permits_on(session, unit_id=unit_id, kind="operating_licence", on=on)


def collection_licences_on(session: Session, *, unit_id: int, on: date) -> list[Permit]:
    """The unit's collection licences (收集经营许可证) valid on a day."""
    return permits_on(session, unit_id=unit_id, kind="collection_licence", on=on)
