"""Manifests on a phone (/m/{number}): the QR on the printed manifest (and a label scanned at pickup) opens it.

Anyone gets the public verification view (扫码核验真伪与流转记录): number, parties, state, masses and the times of
the signatures — no people, no positions, no reasons, the plate partly masked. A party to the manifest (driver,
receiver, originator) and those who supervise it get the whole manifest; a party gets the step that is theirs
(pickup by scanning every label, arrival, receipt per line, the return leg). phone.js sends each step to the
JSON API with an Idempotency-Key and keeps it in localStorage until the server has it.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy import func
from sqlmodel import Session, select

from api.deps import get_session
from api.pages.common import PageRoute, Viewer, login_required, render, viewer
from api.routers.manifests import manifest_public
from ledger import manifests as msvc
from ledger import views
from ledger.auth import may
from ledger.errors import NotFound
from ledger.registry.models import Facility, Unit
from ledger.types import utcnow

router = APIRouter(route_class=PageRoute)

# Which signatures the public view lists, and under what name.
SIGNATURES = {"submit": "移出人签发", "pickup": "承运人提货", "deliver": "运抵", "receive": "接受人签收",
              "complete": "利用处置完成", "cancel": "作废", "return": "退回起运", "returned": "移出人收回"}
ACTION_NAMES = {**SIGNATURES, "create": "移出人填报", "revision_proposed": "提出变更", "revision_approved": "同意变更",
                "revision_rejected": "拒绝变更", "revision_applied": "变更生效"}
ON_THE_ROAD = ("in_transit", "returning")


def mask_plate(plate: str) -> str:
    """鲁A12345 → 鲁A1**45: enough to match the paper and the truck, not to look a vehicle up."""
    if len(plate) <= 5:
        return plate
    return plate[:3] + "*" * (len(plate) - 5) + plate[-2:]


def _acts(s: Session, v: Viewer, m: msvc.Manifest) -> dict[str, bool]:
    p = v.principal
    out = {"hauler": False, "receiver": False, "originator": False}
    if p is None or p.unit_id is None:
        return out
    for role, uid, act in (("hauler", m.hauler_id, "haul"), ("receiver", m.receiver_id, "receive"),
                           ("originator", m.originator_id, "operate")):
        if p.unit_id == uid and may(p, s.get(Unit, uid), act):
            out[role] = True
    return out


@router.get("/m")
def my_manifests(request: Request, q: str = "", s: Session = Depends(get_session),
                 v: Viewer = Depends(login_required)):
    """The manifests of the viewer's unit (or in the viewer's scope), open ones first."""
    rows = views.search_manifests(s, principal=v.principal, q=q, limit=60)
    open_first = sorted(rows, key=lambda m: (m.status not in msvc.OPEN + ("refused", "returning"), -m.id))
    return render(request, "phone/list.html", {"rows": open_first, "q": q, "names": views.party_names(s, rows),
                                               "plates": views.plates(s, rows)}, v=v)


@router.get("/m/{number}")
def manifest_page(number: str, request: Request, s: Session = Depends(get_session), v: Viewer = Depends(viewer)):
    m = views.manifest_by_number(s, number)
    if m is None:
        raise NotFound(f"联单 {number} 不存在。请核对纸质联单上的 14 位编号；伪造的联单在本系统中查不到。",
                       code="manifest.not_found")
    url = request.app.state.settings.public_url
    pub = manifest_public(s, m, url)
    full = v.principal is not None and msvc.can_see_manifest(s, v.principal, m)
    sigs = [(SIGNATURES[e.action], e.at) for e in pub.events if e.action in SIGNATURES]
    if not full:
        return render(request, "phone/public.html", {"m": pub, "plate": mask_plate(pub.vehicle_plate),
                                                     "sigs": sigs, "now": utcnow()}, v=v,
                      cache="no-cache")
    acts = _acts(s, v, m)
    pending_return = [ln for ln in pub.lines if ln.refused_kg and ln.refused_kg > ln.returned_kg]
    stores = s.exec(select(Facility).where(Facility.unit_id == m.receiver_id, Facility.kind == "storage")
                    .order_by(Facility.code)).all() if acts["receiver"] else []
    track_count = s.exec(select(func.count(msvc.TrackPoint.id)).where(msvc.TrackPoint.manifest_id == m.id)).one()
    data = {"id": m.id, "number": m.number, "status": m.status,
            "labels": [ln.digital_id for ln in pub.lines] if acts["hauler"] and m.status == "submitted" else [],
            "track": acts["hauler"] and m.status in ON_THE_ROAD}
    return render(request, "phone/manifest.html", {
        "m": pub, "acts": acts, "sigs": sigs, "stores": stores, "pending_return": pending_return,
        "track_count": track_count, "data": data, "events": pub.events, "action_names": ACTION_NAMES}, v=v)
