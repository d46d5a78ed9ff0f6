"""A label scan's reads in one round trip, on the event loop (PostgreSQL).

A scan (`GET /scan/{digital_id}`) reads the registry stamp, the holdings of the digital ID (`holdings_for_scan`)
and the open manifest of each (`open_manifest_of`, for what the caller may do next); the token, the units and the
caller's rights come from the registry cache. `prefetch` reads all three in one statement through the async pool
(`ledger.aio`). The scan then runs as it always does, inside `one_read(primed)`, on a `CacheOnly` view at the
stamp it read: the two reads find their answers primed, the registry lookups find the cache. When something is
missing (the cache was cleared by a registry change, a token never seen, a rule that must query: a hauler's or a
park's view of a batch), the view raises `NeedsDatabase` and the caller scans again on a session. So both ways run
the same code and give the same answer; the fast one only reads less.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import String, any_, bindparam, select, true
from sqlalchemy.dialects.postgresql import ARRAY

from ledger.aio import AsyncReader, compile_pg
from ledger.batches import Batch
from ledger.batches.access import holdings_key, scan_key
from ledger.cache import RegistryVersion
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


async def prefetch(reader: AsyncReader, digital_id: str) -> Prefetched:
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
