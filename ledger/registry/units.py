"""Units (备案), parks and membership, and the management tier."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import field_validator
from sqlmodel import Field, Session, SQLModel, select

from ledger.auth import (
    Principal,
    audit,
    check_region_in_jurisdiction,
    require_park,
    require_role,
    require_unit,
    unit_scope,
)
from ledger.codes import normalize_credit_code, normalize_region_code
from ledger.errors import Conflict, InvalidInput
from ledger.registry.membership import check_no_overlap
from ledger.registry.models import TIER_NAMES, TIERS, Park, ParkMember, Unit
from ledger.registry.tiers import derived_tier
from ledger.validation import Day, DbId, Input, Lat, Lon, Phone
from ledger.workdays import today as shanghai_today

INDUSTRY_RE = re.compile(r"^[A-T](\d{2}|\d{3}|\d{4})?$")


class UnitCreate(Input):
    credit_code: str = Field(max_length=40, description="统一社会信用代码, 18 characters with its GB 32100 check character")
    name: str = Field(min_length=2, max_length=200)
    region_code: str = Field(max_length=20, description="6-digit 行政区划代码 of the site")
    roles: list[Literal["generator", "hauler", "receiver", "collector"]] = Field(
        min_length=1, description="collector: a 收集单位 that collects small producers' waste into its collection "
        "centres on a collection licence (收集经营许可证)")
    industry_code: str | None = Field(default=None, max_length=8, description="GB/T 4754 industry code, e.g. C2614")
    address: str | None = Field(default=None, max_length=300)
    contact: str | None = Field(default=None, max_length=100)
    phone: Phone | None = None
    lat: Lat | None = Field(default=None, description="site latitude (WGS 84)")
    lon: Lon | None = Field(default=None, description="site longitude (WGS 84)")

    @field_validator("industry_code")
    @classmethod
    def _industry(cls, v: str | None) -> str | None:
        if v is not None and not INDUSTRY_RE.match(v.strip().upper()):
            raise ValueError("expected a GB/T 4754 code: a section letter A–T and 2–4 digits, e.g. C2614")
        return v.strip().upper() if v else v


class UnitPublic(SQLModel):
    id: int
    credit_code: str
    name: str
    region_code: str
    roles: list[str]
    industry_code: str | None
    address: str | None
    contact: str | None
    phone: str | None
    lat: float | None = None
    lon: float | None = None
    tier: str
    tier_name: str
    tier_source: Literal["derived", "override"]
    created_at: datetime


class TierOverride(Input):
    tier: Literal["key", "simplified", "registered"] | None = Field(
        description="重点 key / 简化 simplified / 登记 registered; null removes the override")
    reason: str = Field(min_length=4, max_length=500)


class ParkCreate(Input):
    code: str = Field(min_length=2, max_length=40)
    name: str = Field(min_length=2, max_length=200)
    region_code: str = Field(max_length=20)
    level: str | None = Field(default=None, max_length=20, description="国家级 / 省级 / …")


class ParkPublic(SQLModel):
    id: int
    code: str
    name: str
    region_code: str
    level: str | None
    unit_ids: list[int]


class MemberCreate(Input):
    unit_id: DbId
    since: Day
    until: Day | None = None


def unit_public(session: Session, unit: Unit) -> UnitPublic:
    """The public view of a unit, with its tier."""
    derived = derived_tier(session, unit=unit)
    tier = unit.tier_override or derived
    return UnitPublic(
        id=unit.id, credit_code=unit.credit_code, name=unit.name, region_code=unit.region_code, roles=unit.roles,
        industry_code=unit.industry_code, address=unit.address, contact=unit.contact, phone=unit.phone, tier=tier,
        lat=unit.lat, lon=unit.lon,
        tier_name=TIER_NAMES[tier], tier_source="override" if unit.tier_override else "derived",
        created_at=unit.created_at,
    )


def create_unit(session: Session, *, principal: Principal, data: UnitCreate) -> Unit:
    """Register a unit after the checks a provincial platform makes."""
    require_role(principal, "regulator")
    credit = normalize_credit_code(data.credit_code)
    region = normalize_region_code(data.region_code)
    check_region_in_jurisdiction(principal, region)
    if session.exec(select(Unit.id).where(Unit.credit_code == credit)).first() is not None:
        raise Conflict(f"a unit with credit code {credit} is already registered", code="unit.duplicate",
                       details={"field": "credit_code"})
    unit = Unit(credit_code=credit, name=data.name.strip(), region_code=region,
                is_generator="generator" in data.roles, is_hauler="hauler" in data.roles,
                is_receiver="receiver" in data.roles, is_collector="collector" in data.roles,
                industry_code=data.industry_code, address=data.address, contact=data.contact, phone=data.phone,
                lat=data.lat, lon=data.lon)
    session.add(unit)
    session.flush()
    audit(session, principal, action="unit.create", entity="unit", entity_id=unit.id,
          detail={"credit_code": credit, "region_code": region})
    return unit


def list_units(session: Session, *, principal: Principal, region: str | None = None, role: str | None = None,
               park_id: int | None = None, limit: int = 100, offset: int = 0) -> list[Unit]:
    """Units visible to the principal, optionally filtered."""
    q = select(Unit).where(unit_scope(principal))
    if region:
        q = q.where(Unit.region_code.startswith(region))
    if role in ("generator", "hauler", "receiver", "collector"):
        q = q.where(getattr(Unit, f"is_{role}").is_(True))
    if park_id is not None:
        q = q.where(Unit.id.in_(select(ParkMember.unit_id).where(ParkMember.park_id == park_id)))
    return list(session.exec(q.order_by(Unit.id).offset(offset).limit(min(limit, 500))).all())


def override_tier(session: Session, *, principal: Principal, unit_id: int, data: TierOverride) -> Unit:
    """A regulator sets (or clears) the unit's management tier."""
    unit = require_unit(session, principal, unit_id, act="supervise")
    if data.tier is not None and data.tier not in TIERS:
        raise InvalidInput(f"tier must be one of {', '.join(TIERS)}", field="tier")
    before = unit.tier_override
    unit.tier_override, unit.tier_override_reason, unit.tier_override_by = data.tier, data.reason, principal.user_id
    session.add(unit)
    session.flush()
    audit(session, principal, action="unit.tier_override", entity="unit", entity_id=unit.id,
          detail={"from": before, "to": data.tier, "reason": data.reason})
    return unit


def create_park(session: Session, *, principal: Principal, data: ParkCreate) -> Park:
    """Register a park (admins, or a regulator whose jurisdiction covers it)."""
    require_role(principal, "regulator")
    region = normalize_region_code(data.region_code)
    check_region_in_jurisdiction(principal, region)
    if session.exec(select(Park.id).where(Park.code == data.code)).first() is not None:
        raise Conflict(f"a park with code {data.code} exists", code="park.duplicate", details={"field": "code"})
    park = Park(code=data.code, name=data.name, region_code=region, level=data.level)
    session.add(park)
    session.flush()
    audit(session, principal, action="park.create", entity="park", entity_id=park.id, detail={"code": data.code})
    return park


def park_public(session: Session, park: Park) -> ParkPublic:
    """The park with its current member units."""
    today = shanghai_today()
    ids = session.exec(
        select(ParkMember.unit_id).where(ParkMember.park_id == park.id, ParkMember.since <= today)
        .where((ParkMember.until.is_(None)) | (ParkMember.until >= today)).order_by(ParkMember.unit_id)
    ).all()
    return ParkPublic(id=park.id, code=park.code, name=park.name, region_code=park.region_code, level=park.level,
                      unit_ids=list(ids))


def list_parks(session: Session, *, principal: Principal) -> list[Park]:
    """Parks visible to the principal."""
    q = select(Park)
    if principal.role == "regulator":
        q = q.where(Park.region_code.startswith(principal.region_prefix or "~"))
    elif principal.role == "park_manager":
        q = q.where(Park.id == principal.park_id)
    elif not principal.is_admin:
        q = q.where(Park.id.in_(select(ParkMember.park_id).where(ParkMember.unit_id == principal.unit_id)))
    return list(session.exec(q.order_by(Park.id)).all())


def add_member(session: Session, *, principal: Principal, park_id: int, data: MemberCreate) -> ParkMember:
    """Record a unit's membership of a park from a date (a regulator of the park's region, or an admin).

    A park manager cannot: it asks the unit instead (`ledger.registry.membership`). A unit belongs to at most one
    park at a time; recording the same membership again returns it (idempotent).
    """
    park = require_park(session, principal, park_id, act="supervise")
    unit = require_unit(session, principal, data.unit_id, act="read")
    existing = check_no_overlap(session, park_id=park.id, unit_id=unit.id, since=data.since, until=data.until)
    if existing is not None:
        return existing
    member = ParkMember(park_id=park.id, unit_id=unit.id, since=data.since, until=data.until)
    session.add(member)
    session.flush()
    audit(session, principal, action="park.add_member", entity="park", entity_id=park.id,
          detail={"unit_id": unit.id, "since": data.since.isoformat()})
    return member
