"""Units in the jurisdiction: a searchable list, and each unit's page (stock per facility, recent records,
manifests, the chain check, plus the panels other sections register, such as the 固废码)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session

from api.deps import get_session
from api.pages.common import PageRoute, Viewer
from api.pages.console.base import UNIT_PANELS, console_viewer, nav, render_console
from api.pages.unit import chain_context, unit_context
from ledger import views
from ledger.auth import require_unit

router = APIRouter(prefix="/console", route_class=PageRoute)
nav("units", "单位", "/console/units", order=20)
PAGE = 50


@router.get("/units")
def unit_list(request: Request, q: str = "", page: int = 0, s: Session = Depends(get_session),
              v: Viewer = Depends(console_viewer)):
    rows = views.search_units(s, principal=v.principal, q=q, limit=PAGE + 1, offset=max(page, 0) * PAGE)
    return render_console(request, "console/units.html", {"rows": rows[:PAGE], "q": q, "page": max(page, 0),
                                                          "more": len(rows) > PAGE}, v=v, active="units")


@router.get("/units/{unit_id}")
def unit_page(unit_id: int, request: Request, before: int | None = None, s: Session = Depends(get_session),
              v: Viewer = Depends(console_viewer)):
    unit = require_unit(s, v.principal, unit_id)
    panels = sorted((pn for fn in UNIT_PANELS if (pn := fn(s, v.principal, unit)) is not None),
                    key=lambda pn: pn.order)
    ctx = unit_context(s, v.principal, unit, before_seq=before)
    return render_console(request, "console/unit.html", {
        **ctx, "panels": panels, "base": f"/console/units/{unit.id}",
        "manifests_href": f"/console/manifests?unit_id={unit.id}"}, v=v, active="units")


@router.get("/units/{unit_id}/chain")
def unit_chain(unit_id: int, request: Request, s: Session = Depends(get_session),
               v: Viewer = Depends(console_viewer)):
    unit = require_unit(s, v.principal, unit_id)
    return render_console(request, "console/chain.html", {**chain_context(s, unit),
                                                          "base": f"/console/units/{unit.id}"}, v=v, active="units")
