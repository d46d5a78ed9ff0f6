"""A unit's own pages (/unit/{id}): stock per facility, recent records, manifests, the chain check and the HJ 1259
ledger download. The regulator console shows the same blocks (`unit_context`) inside its own frame."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from api.deps import get_session
from api.pages.common import PageRoute, Viewer, login_required, render
from ledger import journal, views
from ledger.auth import Principal, may, require_unit
from ledger.errors import InvalidInput
from ledger.registry.models import TIER_NAMES, Unit
from ledger.registry.tiers import derived_tier
from ledger.workdays import today

router = APIRouter(route_class=PageRoute)
RECORDS_PAGE = 30


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
    if v.principal.unit_id is None:
        raise InvalidInput("您的账号不属于某个单位；监管人员请使用监管控制台", field="unit_id")
    return RedirectResponse(f"/unit/{v.principal.unit_id}", status_code=303)


@router.get("/unit/{unit_id}")
def unit_page(unit_id: int, request: Request, before: int | None = None, s: Session = Depends(get_session),
              v: Viewer = Depends(login_required)):
    unit = require_unit(s, v.principal, unit_id)
    return render(request, "unit/unit.html", {**unit_context(s, v.principal, unit, before_seq=before),
                                              "base": f"/unit/{unit.id}"}, v=v)


def chain_context(s: Session, unit: Unit) -> dict:
    c = journal.verify(s, unit_id=unit.id)
    return {"unit": unit, "check": c}


@router.get("/unit/{unit_id}/chain")
def chain_page(unit_id: int, request: Request, s: Session = Depends(get_session),
               v: Viewer = Depends(login_required)):
    """Recompute the unit's hash chain now and say whether every record is as it was written."""
    unit = require_unit(s, v.principal, unit_id)
    return render(request, "unit/chain.html", {**chain_context(s, unit), "base": f"/unit/{unit.id}"}, v=v)
