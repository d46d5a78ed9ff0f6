"""A physical batch across its holdings: its records and holdings, read once per trace."""

from __future__ import annotations

from sqlalchemy import bindparam
from sqlmodel import Session, select

from ledger.batches.models import Batch
from ledger.journal import JournalRecord
from ledger.memo import memo

# built once, with bound parameters (every trace reads them)
_HOLDINGS_OF_ROOT = (select(Batch).where((Batch.id == bindparam("root_id")) | (Batch.root_id == bindparam("root_id")))
                     .order_by(Batch.id))
_RECORDS_OF_HOLDINGS = (select(JournalRecord).where(JournalRecord.batch_id.in_(bindparam("ids", expanding=True))
                                                    | JournalRecord.source_batch_id.in_(bindparam("ids", expanding=True)))
                        .order_by(JournalRecord.id))


def records_for_root(session: Session, root_id: int) -> list[JournalRecord]:
    """Every record of a physical batch across all its holdings, in the order written."""
    return records_of_holdings(session, [b.id for b in holdings_of(session, root_id)])


def records_of_holdings_key(ids: list[int]) -> tuple:
    """The key under which `one_read` keeps the records of these holdings."""
    return ("records_of_holdings", tuple(ids))


def holdings_of_key(root_id: int) -> tuple:
    """The key under which `one_read` keeps the holdings of a root."""
    return ("holdings_of", root_id)


def records_of_holdings(session: Session, ids: list[int]) -> list[JournalRecord]:
    """Every record of these holdings (of `holdings_of` a root), in the order written."""
    return memo(records_of_holdings_key(ids),
                lambda: list(session.exec(_RECORDS_OF_HOLDINGS, params={"ids": ids}).all()))


def holdings_of(session: Session, root_id: int) -> list[Batch]:
    """The root holding and every holding split off it, oldest first."""
    return memo(holdings_of_key(root_id),
                lambda: list(session.exec(_HOLDINGS_OF_ROOT, params={"root_id": root_id}).all()))
