"""Pickup orders on the phone (/pickup, /pickup/{id}; a 美团式 一键下单): a small producer raises an order in
one step (the codes of its plan or its recent weighings, estimated masses, address, a wished-for day and time of
day) and follows its state; the collector's users see the open orders they may take, accept and schedule them; at
the door the driver records the weighings (or ticks the producer's labelled batches), prints the labels, and the
producer confirms on the driver's phone with its own username and password (or from its own login). The order then
is a manifest, signed on the manifest page (/m/{number}) as usual.

What each viewer may do is the order's step and `ledger.auth.may` on the viewer's unit, as in
ledger/collection/orders.py; the API checks every write again. Writes go to /api/v1/pickup-orders/… through wl.js
(an Idempotency-Key each); the weighing at the door goes through the outbox, so a garage without signal keeps it.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session, select

from api.deps import get_session
from api.pages.common import PageRoute, Viewer, login_required, render
from ledger import manifests as msvc
from ledger import views
from ledger.accounts import User
from ledger.auth import Principal, may
from ledger.batches import Batch
from ledger.collection import orders
from ledger.collection.models import Consent, PickupOrder, PickupOrderLine
from ledger.mass import g_to_kg
from ledger.registry.models import Method, Unit, Vehicle
from ledger.workdays import today

router = APIRouter(route_class=PageRoute)

ORDER_STATUS = {"requested": "待接单", "accepted": "已接单，待排班", "scheduled": "已排班，待上门", "weighed": "已称重，待确认",
                "confirmed": "已确认，生成联单", "cancelled": "已取消"}
ORDER_ACTIONS = {"raise": "下单", "accept": "接单", "schedule": "排班", "weigh": "上门称重", "confirm": "产废单位确认",
                 "cancel": "取消"}
FORMS = ("液态", "固态", "半固态")
SLOTS = (("am", "上午 8:00–12:00"), ("pm", "下午 13:00–18:00"), ("day", "全天 8:00–18:00"))
CONTAINERS = ("桶", "塑料桶", "吨袋", "袋", "箱", "罐")
OPEN_STATES = ("requested", "accepted", "scheduled", "weighed")


def _unit(s: Session, p: Principal) -> Unit | None:
    return s.get(Unit, p.unit_id) if p.unit_id else None


def acts_on_unit(p: Principal, unit: Unit | None) -> bool:
    """A unit's own user who weighs, labels or drives for it (operate or haul; the collection services ask the same)."""
    return unit is not None and (may(p, unit, "operate") or may(p, unit, "haul"))


def raise_context(s: Session, p: Principal, unit: Unit) -> dict:
    """The one-step order form: this year's planned codes and recent ones with their last name and form; the
    collectors the producer has consented to; its address and contact; a default day."""
    codes = views.station_codes(s, unit_id=unit.id, year=today().year)
    consents = s.exec(select(Consent).where(Consent.unit_id == unit.id, Consent.revoked_at.is_(None))).all()
    collectors = [(c.collector_id, s.get(Unit, c.collector_id).name) for c in consents]
    return {"codes": codes, "collectors": list(dict(collectors).items()), "unit": unit, "forms": FORMS,
            "slots": SLOTS, "tomorrow": (today() + timedelta(days=1)).isoformat(), "today": today().isoformat()}


@router.get("/pickup")
def pickup_list(request: Request, s: Session = Depends(get_session), v: Viewer = Depends(login_required)):
    """A producer's orders and its one-step order form; a collector's open orders to take and its orders by step."""
    p = v.principal
    unit = _unit(s, p)
    rows = [orders.order_public(s, o) for o in orders.list_orders(s, principal=p, limit=100)]
    ctx: dict = {"rows": rows, "unit": unit, "ORDER_STATUS": ORDER_STATUS, "is_collector": False,
                 "can_raise": False, "names": _names(s, rows)}
    if unit is not None and unit.is_generator and may(p, unit, "operate"):
        ctx.update(can_raise=True, **raise_context(s, p, unit))
    if unit is not None and unit.is_collector:
        ctx["is_collector"] = True
        ctx["can_take"] = acts_on_unit(p, unit)
        mine = [o for o in rows if o.collector_id == unit.id or o.hauler_id == unit.id]
        ctx["groups"] = [
            ("可接订单", "open", [o for o in rows if o.status == "requested" and o.collector_id in (None, unit.id)]),
            ("待排班", "accepted", [o for o in mine if o.status == "accepted"]),
            ("待上门", "scheduled", [o for o in mine if o.status == "scheduled"]),
            ("待产废单位确认", "weighed", [o for o in mine if o.status == "weighed"]),
            ("已完成或取消", "done", [o for o in mine if o.status in ("confirmed", "cancelled")][:20]),
        ]
    return render(request, "pickup/list.html", ctx, v=v)


def _names(s: Session, rows: list[orders.OrderPublic]) -> dict[int, str]:
    ids = {o.collector_id for o in rows if o.collector_id} | {o.hauler_id for o in rows if o.hauler_id}
    return dict(s.exec(select(Unit.id, Unit.name).where(Unit.id.in_(ids))).all()) if ids else {}


def takeable(s: Session, o: PickupOrder, codes: list[str]) -> dict[str, list[Batch]]:
    """The producer's labelled batches a collector may take at the door for these codes (what `orders.weigh`
    accepts: held by the producer, something left, on no open manifest), newest first; not those another order
    weighed that waits for its confirmation."""
    on_open = select(msvc.ManifestLine.batch_id).join(msvc.Manifest, msvc.Manifest.id == msvc.ManifestLine.manifest_id) \
        .where(msvc.Manifest.status.in_(msvc.OPEN))
    claimed = {bid for ids in s.exec(select(PickupOrderLine.batch_ids).join(
        PickupOrder, PickupOrder.id == PickupOrderLine.order_id).where(
        PickupOrder.unit_id == o.unit_id, PickupOrder.status == "weighed")).all() for bid in ids}
    rows = s.exec(select(Batch).where(Batch.holder_unit_id == o.unit_id, Batch.waste_code.in_(codes),
                                      Batch.remaining_g > 0, Batch.id.not_in(on_open))
                  .order_by(Batch.id.desc()).limit(50)).all()
    rows = [b for b in rows if b.id not in claimed]
    out: dict[str, list[Batch]] = {}
    for b in rows:
        out.setdefault(b.waste_code, []).append(b)
    return out


@router.get("/pickup/{order_id}")
def pickup_order(order_id: int, request: Request, s: Session = Depends(get_session),
                 v: Viewer = Depends(login_required)):
    p = v.principal
    o = orders.get_order(s, p, order_id)  # 404 outside the producer's scope, the collector's and open ones it may take
    view = orders.order_public(s, o)
    unit = _unit(s, p)
    producer_side = p.unit_id == o.unit_id and unit is not None and may(p, unit, "operate")
    collector_side = unit is not None and unit.is_collector and acts_on_unit(p, unit) and (
        o.collector_id == unit.id or (o.collector_id is None and o.status == "requested"))
    ctx = {"o": view, "ORDER_STATUS": ORDER_STATUS, "ORDER_ACTIONS": ORDER_ACTIONS, "producer": s.get(Unit, o.unit_id),
           "collector": s.get(Unit, o.collector_id) if o.collector_id else None,
           "acts": {"accept": collector_side and o.status == "requested",
                    "schedule": collector_side and o.status in ("accepted", "scheduled") and o.collector_id == unit.id,
                    "weigh": collector_side and o.status == "scheduled",
                    "confirm_on_phone": collector_side and o.status == "weighed",
                    "confirm_own": producer_side and o.status == "weighed",
                    "cancel": (producer_side or (collector_side and o.collector_id is not None))
                    and o.status in OPEN_STATES},
           "weighed_batches": [], "vehicle": s.get(Vehicle, o.vehicle_id) if o.vehicle_id else None,
           "driver": s.get(User, o.driver_id) if o.driver_id else None}
    acts = ctx["acts"]
    if acts["schedule"]:
        ctx["vehicles"] = s.exec(select(Vehicle).where(Vehicle.unit_id == o.collector_id).order_by(Vehicle.plate)).all()
        ctx["drivers"] = s.exec(select(User).where(User.unit_id == o.collector_id, User.active.is_(True),
                                                   User.role.in_(("driver", "unit_admin"))).order_by(User.id)).all()
        ctx["methods"] = s.exec(select(Method).order_by(Method.code)).all()
        ctx["today"] = today().isoformat()
    if acts["weigh"]:
        ctx["takeable"] = takeable(s, o, [ln.waste_code for ln in view.lines])
        ctx["containers"] = CONTAINERS
    ids = [bid for ln in view.lines for bid in ln.batch_ids]
    if ids and o.status in ("weighed", "confirmed"):
        ctx["weighed_batches"] = [(b, g_to_kg(b.net_g)) for b in s.exec(select(Batch).where(Batch.id.in_(ids))
                                                                         .order_by(Batch.id)).all()]
    return render(request, "pickup/order.html", ctx, v=v)
