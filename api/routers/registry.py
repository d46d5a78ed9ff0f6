"""Registry paths: units, facilities, permits, vehicles, plans, economics, parks, the catalogue."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlmodel import Session, or_, select

from api.deps import Tx, get_session, principal, tx
from ledger.auth import Principal, require_park, require_unit
from ledger.errors import NotFound
from ledger.registry import assets, membership, plans, units
from ledger.registry.models import Method, WasteCode
from ledger.validation import Code, DbId, Limit, Offset, Year

router = APIRouter(tags=["registry"])


@router.post("/units", status_code=201, response_model=units.UnitPublic, summary="Register a unit (备案)")
def create_unit(body: units.UnitCreate, t: Tx = Depends(tx)):
    return t.run(lambda s, p: units.unit_public(s, units.create_unit(s, principal=p, data=body)), status=201)


@router.get("/units", response_model=list[units.UnitPublic], summary="Units in your scope")
def list_units(region: str | None = Query(None, max_length=6), role: str | None = Query(None, max_length=20),
               park_id: DbId | None = None, limit: Limit = 100, offset: Offset = 0, s: Session = Depends(get_session),
               p: Principal = Depends(principal)):
    rows = units.list_units(s, principal=p, region=region, role=role, park_id=park_id, limit=limit, offset=offset)
    return [units.unit_public(s, u) for u in rows]


@router.get("/units/{unit_id}", response_model=units.UnitPublic)
def get_unit(unit_id: DbId, s: Session = Depends(get_session), p: Principal = Depends(principal)):
    return units.unit_public(s, require_unit(s, p, unit_id))


@router.post("/units/{unit_id}/tier", response_model=units.UnitPublic,
             summary="Override the management tier (regulators)")
def override_tier(unit_id: DbId, body: units.TierOverride, t: Tx = Depends(tx)):
    return t.run(lambda s, p: units.unit_public(s, units.override_tier(s, principal=p, unit_id=unit_id, data=body)))


@router.post("/units/{unit_id}/facilities", status_code=201, response_model=assets.FacilityPublic)
def create_facility(unit_id: DbId, body: assets.FacilityCreate, t: Tx = Depends(tx)):
    return t.run(lambda s, p: assets.facility_public(
        assets.create_facility(s, principal=p, unit_id=unit_id, data=body)), status=201)


@router.get("/units/{unit_id}/facilities", response_model=list[assets.FacilityPublic])
def list_facilities(unit_id: DbId, s: Session = Depends(get_session), p: Principal = Depends(principal)):
    return [assets.facility_public(f) for f in assets.list_facilities(s, principal=p, unit_id=unit_id)]


@router.post("/units/{unit_id}/permits", status_code=201, response_model=assets.PermitPublic)
def create_permit(unit_id: DbId, body: assets.PermitCreate, t: Tx = Depends(tx)):
    return t.run(lambda s, p: assets.permit_public(
        assets.create_permit(s, principal=p, unit_id=unit_id, data=body)), status=201)


@router.get("/units/{unit_id}/permits", response_model=list[assets.PermitPublic])
def list_permits(unit_id: DbId, s: Session = Depends(get_session), p: Principal = Depends(principal)):
    return [assets.permit_public(x) for x in assets.list_permits(s, principal=p, unit_id=unit_id)]


@router.post("/units/{unit_id}/vehicles", status_code=201, response_model=assets.VehiclePublic)
def create_vehicle(unit_id: DbId, body: assets.VehicleCreate, t: Tx = Depends(tx)):
    return t.run(lambda s, p: assets.vehicle_public(
        assets.create_vehicle(s, principal=p, unit_id=unit_id, data=body)), status=201)


@router.get("/units/{unit_id}/vehicles", response_model=list[assets.VehiclePublic])
def list_vehicles(unit_id: DbId, s: Session = Depends(get_session), p: Principal = Depends(principal)):
    return [assets.vehicle_public(v) for v in assets.list_vehicles(s, principal=p, unit_id=unit_id)]


@router.post("/units/{unit_id}/plans", status_code=201, response_model=plans.PlanPublic,
             summary="File a yearly management plan (a new version for the same year supersedes)")
def file_plan(unit_id: DbId, body: plans.PlanCreate, t: Tx = Depends(tx)):
    return t.run(lambda s, p: plans.plan_public(s, plans.file_plan(s, principal=p, unit_id=unit_id, data=body)),
                 status=201)


@router.get("/units/{unit_id}/plans", response_model=list[plans.PlanPublic])
def list_plans(unit_id: DbId, year: Year | None = None, s: Session = Depends(get_session),
               p: Principal = Depends(principal)):
    return [plans.plan_public(s, x) for x in plans.list_plans(s, principal=p, unit_id=unit_id, year=year)]


@router.post("/units/{unit_id}/economics", response_model=plans.EconomicsPublic,
             summary="Record a year's 工业增加值 and 产值 (万元)")
def set_economics(unit_id: DbId, body: plans.EconomicsIn, t: Tx = Depends(tx)):
    def run(s, p):  # noqa: ANN001
        row = plans.set_economics(s, principal=p, unit_id=unit_id, data=body)
        return plans.EconomicsPublic(unit_id=row.unit_id, year=row.year, value_added_10k=row.value_added_10k,
                                     output_value_10k=row.output_value_10k)
    return t.run(run)


@router.get("/units/{unit_id}/economics", response_model=list[plans.EconomicsPublic])
def list_economics(unit_id: DbId, s: Session = Depends(get_session), p: Principal = Depends(principal)):
    return [plans.EconomicsPublic(unit_id=r.unit_id, year=r.year, value_added_10k=r.value_added_10k,
                                  output_value_10k=r.output_value_10k)
            for r in plans.list_economics(s, principal=p, unit_id=unit_id)]


@router.post("/parks", status_code=201, response_model=units.ParkPublic, summary="Register an industrial park")
def create_park(body: units.ParkCreate, t: Tx = Depends(tx)):
    return t.run(lambda s, p: units.park_public(s, units.create_park(s, principal=p, data=body)), status=201)


@router.get("/parks", response_model=list[units.ParkPublic])
def list_parks(s: Session = Depends(get_session), p: Principal = Depends(principal)):
    return [units.park_public(s, x) for x in units.list_parks(s, principal=p)]


@router.get("/parks/{park_id}", response_model=units.ParkPublic)
def get_park(park_id: DbId, s: Session = Depends(get_session), p: Principal = Depends(principal)):
    return units.park_public(s, require_park(s, p, park_id))


@router.post("/parks/{park_id}/members", status_code=201, response_model=units.ParkPublic,
             summary="Record a unit's membership of the park from a date (a regulator of its region, or an admin)")
def add_member(park_id: DbId, body: units.MemberCreate, t: Tx = Depends(tx)):
    def run(s, p):  # noqa: ANN001
        units.add_member(s, principal=p, park_id=park_id, data=body)
        return units.park_public(s, require_park(s, p, park_id))
    return t.run(run, status=201)


@router.post("/parks/{park_id}/member-requests", status_code=201, response_model=membership.MemberRequestPublic,
             summary="A park manager asks a unit (by credit code) to join the park; the unit's admin answers")
def request_member(park_id: DbId, body: membership.MemberRequestCreate, t: Tx = Depends(tx)):
    return t.run(lambda s, p: membership.request_public(s, membership.request_membership(
        s, principal=p, park_id=park_id, data=body)), status=201)


@router.get("/parks/{park_id}/member-requests", response_model=list[membership.MemberRequestPublic],
            summary="Membership requests of the park, newest first")
def park_requests(park_id: DbId, s: Session = Depends(get_session), p: Principal = Depends(principal)):
    return [membership.request_public(s, r) for r in membership.list_park_requests(s, principal=p, park_id=park_id)]


@router.get("/units/{unit_id}/park-requests", response_model=list[membership.MemberRequestPublic],
            summary="Requests from parks that this unit join them, newest first")
def unit_park_requests(unit_id: DbId, s: Session = Depends(get_session), p: Principal = Depends(principal)):
    return [membership.request_public(s, r) for r in membership.list_unit_requests(s, principal=p, unit_id=unit_id)]


@router.post("/units/{unit_id}/park-requests/{request_id}/accept", response_model=membership.MemberRequestPublic,
             summary="The unit's admin accepts: the unit joins the park from the later of the asked day and today")
def accept_park_request(unit_id: DbId, request_id: DbId, t: Tx = Depends(tx)):
    return t.run(lambda s, p: membership.request_public(s, membership.answer_request(
        s, principal=p, unit_id=unit_id, request_id=request_id, accept=True)))


@router.post("/units/{unit_id}/park-requests/{request_id}/reject", response_model=membership.MemberRequestPublic,
             summary="The unit's admin rejects a park's request")
def reject_park_request(unit_id: DbId, request_id: DbId, t: Tx = Depends(tx)):
    return t.run(lambda s, p: membership.request_public(s, membership.answer_request(
        s, principal=p, unit_id=unit_id, request_id=request_id, accept=False)))


@router.get("/catalogue/waste-codes", response_model=list[WasteCode], tags=["catalogue"],
            summary="Search the hazardous-waste catalogue")
def search_codes(q: str | None = Query(None, max_length=100), category: str | None = Query(None, max_length=8),
                 limit: Limit = 50,
                 s: Session = Depends(get_session), _: Principal = Depends(principal)):
    stmt = select(WasteCode)
    if category:
        stmt = stmt.where(WasteCode.category == category.upper())
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(WasteCode.code.like(like), WasteCode.description.like(like),
                              WasteCode.category_name.like(like)))
    return list(s.exec(stmt.order_by(WasteCode.code).limit(limit)).all())


@router.get("/catalogue/waste-codes/{code}", response_model=WasteCode, tags=["catalogue"])
def get_code(code: Code, s: Session = Depends(get_session), _: Principal = Depends(principal)):
    row = s.get(WasteCode, code)
    if row is None:
        raise NotFound(f"{code} is not in the catalogue", code="waste_code.not_found")
    return row


@router.get("/catalogue/methods", response_model=list[Method], tags=["catalogue"])
def list_methods(s: Session = Depends(get_session), _: Principal = Depends(principal)):
    return list(s.exec(select(Method).order_by(Method.code)).all())
