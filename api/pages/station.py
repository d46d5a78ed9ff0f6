"""The weighing station (/station): record a batch, store it at once if asked (即入库), print its label at its
physical size; scan a label to open the batch with its next actions. Reads are rendered here; every write is a
POST to the JSON API from station.js (same services, same unit of work, same Idempotency-Key)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from sqlmodel import Session, select

from api.deps import get_session
from api.pages.common import PageRoute, Viewer, kg, login_required, render
from api.pages.scan import ACTION_NAMES, holding_for
from api.routers.batches import next_actions
from labels import label_size_mm
from ledger import batches as bsvc
from ledger import views
from ledger.auth import Principal, require_unit
from ledger.batches import FORMS
from ledger.codes import HAZARD_NAMES, parse_digital_id, parse_hazard
from ledger.errors import Forbidden, InvalidInput, LedgerError, NotFound
from ledger.registry.models import Facility, Method, Unit
from ledger.workdays import today

router = APIRouter(route_class=PageRoute)

CONTAINERS = ("桶", "袋", "吨袋", "箱", "罐", "托盘", "散装")
STATION_ROLES = ("operator", "unit_admin", "receiver_operator", "admin")


def station_unit(s: Session, p: Principal, unit_id: int | None) -> Unit:
    """The unit this station weighs for: the operator's own; an admin names one with ?unit_id=."""
    if p.role not in STATION_ROLES:
        raise Forbidden("称重站需要本单位称重员、收料员或单位管理员账号；您当前的角色不能记录称重。",
                        code="auth.forbidden")
    uid = p.unit_id if p.unit_id is not None else unit_id
    if uid is None:
        raise InvalidInput("请在地址后加 ?unit_id=单位编号 选择要称重的单位", field="unit_id")
    return require_unit(s, p, uid, act="operate")


def facilities(s: Session, unit_id: int) -> dict[str, list[Facility]]:
    out: dict[str, list[Facility]] = {"generation": [], "storage": [], "process": []}
    for f in s.exec(select(Facility).where(Facility.unit_id == unit_id).order_by(Facility.code)).all():
        out["process" if f.kind in ("utilisation", "disposal") else f.kind].append(f)
    return out


def methods_for(s: Session, process: list[Facility]) -> list[Method]:
    """The methods the unit's own utilisation/disposal facilities are registered for (all when none say)."""
    codes = {m for f in process for m in f.methods}
    q = select(Method).order_by(Method.code)
    if codes:
        q = q.where(Method.code.in_(codes))
    return list(s.exec(q).all())


@router.get("/station")
def station(request: Request, unit_id: int | None = None, scan: str | None = None,
            s: Session = Depends(get_session), v: Viewer = Depends(login_required)):
    unit = station_unit(s, v.principal, unit_id)
    facs = facilities(s, unit.id)
    codes = views.station_codes(s, unit_id=unit.id, year=today().year)
    defaults = {c.code: {"name": c.name, "form": c.form, "container_type": c.container_type,
                         "container_volume_l": c.container_volume_l,
                         "tare_kg": kg(c.tare_kg) if c.tare_kg is not None else None} for c in codes}
    return render(request, "station/station.html", {
        "unit": unit, "facs": facs, "codes": codes, "forms": FORMS, "containers": CONTAINERS,
        "recent": views.recent_batches(s, unit_id=unit.id), "scan": scan or "",
        "data": {"unit_id": unit.id, "codes": defaults, "operator": v.display_name}}, v=v)


@router.get("/station/recent")
def recent(request: Request, unit_id: int | None = None, s: Session = Depends(get_session),
           v: Viewer = Depends(login_required)):
    """The latest weighings, whoever posted them (this page or a scale through the API): polled by the page."""
    unit = station_unit(s, v.principal, unit_id)
    return render(request, "station/_recent.html", {"recent": views.recent_batches(s, unit_id=unit.id)}, v=v)


@router.get("/station/batch/{digital_id}")
def batch_panel(digital_id: str, request: Request, unit_id: int | None = None, s: Session = Depends(get_session),
                v: Viewer = Depends(login_required)):
    """A scanned label: the batch the station's unit holds, with its next actions (an HTML fragment)."""
    p = v.principal
    try:
        unit = station_unit(s, p, unit_id)
        did = digital_id.strip().upper()
        parse_digital_id(did)
        b = holding_for(s, did, unit.id)
        if b is None or not bsvc.can_see_batch(s, p, b):
            raise NotFound(f"未找到识别码 {did} 对应的批次（或不在本单位）", code="batch.not_found")
    except LedgerError as e:
        return render(request, "station/_batch_error.html", {"message": e.message, "digital_id": digital_id},
                      v=v, status=e.status)
    facs = facilities(s, b.holder_unit_id)
    actions = next_actions(s, p, b)
    return render(request, "station/_batch.html", {
        "b": b, "actions": actions, "names": ACTION_NAMES, "facs": facs,
        "methods": methods_for(s, facs["process"]) if {"use_in_house", "dispose_in_house"} & set(actions) else [],
        "hazards": [HAZARD_NAMES.get(h, h) for h in (parse_hazard(b.hazard) if b.hazard else ())],
        "storage": s.get(Facility, b.storage_facility_id) if b.storage_facility_id else None,
        "mine": b.holder_unit_id == unit.id}, v=v)


@router.get("/station/label/{batch_id}")
def label_page(batch_id: int, request: Request, autoprint: int = Query(0, alias="print"),
               s: Session = Depends(get_session), v: Viewer = Depends(login_required)):
    """The label at its physical size (HJ 1276 side for the container), printed by the browser."""
    b = bsvc.get_batch(s, v.principal, batch_id)
    return render(request, "station/label.html", {"b": b, "size": label_size_mm(b.container_volume_l),
                                                  "autoprint": bool(autoprint)}, v=v)
