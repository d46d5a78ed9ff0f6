"""HJ 1259 ledger tables from the journal: B.1 产生, B.2 入库, B.3 出库, B.4 自行利用/处置, B.5 委外, and the
receiver's incoming table. Every row is one record; the record's id and hash let a reader trace it back.

Each table lists the columns of HJ 1259 appendix B in the standard's order (`TABLE_COLUMNS`: key and Chinese
title), every one filled from the records, the batches they concern and the manifests they moved on."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

from sqlmodel import Session, select

from ledger.accounts import User
from ledger.batches import Batch
from ledger.journal import JournalRecord
from ledger.mass import g_to_kg
from ledger.registry.assets import licence_covers
from ledger.registry.models import Facility, Method, Permit, Unit, WasteCode
from ledger.workdays import SHANGHAI, day_bounds_utc, local_day

TABLES = {
    "B.1": ("危险废物产生环节记录表", ("generated",)),
    "B.2": ("危险废物入库环节记录表", ("stored",)),
    "B.3": ("危险废物出库环节记录表", ("retrieved",)),
    "B.4": ("危险废物自行利用/处置环节记录表", ("used_in_house", "disposed_in_house")),
    "B.5": ("危险废物委外利用/处置记录表", ("shipped", "returned")),
    "IN": ("接收记录表（接受人）", ("received", "refused")),
}

_CONTAINER = [("container_code", "容器/包装编码"), ("container_type", "容器/包装类型"),
              ("container_count", "容器/包装数量")]
_WASTE = [("waste_name", "危险废物名称（行业俗称/单位内部名称）"), ("catalogue_name", "危险废物名称（国家危险废物名录名称）"),
          ("category", "危险废物类别"), ("waste_code", "危险废物代码")]
# The columns of each table in HJ 1259 appendix B's order (the two-level headings flattened as 名称（子项）); the
# manifest and its masses in B.5 are ours, for tracing (the JSON rows also carry each record's id and hash).
TABLE_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "B.1": [("seq", "序号"), ("record_code", "产生批次编码"), ("occurred_at", "产生时间"), *_WASTE,
            ("mass_kg", "产生量"), ("unit", "计量单位"), *_CONTAINER, ("facility", "产生危险废物设施编码"),
            ("operator", "产生部门经办人"), ("destination", "去向")],
    "B.2": [("seq", "序号"), ("record_code", "入库批次编码"), ("occurred_at", "入库时间"), *_CONTAINER, *_WASTE,
            ("mass_kg", "入库量"), ("unit", "计量单位"), ("facility", "贮存设施编码"), ("facility_type", "贮存设施类型"),
            ("carrier", "运送部门经办人"), ("operator", "贮存部门经办人"), ("from_codes", "产生批次编码")],
    "B.3": [("seq", "序号"), ("record_code", "出库批次编码"), ("occurred_at", "出库时间"), *_CONTAINER, *_WASTE,
            ("mass_kg", "出库量"), ("unit", "计量单位"), ("facility", "贮存设施编码"), ("facility_type", "贮存设施类型"),
            ("operator", "出库部门经办人"), ("carrier", "运送部门经办人"), ("from_codes", "入库批次编码"),
            ("destination", "去向")],
    "B.4": [("seq", "序号"), ("record_code", "自行利用/处置批次编码"), ("occurred_at", "自行利用/处置时间"), *_CONTAINER,
            *_WASTE, ("mass_kg", "自行利用/处置量"), ("unit", "计量单位"), ("facility", "自行利用/处置设施编码"),
            ("method", "自行利用/处置方式"), ("completed_at", "自行利用/处置完毕时间"),
            ("operator", "自行利用/处置部门经办人"), ("from_codes", "产生批次编码/出库批次编码")],
    "B.5": [("seq", "序号"), ("record_code", "委外利用/处置批次编码"), ("occurred_at", "出厂时间"), *_CONTAINER, *_WASTE,
            ("mass_kg", "委外利用/处置量"), ("unit", "计量单位"), ("method", "利用/处置方式"),
            ("receiver_type", "接收单位类型"), ("receiver_name", "危险废物经营许可证持有单位（单位名称）"),
            ("licence_no", "危险废物经营许可证持有单位（许可证编码）"),
            ("exempt_unit", "危险废物利用处置环节豁免管理单位（单位名称）"),
            ("foreign_unit", "中华人民共和国境外的危险废物利用处置单位（单位名称）"), ("export_notice_no", "出口核准通知单编号"),
            ("from_codes", "产生批次编码/出库批次编码"), ("manifest", "联单编号"), ("shipped_kg", "发出量"),
            ("received_kg", "接收量"), ("accepted_kg", "接受量")],
    "IN": [("seq", "序号"), ("record_code", "接收批次编码"), ("occurred_at", "接收时间"), ("manifest", "联单编号"),
           ("counterparty", "移出单位"), *_CONTAINER, *_WASTE, ("shipped_kg", "发出量"), ("received_kg", "接收量"),
           ("accepted_kg", "接受量"), ("refused_kg", "拒收量"), ("unit", "计量单位"), ("acceptance", "接收结论"),
           ("reason", "原因"), ("method", "计划利用/处置方式"), ("facility", "接收去向设施编码"),
           ("carrier", "运送部门经办人"), ("operator", "接收经办人")],
}

COLUMNS = ("table", "kind", "record_id", "seq", "record_code", "batch_code", "from_codes", "occurred_at", "digital_id", "container_code",
           "container_type", "container_count", "waste_code", "waste_name", "catalogue_name", "category", "form",
           "mass_kg", "unit", "facility", "facility_type", "method", "completed_at", "destination", "manifest",
           "counterparty", "receiver_type", "receiver_name", "licence_no", "exempt_unit", "foreign_unit",
           "export_notice_no", "shipped_kg", "received_kg", "accepted_kg", "refused_kg", "acceptance", "reason",
           "operator", "carrier", "actor", "hash")

ACCEPTANCE_NAMES = {"accepted": "接受", "partially_refused": "部分拒收", "refused": "拒收"}
PURPOSE_NAMES = {"in_house": "自行利用/处置", "transfer": "委外利用/处置", "other": "其他"}
RECEIVER_TYPES = {True: "危险废物经营许可证持有单位", False: "一般工业固体废物利用处置单位"}


def _local(value: datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _kg(g: int | None) -> str:
    return "" if g is None else str(g_to_kg(int(g)))


def ledger_rows(session: Session, *, unit_id: int, start: date, end: date) -> list[dict]:
    """Every table row of a unit for the Shanghai days start..end (inclusive), in record order (masses as exact
    decimal strings, kg)."""
    from ledger.manifests import ManifestLine

    t0, _ = day_bounds_utc(start)
    _, t1 = day_bounds_utc(end)
    records = session.exec(select(JournalRecord).where(JournalRecord.unit_id == unit_id,
                                                       JournalRecord.occurred_at >= t0, JournalRecord.occurred_at < t1,
                                                       # only kinds with an HJ 1259 table: not `corrected`
                                                       # (applied below), nor `combined` (a lot: its 出库/入库 are)
                                                       JournalRecord.kind.in_([k for _, ks in TABLES.values()
                                                                               for k in ks]))
                           .order_by(JournalRecord.seq)).all()
    batch_ids = {r.batch_id or r.source_batch_id for r in records}
    batches = {b.id: b for b in session.exec(select(Batch).where(Batch.id.in_(batch_ids)))} if batch_ids else {}
    codes = {b.waste_code for b in batches.values()}
    catalogue = {c.code: c for c in session.exec(select(WasteCode).where(WasteCode.code.in_(codes)))} if codes else {}
    facilities = {f.id: f for f in session.exec(select(Facility).where(Facility.unit_id == unit_id))}
    methods = {m.code: m for m in session.exec(select(Method))}
    units = {u.id: u.name for u in session.exec(select(Unit))}
    corrected = {r.corrects_id: r for r in session.exec(select(JournalRecord).where(
        JournalRecord.unit_id == unit_id, JournalRecord.kind == "corrected").order_by(JournalRecord.id))}
    manifest_ids = {r.manifest_id for r in records if r.manifest_id}
    lines = {(ln.manifest_id, ln.batch_id): ln for ln in session.exec(
        select(ManifestLine).where(ManifestLine.manifest_id.in_(manifest_ids)))} if manifest_ids else {}
    # 去向 of a generation: what the next record of the same holding did with it
    following: dict[int, JournalRecord] = {}
    for r in session.exec(select(JournalRecord).where(JournalRecord.batch_id.in_(batch_ids),
                                                      JournalRecord.unit_id == unit_id,
                                                      JournalRecord.kind.in_(("stored", "shipped", "used_in_house",
                                                                              "disposed_in_house")))
                          .order_by(JournalRecord.seq)) if batch_ids else ():
        following.setdefault(r.batch_id, r)
    receivers = {r.body.get("receiver_id") for r in records if r.kind in ("shipped", "returned")} - {None}
    licences = list(session.exec(select(Permit).where(Permit.unit_id.in_(receivers),
                                                      Permit.kind == "operating_licence"))) if receivers else []
    users = {}
    table_of = {k: t for t, (_, kinds) in TABLES.items() for k in kinds}

    def method_text(code: str | None) -> str:
        return f"{code} {methods[code].name}" if code in methods else (code or "")

    def licence_no(receiver_id: int, code: str, on: date) -> str:
        for p in licences:
            if p.unit_id == receiver_id and p.valid_from <= on <= p.valid_to and licence_covers(p, code):
                return p.number
        return ""

    def person(user_id: int | None, fallback: str) -> str:
        if user_id and user_id not in users:
            users[user_id] = session.get(User, user_id)
        u = users.get(user_id)
        return u.display_name if u is not None else fallback

    rows = []
    for r in records:
        b = batches.get(r.batch_id or r.source_batch_id)
        body = r.body or {}
        entry = catalogue.get(b.waste_code) if b else None
        mass = int(corrected[r.id].body["to_g"]) if r.id in corrected else r.mass_g
        fac = facilities.get(r.facility_id)
        ln = lines.get((r.manifest_id, r.batch_id or r.source_batch_id)) if r.manifest_id else None
        method = body.get("method") or body.get("planned_method")
        receiver_id = body.get("receiver_id") if r.kind in ("shipped", "returned") else None
        row = {
            "table": table_of[r.kind], "kind": r.kind, "record_id": r.id, "seq": r.seq, "record_code": r.record_code,
            "batch_code": b.batch_code if b else "",
            "from_codes": " ".join(body.get("from_codes") or []), "occurred_at": _local(r.occurred_at),
            "digital_id": b.digital_id if b else "", "container_code": b.digital_id if b else "",
            "container_type": b.container_type if b else "", "container_count": b.container_count if b else "",
            "waste_code": b.waste_code if b else "", "waste_name": b.name if b else "",
            "catalogue_name": entry.description if entry else ("一般工业固体废物" if b and not b.hazardous else ""),
            "category": b.category if b else "", "form": b.form if b else "",
            "mass_kg": str(-g_to_kg(mass) if r.kind == "returned" else g_to_kg(mass)),  # brought back: deducted
            "unit": "kg", "facility": fac.code if fac else "", "facility_type": (fac.storage_type or "") if fac else "",
            "method": method_text(method), "completed_at": _local(body.get("completed_at")),
            "destination": "", "manifest": body.get("manifest", ""), "counterparty": "",
            "receiver_type": "", "receiver_name": "", "licence_no": "", "exempt_unit": "", "foreign_unit": "",
            "export_notice_no": "", "shipped_kg": "", "received_kg": "", "accepted_kg": "", "refused_kg": "",
            "acceptance": "", "reason": "", "operator": r.actor_name, "carrier": body.get("carrier") or "",
            "actor": person(r.actor_id, r.actor_name), "hash": r.hash,
        }
        if r.kind == "generated":
            row["from_codes"] = ""
            nxt = following.get(r.batch_id)
            if nxt is not None and nxt.kind == "stored":
                f = facilities.get(nxt.facility_id)
                row["destination"] = f"入库 {f.code}" if f else "入库"
            elif nxt is not None and nxt.kind == "shipped":
                row["destination"] = f"委外 {units.get(nxt.body.get('receiver_id'), '')}".strip()
            elif nxt is not None:
                row["destination"] = "自行利用/处置"
        elif r.kind == "stored":
            if not row["carrier"] and b is not None and b.parent_id is None:
                row["carrier"] = b.operator  # brought from the generation point by whoever weighed it
        elif r.kind == "retrieved":
            purpose = body.get("purpose", "")
            row["destination"] = PURPOSE_NAMES.get(purpose, purpose)
            if body.get("receiver_id"):
                row["destination"] += f" {units.get(body['receiver_id'], '')}"
        elif r.kind in ("shipped", "returned"):
            hazardous = bool(b and b.hazardous)
            row["counterparty"] = row["receiver_name"] = units.get(receiver_id, "") if receiver_id else ""
            row["receiver_type"] = RECEIVER_TYPES[hazardous]
            if hazardous and receiver_id and b:
                row["licence_no"] = licence_no(receiver_id, b.waste_code, local_day(r.occurred_at))
            if not row["from_codes"] and b is not None:
                row["from_codes"] = b.batch_code
            if ln is not None:
                row["shipped_kg"] = _kg(ln.mass_g)
                row["received_kg"], row["accepted_kg"] = _kg(ln.received_g), _kg(ln.accepted_g)
                row["refused_kg"] = _kg(ln.refused_g)
            if r.kind == "returned":
                row["reason"] = body.get("reason") or ""
        elif r.kind in ("received", "refused"):
            row["counterparty"] = units.get(body.get("originator_id"), "")
            row["shipped_kg"] = _kg(body.get("shipped_g"))
            row["received_kg"], row["accepted_kg"] = _kg(body.get("received_g")), _kg(body.get("accepted_g"))
            row["refused_kg"] = _kg(body.get("refused_g"))
            row["acceptance"] = ACCEPTANCE_NAMES.get(body.get("acceptance"), body.get("acceptance") or "")
            row["reason"] = body.get("reason") or ""
        rows.append(row)
    return rows


def to_csv(rows: list[dict]) -> str:
    """Every table's rows as one CSV keyed as in the JSON (UTF-8 with BOM so spreadsheet programs read the Chinese);
    `ledger.reports.hj1259` gives each table with the standard's Chinese column titles."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.DictWriter(buf, fieldnames=COLUMNS)
    w.writeheader()
    for row in rows:
        w.writerow({k: str(row[k]) for k in COLUMNS})
    return buf.getvalue()
