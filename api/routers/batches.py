"""Batch paths: generation at the weighing point, labels, storage moves, in-house use, corrections, trace, scan."""

from __future__ import annotations

from datetime import date  # noqa: F401  (kept for the lead's edits)
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlmodel import Session, SQLModel, select

from api.deps import (
    Credentials,
    Deferred,
    Tx,
    caller,
    deferred_tx,
    get_session,
    prefetched_read,
    principal,
    tx,
)
from labels.qr import scan_url
from labels.render import LabelData, render_label_pdf, render_label_png, render_label_zpl
from ledger import batches as svc
from ledger import journal
from ledger.auth import Principal, may, registry_unit, require_unit
from ledger.batches import Batch, BatchPublic, RecordPublic, batch_public, record_public
from ledger.codes import parse_hazard
from ledger.errors import InvalidInput, NotFound
from ledger.mass import g_to_kg
from ledger.memo import one_read
from ledger.registry.catalogue import get_waste_code
from ledger.registry.models import Facility, Unit
from ledger.scan import prefetch_facility, prefetch_scan, prefetch_trace
from ledger.validation import Code, Day, DbId, Limit, Seq
from ledger.workdays import local_day

router = APIRouter(tags=["batches"])


def _public_url(request: Request) -> str:
    return request.app.state.settings.public_url


def label_data(session: Session, b: Batch, public_url: str) -> LabelData:
    """The plain data a label shows, from the batch, its unit and its catalogue entry."""
    unit = session.get(Unit, b.unit_id)
    entry = get_waste_code(session, b.waste_code)
    return LabelData(
        digital_id=b.digital_id, qr_payload=scan_url(public_url, b.digital_id), batch_code=b.batch_code,
        waste_name=b.name, category=b.category, category_name=entry.category_name if entry else "一般工业固体废物",
        waste_code=b.waste_code, form=b.form, hazard=tuple(parse_hazard(b.hazard)) if b.hazard else (),
        components=b.components or b.name,
        generated_on=local_day(b.occurred_at), unit_name=unit.name, contact=unit.contact or "",
        phone=unit.phone or "", net_kg=g_to_kg(b.net_g), container_type=b.container_type,
        container_volume_l=b.container_volume_l, hazardous=b.hazardous)


@router.post("/batches", status_code=201, response_model=BatchPublic,
             summary="Generation at a weighing point (即产生、即称重、即打码)")
async def generate(body: svc.BatchCreate, request: Request, d: Deferred = Depends(deferred_tx)):
    """One weighing; the weighings reaching this process together are written in one transaction (group commit,
    api/grouping.py), each with its own answer, error and Idempotency-Key."""
    return await request.app.state.commit_groups.submit(d, body, public_url=_public_url(request))


class BulkResult(SQLModel):
    batches: list[BatchPublic]


@router.post("/batches/bulk", status_code=201, response_model=BulkResult,
             summary="Several weighings at once, all or nothing (a terminal's buffer, a back-entered paper ledger)")
def generate_bulk(body: svc.BulkCreate, request: Request, t: Tx = Depends(tx)):
    url = _public_url(request)
    return t.run(lambda s, p: BulkResult(batches=[batch_public(b, public_url=url) for b in svc.generate_many(
        s, principal=p, items=body.items)]), status=201)


@router.get("/batches/{batch_id}", response_model=BatchPublic)
def get_batch(batch_id: DbId, request: Request, s: Session = Depends(get_session), p: Principal = Depends(principal)):
    return batch_public(svc.get_batch(s, p, batch_id), public_url=_public_url(request))


def _label(kind: str, batch_id: int, request: Request, s: Session, p: Principal) -> Response:
    data = label_data(s, svc.get_batch(s, p, batch_id), _public_url(request))
    if kind == "png":
        return Response(render_label_png(data), media_type="image/png")
    if kind == "pdf":
        return Response(render_label_pdf(data), media_type="application/pdf")
    return Response(render_label_zpl(data), media_type="text/plain; charset=utf-8")


@router.get("/batches/{batch_id}/label.png", response_class=Response, summary="Label, PNG at 300 dpi (HJ 1276 size)")
def label_png(batch_id: DbId, request: Request, s: Session = Depends(get_session), p: Principal = Depends(principal)):
    return _label("png", batch_id, request, s, p)


@router.get("/batches/{batch_id}/label.pdf", response_class=Response, summary="Label, PDF at its physical size")
def label_pdf(batch_id: DbId, request: Request, s: Session = Depends(get_session), p: Principal = Depends(principal)):
    return _label("pdf", batch_id, request, s, p)


@router.get("/batches/{batch_id}/label.zpl", response_class=Response, summary="Label, ZPL II for thermal printers")
def label_zpl(batch_id: DbId, request: Request, s: Session = Depends(get_session), p: Principal = Depends(principal)):
    return _label("zpl", batch_id, request, s, p)


class MoveResult(SQLModel):
    batch: BatchPublic
    record: RecordPublic


def _move(t: Tx, request: Request, batch_id: int, fn) -> object:  # noqa: ANN001
    url = _public_url(request)

    def run(s, p):  # noqa: ANN001
        b = svc.get_batch(s, p, batch_id, lock=True)
        rec = fn(s, p, b)
        return MoveResult(batch=batch_public(b, public_url=url), record=record_public(rec))
    return t.run(run, status=201)


def _grouped_move(kind: str, batch_id: int, body: svc.MoveIn, request: Request, d: Deferred):  # noqa: ANN202
    url = _public_url(request)
    return request.app.state.commit_groups.submit_move(
        d, kind, batch_id, body, public_url=url,
        render=lambda b, rec: MoveResult(batch=batch_public(b, public_url=url), record=record_public(rec)))


@router.post("/batches/{batch_id}/store", status_code=201, response_model=MoveResult, summary="入库")
async def store(batch_id: DbId, body: svc.StoreIn, request: Request, d: Deferred = Depends(deferred_tx)):
    """The 入库 requests reaching this process together are written in one transaction (group commit,
    api/grouping.py), each with its own answer, error and Idempotency-Key."""
    return await _grouped_move("stored", batch_id, body, request, d)


@router.post("/batches/{batch_id}/retrieve", status_code=201, response_model=MoveResult, summary="出库")
async def retrieve(batch_id: DbId, body: svc.RetrieveIn, request: Request, d: Deferred = Depends(deferred_tx)):
    """The 出库 requests reaching this process together are written in one transaction (group commit,
    api/grouping.py), each with its own answer, error and Idempotency-Key."""
    return await _grouped_move("retrieved", batch_id, body, request, d)


@router.post("/batches/{batch_id}/use-in-house", status_code=201, response_model=MoveResult, summary="自行利用")
async def use_in_house(batch_id: DbId, body: svc.ProcessIn, request: Request, d: Deferred = Depends(deferred_tx)):
    """The 自行利用 requests reaching this process together are written in one transaction (group commit,
    api/grouping.py), each with its own answer, error and Idempotency-Key."""
    return await _grouped_move("used_in_house", batch_id, body, request, d)


@router.post("/batches/{batch_id}/dispose-in-house", status_code=201, response_model=MoveResult, summary="自行处置")
async def dispose_in_house(batch_id: DbId, body: svc.ProcessIn, request: Request,
                           d: Deferred = Depends(deferred_tx)):
    """The 自行处置 requests reaching this process together are written in one transaction (group commit,
    api/grouping.py), each with its own answer, error and Idempotency-Key."""
    return await _grouped_move("disposed_in_house", batch_id, body, request, d)


@router.post("/batches/{batch_id}/corrections", status_code=201, response_model=MoveResult,
             summary="Correct an earlier record's mass (a new record; the original stays)")
def correct(batch_id: DbId, body: svc.CorrectionIn, request: Request, t: Tx = Depends(tx)):
    return _move(t, request, batch_id, lambda s, p, b: svc.correct(s, principal=p, batch=b, data=body))


class TraceStep(SQLModel):
    record: RecordPublic
    unit_name: str
    facility_code: str | None
    facility_name: str | None


class Trace(SQLModel):
    batch: BatchPublic
    steps: list[TraceStep]
    parties: list[dict]
    manifests: list[dict]
    fate: dict
    sections: dict = {}


# Other modules (manifests) add what they know about a batch to its trace: (session, batch) -> list of dicts.
trace_manifests: list = []
# Other modules add named sections to a trace: (session, batch) -> {name: value} (a collection lot's sources).
trace_sections: list = []


def build_trace(s: Session, b: Batch, public_url: str) -> Trace:
    # The holdings stay referenced while the trace is built: the hooks' `session.get` of the root holding then
    # finds it in the session (whose identity map holds only what is referenced). Units and facilities are only
    # read: their snapshots from the registry cache will do.
    holdings = svc.holdings_of(s, b.root_id or b.id)
    records = svc.records_of_holdings(s, [h.id for h in holdings])
    units = {u.id: u for u in (registry_unit(s, i) for i in {r.unit_id for r in records} | {b.unit_id}) if u}
    facs = {f.id: f for f in (svc.registry_facility(s, i) for i in {r.facility_id for r in records if r.facility_id})
            if f}
    steps = [TraceStep(record=record_public(r), unit_name=units[r.unit_id].name,
                       facility_code=facs[r.facility_id].code if r.facility_id in facs else None,
                       facility_name=facs[r.facility_id].name if r.facility_id in facs else None) for r in records]
    with one_read():  # what several hooks ask is read once
        manifests = [m for fn in trace_manifests for m in fn(s, b)]
        sections = {k: v for fn in trace_sections for k, v in (fn(s, b) or {}).items()}
    party_ids = list(dict.fromkeys([b.unit_id, *[r.unit_id for r in records],
                                    *[pid for m in manifests for pid in m.get("party_ids", [])]]))
    for pid in party_ids:
        if pid not in units:
            units[pid] = registry_unit(s, pid)
    parties = [{"unit_id": u.id, "name": u.name, "credit_code": u.credit_code, "roles": u.roles,
                "region_code": u.region_code} for u in (units[i] for i in party_ids) if u]
    consumed = {}
    for r in records:
        if r.kind in ("used_in_house", "disposed_in_house"):
            key = f"{r.kind}:{r.body.get('method')}"
            consumed[key] = consumed.get(key, Decimal(0)) + g_to_kg(r.mass_g)
    fate = {"status": b.status, "closed": b.status == "closed", "remaining_kg": g_to_kg(b.remaining_g),
            "in_transit_kg": g_to_kg(b.in_transit_g),
            "processed": [{"kind": k.split(":")[0], "method": k.split(":")[1], "mass_kg": v}
                          for k, v in consumed.items()]}
    return Trace(batch=batch_public(b, public_url=public_url), steps=steps, parties=parties, manifests=manifests,
                 fate=fate, sections=sections)


@router.get("/batches/{batch_id}/trace", response_model=Trace,
            summary="The whole chain of a batch: records, facilities, manifests, parties and fate")
async def trace(batch_id: DbId, request: Request, c: Credentials = Depends(caller)):
    public_url = _public_url(request)

    def run(s: Session) -> bytes:
        model = build_trace(s, svc.get_batch(s, c.principal(s), batch_id), public_url)
        return model.__pydantic_serializer__.to_json(model)

    return await prefetched_read(request, lambda aio: prefetch_trace(aio, batch_id), run)


# Other modules add actions: (session, principal, batch) -> list of action names.
next_action_rules: list = []


def next_actions(s: Session, p: Principal, b: Batch) -> list[str]:
    """What the caller may do next with this batch, given its state and the caller's role."""
    actions: list[str] = []
    holder = registry_unit(s, b.holder_unit_id)  # only read: the registry cache's snapshot will do
    if p.unit_id == holder.id and may(p, holder, "operate"):
        state = svc.state_of(b)
        if state.loose_g > 0:
            actions += ["store", "use_in_house", "dispose_in_house"]
        if b.stored_g > 0:
            actions.append("retrieve")
    for rule in next_action_rules:
        actions += rule(s, p, b)
    return actions


class ScanResult(SQLModel):
    batch: BatchPublic
    next_actions: list[str]


def _scan(s: Session, c: Credentials, digital_id: str, public_url: str) -> bytes:
    p = c.principal(s)
    b = svc.find_by_digital_id(s, p, digital_id)
    model = ScanResult(batch=batch_public(b, public_url=public_url), next_actions=next_actions(s, p, b))
    return model.__pydantic_serializer__.to_json(model)


@router.get("/scan/{digital_id}", response_model=ScanResult, tags=["scan"],
            summary="What a label's QR resolves to: the batch and what you may do next")
async def scan(digital_id: Code, request: Request, c: Credentials = Depends(caller)):
    public_url = _public_url(request)
    return await prefetched_read(request, lambda aio: prefetch_scan(aio, digital_id),
                         lambda s: _scan(s, c, digital_id, public_url))


# ---- facilities: stock, movements, FIFO lot retrieval, the facility QR ------------------------------

class FacilityView(SQLModel):
    id: int
    unit_id: int
    unit_name: str
    code: str
    name: str
    kind: str
    storage_type: str | None
    capacity_kg: Decimal | None
    stock_kg: Decimal
    stock: list[dict]
    recent: list[RecordPublic]
    scan_url: str


def _facility(s: Session, p: Principal, facility_id: int) -> tuple[Facility, Unit]:
    """The facility and its unit if the principal may read the unit (snapshots from the registry cache: both are
    only read)."""
    f = svc.registry_facility(s, facility_id)
    if f is None:
        raise NotFound(f"facility {facility_id} does not exist", code="facility.not_found")
    return f, require_unit(s, p, f.unit_id, read_only=True)


def _facility_card(s: Session, c: Credentials, facility_id: int, public_url: str) -> bytes:
    f, unit = _facility(s, c.principal(s), facility_id)
    stock = svc.facility_stock(s, facility_id=f.id)
    model = FacilityView(
        id=f.id, unit_id=f.unit_id, unit_name=unit.name, code=f.code, name=f.name, kind=f.kind,
        storage_type=f.storage_type, capacity_kg=g_to_kg(f.storage_capacity_g) if f.storage_capacity_g else None,
        stock_kg=sum((row["stored_kg"] for row in stock), Decimal(0)), stock=stock,
        recent=[record_public(r) for r in svc.recent_movements(s, facility_id=f.id)],
        scan_url=f"{public_url.rstrip('/')}/f/{f.id}")
    return model.__pydantic_serializer__.to_json(model)


@router.get("/facilities/{facility_id}", response_model=FacilityView, tags=["facilities"],
            summary="A facility with its stock per waste code and its recent movements (what its QR shows)")
async def facility_view(facility_id: DbId, request: Request, c: Credentials = Depends(caller)):
    public_url = _public_url(request)
    return await prefetched_read(request, lambda aio: prefetch_facility(aio, facility_id),
                         lambda s: _facility_card(s, c, facility_id, public_url))


@router.get("/facilities/{facility_id}/qr.png", response_class=Response, tags=["facilities"],
            summary="The facility's QR card (赋码) to post at its door")
def facility_qr(facility_id: DbId, request: Request, s: Session = Depends(get_session),
                p: Principal = Depends(principal)):
    from labels import FacilityCardData, render_facility_card_png

    f, unit = _facility(s, p, facility_id)
    kind = f.storage_type or {"generation": "产生点", "utilisation": "利用设施", "disposal": "处置设施"}.get(f.kind, f.kind)
    data = FacilityCardData(facility_code=f.code, facility_name=f.name, kind_label=kind, unit_name=unit.name,
                            qr_payload=f"{_public_url(request).rstrip('/')}/f/{f.id}")
    return Response(render_facility_card_png(data), media_type="image/png")


class LotResult(SQLModel):
    lot_code: str
    mass_kg: Decimal
    draws: list[dict]


@router.post("/facilities/{facility_id}/retrieve", status_code=201, response_model=LotResult, tags=["facilities"],
             summary="Bulk 出库: draw a mass of one waste code, oldest stored batches first (FIFO)")
def retrieve_lot(facility_id: DbId, body: svc.LotRetrieveIn, t: Tx = Depends(tx)):
    def run(s, p):  # noqa: ANN001
        code, draws = svc.retrieve_lot(s, principal=p, facility_id=facility_id, data=body)
        return LotResult(lot_code=code, mass_kg=sum((g_to_kg(d.record.mass_g) for d in draws), Decimal(0)),
                         draws=[{"batch_id": d.batch.id, "digital_id": d.batch.digital_id,
                                 "mass_kg": g_to_kg(d.record.mass_g), "remaining_stored_kg": g_to_kg(d.batch.stored_g),
                                 "record_id": d.record.id} for d in draws])
    return t.run(run, status=201)


# ---- the chain -----------------------------------------------------------------------------------------

class ChainReport(SQLModel):
    unit_id: int
    ok: bool
    records: int
    first_bad_seq: int | None
    first_bad_record_id: int | None
    reason: str | None


@router.get("/units/{unit_id}/verify", response_model=ChainReport, tags=["journal"],
            summary="Recompute the unit's hash chain and name the first broken link")
def verify(unit_id: DbId, s: Session = Depends(get_session), p: Principal = Depends(principal)):
    require_unit(s, p, unit_id)
    c = journal.verify(s, unit_id=unit_id)
    return ChainReport(unit_id=c.unit_id, ok=c.ok, records=c.records, first_bad_seq=c.first_bad_seq,
                       first_bad_record_id=c.first_bad_record_id, reason=c.reason)


@router.get("/units/{unit_id}/records", response_model=list[RecordPublic], tags=["journal"],
            summary="The unit's journal, in sequence order")
def unit_records(unit_id: DbId, after_seq: Seq = 0, limit: Limit = 200, s: Session = Depends(get_session),
                 p: Principal = Depends(principal)):
    require_unit(s, p, unit_id)
    rows = s.exec(select(journal.JournalRecord).where(journal.JournalRecord.unit_id == unit_id,
                                                      journal.JournalRecord.seq > after_seq)
                  .order_by(journal.JournalRecord.seq).limit(min(limit, 1000))).all()
    return [record_public(r) for r in rows]


@router.get("/units/{unit_id}/ledger", tags=["journal"],
            summary="HJ 1259 ledger tables B.1–B.5 (and the receiver's incoming table) for a period; "
                    "layout=standard (or format=xlsx): the standards' Chinese columns and the general-waste ledger")
def ledger_tables(unit_id: DbId, date_from: Annotated[Day, Query(alias="from")],
                  date_to: Annotated[Day, Query(alias="to")],
                  format: str = Query("json", pattern="^(json|csv|xlsx)$"),
                  layout: str = Query("records", pattern="^(records|standard)$",
                                      description="records: one row per record with every column keyed; standard: "
                                                  "HJ 1259 B.1–B.5 and the general ledger GF.1–GF.3 with the "
                                                  "standards' Chinese column titles"),
                  table: str | None = Query(None, description="with format=csv: one table (B.1 … B.5, IN, GF.1, "
                                                              "GF.2 or GF.3) in the standard layout"),
                  s: Session = Depends(get_session), p: Principal = Depends(principal)):
    from ledger.reports.ledger_tables import TABLE_COLUMNS, TABLES, ledger_rows, to_csv

    unit = require_unit(s, p, unit_id)
    if date_to < date_from:
        raise InvalidInput("to is before from", field="to")
    if layout == "standard" or format == "xlsx" or table is not None:
        from api.routers.reports import standard_ledger

        return standard_ledger(s, unit, date_from, date_to, format=format, table=table)
    rows = ledger_rows(s, unit_id=unit_id, start=date_from, end=date_to)
    if format == "csv":
        return Response(to_csv(rows), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="ledger-{unit_id}-{date_from}-{date_to}.csv"'})
    return {"unit_id": unit_id, "from": date_from, "to": date_to,
            "tables": {t: {"title": title, "columns": [{"key": k, "title": v} for k, v in TABLE_COLUMNS[t]],
                           "rows": [r for r in rows if r["table"] == t]}
                       for t, (title, _) in TABLES.items()}}
