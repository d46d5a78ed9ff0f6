"""Waste labels (HJ 1276-2022 危险废物标签, and the same form for general industrial solid waste).

Layout (square label, side from :func:`label_size_mm`; everything scales with the side):

* hazardous waste (as we read HJ 1276-2022): the whole label on a conspicuous orange-yellow ground,
  HAZARDOUS_BACKGROUND = RGB (255, 150, 0), black text, a 1 mm black border; a header with the title 危险废物
  and one warning pictogram per hazard characteristic (T 毒性, C 腐蚀性, I 易燃性, R 反应性, In 感染性; drawn as
  vector shapes, :mod:`labels.pictograms`), in one row, or two if five do not fit;
* general industrial solid waste: a white label in a 1 mm white margin with a green header band and the title
  一般工业固体废物 (no pictograms);
* the QR code (payload ``{public_url}/s/{digital_id}``, error correction Q) in the top right corner on its own
  white square that holds the 4-module quiet zone, 31 % of the side (31 mm on the 100 mm label);
* rows 废物名称 / 废物类别 / 废物代码 + 废物形态 / 主要成分 / 危险特性 / 注意事项 / 产生日期 + 重量(kg) /
  产生单位 / 联系人 + 联系电话 / 数字识别码 / 备注 (batch code and container). Long values wrap; if the rows
  do not fit, the text shrinks down to the HJ 1276 minimum character height (3 / 5 / 6 mm for the
  100 / 150 / 200 mm labels) and then long values are cut with an ellipsis — nothing ever overflows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from dataclasses import dataclass
from decimal import Decimal

from . import fonts
from .canvas import (
    ASCENT,
    BLACK,
    RGB,
    RULE,
    WHITE,
    Canvas,
    Item,
    Pictogram,
    QRBlock,
    Rect,
    Text,
    fit_em,
    truncate,
    width_mm,
    wrap_lines,
)
from .pictograms import PICTOGRAM_FRAME
from .qr import LABEL_ERROR_CORRECTION
from .raster import canvas_png
from .vector import canvas_pdf
from .zpl import DEFAULT_ZPL_FONT, canvas_zpl

HAZARD_NAMES: dict[str, str] = {"T": "毒性", "C": "腐蚀性", "I": "易燃性", "R": "反应性", "In": "感染性"}

HAZARDOUS_TITLE = "危险废物"
GENERAL_TITLE = "一般工业固体废物"
#: The ground of the whole hazardous-waste label: 醒目的橘黄色, RGB (255, 150, 0), as we read HJ 1276-2022
#: (to verify against its text). Text and border on it are black.
HAZARDOUS_BACKGROUND: RGB = (255, 150, 0)
#: The header band of a general industrial solid waste label (the rest of that label is white).
GENERAL_ACCENT: RGB = (140, 205, 110)

#: HJ 1276-2022 table: minimum character height (mm) per minimum label side (see label_size_mm).
MIN_TEXT_HEIGHT_MM = {100: 3.0, 150: 5.0, 200: 6.0}
#: Ink height of a CJK ideograph (废) in em, for the minimum character height.
INK_HEIGHT_EM = 0.93

BODY_EM = 3.7  # mm on the 100 mm label
TITLE_EM = 8.5
QR_SIDE = 31.0
PICTOGRAM_SIDE = 12.0  # mm on the 100 mm label: the square the diamond stands in
PICTOGRAM_MIN = 9.5  # smaller than this, a row of pictograms breaks in two rather than shrink further
PICTOGRAM_GAP = 1.0


def label_size_mm(container_volume_l: float | None) -> int:
    """Minimum label side (mm) for a container (HJ 1276): ≤50 L → 100, ≤450 L → 150, larger or unknown → 200."""
    if container_volume_l is None or not math.isfinite(container_volume_l):
        return 200
    if container_volume_l <= 50:
        return 100
    if container_volume_l <= 450:
        return 150
    return 200


def min_text_height_mm(size_mm: float) -> float:
    if size_mm < 150:
        return MIN_TEXT_HEIGHT_MM[100]
    if size_mm < 200:
        return MIN_TEXT_HEIGHT_MM[150]
    return MIN_TEXT_HEIGHT_MM[200]


def normalize_hazard(hazard: object) -> tuple[str, ...]:
    """('t', 'IN') / 'T/C/I' / 'T,I' / ['C'] → canonical codes in T, C, I, R, In order; unknown ones raise."""
    if hazard is None:
        return ()
    items = re.split(r"[/,，、;；\s]+", hazard) if isinstance(hazard, str) else list(hazard)
    canon = {k.lower(): k for k in HAZARD_NAMES}
    out = []
    for raw in items:
        code = str(raw).strip()
        if not code:
            continue
        if code.lower() not in canon:
            raise ValueError(
                f"unknown hazard characteristic {code!r}; expected one of {', '.join(HAZARD_NAMES)}"
            )
        out.append(canon[code.lower()])
    order = list(HAZARD_NAMES)
    return tuple(sorted(set(out), key=order.index))


def format_kg(value: Decimal | int | float | str) -> str:
    """Kilograms to the gram, without trailing zeros: 182.500 → "182.5", 1000 → "1000"."""
    d = Decimal(str(value)).quantize(Decimal("0.001"))
    s = format(d, "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


@dataclass(frozen=True)
class LabelData:
    """Everything printed on one container label (plain data; the ledger fills it in)."""

    digital_id: str  # HJ 1276 数字识别码: 37 chars (hazardous), 38 (general)
    qr_payload: str  # {public_url}/s/{digital_id}, ready-made
    batch_code: str
    waste_name: str  # 废物名称
    category: str  # HW08 / S03
    category_name: str  # 废矿物油与含矿物油废物
    waste_code: str  # 900-249-08
    form: str  # 固态 / 半固态 / 液态 / 气态
    hazard: tuple[str, ...]  # T, C, I, R, In
    components: str  # 主要成分
    generated_on: dt.date
    unit_name: str  # 产生单位
    contact: str
    phone: str
    net_kg: Decimal
    container_type: str
    container_volume_l: float | None
    hazardous: bool
    precautions: str | None = None  # 注意事项

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "hazard", normalize_hazard(self.hazard))
        if not isinstance(self.net_kg, Decimal):
            set_(self, "net_kg", Decimal(str(self.net_kg)))
        if isinstance(self.generated_on, dt.datetime):
            set_(self, "generated_on", self.generated_on.date())
        if not self.digital_id or any(c.isspace() for c in self.digital_id):
            raise ValueError(f"bad digital_id {self.digital_id!r}")
        if not self.qr_payload.endswith("/s/" + self.digital_id):
            raise ValueError(
                f"qr_payload {self.qr_payload!r} does not resolve digital_id {self.digital_id!r}"
            )


# ------------------------------------------------------------------------------------------------ layout


@dataclass(frozen=True)
class _Row:
    cells: tuple[tuple[str, str], ...]  # (label, value); 1 cell = full row, 2 = pair
    long: bool = True  # may be cut (with an ellipsis) when space runs out
    kind: str = "plain"  # "plain" | "id"
    units: tuple[str, ...] | None = None  # unbreakable pieces, if the value must break only between them

    @property
    def key(self) -> str:
        return self.cells[0][0]


def _rows(d: LabelData) -> list[_Row]:
    container = d.container_type.strip()
    if d.container_volume_l is not None and math.isfinite(d.container_volume_l):
        container = f"{d.container_volume_l:g}L {container}".strip()
    remark = f"批次号 {d.batch_code}" + (f"；容器 {container}" if container else "")
    category = f"{d.category} {d.category_name}".strip()
    rows = [
        _Row((("废物名称", d.waste_name),)),
        _Row((("废物类别", category),)),
        _Row((("废物代码", d.waste_code), ("废物形态", d.form))),
        _Row((("主要成分", d.components or "—"),)),
    ]
    if d.hazardous:
        parts = [f"{HAZARD_NAMES[h]}({h})" for h in d.hazard] or ["—"]
        units = tuple(p + "、" for p in parts[:-1]) + (parts[-1],)
        rows.append(_Row((("危险特性", "".join(units)),), units=units))
    if d.precautions and d.precautions.strip():
        rows.append(_Row((("注意事项", d.precautions),)))
    rows += [
        _Row((("产生日期", d.generated_on.isoformat()), ("重量(kg)", format_kg(d.net_kg)))),
        _Row((("产生单位", d.unit_name),)),
        _Row((("联系人", d.contact), ("联系电话", d.phone))),
        _Row((("数字识别码", d.digital_id),), long=False, kind="id"),
        _Row((("备注", remark),)),
    ]
    return rows


def _clean(d: LabelData) -> LabelData:
    s = fonts.sanitize
    return dataclasses.replace(
        d,
        batch_code=s(d.batch_code),
        waste_name=s(d.waste_name),
        category=s(d.category),
        category_name=s(d.category_name),
        waste_code=s(d.waste_code),
        form=s(d.form),
        components=s(d.components),
        unit_name=s(d.unit_name),
        contact=s(d.contact),
        phone=s(d.phone),
        container_type=s(d.container_type),
        precautions=s(d.precautions) if d.precautions else None,
    )


@dataclass
class _Attempt:
    items: list[Item]
    top: float  # where the rows start
    bottom: float  # where the rows end
    limit: float  # where they must end
    lines: dict[str, int]  # wrapped line count of each long row

    @property
    def fits(self) -> bool:
        return self.bottom <= self.limit


def _pictograms(codes: tuple[str, ...], x_left: float, right: float, top: float, k: float
                ) -> tuple[list[Item], float]:
    """One pictogram per hazard characteristic, left to right from (x_left, top) within `right`: at
    PICTOGRAM_SIDE, shrunk to fit one row down to PICTOGRAM_MIN, else in two rows. Returns (items, bottom)."""
    gap, avail, n = PICTOGRAM_GAP * k, right - x_left, len(codes)
    side = min(PICTOGRAM_SIDE * k, (avail - (n - 1) * gap) / n)
    per_row = n
    if side < PICTOGRAM_MIN * k:
        per_row = math.ceil(n / 2)
        side = min(PICTOGRAM_SIDE * k, (avail - (per_row - 1) * gap) / per_row)
    items: list[Item] = []
    for i, code in enumerate(codes):
        row, col = divmod(i, per_row)
        items.append(Pictogram(x_left + col * (side + gap), top + row * (side + gap), side, code))
    rows = math.ceil(n / per_row)
    return items, top + rows * side + (rows - 1) * gap


def _header(d: LabelData, size: float, em: float) -> tuple[list[Item], float, float, float]:
    """Title, hazard pictograms and QR (on a green band for general waste); returns (items, header bottom,
    QR left, QR bottom)."""
    k = size / 100
    inner = 2.0 * k  # 1 mm margin + 1 mm border
    x_left = inner + 1.2 * k
    qr_side = QR_SIDE * k
    qr_x, qr_y = size - inner - 0.6 * k - qr_side, inner + 0.6 * k
    head_right = qr_x - 1.2 * k
    title = HAZARDOUS_TITLE if d.hazardous else GENERAL_TITLE
    t_em = fit_em(title, head_right - x_left, TITLE_EM * k, bold=True, min_em=em)
    y = inner + 1.0 * k
    head: list[Item] = [Text(x_left, y + ASCENT * t_em, title, t_em, bold=True)]
    y += t_em + 1.0 * k
    if d.hazardous and d.hazard:
        pictos, y = _pictograms(d.hazard, x_left, head_right, y, k)
        head += pictos
        y += 1.0 * k
    bottom = max(y, inner + 11.0 * k)
    items: list[Item] = []
    if not d.hazardous:  # the hazardous label's ground is orange all over already
        items.append(Rect(inner, inner, size - 2 * inner, bottom - inner, fill=GENERAL_ACCENT))
    items += head
    items.append(Rect(inner, bottom - 0.3 * k, size - 2 * inner, 0.3 * k, fill=BLACK))
    items.append(QRBlock(qr_x, qr_y, qr_side, d.qr_payload, LABEL_ERROR_CORRECTION))
    return items, bottom, qr_x, qr_y + qr_side + 0.6 * k


def _layout(d: LabelData, size: float, em: float, caps: dict[str, int], vpad: float) -> _Attempt:
    """One layout attempt at body size `em` (mm), long rows cut to `caps` lines, row padding `vpad` em."""
    k = size / 100
    margin = border = 1.0 * k
    inner = margin + border
    pad = 1.2 * k
    x_left, x_right = inner + pad, size - inner - pad
    items: list[Item] = [Rect(0, 0, size, size, fill=HAZARDOUS_BACKGROUND if d.hazardous else WHITE)]
    head, y, qr_x, qr_bottom = _header(d, size, em)
    top = y
    items += head
    label_w = width_mm("联系电话", em, bold=True)
    gap, pitch, vp = 0.45 * em, 1.2 * em, vpad * em
    lines_of: dict[str, int] = {}
    queue = _rows(d)
    while queue:
        row = queue.pop(0)
        right = qr_x - pad if y < qr_bottom else x_right
        cell_w = (right - x_left) / len(row.cells)
        row_items: list[Item] = []
        height = 0.0
        split = False
        for i, (label, value) in enumerate(row.cells):
            cx = x_left + i * cell_w
            own_w = width_mm(label, em, bold=True)
            vx = cx + (own_w if row.kind == "id" else max(label_w, own_w)) + gap
            vw = cx + cell_w - vx - (gap if i < len(row.cells) - 1 else 0)
            row_items.append(Text(cx, y + vp + ASCENT * em, label, em, bold=True))
            if row.kind == "id":
                vem = fit_em(value, right - vx, em, min_em=0.85 * em)
                if width_mm(value, vem) <= right - vx + 1e-9:
                    placed = [(vx, 0, value, vem)]
                else:  # on its own line, full width, shrunk only if it must
                    vem = fit_em(value, right - x_left, em)
                    placed = [(x_left, 1, value, vem)]
                nlines = placed[0][1] + 1
            else:
                cap = caps.get(row.key) if row.long else None
                lines = wrap_lines(value or "—", vw, em, max_lines=cap, units=row.units)
                if len(row.cells) > 1 and len(lines) > 1:
                    split = True
                    break
                placed = [(vx, j, truncate(line, vw, em), em) for j, line in enumerate(lines)]
                nlines = len(lines)
                if row.long:
                    lines_of[row.key] = nlines
            for x, j, line, vem in placed:
                if line:
                    row_items.append(Text(x, y + vp + ASCENT * em + j * pitch, line, vem))
            height = max(height, 2 * vp + em + (nlines - 1) * pitch)
        if split:  # a pair whose values do not fit side by side: one row each
            queue[:0] = [_Row((cell,)) for cell in row.cells]
            continue
        items += row_items
        y += height
        if queue:
            items.append(Rect(inner, y, right + pad - inner, 0.2 * k, fill=RULE))
    items.append(Rect(margin, margin, size - 2 * margin, size - 2 * margin, stroke=BLACK, line=border))
    return _Attempt(items, top, y, size - inner - 0.6 * k, lines_of)


VPAD = 0.28  # row padding above and below the text, in em
GROW = 1.12  # sparse labels may use text up to this much larger than BODY_EM


def label_canvas(data: LabelData, size_mm: int | None = None) -> Canvas:
    """The label's display list (shared by the PNG, PDF and ZPL outputs).

    Lays out at BODY_EM; with room to spare, grows the text (up to GROW ×); without, shrinks it in 4 % steps
    down to the HJ 1276 minimum, then tightens the row padding and cuts the long rows one line at a time
    (the longest first) until all fits. Any room left is spread over the rows.
    """
    size = size_mm or label_size_mm(data.container_volume_l)
    if not 80 <= size <= 400:
        raise ValueError("label side must be between 80 and 400 mm (HJ 1276 asks for at least 100)")
    d = _clean(data)
    k = size / 100
    min_em = min_text_height_mm(size) / INK_HEIGHT_EM * 1.01
    em0 = max(BODY_EM * k, min_em)
    accent = HAZARDOUS_BACKGROUND if d.hazardous else GENERAL_ACCENT
    colors = (PICTOGRAM_FRAME,) if d.hazardous else ()
    title = f"{HAZARDOUS_TITLE if d.hazardous else GENERAL_TITLE}标签 {d.digital_id}"

    em, vpad, caps = em0, VPAD, {}
    best = _layout(d, size, em, caps, vpad)
    if best.fits:  # room to spare: grow the text in proportion (rows scale with em), if it still fits
        ratio = (best.limit - best.top) / max(best.bottom - best.top, 1e-6)
        grown = em0 * min(GROW, 0.99 * ratio)
        for candidate in (grown, (grown + em0) / 2):  # wrapping may change as the text grows
            if candidate < em0 * 1.01:
                break
            trial = _layout(d, size, candidate, caps, vpad)
            if trial.fits:
                em, best = candidate, trial
                break
    else:
        f = 0.96
        while not best.fits and em > min_em:
            em = max(min_em, em0 * f)
            best = _layout(d, size, em, caps, vpad)
            f -= 0.04
        if not best.fits:
            vpad = VPAD * 0.6
            best = _layout(d, size, em, caps, vpad)
        while not best.fits:
            reducible = {key: n for key, n in best.lines.items() if n > 1}
            if not reducible:
                raise ValueError("label content does not fit even at the minimum text size")
            key = max(reducible, key=lambda key: reducible[key])
            caps[key] = reducible[key] - 1
            best = _layout(d, size, em, caps, vpad)
    spare = best.limit - best.bottom
    if spare > 0.5 * k:
        nrows = sum(1 for it in best.items if isinstance(it, Rect) and it.fill == RULE) + 1
        extra = min(spare / nrows / 2 / em, 0.45)
        roomy = _layout(d, size, em, caps, vpad + extra * 0.98)
        if roomy.fits:
            best = roomy
    return Canvas(size, size, accent, tuple(best.items), title, colors)


# ------------------------------------------------------------------------------------------------ outputs


def render_label_png(data: LabelData, dpi: int = 300, *, size_mm: int | None = None) -> bytes:
    """PNG of the label at `dpi` (default 300): side = `size_mm` or the HJ 1276 minimum for the container."""
    return canvas_png(label_canvas(data, size_mm), dpi)


def render_label_pdf(data: LabelData, *, size_mm: int | None = None) -> bytes:
    """One-page PDF of the label at its physical size, with real (embedded-font) text and the QR image."""
    return canvas_pdf(label_canvas(data, size_mm))


def render_label_zpl(
    data: LabelData,
    dpi: int = 203,
    *,
    size_mm: int | None = None,
    font: str = DEFAULT_ZPL_FONT,
    copies: int = 1,
) -> str:
    """ZPL II (``^XA`` … ``^XZ``) of the label for a thermal printer.

    Chinese text is drawn with ``^A@`` and the printer-resident TrueType font `font` (default
    ``E:SIMSUN.TTF``): Zebra printers carry no CJK font, so one must be downloaded to the printer first.
    ``^CI28`` selects UTF-8; the QR code is ``^BQN`` (model 2, level Q) with the payload URL.
    """
    return canvas_zpl(label_canvas(data, size_mm), dpi=dpi, font=font, copies=copies)
