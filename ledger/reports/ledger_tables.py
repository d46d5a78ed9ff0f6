"""HJ 1259 ledger tables from the journal: B.1 产生, B.2 入库, B.3 出库, B.4 自行利用/处置, B.5 委外, and the
receiver's incoming table. Every row is one record; the record's id and hash let a reader trace it back."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

from sqlmodel import Session, select

from ledger.batches import Batch
from ledger.journal import JournalRecord
from ledger.mass import g_to_kg
from ledger.registry.models import Facility, Method, Unit
from ledger.workdays import SHANGHAI, day_bounds_utc

TABLES = {
    "B.1": ("产生环节记录表", ("generated",)),
    "B.2": ("入库环节记录表", ("stored",)),
    "B.3": ("出库环节记录表", ("retrieved",)),
    "B.4": ("自行利用/处置环节记录表", ("used_in_house", "disposed_in_house")),
    "B.5": ("委外利用/处置环节记录表", ("shipped", "returned")),
    "IN": ("接收记录表（接受人）", ("received", "refused")),
}

COLUMNS = ("table", "record_id", "seq", "record_code", "from_codes", "occurred_at", "digital_id", "waste_code",
           "waste_name", "category", "form", "mass_kg", "facility", "method", "manifest", "counterparty",
           "shipped_kg", "received_kg", "accepted_kg", "actor", "hash")


def ledger_rows(session: Session, *, unit_id: int, start: date, end: date) -> list[dict]:
    """Every table row of a unit for the Shanghai days start..end (inclusive), in record order (masses as exact
    decimal strings, kg)."""
    t0, _ = day_bounds_utc(start)
    _, t1 = day_bounds_utc(end)
    records = session.exec(select(JournalRecord).where(JournalRecord.unit_id == unit_id,
                                                       JournalRecord.occurred_at >= t0, JournalRecord.occurred_at < t1,
                                                       JournalRecord.kind != "corrected")
                           .order_by(JournalRecord.seq)).all()
    batch_ids = {r.batch_id or r.source_batch_id for r in records}
    batches = {b.id: b for b in session.exec(select(Batch).where(Batch.id.in_(batch_ids)))} if batch_ids else {}
    facilities = {f.id: f for f in session.exec(select(Facility).where(Facility.unit_id == unit_id))}
    methods = {m.code: m for m in session.exec(select(Method))}
    units = {u.id: u.name for u in session.exec(select(Unit))}
    corrected = {r.corrects_id: r for r in session.exec(select(JournalRecord).where(
        JournalRecord.unit_id == unit_id, JournalRecord.kind == "corrected").order_by(JournalRecord.id))}
    table_of = {k: t for t, (_, kinds) in TABLES.items() for k in kinds}
    rows = []
    for r in records:
        b = batches.get(r.batch_id or r.source_batch_id)
        body = r.body or {}
        mass = int(corrected[r.id].body["to_g"]) if r.id in corrected else r.mass_g
        method = body.get("method") or body.get("planned_method")
        other = body.get("receiver_id") if r.kind == "shipped" else body.get("originator_id")
        rows.append({
            "table": table_of[r.kind], "record_id": r.id, "seq": r.seq, "record_code": r.record_code,
            "from_codes": " ".join(body.get("from_codes") or []),
            "occurred_at": r.occurred_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
            "digital_id": b.digital_id if b else "", "waste_code": b.waste_code if b else "",
            "waste_name": b.name if b else "", "category": b.category if b else "", "form": b.form if b else "",
            "mass_kg": str(-g_to_kg(mass) if r.kind == "returned" else g_to_kg(mass)),  # brought back: deducted
            "facility": facilities[r.facility_id].code if r.facility_id in facilities else "",
            "method": f"{method} {methods[method].name}" if method in methods else "",
            "manifest": body.get("manifest", ""), "counterparty": units.get(other, "") if other else "",
            "shipped_kg": str(g_to_kg(body["shipped_g"])) if "shipped_g" in body else "",
            "received_kg": str(g_to_kg(body["received_g"])) if "received_g" in body else "",
            "accepted_kg": str(g_to_kg(body["accepted_g"])) if "accepted_g" in body else "",
            "actor": r.actor_name, "hash": r.hash,
        })
    return rows


def to_csv(rows: list[dict]) -> str:
    """The rows as CSV (UTF-8 with BOM so spreadsheet programs read the Chinese)."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.DictWriter(buf, fieldnames=COLUMNS)
    w.writeheader()
    for row in rows:
        w.writerow({k: (str(v) if not isinstance(v, datetime) else v.isoformat()) for k, v in row.items()})
    return buf.getvalue()
