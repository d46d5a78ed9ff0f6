"""Storage moves: 入库 and 出库 of one holding, in commit groups (`move_many`), and FIFO bulk lots."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from ledger.auth import Principal, require_unit
from ledger.batches.balance import BatchState, Move, apply, record, state_of
from ledger.batches.helpers import (
    checked_time,
    facility_stock_g,
    links_of,
    record_code,
    registry_facility,
    unit_facility,
)
from ledger.batches.models import Batch
from ledger.batches.schemas import LotRetrieveIn, RetrieveIn, StoreIn
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.journal import JournalRecord
from ledger.mass import g_to_kg, kg_to_g
from ledger.registry.catalogue import check_waste_code
from ledger.registry.models import Facility
from ledger.types import utcnow
from ledger.workdays import local_day


def check_store(session: Session, principal: Principal, batch: Batch, data: StoreIn, *, now: datetime,
                state: BatchState, stock_g: Callable[[int], int], extra: dict | None = None) -> Move:
    """Every check of a 入库 against the holding's `state` (raises the request's 4xx; writes nothing).
    `stock_g(facility_id)`: the facility's stored mass before this move, for the over-capacity note."""
    require_unit(session, principal, batch.holder_unit_id, act="operate", read_only=True)
    occurred = checked_time(data.occurred_at, field="occurred_at", now=now)
    f = unit_facility(session, batch.holder_unit_id, data.facility_id, kinds=("storage",), field="facility_id")
    loose = state.loose_g
    if loose == 0 and state.stored_g > 0:
        where = registry_facility(session, state.storage_facility_id)
        raise Conflict(f"batch {batch.digital_id} is already in storage at {where.code} {where.name} "
                       f"({g_to_kg(state.stored_g)} kg); to move it, retrieve it first", code="batch.already_stored",
                       details={"storage_facility_id": where.id, "stored_kg": str(g_to_kg(state.stored_g))})
    if loose == 0:
        raise Conflict(f"batch {batch.digital_id} holds nothing to store (status {state.status})",
                       code="batch.nothing_to_store", details={"status": state.status})
    mass = kg_to_g(data.mass_kg, field="mass_kg") if data.mass_kg is not None else loose
    after = apply(state, kind="stored", mass_g=mass, unit_id=batch.holder_unit_id, facility_id=f.id, body={})
    body: dict = {"note": data.note, **(extra or {})}
    if f.storage_capacity_g is not None:
        stock = stock_g(f.id) + mass
        if stock > f.storage_capacity_g:
            body["over_capacity"] = {"capacity_g": f.storage_capacity_g, "stock_after_g": stock}
    return Move(principal, batch, "stored", f.id, mass, occurred, body, after)


def store(session: Session, *, principal: Principal, batch: Batch, data: StoreIn, extra: dict | None = None,
          code: str | None = None) -> JournalRecord:
    """入库: put the batch's loose mass (or part of it) into a storage facility; over capacity is recorded
    (`extra` adds what the caller knows to the record, e.g. the manifest a receipt came on; `code`: its record
    code, when the caller took it already with its other counters)."""
    m = check_store(session, principal, batch, data, now=utcnow(), state=state_of(batch),
                    stock_g=lambda facility_id: facility_stock_g(session, facility_id), extra=extra)
    body = {"from_codes": links_of(session, batch), **m.body}
    code = code or record_code(session, unit_id=batch.holder_unit_id, kind="stored", day=local_day(m.occurred),
                               hazardous=batch.hazardous)
    return record(session, batch, kind="stored", unit_id=batch.holder_unit_id, principal=principal,
                  actor_name=data.operator, occurred_at=m.occurred, mass_g=m.mass, facility_id=m.facility_id,
                  record_code=code, body=body)


def check_retrieve(session: Session, principal: Principal, batch: Batch, data: RetrieveIn, *, now: datetime,
                   state: BatchState, on_behalf: bool = False, extra: dict | None = None) -> Move:
    """Every check of a 出库 against the holding's `state` (raises the request's 4xx; writes nothing)."""
    if not on_behalf:
        require_unit(session, principal, batch.holder_unit_id, act="operate", read_only=True)
    occurred = checked_time(data.occurred_at, field="occurred_at", now=now)
    mass = kg_to_g(data.mass_kg, field="mass_kg") if data.mass_kg is not None else state.stored_g
    if state.stored_g == 0:
        raise Conflict("this batch is not in storage", code="batch.not_stored")
    after = apply(state, kind="retrieved", mass_g=mass, unit_id=batch.holder_unit_id,
                  facility_id=state.storage_facility_id, body={})
    return Move(principal, batch, "retrieved", state.storage_facility_id, mass, occurred,
                 {"purpose": data.purpose, "note": data.note, **(extra or {})}, after)


def retrieve(session: Session, *, principal: Principal, batch: Batch, data: RetrieveIn,
             lot_code: str | None = None, on_behalf: bool = False, extra: dict | None = None) -> JournalRecord:
    """出库: take the batch (or part of it) out of storage (`on_behalf`: at loading, signed by the hauler;
    `extra` adds what the caller knows to the record, e.g. the manifest and the carrier)."""
    m = check_retrieve(session, principal, batch, data, now=utcnow(), state=state_of(batch), on_behalf=on_behalf,
                       extra=extra)
    code = lot_code or record_code(session, unit_id=batch.holder_unit_id, kind="retrieved",
                                   day=local_day(m.occurred), hazardous=batch.hazardous)
    return record(session, batch, kind="retrieved", unit_id=batch.holder_unit_id, principal=principal,
                  actor_name=data.operator, occurred_at=m.occurred, mass_g=m.mass, facility_id=m.facility_id,
                  record_code=code, body={"from_codes": links_of(session, batch), **m.body})


@dataclass
class LotDraw:
    batch: Batch
    record: JournalRecord


def retrieve_lot(session: Session, *, principal: Principal, facility_id: int, data: LotRetrieveIn
                 ) -> tuple[str, list[LotDraw]]:
    """Bulk 出库: draw a mass of one waste code from a storage facility, oldest batches first (FIFO)."""
    f = session.get(Facility, facility_id)
    if f is None:
        raise NotFound(f"facility {facility_id} does not exist", code="facility.not_found")
    require_unit(session, principal, f.unit_id, act="operate")
    if f.kind != "storage":
        raise InvalidInput(f"facility {f.code} is not a storage facility", field="facility_id")
    code = check_waste_code(session, data.waste_code)
    want = kg_to_g(data.mass_kg, field="mass_kg")
    if want <= 0:
        raise InvalidInput("mass must be more than 0", field="mass_kg")
    q = (select(Batch).where(Batch.storage_facility_id == f.id, Batch.waste_code == code, Batch.stored_g > 0)
         .order_by(Batch.occurred_at, Batch.id))
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    candidates = session.exec(q.execution_options(populate_existing=True)).all()
    available = sum(b.stored_g for b in candidates)
    if want > available:
        raise Conflict(f"facility {f.code} holds {g_to_kg(available)} kg of {code}, less than the "
                       f"{g_to_kg(want)} kg asked", code="batch.insufficient_mass",
                       details={"available_kg": str(g_to_kg(available))})
    occurred = checked_time(data.occurred_at, field="occurred_at", now=utcnow())
    lot_code = record_code(session, unit_id=f.unit_id, kind="retrieved", day=local_day(occurred),
                     hazardous=candidates[0].hazardous)
    draws, left = [], want
    for b in candidates:
        if left == 0:
            break
        take = min(b.stored_g, left)
        rec = retrieve(session, principal=principal, batch=b, lot_code=lot_code, data=RetrieveIn(
            mass_kg=g_to_kg(take), operator=data.operator, occurred_at=occurred, purpose=data.purpose))
        draws.append(LotDraw(b, rec))
        left -= take
    return lot_code, draws
