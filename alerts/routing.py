"""Routes and deadlines (Shandong, seed 004 §五.9), on the Chinese working-day calendar.

    low   opened → pushed to the unit at once → the unit rectifies within 5 working days → closed
    mid   opened → the county/city pushes it (2 working days) → the unit rectifies (5) → the regulator accepts (5)
          → closed; a rejection sends it back to the unit with a new deadline
    high  opened → the province pushes it to the city (1 working day) → the city verifies and reports back (5) →
          the province accepts (5) → closed; a possible offence is forwarded to the enforcement endpoint

Every step has a deadline (end of the n-th Chinese working day, 调休 included, `ledger/workdays.py`). When a step's
deadline passes the alert is marked overdue and escalates one tier, once: a low becomes mid (the regulator now
accepts its rectification), a mid becomes high (the province takes it up). Any regulator of the tier's level may
close an alert with a reason (e.g. a false positive). Every action lands in the append-only `alert_action` log.
State changes are compare-and-set on `version`: of two racing actions one wins, the other gets 409.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, select

from alerts import notify
from alerts import settings as S
from alerts.models import Alert, AlertAction
from ledger.auth import Principal, require_alert_act
from ledger.errors import Conflict, InvalidInput
from ledger.types import utcnow
from ledger.workdays import working_day_deadline

NEXT_TIER = {"low": "mid", "mid": "high"}
SYSTEM_NAME = "system"


def step_deadline(status: str, tier: str, now: datetime) -> datetime | None:
    """The deadline of the step an alert in `status` waits for."""
    if status == "open":
        return working_day_deadline(now, S.PUSH_WORKING_DAYS[tier]) if tier in S.PUSH_WORKING_DAYS else None
    if status == "pushed":
        return working_day_deadline(now, S.RECTIFY_WORKING_DAYS)
    if status == "rectified":
        return working_day_deadline(now, S.REVIEW_WORKING_DAYS)
    return None


def start(tier: str, now: datetime) -> dict:
    """Where a new alert starts its route: a low one is pushed to the unit at once, mid/high wait for their
    regulator. Returns its status, pushed_at and deadline_at."""
    status = "pushed" if tier == "low" else "open"
    return {"status": status, "pushed_at": now if tier == "low" else None,
            "deadline_at": step_deadline(status, tier, now)}


def retier(values: dict, *, status: str, new_tier: str, now: datetime, escalation: bool) -> dict:
    """The column values of an alert moving to `new_tier` (a raise by re-evaluation, or an escalation)."""
    values["tier"] = new_tier
    if new_tier == "high":
        # the province takes it up: it pushes the alert to the city
        values.update(status="open", deadline_at=step_deadline("open", "high", now), overdue=False)
    elif escalation:
        values.update(deadline_at=step_deadline(status, new_tier, now), overdue=False)
    return values


def action_values(a, act: str, *, now: datetime, principal: Principal | None = None,  # noqa: ANN001
                  before: str | None = None, text: str | None = None, attachments: list | None = None,
                  **detail) -> dict:
    """The column values of one row of the action log (who, when, what) for an alert (object or namespace)."""
    return {"alert_id": a.id, "unit_id": a.unit_id, "action": act, "from_status": before, "to_status": a.status,
            "tier": a.tier, "user_id": (principal.user_id or None) if principal else None,
            "username": principal.username if principal else SYSTEM_NAME, "at": now, "text": text,
            "attachments": attachments or [], "detail": detail}


def action(a: Alert, act: str, **kw) -> AlertAction:
    """One row of the action log, to add to the session."""
    return AlertAction(**action_values(a, act, **kw))


def cas(session: Session, a: Alert, **values) -> Alert:
    """Compare-and-set: apply `values` if nobody changed the alert since it was read (else 409)."""
    result = session.execute(update(Alert).where(Alert.id == a.id, Alert.version == a.version)
                             .values(version=a.version + 1, **values))
    if result.rowcount != 1:
        raise Conflict(f"alert {a.id} was changed by someone else just now; reload it and try again",
                       code="alert.concurrent_change", details={"alert_id": a.id})
    session.refresh(a)
    return a


# ---- deadlines ------------------------------------------------------------------------------------------------

def check_deadlines(session: Session, *, now: datetime | None = None) -> dict:
    """Mark alerts whose step deadline passed as overdue; escalate each one tier, once."""
    now = now or utcnow()
    due = session.exec(select(Alert).where(Alert.status != "closed", Alert.overdue.is_(False),
                                           Alert.deadline_at < now).order_by(Alert.id)).all()
    marked = escalated = 0
    for a in due:
        before, tier, passed = a.status, a.tier, a.deadline_at
        values: dict = {"overdue": True, "overdue_at": a.overdue_at or now, "updated_at": now}
        escalate = a.escalated_at is None and tier in NEXT_TIER
        if escalate:
            values.update(escalated_at=now, escalated_from=tier)
            retier(values, status=a.status, new_tier=NEXT_TIER[tier], now=now, escalation=True)
        try:
            cas(session, a, **values)
        except Conflict:
            continue  # a person acted on it meanwhile; the next run looks again
        marked += 1
        session.add(action(a, "overdue", now=now, before=before, deadline=passed.isoformat()))
        notify.enqueue(session, a, "alert.overdue", now)
        if escalate:
            escalated += 1
            session.add(action(a, "escalate", now=now, before=before, from_tier=tier, to_tier=a.tier))
            notify.enqueue(session, a, "alert.escalated", now, from_tier=tier)
    session.flush()
    return {"overdue": marked, "escalated": escalated}


# ---- what people do ---------------------------------------------------------------------------------------------

def _check(a: Alert, principal: Principal, act: str, *, expect: tuple[str, ...]) -> None:
    require_alert_act(principal, act, tier=a.tier, unit_id=a.unit_id, region_code=a.region_code, alert_id=a.id)
    if a.status not in expect:
        raise Conflict(f"alert {a.id} is {a.status}; to {act} it must be {' or '.join(expect)}",
                       code="alert.invalid_transition",
                       details={"alert_id": a.id, "status": a.status, "expected": list(expect)})


def push(session: Session, *, principal: Principal, a: Alert, note: str | None = None) -> Alert:
    """The regulator pushes a mid alert to the unit, or the province a high one to the city."""
    if a.tier == "low":
        raise Conflict(f"alert {a.id} is low: low alerts go to the unit automatically", code="alert.invalid_transition",
                       details={"alert_id": a.id, "tier": "low"})
    _check(a, principal, "push", expect=("open",))
    now = utcnow()
    before = a.status
    cas(session, a, status="pushed", pushed_at=a.pushed_at or now, overdue=False, updated_at=now,
        deadline_at=step_deadline("pushed", a.tier, now))
    session.add(action(a, "push", now=now, principal=principal, before=before, text=note,
                       to="city" if a.tier == "high" else "unit"))
    notify.enqueue(session, a, "alert.pushed", now)
    session.flush()
    return a


def rectify(session: Session, *, principal: Principal, a: Alert, text: str, attachments: list[dict] | None = None
            ) -> Alert:
    """The unit reports its rectification (low, mid), or the city its verification (high)."""
    if not text.strip():
        raise InvalidInput("say what was done (text)", field="text")
    _check(a, principal, "rectify", expect=("pushed",))
    now = utcnow()
    before = a.status
    if a.tier == "low":
        cas(session, a, status="closed", resolution="rectified", rectified_at=now, closed_at=now, overdue=False,
            updated_at=now, deadline_at=None)
        event = "alert.closed"
    else:
        cas(session, a, status="rectified", rectified_at=now, overdue=False, updated_at=now,
            deadline_at=step_deadline("rectified", a.tier, now))
        event = "alert.rectified"
    session.add(action(a, "rectify", now=now, principal=principal, before=before, text=text, attachments=attachments))
    notify.enqueue(session, a, event, now)
    session.flush()
    return a


def accept(session: Session, *, principal: Principal, a: Alert, note: str | None = None) -> Alert:
    """The regulator accepts the rectification (mid) or the city's report (high): closed."""
    _check(a, principal, "accept", expect=("rectified",))
    now = utcnow()
    cas(session, a, status="closed", resolution="accepted", closed_at=now, overdue=False, updated_at=now,
        deadline_at=None)
    session.add(action(a, "accept", now=now, principal=principal, before="rectified", text=note))
    notify.enqueue(session, a, "alert.accepted", now)
    session.flush()
    return a


def reject(session: Session, *, principal: Principal, a: Alert, reason: str) -> Alert:
    """The regulator rejects the rectification: back to the unit (or city) with a new deadline."""
    if not reason.strip():
        raise InvalidInput("say why the rectification is rejected (reason)", field="reason")
    _check(a, principal, "reject", expect=("rectified",))
    now = utcnow()
    cas(session, a, status="pushed", overdue=False, updated_at=now, deadline_at=step_deadline("pushed", a.tier, now))
    session.add(action(a, "reject", now=now, principal=principal, before="rectified", text=reason))
    notify.enqueue(session, a, "alert.rejected", now)
    session.flush()
    return a


def close(session: Session, *, principal: Principal, a: Alert, reason: str) -> Alert:
    """A regulator closes an alert at any step, with a reason (a false positive, handled elsewhere …)."""
    if not reason.strip():
        raise InvalidInput("say why the alert is closed (reason)", field="reason")
    _check(a, principal, "close", expect=("open", "pushed", "rectified"))
    now = utcnow()
    before = a.status
    cas(session, a, status="closed", resolution="dismissed", closed_at=now, overdue=False, updated_at=now,
        deadline_at=None)
    session.add(action(a, "close", now=now, principal=principal, before=before, text=reason))
    notify.enqueue(session, a, "alert.closed", now)
    session.flush()
    return a


def forward(session: Session, *, principal: Principal, a: Alert, reason: str) -> Alert:
    """The province forwards a high alert that may involve an offence to the enforcement endpoint."""
    if a.tier != "high":
        raise Conflict(f"alert {a.id} is {a.tier}: only high alerts are forwarded to enforcement",
                       code="alert.invalid_transition", details={"alert_id": a.id, "tier": a.tier})
    if not reason.strip():
        raise InvalidInput("say what offence may be involved (reason)", field="reason")
    _check(a, principal, "forward", expect=("open", "pushed", "rectified", "closed"))
    if a.forwarded_at is not None:
        raise Conflict(f"alert {a.id} was already forwarded on {a.forwarded_at.isoformat()}",
                       code="alert.already_forwarded", details={"alert_id": a.id})
    cfg = S.config()
    if not cfg.enforcement_url:
        raise Conflict("no enforcement endpoint is configured: set LEDGER_ALERTS_ENFORCEMENT_URL (and "
                       "LEDGER_ALERTS_ENFORCEMENT_SECRET) on the server", code="alert.no_enforcement_endpoint")
    notify.enforcement_subscription(session, url=cfg.enforcement_url, secret=cfg.enforcement_secret)
    now = utcnow()
    cas(session, a, possible_offence=True, forwarded_at=now, updated_at=now)
    session.add(action(a, "forward", now=now, principal=principal, before=a.status, text=reason))
    notify.enqueue(session, a, "alert.forwarded", now, reason=reason)
    session.flush()
    return a

