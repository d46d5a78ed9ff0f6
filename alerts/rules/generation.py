"""产生 generation rules: plan overrun and out-of-plan codes, monthly swings, tier crossings, silence, late entries."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from alerts import settings as S
from alerts.rules import Finding, flagged, kg, rule, t
from ledger.registry.models import TIER_NAMES
from ledger.registry.tiers import tier_from_facts


@dataclass(frozen=True)
class PlanUse:
    """One waste code a unit generated this year, against the latest version of its plan for the year."""

    unit_id: int
    year: int
    waste_code: str
    generated_g: int
    plan_filed: bool
    planned_g: int | None  # None: the code is not in the plan (or no plan was filed)
    batch_ids: tuple[int, ...] = ()  # a few of the batches behind the figure


@rule(code="GEN-PLAN-OVERRUN", klass="generation", tiers=("mid",), title="产生量超出管理计划",
      checks="Year-to-date generation of a waste code above the quantity planned for the year",
      threshold="> 120% of the planned annual quantity", basis="HJ 1259 §5.2.3 (plan changed when it no longer "
      "fits); margin: platform practice", fact=PlanUse, kind="event")
def plan_overrun(f: PlanUse) -> Iterator[Finding]:
    if f.planned_g and f.generated_g > f.planned_g * S.PLAN_OVERRUN_RATIO:
        pct = f.generated_g * 100 // f.planned_g
        yield Finding("GEN-PLAN-OVERRUN", "mid", f.unit_id, f"unit:{f.unit_id}:{f.year}:{f.waste_code}",
                      f"{f.waste_code} 本年已产生 {t(f.generated_g)} 吨，达管理计划 {t(f.planned_g)} 吨的 {pct}%",
                      {"year": f.year, "waste_code": f.waste_code, "generated_kg": kg(f.generated_g),
                       "planned_kg": kg(f.planned_g), "ratio_pct": pct, "batch_ids": list(f.batch_ids)})


@rule(code="GEN-NOT-IN-PLAN", klass="generation", tiers=("low",), title="产生计划外危险废物",
      checks="A waste code generated this year that the unit's filed plan for the year does not list",
      threshold="any batch of an unplanned code (the ledger flags it `not_in_plan`)",
      basis="HJ 1259 §5.2.3; 转移管理办法 第十四条", fact=PlanUse, kind="event",
      triggers={"generated": flagged("not_in_plan")})
def not_in_plan(f: PlanUse) -> Iterator[Finding]:
    if f.plan_filed and f.planned_g is None and f.generated_g > 0:
        yield Finding("GEN-NOT-IN-PLAN", "low", f.unit_id, f"unit:{f.unit_id}:{f.year}:{f.waste_code}",
                      f"产生了 {f.year} 年管理计划未列明的 {f.waste_code}（{t(f.generated_g)} 吨）",
                      {"year": f.year, "waste_code": f.waste_code, "generated_kg": kg(f.generated_g),
                       "batch_ids": list(f.batch_ids)})


@dataclass(frozen=True)
class MonthlyGeneration:
    """A unit's generation of one code in the last complete month and in the three months before it."""

    unit_id: int
    waste_code: str
    month: str  # YYYY-MM (Asia/Shanghai)
    month_g: int
    previous_g: tuple[int, int, int]  # oldest first


@rule(code="GEN-MONTH-SWING", klass="generation", tiers=("low",), title="月产生量异常波动",
      checks="A month's generation of a code far off the mean of the three months before it",
      threshold="more than ±50% off the trailing 3-month mean (mean ≥ 100 kg)",
      basis="HJ 1259 §6.1.1 (真实、准确、完整); band: platform practice", fact=MonthlyGeneration, kind="event")
def month_swing(f: MonthlyGeneration) -> Iterator[Finding]:
    mean = sum(f.previous_g) / 3
    if mean < S.MONTH_SWING_MIN_MEAN_G:
        return
    change = (f.month_g - mean) / mean
    if abs(change) > S.MONTH_SWING_RATIO:
        word = "增加" if change > 0 else "减少"
        yield Finding("GEN-MONTH-SWING", "low", f.unit_id, f"unit:{f.unit_id}:{f.month}:{f.waste_code}",
                      f"{f.month} {f.waste_code} 产生量 {t(f.month_g)} 吨，较前三月均值{word} {abs(change) * 100:.0f}%",
                      {"month": f.month, "waste_code": f.waste_code, "month_kg": kg(f.month_g),
                       "previous_kg": [kg(g) for g in f.previous_g], "mean_kg": kg(round(mean)),
                       "change_pct": round(change * 100, 1)})


@dataclass(frozen=True)
class TierFacts:
    """What decides a unit's management tier, before this year and with this year's generation so far."""

    unit_id: int
    year: int
    annual_g: tuple[tuple[int, int], ...]  # (year, hazardous grams) for the three years before and this year
    own_facility: bool
    licensed: bool
    override: str | None = None

    def max_g(self, years: range) -> int:
        return max((g for y, g in self.annual_g if y in years), default=0)


@rule(code="GEN-TIER-CHANGE", klass="generation", tiers=("low",), title="管理类别发生变化",
      checks="This year's hazardous generation crosses a tier line, so the unit's management tier changes",
      threshold="the largest annual quantity of the last 3 years crosses 10 t or 100 t",
      basis="HJ 1259 §4.2.1, §4.2.3", fact=TierFacts, kind="event")
def tier_change(f: TierFacts) -> Iterator[Finding]:
    if f.override:
        return  # the regulator fixed the tier; crossings do not change it
    before = tier_from_facts(max_annual_hazardous_g=f.max_g(range(f.year - 3, f.year)), own_facility=f.own_facility,
                             licensed=f.licensed)
    now_g = f.max_g(range(f.year - 2, f.year + 1))
    now = tier_from_facts(max_annual_hazardous_g=now_g, own_facility=f.own_facility, licensed=f.licensed)
    if before != now:
        yield Finding("GEN-TIER-CHANGE", "low", f.unit_id, f"unit:{f.unit_id}:{f.year}:{now}",
                      f"危险废物年产生量 {t(now_g)} 吨，管理类别由{TIER_NAMES[before]}变为{TIER_NAMES[now]}",
                      {"year": f.year, "from": before, "to": now, "annual_kg": {str(y): kg(g) for y, g in f.annual_g},
                       "lines_t": [g // 1_000_000 for g in S.TIER_LINES_G]})


@dataclass(frozen=True)
class Activity:
    """When a unit last wrote a ledger record, and how regularly it generated before that."""

    unit_id: int
    last_day: date  # Shanghai date of the last record
    active_weeks: int  # weeks with a weighing among the SILENCE_LOOKBACK_WEEKS before the last record
    today: date


@rule(code="GEN-SILENCE", klass="generation", tiers=("mid",), title="台账长期无记录",
      checks="No ledger record at all for a while at a unit that usually weighs waste every week",
      threshold="no record for > 30 days after weighings in ≥ 8 of the 12 weeks before",
      basis="HJ 1259 §6.2 (每个容器记录), 五即 (seed 004 §五.9); to verify", fact=Activity)
def silence(f: Activity) -> Iterator[Finding]:
    idle = (f.today - f.last_day).days
    if idle > S.SILENCE_DAYS and f.active_weeks >= S.SILENCE_MIN_ACTIVE_WEEKS:
        yield Finding("GEN-SILENCE", "mid", f.unit_id, f"unit:{f.unit_id}",
                      f"已 {idle} 天无台账记录（此前 {S.SILENCE_LOOKBACK_WEEKS} 周中有 {f.active_weeks} 周产生记录）",
                      {"last_record_day": f.last_day.isoformat(), "idle_days": idle, "active_weeks": f.active_weeks})


@dataclass(frozen=True)
class LateEntries:
    """A unit's weighings of one month entered long after they happened."""

    unit_id: int
    month: str
    entries: tuple[tuple[int, float], ...]  # (batch id, hours between weighing and entry)


@rule(code="GEN-LATE-ENTRY", klass="generation", tiers=("low",), title="产生记录补录滞后",
      checks="Weighings entered into the ledger long after they happened",
      threshold="entered > 24 h after weighing (flag `late_entry`)",
      basis="五即 即产生即称重即打码 (seed 004 §五.9); HJ 1259 §6.1.2", fact=LateEntries, kind="event",
      triggers={"generated": flagged("late_entry")})
def late_entry(f: LateEntries) -> Iterator[Finding]:
    late = [(b, h) for b, h in f.entries if h > S.LATE_ENTRY_HOURS]
    if late:
        worst = max(h for _, h in late)
        yield Finding("GEN-LATE-ENTRY", "low", f.unit_id, f"unit:{f.unit_id}:{f.month}",
                      f"{f.month} 有 {len(late)} 批危险废物称重后超过 {S.LATE_ENTRY_HOURS} 小时才录入（最长 {worst:.0f} 小时）",
                      {"month": f.month, "batch_ids": [b for b, _ in late][:50], "count": len(late),
                       "worst_hours": round(worst, 1)})
