"""Manifest paths: create, sign each step, track, revise, read, print."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import bindparam
from sqlmodel import Session, SQLModel, select

from api.deps import Deferred, Tx, deferred_tx, get_session, principal, tx
from api.routers import alerts as alert_routes
from api.routers import batches as batch_routes
from ledger import manifests as svc
from ledger.auth import Principal, registry_unit
from ledger.batches import Batch
from ledger.cache import registry_get
from ledger.codes import city_of, parse_hazard
from ledger.db import known_row
from ledger.mass import g_to_kg
from ledger.registry.models import Method, Permit, Unit, Vehicle
from ledger.validation import DbId, Limit, Offset

router = APIRouter(tags=["manifests"])

batch_routes.trace_manifests.append(svc.manifests_for_batch)
batch_routes.next_action_rules.append(svc.next_actions_for)

STATUS_NAMES = {"draft": "草稿", "submitted": "待提货", "in_transit": "运输中", "delivered": "已到达",
                "received": "已接收", "completed": "已完成", "cancelled": "已作废", "refused": "已拒收",
                "returning": "退回途中", "returned": "已退回"}


class PartyOut(SQLModel):
    id: int
    name: str
    credit_code: str
    region_code: str


class LineOut(SQLModel):
    line_no: int
    batch_id: int
    digital_id: str
    waste_code: str
    waste_name: str
    shipped_kg: Decimal
    planned_method: str
    received_kg: Decimal | None
    accepted_kg: Decimal | None
    refused_kg: Decimal | None
    returned_kg: Decimal
    transit_difference_kg: Decimal | None
    acceptance: str | None
    reason: str | None
    holding_id: int | None
    flags: list[str]


class EventOut(SQLModel):
    action: str
    from_status: str | None
    to_status: str | None
    by: str
    unit_id: int | None
    at: datetime
    lat: float | None
    lon: float | None
    detail: dict


class RevisionOut(SQLModel):
    id: int
    status: str
    proposed_by_unit: int
    reason: str
    changes: dict
    original: dict
    approvals: list[int]


class ManifestPublic(SQLModel):
    id: int
    number: str
    status: str
    status_name: str
    hazardous: bool
    originator: PartyOut
    hauler: PartyOut
    receiver: PartyOut
    vehicle_plate: str
    driver_id: int | None
    planned_date: date
    approval_id: int | None
    flags: list[str]
    remarks: str | None
    created_at: datetime
    submitted_at: datetime | None
    picked_up_at: datetime | None
    delivered_at: datetime | None
    received_at: datetime | None
    completed_at: datetime | None
    receipt_deadline: datetime | None
    total_shipped_kg: Decimal
    total_received_kg: Decimal | None
    lines: list[LineOut]
    events: list[EventOut]
    revisions: list[RevisionOut]
    pdf_url: str


def _party(u: Unit) -> PartyOut:
    return PartyOut(id=u.id, name=u.name, credit_code=u.credit_code, region_code=u.region_code)


# built once (every signature answers with the manifest): building a statement costs about as much Python as
# executing it
_LINE = svc.ManifestLine
_LINES_WITH_BATCHES = (select(_LINE.line_no, _LINE.batch_id, _LINE.waste_code, _LINE.mass_g, _LINE.planned_method,
                              _LINE.received_g, _LINE.accepted_g, _LINE.refused_g, _LINE.returned_g, _LINE.acceptance,
                              _LINE.reason, _LINE.holding_id, _LINE.flags, Batch.digital_id, Batch.name)
                       .join(Batch, Batch.id == _LINE.batch_id)
                       .where(_LINE.manifest_id == bindparam("manifest_id")).order_by(_LINE.line_no))
_LINE_COLUMNS = ("line_no", "batch_id", "waste_code", "mass_g", "planned_method", "received_g", "accepted_g",
                 "refused_g", "returned_g", "acceptance", "reason", "holding_id", "flags")
_REVISIONS_OF = (select(svc.Revision.id, svc.Revision.status, svc.Revision.proposed_by_unit, svc.Revision.reason, svc.Revision.changes, svc.Revision.original,
                        svc.Revision.approvals)
                 .where(svc.Revision.manifest_id == bindparam("manifest_id")).order_by(svc.Revision.id))


def _line_rows(s: Session, m: svc.Manifest) -> list:
    """The manifest's lines with their batches' digital IDs and names: from what the transaction read or wrote and
    keeps current (`svc.read_for_group`, `svc.know_manifest`: the lines and their batches' labels), else in one
    statement, as rows."""
    known = known_row(s, "lines", m.id)
    if known is not None:
        labels = [known_row(s, "labels", ln.batch_id) for ln in known]
        if None not in labels:
            return [SimpleNamespace(**{c: getattr(ln, c) for c in _LINE_COLUMNS}, digital_id=label.digital_id,
                                    name=label.name) for ln, label in zip(known, labels, strict=True)]
    return s.execute(_LINES_WITH_BATCHES, {"manifest_id": m.id}).all()


def manifest_public(s: Session, m: svc.Manifest, public_url: str) -> ManifestPublic:
    """The manifest as the API shows it."""
    lines = _line_rows(s, m)
    out_lines = []
    for ln in lines:
        refused = ln.refused_g
        out_lines.append(LineOut(
            line_no=ln.line_no, batch_id=ln.batch_id, digital_id=ln.digital_id, waste_code=ln.waste_code,
            waste_name=ln.name, shipped_kg=g_to_kg(ln.mass_g), planned_method=ln.planned_method,
            received_kg=None if ln.received_g is None else g_to_kg(ln.received_g),
            accepted_kg=None if ln.accepted_g is None else g_to_kg(ln.accepted_g),
            refused_kg=None if refused is None else g_to_kg(refused), returned_kg=g_to_kg(ln.returned_g),
            transit_difference_kg=None if ln.received_g is None else g_to_kg(ln.mass_g - ln.received_g),
            acceptance=ln.acceptance, reason=ln.reason, holding_id=ln.holding_id, flags=list(ln.flags)))
    events = svc.events_of(s, m)  # rows, not entities: the answer only reads them
    # a revision is proposed with its event, in one transaction (`svc.propose_revision`): a manifest without that
    # event has none, and most have none (read only when there are)
    revs = (s.execute(_REVISIONS_OF, {"manifest_id": m.id}).all()
            if any(e.action == "revision_proposed" for e in events) else [])
    received = [ln.received_g for ln in lines if ln.received_g is not None]
    return ManifestPublic(
        id=m.id, number=m.number, status=m.status, status_name=STATUS_NAMES[m.status], hazardous=m.hazardous,
        originator=_party(registry_unit(s, m.originator_id)), hauler=_party(registry_unit(s, m.hauler_id)),
        receiver=_party(registry_unit(s, m.receiver_id)), vehicle_plate=registry_get(s, Vehicle, m.vehicle_id).plate,
        driver_id=m.driver_id, planned_date=m.planned_date, approval_id=m.approval_id, flags=m.flags,
        remarks=m.remarks, created_at=m.created_at, submitted_at=m.submitted_at, picked_up_at=m.picked_up_at,
        delivered_at=m.delivered_at, received_at=m.received_at, completed_at=m.completed_at,
        receipt_deadline=m.receipt_deadline, total_shipped_kg=g_to_kg(sum(ln.mass_g for ln in lines)),
        total_received_kg=g_to_kg(sum(received)) if len(received) == len(lines) else None, lines=out_lines,
        events=[EventOut(action=e.action, from_status=e.from_status, to_status=e.to_status, by=e.user_name,
                         unit_id=e.unit_id, at=e.at, lat=e.lat, lon=e.lon, detail=e.detail) for e in events],
        revisions=[RevisionOut(id=r.id, status=r.status, proposed_by_unit=r.proposed_by_unit, reason=r.reason,
                               changes=r.changes, original=r.original, approvals=r.approvals) for r in revs],
        pdf_url=f"{public_url.rstrip('/')}/api/v1/manifests/{m.id}.pdf")


def _url(request: Request) -> str:
    return request.app.state.settings.public_url


def step_work(url: str, manifest_id: int, fn):  # noqa: ANN001, ANN202
    """A signature's unit of work: the step `fn(session, principal, manifest)`, then the manifest as it now
    stands (the answer)."""
    def run(s, p):  # noqa: ANN001
        m = svc.get_manifest(s, p, manifest_id)
        fn(s, p, m)  # a step moves the manifest with compare-and-set and refreshes it: `m` is current
        return manifest_public(s, m, url)
    return run


def _in_lock_order(party: str | None):  # noqa: ANN202
    """How a commit group orders its signatures: by the unit whose counters and chain they take (`party`: the
    originator's for pickup and the return's confirmation, the receiver's for receipt), then by manifest, so that
    two processes' groups take the same rows in the same order (without an order they could deadlock).

    The group's manifests, their lines and events are read once for all its jobs (`svc.read_for_group`), also when
    it has one job (a signature written alone): two statements, where its step and its answer would otherwise
    read them in four to six. A group of signatures that write records first locks every holding on its manifests,
    in id order: every writer takes a holding before a chain head (the group appends its records at its end, after
    the last job). A signature alone locks its holdings itself, after its checks, as its step does."""
    def order(s: Session, jobs: list) -> list:
        manifests = svc.read_for_group(s, [j.target for j in jobs], lock=party is not None and len(jobs) > 1)
        if party is None or len(jobs) < 2:
            return sorted(jobs, key=lambda j: j.target)
        units = {mid: getattr(m, party) for mid, m in manifests.items()}
        return sorted(jobs, key=lambda j: (units.get(j.target, 0), j.target))
    return order


BY_MANIFEST, BY_ORIGINATOR, BY_RECEIVER = (_in_lock_order(None), _in_lock_order("originator_id"),
                                          _in_lock_order("receiver_id"))


async def _grouped_step(d: Deferred, request: Request, manifest_id: int, step: str, fn, order,  # noqa: ANN001
                        status: int = 200) -> Response:
    """A signature that joins the commit group of its step (api/grouping.py): the signatures of one step reaching
    this process together are written in one transaction, each in a savepoint, with its own answer, error and
    Idempotency-Key."""
    return await request.app.state.commit_groups.submit_work(
        d, f"manifest.{step}", step_work(_url(request), manifest_id, fn), target=manifest_id, order=order,
        status=status)


def _drafts_in_lock_order(s: Session, jobs: list) -> list:
    """How a commit group orders its drafts: by the city whose manifest counter they take (the originator's),
    then by originator. A draft alone (a group of one) has nothing to order."""
    if len(jobs) < 2:
        return jobs

    def key(job) -> tuple:  # noqa: ANN001
        unit = registry_unit(s, job.target)
        return (city_of(unit.region_code) if unit is not None else "", job.target)
    return sorted(jobs, key=key)


@router.post("/manifests", status_code=201, response_model=ManifestPublic,
             summary="Draft a manifest for one vehicle trip (the originator)")
async def create(body: svc.ManifestCreate, request: Request, d: Deferred = Depends(deferred_tx)):
    """The drafts reaching this process together are written in one transaction (group commit, api/grouping.py),
    each in a savepoint with its own answer, error and Idempotency-Key; their numbers stay gapless."""
    url = _url(request)
    return await request.app.state.commit_groups.submit_work(
        d, "manifest.create", lambda s, p: manifest_public(s, svc.create(s, principal=p, data=body), url),
        target=body.originator_id, status=201, order=_drafts_in_lock_order)


@router.get("/manifests", response_model=list[ManifestPublic])
def list_manifests(request: Request, unit_id: DbId | None = None, status: str | None = Query(None, max_length=12),
                   limit: Limit = 50, offset: Offset = 0, s: Session = Depends(get_session),
                   p: Principal = Depends(principal)):
    rows = svc.list_manifests(s, principal=p, unit_id=unit_id, status=status, limit=limit, offset=offset)
    return [manifest_public(s, m, _url(request)) for m in rows]


# ---- the printed manifest (helpers of the PDF route) ----------------------------------------------------------

PDF_ROLES = {"create": "移出人填报", "submit": "移出人确认", "pickup": "承运人提货", "deliver": "运抵",
             "receive": "接受人签收", "complete": "利用处置完成", "cancel": "作废", "return": "退回起运",
             "returned": "移出人收回"}


def _pdf_person(user, fallback: str) -> str:  # noqa: ANN001
    """A person as printed: display name and phone (the login name only if the user is gone)."""
    if user is None:
        return fallback
    return f"{user.display_name} {user.phone or ''}".strip()


def _pdf_driver(m: svc.Manifest, events: list[svc.ManifestEvent], users: dict) -> str:
    """The driver: the manifest's driver user; without one, whoever signed the pickup; else the typed name."""
    if m.driver_id is not None:
        return _pdf_person(users.get(m.driver_id), m.driver_name or "")
    pickups = [e for e in events if e.action == "pickup"]
    if pickups:
        e = pickups[-1]
        return _pdf_person(users.get(e.user_id), e.user_name)
    return m.driver_name or ""


def _pdf_licences(s: Session, m: svc.Manifest, lines: list[LineOut]) -> str:
    """The receiver's operating licence(s) valid on the planned date that cover the manifest's hazardous codes
    (for each code, one that also covers the planned method if there is one)."""
    licences = s.exec(select(Permit).where(Permit.unit_id == m.receiver_id, Permit.kind == "operating_licence",
                                           Permit.valid_from <= m.planned_date, Permit.valid_to >= m.planned_date)
                      .order_by(Permit.valid_to.desc(), Permit.id)).all()
    numbers: list[str] = []
    for ln in lines:
        if ln.waste_code.split("-")[-1].startswith("S"):
            continue  # general industrial waste needs no operating licence
        covering = [p for p in licences if ln.waste_code in p.waste_codes or "HW" + ln.waste_code[-2:] in p.waste_codes]
        best = next((p for p in covering if ln.planned_method in p.methods), covering[0] if covering else None)
        if best is not None and best.number not in numbers:
            numbers.append(best.number)
    return "、".join(numbers)


def _pdf_actual_methods(s: Session, m: svc.Manifest, lines: list[LineOut]) -> dict[int, tuple[str, ...]]:
    """Per receiver holding: the methods of its used_in_house / disposed_in_house records, in record order."""
    from ledger.journal import JournalRecord

    holdings = [ln.holding_id for ln in lines if ln.holding_id is not None]
    if not holdings:
        return {}
    rows = s.exec(select(JournalRecord).where(JournalRecord.batch_id.in_(holdings),
                                              JournalRecord.unit_id == m.receiver_id,
                                              JournalRecord.kind.in_(("used_in_house", "disposed_in_house")))
                  .order_by(JournalRecord.id)).all()
    out: dict[int, list[str]] = {}
    for r in rows:
        method = (r.body or {}).get("method")
        if method and method not in out.setdefault(r.batch_id, []):
            out[r.batch_id].append(method)
    return {k: tuple(v) for k, v in out.items()}


@router.get("/manifests/{manifest_id}.pdf", response_class=Response, summary="The printable manifest (A4, Chinese)",
            responses={200: {"content": {"application/pdf": {}}, "description": "the manifest as an A4 PDF"},
                       404: {"description": "no such manifest, or outside your scope"}})
def manifest_pdf(manifest_id: DbId, request: Request, s: Session = Depends(get_session),
                 p: Principal = Depends(principal)):
    """The manifest as printed: parties (with the receiver's licence and the driver), lines with received masses
    (large shipped/received differences shaded), planned and actual methods, and every signature by name."""
    from labels import manifest_pdf as doc
    from ledger.accounts import User

    m = svc.get_manifest(s, p, manifest_id)
    pub = manifest_public(s, m, _url(request))
    units = {u.id: u for u in s.exec(select(Unit).where(Unit.id.in_(svc.parties(m))))}
    events = list(s.exec(select(svc.ManifestEvent).where(svc.ManifestEvent.manifest_id == m.id)
                         .order_by(svc.ManifestEvent.id)).all())
    user_ids = {e.user_id for e in events if e.user_id} | ({m.driver_id} if m.driver_id else set())
    users = {u.id: u for u in s.exec(select(User).where(User.id.in_(user_ids)))} if user_ids else {}

    def party(u: Unit) -> doc.Party:
        return doc.Party(name=u.name, credit_code=u.credit_code, address=u.address or "", contact=u.contact or "",
                         phone=u.phone or "")

    permit = s.exec(select(Permit).where(Permit.unit_id == m.hauler_id, Permit.kind == "transport_permit")
                    .order_by(Permit.valid_to.desc())).first()
    hu, ru = units[m.hauler_id], units[m.receiver_id]
    hauler = doc.HaulerParty(name=hu.name, credit_code=hu.credit_code, address=hu.address or "",
                             contact=hu.contact or "", phone=hu.phone or "", permit_no=permit.number if permit else "",
                             vehicle_plate=pub.vehicle_plate, driver=_pdf_driver(m, events, users))
    receiver = doc.ReceiverParty(name=ru.name, credit_code=ru.credit_code, address=ru.address or "",
                                 contact=ru.contact or "", phone=ru.phone or "",
                                 licence_no=_pdf_licences(s, m, pub.lines))
    methods = {x.code: x.name for x in s.exec(select(Method))}
    actual = _pdf_actual_methods(s, m, pub.lines)
    batch_rows = {b.id: b for b in s.exec(select(Batch).where(Batch.id.in_([ln.batch_id for ln in pub.lines])))}
    lines = tuple(doc.ManifestLine(
        waste_code=ln.waste_code, waste_name=ln.waste_name, category=batch_rows[ln.batch_id].category,
        form=batch_rows[ln.batch_id].form,
        hazard=parse_hazard(batch_rows[ln.batch_id].hazard) if batch_rows[ln.batch_id].hazard else (),
        package=f"{batch_rows[ln.batch_id].container_type} × {batch_rows[ln.batch_id].container_count}",
        shipped_kg=ln.shipped_kg, method_code=ln.planned_method, method_name=methods.get(ln.planned_method, ""),
        received_kg=ln.received_kg, acceptance=ln.acceptance, reason=ln.reason, digital_id=ln.digital_id,
        actual_methods=actual.get(ln.holding_id, ()))
        for ln in pub.lines)

    def signer(e: svc.ManifestEvent) -> str:
        user = users.get(e.user_id)
        name = user.display_name if user is not None else e.user_name
        unit = units.get(e.unit_id)
        return f"{name}（{unit.name}）" if unit is not None else name

    sigs = tuple(doc.ManifestSignature(role=PDF_ROLES[e.action], who=signer(e), when=e.at,
                                       gps=(e.lat, e.lon) if e.lat is not None else None)
                 for e in events if e.action in PDF_ROLES)
    data = doc.ManifestDoc(number=m.number, status=pub.status_name,
                           qr_payload=f"{_url(request).rstrip('/')}/m/{m.number}", originator=party(units[m.originator_id]),
                           hauler=hauler, receiver=receiver, lines=lines, planned_date=m.planned_date,
                           signatures=sigs, hazardous=m.hazardous, remarks=m.remarks or "")
    return Response(doc.render_manifest_pdf(data), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="manifest-{m.number}.pdf"'})


@router.get("/manifests/{manifest_id}", response_model=ManifestPublic)
def get_manifest(manifest_id: DbId, request: Request, s: Session = Depends(get_session),
                 p: Principal = Depends(principal)):
    return manifest_public(s, svc.get_manifest(s, p, manifest_id), _url(request))


@router.post("/manifests/{manifest_id}/submit", response_model=ManifestPublic, summary="The originator signs")
async def submit(manifest_id: DbId, request: Request, d: Deferred = Depends(deferred_tx)):
    return await _grouped_step(d, request, manifest_id, "submit", lambda s, p, m: svc.submit(s, principal=p, m=m),
                               BY_MANIFEST)


@router.post("/manifests/{manifest_id}/cancel", response_model=ManifestPublic, summary="Cancel before pickup")
async def cancel(manifest_id: DbId, body: svc.CancelIn, request: Request, d: Deferred = Depends(deferred_tx)):
    return await _grouped_step(d, request, manifest_id, "cancel",
                               lambda s, p, m: svc.cancel(s, principal=p, m=m, data=body), BY_MANIFEST)


@router.post("/manifests/{manifest_id}/pickup", response_model=ManifestPublic,
             summary="The hauler signs pickup with the digital IDs scanned from every label",
             dependencies=[Depends(alert_routes.watch_refused_pickup)])
async def pickup(manifest_id: DbId, body: svc.PickupIn, request: Request, d: Deferred = Depends(deferred_tx)):
    return await _grouped_step(d, request, manifest_id, "pickup",
                               lambda s, p, m: svc.pickup(s, principal=p, m=m, data=body), BY_ORIGINATOR)


@router.post("/manifests/{manifest_id}/track", summary="Append GPS points on the road")
def track(manifest_id: DbId, body: svc.TrackIn, t: Tx = Depends(tx)):
    return t.run(lambda s, p: {"added": svc.track(s, principal=p, m=svc.get_manifest(s, p, manifest_id), data=body)})


@router.post("/manifests/{manifest_id}/deliver", response_model=ManifestPublic,
             summary="Arrival at the receiver; the 5-working-day receipt deadline starts")
async def deliver(manifest_id: DbId, body: svc.Where, request: Request, d: Deferred = Depends(deferred_tx)):
    return await _grouped_step(d, request, manifest_id, "deliver",
                               lambda s, p, m: svc.deliver(s, principal=p, m=m, data=body), BY_MANIFEST)


@router.post("/manifests/{manifest_id}/receive", response_model=ManifestPublic,
             summary="The receiver signs: per line received mass, acceptance and reason")
async def receive(manifest_id: DbId, body: svc.ReceiveIn, request: Request, d: Deferred = Depends(deferred_tx)):
    return await _grouped_step(d, request, manifest_id, "receive",
                               lambda s, p, m: svc.receive(s, principal=p, m=m, data=body), BY_RECEIVER)


@router.post("/manifests/{manifest_id}/complete", response_model=ManifestPublic,
             summary="The receiver closes it once every accepted line is utilised or disposed")
async def complete(manifest_id: DbId, request: Request, d: Deferred = Depends(deferred_tx)):
    return await _grouped_step(d, request, manifest_id, "complete", lambda s, p, m: svc.complete(s, principal=p, m=m),
                               BY_MANIFEST)


@router.post("/manifests/{manifest_id}/return", response_model=ManifestPublic,
             summary="The hauler takes a refused load back (refused → returning)")
async def start_return(manifest_id: DbId, body: svc.Where, request: Request, d: Deferred = Depends(deferred_tx)):
    return await _grouped_step(d, request, manifest_id, "return",
                               lambda s, p, m: svc.start_return(s, principal=p, m=m, data=body), BY_MANIFEST)


@router.post("/manifests/{manifest_id}/returned", response_model=ManifestPublic,
             summary="The originator takes back what was refused")
async def confirm_return(manifest_id: DbId, body: svc.Where, request: Request, d: Deferred = Depends(deferred_tx)):
    return await _grouped_step(d, request, manifest_id, "returned",
                               lambda s, p, m: svc.confirm_return(s, principal=p, m=m, data=body), BY_ORIGINATOR)


@router.post("/manifests/{manifest_id}/revisions", status_code=201, response_model=ManifestPublic,
             summary="Propose a change after pickup; the other parties approve it")
async def propose(manifest_id: DbId, body: svc.RevisionIn, request: Request, d: Deferred = Depends(deferred_tx)):
    return await _grouped_step(d, request, manifest_id, "revision.propose",
                               lambda s, p, m: svc.propose_revision(s, principal=p, m=m, data=body), BY_MANIFEST,
                               status=201)


@router.post("/manifests/{manifest_id}/revisions/{revision_id}/approve", response_model=ManifestPublic)
async def approve(manifest_id: DbId, revision_id: DbId, request: Request, d: Deferred = Depends(deferred_tx)):
    return await _grouped_step(d, request, manifest_id, "revision.decide", lambda s, p, m: svc.decide_revision(
        s, principal=p, m=m, revision_id=revision_id, approve=True), BY_MANIFEST)


@router.post("/manifests/{manifest_id}/revisions/{revision_id}/reject", response_model=ManifestPublic)
async def reject(manifest_id: DbId, revision_id: DbId, request: Request, d: Deferred = Depends(deferred_tx)):
    return await _grouped_step(d, request, manifest_id, "revision.decide", lambda s, p, m: svc.decide_revision(
        s, principal=p, m=m, revision_id=revision_id, approve=False), BY_MANIFEST)


class ApprovalOut(SQLModel):
    id: int
    number: str
    originator_id: int
    receiver_id: int
    waste_codes: list[str]
    cap_kg: Decimal
    valid_from: date
    valid_to: date


@router.post("/units/{unit_id}/transfer-approvals", status_code=201, response_model=ApprovalOut,
             summary="Record a cross-province transfer approval (≤ 12 months)")
def create_approval(unit_id: DbId, body: svc.ApprovalCreate, t: Tx = Depends(tx)):
    def run(s, p):  # noqa: ANN001
        a = svc.create_approval(s, principal=p, unit_id=unit_id, data=body)
        return ApprovalOut(id=a.id, number=a.number, originator_id=a.originator_id, receiver_id=a.receiver_id,
                           waste_codes=a.waste_codes, cap_kg=g_to_kg(a.cap_g), valid_from=a.valid_from,
                           valid_to=a.valid_to)
    return t.run(run, status=201)
