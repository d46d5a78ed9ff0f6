"""A unit's own pages (/unit/{id}): its 固废码 and alerts (each with the rectification form when the unit's
administrator has one to file), what waits in its inbox (with ack, and the zero report of licensed operators),
stock per facility, recent records, manifests, the chain check and the HJ 1259 ledger download. The regulator
console shows the ledger blocks (`unit_context`) inside its own frame."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from alerts import queue
from api.deps import get_session
from api.pages.alert_views import alert_context, code_context, unit_alerts
from api.pages.common import PageRoute, Viewer, login_required, render
from ledger import journal, views
from ledger.auth import Principal, may, require_unit
from ledger.errors import NotFound
from ledger.filings import inbox, zero_reports
from ledger.registry.models import TIER_NAMES, Unit
from ledger.registry.tiers import derived_tier
from ledger.workdays import today

router = APIRouter(route_class=PageRoute)
RECORDS_PAGE = 30
ALERTS_ON_PAGE = 10


def unit_context(s: Session, p: Principal, unit: Unit, *, before_seq: int | None = None) -> dict:
    """What a unit page shows: stock per storage facility, recent records, recent manifests, download dates."""
    records = views.recent_records(s, unit_id=unit.id, limit=RECORDS_PAGE, before_seq=before_seq)
    manifests = views.unit_manifests(s, unit_id=unit.id)
    t = today()
    return {"unit": unit, "stock": views.unit_stock(s, unit_id=unit.id), "records": records,
            "more_before": records[-1].record.seq if len(records) == RECORDS_PAGE else None,
            "manifests": manifests, "names": views.party_names(s, manifests), "tier": _tier(s, unit),
            "ledger_from": date(t.year, 1, 1).isoformat(), "ledger_to": t.isoformat(),
            "can_operate": may(p, unit, "operate")}


def _tier(s: Session, unit: Unit) -> str | None:
    return TIER_NAMES.get(unit.tier_override or derived_tier(s, unit=unit))


@router.get("/unit")
def my_unit(v: Viewer = Depends(login_required)):
    if v.principal.unit_id is None:  # regulators, park managers, admins: their pages are the console
        return RedirectResponse("/console", status_code=303)
    return RedirectResponse(f"/unit/{v.principal.unit_id}", status_code=303)


def inbox_context(s: Session, p: Principal, unit: Unit) -> dict:
    """The unit's open inbox items, and whether it files zero reports (licensed operators report daily)."""
    items = inbox.list_inbox(s, principal=p, unit_id=unit.id, open_only=True, limit=30)
    can_operate = may(p, unit, "operate")
    daily = zero_reports.reports_daily(s, unit_id=unit.id, on=today())
    recent = zero_reports.list_zero_reports(s, principal=p, unit_id=unit.id)[:5] if daily else []
    return {"inbox": items, "can_ack": can_operate, "zero": daily and can_operate, "zero_recent": recent,
            "today": today().isoformat()}


@router.get("/unit/{unit_id}")
def unit_page(unit_id: int, request: Request, before: int | None = None, s: Session = Depends(get_session),
              v: Viewer = Depends(login_required)):
    p = v.principal
    unit = require_unit(s, p, unit_id)
    alerts, total = unit_alerts(s, p, unit.id, limit=ALERTS_ON_PAGE)
    return render(request, "unit/unit.html", {
        **unit_context(s, p, unit, before_seq=before), **inbox_context(s, p, unit), "base": f"/unit/{unit.id}",
        "code": code_context(s, unit, alert_href=f"/unit/{unit.id}/alerts/{{id}}"),
        "alerts": alerts, "alerts_total": total}, v=v)


@router.get("/unit/{unit_id}/alerts")
def unit_alert_list(unit_id: int, request: Request, s: Session = Depends(get_session),
                    v: Viewer = Depends(login_required)):
    """Every alert about the unit, open ones first."""
    unit = require_unit(s, v.principal, unit_id)
    alerts, total = unit_alerts(s, v.principal, unit.id, limit=500)
    return render(request, "unit/alerts.html", {"unit": unit, "alerts": alerts, "alerts_total": total,
                                                "base": f"/unit/{unit.id}"}, v=v)


@router.get("/unit/{unit_id}/alerts/{alert_id}")
def unit_alert(unit_id: int, alert_id: int, request: Request, s: Session = Depends(get_session),
               v: Viewer = Depends(login_required)):
    """One alert about the unit: evidence, trace, the log, and the rectification form when it is the unit's turn."""
    unit = require_unit(s, v.principal, unit_id)
    a = queue.get_alert(s, principal=v.principal, alert_id=alert_id)
    if a.unit_id != unit.id:
        raise NotFound(f"告警 {alert_id} 不属于本单位", code="alert.not_found")
    ctx = alert_context(s, v.principal, a, request.app.state.settings.public_url)
    return render(request, "unit/alert.html", {**ctx, "unit_href": f"/unit/{unit.id}", "base": f"/unit/{unit.id}"},
                  v=v)


def chain_context(s: Session, unit: Unit) -> dict:
    c = journal.verify(s, unit_id=unit.id)
    return {"unit": unit, "check": c}


@router.get("/unit/{unit_id}/chain")
def chain_page(unit_id: int, request: Request, s: Session = Depends(get_session),
               v: Viewer = Depends(login_required)):
    """Recompute the unit's hash chain now and say whether every record is as it was written."""
    unit = require_unit(s, v.principal, unit_id)
    return render(request, "unit/chain.html", {**chain_context(s, unit), "base": f"/unit/{unit.id}"}, v=v)
