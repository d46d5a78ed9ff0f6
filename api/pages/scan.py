"""What a phone shows when it scans a batch label (/s/{digital_id}): the label's own facts for anyone, the balances
and next actions for those in scope. A driver picking up a manifest who scans a label with the phone's camera
lands here; the page ticks the label off on that manifest's pickup list and goes back to it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session, select

from api.deps import get_session
from api.pages.common import PageRoute, Viewer, render, viewer
from api.routers.batches import next_actions
from ledger import batches as svc
from ledger import manifests as msvc
from ledger.codes import HAZARD_NAMES, parse_digital_id, parse_hazard
from ledger.errors import LedgerError
from ledger.mass import g_to_kg
from ledger.registry.catalogue import get_waste_code
from ledger.registry.models import Unit

router = APIRouter(route_class=PageRoute)

ACTION_NAMES = {"store": "入库", "retrieve": "出库", "use_in_house": "自行利用", "dispose_in_house": "自行处置",
                "load_onto_manifest": "装车（列入联单）", "pickup_scan": "提货扫码核对", "receive": "接收过磅"}


def holding_for(s: Session, digital_id: str, unit_id: int | None) -> svc.Batch | None:
    """The holding of a physical batch that the viewer's unit holds, else the generator's (root) holding."""
    return next(iter(svc.holdings_for_scan(s, digital_id, unit_id=unit_id)), None)


def pickup_manifest(s: Session, v: Viewer, b: svc.Batch) -> msvc.Manifest | None:
    """The submitted manifest this batch is on, when the viewer is its hauler (a label scanned at pickup)."""
    p = v.principal
    if p is None or p.unit_id is None:
        return None
    m = s.exec(select(msvc.Manifest).join(msvc.ManifestLine, msvc.ManifestLine.manifest_id == msvc.Manifest.id)
               .where(msvc.ManifestLine.batch_id == b.id, msvc.Manifest.status == "submitted",
                      msvc.Manifest.hauler_id == p.unit_id)).first()
    return m


@router.get("/s/{digital_id}")
def scan_page(digital_id: str, request: Request, s: Session = Depends(get_session), v: Viewer = Depends(viewer)):
    """The label's QR opens this page."""
    try:
        parse_digital_id(digital_id)
    except LedgerError as e:
        return render(request, "scan.html", {"error": e.message}, v=v, status=422)
    p = v.principal
    b = holding_for(s, digital_id.strip().upper(), p.unit_id if p else None)
    if b is None:
        return render(request, "scan.html", {"error": f"未找到识别码 {digital_id} 对应的批次"}, v=v, status=404)
    unit = s.get(Unit, b.unit_id)
    entry = get_waste_code(s, b.waste_code)
    ctx = {"b": b, "unit": unit, "entry": entry, "net_kg": g_to_kg(b.net_g), "principal": p,
           "hazards": [HAZARD_NAMES.get(h, h) for h in (parse_hazard(b.hazard) if b.hazard else ())],
           "detail": None, "actions": [], "pickup": None}
    if p is not None and svc.can_see_batch(s, p, b):
        ctx["detail"] = {"remaining_kg": g_to_kg(b.remaining_g), "stored_kg": g_to_kg(b.stored_g),
                         "in_transit_kg": g_to_kg(b.in_transit_g), "status": b.status}
        ctx["actions"] = [(a, ACTION_NAMES.get(a, a)) for a in next_actions(s, p, b)]
        ctx["pickup"] = pickup_manifest(s, v, b)
    return render(request, "scan.html", ctx, v=v)
