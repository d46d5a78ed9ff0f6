"""Who sees a batch, and how a request finds one (by id, by digital ID, the holdings a scan shows)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import bindparam
from sqlmodel import Session, select

from ledger.auth import Principal, can_see_unit, registry_unit
from ledger.batches.models import Batch
from ledger.codes import parse_digital_id
from ledger.db import know_rows, known_row
from ledger.errors import NotFound
from ledger.memo import memo

# Other modules (manifests) add rules here: (session, principal, batch) -> True when the principal may see it.
extra_visibility: list[Callable[[Session, Principal, Batch], bool]] = []


def can_see_batch(session: Session, principal: Principal, b: Batch) -> bool:
    """The generator's and the holder's scope see a batch; so do parties named by other modules' rules.
    (The units are only read: their snapshots from the registry cache will do.)"""
    for unit_id in {b.unit_id, b.holder_unit_id}:
        unit = registry_unit(session, unit_id)
        if unit is not None and can_see_unit(session, principal, unit):
            return True
    return any(rule(session, principal, b) for rule in extra_visibility)


# The read paths' statements are built once, with bound parameters: building one (and its cache key, which a built
# statement memoises) costs about as much Python as executing it.
_BATCH = select(Batch).where(Batch.id == bindparam("batch_id")).execution_options(populate_existing=True)
_BATCH_FOR_UPDATE = _BATCH.with_for_update()
_HOLDINGS = (select(Batch).where(Batch.id.in_(bindparam("ids", expanding=True))).order_by(Batch.id)
             .execution_options(populate_existing=True))
_HOLDINGS_FOR_UPDATE = _HOLDINGS.with_for_update()
_HOLDINGS_BY_DIGITAL_ID = select(Batch).where(Batch.digital_id == bindparam("digital_id")).order_by(Batch.id)


def batch_key(batch_id: int) -> tuple:
    """The key under which `one_read` keeps a batch read by id."""
    return ("batch", batch_id)


def get_batch(session: Session, principal: Principal, batch_id: int, *, lock: bool = False) -> Batch:
    """The batch if visible (404 otherwise); `lock` takes its row lock for a write."""
    if lock:
        q = _BATCH_FOR_UPDATE if session.get_bind().dialect.name == "postgresql" else _BATCH
        b = session.exec(q, params={"batch_id": batch_id}).first()
    else:
        b = memo(batch_key(batch_id), lambda: session.exec(_BATCH, params={"batch_id": batch_id}).first())
    if b is None or not can_see_batch(session, principal, b):
        raise NotFound(f"batch {batch_id} does not exist or is outside your scope", code="batch.not_found")
    return b


def lock_holdings(session: Session, ids: list[int]) -> dict[int, Batch]:
    """The holdings with these ids, read afresh and row-locked for a write (PostgreSQL), in one statement and in id
    order: two transactions that lock some of the same holdings lock them in the same order. Holdings this
    transaction has locked already (for its commit group, or earlier in its work) are not read again; those read
    now are kept for what follows (`ledger.db.know_rows`: the alert rules at commit tell from them)."""
    known = [known_row(session, "holding", i) for i in sorted(set(ids))]
    if known and None not in known:
        return {b.id: b for b in known}
    q = _HOLDINGS_FOR_UPDATE if session.get_bind().dialect.name == "postgresql" else _HOLDINGS
    locked = {b.id: b for b in session.exec(q, params={"ids": ids})}
    know_rows(session, "holding", locked)
    return locked


def find_by_digital_id(session: Session, principal: Principal, digital_id: str) -> Batch:
    """The batch a label's digital ID names (422 when the ID is malformed, 404 when unknown or not visible)."""
    parse_digital_id(digital_id)
    for b in holdings_for_scan(session, digital_id, unit_id=principal.unit_id):
        if can_see_batch(session, principal, b):
            return b
    raise NotFound(f"no batch with digital ID {digital_id} in your scope", code="batch.not_found")


def scan_key(digital_id: str) -> str:
    """A scanned digital ID as the batch table stores it (a scanner may add spaces or lower-case letters)."""
    return digital_id.strip().upper()


def holdings_key(digital_id: str) -> tuple:
    """The key under which `one_read` keeps the holdings of a digital ID."""
    return ("holdings_by_digital_id", scan_key(digital_id))


def holdings_for_scan(session: Session, digital_id: str, *, unit_id: int | None) -> list[Batch]:
    """The holdings of a physical batch in the order a scan should resolve them: the scanning unit's own holding
    first (a receiver scanning a label it received), its live one before a closed one; then the root holding (the
    generator's), then the others."""
    holdings = memo(holdings_key(digital_id), lambda: list(session.exec(
        _HOLDINGS_BY_DIGITAL_ID, params={"digital_id": scan_key(digital_id)}).all()))
    own = [b for b in holdings if unit_id is not None and b.holder_unit_id == unit_id]
    live = [b for b in own if b.remaining_g > 0 or b.in_transit_g > 0]
    rest = sorted(holdings, key=lambda b: b.parent_id is not None)
    ordered = {b.id: b for b in [*reversed(live), *reversed(own), *rest]}
    return list(ordered.values())
