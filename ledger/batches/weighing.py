"""Generation at the weighing point: one weighing, a bulk of them, or a commit group's (`write_weighings`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func
from sqlmodel import Field, Session, select

from ledger import journal
from ledger.auth import Principal, require_unit
from ledger.batches.balance import BatchState, apply, signed_by
from ledger.batches.helpers import checked_time, counter_scope, unit_facility
from ledger.batches.models import LATE_ENTRY, Batch
from ledger.batches.schemas import BatchCreate, StoreIn
from ledger.batches.storage import store
from ledger.codes import make_batch_code, make_digital_id
from ledger.counters import next_ranges
from ledger.db import insert_all, new_row
from ledger.errors import Conflict, InvalidInput
from ledger.mass import MAX_BATCH_G, g_to_kg, kg_to_g
from ledger.registry.catalogue import lookup_waste_code
from ledger.registry.models import Facility, Unit
from ledger.registry.plans import planned_codes
from ledger.types import utcnow
from ledger.validation import Input
from ledger.workdays import day_bounds_utc, local_day

MAX_BULK = 500


class BulkCreate(Input):
    items: list[BatchCreate] = Field(min_length=1, max_length=MAX_BULK,
                                     description="weighings, e.g. a terminal's buffer after a network outage")


@dataclass
class _Weighing:
    """A validated weighing, before serials are allocated."""

    principal: Principal
    data: BatchCreate
    unit: Unit
    facility: Facility
    code: str
    hazardous: bool
    hazard: str
    occurred: datetime
    day: date
    gross: int
    tare: int
    net: int
    flags: list[str]


def prepare_weighing(session: Session, principal: Principal, data: BatchCreate, now: datetime,
                     seen: dict) -> _Weighing:
    """Validate one weighing (lookups shared across a bulk request or a commit group through `seen`; the unit's
    access check is shared only by the same principal); writes nothing but may read."""
    key = ("unit", id(principal), data.unit_id)
    if key not in seen:
        unit = require_unit(session, principal, data.unit_id, act="operate", read_only=True)
        if not (unit.is_generator or unit.is_receiver):
            raise InvalidInput(f"unit {unit.id} is not registered as a generator", field="unit_id")
        seen[key] = unit
    unit = seen[key]
    occurred = checked_time(data.occurred_at, field="occurred_at", now=now)
    key = ("code", data.waste_code)
    if key not in seen:
        seen[key] = lookup_waste_code(session, data.waste_code)
    code, entry = seen[key]
    gross = kg_to_g(data.gross_kg, field="gross_kg")
    tare = kg_to_g(data.tare_kg, field="tare_kg")
    if tare > gross:
        raise InvalidInput(f"tare ({data.tare_kg} kg) is more than gross ({data.gross_kg} kg)", field="tare_kg",
                           code="weighing.tare_exceeds_gross")
    net = gross - tare
    if net <= 0:
        raise InvalidInput("net weight (gross − tare) must be more than 0", field="gross_kg",
                           code="weighing.net_not_positive")
    key = ("facility", unit.id, data.facility_id)
    if key not in seen:
        seen[key] = unit_facility(session, unit.id, data.facility_id, kinds=("generation",), field="facility_id")
    facility = seen[key]
    day = local_day(occurred)
    if data.period == "container":
        if net > MAX_BATCH_G:
            raise InvalidInput(f"net weight {g_to_kg(net)} kg exceeds {g_to_kg(MAX_BATCH_G)} kg for one batch; weigh "
                               "it as several batches (a continuous generation point records daily or shift "
                               "totals with period 'day' or 'shift')", field="gross_kg", code="weighing.too_heavy")
    else:
        _check_period_total(session, facility=facility, code=code, day=day, net=net, period=data.period, seen=seen)
    if data.store_facility_id is not None:  # 即入库: its facility is checked here, before anything is written
        unit_facility(session, unit.id, data.store_facility_id, kinds=("storage",), field="store_facility_id")
    key = ("plan", unit.id, day.year)
    if key not in seen:
        seen[key] = planned_codes(session, unit_id=unit.id, year=day.year)
    flags = []
    if code not in seen[key]:
        flags.append("not_in_plan")
    if now - occurred > LATE_ENTRY:
        flags.append("late_entry")
    return _Weighing(principal=principal, data=data, unit=unit, facility=seen[("facility", unit.id, data.facility_id)], code=code,
                     hazardous=not code.split("-")[2].startswith("S"), hazard=entry.hazard if entry else "",
                     occurred=occurred, day=day, gross=gross, tare=tare, net=net, flags=flags)


def _check_period_total(session: Session, *, facility: Facility, code: str, day: date, net: int, period: str,
                        seen: dict) -> None:
    """A daily or shift total: only at a continuous generation point, one daily total (or several shift totals)
    per point, code and day, all together within the point's registered daily capacity."""
    if not facility.continuous or facility.daily_capacity_g is None:
        raise InvalidInput(f"facility {facility.code} is not registered as a continuous generation point; daily "
                           "and shift totals are for continuous sources (register the point with continuous: true "
                           "and its daily_capacity_t), other waste is weighed per container or truckload",
                           field="period", code="weighing.not_continuous")
    key = ("period_total", facility.id, code, day)
    if key not in seen:
        start, end = day_bounds_utc(day)
        rows = session.exec(select(Batch.period, func.coalesce(func.sum(Batch.net_g), 0), func.count(Batch.id))
                            .where(Batch.facility_id == facility.id, Batch.waste_code == code,
                                   Batch.parent_id.is_(None), Batch.period != "container",
                                   Batch.occurred_at >= start, Batch.occurred_at < end)
                            .group_by(Batch.period)).all()
        seen[key] = {p: [int(g), int(n)] for p, g, n in rows}
    totals = seen[key]
    other = "shift" if period == "day" else "day"
    if totals.get("day", [0, 0])[1] or (period == "day" and totals.get(other, [0, 0])[1]):
        raise Conflict(f"{code} at {facility.code} on {day} already has its {'daily' if 'day' in totals else 'shift'}"
                       " total(s); a day is recorded either as one daily total or as shift totals — correct the "
                       "recorded total instead of adding another", code="weighing.period_recorded",
                       details={"field": "period"})
    used = sum(g for g, _ in totals.values())
    if used + net > facility.daily_capacity_g:
        raise InvalidInput(f"{g_to_kg(used + net)} kg of {code} on {day} would exceed the registered daily capacity "
                           f"of {facility.code} ({g_to_kg(facility.daily_capacity_g)} kg); check the figure or "
                           "update the point's registration", field="gross_kg", code="weighing.over_daily_capacity")
    totals.setdefault(period, [0, 0])
    totals[period][0] += net
    totals[period][1] += 1


def generate_many(session: Session, *, principal: Principal, items: list[BatchCreate]) -> list[Batch]:
    """Record several weighings at once, all or nothing: serial ranges in one statement, holdings and chain
    records in multi-row INSERTs, one chain-head lock per unit. The result equals generating them one by one."""
    now = utcnow()
    seen: dict = {}
    weighings = []
    for i, data in enumerate(items):
        try:
            weighings.append(prepare_weighing(session, principal, data, now, seen))
        except InvalidInput as e:
            if len(items) > 1:
                e.details["field"] = f"items[{i}].{e.details.get('field', '')}".rstrip(".")
                e.message = f"items[{i}]: {e.message}"
            raise
    return write_weighings(session, weighings, now=now)


def write_weighings(session: Session, weighings: list[_Weighing], *, now: datetime) -> list[Batch]:
    """Write prepared weighings (of one request or of a commit group, each with its own principal): serials,
    holdings, chain records, then 即入库. Locks are taken in one order — every counter first (one statement, by
    scope: the serials and the record codes of 即入库 too), then the chain heads (by unit id) — as a single record's
    write takes its counter before its head, so two transactions of these kinds never wait on each other in a
    cycle."""
    counts: dict[str, int] = {}
    for w in weighings:
        scopes = [f"did:{w.unit.id}:{w.code}:{w.day:%Y%m%d}", counter_scope(w.unit.id, "generated", w.day, w.hazardous)]
        if w.data.store_facility_id is not None:
            scopes.append(counter_scope(w.unit.id, "stored", w.day, w.hazardous))
        for scope in scopes:
            counts[scope] = counts.get(scope, 0) + 1
    nxt = next_ranges(session, counts)
    rows: list[Batch] = []
    for w in weighings:
        did_scope, code_scope = f"did:{w.unit.id}:{w.code}:{w.day:%Y%m%d}", counter_scope(
            w.unit.id, "generated", w.day, w.hazardous)
        serial, code_serial = nxt[did_scope], nxt[code_scope]
        nxt[did_scope], nxt[code_scope] = serial + 1, code_serial + 1
        state = apply(BatchState(), kind="generated", mass_g=w.net, unit_id=w.unit.id, facility_id=w.facility.id,
                      body={})
        d = w.data
        b = new_row(Batch, unit_id=w.unit.id,
                  digital_id=make_digital_id(credit_code=w.unit.credit_code, waste_code=w.code, day=w.day,
                                             serial=serial),
                  batch_code=make_batch_code(kind="generated", day=w.day, serial=code_serial, hazardous=w.hazardous),
                  waste_code=w.code, category=w.code.split("-")[2] if not w.hazardous else "HW" + w.code[-2:],
                  hazardous=w.hazardous, name=d.name, form=d.form, hazard=w.hazard, components=d.components,
                  container_type=d.container_type, container_count=d.container_count,
                  container_volume_l=d.container_volume_l, period=d.period, facility_id=w.facility.id,
                  scale_id=d.scale_id,
                  operator=d.operator, occurred_at=w.occurred, gross_g=w.gross, tare_g=w.tare, flags=w.flags,
                  created_at=now, net_g=state.net_g, remaining_g=state.remaining_g, stored_g=state.stored_g,
                  in_transit_g=state.in_transit_g, storage_facility_id=state.storage_facility_id,
                  holder_unit_id=state.holder_unit_id, stored_ever=state.stored_ever, status=state.status)
        rows.append(b)
    insert_all(session, rows)
    by_unit: dict[int, list[tuple[Batch, _Weighing]]] = {}
    for b, w in zip(rows, weighings, strict=True):
        by_unit.setdefault(w.unit.id, []).append((b, w))
    signed = {id(w.principal): signed_by(w.principal) for w in weighings}
    journal.append_chains(session, {unit_id: [{
        "kind": "generated", "actor_id": w.principal.user_id or None, "actor_name": w.data.operator,
        "occurred_at": w.occurred, "batch_id": b.id, "mass_g": w.net, "facility_id": w.facility.id,
        "record_code": b.batch_code,
        "body": {"digital_id": b.digital_id, "waste_code": w.code, "gross_g": w.gross, "tare_g": w.tare,
                 "scale_id": w.data.scale_id, "container_type": w.data.container_type,
                 "container_count": w.data.container_count, "period": w.data.period, "flags": w.flags,
                 "by": signed[id(w.principal)]}} for b, w in pairs] for unit_id, pairs in by_unit.items()})
    out = []
    for b, w in zip(rows, weighings, strict=True):
        if w.data.store_facility_id is not None:  # 即入库: store at once, on the ordinary path
            scope = counter_scope(w.unit.id, "stored", w.day, w.hazardous)
            serial, nxt[scope] = nxt[scope], nxt[scope] + 1
            b = session.get(Batch, b.id)
            store(session, principal=w.principal, batch=b, data=StoreIn(
                facility_id=w.data.store_facility_id, operator=w.data.operator, occurred_at=w.occurred),
                code=make_batch_code(kind="stored", day=w.day, serial=serial, hazardous=w.hazardous))
        out.append(b)
    return out


def generate(session: Session, *, principal: Principal, data: BatchCreate) -> Batch:
    """Record a weighing at a generation point: allocate the digital ID and batch code, write `generated`."""
    return generate_many(session, principal=principal, items=[data])[0]
