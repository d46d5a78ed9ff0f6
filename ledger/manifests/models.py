"""The manifest's tables (manifest, lines, signature events, GPS points, revisions, cross-province approvals),
its states and limits, and the request bodies of its steps."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from ledger.types import UTCDateTime, utcnow
from ledger.validation import Code, Day, DbId, GpsPoint, Input, Kg, Lat, Lon, PlannedDate, PositiveKg

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
