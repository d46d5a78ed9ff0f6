"""The trading hall on the pages (交易大厅: /market, /market/new, /market/{id}).

`/market` shows each viewer what the hall holds for it: a licensed receiver or collector the open posts its
licences cover (nearest first, those it has capacity for first; the distance, the monthly mass, its capacity left and
a "fits" mark), then the closed posts it answered; a producer its own posts with their offers; a regulator or park
manager the posts in its scope, read-only (inside the console's navigation). `/market/new` is the producer's form
(the codes of its plan and recent weighings, any other code looked up in the catalogue; a sample photo sent as a
multipart upload once the post exists). `/market/{id}` is one post with its photos: an offerer makes, replaces or
withdraws its offer; the producer sees every offer, accepts one (its plan gains the receiver; a collector gets a
pickup order, a receiver optionally a draft manifest) or withdraws the post; then the deal with its links.

Who sees what is the service's (`ledger.market.posts.list_posts`, `get_post`: licences checked, never claimed); which
forms a page draws is `ledger.auth.may` on the viewer's unit, the rules the API applies again on every write. Writes
go to /api/v1/market/… from wl.js and market.js with an Idempotency-Key each.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session, select

from api.deps import get_session
from api.pages.common import PageRoute, Viewer, login_required, render
from api.pages.console.base import NAV, nav
from ledger import manifests as msvc
from ledger import views
from ledger.auth import Principal, may
from ledger.batches import Batch
from ledger.collection.licences import collects
from ledger.collection.models import PickupOrder
from ledger.errors import Forbidden, LedgerError
from ledger.market import offers, photos, posts
from ledger.market.models import MarketOffer, MarketPost
from ledger.mass import g_to_kg
from ledger.registry.models import Method, Plan, PlanItem, Unit, Vehicle
from ledger.types import utcnow
from ledger.workdays import today

router = APIRouter(route_class=PageRoute)
nav("market", "交易大厅", "/market", order=35)  # the console's entry: regulators and park managers read the hall

POST_STATUS = {"open": "征集中", "matched": "已成交", "withdrawn": "已撤回", "expired": "已过期"}
OFFER_STATUS = {"open": "有效", "accepted": "已接受", "declined": "未采纳", "withdrawn": "已撤回", "expired": "已过期"}
FORMS = ("固态", "半固态", "液态", "气态")
EXPIRY_DAYS = (7, 14, 30, 60, 90)
SUPERVISORS = ("regulator", "park_manager", "admin")


@dataclass
class Hall:
    """The viewer's place in the hall: its unit, whether it trades as a receiver/collector or posts as a producer
    (its own users with the operate act, as `require_trader` asks), whether it only supervises."""

    unit: Unit | None
    trader: Unit | None  # the receiver or collector it answers posts for
    producer: Unit | None  # the generator it posts for
    supervisor: bool
    can_accept: bool  # a deal files a plan version: the unit's administrator


def hall_of(s: Session, p: Principal) -> Hall:
    unit = s.get(Unit, p.unit_id) if p.unit_id else None
    acts = unit is not None and p.role not in SUPERVISORS and may(p, unit, "operate")
    return Hall(unit=unit, trader=unit if acts and (unit.is_receiver or unit.is_collector) else None,
                producer=unit if acts and unit.is_generator else None, supervisor=p.role in SUPERVISORS,
                can_accept=acts and unit.is_generator and may(p, unit, "register"))


def console_frame(p: Principal) -> dict:
    """Regulators and park managers read the hall inside the console's navigation."""
    return {"nav": NAV, "active": "market"} if p.role in SUPERVISORS else {}


@router.get("/market")
def market(request: Request, code: str = "", s: Session = Depends(get_session), v: Viewer = Depends(login_required)):
    """The posts the viewer may see, split by what it may do with them."""
    p = v.principal
    hall = hall_of(s, p)
    code = code.strip().upper()[:12]
    error = None
    try:
        rows = posts.list_posts(s, principal=p, waste_code=code or None, include_closed=True, limit=200)
    except LedgerError as e:
        error = f"废物代码 {code}：{e.message}"
        rows = posts.list_posts(s, principal=p, include_closed=True, limit=200)
    own_id = hall.unit.id if hall.unit else None
    matching = [r for r in rows if r.unit_id != own_id and r.status == "open"]
    answered = [r for r in rows if r.unit_id != own_id and r.status != "open"]
    mine = sorted((r for r in rows if r.unit_id == own_id), key=lambda r: (r.status != "open", -r.id))  # open first
    return render(request, "market/list.html", {
        "hall": hall, "code": code, "takes": hall.unit is not None and not hall.supervisor and (
            hall.unit.is_receiver or hall.unit.is_collector), "error": error, "rows": rows, "matching": matching, "answered": answered,
        "mine": mine, "POST_STATUS": POST_STATUS, "OFFER_STATUS": OFFER_STATUS,
        "codes": sorted({r.waste_code for r in rows}), **console_frame(p)}, v=v)


@router.get("/market/new")
def new_post(request: Request, s: Session = Depends(get_session), v: Viewer = Depends(login_required)):
    """The producer's form: what it needs taken, how much a month, where, until when; a sample photo."""
    hall = hall_of(s, v.principal)
    if hall.producer is None:
        raise Forbidden("只有产废单位的称重员或管理员可以在交易大厅发布；监管人员只查看，利用处置和收集单位在交易大厅报价。",
                        code="auth.forbidden")
    unit = hall.producer
    return render(request, "market/new.html", {
        "unit": unit, "codes": views.station_codes(s, unit_id=unit.id, year=today().year), "forms": FORMS,
        "expiry": EXPIRY_DAYS, "default_days": posts.DEFAULT_POST_DAYS, "max_photo_mb": photos.MAX_PHOTO_BYTES // 1048576,
        "has_site": unit.lat is not None and unit.lon is not None}, v=v)


def offer_methods(s: Session, cov: posts.Coverage, post: MarketPost) -> list[Method]:
    """The methods an offer may name: for a hazardous code, those of the receiver's operating licences covering it
    (what `make_offer` checks); otherwise, and for a collector (it names the end receiver's), any."""
    operating = [lic for lic in cov.covering(post.waste_code) if lic.kind == "operating_licence"]
    q = select(Method).order_by(Method.code)
    if post.hazardous and operating:
        q = q.where(Method.code.in_({m for lic in operating for m in lic.methods}))
    return list(s.exec(q).all())


def shippable(s: Session, post: MarketPost) -> tuple[int, int]:
    """(batches, grams) of the code the producer holds that are on no open manifest: what a deal's draft
    manifest would carry by default."""
    rows = s.exec(select(Batch).where(Batch.holder_unit_id == post.unit_id, Batch.waste_code == post.waste_code,
                                      Batch.remaining_g > 0)).all()
    on_open = set(s.exec(select(msvc.ManifestLine.batch_id).join(
        msvc.Manifest, msvc.Manifest.id == msvc.ManifestLine.manifest_id).where(
        msvc.Manifest.status.in_(msvc.OPEN), msvc.ManifestLine.batch_id.in_([b.id for b in rows]))).all()) \
        if rows else set()
    free = [b for b in rows if b.id not in on_open]
    return len(free), sum(b.remaining_g for b in free)


def hauler_vehicles(s: Session, post: MarketPost, offerer_ids: set[int]) -> list[tuple[Unit, Vehicle]]:
    """Haulers (with their vehicles) a producer may name for the deal's draft manifest: an offerer that hauls, the
    haulers of its earlier manifests, then the province's other haulers; at most 60 vehicles."""
    used = set(s.exec(select(msvc.Manifest.hauler_id).where(msvc.Manifest.originator_id == post.unit_id)
                      .order_by(msvc.Manifest.id.desc()).limit(200)).all())
    province = s.get(Unit, post.unit_id).region_code[:2]
    units = s.exec(select(Unit).where(Unit.is_hauler.is_(True), Unit.region_code.startswith(province))
                   .order_by(Unit.name).limit(200)).all()
    units = sorted(units, key=lambda u: (u.id not in offerer_ids, u.id not in used, u.name))
    ids = [u.id for u in units]
    vehicles = s.exec(select(Vehicle).where(Vehicle.unit_id.in_(ids)).order_by(Vehicle.plate)).all() if ids else []
    by_unit: dict[int, list[Vehicle]] = {}
    for vh in vehicles:
        by_unit.setdefault(vh.unit_id, []).append(vh)
    return [(u, vh) for u in units for vh in by_unit.get(u.id, [])][:60]


def deal_context(s: Session, p: Principal, post: MarketPost, offer: MarketOffer | None) -> dict | None:
    """What the accepted offer turned into: the plan version, the draft manifest or the pickup order."""
    if offer is None or offer.status != "accepted":
        return None
    plan = s.get(Plan, offer.plan_id) if offer.plan_id else None
    item = s.exec(select(PlanItem).where(PlanItem.plan_id == plan.id, PlanItem.waste_code == post.waste_code)
                  ).first() if plan else None
    m = s.get(msvc.Manifest, offer.manifest_id) if offer.manifest_id else None
    order = s.get(PickupOrder, offer.pickup_order_id) if offer.pickup_order_id else None
    producer_side = p.unit_id == post.unit_id or p.role in SUPERVISORS
    return {"offer": offer, "offerer": s.get(Unit, offer.unit_id), "plan": plan, "plan_item": item, "manifest": m if m and msvc.can_see_manifest(s, p, m)
            else None, "order": order, "plan_href": f"/api/v1/units/{post.unit_id}/plans?year={plan.year}"
            if plan and producer_side else None}


@router.get("/market/{post_id}")
def post_page(post_id: int, request: Request, s: Session = Depends(get_session),
              v: Viewer = Depends(login_required)):
    """One post: its photos and facts; the offer form of a licensed receiver or collector; every offer and the
    accept and withdraw forms for the producer; the deal and its links once matched; read-only for supervisors."""
    p = v.principal
    post = posts.get_post(s, p, post_id)  # 404 outside what the viewer's licences cover, its scope or its posts
    hall = hall_of(s, p)
    cov = posts.coverage(s, hall.trader) if hall.trader is not None else None
    view = posts.post_public(s, p, post, cov=cov)
    producer = s.get(Unit, post.unit_id)
    now = utcnow()
    all_offers = p.role in SUPERVISORS or p.unit_id == post.unit_id
    rows = s.exec(select(MarketOffer).where(MarketOffer.post_id == post.id).order_by(MarketOffer.id)).all()
    shown = [(o, s.get(Unit, o.unit_id), offers.offer_status(o, post, now)) for o in rows
             if all_offers or o.unit_id == p.unit_id]
    is_open = view.status == "open"
    own = hall.unit is not None and hall.unit.id == post.unit_id
    producer_acts = own and hall.producer is not None
    mine_open = next((o for o, _, st in shown if o.unit_id == p.unit_id and st == "open"), None)
    ctx = {"post": view, "producer": producer, "offers": shown, "hall": hall, "POST_STATUS": POST_STATUS,
           "OFFER_STATUS": OFFER_STATUS, "mine_open": mine_open,
           "acts": {"offer": hall.trader is not None and not own and is_open,
                    "withdraw_offer": mine_open is not None and hall.trader is not None,
                    "accept": producer_acts and hall.can_accept and is_open,
                    "withdraw_post": producer_acts and is_open,
                    "photo": producer_acts and is_open and len(view.photo_urls) < photos.MAX_PHOTOS},
           "deal": deal_context(s, p, post, s.get(MarketOffer, post.deal_offer_id) if post.deal_offer_id else None),
           "max_photo_mb": photos.MAX_PHOTO_BYTES // 1048576, "today": today().isoformat(), **console_frame(p)}
    acts = ctx["acts"]
    if acts["offer"]:
        ctx["methods"] = offer_methods(s, cov, post)
        ctx["offer_days"] = offers.DEFAULT_OFFER_DAYS
        ctx["max_offer_days"] = offers.MAX_OFFER_DAYS
    if acts["accept"]:
        on = today()
        ctx["collector_offer"] = {o.id: collects(s, unit=u, code=post.waste_code, on=on) for o, u, st in shown
                                  if st == "open"}
        if not all(ctx["collector_offer"].values()):
            ctx["ship_count"], ship_g = shippable(s, post)
            ctx["ship_kg"] = g_to_kg(ship_g)
            ctx["vehicles"] = hauler_vehicles(s, post, {o.unit_id for o, _, st in shown if st == "open"}) \
                if ctx["ship_count"] else []
    return render(request, "market/post.html", ctx, v=v)
