"""What the batch steps share: times checked against the scale clock, facilities of a unit, HJ 1259 record
codes and the links between them, a facility's stock."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import bindparam, func
from sqlmodel import Session, select

from ledger import journal
from ledger.batches.models import FUTURE_TOLERANCE, Batch
from ledger.cache import registry_get
from ledger.codes import make_batch_code
from ledger.counters import next_value
from ledger.errors import InvalidInput
from ledger.journal import JournalRecord
from ledger.registry.models import Facility


def checked_time(value: datetime | None, *, field: str, now: datetime) -> datetime:
    if value is None:
        return now
    if value.tzinfo is None:
        raise InvalidInput("give the time with its timezone, e.g. 2026-11-22T09:30:00+08:00", field=field)
    if value > now + FUTURE_TOLERANCE:
        raise InvalidInput(f"{value.isoformat()} is in the future; check the scale's clock", field=field,
                           code="time.in_future")
    return value.astimezone(UTC)  # the ledger keeps UTC; periods are read in Asia/Shanghai


def registry_facility(session: Session, facility_id: int) -> Facility | None:
    """A read-only snapshot of a facility from the registry cache."""
    return registry_get(session, Facility, facility_id)


def unit_facility(session: Session, unit_id: int, facility_id: int, *, kinds: tuple[str, ...],
                   field: str) -> Facility:
    f = registry_facility(session, facility_id)
    if f is None or f.unit_id != unit_id:
        raise InvalidInput(f"facility {facility_id} is not a facility of unit {unit_id}", field=field)
    if f.kind not in kinds:
        raise InvalidInput(f"facility {f.code} is a {f.kind} facility; expected {' or '.join(kinds)}", field=field)
    return f


def counter_scope(unit_id: int, kind: str, day: date, hazardous: bool) -> str:
    return f"bc:{unit_id}:{kind}:{'H' if hazardous else 'G'}:{day:%Y%m%d}"


def record_code(session: Session, *, unit_id: int, kind: str, day: date, hazardous: bool) -> str:
    """The next HJ 1259 record code of this kind for the unit and day."""
    serial = next_value(session, counter_scope(unit_id, kind, day, hazardous))
    return make_batch_code(kind=kind, day=day, serial=serial, hazardous=hazardous)


# Built once, with bound parameters, like the read paths' statements above (every storage move runs both).
_STOCK_G = (select(func.coalesce(func.sum(Batch.stored_g), 0))
            .where(Batch.storage_facility_id == bindparam("facility_id")))
_LAST_CODE = (select(JournalRecord.record_code).where(JournalRecord.batch_id == bindparam("batch_id"))
              .order_by(JournalRecord.id.desc()).limit(1))


def facility_stock_g(session: Session, facility_id: int) -> int:
    """Mass currently stored in a facility (sum over its batches)."""
    return int(session.exec(_STOCK_G, params={"facility_id": facility_id}).one())


def links_of(session: Session, b: Batch) -> list[str]:
    """The record code of the latest record of this batch: what a new record links back to (HJ 1259). A record
    still waiting to be appended (`journal.appends_deferred`, a commit group) is the latest."""
    waiting = journal.last_waiting(session, b.id)
    last = waiting.record_code if waiting is not None else session.exec(_LAST_CODE, params={"batch_id": b.id}).first()
    return [last] if last else []
