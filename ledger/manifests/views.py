"""What the read side and other views ask of manifests: the list in scope, the manifests of a batch's trace, the
next manifest step a caller may take."""

from __future__ import annotations

from sqlalchemy import bindparam, or_
from sqlmodel import Session, select

from ledger.auth import Principal, may, registry_unit
from ledger.batches import Batch
from ledger.errors import InvalidInput
from ledger.manifests.access import parties
from ledger.manifests.create import open_manifest_of
from ledger.manifests.models import STATES, Manifest, ManifestEvent, ManifestLine
from ledger.mass import g_to_kg
from ledger.memo import memo
from ledger.registry.models import Unit


def list_manifests(session: Session, *, principal: Principal, unit_id: int | None = None, status: str | None = None,
                   limit: int = 100, offset: int = 0) -> list[Manifest]:
    """Manifests visible to the principal, newest first."""
    from ledger.auth import unit_scope

    visible_units = select(Unit.id).where(unit_scope(principal))
    q = select(Manifest).where(or_(Manifest.originator_id.in_(visible_units), Manifest.hauler_id.in_(visible_units),
                                   Manifest.receiver_id.in_(visible_units)))
    if unit_id is not None:
        q = q.where(or_(Manifest.originator_id == unit_id, Manifest.hauler_id == unit_id,
                        Manifest.receiver_id == unit_id))
    if status:
        if status not in STATES:
            raise InvalidInput(f"status must be one of {', '.join(STATES)}", field="status")
        q = q.where(Manifest.status == status)
    return list(session.exec(q.order_by(Manifest.id.desc()).offset(offset).limit(min(limit, 500))).all())


# ---- what other views need to know -------------------------------------------------------------------------

# built once (every trace asks): the holdings of the root (`batches.holdings_of`) in a subquery
_MANIFESTS_OF_ROOT = (select(Manifest, ManifestLine).join(ManifestLine, ManifestLine.manifest_id == Manifest.id)
                      .where(ManifestLine.batch_id.in_(select(Batch.id).where(
                          (Batch.id == bindparam("root_id")) | (Batch.root_id == bindparam("root_id")))))
                      .order_by(Manifest.id))
EVENTS_OF = select(ManifestEvent).where(ManifestEvent.manifest_id == bindparam("manifest_id")).order_by(ManifestEvent.id)


def manifests_of_root_key(root_id: int) -> tuple:
    """The key under which `one_read` keeps the (manifest, line) rows that carried a holding of a root."""
    return ("manifests_of_root", root_id)


def events_of_key(manifest_id: int) -> tuple:
    """The key under which `one_read` keeps a manifest's events."""
    return ("manifest_events", manifest_id)


def manifests_for_batch(session: Session, b: Batch) -> list[dict]:
    """Every manifest that carried a holding of this physical batch, for its trace."""
    root_id = b.root_id or b.id
    rows = memo(manifests_of_root_key(root_id),
                lambda: list(session.exec(_MANIFESTS_OF_ROOT, params={"root_id": root_id}).all()))
    out = []
    for m, ln in rows:
        events = memo(events_of_key(m.id), lambda m=m: list(session.exec(EVENTS_OF, params={"manifest_id": m.id}).all()))
        out.append({"manifest_id": m.id, "number": m.number, "status": m.status, "party_ids": list(parties(m)),
                    "originator_id": m.originator_id, "hauler_id": m.hauler_id, "receiver_id": m.receiver_id,
                    "line_no": ln.line_no, "shipped_kg": g_to_kg(ln.mass_g), "planned_method": ln.planned_method,
                    "received_kg": g_to_kg(ln.received_g) if ln.received_g is not None else None,
                    "accepted_kg": g_to_kg(ln.accepted_g) if ln.accepted_g is not None else None,
                    "acceptance": ln.acceptance, "reason": ln.reason,
                    "signatures": [{"action": e.action, "by": e.user_name, "unit_id": e.unit_id,
                                    "at": e.at.isoformat(), "lat": e.lat, "lon": e.lon} for e in events]})
    return out


def next_actions_for(session: Session, principal: Principal, b: Batch) -> list[str]:
    """Manifest steps the caller may take with this batch: load it, scan it at pickup, receive it."""
    actions = []
    open_m = open_manifest_of(session, b.id)
    if open_m is None:
        if principal.unit_id == b.holder_unit_id and b.remaining_g > 0:
            unit = registry_unit(session, b.holder_unit_id)  # only read: the registry cache's snapshot will do
            if may(principal, unit, "operate"):
                actions.append("load_onto_manifest")
        return actions
    if open_m.status == "submitted" and principal.unit_id == open_m.hauler_id:
        if may(principal, registry_unit(session, open_m.hauler_id), "haul"):
            actions.append("pickup_scan")
    if open_m.status in ("in_transit", "delivered") and principal.unit_id == open_m.receiver_id:
        if may(principal, registry_unit(session, open_m.receiver_id), "receive"):
            actions.append("receive")
    return actions
