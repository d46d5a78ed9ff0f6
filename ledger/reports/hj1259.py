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
from ledger.mass import g_to_kg
from ledger.registry.models import Facility, Unit
from ledger.reports.ledger_tables import TABLE_COLUMNS, TABLES, ledger_rows
from ledger.rollups.models import GENERAL_INDUSTRIAL
from ledger.rollups.query import cumulative, flow_sums
from ledger.rollups.scope import Scope, Window, plan, yyyymm

# The hazardous tables' columns are those of HJ 1259 appendix B (`ledger_tables.TABLE_COLUMNS`, filled there).
HAZARDOUS_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    key: (("表" + key + " " if key.startswith("B.") else "") + title, tuple(t for _, t in TABLE_COLUMNS[key]))
    for key, (title, _) in TABLES.items()}
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


def standard_tables(session: Session, *, unit_id: int, start: date, end: date) -> dict[str, StdTable]:
    """Every table of both ledgers for the Shanghai days start..end: hazardous waste in HJ 1259's tables, general
    industrial waste in the general ledger's per-batch table (each numbered from 1)."""
    rows = ledger_rows(session, unit_id=unit_id, start=start, end=end)
    tables = {k: StdTable(k, t, cols) for k, (t, cols) in HAZARDOUS_TABLES.items()}
    general = StdTable("GF.3", "一般工业固体废物批次记录表", GENERAL_COLUMNS)
    for r in rows:
        if r["table"] not in tables:
            continue
        if r["category"].startswith("HW"):
            t = tables[r["table"]]
            numbered = {**r, "seq": len(t.rows) + 1}
            t.rows.append([numbered[key] for key, _ in TABLE_COLUMNS[r["table"]]])
            continue
        general.rows.append([len(general.rows) + 1, STAGES.get(r["kind"], r["kind"]), r["record_code"],
                             r["occurred_at"], r["batch_code"], r["digital_id"], r["waste_name"], r["waste_code"],
                             r["category"], r["mass_kg"], r["unit"], r["facility"], r["method"],
                             r["counterparty"], r["manifest"], r["operator"], r["from_codes"]])
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

