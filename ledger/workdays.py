"""Chinese working days (statutory holidays off, 调休 weekend working days on) and Asia/Shanghai business periods.

Working days come from `chinese_calendar`, which knows the State Council's yearly holiday notices for a fixed
range of years. Outside that range `is_working_day` falls back to Monday–Friday and logs a warning once per year:
upgrade `chinesecalendar` each December when the next year's notice is published.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

from ledger.errors import InvalidInput

SHANGHAI = ZoneInfo("Asia/Shanghai")

log = logging.getLogger(__name__)
_warned_years: set[int] = set()
_MAX_SCAN_DAYS = 3660  # a safety stop for add_working_days: ten years of calendar days


def is_working_day(d: date) -> bool:
    """True if `d` is a Chinese working day; Monday–Friday (with a warning) for years the calendar lacks."""
    if isinstance(d, datetime) or not isinstance(d, date):
        raise TypeError("is_working_day takes a date; use local_day() to get the Shanghai date of an instant")
    try:
        return chinese_calendar.is_workday(d)
    except NotImplementedError:
        if d.year not in _warned_years:
            _warned_years.add(d.year)
            log.warning(
                "chinese_calendar has no holiday data for %s; treating Monday–Friday as working days. "
                "Upgrade the chinesecalendar package.",
                d.year,
            )
        return d.weekday() < 5


def add_working_days(start: date, n: int) -> date:
    """The n-th working day after `start` (start itself not counted); n = 0 returns start."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError("n must be a whole number of working days, 0 or more")
    day = start
    remaining = n
    for _ in range(_MAX_SCAN_DAYS + n):
        if remaining == 0:
            return day
        day += timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    raise RuntimeError(f"no {n} working days found after {start}")  # pragma: no cover


def _require_aware(at: datetime, field: str) -> None:
    if not isinstance(at, datetime):
        raise InvalidInput(f"{field} must be a date-time with a timezone", field=field)
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput(
            f"{field} must carry a timezone (e.g. 2024-10-08T09:00:00+08:00 or …Z); got a naive date-time",
            field=field,
        )


def local_day(at: datetime, *, field: str = "at") -> date:
    """The Asia/Shanghai calendar date of an instant; refuses naive datetimes."""
    _require_aware(at, field)
    return at.astimezone(SHANGHAI).date()


def local_year(at: datetime, *, field: str = "at") -> int:
    """The Asia/Shanghai calendar year of an instant (a unit's business year)."""
    return local_day(at, field=field).year


def local_month(at: datetime, *, field: str = "at") -> tuple[int, int]:
    """The Asia/Shanghai (year, month) of an instant (a unit's business month)."""
    day = local_day(at, field=field)
    return day.year, day.month


def working_day_deadline(at: datetime, n: int) -> datetime:
    """End (23:59:59.999999 Shanghai) of the n-th working day after the Shanghai date of `at`, in UTC."""
    target = add_working_days(local_day(at), n)
    return datetime.combine(target, time.max, tzinfo=SHANGHAI).astimezone(UTC)


def day_bounds_utc(day: date) -> tuple[datetime, datetime]:
    """The half-open UTC interval [start, end) of a Shanghai calendar day."""
    start = datetime.combine(day, time.min, tzinfo=SHANGHAI)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def month_bounds_utc(*, year: int, month: int) -> tuple[datetime, datetime]:
    """The half-open UTC interval [start, end) of a Shanghai calendar month."""
    start = datetime(year, month, 1, tzinfo=SHANGHAI)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=SHANGHAI)
    return start.astimezone(UTC), end.astimezone(UTC)


def year_bounds_utc(year: int) -> tuple[datetime, datetime]:
    """The half-open UTC interval [start, end) of a Shanghai calendar year."""
    return datetime(year, 1, 1, tzinfo=SHANGHAI).astimezone(UTC), datetime(
        year + 1, 1, 1, tzinfo=SHANGHAI
    ).astimezone(UTC)


def today() -> date:
    """Today in Asia/Shanghai (business days, deadlines and periods are Shanghai days)."""
    from ledger.types import utcnow

    return local_day(utcnow())
