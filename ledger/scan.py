"""What a QR code opens, read in one round trip on the event loop (PostgreSQL): a label scan, a facility card.

A scan (`GET /scan/{digital_id}`) reads the registry stamp, the holdings of the digital ID (`holdings_for_scan`)
and the open manifest of each (`open_manifest_of`, for what the caller may do next); the token, the units and the
caller's rights come from the registry cache. `prefetch` reads all three in one statement through the async pool
(`ledger.aio`). The scan then runs as it always does, inside `one_read(primed)`, on a `CacheOnly` view at the
stamp it read: the two reads find their answers primed, the registry lookups find the cache. When something is
missing (the cache was cleared by a registry change, a token never seen, a rule that must query: a hauler's or a
park's view of a batch), the view raises `NeedsDatabase` and the caller scans again on a session. So both ways run
the same code and give the same answer; the fast one only reads less. `api.deps.qr_read` runs both ways.

A facility card (`GET /facilities/{id}`, what the QR at a storage room's door opens) reads its stock and its
latest records; `prefetch_facility` sends the two statements and the stamp together (psycopg's pipeline mode).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import String, any_, bindparam, select, true
from sqlalchemy.dialects.postgresql import ARRAY

from ledger.aio import AsyncReader, compile_pg
from ledger.batches import Batch
from ledger.batches.access import holdings_key, scan_key
from ledger.batches.views import FACILITY_STOCK, RECENT_MOVEMENTS, facility_stock_key, recent_movements_key
from ledger.cache import RegistryVersion
from ledger.journal import JournalRecord
from ledger.manifests.create import open_manifest_key
from ledger.manifests.models import OPEN, Manifest, ManifestLine

_B, _M, _L = Batch.__table__, Manifest.__table__, ManifestLine.__table__
_OPEN_MANIFEST = (select(*_M.c).join(_L, _L.c.manifest_id == _M.c.id)
                  .where(_L.c.batch_id == _B.c.id, _M.c.status == any_(bindparam("open", type_=ARRAY(String))))
                  .order_by(_M.c.id).limit(1).lateral("open_manifest"))
_STAMP = select(RegistryVersion.stamp).where(RegistryVersion.id == 1).scalar_subquery()
_SCAN = compile_pg(select(_STAMP.label("registry_stamp"), *_B.c, *_OPEN_MANIFEST.c)
                   .select_from(_B.outerjoin(_OPEN_MANIFEST, true()))
                   .where(_B.c.digital_id == bindparam("digital_id")).order_by(_B.c.id))
_BATCH_COLS = [c.name for c in _B.c]
_MANIFEST_COLS = [c.name for c in _M.c]
_OPEN = list(OPEN)


@dataclass
class Prefetched:
    """What a scan's one statement read: the registry stamp (None: no holding, nothing to go on) and the answers
    to prime `one_read` with."""

    stamp: int | None = None
    primed: dict = field(default_factory=dict)


async def prefetch_scan(reader: AsyncReader, digital_id: str) -> Prefetched:
    """The stamp, the holdings of the digital ID and each holding's open manifest, in one statement."""
    rows = await reader.rows(_SCAN, digital_id=scan_key(digital_id), open=_OPEN)
    if not rows:
        return Prefetched()
    holdings: list[Batch] = []
    primed: dict = {}
    nb = len(_BATCH_COLS)
    for row in rows:
        b = Batch.model_construct(**dict(zip(_BATCH_COLS, row[1:1 + nb], strict=True)))
        m = row[1 + nb:]
        holdings.append(b)
        primed[open_manifest_key(b.id)] = (
            Manifest.model_construct(**dict(zip(_MANIFEST_COLS, m, strict=True))) if m[0] is not None else None)
    primed[holdings_key(digital_id)] = holdings
    return Prefetched(stamp=rows[0][0], primed=primed)


_STAMP_ALONE = compile_pg(select(RegistryVersion.stamp).where(RegistryVersion.id == 1))
_STOCK = compile_pg(FACILITY_STOCK)
_RECENT = compile_pg(RECENT_MOVEMENTS)
_RECORD_COLS = [c.name for c in JournalRecord.__table__.c]
RECENT_LIMIT = 20  # what the card shows (`recent_movements`' default)


async def prefetch_facility(reader: AsyncReader, facility_id: int) -> Prefetched:
    """The stamp, the facility's stock rows and its latest records, sent together."""
    stamp, stock, recent = await reader.rows_of((_STAMP_ALONE, {}), (_STOCK, {"facility_id": facility_id}),
                                                (_RECENT, {"facility_id": facility_id, "limit": RECENT_LIMIT}))
    if not stamp:
        return Prefetched()
    records = [JournalRecord.model_construct(**dict(zip(_RECORD_COLS, r, strict=True))) for r in recent]
    return Prefetched(stamp=stamp[0][0], primed={facility_stock_key(facility_id): stock,
                                                  recent_movements_key(facility_id, RECENT_LIMIT): records})
