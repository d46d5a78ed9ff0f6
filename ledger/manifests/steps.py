"""The signatures up to arrival: submit and cancel (the originator), pickup with the label scan, GPS points and
arrival (the hauler)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session

from ledger import batches
from ledger.auth import Principal
from ledger.batches import lock_holdings
from ledger.cache import registry_get
from ledger.errors import Conflict, InvalidInput
from ledger.manifests.access import sign_as
from ledger.manifests.checks import check_all, refuse
from ledger.manifests.models import (
    RECEIPT_WORKING_DAYS,
    CancelIn,
    Manifest,
    PickupIn,
    TrackIn,
    TrackPoint,
    Where,
)
from ledger.manifests.state import (
    add_event,
    lines_of,
    marks_for,
    move,
    person_name,
    signer_name,
    transition,
)
from ledger.mass import g_to_kg
from ledger.registry.models import Method
from ledger.types import utcnow
from ledger.workdays import local_day, working_day_deadline


def submit(session: Session, *, principal: Principal, m: Manifest) -> Manifest:
    """The originator signs: the checks are run again on the day."""
    sign_as(session, principal, m, m.originator_id, "operate", "originator")
    check_all(session, m, lines_of(session, m), local_day(utcnow()))
    return transition(session, principal, m, action="submit", expect=("draft",), to="submitted",
                       unit_id=m.originator_id, submitted_at=utcnow())


def cancel(session: Session, *, principal: Principal, m: Manifest, data: CancelIn) -> Manifest:
    """Cancel before pickup (the originator); after pickup a change is a revision."""
    sign_as(session, principal, m, m.originator_id, "operate", "originator")
    return transition(session, principal, m, action="cancel", expect=("draft", "submitted"), to="cancelled",
                       unit_id=m.originator_id, detail={"reason": data.reason}, closed_at=utcnow())


def pickup(session: Session, *, principal: Principal, m: Manifest, data: PickupIn) -> Manifest:
    """The hauler signs pickup after scanning every label: a label not on the manifest is refused (标签≠联单不得装车)."""
    sign_as(session, principal, m, m.hauler_id, "haul", "hauler")
    lines = lines_of(session, m)
    locked = lock_holdings(session, [ln.batch_id for ln in lines])  # one statement, in id order
    by_digital = {locked[ln.batch_id].digital_id: ln for ln in lines}
    scanned = [s.strip().upper() for s in data.scanned]
    strangers = [s for s in scanned if s not in by_digital]
    if strangers:
        raise refuse("label_not_on_manifest", f"label {strangers[0]} is not on manifest {m.number}: do not load it",
                      "scanned", status=409, not_on_manifest=strangers)
    missing = [d for d in by_digital if d not in scanned]
    if missing:
        raise refuse("label_not_scanned", f"{len(missing)} batch(es) on the manifest were not scanned: "
                      f"{', '.join(missing[:5])}", "scanned", status=409, missing=missing)
    today = local_day(utcnow())
    check_all(session, m, lines, today)
    before = m.status
    now = utcnow()
    move(session, m, expect=("submitted",), to="in_transit", picked_up_at=now)
    released_by = data.released_by or signer_name(session, m, "submit") or principal.username
    carrier = person_name(session, principal.user_id, principal.username)
    for ln in lines:
        b = locked[ln.batch_id]
        loose = batches.state_of(b).loose_g
        if loose < ln.mass_g:  # 出库 at loading: the originator releases what is still in storage
            batches.retrieve(session, principal=principal, batch=b, data=batches.RetrieveIn(
                mass_kg=g_to_kg(ln.mass_g - loose), operator=released_by, purpose="transfer",
                note=f"装车出库 联单 {m.number}"), on_behalf=True,
                extra={"manifest": m.number, "carrier": carrier, "receiver_id": m.receiver_id})
        method = registry_get(session, Method, ln.planned_method)
        kind = "sent_out_for_use" if method.counts_as_utilisation else "sent_out_for_disposal"
        code = batches.record_code(session, unit_id=m.originator_id, kind=kind, day=today, hazardous=b.hazardous)
        batches.record(session, b, kind="shipped", unit_id=m.originator_id, principal=principal,
                       actor_name=released_by, occurred_at=now, mass_g=ln.mass_g, manifest_id=m.id,
                       record_code=code, body={"manifest": m.number, "planned_method": ln.planned_method,
                                               "counts_as_utilisation": method.counts_as_utilisation,
                                               "receiver_id": m.receiver_id, "hauler_id": m.hauler_id,
                                               "shipped_g": ln.mass_g, "line_no": ln.line_no,
                                               "carrier": carrier, **marks_for(session, m, "shipped", b)})
    add_event(session, m, principal, "pickup", before, m.status, m.hauler_id, data, scanned=scanned)
    return m


def track(session: Session, *, principal: Principal, m: Manifest, data: TrackIn) -> int:
    """Append GPS points while the load is on the road."""
    sign_as(session, principal, m, m.hauler_id, "haul", "hauler")
    if m.status not in ("in_transit", "returning"):
        raise Conflict(f"manifest {m.number} is {m.status}: the trip has ended (or not begun); GPS points are taken "
                       "on the road only", code="manifest.not_on_the_road", details={"status": m.status})
    n = 0
    for i, p in enumerate(data.points):
        try:
            at = datetime.fromisoformat(str(p["at"]))
            lat, lon = float(p["lat"]), float(p["lon"])
        except (KeyError, ValueError, TypeError) as e:
            raise InvalidInput(f"point {i}: needs at (ISO time with timezone), lat and lon", field=f"points[{i}]") from e
        if at.tzinfo is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise InvalidInput(f"point {i}: give a timezone and valid coordinates", field=f"points[{i}]")
        session.add(TrackPoint(manifest_id=m.id, at=at.astimezone(UTC), lat=lat, lon=lon,
                               speed_kmh=p.get("speed_kmh")))
        n += 1
    session.flush()
    return n


def deliver(session: Session, *, principal: Principal, m: Manifest, data: Where) -> Manifest:
    """Arrival at the receiver (hauler or receiver): the 5-working-day receipt deadline starts now."""
    if principal.unit_id == m.receiver_id:
        sign_as(session, principal, m, m.receiver_id, "receive", "receiver")
    else:
        sign_as(session, principal, m, m.hauler_id, "haul", "hauler")
    now = utcnow()
    return transition(session, principal, m, action="deliver", expect=("in_transit",), to="delivered",
                       unit_id=principal.unit_id, where=data, delivered_at=now,
                       receipt_deadline=working_day_deadline(now, RECEIPT_WORKING_DAYS))
