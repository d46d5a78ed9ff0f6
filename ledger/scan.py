"""The three hottest reads, each read in one round trip on the event loop (PostgreSQL): a label scan, a facility
card, a trace.

A scan (`GET /scan/{digital_id}`) reads the registry stamp, the holdings of the digital ID (`holdings_for_scan`),
the open manifest of each (`open_manifest_of`, for what the caller may do next) and the parties of the manifests
that carried each (`manifest_parties`: a hauler's or a receiver's view); the token, the units and the caller's
rights come from the registry cache. `prefetch_scan` reads them all in one statement through the async pool
(`ledger.aio`). The scan then runs as it always does, inside `one_read(primed)`, on a `CacheOnly` view at the
stamp it read: the two reads find their answers primed, the registry lookups find the cache. When something is
missing (the cache was cleared by a registry change, a token never seen, a rule that must query: a lot's
sources), the view raises `NeedsDatabase` and the caller scans again on a session. So both ways run
the same code and give the same answer; the fast one only reads less. `api.deps.prefetched_read` runs both ways.

A facility card (`GET /facilities/{id}`, what the QR at a storage room's door opens) reads its stock and its
latest records; `prefetch_facility` sends the two statements together (psycopg's pipeline mode), the stamp read
with the stock.
A trace (`GET /batches/{id}/trace`) reads the batch, its root's holdings and their records, the manifests that
carried them and their events, and the lots the root went into; `prefetch_trace` sends those in five statements
together (the batch is one of its root's holdings; the stamp comes with them).

A registry row that the cache does not hold yet (a unit, a facility, a token: `NeedsRow`) is read on the event
loop too, with the stamp, by `fill`, and the read runs again: only what a row alone cannot answer goes to a
session. Each answer is primed under the key that its reading function looks up (`holdings_key`,
`open_manifest_key`, `batch_key`, …, defined beside each function).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from sqlalchemy import any_, bindparam, func, literal_column, or_, select, true, union
from sqlalchemy.dialects.postgresql import ARRAY, array

from ledger.accounts import ApiToken, User
from ledger.aio import AsyncReader, Compiled, compile_pg, maker
from ledger.batches import Batch
from ledger.batches.access import batch_key, holdings_key, scan_key
from ledger.batches.trace import holdings_of_key, records_of_holdings_key
from ledger.batches.views import FACILITY_STOCK, RECENT_MOVEMENTS, facility_stock_key, recent_movements_key
from ledger.cache import NeedsRow, RegistryVersion, Stamps, holds, part_of, remember, stamps_of
from ledger.collection.lots import lots_of_root_key
from ledger.collection.models import LotSource
from ledger.journal import JournalRecord
from ledger.manifests.access import manifest_parties_key
from ledger.manifests.create import open_manifest_key
from ledger.manifests.models import OPEN, Manifest, ManifestEvent, ManifestLine
from ledger.manifests.views import events_of_key, manifests_of_root_key
from ledger.registry.models import Facility, Unit

_B, _M, _L = Batch.__table__, Manifest.__table__, ManifestLine.__table__
_OPEN_MANIFEST = (select(*_M.c).join(_L, _L.c.manifest_id == _M.c.id)
                  # (the open states written into the SQL: a list parameter costs psycopg a scan of it each time)
                  .where(_L.c.batch_id == _B.c.id, _M.c.status.in_([literal_column(f"'{s}'") for s in OPEN]))
                  .order_by(_M.c.id).limit(1).lateral("open_manifest"))
# the parties of every manifest that carried the holding, its parent or its root (a hauler's or a receiver's view)
_CARRIER, _CARRIED = _M.alias("carrier"), _L.alias("carried")
_PARTIES = (select(func.array_agg(_CARRIER.c.originator_id), func.array_agg(_CARRIER.c.hauler_id),
                   func.array_agg(_CARRIER.c.receiver_id))
            .select_from(_CARRIED.join(_CARRIER, _CARRIER.c.id == _CARRIED.c.manifest_id))
            .where(_CARRIED.c.batch_id.in_([_B.c.id, func.coalesce(_B.c.parent_id, _B.c.id),
                                            func.coalesce(_B.c.root_id, _B.c.id)]))
            .lateral("parties"))
# the registry's stamps (`ledger.cache`: rows 1 and 2 of registry_version), as one array column: `_stamps` reads it
_STAMPS = array([select(v.c.stamp).where(v.c.id == i).scalar_subquery()
                 for i, v in ((i, RegistryVersion.__table__.alias(f"stamp_{i}")) for i in (1, 2))]
                ).label("registry_stamps")
_SCAN = compile_pg(select(_STAMPS, *_B.c, *_OPEN_MANIFEST.c, *_PARTIES.c)
                   .select_from(_B.outerjoin(_OPEN_MANIFEST, true()).outerjoin(_PARTIES, true()))
                   .where(_B.c.digital_id == bindparam("digital_id")).order_by(_B.c.id))
_BATCH_COLS = [c.name for c in _B.c]
_MANIFEST_COLS = [c.name for c in _M.c]


@dataclass
class Prefetched:
    """What a prefetch read: the registry stamp (None: nothing to go on, let a session read), the answers to
    prime `one_read` with, by their keys, and the registry rows the read will look up (by model, their primary
    keys: what the cache does not hold of them is read in one round trip, `fill_all`)."""

    stamp: Stamps | None = None
    primed: dict = field(default_factory=dict)
    registry: dict[type, set] = field(default_factory=dict)


def _stamps(value: list | None) -> Stamps | None:
    """The stamps from a `_STAMPS` column (None: no registry row 1, nothing cached)."""
    return stamps_of(*value) if value else None


def _rows_as(model: type, rows: list[tuple]) -> list:
    make = maker(model)
    return [make(r) for r in rows]


async def prefetch_scan(reader: AsyncReader, digital_id: str) -> Prefetched:
    """The stamp, the holdings of the digital ID, each holding's open manifest and the parties of the manifests
    that carried it, in one statement."""
    rows = await reader.rows(_SCAN, digital_id=scan_key(digital_id))
    if not rows:
        return Prefetched()
    holdings: list[Batch] = []
    primed: dict = {}
    nb, nm = len(_BATCH_COLS), len(_MANIFEST_COLS)
    make_batch, make_manifest = maker(Batch), maker(Manifest)
    units: set[int] = set()  # the registry rows the scan will look up: holders, the open manifests' parties
    for row in rows:
        b = make_batch(row[1:1 + nb])
        m = make_manifest(row[1 + nb:1 + nb + nm]) if row[1 + nb] is not None else None
        holdings.append(b)
        units |= {b.unit_id, b.holder_unit_id}
        if m is not None:
            units |= {m.originator_id, m.hauler_id, m.receiver_id}
        primed[open_manifest_key(b.id)] = m
        primed[manifest_parties_key(b.id)] = frozenset(u for units_of in row[1 + nb + nm:] for u in units_of or ())
    primed[holdings_key(digital_id)] = holdings
    return Prefetched(stamp=_stamps(rows[0][0]), primed=primed, registry={Unit: units})


# the stamp and the facility's stock rows in one statement (no stock: the stamp with NULLs)
_STOCK_ROWS = FACILITY_STOCK.subquery("stock")
_STOCK = compile_pg(select(_STAMPS, *_STOCK_ROWS.c)
                    .select_from(RegistryVersion.__table__.outerjoin(_STOCK_ROWS, true()))
                    .where(RegistryVersion.__table__.c.id == 1).order_by(_STOCK_ROWS.c.waste_code))
_RECENT = compile_pg(RECENT_MOVEMENTS)
RECENT_LIMIT = 20  # what the card shows (`recent_movements`' default)


async def prefetch_facility(reader: AsyncReader, facility_id: int) -> Prefetched:
    """The stamp with the facility's stock rows, and its latest records, sent together."""
    stock, recent = await reader.rows_of((_STOCK, {"facility_id": facility_id}),
                                         (_RECENT, {"facility_id": facility_id, "limit": RECENT_LIMIT}))
    if not stock:
        return Prefetched()  # no registry row 1: nothing cached, the session reads
    primed = {facility_stock_key(facility_id): [r[1:] for r in stock if r[1] is not None],
              recent_movements_key(facility_id, RECENT_LIMIT): _rows_as(JournalRecord, recent)}
    return Prefetched(stamp=_stamps(stock[0][0]), primed=primed, registry={Facility: {facility_id}})


# A trace (`GET /batches/{id}/trace`): the batch, the holdings of its root and their records, the manifests that
# carried them with their events, and the lots the root was poured into, in five statements sent together (the
# batch is one of its root's holdings, and the first statement reads the registry stamp too).
_T = _B.alias("target")
_ROOT = select(func.coalesce(_T.c.root_id, _T.c.id)).where(_T.c.id == bindparam("batch_id")).scalar_subquery()
_H = _B.alias("holding")
_HOLDING_IDS = select(_H.c.id).where(or_(_H.c.id == _ROOT, _H.c.root_id == _ROOT))
_JR, _E, _LS = JournalRecord.__table__, ManifestEvent.__table__, LotSource.__table__
_L2 = _L.alias("line_of_root")
_TRACE = (
    # the stamp and the holdings of the batch's root, the batch among them (no batch: the stamp with NULLs)
    compile_pg(select(_STAMPS, *_B.c)
               .select_from(RegistryVersion.__table__.outerjoin(_B, or_(_B.c.id == _ROOT, _B.c.root_id == _ROOT)))
               .where(RegistryVersion.__table__.c.id == 1).order_by(_B.c.id)),
    # (an OR of two IN-subqueries would filter the whole journal: a UNION of the two index lookups instead)
    compile_pg(select(*_JR.c).where(_JR.c.id.in_(union(
        select(_JR.c.id).where(_JR.c.batch_id.in_(_HOLDING_IDS)),
        select(_JR.c.id).where(_JR.c.source_batch_id.in_(_HOLDING_IDS))))).order_by(_JR.c.id)),
    compile_pg(select(*_M.c, *_L.c).join(_L, _L.c.manifest_id == _M.c.id).where(_L.c.batch_id.in_(_HOLDING_IDS))
               .order_by(_M.c.id)),
    compile_pg(select(*_E.c).where(_E.c.manifest_id.in_(select(_L2.c.manifest_id).where(
        _L2.c.batch_id.in_(_HOLDING_IDS)))).order_by(_E.c.id)),
    compile_pg(select(*_LS.c).where(_LS.c.root_id == _ROOT).order_by(_LS.c.id)),
)


async def prefetch_trace(reader: AsyncReader, batch_id: int) -> Prefetched:
    """The stamp and what a batch's trace reads (its own statements and its hooks'), sent together."""
    params = {"batch_id": batch_id}
    holdings, records, carried, events, lots = await reader.rows_of(*((q, params) for q in _TRACE))
    if not holdings:
        return Prefetched()
    stamp = _stamps(holdings[0][0])
    make_batch = maker(Batch)
    held = [make_batch(r[1:]) for r in holdings if r[1] is not None]
    b = next((h for h in held if h.id == batch_id), None)
    primed: dict = {batch_key(batch_id): b}
    if b is not None:
        root_id = b.root_id or b.id
        primed[holdings_of_key(root_id)] = held
        for h in held:  # the root among them (a received holding's hooks ask for it by id)
            primed.setdefault(batch_key(h.id), h)
        primed[records_of_holdings_key([h.id for h in held])] = _rows_as(JournalRecord, records)
        nm = len(_MANIFEST_COLS)
        make_manifest, make_line = maker(Manifest), maker(ManifestLine)
        pairs = [(make_manifest(r[:nm]), make_line(r[nm:])) for r in carried]
        primed[manifests_of_root_key(root_id)] = pairs
        for h in held:  # who may see each holding through a manifest (`manifest_parties`)
            ids = {h.id, h.parent_id or h.id, h.root_id or h.id}
            primed[manifest_parties_key(h.id)] = frozenset(
                u for m, ln in pairs if ln.batch_id in ids for u in (m.originator_id, m.hauler_id, m.receiver_id))
        by_manifest: dict[int, list] = {m.id: [] for m, _ in pairs}
        for e in _rows_as(ManifestEvent, events):
            by_manifest.setdefault(e.manifest_id, []).append(e)
        primed.update({events_of_key(mid): evs for mid, evs in by_manifest.items()})
        primed[lots_of_root_key(root_id)] = _rows_as(LotSource, lots)
        recs = primed[records_of_holdings_key([h.id for h in held])]
        registry = {Unit: {u for h in held for u in (h.unit_id, h.holder_unit_id)}
                    | {r.unit_id for r in recs}
                    | {u for m, _ in pairs for u in (m.originator_id, m.hauler_id, m.receiver_id)},
                    Facility: {r.facility_id for r in recs}}
        return Prefetched(stamp=stamp, primed=primed, registry=registry)
    return Prefetched(stamp=stamp, primed=primed)


# ---- a registry row missed by a read on the event loop ------------------------------------------------------

_RV = RegistryVersion.__table__
_AT, _U = ApiToken.__table__, User.__table__
# the stamp and the token with its user, in one statement: the row is what the registry held at that stamp (no
# token: the stamp with NULLs)
_TOKEN_ROW = compile_pg(
    select(_STAMPS, *_AT.c, *_U.c)
    .select_from(_RV.outerjoin(_AT.join(_U, _U.c.id == _AT.c.user_id), _AT.c.token_hash == bindparam("digest")))
    .where(_RV.c.id == 1))


def _current(got: list | None, stamp: Stamps, key: tuple) -> bool:
    """Whether stamps read with a row (a `_STAMPS` column) are the read's own, in the part of the cache `key` is
    kept in (the other part may have moved meanwhile: a logout elsewhere leaves a unit read now as good)."""
    got_stamps = _stamps(got)
    return got_stamps is not None and got_stamps[part_of(key)] == stamp[part_of(key)]


@cache
def _pk_at(model: type) -> int:
    """Where a row of `model` has its primary key, in a row that starts with the stamps."""
    (pk,) = model.__table__.primary_key.columns
    return 1 + [c.name for c in model.__table__.columns].index(pk.name)


@cache
def _registry_rows(model: type) -> Compiled:
    """The stamp and the rows of `model` whose primary keys are in `idents` (none: the stamp with NULLs)."""
    table = model.__table__
    (pk,) = table.primary_key.columns
    q = (select(_STAMPS, *table.c)
         .select_from(_RV.outerjoin(table, pk == any_(bindparam("idents", type_=ARRAY(pk.type)))))
         .where(_RV.c.id == 1))
    return compile_pg(q)


async def fill_all(reader: AsyncReader, stamp: Stamps, wanted: dict[type, set]) -> None:
    """Read into the cache at `stamp` the registry rows of `wanted` (primary keys by model) that it does not hold,
    one statement per model, sent together: a read that knows the units and facilities it will show finds them
    all at once, instead of one `fill` and one more run per row. A row read under another stamp is not kept."""
    todo = [(model, missing) for model, idents in wanted.items()
            if (missing := sorted(i for i in idents if i is not None and not holds(stamp, (model.__tablename__, i))))]
    if not todo:
        return
    found = await reader.rows_of(*((_registry_rows(model), {"idents": missing}) for model, missing in todo))
    for (model, _), rows in zip(todo, found, strict=True):
        at, make = _pk_at(model), maker(model)
        for row in rows:
            key = (model.__tablename__, row[at])
            if row[at] is not None and _current(row[0], stamp, key):
                remember(stamp, key, make(row[1:]))


async def fill(reader: AsyncReader, miss: NeedsRow, stamp: Stamps) -> bool:
    """Read the registry row that a read on the event loop missed into the cache at `stamp`. False when that
    cannot answer it: no such row (a row not found is never cached), or the registry has changed since the read's
    stamp."""
    if miss.model is not None:
        await fill_all(reader, stamp, {miss.model: {miss.ident}})
        return holds(stamp, miss.key)
    if miss.key[0] == "token":
        rows = await reader.rows(_TOKEN_ROW, digest=miss.key[1])
        if not rows or rows[0][1] is None or not _current(rows[0][0], stamp, miss.key):
            return False
        nt = len(_AT.c)
        remember(stamp, miss.key, (maker(ApiToken)(rows[0][1:1 + nt]), maker(User)(rows[0][1 + nt:])))
        return True
    return False
