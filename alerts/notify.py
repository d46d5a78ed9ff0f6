"""Notifications: a transactional outbox, webhook subscriptions, and delivery by httpx with back-off.

1. Every alert change worth telling (opened, raised, pushed, rectified, closed, escalated, forwarded …) adds an
   `alert_outbox` row in the alert's own transaction: if the alert commits, so does its notification.
2. `dispatch()` fans each outbox row out to the matching subscriptions (one `webhook_delivery` per subscription, with
   a unique id), claims due deliveries (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several processes never send the
   same one at once), sends them outside any transaction and records the outcome.
3. A failed subscription backs off (30 s, 60 s, 120 s … up to an hour) for all its pending deliveries and is
   disabled after WEBHOOK_MAX_FAILURES consecutive failed runs; re-enabling resumes them. Delivery is at least once:
   a receiver drops repeats by the delivery id.

Signature (per subscription secret, shown once at creation):
    X-Wasteledger-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
    X-Wasteledger-Delivery: <delivery id>        X-Wasteledger-Event: alert.opened
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from alerts import settings as S
from alerts.models import Alert, AlertOutbox, WebhookDelivery, WebhookSubscription
from alerts.rules import TIER_ORDER
from ledger.db import session_scope
from ledger.filings.inbox import KINDS as inbox_kinds
from ledger.registry.models import Unit
from ledger.types import utcnow

log = logging.getLogger(__name__)

EVENTS = ("alert.opened", "alert.raised", "alert.pushed", "alert.rectified", "alert.accepted", "alert.rejected",
          "alert.closed", "alert.fact_cleared", "alert.overdue", "alert.escalated", "alert.forwarded")
SIGNATURE_HEADER = "X-Wasteledger-Signature"
DELIVERY_HEADER = "X-Wasteledger-Delivery"
EVENT_HEADER = "X-Wasteledger-Event"


def alert_summary(a: Alert) -> dict:
    """The small, stable view of an alert a notification carries."""
    return {"id": a.id, "rule": a.rule, "class": a.klass, "tier": a.tier, "status": a.status, "unit_id": a.unit_id,
            "region_code": a.region_code, "subject": a.subject, "title": a.title,
            "opened_at": a.opened_at.isoformat(), "deadline_at": a.deadline_at.isoformat() if a.deadline_at else None,
            "overdue": a.overdue, "possible_offence": a.possible_offence}


def outbox_values(a, event: str, now: datetime, **extra) -> dict:  # noqa: ANN001
    """The column values of the notification of one alert change (an alert object or namespace)."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event}")
    payload = {"alert": alert_summary(a), **extra}
    return {"alert_id": a.id, "unit_id": a.unit_id, "region_code": a.region_code, "event": event, "tier": a.tier,
            "payload": json.loads(json.dumps(payload, default=str)), "created_at": now, "fanned_out_at": None}


def outbox_row(a: Alert, event: str, now: datetime, **extra) -> AlertOutbox:
    """The notification of one alert change (add it to the alert's transaction)."""
    return AlertOutbox(**outbox_values(a, event, now, **extra))


def enqueue(session: Session, a: Alert, event: str, now: datetime, **extra) -> None:
    session.add(outbox_row(a, event, now, **extra))


INBOX_EVENT_PREFIX = "inbox."
INBOX_EVENTS = tuple(INBOX_EVENT_PREFIX + k for k in inbox_kinds)


def enqueue_inbox_event(session: Session, event: dict) -> None:
    """A filing that needs the firm's action (ledger.filings.inbox: an order to confirm, a returned plan …) goes out
    through the same outbox, in the writer's transaction, to the unit's own subscriptions only."""
    unit = session.get(Unit, event["unit_id"])
    session.add(AlertOutbox(alert_id=None, unit_id=unit.id, region_code=unit.region_code,
                            event=INBOX_EVENT_PREFIX + event["event"], tier="low",
                            payload={"inbox": json.loads(json.dumps(event, default=str))}, created_at=utcnow()))


# ---- signing ------------------------------------------------------------------------------------------------------

def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, body: bytes, header: str, *, tolerance_s: int = 300, now: float | None = None) -> bool:
    """What a receiver does: recompute the HMAC and reject stale timestamps (replays)."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        ts = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now if now is not None else time.time()) - ts) > tolerance_s:
        return False
    expected = sign(secret, body, ts).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


# ---- fan-out and delivery ---------------------------------------------------------------------------------------------

def _matches(sub: WebhookSubscription, o: AlertOutbox) -> bool:
    if sub.kind == "enforcement":
        return o.event == "alert.forwarded"
    if o.alert_id is None:  # an inbox event is the firm's business: its own subscriptions only
        return sub.unit_id == o.unit_id and (not sub.events or o.event in sub.events)
    if sub.unit_id is not None and sub.unit_id != o.unit_id:
        return False
    if sub.region_prefix is not None and not o.region_code.startswith(sub.region_prefix):
        return False
    if TIER_ORDER[o.tier] < TIER_ORDER.get(sub.min_tier, 0):
        return False
    return not sub.events or o.event in sub.events


def fan_out(session: Session, *, now: datetime, limit: int = 1000) -> int:
    """Turn outbox rows into one delivery per matching subscription (disabled ones too: they wait)."""
    q = select(AlertOutbox).where(AlertOutbox.fanned_out_at.is_(None)).order_by(AlertOutbox.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    rows = session.exec(q).all()
    if not rows:
        return 0
    subs = session.exec(select(WebhookSubscription)).all()
    deliveries = [WebhookDelivery(id=str(uuid.uuid4()), outbox_id=o.id, subscription_id=s.id, unit_id=o.unit_id,
                                  next_attempt_at=now, created_at=now)
                  for o in rows for s in subs if _matches(s, o)]
    for d in deliveries:
        session.add(d)
    session.execute(update(AlertOutbox).where(AlertOutbox.id.in_([o.id for o in rows])).values(fanned_out_at=now))
    session.flush()
    return len(deliveries)


@dataclass
class _Claim:
    delivery_id: str
    subscription_id: int
    url: str
    secret: str
    event: str
    body: bytes


@dataclass
class DispatchStats:
    fanned_out: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    disabled: list[int] = field(default_factory=list)


def backoff(failures: int) -> timedelta:
    """Wait before the next try after `failures` consecutive failed runs (doubling, capped)."""
    return timedelta(seconds=min(S.WEBHOOK_BACKOFF_BASE_S * 2 ** max(failures - 1, 0), S.WEBHOOK_BACKOFF_MAX_S))


def _claim(session: Session, *, now: datetime, limit: int) -> list[_Claim]:
    q = (select(WebhookDelivery, AlertOutbox, WebhookSubscription)
         .join(AlertOutbox, AlertOutbox.id == WebhookDelivery.outbox_id)
         .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
         .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now,
                WebhookSubscription.active.is_(True))
         .order_by(WebhookDelivery.outbox_id, WebhookDelivery.subscription_id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(of=WebhookDelivery, skip_locked=True)
    claims = []
    lease = now + timedelta(seconds=S.WEBHOOK_LEASE_S)
    for d, o, s in session.exec(q).all():
        body = json.dumps({"id": d.id, "version": S.WEBHOOK_PAYLOAD_VERSION, "event": o.event,
                           "occurred_at": o.created_at.isoformat(), **o.payload},
                          ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
        claims.append(_Claim(d.id, s.id, s.url, s.secret, o.event, body))
        d.next_attempt_at = lease  # hidden from other dispatchers while it is being sent
        session.add(d)
    session.flush()
    return claims


def _send(client: httpx.Client, c: _Claim) -> tuple[bool, int | None, str | None]:
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(c.secret, c.body, int(time.time())),
               DELIVERY_HEADER: c.delivery_id, EVENT_HEADER: c.event, "User-Agent": "wasteledger-webhooks/1"}
    try:
        r = client.post(c.url, content=c.body, headers=headers)
    except httpx.HTTPError as e:
        return False, None, f"{type(e).__name__}: {e}"[:300]
    if 200 <= r.status_code < 300:
        return True, r.status_code, None
    return False, r.status_code, f"HTTP {r.status_code}"


def dispatch(engine: Engine, *, now: datetime | None = None, client: httpx.Client | None = None,
             limit: int = S.WEBHOOK_BATCH) -> DispatchStats:
    """One delivery run: fan out, claim what is due, send, record. Safe to run in several processes at once."""
    now = now or utcnow()
    stats = DispatchStats()
    with session_scope(engine) as s:
        stats.fanned_out = fan_out(s, now=now)
    with session_scope(engine) as s:
        claims = _claim(s, now=now, limit=limit)
    if not claims:
        return stats
    own = client is None
    client = client or httpx.Client(timeout=S.WEBHOOK_TIMEOUT_S)
    failed_subs: set[int] = set()
    outcomes = []
    try:
        for c in claims:
            if c.subscription_id in failed_subs:
                outcomes.append((c, None))  # postponed with its subscription: not another failure
                continue
            ok, status, error = _send(client, c)
            stats.sent += 1
            outcomes.append((c, (ok, status, error)))
            if not ok:
                failed_subs.add(c.subscription_id)
    finally:
        if own:
            client.close()
    with session_scope(engine) as s:
        subs = {x.id: x for x in s.exec(select(WebhookSubscription).where(
            WebhookSubscription.id.in_(sorted({c.subscription_id for c in claims})))).all()}
        for c, result in outcomes:
            d = s.get(WebhookDelivery, c.delivery_id)
            if result is None:
                continue
            ok, status, error = result
            d.attempts += 1
            d.last_status, d.last_error = status, error
            if ok:
                d.status, d.delivered_at = "delivered", now
                stats.delivered += 1
            else:
                stats.failed += 1
            s.add(d)
        for sid, sub in subs.items():
            if sid in failed_subs:
                sub.consecutive_failures += 1
                if sub.consecutive_failures >= S.WEBHOOK_MAX_FAILURES and sub.active:
                    sub.active, sub.disabled_at = False, now
                    sub.disabled_reason = f"{sub.consecutive_failures} consecutive failed delivery runs"
                    stats.disabled.append(sid)
                    log.warning("webhook subscription %s disabled after %s failures", sid, sub.consecutive_failures)
                s.execute(update(WebhookDelivery).where(WebhookDelivery.subscription_id == sid,
                                                        WebhookDelivery.status == "pending")
                          .values(next_attempt_at=now + backoff(sub.consecutive_failures)))
            elif any(c.subscription_id == sid for c, r in outcomes if r and r[0]):
                sub.consecutive_failures = 0
            s.add(sub)
    return stats


def enable(session: Session, sub: WebhookSubscription, *, now: datetime | None = None) -> WebhookSubscription:
    """Re-enable a subscription: its failure count restarts and its pending deliveries are due at once."""
    now = now or utcnow()
    sub.active, sub.consecutive_failures, sub.disabled_at, sub.disabled_reason = True, 0, None, None
    session.add(sub)
    session.execute(update(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id,
                                                  WebhookDelivery.status == "pending")
                    .values(next_attempt_at=now))
    session.flush()
    return sub


def enforcement_subscription(session: Session, *, url: str, secret: str | None) -> WebhookSubscription:
    """The subscription that carries forwarded high alerts to the configured enforcement endpoint."""
    sub = session.exec(select(WebhookSubscription).where(WebhookSubscription.kind == "enforcement",
                                                         WebhookSubscription.url == url)).first()
    if sub is None:
        sub = WebhookSubscription(kind="enforcement", url=url, secret=secret or new_secret(), events=["alert.forwarded"],
                                  min_tier="high", description="执法系统 (configured: LEDGER_ALERTS_ENFORCEMENT_URL)")
        session.add(sub)
        session.flush()
    return sub


def pending_for(session: Session, subscription_id: int) -> int:
    """Deliveries of a subscription not yet delivered."""
    return int(session.exec(select(func.count()).select_from(WebhookDelivery).where(
        WebhookDelivery.subscription_id == subscription_id, WebhookDelivery.status == "pending")).one())

