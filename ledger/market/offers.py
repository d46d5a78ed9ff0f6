"""Offers and deals in the trading hall. An offer is checked against the offerer's licences and capacity when it is
made and again when the producer accepts it. A deal files a new version of the producer's plan for the year (the
offerer becomes a planned receiver of the code, through ledger/registry/plans.py) and turns into transfers: a
pickup order addressed to a collector, or a draft manifest to a receiver when the producer names the hauler and
vehicle (the usual manifest checks run)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import update
from sqlmodel import Field, Session, SQLModel, select

from ledger import manifests
from ledger.auth import Principal, audit, require_trader, require_unit
from ledger.batches import Batch
from ledger.collection import orders
from ledger.collection.licences import collects
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.filings import inbox
from ledger.market.models import MarketOffer, MarketPost
from ledger.market.posts import coverage, effective_status, get_post, move_post
from ledger.mass import g_to_kg
from ledger.registry import plans
from ledger.registry.models import Method, Unit
from ledger.types import utcnow
from ledger.validation import Code, DbId, Input, PlannedDate
from ledger.workdays import today as shanghai_today

DEFAULT_OFFER_DAYS = 14
MAX_OFFER_DAYS = 60


class OfferCreate(Input):
    unit_id: DbId | None = Field(default=None, description="the receiver or collector offering; default your unit")
    method: Code = Field(description="the R*/D*/C* method the waste will get (a receiver's licence must cover it)")
    fee_yuan_per_t: Decimal = Field(ge=-1_000_000, le=1_000_000, decimal_places=2, description=(
        "what the producer pays per tonne; negative: the receiver pays the producer"))
    valid_days: int = Field(default=DEFAULT_OFFER_DAYS, ge=1, le=MAX_OFFER_DAYS)
    note: str | None = Field(default=None, max_length=500)


class DealManifestIn(Input):
    hauler_id: DbId
    vehicle_id: DbId
    driver_id: DbId | None = None
    planned_date: PlannedDate
    batch_ids: list[DbId] = Field(default_factory=list, max_length=200, description="default: every batch of the code the "
                                 "producer holds that is on no open manifest")


class AcceptOfferIn(Input):
    manifest: DealManifestIn | None = Field(default=None, description="with a receiver: draft the first manifest")


class OfferPublic(SQLModel):
    id: int
    post_id: int
    unit_id: int
    unit_name: str
    role: str
    method: str
    fee_yuan_per_t: Decimal
    note: str | None
    status: str
    valid_until: datetime
    created_at: datetime
    plan_id: int | None
    manifest_id: int | None
    pickup_order_id: int | None


def offer_status(o: MarketOffer, post: MarketPost | None = None, now: datetime | None = None) -> str:
    now = now or utcnow()
    if o.status == "open" and (o.valid_until <= now or (post is not None and effective_status(post, now) != "open")):
        return "expired"
    return o.status


def offer_public(session: Session, o: MarketOffer, *, post: MarketPost | None = None, unit: Unit | None = None
                 ) -> OfferPublic:
    unit = unit or session.get(Unit, o.unit_id)
    return OfferPublic(id=o.id, post_id=o.post_id, unit_id=o.unit_id, unit_name=unit.name,
                       role="collector" if unit.is_collector and not unit.is_receiver else "receiver",
                       method=o.method, fee_yuan_per_t=o.fee_yuan_per_t, note=o.note,
                       status=offer_status(o, post), valid_until=o.valid_until, created_at=o.created_at,
                       plan_id=o.plan_id, manifest_id=o.manifest_id, pickup_order_id=o.pickup_order_id)


def _check_offerer(session: Session, unit: Unit, post: MarketPost, method: Method) -> None:
    """The offerer's licences today cover the code (and, for a receiver, the method), with a month's capacity."""
    cov = coverage(session, unit)
    if not cov.covers(post.waste_code):
        raise InvalidInput(f"{unit.name} holds no licence valid today covering {post.waste_code}",
                           field="unit_id", code="market.licence")
    operating = [p for p in cov.covering(post.waste_code) if p.kind == "operating_licence"]
    if post.hazardous and operating and not any(method.code in p.methods for p in operating):
        # (a collector on a collection licence names the end receiver's method; that licence is checked on the
        # onward manifest)
        raise InvalidInput(f"{unit.name}'s licence for {post.waste_code} does not cover method {method.code}",
                           field="method", code="market.licence_method")
    left = cov.capacity_left_g(post.waste_code)
    if left is not None and left < post.monthly_g:
        raise InvalidInput(f"{unit.name} has {g_to_kg(left)} kg of licensed capacity left this year, less than the "
                           f"{g_to_kg(post.monthly_g)} kg a month this post needs", field="unit_id",
                           code="market.capacity")


def make_offer(session: Session, *, principal: Principal, post_id: int, data: OfferCreate) -> MarketOffer:
    """A licensed receiver or collector answers a post; answering again replaces its open offer."""
    unit = require_trader(session, principal, data.unit_id or principal.unit_id or 0)
    if not (unit.is_receiver or unit.is_collector):
        raise InvalidInput(f"{unit.name} is neither a receiver nor a collector: it cannot take waste",
                           field="unit_id", code="market.not_receiver")
    post = get_post(session, principal, post_id)
    if post.unit_id == unit.id:
        raise InvalidInput("a unit does not answer its own post", field="unit_id")
    if effective_status(post) != "open":
        raise Conflict(f"post {post.id} is {effective_status(post)}: it takes no offers", code="market.post_closed",
                       details={"status": effective_status(post)})
    method = session.get(Method, data.method.strip().upper())
    if method is None:
        raise InvalidInput(f"unknown method {data.method!r}", field="method", code="method.unknown")
    _check_offerer(session, unit, post, method)
    now = utcnow()
    session.execute(update(MarketOffer).where(MarketOffer.post_id == post.id, MarketOffer.unit_id == unit.id,
                                              MarketOffer.status == "open").values(status="withdrawn", decided_at=now))
    offer = MarketOffer(unit_id=unit.id, post_id=post.id, producer_id=post.unit_id, method=method.code,
                        fee_yuan_per_t=data.fee_yuan_per_t, note=data.note, status="open",
                        valid_until=min(now + timedelta(days=data.valid_days), post.expires_at), created_at=now,
                        created_by=principal.user_id or None)
    session.add(offer)
    session.flush()
    audit(session, principal, action="market.offer", entity="market_offer", entity_id=offer.id,
          detail={"post_id": post.id, "unit_id": unit.id, "method": method.code, "fee": str(data.fee_yuan_per_t)})
    inbox.notify(session, unit_id=post.unit_id, kind="market.offer_received",
                 title=f"交易大厅：{unit.name} 对 {post.name}（{post.waste_code}）报价 {data.fee_yuan_per_t} 元/吨，"
                       f"方式 {method.code}", subject=("market_offer", offer.id),
                 data={"post_id": post.id, "offer_id": offer.id, "unit_id": unit.id})
    return offer


def _offer_of(session: Session, post: MarketPost, offer_id: int) -> MarketOffer:
    o = session.get(MarketOffer, offer_id, populate_existing=True)
    if o is None or o.post_id != post.id:
        raise NotFound(f"offer {offer_id} is not an offer on post {post.id}", code="market.offer_not_found")
    return o


def withdraw_offer(session: Session, *, principal: Principal, post_id: int, offer_id: int) -> MarketOffer:
    """The offerer takes its offer back."""
    post = get_post(session, principal, post_id)
    o = _offer_of(session, post, offer_id)
    require_trader(session, principal, o.unit_id)
    if offer_status(o, post) != "open":
        raise Conflict(f"offer {o.id} is {offer_status(o, post)}", code="market.offer_closed")
    done = session.execute(update(MarketOffer).where(MarketOffer.id == o.id, MarketOffer.status == "open")
                           .values(status="withdrawn", decided_at=utcnow())).rowcount
    if done != 1:
        raise Conflict(f"offer {o.id} was changed by someone else just now", code="market.concurrent_change")
    session.refresh(o)
    inbox.resolve(session, subject=("market_offer", o.id), kinds=("market.offer_received",), by=principal.user_id)
    audit(session, principal, action="market.offer_withdraw", entity="market_offer", entity_id=o.id)
    return o


def _plan_with(session: Session, principal: Principal, post: MarketPost, offer: MarketOffer, year: int):  # noqa: ANN202
    """The producer's plan for the year as a new version in which the offerer receives the code."""
    current = plans.current_plan_items(session, unit_id=post.unit_id, year=year)
    items, found = [], False
    for it in current:
        rids, methods = list(it.receiver_ids), list(it.methods)
        if it.waste_code == post.waste_code:
            found = True
            rids = rids if offer.unit_id in rids else [*rids, offer.unit_id]
            methods = methods if offer.method in methods else [*methods, offer.method]
        items.append(plans.PlanItemIn(waste_code=it.waste_code, planned_kg=g_to_kg(it.planned_g), receiver_ids=rids,
                                      methods=methods))
    if not found:
        items.append(plans.PlanItemIn(waste_code=post.waste_code, planned_kg=g_to_kg(post.monthly_g * 12),
                                      receiver_ids=[offer.unit_id], methods=[offer.method]))
    return plans.file_plan(session, principal=principal, unit_id=post.unit_id, data=plans.PlanCreate(
        year=year, items=items, note=f"交易大厅成交：post {post.id} offer {offer.id}"))


def accept_offer(session: Session, *, principal: Principal, post_id: int, offer_id: int, data: AcceptOfferIn
                 ) -> MarketOffer:
    """The producer takes an offer: the post is matched, the other offers declined, the plan gains the receiver,
    and the deal turns into a pickup order (a collector) or a draft manifest (a receiver, when asked)."""
    post = get_post(session, principal, post_id)
    require_trader(session, principal, post.unit_id)
    require_unit(session, principal, post.unit_id, act="manage")  # the deal files a plan version
    o = _offer_of(session, post, offer_id)
    if offer_status(o, post) != "open":
        raise Conflict(f"offer {o.id} is {offer_status(o, post)}", code="market.offer_closed",
                       details={"status": offer_status(o, post)})
    offerer = session.get(Unit, o.unit_id)
    _check_offerer(session, offerer, post, session.get(Method, o.method))  # checked again, not remembered
    move_post(session, post, to="matched", deal_offer_id=o.id)
    now = utcnow()
    session.execute(update(MarketOffer).where(MarketOffer.id == o.id).values(
        status="accepted", decided_at=now, decided_by=principal.user_id or None))
    session.refresh(o)
    from ledger.market.posts import close_open_offers

    close_open_offers(session, post, to="declined", except_id=o.id, reason="已与其他单位成交")
    plan = _plan_with(session, principal, post, o, shanghai_today().year)
    o.plan_id = plan.id
    if collects(session, unit=offerer, code=post.waste_code, on=shanghai_today()):
        order = orders.raise_order(session, principal=principal, data=orders.OrderCreate(
            unit_id=post.unit_id, collector_id=offerer.id, address=post.address,
            window_from=now, window_to=now + timedelta(days=7), note=f"交易大厅成交 post {post.id}",
            lines=[orders.OrderLineIn(waste_code=post.waste_code, name=post.name, form=post.form,
                                      estimated_kg=g_to_kg(post.monthly_g), planned_method=o.method)]))
        o.pickup_order_id = order.id
    elif data.manifest is not None:
        d = data.manifest
        ids = d.batch_ids or [b.id for b in session.exec(select(Batch).where(
            Batch.holder_unit_id == post.unit_id, Batch.waste_code == post.waste_code, Batch.remaining_g > 0)
            .order_by(Batch.occurred_at, Batch.id)).all() if manifests.open_manifest_of(session, b.id) is None]
        if not ids:
            raise InvalidInput(f"the producer holds no batch of {post.waste_code} to ship yet: accept without "
                               "manifest and draft it when the waste is weighed", field="manifest.batch_ids",
                               code="market.nothing_to_ship")
        m = manifests.create(session, principal=principal, data=manifests.ManifestCreate(
            originator_id=post.unit_id, hauler_id=d.hauler_id, vehicle_id=d.vehicle_id, receiver_id=offerer.id,
            driver_id=d.driver_id, planned_date=d.planned_date, remarks=f"交易大厅成交 post {post.id}",
            lines=[manifests.LineIn(batch_id=i, planned_method=o.method) for i in ids]))
        o.manifest_id = m.id
    session.add(o)
    session.flush()
    inbox.resolve(session, subject=("market_offer", o.id), kinds=("market.offer_received",), by=principal.user_id)
    for other in session.exec(select(MarketOffer.id).where(MarketOffer.post_id == post.id,
                                                           MarketOffer.id != o.id)).all():
        inbox.resolve(session, subject=("market_offer", other), kinds=("market.offer_received",),
                      by=principal.user_id)
    inbox.notify(session, unit_id=offerer.id, kind="market.offer_accepted",
                 title=f"交易大厅：{session.get(Unit, post.unit_id).name} 接受了贵单位对 {post.name}"
                       f"（{post.waste_code}）的报价", subject=("market_offer", o.id),
                 data={"post_id": post.id, "plan_id": plan.id, "manifest_id": o.manifest_id,
                       "pickup_order_id": o.pickup_order_id})
    audit(session, principal, action="market.deal", entity="market_offer", entity_id=o.id,
          detail={"post_id": post.id, "plan_id": plan.id, "manifest_id": o.manifest_id,
                  "pickup_order_id": o.pickup_order_id})
    return o
