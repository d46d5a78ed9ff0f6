"""Park membership: a regulator (or admin) records it; a park manager can only ask, and the unit's admin answers.

A park manager sees every unit of its park, so letting it add units would let it read any unit it names (and
backdate that to read its history). Instead it files a request naming the unit by its credit code, from today
on; the unit's own admin accepts (the membership then starts on the later of the requested day and the day of
acceptance) or rejects it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, Session, SQLModel, select

from ledger.auth import Principal, audit, require_park, require_unit
from ledger.codes import normalize_credit_code
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.registry.models import Park, ParkMember, ParkMemberRequest, Unit
from ledger.types import utcnow
from ledger.validation import Day, Input
from ledger.workdays import today as shanghai_today


class MemberRequestCreate(Input):
    credit_code: str = Field(max_length=40, description="统一社会信用代码 of the unit asked to join")
    since: Day = Field(description="first day of membership; not before today (a request is never backdated)")
    until: Day | None = None
    note: str | None = Field(default=None, max_length=300)


class MemberRequestPublic(SQLModel):
    id: int
    park_id: int
    park_name: str
    unit_id: int
    unit_name: str
    since: date
    until: date | None
    note: str | None
    status: str
    requested_at: datetime
    decided_at: datetime | None
    member_id: int | None


def request_public(session: Session, r: ParkMemberRequest) -> MemberRequestPublic:
    park, unit = session.get(Park, r.park_id), session.get(Unit, r.unit_id)
    return MemberRequestPublic(id=r.id, park_id=r.park_id, park_name=park.name, unit_id=r.unit_id,
                               unit_name=unit.name, since=r.since, until=r.until, note=r.note, status=r.status,
                               requested_at=r.requested_at, decided_at=r.decided_at, member_id=r.member_id)


def check_no_overlap(session: Session, *, park_id: int, unit_id: int, since: date, until: date | None
                     ) -> ParkMember | None:
    """409 if the unit belongs to another park in that period; the identical membership is returned (idempotent)."""
    if until is not None and until < since:
        raise InvalidInput("until must not be before since", field="until")
    overlapping = session.exec(
        select(ParkMember).where(ParkMember.unit_id == unit_id)
        .where((ParkMember.until.is_(None)) | (ParkMember.until >= since))
    ).all()
    for m in overlapping:
        if until is None or m.since <= until:
            if m.park_id == park_id and m.since == since and m.until == until:
                return m
            raise Conflict(f"unit {unit_id} already belongs to park {m.park_id} from {m.since}",
                           code="park.membership_overlap", details={"field": "since"})
    return None


def request_membership(session: Session, *, principal: Principal, park_id: int, data: MemberRequestCreate
                       ) -> ParkMemberRequest:
    """A park manager asks a unit (named by credit code) to join its park from today or later."""
    park = require_park(session, principal, park_id, act="request")
    today = shanghai_today()
    if data.since < today:
        raise InvalidInput(f"a membership request starts today ({today}) or later, never backdated", field="since")
    if data.until is not None and data.until < data.since:
        raise InvalidInput("until must not be before since", field="until")
    credit = normalize_credit_code(data.credit_code)
    unit = session.exec(select(Unit).where(Unit.credit_code == credit)).first()
    if unit is None:
        raise InvalidInput(f"no unit is registered with credit code {credit}", field="credit_code",
                           code="unit.not_registered")
    pending = session.exec(select(ParkMemberRequest.id).where(
        ParkMemberRequest.park_id == park.id, ParkMemberRequest.unit_id == unit.id,
        ParkMemberRequest.status == "pending")).first()
    if pending is not None:
        raise Conflict(f"request {pending} for this unit is still waiting for its answer",
                       code="park.request_pending", details={"request_id": pending})
    r = ParkMemberRequest(park_id=park.id, unit_id=unit.id, since=data.since, until=data.until, note=data.note,
                          requested_by=principal.user_id or None)
    session.add(r)
    session.flush()
    audit(session, principal, action="park.request_member", entity="park_member_request", entity_id=r.id,
          detail={"park_id": park.id, "unit_id": unit.id, "since": data.since.isoformat()})
    return r


def list_park_requests(session: Session, *, principal: Principal, park_id: int) -> list[ParkMemberRequest]:
    park = require_park(session, principal, park_id, act="oversee")
    return list(session.exec(select(ParkMemberRequest).where(ParkMemberRequest.park_id == park.id)
                             .order_by(ParkMemberRequest.id.desc())).all())


def list_unit_requests(session: Session, *, principal: Principal, unit_id: int) -> list[ParkMemberRequest]:
    unit = require_unit(session, principal, unit_id)
    return list(session.exec(select(ParkMemberRequest).where(ParkMemberRequest.unit_id == unit.id)
                             .order_by(ParkMemberRequest.id.desc())).all())


def answer_request(session: Session, *, principal: Principal, unit_id: int, request_id: int, accept: bool
                   ) -> ParkMemberRequest:
    """The unit's admin accepts (membership from the later of the asked day and today) or rejects a request."""
    unit = require_unit(session, principal, unit_id, act="register")
    r = session.get(ParkMemberRequest, request_id)
    if r is None or r.unit_id != unit.id:
        raise NotFound(f"request {request_id} is not a request to unit {unit.id}", code="park.request_not_found")
    if r.status != "pending":
        raise Conflict(f"request {r.id} is already {r.status}", code="park.request_decided",
                       details={"status": r.status})
    if accept:
        since = max(r.since, shanghai_today())
        if r.until is not None and r.until < since:
            raise Conflict(f"request {r.id} asked for membership until {r.until}, which has passed",
                           code="park.request_expired")
        member = check_no_overlap(session, park_id=r.park_id, unit_id=unit.id, since=since, until=r.until)
        if member is None:
            member = ParkMember(park_id=r.park_id, unit_id=unit.id, since=since, until=r.until)
            session.add(member)
            session.flush()
        r.member_id, r.status = member.id, "accepted"
    else:
        r.status = "rejected"
    r.decided_by, r.decided_at = principal.user_id or None, utcnow()
    session.add(r)
    session.flush()
    audit(session, principal, action=f"park.request_{r.status}", entity="park_member_request", entity_id=r.id,
          detail={"park_id": r.park_id, "unit_id": unit.id})
    return r
