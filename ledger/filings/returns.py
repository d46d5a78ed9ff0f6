"""A regulator returns a filing to the unit (退回): the unit's inbox shows it until the unit files again.

A returned plan waits for a later version of that year's plan; a returned declaration waits for a later version
of that period's declaration to be submitted (the unit corrects it: `POST …/declarations/{id}/correct`, then
submits). The returned filing itself stays as it was: it is part of the record.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func
from sqlmodel import Field, Session, select

from ledger.auth import Principal, audit, require_unit
from ledger.errors import Conflict, NotFound
from ledger.filings import inbox
from ledger.filings.models import InboxItem
from ledger.registry.models import Plan
from ledger.reports.declarations import KIND_NAMES, Declaration
from ledger.validation import Input


class ReturnIn(Input):
    reason: str = Field(min_length=4, max_length=500, description="what the unit must correct before filing again")


def _latest_version(session: Session, unit_id: int, year: int) -> int:
    return int(session.exec(select(func.max(Plan.version)).where(Plan.unit_id == unit_id, Plan.year == year))
               .one() or 0)


def return_plan(session: Session, *, principal: Principal, unit_id: int, plan_id: int, data: ReturnIn
                ) -> InboxItem:
    """The regulator returns the unit's current plan for a year with a reason; a new version settles it."""
    unit = require_unit(session, principal, unit_id, act="regulate")
    plan = session.get(Plan, plan_id)
    if plan is None or plan.unit_id != unit.id:
        raise NotFound(f"plan {plan_id} is not a plan of unit {unit_id}", code="plan.not_found")
    latest = _latest_version(session, unit.id, plan.year)
    if plan.version != latest:
        raise Conflict(f"plan {plan.year} version {plan.version} is superseded by version {latest}; return the "
                       "current version", code="plan.superseded", details={"field": "plan_id", "latest": latest})
    open_item = waiting_plan_return(session, plan.id)
    if open_item is not None:
        raise Conflict(f"plan {plan.year} version {plan.version} was already returned and waits for the unit",
                       code="plan.already_returned", details={"item_id": open_item.id})
    item = inbox.notify(session, unit_id=unit.id, kind="plan.returned",
                        title=f"{plan.year} 年管理计划（第 {plan.version} 版）被退回：{data.reason}",
                        subject=("plan", plan.id),
                        data={"year": plan.year, "version": plan.version, "reason": data.reason,
                              "returned_by": principal.username, "refile": f"POST /units/{unit.id}/plans"})
    audit(session, principal, action="plan.return", entity="plan", entity_id=plan.id,
          detail={"unit_id": unit.id, "year": plan.year, "version": plan.version, "reason": data.reason})
    return item


def waiting_plan_return(session: Session, plan_id: int) -> InboxItem | None:
    """The return of this plan version that still waits for the unit (a new version settles it), if any."""
    return session.exec(select(InboxItem).where(InboxItem.subject_type == "plan", InboxItem.subject_id == plan_id,
                                                InboxItem.kind == "plan.returned", InboxItem.resolved_at.is_(None))
                        .order_by(InboxItem.id.desc())).first()


def _plan_still_open(session: Session, item: InboxItem) -> bool:
    """A returned plan waits until the unit files a later version for that year."""
    return _latest_version(session, item.unit_id, int(item.data["year"])) <= int(item.data["version"])


inbox.still_open["plan.returned"] = _plan_still_open


# ---- declarations ------------------------------------------------------------------------------------------------

def _latest_submitted(session: Session, unit_id: int, kind: str, period_start: date) -> int:
    return int(session.exec(select(func.max(Declaration.version)).where(
        Declaration.unit_id == unit_id, Declaration.kind == kind, Declaration.period_start == period_start,
        Declaration.status.in_(("submitted", "superseded")))).one() or 0)


def return_declaration(session: Session, *, principal: Principal, unit_id: int, declaration_id: int,
                       data: ReturnIn) -> InboxItem:
    """The regulator returns a submitted declaration with a reason; a later submitted version settles it."""
    unit = require_unit(session, principal, unit_id, act="regulate")
    d = session.get(Declaration, declaration_id)
    if d is None or d.unit_id != unit.id:
        raise NotFound(f"declaration {declaration_id} is not a declaration of unit {unit_id}",
                       code="declaration.not_found")
    if d.status != "submitted":
        raise Conflict(f"declaration {d.id} is {d.status}: only the submitted version of a period is returned",
                       code="declaration.not_submitted", details={"status": d.status})
    open_item = session.exec(select(InboxItem).where(
        InboxItem.subject_type == "declaration", InboxItem.subject_id == d.id,
        InboxItem.kind == "declaration.returned", InboxItem.resolved_at.is_(None))).first()
    if open_item is not None:
        raise Conflict(f"declaration {d.id} was already returned and waits for the unit's correction",
                       code="declaration.already_returned", details={"item_id": open_item.id})
    period = d.period_start.isoformat()
    item = inbox.notify(session, unit_id=unit.id, kind="declaration.returned",
                        title=f"{KIND_NAMES[d.kind]}（{period} 起，第 {d.version} 版）被退回：{data.reason}",
                        subject=("declaration", d.id),
                        data={"kind": d.kind, "period_start": period, "version": d.version, "reason": data.reason,
                              "returned_by": principal.username,
                              "correct": f"POST /units/{unit.id}/declarations/{d.id}/correct"})
    audit(session, principal, action="declaration.return", entity="declaration", entity_id=d.id,
          detail={"unit_id": unit.id, "kind": d.kind, "period_start": period, "version": d.version,
                  "reason": data.reason})
    return item


def _declaration_still_open(session: Session, item: InboxItem) -> bool:
    """A returned declaration waits until a later version of that period is submitted."""
    start = date.fromisoformat(item.data["period_start"])
    return _latest_submitted(session, item.unit_id, item.data["kind"], start) <= int(item.data["version"])


inbox.still_open["declaration.returned"] = _declaration_still_open
