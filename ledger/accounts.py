"""Users, API tokens, the audit log and idempotency records (tables and their services)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, select

from ledger.types import UTCDateTime, utcnow

USER_ROLES = (
    "operator",  # plant operator at a weighing point (unit)
    "unit_admin",  # the unit's administrator (unit)
    "driver",  # hauler driver (unit)
    "receiver_operator",  # receiver weighing and accepting loads (unit)
    "park_manager",  # park
    "regulator",  # region prefix: 2 = province, 4 = city, 6 = county
    "admin",  # platform administrator
)
UNIT_ROLES = ("operator", "unit_admin", "driver", "receiver_operator")


class User(SQLModel, table=True):
    """A person or terminal account with one role bound to a unit, a park or a region."""

    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=80, unique=True, index=True)
    display_name: str = Field(max_length=120)
    password_hash: str | None = Field(default=None, max_length=200)
    role: str = Field(max_length=20)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    park_id: int | None = Field(default=None, foreign_key="park.id")
    region_prefix: str | None = Field(default=None, max_length=6)
    phone: str | None = Field(default=None, max_length=40)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    """A bearer token (terminals, integrations) or a page session; only its SHA-256 is stored."""

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    name: str = Field(max_length=120)
    kind: str = Field(default="api", max_length=10)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=12)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditLog(SQLModel, table=True):
    """Who did what, when and from where: one row per write."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    user_id: int | None = Field(default=None, index=True)
    token_id: int | None = None
    action: str = Field(max_length=60)
    entity: str = Field(max_length=40)
    entity_id: str | None = Field(default=None, max_length=60)
    source_ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=200)
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class IdempotencyRecord(SQLModel, table=True):
    """The first response to a mutating request with an Idempotency-Key, replayed on a retry."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("user_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(index=True)
    key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    status_code: int = 0
    response_body: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


TOKEN_BYTES = 32


def hash_token(token: str) -> str:
    """SHA-256 of a bearer token (tokens are random 256-bit strings, so a fast hash is enough)."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, *, user: User, name: str, kind: str = "api", ttl: timedelta | None = None) -> str:
    """Create a token for `user` and return its clear text (shown once, never stored)."""
    clear = "wl_" + secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        ApiToken(
            user_id=user.id,
            name=name,
            kind=kind,
            token_hash=hash_token(clear),
            prefix=clear[:10],
            expires_at=utcnow() + ttl if ttl else None,
        )
    )
    session.flush()
    return clear


def token_key(digest: str) -> tuple:
    """The registry cache's key of a token (by its hash) and its user."""
    return ("token", digest)


def find_token(session: Session, *, clear: str) -> tuple[ApiToken, User] | None:
    """The live token and its active user for a clear-text token, or None (from the registry cache when current:
    a terminal's token is looked up once per process, not once per weighing)."""
    from ledger.cache import CacheOnly, NeedsRow, cached, snapshot

    digest = hash_token(clear)

    def load() -> tuple[ApiToken, User] | None:
        if isinstance(session, CacheOnly):  # a read on the event loop: `ledger.scan.fill` reads the token there
            raise NeedsRow(token_key(digest))
        row = session.exec(select(ApiToken, User).where(ApiToken.token_hash == digest,
                                                        ApiToken.user_id == User.id)).first()
        return (snapshot(row[0]), snapshot(row[1])) if row is not None else None

    row = cached(session, token_key(digest), load)
    if row is None:
        return None
    token, user = row
    now = utcnow()
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now) or not user.active:
        return None
    return token, user
