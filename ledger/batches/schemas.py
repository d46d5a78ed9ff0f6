"""The request bodies of the batch steps and the public shapes of a batch and a record."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from sqlmodel import Field, SQLModel

from ledger.aio import unvalidated
from ledger.batches.models import Batch
from ledger.codes import parse_hazard
from ledger.journal import JournalRecord
from ledger.mass import g_to_kg
from ledger.validation import BigId, Code, Count, DbId, Input, Kg, Litres, PastTime


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
    """A batch as the API shows it, built from its row's values without validating them again (`unvalidated`;
    `tests/ledger/test_row_maker.py` holds this and `record_public` to what validation makes)."""
    base = public_url.rstrip("/")
    volume = b.container_volume_l
    return unvalidated(BatchPublic, {
        "id": b.id, "unit_id": b.unit_id, "holder_unit_id": b.holder_unit_id, "parent_id": b.parent_id,
        "root_id": b.root_id, "digital_id": b.digital_id, "batch_code": b.batch_code, "waste_code": b.waste_code,
        "category": b.category, "hazardous": bool(b.hazardous), "name": b.name, "form": b.form,
        "hazard": list(parse_hazard(b.hazard)) if b.hazard else [], "components": b.components,
        "container_type": b.container_type, "container_count": b.container_count,
        "container_volume_l": None if volume is None else float(volume),  # as validation makes any number given
        "facility_id": b.facility_id, "storage_facility_id": b.storage_facility_id, "scale_id": b.scale_id,
        "operator": b.operator, "occurred_at": b.occurred_at, "gross_kg": g_to_kg(b.gross_g),
        "tare_kg": g_to_kg(b.tare_g), "net_kg": g_to_kg(b.net_g), "remaining_kg": g_to_kg(b.remaining_g),
        "stored_kg": g_to_kg(b.stored_g), "in_transit_kg": g_to_kg(b.in_transit_g), "status": b.status,
        "flags": list(b.flags), "label_url": f"{base}{api_prefix}/batches/{b.id}/label.png",
        "scan_url": f"{base}/s/{b.digital_id}"})


def record_public(r: JournalRecord) -> RecordPublic:
    return unvalidated(RecordPublic, {
        "id": r.id, "unit_id": r.unit_id, "seq": r.seq, "kind": r.kind, "batch_id": r.batch_id,
        "record_code": r.record_code, "mass_kg": g_to_kg(r.mass_g), "facility_id": r.facility_id,
        "manifest_id": r.manifest_id, "actor_name": r.actor_name, "occurred_at": r.occurred_at,
        "recorded_at": r.recorded_at, "corrects_id": r.corrects_id, "body": r.body, "hash": r.hash})
