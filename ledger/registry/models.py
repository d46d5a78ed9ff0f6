"""Registry tables (备案): units, parks, facilities, permits, vehicles, plans, economics, catalogue."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, Column, Numeric, UniqueConstraint
from sqlmodel import Field, SQLModel

from ledger.types import UTCDateTime, utcnow

ROLES = ("generator", "hauler", "receiver", "collector")
TIERS = ("key", "simplified", "registered")  # 重点监管 / 简化管理 / 登记管理
TIER_NAMES = {"key": "重点监管", "simplified": "简化管理", "registered": "登记管理"}
FACILITY_KINDS = ("generation", "storage", "utilisation", "disposal")
STORAGE_TYPES = ("贮存库", "贮存场", "贮存点")
PERMIT_KINDS = ("operating_licence", "transport_permit", "collection_licence")


def _ts() -> datetime:
    return utcnow()


class Unit(SQLModel, table=True):
    """A registered unit (产废/运输/利用处置单位), identified by its 统一社会信用代码."""

    id: int | None = Field(default=None, primary_key=True)
    credit_code: str = Field(max_length=18, unique=True, index=True)
    name: str = Field(max_length=200)
    region_code: str = Field(max_length=6, index=True)
    is_generator: bool = False
    is_hauler: bool = False
    is_receiver: bool = False
    is_collector: bool = False  # 收集单位: collects small producers' waste into collection centres
    industry_code: str | None = Field(default=None, max_length=8)
    address: str | None = Field(default=None, max_length=300)
    contact: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=40)
    lat: float | None = None  # the site's location (WGS 84): distances in the trading hall
    lon: float | None = None
    tier_override: str | None = Field(default=None, max_length=16)
    tier_override_reason: str | None = Field(default=None, max_length=500)
    tier_override_by: int | None = None
    created_at: datetime = Field(default_factory=_ts, sa_type=UTCDateTime)

    @property
    def roles(self) -> list[str]:
        flags = (self.is_generator, self.is_hauler, self.is_receiver, self.is_collector)
        return [r for r, on in zip(ROLES, flags, strict=True) if on]


class Park(SQLModel, table=True):
    """An industrial park (园区) whose units roll up into a 无废园区 application."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=200)
    region_code: str = Field(max_length=6, index=True)
    level: str | None = Field(default=None, max_length=20)
    created_at: datetime = Field(default_factory=_ts, sa_type=UTCDateTime)


class ParkMember(SQLModel, table=True):
    """A unit's membership of a park over a period (until is open-ended when None)."""

    __tablename__ = "park_member"
    id: int | None = Field(default=None, primary_key=True)
    park_id: int = Field(foreign_key="park.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    since: date
    until: date | None = None


class ParkMemberRequest(SQLModel, table=True):
    """A park manager's request that a unit join its park; the unit's admin accepts or rejects it."""

    __tablename__ = "park_member_request"
    id: int | None = Field(default=None, primary_key=True)
    park_id: int = Field(foreign_key="park.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    since: date
    until: date | None = None
    note: str | None = Field(default=None, max_length=300)
    status: str = Field(default="pending", max_length=10)  # pending | accepted | rejected
    requested_by: int | None = None
    requested_at: datetime = Field(default_factory=_ts, sa_type=UTCDateTime)
    decided_by: int | None = None
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    member_id: int | None = Field(default=None, foreign_key="park_member.id")


class Facility(SQLModel, table=True):
    """A generation point, storage place (贮存库/场/点) or utilisation/disposal installation of a unit."""

    __table_args__ = (UniqueConstraint("unit_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    kind: str = Field(max_length=16)
    storage_type: str | None = Field(default=None, max_length=8)
    code: str = Field(max_length=40)
    name: str = Field(max_length=200)
    storage_capacity_g: int | None = Field(default=None, sa_column=Column(BigInteger))
    annual_capacity_g: int | None = Field(default=None, sa_column=Column(BigInteger))
    methods: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    continuous: bool = False  # a generation point whose waste arises continuously (fly ash, slag, piped waste)
    daily_capacity_g: int | None = Field(default=None, sa_column=Column(BigInteger))
    created_at: datetime = Field(default_factory=_ts, sa_type=UTCDateTime)


class Permit(SQLModel, table=True):
    """A receiver's operating licence (经营许可证), a collector's collection licence (收集经营许可证: codes and
    annual capacity, no utilisation/disposal methods) or a hauler's transport permit."""

    __table_args__ = (UniqueConstraint("kind", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    kind: str = Field(max_length=20)
    number: str = Field(max_length=60)
    waste_codes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    methods: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    annual_capacity_g: int | None = Field(default=None, sa_column=Column(BigInteger))
    valid_from: date
    valid_to: date
    created_at: datetime = Field(default_factory=_ts, sa_type=UTCDateTime)


class Vehicle(SQLModel, table=True):
    """A hauler's vehicle, by plate."""

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    plate: str = Field(max_length=16, unique=True)
    vehicle_type: str | None = Field(default=None, max_length=40)
    capacity_g: int | None = Field(default=None, sa_column=Column(BigInteger))
    created_at: datetime = Field(default_factory=_ts, sa_type=UTCDateTime)


class Plan(SQLModel, table=True):
    """A yearly management plan (管理计划) filing; a later version for the same year supersedes it."""

    __table_args__ = (UniqueConstraint("unit_id", "year", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    year: int
    version: int = 1
    filed_at: datetime = Field(default_factory=_ts, sa_type=UTCDateTime)
    filed_by: int | None = None
    note: str | None = Field(default=None, max_length=500)


class PlanItem(SQLModel, table=True):
    """One waste code of a plan: planned quantity, receivers and methods."""

    __tablename__ = "plan_item"
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", index=True)
    waste_code: str = Field(max_length=12)
    planned_g: int = Field(sa_column=Column(BigInteger, nullable=False))
    receiver_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    methods: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class Economics(SQLModel, table=True):
    """A unit's yearly 工业增加值 and 工业总产值, in 万元."""

    __table_args__ = (UniqueConstraint("unit_id", "year"),)
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    year: int
    value_added_10k: Decimal = Field(sa_column=Column(Numeric(16, 2), nullable=False))
    output_value_10k: Decimal = Field(sa_column=Column(Numeric(16, 2), nullable=False))
    updated_at: datetime = Field(default_factory=_ts, sa_type=UTCDateTime)


class WasteCode(SQLModel, table=True):
    """A catalogue entry (国家危险废物名录)."""

    __tablename__ = "waste_code"
    code: str = Field(primary_key=True, max_length=12)
    category: str = Field(max_length=8, index=True)
    category_name: str = Field(max_length=100)
    industry: str | None = Field(default=None, max_length=100)
    description: str = Field(max_length=1000)
    hazard: str = Field(max_length=20)
    edition: str = Field(max_length=10)


class Method(SQLModel, table=True):
    """A utilisation/disposal method code (R*, D*, C*)."""

    code: str = Field(primary_key=True, max_length=8)
    name: str = Field(max_length=100)
    kind: str = Field(max_length=16)
    counts_as_utilisation: bool
