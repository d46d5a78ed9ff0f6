"""Small producers and collectors: consents, pickup orders, collection-centre lots; and what needs a firm's action:
the unit inbox, zero reports, a regulator returning a plan."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session, SQLModel

from api.deps import Tx, get_session, principal, tx
from api.errors import ErrorEnvelope
from api.routers import batches as batch_routes
from api.routers.manifests import ManifestPublic, manifest_public
from ledger.auth import Principal
from ledger.batches import BatchPublic, batch_public
from ledger.collection import consents, lots, orders
from ledger.db import session_scope
from ledger.filings import inbox, returns, zero_reports
from ledger.filings.inbox import InboxItemPublic
from ledger.users import LoginLimits

router = APIRouter()

batch_routes.trace_manifests.append(lots.trace_manifests)
batch_routes.trace_sections.append(lots.trace_section)


_WHAT = {400: "bad request", 401: "not logged in", 403: "your role or the producer's consent does not allow it",
         404: "not found, or outside your scope", 409: "the state changed or forbids it (reload and retry)",
         413: "too large", 415: "unsupported media type", 422: "a value to fix (details.field names it)"}


def errors(*codes: int) -> dict:
    """OpenAPI error responses: every one is {"error": {code, message, details}}."""
    return {c: {"model": ErrorEnvelope, "description": _WHAT[c]} for c in (401, *codes)}


def _url(request: Request) -> str:
    return request.app.state.settings.public_url


# ---- consents ------------------------------------------------------------------------------------------------

@router.post("/units/{unit_id}/consents", status_code=201, response_model=consents.ConsentPublic, tags=["collection"],
             summary="A small producer lets a collector file for it (raise orders, weigh and label at its door)",
             responses=errors(403, 404, 409, 422))
def grant_consent(unit_id: int, body: consents.ConsentCreate, t: Tx = Depends(tx)):
    return t.run(lambda s, p: consents.consent_public(s, consents.grant(s, principal=p, unit_id=unit_id, data=body)),
                 status=201)


@router.get("/units/{unit_id}/consents", response_model=list[consents.ConsentPublic], tags=["collection"],
            summary="Consents a producer gave, or a collector holds", responses=errors(403, 404))
def list_consents(unit_id: int, s: Session = Depends(get_session), p: Principal = Depends(principal)):
    return [consents.consent_public(s, c) for c in consents.list_consents(s, principal=p, unit_id=unit_id)]


@router.post("/units/{unit_id}/consents/{consent_id}/revoke", response_model=consents.ConsentPublic,
             tags=["collection"], summary="Revoke a consent: the collector's further filings are refused",
             responses=errors(403, 404, 422))
def revoke_consent(unit_id: int, consent_id: int, body: consents.RevokeIn, t: Tx = Depends(tx)):
    return t.run(lambda s, p: consents.consent_public(s, consents.revoke(
        s, principal=p, unit_id=unit_id, consent_id=consent_id, data=body)))


# ---- pickup orders -------------------------------------------------------------------------------------------

@router.post("/pickup-orders", status_code=201, response_model=orders.OrderPublic, tags=["pickup orders"],
             summary="Raise a pickup order (the producer, or its collector under its consent)",
             responses=errors(403, 404, 422))
def raise_order(body: orders.OrderCreate, t: Tx = Depends(tx)):
    return t.run(lambda s, p: orders.order_public(s, orders.raise_order(s, principal=p, data=body)), status=201)


@router.get("/pickup-orders", response_model=list[orders.OrderPublic], tags=["pickup orders"],
            summary="Pickup orders you may see: your own, those you collect, open ones you may take",
            responses=errors(422))
def list_orders(unit_id: int | None = None, status: str | None = None, limit: int = Query(100, le=500),
                offset: int = Query(0, ge=0), s: Session = Depends(get_session), p: Principal = Depends(principal)):
    rows = orders.list_orders(s, principal=p, unit_id=unit_id, status=status, limit=limit, offset=offset)
    return [orders.order_public(s, o) for o in rows]


@router.get("/pickup-orders/{order_id}", response_model=orders.OrderPublic, tags=["pickup orders"],
            summary="A pickup order with its lines, events and manifest", responses=errors(404))
def get_order(order_id: int, s: Session = Depends(get_session), p: Principal = Depends(principal)):
    return orders.order_public(s, orders.get_order(s, p, order_id))


@router.post("/pickup-orders/{order_id}/accept", response_model=orders.OrderPublic, tags=["pickup orders"],
             summary="A collector takes the order (of two racing accepts one wins, the other gets 409)",
             responses=errors(403, 404, 409, 422))
def accept(order_id: int, body: orders.AcceptIn, t: Tx = Depends(tx)):
    return t.run(lambda s, p: orders.order_public(s, orders.accept(s, principal=p, order_id=order_id, data=body)))


@router.post("/pickup-orders/{order_id}/schedule", response_model=orders.OrderPublic, tags=["pickup orders"],
             summary="The collector names vehicle, driver and day (again to reschedule)",
             responses=errors(403, 404, 409, 422))
def schedule(order_id: int, body: orders.ScheduleIn, t: Tx = Depends(tx)):
    return t.run(lambda s, p: orders.order_public(s, orders.schedule(s, principal=p, order_id=order_id, data=body)))


class WeighResult(SQLModel):
    order: orders.OrderPublic
    batches: list[BatchPublic]


@router.post("/pickup-orders/{order_id}/weigh", response_model=WeighResult, tags=["pickup orders"],
             summary="At the door: weigh and label in the producer's journal (under its consent), or take its own "
                     "labelled batches; print the labels from each batch's label_url",
             responses=errors(403, 404, 409, 422))
def weigh(order_id: int, body: orders.WeighIn, request: Request, t: Tx = Depends(tx)):
    url = _url(request)

    def run(s, p):  # noqa: ANN001
        o, got = orders.weigh(s, principal=p, order_id=order_id, data=body)
        return WeighResult(order=orders.order_public(s, o), batches=[batch_public(b, public_url=url) for b in got])
    return t.run(run)


class ConfirmResult(SQLModel):
    order: orders.OrderPublic
    manifest: ManifestPublic


@router.post("/pickup-orders/{order_id}/confirm", response_model=ConfirmResult, tags=["pickup orders"],
             summary="The producer confirms the weighed figures (its own login, or its own username and password "
                     "on the driver's phone): a submitted manifest, signed by the producer, ready for pickup",
             responses=errors(403, 404, 409, 422))
def confirm(order_id: int, body: orders.ConfirmIn, request: Request, t: Tx = Depends(tx)):
    url = _url(request)

    settings = request.app.state.settings
    limits = LoginLimits.of(settings)

    def run(s, p):  # noqa: ANN001
        o, m = orders.confirm(s, principal=p, order_id=order_id, data=body, limits=limits)
        return ConfirmResult(order=orders.order_public(s, o), manifest=manifest_public(s, m, url))
    try:
        return t.run(run)
    except orders.ConfirmationFailed as e:  # count the wrong attempt in its own transaction, then refuse
        t.session.rollback()
        with session_scope(request.app.state.engine) as s:
            orders.count_failed_confirmation(s, order_id=order_id, attempts=e.attempts)
        return JSONResponse(status_code=e.status, content={"error": e.as_dict()})


@router.post("/pickup-orders/{order_id}/cancel", response_model=orders.OrderPublic, tags=["pickup orders"],
             summary="Cancel before confirmation (the producer, or the collector giving it up); a reason is kept",
             responses=errors(403, 404, 409, 422))
def cancel(order_id: int, body: orders.CancelIn, t: Tx = Depends(tx)):
    return t.run(lambda s, p: orders.order_public(s, orders.cancel(s, principal=p, order_id=order_id, data=body)))


# ---- collection-centre lots ----------------------------------------------------------------------------------

class LotResult(SQLModel):
    lot: lots.LotPublic
    batch: BatchPublic


@router.post("/facilities/{facility_id}/lots", status_code=201, response_model=LotResult, tags=["collection"],
             summary="Combine collected holdings of one code at a collection centre into a lot (并批) for onward "
                     "transport; every source and mass is kept", responses=errors(403, 404, 409, 422))
def combine(facility_id: int, body: lots.LotCreate, request: Request, t: Tx = Depends(tx)):
    url = _url(request)

    def run(s, p):  # noqa: ANN001
        lot = lots.combine(s, principal=p, facility_id=facility_id, data=body)
        return LotResult(lot=lots.lot_public(s, lot), batch=batch_public(lot, public_url=url))
    return t.run(run, status=201)


@router.get("/lots/{lot_id}", response_model=lots.LotPublic, tags=["collection"],
            summary="A lot and its sources: every producer's batch and mass", responses=errors(404))
def get_lot(lot_id: int, s: Session = Depends(get_session), p: Principal = Depends(principal)):
    return lots.lot_public(s, lots.get_lot(s, p, lot_id))


# ---- the unit inbox, zero reports, returned plans ------------------------------------------------------------

@router.get("/units/{unit_id}/inbox", response_model=list[InboxItemPublic], tags=["inbox"],
            summary="Filings that need the unit's action and filings made on its behalf (open ones first)",
            responses=errors(403, 404))
def unit_inbox(unit_id: int, open: bool = Query(True, description="only what is still open"),
               limit: int = Query(100, le=500), s: Session = Depends(get_session), p: Principal = Depends(principal)):
    return inbox.list_inbox(s, principal=p, unit_id=unit_id, open_only=open, limit=limit)


@router.post("/units/{unit_id}/inbox/{item_id}/ack", response_model=InboxItemPublic, tags=["inbox"],
             summary="Mark a notice as seen (an item that needs action closes when the action is taken)",
             responses=errors(403, 404, 409))
def ack(unit_id: int, item_id: int, t: Tx = Depends(tx)):
    return t.run(lambda s, p: inbox.item_public(s, inbox.acknowledge(s, principal=p, unit_id=unit_id,
                                                                     item_id=item_id)))


@router.post("/units/{unit_id}/zero-reports", status_code=201, response_model=zero_reports.ZeroReportPublic,
             tags=["inbox"], summary="零报告: a licensed operator reports a day without movements (one per day; "
                                    "filing again returns the first)", responses=errors(403, 404, 409, 422))
def file_zero_report(unit_id: int, body: zero_reports.ZeroReportIn, t: Tx = Depends(tx)):
    def run(s, p):  # noqa: ANN001
        z, created = zero_reports.file_zero_report(s, principal=p, unit_id=unit_id, data=body)
        return zero_reports.public(z, already=not created)
    return t.run(run, status=201)


@router.get("/units/{unit_id}/zero-reports", response_model=list[zero_reports.ZeroReportPublic], tags=["inbox"],
            summary="The unit's zero reports, newest first", responses=errors(403, 404))
def list_zero_reports(unit_id: int, date_from: date | None = Query(None, alias="from"),
                      date_to: date | None = Query(None, alias="to"), s: Session = Depends(get_session),
                      p: Principal = Depends(principal)):
    return [zero_reports.public(z) for z in zero_reports.list_zero_reports(
        s, principal=p, unit_id=unit_id, date_from=date_from, date_to=date_to)]


@router.post("/units/{unit_id}/plans/{plan_id}/return", status_code=201, response_model=InboxItemPublic,
             tags=["inbox"], summary="A regulator returns the unit's current plan with a reason (it shows in the "
                                    "unit's inbox until a new version is filed)", responses=errors(403, 404, 409, 422))
def return_plan(unit_id: int, plan_id: int, body: returns.ReturnIn, t: Tx = Depends(tx)):
    return t.run(lambda s, p: inbox.item_public(s, returns.return_plan(s, principal=p, unit_id=unit_id,
                                                                       plan_id=plan_id, data=body)), status=201)
