import logging
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from ledger import workdays
from ledger.errors import InvalidInput
from ledger.workdays import (
    SHANGHAI,
    add_working_days,
    is_working_day,
    local_day,
    local_month,
    local_year,
    month_bounds_utc,
    working_day_deadline,
    year_bounds_utc,
)


def test_national_day_2024():
    for day in range(1, 8):
        assert not is_working_day(date(2024, 10, day)), day
    assert is_working_day(date(2024, 9, 29))  # Sunday, 调休
    assert is_working_day(date(2024, 10, 12))  # Saturday, 调休
    assert is_working_day(date(2024, 10, 8))
    assert not is_working_day(date(2024, 10, 13))  # ordinary Sunday


def test_spring_festival_2025():
    for day in (28, 29, 30, 31):
        assert not is_working_day(date(2025, 1, day))
    for day in range(1, 5):
        assert not is_working_day(date(2025, 2, day))
    assert is_working_day(date(2025, 1, 26))  # Sunday, 调休
    assert is_working_day(date(2025, 2, 8))  # Saturday, 调休
    assert is_working_day(date(2025, 2, 5))


def test_add_working_days_across_national_day():
    assert add_working_days(date(2024, 9, 30), 1) == date(2024, 10, 8)
    assert add_working_days(date(2024, 9, 28), 1) == date(2024, 9, 29)  # the working Sunday
    assert add_working_days(date(2024, 9, 27), 5) == date(2024, 10, 10)  # 29 (Sunday), 30, 8, 9, 10
    assert add_working_days(date(2024, 10, 1), 5) == date(2024, 10, 12)  # 8, 9, 10, 11, 12 (Saturday)
    assert add_working_days(date(2024, 10, 8), 0) == date(2024, 10, 8)
    with pytest.raises(ValueError):
        add_working_days(date(2024, 10, 8), -1)


def test_add_working_days_across_spring_festival():
    # 2025-01-27 (Mon) → 2025-02-05 (Wed) is the first working day after the break.
    assert add_working_days(date(2025, 1, 27), 1) == date(2025, 2, 5)
    # 26 (Sunday, 调休), 27, then 5, 6, 7 February
    assert add_working_days(date(2025, 1, 24), 5) == date(2025, 2, 7)


def test_deadline_crosses_national_day():
    # Received Monday 2024-09-30 10:00 Shanghai; 5 working days: 8, 9, 10, 11, 12 October.
    at = datetime(2024, 9, 30, 10, 0, tzinfo=SHANGHAI)
    deadline = working_day_deadline(at, 5)
    assert deadline.tzinfo is UTC
    assert deadline == datetime(2024, 10, 12, 23, 59, 59, 999999, tzinfo=SHANGHAI)
    assert deadline == datetime(2024, 10, 12, 15, 59, 59, 999999, tzinfo=UTC)


def test_deadline_uses_the_shanghai_date():
    # 2024-09-29 17:00 UTC is already 2024-09-30 01:00 in Shanghai.
    at = datetime(2024, 9, 29, 17, 0, tzinfo=UTC)
    assert local_day(at) == date(2024, 9, 30)
    assert working_day_deadline(at, 1) == datetime(2024, 10, 8, 15, 59, 59, 999999, tzinfo=UTC)
    # Another offset, same instant, same answer.
    same_instant = at.astimezone(timezone(timedelta(hours=-5)))
    assert working_day_deadline(same_instant, 1) == working_day_deadline(at, 1)


def test_naive_datetimes_are_refused():
    with pytest.raises(InvalidInput) as exc:
        working_day_deadline(datetime(2024, 10, 8, 9, 0), 5)
    assert exc.value.details["field"] == "at"
    with pytest.raises(InvalidInput):
        local_day(datetime(2024, 10, 8))


def test_is_working_day_takes_dates_only():
    with pytest.raises(TypeError):
        is_working_day(datetime(2024, 10, 8, tzinfo=UTC))  # type: ignore[arg-type]


def test_unknown_year_falls_back_to_weekdays_and_warns_once(caplog, monkeypatch):
    monkeypatch.setattr(workdays, "_warned_years", set())
    with caplog.at_level(logging.WARNING, logger="ledger.workdays"):
        assert is_working_day(date(2099, 1, 1))  # Thursday
        assert not is_working_day(date(2099, 1, 3))  # Saturday
        assert is_working_day(date(2099, 1, 5))
    warnings = [r for r in caplog.records if "2099" in r.getMessage()]
    assert len(warnings) == 1


def test_local_periods():
    at = datetime(2024, 12, 31, 16, 30, tzinfo=UTC)  # 2025-01-01 00:30 in Shanghai
    assert local_day(at) == date(2025, 1, 1)
    assert local_year(at) == 2025
    assert local_month(at) == (2025, 1)
    assert local_month(datetime(2024, 12, 31, 15, 59, tzinfo=UTC)) == (2024, 12)


def test_period_bounds():
    start, end = month_bounds_utc(year=2024, month=12)
    assert start == datetime(2024, 11, 30, 16, tzinfo=UTC)
    assert end == datetime(2024, 12, 31, 16, tzinfo=UTC)
    assert year_bounds_utc(2024) == (
        datetime(2023, 12, 31, 16, tzinfo=UTC),
        datetime(2024, 12, 31, 16, tzinfo=UTC),
    )
    assert workdays.day_bounds_utc(date(2024, 10, 1)) == (
        datetime(2024, 9, 30, 16, tzinfo=UTC),
        datetime(2024, 10, 1, 16, tzinfo=UTC),
    )
