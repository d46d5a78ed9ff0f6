"""Generation facts: this year's generation per code against the plan, monthly totals, what decides the tier,
the last activity of each unit, late entries."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import and_, case, func, or_
from sqlmodel import Session, select

from alerts import settings as S
from alerts.facts import Clock, Scope, gatherer, seconds_between, where, within
from alerts.rules.generation import Activity, LateEntries, MonthlyGeneration, PlanUse, TierFacts
from ledger.batches import Batch
from ledger.journal import JournalRecord
from ledger.registry.models import Facility, Permit, Plan, PlanItem, Unit
from ledger.workdays import SHANGHAI, local_day, month_bounds_utc, year_bounds_utc

SAMPLE = 20  # batch ids kept as evidence


def _unit_ids(scope: Scope | None) -> frozenset[int] | None:
    return None if scope is None else scope.unit_ids


def latest_plans(session: Session, year: int, unit_ids: frozenset[int] | None) -> dict[int, dict[str, int]]:
    """{unit: {code: planned g}} from the latest plan version of each unit for `year` (units that filed one)."""
    latest = (select(Plan.unit_id, func.max(Plan.version).label("v")).where(Plan.year == year)
              .group_by(Plan.unit_id))
    latest = where(latest, within(Plan.unit_id, unit_ids)).subquery()
    q = (select(Plan.unit_id, PlanItem.waste_code, PlanItem.planned_g)
         .join(latest, and_(latest.c.unit_id == Plan.unit_id, latest.c.v == Plan.version))
         .outerjoin(PlanItem, PlanItem.plan_id == Plan.id).where(Plan.year == year))
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for unit_id, code, planned in session.execute(where(q, within(Plan.unit_id, unit_ids))).all():
        out[unit_id]  # a plan filed, perhaps without items
        if code is not None:
            out[unit_id][code] = int(planned)
    return out


@gatherer(PlanUse)
def plan_use(session: Session, clock: Clock, scope: Scope | None) -> list[PlanUse]:
    """Generation of each code this year (root holdings only) against the unit's current plan."""
    units = _unit_ids(scope)
    if units is not None and not units:
        return []
    year = clock.today.year
    start, end = year_bounds_utc(year)
    q = (select(Batch.unit_id, Batch.waste_code, func.sum(Batch.net_g))
         .where(Batch.parent_id.is_(None), Batch.occurred_at >= start, Batch.occurred_at < end)
         .group_by(Batch.unit_id, Batch.waste_code))
    rows = session.execute(where(q, within(Batch.unit_id, units))).all()
    plans = latest_plans(session, year, units)
    facts = []
    unplanned = []
    for unit_id, code, generated in rows:
        plan = plans.get(unit_id)
        planned = plan.get(code) if plan is not None else None
        facts.append(PlanUse(unit_id, year, code, int(generated), plan is not None, planned))
        if plan is not None and (planned is None or generated > planned * S.PLAN_OVERRUN_RATIO):
            unplanned.append((unit_id, code))
    if not unplanned:
        return facts
    # evidence: the latest batches of the pairs that will fire (few)
    samples: dict[tuple[int, str], list[int]] = defaultdict(list)
    pairs = or_(*[and_(Batch.unit_id == u, Batch.waste_code == c) for u, c in unplanned[:500]])
    for bid, u, c in session.execute(select(Batch.id, Batch.unit_id, Batch.waste_code).where(
            Batch.parent_id.is_(None), Batch.occurred_at >= start, Batch.occurred_at < end, pairs)
            .order_by(Batch.id.desc()).limit(SAMPLE * len(unplanned[:500]))).all():
        if len(samples[(u, c)]) < SAMPLE:
            samples[(u, c)].append(bid)
    return [PlanUse(f.unit_id, f.year, f.waste_code, f.generated_g, f.plan_filed, f.planned_g,
                    tuple(samples.get((f.unit_id, f.waste_code), ()))) for f in facts]


def _month(d: date, back: int) -> tuple[int, int]:
    n = d.year * 12 + d.month - 1 - back
    return n // 12, n % 12 + 1


@gatherer(MonthlyGeneration)
def monthly(session: Session, clock: Clock, scope: Scope | None) -> list[MonthlyGeneration]:
    """Each unit's generation per code in the last complete month and the three months before it."""
    units = _unit_ids(scope)
    if units is not None and not units:
        return []
    months = [_month(clock.today, back) for back in (4, 3, 2, 1)]  # oldest first; the last is the month checked
    bounds = [month_bounds_utc(year=y, month=m) for y, m in months]
    sums = [func.sum(case((and_(Batch.occurred_at >= lo, Batch.occurred_at < hi), Batch.net_g), else_=0))
            for lo, hi in bounds]
    q = (select(Batch.unit_id, Batch.waste_code, *sums)
         .where(Batch.parent_id.is_(None), Batch.occurred_at >= bounds[0][0], Batch.occurred_at < bounds[-1][1])
         .group_by(Batch.unit_id, Batch.waste_code))
    y, m = months[-1]
    label = f"{y:04d}-{m:02d}"
    return [MonthlyGeneration(u, code, label, int(g3), (int(g0), int(g1), int(g2)))
            for u, code, g0, g1, g2, g3 in session.execute(where(q, within(Batch.unit_id, units))).all()]


def annual_hazardous(session: Session, years: list[int], unit_ids: frozenset[int] | None
                     ) -> dict[int, dict[int, int]]:
    """{unit: {year: grams of hazardous waste generated}} for the given years (root holdings)."""
    bounds = [year_bounds_utc(y) for y in years]
    sums = [func.sum(case((and_(Batch.occurred_at >= lo, Batch.occurred_at < hi), Batch.net_g), else_=0))
            for lo, hi in bounds]
    q = (select(Batch.unit_id, *sums).where(Batch.parent_id.is_(None), Batch.hazardous.is_(True),
                                           Batch.occurred_at >= bounds[0][0], Batch.occurred_at < bounds[-1][1])
         .group_by(Batch.unit_id))
    return {row[0]: {y: int(g) for y, g in zip(years, row[1:], strict=True)}
            for row in session.execute(where(q, within(Batch.unit_id, unit_ids))).all()}


def registry_tier_facts(session: Session, unit_ids: set[int] | None, today: date
                        ) -> dict[int, tuple[bool, bool, str | None]]:
    """{unit: (own utilisation/disposal facility, valid operating licence, tier override)} for `unit_ids` (None:
    every unit)."""
    if unit_ids is not None and not unit_ids:
        return {}
    ids = None if unit_ids is None else frozenset(unit_ids)
    own = set(session.exec(where(select(Facility.unit_id).where(
        Facility.kind.in_(("utilisation", "disposal"))), within(Facility.unit_id, ids))).all())
    licensed = set(session.exec(where(select(Permit.unit_id).where(
        Permit.kind == "operating_licence", Permit.valid_to >= today), within(Permit.unit_id, ids))).all())
    overrides = dict(session.execute(where(select(Unit.id, Unit.tier_override), within(Unit.id, ids))).all())
    return {u: (u in own, u in licensed, overrides.get(u)) for u in (ids if ids is not None else overrides)}


@gatherer(TierFacts)
def tier_facts(session: Session, clock: Clock, scope: Scope | None) -> list[TierFacts]:
    """The annual hazardous quantities that decide each generating unit's tier (HJ 1259 §4.2.3)."""
    units = _unit_ids(scope)
    if units is not None and not units:
        return []
    year = clock.today.year
    years = [year - 3, year - 2, year - 1, year]
    annual = annual_hazardous(session, years, units)
    reg = registry_tier_facts(session, set(annual), clock.today)
    return [TierFacts(u, year, tuple((y, g[y]) for y in years), *reg[u]) for u, g in annual.items()]


@gatherer(Activity)
def activity(session: Session, clock: Clock, scope: Scope | None) -> list[Activity]:
    """Units whose last record is older than the silence threshold, with how regularly they weighed before."""
    units = _unit_ids(scope)
    if units is not None and not units:
        return []
    cutoff = clock.days_ago(S.SILENCE_DAYS)
    q = (select(JournalRecord.unit_id, func.max(JournalRecord.occurred_at)).group_by(JournalRecord.unit_id)
         .having(func.max(JournalRecord.occurred_at) < cutoff))
    last = {u: at for u, at in session.execute(where(q, within(JournalRecord.unit_id, units))).all()}
    if not last:
        return []
    earliest = min(last.values()) - S.SILENCE_LOOKBACK_WEEKS * _WEEK
    weeks: dict[int, set[int]] = defaultdict(set)
    for u, at in session.execute(select(JournalRecord.unit_id, JournalRecord.occurred_at).where(
            JournalRecord.unit_id.in_(sorted(last)), JournalRecord.kind == "generated",
            JournalRecord.occurred_at >= earliest)).all():
        back = (last[u] - at) // _WEEK
        if back < S.SILENCE_LOOKBACK_WEEKS:
            weeks[u].add(int(back))
    return [Activity(u, local_day(at), len(weeks[u]), clock.today) for u, at in last.items()]


_WEEK = timedelta(weeks=1)


@gatherer(LateEntries)
def late_entries(session: Session, clock: Clock, scope: Scope | None) -> list[LateEntries]:
    """Weighings of the last weeks entered more than LATE_ENTRY_HOURS after they happened."""
    units = _unit_ids(scope)
    if units is not None and not units:
        return []
    delay = seconds_between(session, Batch.occurred_at, Batch.created_at)
    q = (select(Batch.id, Batch.unit_id, Batch.occurred_at, delay)
         .where(Batch.parent_id.is_(None), Batch.created_at >= clock.days_ago(40),
                delay > S.LATE_ENTRY_HOURS * 3600))
    by: dict[tuple[int, str], list[tuple[int, float]]] = defaultdict(list)
    for bid, u, at, secs in session.execute(where(q, within(Batch.unit_id, units))).all():
        local = at.astimezone(SHANGHAI)
        by[(u, f"{local.year:04d}-{local.month:02d}")].append((bid, float(secs) / 3600))
    return [LateEntries(u, m, tuple(sorted(e))) for (u, m), e in by.items()]
