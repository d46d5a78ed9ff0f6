"""Receipt and what follows it: the receiver weighs and signs each line, processes what it accepted (checked
against its licences), completes the manifest; refused loads go back to the originator."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import bindparam
from sqlmodel import Session, select

from ledger import batches
from ledger.auth import Principal, registry_unit
from ledger.batches import Batch, lock_holdings
from ledger.cache import registry_get
from ledger.db import update_loaded
from ledger.errors import Conflict, InvalidInput
from ledger.manifests.access import sign_as
from ledger.manifests.checks import refuse
from ledger.manifests.models import (
    IMPOSSIBLE_RECEIPT_RATIO,
    OVER_RECEIPT_TOLERANCE_G,
    OVER_RECEIPT_TOLERANCE_PCT,
    RECEIPT_WORKING_DAYS,
    Manifest,
    ManifestLine,
    ReceiveIn,
    ReceiveLineIn,
    Where,
)
from ledger.manifests.state import (
    add_event,
    lines_of,
    marks_for,
    move,
    person_name,
    signer_name,
    touch,
    transition,
)
from ledger.mass import g_to_kg, kg_to_g
from ledger.registry.assets import licence_covers, licences_on
from ledger.registry.models import Facility, Method
from ledger.types import utcnow
from ledger.workdays import local_day, working_day_deadline

# built once (every 自行利用/处置 of a received load asks it)
_LINE_OF_HOLDING = (select(ManifestLine, Manifest).join(Manifest, Manifest.id == ManifestLine.manifest_id)
                    .where(ManifestLine.holding_id == bindparam("holding_id")))


def _check_processing(session: Session, holding: Batch, method: Method, day: date, principal: Principal) -> dict:
    """A receiver processing a load it received: hazardous waste needs a licence valid that day covering the code and
    the method (as strict as at manifest creation); a method other than the planned one is allowed but flagged on
    the record, the manifest line and the manifest."""
    if holding.parent_id is None:
        return {}
    row = session.exec(_LINE_OF_HOLDING, params={"holding_id": holding.id}).first()
    if row is None:
        return {}
    ln, m = row
    if holding.hazardous:
        receiver = registry_unit(session, holding.holder_unit_id)
        covering = [p for p in licences_on(session, unit_id=holding.holder_unit_id, on=day)
                    if licence_covers(p, holding.waste_code)]
        if not covering:
            raise refuse("receiver_licence", f"{receiver.name} holds no licence valid on {day} that covers "
                          f"{holding.waste_code}: it may not utilise or dispose of this load", "method",
                          waste_code=holding.waste_code)
        if not any(method.code in p.methods for p in covering):
            raise refuse("receiver_method", f"{receiver.name}'s licence for {holding.waste_code} covers "
                          f"{', '.join(sorted({x for p in covering for x in p.methods}))}, not {method.code}",
                          "method", waste_code=holding.waste_code, method=method.code)
    if method.code == ln.planned_method:
        return {}
    # the manifest read afresh and locked (PostgreSQL): two of its loads processed at once in two processes each add
    # their flag, neither lost; the version moves, so a step read before this one loses its compare-and-set (the
    # holding, and with it its line, is locked already)
    m = session.get(Manifest, m.id, populate_existing=True, with_for_update=True)
    ln.flags = sorted({*ln.flags, "method_changed"})
    m.flags = sorted({*m.flags, f"method_changed:{ln.waste_code}"})
    m.version += 1
    session.add(ln)
    session.add(m)
    add_event(session, m, principal, "method_changed", m.status, m.status, holding.holder_unit_id,
           line_no=ln.line_no, planned=ln.planned_method, used=method.code)
    return {"method_differs": {"manifest": m.number, "line_no": ln.line_no, "planned": ln.planned_method,
                               "used": method.code}}


batches.process_checks.append(_check_processing)


def _receipt_facility(session: Session, m: Manifest, facility_id: int | None, field: str) -> Facility | None:
    """Where a received load goes: a storage facility of the receiver (stored at receipt) or the installation it
    goes straight into. Unnamed: the receiver's one storage facility, or none when it has no storage."""
    if facility_id is None:
        stores = session.exec(select(Facility).where(Facility.unit_id == m.receiver_id, Facility.kind == "storage")
                              .order_by(Facility.id)).all()
        if len(stores) == 1:
            return stores[0]
        if not stores:
            return None
        raise InvalidInput(f"say where the load goes: the receiver has {len(stores)} storage facilities "
                           f"({', '.join(f.code for f in stores)}); give facility_id", field=field,
                           code="manifest.receipt_facility")
    f = batches.registry_facility(session, facility_id)  # only read: the registry cache's snapshot will do
    if f is None or f.unit_id != m.receiver_id:
        raise InvalidInput(f"facility {facility_id} is not a facility of the receiver", field=field,
                           code="manifest.receipt_facility")
    if f.kind == "generation":
        raise InvalidInput(f"facility {f.code} is a generation point; a received load goes into a storage facility "
                           "or a utilisation/disposal installation", field=field, code="manifest.receipt_facility")
    return f


def _over_tolerance_g(shipped_g: int) -> int:
    return max(OVER_RECEIPT_TOLERANCE_G, int(Decimal(shipped_g) * OVER_RECEIPT_TOLERANCE_PCT / 100))


def _check_receipt_line(i: int, r: ReceiveLineIn, shipped: int) -> tuple[int, int, int, list[str]]:
    """(received, accepted, refused, flags) for one line, or a 422 saying what to fix.

    A load refused whole goes back exactly as it left (the shipped mass), whatever mass was typed; a partial
    refusal sends back what the receiver weighed and did not accept."""
    f = f"lines[{i}]"
    received = kg_to_g(r.received_kg, field=f"{f}.received_kg")
    if received < 0:
        raise InvalidInput("received_kg cannot be negative", field=f"{f}.received_kg")
    if received > shipped * IMPOSSIBLE_RECEIPT_RATIO:
        raise InvalidInput(f"{g_to_kg(received)} kg received cannot be the {g_to_kg(shipped)} kg that was shipped "
                           f"(more than {IMPOSSIBLE_RECEIPT_RATIO}×): check the figure, e.g. its decimal point",
                           field=f"{f}.received_kg", code="manifest.receipt_impossible",
                           details={"shipped_kg": str(g_to_kg(shipped)), "received_kg": str(g_to_kg(received))})
    flags: list[str] = []
    if r.acceptance != "accepted" and not (r.reason or "").strip():
        raise InvalidInput("say why the load is refused (reason)", field=f"{f}.reason")
    if r.acceptance == "refused":
        return received, 0, shipped, flags
    if received == 0:
        raise InvalidInput("received_kg must be more than 0 for a load that is accepted; a load refused whole is "
                           "recorded with acceptance 'refused'", field=f"{f}.received_kg")
    over = received - shipped
    if over > _over_tolerance_g(shipped):
        pct = (Decimal(over) * 100 / shipped).quantize(Decimal("0.1"))
        if not r.confirm_overweight or not (r.reason or "").strip():
            raise InvalidInput(f"{g_to_kg(received)} kg received is {g_to_kg(over)} kg ({pct}%) more than the "
                               f"{g_to_kg(shipped)} kg shipped: weigh again, or confirm the figure with "
                               "confirm_overweight: true and a reason", field=f"{f}.received_kg",
                               code="manifest.receipt_over_shipped",
                               details={"shipped_kg": str(g_to_kg(shipped)), "over_kg": str(g_to_kg(over))})
        flags.append("received_over_shipped")
    if r.acceptance == "accepted":
        return received, received, 0, flags
    if r.accepted_kg is None:
        raise InvalidInput("a partially refused line needs accepted_kg", field=f"{f}.accepted_kg")
    accepted = kg_to_g(r.accepted_kg, field=f"{f}.accepted_kg")
    if not 0 < accepted < received:
        raise InvalidInput("accepted_kg must be more than 0 and less than received_kg", field=f"{f}.accepted_kg")
    if received - accepted > shipped:
        raise InvalidInput(f"the refused part ({g_to_kg(received - accepted)} kg) is more than the "
                           f"{g_to_kg(shipped)} kg that left the originator", field=f"{f}.accepted_kg")
    return received, accepted, received - accepted, flags


def receive(session: Session, *, principal: Principal, m: Manifest, data: ReceiveIn) -> Manifest:
    """The receiver signs: per line the mass weighed, the acceptance and why, and where the load went (stored at
    receipt, like 即入库 at generation). Both masses are kept; the difference is shown and flagged, never absorbed."""
    sign_as(session, principal, m, m.receiver_id, "receive", "receiver")
    lines = {ln.batch_id: ln for ln in lines_of(session, m)}
    given = {}
    for i, r in enumerate(data.lines):
        if r.batch_id not in lines:
            raise InvalidInput(f"batch {r.batch_id} is not on manifest {m.number}", field=f"lines[{i}].batch_id")
        if r.batch_id in given:
            raise InvalidInput(f"batch {r.batch_id} is given twice", field=f"lines[{i}].batch_id")
        received, accepted, refused, flags = _check_receipt_line(i, r, lines[r.batch_id].mass_g)
        facility = None
        if accepted > 0:
            facility = _receipt_facility(session, m, r.facility_id if r.facility_id is not None else data.facility_id,
                                         f"lines[{i}].facility_id" if r.facility_id is not None else "facility_id")
        given[r.batch_id] = (received, accepted, refused, flags, facility, r)
    missing = [ln.batch_id for ln in lines.values() if ln.batch_id not in given]
    if missing:
        raise InvalidInput(f"every line needs a receipt; missing batches {missing}", field="lines")
    any_accepted = any(g[1] > 0 for g in given.values())
    locked = lock_holdings(session, list(lines))  # holdings before the manifest's row, as every writer
    before = m.status
    now = utcnow()
    stamps = {"received_at": now}
    if m.delivered_at is None:  # nobody signed arrival: the receipt is the arrival, and the deadline runs from it
        stamps.update(delivered_at=now, receipt_deadline=working_day_deadline(now, RECEIPT_WORKING_DAYS))
    move(session, m, expect=("in_transit", "delivered"), to="received" if any_accepted else "refused", **stamps)
    today = local_day(now)
    operator = data.operator or person_name(session, principal.user_id, principal.username)
    carrier = None  # who signed the pickup: asked once, by the first load stored at receipt
    new_flags = list(m.flags)
    for batch_id, (received, accepted, refused, flags, facility, r) in given.items():
        ln = lines[batch_id]
        source = locked[batch_id]
        body = {"manifest": m.number, "line_no": ln.line_no, "shipped_g": ln.mass_g, "received_g": received,
                "accepted_g": accepted, "refused_g": refused, "transit_difference_g": ln.mass_g - received,
                "acceptance": r.acceptance, "reason": r.reason, "originator_id": m.originator_id,
                "hauler_id": m.hauler_id, "planned_method": ln.planned_method, "flags": flags,
                **marks_for(session, m, "received", source)}
        code = batches.record_code(session, unit_id=m.receiver_id, kind="received", day=today,
                                   hazardous=source.hazardous)
        stored_at_once = accepted > 0 and facility is not None and facility.kind == "storage"
        # its storage record's code too, before the record takes the chain head: counters before heads, as everywhere
        store_code = batches.record_code(session, unit_id=m.receiver_id, kind="stored", day=today,
                                         hazardous=source.hazardous) if stored_at_once else None
        holding = None
        if accepted > 0:
            holding = batches.split_holding(session, source, receiver_unit_id=m.receiver_id, received_g=received,
                                            facility_id=facility.id if facility else None)
        batches.record(session, holding, kind="received" if accepted else "refused", unit_id=m.receiver_id,
                       principal=principal, actor_name=operator, occurred_at=now, mass_g=accepted,
                       manifest_id=m.id, facility_id=facility.id if facility else None, record_code=code, body=body,
                       source=source)
        if stored_at_once:
            carrier = carrier or signer_name(session, m, "pickup")
            batches.store(session, principal=principal, batch=holding, data=batches.StoreIn(
                facility_id=facility.id, operator=operator, occurred_at=now, note=f"接收入库 联单 {m.number}"),
                extra={"manifest": m.number, "carrier": carrier}, code=store_code)
        signed = {"received_g": received, "accepted_g": accepted, "refused_g": refused, "acceptance": r.acceptance,
                  "reason": r.reason, "flags": [*ln.flags, *flags], "holding_id": holding.id if holding else None}
        update_loaded(session, [(ln, signed)])  # one prebuilt UPDATE, without the ORM's unit of work
        new_flags += [f"{flag}:{ln.waste_code}" for flag in flags]
    if new_flags != list(m.flags):
        m.flags = sorted(set(new_flags))
        session.add(m)
    add_event(session, m, principal, "receive", before, m.status, m.receiver_id, data,
           lines={str(k): {"received_g": v[0], "accepted_g": v[1], "refused_g": v[2], "acceptance": v[5].acceptance,
                           "facility_id": v[4].id if v[4] else None, "flags": v[3]}
                  for k, v in given.items()})
    return m


def complete(session: Session, *, principal: Principal, m: Manifest) -> Manifest:
    """The receiver closes the manifest once every accepted line has been utilised or disposed."""
    sign_as(session, principal, m, m.receiver_id, "receive", "receiver")
    for ln in lines_of(session, m):
        if not ln.accepted_g:
            continue
        holding = session.get(Batch, ln.holding_id, populate_existing=True)
        if holding.remaining_g > 0 or holding.in_transit_g > 0:
            raise Conflict(f"line {ln.line_no} ({ln.waste_code}): {g_to_kg(holding.remaining_g)} kg not yet utilised "
                           "or disposed; record it with use-in-house or dispose-in-house on batch "
                           f"{holding.id}", code="manifest.unprocessed_line",
                           details={"line_no": ln.line_no, "batch_id": holding.id})
    return transition(session, principal, m, action="complete", expect=("received",), to="completed",
                       unit_id=m.receiver_id, completed_at=utcnow())


def start_return(session: Session, *, principal: Principal, m: Manifest, data: Where) -> Manifest:
    """The hauler takes a fully refused load back: refused → returning."""
    sign_as(session, principal, m, m.hauler_id, "haul", "hauler")
    return transition(session, principal, m, action="return", expect=("refused",), to="returning",
                       unit_id=m.hauler_id, where=data)


def confirm_return(session: Session, *, principal: Principal, m: Manifest, data: Where) -> Manifest:
    """The originator takes back what was refused (a whole refused load, or the refused part of lines)."""
    sign_as(session, principal, m, m.originator_id, "operate", "originator")
    pending = [ln for ln in lines_of(session, m) if (ln.refused_g or 0) > ln.returned_g]
    if not pending:
        raise Conflict(f"nothing refused on manifest {m.number} is waiting to come back",
                       code="manifest.nothing_to_return")
    before = m.status
    if m.status == "refused":
        raise Conflict(f"manifest {m.number} is refused: the hauler signs the return leg (/return) first",
                       code="manifest.invalid_transition", details={"status": m.status, "expected": ["returning"]})
    if m.status not in ("returning", "received", "completed"):
        raise Conflict(f"manifest {m.number} is {m.status}", code="manifest.invalid_transition")
    locked = lock_holdings(session, [ln.batch_id for ln in pending])  # holdings before the manifest's row
    if m.status == "returning":
        move(session, m, expect=("returning",), to="returned", closed_at=utcnow())
    else:  # the status stays: a second confirmation read before this one commits loses
        touch(session, m)
    now = utcnow()
    for ln in pending:
        b = locked[ln.batch_id]
        back = ln.refused_g - ln.returned_g
        method = registry_get(session, Method, ln.planned_method)
        batches.record(session, b, kind="returned", unit_id=m.originator_id, principal=principal,
                       actor_name=person_name(session, principal.user_id, principal.username), occurred_at=now,
                       mass_g=back, manifest_id=m.id, record_code=b.batch_code,
                       body={"manifest": m.number, "line_no": ln.line_no, "planned_method": ln.planned_method,
                             "counts_as_utilisation": method.counts_as_utilisation, "receiver_id": m.receiver_id,
                             "hauler_id": m.hauler_id, "shipped_g": ln.mass_g, "refused_g": ln.refused_g,
                             "reason": ln.reason, **marks_for(session, m, "returned", b)})
        ln.returned_g += back
        session.add(ln)
    add_event(session, m, principal, "returned", before, m.status, m.originator_id, data,
           lines=[ln.line_no for ln in pending])
    return m
