"""The checks a manifest passes at creation and again at each signature: the receiver's licences and capacity,
the hauler's permit and vehicle, the cross-province approval, the plan flags. Each refusal names the rule and the
field."""

from __future__ import annotations

from datetime import date

from sqlalchemy import bindparam, func
from sqlmodel import Session, select

from ledger.auth import registry_unit
from ledger.cache import registry_get
from ledger.codes import province_of
from ledger.errors import InvalidInput
from ledger.manifests.models import OPEN, Manifest, ManifestLine, TransferApproval
from ledger.mass import g_to_kg
from ledger.registry.assets import licence_covers, licences_on, permits_on
from ledger.registry.models import Method, Permit, Unit, Vehicle
from ledger.registry.plans import planned_receivers
from ledger.workdays import year_bounds_utc

# ---- checks (each refusal names the rule and the field) -----------------------------------------------

def refuse(rule: str, message: str, field: str, status: int = 422, **details) -> InvalidInput:
    err = InvalidInput(message, field=field, code=f"manifest.{rule}", details={"rule": rule, **details})
    err.status = status
    return err


# built once: every draft, submission and pickup to a licence with an annual capacity asks them
_ACCEPTED_G = (select(func.coalesce(func.sum(ManifestLine.accepted_g), 0))
               .join(Manifest, Manifest.id == ManifestLine.manifest_id)
               .where(Manifest.receiver_id == bindparam("unit_id"), Manifest.received_at >= bindparam("start"),
                      Manifest.received_at < bindparam("end")))
_IN_FLIGHT_G = (select(func.coalesce(func.sum(ManifestLine.mass_g), 0))
                .join(Manifest, Manifest.id == ManifestLine.manifest_id)
                .where(Manifest.receiver_id == bindparam("unit_id"), Manifest.status.in_(OPEN[1:]),
                       Manifest.id != bindparam("exclude")))


def received_this_year_g(session: Session, receiver_id: int, year: int, exclude: int | None) -> int:
    start, end = year_bounds_utc(year)
    received = session.exec(_ACCEPTED_G, params={"unit_id": receiver_id, "start": start, "end": end}).one()
    in_flight = session.exec(_IN_FLIGHT_G, params={"unit_id": receiver_id, "exclude": exclude or 0}).one()
    return int(received) + int(in_flight)


def over_capacity(session: Session, *, unit_id: int, asked: dict[int, tuple[Permit, int]], year: int,
                  manifest_id: int | None) -> tuple[Permit, int, int] | None:
    """The first licence (id -> (licence, mass asked of it)) whose annual capacity the mass would exceed, with what
    its holder already took this year (loads in flight count, this manifest's not) and the mass; None when all have
    room. What was taken is read once, and only when a licence has a capacity."""
    used = None
    for p, mass in asked.values():
        if p.annual_capacity_g is None:
            continue
        if used is None:
            used = received_this_year_g(session, unit_id, year, manifest_id)
        if used + mass > p.annual_capacity_g:
            return p, used, mass
    return None


def check_receiver(session: Session, *, receiver: Unit, lines: list[tuple[str, int, str]], on: date,
                   manifest_id: int | None = None) -> None:
    """The receiver holds a valid licence covering each hazardous code and method, with annual capacity left."""
    skip: set[int] = set()
    if receiver.is_collector:  # a collection centre receives on its collection licence
        from ledger.collection.licences import check_collected_lines

        skip = check_collected_lines(session, collector=receiver, lines=lines, on=on, manifest_id=manifest_id)
        if len(skip) == len(lines):
            return
    if not receiver.is_receiver:
        raise refuse("receiver_not_registered", f"{receiver.name} is not registered as a receiver", "receiver_id")
    licences = licences_on(session, unit_id=receiver.id, on=on)
    need: dict[int, tuple[Permit, int]] = {}
    for i, (code, mass, method) in enumerate(lines):
        if i in skip or code.split("-")[2].startswith("S"):
            continue  # general industrial waste needs no operating licence
        covering = [p for p in licences if licence_covers(p, code)]
        if not covering:
            raise refuse("receiver_licence", f"{receiver.name} holds no licence valid on {on} that covers {code}",
                          f"lines[{i}].batch_id", waste_code=code)
        with_method = [p for p in covering if method in p.methods]
        if not with_method:
            raise refuse("receiver_method", f"{receiver.name}'s licence for {code} does not cover method {method}",
                          f"lines[{i}].planned_method", waste_code=code, method=method)
        p = with_method[0]
        need[p.id] = (p, need.get(p.id, (p, 0))[1] + mass)
    over = over_capacity(session, unit_id=receiver.id, asked=need, year=on.year, manifest_id=manifest_id)
    if over is not None:
        p, used, mass = over
        raise refuse("receiver_capacity", f"licence {p.number} has {g_to_kg(max(p.annual_capacity_g - used, 0))}"
                     f" kg of annual capacity left, less than the {g_to_kg(mass)} kg on this manifest",
                     "lines", licence=p.number)


def check_hauler(session: Session, *, hauler: Unit, vehicle_id: int, on: date) -> Vehicle:
    """The hauler holds a valid transport permit and the vehicle is its own."""
    if not hauler.is_hauler:
        raise refuse("hauler_not_registered", f"{hauler.name} is not registered as a hauler", "hauler_id")
    if not permits_on(session, unit_id=hauler.id, kind="transport_permit", on=on):
        raise refuse("hauler_permit", f"{hauler.name} holds no transport permit valid on {on}", "hauler_id")
    vehicle = registry_get(session, Vehicle, vehicle_id)
    if vehicle is None or vehicle.unit_id != hauler.id:
        raise refuse("vehicle_not_hauler", f"vehicle {vehicle_id} is not a vehicle of {hauler.name}", "vehicle_id")
    return vehicle


def check_approval(session: Session, *, approval_id: int | None, originator: Unit, receiver: Unit,
                   lines: list[tuple[str, int, str]], on: date, manifest_id: int | None = None) -> None:
    """Across provinces: an approval naming these parties, covering every code, valid on the day, within its cap."""
    if province_of(originator.region_code) == province_of(receiver.region_code):
        return
    if approval_id is None:
        raise refuse("cross_province_approval", "a transfer from province "
                      f"{province_of(originator.region_code)} to {province_of(receiver.region_code)} needs a "
                      "cross-province approval (approval_id)", "approval_id")
    a = session.get(TransferApproval, approval_id)
    if a is None or a.originator_id != originator.id or a.receiver_id != receiver.id:
        raise refuse("cross_province_approval", f"approval {approval_id} does not name these parties", "approval_id")
    if not (a.valid_from <= on <= a.valid_to):
        raise refuse("approval_expired", f"approval {a.number} is valid {a.valid_from}–{a.valid_to}, not on {on}",
                      "approval_id")
    for i, (code, _, _) in enumerate(lines):
        if code not in a.waste_codes:
            raise refuse("approval_codes", f"approval {a.number} does not cover {code}", f"lines[{i}].batch_id")
    used = session.exec(select(func.coalesce(func.sum(ManifestLine.mass_g), 0))
                        .join(Manifest, Manifest.id == ManifestLine.manifest_id)
                        .where(Manifest.approval_id == a.id, Manifest.status.not_in(("cancelled", "draft")),
                               Manifest.id != (manifest_id or 0))).one()
    total = sum(m for _, m, _ in lines)
    if int(used) + total > a.cap_g:
        raise refuse("approval_cap", f"approval {a.number} allows {g_to_kg(a.cap_g)} kg; {g_to_kg(int(used))} kg "
                      f"already used, {g_to_kg(total)} kg asked", "lines")


def plan_flags(session: Session, *, originator_id: int, receiver_id: int, codes: list[str], year: int) -> list[str]:
    """Codes or receivers outside the originator's plan: allowed, recorded for the alert engine."""
    planned = planned_receivers(session, unit_id=originator_id, year=year)
    flags = []
    for code in codes:
        if code not in planned:
            flags.append(f"not_in_plan:{code}")
        elif planned[code] and receiver_id not in planned[code]:
            flags.append(f"receiver_not_in_plan:{code}")
    return sorted(set(flags))


def known_method(session: Session, method: str, field: str) -> Method:
    m = registry_get(session, Method, method.strip().upper())
    if m is None:
        raise refuse("method_unknown", f"unknown method {method!r}", field)
    return m


def check_all(session: Session, m: Manifest, lines: list[ManifestLine], on: date) -> None:
    spec = [(ln.waste_code, ln.mass_g, ln.planned_method) for ln in lines]
    originator, receiver, hauler = (registry_unit(session, i) for i in (m.originator_id, m.receiver_id, m.hauler_id))
    check_hauler(session, hauler=hauler, vehicle_id=m.vehicle_id, on=on)
    check_receiver(session, receiver=receiver, lines=spec, on=on, manifest_id=m.id)
    check_approval(session, approval_id=m.approval_id, originator=originator, receiver=receiver, lines=spec, on=on,
                   manifest_id=m.id)
