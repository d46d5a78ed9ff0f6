"""A facility card's QR opens /f/{id}: the facility, and for those in scope its stock and recent movements."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session

from api.deps import get_session
from api.pages.common import PageRoute, Viewer, render, viewer
from ledger import batches as svc
from ledger.auth import can_see_unit
from ledger.errors import NotFound
from ledger.mass import g_to_kg
from ledger.registry.models import Facility, Unit

router = APIRouter(route_class=PageRoute)


@router.get("/f/{facility_id}")
def facility_page(facility_id: int, request: Request, s: Session = Depends(get_session), v: Viewer = Depends(viewer)):
    f = s.get(Facility, facility_id)
    if f is None:
        raise NotFound(f"设施 {facility_id} 不存在", code="facility.not_found")
    unit = s.get(Unit, f.unit_id)
    visible = v.principal is not None and can_see_unit(s, v.principal, unit)
    ctx = {"f": f, "unit": unit, "visible": visible,
           "stock": svc.facility_stock(s, facility_id=f.id) if visible else [],
           "recent": svc.recent_movements(s, facility_id=f.id, limit=15) if visible else [], "g_to_kg": g_to_kg}
    return render(request, "facility.html", ctx, v=v)
