"""The batch table (one unit's holding of one weighed batch) and the limits of a weighing."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import JSON, BigInteger, Column, Index, text
from sqlmodel import Field, SQLModel

from ledger.types import UTCDateTime, utcnow

FUTURE_TOLERANCE = timedelta(minutes=5)  # scale clocks drift; beyond this a weighing "in the future" is refused
LATE_ENTRY = timedelta(hours=24)  # entered more than a day after weighing: allowed, flagged
FORMS = ("固态", "半固态", "液态", "气态")
PERIODS = ("container", "day", "shift")  # one container or truckload; a day's or a shift's total (HJ 1259 §6.2)


class Batch(SQLModel, table=True):
    """One weighing of one waste code in one container/package, or one bulk lot (general waste).

    A row is one unit's holding of that physical batch: the generator's holding is the root; a receipt creates a
    child holding at the receiver (same digital ID), so a bulk lot split between two units keeps exact balances.
    """

    __table_args__ = (
        Index("ix_batch_holder_status", "holder_unit_id", "status"),
        # A label's digital ID names one physical batch; holdings that a receipt split off share it.
        Index("uq_batch_digital_id_root", "digital_id", unique=True, sqlite_where=text("parent_id IS NULL"),
              postgresql_where=text("parent_id IS NULL")),
    )
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    holder_unit_id: int = Field(foreign_key="unit.id")
    parent_id: int | None = Field(default=None, foreign_key="batch.id", index=True)
    root_id: int | None = Field(default=None, foreign_key="batch.id", index=True)
    digital_id: str = Field(max_length=38, index=True)
    batch_code: str = Field(max_length=40)
    waste_code: str = Field(max_length=12, index=True)
    category: str = Field(max_length=8)
    hazardous: bool
    name: str = Field(max_length=200)
    form: str = Field(max_length=8)
    hazard: str = Field(default="", max_length=20)
    components: str | None = Field(default=None, max_length=300)
    container_type: str = Field(max_length=40)
    container_count: int = 1
    container_volume_l: float | None = None
    period: str = Field(default="container", max_length=10)  # container | day | shift (continuous sources)
    facility_id: int = Field(foreign_key="facility.id")
    scale_id: str = Field(max_length=60)
    operator: str = Field(max_length=120)
    occurred_at: datetime = Field(sa_type=UTCDateTime, index=True)
    gross_g: int = Field(sa_column=Column(BigInteger, nullable=False))
    tare_g: int = Field(sa_column=Column(BigInteger, nullable=False))
    net_g: int = Field(sa_column=Column(BigInteger, nullable=False))
    remaining_g: int = Field(sa_column=Column(BigInteger, nullable=False))
    stored_g: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    in_transit_g: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    storage_facility_id: int | None = Field(default=None, foreign_key="facility.id", index=True)
    stored_ever: bool = False
    status: str = Field(max_length=16)
    flags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
