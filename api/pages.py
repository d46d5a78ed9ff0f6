"""Server-rendered pages. For now: what a phone shows when it scans a batch label or a facility card."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlmodel import Session, select

from api.deps import get_session, optional_principal
from api.routers.batches import next_actions
from ledger import batches as svc
from ledger.auth import Principal, can_see_unit
from ledger.codes import HAZARD_NAMES, parse_digital_id
from ledger.errors import LedgerError, NotFound
from ledger.mass import g_to_kg
from ledger.registry.catalogue import get_waste_code
from ledger.registry.models import Facility, Unit
from ledger.workdays import SHANGHAI

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(include_in_schema=False)

ACTION_NAMES = {"store": "入库", "retrieve": "出库", "use_in_house": "自行利用", "dispose_in_house": "自行处置",
                "load_onto_manifest": "装车（列入联单）", "pickup_scan": "提货扫码核对", "receive": "接收过磅"}


@router.get("/s/{digital_id}", response_class=HTMLResponse)
def scan_page(digital_id: str, request: Request, s: Session = Depends(get_session),
              p: Principal | None = Depends(optional_principal)):
    """The label's QR opens this page: the label's own facts for anyone, the rest for those in scope."""
    try:
        parse_digital_id(digital_id)
    except LedgerError as e:
        return templates.TemplateResponse(request, "scan.html", {"error": e.message}, status_code=422)
    b = s.exec(select(svc.Batch).where(svc.Batch.digital_id == digital_id.upper())).first()
    if b is None:
        return templates.TemplateResponse(request, "scan.html", {"error": f"未找到识别码 {digital_id} 对应的批次"},
                                          status_code=404)
    unit = s.get(Unit, b.unit_id)
    entry = get_waste_code(s, b.waste_code)
    ctx = {"b": b, "unit": unit, "entry": entry, "net_kg": g_to_kg(b.net_g), "principal": p, "tz": SHANGHAI,
           "hazards": [HAZARD_NAMES.get(h, h) for h in (svc.parse_hazard(b.hazard) if b.hazard else ())],
           "detail": None, "actions": []}
    if p is not None and svc.can_see_batch(s, p, b):
        ctx["detail"] = {"remaining_kg": g_to_kg(b.remaining_g), "stored_kg": g_to_kg(b.stored_g),
                         "in_transit_kg": g_to_kg(b.in_transit_g), "status": b.status}
        ctx["actions"] = [(a, ACTION_NAMES.get(a, a)) for a in next_actions(s, p, b)]
    return templates.TemplateResponse(request, "scan.html", ctx)


@router.get("/f/{facility_id}", response_class=HTMLResponse)
def facility_page(facility_id: int, request: Request, s: Session = Depends(get_session),
                  p: Principal | None = Depends(optional_principal)):
    """A facility card's QR opens this page: the facility, its stock and its recent movements."""
    f = s.get(Facility, facility_id)
    if f is None:
        raise NotFound(f"facility {facility_id} does not exist", code="facility.not_found")
    unit = s.get(Unit, f.unit_id)
    visible = p is not None and can_see_unit(s, p, unit)
    ctx = {"f": f, "unit": unit, "principal": p, "visible": visible,
           "stock": svc.facility_stock(s, facility_id=f.id) if visible else [],
           "recent": svc.recent_movements(s, facility_id=f.id, limit=15) if visible else [], "g_to_kg": g_to_kg,
           "tz": SHANGHAI}
    return templates.TemplateResponse(request, "facility.html", ctx)
