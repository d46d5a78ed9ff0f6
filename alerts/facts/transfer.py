"""Transfer facts: receipts past their deadline, loads overdue on the road with their GPS points, lines whose
received mass differs from the shipped one, refused mass not yet back, manifest flags."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from sqlalchemy import BigInteger, Float, String, bindparam, cast, func, or_
from sqlmodel import Session, select

from alerts import settings as S
from alerts.facts import EVENT_LOOKBACK_DAYS, Clock, Scope, gatherer, known_manifests, where, within
from alerts.rules.operation import ProcessingMethods
from alerts.rules.transfer import ManifestFlags, Receipt, ReceiptDue, Refusal, Trip
from ledger.db import known_row
from ledger.manifests import Manifest, ManifestLine, TrackPoint
from ledger.workdays import local_day


def _manifests(scope: Scope | None) -> frozenset[int] | None:
    return None if scope is None else scope.manifest_ids


@gatherer(ReceiptDue)
def receipts_due(session: Session, clock: Clock, scope: Scope | None) -> list[ReceiptDue]:
    """Loads on the road or arrived whose receipt deadline has passed."""
    ids = _manifests(scope)
    if ids is not None and not ids:
        return []
    q = (select(Manifest.id, Manifest.number, Manifest.receiver_id, Manifest.status, Manifest.receipt_deadline,
                Manifest.received_at)
         .where(Manifest.status.in_(("in_transit", "delivered")), Manifest.receipt_deadline < clock.now))
    return [ReceiptDue(mid, n, r, st, dl, rec, clock.now)
            for mid, n, r, st, dl, rec in session.execute(where(q, within(Manifest.id, ids))).all()]


@gatherer(Trip)
def trips(session: Session, clock: Clock, scope: Scope | None) -> list[Trip]:
    """Loads still in transit a day after their planned date, with their GPS points since then."""
    ids = _manifests(scope)
    if ids is not None and not ids:
        return []
    latest_plan = local_day(clock.now - timedelta(hours=S.TRANSIT_LATE_HOURS)) - timedelta(days=1)
    q = (select(Manifest.id, Manifest.number, Manifest.hauler_id, Manifest.planned_date, Manifest.picked_up_at)
         .where(Manifest.status == "in_transit", Manifest.planned_date <= latest_plan))
    rows = session.execute(where(q, within(Manifest.id, ids))).all()
    facts = []
    for mid, number, hauler, planned, picked in rows:  # late loads only: a handful
        skeleton = Trip(mid, number, hauler, planned, picked, "in_transit", (), None, clock.now)
        start = skeleton.overdue_from
        if clock.now <= start:
            continue
        points = tuple(session.exec(select(TrackPoint.at).where(
            TrackPoint.manifest_id == mid, TrackPoint.at >= start, TrackPoint.at < clock.now)
            .order_by(TrackPoint.at)).all())
        before = session.exec(select(func.max(TrackPoint.at)).where(
            TrackPoint.manifest_id == mid, TrackPoint.at < start)).one()
        facts.append(Trip(mid, number, hauler, planned, picked, "in_transit", points, before, clock.now))
    return facts


def _receipts_query(scoped: bool):  # noqa: ANN202
    diff = func.abs(ManifestLine.mass_g - ManifestLine.received_g)
    q = (select(Manifest.id, Manifest.number, Manifest.originator_id, Manifest.receiver_id, ManifestLine.line_no,
                ManifestLine.waste_code, ManifestLine.mass_g, ManifestLine.received_g)
         .join(ManifestLine, ManifestLine.manifest_id == Manifest.id)
         .where(ManifestLine.received_g.is_not(None),
                or_(diff > bindparam("mid_g", type_=BigInteger),
                    diff > ManifestLine.mass_g * bindparam("mid_ratio", type_=Float)))
         .order_by(Manifest.id, ManifestLine.line_no))
    if scoped:
        return q.where(Manifest.id.in_(bindparam("manifest_ids", expanding=True)))
    return q.where(Manifest.received_at >= bindparam("since"))


def _refusals_query(scoped: bool):  # noqa: ANN202
    # what waits on the return leg, as ledger.manifests.confirm_return counts it
    refused = func.sum(func.coalesce(ManifestLine.refused_g, 0))
    returned = func.sum(ManifestLine.returned_g)
    q = (select(Manifest.id, Manifest.number, Manifest.originator_id, Manifest.receiver_id, Manifest.status,
                refused, returned)
         .join(ManifestLine, ManifestLine.manifest_id == Manifest.id).where(ManifestLine.received_g.is_not(None)))
    if scoped:
        q = q.where(Manifest.id.in_(bindparam("manifest_ids", expanding=True)))
    return (q.group_by(Manifest.id, Manifest.number, Manifest.originator_id, Manifest.receiver_id, Manifest.status)
            .having(refused > returned))


def _flagged_query(scoped: bool):  # noqa: ANN202
    q = (select(Manifest.id, Manifest.number, Manifest.originator_id, Manifest.receiver_id, Manifest.flags)
         .where(cast(Manifest.flags, String) != "[]"))
    if not scoped:
        since = bindparam("since", type_=Manifest.__table__.c.picked_up_at.type)
        return q.where(or_(Manifest.picked_up_at >= since, Manifest.received_at >= since))
    holding = select(ManifestLine.manifest_id).where(
        ManifestLine.holding_id.in_(bindparam("batch_ids", expanding=True)))
    return q.where(or_(Manifest.id.in_(bindparam("manifest_ids", expanding=True)), Manifest.id.in_(holding)),
                   Manifest.picked_up_at.is_not(None))


# The scoped statements run at the commit of every receipt and pickup: built once (building one costs about as
# much Python as executing it); the unscoped ones bind their cut-off, and thresholds are bound per execution.
_RECEIPTS = {scoped: _receipts_query(scoped) for scoped in (False, True)}
_REFUSALS = {scoped: _refusals_query(scoped) for scoped in (False, True)}
_FLAGGED = {scoped: _flagged_query(scoped) for scoped in (False, True)}


@gatherer(Receipt)
def receipts(session: Session, clock: Clock, scope: Scope | None) -> list[Receipt]:
    """Received lines whose mass differs from the shipped one by more than the mid threshold."""
    ids = _manifests(scope)
    if ids is not None and not ids:
        return []
    params = {"since": clock.days_ago(EVENT_LOOKBACK_DAYS)} if ids is None else {"manifest_ids": sorted(ids)}
    params.update(mid_g=S.TRANSIT_DIFF_MID_G, mid_ratio=S.TRANSIT_DIFF_MID_RATIO)
    by: dict[tuple, list] = defaultdict(list)
    for mid, number, orig, rcv, no, code, shipped, received in session.execute(_RECEIPTS[ids is not None], params):
        by[(mid, number, orig, rcv)].append((no, code, int(shipped), int(received)))
    return [Receipt(*k, tuple(v)) for k, v in by.items()]


@gatherer(Refusal)
def refusals(session: Session, clock: Clock, scope: Scope | None) -> list[Refusal]:
    """Manifests with refused mass that is not yet back with the originator."""
    ids = _manifests(scope)
    if ids is not None and not ids:
        return []
    return [Refusal(mid, n, o, r, st, int(f), int(b))
            for mid, n, o, r, st, f, b in session.execute(
                _REFUSALS[ids is not None], {} if ids is None else {"manifest_ids": sorted(ids)}).all()]


def _nothing_flagged(session: Session, scope: Scope) -> bool:
    """No manifest the scoped query would read carries a flag, as the transaction knows them: the scope's manifests
    are known and none picked up carries one, and every batch of the scope is either the holding of one of their
    lines or a batch known (locked) with no parent, which no line holds (a receipt's holding is always split off
    the batch shipped). Otherwise: cannot tell."""
    manifests = known_manifests(session, scope.manifest_ids)
    if manifests is None or any(m.picked_up_at is not None and m.flags for m in manifests):
        return False
    held = {ln.holding_id for m in manifests for ln in known_row(session, "lines", m.id) or ()}
    for batch_id in scope.batch_ids:
        if batch_id in held:
            continue
        b = known_row(session, "holding", batch_id)
        if b is None or b.parent_id is not None:
            return False
    return True


@gatherer(ManifestFlags, ProcessingMethods, idle=_nothing_flagged)
def manifest_flags(session: Session, clock: Clock, scope: Scope | None) -> list[object]:
    """Plan flags and method-change flags of recent manifests (or of those a transaction touched)."""
    if scope is not None and not (scope.manifest_ids or scope.batch_ids):
        return []
    if scope is None:
        since = clock.days_ago(EVENT_LOOKBACK_DAYS)
        rows = session.execute(_FLAGGED[False], {"since": since}).all()
    else:
        rows = session.execute(_FLAGGED[True], {"manifest_ids": sorted(scope.manifest_ids),
                                                "batch_ids": sorted(scope.batch_ids)}).all()
    out: list[object] = []
    for mid, number, orig, rcv, flags in rows:
        plan = tuple(f for f in flags if f.startswith(("not_in_plan:", "receiver_not_in_plan:")))
        if plan:
            out.append(ManifestFlags(mid, number, orig, plan))
        changed = tuple(sorted(f.split(":", 1)[1] for f in flags if f.startswith("method_changed:")))
        if changed:
            out.append(ProcessingMethods(mid, number, rcv, changed))
    return out
