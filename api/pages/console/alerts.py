"""The alert queue (/console/alerts) and an alert's page (/console/alerts/{id}), and the 固废码 panel on a unit's
console page. Reads go through alerts.queue (the same jurisdiction, filters and figures as GET /alerts and
GET /alerts/stats); every action is a POST from wl.js to /api/v1/alerts/{id}/… with an Idempotency-Key."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from sqlmodel import Session, select

from alerts import queue
from alerts.models import STATUS_NAMES, STATUSES
from alerts.rules import CLASS_NAMES, CLASSES
from alerts.settings import TIER_NAMES, TIERS
from api.deps import get_session
from api.pages.alert_views import alert_context, code_context, overdue_value
from api.pages.common import PageRoute, Viewer, form_day
from api.pages.console.base import Panel, console_viewer, nav, render_console, unit_panel
from api.routers.alerts import alert_public
from ledger.auth import Principal, require_unit
from ledger.registry.models import Unit
from ledger.types import utcnow
from ledger.workdays import local_day

router = APIRouter(prefix="/console", route_class=PageRoute)
nav("alerts", "告警队列", "/console/alerts", order=10)
PAGE = 50



def rate_text(stats: dict) -> str:
    r = stats["closure_rate"]
    return "—" if r is None else f"{r * 100:.1f}%"


@router.get("/alerts")
def alert_queue(request: Request, tier: str = "", status: str = "", klass: str = Query("", alias="class"),
                region: str = "", overdue: str = "", unit_id: int | None = None, page: int = 0,
                date_from: str = Query("", alias="from"), date_to: str = Query("", alias="to"),
                s: Session = Depends(get_session), v: Viewer = Depends(console_viewer)):
    p = v.principal
    unit = require_unit(s, p, unit_id) if unit_id is not None else None
    page = max(page, 0)
    filters = {"tier": tier or None, "status": status or None, "klass": klass or None, "region": region.strip() or None,
               "overdue": overdue_value(overdue), "unit_id": unit_id}
    rows, total = queue.list_alerts(s, principal=p, limit=PAGE, offset=page * PAGE, **filters)
    today = local_day(utcnow())
    start, end = form_day(date_from, "from") or date(today.year, 1, 1), form_day(date_to, "to") or today
    stats = queue.stats(s, principal=p, start=start, end=end, region=filters["region"], unit_id=unit_id)
    names = dict(s.exec(select(Unit.id, Unit.name).where(Unit.id.in_({a.unit_id for a in rows}))).all()) if rows else {}
    query = {"tier": tier, "status": status, "class": klass, "region": region, "overdue": overdue,
             "unit_id": unit_id if unit_id is not None else "", "from": date_from, "to": date_to}
    keep = {k: v for k, v in query.items() if v not in ("", None)}

    def link(**change) -> str:  # the queue with some filters changed (and back to the first page)
        q = {**keep, **{k: v for k, v in change.items()}}
        return "/console/alerts?" + urlencode({k: v for k, v in q.items() if v not in ("", None)})

    now = utcnow()
    open_by_tier = {t: sum(n for st, n in stats["counts"][t].items() if st != "closed") for t in TIERS}
    return render_console(request, "console/alerts.html", {
        "rows": [alert_public(a, p, now) for a in rows], "total": total, "page": page, "pages": (total + PAGE - 1) // PAGE,
        "names": names, "stats": stats, "rate": rate_text(stats), "open_by_tier": open_by_tier, "unit": unit,
        "q": query, "link": link, "TIERS": TIERS, "TIER_NAMES": TIER_NAMES, "STATUSES": STATUSES,
        "STATUS_NAMES": STATUS_NAMES, "CLASSES": CLASSES, "CLASS_NAMES": CLASS_NAMES,
        "filtered": bool(keep.keys() - {"from", "to"})}, v=v, active="alerts")


@router.get("/alerts/{alert_id}")
def alert_page(alert_id: int, request: Request, s: Session = Depends(get_session),
               v: Viewer = Depends(console_viewer)):
    a = queue.get_alert(s, principal=v.principal, alert_id=alert_id)
    ctx = alert_context(s, v.principal, a, request.app.state.settings.public_url)
    return render_console(request, "console/alert.html", {**ctx, "unit_href": f"/console/units/{a.unit_id}"},
                          v=v, active="alerts")


@unit_panel
def code_panel(s: Session, p: Principal, unit: Unit) -> Panel:
    """The unit's 固废码 on its console page, its open alerts linking to their pages."""
    return Panel("alerts/_code.html", {**code_context(s, unit, alert_href="/console/alerts/{id}"),
                                       "queue_href": f"/console/alerts?unit_id={unit.id}"}, order=10)
