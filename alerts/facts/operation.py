"""Operation facts (receivers): licences near expiry, what was accepted under which licences, capacity used,
cross-province transfers and their approvals, in-house facility throughput, received waste still held."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from sqlalchemy import Date, Float, bindparam, func, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from alerts import settings as S
from alerts.facts import EVENT_LOOKBACK_DAYS, Clock, Scope, gatherer, known_manifests, where, within
from alerts.rules.operation import (
    CrossProvince,
    FacilityLoad,
    Licence,
    LicenceUse,
    ReceivedHolding,
    ReceivedLoad,
)
from ledger.auth import registry_unit
from ledger.batches import Batch
from ledger.cache import NeedsDatabase, cache_view
from ledger.db import known_row
from ledger.journal import JournalRecord
from ledger.manifests import Manifest, ManifestLine, TransferApproval
from ledger.registry.assets import permits_on
from ledger.registry.models import Facility, Permit, Unit
from ledger.workdays import local_day, year_bounds_utc


@gatherer(Licence)
def licences(session: Session, clock: Clock, scope: Scope | None) -> list[Licence]:
    """Operating licences expired or expiring within the warning time, and whether a later one covers them."""
    units = None if scope is None else scope.unit_ids
    if units is not None and not units:
        return []
    horizon = clock.today + timedelta(days=S.LICENCE_EXPIRY_WARN_DAYS)
    q = select(Permit).where(Permit.kind == "operating_licence", Permit.valid_to <= horizon)
    near = session.exec(where(q, within(Permit.unit_id, units))).all()
    if not near:
        return []
    later: dict[int, list[Permit]] = defaultdict(list)
    for p in session.exec(select(Permit).where(Permit.kind == "operating_licence",
                                               Permit.unit_id.in_(sorted({p.unit_id for p in near})))).all():
        later[p.unit_id].append(p)
    out = []
    for p in near:
        renewed = any(o.id != p.id and o.valid_to > p.valid_to and o.valid_from <= p.valid_to + timedelta(days=1)
                      and set(p.waste_codes) <= set(o.waste_codes) for o in later[p.unit_id])
        out.append(Licence(p.id, p.unit_id, p.number, p.valid_to, renewed, clock.today))
    return out


def _received_loads_query(scoped: bool):  # noqa: ANN202
    q = (select(Manifest.id, Manifest.number, Manifest.receiver_id, Manifest.received_at, ManifestLine.line_no,
                ManifestLine.waste_code, ManifestLine.planned_method, ManifestLine.accepted_g)
         .join(ManifestLine, ManifestLine.manifest_id == Manifest.id)
         .where(Manifest.hazardous.is_(True), Manifest.received_at.is_not(None), ManifestLine.accepted_g > 0)
         .order_by(Manifest.id, ManifestLine.line_no))
    if scoped:
        return q.where(Manifest.id.in_(bindparam("manifest_ids", expanding=True)))
    return q.where(Manifest.received_at >= bindparam("since"))


# The scoped statements run at the commit of every receipt and pickup: built once, like every statement a write
# path runs (building one costs about as much Python as executing it); the unscoped ones bind their cut-off.
_RECEIVED_LOADS = {scoped: _received_loads_query(scoped) for scoped in (False, True)}
_LICENCES_OF = select(Permit).where(Permit.kind.in_(("operating_licence", "collection_licence")),
                                   Permit.unit_id.in_(bindparam("unit_ids", expanding=True)))


def _known_received_rows(session: Session, ids: frozenset[int]) -> list[tuple] | None:
    """The scoped query's rows, from the manifests and lines the transaction knows (a receipt's commit: its
    manifest was read with its group, and the receipt kept its objects current); None when it does not know them
    all."""
    manifests = known_manifests(session, ids)
    if manifests is None:
        return None
    rows = []
    for m in manifests:
        lines = known_row(session, "lines", m.id)
        if lines is None:
            return None
        if m.hazardous and m.received_at is not None:
            rows += [(m.id, m.number, m.receiver_id, m.received_at, ln.line_no, ln.waste_code, ln.planned_method,
                      ln.accepted_g) for ln in sorted(lines, key=lambda ln: ln.line_no) if (ln.accepted_g or 0) > 0]
    return rows


@gatherer(ReceivedLoad)
def received_loads(session: Session, clock: Clock, scope: Scope | None) -> list[ReceivedLoad]:
    """Hazardous loads accepted recently (or in this transaction), with the licences valid on the receipt day."""
    ids = None if scope is None else scope.manifest_ids
    if ids is not None and not ids:
        return []
    rows = _known_received_rows(session, ids) if ids is not None else None
    if rows is None:
        params = {"since": clock.days_ago(EVENT_LOOKBACK_DAYS)} if ids is None else {"manifest_ids": sorted(ids)}
        rows = session.execute(_RECEIVED_LOADS[ids is not None], params)
    loads: dict[tuple, list] = defaultdict(list)
    for mid, number, rcv, at, no, code, method, accepted in rows:
        loads[(mid, number, rcv, local_day(at))].append((no, code, method, int(accepted)))
    if not loads:
        return []
    held: dict[int, list[Permit]] = defaultdict(list)
    if ids is None:  # the scan: every receiver's licences in one statement
        for p in session.exec(_LICENCES_OF, params={"unit_ids": sorted({k[2] for k in loads})}).all():
            held[p.unit_id].append(p)
    out = []
    for (mid, number, rcv, day), lines in loads.items():
        if ids is None:
            valid = [p for p in held[rcv] if p.valid_from <= day <= p.valid_to]
        else:  # a receipt's commit: the licences valid that day, from the registry cache
            valid = [*permits_on(session, unit_id=rcv, kind="operating_licence", on=day),
                     *permits_on(session, unit_id=rcv, kind="collection_licence", on=day)]
        out.append(ReceivedLoad(mid, number, rcv, day, tuple(lines),
                                tuple((p.number, tuple(p.waste_codes), tuple(p.methods)) for p in valid
                                      if p.kind == "operating_licence"),
                                tuple((p.number, tuple(p.waste_codes)) for p in valid
                                      if p.kind == "collection_licence")))
    return out


def _licence_use_query(scoped: bool):  # noqa: ANN202
    accepted = (select(Manifest.receiver_id.label("rid"), func.sum(ManifestLine.accepted_g).label("g"))
                .join(ManifestLine, ManifestLine.manifest_id == Manifest.id)
                .where(Manifest.received_at >= bindparam("start"), Manifest.received_at < bindparam("end"))
                .group_by(Manifest.receiver_id))
    if scoped:
        accepted = accepted.where(Manifest.receiver_id.in_(bindparam("unit_ids", expanding=True)))
    accepted = accepted.subquery()
    today = bindparam("today", type_=Date)
    return (select(Permit.id, Permit.unit_id, Permit.number, Permit.annual_capacity_g, accepted.c.g)
            .join(accepted, accepted.c.rid == Permit.unit_id)
            .where(Permit.kind == "operating_licence", Permit.annual_capacity_g > 0,
                   Permit.valid_from <= today, Permit.valid_to >= today,
                   accepted.c.g >= Permit.annual_capacity_g * bindparam("warn", type_=Float)))


_LICENCE_USE = {scoped: _licence_use_query(scoped) for scoped in (False, True)}


@gatherer(LicenceUse)
def licence_use(session: Session, clock: Clock, scope: Scope | None) -> list[LicenceUse]:
    """Licences with an annual capacity, against all their holder accepted this year (as the manifest check
    counts it), when that reaches the warning share."""
    units = None if scope is None else scope.unit_ids
    if units is not None and not units:
        return []
    year = clock.today.year
    start, end = year_bounds_utc(year)
    params = {"start": start, "end": end, "today": clock.today, "warn": S.CAPACITY_WARN - 0.001}
    if units is not None:
        params["unit_ids"] = sorted(units)
    return [LicenceUse(pid, u, n, year, int(cap), int(g))
            for pid, u, n, cap, g in session.execute(_LICENCE_USE[units is not None], params).all()]


def _cross_province_query(scoped: bool):  # noqa: ANN202
    origin, dest = aliased(Unit), aliased(Unit)
    q = (select(Manifest.id, Manifest.number, Manifest.originator_id, Manifest.receiver_id, Manifest.picked_up_at,
                Manifest.approval_id)
         .join(origin, origin.id == Manifest.originator_id).join(dest, dest.id == Manifest.receiver_id)
         .where(Manifest.picked_up_at.is_not(None),
                func.substr(origin.region_code, 1, 2) != func.substr(dest.region_code, 1, 2)))
    if scoped:
        return q.where(Manifest.id.in_(bindparam("manifest_ids", expanding=True)))
    return q.where(Manifest.picked_up_at >= bindparam("since"))


_CROSS_PROVINCE = {scoped: _cross_province_query(scoped) for scoped in (False, True)}
_LINES_OF = select(ManifestLine.manifest_id, ManifestLine.waste_code, ManifestLine.mass_g).where(
    ManifestLine.manifest_id.in_(bindparam("manifest_ids", expanding=True)))


def _no_border_crossed(session: Session, scope: Scope) -> bool:
    """No manifest of the scope was picked up with its originator and receiver in two provinces, as the transaction
    knows the manifests and the registry cache their units (a pickup's commit: the manifest was read with its
    group): the query would find nothing. A unit the cache does not hold: cannot tell."""
    view, manifests = cache_view(session), known_manifests(session, scope.manifest_ids)
    if view is None or manifests is None:
        return False
    try:
        for m in manifests:
            if m.picked_up_at is None:
                continue
            origin, dest = registry_unit(view, m.originator_id), registry_unit(view, m.receiver_id)
            if origin is None or dest is None or origin.region_code[:2] != dest.region_code[:2]:
                return False
    except NeedsDatabase:
        return False
    return True


@gatherer(CrossProvince, idle=_no_border_crossed)
def cross_province(session: Session, clock: Clock, scope: Scope | None) -> list[CrossProvince]:
    """Manifests picked up across a province border, with their approval and its use so far."""
    ids = None if scope is None else scope.manifest_ids
    if ids is not None and not ids:
        return []
    params = {"since": clock.days_ago(EVENT_LOOKBACK_DAYS)} if ids is None else {"manifest_ids": sorted(ids)}
    rows = session.execute(_CROSS_PROVINCE[ids is not None], params).all()
    if not rows:
        return []
    mids = [r[0] for r in rows]
    lines: dict[int, list] = defaultdict(list)
    for mid, code, g in session.execute(_LINES_OF, {"manifest_ids": mids}).all():
        lines[mid].append((code, int(g)))
    approvals = {a.id: a for a in session.exec(select(TransferApproval).where(
        TransferApproval.id.in_(sorted({r[5] for r in rows if r[5]})))).all()}
    used = dict(session.execute(
        select(Manifest.approval_id, func.sum(ManifestLine.mass_g))
        .join(ManifestLine, ManifestLine.manifest_id == Manifest.id)
        .where(Manifest.approval_id.in_(sorted(approvals)), Manifest.picked_up_at.is_not(None),
               Manifest.status != "cancelled")
        .group_by(Manifest.approval_id)).all()) if approvals else {}
    out = []
    for mid, number, orig, rcv, picked, aid in rows:
        a = approvals.get(aid)
        base = dict(manifest_id=mid, number=number, originator_id=orig, receiver_id=rcv,
                    picked_up_on=local_day(picked), lines=tuple(lines[mid]))
        if a is None:
            out.append(CrossProvince(**base))
        else:
            out.append(CrossProvince(**base, approval_number=a.number,
                                     approval_parties_match=(a.originator_id, a.receiver_id) == (orig, rcv),
                                     approval_codes=tuple(a.waste_codes), approval_valid=(a.valid_from, a.valid_to),
                                     approval_cap_g=int(a.cap_g), approval_used_g=int(used.get(aid, 0))))
    return out


@gatherer(FacilityLoad)
def facility_load(session: Session, clock: Clock, scope: Scope | None) -> list[FacilityLoad]:
    """In-house utilisation/disposal facilities that processed more this year than their design capacity."""
    if scope is not None:
        return []  # annual throughput: the scheduled scan is soon enough
    year = clock.today.year
    start, end = year_bounds_utc(year)
    done = func.sum(JournalRecord.mass_g)
    q = (select(Facility.id, Facility.unit_id, Facility.code, Facility.name, Facility.annual_capacity_g, done)
         .join(JournalRecord, JournalRecord.facility_id == Facility.id)
         .where(Facility.kind.in_(("utilisation", "disposal")), Facility.annual_capacity_g > 0,
                JournalRecord.kind.in_(("used_in_house", "disposed_in_house")),
                JournalRecord.occurred_at >= start, JournalRecord.occurred_at < end)
         .group_by(Facility.id, Facility.unit_id, Facility.code, Facility.name, Facility.annual_capacity_g)
         .having(done > Facility.annual_capacity_g))
    return [FacilityLoad(fid, u, code, name, year, int(cap), int(g))
            for fid, u, code, name, cap, g in session.execute(q).all()]


@gatherer(ReceivedHolding)
def received_holdings(session: Session, clock: Clock, scope: Scope | None) -> list[ReceivedHolding]:
    """Hazardous holdings a receiver took in more than a year ago and still holds."""
    if scope is not None and not (scope.unit_ids or scope.batch_ids):
        return []
    cutoff = clock.now - timedelta(days=S.RECEIVER_HOLD_DAYS)
    q = (select(Batch.id, Batch.holder_unit_id, Batch.digital_id, Batch.waste_code, Batch.remaining_g,
                Batch.created_at)
         .where(Batch.parent_id.is_not(None), Batch.hazardous.is_(True), Batch.remaining_g > 0,
                Batch.created_at < cutoff))
    if scope is not None:
        q = q.where(or_(Batch.holder_unit_id.in_(sorted(scope.unit_ids)), Batch.id.in_(sorted(scope.batch_ids))))
    return [ReceivedHolding(bid, u, did, code, int(g), local_day(at), clock.today)
            for bid, u, did, code, g, at in session.execute(q).all()]

