"""申报 declaration rules: the yearly plan missing after 31 March, and overdue monthly/quarterly/annual
declarations. Lateness grades the tier: low one day after the due date, mid after 5 working days, high after 30
days. The fact is gone once the filing is submitted (a low alert then closes itself)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from alerts import settings as S
from alerts.rules import Finding, rule
from ledger.workdays import add_working_days, is_working_day

KIND_NAMES = {"monthly": "月度", "quarterly": "季度", "annual": "年度"}


def lateness_tier(due_on: date, today: date) -> str | None:
    """The tier of a filing still missing on `today` that was due on `due_on` (None: not late yet)."""
    if today - due_on > timedelta(days=S.OVERDUE_HIGH_DAYS):
        return "high"
    if today > add_working_days(due_on, S.OVERDUE_MID_WORKING_DAYS):
        return "mid"
    if (today - due_on).days >= S.OVERDUE_LOW_DAYS:
        return "low"
    return None


def due_date(d: date) -> date:
    """A due date on a holiday or weekend moves to the next working day (民法典 第二百零三条)."""
    return d if is_working_day(d) else add_working_days(d, 1)


def _month_after(year: int, month: int, k: int = 1) -> tuple[int, int]:
    n = year * 12 + month - 1 + k
    return n // 12, n % 12 + 1


@lru_cache(maxsize=64)
def due_periods(tier: str, *, today: date, since: date) -> tuple[tuple[str, date, date, date], ...]:
    """(kind, period start, period end, due date) of every declaration a unit of `tier` owes whose due date lies in
    [since, today): 重点 monthly + annual, 简化 quarterly + annual, 登记 annual (HJ 1259 §7.2)."""
    raw = []
    for year in range(since.year - 1, today.year + 1):
        raw.append(("annual", date(year, 1, 1), date(year, 12, 31), date(year + 1, 3, 31)))
        if tier == "key":
            for m in range(1, 13):
                ny, nm = _month_after(year, m)
                raw.append(("monthly", date(year, m, 1), date(ny, nm, 1) - timedelta(days=1),
                            date(ny, nm, S.DECLARATION_DUE_DAY)))
        elif tier == "simplified":
            for q in range(4):
                ny, nm = _month_after(year, 3 * q + 1, 3)
                raw.append(("quarterly", date(year, 3 * q + 1, 1), date(ny, nm, 1) - timedelta(days=1),
                            date(ny, nm, S.DECLARATION_DUE_DAY)))
    # a holiday moves a due date by days, never by weeks: only dates near the window need the calendar
    near = [(k, s, e, d) for k, s, e, d in raw if since - timedelta(days=15) <= d < today]
    return tuple((k, s, e, due) for k, s, e, d in near if since <= (due := due_date(d)) < today)


@dataclass(frozen=True)
class PlanFiling:
    """Whether a unit that must plan has filed this year's management plan."""

    unit_id: int
    year: int
    due_on: date  # 31 March, moved to the next working day when it is a holiday
    filed_at: datetime | None
    today: date


@rule(code="DEC-PLAN-MISSING", klass="declaration", tiers=("low", "mid", "high"), title="未按期备案管理计划",
      checks="A generator without this year's management plan after the deadline",
      threshold="31 March: low +1 day, mid +5 working days, high +30 days", basis="HJ 1259 §5.2.2",
      fact=PlanFiling)
def plan_missing(f: PlanFiling) -> Iterator[Finding]:
    tier = lateness_tier(f.due_on, f.today) if f.filed_at is None else None
    if tier:
        late = (f.today - f.due_on).days
        yield Finding("DEC-PLAN-MISSING", tier, f.unit_id, f"unit:{f.unit_id}:plan:{f.year}",
                      f"{f.year} 年危险废物管理计划应于 {f.due_on} 前备案，已逾期 {late} 天",
                      {"year": f.year, "due_on": f.due_on.isoformat(), "days_late": late})


@dataclass(frozen=True)
class DeclarationDue:
    """One declaration a unit owes for a period, and when it was submitted (None: not yet).

    What is due follows from the unit's tier (重点 monthly + annual, 简化 quarterly + annual, 登记 annual) and the
    calendar; submission times come from the reports module's `declaration` table (alerts.facts)."""

    unit_id: int
    kind: str  # monthly | quarterly | annual
    period_start: date
    period_end: date
    due_on: date
    submitted_at: datetime | None
    today: date


def _declaration_rule(kind: str, code: str, f: DeclarationDue) -> Iterator[Finding]:
    if f.kind != kind or f.submitted_at is not None:
        return
    tier = lateness_tier(f.due_on, f.today)
    if tier:
        late = (f.today - f.due_on).days
        period = f"{f.period_start}～{f.period_end}"
        yield Finding(code, tier, f.unit_id, f"unit:{f.unit_id}:{kind}:{f.period_start.isoformat()}",
                      f"{period} {KIND_NAMES[kind]}申报应于 {f.due_on} 前完成，已逾期 {late} 天",
                      {"kind": kind, "period_start": f.period_start.isoformat(), "period_end": f.period_end.isoformat(),
                       "due_on": f.due_on.isoformat(), "days_late": late})


_LADDER = "low +1 day, mid +5 working days, high +30 days"


@rule(code="DEC-MONTHLY-LATE", klass="declaration", tiers=("low", "mid", "high"), title="月度申报逾期",
      checks="A 重点监管 unit's monthly declaration not submitted by the 15th of the next month",
      threshold=f"due the 15th: {_LADDER}", basis="HJ 1259 §7.2.1", fact=DeclarationDue)
def monthly_late(f: DeclarationDue) -> Iterator[Finding]:
    yield from _declaration_rule("monthly", "DEC-MONTHLY-LATE", f)


@rule(code="DEC-QUARTERLY-LATE", klass="declaration", tiers=("low", "mid", "high"), title="季度申报逾期",
      checks="A 简化管理 unit's quarterly declaration not submitted by the 15th of the next quarter's first month",
      threshold=f"due the 15th: {_LADDER}", basis="HJ 1259 §7.2.2", fact=DeclarationDue)
def quarterly_late(f: DeclarationDue) -> Iterator[Finding]:
    yield from _declaration_rule("quarterly", "DEC-QUARTERLY-LATE", f)


@rule(code="DEC-ANNUAL-LATE", klass="declaration", tiers=("low", "mid", "high"), title="年度申报逾期",
      checks="A unit's annual declaration for last year not submitted by 31 March",
      threshold=f"due 31 March: {_LADDER}", basis="HJ 1259 §7.2.1–7.2.3", fact=DeclarationDue)
def annual_late(f: DeclarationDue) -> Iterator[Finding]:
    yield from _declaration_rule("annual", "DEC-ANNUAL-LATE", f)
