"""Maintain the period balances in the writer's transaction.

The journal hands each appended record to `on_record` inside the writer's transaction. Records are collected per
session and posted just before the transaction commits (and before any balance read in the same transaction):
the flows of all of them are added up per balance key and written with one `INSERT … ON CONFLICT … DO UPDATE SET
x = x + excluded.x` statement, so a bulk generation of 500 batches costs one upsert per (month, facility, code),
not 500. A rollback drops what was collected; what was already posted is rolled back with the transaction.
"""

from __future__ import annotations

from sqlalchemy import bindparam, event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from ledger import journal
from ledger.journal import JournalRecord
from ledger.rollups.classify import Holding, classify, key_row
from ledger.rollups.models import (
    FLOW_COLUMNS,
    KEY_COLUMNS,
    YEAR_KEY_COLUMNS,
    PeriodBalance,
    PeriodBalanceYear,
)
from ledger.workdays import local_year

_PENDING = "wasteledger.rollup_pending"
_KNOWN = "wasteledger.rollup_holdings"  # batch id -> its _HOLDING_COLUMNS, noted while collecting
_HOLDING_COLUMNS = ("id", "waste_code", "parent_id", "period", "occurred_at", "created_at")
_BUILT: dict = {}
_CHUNK = 400  # rows per upsert statement (SQLite allows 32766 bound values; a row has 34)


def on_record(session: Session, record: JournalRecord) -> None:
    """Journal subscriber: remember the record; it is posted before commit. The holding it moves is usually loaded
    in the writer's session at this moment (a storage move has it locked): its immutable columns are noted now, so
    the posting need not read them again (by commit time the session may have let the object go)."""
    session.info.setdefault(_PENDING, []).append(record)
    bid = record.batch_id or record.source_batch_id
    if record.kind == "generated" or bid is None:
        return
    known = session.info.setdefault(_KNOWN, {})
    if bid not in known:
        b = session.identity_map.get(session.identity_key(_batch_class(), bid))
        loaded = b.__dict__ if b is not None else {}
        if all(c in loaded for c in _HOLDING_COLUMNS):  # never a lazy load here
            known[bid] = tuple(loaded[c] for c in _HOLDING_COLUMNS)


def post_pending(session: Session) -> int:
    """Post every collected record's flows to the balances now; returns the number of keys written."""
    records = session.info.pop(_PENDING, None)
    if not records:
        session.info.pop(_KNOWN, None)
        return 0
    try:
        return post_records(session, records)
    finally:
        session.info.pop(_KNOWN, None)


def _batch_class() -> type:
    if not _BUILT:  # imported late: ledger.batches imports the journal, which this module subscribes to
        from ledger.batches import Batch

        _BUILT["batch"] = Batch
        _BUILT["holdings"] = (select(*(Batch.__table__.c[c] for c in _HOLDING_COLUMNS))
                              .where(Batch.__table__.c.id.in_(bindparam("ids", expanding=True))))
    return _BUILT["batch"]


def _holdings(session: Session, records: list[JournalRecord]) -> dict[int, Holding]:
    """What classification needs of each holding the records move: noted when the record was collected, or read
    (one statement, built once). These columns never change once a holding is written."""
    ids = {r.batch_id or r.source_batch_id for r in records if r.kind != "generated"}
    ids.discard(None)
    known = session.info.get(_KNOWN, {})
    rows = [known[bid] for bid in ids if bid in known]
    missing = sorted(bid for bid in ids if bid not in known)
    if missing:
        _batch_class()
        rows += session.execute(_BUILT["holdings"], {"ids": missing}).all()
    # a collection-centre lot is made of received holdings: it counts as received, never as the collector's own
    return {bid: Holding(code, recv, local_year(created if recv else occurred))
            for bid, code, parent, period, occurred, created in rows
            for recv in [parent is not None or period == "lot"]}


def post_records(session: Session, records: list[JournalRecord]) -> int:
    """Classify records and add their flows to the balance table (one upsert per key)."""
    holdings = _holdings(session, records)
    originals = {}
    wanted = [r.corrects_id for r in records if r.kind == "corrected" and r.corrects_id]
    if wanted:
        for o in session.execute(select(JournalRecord.id, JournalRecord.kind, JournalRecord.occurred_at,
                                        JournalRecord.facility_id, JournalRecord.body)
                                 .where(JournalRecord.id.in_(wanted))).all():
            originals[o.id] = {"kind": o.kind, "occurred_at": o.occurred_at, "facility_id": o.facility_id,
                               "body": o.body or {}}
    shipments = {}
    returns = [r for r in records if r.kind == "returned" and "counts_as_utilisation" not in (r.body or {})]
    for r in returns:
        body = session.execute(select(JournalRecord.body).where(
            JournalRecord.kind == "shipped", JournalRecord.manifest_id == r.manifest_id,
            JournalRecord.batch_id == r.batch_id).order_by(JournalRecord.id.desc())).scalar()
        shipments[r.id] = body or {}
    totals: dict[tuple, dict[str, int]] = {}
    for r in records:
        body = r.body or {}
        if r.kind == "generated":
            holding = Holding(body.get("waste_code") or holdings_code(session, r.batch_id), False,
                              local_year(r.occurred_at))
        else:
            holding = holdings[r.batch_id or r.source_batch_id]
        key, flows = classify(kind=r.kind, unit_id=r.unit_id, occurred_at=r.occurred_at, facility_id=r.facility_id,
                              mass_g=int(r.mass_g), body=body, holding=holding,
                              original=originals.get(r.corrects_id), shipped_body=shipments.get(r.id))
        if not flows:
            continue
        acc = totals.setdefault(key, {})
        for col, grams in flows.items():
            acc[col] = acc.get(col, 0) + grams
    rows = [key_row(k, f) for k, f in totals.items() if any(f.values())]
    years: dict[tuple, dict] = {}
    for r in rows:
        key = (r["unit_id"], r["month"] // 100, r["waste_code"], r["counterparty_id"], r["origin"])
        acc = years.setdefault(key, {"unit_id": key[0], "year": key[1], "waste_code": key[2],
                                     "counterparty_id": key[3], "origin": key[4], "kind": r["kind"],
                                     **dict.fromkeys(FLOW_COLUMNS, 0)})
        for c in FLOW_COLUMNS:
            acc[c] += r[c]
    for i in range(0, len(rows), _CHUNK):
        upsert(session, rows[i:i + _CHUNK])
    year_rows = list(years.values())
    for i in range(0, len(year_rows), _CHUNK):
        upsert(session, year_rows[i:i + _CHUNK], yearly=True)
    return len(rows)


def holdings_code(session: Session, batch_id: int) -> str:
    from ledger.batches import Batch

    return session.execute(select(Batch.waste_code).where(Batch.id == batch_id)).scalar_one()


_UPSERTS: dict[tuple[str, bool], object] = {}


def _upsert_statement(dialect: str, yearly: bool):  # noqa: ANN202
    """`INSERT … ON CONFLICT (key) DO UPDATE SET x = x + excluded.x`, built once per dialect and table so that
    SQLAlchemy compiles it once (rows are bound as parameters, never inlined as VALUES)."""
    key = (dialect, yearly)
    if key not in _UPSERTS:
        table = (PeriodBalanceYear if yearly else PeriodBalance).__table__
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(table)
        _UPSERTS[key] = stmt.on_conflict_do_update(
            index_elements=list(YEAR_KEY_COLUMNS if yearly else KEY_COLUMNS),
            set_={c: table.c[c] + stmt.excluded[c] for c in FLOW_COLUMNS})
    return _UPSERTS[key]


def upsert(session: Session, rows: list[dict], *, yearly: bool = False) -> None:
    """Add rows' flows to the balance table: insert new keys, `x = x + excluded.x` on existing ones (one
    statement, executed for all rows at once)."""
    if rows:
        session.execute(_upsert_statement(session.get_bind().dialect.name, yearly), rows)


# ---- wiring ----------------------------------------------------------------------------------------------------

@event.listens_for(OrmSession, "before_commit")
def _before_commit(session: OrmSession) -> None:
    if session.in_nested_transaction():
        return  # a savepoint is released (one request of a commit group): post once, at the transaction's COMMIT
    if session.info.get(_PENDING):
        post_pending(session)


@event.listens_for(OrmSession, "after_soft_rollback")
def _after_soft_rollback(session: OrmSession, previous_transaction) -> None:  # noqa: ANN001
    """(A savepoint's own records are cut by the journal: `collected_per_savepoint`.)"""
    session.info.pop(_KNOWN, None)  # a holding written in what was rolled back is gone (SQLite may reuse its id)
    if not previous_transaction.nested:
        session.info.pop(_PENDING, None)


journal.subscribe(on_record)
journal.collected_per_savepoint(_PENDING)
