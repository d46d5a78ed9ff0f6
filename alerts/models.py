"""Alert tables: the alert, its append-only action log, webhook subscriptions, the transactional outbox, deliveries,
and the record of each scheduled scan. Every row that belongs to a unit carries `unit_id`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, text
from sqlmodel import Field, SQLModel

from ledger.types import UTCDateTime, utcnow

STATUSES = ("open", "pushed", "rectified", "closed")
STATUS_NAMES = {"open": "待推送", "pushed": "已推送", "rectified": "已反馈", "closed": "已办结"}
RESOLUTIONS = ("rectified", "accepted", "fact_cleared", "dismissed")
ACTIONS = ("open", "raise", "push", "rectify", "accept", "reject", "close", "auto_close", "fact_cleared", "overdue",
           "escalate", "forward")

_BIGINT = BigInteger().with_variant(Integer, "sqlite")


class Alert(SQLModel, table=True):
    """One alert: a rule's finding about one subject, on its route from opening to closure.

    At most one alert per (rule, subject) is not closed (a partial unique index says so)."""

    __tablename__ = "alert"
    __table_args__ = (
        Index("uq_alert_open_subject", "rule", "subject", unique=True,
              sqlite_where=text("status != 'closed'"), postgresql_where=text("status != 'closed'")),
        Index("ix_alert_rule_subject", "rule", "subject"),
        Index("ix_alert_unit_status", "unit_id", "status"),
        Index("ix_alert_status_deadline", "status", "deadline_at"),
        Index("ix_alert_region_status", "region_code", "status"),
    )
    id: int | None = Field(default=None, sa_column=Column(_BIGINT, primary_key=True, autoincrement=True))
    rule: str = Field(max_length=32)
    klass: str = Field(max_length=16)
    tier: str = Field(max_length=8)
    opened_tier: str = Field(max_length=8)
    status: str = Field(default="open", max_length=12)
    resolution: str | None = Field(default=None, max_length=16)
    unit_id: int = Field(foreign_key="unit.id")
    region_code: str = Field(max_length=6)
    subject: str = Field(max_length=120)
    subject_kind: str = Field(max_length=16)
    subject_id: int = Field(sa_column=Column(_BIGINT, nullable=False))
    title: str = Field(max_length=300)
    evidence: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    fact_holds: bool = True
    overdue: bool = False
    possible_offence: bool = False
    escalated_from: str | None = Field(default=None, max_length=8)
    version: int = 1
    opened_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    deadline_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    pushed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    rectified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    overdue_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    forwarded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    fact_cleared_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AlertAction(SQLModel, table=True):
    """Who did what to an alert, and when (append-only: nothing updates or deletes these rows)."""

    __tablename__ = "alert_action"
    id: int | None = Field(default=None, sa_column=Column(_BIGINT, primary_key=True, autoincrement=True))
    alert_id: int = Field(sa_column=Column(_BIGINT, nullable=False, index=True))
    unit_id: int = Field(foreign_key="unit.id")
    action: str = Field(max_length=16)
    from_status: str | None = Field(default=None, max_length=12)
    to_status: str | None = Field(default=None, max_length=12)
    tier: str = Field(max_length=8)
    user_id: int | None = None
    username: str = Field(max_length=120)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    text: str | None = Field(default=None, max_length=4000)
    attachments: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class WebhookSubscription(SQLModel, table=True):
    """Where to send alert notifications: for one unit, or for every unit of a region (prefix)."""

    __tablename__ = "webhook_subscription"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default="webhook", max_length=12)  # webhook | enforcement
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    region_prefix: str | None = Field(default=None, max_length=6, index=True)
    url: str = Field(max_length=500)
    secret: str = Field(max_length=100)
    events: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    min_tier: str = Field(default="low", max_length=8)
    description: str | None = Field(default=None, max_length=200)
    active: bool = True
    consecutive_failures: int = 0
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_reason: str | None = Field(default=None, max_length=300)
    created_by: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AlertOutbox(SQLModel, table=True):
    """A notification to send, written in the same transaction as the alert change it reports."""

    __tablename__ = "alert_outbox"
    __table_args__ = (Index("ix_alert_outbox_pending", "fanned_out_at"),)
    id: int | None = Field(default=None, sa_column=Column(_BIGINT, primary_key=True, autoincrement=True))
    alert_id: int | None = Field(default=None, sa_column=Column(_BIGINT, nullable=True, index=True))  # None: inbox
    unit_id: int = Field(foreign_key="unit.id")
    region_code: str = Field(max_length=6)
    event: str = Field(max_length=64)
    tier: str = Field(max_length=8)
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    fanned_out_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookDelivery(SQLModel, table=True):
    """One outbox notification to one subscription; its id is the delivery id a receiver uses to drop repeats."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_due", "status", "next_attempt_at"),)
    id: str = Field(primary_key=True, max_length=36)
    outbox_id: int = Field(sa_column=Column(_BIGINT, nullable=False, index=True))
    subscription_id: int = Field(foreign_key="webhook_subscription.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    status: str = Field(default="pending", max_length=12)  # pending | delivered
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_status: int | None = None
    last_error: str | None = Field(default=None, max_length=300)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AlertScan(SQLModel, table=True):
    """One scheduled scan: which tick it served, who ran it, what it found (one row per tick: unique)."""

    __tablename__ = "alert_scan"
    id: int | None = Field(default=None, primary_key=True)
    tick: datetime = Field(sa_type=UTCDateTime, unique=True)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    runner: str = Field(max_length=120)
    stats: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
