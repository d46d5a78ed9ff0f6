"""Batches at the weighing point: generation, storage in/out, in-house use/disposal, corrections, rebuild.

A batch's balances (remaining, stored, in transit) are cached on the batch row and changed only by `apply()`,
the one function that says what each record kind does to them. Live writes and `rebuild` both go through it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Literal, TypeVar

from sqlalchemy import JSON, BigInteger, Column, Index, bindparam, func, text
from sqlmodel import Field, Session, SQLModel, select

from ledger import journal
from ledger.auth import Principal, audit, can_see_unit, registry_unit, require_unit
from ledger.cache import registry_get
from ledger.codes import make_batch_code, make_digital_id, parse_digital_id, parse_hazard
from ledger.counters import next_ranges, next_value
from ledger.db import insert_all, new_row
from ledger.errors import Conflict, InvalidInput, LedgerError, NotFound
from ledger.journal import JournalRecord
from ledger.mass import MAX_BATCH_G, g_to_kg, kg_to_g
from ledger.registry import tiers
from ledger.registry.catalogue import check_waste_code, lookup_waste_code
from ledger.registry.models import Facility, Method, Unit
from ledger.registry.plans import planned_codes
from ledger.types import UTCDateTime, utcnow
from ledger.validation import BigId, Code, Count, DbId, Input, Kg, Litres, PastTime
from ledger.workdays import day_bounds_utc, local_day, year_bounds_utc

T = TypeVar("T")

FUTURE_TOLERANCE = timedelta(minutes=5)  # scale clocks drift; beyond this a weighing "in the future" is refused
LATE_ENTRY = timedelta(hours=24)  # entered more than a day after weighing: allowed, flagged
FORMS = ("固态", "半固态", "液态", "气态")
PERIODS = ("container", "day", "shift")  # one container or truckload; a day's or a shift's total (HJ 1259 §6.2)


class Batch(SQLModel, table=True):
    """One weighing of one waste code in one container/package, or one bulk lot (general waste).

    A row is one unit's holding of that physical batch: the generator's holding is the root; a receipt creates a
    child holding at the receiver (same digital ID), so a bulk lot split between two units keeps exact balances.
    """

    __table_args__ = (
        Index("ix_batch_holder_status", "holder_unit_id", "status"),
        # A label's digital ID names one physical batch; holdings that a receipt split off share it.
        Index("uq_batch_digital_id_root", "digital_id", unique=True, sqlite_where=text("parent_id IS NULL"),
              postgresql_where=text("parent_id IS NULL")),
    )
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    holder_unit_id: int = Field(foreign_key="unit.id")
    parent_id: int | None = Field(default=None, foreign_key="batch.id", index=True)
    root_id: int | None = Field(default=None, foreign_key="batch.id", index=True)
    digital_id: str = Field(max_length=38, index=True)
    batch_code: str = Field(max_length=40)
    waste_code: str = Field(max_length=12, index=True)
    category: str = Field(max_length=8)
    hazardous: bool
    name: str = Field(max_length=200)
    form: str = Field(max_length=8)
    hazard: str = Field(default="", max_length=20)
    components: str | None = Field(default=None, max_length=300)
    container_type: str = Field(max_length=40)
    container_count: int = 1
    container_volume_l: float | None = None
    period: str = Field(default="container", max_length=10)  # container | day | shift (continuous sources)
    facility_id: int = Field(foreign_key="facility.id")
    scale_id: str = Field(max_length=60)
    operator: str = Field(max_length=120)
    occurred_at: datetime = Field(sa_type=UTCDateTime, index=True)
    gross_g: int = Field(sa_column=Column(BigInteger, nullable=False))
    tare_g: int = Field(sa_column=Column(BigInteger, nullable=False))
    net_g: int = Field(sa_column=Column(BigInteger, nullable=False))
    remaining_g: int = Field(sa_column=Column(BigInteger, nullable=False))
    stored_g: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    in_transit_g: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    storage_facility_id: int | None = Field(default=None, foreign_key="facility.id", index=True)
    stored_ever: bool = False
    status: str = Field(max_length=16)
    flags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# ---- the balance rules ------------------------------------------------------------------------------

@dataclass(frozen=True)
class BatchState:
    net_g: int = 0
    remaining_g: int = 0
    stored_g: int = 0
    in_transit_g: int = 0
    storage_facility_id: int | None = None
    holder_unit_id: int | None = None
    stored_ever: bool = False

    @property
    def loose_g(self) -> int:
        """Held, not consumed, not in storage: what may be stored, used, disposed or loaded."""
        return self.remaining_g - self.stored_g

    @property
    def status(self) -> str:
        if self.in_transit_g > 0 and self.remaining_g == 0:
            return "in_transit"
        if self.remaining_g == 0:
            return "closed"
        if self.stored_g == self.remaining_g:
            return "stored"
        if self.stored_g > 0:
            return "partly_stored"
        return "retrieved" if self.stored_ever else "generated"


def _refuse(message: str, **details) -> Conflict:
    return Conflict(message, code="batch.insufficient_mass", details=details)


def apply(state: BatchState, *, kind: str, mass_g: int, unit_id: int, facility_id: int | None,
          body: dict, as_source: bool = False) -> BatchState:
    """What one record does to a holding's balances; refuses anything that would make a mass negative.

    `as_source` applies a receipt to the holding it came from (the shipped mass leaves transit, except the
    refused part, which stays in transit on the return leg) rather than to the new holding it creates.
    """
    if as_source and kind == "combined":  # a collected holding poured into a collection-centre lot
        if mass_g <= 0 or mass_g > state.loose_g:
            raise _refuse(f"only {g_to_kg(state.loose_g)} kg of this holding is out of storage to combine",
                          available_kg=str(g_to_kg(state.loose_g)))
        return replace(state, remaining_g=state.remaining_g - mass_g)
    if as_source:
        if kind not in ("received", "refused"):
            raise ValueError(f"a {kind} record has no effect on a source holding")
        settled = int(body["shipped_g"]) - int(body.get("refused_g", 0))
        if settled > state.in_transit_g:
            raise _refuse("the receipt settles more than is in transit", in_transit_g=state.in_transit_g)
        return replace(state, in_transit_g=state.in_transit_g - settled)
    if kind == "corrected":
        delta = int(body["to_g"]) - int(body["from_g"])
        original = body["corrects_kind"]
        if original == "generated":
            s = replace(state, net_g=state.net_g + delta, remaining_g=state.remaining_g + delta)
        elif original == "stored":
            s = replace(state, stored_g=state.stored_g + delta)
        elif original == "retrieved":
            s = replace(state, stored_g=state.stored_g - delta)
        elif original in ("used_in_house", "disposed_in_house"):
            s = replace(state, remaining_g=state.remaining_g - delta)
        else:
            raise Conflict(f"records of kind {original} are amended by their manifest, not by a correction",
                           code="correction.not_allowed")
        if s.remaining_g < 0 or s.stored_g < 0 or s.stored_g > s.remaining_g:
            raise _refuse("this correction would leave a negative or inconsistent balance: correct the later "
                          "records first", remaining_g=s.remaining_g, stored_g=s.stored_g)
        return s
    if kind == "generated":
        return BatchState(net_g=mass_g, remaining_g=mass_g, holder_unit_id=unit_id)
    if mass_g <= 0:
        raise InvalidInput("mass must be more than 0", field="mass_kg")
    if kind == "stored":
        if mass_g > state.loose_g:
            raise _refuse(f"only {g_to_kg(state.loose_g)} kg of this batch is outside storage",
                          available_kg=str(g_to_kg(state.loose_g)))
        if state.stored_g and state.storage_facility_id != facility_id:
            raise Conflict(f"part of this batch is stored in facility {state.storage_facility_id}; retrieve it "
                           "before storing elsewhere", code="batch.stored_elsewhere")
        return replace(state, stored_g=state.stored_g + mass_g, storage_facility_id=facility_id, stored_ever=True)
    if kind == "retrieved":
        if mass_g > state.stored_g:
            raise _refuse(f"only {g_to_kg(state.stored_g)} kg of this batch is in storage",
                          available_kg=str(g_to_kg(state.stored_g)))
        stored = state.stored_g - mass_g
        return replace(state, stored_g=stored, storage_facility_id=state.storage_facility_id if stored else None)
    if kind in ("used_in_house", "disposed_in_house", "shipped"):
        if mass_g > state.loose_g:
            raise _refuse(f"only {g_to_kg(state.loose_g)} kg of this batch is out of storage; retrieve it first",
                          available_kg=str(g_to_kg(state.loose_g)))
        s = replace(state, remaining_g=state.remaining_g - mass_g)
        return replace(s, in_transit_g=s.in_transit_g + mass_g) if kind == "shipped" else s
    if kind == "combined":  # the lot holding gains each source's mass
        return replace(state, net_g=state.net_g + mass_g, remaining_g=state.remaining_g + mass_g,
                       holder_unit_id=unit_id)
    if kind == "received":  # the new holding at the receiver: what it accepted
        return BatchState(net_g=mass_g, remaining_g=mass_g, holder_unit_id=unit_id)
    if kind == "returned":  # the refused mass is back with the holding it left
        if mass_g > state.in_transit_g:
            raise _refuse("more is returned than is on the return leg", in_transit_g=state.in_transit_g)
        return replace(state, in_transit_g=state.in_transit_g - mass_g, remaining_g=state.remaining_g + mass_g)
    raise ValueError(f"unknown record kind {kind}")


def signed_by(principal: Principal) -> dict:
    """Who was logged in when a record was written, and through which token (hashed with the record, beside the
    `actor_name` the terminal or the person typed)."""
    by = {"user_id": principal.user_id or None, "username": principal.username, "token_id": principal.token_id}
    if principal.extra.get("consent_id"):  # a collector's user acting for a small producer (auth.act_for_producer)
        by.update(consent_id=principal.extra["consent_id"], for_collector_id=principal.extra["collector_id"])
    return by


def state_of(b: Batch) -> BatchState:
    return BatchState(net_g=b.net_g, remaining_g=b.remaining_g, stored_g=b.stored_g, in_transit_g=b.in_transit_g,
                      storage_facility_id=b.storage_facility_id, holder_unit_id=b.holder_unit_id,
                      stored_ever=b.stored_ever)


def _put(b: Batch, s: BatchState) -> None:
    b.net_g, b.remaining_g, b.stored_g, b.in_transit_g = s.net_g, s.remaining_g, s.stored_g, s.in_transit_g
    b.storage_facility_id, b.holder_unit_id, b.stored_ever, b.status = (
        s.storage_facility_id, s.holder_unit_id, s.stored_ever, s.status)


def record(session: Session, b: Batch | None, *, kind: str, unit_id: int, principal: Principal, actor_name: str,
           occurred_at: datetime, mass_g: int, facility_id: int | None = None, manifest_id: int | None = None,
           record_code: str | None = None, corrects_id: int | None = None, body: dict | None = None,
           source: Batch | None = None) -> JournalRecord:
    """Apply a record to a (locked) holding, and to its source holding if any, and append it to the journal."""
    body = {**(body or {}), "by": signed_by(principal)}
    new = apply(state_of(b), kind=kind, mass_g=mass_g, unit_id=unit_id, facility_id=facility_id,
                body=body) if b is not None else None
    new_source = apply(state_of(source), kind=kind, mass_g=mass_g, unit_id=unit_id, facility_id=facility_id,
                       body=body, as_source=True) if source is not None else None
    rec = journal.append(session, unit_id=unit_id, kind=kind, actor_id=principal.user_id or None,
                         actor_name=actor_name, occurred_at=occurred_at, batch_id=b.id if b else None,
                         source_batch_id=source.id if source else None, mass_g=mass_g, facility_id=facility_id,
                         manifest_id=manifest_id, record_code=record_code, corrects_id=corrects_id, body=body)
    for row, state in ((b, new), (source, new_source)):
        if row is not None:
            _put(row, state)
            session.add(row)
    return rec


# ---- schemas ---------------------------------------------------------------------------------------

class BatchCreate(Input):
    unit_id: DbId
    waste_code: Code = Field(description="NNN-NNN-CC (hazardous) or NNN-NNN-Sxx (general industrial)")
    name: str = Field(min_length=1, max_length=200, description="the unit's own name for the waste")
    form: Literal["固态", "半固态", "液态", "气态"]
    facility_id: DbId = Field(description="the generation facility (产生环节) where it was weighed")
    container_type: str = Field(min_length=1, max_length=40, description="桶 / 袋 / 吨袋 / 箱 / 散装 …")
    container_count: Count = Field(default=1, ge=1, le=10000)
    container_volume_l: Litres | None = Field(default=None, gt=0, description="sets the label size (HJ 1276)")
    period: Literal["container", "day", "shift"] = Field(
        default="container", description="container: one weighing of a container or truckload (at most 40 t); "
        "day / shift: the total of a continuous generation point (fly ash, slag, piped waste) for a day or a "
        "shift, capped by the point's registered daily capacity")
    gross_kg: Kg = Field(description="gross weight on the scale, kg")
    tare_kg: Kg = Field(default=Decimal(0), description="container tare, kg")
    scale_id: str = Field(min_length=1, max_length=60)
    operator: str = Field(min_length=1, max_length=120)
    occurred_at: PastTime = Field(description="time of weighing, with its timezone")
    components: str | None = Field(default=None, max_length=300, description="主要成分")
    store_facility_id: DbId | None = Field(default=None, description="即入库: store at once into this facility")


class MoveIn(Input):
    mass_kg: Kg | None = Field(default=None, description="default: all that the move can take")
    operator: str = Field(min_length=1, max_length=120)
    occurred_at: PastTime | None = None
    note: str | None = Field(default=None, max_length=300)


class StoreIn(MoveIn):
    facility_id: DbId = Field(description="a storage facility (贮存库/场/点) of the holder")


class RetrieveIn(MoveIn):
    purpose: Literal["in_house", "transfer", "other"] = "in_house"


class ProcessIn(MoveIn):
    method: Code = Field(description="R*/D*/C* method code")
    facility_id: DbId | None = Field(default=None, description="the utilisation/disposal facility")
    completed_at: PastTime | None = Field(default=None, description="default: occurred_at")


class CorrectionIn(Input):
    record_id: BigId = Field(description="the record being corrected (the original, not an earlier correction)")
    mass_kg: Kg = Field(description="the right mass for that record")
    reason: str = Field(min_length=4, max_length=500)


class LotRetrieveIn(Input):
    waste_code: Code
    mass_kg: Kg
    operator: str = Field(min_length=1, max_length=120)
    purpose: Literal["in_house", "transfer", "other"] = "in_house"
    occurred_at: PastTime | None = None


class BatchPublic(SQLModel):
    id: int
    unit_id: int
    holder_unit_id: int
    parent_id: int | None
    root_id: int | None
    digital_id: str
    batch_code: str
    waste_code: str
    category: str
    hazardous: bool
    name: str
    form: str
    hazard: list[str]
    components: str | None
    container_type: str
    container_count: int
    container_volume_l: float | None
    facility_id: int
    storage_facility_id: int | None
    scale_id: str
    operator: str
    occurred_at: datetime
    gross_kg: Decimal
    tare_kg: Decimal
    net_kg: Decimal
    remaining_kg: Decimal
    stored_kg: Decimal
    in_transit_kg: Decimal
    status: str
    flags: list[str]
    label_url: str
    scan_url: str


class RecordPublic(SQLModel):
    id: int
    unit_id: int
    seq: int
    kind: str
    batch_id: int | None
    record_code: str | None
    mass_kg: Decimal
    facility_id: int | None
    manifest_id: int | None
    actor_name: str
    occurred_at: datetime
    recorded_at: datetime
    corrects_id: int | None
    body: dict
    hash: str


def batch_public(b: Batch, *, public_url: str, api_prefix: str = "/api/v1") -> BatchPublic:
    base = public_url.rstrip("/")
    return BatchPublic(
        id=b.id, unit_id=b.unit_id, holder_unit_id=b.holder_unit_id, parent_id=b.parent_id, root_id=b.root_id,
        digital_id=b.digital_id,
        batch_code=b.batch_code, waste_code=b.waste_code, category=b.category, hazardous=b.hazardous, name=b.name,
        form=b.form, hazard=list(parse_hazard(b.hazard)) if b.hazard else [], components=b.components,
        container_type=b.container_type, container_count=b.container_count,
        container_volume_l=b.container_volume_l, facility_id=b.facility_id,
        storage_facility_id=b.storage_facility_id, scale_id=b.scale_id, operator=b.operator,
        occurred_at=b.occurred_at, gross_kg=g_to_kg(b.gross_g), tare_kg=g_to_kg(b.tare_g), net_kg=g_to_kg(b.net_g),
        remaining_kg=g_to_kg(b.remaining_g), stored_kg=g_to_kg(b.stored_g), in_transit_kg=g_to_kg(b.in_transit_g),
        status=b.status, flags=list(b.flags), label_url=f"{base}{api_prefix}/batches/{b.id}/label.png",
        scan_url=f"{base}/s/{b.digital_id}")


def record_public(r: JournalRecord) -> RecordPublic:
    return RecordPublic(id=r.id, unit_id=r.unit_id, seq=r.seq, kind=r.kind, batch_id=r.batch_id,
                        record_code=r.record_code, mass_kg=g_to_kg(r.mass_g), facility_id=r.facility_id,
                        manifest_id=r.manifest_id, actor_name=r.actor_name, occurred_at=r.occurred_at,
                        recorded_at=r.recorded_at, corrects_id=r.corrects_id, body=r.body, hash=r.hash)


# ---- visibility ------------------------------------------------------------------------------------

# Other modules (manifests) add rules here: (session, principal, batch) -> True when the principal may see it.
extra_visibility: list[Callable[[Session, Principal, Batch], bool]] = []
# Other modules (manifests) check the in-house processing of a holding they know about (a received load against
# the receiver's licence and the manifest's planned method): (session, holding, method, day, principal) -> extra
# body fields for the record (flags); they raise a LedgerError to refuse.
process_checks: list[Callable[[Session, Batch, Method, date, Principal], dict | None]] = []


def can_see_batch(session: Session, principal: Principal, b: Batch) -> bool:
    """The generator's and the holder's scope see a batch; so do parties named by other modules' rules.
    (The units are only read: their snapshots from the registry cache will do.)"""
    for unit_id in {b.unit_id, b.holder_unit_id}:
        unit = registry_unit(session, unit_id)
        if unit is not None and can_see_unit(session, principal, unit):
            return True
    return any(rule(session, principal, b) for rule in extra_visibility)


# The read paths' statements are built once, with bound parameters: building one (and its cache key, which a built
# statement memoises) costs about as much Python as executing it.
_BATCH = select(Batch).where(Batch.id == bindparam("batch_id")).execution_options(populate_existing=True)
_BATCH_FOR_UPDATE = _BATCH.with_for_update()
_HOLDINGS_BY_DIGITAL_ID = select(Batch).where(Batch.digital_id == bindparam("digital_id")).order_by(Batch.id)
_HOLDINGS_OF_ROOT = (select(Batch).where((Batch.id == bindparam("root_id")) | (Batch.root_id == bindparam("root_id")))
                     .order_by(Batch.id))
_RECORDS_OF_HOLDINGS = (select(JournalRecord).where(JournalRecord.batch_id.in_(bindparam("ids", expanding=True))
                                                    | JournalRecord.source_batch_id.in_(bindparam("ids", expanding=True)))
                        .order_by(JournalRecord.id))


def get_batch(session: Session, principal: Principal, batch_id: int, *, lock: bool = False) -> Batch:
    """The batch if visible (404 otherwise); `lock` takes its row lock for a write."""
    q = _BATCH_FOR_UPDATE if lock and session.get_bind().dialect.name == "postgresql" else _BATCH
    b = session.exec(q, params={"batch_id": batch_id}).first()
    if b is None or not can_see_batch(session, principal, b):
        raise NotFound(f"batch {batch_id} does not exist or is outside your scope", code="batch.not_found")
    return b


def find_by_digital_id(session: Session, principal: Principal, digital_id: str) -> Batch:
    """The batch a label's digital ID names (422 when the ID is malformed, 404 when unknown or not visible)."""
    parse_digital_id(digital_id)
    for b in holdings_for_scan(session, digital_id, unit_id=principal.unit_id):
        if can_see_batch(session, principal, b):
            return b
    raise NotFound(f"no batch with digital ID {digital_id} in your scope", code="batch.not_found")


def holdings_for_scan(session: Session, digital_id: str, *, unit_id: int | None) -> list[Batch]:
    """The holdings of a physical batch in the order a scan should resolve them: the scanning unit's own holding
    first (a receiver scanning a label it received), its live one before a closed one; then the root holding (the
    generator's), then the others."""
    holdings = session.exec(_HOLDINGS_BY_DIGITAL_ID, params={"digital_id": digital_id.strip().upper()}).all()
    own = [b for b in holdings if unit_id is not None and b.holder_unit_id == unit_id]
    live = [b for b in own if b.remaining_g > 0 or b.in_transit_g > 0]
    rest = sorted(holdings, key=lambda b: b.parent_id is not None)
    ordered = {b.id: b for b in [*reversed(live), *reversed(own), *rest]}
    return list(ordered.values())


# ---- helpers -----------------------------------------------------------------------------------------

def _when(value: datetime | None, *, field: str, now: datetime) -> datetime:
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


def _unit_facility(session: Session, unit_id: int, facility_id: int, *, kinds: tuple[str, ...],
                   field: str) -> Facility:
    f = registry_facility(session, facility_id)
    if f is None or f.unit_id != unit_id:
        raise InvalidInput(f"facility {facility_id} is not a facility of unit {unit_id}", field=field)
    if f.kind not in kinds:
        raise InvalidInput(f"facility {f.code} is a {f.kind} facility; expected {' or '.join(kinds)}", field=field)
    return f


def _code_scope(unit_id: int, kind: str, day: date, hazardous: bool) -> str:
    return f"bc:{unit_id}:{kind}:{'H' if hazardous else 'G'}:{day:%Y%m%d}"


def record_code(session: Session, *, unit_id: int, kind: str, day: date, hazardous: bool) -> str:
    """The next HJ 1259 record code of this kind for the unit and day."""
    serial = next_value(session, _code_scope(unit_id, kind, day, hazardous))
    return make_batch_code(kind=kind, day=day, serial=serial, hazardous=hazardous)


# Built once, with bound parameters, like the read paths' statements above (every storage move runs both).
_STOCK_G = (select(func.coalesce(func.sum(Batch.stored_g), 0))
            .where(Batch.storage_facility_id == bindparam("facility_id")))
_LAST_CODE = (select(JournalRecord.record_code).where(JournalRecord.batch_id == bindparam("batch_id"))
              .order_by(JournalRecord.id.desc()).limit(1))


def facility_stock_g(session: Session, facility_id: int) -> int:
    """Mass currently stored in a facility (sum over its batches)."""
    return int(session.exec(_STOCK_G, params={"facility_id": facility_id}).one())


def _links(session: Session, b: Batch) -> list[str]:
    """The record code of the latest record of this batch: what a new record links back to (HJ 1259)."""
    last = session.exec(_LAST_CODE, params={"batch_id": b.id}).first()
    return [last] if last else []


# ---- services --------------------------------------------------------------------------------------

MAX_BULK = 500


class BulkCreate(Input):
    items: list[BatchCreate] = Field(min_length=1, max_length=MAX_BULK,
                                     description="weighings, e.g. a terminal's buffer after a network outage")


@dataclass
class _Weighing:
    """A validated weighing, before serials are allocated."""

    principal: Principal
    data: BatchCreate
    unit: Unit
    facility: Facility
    code: str
    hazardous: bool
    hazard: str
    occurred: datetime
    day: date
    gross: int
    tare: int
    net: int
    flags: list[str]


def prepare_weighing(session: Session, principal: Principal, data: BatchCreate, now: datetime,
                     seen: dict) -> _Weighing:
    """Validate one weighing (lookups shared across a bulk request or a commit group through `seen`; the unit's
    access check is shared only by the same principal); writes nothing but may read."""
    key = ("unit", id(principal), data.unit_id)
    if key not in seen:
        unit = require_unit(session, principal, data.unit_id, act="operate", read_only=True)
        if not (unit.is_generator or unit.is_receiver):
            raise InvalidInput(f"unit {unit.id} is not registered as a generator", field="unit_id")
        seen[key] = unit
    unit = seen[key]
    occurred = _when(data.occurred_at, field="occurred_at", now=now)
    key = ("code", data.waste_code)
    if key not in seen:
        seen[key] = lookup_waste_code(session, data.waste_code)
    code, entry = seen[key]
    gross = kg_to_g(data.gross_kg, field="gross_kg")
    tare = kg_to_g(data.tare_kg, field="tare_kg")
    if tare > gross:
        raise InvalidInput(f"tare ({data.tare_kg} kg) is more than gross ({data.gross_kg} kg)", field="tare_kg",
                           code="weighing.tare_exceeds_gross")
    net = gross - tare
    if net <= 0:
        raise InvalidInput("net weight (gross − tare) must be more than 0", field="gross_kg",
                           code="weighing.net_not_positive")
    key = ("facility", unit.id, data.facility_id)
    if key not in seen:
        seen[key] = _unit_facility(session, unit.id, data.facility_id, kinds=("generation",), field="facility_id")
    facility = seen[key]
    day = local_day(occurred)
    if data.period == "container":
        if net > MAX_BATCH_G:
            raise InvalidInput(f"net weight {g_to_kg(net)} kg exceeds {g_to_kg(MAX_BATCH_G)} kg for one batch; weigh "
                               "it as several batches (a continuous generation point records daily or shift "
                               "totals with period 'day' or 'shift')", field="gross_kg", code="weighing.too_heavy")
    else:
        _check_period_total(session, facility=facility, code=code, day=day, net=net, period=data.period, seen=seen)
    if data.store_facility_id is not None:  # 即入库: its facility is checked here, before anything is written
        _unit_facility(session, unit.id, data.store_facility_id, kinds=("storage",), field="store_facility_id")
    key = ("plan", unit.id, day.year)
    if key not in seen:
        seen[key] = planned_codes(session, unit_id=unit.id, year=day.year)
    flags = []
    if code not in seen[key]:
        flags.append("not_in_plan")
    if now - occurred > LATE_ENTRY:
        flags.append("late_entry")
    return _Weighing(principal=principal, data=data, unit=unit, facility=seen[("facility", unit.id, data.facility_id)], code=code,
                     hazardous=not code.split("-")[2].startswith("S"), hazard=entry.hazard if entry else "",
                     occurred=occurred, day=day, gross=gross, tare=tare, net=net, flags=flags)


def _check_period_total(session: Session, *, facility: Facility, code: str, day: date, net: int, period: str,
                        seen: dict) -> None:
    """A daily or shift total: only at a continuous generation point, one daily total (or several shift totals)
    per point, code and day, all together within the point's registered daily capacity."""
    if not facility.continuous or facility.daily_capacity_g is None:
        raise InvalidInput(f"facility {facility.code} is not registered as a continuous generation point; daily "
                           "and shift totals are for continuous sources (register the point with continuous: true "
                           "and its daily_capacity_t), other waste is weighed per container or truckload",
                           field="period", code="weighing.not_continuous")
    key = ("period_total", facility.id, code, day)
    if key not in seen:
        start, end = day_bounds_utc(day)
        rows = session.exec(select(Batch.period, func.coalesce(func.sum(Batch.net_g), 0), func.count(Batch.id))
                            .where(Batch.facility_id == facility.id, Batch.waste_code == code,
                                   Batch.parent_id.is_(None), Batch.period != "container",
                                   Batch.occurred_at >= start, Batch.occurred_at < end)
                            .group_by(Batch.period)).all()
        seen[key] = {p: [int(g), int(n)] for p, g, n in rows}
    totals = seen[key]
    other = "shift" if period == "day" else "day"
    if totals.get("day", [0, 0])[1] or (period == "day" and totals.get(other, [0, 0])[1]):
        raise Conflict(f"{code} at {facility.code} on {day} already has its {'daily' if 'day' in totals else 'shift'}"
                       " total(s); a day is recorded either as one daily total or as shift totals — correct the "
                       "recorded total instead of adding another", code="weighing.period_recorded",
                       details={"field": "period"})
    used = sum(g for g, _ in totals.values())
    if used + net > facility.daily_capacity_g:
        raise InvalidInput(f"{g_to_kg(used + net)} kg of {code} on {day} would exceed the registered daily capacity "
                           f"of {facility.code} ({g_to_kg(facility.daily_capacity_g)} kg); check the figure or "
                           "update the point's registration", field="gross_kg", code="weighing.over_daily_capacity")
    totals.setdefault(period, [0, 0])
    totals[period][0] += net
    totals[period][1] += 1


def generate_many(session: Session, *, principal: Principal, items: list[BatchCreate]) -> list[Batch]:
    """Record several weighings at once, all or nothing: serial ranges in one statement, holdings and chain
    records in multi-row INSERTs, one chain-head lock per unit. The result equals generating them one by one."""
    now = utcnow()
    seen: dict = {}
    weighings = []
    for i, data in enumerate(items):
        try:
            weighings.append(prepare_weighing(session, principal, data, now, seen))
        except InvalidInput as e:
            if len(items) > 1:
                e.details["field"] = f"items[{i}].{e.details.get('field', '')}".rstrip(".")
                e.message = f"items[{i}]: {e.message}"
            raise
    return write_weighings(session, weighings, now=now)


def write_weighings(session: Session, weighings: list[_Weighing], *, now: datetime) -> list[Batch]:
    """Write prepared weighings (of one request or of a commit group, each with its own principal): serials,
    holdings, chain records, then 即入库. Locks are taken in one order — every counter first (one statement, by
    scope: the serials and the record codes of 即入库 too), then the chain heads (by unit id) — as a single record's
    write takes its counter before its head, so two transactions of these kinds never wait on each other in a
    cycle."""
    counts: dict[str, int] = {}
    for w in weighings:
        scopes = [f"did:{w.unit.id}:{w.code}:{w.day:%Y%m%d}", _code_scope(w.unit.id, "generated", w.day, w.hazardous)]
        if w.data.store_facility_id is not None:
            scopes.append(_code_scope(w.unit.id, "stored", w.day, w.hazardous))
        for scope in scopes:
            counts[scope] = counts.get(scope, 0) + 1
    nxt = next_ranges(session, counts)
    rows: list[Batch] = []
    for w in weighings:
        did_scope, code_scope = f"did:{w.unit.id}:{w.code}:{w.day:%Y%m%d}", _code_scope(
            w.unit.id, "generated", w.day, w.hazardous)
        serial, code_serial = nxt[did_scope], nxt[code_scope]
        nxt[did_scope], nxt[code_scope] = serial + 1, code_serial + 1
        state = apply(BatchState(), kind="generated", mass_g=w.net, unit_id=w.unit.id, facility_id=w.facility.id,
                      body={})
        d = w.data
        b = new_row(Batch, unit_id=w.unit.id,
                  digital_id=make_digital_id(credit_code=w.unit.credit_code, waste_code=w.code, day=w.day,
                                             serial=serial),
                  batch_code=make_batch_code(kind="generated", day=w.day, serial=code_serial, hazardous=w.hazardous),
                  waste_code=w.code, category=w.code.split("-")[2] if not w.hazardous else "HW" + w.code[-2:],
                  hazardous=w.hazardous, name=d.name, form=d.form, hazard=w.hazard, components=d.components,
                  container_type=d.container_type, container_count=d.container_count,
                  container_volume_l=d.container_volume_l, period=d.period, facility_id=w.facility.id,
                  scale_id=d.scale_id,
                  operator=d.operator, occurred_at=w.occurred, gross_g=w.gross, tare_g=w.tare, flags=w.flags,
                  created_at=now, net_g=state.net_g, remaining_g=state.remaining_g, stored_g=state.stored_g,
                  in_transit_g=state.in_transit_g, storage_facility_id=state.storage_facility_id,
                  holder_unit_id=state.holder_unit_id, stored_ever=state.stored_ever, status=state.status)
        rows.append(b)
    insert_all(session, rows)
    by_unit: dict[int, list[tuple[Batch, _Weighing]]] = {}
    for b, w in zip(rows, weighings, strict=True):
        by_unit.setdefault(w.unit.id, []).append((b, w))
    signed = {id(w.principal): signed_by(w.principal) for w in weighings}
    journal.append_chains(session, {unit_id: [{
        "kind": "generated", "actor_id": w.principal.user_id or None, "actor_name": w.data.operator,
        "occurred_at": w.occurred, "batch_id": b.id, "mass_g": w.net, "facility_id": w.facility.id,
        "record_code": b.batch_code,
        "body": {"digital_id": b.digital_id, "waste_code": w.code, "gross_g": w.gross, "tare_g": w.tare,
                 "scale_id": w.data.scale_id, "container_type": w.data.container_type,
                 "container_count": w.data.container_count, "period": w.data.period, "flags": w.flags,
                 "by": signed[id(w.principal)]}} for b, w in pairs] for unit_id, pairs in by_unit.items()})
    out = []
    for b, w in zip(rows, weighings, strict=True):
        if w.data.store_facility_id is not None:  # 即入库: store at once, on the ordinary path
            scope = _code_scope(w.unit.id, "stored", w.day, w.hazardous)
            serial, nxt[scope] = nxt[scope], nxt[scope] + 1
            b = session.get(Batch, b.id)
            store(session, principal=w.principal, batch=b, data=StoreIn(
                facility_id=w.data.store_facility_id, operator=w.data.operator, occurred_at=w.occurred),
                code=make_batch_code(kind="stored", day=w.day, serial=serial, hazardous=w.hazardous))
        out.append(b)
    return out


def generate(session: Session, *, principal: Principal, data: BatchCreate) -> Batch:
    """Record a weighing at a generation point: allocate the digital ID and batch code, write `generated`."""
    return generate_many(session, principal=principal, items=[data])[0]


@dataclass
class _Move:
    """A checked storage move (入库 or 出库), before its record code and chain link are allocated."""

    principal: Principal
    batch: Batch
    kind: str  # stored | retrieved
    facility_id: int
    mass: int
    occurred: datetime
    body: dict
    state: BatchState  # the holding's state after this move


def check_store(session: Session, principal: Principal, batch: Batch, data: StoreIn, *, now: datetime,
                state: BatchState, stock_g: Callable[[int], int], extra: dict | None = None) -> _Move:
    """Every check of a 入库 against the holding's `state` (raises the request's 4xx; writes nothing).
    `stock_g(facility_id)`: the facility's stored mass before this move, for the over-capacity note."""
    require_unit(session, principal, batch.holder_unit_id, act="operate", read_only=True)
    occurred = _when(data.occurred_at, field="occurred_at", now=now)
    f = _unit_facility(session, batch.holder_unit_id, data.facility_id, kinds=("storage",), field="facility_id")
    loose = state.loose_g
    if loose == 0 and state.stored_g > 0:
        where = registry_facility(session, state.storage_facility_id)
        raise Conflict(f"batch {batch.digital_id} is already in storage at {where.code} {where.name} "
                       f"({g_to_kg(state.stored_g)} kg); to move it, retrieve it first", code="batch.already_stored",
                       details={"storage_facility_id": where.id, "stored_kg": str(g_to_kg(state.stored_g))})
    if loose == 0:
        raise Conflict(f"batch {batch.digital_id} holds nothing to store (status {state.status})",
                       code="batch.nothing_to_store", details={"status": state.status})
    mass = kg_to_g(data.mass_kg, field="mass_kg") if data.mass_kg is not None else loose
    after = apply(state, kind="stored", mass_g=mass, unit_id=batch.holder_unit_id, facility_id=f.id, body={})
    body: dict = {"note": data.note, **(extra or {})}
    if f.storage_capacity_g is not None:
        stock = stock_g(f.id) + mass
        if stock > f.storage_capacity_g:
            body["over_capacity"] = {"capacity_g": f.storage_capacity_g, "stock_after_g": stock}
    return _Move(principal, batch, "stored", f.id, mass, occurred, body, after)


def store(session: Session, *, principal: Principal, batch: Batch, data: StoreIn, extra: dict | None = None,
          code: str | None = None) -> JournalRecord:
    """入库: put the batch's loose mass (or part of it) into a storage facility; over capacity is recorded
    (`extra` adds what the caller knows to the record, e.g. the manifest a receipt came on; `code`: its record
    code, when the caller took it already with its other counters)."""
    m = check_store(session, principal, batch, data, now=utcnow(), state=state_of(batch),
                    stock_g=lambda facility_id: facility_stock_g(session, facility_id), extra=extra)
    body = {"from_codes": _links(session, batch), **m.body}
    code = code or record_code(session, unit_id=batch.holder_unit_id, kind="stored", day=local_day(m.occurred),
                               hazardous=batch.hazardous)
    return record(session, batch, kind="stored", unit_id=batch.holder_unit_id, principal=principal,
                  actor_name=data.operator, occurred_at=m.occurred, mass_g=m.mass, facility_id=m.facility_id,
                  record_code=code, body=body)


_BATCHES_FOR_UPDATE = (select(Batch).where(Batch.id.in_(bindparam("ids", expanding=True))).order_by(Batch.id)
                       .execution_options(populate_existing=True))
_STOCKS_G = (select(Batch.storage_facility_id, func.sum(Batch.stored_g))
             .where(Batch.storage_facility_id.in_(bindparam("ids", expanding=True)))
             .group_by(Batch.storage_facility_id))
_LAST_CODES = (select(JournalRecord.batch_id, JournalRecord.record_code).where(JournalRecord.id.in_(
    select(func.max(JournalRecord.id)).where(JournalRecord.batch_id.in_(bindparam("ids", expanding=True)))
    .group_by(JournalRecord.batch_id))))


def move_many(session: Session, kind: Literal["stored", "retrieved"], moves: list[tuple[Principal, int, MoveIn]],
              seen: Callable[[int, Batch, JournalRecord], None] | None = None) -> list[JournalRecord | LedgerError]:
    """Several 入库 (`stored`) or 出库 (`retrieved`) requests — a commit group's — in one transaction, each with
    its own principal and its own answer: the record it wrote, or the error that refused it (a refused move writes
    nothing, and the others go on). The result equals running them one by one, in order (a batch moved twice sees
    its first move), with a few statements in all: the holdings locked in one statement (by id, as one move locks
    its one), their last record codes, the facilities' stock (入库), the record-code counters, the chain heads and
    the records. `seen(i, holding, record)` is called for each written move in order, while the holding shows the
    state right after it (what that request alone would have answered)."""
    now = utcnow()
    ids = sorted({batch_id for _, batch_id, _ in moves})
    q = _BATCHES_FOR_UPDATE.with_for_update() if session.get_bind().dialect.name == "postgresql" \
        else _BATCHES_FOR_UPDATE
    rows = {b.id: b for b in session.exec(q, params={"ids": ids}).all()}
    stock: dict[int, int] = {}
    if kind == "stored":
        facilities = sorted({data.facility_id for _, _, data in moves})
        stock = dict.fromkeys(facilities, 0)
        stock.update({int(f): int(g) for f, g in session.exec(_STOCKS_G, params={"ids": facilities}).all()})
    links = {int(b): code for b, code in session.exec(_LAST_CODES, params={"ids": ids}).all()}
    states = {bid: state_of(b) for bid, b in rows.items()}
    out: list[JournalRecord | Exception | None] = []
    checked: list[tuple[int, _Move]] = []
    for principal, batch_id, data in moves:
        b = rows.get(batch_id)
        try:
            if b is None or not can_see_batch(session, principal, b):
                raise NotFound(f"batch {batch_id} does not exist or is outside your scope", code="batch.not_found")
            if kind == "stored":
                m = check_store(session, principal, b, data, now=now, state=states[batch_id],
                                stock_g=stock.__getitem__)
                stock[m.facility_id] += m.mass
            else:
                m = check_retrieve(session, principal, b, data, now=now, state=states[batch_id])
        except LedgerError as e:
            out.append(e)
            continue
        states[batch_id] = m.state
        checked.append((len(out), m))
        out.append(None)  # the record, below
    if not checked:
        return out
    counts: dict[str, int] = {}
    for _, m in checked:
        scope = _code_scope(m.batch.holder_unit_id, kind, local_day(m.occurred), m.batch.hazardous)
        counts[scope] = counts.get(scope, 0) + 1
    nxt = next_ranges(session, counts)
    entries: dict[int, list[dict]] = {}
    at: dict[int, list[int]] = {}  # unit -> the answers its records go to, in chain order
    for i, m in checked:
        b, day = m.batch, local_day(m.occurred)
        scope = _code_scope(b.holder_unit_id, kind, day, b.hazardous)
        serial, nxt[scope] = nxt[scope], nxt[scope] + 1
        code = make_batch_code(kind=kind, day=day, serial=serial, hazardous=b.hazardous)
        from_codes = [links[b.id]] if links.get(b.id) else []
        links[b.id] = code  # a later move of the same batch links to this one
        entries.setdefault(b.holder_unit_id, []).append({
            "kind": kind, "actor_id": m.principal.user_id or None, "actor_name": moves[i][2].operator,
            "occurred_at": m.occurred, "batch_id": b.id, "mass_g": m.mass, "facility_id": m.facility_id,
            "record_code": code, "body": {"from_codes": from_codes, **m.body, "by": signed_by(m.principal)}})
        at.setdefault(b.holder_unit_id, []).append(i)
    for unit_id, recs in journal.append_chains(session, entries).items():
        for i, rec in zip(at[unit_id], recs, strict=True):
            out[i] = rec
    for i, m in checked:  # in order: the holding shows each move's state in turn, and ends with the last
        _put(m.batch, m.state)
        session.add(m.batch)
        if seen is not None:
            seen(i, m.batch, out[i])
    return out


def check_retrieve(session: Session, principal: Principal, batch: Batch, data: RetrieveIn, *, now: datetime,
                   state: BatchState, on_behalf: bool = False, extra: dict | None = None) -> _Move:
    """Every check of a 出库 against the holding's `state` (raises the request's 4xx; writes nothing)."""
    if not on_behalf:
        require_unit(session, principal, batch.holder_unit_id, act="operate", read_only=True)
    occurred = _when(data.occurred_at, field="occurred_at", now=now)
    mass = kg_to_g(data.mass_kg, field="mass_kg") if data.mass_kg is not None else state.stored_g
    if state.stored_g == 0:
        raise Conflict("this batch is not in storage", code="batch.not_stored")
    after = apply(state, kind="retrieved", mass_g=mass, unit_id=batch.holder_unit_id,
                  facility_id=state.storage_facility_id, body={})
    return _Move(principal, batch, "retrieved", state.storage_facility_id, mass, occurred,
                 {"purpose": data.purpose, "note": data.note, **(extra or {})}, after)


def retrieve(session: Session, *, principal: Principal, batch: Batch, data: RetrieveIn,
             lot_code: str | None = None, on_behalf: bool = False, extra: dict | None = None) -> JournalRecord:
    """出库: take the batch (or part of it) out of storage (`on_behalf`: at loading, signed by the hauler;
    `extra` adds what the caller knows to the record, e.g. the manifest and the carrier)."""
    m = check_retrieve(session, principal, batch, data, now=utcnow(), state=state_of(batch), on_behalf=on_behalf,
                       extra=extra)
    code = lot_code or record_code(session, unit_id=batch.holder_unit_id, kind="retrieved",
                                   day=local_day(m.occurred), hazardous=batch.hazardous)
    return record(session, batch, kind="retrieved", unit_id=batch.holder_unit_id, principal=principal,
                  actor_name=data.operator, occurred_at=m.occurred, mass_g=m.mass, facility_id=m.facility_id,
                  record_code=code, body={"from_codes": _links(session, batch), **m.body})


def process_in_house(session: Session, *, principal: Principal, batch: Batch, data: ProcessIn,
                     kind: Literal["used_in_house", "disposed_in_house"]) -> JournalRecord:
    """自行利用/处置: consume the batch's loose mass with a method, at one of the holder's facilities."""
    require_unit(session, principal, batch.holder_unit_id, act="operate", read_only=True)
    occurred = _when(data.occurred_at, field="occurred_at", now=utcnow())
    completed = _when(data.completed_at, field="completed_at", now=utcnow()) if data.completed_at else occurred
    method = session.get(Method, data.method.strip().upper())
    if method is None:
        raise InvalidInput(f"unknown method {data.method!r}", field="method", code="method.unknown")
    if kind == "used_in_house" and not method.counts_as_utilisation:
        raise InvalidInput(f"{method.code} ({method.name}) is a disposal method; use dispose-in-house",
                           field="method")
    if kind == "disposed_in_house" and method.counts_as_utilisation:
        raise InvalidInput(f"{method.code} ({method.name}) counts as utilisation; use use-in-house", field="method")
    extra: dict = {}
    for check in process_checks:
        extra.update(check(session, batch, method, local_day(occurred), principal) or {})
    fac_id = None
    if data.facility_id is not None:
        f = _unit_facility(session, batch.holder_unit_id, data.facility_id, kinds=("utilisation", "disposal"),
                           field="facility_id")
        if f.methods and method.code not in f.methods:
            raise InvalidInput(f"facility {f.code} is registered for {', '.join(f.methods)}, not {method.code}",
                               field="method")
        fac_id = f.id
    mass = kg_to_g(data.mass_kg, field="mass_kg") if data.mass_kg is not None else state_of(batch).loose_g
    code = record_code(session, unit_id=batch.holder_unit_id, kind=kind, day=local_day(occurred),
                 hazardous=batch.hazardous)
    return record(session, batch, kind=kind, unit_id=batch.holder_unit_id, principal=principal,
                  actor_name=data.operator, occurred_at=occurred, mass_g=mass, facility_id=fac_id,
                  record_code=code, body={"from_codes": _links(session, batch), "method": method.code,
                                          "completed_at": completed.isoformat(), "note": data.note, **extra})


CORRECTABLE = ("generated", "stored", "retrieved", "used_in_house", "disposed_in_house")


def correct(session: Session, *, principal: Principal, batch: Batch, data: CorrectionIn) -> JournalRecord:
    """Amend the mass of an earlier record with a new `corrected` record; the original stays as it was."""
    original = session.get(JournalRecord, data.record_id)
    if original is None or original.batch_id != batch.id:
        raise InvalidInput(f"record {data.record_id} is not a record of batch {batch.id}", field="record_id")
    if original.kind not in CORRECTABLE:
        raise InvalidInput(f"a {original.kind} record cannot be corrected here", field="record_id")
    require_unit(session, principal, original.unit_id, act="operate", read_only=True)
    latest = session.exec(select(JournalRecord).where(JournalRecord.corrects_id == original.id)
                          .order_by(JournalRecord.id.desc())).first()
    before = int(latest.body["to_g"]) if latest else original.mass_g
    after = kg_to_g(data.mass_kg, field="mass_kg")
    if after == before:
        raise InvalidInput(f"record {original.id} already has {g_to_kg(after)} kg", field="mass_kg")
    if original.kind == "generated":
        cap = MAX_BATCH_G
        if batch.period != "container":
            cap = session.get(Facility, batch.facility_id).daily_capacity_g or MAX_BATCH_G
        if after <= 0 or after > cap:
            raise InvalidInput(f"a batch's net mass must be more than 0 and at most {g_to_kg(cap)} kg", field="mass_kg")
    rec = record(session, batch, kind="corrected", unit_id=original.unit_id, principal=principal,
                 actor_name=principal.username, occurred_at=utcnow(), mass_g=after - before,
                 record_code=original.record_code, corrects_id=original.id,
                 body={"corrects_kind": original.kind, "corrects_seq": original.seq, "from_g": before,
                       "to_g": after, "reason": data.reason})
    audit(session, principal, action="record.correct", entity="journal_record", entity_id=rec.id,
          detail={"corrects": original.id, "from_g": before, "to_g": after, "reason": data.reason})
    return rec


@dataclass
class LotDraw:
    batch: Batch
    record: JournalRecord


def retrieve_lot(session: Session, *, principal: Principal, facility_id: int, data: LotRetrieveIn
                 ) -> tuple[str, list[LotDraw]]:
    """Bulk 出库: draw a mass of one waste code from a storage facility, oldest batches first (FIFO)."""
    f = session.get(Facility, facility_id)
    if f is None:
        raise NotFound(f"facility {facility_id} does not exist", code="facility.not_found")
    require_unit(session, principal, f.unit_id, act="operate")
    if f.kind != "storage":
        raise InvalidInput(f"facility {f.code} is not a storage facility", field="facility_id")
    code = check_waste_code(session, data.waste_code)
    want = kg_to_g(data.mass_kg, field="mass_kg")
    if want <= 0:
        raise InvalidInput("mass must be more than 0", field="mass_kg")
    q = (select(Batch).where(Batch.storage_facility_id == f.id, Batch.waste_code == code, Batch.stored_g > 0)
         .order_by(Batch.occurred_at, Batch.id))
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    candidates = session.exec(q.execution_options(populate_existing=True)).all()
    available = sum(b.stored_g for b in candidates)
    if want > available:
        raise Conflict(f"facility {f.code} holds {g_to_kg(available)} kg of {code}, less than the "
                       f"{g_to_kg(want)} kg asked", code="batch.insufficient_mass",
                       details={"available_kg": str(g_to_kg(available))})
    occurred = _when(data.occurred_at, field="occurred_at", now=utcnow())
    lot_code = record_code(session, unit_id=f.unit_id, kind="retrieved", day=local_day(occurred),
                     hazardous=candidates[0].hazardous)
    draws, left = [], want
    for b in candidates:
        if left == 0:
            break
        take = min(b.stored_g, left)
        rec = retrieve(session, principal=principal, batch=b, lot_code=lot_code, data=RetrieveIn(
            mass_kg=g_to_kg(take), operator=data.operator, occurred_at=occurred, purpose=data.purpose))
        draws.append(LotDraw(b, rec))
        left -= take
    return lot_code, draws


def split_holding(session: Session, source: Batch, *, receiver_unit_id: int, received_g: int, facility_id: int | None
                  ) -> Batch:
    """A new holding of the same physical batch at the receiver (balances are set by its `received` record)."""
    child = Batch(**{k: getattr(source, k) for k in (
        "unit_id", "digital_id", "batch_code", "waste_code", "category", "hazardous", "name", "form", "hazard",
        "components", "container_type", "container_count", "container_volume_l", "facility_id", "scale_id",
        "operator", "occurred_at", "flags")},
        holder_unit_id=receiver_unit_id, parent_id=source.id, root_id=source.root_id or source.id,
        gross_g=received_g, tare_g=0, net_g=0, remaining_g=0, status="generated")
    session.add(child)
    session.flush()
    return child


_TRACE_MEMO: ContextVar[dict | None] = ContextVar("wasteledger_trace_memo", default=None)


@contextmanager
def one_trace() -> Iterator[None]:
    """While a batch's trace is built: what several of its hooks ask (`trace_memo`) is read once."""
    token = _TRACE_MEMO.set({})
    try:
        yield
    finally:
        _TRACE_MEMO.reset(token)


def trace_memo(key: tuple, load: Callable[[], T]) -> T:
    """`load()`, once per key within `one_trace()` (outside one: every time)."""
    memo = _TRACE_MEMO.get()
    if memo is None:
        return load()
    if key not in memo:
        memo[key] = load()
    return memo[key]


def records_for_root(session: Session, root_id: int) -> list[JournalRecord]:
    """Every record of a physical batch across all its holdings, in the order written."""
    return records_of_holdings(session, [b.id for b in holdings_of(session, root_id)])


def records_of_holdings(session: Session, ids: list[int]) -> list[JournalRecord]:
    """Every record of these holdings (of `holdings_of` a root), in the order written."""
    return list(session.exec(_RECORDS_OF_HOLDINGS, params={"ids": ids}).all())


def holdings_of(session: Session, root_id: int) -> list[Batch]:
    """The root holding and every holding split off it, oldest first."""
    return list(session.exec(_HOLDINGS_OF_ROOT, params={"root_id": root_id}).all())


# ---- facility view, verify, rebuild ---------------------------------------------------------------

_FACILITY_STOCK = (select(Batch.waste_code, func.sum(Batch.stored_g), func.count(Batch.id))
                   .where(Batch.storage_facility_id == bindparam("facility_id"), Batch.stored_g > 0)
                   .group_by(Batch.waste_code).order_by(Batch.waste_code))
_RECENT_MOVEMENTS = (select(JournalRecord).where(JournalRecord.facility_id == bindparam("facility_id"))
                     .order_by(JournalRecord.id.desc()).limit(bindparam("limit")))


def facility_stock(session: Session, *, facility_id: int) -> list[dict]:
    """Stock of a storage facility per waste code: mass and number of batches."""
    rows = session.exec(_FACILITY_STOCK, params={"facility_id": facility_id}).all()
    return [{"waste_code": c, "stored_kg": g_to_kg(int(g)), "batches": n} for c, g, n in rows]


def recent_movements(session: Session, *, facility_id: int, limit: int = 20) -> list[JournalRecord]:
    return list(session.exec(_RECENT_MOVEMENTS, params={"facility_id": facility_id, "limit": limit}).all())


@dataclass(frozen=True)
class Difference:
    batch_id: int
    field: str
    cached: object
    journal: object


def rebuild(session: Session, *, apply_fixes: bool = False, unit_id: int | None = None) -> list[Difference]:
    """Recompute every batch's balances from the journal and report (optionally fix) what the cache has wrong."""
    q = select(Batch)
    if unit_id is not None:
        q = q.where((Batch.unit_id == unit_id) | (Batch.holder_unit_id == unit_id))
    diffs: list[Difference] = []
    for b in session.exec(q.order_by(Batch.id)).all():
        s = BatchState()
        for r in journal.records_for_batch(session, b.id):
            s = apply(s, kind=r.kind, mass_g=r.mass_g, unit_id=r.unit_id, facility_id=r.facility_id, body=r.body,
                      as_source=r.batch_id != b.id)
        want = {"net_g": s.net_g, "remaining_g": s.remaining_g, "stored_g": s.stored_g,
                "in_transit_g": s.in_transit_g, "storage_facility_id": s.storage_facility_id,
                "holder_unit_id": s.holder_unit_id, "status": s.status}
        for field, value in want.items():
            if getattr(b, field) != value:
                diffs.append(Difference(b.id, field, getattr(b, field), value))
        if apply_fixes and any(d.batch_id == b.id for d in diffs):
            _put(b, s)
            session.add(b)
    session.flush()
    return diffs


def annual_hazardous_g(session: Session, unit_id: int, year: int) -> int:
    """Hazardous waste generated by a unit in a calendar year (Asia/Shanghai), from its batches."""
    start, end = year_bounds_utc(year)
    return int(session.exec(select(func.coalesce(func.sum(Batch.net_g), 0)).where(
        Batch.unit_id == unit_id, Batch.parent_id.is_(None), Batch.hazardous.is_(True), Batch.occurred_at >= start,
        Batch.period != "lot",  # a collection-centre lot is collected, not generated
        Batch.occurred_at < end,
    )).one())


tiers.annual_hazardous_reader = annual_hazardous_g

