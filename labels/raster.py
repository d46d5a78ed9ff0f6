"""PNG back-end: draws a :class:`~labels.canvas.Canvas` at a given resolution.

Speed matters (a label is printed at every weighing), so the image is a 16-colour palette image drawn
directly in palette indices: 0–6 is a ramp white → black, 7–13 a ramp black → the canvas accent colour, and
14–15 hold the canvas's further solid colours (the red frame of hazard pictograms). Anti-aliased glyph masks
blend indices linearly, which inside one ramp is exactly a colour blend, so black text is smooth on white and on
the accent ground alike. Glyphs are rasterised once per (character, size, weight) and cached; pictograms are
Pillow polygons and ellipses; the PNG is 4 bits per pixel.
"""

from __future__ import annotations

import functools
import io
import threading

from PIL import Image, ImageDraw

from . import fonts
from .canvas import RGB, Canvas, Pictogram, QRBlock, Rect, Text
from .pictograms import INKS, paint
from .qr import QUIET_ZONE, qr_matrix

MM_PER_INCH = 25.4
PNG_COMPRESS_LEVEL = 2  # zlib level: the image is mostly flat, higher levels buy little

RAMP = 7  # levels per ramp
_WHITE, _BLACK, _BLACK_ON_ACCENT, _ACCENT = 0, RAMP - 1, RAMP, 2 * RAMP - 1
_EXTRA = 2 * RAMP  # first index of the further solid colours
MAX_EXTRA_COLORS = 16 - _EXTRA
_glyph_lock = threading.Lock()


def px(mm: float, dpi: int) -> int:
    """Millimetres to whole pixels."""
    return round(mm * dpi / MM_PER_INCH)


def _palette(accent: RGB, extra: tuple[RGB, ...] = ()) -> list[int]:
    if len(extra) > MAX_EXTRA_COLORS:
        raise ValueError(f"a canvas has room for {MAX_EXTRA_COLORS} further colours, not {len(extra)}")
    pal: list[int] = []
    for i in range(RAMP):  # white -> black
        v = round(255 * (1 - i / (RAMP - 1)))
        pal += [v, v, v]
    for i in range(RAMP):  # black -> accent
        pal += [round(c * i / (RAMP - 1)) for c in accent]
    for c in extra:
        pal += list(c)
    return pal


def _index(color: RGB, accent: RGB, extra: tuple[RGB, ...] = ()) -> int:
    if color == accent:
        return _ACCENT
    if color[0] == color[1] == color[2]:
        return round((255 - color[0]) / 255 * (RAMP - 1))
    if color in extra:
        return _EXTRA + extra.index(color)
    raise ValueError(f"colour {color} is neither grey, the canvas accent {accent}, nor one of its colours {extra}")


@functools.lru_cache(maxsize=8192)
def _glyph(ch: str, size_px: int, bold: bool) -> tuple[Image.Image | None, int, int]:
    """(mask, dx, dy) of one glyph: paste the mask at (pen_x + dx, baseline + dy)."""
    font = fonts.pil_font(size_px, bold)
    with _glyph_lock:
        left, top, right, bottom = font.getbbox(ch, anchor="ls")
        if right <= left or bottom <= top:
            return None, 0, 0
        mask = Image.new("L", (right - left, bottom - top), 0)
        ImageDraw.Draw(mask).text((-left, -top), ch, font=font, fill=255, anchor="ls")
    if mask.getbbox() is None:
        return None, 0, 0
    return mask, left, top


def _draw_text(im: Image.Image, item: Text, dpi: int) -> None:
    scale = dpi / MM_PER_INCH
    size_px = max(1, round(item.em * scale))
    x0 = item.x * scale
    base = round(item.baseline * scale)
    # black on white or black on the accent: pick the ramp of the background under the text
    probe = (min(im.width - 1, max(0, round(x0) + 1)), min(im.height - 1, max(0, base - size_px // 3)))
    fill = _BLACK_ON_ACCENT if _BLACK_ON_ACCENT <= im.getpixel(probe) <= _ACCENT else _BLACK
    pen = 0.0
    em_px = item.em * scale
    for ch in item.text:
        if ch != " ":
            mask, dx, dy = _glyph(ch, size_px, item.bold)
            if mask is not None:
                im.paste(fill, (round(x0 + pen * em_px) + dx, base + dy), mask)
        pen += fonts.advance_em(ch, item.bold)


def _draw_rect(draw: ImageDraw.ImageDraw, item: Rect, dpi: int, accent: RGB, extra: tuple[RGB, ...]) -> None:
    scale = dpi / MM_PER_INCH
    x0, y0 = round(item.x * scale), round(item.y * scale)
    x1, y1 = round((item.x + item.w) * scale) - 1, round((item.y + item.h) * scale) - 1
    if x1 < x0 or y1 < y0:
        x1, y1 = max(x0, x1), max(y0, y1)
    if item.fill is not None:
        draw.rectangle((x0, y0, x1, y1), fill=_index(item.fill, accent, extra))
    if item.stroke is not None and item.line > 0:
        t = max(1, round(item.line * scale))
        draw.rectangle((x0, y0, x1, y1), outline=_index(item.stroke, accent, extra), width=t)


def _draw_pictogram(draw: ImageDraw.ImageDraw, item: Pictogram, dpi: int, accent: RGB,
                    extra: tuple[RGB, ...]) -> None:
    scale = dpi / MM_PER_INCH
    fills = {ink: _index(rgb, accent, extra) for ink, rgb in INKS.items()}
    paint(draw, item.code, item.x * scale, item.y * scale, item.size * scale, fills)


def _draw_qr(im: Image.Image, item: QRBlock, dpi: int) -> None:
    scale = dpi / MM_PER_INCH
    side = round(item.size * scale)
    x0, y0 = round(item.x * scale), round(item.y * scale)
    im.paste(_WHITE, (x0, y0, x0 + side, y0 + side))
    matrix = qr_matrix(item.payload, item.error_correction)
    n = len(matrix)
    module = side // (n + 2 * QUIET_ZONE)
    if module < 1:
        raise ValueError(f"QR of {n} modules does not fit {item.size} mm at {dpi} dpi")
    raw = bytes(_BLACK if dark else _WHITE for row in matrix for dark in row)
    code = Image.frombytes("P", (n, n), raw).resize((n * module, n * module), Image.Resampling.NEAREST)
    off = (side - n * module) // 2
    im.paste(code, (x0 + off, y0 + off))


def render_canvas(canvas: Canvas, dpi: int = 300) -> Image.Image:
    """Draw `canvas` into a palette image of its physical size at `dpi`."""
    if dpi < 72:
        raise ValueError("dpi must be at least 72")
    size = (px(canvas.width, dpi), px(canvas.height, dpi))
    im = Image.new("P", size, _WHITE)
    im.putpalette(_palette(canvas.accent, canvas.colors))
    draw = ImageDraw.Draw(im)
    for item in canvas.items:
        if isinstance(item, Text):
            _draw_text(im, item, dpi)
        elif isinstance(item, Rect):
            _draw_rect(draw, item, dpi, canvas.accent, canvas.colors)
        elif isinstance(item, QRBlock):
            _draw_qr(im, item, dpi)
        elif isinstance(item, Pictogram):
            _draw_pictogram(draw, item, dpi, canvas.accent, canvas.colors)
    return im


def encode_png(im: Image.Image, dpi: int) -> bytes:
    """4-bit palette PNG (Pillow) with its resolution recorded (pHYs), so it prints at its physical size."""
    if im.mode != "P":
        raise ValueError("expects a palette image")
    buf = io.BytesIO()
    im.save(buf, "PNG", bits=4, compress_level=PNG_COMPRESS_LEVEL, dpi=(dpi, dpi))
    return buf.getvalue()


def canvas_png(canvas: Canvas, dpi: int = 300) -> bytes:
    """PNG bytes of `canvas`, with its resolution recorded (pHYs) so it prints at its physical size."""
    return encode_png(render_canvas(canvas, dpi), dpi)
