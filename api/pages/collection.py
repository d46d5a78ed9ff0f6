"""A unit's collection pages: consents (/unit/{id}/consents) and a collection centre's lots (/unit/{id}/lots,
/unit/{id}/lots/{lot}).

Consents: a small producer's administrator sees which collectors may file for it, grants consent to a licensed
collector of its province and revokes one with a reason (`POST /units/{id}/consents…`, `ledger/collection/
consents.py`); a collector's users see the consents it holds (its administrator may give one up, as the API allows).
There is no API that lists collectors, so the page lists them itself (`licensed_collectors`): units with the
collector role in the producer's province holding a collection licence valid today. The API checks the grant again.

Lots (并批): the centre's operators see the collected holdings stored in each centre by waste code and combine
those of one code into a lot (`POST /facilities/{fid}/lots`); a lot's page lists every source producer, batch and
mass with their sum (`lots.lot_public`, as `GET /lots/{id}`), and links its label.

Forms are drawn only for those whose act it is (`ledger.auth.may` on the viewer's own unit): a regulator or park
manager reads these pages without buttons.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session, select

from api.deps import get_session
from api.pages.common import PageRoute, Viewer, login_required, render
from ledger import manifests as msvc
from ledger.auth import Principal, may, require_unit
from ledger.batches import Batch
from ledger.codes import province_of
from ledger.collection import consents as csvc
from ledger.collection import lots as lsvc
from ledger.errors import NotFound
from ledger.mass import g_to_kg
from ledger.registry.assets import collection_licences_on
from ledger.registry.models import Facility, Permit, Unit
from ledger.workdays import today

router = APIRouter(route_class=PageRoute)


def _own(p: Principal, unit: Unit, act: str) -> bool:
    """The unit's own user with this act (never a regulator, park manager or platform admin acting as the unit)."""
    return p.unit_id == unit.id and may(p, unit, act)


def licensed_collectors(s: Session, producer: Unit) -> list[tuple[Unit, list[Permit]]]:
    """Collectors of the producer's province with a collection licence valid today (read-only helper: the API has
    no list of collectors), by name."""
    on = today()
    rows = s.exec(select(Unit).where(Unit.is_collector.is_(True), Unit.id != producer.id,
                                     Unit.region_code.startswith(province_of(producer.region_code)))
                  .order_by(Unit.name)).all()
    out = []
    for u in rows:
        lic = collection_licences_on(s, unit_id=u.id, on=on)
        if lic:
            out.append((u, lic))
    return out


@router.get("/unit/{unit_id}/consents")
def consents_page(unit_id: int, request: Request, s: Session = Depends(get_session),
                  v: Viewer = Depends(login_required)):
    """The consents a producer gave (with grant and revoke for its administrator) and those a collector holds."""
    p = v.principal
    unit = require_unit(s, p, unit_id)
    rows = [csvc.consent_public(s, c) for c in csvc.list_consents(s, principal=p, unit_id=unit.id)]
    given = [c for c in rows if c.unit_id == unit.id]
    held = [c for c in rows if c.collector_id == unit.id]
    producer_names = dict(s.exec(select(Unit.id, Unit.name).where(Unit.id.in_({c.unit_id for c in held})))
                          .all()) if held else {}
    admin = _own(p, unit, "register")  # the API's `manage` on the own unit: its administrator
    can_grant = admin and unit.is_generator
    live_ids = {c.collector_id for c in given if c.revoked_at is None}
    collectors = [(u, lic) for u, lic in licensed_collectors(s, unit) if u.id not in live_ids] if can_grant else []
    return render(request, "unit/consents.html", {
        "unit": unit, "given": given, "held": held, "producer_names": producer_names, "can_grant": can_grant,
        "can_revoke_given": admin, "can_give_up": admin and unit.is_collector, "collectors": collectors,
        "today": today().isoformat(), "base": f"/unit/{unit.id}"}, v=v)


# ---- lots ---------------------------------------------------------------------------------------------------------

def combinable(s: Session, collector: Unit) -> list[dict]:
    """Per centre (storage facility) and waste code, the collected holdings stored there that a lot may take
    (held by the collector, collected from elsewhere, not a lot, something stored, on no open manifest)."""
    on_open = select(msvc.ManifestLine.batch_id).join(msvc.Manifest, msvc.Manifest.id == msvc.ManifestLine.manifest_id) \
        .where(msvc.Manifest.status.in_(msvc.OPEN))
    rows = s.exec(select(Batch).where(
        Batch.holder_unit_id == collector.id, Batch.unit_id != collector.id, Batch.parent_id.is_not(None),
        Batch.period != "lot", Batch.stored_g > 0, Batch.remaining_g > 0, Batch.id.not_in(on_open))
        .order_by(Batch.storage_facility_id, Batch.waste_code, Batch.occurred_at, Batch.id).limit(2000)).all()
    facs = {f.id: f for f in s.exec(select(Facility).where(Facility.unit_id == collector.id)).all()}
    producers = dict(s.exec(select(Unit.id, Unit.name).where(Unit.id.in_({b.unit_id for b in rows}))).all()) \
        if rows else {}
    groups: dict[tuple[int, str], dict] = {}
    for b in rows:
        g = groups.setdefault((b.storage_facility_id, b.waste_code), {
            "facility": facs.get(b.storage_facility_id), "waste_code": b.waste_code, "name": b.name, "rows": [],
            "total_g": 0, "forms": set()})
        g["rows"].append({"b": b, "producer": producers.get(b.unit_id, ""), "kg": g_to_kg(b.remaining_g)})
        g["total_g"] += b.remaining_g
        g["forms"].add(b.form)
    out = list(groups.values())
    for g in out:
        g["total_kg"] = g_to_kg(g["total_g"])
        g["producers"] = len({r["b"].unit_id for r in g["rows"]})
        g["mixed_forms"] = len(g["forms"]) > 1
    return out


@router.get("/unit/{unit_id}/lots")
def lots_page(unit_id: int, request: Request, s: Session = Depends(get_session),
              v: Viewer = Depends(login_required)):
    """A collector's centres: what is stored there to combine, by code, and the lots made."""
    p = v.principal
    unit = require_unit(s, p, unit_id)
    if not unit.is_collector:
        raise NotFound(f"{unit.name} 不是收集单位，没有集中收集点的并批", code="lot.not_collector")
    lots = s.exec(select(Batch).where(Batch.unit_id == unit.id, Batch.period == "lot", Batch.parent_id.is_(None))
                  .order_by(Batch.id.desc()).limit(50)).all()
    facs = dict(s.exec(select(Facility.id, Facility.name).where(Facility.unit_id == unit.id)).all())
    return render(request, "unit/lots.html", {
        "unit": unit, "groups": combinable(s, unit), "lots": [(b, g_to_kg(b.net_g), g_to_kg(b.remaining_g))
                                                              for b in lots],
        "facs": facs, "can_combine": _own(p, unit, "operate"), "operator": v.display_name,
        "min_sources": lsvc.MIN_SOURCES, "base": f"/unit/{unit.id}"}, v=v)


@router.get("/unit/{unit_id}/lots/{lot_id}")
def lot_page(unit_id: int, lot_id: int, request: Request, s: Session = Depends(get_session),
             v: Viewer = Depends(login_required)):
    """One lot: its label, where it is, every source producer, batch and mass, and their sum."""
    unit = require_unit(s, v.principal, unit_id)
    b = lsvc.get_lot(s, v.principal, lot_id)
    if b.unit_id != unit.id:
        raise NotFound(f"批次 {lot_id} 不是本单位的并批", code="lot.not_found")
    lot = lsvc.lot_public(s, b)
    return render(request, "unit/lot.html", {
        "unit": unit, "b": b, "lot": lot, "storage": s.get(Facility, b.storage_facility_id)
        if b.storage_facility_id else None, "manifests": msvc.manifests_for_batch(s, b),
        "base": f"/unit/{unit.id}"}, v=v)

