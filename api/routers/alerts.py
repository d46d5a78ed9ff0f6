"""Alert paths: the regulator's queue and each action, stats and closure rate, webhooks, the 固废码 of a unit.

Importing this module switches on the event-time rules (the engine subscribes to the journal); its lifespan runs
the scheduler (scan and deliveries) unless LEDGER_ALERTS_SCHEDULER is false (default off when LEDGER_ENV=test).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import Response
from pydantic import Field as PField
from sqlmodel import Field, Session, SQLModel

from alerts import code as unit_code
from alerts import engine, notify, queue, scheduler, webhooks
from alerts.models import STATUS_NAMES, Alert, AlertAction
from alerts.rules import CLASS_NAMES, REGISTRY
from alerts.settings import TIER_NAMES
from api.deps import Deferred, Tx, deferred_tx, get_session, principal, tx
from ledger.auth import Principal, require_unit
from ledger.errors import LedgerError
from ledger.filings import inbox
from ledger.types import utcnow
from ledger.validation import Input
from ledger.workdays import local_day

log = logging.getLogger(__name__)
engine.install()
inbox.subscribe(notify.enqueue_inbox_event)  # filings that need a firm's action reach its webhooks too


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run the alert scheduler in this process (it leads only if it holds the database's leader lock)."""
    runner = None
    if scheduler.enabled(app.state.settings.env):
        runner = scheduler.AlertScheduler(app.state.engine)
        runner.start()
    yield
    if runner is not None:
        runner.stop()


router = APIRouter(tags=["alerts"])  # the app runs `lifespan` (its routes are taken in flat)

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no or an invalid bearer token"},
    403: {"description": "your role may not do this (the message says who may)"},
    404: {"description": "no such alert, or outside your jurisdiction"},
    409: {"description": "the alert is not at the step this action needs, or changed meanwhile"},
    422: {"description": "a field is missing or invalid (details.field names it)"},
}
READ_ERRORS = {k: v for k, v in ERRORS.items() if k != 409}  # reads change nothing: no conflict to answer


# ---- schemas ---------------------------------------------------------------------------------------------------

class AlertPublic(SQLModel):
    id: int
    rule: str
    rule_title: str
    klass: str = Field(description="generation | inventory | transfer | operation | declaration")
    class_name: str
    tier: str
    tier_name: str
    opened_tier: str
    status: str = Field(description="open (waiting for the regulator's push) | pushed | rectified | closed")
    status_name: str
    resolution: str | None
    unit_id: int
    region_code: str
    subject: str
    title: str
    evidence: dict
    fact_holds: bool
    overdue: bool
    possible_offence: bool
    escalated_from: str | None
    basis: str
    opened_at: datetime
    updated_at: datetime
    deadline_at: datetime | None
    pushed_at: datetime | None
    rectified_at: datetime | None
    closed_at: datetime | None
    overdue_at: datetime | None
    escalated_at: datetime | None
    forwarded_at: datetime | None
    fact_cleared_at: datetime | None
    next_acts: list[str] = Field(description="what you may do with it now")


class ActionPublic(SQLModel):
    action: str
    from_status: str | None
    to_status: str | None
    tier: str
    by: str
    user_id: int | None
    at: datetime
    text: str | None
    attachments: list
    detail: dict


class AlertDetail(AlertPublic):
    actions: list[ActionPublic]


class AlertPage(SQLModel):
    items: list[AlertPublic]
    total: int
    limit: int
    offset: int


class Note(Input):
    note: str | None = Field(default=None, max_length=2000)


class Reason(Input):
    reason: str = Field(min_length=2, max_length=2000)


class Attachment(Input):
    name: str = PField(min_length=1, max_length=200)
    url: str = PField(min_length=1, max_length=500, description="where the file is kept (photo, report, receipt)")
    sha256: str | None = PField(default=None, pattern=r"^[0-9a-f]{64}$", description="the file's SHA-256, hex")


class Rectification(Input):
    text: str = Field(min_length=2, max_length=4000, description="what was done (or, for a high alert, what the "
                                                                  "city found)")
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)


class CodeAlert(SQLModel):
    id: int
    rule: str
    tier: str
    status: str
    title: str
    overdue: bool
    drives_colour: bool
    deadline_at: datetime | None


class UnitCode(SQLModel):
    unit_id: int
    colour: Literal["green", "yellow", "red"]
    colour_name: str
    meaning: str
    public_url: str
    png_url: str
    alerts: list[CodeAlert]


def alert_public(a: Alert, p: Principal, now: datetime | None = None) -> AlertPublic:
    rule = REGISTRY.get(a.rule)
    return AlertPublic(
        id=a.id, rule=a.rule, rule_title=rule.title if rule else a.rule, klass=a.klass,
        class_name=CLASS_NAMES.get(a.klass, a.klass), tier=a.tier, tier_name=TIER_NAMES[a.tier],
        opened_tier=a.opened_tier, status=a.status, status_name=STATUS_NAMES[a.status], resolution=a.resolution,
        unit_id=a.unit_id, region_code=a.region_code, subject=a.subject, title=a.title, evidence=a.evidence,
        fact_holds=a.fact_holds, overdue=unit_code.is_overdue(a, now or utcnow()), possible_offence=a.possible_offence,
        escalated_from=a.escalated_from, basis=rule.basis if rule else "", opened_at=a.opened_at,
        updated_at=a.updated_at, deadline_at=a.deadline_at, pushed_at=a.pushed_at, rectified_at=a.rectified_at,
        closed_at=a.closed_at, overdue_at=a.overdue_at, escalated_at=a.escalated_at, forwarded_at=a.forwarded_at,
        fact_cleared_at=a.fact_cleared_at, next_acts=queue.next_acts(p, a))


def _action(x: AlertAction) -> ActionPublic:
    return ActionPublic(action=x.action, from_status=x.from_status, to_status=x.to_status, tier=x.tier, by=x.username,
                        user_id=x.user_id, at=x.at, text=x.text, attachments=x.attachments, detail=x.detail)


def detail(s: Session, a: Alert, p: Principal) -> AlertDetail:
    return AlertDetail(**alert_public(a, p).model_dump(), actions=[_action(x) for x in queue.actions_of(s, a.id)])


# ---- the queue -------------------------------------------------------------------------------------------------

@router.get("/alerts", response_model=AlertPage, responses=READ_ERRORS,
            summary="Alerts in your jurisdiction, highest tier and oldest first")
def list_alerts(tier: Literal["low", "mid", "high"] | None = None,
                status: Literal["open", "pushed", "rectified", "closed"] | None = None,
                klass: Literal["generation", "inventory", "transfer", "operation", "declaration"] | None = Query(
                    None, alias="class"),
                region: str | None = Query(None, description="region prefix: 2, 4 or 6 digits"),
                overdue: bool | None = None, unit_id: int | None = None, rule: str | None = None,
                limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0),
                s: Session = Depends(get_session), p: Principal = Depends(principal)):
    rows, total = queue.list_alerts(s, principal=p, tier=tier, status=status, klass=klass, region=region,
                                    overdue=overdue, unit_id=unit_id, rule=rule, limit=limit, offset=offset)
    now = utcnow()
    return AlertPage(items=[alert_public(a, p, now) for a in rows], total=total, limit=limit, offset=offset)


@router.get("/alerts/stats", responses=READ_ERRORS,
            summary="Counts per tier and status, overdue, and the closure rate (办结率 = closed ÷ pushed in a period)")
def alert_stats(from_: date | None = Query(None, alias="from", description="first day (default: 1 January)"),
                to: date | None = Query(None, description="last day (default: today)"),
                region: str | None = None, unit_id: int | None = None,
                s: Session = Depends(get_session), p: Principal = Depends(principal)):
    today = local_day(utcnow())
    return queue.stats(s, principal=p, start=from_ or date(today.year, 1, 1), end=to or today, region=region,
                       unit_id=unit_id)


@router.get("/alerts/rules", summary="Every rule: code, class, tiers, what it checks, threshold, legal basis")
def list_rules(p: Principal = Depends(principal)):
    return [{"code": r.code, "class": r.klass, "class_name": CLASS_NAMES[r.klass], "tiers": list(r.tiers),
             "title": r.title, "checks": r.checks, "threshold": r.threshold, "basis": r.basis, "kind": r.kind}
            for r in sorted(REGISTRY.values(), key=lambda r: r.code)]


@router.get("/alerts/{alert_id}", response_model=AlertDetail, responses=READ_ERRORS,
            summary="One alert with its evidence and every action taken")
def get_alert(alert_id: int, s: Session = Depends(get_session), p: Principal = Depends(principal)):
    return detail(s, queue.get_alert(s, principal=p, alert_id=alert_id), p)


def _act(t: Tx, alert_id: int, act: str, **kw):  # noqa: ANN202
    return t.run(lambda s, p: detail(s, queue.act(s, principal=p, alert_id=alert_id, act=act, **kw), p))


@router.post("/alerts/{alert_id}/push", response_model=AlertDetail, responses=ERRORS,
             summary="Push a mid alert to the unit (county/city) or a high one to the city (province)")
def push(alert_id: int, body: Note | None = None, t: Tx = Depends(tx)):
    return _act(t, alert_id, "push", note=(body.note if body else None))


@router.post("/alerts/{alert_id}/rectify", response_model=AlertDetail, responses=ERRORS,
             summary="Report the rectification (unit: low, mid) or the verification (city: high)")
def rectify(alert_id: int, body: Rectification, t: Tx = Depends(tx)):
    return _act(t, alert_id, "rectify", text=body.text, attachments=[x.model_dump() for x in body.attachments])


@router.post("/alerts/{alert_id}/accept", response_model=AlertDetail, responses=ERRORS,
             summary="Accept the rectification or report: the alert is closed")
def accept(alert_id: int, body: Note | None = None, t: Tx = Depends(tx)):
    return _act(t, alert_id, "accept", note=(body.note if body else None))


@router.post("/alerts/{alert_id}/reject", response_model=AlertDetail, responses=ERRORS,
             summary="Reject the rectification: back to the unit (or city) with a new deadline")
def reject(alert_id: int, body: Reason, t: Tx = Depends(tx)):
    return _act(t, alert_id, "reject", reason=body.reason)


@router.post("/alerts/{alert_id}/close", response_model=AlertDetail, responses=ERRORS,
             summary="Close an alert at any step, with a reason (regulators)")
def close(alert_id: int, body: Reason, t: Tx = Depends(tx)):
    return _act(t, alert_id, "close", reason=body.reason)


@router.post("/alerts/{alert_id}/forward", response_model=AlertDetail, responses=ERRORS,
             summary="Forward a high alert that may involve an offence to the enforcement system (province)")
def forward(alert_id: int, body: Reason, t: Tx = Depends(tx)):
    return _act(t, alert_id, "forward", reason=body.reason)


# ---- webhooks --------------------------------------------------------------------------------------------------

@router.post("/webhooks", status_code=201, response_model=webhooks.SubscriptionCreated, responses=ERRORS,
             summary="Subscribe an endpoint to a unit's or a region's alerts (the signing secret is shown once)")
def create_webhook(body: webhooks.SubscriptionCreate, t: Tx = Depends(tx)):
    return t.run(lambda s, p: webhooks.create(s, principal=p, data=body), status=201)


@router.get("/webhooks", response_model=list[webhooks.SubscriptionPublic], responses=READ_ERRORS,
            summary="Webhook subscriptions in your scope")
def list_webhooks(s: Session = Depends(get_session), p: Principal = Depends(principal)):
    return [webhooks.public(s, x) for x in webhooks.list_subscriptions(s, principal=p)]


@router.post("/webhooks/{subscription_id}/enable", response_model=webhooks.SubscriptionPublic, responses=ERRORS,
             summary="Re-enable a subscription disabled after repeated failures; pending deliveries resume")
def enable_webhook(subscription_id: int, t: Tx = Depends(tx)):
    return t.run(lambda s, p: webhooks.public(s, webhooks.enable(s, principal=p, subscription_id=subscription_id)))


@router.get("/webhooks/{subscription_id}/deliveries", response_model=list[webhooks.DeliveryPublic],
            responses=READ_ERRORS, summary="Recent deliveries of a subscription, newest first")
def webhook_deliveries(subscription_id: int, limit: int = Query(50, ge=1, le=500), s: Session = Depends(get_session),
                       p: Principal = Depends(principal)):
    return [webhooks.DeliveryPublic(id=d.id, outbox_id=d.outbox_id, status=d.status, attempts=d.attempts,
                                    last_status=d.last_status, last_error=d.last_error,
                                    delivered_at=d.delivered_at.isoformat() if d.delivered_at else None,
                                    next_attempt_at=d.next_attempt_at.isoformat())
            for d in webhooks.deliveries(s, principal=p, subscription_id=subscription_id, limit=limit)]


# ---- 固废码 ----------------------------------------------------------------------------------------------------

def _public_page(request: Request, credit_code: str) -> str:
    return f"{request.app.state.settings.public_url.rstrip('/')}/u/{credit_code}"


@router.get("/units/{unit_id}/code", response_model=UnitCode, responses=READ_ERRORS,
            summary="The unit's 固废码: green, yellow or red, and the open alerts behind it")
def get_unit_code(unit_id: int, request: Request, s: Session = Depends(get_session),
                  p: Principal = Depends(principal)):
    unit = require_unit(s, p, unit_id)
    colour, alerts = unit_code.unit_code(s, unit.id)
    name, meaning = unit_code.NAMES[colour]
    return UnitCode(unit_id=unit.id, colour=colour, colour_name=name, meaning=meaning,
                    public_url=_public_page(request, unit.credit_code),
                    png_url=f"{request.app.state.settings.public_url.rstrip('/')}/api/v1/units/{unit.id}/code.png",
                    alerts=[CodeAlert(id=a.id, rule=a.rule, tier=a.tier, status=a.status, title=a.title, overdue=o,
                                      drives_colour=unit_code.drives(a.tier, o, colour), deadline_at=a.deadline_at)
                            for a, o in alerts])


@router.get("/units/{unit_id}/code.png", response_class=Response, responses={
    **READ_ERRORS, 200: {"content": {"image/png": {}}, "description": "the coloured QR with the colour's name"}},
            summary="The unit's 固废码 as a PNG: a QR in its colour, opening the unit's public page")
def get_unit_code_png(unit_id: int, request: Request, s: Session = Depends(get_session),
                      p: Principal = Depends(principal)):
    from labels.unit_code import UnitCodeData, render_unit_code_png

    unit = require_unit(s, p, unit_id)
    colour, _ = unit_code.unit_code(s, unit.id)
    png = render_unit_code_png(UnitCodeData(colour=colour, unit_name=unit.name, credit_code=unit.credit_code,
                                            payload=_public_page(request, unit.credit_code)))
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


# ---- a pickup refused for a label not on the manifest (the ledger writes no record; we keep the attempt) -----------

def watch_refused_pickup(manifest_id: int, request: Request, d: Deferred = Depends(deferred_tx)) -> Iterator[None]:
    """Route dependency of POST /manifests/{id}/pickup: when the ledger refuses the pickup because a scanned label is
    not on the manifest (the pickup's own transaction, or its savepoint in a commit group, is rolled back), raise
    TRN-LABEL-MISMATCH in a transaction of its own."""
    try:
        yield
    except LedgerError as e:
        if e.code == "manifest.label_not_on_manifest":
            with Session(request.app.state.engine) as s:
                try:
                    engine.record_refused_pickup(s, manifest_id=manifest_id,
                                                 labels=e.details.get("not_on_manifest", []),
                                                 by=d.credentials.principal(s).username)
                    s.commit()
                except Exception:  # noqa: BLE001 - never hide the refusal itself
                    s.rollback()
                    log.exception("could not record the refused pickup of manifest %s", manifest_id)
        raise

