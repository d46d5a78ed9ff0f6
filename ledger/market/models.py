"""Tables of the trading hall: posts, their photos, offers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Column, Index, LargeBinary, Numeric, text
from sqlmodel import Field, SQLModel

from ledger.types import UTCDateTime, utcnow

POST_STATES = ("open", "matched", "withdrawn", "expired")
OFFER_STATES = ("open", "accepted", "declined", "withdrawn", "expired")


class MarketPost(SQLModel, table=True):
    """A producer's posting: waste it needs taken, how much a month, where."""

    __tablename__ = "market_post"
    __table_args__ = (Index("ix_market_post_open", "status", "waste_code", "expires_at"),)
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)  # the producer
    waste_code: str = Field(max_length=12)
    hazardous: bool
    name: str = Field(max_length=200)
    form: str = Field(max_length=8)
    monthly_g: int = Field(sa_column=Column(BigInteger, nullable=False))
    lat: float
    lon: float
    address: str | None = Field(default=None, max_length=300)
    region_code: str = Field(max_length=6, index=True)
    note: str | None = Field(default=None, max_length=1000)
    status: str = Field(default="open", max_length=10)
    version: int = 1
    expires_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: int | None = None
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deal_offer_id: int | None = None


class MarketPhoto(SQLModel, table=True):
    """A photo of a sample, checked by decoding it; stored with the post and served back through the API."""

    __tablename__ = "market_photo"
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    post_id: int = Field(foreign_key="market_post.id", index=True)
    content_type: str = Field(max_length=20)
    size: int
    width: int
    height: int
    sha256: str = Field(max_length=64)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: int | None = None


class MarketOffer(SQLModel, table=True):
    """A licensed receiver's or collector's answer to a post: method, fee, validity."""

    __tablename__ = "market_offer"
    __table_args__ = (
        Index("uq_market_offer_open", "post_id", "unit_id", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
    )
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)  # the offering receiver or collector
    post_id: int = Field(foreign_key="market_post.id", index=True)
    producer_id: int = Field(foreign_key="unit.id")
    method: str = Field(max_length=8)
    fee_yuan_per_t: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    note: str | None = Field(default=None, max_length=500)
    status: str = Field(default="open", max_length=10)
    valid_until: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: int | None = None
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by: int | None = None
    plan_id: int | None = None
    manifest_id: int | None = None
    pickup_order_id: int | None = None
