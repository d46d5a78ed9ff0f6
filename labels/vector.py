"""PDF back-end: a :class:`~labels.canvas.Canvas` as one PDF page of the same physical size.

Text is real text (embedded CJK font subset, selectable and searchable); the QR symbol is an image whose
pixels are whole modules, placed at the exact size the layout gives it; hazard pictograms are vector paths.
"""

from __future__ import annotations

from collections.abc import Iterable

from fpdf import FPDF

from . import fonts
from .canvas import Canvas, Pictogram, QRBlock, Rect, Text
from .pictograms import INKS, Ellipse, Poly, pictogram, polygon_points
from .qr import QUIET_ZONE, qr_image

PT_PER_MM = 72 / 25.4
FAMILY = "cjk"


def add_cjk_fonts(pdf: FPDF, chars: Iterable[str], full: bool = False) -> None:
    """Register the CJK font as family "cjk" (styles "" and "B") in `pdf`."""
    regular, bold = fonts.pdf_faces(chars, full)
    pdf.add_font(FAMILY, "", regular.path, collection_font_number=regular.index)
    face = bold or regular
    pdf.add_font(FAMILY, "B", face.path, collection_font_number=face.index)


def missing_glyphs(pdf: FPDF) -> bool:
    """Whether any text drawn so far had no glyph in the embedded font (then render again, full font)."""
    return any(getattr(font, "missing_glyphs", None) for font in pdf.fonts.values())


def new_pdf(
    width: float | str, height: float | None, chars: Iterable[str], title: str, full: bool = False
) -> FPDF:
    fmt = width if height is None else (width, height)
    pdf = FPDF(unit="mm", format=fmt)
    pdf.set_creator("wasteledger labels")
    pdf.set_title(title)
    pdf.set_lang("zh-CN")
    add_cjk_fonts(pdf, chars, full)
    return pdf


def draw_qr(pdf: FPDF, payload: str, x: float, y: float, size: float, error_correction: str = "Q") -> None:
    """A QR symbol with its quiet zone filling the square (x, y, size) in mm."""
    img = qr_image(payload, box_size=8, border=QUIET_ZONE, error_correction=error_correction)
    pdf.image(img, x=x, y=y, w=size, h=size)


def draw_pictogram(pdf: FPDF, code: str, x: float, y: float, size: float) -> None:
    """Hazard pictogram `code` as filled paths in the square (x, y, size) in mm."""
    for shape in pictogram(code):
        pdf.set_fill_color(*INKS[shape.ink])
        if isinstance(shape, Poly):
            pdf.polygon(polygon_points(shape, x, y, size), style="F")
        elif isinstance(shape, Ellipse):
            pdf.ellipse(x + (shape.cx - shape.rx) * size, y + (shape.cy - shape.ry) * size, 2 * shape.rx * size,
                        2 * shape.ry * size, style="F")


def canvas_pdf(canvas: Canvas) -> bytes:
    """One-page PDF of `canvas` (page size = canvas size)."""
    pdf = _draw(canvas, full=False)
    if missing_glyphs(pdf):  # a safety net: the reduced font should cover every character it is used for
        pdf = _draw(canvas, full=True)
    return bytes(pdf.output())


def _draw(canvas: Canvas, full: bool) -> FPDF:
    pdf = new_pdf(canvas.width, canvas.height, canvas.chars(), canvas.title, full)
    pdf.set_auto_page_break(False)
    pdf.set_margin(0)
    pdf.add_page()
    for item in canvas.items:
        if isinstance(item, Rect):
            if item.fill is not None:
                pdf.set_fill_color(*item.fill)
                pdf.rect(item.x, item.y, item.w, item.h, style="F")
            if item.stroke is not None and item.line > 0:
                half = item.line / 2
                pdf.set_draw_color(*item.stroke)
                pdf.set_line_width(item.line)
                pdf.rect(item.x + half, item.y + half, item.w - item.line, item.h - item.line, style="D")
        elif isinstance(item, Text):
            pdf.set_font(FAMILY, "B" if item.bold else "", item.em * PT_PER_MM)
            pdf.set_text_color(0, 0, 0)
            pdf.text(item.x, item.baseline, item.text)
        elif isinstance(item, QRBlock):
            draw_qr(pdf, item.payload, item.x, item.y, item.size, item.error_correction)
        elif isinstance(item, Pictogram):
            draw_pictogram(pdf, item.code, item.x, item.y, item.size)
    return pdf
