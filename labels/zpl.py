"""ZPL II back-end for thermal label printers (Zebra and compatibles).

The printer draws the text itself, and Zebra's resident fonts have no Chinese: a scalable CJK TrueType font
must be downloaded to the printer first (Zebra Setup Utilities / ZebraNet Bridge "download font", or a
``~DU``/``~DY`` command), e.g. as ``E:SIMSUN.TTF``; pass its printer-side name as `font`. The layout is the
same as the PNG/PDF one, measured with the CJK font of this host; a printer font with wider Latin glyphs may
come a little closer to the right edge. Thermal printers print one colour, so coloured fills (the header
background) are dropped and kept only as outlines; the QR symbol is encoded by the printer (``^BQN``, model 2)
with the same error-correction level and placed with its 4-module quiet zone. ZPL cannot draw polygons, so each
hazard pictogram is rasterised here at the printer's resolution (the same shapes as the PNG and PDF, frame and
symbol in black) and sent as a ``^GFA`` graphic field in ZPL's ASCII compression.
"""

from __future__ import annotations

from PIL import Image

from .canvas import Canvas, Pictogram, QRBlock, Rect, Text
from .pictograms import bitmap
from .qr import QUIET_ZONE, qr_matrix

DEFAULT_ZPL_FONT = "E:SIMSUN.TTF"
MM_PER_INCH = 25.4


def _dots(mm: float, dpi: int) -> int:
    return round(mm * dpi / MM_PER_INCH)


def _dark(rgb: tuple[int, int, int]) -> bool:
    r, g, b = rgb
    return 0.299 * r + 0.587 * g + 0.114 * b < 128


def _comment(text: str) -> str:
    return "".join(" " if c in "^~\n\r" else c for c in text)


def field_data(text: str) -> str:
    """``^FD…^FS`` for `text`: ``^FH\\`` hex escapes only if it holds ZPL's own ^ or ~ (or the \\ indicator)."""
    if any(c in text for c in "^~\\"):
        esc = text.replace("\\", "\\5C").replace("^", "\\5E").replace("~", "\\7E")
        return f"^FH\\^FD{esc}^FS"
    return f"^FD{text}^FS"


def _repeat(count: int) -> str:
    """ZPL ASCII-compression count prefix: g…z = 20…400 in steps of 20, then G…Y = 1…19."""
    out = ""
    if count >= 20:
        out += chr(ord("f") + count // 20)
        count %= 20
    if count:
        out += chr(ord("F") + count)
    return out


def _compress_row(row: str) -> str:
    """One row of hex digits in ZPL's ASCII compression: runs as count + digit, trailing zeros as ','."""
    stripped = row.rstrip("0")
    if not stripped:
        return ","
    out, i = [], 0
    while i < len(stripped):
        j = i
        while j < len(stripped) and stripped[j] == stripped[i] and j - i < 419:
            j += 1
        run = j - i
        out.append(stripped[i] if run == 1 else _repeat(run) + stripped[i])
        i = j
    return "".join(out) + ("," if len(stripped) < len(row) else "")


def graphic_field(im: Image.Image) -> str:
    """``^GFA`` for a 1-bit image (1 = print a dot), rows in ZPL's ASCII compression (``:`` repeats a row)."""
    if im.mode != "1":
        raise ValueError("a graphic field is made from a 1-bit image")
    per_row = (im.width + 7) // 8
    data = im.tobytes()  # rows packed most significant bit first, each padded to whole bytes
    total = per_row * im.height
    rows, prev = [], None
    for r in range(im.height):
        row = data[r * per_row:(r + 1) * per_row].hex().upper()
        rows.append(":" if row == prev else _compress_row(row))
        prev = row
    return f"^GFA,{total},{total},{per_row},{''.join(rows)}"


def canvas_zpl(canvas: Canvas, dpi: int = 203, font: str = DEFAULT_ZPL_FONT, copies: int = 1) -> str:
    """ZPL II for `canvas`: ``^XA`` … ``^XZ``, UTF-8 (``^CI28``), one label of the canvas's size."""
    if dpi not in (152, 203, 300, 600):
        raise ValueError("Zebra print heads are 152, 203, 300 or 600 dpi")
    if "," in font or "^" in font:
        raise ValueError(f"bad printer font name {font!r}")
    d = lambda mm: _dots(mm, dpi)  # noqa: E731
    out = [
        "^XA",
        f"^FX {_comment(canvas.title or 'label')}; CJK text needs the TrueType font {font} on the printer",
        "^CI28",
        f"^PW{d(canvas.width)}",
        f"^LL{d(canvas.height)}",
        "^LH0,0",
    ]
    for item in canvas.items:
        if isinstance(item, Rect):
            w, h = max(1, d(item.w)), max(1, d(item.h))
            if item.fill is not None and _dark(item.fill):
                out.append(f"^FO{d(item.x)},{d(item.y)}^GB{w},{h},{min(w, h)},B^FS")
            if item.stroke is not None and item.line > 0:
                t = max(1, d(item.line))
                out.append(f"^FO{d(item.x)},{d(item.y)}^GB{w},{h},{min(t, w, h)},B^FS")
        elif isinstance(item, Text):
            if not item.text.strip():
                continue
            h = max(10, d(item.em))
            out.append(f"^FT{d(item.x)},{d(item.baseline)}^A@N,{h},{h},{font}{field_data(item.text)}")
        elif isinstance(item, QRBlock):
            side = d(item.size)
            n = len(qr_matrix(item.payload, item.error_correction))
            mag = max(1, min(10, side // (n + 2 * QUIET_ZONE)))
            off = (side - n * mag) // 2
            out.append(f"^FO{d(item.x) + off},{d(item.y) + off}^BQN,2,{mag}")
            out.append(field_data(f"{item.error_correction}A,{item.payload}"))
        elif isinstance(item, Pictogram):
            out.append(f"^FX hazard pictogram {item.code}")
            out.append(f"^FO{d(item.x)},{d(item.y)}{graphic_field(bitmap(item.code, max(8, d(item.size))))}^FS")
    out += [f"^PQ{max(1, int(copies))}", "^XZ"]
    return "\n".join(out) + "\n"
