"""The regulator's queue: alerts within the caller's jurisdiction, filtered and paged; counts per tier and status;
the closure rate (办结率 = closed ÷ pushed, over a period); one alert with its action log; the actions."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import and_, case, func, or_
from sqlmodel import Session, select

from alerts import routing
from alerts.models import STATUSES, Alert, AlertAction
from alerts.rules import CLASSES, REGISTRY
from alerts.settings import TIERS
from ledger.auth import Principal, may_on_alert, unit_scope
from ledger.codes import normalize_region_prefix
from ledger.errors import InvalidInput, NotFound
from ledger.types import utcnow
from ledger.workdays import day_bounds_utc

ACTS = ("push", "rectify", "accept", "reject", "close", "forward")
_NEEDS = {"push": ("open",), "rectify": ("pushed",), "accept": ("rectified",), "reject": ("rectified",),
          "close": ("open", "pushed", "rectified"), "forward": ("open", "pushed", "rectified", "closed")}


def visible(principal: Principal):  # noqa: ANN201
    """The SQL condition for alerts inside the caller's units, park or jurisdiction."""
    return unit_scope(principal, Alert.unit_id, Alert.region_code)


def overdue_clause(now: datetime):  # noqa: ANN201
    return and_(Alert.status != "closed", or_(Alert.overdue.is_(True), Alert.deadline_at < now))


def _choice(value: str | None, allowed: tuple[str, ...], field: str) -> str | None:
    if value is not None and value not in allowed:
        raise InvalidInput(f"{field} must be one of {', '.join(allowed)}; got {value!r}", field=field)
    return value


def filtered(principal: Principal, *, tier: str | None = None, status: str | None = None, klass: str | None = None,
             region: str | None = None, overdue: bool | None = None, unit_id: int | None = None,
             rule: str | None = None, now: datetime | None = None):  # noqa: ANN201
    """The WHERE clauses of a queue query (each filter checked, with the field to fix)."""
    now = now or utcnow()
    conds = [visible(principal)]
    if _choice(tier, TIERS, "tier"):
        conds.append(Alert.tier == tier)
    if _choice(status, STATUSES, "status"):
        conds.append(Alert.status == status)
    if _choice(klass, CLASSES, "class"):
        conds.append(Alert.klass == klass)
    if rule is not None:
        _choice(rule, tuple(sorted(REGISTRY)), "rule")
        conds.append(Alert.rule == rule)
    if region:
        conds.append(Alert.region_code.startswith(normalize_region_prefix(region, field="region")))
    if overdue is not None:
        conds.append(overdue_clause(now) if overdue else ~overdue_clause(now))
    if unit_id is not None:
        conds.append(Alert.unit_id == unit_id)
    return conds


def list_alerts(session: Session, *, principal: Principal, limit: int = 50, offset: int = 0, **filters
                ) -> tuple[list[Alert], int]:
    """A page of alerts (highest tier, then oldest first) and the total count."""
    conds = filtered(principal, **filters)
    total = session.exec(select(func.count()).select_from(Alert).where(*conds)).one()
    rank = case((Alert.status == "closed", 3), (Alert.tier == "high", 0), (Alert.tier == "mid", 1), else_=2)
    rows = session.exec(select(Alert).where(*conds).order_by(rank, Alert.opened_at, Alert.id)
                        .offset(offset).limit(limit)).all()
    return list(rows), int(total)


def get_alert(session: Session, *, principal: Principal, alert_id: int) -> Alert:
    """One alert, if the caller may see it (404 otherwise)."""
    a = session.exec(select(Alert).where(Alert.id == alert_id, visible(principal))
                     .execution_options(populate_existing=True)).first()
    if a is None:
        raise NotFound(f"alert {alert_id} does not exist or is outside your jurisdiction", code="alert.not_found",
                       details={"alert_id": alert_id})
    return a


def actions_of(session: Session, alert_id: int) -> list[AlertAction]:
    return list(session.exec(select(AlertAction).where(AlertAction.alert_id == alert_id)
                             .order_by(AlertAction.id)).all())


def next_acts(principal: Principal, a: Alert) -> list[str]:
    """What the caller may do with the alert now."""
    out = []
    for act in ACTS:
        if a.status not in _NEEDS[act]:
            continue
        if act == "push" and a.tier == "low":
            continue
        if act == "forward" and (a.tier != "high" or a.forwarded_at is not None):
            continue
        if may_on_alert(principal, act, tier=a.tier, unit_id=a.unit_id, region_code=a.region_code):
            out.append(act)
    return out


def stats(session: Session, *, principal: Principal, start: date, end: date, region: str | None = None,
          unit_id: int | None = None) -> dict:
    """Counts per tier and status (now), and the closure rate of the alerts pushed in [start, end]."""
    if end < start:
        raise InvalidInput("to must not be before from", field="to")
    now = utcnow()
    conds = filtered(principal, region=region, unit_id=unit_id, now=now)
    counts = {t: dict.fromkeys(STATUSES, 0) for t in TIERS}
    for tier, status, n in session.execute(select(Alert.tier, Alert.status, func.count()).where(*conds)
                                           .group_by(Alert.tier, Alert.status)).all():
        counts[tier][status] = int(n)
    by_class = dict.fromkeys(CLASSES, 0)
    for klass, n in session.execute(select(Alert.klass, func.count()).where(*conds, Alert.status != "closed")
                                    .group_by(Alert.klass)).all():
        by_class[klass] = int(n)
    overdue = session.exec(select(func.count()).select_from(Alert).where(*conds, overdue_clause(now))).one()
    lo, hi = day_bounds_utc(start)[0], day_bounds_utc(end)[1]
    period = [*conds, Alert.pushed_at >= lo, Alert.pushed_at < hi]
    pushed = session.exec(select(func.count()).select_from(Alert).where(*period)).one()
    closed = session.exec(select(func.count()).select_from(Alert).where(*period, Alert.status == "closed")).one()
    return {"from": start, "to": end, "counts": counts, "open_by_class": by_class, "overdue_open": int(overdue),
            "pushed": int(pushed), "closed_of_pushed": int(closed),
            "closure_rate": round(closed / pushed, 4) if pushed else None}


def act(session: Session, *, principal: Principal, alert_id: int, act: str, **kw) -> Alert:
    """Run one action (push, rectify, accept, reject, close, forward) on a visible alert."""
    a = get_alert(session, principal=principal, alert_id=alert_id)
    return getattr(routing, act)(session, principal=principal, a=a, **kw)
