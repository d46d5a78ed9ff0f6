"""The source documents of history: an imported ledger file, a back-entered paper manifest."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from ledger.types import UTCDateTime, utcnow


class SourceDocument(SQLModel, table=True):
    """One imported file or one paper manifest: every record it produced names it in `body.source.document`."""

    __tablename__ = "source_document"
    __table_args__ = (UniqueConstraint("unit_id", "kind", "sha256"),)
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    kind: str = Field(max_length=12, description="import | back_entry")
    format: str = Field(max_length=20, description="per_batch | monthly_totals | paper_manifest")
    filename: str = Field(max_length=200)
    sha256: str = Field(max_length=64)
    rows: int = 0
    summary: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: int | None = None
    created_by_name: str | None = Field(default=None, max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
