"""Read models for the pages: a unit's stock per facility and recent records, the station's waste-code choices,
searches for units and manifests. Read-only; every query is limited to what the principal may see."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, or_
from sqlmodel import Session, select

from ledger.auth import Principal, unit_scope
from ledger.batches import Batch
from ledger.journal import JournalRecord
from ledger.manifests import Manifest
from ledger.mass import g_to_kg
from ledger.registry.catalogue import get_waste_code
from ledger.registry.models import Facility, Unit, Vehicle
from ledger.registry.plans import planned_codes
from ledger.types import utcnow

RECENT_DAYS = 90


@dataclass
class FacilityStock:
    facility: Facility
    stored_kg: Decimal = Decimal(0)
    rows: list[dict] = field(default_factory=list)

    @property
    def fill(self) -> int | None:
        """Per cent of the storage capacity in use."""
        cap = self.facility.storage_capacity_g
        return None if not cap else round(float(self.stored_kg) * 1000 * 100 / cap)


def unit_stock(session: Session, *, unit_id: int) -> list[FacilityStock]:
    """Stock of each storage facility of the unit, per waste code (one grouped query)."""
    facs = session.exec(select(Facility).where(Facility.unit_id == unit_id, Facility.kind == "storage")
                        .order_by(Facility.code)).all()
    out = {f.id: FacilityStock(f) for f in facs}
    rows = session.exec(select(Batch.storage_facility_id, Batch.waste_code, func.sum(Batch.stored_g),
                               func.count(Batch.id))
                        .where(Batch.holder_unit_id == unit_id, Batch.stored_g > 0)
                        .group_by(Batch.storage_facility_id, Batch.waste_code)
                        .order_by(Batch.storage_facility_id, Batch.waste_code)).all()
    for fid, code, g, n in rows:
        if fid in out:
            out[fid].rows.append({"waste_code": code, "stored_kg": g_to_kg(int(g)), "batches": n})
            out[fid].stored_kg += g_to_kg(int(g))
    return list(out.values())


@dataclass
class RecordRow:
    record: JournalRecord
    digital_id: str | None
    facility_code: str | None


def recent_records(session: Session, *, unit_id: int, limit: int = 30, before_seq: int | None = None
                   ) -> list[RecordRow]:
    """The unit's latest journal records, newest first, with the batch's digital ID and the facility code."""
    q = select(JournalRecord).where(JournalRecord.unit_id == unit_id)
    if before_seq is not None:
        q = q.where(JournalRecord.seq < before_seq)
    records = session.exec(q.order_by(JournalRecord.seq.desc()).limit(limit)).all()
    bids = {r.batch_id for r in records if r.batch_id} | {r.source_batch_id for r in records if r.source_batch_id}
    fids = {r.facility_id for r in records if r.facility_id}
    dids = dict(session.exec(select(Batch.id, Batch.digital_id).where(Batch.id.in_(bids))).all()) if bids else {}
    fcodes = dict(session.exec(select(Facility.id, Facility.code).where(Facility.id.in_(fids))).all()) if fids else {}
    return [RecordRow(r, dids.get(r.batch_id or r.source_batch_id), fcodes.get(r.facility_id)) for r in records]


def unit_manifests(session: Session, *, unit_id: int, limit: int = 10) -> list[Manifest]:
    """Manifests the unit is a party to, newest first."""
    return list(session.exec(select(Manifest).where(or_(
        Manifest.originator_id == unit_id, Manifest.hauler_id == unit_id, Manifest.receiver_id == unit_id))
        .order_by(Manifest.id.desc()).limit(limit)).all())


@dataclass
class CodeChoice:
    code: str
    name: str
    planned: bool
    recent: bool
    form: str | None = None
    container_type: str | None = None
    container_volume_l: float | None = None
    tare_kg: Decimal | None = None
    category_name: str = ""


def station_codes(session: Session, *, unit_id: int, year: int) -> list[CodeChoice]:
    """The waste codes a weighing point offers: this year's planned codes first, then those weighed recently,
    each with the defaults of its last weighing (name, form, container, tare)."""
    planned = planned_codes(session, unit_id=unit_id, year=year)
    since = utcnow() - timedelta(days=RECENT_DAYS)
    last_ids = session.exec(select(func.max(Batch.id)).where(Batch.unit_id == unit_id, Batch.parent_id.is_(None),
                                                             Batch.occurred_at >= since)
                            .group_by(Batch.waste_code)).all()
    last = {b.waste_code: b for b in session.exec(select(Batch).where(Batch.id.in_(last_ids)))} if last_ids else {}
    order = sorted(planned) + [c for c, _ in sorted(last.items(), key=lambda kv: -kv[1].id) if c not in planned]
    out = []
    for code in order:
        b = last.get(code)
        entry = get_waste_code(session, code)
        cat = entry.category_name if entry else ""
        out.append(CodeChoice(code=code, name=b.name if b else cat, planned=code in planned, recent=b is not None,
                              form=b.form if b else None, container_type=b.container_type if b else None,
                              container_volume_l=b.container_volume_l if b else None,
                              tare_kg=g_to_kg(b.tare_g) if b else None, category_name=cat))
    return out


def recent_batches(session: Session, *, unit_id: int, limit: int = 10) -> list[Batch]:
    """The unit's latest weighings (whatever posted them: this page, a scale, a bulk upload)."""
    return list(session.exec(select(Batch).where(Batch.unit_id == unit_id, Batch.parent_id.is_(None))
                             .order_by(Batch.id.desc()).limit(limit)).all())


def search_units(session: Session, *, principal: Principal, q: str = "", limit: int = 50, offset: int = 0
                 ) -> list[Unit]:
    """Units in the principal's scope whose name, credit code or region code matches `q`."""
    stmt = select(Unit).where(unit_scope(principal))
    q = q.strip()
    if q:
        stmt = stmt.where(or_(Unit.name.contains(q, autoescape=True), Unit.credit_code == q.upper(),
                              Unit.region_code.startswith(q, autoescape=True)))
    return list(session.exec(stmt.order_by(Unit.name).offset(offset).limit(limit)).all())


def search_manifests(session: Session, *, principal: Principal, q: str = "", status: str | None = None,
                     unit_id: int | None = None, overdue: bool = False, limit: int = 50) -> list[Manifest]:
    """Manifests the principal may see, by number (prefix), vehicle plate, or a party's name or credit code;
    `overdue`: on the road or arrived, past the receipt deadline."""
    visible = select(Unit.id).where(unit_scope(principal))
    stmt = select(Manifest).where(or_(Manifest.originator_id.in_(visible), Manifest.hauler_id.in_(visible),
                                      Manifest.receiver_id.in_(visible)))
    q = q.strip()
    if q:
        plates = select(Vehicle.id).where(Vehicle.plate.contains(q.upper(), autoescape=True))
        parties = select(Unit.id).where(or_(Unit.name.contains(q, autoescape=True), Unit.credit_code == q.upper()))
        stmt = stmt.where(or_(Manifest.number.startswith(q, autoescape=True), Manifest.vehicle_id.in_(plates),
                              Manifest.originator_id.in_(parties), Manifest.hauler_id.in_(parties),
                              Manifest.receiver_id.in_(parties)))
    if status:
        stmt = stmt.where(Manifest.status == status)
    if overdue:
        stmt = stmt.where(Manifest.status.in_(("in_transit", "delivered")), Manifest.receipt_deadline < utcnow())
    if unit_id is not None:
        stmt = stmt.where(or_(Manifest.originator_id == unit_id, Manifest.hauler_id == unit_id,
                              Manifest.receiver_id == unit_id))
    return list(session.exec(stmt.order_by(Manifest.id.desc()).limit(limit)).all())


def manifest_by_number(session: Session, number: str) -> Manifest | None:
    """A manifest by its 14-digit number (no access check: callers decide what to show)."""
    return session.exec(select(Manifest).where(Manifest.number == number.strip())).first()


def party_names(session: Session, ms: list[Manifest]) -> dict[int, str]:
    ids = {i for m in ms for i in (m.originator_id, m.hauler_id, m.receiver_id)}
    return dict(session.exec(select(Unit.id, Unit.name).where(Unit.id.in_(ids))).all()) if ids else {}


def plates(session: Session, ms: list[Manifest]) -> dict[int, str]:
    ids = {m.vehicle_id for m in ms}
    return dict(session.exec(select(Vehicle.id, Vehicle.plate).where(Vehicle.id.in_(ids))).all()) if ids else {}
