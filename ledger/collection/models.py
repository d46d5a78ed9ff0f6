"""Tables of the collection side: consents, pickup orders and their lines and events, lot sources."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from ledger.types import UTCDateTime, utcnow

ORDER_STATES = ("requested", "accepted", "scheduled", "weighed", "confirmed", "cancelled")


class Consent(SQLModel, table=True):
    """A small producer (unit_id) lets a collector file for it: raise pickup orders, weigh and label at its door.
    Revocable; who granted and who revoked, and when, are kept. At most one live consent per pair."""

    __tablename__ = "consent"
    __table_args__ = (
        Index("uq_consent_live", "unit_id", "collector_id", unique=True,
              sqlite_where=text("revoked_at IS NULL"), postgresql_where=text("revoked_at IS NULL")),
    )
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)  # the producer who consents
    collector_id: int = Field(foreign_key="unit.id", index=True)
    waste_codes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # [] = any code
    valid_from: date
    valid_to: date | None = None
    note: str | None = Field(default=None, max_length=300)
    granted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    granted_by: int | None = None
    granted_by_name: str = Field(max_length=120)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_by: int | None = None
    revoked_by_name: str | None = Field(default=None, max_length=120)
    revoke_reason: str | None = Field(default=None, max_length=300)


class PickupOrder(SQLModel, table=True):
    """A small producer's request to have waste taken (美团式 一键下单), and its way to a manifest."""

    __tablename__ = "pickup_order"
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=20, unique=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)  # the producer
    collector_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    open_to_all: bool = False  # raised without a collector: the first licensed collector to accept takes it
    status: str = Field(max_length=12, index=True)
    version: int = 1
    raised_by_unit: int
    raised_by_user: int | None = None
    consent_id: int | None = Field(default=None, foreign_key="consent.id")
    address: str = Field(max_length=300)
    contact: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=40)
    window_from: datetime = Field(sa_type=UTCDateTime)
    window_to: datetime = Field(sa_type=UTCDateTime)
    note: str | None = Field(default=None, max_length=500)
    generation_facility_id: int | None = Field(default=None, foreign_key="facility.id")
    hauler_id: int | None = Field(default=None, foreign_key="unit.id")
    vehicle_id: int | None = Field(default=None, foreign_key="vehicle.id")
    driver_id: int | None = Field(default=None, foreign_key="app_user.id")
    pickup_date: date | None = None
    weighed_on: str | None = Field(default=None, max_length=16)  # collector_scale | producer_scale | labelled
    confirmed_by: int | None = None
    confirmed_via: str | None = Field(default=None, max_length=16)  # own_login | driver_phone
    confirm_failures: int = 0
    manifest_id: int | None = Field(default=None, foreign_key="manifest.id")
    cancel_reason: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    scheduled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    weighed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PickupOrderLine(SQLModel, table=True):
    """One waste code of an order: the producer's estimate, then what was weighed (the batches) at the door."""

    __tablename__ = "pickup_order_line"
    __table_args__ = (UniqueConstraint("order_id", "line_no"),)
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="pickup_order.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")  # the producer
    line_no: int
    waste_code: str = Field(max_length=12)
    name: str = Field(max_length=200)
    form: str = Field(max_length=8)
    estimated_g: int = Field(sa_column=Column(BigInteger, nullable=False))
    planned_method: str | None = Field(default=None, max_length=8)
    batch_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    weighed_g: int | None = Field(default=None, sa_column=Column(BigInteger))


class PickupOrderEvent(SQLModel, table=True):
    """A step of an order: who (the user, the unit it acted for), when, where, and what changed."""

    __tablename__ = "pickup_order_event"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="pickup_order.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")  # the producer (the order's owner)
    action: str = Field(max_length=24)
    from_status: str | None = Field(default=None, max_length=12)
    to_status: str | None = Field(default=None, max_length=12)
    user_id: int | None = None
    user_name: str = Field(max_length=120)
    acting_unit_id: int | None = None  # whose act: the producer's or the collector's
    consent_id: int | None = None
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    lat: float | None = None
    lon: float | None = None
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class LotSource(SQLModel, table=True):
    """One collected holding poured into a collection-centre lot: which producer's batch, how much, which record.
    The journal's `combined` records are the truth; this table is their index for traces and roll-ups."""

    __tablename__ = "lot_source"
    __table_args__ = (UniqueConstraint("lot_id", "source_id"),)
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)  # the collector
    lot_id: int = Field(foreign_key="batch.id", index=True)
    source_id: int = Field(foreign_key="batch.id", index=True)  # the collector's holding that went in
    root_id: int = Field(foreign_key="batch.id", index=True)  # the producer's batch it came from
    producer_id: int = Field(foreign_key="unit.id", index=True)
    mass_g: int = Field(sa_column=Column(BigInteger, nullable=False))
    record_id: int = Field(sa_column=Column(BigInteger, nullable=False))
