"""Commit groups of holding moves: several 入库, 出库 or 自行利用/处置 requests of one kind in one transaction
(`move_many`), each checked as it would be alone (`check_store`, `check_retrieve`, `check_process`) against the
state the group's earlier moves left, with a few statements for the whole group."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from sqlalchemy import bindparam, func
from sqlmodel import Session, select

from ledger import journal
from ledger.auth import Principal
from ledger.batches.access import can_see_batch, lock_holdings
from ledger.batches.balance import Move, show_state, signed_by, state_of, write_states
from ledger.batches.helpers import counter_scope
from ledger.batches.models import Batch
from ledger.batches.processing import check_process
from ledger.batches.schemas import MoveIn
from ledger.batches.storage import check_retrieve, check_store
from ledger.codes import make_batch_code
from ledger.counters import next_ranges
from ledger.errors import LedgerError, NotFound
from ledger.journal import JournalRecord
from ledger.types import utcnow
from ledger.workdays import local_day

# Built once, with bound parameters: the facilities' stock, the last record codes.
_STOCKS_G = (select(Batch.storage_facility_id, func.sum(Batch.stored_g))
             .where(Batch.storage_facility_id.in_(bindparam("ids", expanding=True)))
             .group_by(Batch.storage_facility_id))
_LAST_CODES = (select(JournalRecord.batch_id, JournalRecord.record_code).where(JournalRecord.id.in_(
    select(func.max(JournalRecord.id)).where(JournalRecord.batch_id.in_(bindparam("ids", expanding=True)))
    .group_by(JournalRecord.batch_id))))


def move_many(session: Session, kind: Literal["stored", "retrieved", "used_in_house", "disposed_in_house"],
              moves: list[tuple[Principal, int, MoveIn]],
              seen: Callable[[int, Batch, JournalRecord], None] | None = None) -> list[JournalRecord | LedgerError]:
    """Several 入库 (`stored`), 出库 (`retrieved`) or 自行利用/处置 (`used_in_house`, `disposed_in_house`) requests
    — a commit group's — in one transaction, each with
    its own principal and its own answer: the record it wrote, or the error that refused it (a refused move writes
    nothing, and the others go on). The result equals running them one by one, in order (a batch moved twice sees
    its first move), with a few statements in all: the holdings locked in one statement (by id, as one move locks
    its one), their last record codes, the facilities' stock (入库), the record-code counters, the chain heads and
    the records. `seen(i, holding, record)` is called for each written move in order, while the holding shows the
    state right after it (what that request alone would have answered)."""
    now = utcnow()
    ids = sorted({batch_id for _, batch_id, _ in moves})
    rows = lock_holdings(session, ids)
    stock: dict[int, int] = {}
    if kind == "stored":
        facilities = sorted({data.facility_id for _, _, data in moves})
        stock = dict.fromkeys(facilities, 0)
        stock.update({int(f): int(g) for f, g in session.exec(_STOCKS_G, params={"ids": facilities}).all()})
    links = {int(b): code for b, code in session.exec(_LAST_CODES, params={"ids": ids}).all()}
    states = {bid: state_of(b) for bid, b in rows.items()}
    out: list[JournalRecord | Exception | None] = []
    checked: list[tuple[int, Move]] = []
    for principal, batch_id, data in moves:
        b = rows.get(batch_id)
        try:
            if b is None or not can_see_batch(session, principal, b):
                raise NotFound(f"batch {batch_id} does not exist or is outside your scope", code="batch.not_found")
            if kind == "stored":
                m = check_store(session, principal, b, data, now=now, state=states[batch_id],
                                stock_g=stock.__getitem__)
                stock[m.facility_id] += m.mass
            elif kind == "retrieved":
                m = check_retrieve(session, principal, b, data, now=now, state=states[batch_id])
            else:
                m = check_process(session, principal, b, data, kind=kind, now=now, state=states[batch_id])
        except LedgerError as e:
            out.append(e)
            continue
        states[batch_id] = m.state
        checked.append((len(out), m))
        out.append(None)  # the record, below
    if not checked:
        return out
    counts: dict[str, int] = {}
    for _, m in checked:
        scope = counter_scope(m.batch.holder_unit_id, kind, local_day(m.occurred), m.batch.hazardous)
        counts[scope] = counts.get(scope, 0) + 1
    nxt = next_ranges(session, counts)
    entries: dict[int, list[dict]] = {}
    at: dict[int, list[int]] = {}  # unit -> the answers its records go to, in chain order
    for i, m in checked:
        b, day = m.batch, local_day(m.occurred)
        scope = counter_scope(b.holder_unit_id, kind, day, b.hazardous)
        serial, nxt[scope] = nxt[scope], nxt[scope] + 1
        code = make_batch_code(kind=kind, day=day, serial=serial, hazardous=b.hazardous)
        from_codes = [links[b.id]] if links.get(b.id) else []
        links[b.id] = code  # a later move of the same batch links to this one
        entries.setdefault(b.holder_unit_id, []).append({
            "kind": kind, "actor_id": m.principal.user_id or None, "actor_name": moves[i][2].operator,
            "occurred_at": m.occurred, "batch_id": b.id, "mass_g": m.mass, "facility_id": m.facility_id,
            "record_code": code, "body": {"from_codes": from_codes, **m.body, "by": signed_by(m.principal)}})
        at.setdefault(b.holder_unit_id, []).append(i)
    write_states(session, [(m.batch, m.state) for _, m in checked])  # each holding's last state, before the heads
    for unit_id, recs in journal.append_chains(session, entries).items():
        for i, rec in zip(at[unit_id], recs, strict=True):
            out[i] = rec
    for i, m in checked:  # in order: the holding shows each move's state in turn, and ends with the last
        show_state(m.batch, m.state)
        if seen is not None:
            seen(i, m.batch, out[i])
    return out
