"""A physical batch across its holdings: its records and holdings, read once per trace."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from sqlalchemy import bindparam
from sqlmodel import Session, select

from ledger.batches.models import Batch
from ledger.journal import JournalRecord

T = TypeVar("T")

# built once, with bound parameters (every trace reads them)
_HOLDINGS_OF_ROOT = (select(Batch).where((Batch.id == bindparam("root_id")) | (Batch.root_id == bindparam("root_id")))
                     .order_by(Batch.id))
_RECORDS_OF_HOLDINGS = (select(JournalRecord).where(JournalRecord.batch_id.in_(bindparam("ids", expanding=True))
                                                    | JournalRecord.source_batch_id.in_(bindparam("ids", expanding=True)))
                        .order_by(JournalRecord.id))
_TRACE_MEMO: ContextVar[dict | None] = ContextVar("wasteledger_trace_memo", default=None)


@contextmanager
def one_trace() -> Iterator[None]:
    """While a batch's trace is built: what several of its hooks ask (`trace_memo`) is read once."""
    token = _TRACE_MEMO.set({})
    try:
        yield
    finally:
        _TRACE_MEMO.reset(token)


def trace_memo(key: tuple, load: Callable[[], T]) -> T:
    """`load()`, once per key within `one_trace()` (outside one: every time)."""
    memo = _TRACE_MEMO.get()
    if memo is None:
        return load()
    if key not in memo:
        memo[key] = load()
    return memo[key]


def records_for_root(session: Session, root_id: int) -> list[JournalRecord]:
    """Every record of a physical batch across all its holdings, in the order written."""
    return records_of_holdings(session, [b.id for b in holdings_of(session, root_id)])


def records_of_holdings(session: Session, ids: list[int]) -> list[JournalRecord]:
    """Every record of these holdings (of `holdings_of` a root), in the order written."""
    return list(session.exec(_RECORDS_OF_HOLDINGS, params={"ids": ids}).all())


def holdings_of(session: Session, root_id: int) -> list[Batch]:
    """The root holding and every holding split off it, oldest first."""
    return list(session.exec(_HOLDINGS_OF_ROOT, params={"root_id": root_id}).all())
