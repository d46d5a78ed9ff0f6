"""Consents: a small producer lets a collector file for it (raise pickup orders, weigh and label at its door),
and revokes that. The producer's own act, recorded with who and when; a regulator never grants it."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import or_, update
from sqlmodel import Field, Session, SQLModel, select

from ledger.accounts import User
from ledger.auth import Principal, audit, require_unit
from ledger.collection.models import Consent
from ledger.errors import Conflict, Forbidden, InvalidInput, NotFound
from ledger.filings import inbox
from ledger.registry.catalogue import check_code_or_category
from ledger.registry.models import Unit
from ledger.types import utcnow
from ledger.validation import Code, Day, DbId, Input
from ledger.workdays import today as shanghai_today


class ConsentCreate(Input):
    collector_id: DbId = Field(description="the collector (收集单位) that may file for this unit")
    waste_codes: list[Code] = Field(default_factory=list, max_length=100, description="codes or categories it may file for; "
                                   "empty: any code")
    valid_from: Day | None = Field(default=None, description="default today")
    valid_to: Day | None = Field(default=None, description="default: until revoked")
    note: str | None = Field(default=None, max_length=300)


class RevokeIn(Input):
    reason: str = Field(min_length=2, max_length=300)


class ConsentPublic(SQLModel):
    id: int
    unit_id: int
    collector_id: int
    collector_name: str
    waste_codes: list[str]
    valid_from: date
    valid_to: date | None
    note: str | None
    granted_at: datetime
    granted_by_name: str
    revoked_at: datetime | None
    revoked_by_name: str | None
    revoke_reason: str | None
    live: bool


def consent_public(session: Session, c: Consent) -> ConsentPublic:
    today = shanghai_today()
    live = c.revoked_at is None and c.valid_from <= today and (c.valid_to is None or c.valid_to >= today)
    return ConsentPublic(id=c.id, unit_id=c.unit_id, collector_id=c.collector_id,
                         collector_name=session.get(Unit, c.collector_id).name, waste_codes=c.waste_codes,
                         valid_from=c.valid_from, valid_to=c.valid_to, note=c.note, granted_at=c.granted_at,
                         granted_by_name=c.granted_by_name, revoked_at=c.revoked_at,
                         revoked_by_name=c.revoked_by_name, revoke_reason=c.revoke_reason, live=live)


def _display(session: Session, principal: Principal) -> str:
    user = session.get(User, principal.user_id) if principal.user_id else None
    return user.display_name if user else principal.username


def _producer_itself(session: Session, principal: Principal, unit_id: int, what: str) -> Unit:
    """The producer's own users (its administrator) grant and revoke; a regulator or park manager never does."""
    if principal.role in ("regulator", "park_manager"):
        raise Forbidden(f"a consent is the producer's own act: a {principal.role.replace('_', ' ')} cannot {what} "
                        "it", code="auth.forbidden")
    return require_unit(session, principal, unit_id, act="manage")


def grant(session: Session, *, principal: Principal, unit_id: int, data: ConsentCreate) -> Consent:
    """The producer lets a collector file for it; granting again while a consent is live returns that one."""
    producer = _producer_itself(session, principal, unit_id, "grant")
    collector = session.get(Unit, data.collector_id)
    if collector is None or not collector.is_collector:
        raise InvalidInput(f"unit {data.collector_id} is not a registered collector (收集单位)",
                           field="collector_id", code="consent.not_collector")
    if collector.id == producer.id:
        raise InvalidInput("a unit does not need its own consent", field="collector_id")
    codes = [check_code_or_category(session, c, field=f"waste_codes[{i}]") for i, c in enumerate(data.waste_codes)]
    today = shanghai_today()
    valid_from = data.valid_from or today
    if data.valid_to is not None and data.valid_to < valid_from:
        raise InvalidInput("valid_to is before valid_from", field="valid_to")
    live = session.exec(select(Consent).where(Consent.unit_id == producer.id, Consent.collector_id == collector.id,
                                              Consent.revoked_at.is_(None))).first()
    if live is not None:
        if (live.waste_codes, live.valid_to) == (codes, data.valid_to):
            return live
        raise Conflict(f"{producer.name} already consents to {collector.name} (consent {live.id}); revoke it first "
                       "to grant different terms", code="consent.exists", details={"consent_id": live.id})
    c = Consent(unit_id=producer.id, collector_id=collector.id, waste_codes=codes, valid_from=valid_from,
                valid_to=data.valid_to, note=data.note, granted_at=utcnow(), granted_by=principal.user_id or None,
                granted_by_name=_display(session, principal))
    session.add(c)
    session.flush()
    audit(session, principal, action="consent.grant", entity="consent", entity_id=c.id,
          detail={"unit_id": producer.id, "collector_id": collector.id, "waste_codes": codes})
    inbox.notify(session, unit_id=collector.id, kind="consent.granted",
                 title=f"{producer.name} 授权贵单位代为下单、上门称重贴标（委托收集）", subject=("consent", c.id),
                 data={"producer_id": producer.id, "waste_codes": codes})
    return c


def revoke(session: Session, *, principal: Principal, unit_id: int, consent_id: int, data: RevokeIn) -> Consent:
    """The producer (or the collector, giving it up) ends a consent; further filings under it are refused."""
    c = session.get(Consent, consent_id)
    if c is None or c.unit_id != unit_id:
        raise NotFound(f"consent {consent_id} is not a consent of unit {unit_id}", code="consent.not_found")
    if principal.unit_id is not None and principal.unit_id == c.collector_id:
        require_unit(session, principal, c.collector_id, act="manage")
    else:
        _producer_itself(session, principal, unit_id, "revoke")
    if c.revoked_at is not None:
        return c
    now = utcnow()
    done = session.execute(update(Consent).where(Consent.id == c.id, Consent.revoked_at.is_(None)).values(
        revoked_at=now, revoked_by=principal.user_id or None, revoked_by_name=_display(session, principal),
        revoke_reason=data.reason)).rowcount
    session.refresh(c)
    if done:
        audit(session, principal, action="consent.revoke", entity="consent", entity_id=c.id,
              detail={"unit_id": c.unit_id, "collector_id": c.collector_id, "reason": data.reason})
        producer = session.get(Unit, c.unit_id)
        inbox.notify(session, unit_id=c.collector_id, kind="consent.revoked",
                     title=f"{producer.name} 已撤回委托：{data.reason}", subject=("consent", c.id),
                     data={"producer_id": c.unit_id, "reason": data.reason})
    return c


def list_consents(session: Session, *, principal: Principal, unit_id: int) -> list[Consent]:
    """The consents a unit gave (a producer) or holds (a collector)."""
    unit = require_unit(session, principal, unit_id)
    return list(session.exec(select(Consent).where(or_(Consent.unit_id == unit.id, Consent.collector_id == unit.id))
                             .order_by(Consent.id.desc())).all())


def live_consent(session: Session, *, producer_id: int, collector_id: int) -> Consent | None:
    today = shanghai_today()
    c = session.exec(select(Consent).where(Consent.unit_id == producer_id, Consent.collector_id == collector_id,
                                           Consent.revoked_at.is_(None))).first()
    if c is None or c.valid_from > today or (c.valid_to is not None and c.valid_to < today):
        return None
    return c
