"""Declaration facts: this year's management plan, and every declaration a unit owes by its tier and the calendar,
with the time it was submitted.

Submission times are read by ONE function, `declaration_submissions`, from the declarations the reports module
keeps (`ledger.reports.declarations.Declaration`: a submitted declaration is frozen; a correction is a new version
that supersedes it, so the first submission of a period is when it was declared).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from alerts import settings as S
from alerts.facts import Clock, Scope, gatherer
from alerts.facts.generation import annual_hazardous, registry_tier_facts
from alerts.rules.declaration import DeclarationDue, PlanFiling, due_date, due_periods
from ledger.batches import Batch
from ledger.registry.models import Plan, Unit
from ledger.registry.tiers import tier_from_facts
from ledger.reports.declarations import Declaration
from ledger.workdays import local_day, year_bounds_utc


def declaration_submissions(session: Session, *, unit_ids: list[int] | None, since: date
                            ) -> dict[tuple[int, str, date], datetime]:
    """{(unit, kind, period start): first submission time} for periods starting on or after `since`."""
    d = Declaration
    q = (select(d.unit_id, d.kind, d.period_start, func.min(d.submitted_at))
         .where(d.status.in_(("submitted", "superseded")), d.submitted_at.is_not(None), d.period_start >= since)
         .group_by(d.unit_id, d.kind, d.period_start))
    if unit_ids is not None:
        q = q.where(d.unit_id.in_(unit_ids))
    return {(int(unit_id), kind, start): at for unit_id, kind, start, at in session.execute(q).all()}


def _tiers(session: Session, clock: Clock, years: list[int]) -> dict[int, dict[int, str]]:
    """{unit: {year: tier}} for every unit that handled hazardous waste: the override, else HJ 1259 §4.2.1 with the
    largest annual quantity of that year and the two before it (§4.2.3)."""
    annual = annual_hazardous(session, list(range(years[0] - 2, years[-1] + 1)), None)
    candidates = set(session.exec(select(Unit.id).where((Unit.is_generator.is_(True)) | (Unit.is_receiver.is_(True)))
                                  ).all())
    reg = registry_tier_facts(session, None, clock.today)
    out: dict[int, dict[int, str]] = {}
    for u in candidates:
        own, licensed, override = reg.get(u, (False, False, None))
        by_year = annual.get(u, {})
        if not (any(by_year.values()) or own or licensed):
            continue  # no hazardous waste at all: nothing to declare under HJ 1259
        out[u] = {y: override or tier_from_facts(
            max_annual_hazardous_g=max(by_year.get(x, 0) for x in (y - 2, y - 1, y)), own_facility=own,
            licensed=licensed) for y in years}
    return out


@gatherer(DeclarationDue)
def declarations_due(session: Session, clock: Clock, scope: Scope | None) -> list[DeclarationDue]:
    """Every declaration due in the lookback window, by each year's tier and the calendar, with its submission."""
    if scope is not None:
        return []  # time-based: the scheduled scan
    since = clock.today - timedelta(days=S.DECLARATION_LOOKBACK_DAYS)
    submitted = declaration_submissions(session, unit_ids=None, since=date(since.year - 1, 1, 1))
    years = list(range(since.year - 1, clock.today.year + 1))
    tiers = _tiers(session, clock, years)
    created = dict(session.execute(select(Unit.id, Unit.created_at).where(Unit.id.in_(sorted(tiers)))).all())
    out = []
    for u, by_year in tiers.items():
        born = local_day(created[u])
        for y, tier in by_year.items():
            for kind, start, end, due in due_periods(tier, today=clock.today, since=since):
                if start.year != y or end < born:
                    continue  # another year's tier decides it, or the unit was registered after the period
                out.append(DeclarationDue(u, kind, start, end, due, submitted.get((u, kind, start)), clock.today))
    return out


@gatherer(PlanFiling)
def plan_filings(session: Session, clock: Clock, scope: Scope | None) -> list[PlanFiling]:
    """Units that generated hazardous waste last year or this year, and when they filed this year's plan."""
    if scope is not None:
        return []
    year = clock.today.year
    due = due_date(date(year, *S.PLAN_DUE))
    if clock.today <= due:
        return []
    start, _ = year_bounds_utc(year - 1)
    generators = set(session.exec(select(Batch.unit_id).where(
        Batch.parent_id.is_(None), Batch.hazardous.is_(True), Batch.occurred_at >= start).distinct()).all())
    filed = dict(session.execute(select(Plan.unit_id, func.min(Plan.filed_at)).where(Plan.year == year)
                                 .group_by(Plan.unit_id)).all())
    return [PlanFiling(u, year, due, filed.get(u), clock.today) for u in sorted(generators)]
