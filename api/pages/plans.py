"""A unit's yearly management plans (管理计划, /unit/{id}/plans), beside its own pages.

For a year (this year unless `?year=` says another): every version filed, with its date and whether it was filed
late (`ledger.registry.plans.filed_late`); the current version's codes with the planned mass, the receivers and
methods; and how the year goes against it — the mass of each code generated so far (root batches, as the
GEN-PLAN-OVERRUN and GEN-NOT-IN-PLAN rules count it), its share of the plan, and the codes generated that the
plan does not name. A return a regulator made that still waits (`plan.returned` in the unit's inbox) shows with
its reason until a new version is filed.

The unit's own administrators (who `register` it) file a new version with the form (wl.js, one Idempotency-Key):
the current version's rows, or this year's generated codes when there is none, then empty rows to add codes;
`POST /units/{id}/plans`. A regulator whose jurisdiction covers the unit gets the 退回 form on the current version
(`POST /units/{id}/plans/{plan_id}/return`). Everyone else who may read the unit sees the same page without forms.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import func
from sqlmodel import Session, select

from alerts import settings as alert_settings
from api.deps import get_session
from api.pages.common import PageRoute, Viewer, kg, login_required, render
from ledger.auth import may, require_unit
from ledger.batches import Batch
from ledger.filings import returns
from ledger.manifests.models import Manifest
from ledger.mass import g_to_kg
from ledger.registry import plans as psvc
from ledger.registry.catalogue import get_waste_code
from ledger.registry.models import Method, Plan, PlanItem, Unit
from ledger.workdays import today, year_bounds_utc

router = APIRouter(route_class=PageRoute)
EMPTY_ROWS = 3  # empty rows under the filed ones, to add codes


def _generated(s: Session, unit_id: int, year: int) -> dict[str, int]:
    """Grams generated per code in `year` (root batches: what the unit itself generated)."""
    start, end = year_bounds_utc(year)
    rows = s.execute(select(Batch.waste_code, func.sum(Batch.net_g)).where(
        Batch.unit_id == unit_id, Batch.parent_id.is_(None), Batch.occurred_at >= start, Batch.occurred_at < end)
        .group_by(Batch.waste_code)).all()
    return {code: int(g or 0) for code, g in rows}


def _receivers(s: Session, unit: Unit, planned: list[PlanItem]) -> list[Unit]:
    """The receivers a plan row may name here: those of the plan, and those the unit has shipped to."""
    ids = {r for it in planned for r in it.receiver_ids}
    ids |= set(s.exec(select(Manifest.receiver_id).where(Manifest.originator_id == unit.id).distinct()).all())
    if not ids:
        return []
    return list(s.exec(select(Unit).where(Unit.id.in_(sorted(ids))).order_by(Unit.name)).all())


@router.get("/unit/{unit_id}/plans")
def plans_page(unit_id: int, request: Request, year: int | None = Query(None, ge=2000, le=2100),
               s: Session = Depends(get_session), v: Viewer = Depends(login_required)):
    p = v.principal
    unit = require_unit(s, p, unit_id)
    this_year = today().year
    year = year or this_year
    versions = list(reversed(psvc.list_plans(s, principal=p, unit_id=unit.id, year=year)))
    current = versions[0] if versions else None
    items = list(s.exec(select(PlanItem).where(PlanItem.plan_id == current.id).order_by(PlanItem.id)).all()) \
        if current else []
    generated = _generated(s, unit.id, year)
    ratio = alert_settings.PLAN_OVERRUN_RATIO
    rows = []
    for it in items:
        done = generated.get(it.waste_code, 0)
        rows.append({"item": it, "planned_kg": g_to_kg(it.planned_g), "generated_kg": g_to_kg(done),
                     "share": done / it.planned_g if it.planned_g else None,
                     "over": done > it.planned_g * ratio})
    planned_codes = {it.waste_code for it in items}
    unplanned = [{"code": c, "generated_kg": g_to_kg(g)} for c, g in sorted(generated.items())
                 if c not in planned_codes]
    receivers = _receivers(s, unit, items)
    names = {u.id: u.name for u in receivers}
    codes = {c: get_waste_code(s, c) for c in planned_codes | set(generated)}
    years = sorted({y for (y,) in s.execute(select(Plan.year).where(Plan.unit_id == unit.id).distinct())}
                   | {this_year, year}, reverse=True)
    # the form starts from the current version, or from what was generated when there is none
    form_rows = [{"code": it.waste_code, "kg": kg(g_to_kg(it.planned_g)), "receivers": it.receiver_ids,
                  "methods": "、".join(it.methods)} for it in items] or [
        {"code": c, "kg": kg(g_to_kg(g)), "receivers": [], "methods": ""} for c, g in sorted(generated.items())]
    form_rows += [{"code": "", "kg": "", "receivers": [], "methods": ""} for _ in range(EMPTY_ROWS)]
    waiting = returns.waiting_plan_return(s, current.id) if current else None
    return render(request, "unit/plans.html", {
        "unit": unit, "year": year, "years": years, "versions": versions, "current": current, "rows": rows,
        "unplanned": unplanned, "codes": codes, "names": names, "receivers": receivers, "form_rows": form_rows,
        "late": {x.id: psvc.filed_late(x, unit) for x in versions}, "waiting": waiting, "ratio": ratio,
        "methods": list(s.exec(select(Method).order_by(Method.code)).all()),
        "can_file": p.unit_id == unit.id and may(p, unit, "register"),
        "can_return": current is not None and waiting is None and may(p, unit, "supervise"),
        "base": f"/unit/{unit.id}"}, v=v)
