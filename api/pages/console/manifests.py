"""Manifest search: by number (or its first digits), vehicle plate, or a party's name or credit code."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session

from api.deps import get_session
from api.pages.common import MANIFEST_STATUS, PageRoute, Viewer
from api.pages.console.base import console_viewer, nav, render_console
from ledger import views
from ledger.auth import require_unit
from ledger.errors import InvalidInput

router = APIRouter(prefix="/console", route_class=PageRoute)
nav("manifests", "联单查询", "/console/manifests", order=30)


@router.get("/manifests")
def search(request: Request, q: str = "", status: str = "", unit_id: int | None = None, overdue: int = 0,
           s: Session = Depends(get_session), v: Viewer = Depends(console_viewer)):
    if status and status not in MANIFEST_STATUS:
        raise InvalidInput(f"未知的联单状态 {status}", field="status")
    unit = require_unit(s, v.principal, unit_id) if unit_id is not None else None
    rows = views.search_manifests(s, principal=v.principal, q=q, status=status or None, unit_id=unit_id,
                                  overdue=bool(overdue), limit=100)
    return render_console(request, "console/manifests.html", {
        "rows": rows, "q": q, "status": status, "unit": unit, "names": views.party_names(s, rows),
        "plates": views.plates(s, rows), "overdue": overdue,
        "searched": bool(q or status or unit or overdue)}, v=v, active="manifests")
