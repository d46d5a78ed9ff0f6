"""Back-entry of a paper manifest (转移管理办法 Art. 20: when the electronic manifest could not run, a paper one is
used and entered into the system within ten working days after the transfer was completed).

The manifest is created and walked through its ordinary steps by `ledger.manifests` (create, submit, pickup,
deliver, receive, and the return leg of a refusal), each at its original time (`clock_at`) and signed in the name
of the person who signed the paper; the user who enters it is recorded beside them. Every record it writes names
the paper manifest in `body.source`, and the manifest is flagged `back_entry` (and `back_entry_late` when entered
after the deadline, with the reason given).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Literal

from pydantic import field_validator
from sqlmodel import Field, Session, select

from ledger import journal, manifests
from ledger.auth import Principal, audit, require_declarant
from ledger.batches import Batch
from ledger.errors import Conflict, InvalidInput
from ledger.history.models import SourceDocument
from ledger.manifests import Manifest
from ledger.types import clock_at, utcnow
from ledger.validation import Code, DbId, Input, Kg, PastTime, PositiveKg
from ledger.workdays import SHANGHAI, add_working_days, local_day

BACK_ENTRY_WORKING_DAYS = 10  # 转移管理办法 第二十条


class PaperLine(Input):
    batch_id: DbId
    mass_kg: PositiveKg | None = Field(default=None, description="shipped mass on the paper; default the whole batch")
    planned_method: Code
    received_kg: Kg
    acceptance: Literal["accepted", "partially_refused", "refused"] = "accepted"
    accepted_kg: Kg | None = None
    reason: str | None = Field(default=None, max_length=300)


class Signatories(Input):
    originator: str = Field(min_length=1, max_length=60, description="who signed for the originator (移出人)")
    hauler: str = Field(min_length=1, max_length=60, description="who signed for the hauler (承运人)")
    receiver: str = Field(min_length=1, max_length=60, description="who signed for the receiver (接受人)")


class BackEntryIn(Input):
    paper_number: str = Field(min_length=3, max_length=40, description="the number printed on the paper manifest")
    originator_id: DbId
    hauler_id: DbId
    vehicle_id: DbId
    receiver_id: DbId
    lines: list[PaperLine] = Field(min_length=1, max_length=200)
    signatories: Signatories
    picked_up_at: PastTime = Field(description="出厂时间 on the paper, with its timezone")
    delivered_at: PastTime | None = None
    received_at: PastTime = Field(description="the receiver's signature on the paper")
    returned_at: PastTime | None = Field(default=None, description="when refused mass came back, if it has")
    late_reason: str | None = Field(default=None, min_length=4, max_length=500,
                                    description="required when entered more than ten working days after receipt")
    remarks: str | None = Field(default=None, max_length=300)

    @field_validator("picked_up_at", "delivered_at", "received_at", "returned_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("give the time with its timezone, e.g. 2026-03-05T09:30:00+08:00")
        return v


def deadline(received_at: datetime):  # noqa: ANN201
    """The last day to back-enter: ten working days after the day the transfer was completed."""
    return add_working_days(local_day(received_at), BACK_ENTRY_WORKING_DAYS)


def _as(principal: Principal, *, unit_id: int, signatory: str, role: str) -> Principal:
    """The paper signatory, acting for its unit in the manifest's steps; the entering user stays on record."""
    return Principal(user_id=principal.user_id, username=f"{signatory}（纸质联单，{principal.username} 补录）",
                     role=role, unit_id=unit_id, token_id=principal.token_id, source_ip=principal.source_ip,
                     user_agent=principal.user_agent)


def back_enter(session: Session, *, principal: Principal, data: BackEntryIn) -> Manifest:
    """Enter a completed paper transfer with its original dates and signatories."""
    require_declarant(session, principal, data.originator_id)
    now = utcnow()
    times = [data.picked_up_at, *( [data.delivered_at] if data.delivered_at else []), data.received_at]
    if any(b < a for a, b in zip(times, times[1:], strict=False)):
        raise InvalidInput("picked_up_at ≤ delivered_at ≤ received_at", field="received_at")
    if data.received_at > now or (data.returned_at and data.returned_at > now):
        raise InvalidInput("a back-entered transfer lies in the past", field="received_at")
    if data.returned_at and data.returned_at < data.received_at:
        raise InvalidInput("returned_at is before received_at", field="returned_at")
    last_day = deadline(data.received_at)
    late = local_day(now) > last_day
    if late and not data.late_reason:
        raise InvalidInput(f"paper manifests are entered within {BACK_ENTRY_WORKING_DAYS} working days after the "
                           f"transfer (by {last_day}); give late_reason to enter it late", field="late_reason",
                           code="manifest.back_entry_late", details={"deadline": str(last_day)})
    canon = json.dumps(data.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    sha = hashlib.sha256(canon.encode()).hexdigest()
    dup = session.exec(select(SourceDocument).where(SourceDocument.unit_id == data.originator_id,
                                                    SourceDocument.kind == "back_entry",
                                                    SourceDocument.filename == data.paper_number)).first()
    if dup is not None:
        raise Conflict(f"paper manifest {data.paper_number} was entered already (manifest "
                       f"{dup.summary.get('manifest')})", code="manifest.back_entry_duplicate",
                       details={"document_id": dup.id})
    doc = SourceDocument(unit_id=data.originator_id, kind="back_entry", format="paper_manifest",
                         filename=data.paper_number, sha256=sha, rows=len(data.lines),
                         summary={"request": json.loads(canon)}, created_by=principal.user_id or None,
                         created_by_name=principal.username)
    session.add(doc)
    session.flush()
    source = {"kind": "back_entry", "document": {"id": doc.id, "paper_number": data.paper_number,
                                                 "signatories": data.signatories.model_dump(),
                                                 "entered_by": principal.username, "entered_at": now.isoformat(),
                                                 "late": late}}
    sig = data.signatories
    origin = _as(principal, unit_id=data.originator_id, signatory=sig.originator, role=principal.role)
    hauler = _as(principal, unit_id=data.hauler_id, signatory=sig.hauler, role="unit_admin")
    receiver = _as(principal, unit_id=data.receiver_id, signatory=sig.receiver, role="unit_admin")
    day = data.picked_up_at.astimezone(SHANGHAI).date()
    with journal.recorded_from(source):
        with clock_at(data.picked_up_at):
            m = manifests.create(session, principal=origin, data=manifests.ManifestCreate(
                originator_id=data.originator_id, hauler_id=data.hauler_id, vehicle_id=data.vehicle_id,
                receiver_id=data.receiver_id, planned_date=day,
                lines=[manifests.LineIn(batch_id=ln.batch_id, mass_kg=ln.mass_kg, planned_method=ln.planned_method)
                       for ln in data.lines],
                remarks=f"纸质联单 {data.paper_number} 补录" + (f"；{data.remarks}" if data.remarks else "")))
            m.flags = sorted({*m.flags, "back_entry", *(["back_entry_late"] if late else [])})
            session.add(m)
            session.flush()
            manifests.submit(session, principal=origin, m=m)
            digital = [session.get(Batch, ln.batch_id).digital_id for ln in data.lines]
            manifests.pickup(session, principal=hauler, m=m, data=manifests.PickupIn(scanned=digital))
        if data.delivered_at:
            with clock_at(data.delivered_at):
                manifests.deliver(session, principal=hauler, m=m, data=manifests.Where())
        with clock_at(data.received_at):
            manifests.receive(session, principal=receiver, m=m, data=manifests.ReceiveIn(lines=[
                manifests.ReceiveLineIn(batch_id=ln.batch_id, received_kg=ln.received_kg, acceptance=ln.acceptance,
                                        accepted_kg=ln.accepted_kg, reason=ln.reason) for ln in data.lines]))
        if data.returned_at and any(ln.acceptance != "accepted" for ln in data.lines):
            with clock_at(data.returned_at):
                if m.status == "refused":
                    manifests.start_return(session, principal=hauler, m=m, data=manifests.Where())
                manifests.confirm_return(session, principal=origin, m=m, data=manifests.Where())
    doc.summary = {**doc.summary, "manifest": m.number, "manifest_id": m.id}
    session.add(doc)
    session.flush()
    audit(session, principal, action="manifest.back_entry", entity="manifest", entity_id=m.id,
          detail={"paper_number": data.paper_number, "late": late, "late_reason": data.late_reason})
    return m
