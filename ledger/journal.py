"""The append-only record log: one chain per unit, gapless `seq`, SHA-256 links. The only writer of records.

hash = SHA-256(prev_hash + canonical JSON of the record's content). The content is every stored column but
`id` and `hash`, so an UPDATE made behind the service's back breaks the link at that record, and a DELETE shows
as a gap in `seq`. Subscribers (the alert engine) receive each record in the writer's transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    UniqueConstraint,
    bindparam,
    event,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Field, Session, SQLModel, select

from ledger.db import insert_all, new_row, quoted
from ledger.types import UTCDateTime, utcnow

GENESIS = "0" * 64

# Record kinds, past tense. Mass effects are applied by ledger.batches.
KINDS = (
    "generated",  # B.1 产生: weighed at a generation point
    "stored",  # B.2 入库
    "retrieved",  # B.3 出库
    "used_in_house",  # B.4 自行利用
    "disposed_in_house",  # B.4 自行处置
    "shipped",  # B.5 委外: left the originator on a manifest (pickup)
    "received",  # receiver took the load into its holding
    "refused",  # receiver refused (part of) a load; it goes back on the return leg
    "returned",  # the refused load is back with the originator
    "corrected",  # amends an earlier record; the original stays
    "combined",  # a collected holding poured into a collection-centre lot (batch_id: the lot, source: the holding)
)


class JournalRecord(SQLModel, table=True):
    """One ledger record of one unit's chain."""

    __tablename__ = "journal_record"
    __table_args__ = (
        UniqueConstraint("unit_id", "seq"),
        Index("ix_journal_record_batch", "batch_id", "id"),
        Index("ix_journal_record_facility", "facility_id", "id"),  # a facility card's latest movements
    )
    id: int | None = Field(default=None, sa_column=Column(BigInteger().with_variant(Integer, "sqlite"),
                                                          primary_key=True, autoincrement=True))
    unit_id: int = Field(foreign_key="unit.id")
    seq: int
    kind: str = Field(max_length=24)
    batch_id: int | None = Field(default=None, foreign_key="batch.id")
    source_batch_id: int | None = Field(default=None, foreign_key="batch.id", index=True)
    mass_g: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    facility_id: int | None = Field(default=None, foreign_key="facility.id")
    manifest_id: int | None = Field(default=None)
    record_code: str | None = Field(default=None, max_length=40, index=True)
    actor_id: int | None = Field(default=None)
    actor_name: str = Field(max_length=120)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    recorded_at: datetime = Field(sa_type=UTCDateTime)
    corrects_id: int | None = Field(default=None)
    body: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class JournalHead(SQLModel, table=True):
    """The last link of each unit's chain; locked while a record is appended."""

    __tablename__ = "journal_head"
    unit_id: int = Field(primary_key=True, foreign_key="unit.id")
    seq: int = 0
    hash: str = Field(default=GENESIS, max_length=64)


def _ts(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(record: JournalRecord) -> bytes:
    """The canonical JSON of a record's content (what the hash covers)."""
    content = {
        "unit_id": record.unit_id, "seq": record.seq, "kind": record.kind, "batch_id": record.batch_id,
        "source_batch_id": record.source_batch_id,
        "mass_g": int(record.mass_g), "facility_id": record.facility_id, "manifest_id": record.manifest_id,
        "record_code": record.record_code, "actor_id": record.actor_id, "actor_name": record.actor_name,
        "occurred_at": _ts(record.occurred_at), "recorded_at": _ts(record.recorded_at),
        "corrects_id": record.corrects_id, "body": record.body, "prev_hash": record.prev_hash,
    }
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def link_hash(record: JournalRecord) -> str:
    """SHA-256 of the canonical content (which includes prev_hash)."""
    return hashlib.sha256(canonical(record)).hexdigest()


Subscriber = Callable[[Session, JournalRecord], None]
_subscribers: list[Subscriber] = []


def subscribe(fn: Subscriber) -> Subscriber:
    """Receive every appended record inside the writer's transaction (used by the alert engine)."""
    if fn not in _subscribers:
        _subscribers.append(fn)
    return fn


def unsubscribe(fn: Subscriber) -> None:
    if fn in _subscribers:
        _subscribers.remove(fn)


# Subscribers collect records in lists of `session.info` until the commit. A savepoint that rolls back (one request
# of a commit group refused, api/grouping.py) takes away what was collected inside it: its records were not written.
_COLLECTED: list[str] = []
_MARKS = "wasteledger.savepoint_marks"


def collected_per_savepoint(key: str) -> None:
    """Declare `session.info[key]` a list of collected records that a rolled-back savepoint cuts back to its length
    when the savepoint began (the balances' postings, the alert engine's pending records)."""
    if key not in _COLLECTED:
        _COLLECTED.append(key)


@event.listens_for(OrmSession, "after_transaction_create")
def _savepoint_begins(session: OrmSession, transaction) -> None:  # noqa: ANN001
    if transaction.nested:
        session.info.setdefault(_MARKS, {})[id(transaction)] = {k: len(session.info.get(k, ())) for k in _COLLECTED}


@event.listens_for(OrmSession, "after_soft_rollback")
def _savepoint_rolled_back(session: OrmSession, previous_transaction) -> None:  # noqa: ANN001
    marks = session.info.get(_MARKS, {}).pop(id(previous_transaction), None)
    if not previous_transaction.nested:
        session.info.pop(_MARKS, None)  # the transaction itself ended: every savepoint with it
    elif marks:
        for key, length in marks.items():
            if key in session.info:
                del session.info[key][length:]


@event.listens_for(OrmSession, "after_commit")
def _transaction_committed(session: OrmSession) -> None:
    if not session.in_nested_transaction():  # the transaction itself (a released savepoint's mark waits for it)
        session.info.pop(_MARKS, None)


# The source document of records written while it is set (history import, paper-manifest back-entry): merged into
# each record's body as "source", so every figure fed by those records traces to the document.
_source: ContextVar[dict | None] = ContextVar("journal_source", default=None)


def source_is_set() -> bool:
    """Whether records appended in this context are marked with a source document (`recorded_from`)."""
    return _source.get() is not None


@contextmanager
def recorded_from(source: dict) -> Iterator[None]:
    """Mark every record appended inside this block with `body["source"] = source` (e.g. {"kind": "import", …})."""
    token = _source.set(source)
    try:
        yield
    finally:
        _source.reset(token)


def _body(body: dict | None) -> dict:
    out = json.loads(json.dumps(body or {}, ensure_ascii=False, default=str))
    source = _source.get()
    if source is not None and "source" not in out:
        out["source"] = json.loads(json.dumps(source, ensure_ascii=False, default=str))
    return out


_HEADS: dict[str, Any] = {}


def _heads_statement(dialect: str):  # noqa: ANN202
    """`INSERT INTO journal_head … ON CONFLICT (unit_id) DO UPDATE … RETURNING unit_id, seq, hash`: lock and read
    the chain heads of several units (creating them on first use) in one statement; built once per dialect."""
    if dialect not in _HEADS:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table = JournalHead.__table__
        stmt = insert(table)
        _HEADS[dialect] = stmt.on_conflict_do_update(
            index_elements=["unit_id"], set_={"unit_id": stmt.excluded.unit_id}
        ).returning(table.c.unit_id, table.c.seq, table.c.hash)
    return _HEADS[dialect]


def _lock_heads(session: Session, unit_ids: list[int]) -> dict[int, tuple[int, str]]:
    """Lock the chain heads of these units until commit and read them: one statement, rows in unit-id order, so
    that two transactions appending to shared units lock them in the same order."""
    rows = [{"unit_id": u, "seq": 0, "hash": GENESIS} for u in sorted(set(unit_ids))]
    return {int(u): (int(seq), h) for u, seq, h in session.execute(_heads_statement(
        session.get_bind().dialect.name), rows).all()}


def append(session: Session, *, unit_id: int, kind: str, actor_id: int | None, actor_name: str,
           occurred_at: datetime, batch_id: int | None = None, source_batch_id: int | None = None, mass_g: int = 0, facility_id: int | None = None,
           manifest_id: int | None = None, record_code: str | None = None, corrects_id: int | None = None,
           body: dict[str, Any] | None = None) -> JournalRecord:
    """Append one record to the unit's chain (locks the chain head until commit) and notify subscribers."""
    return append_many(session, unit_id=unit_id, entries=[dict(
        kind=kind, actor_id=actor_id, actor_name=actor_name, occurred_at=occurred_at, batch_id=batch_id,
        source_batch_id=source_batch_id, mass_g=mass_g, facility_id=facility_id, manifest_id=manifest_id,
        record_code=record_code, corrects_id=corrects_id, body=body)])[0]


def append_many(session: Session, *, unit_id: int, entries: list[dict[str, Any]]) -> list[JournalRecord]:
    """Append several records to one unit's chain under one head lock and one multi-row INSERT (bulk ingestion).

    Each entry has the keyword arguments of `append`. The chain is the same as if they were appended one by one.
    """
    return append_chains(session, {unit_id: entries})[unit_id]


def append_chains(session: Session, entries: dict[int, list[dict[str, Any]]]) -> dict[int, list[JournalRecord]]:
    """Append records to the chains of several units at once (a commit group's weighings): the heads locked and
    read in one statement, every record in one multi-row INSERT, the heads moved in one executemany (on
    PostgreSQL one record and its head move in one statement, `_insert_moving_head`). Each unit's
    chain is the same as if its records were appended one by one; subscribers see the records in that order.

    Inside `appends_deferred(session)` the records are built but wait for `flush_appends`: the objects returned
    have no id, seq, hash or recorded_at until then."""
    for unit_entries in entries.values():
        for e in unit_entries:
            if e["kind"] not in KINDS:
                raise ValueError(f"unknown record kind {e['kind']}")
    out = {unit_id: [new_row(
        JournalRecord, unit_id=unit_id, seq=None, kind=e["kind"], batch_id=e.get("batch_id"),
        source_batch_id=e.get("source_batch_id"), mass_g=e.get("mass_g", 0), facility_id=e.get("facility_id"),
        manifest_id=e.get("manifest_id"), record_code=e.get("record_code"), actor_id=e.get("actor_id"),
        actor_name=e["actor_name"], occurred_at=e["occurred_at"].astimezone(UTC), recorded_at=None,
        corrects_id=e.get("corrects_id"), body=_body(e.get("body")), prev_hash=None, hash=None)
        for e in entries[unit_id]] for unit_id in sorted(entries)}
    waiting = session.info.get(_DEFERRED)
    if waiting is not None:
        waiting.extend(r for unit_id in sorted(out) for r in out[unit_id])
        return out
    _link_and_write(session, out)
    return out


def _link_and_write(session: Session, out: dict[int, list[JournalRecord]]) -> None:
    """Lock the units' heads (one statement, in unit-id order), link each unit's records to its chain in order,
    INSERT them in one statement, move the heads (one executemany; one record on PostgreSQL: both in one
    statement) and tell the subscribers."""
    heads = _lock_heads(session, list(out))
    now = utcnow()  # after the heads are held: along a chain, recorded_at rises with seq
    moved = []
    for unit_id in sorted(out):
        seq, prev = heads[unit_id]
        for r in out[unit_id]:
            seq += 1
            r.__dict__.update(seq=seq, prev_hash=prev, recorded_at=now)  # (transient, from new_row: no history)
            r.__dict__["hash"] = prev = link_hash(r)
        moved.append({"s": seq, "h": prev, "u": unit_id})
    records = [r for unit_id in sorted(out) for r in out[unit_id]]
    if len(records) == 1 and session.get_bind().dialect.name == "postgresql":
        _insert_moving_head(session, records[0], moved[0])
    else:
        insert_all(session, records)
        session.execute(_MOVE_HEAD, moved)
    for unit_id in sorted(out):
        for r in out[unit_id]:
            for fn in list(_subscribers):
                fn(session, r)


# A commit group of units of work (api/grouping.py) appends its records at its end: each unit of work builds its
# records as it goes (a refused one's are cut with its savepoint), and the group takes the chain heads once, after
# every unit of work, and holds them only from there to its COMMIT.
_DEFERRED = "wasteledger.deferred_appends"
collected_per_savepoint(_DEFERRED)


@contextmanager
def appends_deferred(session: Session) -> Iterator[None]:
    """Within this block the records appended in `session` wait for `flush_appends(session)`, which must be called
    before the block ends (what is still waiting then is dropped: the caller's transaction is failing).

    A unit of work that runs inside must not read the journal for records it wrote itself; the one such read of
    the write path, a holding's last record code (`last_waiting`), looks here first."""
    session.info[_DEFERRED] = []
    try:
        yield
    finally:
        session.info.pop(_DEFERRED, None)


def flush_appends(session: Session) -> list[JournalRecord]:
    """Append the waiting records to their chains, in the order they were appended (per unit, as if one by one)."""
    waiting = session.info.get(_DEFERRED)
    if not waiting:
        return []
    session.info[_DEFERRED] = []
    out: dict[int, list[JournalRecord]] = {}
    for r in waiting:
        out.setdefault(r.unit_id, []).append(r)
    _link_and_write(session, out)
    return waiting


def last_waiting(session: Session, batch_id: int) -> JournalRecord | None:
    """The last record of this holding still waiting in `appends_deferred`, if any."""
    for r in reversed(session.info.get(_DEFERRED) or ()):
        if r.batch_id == batch_id:
            return r
    return None


_MOVE_HEAD = text("UPDATE journal_head SET seq = :s, hash = :h WHERE unit_id = :u")
_ONE_MOVING_HEAD: list = []


def _insert_moving_head(session: Session, r: JournalRecord, head: dict) -> None:
    """PostgreSQL, one record (a weighing, a signature's one record): its INSERT and its chain head's move in one
    statement, `WITH moved AS (UPDATE journal_head …) INSERT INTO journal_record … RETURNING id`, one round trip
    fewer while the head is held. Built once."""
    if not _ONE_MOVING_HEAD:
        # as text with typed parameters: SQLAlchemy keys its statement cache on a text's string, where a built
        # INSERT with a WITH part would be walked whole on every execution (more Python than the round trip saved)
        table = JournalRecord.__table__
        names = [c.name for c in table.columns if c.name != "id"]
        _ONE_MOVING_HEAD[:] = [text(
            "WITH moved AS (UPDATE journal_head SET seq = :head_seq, hash = :head_hash WHERE unit_id = :head_unit) "
            f"INSERT INTO journal_record ({quoted(names)}) VALUES ({', '.join(f':v_{n}' for n in names)}) "
            "RETURNING id").bindparams(*(bindparam(f"v_{n}", type_=table.c[n].type) for n in names))
            .columns(table.c.id), names]
    stmt, names = _ONE_MOVING_HEAD
    r.id = session.execute(stmt, {**{f"v_{n}": getattr(r, n) for n in names}, "head_unit": head["u"],
                                  "head_seq": head["s"], "head_hash": head["h"]}).scalar_one()


@dataclass(frozen=True)
class ChainCheck:
    unit_id: int
    ok: bool
    records: int
    first_bad_seq: int | None = None
    first_bad_record_id: int | None = None
    reason: str | None = None


def verify(session: Session, *, unit_id: int, batch_size: int = 5000) -> ChainCheck:
    """Recompute a unit's chain from the stored records and name the first broken link."""
    expected_seq, prev, count, last_id = 1, GENESIS, 0, None
    while True:
        q = select(JournalRecord).where(JournalRecord.unit_id == unit_id, JournalRecord.seq >= expected_seq)
        rows = session.exec(q.order_by(JournalRecord.seq).limit(batch_size)
                            .execution_options(populate_existing=True)).all()
        if not rows:
            break
        for r in rows:
            if r.seq != expected_seq:
                return ChainCheck(unit_id, False, count, expected_seq, r.id,
                                  f"record seq {expected_seq} is missing (next stored is {r.seq})")
            if r.prev_hash != prev:
                return ChainCheck(unit_id, False, count, r.seq, r.id,
                                  "prev_hash does not match the previous record's hash")
            if link_hash(r) != r.hash:
                return ChainCheck(unit_id, False, count, r.seq, r.id,
                                  "content does not match its hash: the record was changed after it was written")
            prev, expected_seq, count, last_id = r.hash, expected_seq + 1, count + 1, r.id
    head = session.get(JournalHead, unit_id, populate_existing=True)
    if head is not None and (head.seq != count or head.hash != prev):
        return ChainCheck(unit_id, False, count, count + 1 if head.seq > count else head.seq, last_id,
                          f"chain head says seq {head.seq} but {count} records link up: records after "
                          f"seq {count} are missing or the head was changed")
    return ChainCheck(unit_id, True, count)


def records_for_batch(session: Session, batch_id: int) -> list[JournalRecord]:
    """Every record that changes a holding: its own records and those that draw on it as their source."""
    return list(session.exec(select(JournalRecord).where(
        (JournalRecord.batch_id == batch_id) | (JournalRecord.source_batch_id == batch_id))
        .order_by(JournalRecord.id)).all())
