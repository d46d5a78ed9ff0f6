"""Column types shared by the models: timezone-aware UTC timestamps and JSON lists on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

_clock: ContextVar[datetime | None] = ContextVar("ledger_clock", default=None)


def utcnow() -> datetime:
    """Now, timezone-aware UTC (or the time set by `clock_at`, for seeding history)."""
    fixed = _clock.get()
    return fixed if fixed is not None else datetime.now(UTC)


def clock_is_set() -> bool:
    """Whether this context runs the ledger at a set time (`clock_at`)."""
    return _clock.get() is not None


@contextmanager
def clock_at(when: datetime) -> Iterator[None]:
    """Run the ledger as if it were `when`: used to seed the demo's history through the real services."""
    if when.tzinfo is None:
        raise ValueError("clock_at needs a timezone-aware datetime")
    token = _clock.set(when.astimezone(UTC))
    try:
        yield
    finally:
        _clock.reset(token)


class UTCDateTime(TypeDecorator):
    """Stores UTC (timestamptz on PostgreSQL, naive UTC on SQLite); always returns aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # noqa: ANN001
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):  # noqa: ANN001
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

