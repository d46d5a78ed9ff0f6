"""The ledgers as the standards lay them out, with their Chinese column names.

Hazardous waste: HJ 1259-2022 appendix B, tables B.1 产生, B.2 入库, B.3 出库, B.4 自行利用/处置, B.5 委外利用/
处置, plus the receiver's 接收记录表. General industrial solid waste (一般工业固体废物管理台账制定指南（试行）):
基本信息表, 月度流向汇总表 (from the period balances) and 批次记录表.

Rows come from `ledger.reports.ledger_tables.ledger_rows` (one row per record, corrections applied); this module
only adds what the standard's columns need (container, facility type, catalogue name, licence, 去向) and names
the columns. 容器/包装编码 is the label's HJ 1276 digital ID; 计量单位 is kg.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from sqlmodel import Session, select

from ledger.batches import Batch
from ledger.journal import JournalRecord
from ledger.mass import g_to_kg
from ledger.registry.models import Facility, Permit, Unit, WasteCode
from ledger.reports.ledger_tables import ledger_rows
from ledger.rollups.models import GENERAL_INDUSTRIAL
from ledger.rollups.query import cumulative, flow_sums
from ledger.rollups.scope import Scope, Window, plan, yyyymm

NAME = ("危险废物名称（行业俗称/单位内部名称）", "危险废物名称（国家危险废物名录名称）")
CONTAINER = ("容器/包装编码", "容器/包装类型", "容器/包装数量")
KIND = ("危险废物类别", "危险废物代码")
HAZARDOUS_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "B.1": ("表B.1 危险废物产生环节记录表", (
        "序号", "产生批次编码", "产生时间", *NAME, *KIND, "产生量", "计量单位", *CONTAINER, "产生危险废物设施编码",
        "产生部门经办人", "去向")),
    "B.2": ("表B.2 危险废物入库环节记录表", (
        "序号", "入库批次编码", "入库时间", *CONTAINER, *NAME, *KIND, "入库量", "计量单位", "贮存设施编码",
        "贮存设施类型", "运送部门经办人", "贮存部门经办人", "产生批次编码")),
    "B.3": ("表B.3 危险废物出库环节记录表", (
        "序号", "出库批次编码", "出库时间", *CONTAINER, *NAME, *KIND, "出库量", "计量单位", "贮存设施编码",
        "贮存设施类型", "出库部门经办人", "运送部门经办人", "入库批次编码", "去向")),
    "B.4": ("表B.4 危险废物自行利用/处置环节记录表", (
        "序号", "自行利用/处置批次编码", "自行利用/处置时间", *CONTAINER, *NAME, *KIND, "自行利用/处置量", "计量单位",
        "自行利用/处置设施编码", "自行利用/处置方式", "自行利用/处置完毕时间", "自行利用/处置部门经办人",
        "产生批次编码/出库批次编码")),
    "B.5": ("表B.5 危险废物委外利用/处置记录表", (
        "序号", "委外利用/处置批次编码", "出厂时间", *CONTAINER, *NAME, *KIND, "委外利用/处置量", "计量单位",
        "利用/处置方式", "接收单位类型", "危险废物经营许可证持有单位（单位名称）",
        "危险废物经营许可证持有单位（许可证编码）", "危险废物利用处置环节豁免管理单位（单位名称）",
        "中华人民共和国境外的危险废物利用处置单位（单位名称）", "出口核准通知单编号", "产生批次编码/出库批次编码",
        "联单编号")),
    "IN": ("接收记录表（接受人）", (
        "序号", "接收批次编码", "接收时间", "容器/包装编码", *NAME, *KIND, "发出量", "接收量", "接受量", "拒收量",
        "计量单位", "移出单位", "联单编号", "经办人")),
}
GENERAL_COLUMNS = ("序号", "环节", "记录编码", "时间", "产生批次编码", "数字识别码", "固体废物名称", "固体废物代码",
                   "固体废物类别", "数量", "计量单位", "设施编码", "利用/处置方式", "接收/移出单位", "联单编号", "经办人",
                   "上一环节记录编码")
STAGES = {"generated": "产生", "stored": "入库", "retrieved": "出库", "used_in_house": "自行利用",
          "disposed_in_house": "自行处置", "shipped": "委托利用/处置", "returned": "退回", "received": "接收",
          "refused": "拒收"}
SUMMARY_COLUMNS = ("月份", "固体废物名称", "固体废物代码", "固体废物类别", "月初贮存量", "产生量", "自行利用量", "自行处置量",
                   "委托利用量", "委托处置量", "月末贮存量", "计量单位")


@dataclass
class StdTable:
    key: str
    title: str
    columns: tuple[str, ...]
    rows: list[list] = field(default_factory=list)


def _extras(session: Session, rows: list[dict]) -> tuple[dict, dict, dict, dict]:
    ids = [r["record_id"] for r in rows]
    recs = {r.id: r for r in session.exec(select(JournalRecord).where(JournalRecord.id.in_(ids)))} if ids else {}
    bids = {r.batch_id or r.source_batch_id for r in recs.values()}
    bmap = {b.id: b for b in session.exec(select(Batch).where(Batch.id.in_(bids)))} if bids else {}
    fids = {r.facility_id for r in recs.values() if r.facility_id} | {b.facility_id for b in bmap.values()}
    fmap = {f.id: f for f in session.exec(select(Facility).where(Facility.id.in_(fids)))} if fids else {}
    codes = {b.waste_code for b in bmap.values()}
    names = {w.code: w.description for w in session.exec(select(WasteCode).where(WasteCode.code.in_(codes)))}
    return recs, bmap, fmap, names


def _licence(session: Session, unit_id: int | None, code: str, on: date) -> str:
    if not unit_id:
        return ""
    cat = "HW" + code[-2:]
    for p in session.exec(select(Permit).where(Permit.unit_id == unit_id, Permit.kind == "operating_licence",
                                               Permit.valid_from <= on, Permit.valid_to >= on)):
        if code in p.waste_codes or cat in p.waste_codes:
            return p.number
    return ""


def _next_step(session: Session, batch_ids: list[int]) -> dict[int, str]:
    """去向 of each generated batch: its next record (stored → 贮存, used → 自行利用, shipped → 委外 …)."""
    out: dict[int, str] = {}
    if not batch_ids:
        return out
    q = (select(JournalRecord.batch_id, JournalRecord.kind, JournalRecord.facility_id)
         .where(JournalRecord.batch_id.in_(batch_ids), JournalRecord.kind.not_in(("generated", "corrected")))
         .order_by(JournalRecord.id))
    for bid, kind, _fid in session.exec(q):
        out.setdefault(bid, {"stored": "贮存", "used_in_house": "自行利用", "disposed_in_house": "自行处置",
                             "shipped": "委外利用/处置", "retrieved": "出库"}.get(kind, kind))
    return out


def standard_tables(session: Session, *, unit_id: int, start: date, end: date) -> dict[str, StdTable]:
    """Every table of both ledgers for the Shanghai days start..end."""
    rows = ledger_rows(session, unit_id=unit_id, start=start, end=end)
    recs, bmap, fmap, names = _extras(session, rows)
    units = {u.id: u.name for u in session.exec(select(Unit))}
    gen_ids = [recs[r["record_id"]].batch_id for r in rows if r["table"] == "B.1"]
    dest = _next_step(session, gen_ids)
    tables = {k: StdTable(k, t, cols) for k, (t, cols) in HAZARDOUS_TABLES.items()}
    general = StdTable("GF.3", "一般工业固体废物批次记录表", GENERAL_COLUMNS)
    for r in rows:
        rec = recs[r["record_id"]]
        b = bmap.get(rec.batch_id or rec.source_batch_id)
        if b is None:
            continue
        body = rec.body or {}
        fac = fmap.get(rec.facility_id)
        gen_fac = fmap.get(b.facility_id)
        container = [b.digital_id, b.container_type, b.container_count]
        name = [b.name, names.get(b.waste_code, "")]
        kind = [b.category, b.waste_code]
        links = r["from_codes"]
        when = r["occurred_at"]
        mass = r["mass_kg"]
        if not b.hazardous:
            party = units.get(body.get("receiver_id") or body.get("originator_id"), "") or body.get(
                "receiver_name", "")
            general.rows.append([len(general.rows) + 1, STAGES.get(rec.kind, rec.kind), r["record_code"], when,
                                 b.batch_code, b.digital_id, b.name, b.waste_code, b.category, mass, "kg",
                                 fac.code if fac else "", r["method"], party, r["manifest"], r["actor"], links])
            continue
        t = tables[r["table"]]
        n = len(t.rows) + 1
        if r["table"] == "B.1":
            t.rows.append([n, r["record_code"], when, *name, *kind, mass, "kg", *container,
                           gen_fac.code if gen_fac else "", r["actor"], dest.get(b.id, "")])
        elif r["table"] == "B.2":
            t.rows.append([n, r["record_code"], when, *container, *name, *kind, mass, "kg", fac.code if fac else "",
                           fac.storage_type if fac else "", "", r["actor"], links or b.batch_code])
        elif r["table"] == "B.3":
            purpose = {"in_house": "自行利用/处置", "transfer": "委外利用/处置"}.get(body.get("purpose"), "")
            t.rows.append([n, r["record_code"], when, *container, *name, *kind, mass, "kg", fac.code if fac else "",
                           fac.storage_type if fac else "", r["actor"], "", links, purpose])
        elif r["table"] == "B.4":
            done = body.get("completed_at", "")
            t.rows.append([n, r["record_code"], when, *container, *name, *kind, mass, "kg", fac.code if fac else "",
                           r["method"], str(done)[:16].replace("T", " "), r["actor"], links or b.batch_code])
        elif r["table"] == "B.5":
            receiver = body.get("receiver_id")
            licence = _licence(session, receiver, b.waste_code, rec.occurred_at.date())
            rtype = "危险废物经营许可证持有单位" if licence else ("危险废物利用处置环节豁免管理单位" if receiver else "")
            t.rows.append([n, r["record_code"], when, *container, *name, *kind, mass, "kg", r["method"], rtype,
                           r["counterparty"] if licence else "", licence, "" if licence else r["counterparty"], "",
                           "", links or b.batch_code, r["manifest"]])
        elif r["table"] == "IN":
            refused = str(g_to_kg(int(body.get("refused_g", 0))))
            t.rows.append([n, r["record_code"], when, b.digital_id, *name, *kind, r["shipped_kg"],
                           r["received_kg"], r["accepted_kg"], refused, "kg", r["counterparty"], r["manifest"],
                           r["actor"]])
    tables["GF.1"] = basic_information(session, unit_id=unit_id, start=start, end=end)
    tables["GF.2"] = monthly_summary(session, unit_id=unit_id, start=start, end=end)
    tables["GF.3"] = general
    return tables


def basic_information(session: Session, *, unit_id: int, start: date, end: date) -> StdTable:
    unit = session.get(Unit, unit_id)
    t = StdTable("GF.1", "一般工业固体废物基本信息表", ("项目", "内容", "说明"))
    for label, value in (("单位名称", unit.name), ("统一社会信用代码", unit.credit_code),
                         ("行业类别", unit.industry_code or ""), ("生产经营场所地址", unit.address or ""),
                         ("联系人 / 电话", f"{unit.contact or ''} {unit.phone or ''}".strip()),
                         ("台账期间", f"{start} 至 {end}")):
        t.rows.append([label, value, ""])
    kinds = {"generation": "产生设施", "storage": "贮存设施", "utilisation": "自行利用设施", "disposal": "自行处置设施"}
    for f in session.exec(select(Facility).where(Facility.unit_id == unit_id).order_by(Facility.kind, Facility.code)):
        note = f.storage_type or ""
        if f.storage_capacity_g:
            note += f" 容量 {g_to_kg(f.storage_capacity_g) / 1000} t"
        if f.methods:
            note += " 方式 " + "、".join(f.methods)
        t.rows.append([kinds.get(f.kind, f.kind), f"{f.code} {f.name}", note.strip()])
    codes = session.exec(select(Batch.waste_code, Batch.name).where(
        Batch.unit_id == unit_id, Batch.parent_id.is_(None), Batch.hazardous.is_(False)).distinct()).all()
    for code, name in sorted(set(codes)):
        t.rows.append(["固体废物种类", f"{code} {name}", f"类别 {code.rsplit('-', 1)[-1]}"])
    return t


def monthly_summary(session: Session, *, unit_id: int, start: date, end: date) -> StdTable:
    """General industrial waste per month and code, from the period balances (net of returns)."""
    t = StdTable("GF.2", "一般工业固体废物月度流向汇总表", SUMMARY_COLUMNS)
    unit = session.get(Unit, unit_id)
    scope = Scope("unit", unit_id, unit.name, unit.region_code, [Window(unit_id, date(1900, 1, 1),
                                                                         date(9999, 12, 31))])
    first, last = yyyymm(start), yyyymm(end)
    p = plan(scope, first, last)
    sums = flow_sums(session, p, by=("month", "kind", "waste_code"))
    months = sorted({k[0] for k in sums})
    prev = [(m - 89) if m % 100 == 1 else m - 1 for m in months]
    cum = cumulative(session, sorted(set(months) | set(prev)) or [first], scope=scope, per_unit=False,
                     by=("kind", "waste_code"))
    names = dict(session.exec(select(Batch.waste_code, Batch.name).where(Batch.unit_id == unit_id)).all())
    per: dict[tuple[int, str], dict[str, int]] = {}
    for (month, wkind, code, _cp, _rec), cols in sums.items():
        if wkind != GENERAL_INDUSTRIAL:
            continue
        acc = per.setdefault((month, code), dict.fromkeys(cols, 0))
        for c, v in cols.items():
            acc[c] += v
    for (month, code), c in sorted(per.items()):
        pm = (month - 89) if month % 100 == 1 else month - 1
        flows = (c["generated_g"], c["used_g"], c["disposed_g"], c["sent_util_g"], c["sent_disp_g"],
                 c["returned_util_g"], c["returned_disp_g"])
        if not any(flows) and not cum.get((GENERAL_INDUSTRIAL, code), "own", month):
            continue  # a receiver's rows: nothing of its own generation moved
        t.rows.append([f"{month // 100}-{month % 100:02d}", names.get(code, ""), code, code.rsplit("-", 1)[-1],
                       g_to_kg(cum.get((GENERAL_INDUSTRIAL, code), "own", pm)), g_to_kg(c["generated_g"]),
                       g_to_kg(c["used_g"]), g_to_kg(c["disposed_g"]),
                       g_to_kg(c["sent_util_g"] - c["returned_util_g"]),
                       g_to_kg(c["sent_disp_g"] - c["returned_disp_g"]),
                       g_to_kg(cum.get((GENERAL_INDUSTRIAL, code), "own", month)), "kg"])
    return t


def to_json(tables: dict[str, StdTable]) -> dict:
    return {k: {"title": t.title, "columns": list(t.columns), "rows": t.rows} for k, t in tables.items()}


def to_csv(table: StdTable) -> str:
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf)
    w.writerow(table.columns)
    for row in table.rows:
        w.writerow(["" if v is None else str(v) for v in row])
    return buf.getvalue()


THIN = Side(style="thin", color="999999")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)


def to_xlsx(tables: dict[str, StdTable], *, unit_name: str, start: date, end: date) -> bytes:
    """One sheet per table: a merged title row, the standard's column names, the rows."""
    wb = Workbook()
    wb.remove(wb.active)
    sheet_names = {"B.1": "B.1 产生", "B.2": "B.2 入库", "B.3": "B.3 出库", "B.4": "B.4 自行利用处置",
                   "B.5": "B.5 委外利用处置", "IN": "接收记录", "GF.1": "一般固废 基本信息",
                   "GF.2": "一般固废 月度流向汇总", "GF.3": "一般固废 批次记录"}
    for key, t in tables.items():
        ws = wb.create_sheet(sheet_names.get(key, key)[:31])
        ws.append([f"{unit_name} {t.title}（{start} 至 {end}）"])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(t.columns))
        ws.cell(1, 1).font = Font(bold=True, size=13)
        ws.cell(1, 1).alignment = Alignment(horizontal="center")
        ws.append(list(t.columns))
        for col in range(1, len(t.columns) + 1):
            c = ws.cell(2, col)
            c.font, c.border = Font(bold=True), BOX
            c.fill = PatternFill("solid", fgColor="DDE6F0")
            c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            ws.column_dimensions[get_column_letter(col)].width = 16
        ws.row_dimensions[2].height = 48
        for row in t.rows:
            ws.append([v if not isinstance(v, list) else " ".join(map(str, v)) for v in row])
            for col in range(1, len(row) + 1):
                ws.cell(ws.max_row, col).border = BOX
        ws.freeze_panes = "A3"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()

