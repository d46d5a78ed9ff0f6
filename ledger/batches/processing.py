"""In-house utilisation and disposal, corrections, and the split of a received holding."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Literal

from sqlmodel import Session, select

from ledger.auth import Principal, audit, require_unit
from ledger.batches.balance import BatchState, Move, apply, record, state_of
from ledger.batches.helpers import checked_time, links_of, record_code, unit_facility
from ledger.batches.models import Batch
from ledger.batches.schemas import CorrectionIn, ProcessIn
from ledger.cache import registry_get
from ledger.db import new_row
from ledger.errors import InvalidInput
from ledger.journal import JournalRecord
from ledger.mass import MAX_BATCH_G, g_to_kg, kg_to_g
from ledger.registry.models import Facility, Method
from ledger.types import utcnow
from ledger.workdays import local_day

# Other modules (manifests) check the in-house processing of a holding they know about (a received load against
# the receiver's licence and the manifest's planned method): (session, holding, method, day, principal) -> extra
# body fields for the record (flags); they raise a LedgerError to refuse.
process_checks: list[Callable[[Session, Batch, Method, date, Principal], dict | None]] = []


def check_process(session: Session, principal: Principal, batch: Batch, data: ProcessIn, *,
                  kind: Literal["used_in_house", "disposed_in_house"], now: datetime, state: BatchState) -> Move:
    """Every check of a 自行利用/处置 against the holding's `state` (raises the request's 4xx). The other modules'
    `process_checks` run last, once everything else has passed: a received load whose method differs from the
    manifest's plan gets its flags written then, and only then."""
    require_unit(session, principal, batch.holder_unit_id, act="operate", read_only=True)
    occurred = checked_time(data.occurred_at, field="occurred_at", now=now)
    completed = checked_time(data.completed_at, field="completed_at", now=now) if data.completed_at else occurred
    method = registry_get(session, Method, data.method.strip().upper())
    if method is None:
        raise InvalidInput(f"unknown method {data.method!r}", field="method", code="method.unknown")
    if kind == "used_in_house" and not method.counts_as_utilisation:
        raise InvalidInput(f"{method.code} ({method.name}) is a disposal method; use dispose-in-house",
                           field="method")
    if kind == "disposed_in_house" and method.counts_as_utilisation:
        raise InvalidInput(f"{method.code} ({method.name}) counts as utilisation; use use-in-house", field="method")
    fac_id = None
    if data.facility_id is not None:
        f = unit_facility(session, batch.holder_unit_id, data.facility_id, kinds=("utilisation", "disposal"),
                          field="facility_id")
        if f.methods and method.code not in f.methods:
            raise InvalidInput(f"facility {f.code} is registered for {', '.join(f.methods)}, not {method.code}",
                               field="method")
        fac_id = f.id
    mass = kg_to_g(data.mass_kg, field="mass_kg") if data.mass_kg is not None else state.loose_g
    after = apply(state, kind=kind, mass_g=mass, unit_id=batch.holder_unit_id, facility_id=fac_id, body={})
    extra: dict = {}
    for check in process_checks:
        extra.update(check(session, batch, method, local_day(occurred), principal) or {})
    return Move(principal, batch, kind, fac_id, mass, occurred, {"method": method.code,
                "completed_at": completed.isoformat(), "note": data.note, **extra}, after)


def process_in_house(session: Session, *, principal: Principal, batch: Batch, data: ProcessIn,
                     kind: Literal["used_in_house", "disposed_in_house"]) -> JournalRecord:
    """自行利用/处置: consume the batch's loose mass with a method, at one of the holder's facilities."""
    m = check_process(session, principal, batch, data, kind=kind, now=utcnow(), state=state_of(batch))
    code = record_code(session, unit_id=batch.holder_unit_id, kind=kind, day=local_day(m.occurred),
                       hazardous=batch.hazardous)
    return record(session, batch, kind=kind, unit_id=batch.holder_unit_id, principal=principal,
                  actor_name=data.operator, occurred_at=m.occurred, mass_g=m.mass, facility_id=m.facility_id,
                  record_code=code, body={"from_codes": links_of(session, batch), **m.body})


CORRECTABLE = ("generated", "stored", "retrieved", "used_in_house", "disposed_in_house")


def correct(session: Session, *, principal: Principal, batch: Batch, data: CorrectionIn) -> JournalRecord:
    """Amend the mass of an earlier record with a new `corrected` record; the original stays as it was."""
    original = session.get(JournalRecord, data.record_id)
    if original is None or original.batch_id != batch.id:
        raise InvalidInput(f"record {data.record_id} is not a record of batch {batch.id}", field="record_id")
    if original.kind not in CORRECTABLE:
        raise InvalidInput(f"a {original.kind} record cannot be corrected here", field="record_id")
    require_unit(session, principal, original.unit_id, act="operate", read_only=True)
    latest = session.exec(select(JournalRecord).where(JournalRecord.corrects_id == original.id)
                          .order_by(JournalRecord.id.desc())).first()
    before = int(latest.body["to_g"]) if latest else original.mass_g
    after = kg_to_g(data.mass_kg, field="mass_kg")
    if after == before:
        raise InvalidInput(f"record {original.id} already has {g_to_kg(after)} kg", field="mass_kg")
    if original.kind == "generated":
        cap = MAX_BATCH_G
        if batch.period != "container":
            cap = session.get(Facility, batch.facility_id).daily_capacity_g or MAX_BATCH_G
        if after <= 0 or after > cap:
            raise InvalidInput(f"a batch's net mass must be more than 0 and at most {g_to_kg(cap)} kg", field="mass_kg")
    rec = record(session, batch, kind="corrected", unit_id=original.unit_id, principal=principal,
                 actor_name=principal.username, occurred_at=utcnow(), mass_g=after - before,
                 record_code=original.record_code, corrects_id=original.id,
                 body={"corrects_kind": original.kind, "corrects_seq": original.seq, "from_g": before,
                       "to_g": after, "reason": data.reason})
    audit(session, principal, action="record.correct", entity="journal_record", entity_id=rec.id,
          detail={"corrects": original.id, "from_g": before, "to_g": after, "reason": data.reason})
    return rec


def split_holding(session: Session, source: Batch, *, receiver_unit_id: int, received_g: int, facility_id: int | None
                  ) -> Batch:
    """A new holding of the same physical batch at the receiver, not yet written: its `received` record
    (`record`, `write_states`) inserts it with its balances."""
    child = new_row(Batch, **{k: getattr(source, k) for k in (
        "unit_id", "digital_id", "batch_code", "waste_code", "category", "hazardous", "name", "form", "hazard",
        "components", "container_type", "container_count", "container_volume_l", "facility_id", "scale_id",
        "operator", "occurred_at", "flags")},
        holder_unit_id=receiver_unit_id, parent_id=source.id, root_id=source.root_id or source.id,
        gross_g=received_g, tare_g=0, net_g=0, remaining_g=0, status="generated")
    return child
