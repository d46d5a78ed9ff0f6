"""The printable transfer manifest (危险废物转移联单 / 一般工业固体废物转移联单), A4 portrait.

Page 1 starts with the title, the 14-digit manifest number in large type, its status, planned date and
cross-province approval, and the manifest's QR code in the top right corner; then the three parties side by
side (移出人 / 承运人 with permit, vehicle and driver / 接受人 with its operating licence), the waste lines with
totals, the signatures (times in Asia/Shanghai) and the remarks. A line whose received mass differs from the
shipped mass by more than DIFFERENCE_SHARE of it or DIFFERENCE_KG is shaded and marked ※ with the difference;
a line processed with a method other than the planned one shows both ("计划 R9 / 实际 D10"). Tables break
across pages with their heading row repeated; every page carries the number and "第 n 页 / 共 N 页" in its
footer. Text is real, embedded CJK text (searchable); the QR code is an image.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

from fpdf import FPDF, FontFace
from fpdf.enums import XPos, YPos

from . import fonts
from .canvas import width_mm, wrap
from .render import HAZARD_NAMES, format_kg, normalize_hazard
from .vector import FAMILY, add_cjk_fonts, draw_qr, missing_glyphs

try:
    from zoneinfo import ZoneInfo

    SHANGHAI: dt.tzinfo = ZoneInfo("Asia/Shanghai")
except Exception:  # pragma: no cover - no tz database: China has kept UTC+8 without DST since 1991
    SHANGHAI = dt.timezone(dt.timedelta(hours=8), "CST")

HAZARDOUS_TITLE = "危险废物转移联单"
GENERAL_TITLE = "一般工业固体废物转移联单"
UNNUMBERED = "（未编号）"
ACCEPTANCE = {"accepted": "接受", "partially_refused": "部分拒收", "refused": "拒收"}

PAGE_W, PAGE_H, MARGIN = 210.0, 297.0, 12.0
QR_SIDE = 32.0
HEAD_FILL = (232, 232, 232)
#: A shipped/received difference is highlighted when it is more than this share of the shipped mass, or more than
#: DIFFERENCE_KG (whichever is hit first). The two thresholds live here and nowhere else.
DIFFERENCE_SHARE = Decimal("0.05")
DIFFERENCE_KG = Decimal("50")
DIFFERENCE_FILL = (255, 205, 190)  # the shading of such a line (the ※ mark also shows on a monochrome print)
DIFFERENCE_MARK = "※"
PT = 25.4 / 72  # mm per point


@dataclass(frozen=True)
class Party:
    """A party block: 单位名称, 统一社会信用代码, 地址, 联系人, 联系电话."""

    name: str
    credit_code: str
    address: str = ""
    contact: str = ""
    phone: str = ""


@dataclass(frozen=True)
class HaulerParty(Party):
    """The hauler adds its road-transport permit, the vehicle plate and the driver (name and phone)."""

    permit_no: str = ""
    vehicle_plate: str = ""
    driver: str = ""


@dataclass(frozen=True)
class ReceiverParty(Party):
    """The receiver adds its operating licence (经营许可证) number(s) covering the manifest's waste."""

    licence_no: str = ""


@dataclass(frozen=True)
class ManifestLine:
    waste_code: str
    waste_name: str
    category: str  # HW08 / S03
    form: str
    hazard: tuple[str, ...]
    package: str  # package / container description, e.g. "钢桶 200L × 4"
    shipped_kg: Decimal
    method_code: str  # planned utilisation/disposal method, e.g. R9
    method_name: str
    received_kg: Decimal | None = None
    acceptance: str | None = None  # accepted | partially_refused | refused (or a display string)
    reason: str | None = None
    digital_id: str | None = None  # the label's 数字识别码, if the line is one batch
    actual_methods: tuple[str, ...] = ()  # methods the receiver recorded (utilisation/disposal), if any

    def __post_init__(self) -> None:
        object.__setattr__(self, "hazard", normalize_hazard(self.hazard))
        object.__setattr__(self, "actual_methods", tuple(dict.fromkeys(m.strip() for m in self.actual_methods
                                                                       if m and m.strip())))
        for name in ("shipped_kg", "received_kg"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Decimal):
                object.__setattr__(self, name, Decimal(str(value)))


@dataclass(frozen=True)
class ManifestSignature:
    role: str  # 移出人确认 / 承运人提货 / 接受人签收 …
    who: str
    when: dt.datetime  # aware; a naive value is taken as UTC
    gps: tuple[float, float] | None = None  # (latitude, longitude)


@dataclass(frozen=True)
class ManifestDoc:
    number: str  # 14 digits: YYYY + province + city + 6-digit serial ("" for a draft: shown as 未编号)
    status: str  # display string, e.g. 运输中
    qr_payload: str
    originator: Party
    hauler: HaulerParty
    receiver: Party
    lines: tuple[ManifestLine, ...]
    planned_date: dt.date
    signatures: tuple[ManifestSignature, ...] = ()
    hazardous: bool = True
    cross_province_approval: str | None = None
    remarks: str = ""
    extra: dict[str, str] = field(default_factory=dict)  # further header facts, label → value

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.lines))
        object.__setattr__(self, "signatures", tuple(self.signatures))


def local_time(when: dt.datetime) -> str:
    """A timestamp as Beijing time, to the minute."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _hazard_text(codes: tuple[str, ...]) -> str:
    return "、".join(f"{HAZARD_NAMES[c]}({c})" for c in codes) or "—"


def difference_kg(line: ManifestLine) -> Decimal | None:
    """received − shipped, if the line was weighed at receipt (a whole refusal typed as 0 kg was not weighed)."""
    if line.received_kg is None or (line.acceptance == "refused" and line.received_kg == 0):
        return None
    return line.received_kg - line.shipped_kg


def large_difference(line: ManifestLine) -> bool:
    """|shipped − received| > DIFFERENCE_SHARE × shipped, or > DIFFERENCE_KG."""
    diff = difference_kg(line)
    if diff is None:
        return False
    return abs(diff) > DIFFERENCE_SHARE * line.shipped_kg or abs(diff) > DIFFERENCE_KG


def method_text(line: ManifestLine) -> str:
    """The planned method with its name; "计划 R9 / 实际 D10" when the receiver recorded another method."""
    if line.actual_methods and line.actual_methods != (line.method_code,):
        return f"计划 {line.method_code} / 实际 {'、'.join(line.actual_methods)}"
    return f"{line.method_code} {line.method_name}".strip()


def _signed_kg(value: Decimal) -> str:
    return ("+" if value > 0 else "-" if value < 0 else "") + format_kg(abs(value))


def _acceptance(line: ManifestLine) -> str:
    if not line.acceptance:
        return "—"
    text = ACCEPTANCE.get(line.acceptance, line.acceptance)
    return f"{text}：{line.reason}" if line.reason else text


class _ManifestPDF(FPDF):
    number = ""

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(FAMILY, "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, f"联单编号 {self.number}    第 {self.page_no()} 页 / 共 {{nb}} 页", align="C")
        self.set_text_color(0, 0, 0)


class _Writer:
    @contextmanager
    def _table(self, widths: tuple[float, ...], titles: tuple[str, ...]) -> Iterator:
        """A table with a bold, shaded heading row of `titles`."""
        head = FontFace(family=FAMILY, emphasis="BOLD", size_pt=9, fill_color=HEAD_FILL)
        with self.pdf.table(col_widths=widths, width=self.width, text_align="LEFT", headings_style=head,
                            line_height=4.2, padding=1) as table:
            hr = table.row()
            for title in titles:
                hr.cell(title)
            yield table

    def __init__(self, doc: ManifestDoc, full_font: bool = False) -> None:
        self.doc = doc
        self.full_font = full_font
        self.s = fonts.sanitize
        pdf = _ManifestPDF(unit="mm", format="A4")
        self.number = doc.number or UNNUMBERED
        pdf.number = self.number
        pdf.set_creator("wasteledger labels")
        title = HAZARDOUS_TITLE if doc.hazardous else GENERAL_TITLE
        pdf.set_title(f"{title} {self.number}")
        pdf.set_lang("zh-CN")
        pdf.set_margins(MARGIN, MARGIN, MARGIN)
        pdf.set_auto_page_break(True, margin=16)
        pdf.alias_nb_pages()
        self.pdf = pdf
        self.title = title
        self.width = PAGE_W - 2 * MARGIN

    # text helpers ---------------------------------------------------------------------------------
    def wrap(self, text: str, width: float, size_pt: float, bold: bool = False) -> str:
        """Pre-wrap for a table cell of `width` mm (CJK-aware, on the embedded font's own advances)."""
        return "\n".join(wrap(self.s(text) or "—", max(1.0, width - 0.3), size_pt * PT, bold))

    def strings(self) -> Iterable[str]:
        d = self.doc
        yield from (self.title, self.number, d.status, d.remarks, d.cross_province_approval or "")
        yield from (f"{k}{v}" for k, v in d.extra.items())
        for p in (d.originator, d.hauler, d.receiver):
            yield from (p.name, p.credit_code, p.address, p.contact, p.phone)
        yield from (d.hauler.permit_no, d.hauler.vehicle_plate, d.hauler.driver)
        yield getattr(d.receiver, "licence_no", "")
        for ln in d.lines:
            yield from (ln.waste_code, ln.waste_name, ln.category, ln.form, ln.package, ln.method_code)
            yield from (ln.method_name, _acceptance(ln), _hazard_text(ln.hazard), ln.digital_id or "")
            yield method_text(ln)
        yield self.difference_legend()
        for sg in d.signatures:
            yield from (sg.role, sg.who)
        yield (
            "移出人承运人接受人项目单位名称统一社会信用代码地址联系人联系电话道路运输经营许可证号车牌号驾驶员序号废物名称代码"
            "类别形态危险特性包装容器拟转移量接收量意见拟利用处置方式合计环节签字人时间北京位置备注无联单编号状态计划转移日期"
            "跨省转移审批文号第页共扫码核验真伪与流转记录（）：kg—、0123456789.,-+经营许可证编号危险废物差"
        )

    def difference_legend(self) -> str:
        share = format_kg(DIFFERENCE_SHARE * 100)
        return (f"{DIFFERENCE_MARK} 底色标出的行：接收量与拟转移量相差超过拟转移量的 {share}% 或 "
                f"{format_kg(DIFFERENCE_KG)} kg（差 = 接收量 - 拟转移量）")

    # sections -------------------------------------------------------------------------------------
    def header(self) -> None:
        pdf, d = self.pdf, self.doc
        qr_x, qr_y = PAGE_W - MARGIN - QR_SIDE, MARGIN - 2
        draw_qr(pdf, d.qr_payload, qr_x, qr_y, QR_SIDE)
        pdf.set_font(FAMILY, "", 7)
        pdf.set_xy(qr_x - 4, qr_y + QR_SIDE)
        pdf.cell(QR_SIDE + 8, 3.5, "扫码核验真伪与流转记录", align="C")
        text_w = qr_x - MARGIN - 4
        pdf.set_xy(MARGIN, MARGIN)
        pdf.set_font(FAMILY, "B", 20)
        pdf.cell(text_w, 10, self.title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(FAMILY, "", 9)
        pdf.cell(18, 9, "联单编号")
        pdf.set_font(FAMILY, "B", 22)
        pdf.cell(text_w - 18, 9, self.s(self.number), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        facts = [("状态", d.status), ("计划转移日期", d.planned_date.isoformat())]
        if d.cross_province_approval:
            facts.append(("跨省转移审批文号", d.cross_province_approval))
        facts += list(d.extra.items())
        pdf.ln(1)
        for label, value in facts:
            pdf.set_font(FAMILY, "B", 9)
            lw = width_mm(label, 9 * PT, bold=True) + 2.5
            pdf.cell(lw, 5, label)
            pdf.set_font(FAMILY, "", 9)
            pdf.multi_cell(
                text_w - lw, 5, self.wrap(value, text_w - lw, 9), new_x=XPos.LMARGIN, new_y=YPos.NEXT
            )
        pdf.set_y(max(pdf.get_y(), qr_y + QR_SIDE + 4) + 1)

    def parties(self) -> None:
        pdf, d = self.pdf, self.doc
        o, h, r = d.originator, d.hauler, d.receiver
        licence = "危险废物经营许可证编号" if d.hazardous else "经营许可证编号"
        rows = [
            ("单位名称", o.name, h.name, r.name),
            ("统一社会信用代码", o.credit_code, h.credit_code, r.credit_code),
            ("地址", o.address, h.address, r.address),
            ("联系人", o.contact, h.contact, r.contact),
            ("联系电话", o.phone, h.phone, r.phone),
            (licence, "", "", getattr(r, "licence_no", "")),
            ("道路运输经营许可证号", "", h.permit_no, ""),
            ("车牌号", "", h.vehicle_plate, ""),
            ("驾驶员", "", h.driver, ""),
        ]
        widths = (30.0, (self.width - 30) / 3, (self.width - 30) / 3, (self.width - 30) / 3)
        size = 8.5
        pdf.set_font(FAMILY, "", size)
        with self._table(widths, ("项目", "移出人（产生单位）", "承运人（运输单位）", "接受人（利用/处置单位）")) as table:
            for label, *values in rows:
                tr = table.row()
                tr.cell(self.wrap(label, widths[0] - 2, size, True), style=FontFace(emphasis="BOLD"))
                for value, w in zip(values, widths[1:], strict=True):
                    tr.cell(self.wrap(value, w - 2, size) if value else "—")
        pdf.ln(4)

    def lines(self) -> None:
        pdf, d = self.pdf, self.doc
        cols = (
            ("序号", 8),
            ("废物名称", 30),
            ("废物代码", 19),
            ("类别", 11),
            ("形态", 10),
            ("危险特性", 14),
            ("包装/容器", 21),
            ("拟转移量(kg)", 17),
            ("接收量(kg)", 17),
            ("接收意见", 15),
            ("拟利用处置方式", 24),
        )
        scale = self.width / sum(w for _, w in cols)
        widths = [w * scale for _, w in cols]
        size = 8.0
        pdf.set_font(FAMILY, "B", 11)
        pdf.cell(0, 7, "转移废物明细", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(FAMILY, "", size)
        head = FontFace(family=FAMILY, emphasis="BOLD", size_pt=8, fill_color=HEAD_FILL)
        small = FontFace(family=FAMILY, size_pt=7, color=(70, 70, 70))
        shipped = Decimal(0)
        received = Decimal(0)
        any_received = False
        any_large = False
        with pdf.table(
            col_widths=widths,
            width=self.width,
            text_align="CENTER",
            headings_style=head,
            line_height=3.8,
            padding=0.8,
        ) as table:
            hr = table.row()
            for (title, _), w in zip(cols, widths, strict=True):
                hr.cell(self.wrap(title, w - 1.6, 8, True))
            for i, ln in enumerate(d.lines, 1):
                shipped += ln.shipped_kg
                if ln.received_kg is not None:
                    received += ln.received_kg
                    any_received = True
                hazard = "/".join(ln.hazard) or "—"
                large = large_difference(ln)
                any_large = any_large or large
                got = format_kg(ln.received_kg) if ln.received_kg is not None else "—"
                if large:
                    got = f"{got} {DIFFERENCE_MARK}\n差 {_signed_kg(difference_kg(ln))}"
                values = (
                    ln.waste_name,
                    ln.waste_code,
                    ln.category,
                    ln.form,
                    hazard,
                    ln.package,
                    format_kg(ln.shipped_kg),
                    got,
                    _acceptance(ln),
                    method_text(ln),
                )
                mark = FontFace(fill_color=DIFFERENCE_FILL) if large else None
                tr = table.row()
                tr.cell(str(i), rowspan=2 if ln.digital_id else 1, style=mark)
                for j, (value, w) in enumerate(zip(values, widths[1:], strict=True)):
                    text = "\n".join(self.wrap(part, w - 1.6, size) for part in value.split("\n"))
                    bold = large and j == 7
                    tr.cell(text, style=FontFace(emphasis="BOLD", fill_color=DIFFERENCE_FILL) if bold else mark)
                if ln.digital_id:  # the label's ID, to check labels against the manifest
                    sub = table.row()
                    sub.cell(
                        f"数字识别码 {self.s(ln.digital_id)}",
                        colspan=len(cols) - 1,
                        align="LEFT",
                        style=FontFace(family=FAMILY, size_pt=7, color=(70, 70, 70), fill_color=DIFFERENCE_FILL)
                        if large else small,
                    )
            tr = table.row()
            tr.cell("合计", colspan=7, style=FontFace(emphasis="BOLD"))
            tr.cell(format_kg(shipped), style=FontFace(emphasis="BOLD"))
            tr.cell(format_kg(received) if any_received else "—", style=FontFace(emphasis="BOLD"))
            tr.cell("", colspan=2)
        if any(ln.hazard for ln in d.lines):
            pdf.set_font(FAMILY, "", 7)
            legend = "危险特性：" + "，".join(f"{c} {n}" for c, n in HAZARD_NAMES.items())
            pdf.cell(0, 4.5, legend, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if any_large:
            pdf.set_font(FAMILY, "", 7)
            pdf.cell(0, 4.5, self.difference_legend(), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(3)

    def signatures(self) -> None:
        pdf, d = self.pdf, self.doc
        pdf.set_font(FAMILY, "B", 11)
        pdf.cell(0, 7, "签字记录", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        size = 8.5
        pdf.set_font(FAMILY, "", size)
        widths = (40.0, 46.0, 46.0, self.width - 132.0)
        with self._table(widths, ("环节", "签字人", "时间（北京时间）", "位置")) as table:
            if not d.signatures:
                table.row().cell("（无）", colspan=4)
            for sg in d.signatures:
                gps = f"{sg.gps[0]:.5f}, {sg.gps[1]:.5f}" if sg.gps else "—"
                tr = table.row()
                for value, w in zip((sg.role, sg.who, local_time(sg.when), gps), widths, strict=True):
                    tr.cell(self.wrap(value, w - 2, size))
        pdf.ln(3)

    def remarks(self) -> None:
        pdf, d = self.pdf, self.doc
        pdf.set_font(FAMILY, "B", 11)
        pdf.cell(0, 7, "备注", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(FAMILY, "", 9)
        pdf.multi_cell(
            self.width, 4.8, self.wrap(d.remarks or "无", self.width, 9), new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )

    def render(self) -> FPDF:
        add_cjk_fonts(self.pdf, set("".join(self.s(t) for t in self.strings() if t)), self.full_font)
        self.pdf.add_page()
        self.header()
        self.parties()
        self.lines()
        self.signatures()
        self.remarks()
        return self.pdf


def render_manifest_pdf(doc: ManifestDoc) -> bytes:
    """The manifest as an A4 portrait PDF (any number of pages)."""
    pdf = _Writer(doc).render()
    if missing_glyphs(pdf):  # a character outside the reduced font slipped through: embed the full one
        pdf = _Writer(doc, full_font=True).render()
    return bytes(pdf.output())
