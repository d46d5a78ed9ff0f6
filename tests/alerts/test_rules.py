"""Every rule fires on a fact just above its threshold and stays quiet just under it (pure functions, no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from alerts import settings as S
from alerts.rules import REGISTRY, load_all
from alerts.rules.declaration import DeclarationDue, PlanFiling, lateness_tier
from alerts.rules.generation import Activity, LateEntries, MonthlyGeneration, PlanUse, TierFacts
from alerts.rules.inventory import BalanceCheck, FacilityStock, HeldBatch
from alerts.rules.operation import (
    CrossProvince,
    FacilityLoad,
    Licence,
    LicenceUse,
    ProcessingMethods,
    ReceivedHolding,
    ReceivedLoad,
)
from alerts.rules.transfer import ManifestFlags, Receipt, ReceiptDue, Refusal, RefusedPickup, Trip
from ledger.workdays import SHANGHAI

load_all()
TODAY = date(2025, 6, 16)  # a Monday
NOW = datetime(2025, 6, 16, 10, 0, tzinfo=SHANGHAI).astimezone(UTC)
T = 1_000_000  # grams in a tonne


def facility(stock_g: int, capacity_g: int | None = 10 * T, storage_type: str | None = "贮存库") -> FacilityStock:
    return FacilityStock(facility_id=7, unit_id=1, code="ZC-01", name="1号库", storage_type=storage_type,
                         capacity_g=capacity_g, stock_g=stock_g)


def trip(*, hours_late: float, points: tuple[datetime, ...] = (), last_before: datetime | None = None) -> Trip:
    planned = date(2025, 6, 10)
    end_of_day = datetime(2025, 6, 10, 23, 59, 59, 999999, tzinfo=SHANGHAI)
    now = end_of_day + timedelta(hours=hours_late)
    return Trip(manifest_id=3, number="20253701000001", hauler_id=2, planned_date=planned,
                picked_up_at=datetime(2025, 6, 10, 9, tzinfo=SHANGHAI), status="in_transit", points=points,
                last_point_before=last_before, now=now)


def due(kind: str, *, days_late: int, submitted: datetime | None = None) -> DeclarationDue:
    due_on = date(2025, 5, 15)  # a Thursday
    return DeclarationDue(unit_id=1, kind=kind, period_start=date(2025, 4, 1), period_end=date(2025, 4, 30),
                          due_on=due_on, submitted_at=submitted, today=due_on + timedelta(days=days_late))


def lines(shipped: int, received: int) -> Receipt:
    return Receipt(manifest_id=5, number="20253701000005", originator_id=1, receiver_id=4,
                   lines=((1, "900-249-08", shipped, received),))


def cross(**kw) -> CrossProvince:
    base = dict(manifest_id=9, number="20253701000009", originator_id=1, receiver_id=4, picked_up_on=TODAY,
                lines=(("900-249-08", 10 * T),), approval_number="鲁跨 2025-01", approval_parties_match=True,
                approval_codes=("900-249-08",), approval_valid=(date(2025, 1, 1), date(2025, 12, 31)),
                approval_cap_g=100 * T, approval_used_g=100 * T)
    base.update(kw)
    return CrossProvince(**base)


def month(month_g: int) -> MonthlyGeneration:
    return MonthlyGeneration(unit_id=1, waste_code="900-249-08", month="2025-05", month_g=month_g,
                             previous_g=(T, T, T))


def tier_facts(this_year_g: int) -> TierFacts:
    return TierFacts(unit_id=1, year=2025, annual_g=((2022, 8 * T), (2023, 9 * T), (2024, 9 * T), (2025, this_year_g)),
                     own_facility=False, licensed=False)


# (rule, fact that fires, expected tier, fact just under the threshold [, the lower tier it gets instead of none])
CASES = [
    ("GEN-PLAN-OVERRUN",
     PlanUse(1, 2025, "900-249-08", generated_g=120 * T + 1, plan_filed=True, planned_g=100 * T), "mid",
     PlanUse(1, 2025, "900-249-08", generated_g=120 * T, plan_filed=True, planned_g=100 * T)),
    ("GEN-NOT-IN-PLAN",
     PlanUse(1, 2025, "900-041-49", generated_g=1, plan_filed=True, planned_g=None), "low",
     PlanUse(1, 2025, "900-041-49", generated_g=0, plan_filed=True, planned_g=None)),
    ("GEN-MONTH-SWING", month(int(1.5 * T) + 1), "low", month(int(1.5 * T))),
    ("GEN-MONTH-SWING", month(int(0.5 * T) - 1), "low", month(int(0.5 * T))),
    ("GEN-TIER-CHANGE", tier_facts(10 * T), "low", tier_facts(10 * T - 1)),
    ("GEN-SILENCE", Activity(1, last_day=TODAY - timedelta(days=31), active_weeks=8, today=TODAY), "mid",
     Activity(1, last_day=TODAY - timedelta(days=30), active_weeks=8, today=TODAY)),
    ("GEN-SILENCE", Activity(1, last_day=TODAY - timedelta(days=90), active_weeks=8, today=TODAY), "mid",
     Activity(1, last_day=TODAY - timedelta(days=90), active_weeks=7, today=TODAY)),
    ("GEN-LATE-ENTRY", LateEntries(1, "2025-06", entries=((11, 24.02),)), "low",
     LateEntries(1, "2025-06", entries=((11, 24.0),))),
    ("INV-STORAGE-AGE",
     HeldBatch(1, 1, "D", "900-249-08", 100, TODAY - timedelta(days=330), 7, TODAY), "low",
     HeldBatch(1, 1, "D", "900-249-08", 100, TODAY - timedelta(days=329), 7, TODAY)),
    ("INV-STORAGE-AGE",
     HeldBatch(1, 1, "D", "900-249-08", 100, TODAY - timedelta(days=366), 7, TODAY), "high",
     (HeldBatch(1, 1, "D", "900-249-08", 100, TODAY - timedelta(days=365), 7, TODAY), "low")),
    ("INV-FACILITY-FULL", facility(9 * T), "mid", facility(9 * T - 1)),
    ("INV-FACILITY-FULL", facility(10 * T + 1), "high", (facility(10 * T), "mid")),
    ("INV-STORAGE-POINT", facility(3 * T + 1, capacity_g=None, storage_type="贮存点"), "mid",
     facility(3 * T, capacity_g=None, storage_type="贮存点")),
    ("INV-BALANCE", BalanceCheck(1, ((5, "stored_g", 100, 90),)), "high", BalanceCheck(1, ())),
    ("TRN-RECEIPT-LATE",
     ReceiptDue(3, "N", 4, "delivered", deadline=NOW - timedelta(seconds=1), received_at=None, now=NOW), "mid",
     ReceiptDue(3, "N", 4, "delivered", deadline=NOW, received_at=None, now=NOW)),
    ("TRN-TRANSIT-LATE", trip(hours_late=24.1, points=tuple(
        datetime(2025, 6, 11, 23, tzinfo=SHANGHAI) + timedelta(minutes=30 * i) for i in range(4))), "mid",
     trip(hours_late=24.0)),
    ("TRN-TRANSIT-LATE", trip(hours_late=26.01), "high",  # no point at all: silent since pickup
     (trip(hours_late=26.0, last_before=datetime(2025, 6, 11, 23, 59, 59, 999999, tzinfo=SHANGHAI)), "mid")),
    ("TRN-WEIGHT-DIFF", lines(2_000_000, 1_949_999), "mid", lines(2_000_000, 1_950_000)),  # 50 kg
    ("TRN-WEIGHT-DIFF", lines(500_000, 474_999), "mid", lines(500_000, 475_000)),  # 5%
    ("TRN-WEIGHT-DIFF", lines(500_000, 449_999), "high", (lines(500_000, 450_000), "mid")),  # 10%
    ("TRN-REFUSAL-OPEN", Refusal(5, "N", 1, 4, "returning", refused_g=200, returned_g=199), "high",
     Refusal(5, "N", 1, 4, "returned", refused_g=200, returned_g=200)),
    ("TRN-LABEL-MISMATCH", RefusedPickup(5, "N", 1, 2, ("X",), "driver", NOW), "mid",
     RefusedPickup(5, "N", 1, 2, (), "driver", NOW)),
    ("TRN-OFF-PLAN", ManifestFlags(5, "N", 1, ("receiver_not_in_plan:900-249-08",)), "low",
     ManifestFlags(5, "N", 1, ("method_changed:900-249-08",))),
    ("OPS-LICENCE-EXPIRY", Licence(8, 4, "鲁危证1", TODAY + timedelta(days=30), False, TODAY), "low",
     Licence(8, 4, "鲁危证1", TODAY + timedelta(days=31), False, TODAY)),
    ("OPS-LICENCE-EXPIRY", Licence(8, 4, "鲁危证1", TODAY - timedelta(days=1), False, TODAY), "low",
     Licence(8, 4, "鲁危证1", TODAY - timedelta(days=1), True, TODAY)),
    ("OPS-LICENCE-SCOPE",
     ReceivedLoad(5, "N", 4, TODAY, ((1, "900-249-08", "R2", 100),), (("L1", ("HW08",), ("R9",)),)), "high",
     ReceivedLoad(5, "N", 4, TODAY, ((1, "900-249-08", "R9", 100),), (("L1", ("HW08",), ("R9",)),))),
    ("OPS-LICENCE-SCOPE",
     ReceivedLoad(5, "N", 4, TODAY, ((1, "900-041-49", "R9", 100),), (("L1", ("HW08",), ("R9",)),)), "high",
     ReceivedLoad(5, "N", 4, TODAY, ((1, "900-041-49", "R9", 0),), (("L1", ("HW08",), ("R9",)),))),
    ("OPS-LICENCE-SCOPE",  # a collector: its collection licence covers the code, the method is the end receiver's
     ReceivedLoad(5, "N", 4, TODAY, ((1, "900-249-08", "R9", 100),), (), (("C1", ("HW49",)),)), "high",
     ReceivedLoad(5, "N", 4, TODAY, ((1, "900-249-08", "R9", 100),), (), (("C1", ("HW08",)),))),
    ("OPS-CAPACITY", LicenceUse(8, 4, "L1", 2025, 100 * T, 90 * T), "mid", LicenceUse(8, 4, "L1", 2025, 100 * T, 90 * T - 1)),
    ("OPS-CAPACITY", LicenceUse(8, 4, "L1", 2025, 100 * T, 100 * T + 1), "high",
     (LicenceUse(8, 4, "L1", 2025, 100 * T, 100 * T), "mid")),
    ("OPS-CROSS-PROVINCE", cross(approval_used_g=100 * T + 1), "high", cross()),
    ("OPS-CROSS-PROVINCE", cross(approval_number=None), "high", cross(picked_up_on=date(2025, 12, 31))),
    ("OPS-CROSS-PROVINCE", cross(picked_up_on=date(2026, 1, 1)), "high", cross(approval_codes=("900-249-08", "x"))),
    ("OPS-FACILITY-OVERLOAD", FacilityLoad(7, 4, "LY-01", "线", 2025, 100 * T, 100 * T + 1), "mid",
     FacilityLoad(7, 4, "LY-01", "线", 2025, 100 * T, 100 * T)),
    ("OPS-HOLDING-AGE", ReceivedHolding(9, 4, "D", "900-249-08", 10, TODAY - timedelta(days=366), TODAY), "high",
     ReceivedHolding(9, 4, "D", "900-249-08", 10, TODAY - timedelta(days=365), TODAY)),
    ("OPS-METHOD-CHANGED", ProcessingMethods(5, "N", 4, ("900-249-08",)), "low", ProcessingMethods(5, "N", 4, ())),
    ("DEC-PLAN-MISSING", PlanFiling(1, 2025, date(2025, 3, 31), None, date(2025, 4, 1)), "low",
     PlanFiling(1, 2025, date(2025, 3, 31), None, date(2025, 3, 31))),
    ("DEC-PLAN-MISSING", PlanFiling(1, 2025, date(2025, 3, 31), None, date(2025, 5, 1)), "high",
     PlanFiling(1, 2025, date(2025, 3, 31), NOW, date(2025, 5, 1))),
    ("DEC-MONTHLY-LATE", due("monthly", days_late=1), "low", due("monthly", days_late=0)),
    ("DEC-QUARTERLY-LATE", due("quarterly", days_late=31), "high", (due("quarterly", days_late=30), "mid")),
    ("DEC-QUARTERLY-LATE", due("quarterly", days_late=31), "high", due("quarterly", days_late=31, submitted=NOW)),
    ("DEC-ANNUAL-LATE", due("annual", days_late=30), "mid", due("monthly", days_late=30)),
]


@pytest.mark.parametrize("code,fires,tier,quiet", CASES, ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_rule_fires_above_its_threshold_and_stays_quiet_under_it(code, fires, tier, quiet):
    r = REGISTRY[code]
    found = r(fires)
    assert len(found) == 1, found
    f = found[0]
    assert (f.rule, f.tier) == (code, tier)
    assert f.tier in r.tiers and f.title and f.subject.split(":")[0] in {"unit", "batch", "facility", "manifest",
                                                                         "permit"}
    if isinstance(quiet, tuple):  # just under a higher tier's threshold: the lower tier
        quiet, lower = quiet
        assert [x.tier for x in r(quiet)] == [lower]
    else:
        assert r(quiet) == []


def test_every_rule_has_a_case_and_complete_metadata():
    assert len(REGISTRY) >= 20
    assert {c[0] for c in CASES} == set(REGISTRY)
    for r in REGISTRY.values():
        assert r.title and r.checks and r.threshold and r.basis and r.tiers
    assert {r.klass for r in REGISTRY.values()} == {"generation", "inventory", "transfer", "operation", "declaration"}


def test_lateness_ladder_counts_working_days_across_national_day():
    # due Monday 29 Sep 2025; 1–8 Oct is the National Day + Mid-Autumn holiday, Sat 11 Oct is a 调休 working day
    due_on = date(2025, 9, 29)
    assert lateness_tier(due_on, due_on) is None
    assert lateness_tier(due_on, date(2025, 9, 30)) == "low"
    # working days after 29 Sep: 30 Sep, 9 Oct, 10 Oct, 11 Oct (调休 Saturday), 13 Oct → mid from 14 Oct
    assert lateness_tier(due_on, date(2025, 10, 13)) == "low"
    assert lateness_tier(due_on, date(2025, 10, 14)) == "mid"
    assert lateness_tier(due_on, due_on + timedelta(days=S.OVERDUE_HIGH_DAYS)) == "mid"
    assert lateness_tier(due_on, due_on + timedelta(days=S.OVERDUE_HIGH_DAYS + 1)) == "high"


def test_gps_silence_is_measured_inside_the_overdue_time_only():
    end_of_day = datetime(2025, 6, 10, 23, 59, 59, 999999, tzinfo=SHANGHAI)
    start = end_of_day + timedelta(hours=24)
    # a point every hour through the overdue time: mid, the longest silence is 1 h
    pts = tuple(start + timedelta(hours=h) for h in range(0, 6))
    f = REGISTRY["TRN-TRANSIT-LATE"](trip(hours_late=29.5, points=pts))[0]
    assert f.tier == "mid" and f.evidence["gps_silence_hours"] == 1.0
    # the points stop for 2.5 h in the middle: high
    pts = (start + timedelta(hours=1), start + timedelta(hours=3, minutes=30), start + timedelta(hours=5))
    f = REGISTRY["TRN-TRANSIT-LATE"](trip(hours_late=29.5, points=pts))[0]
    assert f.tier == "high" and f.evidence["gps_silence_hours"] == 2.5


def test_the_readme_table_names_every_rule():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    missing = [code for code in REGISTRY if f"| `{code}` |" not in readme]
    assert not missing, f"add these rules to the README table: {missing}"
