"""Facility QR card (设施赋码): posted at the door of a storage/generation/utilisation facility.

100 × 140 mm portrait: a header with the facility kind (贮存库, 贮存点, 产生点 …), the facility name, its
code and unit, and a large QR code (up to 70 mm) that opens the facility's page (stock and recent movements).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import fonts
from .canvas import (
    ASCENT,
    BLACK,
    RGB,
    WHITE,
    Canvas,
    Item,
    QRBlock,
    Rect,
    Text,
    fit_em,
    truncate,
    width_mm,
    wrap_lines,
)
from .raster import canvas_png
from .vector import canvas_pdf

CARD_W, CARD_H = 100.0, 140.0
CARD_ACCENT: RGB = (150, 200, 235)
CARD_HINT = "扫码查看设施台账与出入库记录"
QR_SIDE = 70.0


@dataclass(frozen=True)
class FacilityCardData:
    facility_code: str
    facility_name: str
    kind_label: str  # 贮存库 / 贮存场 / 贮存点 / 产生点 / 利用设施 / 处置设施
    unit_name: str
    qr_payload: str

    def __post_init__(self) -> None:
        if not self.qr_payload:
            raise ValueError("empty qr_payload")


def facility_card_canvas(data: FacilityCardData) -> Canvas:
    s = fonts.sanitize
    w, h = CARD_W, CARD_H
    inner, pad = 2.0, 1.5
    x0, x1 = inner + pad + 1.0, w - inner - pad - 1.0
    items: list[Item] = [Rect(0, 0, w, h, fill=WHITE)]
    head_h = 16.0
    items.append(Rect(inner, inner, w - 2 * inner, head_h, fill=CARD_ACCENT))
    kind = s(data.kind_label) or "设施"
    k_em = fit_em(kind, x1 - x0, 10.0, bold=True, min_em=5.0)
    kind = truncate(kind, x1 - x0, k_em, bold=True)
    items.append(Text(x0, inner + (head_h - k_em) / 2 + ASCENT * k_em, kind, k_em, bold=True))
    items.append(Rect(inner, inner + head_h - 0.4, w - 2 * inner, 0.4, fill=BLACK))
    y = inner + head_h + 2.5

    name_em = 6.5
    for line in wrap_lines(s(data.facility_name), x1 - x0, name_em, bold=True, max_lines=2):
        items.append(Text(x0, y + ASCENT * name_em, line, name_em, bold=True))
        y += name_em * 1.2
    y += 1.0
    em = 4.0
    for label, value in (("设施编码", s(data.facility_code)), ("所属单位", s(data.unit_name))):
        lw = width_mm(label, em, bold=True) + 0.5 * em
        lines = wrap_lines(value, x1 - x0 - lw, em, max_lines=2)
        items.append(Text(x0, y + ASCENT * em, label, em, bold=True))
        for line in lines:
            items.append(Text(x0 + lw, y + ASCENT * em, line, em))
            y += em * 1.25
    hint_em = 3.6
    top, bottom = y + 2.0, h - inner - 2.5 - hint_em * 1.4
    qr_side = min(QR_SIDE, bottom - top)
    qr_y = top + (bottom - top - qr_side) / 2
    items.append(QRBlock((w - qr_side) / 2, qr_y, qr_side, data.qr_payload, "Q"))
    hint_w = width_mm(CARD_HINT, hint_em)
    items.append(Text((w - hint_w) / 2, qr_y + qr_side + 1.0 + ASCENT * hint_em, CARD_HINT, hint_em))
    items.append(Rect(1.0, 1.0, w - 2.0, h - 2.0, stroke=BLACK, line=1.0))
    return Canvas(w, h, CARD_ACCENT, tuple(items), f"设施码 {data.facility_code}")


def render_facility_card_png(data: FacilityCardData, dpi: int = 300) -> bytes:
    """PNG of the facility card (100 × 140 mm) at `dpi`."""
    return canvas_png(facility_card_canvas(data), dpi)


def render_facility_card_pdf(data: FacilityCardData) -> bytes:
    """One-page PDF of the facility card at its physical size."""
    return canvas_pdf(facility_card_canvas(data))
