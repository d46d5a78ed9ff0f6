"""Webhook subscriptions: who may subscribe to which alerts, listing them, re-enabling a disabled one."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from annotated_types import MaxLen
from pydantic import field_validator
from sqlmodel import Field, Session, SQLModel, or_, select

from alerts import notify
from alerts.models import WebhookDelivery, WebhookSubscription
from ledger.auth import Principal, audit, require_subscription_scope, unit_scope
from ledger.codes import normalize_region_prefix
from ledger.errors import InvalidInput, NotFound
from ledger.registry.models import Unit
from ledger.validation import DbId, Input


class SubscriptionCreate(Input):
    unit_id: DbId | None = Field(default=None, description="notifications about one unit's alerts")
    region_prefix: str | None = Field(default=None, max_length=6, description="…or about every unit of a region (2, 4 or 6 digits)")
    url: str = Field(max_length=500, description="https:// (or http:// inside your network) endpoint that accepts POST")
    events: list[Annotated[str, MaxLen(60)]] = Field(default_factory=list, max_length=50, description=(
        "alert.opened, alert.escalated, inbox.plan.returned …; empty = all"))
    min_tier: Literal["low", "mid", "high"] = "low"
    description: str | None = Field(default=None, max_length=200)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = urlsplit(v.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http:// or https:// URL")
        return v.strip()


class SubscriptionPublic(SQLModel):
    id: int
    unit_id: int | None
    region_prefix: str | None
    url: str
    events: list[str]
    min_tier: str
    description: str | None
    active: bool
    consecutive_failures: int
    disabled_reason: str | None
    pending_deliveries: int


class SubscriptionCreated(SubscriptionPublic):
    secret: str = Field(description="the HMAC-SHA256 key of X-Wasteledger-Signature; shown only now")


class DeliveryPublic(SQLModel):
    id: str
    outbox_id: int
    status: str
    attempts: int
    last_status: int | None
    last_error: str | None
    delivered_at: str | None
    next_attempt_at: str


def public(session: Session, sub: WebhookSubscription) -> SubscriptionPublic:
    return SubscriptionPublic(id=sub.id, unit_id=sub.unit_id, region_prefix=sub.region_prefix, url=sub.url,
                              events=sub.events, min_tier=sub.min_tier, description=sub.description,
                              active=sub.active, consecutive_failures=sub.consecutive_failures,
                              disabled_reason=sub.disabled_reason, pending_deliveries=notify.pending_for(session, sub.id))


def create(session: Session, *, principal: Principal, data: SubscriptionCreate) -> SubscriptionCreated:
    """Subscribe an endpoint to a unit's or a region's alerts; the secret is returned once."""
    prefix = normalize_region_prefix(data.region_prefix, field="region_prefix") if data.region_prefix else None
    require_subscription_scope(session, principal, unit_id=data.unit_id, region_prefix=prefix)
    for i, e in enumerate(data.events):
        if e not in notify.EVENTS + notify.INBOX_EVENTS:
            raise InvalidInput(f"unknown event {e!r}; use one of {', '.join(notify.EVENTS + notify.INBOX_EVENTS)}",
                               field=f"events[{i}]")
    sub = WebhookSubscription(unit_id=data.unit_id, region_prefix=prefix, url=data.url, secret=notify.new_secret(),
                              events=sorted(set(data.events)), min_tier=data.min_tier, description=data.description,
                              created_by=principal.user_id or None)
    session.add(sub)
    session.flush()
    audit(session, principal, action="webhook.create", entity="webhook_subscription", entity_id=sub.id,
          detail={"unit_id": sub.unit_id, "region_prefix": prefix, "url": sub.url})
    return SubscriptionCreated(**public(session, sub).model_dump(), secret=sub.secret)


def _visible(principal: Principal):  # noqa: ANN202
    units = select(Unit.id).where(unit_scope(principal))
    conds = [WebhookSubscription.kind == "webhook"]
    if principal.is_admin:
        return conds
    clause = WebhookSubscription.unit_id.in_(units)
    if principal.role == "regulator" and principal.region_prefix:
        clause = or_(clause, WebhookSubscription.region_prefix.startswith(principal.region_prefix))
    return [*conds, clause]


def list_subscriptions(session: Session, *, principal: Principal) -> list[WebhookSubscription]:
    return list(session.exec(select(WebhookSubscription).where(*_visible(principal))
                             .order_by(WebhookSubscription.id)).all())


def get(session: Session, *, principal: Principal, subscription_id: int, manage: bool = False) -> WebhookSubscription:
    sub = session.exec(select(WebhookSubscription).where(WebhookSubscription.id == subscription_id,
                                                         *_visible(principal))).first()
    if sub is None:
        raise NotFound(f"webhook subscription {subscription_id} does not exist or is outside your scope",
                       code="webhook.not_found")
    if manage:
        require_subscription_scope(session, principal, unit_id=sub.unit_id, region_prefix=sub.region_prefix)
    return sub


def enable(session: Session, *, principal: Principal, subscription_id: int) -> WebhookSubscription:
    """Re-enable a subscription (after fixing the endpoint): pending deliveries are sent on the next run."""
    sub = get(session, principal=principal, subscription_id=subscription_id, manage=True)
    notify.enable(session, sub)
    audit(session, principal, action="webhook.enable", entity="webhook_subscription", entity_id=sub.id)
    return sub


def deliveries(session: Session, *, principal: Principal, subscription_id: int, limit: int = 50
               ) -> list[WebhookDelivery]:
    get(session, principal=principal, subscription_id=subscription_id)
    return list(session.exec(select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
                             .order_by(WebhookDelivery.created_at.desc()).limit(min(limit, 500))).all())
