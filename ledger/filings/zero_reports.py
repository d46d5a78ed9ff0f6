"""零报告: a licensed operator that must report daily states, in one action, that a day had no movements.

One report per unit and day; filing it again returns the first one. A day that has records cannot be reported
empty. The inbox lists the recent days that have neither records nor a zero report (computed on read).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, Session, SQLModel, select

from ledger.auth import Principal, audit, require_unit
from ledger.errors import Conflict, InvalidInput
from ledger.filings import inbox
from ledger.filings.models import ZeroReport
from ledger.journal import JournalRecord
from ledger.registry.models import Permit
from ledger.types import utcnow
from ledger.validation import Day, Input
from ledger.workdays import day_bounds_utc, local_day
from ledger.workdays import today as shanghai_today

LATE_FILING_DAYS = 31  # a zero report may be filed for a past day up to this many days back
MISSING_LOOKBACK_DAYS = 7  # the inbox lists days without a report over this many past days
DAILY_REPORTING_KINDS = ("operating_licence", "collection_licence")  # holders report daily (经营单位日报)


class ZeroReportIn(Input):
    day: Day | None = Field(default=None, description="the Shanghai calendar day reported empty; default today")
    note: str | None = Field(default=None, max_length=300)


class ZeroReportPublic(SQLModel):
    id: int
    unit_id: int
    day: date
    filed_at: datetime
    filed_by_name: str
    note: str | None
    already_filed: bool = False


def public(z: ZeroReport, *, already: bool = False) -> ZeroReportPublic:
    return ZeroReportPublic(id=z.id, unit_id=z.unit_id, day=z.day, filed_at=z.filed_at,
                            filed_by_name=z.filed_by_name, note=z.note, already_filed=already)


def reports_daily(session: Session, *, unit_id: int, on: date) -> bool:
    """True when the unit holds, on that day, a licence whose holders report daily."""
    return session.exec(select(Permit.id).where(Permit.unit_id == unit_id, Permit.kind.in_(DAILY_REPORTING_KINDS),
                                                Permit.valid_from <= on, Permit.valid_to >= on)).first() is not None


def _days_with_records(session: Session, unit_id: int, first: date, last: date) -> set[date]:
    start, _ = day_bounds_utc(first)
    _, end = day_bounds_utc(last)
    rows = session.exec(select(JournalRecord.occurred_at).where(
        JournalRecord.unit_id == unit_id, JournalRecord.occurred_at >= start, JournalRecord.occurred_at < end)).all()
    return {local_day(r) for r in rows}


def file_zero_report(session: Session, *, principal: Principal, unit_id: int, data: ZeroReportIn
                     ) -> tuple[ZeroReport, bool]:
    """File (or find) the unit's zero report for a day; returns (report, created)."""
    unit = require_unit(session, principal, unit_id, act="operate")
    today = shanghai_today()
    day = data.day or today
    if day > today:
        raise InvalidInput(f"{day} is in the future: report today or an earlier day",
                           field="day", code="zero_report.future_day")
    if (today - day).days > LATE_FILING_DAYS:
        raise InvalidInput(f"{day} is more than {LATE_FILING_DAYS} days ago: a late report goes to the authority "
                           "with the monthly declaration, not as a zero report", field="day",
                           code="zero_report.too_late")
    if not reports_daily(session, unit_id=unit.id, on=day):
        raise InvalidInput(f"{unit.name} held no operating or collection licence on {day}: only licensed operators "
                           "report daily, so there is no zero report to file", field="unit_id",
                           code="zero_report.not_required")
    existing = session.exec(select(ZeroReport).where(ZeroReport.unit_id == unit.id, ZeroReport.day == day)).first()
    if existing is not None:
        return existing, False
    if day in _days_with_records(session, unit.id, day, day):
        raise Conflict(f"{unit.name} has ledger records on {day}: the day is reported by its records, not as empty",
                       code="zero_report.day_has_records", details={"field": "day", "day": day.isoformat()})
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    table = ZeroReport.__table__
    new_id = session.execute(insert(table).values(
        unit_id=unit.id, day=day, filed_at=utcnow(), filed_by=principal.user_id or None,
        filed_by_name=principal.username, note=data.note).on_conflict_do_nothing(
        index_elements=["unit_id", "day"]).returning(table.c.id)).scalar_one_or_none()
    report = session.exec(select(ZeroReport).where(ZeroReport.unit_id == unit.id, ZeroReport.day == day)
                          .execution_options(populate_existing=True)).one()
    if new_id is None:  # a concurrent filing of the same day got there first
        return report, False
    audit(session, principal, action="zero_report.file", entity="zero_report", entity_id=report.id,
          detail={"unit_id": unit.id, "day": day.isoformat()})
    return report, True


def list_zero_reports(session: Session, *, principal: Principal, unit_id: int, date_from: date | None = None,
                      date_to: date | None = None) -> list[ZeroReport]:
    unit = require_unit(session, principal, unit_id)
    q = select(ZeroReport).where(ZeroReport.unit_id == unit.id)
    if date_from:
        q = q.where(ZeroReport.day >= date_from)
    if date_to:
        q = q.where(ZeroReport.day <= date_to)
    return list(session.exec(q.order_by(ZeroReport.day.desc()).limit(400)).all())


def missing_days(session: Session, unit_id: int) -> list[dict]:
    """Inbox (computed): recent days of a licensed operator with neither records nor a zero report."""
    today = shanghai_today()
    first, last = today - timedelta(days=MISSING_LOOKBACK_DAYS), today - timedelta(days=1)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    days = [d for d in days if reports_daily(session, unit_id=unit_id, on=d)]
    if not days:
        return []
    busy = _days_with_records(session, unit_id, days[0], days[-1])
    filed = set(session.exec(select(ZeroReport.day).where(ZeroReport.unit_id == unit_id,
                                                          ZeroReport.day >= days[0])).all())
    missing = [d for d in days if d not in busy and d not in filed]
    if not missing:
        return []
    return [{"id": None, "unit_id": unit_id, "kind": "daily_report.missing", "needs_action": True, "open": True,
             "title": f"没有日报: {', '.join(d.isoformat() for d in missing)} — no records and no zero report; file a "
                      "zero report (零报告) for each day nothing moved",
             "subject": {"type": "unit", "id": unit_id}, "data": {"days": [d.isoformat() for d in missing]},
             "created_at": utcnow()}]


inbox.computed.append(missing_days)
