"""Drafting a manifest: one vehicle trip from one originator to one receiver; the number is allocated without
gaps."""

from __future__ import annotations

from sqlalchemy import bindparam
from sqlmodel import Session, select

from ledger.accounts import User
from ledger.auth import Principal, audit, registry_unit, require_unit
from ledger.batches import Batch
from ledger.cache import registry_get
from ledger.codes import city_of, make_manifest_number
from ledger.counters import next_value
from ledger.db import insert_loaded, new_row
from ledger.manifests.checks import (
    check_approval,
    check_hauler,
    check_receiver,
    known_method,
    plan_flags,
    refuse,
)
from ledger.manifests.models import OPEN, Manifest, ManifestCreate, ManifestLine
from ledger.manifests.state import Label, add_event, know_manifest
from ledger.mass import g_to_kg, kg_to_g
from ledger.memo import memo
from ledger.types import utcnow
from ledger.workdays import local_year

# ---- creation ------------------------------------------------------------------------------------------

# built once (a scan asks it): building a statement costs about as much Python as executing it
_OPEN_MANIFEST_OF = (select(Manifest).join(ManifestLine, ManifestLine.manifest_id == Manifest.id)
                     .where(ManifestLine.batch_id == bindparam("batch_id"), Manifest.status.in_(OPEN),
                            Manifest.id != bindparam("exclude")))


def open_manifest_key(batch_id: int) -> tuple:
    """The key under which `one_read` keeps the open manifest of a batch."""
    return ("open_manifest", batch_id)


def open_manifest_of(session: Session, batch_id: int, exclude: int | None = None) -> Manifest | None:
    """The open manifest (draft to delivered) that the batch is on, other than `exclude`; within `one_read()`
    (a scan, a trace) read once per batch."""
    if exclude is not None:
        return session.exec(_OPEN_MANIFEST_OF, params={"batch_id": batch_id, "exclude": exclude}).first()
    return memo(open_manifest_key(batch_id),
                lambda: session.exec(_OPEN_MANIFEST_OF, params={"batch_id": batch_id, "exclude": 0}).first())


def create(session: Session, *, principal: Principal, data: ManifestCreate) -> Manifest:
    """The originator drafts a manifest for one vehicle trip; the number is allocated now, without gaps."""
    originator = require_unit(session, principal, data.originator_id, act="operate", read_only=True)
    hauler, receiver = registry_unit(session, data.hauler_id), registry_unit(session, data.receiver_id)
    if hauler is None:
        raise refuse("hauler_unknown", f"unit {data.hauler_id} does not exist", "hauler_id")
    if receiver is None:
        raise refuse("receiver_unknown", f"unit {data.receiver_id} does not exist", "receiver_id")
    if data.driver_id is not None:
        driver = registry_get(session, User, data.driver_id)
        if driver is None or driver.unit_id != hauler.id or driver.role not in ("driver", "unit_admin"):
            raise refuse("driver_not_hauler", f"user {data.driver_id} is not a driver of {hauler.name}", "driver_id")
    lines: list[ManifestLine] = []
    labels: dict[int, Label] = {}
    seen: set[int] = set()
    hazardous: set[bool] = set()
    for i, ln in enumerate(data.lines):
        b = session.get(Batch, ln.batch_id)
        if b is None or b.holder_unit_id != originator.id:
            raise refuse("batch_not_held", f"batch {ln.batch_id} is not held by {originator.name}",
                          f"lines[{i}].batch_id")
        if b.id in seen:
            raise refuse("batch_twice", f"batch {b.id} appears twice", f"lines[{i}].batch_id")
        seen.add(b.id)
        other = open_manifest_of(session, b.id)
        if other is not None:
            raise refuse("batch_on_open_manifest", f"batch {b.digital_id} is already on open manifest {other.number}",
                          f"lines[{i}].batch_id", status=409, manifest=other.number)
        mass = kg_to_g(ln.mass_kg, field=f"lines[{i}].mass_kg") if ln.mass_kg is not None else b.remaining_g
        if mass <= 0 or mass > b.remaining_g:
            raise refuse("batch_mass", f"batch {b.digital_id} holds {g_to_kg(b.remaining_g)} kg; asked "
                          f"{g_to_kg(mass)} kg", f"lines[{i}].mass_kg", available_kg=str(g_to_kg(b.remaining_g)))
        method = known_method(session, ln.planned_method, f"lines[{i}].planned_method")
        hazardous.add(b.hazardous)
        labels[b.id] = Label(b.digital_id, b.name)
        lines.append(new_row(ManifestLine, manifest_id=0, line_no=i + 1, batch_id=b.id, waste_code=b.waste_code,
                             mass_g=mass, planned_method=method.code))
    if len(hazardous) > 1:
        raise refuse("mixed_kinds", "hazardous and general industrial waste go on separate manifests", "lines")
    spec = [(ln.waste_code, ln.mass_g, ln.planned_method) for ln in lines]
    check_hauler(session, hauler=hauler, vehicle_id=data.vehicle_id, on=data.planned_date)
    check_receiver(session, receiver=receiver, lines=spec, on=data.planned_date)
    check_approval(session, approval_id=data.approval_id, originator=originator, receiver=receiver, lines=spec,
                   on=data.planned_date)
    year = local_year(utcnow())
    serial = next_value(session, f"manifest:{city_of(originator.region_code)}:{year}")
    m = new_row(Manifest, number=make_manifest_number(year=year, region_code=originator.region_code, serial=serial),
                status="draft", hazardous=hazardous.pop(), originator_id=originator.id, hauler_id=hauler.id,
                receiver_id=receiver.id, vehicle_id=data.vehicle_id, driver_id=data.driver_id,
                planned_date=data.planned_date, approval_id=data.approval_id, remarks=data.remarks,
                created_by=principal.user_id or None,
                flags=plan_flags(session, originator_id=originator.id, receiver_id=receiver.id,
                                 codes=[ln.waste_code for ln in lines], year=data.planned_date.year))
    insert_loaded(session, [m])  # one prebuilt INSERT each, no ORM unit of work
    for ln in lines:
        ln.manifest_id = m.id
    insert_loaded(session, lines)
    know_manifest(session, m, lines, [], labels)  # the answer reads none of them again; the event joins them
    add_event(session, m, principal, "create", None, "draft", originator.id)
    audit(session, principal, action="manifest.create", entity="manifest", entity_id=m.id,
          detail={"number": m.number, "flags": m.flags})
    return m
