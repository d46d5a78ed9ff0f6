"""Inventory facts: hazardous batches held near or past a year, facility stock against capacity, and balances
recomputed from the journal in SQL (the check `wasteledger rebuild` makes, set-based)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from sqlalchemy import BigInteger, Float, and_, bindparam, case, func, literal, or_
from sqlmodel import Session, select

from alerts import settings as S
from alerts.facts import Clock, Scope, gatherer, where, within
from alerts.rules.inventory import BalanceCheck, FacilityStock, HeldBatch
from ledger.batches import Batch
from ledger.journal import JournalRecord
from ledger.registry.models import Facility
from ledger.workdays import local_day


@gatherer(HeldBatch)
def held_batches(session: Session, clock: Clock, scope: Scope | None) -> list[HeldBatch]:
    """Hazardous batches still held by their generator, generated at least STORAGE_WARN_DAYS ago."""
    if scope is not None and not (scope.unit_ids or scope.batch_ids):
        return []
    cutoff = clock.now - timedelta(days=S.STORAGE_WARN_DAYS - 1)  # the rule decides on Shanghai days
    q = (select(Batch.id, Batch.holder_unit_id, Batch.digital_id, Batch.waste_code, Batch.remaining_g,
                Batch.occurred_at, Batch.storage_facility_id)
         .where(Batch.parent_id.is_(None), Batch.hazardous.is_(True), Batch.remaining_g > 0,
                Batch.occurred_at < cutoff))
    if scope is not None:
        q = q.where(or_(Batch.holder_unit_id.in_(sorted(scope.unit_ids)), Batch.id.in_(sorted(scope.batch_ids))))
    return [HeldBatch(bid, u, did, code, int(g), local_day(at), fac, clock.today)
            for bid, u, did, code, g, at, fac in session.execute(q).all()]


def _facility_stock_query(scoped: bool):  # noqa: ANN202
    stock = func.sum(Batch.stored_g)
    q = (select(Facility.id, Facility.unit_id, Facility.code, Facility.name, Facility.storage_type,
                Facility.storage_capacity_g, stock)
         .join(Batch, Batch.storage_facility_id == Facility.id).where(Batch.stored_g > 0)
         .group_by(Facility.id, Facility.unit_id, Facility.code, Facility.name, Facility.storage_type,
                   Facility.storage_capacity_g)
         .having(or_(and_(Facility.storage_capacity_g.is_not(None),
                          stock >= Facility.storage_capacity_g * bindparam("fill_warn", type_=Float)),
                     and_(Facility.storage_type == "贮存点", stock > bindparam("point_max_g", type_=BigInteger)))))
    return q.where(Facility.id.in_(bindparam("facility_ids", expanding=True))) if scoped else q


# Built once (every storage move evaluates the scoped one at commit); the thresholds are bound per execution.
_FACILITY_STOCK = {scoped: _facility_stock_query(scoped) for scoped in (False, True)}


@gatherer(FacilityStock)
def facility_stock(session: Session, clock: Clock, scope: Scope | None) -> list[FacilityStock]:
    """Storage facilities at or above the fill warning, and 贮存点 above their limit (one aggregate)."""
    facilities = None if scope is None else scope.facility_ids
    if facilities is not None and not facilities:
        return []
    params = {"fill_warn": S.FACILITY_FILL_WARN - 0.001, "point_max_g": S.STORAGE_POINT_MAX_G}
    if facilities is not None:
        params["facility_ids"] = sorted(facilities)
    return [FacilityStock(fid, u, code, name, st, cap, int(g))
            for fid, u, code, name, st, cap, g in session.execute(_FACILITY_STOCK[facilities is not None],
                                                                  params).all()]


@gatherer(BalanceCheck)
def balances(session: Session, clock: Clock, scope: Scope | None) -> list[BalanceCheck]:
    """Holdings whose cached remaining/stored/in-transit mass differs from the sum of their journal records.

    The effects mirror `ledger.batches.apply`: the same arithmetic per record kind, summed in SQL.
    """
    units = None if scope is None else scope.unit_ids
    if units is not None and not units:
        return []
    r = JournalRecord
    fixed = r.body["corrects_kind"].as_string()
    corr = case((r.kind == "corrected", fixed), else_=literal(""))
    own = (select(
        r.batch_id.label("bid"),
        func.sum(case((r.kind.in_(("generated", "received", "returned", "combined")), r.mass_g),
                      (r.kind.in_(("used_in_house", "disposed_in_house", "shipped")), -r.mass_g),
                      (and_(r.kind == "corrected", corr == "generated"), r.mass_g),
                      (and_(r.kind == "corrected", corr.in_(("used_in_house", "disposed_in_house"))), -r.mass_g),
                      else_=0)).label("remaining"),
        func.sum(case((r.kind == "stored", r.mass_g), (r.kind == "retrieved", -r.mass_g),
                      (and_(r.kind == "corrected", corr == "stored"), r.mass_g),
                      (and_(r.kind == "corrected", corr == "retrieved"), -r.mass_g), else_=0)).label("stored"),
        func.sum(case((r.kind == "shipped", r.mass_g), (r.kind == "returned", -r.mass_g), else_=0)).label("transit"),
    ).where(r.batch_id.is_not(None)).group_by(r.batch_id))
    # on the holding a record draws from: a receipt settles the transit, a lot takes the collected mass
    settled = case((r.kind == "combined", literal(0)),
                   else_=r.body["shipped_g"].as_integer() - func.coalesce(r.body["refused_g"].as_integer(), 0))
    src = (select(r.source_batch_id.label("bid"), func.sum(settled).label("settled"),
                  func.sum(case((r.kind == "combined", r.mass_g), else_=0)).label("taken"))
           .where(r.source_batch_id.is_not(None), r.kind.in_(("received", "refused", "combined")))
           .group_by(r.source_batch_id))
    if units is not None:
        mine = select(Batch.id).where(Batch.holder_unit_id.in_(sorted(units)))
        own = own.where(r.batch_id.in_(mine))
        src = src.where(r.source_batch_id.in_(mine))
    own, src = own.subquery(), src.subquery()
    remaining = func.coalesce(own.c.remaining, 0) - func.coalesce(src.c.taken, 0)
    stored = func.coalesce(own.c.stored, 0)
    transit = func.coalesce(own.c.transit, 0) - func.coalesce(src.c.settled, 0)
    q = (select(Batch.id, Batch.holder_unit_id, Batch.remaining_g, remaining, Batch.stored_g, stored,
                Batch.in_transit_g, transit)
         .outerjoin(own, own.c.bid == Batch.id).outerjoin(src, src.c.bid == Batch.id)
         .where(or_(Batch.remaining_g != remaining, Batch.stored_g != stored, Batch.in_transit_g != transit)))
    q = where(q, within(Batch.holder_unit_id, units))
    diffs: dict[int, list[tuple[int, str, int, int]]] = defaultdict(list)
    for bid, unit, c_rem, j_rem, c_sto, j_sto, c_tr, j_tr in session.execute(q).all():
        for name, c, j in (("remaining_g", c_rem, j_rem), ("stored_g", c_sto, j_sto), ("in_transit_g", c_tr, j_tr)):
            if int(c) != int(j):
                diffs[unit].append((bid, name, int(c), int(j)))
    return [BalanceCheck(u, tuple(d)) for u, d in diffs.items()]
