"""Pickup orders (上门收集): a small producer, or its collector under its consent, raises an order; a collector
accepts and schedules it; at the door the driver weighs and labels (batches generated in the PRODUCER's journal,
signed by the driver acting under the consent) or takes the producer's own labelled batches; the producer
confirms with its own login; the order becomes a manifest (usual checks, records and signatures), so the
producer's ledger fills itself.

States: requested → accepted → scheduled (→ scheduled again) → weighed → confirmed; cancelled before confirmation.
Every transition is `UPDATE … WHERE id = ? AND status = ? AND version = ?`: of two racing accepts one wins, the
other gets 409.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, select

from ledger import batches, manifests, throttle
from ledger.accounts import User
from ledger.auth import Principal, act_for_producer, audit, check_password, may, require_unit
from ledger.batches import Batch
from ledger.codes import province_of
from ledger.collection.licences import covering_licences, is_general
from ledger.collection.models import Consent, PickupOrder, PickupOrderEvent, PickupOrderLine
from ledger.collection.order_views import (  # noqa: F401  (re-exported: the schemas and reading live there)
    AcceptIn,
    CancelIn,
    ConfirmationFailed,
    ConfirmIn,
    OrderCreate,
    OrderEventPublic,
    OrderLineIn,
    OrderLinePublic,
    OrderPublic,
    ScheduleIn,
    WeighIn,
    WeighingIn,
    WeighLineIn,
    Where,
    _collector_of,
    _eligible,
    can_see_order,
    get_order,
    lines_of,
    list_orders,
    order_public,
)
from ledger.counters import next_value
from ledger.errors import Conflict, Forbidden, InvalidInput
from ledger.filings import inbox
from ledger.mass import g_to_kg, kg_to_g
from ledger.registry.catalogue import check_waste_code, lookup_waste_code
from ledger.registry.models import Facility, Method, Unit
from ledger.types import utcnow
from ledger.users import LoginLimits
from ledger.workdays import local_day
from ledger.workdays import today as shanghai_today

MAX_CONFIRM_FAILURES = 5  # wrong producer credentials typed on the driver's phone before that way is locked
MAX_WINDOW_DAYS = 31


# ---- helpers -------------------------------------------------------------------------------------------------

def _event(session: Session, o: PickupOrder, principal: Principal, action: str, before: str | None,
           after: str | None, where: Where | None = None, **detail) -> None:
    session.add(PickupOrderEvent(
        order_id=o.id, unit_id=o.unit_id, action=action, from_status=before, to_status=after,
        user_id=principal.user_id or None, user_name=principal.username,
        acting_unit_id=principal.extra.get("collector_id", principal.unit_id),
        consent_id=principal.extra.get("consent_id"), at=utcnow(), lat=where.lat if where else None,
        lon=where.lon if where else None, detail=detail))


def _move(session: Session, o: PickupOrder, *, expect: tuple[str, ...], to: str, **values) -> None:
    """Compare-and-set the status: of two racing steps one wins, the other gets 409."""
    if o.status not in expect:
        raise Conflict(f"pickup order {o.number} is {o.status}; this step needs {' or '.join(expect)}",
                       code="pickup_order.invalid_transition", details={"status": o.status, "expected": list(expect)})
    done = session.execute(update(PickupOrder).where(PickupOrder.id == o.id, PickupOrder.status == o.status,
                                                     PickupOrder.version == o.version)
                           .values(status=to, version=o.version + 1, **values)).rowcount
    if done != 1:
        raise Conflict(f"pickup order {o.number} was changed by someone else just now; reload it",
                       code="pickup_order.concurrent_change")
    session.refresh(o)


def _method(session: Session, code: str, field: str) -> str:
    m = session.get(Method, code.strip().upper())
    if m is None:
        raise InvalidInput(f"unknown method {code!r}: use an R*, D* or C* code", field=field, code="method.unknown")
    return m.code


def _set_methods(session: Session, o: PickupOrder, methods: dict[int, str], *, require: bool) -> None:
    lines = {ln.line_no: ln for ln in lines_of(session, o)}
    for no, code in methods.items():
        if no not in lines:
            raise InvalidInput(f"order {o.number} has no line {no}", field=f"planned_methods.{no}")
        lines[no].planned_method = _method(session, code, f"planned_methods.{no}")
        session.add(lines[no])
    if require:
        missing = [no for no, ln in lines.items() if not ln.planned_method]
        if missing:
            raise InvalidInput(f"line(s) {missing} have no planned method: give planned_methods "
                               "{line_no: 'R9'} (the end receiver's method)", field="planned_methods",
                               code="pickup_order.method_missing")


def _collector_user(session: Session, principal: Principal, o: PickupOrder, what: str) -> Unit:
    """The caller acts for the order's collector (its own users with operate or haul)."""
    collector = _collector_of(session, principal)
    if principal.is_admin and o.collector_id:
        return session.get(Unit, o.collector_id)
    if collector is None or collector.id != o.collector_id:
        raise Forbidden(f"only the collector of order {o.number} may {what}", code="pickup_order.wrong_party",
                        details={"collector_id": o.collector_id})
    if not (may(principal, collector, "operate") or may(principal, collector, "haul")):
        raise Forbidden(f"your role '{principal.role}' may not {what} for {collector.name}", code="auth.forbidden")
    return collector


def _generation_point(session: Session, o: PickupOrder) -> Facility:
    if o.generation_facility_id:
        return session.get(Facility, o.generation_facility_id)
    points = session.exec(select(Facility).where(Facility.unit_id == o.unit_id, Facility.kind == "generation")
                          .order_by(Facility.id)).all()
    if len(points) != 1:
        raise InvalidInput(f"the producer has {len(points)} generation points: name the one where the waste is "
                           "weighed (generation_facility_id on the order)" if points else
                           "the producer has no generation point registered: it registers one "
                           f"(POST /units/{o.unit_id}/facilities, kind generation) before waste is weighed in its "
                           "name", field="generation_facility_id", code="pickup_order.generation_point")
    return points[0]


# ---- services ------------------------------------------------------------------------------------------------

def raise_order(session: Session, *, principal: Principal, data: OrderCreate) -> PickupOrder:
    """The producer (or its collector, under its live consent) asks for a pickup."""
    producer = session.get(Unit, data.unit_id)
    consent: Consent | None = None
    if producer is not None and principal.unit_id not in (None, producer.id) and _collector_of(session, principal):
        delegated = act_for_producer(session, principal, producer_id=producer.id, purpose="raise a pickup order")
        consent = session.get(Consent, delegated.extra["consent_id"])
        if data.collector_id not in (None, principal.unit_id):
            raise InvalidInput("a collector raises orders for itself: leave collector_id empty or name yourself",
                               field="collector_id")
        collector_id: int | None = principal.unit_id
    else:
        producer = require_unit(session, principal, data.unit_id, act="operate")
        collector_id = data.collector_id
    if not producer.is_generator:
        raise InvalidInput(f"{producer.name} is not registered as a generator", field="unit_id")
    now = utcnow()
    for f in ("window_from", "window_to"):
        if getattr(data, f).tzinfo is None:
            raise InvalidInput("give the time with its timezone, e.g. 2026-12-01T09:00:00+08:00", field=f)
    if data.window_to <= data.window_from:
        raise InvalidInput("window_to must be after window_from", field="window_to")
    if data.window_to <= now:
        raise InvalidInput("the window has already passed: give a window in the future", field="window_to")
    if data.window_to - data.window_from > timedelta(days=MAX_WINDOW_DAYS):
        raise InvalidInput(f"the window is longer than {MAX_WINDOW_DAYS} days", field="window_to")
    lines, seen = [], set()
    for i, ln in enumerate(data.lines):
        code, entry = lookup_waste_code(session, ln.waste_code)
        check_waste_code(session, code, field=f"lines[{i}].waste_code")
        if code in seen:
            raise InvalidInput(f"{code} appears twice; put its whole estimate on one line",
                               field=f"lines[{i}].waste_code")
        seen.add(code)
        if consent is not None and consent.waste_codes and not any(
                c in (code, "HW" + code[-2:]) for c in consent.waste_codes):
            raise Forbidden(f"the producer's consent covers {', '.join(consent.waste_codes)}, not {code}",
                            code="consent.code_not_covered", details={"field": f"lines[{i}].waste_code"})
        name = (ln.name or (entry.description[:60] if entry else code)).strip()
        lines.append(PickupOrderLine(order_id=0, unit_id=producer.id, line_no=i + 1, waste_code=code, name=name,
                                     form=ln.form, estimated_g=kg_to_g(ln.estimated_kg, field=f"lines[{i}].estimated_kg"),
                                     planned_method=_method(session, ln.planned_method, f"lines[{i}].planned_method")
                                     if ln.planned_method else None))
    today = shanghai_today()
    if collector_id is not None:
        collector = session.get(Unit, collector_id)
        if collector is None or not collector.is_collector:
            raise InvalidInput(f"unit {collector_id} is not a registered collector", field="collector_id")
        for i, ln in enumerate(lines):
            if not is_general(ln.waste_code) and not covering_licences(session, collector=collector,
                                                                       code=ln.waste_code, on=today):
                raise InvalidInput(f"{collector.name} holds no collection licence valid today covering "
                                   f"{ln.waste_code}", field=f"lines[{i}].waste_code", code="pickup_order.collector_licence")
    if data.generation_facility_id is not None:
        f = session.get(Facility, data.generation_facility_id)
        if f is None or f.unit_id != producer.id or f.kind != "generation":
            raise InvalidInput(f"facility {data.generation_facility_id} is not a generation point of "
                               f"{producer.name}", field="generation_facility_id")
    address = data.address or producer.address
    if not address:
        raise InvalidInput("give the pickup address (the unit has none registered)", field="address")
    serial = next_value(session, f"pickup:{today:%Y%m%d}")
    o = PickupOrder(number=f"SY{today:%Y%m%d}{serial:04d}", unit_id=producer.id, collector_id=collector_id,
                    open_to_all=collector_id is None, status="requested", raised_by_unit=principal.unit_id if consent else producer.id,
                    raised_by_user=principal.user_id or None, consent_id=consent.id if consent else None,
                    address=address, contact=data.contact or producer.contact, phone=data.phone or producer.phone,
                    window_from=data.window_from, window_to=data.window_to, note=data.note,
                    generation_facility_id=data.generation_facility_id, created_at=now)
    session.add(o)
    session.flush()
    for ln in lines:
        ln.order_id = o.id
        session.add(ln)
    session.flush()
    who = principal if consent is None else replace(principal, extra={"collector_id": principal.unit_id,
                                                                       "consent_id": consent.id})
    _event(session, o, who, "raise", None, "requested", codes=sorted(seen))
    audit(session, principal, action="pickup_order.raise", entity="pickup_order", entity_id=o.id,
          detail={"unit_id": producer.id, "collector_id": collector_id, "consent_id": o.consent_id})
    summary = "、".join(f"{ln.name} {g_to_kg(ln.estimated_g)} kg" for ln in lines)
    if consent is not None:
        inbox.notify(session, unit_id=producer.id, kind="pickup_order.raised_for_you",
                     title=f"{session.get(Unit, collector_id).name} 代贵单位下单收集：{summary}",
                     subject=("pickup_order", o.id), data={"number": o.number, "consent_id": consent.id})
    targets = [collector_id] if collector_id else [
        u.id for u in session.exec(select(Unit).where(Unit.is_collector.is_(True), Unit.region_code.startswith(
            province_of(producer.region_code)))).all() if _eligible(session, u, o, sorted(seen), today)]
    if consent is None:
        for uid in targets:
            inbox.notify(session, unit_id=uid, kind="pickup_order.requested",
                         title=f"{producer.name} 下单收集：{summary}（{o.address}）", subject=("pickup_order", o.id),
                         data={"number": o.number, "producer_id": producer.id, "open": collector_id is None})
    return o


def accept(session: Session, *, principal: Principal, order_id: int, data: AcceptIn) -> PickupOrder:
    """A collector takes the order (an open order goes to the first collector to accept)."""
    collector = _collector_of(session, principal)
    # locked first (PostgreSQL): a collector that comes second waits for the first to commit, then reads that it
    # was taken (409), never an order that vanished from its scope between two reads (404)
    taken = session.get(PickupOrder, order_id, populate_existing=True, with_for_update=True)
    if (taken is not None and taken.open_to_all and collector is not None and taken.collector_id not in
            (None, collector.id) and _eligible(session, collector, taken,
                                               [ln.waste_code for ln in lines_of(session, taken)], shanghai_today())):
        raise Conflict(f"order {taken.number} was taken by another collector just now",
                       code="pickup_order.taken", details={"status": taken.status})
    o = get_order(session, principal, order_id)
    if collector is None or not (may(principal, collector, "operate") or may(principal, collector, "haul")):
        raise Forbidden("a collector's own users accept pickup orders", code="pickup_order.wrong_party")
    if o.collector_id not in (None, collector.id):
        raise Forbidden(f"order {o.number} is addressed to another collector", code="pickup_order.wrong_party")
    codes = [ln.waste_code for ln in lines_of(session, o)]
    if not _eligible(session, collector, o, codes, shanghai_today()):
        raise Forbidden(f"{collector.name} holds no collection licence valid today covering every code of order "
                        f"{o.number} ({', '.join(codes)}) in the producer's province", code="pickup_order.collector_licence")
    _set_methods(session, o, data.planned_methods, require=False)
    before = o.status
    _move(session, o, expect=("requested",), to="accepted", collector_id=collector.id, accepted_at=utcnow())
    _event(session, o, principal, "accept", before, o.status, note=data.note)
    inbox.resolve(session, subject=("pickup_order", o.id), kinds=("pickup_order.requested",), by=principal.user_id)
    inbox.notify(session, unit_id=o.unit_id, kind="pickup_order.accepted",
                 title=f"{collector.name} 已接单 {o.number}", subject=("pickup_order", o.id),
                 data={"number": o.number, "collector_id": collector.id})
    return o


def schedule(session: Session, *, principal: Principal, order_id: int, data: ScheduleIn) -> PickupOrder:
    """The collector names the vehicle, the driver and the day (again to reschedule)."""
    o = get_order(session, principal, order_id)
    collector = _collector_user(session, principal, o, "schedule it")
    hauler = session.get(Unit, data.hauler_id or collector.id)
    if hauler is None:
        raise InvalidInput(f"unit {data.hauler_id} does not exist", field="hauler_id")
    if data.pickup_date < shanghai_today():
        raise InvalidInput(f"{data.pickup_date} has passed: schedule today or later", field="pickup_date")
    manifests.check_hauler(session, hauler=hauler, vehicle_id=data.vehicle_id, on=data.pickup_date)
    if data.driver_id is not None:
        d = session.get(User, data.driver_id)
        if d is None or d.unit_id != hauler.id or d.role not in ("driver", "unit_admin") or not d.active:
            raise InvalidInput(f"user {data.driver_id} is not a driver of {hauler.name}", field="driver_id")
    _set_methods(session, o, data.planned_methods, require=True)
    before = o.status
    _move(session, o, expect=("accepted", "scheduled"), to="scheduled", hauler_id=hauler.id,
          vehicle_id=data.vehicle_id, driver_id=data.driver_id, pickup_date=data.pickup_date, scheduled_at=utcnow())
    _event(session, o, principal, "schedule", before, o.status, pickup_date=data.pickup_date.isoformat(),
           vehicle_id=data.vehicle_id, driver_id=data.driver_id, hauler_id=hauler.id)
    inbox.notify(session, unit_id=o.unit_id, kind="pickup_order.scheduled",
                 title=f"{o.number} 定于 {data.pickup_date} 上门收集", subject=("pickup_order", o.id),
                 data={"number": o.number, "pickup_date": data.pickup_date.isoformat()})
    return o


def weigh(session: Session, *, principal: Principal, order_id: int, data: WeighIn) -> tuple[PickupOrder, list[Batch]]:
    """At the door: weigh and label what has no label yet (in the producer's journal, under its consent), or take
    the producer's own labelled batches. The producer then confirms the figures."""
    o = get_order(session, principal, order_id)
    collector = _collector_user(session, principal, o, "weigh at the door")
    if o.status != "scheduled":
        raise Conflict(f"pickup order {o.number} is {o.status}; weighing needs scheduled",
                       code="pickup_order.invalid_transition", details={"status": o.status, "expected": ["scheduled"]})
    lines = {ln.line_no: ln for ln in lines_of(session, o)}
    given = {}
    for i, wl in enumerate(data.lines):
        if wl.line_no not in lines:
            raise InvalidInput(f"order {o.number} has no line {wl.line_no}", field=f"lines[{i}].line_no")
        if wl.line_no in given:
            raise InvalidInput(f"line {wl.line_no} is given twice", field=f"lines[{i}].line_no")
        given[wl.line_no] = (i, wl)
    if not any(wl.weighings or wl.batch_ids for _, wl in given.values()):
        raise InvalidInput("nothing was weighed or taken: give weighings or the producer's batch_ids", field="lines")
    occurred = data.occurred_at or utcnow()
    operator = data.operator or principal.username
    items, plan = [], []
    delegated = None
    if any(wl.weighings for _, wl in given.values()):
        delegated = act_for_producer(session, principal, producer_id=o.unit_id, purpose="weigh and label")
        consent = session.get(Consent, delegated.extra["consent_id"])
        point = _generation_point(session, o)
        for no, (i, wl) in given.items():
            ln = lines[no]
            if wl.weighings and consent.waste_codes and not any(
                    c in (ln.waste_code, "HW" + ln.waste_code[-2:]) for c in consent.waste_codes):
                raise Forbidden(f"the producer's consent covers {', '.join(consent.waste_codes)}, not "
                                f"{ln.waste_code}: the producer weighs it itself", code="consent.code_not_covered",
                                details={"field": f"lines[{i}].weighings"})
            for j, w in enumerate(wl.weighings):
                items.append(batches.BatchCreate(
                    unit_id=o.unit_id, waste_code=ln.waste_code, name=ln.name, form=ln.form, facility_id=point.id,
                    container_type=w.container_type, container_count=w.container_count,
                    container_volume_l=w.container_volume_l, gross_kg=w.gross_kg, tare_kg=w.tare_kg,
                    scale_id=data.scale_id, operator=operator, occurred_at=occurred, components=w.components))
                plan.append((no, f"lines[{i}].weighings[{j}]"))
    taken: dict[int, list[Batch]] = {}
    for no, (i, wl) in given.items():
        ln = lines[no]
        for j, bid in enumerate(wl.batch_ids):
            b = session.get(Batch, bid, populate_existing=True)
            f = f"lines[{i}].batch_ids[{j}]"
            if b is None or b.holder_unit_id != o.unit_id:
                raise InvalidInput(f"batch {bid} is not held by the producer", field=f)
            if b.waste_code != ln.waste_code:
                raise InvalidInput(f"batch {b.digital_id} is {b.waste_code}, line {no} is {ln.waste_code}", field=f)
            if b.remaining_g <= 0:
                raise InvalidInput(f"batch {b.digital_id} holds nothing", field=f)
            if manifests.open_manifest_of(session, b.id) is not None:
                raise InvalidInput(f"batch {b.digital_id} is already on an open manifest", field=f)
            taken.setdefault(no, []).append(b)
    try:
        made = batches.generate_many(session, principal=delegated, items=items) if items else []
    except InvalidInput as e:  # name the weighing, not the internal bulk item
        field = str(e.details.get("field", ""))
        if field.startswith("items["):
            k = int(field[6:field.index("]")])
            e.details["field"] = plan[k][1] + field[field.index("]") + 1:]
        raise
    for (no, _), b in zip(plan, made, strict=True):
        taken.setdefault(no, []).append(b)
    for no, ln in lines.items():
        got = taken.get(no, [])
        ln.batch_ids = [b.id for b in got]
        ln.weighed_g = sum(b.remaining_g for b in got)
        session.add(ln)
    before = o.status
    weighed_on = data.weighed_on if made else "labelled"
    _move(session, o, expect=("scheduled",), to="weighed", weighed_at=utcnow(), weighed_on=weighed_on)
    all_batches = [b for no in sorted(taken) for b in taken[no]]
    _event(session, o, delegated or principal, "weigh", before, o.status, data, scale_id=data.scale_id,
           weighed_on=weighed_on, operator=operator, generated=[b.id for b in made],
           taken=[b.id for b in all_batches if b not in made])
    inbox.notify(session, unit_id=o.unit_id, kind="pickup_order.awaiting_confirmation",
                 title=f"{collector.name} 已上门称重 {o.number}：" + "、".join(
                     f"{lines[no].name} {g_to_kg(lines[no].weighed_g)} kg" for no in sorted(taken)) + "；请确认",
                 subject=("pickup_order", o.id),
                 data={"number": o.number, "generated_for_you": [b.digital_id for b in made],
                       "batches": [{"id": b.id, "digital_id": b.digital_id, "waste_code": b.waste_code,
                                    "net_kg": str(g_to_kg(b.net_g))} for b in all_batches],
                       "weighed_by": operator, "consent_id": delegated.extra["consent_id"] if delegated else None})
    return o, all_batches


def _producer_principal(session: Session, principal: Principal, o: PickupOrder, data: ConfirmIn,
                        limits: LoginLimits | None = None) -> tuple[Principal, str]:
    """Who confirms: the producer's own login, or its own credentials typed on the driver's phone."""
    if principal.unit_id == o.unit_id:
        require_unit(session, principal, o.unit_id, act="operate")
        return principal, "own_login"
    if principal.unit_id is None or principal.unit_id not in (o.collector_id, o.hauler_id):
        raise Forbidden(f"the producer confirms order {o.number} itself: with its own login, or with its own "
                        "username and password on the driver's phone", code="pickup_order.wrong_party")
    if not data.username or not data.password:
        raise InvalidInput("on the driver's phone the producer types its own username and password to confirm",
                           field="username", code="pickup_order.producer_credentials")
    if o.confirm_failures >= MAX_CONFIRM_FAILURES:
        raise Conflict(f"{MAX_CONFIRM_FAILURES} wrong attempts: confirmation on the driver's phone is locked for "
                       f"order {o.number}; the producer confirms from its own login", code="pickup_order.confirm_locked")
    # A password typed here is a login attempt: it shares the account's and the address's allowance with
    # `POST /auth/login` (429 with Retry-After once used up), so orders cannot be used to guess a password.
    attempts = (limits or LoginLimits()).attempts(data.username, principal.source_ip)
    throttle.check(session, attempts)
    user = session.exec(select(User).where(User.username == data.username)).first()
    ok = check_password(user, data.password)
    if not ok or user.unit_id != o.unit_id or user.role not in ("operator", "unit_admin"):
        left = MAX_CONFIRM_FAILURES - o.confirm_failures - 1
        e = ConfirmationFailed(f"these are not the credentials of a user of the producer: the producer types its "
                               f"own username and password ({left} attempt(s) left)", details={
                                   "field": "password", "attempts_left": left, "order_id": o.id})
        e.attempts = [] if ok else attempts  # a wrong password counts towards the login limits
        raise e
    throttle.succeeded(session, attempts[0][0], data.username)
    return Principal.of(user, source_ip=principal.source_ip, user_agent=principal.user_agent), "driver_phone"


def count_failed_confirmation(session: Session, *, order_id: int, attempts: list | None = None) -> None:
    """Count a wrong credential (called by the API in its own transaction: the refused request rolls back): on the
    order, and a wrong password also against the login limits (`ConfirmationFailed.attempts`)."""
    session.execute(update(PickupOrder).where(PickupOrder.id == order_id)
                    .values(confirm_failures=PickupOrder.confirm_failures + 1))
    if attempts:
        throttle.failed(session, attempts)


def confirm(session: Session, *, principal: Principal, order_id: int, data: ConfirmIn,
            limits: LoginLimits | None = None) -> tuple[PickupOrder, manifests.Manifest]:
    """The producer confirms the weighed figures: the order becomes a manifest signed by the producer."""
    o = get_order(session, principal, order_id)
    if o.status != "weighed":
        raise Conflict(f"pickup order {o.number} is {o.status}; confirmation needs weighed",
                       code="pickup_order.invalid_transition", details={"status": o.status, "expected": ["weighed"]})
    producer, via = _producer_principal(session, principal, o, data, limits)
    lines = [ln for ln in lines_of(session, o) if ln.batch_ids]
    m = manifests.create(session, principal=producer, data=manifests.ManifestCreate(
        originator_id=o.unit_id, hauler_id=o.hauler_id, vehicle_id=o.vehicle_id, receiver_id=o.collector_id,
        driver_id=o.driver_id, planned_date=local_day(utcnow()), remarks=f"上门收集 {o.number}",
        lines=[manifests.LineIn(batch_id=bid, planned_method=ln.planned_method) for ln in lines
               for bid in ln.batch_ids]))
    manifests.submit(session, principal=producer, m=m)
    before = o.status
    _move(session, o, expect=("weighed",), to="confirmed", confirmed_at=utcnow(), confirmed_by=producer.user_id,
          confirmed_via=via, manifest_id=m.id)
    _event(session, o, producer, "confirm", before, o.status, data, via=via, manifest=m.number,
           on_device_of=principal.username if via == "driver_phone" else None)
    audit(session, producer, action="pickup_order.confirm", entity="pickup_order", entity_id=o.id,
          detail={"manifest": m.number, "via": via, "device_user": principal.user_id})
    inbox.resolve(session, subject=("pickup_order", o.id), kinds=("pickup_order.awaiting_confirmation",),
                  by=producer.user_id)
    inbox.notify(session, unit_id=o.collector_id, kind="pickup_order.confirmed",
                 title=f"{session.get(Unit, o.unit_id).name} 已确认 {o.number}，联单 {m.number} 可装车",
                 subject=("pickup_order", o.id), data={"number": o.number, "manifest_id": m.id,
                                                       "manifest": m.number})
    return o, m


def cancel(session: Session, *, principal: Principal, order_id: int, data: CancelIn) -> PickupOrder:
    """The producer withdraws its order, or the collector gives it up, before confirmation; what was weighed and
    labelled stays in the producer's ledger (it exists)."""
    o = get_order(session, principal, order_id)
    if principal.unit_id == o.unit_id or (principal.is_admin and principal.unit_id is None):
        require_unit(session, principal, o.unit_id, act="operate")
        other, side = o.collector_id, "producer"
    else:
        _collector_user(session, principal, o, "cancel it")
        other, side = o.unit_id, "collector"
    before = o.status
    _move(session, o, expect=("requested", "accepted", "scheduled", "weighed"), to="cancelled",
          cancelled_at=utcnow(), cancel_reason=data.reason)
    _event(session, o, principal, "cancel", before, o.status, reason=data.reason, by_side=side)
    inbox.resolve(session, subject=("pickup_order", o.id), kinds=(
        "pickup_order.requested", "pickup_order.awaiting_confirmation"), by=principal.user_id)
    if other is not None:
        inbox.notify(session, unit_id=other, kind="pickup_order.cancelled",
                     title=f"{o.number} 已取消：{data.reason}", subject=("pickup_order", o.id),
                     data={"number": o.number, "by": side, "reason": data.reason})
    return o
