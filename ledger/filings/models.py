"""Tables: the unit inbox and zero reports."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from ledger.types import UTCDateTime, utcnow


class InboxItem(SQLModel, table=True):
    """Something a unit should see: a filing that needs its action (confirm a pickup, refile a returned plan,
    answer an offer) or a filing made on its behalf (a collector weighed and labelled at its door)."""

    __tablename__ = "inbox_item"
    __table_args__ = (Index("ix_inbox_item_unit_open", "unit_id", "resolved_at", "id"),
                      Index("ix_inbox_item_subject", "subject_type", "subject_id"))
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id")
    kind: str = Field(max_length=48)
    title: str = Field(max_length=300)
    needs_action: bool = False
    subject_type: str = Field(max_length=24)
    subject_id: int
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_by: int | None = None
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by: int | None = None


class ZeroReport(SQLModel, table=True):
    """零报告: a licensed operator states that a day had no receipt, storage, processing or shipment."""

    __tablename__ = "zero_report"
    __table_args__ = (UniqueConstraint("unit_id", "day"),)
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    day: date
    filed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    filed_by: int | None = None
    filed_by_name: str = Field(max_length=120)
    note: str | None = Field(default=None, max_length=300)
