"""Declarations (申报, HJ 1259 §7 and appendix C): drafted from the period balances, annotated, submitted, frozen.

What a unit owes depends on its tier: 重点监管 (key) monthly by the 15th of the next month and annually by 31 March;
简化管理 (simplified) quarterly by the 15th of the quarter's first month after it and annually; 登记管理 (registered)
annually. A draft's figures are recomputed from the balances whenever it is refreshed; a submitted declaration is
frozen; a correction is a new version that names the one it replaces (which becomes `superseded` when the new
version is submitted). The alert rules read `submitted_at` and `due_on` from this table.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from ledger.types import UTCDateTime, utcnow

KINDS = ("monthly", "quarterly", "annual")
STATUSES = ("draft", "submitted", "superseded")
KIND_NAMES = {"monthly": "月度申报", "quarterly": "季度申报", "annual": "年度申报"}


class Declaration(SQLModel, table=True):
    """One version of one declaration of one unit for one period."""

    __tablename__ = "declaration"
    __table_args__ = (
        UniqueConstraint("unit_id", "kind", "period_start", "version"),
        Index("ix_declaration_unit_period", "unit_id", "kind", "period_start"),
        Index("ix_declaration_due", "status", "due_on"),
    )
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id")
    kind: str = Field(max_length=10)
    period_start: date
    period_end: date
    due_on: date
    version: int = 1
    status: str = Field(default="draft", max_length=12)
    tier: str = Field(max_length=16)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    submitted_by: int | None = None
    submitted_by_name: str | None = Field(default=None, max_length=120)
    replaces_id: int | None = Field(default=None, foreign_key="declaration.id")
    note: str | None = Field(default=None, max_length=2000)
    annotations: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    figures: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
