"""What a collector may collect (its collection licence, checked like a receiver's operating licence), and the
marks that tell the roll-ups which records are a collector's pass-through.

Counting (see the README, "Small producers and collectors"): a producer's waste collected through a centre is
counted once, at the producer (its `generated` and `shipped` records). The collector's receipt of it, the
`combined` records of its lots and its onward shipment carry `collected: true` in their body; a roll-up over
several units leaves those out of generation, sent-out and received totals.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from ledger.auth import registry_unit
from ledger.batches import Batch
from ledger.errors import InvalidInput
from ledger.mass import g_to_kg
from ledger.registry.assets import collection_licences_on, licence_covers, licences_on
from ledger.registry.models import Permit, Unit
from ledger.types import utcnow
from ledger.workdays import local_day


def _refuse(rule: str, message: str, field: str, **details) -> InvalidInput:
    return InvalidInput(message, field=field, code=f"manifest.{rule}", details={"rule": rule, **details})


def is_general(code: str) -> bool:
    return code.split("-")[2].startswith("S")


def covering_licences(session: Session, *, collector: Unit, code: str, on: date) -> list[Permit]:
    """The collector's collection licences valid on the day that cover the code."""
    return [p for p in collection_licences_on(session, unit_id=collector.id, on=on) if licence_covers(p, code)]


def collects(session: Session, *, unit: Unit, code: str, on: date) -> bool:
    """True when the unit takes this code in as a collector (pass-through), not as a receiver that processes it:
    general waste or a collection licence covering the code, and no operating licence of its own covering it."""
    if not unit.is_collector:
        return False
    if unit.is_receiver and any(licence_covers(p, code) for p in licences_on(session, unit_id=unit.id, on=on)):
        return False
    return is_general(code) or bool(covering_licences(session, collector=unit, code=code, on=on))


def check_collected_lines(session: Session, *, collector: Unit, lines: list[tuple[str, int, str]], on: date,
                          manifest_id: int | None = None) -> set[int]:
    """A manifest to a collection centre: each hazardous code needs a valid collection licence covering it, with
    annual capacity left (loads in flight count). Returns the indexes of the lines it covers; a collector that is
    also a receiver leaves the others to its operating licence, a pure collector refuses them."""
    from ledger.manifests.checks import over_capacity

    covered: set[int] = set()
    need: dict[int, tuple[Permit, int]] = {}
    for i, (code, mass, _method) in enumerate(lines):
        if collector.is_receiver and any(licence_covers(p, code)
                                         for p in licences_on(session, unit_id=collector.id, on=on)):
            continue  # it processes this code itself: the receiver's check applies
        if is_general(code):
            covered.add(i)  # general industrial waste needs no licence
            continue
        licences = covering_licences(session, collector=collector, code=code, on=on)
        if not licences:
            if collector.is_receiver:
                continue
            raise _refuse("collector_licence", f"{collector.name} holds no collection licence valid on {on} that "
                          f"covers {code}", f"lines[{i}].batch_id", waste_code=code)
        covered.add(i)
        p = licences[0]
        need[p.id] = (p, need.get(p.id, (p, 0))[1] + mass)
    over = over_capacity(session, unit_id=collector.id, asked=need, year=on.year, manifest_id=manifest_id)
    if over is not None:
        p, used, mass = over
        raise _refuse("collector_capacity", f"collection licence {p.number} has "
                      f"{g_to_kg(max(p.annual_capacity_g - used, 0))} kg of annual capacity left, less than the "
                      f"{g_to_kg(mass)} kg on this manifest", "lines", licence=p.number)
    return covered


def is_collected_holding(holding: Batch) -> bool:
    """A holding at a collector that came from elsewhere: a received holding or a lot."""
    return holding.period == "lot" or (holding.parent_id is not None and holding.unit_id != holding.holder_unit_id)


def mark_records(session: Session, m, kind: str, holding: Batch) -> dict:  # noqa: ANN001
    """Body fields for the records a manifest writes (manifests.record_marks): a collector's receipt and onward
    shipment of collected waste are `collected: true`; a producer's shipment to a collector names it."""
    day = local_day(utcnow())
    if kind in ("received", "refused"):
        receiver = registry_unit(session, m.receiver_id)
        if collects(session, unit=receiver, code=holding.waste_code, on=day):
            return {"collected": True, "collector_id": receiver.id}
        return {}
    origin = registry_unit(session, m.originator_id)
    if origin.is_collector and is_collected_holding(holding):
        return {"collected": True, "collector_id": origin.id, "lot": holding.period == "lot"}
    if kind == "shipped":
        receiver = registry_unit(session, m.receiver_id)
        if collects(session, unit=receiver, code=holding.waste_code, on=day):
            return {"via_collector": receiver.id}
    return {}


from ledger import manifests as _manifests  # noqa: E402  (registered here so the marks apply wherever manifests run)

if mark_records not in _manifests.record_marks:
    _manifests.record_marks.append(mark_records)
