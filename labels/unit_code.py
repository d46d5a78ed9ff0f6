"""固废码: a unit's green/yellow/red code as a PNG (Ningbo's three-colour supervision code, seed 004 §五.2).

A QR in the code's colour that opens the unit's public page, the colour's name printed in words beside it (green
正常, yellow 预警, red 督办) so nobody depends on telling colours apart, and the unit's name and credit code. The
modules are a dark shade of each colour: light yellow modules on white would not scan.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageDraw

from . import fonts
from .qr import QUIET_ZONE, qr_matrix

# colour: (module colour, band colour, name, meaning)
COLOURS = {
    "green": ((0, 122, 61), (0, 150, 75), "绿码", "正常"),
    "yellow": ((150, 105, 0), (245, 190, 0), "黄码", "预警"),
    "red": ((170, 20, 20), (210, 35, 35), "红码", "督办"),
}
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)


@dataclass(frozen=True)
class UnitCodeData:
    colour: str  # green | yellow | red
    unit_name: str
    credit_code: str
    payload: str  # what the QR opens: {public_url}/u/{credit code}

    def __post_init__(self) -> None:
        if self.colour not in COLOURS:
            raise ValueError(f"colour must be one of {', '.join(COLOURS)}")
        if not self.payload:
            raise ValueError("empty payload")


def _text(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, size: int, fill, bold: bool = False,  # noqa: ANN001
          max_w: int | None = None) -> None:
    """Centred text; shrunk (down to half size) and then cut with … to fit `max_w` pixels."""
    text = fonts.sanitize(text)
    if max_w:
        while size > 8 and fonts.pil_font(size, bold).getlength(text) > max_w:
            size -= 1
        while len(text) > 1 and fonts.pil_font(size, bold).getlength(text) > max_w:
            text = text[:-2] + "…"
    draw.text(xy, text, font=fonts.pil_font(size, bold), fill=fill, anchor="mm")


def render_unit_code_png(data: UnitCodeData, *, module_px: int = 10) -> bytes:
    """PNG of the unit's code: colour band with its name, the coloured QR, the unit underneath."""
    dark, band, name, meaning = COLOURS[data.colour]
    matrix = qr_matrix(data.payload, "Q")
    n = len(matrix)
    side = (n + 2 * QUIET_ZONE) * module_px
    band_h, foot_h = side // 4, side // 5
    im = Image.new("RGB", (side, band_h + side + foot_h), WHITE)
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, 0, side - 1, band_h - 1), fill=band)
    ink = BLACK if data.colour == "yellow" else WHITE  # contrast on the band
    _text(draw, (side // 2, band_h // 2), f"固废码 · {name} · {meaning}", max(12, band_h // 3), ink, bold=True,
          max_w=side - 2 * module_px)
    top = band_h + QUIET_ZONE * module_px
    for y, row in enumerate(matrix):
        for x, on in enumerate(row):
            if on:
                x0, y0 = (x + QUIET_ZONE) * module_px, top + y * module_px
                draw.rectangle((x0, y0, x0 + module_px - 1, y0 + module_px - 1), fill=dark)
    foot = band_h + side
    draw.rectangle((0, foot, side - 1, foot + foot_h - 1), fill=band)
    _text(draw, (side // 2, foot + foot_h // 3), data.unit_name, max(10, foot_h // 4), ink, bold=True,
          max_w=side - 2 * module_px)
    _text(draw, (side // 2, foot + foot_h * 3 // 4), data.credit_code, max(9, foot_h // 5), ink)
    buf = io.BytesIO()
    im.save(buf, "PNG", optimize=True)
    return buf.getvalue()
