"""The authorisation matrix, continued: the rows of the streams that came after the ledger core — alerts and their
webhooks, the 固废码, reports and declarations, history (imports, back-entered paper manifests), collection
(consents, pickup orders, lots), the inbox and zero reports, and the trading hall.

Same reading as `tests/api/test_authz_matrix.py`: a route acts on the caller's home unit of the family (the plant
for operators, unit admins and everyone without a unit; the hauler for drivers; the receiver for receiver
operators). Where a step needs a second party (an order's collector, a post's offerer, a load's sender), it is
another unit of the same family: every unit of a family holds every role and licence, so any of them can play it.
Fresh state is made through the domain services, as the platform (`SYSTEM`) or as a user of the unit whose act it
is (`as_unit`), before each request that consumes it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from PIL import Image

from alerts import webhooks
from alerts.models import Alert
from ledger import batches, manifests
from ledger.auth import SYSTEM, Principal
from ledger.collection import consents, lots, orders
from ledger.filings import inbox
from ledger.market import offers, photos, posts
from ledger.registry import plans
from ledger.reports import declarations
from ledger.workdays import today as shanghai_today

OK, ABSENT = "OK", "ABSENT"
V1 = "/api/v1"
YEAR = shanghai_today().year
OTHER = {"plant": "receiver", "hauler": "plant", "receiver": "plant"}  # the second party of a two-unit step


def grid(**rows: tuple) -> dict[str, tuple]:
    rows.setdefault("anonymous", (401, 401, 401))
    rows.setdefault("revoked", (401, 401, 401))
    return rows


# ---- grids of these streams --------------------------------------------------------------------------------------

# Mid alerts are pushed, accepted and rejected by the county or city regulator of the unit's region.
LOCAL_REGULATOR = grid(operator=(403, 404, 404), unit_admin=(403, 404, 404), driver=(403, 404, 404),
                       receiver_operator=(403, 404, 404), park_manager=(403, 404, 404),
                       county_regulator=(OK, 404, 404), city_regulator=(OK, OK, 404),
                       province_regulator=(403, 403, 404), admin=(OK, OK, OK))
# High alerts are the province's: it forwards a possible offence to enforcement.
PROVINCE = grid(operator=(403, 404, 404), unit_admin=(403, 404, 404), driver=(403, 404, 404),
                receiver_operator=(403, 404, 404), park_manager=(403, 404, 404), county_regulator=(403, 404, 404),
                city_regulator=(403, 403, 404), province_regulator=(OK, OK, 404), admin=(OK, OK, OK))
# Only the unit drafts, submits and enters its own history (HJ 1259 §7.1); the platform admin does not act as it.
DECLARANT = grid(operator=(OK, 404, 404), unit_admin=(OK, 404, 404), driver=(403, 404, 404),
                 receiver_operator=(403, 404, 404), park_manager=(403, 404, 404), county_regulator=(403, 404, 404),
                 city_regulator=(403, 403, 404), province_regulator=(403, 403, 404), admin=(403, 403, 403))
# The trading hall: a unit's own operating users post and answer; regulators and park managers supervise it (403
# whatever the unit, since the role never trades).
TRADER = grid(operator=(OK, 404, 404), unit_admin=(OK, 404, 404), driver=(403, 404, 404),
              receiver_operator=(OK, 404, 404), park_manager=(403, 403, 403), county_regulator=(403, 403, 403),
              city_regulator=(403, 403, 403), province_regulator=(403, 403, 403), admin=(OK, OK, OK))
# Once a post exists, a caller outside its reach does not learn of it (404) before its role is refused.
TRADER_ON_POST = grid(operator=(OK, 404, 404), unit_admin=(OK, 404, 404), driver=(403, 404, 404),
                      receiver_operator=(OK, 404, 404), park_manager=(403, 404, 404),
                      county_regulator=(403, 404, 404), city_regulator=(403, 403, 404),
                      province_regulator=(403, 403, 404), admin=(OK, OK, OK))
# The hall is open across regions to units licensed for the code (every unit of the world is licensed for HW08);
# park managers and regulators see the posts of their park or jurisdiction.
HALL_READ = grid(operator=(OK, OK, OK), unit_admin=(OK, OK, OK), driver=(OK, OK, OK), receiver_operator=(OK, OK, OK),
                 park_manager=(OK, 404, 404), county_regulator=(OK, 404, 404), city_regulator=(OK, OK, 404),
                 province_regulator=(OK, OK, 404), admin=(OK, OK, OK))
HALL_LIST = {role: tuple(ABSENT if x == 404 else x for x in row) for role, row in HALL_READ.items()}
# A pickup order for another unit: a collector (every unit here is one) needs that producer's consent (403 says to
# ask for it); a driver's hauler is refused the operate act on its own unit.
ORDER_RAISE = grid(operator=(OK, 403, 403), unit_admin=(OK, 403, 403), driver=(403, 403, 403),
                   receiver_operator=(OK, 403, 403), park_manager=(403, 404, 404), county_regulator=(403, 404, 404),
                   city_regulator=(403, 403, 404), province_regulator=(403, 403, 404), admin=(OK, OK, OK))
# A consent is the producer's own act: its admin grants and revokes it; the roles that never act for a unit are
# refused whatever the unit.
CONSENT = grid(operator=(403, 404, 404), unit_admin=(OK, 404, 404), driver=(403, 404, 404),
               receiver_operator=(403, 404, 404), park_manager=(403, 403, 403), county_regulator=(403, 403, 403),
               city_regulator=(403, 403, 403), province_regulator=(403, 403, 403), admin=(OK, OK, OK))
# A collector's steps on an order are its own users' (drivers included: they weigh at the door); the platform admin
# does not accept or weigh in a collector's name (it may reschedule: `COLLECTOR_SCHEDULE`).
COLLECTOR = grid(operator=(OK, 404, 404), unit_admin=(OK, 404, 404), driver=(OK, 404, 404),
                 receiver_operator=(OK, 404, 404), park_manager=(403, 404, 404), county_regulator=(403, 404, 404),
                 city_regulator=(403, 403, 404), province_regulator=(403, 403, 404), admin=(403, 403, 403))
COLLECTOR_SCHEDULE = {**COLLECTOR, "admin": (OK, OK, OK)}
ADMIN_ONLY = grid(operator=(403, 403, 403), unit_admin=(403, 403, 403), driver=(403, 403, 403),
                  receiver_operator=(403, 403, 403), park_manager=(403, 403, 403), county_regulator=(403, 403, 403),
                  city_regulator=(403, 403, 403), province_regulator=(403, 403, 403), admin=(OK, OK, OK))


# ---- fresh state ---------------------------------------------------------------------------------------------------

def as_unit(unit, role: str = "unit_admin") -> Principal:  # noqa: ANN001
    """A user of `unit` in `role`, for the steps only the unit's own people may take."""
    return Principal(user_id=0, username=f"matrix.{role}", role=role, unit_id=unit.id)


def kind_of(w, role: str) -> str:  # noqa: ANN001
    return {"driver": "hauler", "receiver_operator": "receiver"}.get(role, "plant")


def units_of(w, role: str, owner: str) -> tuple:  # noqa: ANN001
    """(home unit, the other party's unit) of the family."""
    f = w.families[owner]
    kind = kind_of(w, role)
    return f.units[kind], f.units[OTHER[kind]]


def new_alert(w, role: str, owner: str, *, tier: str = "mid", status: str = "open") -> int:  # noqa: ANN001
    unit = w.home(role, owner)
    n = next(w.serial)
    with w.session() as s:
        a = Alert(rule="MATRIX", klass="storage", tier=tier, opened_tier=tier, status=status, unit_id=unit.id,
                  region_code=unit.region_code, subject=f"matrix:{n}", subject_kind="unit", subject_id=unit.id,
                  title="矩阵测试预警", pushed_at=datetime.now(UTC) if status != "open" else None,
                  deadline_at=datetime.now(UTC) + timedelta(days=5))
        s.add(a)
        s.commit()
        return a.id


def shared(w, key: tuple, make: Callable[[], object]):  # noqa: ANN001, ANN201
    """One object per key for the read rows (made once, read by every role)."""
    if key not in w.cache:
        w.cache[key] = make()
    return w.cache[key]


def new_subscription(w, role: str, owner: str) -> int:  # noqa: ANN001
    with w.session() as s:
        sub = webhooks.create(s, principal=SYSTEM, data=webhooks.SubscriptionCreate(
            unit_id=w.home(role, owner).id, url=f"https://hooks.example.test/{next(w.serial)}"))
        s.commit()
        return sub.id


def fresh_month(w, unit_id: int) -> date:  # noqa: ANN001
    """A month of 2000–2019 that the unit has not declared yet (its own counter: no two requests collide)."""
    n = w.cache[("month", unit_id)] = w.cache.get(("month", unit_id), -1) + 1
    assert n < 240, "more declarations per unit than months to give them"
    return date(2000 + n // 12, n % 12 + 1, 1)


def new_declaration(w, role: str, owner: str, *, submit: bool = False) -> tuple[int, int]:  # noqa: ANN001
    """A draft (or submitted) monthly declaration of the home unit, for a month of its own."""
    unit = w.home(role, owner)
    month = fresh_month(w, unit.id)
    me = as_unit(unit, "operator")
    with w.session() as s:
        d = declarations.draft(s, principal=me, unit_id=unit.id, data=declarations.DraftIn(
            kind="monthly", period_start=month))
        if submit:
            d = declarations.submit(s, principal=me, unit_id=unit.id, declaration_id=d.id)
        s.commit()
        return unit.id, d.id


def new_order(w, role: str, owner: str, *, producer_is_home: bool, to: str = "requested") -> int:  # noqa: ANN001
    """A pickup order between the home unit and the other party (producer or collector), brought to `to`."""
    home, other = units_of(w, role, owner)
    producer, collector = (home, other) if producer_is_home else (other, home)
    now = datetime.now(UTC)
    with w.session() as s:
        o = orders.raise_order(s, principal=SYSTEM, data=orders.OrderCreate(
            unit_id=producer.id, collector_id=collector.id, window_from=now + timedelta(hours=1),
            window_to=now + timedelta(days=2), lines=[orders.OrderLineIn(
                waste_code="900-249-08", form="液态", estimated_kg=Decimal(40), planned_method="R9")]))
        steps = ("requested", "accepted", "scheduled", "weighed")
        col = as_unit(collector)
        # The collector weighs and labels in the producer's name: under its consent.
        if consents.live_consent(s, producer_id=producer.id, collector_id=collector.id) is None:
            consents.grant(s, principal=as_unit(producer), unit_id=producer.id, data=consents.ConsentCreate(
                collector_id=collector.id))
        for step in steps[1:steps.index(to) + 1]:
            if step == "accepted":
                orders.accept(s, principal=col, order_id=o.id, data=orders.AcceptIn())
            elif step == "scheduled":
                vehicle = next(f for f in w.families.values() if collector.id in {u.id for u in f.units.values()}
                               ).vehicles[next(k for k, u in w.families[owner].units.items()
                                               if u.id == collector.id)][0]
                orders.schedule(s, principal=col, order_id=o.id, data=orders.ScheduleIn(
                    pickup_date=shanghai_today(), vehicle_id=vehicle.id))
            elif step == "weighed":
                orders.weigh(s, principal=col, order_id=o.id, data=orders.WeighIn(
                    scale_id="COL-1", lines=[orders.WeighLineIn(line_no=1, weighings=[orders.WeighingIn(
                        gross_kg=Decimal("25.5"), tare_kg=Decimal("2.5"), container_type="塑料桶")])]))
        s.commit()
        return o.id


def new_holding(w, role: str, owner: str) -> batches.Batch:  # noqa: ANN001
    """A load the other party sent to the home unit, received into the home unit's store."""
    home, other = units_of(w, role, owner)
    f = w.families[owner]
    kind = kind_of(w, role)
    b = w.fresh_batch(other)
    M = manifests
    with w.session() as s:
        m = M.create(s, principal=SYSTEM, data=M.ManifestCreate(
            originator_id=other.id, hauler_id=f.units["hauler"].id, vehicle_id=f.vehicles["hauler"][0].id,
            receiver_id=home.id, planned_date=shanghai_today(), lines=[M.LineIn(batch_id=b.id, planned_method="R9")]))
        M.submit(s, principal=SYSTEM, m=m)
        M.pickup(s, principal=SYSTEM, m=m, data=M.PickupIn(scanned=[b.digital_id]))
        M.receive(s, principal=SYSTEM, m=m, data=M.ReceiveIn(facility_id=f.fac[(kind, "store")].id, lines=[
            M.ReceiveLineIn(batch_id=b.id, received_kg=Decimal(100), acceptance="accepted")]))
        s.commit()
        line = M.lines_of(s, m)[0]
        return s.get(batches.Batch, line.holding_id)


def new_lot(w, role: str, owner: str) -> int:  # noqa: ANN001
    sources = [new_holding(w, role, owner) for _ in range(2)]
    with w.session() as s:
        lot = lots.combine(s, principal=SYSTEM, facility_id=sources[0].storage_facility_id, data=lots.LotCreate(
            waste_code="900-249-08", source_ids=[h.id for h in sources], container_type="吨桶", operator="钱"))
        s.commit()
        return lot.id


def new_post(w, role: str, owner: str, *, by_home: bool = True) -> int:  # noqa: ANN001
    home, other = units_of(w, role, owner)
    unit = home if by_home else other
    with w.session() as s:
        p = posts.create_post(s, principal=SYSTEM, data=posts.PostCreate(
            unit_id=unit.id, waste_code="900-249-08", name="废矿物油", form="液态", monthly_kg=Decimal(500),
            lat=36.6, lon=117.0))
        s.commit()
        return p.id


def new_offer(w, role: str, owner: str, *, offer_by_home: bool) -> tuple[int, int]:  # noqa: ANN001
    """A post and an open offer: by the other party on the home unit's post, or the reverse."""
    home, other = units_of(w, role, owner)
    post_id = new_post(w, role, owner, by_home=not offer_by_home)
    offerer = home if offer_by_home else other
    with w.session() as s:
        o = offers.make_offer(s, principal=as_unit(offerer), post_id=post_id, data=offers.OfferCreate(
            unit_id=offerer.id, method="R9", fee_yuan_per_t=Decimal(300)))
        s.commit()
        return post_id, o.id


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (180, 120, 40)).save(out, "PNG")
    return out.getvalue()


def new_photo(w, role: str, owner: str) -> int:  # noqa: ANN001
    post_id = new_post(w, role, owner)
    home, _ = units_of(w, role, owner)
    with w.session() as s:
        ph = photos.add_photo(s, principal=SYSTEM, post_id=post_id, data=png(), content_type="image/png")
        s.commit()
        return ph.id


def new_consent(w, role: str, owner: str) -> tuple[int, int]:  # noqa: ANN001
    home, other = units_of(w, role, owner)
    with w.session() as s:
        c = consents.grant(s, principal=as_unit(home), unit_id=home.id, data=consents.ConsentCreate(
            collector_id=other.id))
        s.commit()
        return home.id, c.id


def new_inbox_item(w, role: str, owner: str) -> tuple[int, int]:  # noqa: ANN001
    unit = w.home(role, owner)
    with w.session() as s:
        item = inbox.notify(s, unit_id=unit.id, kind="pickup_order.cancelled", title="收集单取消（矩阵测试）",
                            subject=("matrix", next(w.serial)))
        s.commit()
        return unit.id, item.id


def new_plan(w, role: str, owner: str) -> tuple[int, int]:  # noqa: ANN001
    unit = w.home(role, owner)
    with w.session() as s:
        p = plans.file_plan(s, principal=SYSTEM, unit_id=unit.id, data=plans.PlanCreate(year=YEAR, items=[
            plans.PlanItemIn(waste_code="900-249-08", planned_kg=Decimal(10**6))]))
        s.commit()
        return unit.id, p.id


def history_csv(w) -> bytes:  # noqa: ANN001
    n = next(w.serial)
    month = f"{2000 + (n % 240) // 12}-{n % 12 + 1:02d}"
    return ("月份,废物代码,废物名称,形态,产生量(kg),自行利用量(kg),自行利用方式,月末贮存量(kg)\n"
            f"{month},321-001-S01,钢渣,固态,1000,1000,R5,0\n").encode()


def paper_manifest(w, role: str, owner: str) -> dict:  # noqa: ANN001
    f = w.families[owner]
    home = w.home(role, owner)
    b = w.fresh_batch(home)
    now = datetime.now(UTC)
    return {"paper_number": f"鲁矩{next(w.serial):07d}", "originator_id": home.id, "hauler_id": f.units["hauler"].id,
            "vehicle_id": f.vehicles["hauler"][0].id, "receiver_id": f.units["receiver"].id,
            "lines": [{"batch_id": b.id, "planned_method": "R9", "received_kg": "100"}],
            "signatories": {"originator": "王五", "hauler": "赵六", "receiver": "孙七"},
            "picked_up_at": (now - timedelta(minutes=3)).isoformat(),
            "received_at": (now - timedelta(minutes=2)).isoformat()}


# ---- request builders --------------------------------------------------------------------------------------------

def rows(Req, Row, grids: dict) -> dict:  # noqa: ANN001, N803, C901
    """The MATRIX rows of these streams (Req, Row and the core grids come from the matrix module)."""
    READ, LIST, ANY_USER = grids["READ"], grids["LIST"], grids["ANY_USER"]
    OPERATE, REGISTER, MANAGE, CERTIFY = grids["OPERATE"], grids["REGISTER"], grids["MANAGE"], grids["CERTIFY"]

    PRODUCER_ONLY = {**OPERATE, "admin": (403, 403, 403)}  # the producer confirms its figures itself

    def get(path: Callable[[object, str, str], str], list_target: Callable | None = None) -> Callable:
        return lambda w, r, o: Req("GET", f"{V1}{path(w, r, o)}",
                                   list_target=list_target(w, r, o) if list_target else None)

    def post(path: Callable, body: Callable | None = None, method: str = "POST", files: Callable | None = None
             ) -> Callable:
        def build(w, r, o):  # noqa: ANN001, ANN202
            made = path(w, r, o)
            p, ctx = made if isinstance(made, tuple) else (made, None)
            return Req(method, f"{V1}{p}", body(w, r, o, ctx) if body else None,
                       files=files(w, r, o) if files else None)
        return build

    def alert_path(tier: str, status: str, act: str) -> Callable:
        return lambda w, r, o: f"/alerts/{new_alert(w, r, o, tier=tier, status=status)}/{act}"

    def read_alert(w, r, o) -> int:  # noqa: ANN001
        return shared(w, ("alert", w.home(r, o).id), lambda: new_alert(w, r, o))

    def read_sub(w, r, o) -> int:  # noqa: ANN001
        return shared(w, ("subscription", w.home(r, o).id), lambda: new_subscription(w, r, o))

    def unit_path(suffix: str) -> Callable:
        return lambda w, r, o: f"/units/{w.home(r, o).id}{suffix}"

    def report(path: str, **extra) -> Callable:
        def build(w, r, o):  # noqa: ANN001, ANN202
            q = "&".join(f"{k}={v}" for k, v in {"scope": "unit", "id": w.home(r, o).id, **extra}.items())
            return f"/reports/{path}?{q}"
        return build

    def read_declaration(w, r, o) -> str:  # noqa: ANN001
        unit_id, d = shared(w, ("declaration", w.home(r, o).id), lambda: new_declaration(w, r, o))
        return f"/units/{unit_id}/declarations/{d}"

    def declaration(suffix: str, *, submit: bool = False) -> Callable:
        def build(w, r, o):  # noqa: ANN001, ANN202
            unit_id, d = new_declaration(w, r, o, submit=submit)
            return f"/units/{unit_id}/declarations/{d}{suffix}"
        return build

    def order(suffix: str, *, producer_is_home: bool, to: str) -> Callable:
        return lambda w, r, o: f"/pickup-orders/{new_order(w, r, o, producer_is_home=producer_is_home, to=to)}" \
                               f"{suffix}"

    def read_order(w, r, o) -> int:  # noqa: ANN001
        return shared(w, ("order", w.home(r, o).id), lambda: new_order(w, r, o, producer_is_home=True))

    def read_post(w, r, o) -> int:  # noqa: ANN001
        return shared(w, ("post", w.home(r, o).id), lambda: new_post(w, r, o))

    def offer_path(suffix: str, *, offer_by_home: bool) -> Callable:
        def build(w, r, o):  # noqa: ANN001, ANN202
            post_id, offer_id = new_offer(w, r, o, offer_by_home=offer_by_home)
            return f"/market/posts/{post_id}/offers/{offer_id}{suffix}"
        return build

    def order_body(w, r, o, _ctx) -> dict:  # noqa: ANN001
        home, other = units_of(w, r, o)
        now = datetime.now(UTC)
        return {"unit_id": home.id, "collector_id": other.id, "window_from": (now + timedelta(hours=1)).isoformat(),
                "window_to": (now + timedelta(days=2)).isoformat(), "lines": [{
                    "waste_code": "900-249-08", "form": "液态", "estimated_kg": "40", "planned_method": "R9"}]}

    def schedule_body(w, r, o, _ctx) -> dict:  # noqa: ANN001
        kind = kind_of(w, r)
        return {"pickup_date": str(shanghai_today()), "vehicle_id": w.families[o].vehicles[kind][0].id}

    def weigh_body(w, r, o, _ctx) -> dict:  # noqa: ANN001
        return {"scale_id": "COL-1", "lines": [{"line_no": 1, "weighings": [
            {"gross_kg": "25.5", "tare_kg": "2.5", "container_type": "塑料桶"}]}]}

    def lot_path(w, r, o) -> tuple[str, list[batches.Batch]]:  # noqa: ANN001
        sources = [new_holding(w, r, o) for _ in range(2)]
        return f"/facilities/{sources[0].storage_facility_id}/lots", sources

    def read_lot(w, r, o) -> int:  # noqa: ANN001
        return shared(w, ("lot", w.home(r, o).id), lambda: new_lot(w, r, o))

    def zero_day(w, r, o, _ctx) -> dict:  # noqa: ANN001
        return {"day": str(shanghai_today() - timedelta(days=2 + next(w.serial) % 25))}  # no records on those days

    def consent_body(w, r, o, _ctx) -> dict:  # noqa: ANN001
        return {"collector_id": units_of(w, r, o)[1].id}

    def consent_path(w, r, o) -> str:  # noqa: ANN001
        unit_id, c = new_consent(w, r, o)
        return f"/units/{unit_id}/consents/{c}/revoke"

    def inbox_path(w, r, o) -> str:  # noqa: ANN001
        unit_id, item = new_inbox_item(w, r, o)
        return f"/units/{unit_id}/inbox/{item}/ack"

    def plan_path(w, r, o) -> str:  # noqa: ANN001
        unit_id, p = new_plan(w, r, o)
        return f"/units/{unit_id}/plans/{p}/return"

    def post_body(w, r, o, _ctx) -> dict:  # noqa: ANN001
        return {"unit_id": w.home(r, o).id, "waste_code": "900-249-08", "name": "废矿物油", "form": "液态",
                "monthly_kg": "500", "lat": 36.6, "lon": 117.0}

    def offer_body(w, r, o, _ctx) -> dict:  # noqa: ANN001
        return {"unit_id": w.home(r, o).id, "method": "R9", "fee_yuan_per_t": "300"}

    def offer_post(w, r, o) -> str:  # noqa: ANN001
        return f"/market/posts/{new_post(w, r, o, by_home=False)}/offers"

    def note(text: str, key: str = "reason") -> Callable:
        return lambda w, r, o, _ctx: {key: text}

    def empty(w, r, o, _ctx) -> dict:  # noqa: ANN001
        return {}

    return {
        # alerts and webhooks
        "GET /api/v1/alerts": Row(LIST, get(lambda w, r, o: "/alerts?limit=500", read_alert)),
        "GET /api/v1/alerts/stats": Row(ANY_USER, get(lambda w, r, o: "/alerts/stats")),
        "GET /api/v1/alerts/rules": Row(ANY_USER, get(lambda w, r, o: "/alerts/rules")),
        "GET /api/v1/alerts/{alert_id}": Row(READ, get(lambda w, r, o: f"/alerts/{read_alert(w, r, o)}")),
        "POST /api/v1/alerts/{alert_id}/push": Row(LOCAL_REGULATOR, post(alert_path("mid", "open", "push"), empty)),
        "POST /api/v1/alerts/{alert_id}/rectify": Row(REGISTER, post(alert_path("mid", "pushed", "rectify"),
                                                                     note("已更换贮存容器并补录台账", "text"))),
        "POST /api/v1/alerts/{alert_id}/accept": Row(LOCAL_REGULATOR, post(alert_path("mid", "rectified", "accept"),
                                                                           empty)),
        "POST /api/v1/alerts/{alert_id}/reject": Row(LOCAL_REGULATOR, post(alert_path("mid", "rectified", "reject"),
                                                                           note("整改材料不全"))),
        "POST /api/v1/alerts/{alert_id}/close": Row(CERTIFY, post(alert_path("mid", "open", "close"), note("误报"))),
        "POST /api/v1/alerts/{alert_id}/forward": Row(PROVINCE, post(alert_path("high", "open", "forward"),
                                                                     note("涉嫌非法倾倒"))),
        "POST /api/v1/webhooks": Row(MANAGE, post(lambda w, r, o: "/webhooks", lambda w, r, o, _c: {
            "unit_id": w.home(r, o).id, "url": f"https://hooks.example.test/{next(w.serial)}"})),
        "GET /api/v1/webhooks": Row(LIST, get(lambda w, r, o: "/webhooks", read_sub)),
        "POST /api/v1/webhooks/{subscription_id}/enable": Row(MANAGE, post(
            lambda w, r, o: f"/webhooks/{new_subscription(w, r, o)}/enable")),
        "GET /api/v1/webhooks/{subscription_id}/deliveries": Row(READ, get(
            lambda w, r, o: f"/webhooks/{read_sub(w, r, o)}/deliveries")),
        "GET /api/v1/units/{unit_id}/code": Row(READ, get(unit_path("/code"))),
        "GET /api/v1/units/{unit_id}/code.png": Row(READ, get(unit_path("/code.png"))),
        # reports and declarations
        "GET /api/v1/reports/indicators": Row(READ, get(report("indicators", year=YEAR))),
        "GET /api/v1/reports/records": Row(READ, get(report("records", year=YEAR, figure="generated"))),
        "GET /api/v1/reports/application": Row(READ, get(report("application", years=YEAR))),
        "GET /api/v1/reports/application.xlsx": Row(READ, get(report("application.xlsx", years=YEAR))),
        "GET /api/v1/reports/charts/monthly.svg": Row(READ, get(report("charts/monthly.svg", year=YEAR))),
        "GET /api/v1/reports/charts/rates.svg": Row(READ, get(report("charts/rates.svg", **{
            "from": YEAR - 2, "to": YEAR}))),
        "GET /api/v1/units/{unit_id}/declarations": Row(READ, get(unit_path("/declarations"))),
        "GET /api/v1/units/{unit_id}/declarations/{declaration_id}": Row(READ, get(read_declaration)),
        "POST /api/v1/units/{unit_id}/declarations": Row(DECLARANT, post(unit_path("/declarations"), lambda
            w, r, o, _c: {"kind": "monthly", "period_start": str(fresh_month(w, w.home(r, o).id))})),
        "PATCH /api/v1/units/{unit_id}/declarations/{declaration_id}": Row(DECLARANT, post(
            declaration(""), note("本月无异常", "note"), method="PATCH")),
        "POST /api/v1/units/{unit_id}/declarations/{declaration_id}/submit": Row(DECLARANT, post(
            declaration("/submit"))),
        "POST /api/v1/units/{unit_id}/declarations/{declaration_id}/correct": Row(DECLARANT, post(
            declaration("/correct", submit=True), note("复磅更正产生量"))),
        "POST /api/v1/units/{unit_id}/declarations/{declaration_id}/return": Row(CERTIFY, post(
            declaration("/return", submit=True), note("请补充转移去向"))),
        # history
        "POST /api/v1/units/{unit_id}/imports": Row(DECLARANT, post(unit_path("/imports"), files=lambda w, r, o: {
            "file": ("history.csv", history_csv(w))})),
        "POST /api/v1/manifests/back-entry": Row(DECLARANT, post(lambda w, r, o: "/manifests/back-entry",
                                                                 lambda w, r, o, _c: paper_manifest(w, r, o))),
        # collection: consents, pickup orders, lots
        "POST /api/v1/units/{unit_id}/consents": Row(CONSENT, post(unit_path("/consents"), consent_body)),
        "GET /api/v1/units/{unit_id}/consents": Row(READ, get(unit_path("/consents"))),
        "POST /api/v1/units/{unit_id}/consents/{consent_id}/revoke": Row(CONSENT, post(consent_path,
                                                                                        note("不再委托"))),
        "POST /api/v1/pickup-orders": Row(ORDER_RAISE, post(lambda w, r, o: "/pickup-orders", order_body)),
        "GET /api/v1/pickup-orders": Row(LIST, get(lambda w, r, o: "/pickup-orders?limit=500", read_order)),
        "GET /api/v1/pickup-orders/{order_id}": Row(READ, get(lambda w, r, o: f"/pickup-orders/{read_order(w, r, o)}")),
        "POST /api/v1/pickup-orders/{order_id}/accept": Row(COLLECTOR, post(order(
            "/accept", producer_is_home=False, to="requested"), empty)),
        "POST /api/v1/pickup-orders/{order_id}/schedule": Row(COLLECTOR_SCHEDULE, post(order(
            "/schedule", producer_is_home=False, to="accepted"), schedule_body)),
        "POST /api/v1/pickup-orders/{order_id}/weigh": Row(COLLECTOR, post(order(
            "/weigh", producer_is_home=False, to="scheduled"), weigh_body)),
        "POST /api/v1/pickup-orders/{order_id}/confirm": Row(PRODUCER_ONLY, post(order(
            "/confirm", producer_is_home=True, to="weighed"), empty)),
        "POST /api/v1/pickup-orders/{order_id}/cancel": Row(OPERATE, post(order(
            "/cancel", producer_is_home=True, to="requested"), note("改期"))),
        "POST /api/v1/facilities/{facility_id}/lots": Row(OPERATE, post(lot_path, lambda w, r, o, h: {
            "waste_code": "900-249-08", "source_ids": [x.id for x in h], "container_type": "吨桶", "operator": "钱"})),
        "GET /api/v1/lots/{lot_id}": Row(READ, get(lambda w, r, o: f"/lots/{read_lot(w, r, o)}")),
        # inbox, zero reports, returned plans
        "GET /api/v1/units/{unit_id}/inbox": Row(READ, get(unit_path("/inbox"))),
        "POST /api/v1/units/{unit_id}/inbox/{item_id}/ack": Row(OPERATE, post(inbox_path)),
        "POST /api/v1/units/{unit_id}/zero-reports": Row(OPERATE, post(unit_path("/zero-reports"), zero_day)),
        "GET /api/v1/units/{unit_id}/zero-reports": Row(READ, get(unit_path("/zero-reports"))),
        "POST /api/v1/units/{unit_id}/plans/{plan_id}/return": Row(CERTIFY, post(plan_path,
                                                                                 note("请补充利用处置去向"))),
        # the trading hall
        "POST /api/v1/market/posts": Row(TRADER, post(lambda w, r, o: "/market/posts", post_body)),
        "GET /api/v1/market/posts": Row(HALL_LIST, get(lambda w, r, o: "/market/posts?limit=500", read_post)),
        "GET /api/v1/market/posts/{post_id}": Row(HALL_READ, get(lambda w, r, o: f"/market/posts/{read_post(w, r, o)}")),
        "POST /api/v1/market/posts/{post_id}/withdraw": Row(TRADER_ON_POST, post(
            lambda w, r, o: f"/market/posts/{new_post(w, r, o)}/withdraw", empty)),
        "POST /api/v1/market/posts/{post_id}/photos": Row(TRADER_ON_POST, post(
            lambda w, r, o: f"/market/posts/{new_post(w, r, o)}/photos", files=lambda w, r, o: {
                "file": ("sample.png", png(), "image/png")})),
        "GET /api/v1/market/photos/{photo_id}": Row(HALL_READ, get(lambda w, r, o: "/market/photos/" + str(shared(
            w, ("photo", w.home(r, o).id), lambda: new_photo(w, r, o))))),
        "POST /api/v1/market/posts/{post_id}/offers": Row(TRADER, post(offer_post, offer_body)),
        "POST /api/v1/market/posts/{post_id}/offers/{offer_id}/accept": Row(REGISTER, post(offer_path(
            "/accept", offer_by_home=False), empty)),
        "POST /api/v1/market/posts/{post_id}/offers/{offer_id}/withdraw": Row(TRADER_ON_POST, post(offer_path(
            "/withdraw", offer_by_home=True))),
        "POST /api/v1/market/expire": Row(ADMIN_ONLY, post(lambda w, r, o: "/market/expire")),
    }

