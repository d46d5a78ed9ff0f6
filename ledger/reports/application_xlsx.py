"""The application tables as the XLSX a person would send: one sheet per table, a merged title row, Chinese headers,
units as the forms state them (万吨, 万元, %), and a sheet listing the records behind each figure."""

from __future__ import annotations

import io
from datetime import date

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from ledger.reports.application import Application, Table

FORMATS = {"wan_t": "0.000000", "wan_yuan": "#,##0.00", "percent": "0.00", "intensity_t": "0.000000",
           "intensity_wan_t": "0.0000000000", "year": "0"}
THIN = Side(style="thin", color="999999")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEAD = PatternFill("solid", fgColor="DDE6F0")
SECTION = PatternFill("solid", fgColor="F2F2F2")


def _sheet(wb: Workbook, t: Table, subtitle: str) -> None:
    ws = wb.create_sheet(t.sheet[:31])
    width = len(t.columns)
    ws.append([t.title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws.cell(1, 1).font = Font(bold=True, size=14)
    ws.cell(1, 1).alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[1].height = 28
    ws.append([subtitle])
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
    ws.cell(2, 1).alignment = Alignment(horizontal="right")
    ws.append(t.columns)
    for col in range(1, width + 1):
        c = ws.cell(3, col)
        c.font, c.fill, c.border = Font(bold=True), HEAD, BOX
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    ws.row_dimensions[3].height = 36
    for style, cells in t.rows:
        r = ws.max_row + 1
        if style == "section":
            ws.cell(r, 1, cells[0].value)
            ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=width)
            ws.cell(r, 1).font, ws.cell(r, 1).fill = Font(bold=True), SECTION
            continue
        for i, cell in enumerate(cells, start=1):
            c = ws.cell(r, i, cell.value)
            c.border = BOX
            if cell.fmt in FORMATS and cell.value is not None:
                c.number_format = FORMATS[cell.fmt]
                c.alignment = Alignment(horizontal="right")
            if i == 1 and style == "sub":
                c.alignment = Alignment(indent=2)
        if len(cells) == 2 and width > 2:  # a label and one text value (基本资料): spread the value over the years
            ws.merge_cells(start_row=r, start_column=2, end_row=r, end_column=width)
    r = ws.max_row + 2
    for note in t.notes:
        ws.cell(r, 1, f"注：{note}")
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=width)
        ws.cell(r, 1).alignment = Alignment(wrap_text=True)
        ws.row_dimensions[r].height = 30
        r += 1
    ws.column_dimensions["A"].width = 46
    for col in range(2, width + 1):
        ws.column_dimensions[get_column_letter(col)].width = 22
    ws.freeze_panes = "B4"


def render(app: Application, *, public_url: str, today: date) -> bytes:
    """The workbook as bytes."""
    wb = Workbook()
    wb.remove(wb.active)
    subtitle = f"填报单位：{app.scope.name}    数据来源：固体废物台账（{today:%Y年%m月%d日}导出）"
    for t in app.tables:
        _sheet(wb, t, subtitle)
    ws = wb.create_sheet("数据来源")
    head = ["表", "项目", "年份", "口径", "废物类别", "方式", "数值（万吨）", "其中导入历史（万吨）",
            "其中补录联单（万吨）", "记录清单（CSV）"]
    ws.append(["数据来源：每个数据所依据的台账记录"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(head))
    ws.cell(1, 1).font = Font(bold=True, size=14)
    ws.append(head)
    for col in range(1, len(head) + 1):
        c = ws.cell(2, col)
        c.font, c.fill, c.border = Font(bold=True), HEAD, BOX
    kinds = {"hazardous": "危险废物", "general": "一般工业固体废物", "all": "工业固体废物"}
    base = public_url.rstrip("/")
    for s in app.sources:
        url = f"{base}{s['records_url']}&format=csv"
        row = [s["table"], s["row"] + (f"（{s['label']}）" if s.get("label") else ""), s["year"], kinds[s["kind"]],
               s["category"] or "", s["method"] or "", _wan(s["g"]), _wan(s["imported_g"]),
               _wan(s["back_entered_g"]), url]
        ws.append(row)
        r = ws.max_row
        for col in (7, 8, 9):
            ws.cell(r, col).number_format = FORMATS["wan_t"]
        ws.cell(r, 10).hyperlink = url
        ws.cell(r, 10).font = Font(color="0563C1", underline="single")
    for col, w in zip("ABCDEFGHIJ", (22, 40, 8, 18, 10, 8, 16, 16, 16, 90), strict=True):
        ws.column_dimensions[col].width = w
    ws.freeze_panes = "A3"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _wan(g: int):  # noqa: ANN202
    from ledger.reports.indicators import wan_t

    return wan_t(g)
