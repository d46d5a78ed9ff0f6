"""Users and their tokens: creation within the creator's scope, login, revocation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Field, Session, SQLModel, select

from ledger import throttle
from ledger.accounts import ApiToken, User, issue_token
from ledger.auth import Principal, audit, can_see_unit, check_grant, check_password, hash_password, may
from ledger.errors import Conflict, Forbidden, NotFound, Unauthenticated
from ledger.registry.models import Unit
from ledger.types import utcnow
from ledger.validation import DbId, Input, Phone


class UserCreate(Input):
    username: str = Field(min_length=3, max_length=80, regex=r"^[A-Za-z0-9_.@-]+$")
    display_name: str = Field(min_length=1, max_length=120)
    password: str | None = Field(default=None, min_length=8, max_length=200)
    role: str = Field(max_length=20)
    unit_id: DbId | None = None
    park_id: DbId | None = None
    region_prefix: str | None = Field(default=None, max_length=6, regex=r"^\d{2}(\d{2}){0,2}$")
    phone: Phone | None = None


class UserPublic(SQLModel):
    id: int
    username: str
    display_name: str
    role: str
    unit_id: int | None
    park_id: int | None
    region_prefix: str | None
    active: bool


class TokenCreate(Input):
    name: str = Field(min_length=1, max_length=120, description="what uses it, e.g. 'weighbridge 2'")
    user_id: DbId | None = Field(default=None, description="defaults to yourself")
    days: int | None = Field(default=None, ge=1, le=3650, description="expiry; none = until revoked")


class TokenPublic(SQLModel):
    id: int
    user_id: int
    name: str
    kind: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenIssued(TokenPublic):
    token: str = Field(description="the bearer token; shown once, store it now")


class Login(Input):
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=200)


def user_public(u: User) -> UserPublic:
    return UserPublic(id=u.id, username=u.username, display_name=u.display_name, role=u.role, unit_id=u.unit_id,
                      park_id=u.park_id, region_prefix=u.region_prefix, active=u.active)


def token_public(t: ApiToken, clear: str | None = None) -> TokenPublic | TokenIssued:
    base = dict(id=t.id, user_id=t.user_id, name=t.name, kind=t.kind, prefix=t.prefix, created_at=t.created_at,
                expires_at=t.expires_at, revoked_at=t.revoked_at)
    return TokenIssued(**base, token=clear) if clear else TokenPublic(**base)


def create_user(session: Session, *, principal: Principal, data: UserCreate) -> User:
    """Create a user bound to a unit, park or region within the creator's own scope."""
    check_grant(session, principal, role=data.role, unit_id=data.unit_id, park_id=data.park_id,
                region_prefix=data.region_prefix)
    if session.exec(select(User.id).where(User.username == data.username)).first() is not None:
        raise Conflict(f"username {data.username!r} is taken", code="user.duplicate", details={"field": "username"})
    user = User(username=data.username, display_name=data.display_name, role=data.role, unit_id=data.unit_id,
                park_id=data.park_id, region_prefix=data.region_prefix, phone=data.phone,
                password_hash=hash_password(data.password) if data.password else None)
    session.add(user)
    session.flush()
    audit(session, principal, action="user.create", entity="user", entity_id=user.id,
          detail={"username": user.username, "role": user.role})
    return user


def _managed_user(session: Session, principal: Principal, user_id: int) -> User:
    """The user if the principal administers it: itself, a user of the unit it is admin of, or anyone (admin).

    Regulators and park managers administer nobody but themselves here: supervising a unit never includes
    issuing its users' tokens (that would let the supervisor act as the supervised)."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist or is outside your scope", code="user.not_found")
    if user.id == principal.user_id or principal.is_admin:
        return user
    unit = session.get(Unit, user.unit_id) if user.unit_id is not None else None
    if unit is not None and can_see_unit(session, principal, unit):
        if may(principal, unit, "administer"):
            return user
        raise Forbidden(f"only the admin of unit {unit.id} administers the accounts of its users",
                        code="auth.forbidden", details={"user_id": user_id, "act": "administer"})
    raise NotFound(f"user {user_id} does not exist or is outside your scope", code="user.not_found")


def create_token(session: Session, *, principal: Principal, data: TokenCreate) -> tuple[ApiToken, str]:
    """Issue an API token for yourself or for a user you manage (e.g. a weighing terminal account)."""
    user = _managed_user(session, principal, principal.user_id if data.user_id is None else data.user_id)
    clear = issue_token(session, user=user, name=data.name, ttl=timedelta(days=data.days) if data.days else None)
    token = session.exec(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())).first()
    audit(session, principal, action="token.create", entity="api_token", entity_id=token.id,
          detail={"user_id": user.id, "name": data.name})
    return token, clear


def list_tokens(session: Session, *, principal: Principal) -> list[ApiToken]:
    return list(session.exec(select(ApiToken).where(ApiToken.user_id == principal.user_id, ApiToken.kind == "api")
                             .order_by(ApiToken.id)).all())


def revoke_token(session: Session, *, principal: Principal, token_id: int) -> ApiToken:
    """Revoke a token (idempotent: revoking twice keeps the first time)."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"token {token_id} does not exist", code="token.not_found")
    _managed_user(session, principal, token.user_id)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
        session.flush()
        audit(session, principal, action="token.revoke", entity="api_token", entity_id=token.id)
    return token


@dataclass(frozen=True)
class LoginLimits:
    """How many failed logins an account and an address get per window (settings: LEDGER_LOGIN_*)."""

    per_account: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)

    @classmethod
    def of(cls, settings) -> LoginLimits:  # noqa: ANN001 - ledger.config.Settings
        """The limits a deployment set (LEDGER_LOGIN_MAX_FAILURES_ACCOUNT / _ADDRESS, LEDGER_LOGIN_WINDOW_SECONDS)."""
        return cls(per_account=settings.login_max_failures_account, per_address=settings.login_max_failures_address,
                   window=timedelta(seconds=settings.login_window_seconds))

    def attempts(self, username: str, source_ip: str | None) -> list[tuple[throttle.Rule, str]]:
        return [(throttle.Rule("login.account", self.per_account, self.window), username),
                (throttle.Rule("login.address", self.per_address, self.window), source_ip or "unknown")]


def login(session: Session, *, username: str, password: str, hours: int, source_ip: str | None = None,
          limits: LoginLimits | None = None) -> tuple[User, str]:
    """Check a password (argon2) and open a page session; returns the user and the session token.

    Failed attempts are rate-limited per account and per address (429 with Retry-After once either is used up,
    even for the right password). A failure is flushed before the 401 is raised: the caller commits it.
    """
    attempts = (limits or LoginLimits()).attempts(username, source_ip)
    throttle.check(session, attempts)
    user = session.exec(select(User).where(User.username == username)).first()
    if not check_password(user, password):
        throttle.failed(session, attempts)
        raise Unauthenticated("wrong username or password", code="auth.bad_credentials")
    throttle.succeeded(session, attempts[0][0], username)
    clear = issue_token(session, user=user, name="page session", kind="session", ttl=timedelta(hours=hours))
    audit(session, Principal.of(user, source_ip=source_ip), action="auth.login", entity="user", entity_id=user.id)
    return user, clear
