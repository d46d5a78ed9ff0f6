"""Changes after pickup: a party proposes, the others approve, the original values are kept; and the registry
of cross-province approvals."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from ledger.accounts import User
from ledger.auth import Principal, audit, may, require_unit
from ledger.errors import Conflict, Forbidden, InvalidInput, NotFound
from ledger.manifests.access import parties
from ledger.manifests.checks import check_approval, check_hauler, check_receiver, known_method, refuse
from ledger.manifests.models import (
    APPROVAL_MAX_DAYS,
    ApprovalCreate,
    Manifest,
    ManifestLine,
    Revision,
    RevisionIn,
    TransferApproval,
)
from ledger.manifests.state import add_event, lines_of, move, touch
from ledger.mass import kg_to_g
from ledger.registry.models import Unit
from ledger.types import utcnow
from ledger.workdays import local_day

# ---- revisions after pickup ---------------------------------------------------------------------------------

REVISABLE = ("in_transit", "delivered")


def propose_revision(session: Session, *, principal: Principal, m: Manifest, data: RevisionIn) -> Revision:
    """A party proposes a change after pickup; the other parties approve it, and the original values are kept."""
    if principal.unit_id not in parties(m) and not principal.is_admin:
        raise Forbidden("only a party to the manifest proposes a revision", code="manifest.wrong_party")
    if m.status not in REVISABLE:
        raise Conflict(f"manifest {m.number} is {m.status}: revisions are for loads on the road (before pickup, "
                       "edit by cancelling and drafting anew)", code="manifest.invalid_transition")
    changes, original = {}, {}
    if data.vehicle_id is not None:
        check_hauler(session, hauler=session.get(Unit, m.hauler_id), vehicle_id=data.vehicle_id,
                     on=local_day(utcnow()))
        changes["vehicle_id"], original["vehicle_id"] = data.vehicle_id, m.vehicle_id
    if data.driver_id is not None:
        d = session.get(User, data.driver_id)
        if d is None or d.unit_id != m.hauler_id:
            raise refuse("driver_not_hauler", f"user {data.driver_id} is not a driver of the hauler", "driver_id")
        changes["driver_id"], original["driver_id"] = data.driver_id, m.driver_id
    lines = lines_of(session, m)
    if data.receiver_id is not None or data.planned_methods:
        methods = {ln.batch_id: ln.planned_method for ln in lines}
        for bid, meth in (data.planned_methods or {}).items():
            if bid not in methods:
                raise InvalidInput(f"batch {bid} is not on the manifest", field="planned_methods")
            methods[bid] = known_method(session, meth, "planned_methods").code
        receiver = session.get(Unit, data.receiver_id or m.receiver_id)
        if receiver is None:
            raise refuse("receiver_unknown", f"unit {data.receiver_id} does not exist", "receiver_id")
        spec = [(ln.waste_code, ln.mass_g, methods[ln.batch_id]) for ln in lines]
        check_receiver(session, receiver=receiver, lines=spec, on=local_day(utcnow()), manifest_id=m.id)
        check_approval(session, approval_id=m.approval_id, originator=session.get(Unit, m.originator_id),
                       receiver=receiver, lines=spec, on=local_day(utcnow()), manifest_id=m.id)
        if data.receiver_id is not None:
            changes["receiver_id"], original["receiver_id"] = data.receiver_id, m.receiver_id
        if data.planned_methods:
            changes["planned_methods"] = {str(k): methods[k] for k in data.planned_methods}
            original["planned_methods"] = {str(ln.batch_id): ln.planned_method for ln in lines
                                           if ln.batch_id in data.planned_methods}
    if not changes:
        raise InvalidInput("a revision must change something: vehicle_id, driver_id, receiver_id or planned_methods",
                           field="body")
    pending = session.exec(select(Revision).where(Revision.manifest_id == m.id, Revision.status == "pending")).first()
    if pending is not None:
        raise Conflict(f"revision {pending.id} is still awaiting approval", code="manifest.revision_pending")
    rev = Revision(manifest_id=m.id, proposed_by_unit=principal.unit_id or m.originator_id,
                   proposed_by_user=principal.user_id or None, reason=data.reason, changes=changes,
                   original=original, approvals=[principal.unit_id or m.originator_id])
    move(session, m, expect=REVISABLE, to=m.status)  # compare-and-set: the manifest is as it was read
    session.add(rev)
    session.flush()
    add_event(session, m, principal, "revision_proposed", m.status, m.status, principal.unit_id, revision=rev.id,
           changes=changes)
    return rev


def decide_revision(session: Session, *, principal: Principal, m: Manifest, revision_id: int, approve: bool
                    ) -> Revision:
    """Another party approves (or rejects) a revision; when all have approved it is applied."""
    # locked (PostgreSQL): two parties deciding at once take turns, and neither approval is lost
    rev = session.get(Revision, revision_id, populate_existing=True, with_for_update=True)
    if rev is None or rev.manifest_id != m.id:
        raise NotFound(f"revision {revision_id} is not a revision of manifest {m.number}", code="revision.not_found")
    if rev.status != "pending":
        raise Conflict(f"revision {rev.id} is already {rev.status}", code="revision.decided")
    unit_id = principal.unit_id
    if unit_id not in parties(m) or unit_id in rev.approvals:
        raise Forbidden("only another party to the manifest decides on this revision", code="manifest.wrong_party")
    unit = session.get(Unit, unit_id)
    if not (may(principal, unit, "operate") or may(principal, unit, "haul") or may(principal, unit, "receive")):
        raise Forbidden(f"your role '{principal.role}' may not sign for {unit.name}", code="auth.forbidden")
    if not approve:
        touch(session, m)
        rev.status, rev.decided_at = "rejected", utcnow()
        session.add(rev)
        add_event(session, m, principal, "revision_rejected", m.status, m.status, unit_id, revision=rev.id)
        return rev
    rev.approvals = [*rev.approvals, unit_id]
    if set(parties(m)) <= set(rev.approvals):
        if m.status not in REVISABLE:
            raise Conflict(f"manifest {m.number} is {m.status}; the revision can no longer apply",
                           code="manifest.invalid_transition")
        # compare-and-set with the changes: a manifest received meanwhile is not revised
        move(session, m, expect=REVISABLE, to=m.status,
             **{key: rev.changes[key] for key in ("vehicle_id", "driver_id", "receiver_id") if key in rev.changes})
        for bid, meth in rev.changes.get("planned_methods", {}).items():
            ln = session.exec(select(ManifestLine).where(ManifestLine.manifest_id == m.id,
                                                         ManifestLine.batch_id == int(bid))).one()
            ln.planned_method = meth
            session.add(ln)
        rev.status, rev.decided_at = "approved", utcnow()
        add_event(session, m, principal, "revision_applied", m.status, m.status, unit_id, revision=rev.id,
               changes=rev.changes, original=rev.original)
    else:
        touch(session, m)
        add_event(session, m, principal, "revision_approved", m.status, m.status, unit_id, revision=rev.id)
    session.add(rev)
    session.flush()
    return rev


# ---- approvals (registry of cross-province approvals) ------------------------------------------------------

def create_approval(session: Session, *, principal: Principal, unit_id: int, data: ApprovalCreate
                    ) -> TransferApproval:
    """Record a cross-province approval held by the originator (validity at most 12 months)."""
    unit = require_unit(session, principal, unit_id, act="manage")
    if data.valid_to < data.valid_from:
        raise InvalidInput("valid_to is before valid_from", field="valid_to")
    if (data.valid_to - data.valid_from) > timedelta(days=APPROVAL_MAX_DAYS):
        raise InvalidInput("a cross-province approval is valid for at most 12 months", field="valid_to")
    from ledger.registry.catalogue import check_waste_code

    codes = [check_waste_code(session, c, field=f"waste_codes[{i}]") for i, c in enumerate(data.waste_codes)]
    if session.get(Unit, data.receiver_id) is None:
        raise InvalidInput(f"unit {data.receiver_id} does not exist", field="receiver_id")
    if session.exec(select(TransferApproval.id).where(TransferApproval.number == data.number)).first():
        raise Conflict(f"approval {data.number} is already recorded", code="approval.duplicate",
                       details={"field": "number"})
    a = TransferApproval(originator_id=unit.id, receiver_id=data.receiver_id, number=data.number, waste_codes=codes,
                         cap_g=kg_to_g(data.cap_kg, field="cap_kg"), valid_from=data.valid_from,
                         valid_to=data.valid_to, authority=data.authority)
    session.add(a)
    session.flush()
    audit(session, principal, action="approval.create", entity="transfer_approval", entity_id=a.id,
          detail={"number": a.number})
    return a
