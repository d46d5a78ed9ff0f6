"""Posts in the trading hall and who sees them.

A producer sees its own posts. A receiver or collector sees an open post only when a licence it holds today covers
the code (an operating licence for a receiver, a collection licence for a collector; general industrial waste
needs none, so every registered receiver and collector sees those): checked against the registry, never claimed.
A regulator sees the posts of its region (it supervises the hall; it never posts or offers). Matching posts come
nearest first, those the viewer has capacity for before those it has not, then by capacity left.

Expiry is checked on read (a post past `expires_at` reads as expired and takes no offer); `expire_due` writes it
down for a scheduled job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from sqlalchemy import and_, false, or_, true, update
from sqlmodel import Field, Session, SQLModel, select

from ledger.auth import Principal, audit, can_see_unit, require_role, require_trader, unit_scope
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.filings import inbox
from ledger.market.models import MarketOffer, MarketPhoto, MarketPost
from ledger.mass import g_to_kg, kg_to_g
from ledger.registry.assets import collection_licences_on, licence_covers, licences_on
from ledger.registry.catalogue import check_waste_code
from ledger.registry.models import Permit, Unit
from ledger.types import utcnow
from ledger.validation import Code, DbId, Input, Lat, Lon, PositiveKg
from ledger.workdays import today as shanghai_today

DEFAULT_POST_DAYS = 30
MAX_POST_DAYS = 90


class PostCreate(Input):
    unit_id: DbId = Field(description="the producer posting")
    waste_code: Code
    name: str = Field(min_length=1, max_length=200)
    form: Literal["固态", "半固态", "液态", "气态"]
    monthly_kg: PositiveKg = Field(description="how much a month needs taking")
    lat: Lat | None = Field(default=None, description="default: the unit's site")
    lon: Lon | None = None
    address: str | None = Field(default=None, max_length=300)
    note: str | None = Field(default=None, max_length=1000)
    expires_in_days: int = Field(default=DEFAULT_POST_DAYS, ge=1, le=MAX_POST_DAYS)


class WithdrawIn(Input):
    reason: str | None = Field(default=None, max_length=300)


class PostPublic(SQLModel):
    id: int
    unit_id: int
    producer_name: str
    waste_code: str
    hazardous: bool
    name: str
    form: str
    monthly_kg: Decimal
    lat: float
    lon: float
    address: str | None
    region_code: str
    note: str | None
    status: str
    expires_at: datetime
    created_at: datetime
    photo_urls: list[str]
    open_offers: int
    distance_km: float | None = Field(default=None, description="from the viewing unit's site")
    capacity_left_t: Decimal | None = Field(default=None, description="the viewer's licence capacity left this "
                                            "year for this code (annual capacity − received this year); null: "
                                            "no capacity limit")
    fits: bool | None = Field(default=None, description="the viewer has capacity left for a month of this post")
    offers: list[dict] = Field(default_factory=list, description="to the producer: every offer; to an offerer: "
                               "its own")


def effective_status(post: MarketPost, now: datetime | None = None) -> str:
    """The post's status as of now: an open post past its expiry reads as expired."""
    if post.status == "open" and post.expires_at <= (now or utcnow()):
        return "expired"
    return post.status


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


# ---- what a receiver or collector may take --------------------------------------------------------------------

@dataclass
class Coverage:
    """What a receiving unit's licences cover today, and its capacity left this year."""

    unit: Unit
    licences: list[Permit] = field(default_factory=list)
    general: bool = False
    used_g: int = 0

    def covering(self, code: str) -> list[Permit]:
        return [p for p in self.licences if licence_covers(p, code)]

    def covers(self, code: str) -> bool:
        if code.split("-")[2].startswith("S"):
            return self.general
        return bool(self.covering(code))

    def capacity_left_g(self, code: str) -> int | None:
        """Capacity left for the code (the most any covering licence has left); None: no limit registered."""
        caps = [p.annual_capacity_g for p in self.covering(code)]
        if not caps or any(c is None for c in caps):
            return None
        return max(max(caps) - self.used_g, 0)

    def sql(self):  # noqa: ANN201
        """A SQL condition on market_post selecting the codes covered."""
        conds = [MarketPost.hazardous.is_(False)] if self.general else []
        for entry in {c for p in self.licences for c in p.waste_codes}:
            if entry.startswith("HW"):
                conds.append(and_(MarketPost.hazardous.is_(True), MarketPost.waste_code.like(f"%-{entry[2:]}")))
            else:
                conds.append(MarketPost.waste_code == entry)
        return or_(*conds) if conds else false()


def coverage(session: Session, unit: Unit) -> Coverage:
    """The licences a receiver (operating) or collector (collection) holds today, and what it received this year."""
    from ledger.manifests import received_this_year_g

    today = shanghai_today()
    licences: list[Permit] = []
    if unit.is_receiver:
        licences += licences_on(session, unit_id=unit.id, on=today)
    if unit.is_collector:
        licences += collection_licences_on(session, unit_id=unit.id, on=today)
    return Coverage(unit=unit, licences=licences, general=unit.is_receiver or unit.is_collector,
                    used_g=received_this_year_g(session, unit.id, today.year, None))


def trading_unit(session: Session, principal: Principal) -> Unit | None:
    """The receiver or collector the caller answers for in the hall, if any."""
    unit = session.get(Unit, principal.unit_id) if principal.unit_id else None
    return unit if unit is not None and (unit.is_receiver or unit.is_collector) else None


def _scope(session: Session, principal: Principal, cov: Coverage | None, now: datetime):  # noqa: ANN202
    """SQL: the posts the caller may see."""
    if principal.is_admin:
        return true()
    if principal.role in ("regulator", "park_manager"):
        return MarketPost.unit_id.in_(select(Unit.id).where(unit_scope(principal)))
    conds = [MarketPost.unit_id == principal.unit_id]
    if cov is not None:
        conds.append(and_(MarketPost.status == "open", MarketPost.expires_at > now, cov.sql()))
        conds.append(MarketPost.id.in_(select(MarketOffer.post_id).where(MarketOffer.unit_id == cov.unit.id)))
    return or_(*conds)


def can_see_post(session: Session, principal: Principal, post: MarketPost, cov: Coverage | None = None) -> bool:
    if principal.is_admin or (principal.unit_id is not None and principal.unit_id == post.unit_id):
        return True
    if principal.role in ("regulator", "park_manager"):
        return can_see_unit(session, principal, session.get(Unit, post.unit_id))
    unit = trading_unit(session, principal)
    if unit is None:
        return False
    if session.exec(select(MarketOffer.id).where(MarketOffer.post_id == post.id,
                                                 MarketOffer.unit_id == unit.id)).first() is not None:
        return True
    cov = cov or coverage(session, unit)
    return effective_status(post) == "open" and cov.covers(post.waste_code)


def get_post(session: Session, principal: Principal, post_id: int) -> MarketPost:
    post = session.get(MarketPost, post_id, populate_existing=True)
    if post is None or not can_see_post(session, principal, post):
        raise NotFound(f"post {post_id} does not exist or is outside what your licences cover",
                       code="market.post_not_found")
    return post


@dataclass
class _Preloaded:
    """What the public views of many posts need, read in three queries rather than three per post."""

    photos: dict[int, list[int]]
    offers: dict[int, list[MarketOffer]]
    units: dict[int, Unit]


def _preload(session: Session, rows: list[MarketPost]) -> _Preloaded:
    ids = [p.id for p in rows]
    photos: dict[int, list[int]] = {i: [] for i in ids}
    offers: dict[int, list[MarketOffer]] = {i: [] for i in ids}
    for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
        for pid, ph in session.exec(select(MarketPhoto.post_id, MarketPhoto.id).where(MarketPhoto.post_id.in_(chunk))
                                    .order_by(MarketPhoto.id)).all():
            photos[pid].append(ph)
        for o in session.exec(select(MarketOffer).where(MarketOffer.post_id.in_(chunk)).order_by(MarketOffer.id)):
            offers[o.post_id].append(o)
    unit_ids = {p.unit_id for p in rows} | {o.unit_id for os_ in offers.values() for o in os_}
    units = {u.id: u for u in session.exec(select(Unit).where(Unit.id.in_(unit_ids)))} if unit_ids else {}
    return _Preloaded(photos=photos, offers=offers, units=units)


def post_public(session: Session, principal: Principal, post: MarketPost, *, cov: Coverage | None = None,
                api_prefix: str = "/api/v1", pre: _Preloaded | None = None) -> PostPublic:
    from ledger.market.offers import offer_public

    pre = pre or _preload(session, [post])
    photos, offers = pre.photos[post.id], pre.offers[post.id]
    now = utcnow()
    out = PostPublic(id=post.id, unit_id=post.unit_id, producer_name=pre.units[post.unit_id].name,
                     waste_code=post.waste_code, hazardous=post.hazardous, name=post.name, form=post.form,
                     monthly_kg=g_to_kg(post.monthly_g), lat=post.lat, lon=post.lon, address=post.address,
                     region_code=post.region_code, note=post.note, status=effective_status(post, now),
                     expires_at=post.expires_at, created_at=post.created_at,
                     photo_urls=[f"{api_prefix}/market/photos/{i}" for i in photos],
                     open_offers=sum(1 for o in offers if o.status == "open" and o.valid_until > now))
    mine = principal.is_admin or principal.unit_id == post.unit_id or principal.role in ("regulator", "park_manager")
    out.offers = [offer_public(session, o, post=post, unit=pre.units.get(o.unit_id)).model_dump(mode="json")
                  for o in offers if mine or o.unit_id == principal.unit_id]
    if cov is not None:
        if cov.unit.lat is not None and cov.unit.lon is not None:
            out.distance_km = round(haversine_km(cov.unit.lat, cov.unit.lon, post.lat, post.lon), 1)
        left = cov.capacity_left_g(post.waste_code)
        out.capacity_left_t = None if left is None else g_to_kg(left) / 1000
        out.fits = left is None or left >= post.monthly_g
    return out


def list_posts(session: Session, *, principal: Principal, waste_code: str | None = None,
               within_km: float | None = None, include_closed: bool = False, limit: int = 100
               ) -> list[PostPublic]:
    """Posts the caller may see. To a receiver or collector: matching open posts, those it can take first, nearest
    first, then by capacity left; its own posts and those it answered follow."""
    now = utcnow()
    unit = trading_unit(session, principal)
    cov = coverage(session, unit) if unit is not None else None
    q = select(MarketPost).where(_scope(session, principal, cov, now))
    if waste_code:
        q = q.where(MarketPost.waste_code == check_waste_code(session, waste_code, field="waste_code"))
    if not include_closed:
        q = q.where(MarketPost.status == "open", MarketPost.expires_at > now)
    # Rank on the columns the order needs (plain tuples), then load the full rows of the page only.
    cols = (MarketPost.id, MarketPost.unit_id, MarketPost.waste_code, MarketPost.status, MarketPost.expires_at,
            MarketPost.lat, MarketPost.lon, MarketPost.monthly_g)
    rows = session.execute(q.with_only_columns(*cols).order_by(MarketPost.id.desc()).limit(2000)).all()
    left: dict[str, int | None] = {}

    def key(r) -> tuple:  # noqa: ANN001
        """The posts the viewer may take first, those it has capacity for first, nearest first, then by capacity
        left (computed once per code); the last element is the distance, for within_km."""
        pid, unit_id, code, status, expires_at, lat, lon, monthly_g = r
        if cov is None:
            return (True, True, math.inf, 0, -pid, None)
        if code not in left:
            left[code] = cov.capacity_left_g(code)
        cap = left[code]
        matching = unit_id != principal.unit_id and status == "open" and expires_at > now
        dist = (haversine_km(cov.unit.lat, cov.unit.lon, lat, lon)
                if cov.unit.lat is not None and cov.unit.lon is not None else None)
        return (not matching, not (cap is None or cap >= monthly_g), dist if dist is not None else math.inf,
                -(cap if cap is not None else math.inf), -pid, dist)

    keyed = [(key(r), r[0]) for r in rows]
    if within_km is not None:
        keyed = [(k, i) for k, i in keyed if k[-1] is not None and k[-1] <= within_km]
    keyed.sort(key=lambda ki: ki[0][:5])
    ids = [i for _, i in keyed[:min(limit, 500)]]
    by_id = {p.id: p for p in session.exec(select(MarketPost).where(MarketPost.id.in_(ids)))} if ids else {}
    top = [by_id[i] for i in ids]
    pre = _preload(session, top)
    return [post_public(session, principal, p, cov=cov, pre=pre) for p in top]


# ---- writing -------------------------------------------------------------------------------------------------

def create_post(session: Session, *, principal: Principal, data: PostCreate) -> MarketPost:
    """A producer posts waste it needs taken."""
    unit = require_trader(session, principal, data.unit_id)
    if not unit.is_generator:
        raise InvalidInput(f"{unit.name} is not registered as a generator: the hall is for waste a producer needs "
                           "taken", field="unit_id", code="market.not_generator")
    code = check_waste_code(session, data.waste_code)
    lat = data.lat if data.lat is not None else unit.lat
    lon = data.lon if data.lon is not None else unit.lon
    if lat is None or lon is None:
        raise InvalidInput("give the location (lat, lon): the unit has no site location registered", field="lat")
    now = utcnow()
    post = MarketPost(unit_id=unit.id, waste_code=code, hazardous=not code.split("-")[2].startswith("S"),
                      name=data.name, form=data.form, monthly_g=kg_to_g(data.monthly_kg, field="monthly_kg"),
                      lat=lat, lon=lon, address=data.address or unit.address, region_code=unit.region_code,
                      note=data.note, status="open", expires_at=now + timedelta(days=data.expires_in_days),
                      created_at=now, created_by=principal.user_id or None)
    session.add(post)
    session.flush()
    audit(session, principal, action="market.post", entity="market_post", entity_id=post.id,
          detail={"unit_id": unit.id, "waste_code": code, "monthly_g": post.monthly_g})
    return post


def move_post(session: Session, post: MarketPost, *, to: str, **values) -> None:
    """Compare-and-set an open post's status (a deal and a withdrawal cannot both win)."""
    if effective_status(post) != "open":
        raise Conflict(f"post {post.id} is {effective_status(post)}", code="market.post_closed",
                       details={"status": effective_status(post)})
    done = session.execute(update(MarketPost).where(MarketPost.id == post.id, MarketPost.status == "open",
                                                    MarketPost.version == post.version)
                           .values(status=to, version=post.version + 1, closed_at=utcnow(), **values)).rowcount
    if done != 1:
        raise Conflict(f"post {post.id} was changed by someone else just now; reload it",
                       code="market.concurrent_change")
    session.refresh(post)


def close_open_offers(session: Session, post: MarketPost, *, to: str, except_id: int | None = None,
                      reason: str = "") -> None:
    for o in session.exec(select(MarketOffer).where(MarketOffer.post_id == post.id, MarketOffer.status == "open",
                                                    MarketOffer.id != (except_id or 0))).all():
        o.status, o.decided_at = to, utcnow()
        session.add(o)
        if to == "declined":
            inbox.notify(session, unit_id=o.unit_id, kind="market.offer_declined",
                         title=f"交易大厅：{post.name}（{post.waste_code}）的报价未被采纳{('：' + reason) if reason else ''}",
                         subject=("market_offer", o.id), data={"post_id": post.id})
    session.flush()


def withdraw_post(session: Session, *, principal: Principal, post_id: int, data: WithdrawIn) -> MarketPost:
    """The producer takes its post down; open offers on it are declined."""
    post = get_post(session, principal, post_id)
    require_trader(session, principal, post.unit_id)
    move_post(session, post, to="withdrawn")
    close_open_offers(session, post, to="declined", reason=data.reason or "发布方已撤回")
    audit(session, principal, action="market.withdraw", entity="market_post", entity_id=post.id,
          detail={"reason": data.reason})
    return post


def run_expiry(session: Session, *, principal: Principal) -> dict:
    """An admin writes expiries down now (what the scheduled job does)."""
    require_role(principal, "admin")
    return expire_due(session)


def expire_due(session: Session, *, now: datetime | None = None) -> dict:
    """Write down expiries (a scheduled job; reads already treat them as expired): posts past expires_at and
    offers past valid_until, or on a post that closed."""
    now = now or utcnow()
    posts = session.execute(update(MarketPost).where(MarketPost.status == "open", MarketPost.expires_at <= now)
                            .values(status="expired", closed_at=now, version=MarketPost.version + 1)).rowcount
    offers = session.execute(update(MarketOffer).where(MarketOffer.status == "open", or_(
        MarketOffer.valid_until <= now, MarketOffer.post_id.in_(select(MarketPost.id).where(
            MarketPost.status != "open")))).values(status="expired", decided_at=now)).rowcount
    return {"posts": posts, "offers": offers}
