"""A tiny display list in millimetres, and text measuring/wrapping on the CJK font's own advances.

Layouts (labels, cards) are computed once into a :class:`Canvas`; the PNG, PDF and ZPL back-ends only draw
it, so the three outputs have the same geometry. Coordinates: origin top-left, y down, millimetres. Text is
placed by its baseline; CJK ideographs span about 0.88 em above and 0.12 em below it.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import fonts

RGB = tuple[int, int, int]
BLACK: RGB = (0, 0, 0)
WHITE: RGB = (255, 255, 255)
RULE: RGB = (110, 110, 110)  # thin separators

ASCENT = 0.88  # ideographic em box above the baseline, in em
DESCENT = 0.12
ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class Rect:
    """A rectangle; the stroke (if any) is drawn inside the bounds."""

    x: float
    y: float
    w: float
    h: float
    fill: RGB | None = None
    stroke: RGB | None = None
    line: float = 0.0


@dataclass(frozen=True, slots=True)
class Text:
    """One line of text, already wrapped and sanitised; `em` is the font size in mm."""

    x: float
    baseline: float
    text: str
    em: float
    bold: bool = False


@dataclass(frozen=True, slots=True)
class QRBlock:
    """A QR symbol centred in a white square of side `size` mm that also holds the quiet zone."""

    x: float
    y: float
    size: float
    payload: str
    error_correction: str = "Q"


@dataclass(frozen=True, slots=True)
class Pictogram:
    """A hazard-characteristic warning pictogram (:mod:`labels.pictograms`) in the square (x, y, size)."""

    x: float
    y: float
    size: float
    code: str  # T, C, I, R, In


Item = Rect | Text | QRBlock | Pictogram


@dataclass(frozen=True)
class Canvas:
    width: float
    height: float
    accent: RGB  # the non-grey colour the canvas's text may stand on (label background or header band)
    items: tuple[Item, ...]
    title: str = ""
    colors: tuple[RGB, ...] = ()  # up to two further solid colours (pictogram frames); no text stands on them

    def chars(self) -> set[str]:
        return {c for it in self.items if isinstance(it, Text) for c in it.text}


# ------------------------------------------------------------------------------------------- measuring


def width_em(text: str, bold: bool = False) -> float:
    """Advance width of `text` in em."""
    adv = fonts.advance_em
    return sum(adv(c, bold) for c in text)


def width_mm(text: str, em: float, bold: bool = False) -> float:
    return width_em(text, bold) * em


_CLOSE = set("，。、；：？！）》」』】〕〉’”%‰℃,.;:?!)]}…·")
_OPEN = set("（《「『【〔〈‘“([{")


def _is_word_char(c: str) -> bool:
    o = ord(c)
    return (o < 0x2E80 and not c.isspace() and c not in _CLOSE and c not in _OPEN) or c in "-_/."


def _units(text: str) -> list[str]:
    """Breakable units: runs of Latin letters/digits stay together, each CJK character stands alone,
    closing punctuation sticks to what precedes it and opening punctuation to what follows."""
    units: list[str] = []
    pending_open = ""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in _OPEN:
            pending_open += c
            i += 1
            continue
        if c.isspace():
            if pending_open:
                units.append(pending_open)
                pending_open = ""
            units.append(" ")
            i += 1
            continue
        if c in _CLOSE and units and units[-1] != " " and not pending_open:
            units[-1] += c
            i += 1
            continue
        j = i + 1
        if _is_word_char(c):
            while j < n and _is_word_char(text[j]):
                j += 1
        units.append(pending_open + text[i:j])
        pending_open = ""
        i = j
    if pending_open:
        units.append(pending_open)
    return units


def _split_long(unit: str, limit_em: float, bold: bool) -> list[str]:
    parts, cur, w = [], "", 0.0
    for c in unit:
        a = fonts.advance_em(c, bold)
        if cur and w + a > limit_em:
            parts.append(cur)
            cur, w = "", 0.0
        cur += c
        w += a
    if cur:
        parts.append(cur)
    return parts


def wrap(
    text: str, width: float, em: float, bold: bool = False, units: tuple[str, ...] | None = None
) -> list[str]:
    """Break `text` into lines no wider than `width` mm at font size `em` mm (explicit newlines kept).

    `units`, if given, are the pieces `text` is made of and may be broken between (and only inside one
    that is wider than a line)."""
    limit = width / em if em > 0 else 0.0
    lines: list[str] = []
    for para in [text] if units is not None else text.split("\n"):
        cur, w = "", 0.0
        for unit in list(units) if units is not None else _units(para.strip()):
            uw = width_em(unit, bold)
            if unit == " ":
                if cur:
                    cur, w = cur + unit, w + uw
                continue
            if w + uw <= limit:
                cur, w = cur + unit, w + uw
                continue
            if cur.strip():
                lines.append(cur.rstrip())
            cur, w = "", 0.0
            if uw <= limit:
                cur, w = unit, uw
            else:
                pieces = _split_long(unit, limit, bold)
                lines.extend(pieces[:-1])
                cur, w = pieces[-1], width_em(pieces[-1], bold)
        lines.append(cur.rstrip())
    while len(lines) > 1 and not lines[-1]:
        lines.pop()
    return lines


def truncate(line: str, width: float, em: float, bold: bool = False) -> str:
    """`line` shortened with an ellipsis so that it fits `width` mm."""
    if width_mm(line, em, bold) <= width:
        return line
    limit = width / em - fonts.advance_em(ELLIPSIS, bold)
    out, w = "", 0.0
    for c in line:
        a = fonts.advance_em(c, bold)
        if w + a > limit:
            break
        out, w = out + c, w + a
    return out.rstrip() + ELLIPSIS


def wrap_lines(
    text: str,
    width: float,
    em: float,
    bold: bool = False,
    max_lines: int | None = None,
    units: tuple[str, ...] | None = None,
) -> list[str]:
    """`wrap`, then cut to `max_lines` with an ellipsis on the last kept line."""
    lines = wrap(text, width, em, bold, units)
    if max_lines is not None and len(lines) > max_lines:
        kept = lines[:max_lines]
        kept[-1] = truncate(kept[-1] + ELLIPSIS, width, em, bold)  # keeps the ellipsis if it fits
        return kept
    return lines


def fit_em(text: str, width: float, em: float, bold: bool = False, min_em: float = 0.0) -> float:
    """The largest size ≤ `em` (and ≥ `min_em`) at which `text` fits `width` on one line."""
    w = width_em(text, bold)
    if w * em <= width or w == 0:
        return em
    return max(min_em, width / w)
