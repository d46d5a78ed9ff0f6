"""Collection-centre lots (并批): a collector combines many producers' collected holdings of one code into one lot
for onward transport. Each source gives its loose mass to the lot through a `combined` record (journal: batch_id =
the lot, source_batch_id = the holding), so `rebuild` recomputes both from the journal; `lot_source` indexes the
sources (which producer's batch, how much) for traces. The lot has its own HJ 1276 digital ID under the
collector's credit code (产生/收集单位) and its own label.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import bindparam
from sqlmodel import Field, Session, SQLModel, select

from ledger import batches, manifests
from ledger.auth import Principal, audit, registry_unit, require_unit
from ledger.batches import Batch
from ledger.batches.access import batch_key
from ledger.codes import make_digital_id
from ledger.collection.licences import is_collected_holding
from ledger.collection.models import LotSource
from ledger.counters import next_value
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.journal import JournalRecord
from ledger.mass import g_to_kg
from ledger.memo import memo
from ledger.registry.assets import licence_covers, licences_on
from ledger.registry.catalogue import check_waste_code
from ledger.registry.models import Facility, Method, Unit
from ledger.types import utcnow
from ledger.validation import Code, DbId, Input, Litres, PastTime
from ledger.workdays import local_day

MIN_SOURCES = 2


class LotCreate(Input):
    waste_code: Code
    source_ids: list[DbId] = Field(default_factory=list, max_length=2000, description=(
        "the collected holdings to combine; default: every collected holding of this code stored in the centre"))
    name: str | None = Field(default=None, max_length=200, description="default: the first source's name")
    container_type: str = Field(min_length=1, max_length=40, description="what the lot travels in: 吨桶, 储罐 …")
    container_count: int = Field(default=1, ge=1, le=10000)
    container_volume_l: Litres | None = None
    operator: str = Field(min_length=1, max_length=120)
    occurred_at: PastTime | None = None
    store: bool = Field(default=True, description="store the lot in the centre at once (入库)")


class LotSourcePublic(SQLModel):
    source_id: int
    root_id: int
    digital_id: str
    producer_id: int
    producer_name: str
    producer_credit_code: str
    generated_at: datetime
    mass_kg: Decimal
    inbound_manifest: str | None
    record_id: int


class LotPublic(SQLModel):
    lot_id: int
    digital_id: str
    batch_code: str
    collector_id: int
    waste_code: str
    net_kg: Decimal
    remaining_kg: Decimal
    status: str
    sources_total_kg: Decimal
    producers: int
    sources: list[LotSourcePublic]


def _lock_rows(session: Session, q):  # noqa: ANN001, ANN202
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    return session.exec(q.execution_options(populate_existing=True)).all()


def combine(session: Session, *, principal: Principal, facility_id: int, data: LotCreate) -> Batch:
    """Combine collected holdings of one code, at a collection centre, into a new lot holding."""
    f = session.get(Facility, facility_id)
    if f is None:
        raise NotFound(f"facility {facility_id} does not exist", code="facility.not_found")
    collector = require_unit(session, principal, f.unit_id, act="operate")
    if not collector.is_collector:
        raise InvalidInput(f"{collector.name} is not a collector: lots are made at collection centres",
                           field="facility_id", code="lot.not_collector")
    if f.kind != "storage":
        raise InvalidInput(f"facility {f.code} is not a storage facility (集中收集点/分拣中心)", field="facility_id")
    code = check_waste_code(session, data.waste_code)
    if data.source_ids:
        if len(set(data.source_ids)) != len(data.source_ids):
            raise InvalidInput("a source is named twice", field="source_ids")
        rows = _lock_rows(session, select(Batch).where(Batch.id.in_(data.source_ids)).order_by(Batch.id))
        found = {b.id for b in rows}
        missing = [i for i in data.source_ids if i not in found]
        if missing:
            raise InvalidInput(f"batch {missing[0]} does not exist", field="source_ids")
    else:
        rows = _lock_rows(session, select(Batch).where(
            Batch.holder_unit_id == collector.id, Batch.waste_code == code, Batch.storage_facility_id == f.id,
            Batch.stored_g > 0, Batch.parent_id.is_not(None)).order_by(Batch.occurred_at, Batch.id))
    for i, b in enumerate(rows):
        field = f"source_ids[{i}]" if data.source_ids else "waste_code"
        if b.holder_unit_id != collector.id or not is_collected_holding(b) or b.period == "lot":
            raise InvalidInput(f"batch {b.id} ({b.digital_id}) is not a holding {collector.name} collected",
                               field=field, code="lot.not_collected")
        if b.waste_code != code:
            raise InvalidInput(f"batch {b.digital_id} is {b.waste_code}, the lot is {code}: a lot holds one code",
                               field=field, code="lot.mixed_codes")
        if b.remaining_g <= 0:
            raise InvalidInput(f"batch {b.digital_id} holds nothing", field=field)
        if b.stored_g and b.storage_facility_id != f.id:
            raise InvalidInput(f"batch {b.digital_id} is stored elsewhere (facility {b.storage_facility_id})",
                               field=field)
        if manifests.open_manifest_of(session, b.id) is not None:
            raise Conflict(f"batch {b.digital_id} is on an open manifest", code="lot.source_on_manifest",
                           details={"field": field})
    if len(rows) < MIN_SOURCES:
        raise InvalidInput(f"a lot combines at least {MIN_SOURCES} collected holdings; {len(rows)} found (ship a "
                           "single holding as it is)", field="source_ids", code="lot.too_few_sources")
    forms = {b.form for b in rows}
    if len(forms) > 1:
        raise InvalidInput(f"the sources have different forms ({', '.join(sorted(forms))}); combine one form at a "
                           "time", field="source_ids", code="lot.mixed_forms")
    occurred = batches.checked_time(data.occurred_at, field="occurred_at", now=utcnow())
    day: date = local_day(occurred)
    first = rows[0]
    serial = next_value(session, f"did:{collector.id}:{code}:{day:%Y%m%d}")
    producers = {b.unit_id for b in rows}
    lot = Batch(unit_id=collector.id, holder_unit_id=collector.id, digital_id=make_digital_id(
        credit_code=collector.credit_code, waste_code=code, day=day, serial=serial),
        batch_code=batches.record_code(session, unit_id=collector.id, kind="combined", day=day,
                                       hazardous=first.hazardous),
        waste_code=code, category=first.category, hazardous=first.hazardous, name=data.name or first.name,
        form=first.form, hazard=first.hazard, components=f"并批：{len(producers)} 家产废单位、{len(rows)} 批",
        container_type=data.container_type, container_count=data.container_count,
        container_volume_l=data.container_volume_l, period="lot", facility_id=f.id, scale_id="lot",
        operator=data.operator, occurred_at=occurred, gross_g=sum(b.remaining_g for b in rows), tare_g=0, net_g=0,
        remaining_g=0, status="generated", flags=[])
    session.add(lot)
    session.flush()
    inbound = {ln.holding_id: m.number for ln, m in session.exec(
        select(manifests.ManifestLine, manifests.Manifest).join(
            manifests.Manifest, manifests.Manifest.id == manifests.ManifestLine.manifest_id)
        .where(manifests.ManifestLine.holding_id.in_([b.id for b in rows]))).all()}
    for b in rows:
        if b.stored_g:
            batches.retrieve(session, principal=principal, batch=b, data=batches.RetrieveIn(
                operator=data.operator, occurred_at=occurred, purpose="transfer", note=f"并批 {lot.digital_id}"),
                extra={"collected": True, "lot_id": lot.id})
        take = batches.state_of(b).loose_g
        rec = batches.record(session, lot, kind="combined", unit_id=collector.id, principal=principal,
                             actor_name=data.operator, occurred_at=occurred, mass_g=take, facility_id=f.id,
                             record_code=lot.batch_code, source=b, body={
                                 "collected": True, "lot_digital_id": lot.digital_id,
                                 "source_digital_id": b.digital_id, "producer_id": b.unit_id,
                                 "root_id": b.root_id or b.id, "waste_code": code,
                                 "inbound_manifest": inbound.get(b.id)})
        session.add(LotSource(unit_id=collector.id, lot_id=lot.id, source_id=b.id, root_id=b.root_id or b.id,
                              producer_id=b.unit_id, mass_g=take, record_id=rec.id))
    session.flush()
    if data.store:
        batches.store(session, principal=principal, batch=lot, data=batches.StoreIn(
            facility_id=f.id, operator=data.operator, occurred_at=occurred, note="并批入库"),
            extra={"collected": True, "lot": True})
    audit(session, principal, action="lot.combine", entity="batch", entity_id=lot.id,
          detail={"facility_id": f.id, "waste_code": code, "sources": [b.id for b in rows],
                  "net_g": lot.net_g})
    return lot


def sources_of(session: Session, lot_id: int) -> list[LotSource]:
    return list(session.exec(select(LotSource).where(LotSource.lot_id == lot_id).order_by(LotSource.id)).all())


def lot_public(session: Session, lot: Batch) -> LotPublic:
    rows = sources_of(session, lot.id)
    units = {u.id: u for u in session.exec(select(Unit).where(Unit.id.in_({r.producer_id for r in rows})))}
    roots = {b.id: b for b in session.exec(select(Batch).where(Batch.id.in_({r.root_id for r in rows})))}
    recs = {r.id: r for r in session.exec(select(JournalRecord).where(
        JournalRecord.id.in_([r.record_id for r in rows])))}
    return LotPublic(
        lot_id=lot.id, digital_id=lot.digital_id, batch_code=lot.batch_code, collector_id=lot.unit_id,
        waste_code=lot.waste_code, net_kg=g_to_kg(lot.net_g), remaining_kg=g_to_kg(lot.remaining_g),
        status=lot.status, sources_total_kg=g_to_kg(sum(r.mass_g for r in rows)),
        producers=len({r.producer_id for r in rows}),
        sources=[LotSourcePublic(
            source_id=r.source_id, root_id=r.root_id, digital_id=roots[r.root_id].digital_id,
            producer_id=r.producer_id, producer_name=units[r.producer_id].name,
            producer_credit_code=units[r.producer_id].credit_code, generated_at=roots[r.root_id].occurred_at,
            mass_kg=g_to_kg(r.mass_g), inbound_manifest=recs[r.record_id].body.get("inbound_manifest"),
            record_id=r.record_id) for r in rows])


def get_lot(session: Session, principal: Principal, lot_id: int) -> Batch:
    b = batches.get_batch(session, principal, lot_id)
    if b.period != "lot":
        raise NotFound(f"batch {lot_id} is not a collection-centre lot", code="lot.not_found")
    return b


# ---- what the trace and the processing checks need to know --------------------------------------------------

def _lot_of(session: Session, b: Batch) -> Batch | None:
    root = b if b.root_id is None else memo(batch_key(b.root_id), lambda: session.get(Batch, b.root_id))
    return root if root is not None and root.period == "lot" else None


_LOTS_OF_ROOT = select(LotSource).where(LotSource.root_id == bindparam("root_id")).order_by(LotSource.id)


def lots_of_root_key(root_id: int) -> tuple:
    """The key under which `one_read` keeps where a root was poured into lots."""
    return ("lots_of_root", root_id)


def _lots_of_root(session: Session, root_id: int) -> list[LotSource]:
    """Where a producer's batch was poured into lots, in order (both trace hooks ask: read once per trace; every
    trace asks, so the statement is built once)."""
    return memo(lots_of_root_key(root_id), lambda: list(session.exec(
        _LOTS_OF_ROOT, params={"root_id": root_id}).all()))


def trace_section(session: Session, b: Batch) -> dict:
    """Trace section: a lot's sources (every producer, each mass, summing to the lot), or, seen from a producer's
    batch, the lots it went into and where they went."""
    out: dict = {}
    lot = _lot_of(session, b)
    if lot is not None:
        out["lot"] = lot_public(session, lot).model_dump(mode="json")
    went = _lots_of_root(session, b.root_id or b.id)
    if went:
        out["in_lots"] = []
        for r in went:
            lb = session.get(Batch, r.lot_id)
            onward = manifests.manifests_for_batch(session, lb)
            out["in_lots"].append({"lot_id": lb.id, "digital_id": lb.digital_id, "collector_id": lb.unit_id,
                                   "mass_kg": str(g_to_kg(r.mass_g)), "lot_status": lb.status,
                                   "onward_manifests": [{"number": m["number"], "status": m["status"],
                                                         "receiver_id": m["receiver_id"],
                                                         "accepted_kg": m["accepted_kg"]} for m in onward]})
    return out


def trace_manifests(session: Session, b: Batch) -> list[dict]:
    """Trace manifests: for a lot, the legs that brought each source to the centre (so every producer is a party);
    for a producer's batch, the legs its lots travelled on from the centre."""
    lot = _lot_of(session, b)
    out: list[dict] = []
    if lot is not None:
        seen: set[int] = set()
        for r in sources_of(session, lot.id):
            if r.root_id not in seen:
                seen.add(r.root_id)
                out += manifests.manifests_for_batch(session, session.get(Batch, r.root_id))
    lot_ids = dict.fromkeys(r.lot_id for r in _lots_of_root(session, b.root_id or b.id))
    for lot_id in lot_ids:
        out += manifests.manifests_for_batch(session, session.get(Batch, lot_id))
    return out


def _collector_may_not_process(session: Session, holding: Batch, method: Method, day: date,
                               principal: Principal) -> dict:
    """A collector stores and passes on what it collects; it utilises or disposes only on an operating licence."""
    holder = registry_unit(session, holding.holder_unit_id)  # only read: the registry cache's snapshot will do
    if holder.is_collector and is_collected_holding(holding) and not any(
            licence_covers(p, holding.waste_code) for p in licences_on(session, unit_id=holder.id, on=day)):
        raise InvalidInput(f"{holder.name} collected this waste on a collection licence, which does not allow "
                           f"utilising or disposing of it: ship it to a licensed receiver on a manifest",
                           field="method", code="collection.no_processing")
    return {}


batches.process_checks.append(_collector_may_not_process)
