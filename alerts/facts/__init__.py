"""SQL gatherers that turn ledger rows into the frozen facts the rules read.

Each gatherer is a handful of set-based queries (aggregates, prefilters at the rule's own threshold); none loops in
Python over all records. A gatherer takes a `Scope`: None for the scheduled scan (everything), or the units,
facilities, manifests and batches that a transaction's journal records touched (event time). It returns facts of
one or more types; the engine hands each fact to the rules registered for its type.

A gatherer may also say, for a scope, that it would find nothing, from the rows the transaction has read or
written already (`ledger.db.known_row`) and the registry cache, sending no statement (`idle`). At event time the
engine skips such a gatherer; when every gatherer a commit needs is idle, the commit evaluates nothing and opens no
savepoint (an ordinary pickup: four statements fewer).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from ledger.db import known_row
from ledger.workdays import local_day

EVENT_LOOKBACK_DAYS = 40
"""The scan re-derives event facts (receipts, pickups, weighings) of the last 40 days, in case an event-time
evaluation was missed (rules switched off, an error in the alert layer): enough to cover a monthly cycle."""


@dataclass(frozen=True)
class Scope:
    """What one transaction touched; an empty set means "nothing of that kind"."""

    unit_ids: frozenset[int] = frozenset()
    facility_ids: frozenset[int] = frozenset()
    manifest_ids: frozenset[int] = frozenset()
    batch_ids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Clock:
    """The instant a gathering is made for, and its Shanghai date."""

    now: datetime
    today: date = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "today", local_day(self.now))

    def days_ago(self, n: int) -> datetime:
        return self.now - timedelta(days=n)


GatherFn = Callable[[Session, Clock, Scope | None], Iterable[object]]
#: (session, scope) -> True when the gatherer provably finds nothing in the scope, told from the transaction's
#: known rows and the registry cache alone: it sends no statement (False: it cannot tell, or it would find facts)
IdleFn = Callable[[Session, Scope], bool]


@dataclass(frozen=True)
class Gatherer:
    name: str
    fact_types: tuple[type, ...]
    fn: GatherFn
    idle: IdleFn | None = None


GATHERERS: list[Gatherer] = []


def gatherer(*fact_types: type, idle: IdleFn | None = None) -> Callable[[GatherFn], GatherFn]:
    """Register a gatherer producing facts of `fact_types` (with `idle`, see the module's docstring)."""

    def wrap(fn: GatherFn) -> GatherFn:
        GATHERERS.append(Gatherer(fn.__name__, fact_types, fn, idle))
        return fn

    return wrap


def known_manifests(session: Session, ids: frozenset[int]) -> list | None:
    """The manifests `ids` as this transaction has read or written them (kept current by the write path,
    `ledger.db.know_rows`), or None when it does not know every one of them."""
    out = [known_row(session, "manifest", i) for i in sorted(ids)]
    return None if None in out else out


def within(col: ColumnElement, ids: frozenset[int] | None) -> ColumnElement[bool] | None:
    """`col IN ids` for a scoped gathering (None for the full scan)."""
    return None if ids is None else col.in_(sorted(ids))


def where(q, *conds):  # noqa: ANN001, ANN201
    """Add the conditions that are not None."""
    for c in conds:
        if c is not None:
            q = q.where(c)
    return q


def seconds_between(session: Session, start: ColumnElement, end: ColumnElement) -> ColumnElement[float]:
    """end − start in seconds, on PostgreSQL (timestamptz) and on SQLite (ISO text)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def load_all() -> list[Gatherer]:
    """Import every gatherer module (registering them) and return the registry."""
    from alerts.facts import declaration, generation, inventory, operation, transfer  # noqa: F401

    return GATHERERS
