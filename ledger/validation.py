"""Shared building blocks for every input: the base class of request models and the constrained types.

Everything that arrives from outside is checked here, before a service runs and the same way on SQLite and
PostgreSQL, so a value the database cannot hold is a 422 naming the field, never a 500:

- `Input`: the base class of every request model. Unknown keys are refused (`extra="forbid"`: a typo in a field
  name must not pass unnoticed) and no text anywhere in the body may contain a NUL character.
- Constrained types for ids (32-bit columns on PostgreSQL), paging, years, masses (BigInteger grams), money
  (`Numeric(16, 2)`), timestamps and dates with a floor and a ceiling. They use `annotated_types` constraints, so
  the same type works in a model field and as a FastAPI path or query parameter, and the bounds appear in the
  OpenAPI schema (a generated client and the fuzzer know them).

New request models subclass `Input`; new id, paging, mass and time fields use these types.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, NotRequired

from annotated_types import Ge, Gt, Le, MaxLen
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, field_validator
from sqlmodel import SQLModel
from typing_extensions import TypedDict

from ledger.types import utcnow

MAX_ID = 2**31 - 1
"""Largest id of an `Integer` primary key (PostgreSQL `integer`)."""
MAX_BIG_ID = 2**63 - 1
"""Largest id of a `BigInteger` key (the journal)."""
MAX_LIMIT = 1000
"""Largest page a list path returns."""
MAX_KG = Decimal(10**12)
"""Largest mass accepted anywhere (10^15 g, well inside a BigInteger of grams; real caps are the services')."""
MAX_T = Decimal(10**9)
"""The same ceiling in tonnes."""
FLOOR_DAY = date(2000, 1, 1)
"""No ledger fact is older than this (the first digital ledgers); a 1900 date is a typo."""
FLOOR_TIME = datetime(2000, 1, 1, tzinfo=UTC)
CEILING_DAY = date(2100, 12, 31)
"""The latest date any validity period may reach."""
FUTURE_SLACK = timedelta(days=1)
"""How far in the future a timestamp may be before the type refuses it (services apply their own, tighter rule)."""
PLANNED_WINDOW = timedelta(days=366)
"""A planned date lies within a year of today (the ledger's clock)."""


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return any(_has_nul(v) for v in value)
    return False


def refuse_nul(value: Any) -> Any:
    """Raise if any text in `value` (recursively) holds a NUL character: PostgreSQL cannot store it."""
    if _has_nul(value):
        raise ValueError("must not contain NUL characters (\\u0000)")
    return value


class Input(SQLModel):
    """Base of every request model: unknown keys are refused and no text may contain NUL."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # After validation, so a nested Input has already checked its own fields and names them precisely.
        return refuse_nul(value)


def _not_bool(value: Any) -> Any:
    # JSON true/false would otherwise pass as 1/0 (`{"user_id": false}` once meant "myself").
    if isinstance(value, bool):
        raise ValueError("expected a number, not a boolean")
    return value


NoBool = BeforeValidator(_not_bool)
# (last in each Annotated: placed before the bounds, pydantic would publish them as `ge`/`le`, not JSON Schema's
# `minimum`/`maximum`; a BeforeValidator runs first wherever it stands.)

# ---- integers --------------------------------------------------------------------------------------------

DbId = Annotated[int, Ge(1), Le(MAX_ID), NoBool]
"""An id of a row with an `Integer` key."""
BigId = Annotated[int, Ge(1), Le(MAX_BIG_ID), NoBool]
"""An id of a row with a `BigInteger` key (journal records)."""
Seq = Annotated[int, Ge(0), Le(MAX_ID), NoBool]
"""A position in a unit's chain (0 = before the first record)."""
Limit = Annotated[int, Ge(1), Le(MAX_LIMIT), NoBool]
"""How many rows a list returns."""
Offset = Annotated[int, Ge(0), Le(MAX_ID), NoBool]
"""How many rows a list skips."""
Year = Annotated[int, Ge(FLOOR_DAY.year), Le(CEILING_DAY.year), NoBool]
"""A calendar year."""
Count = Annotated[int, Ge(1), Le(10_000), NoBool]
"""A number of containers or packages."""

# ---- decimals and floats -----------------------------------------------------------------------------------

Kg = Annotated[Decimal, Ge(0), Le(MAX_KG)]
"""A mass in kilograms (whole grams are checked where it is converted, by `ledger.mass.kg_to_g`)."""
PositiveKg = Annotated[Decimal, Gt(0), Le(MAX_KG)]
PositiveTonnes = Annotated[Decimal, Gt(0), Le(MAX_T)]
"""A capacity in tonnes."""
Money10k = Annotated[Decimal, Ge(0), Field(max_digits=16, decimal_places=2)]
"""An amount in 万元, as stored (`Numeric(16, 2)`)."""
Litres = Annotated[float, Gt(0), Le(1_000_000), Field(allow_inf_nan=False)]
Speed = Annotated[float, Ge(0), Le(1000), Field(allow_inf_nan=False)]
Lat = Annotated[float, Ge(-90), Le(90), Field(allow_inf_nan=False)]
Lon = Annotated[float, Ge(-180), Le(180), Field(allow_inf_nan=False)]

# ---- text --------------------------------------------------------------------------------------------------

Code = Annotated[str, MaxLen(40)]
"""A short code (waste code, method code, digital ID…); the services check its form."""
Phone = Annotated[str, MaxLen(40)]


# ---- time --------------------------------------------------------------------------------------------------

def _past_time(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give the time with its timezone, e.g. 2026-11-22T09:30:00+08:00")
    if value < FLOOR_TIME:
        raise ValueError(f"must not be before {FLOOR_TIME.date()}")
    if value > utcnow() + FUTURE_SLACK:
        raise ValueError("is in the future; check the clock of the device that sent it")
    return value


def _day(value: date) -> date:
    if not FLOOR_DAY <= value <= CEILING_DAY:
        raise ValueError(f"must be between {FLOOR_DAY} and {CEILING_DAY}")
    return value


def _planned_day(value: date) -> date:
    today = utcnow().astimezone(UTC).date()
    low, high = max(FLOOR_DAY, today - PLANNED_WINDOW), today + PLANNED_WINDOW
    if not low <= value <= high:
        raise ValueError(f"must be within a year of today: between {low} and {high}")
    return value


def _moment(value: datetime) -> datetime:
    if value.tzinfo is not None and not FLOOR_TIME <= value <= datetime(CEILING_DAY.year, 12, 31, tzinfo=UTC):
        raise ValueError(f"must be between {FLOOR_DAY} and {CEILING_DAY}")
    return value


PastTime = Annotated[datetime, AfterValidator(_past_time)]
"""When something happened: timezone-aware, not before 2000, not (much) in the future."""
Day = Annotated[date, AfterValidator(_day)]
"""A calendar date in 2000–2100 (validity periods, report periods, memberships)."""
PlannedDate = Annotated[date, AfterValidator(_planned_day)]
"""A date something is planned for: within a year of today."""
Moment = Annotated[datetime, AfterValidator(_moment)]
"""A time in 2000–2100, past or future (a wished-for window); the services ask for its timezone by name."""


class GpsPoint(TypedDict):
    """One GPS fix on the road (a TypedDict, so services read it as a plain dict)."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    at: PastTime
    lat: Lat
    lon: Lon
    speed_kmh: NotRequired[Speed | None]
