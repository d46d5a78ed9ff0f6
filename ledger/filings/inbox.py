"""The unit inbox: filings that need the firm's action, and filings made on its behalf, so nothing waits unseen.

`notify()` is the one writer. It stores the item and builds the event (a plain dict) that goes to every sink in
`sinks`, inside the writer's transaction. The alert helper's webhook outbox (alerts/notify.py) subscribes here at
start-up; ledger/ never imports alerts/.

Event shape (stable; webhooks send it as JSON):
    {"event": "pickup_order.awaiting_confirmation", "unit_id": 12, "item_id": 345,
     "subject": {"type": "pickup_order", "id": 7}, "title": "…", "needs_action": true,
     "occurred_at": "2026-12-01T02:03:04.000005Z", "data": {…}}
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import or_, update
from sqlmodel import Field, Session, SQLModel, select

from ledger.auth import Principal, audit, require_unit
from ledger.errors import Conflict, NotFound
from ledger.filings.models import InboxItem
from ledger.types import utcnow

# Every kind written, with whether it needs the unit's action (the list the webhook subscriptions can filter on).
KINDS = {
    "pickup_order.requested": True,  # to a collector: an order addressed to it (or open in its area) to accept
    "pickup_order.raised_for_you": False,  # to a producer: its collector raised an order on its behalf
    "pickup_order.accepted": False,  # to the producer
    "pickup_order.scheduled": False,  # to the producer: vehicle, driver and date
    "pickup_order.awaiting_confirmation": True,  # to the producer: batches weighed and labelled in its name;
    # confirm the figures (data.generated_for_you lists what the collector filed in its journal)
    "pickup_order.confirmed": False,  # to the collector: the manifest is signed, load it
    "pickup_order.cancelled": False,  # to the other party
    "consent.granted": False,  # to the collector
    "consent.revoked": False,  # to the collector
    "plan.returned": True,  # to the unit: the regulator returned its plan; file a new version
    "declaration.returned": True,  # to the unit: the regulator returned a submitted declaration; correct it
    "market.offer_received": True,  # to the producer: answer the offer
    "market.offer_accepted": False,  # to the offerer: the deal, its plan entry and manifest or pickup order
    "market.offer_declined": False,  # to the offerer
}

Sink = Callable[[Session, dict], None]
sinks: list[Sink] = []


def subscribe(fn: Sink) -> Sink:
    """Receive every inbox event in the writer's transaction (the webhook outbox subscribes here)."""
    if fn not in sinks:
        sinks.append(fn)
    return fn


def unsubscribe(fn: Sink) -> None:
    if fn in sinks:
        sinks.remove(fn)


def _ts(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_of(item: InboxItem) -> dict:
    """The plain-dict event of an inbox item (what webhooks send)."""
    return {"event": item.kind, "unit_id": item.unit_id, "item_id": item.id,
            "subject": {"type": item.subject_type, "id": item.subject_id}, "title": item.title,
            "needs_action": item.needs_action, "occurred_at": _ts(item.created_at), "data": item.data}


def notify(session: Session, *, unit_id: int, kind: str, title: str, subject: tuple[str, int],
           data: dict | None = None) -> InboxItem:
    """Put an item in the unit's inbox and hand its event to the sinks (the one writer of both)."""
    if kind not in KINDS:
        raise ValueError(f"unknown inbox kind {kind}")
    item = InboxItem(unit_id=unit_id, kind=kind, title=title[:300], needs_action=KINDS[kind],
                     subject_type=subject[0], subject_id=subject[1], data=data or {}, created_at=utcnow())
    session.add(item)
    session.flush()
    event = event_of(item)
    for fn in list(sinks):
        fn(session, event)
    return item


def resolve(session: Session, *, subject: tuple[str, int], kinds: tuple[str, ...], by: int | None,
            unit_id: int | None = None) -> int:
    """Close the open items of these kinds about a subject (the action they asked for was taken)."""
    q = update(InboxItem).where(InboxItem.subject_type == subject[0], InboxItem.subject_id == subject[1],
                                InboxItem.kind.in_(kinds), InboxItem.resolved_at.is_(None))
    if unit_id is not None:
        q = q.where(InboxItem.unit_id == unit_id)
    return session.execute(q.values(resolved_at=utcnow(), resolved_by=by or None)).rowcount


# Other modules add items computed on read (nothing stored): (session, unit_id) -> list of dicts shaped like
# InboxItemPublic without an id, e.g. a licensed operator's missing daily report.
computed: list[Callable[[Session, int], list[dict]]] = []
# Per kind, a check that an open item is still open (e.g. a returned plan is settled by a later version).
still_open: dict[str, Callable[[Session, InboxItem], bool]] = {}


class InboxItemPublic(SQLModel):
    id: int | None = Field(description="null for an item computed on read")
    unit_id: int
    kind: str
    title: str
    needs_action: bool
    subject: dict
    data: dict
    created_at: datetime
    resolved_at: datetime | None = None
    acknowledged_at: datetime | None = None
    open: bool


def _is_open(session: Session, item: InboxItem) -> bool:
    if item.resolved_at is not None:
        return False
    if item.needs_action:
        check = still_open.get(item.kind)
        return check(session, item) if check else True
    return item.acknowledged_at is None


def item_public(session: Session, item: InboxItem) -> InboxItemPublic:
    return InboxItemPublic(id=item.id, unit_id=item.unit_id, kind=item.kind, title=item.title,
                           needs_action=item.needs_action, subject={"type": item.subject_type, "id": item.subject_id},
                           data=item.data, created_at=item.created_at, resolved_at=item.resolved_at,
                           acknowledged_at=item.acknowledged_at, open=_is_open(session, item))


def list_inbox(session: Session, *, principal: Principal, unit_id: int, open_only: bool = True,
               limit: int = 100) -> list[InboxItemPublic]:
    """The unit's inbox: open items first (those needing action before notices), then the rest, newest first."""
    unit = require_unit(session, principal, unit_id)
    q = select(InboxItem).where(InboxItem.unit_id == unit.id)
    if open_only:
        q = q.where(InboxItem.resolved_at.is_(None),
                    or_(InboxItem.needs_action.is_(True), InboxItem.acknowledged_at.is_(None)))
    rows = session.exec(q.order_by(InboxItem.id.desc()).limit(min(limit, 500))).all()
    items = [item_public(session, r) for r in rows]
    if open_only:
        items = [i for i in items if i.open]
    for fn in computed:
        items += [InboxItemPublic(**d) for d in fn(session, unit.id)]
    items.sort(key=lambda i: (not i.open, not i.needs_action, -i.created_at.timestamp()))
    return items


def acknowledge(session: Session, *, principal: Principal, unit_id: int, item_id: int) -> InboxItem:
    """The unit has seen a notice (an item that needs action closes when the action is taken, not by this)."""
    unit = require_unit(session, principal, unit_id, act="operate")
    item = session.get(InboxItem, item_id)
    if item is None or item.unit_id != unit.id:
        raise NotFound(f"inbox item {item_id} is not in the inbox of unit {unit_id}", code="inbox.not_found")
    if item.needs_action and _is_open(session, item):
        raise Conflict(f"item {item.id} ({item.kind}) closes when you act on it, not by acknowledging it",
                       code="inbox.needs_action", details={"subject": {"type": item.subject_type,
                                                                       "id": item.subject_id}})
    if item.acknowledged_at is None:
        item.acknowledged_at, item.acknowledged_by = utcnow(), principal.user_id or None
        session.add(item)
        session.flush()
        audit(session, principal, action="inbox.acknowledge", entity="inbox_item", entity_id=item.id)
    return item
