"""Hazard-characteristic warning pictograms (危险特性警示图形) as vector shapes.

One pictogram per HJ 1276 hazard characteristic: T 毒性 (skull and crossbones), C 腐蚀性 (liquid from two test
tubes eating into a surface and a hand), I 易燃性 (flame over a bar), R 反应性 (exploding bomb), In 感染性
(biohazard). Each is a diamond (a square standing on a corner) with a red frame, a white ground and a black
symbol, the form of the GHS / GB 30000 pictograms; the frame colour is PICTOGRAM_FRAME (to verify against the
figures of HJ 1276-2022 appendix A).

A pictogram is a list of primitives in a unit square (origin top-left, y down), painted in order: polygons and
ellipses, each in one of three inks ("frame", "ground", "ink"). The PNG back-end draws them with Pillow, the PDF
back-end with fpdf2's path operators, and the ZPL back-end rasterises them to a 1-bit ^GF graphic, so all three
outputs show the same shapes.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageDraw

RGB = tuple[int, int, int]
Ink = Literal["frame", "ground", "ink"]

#: Frame colour of the pictograms (GHS red; to verify against HJ 1276-2022 appendix A).
PICTOGRAM_FRAME: RGB = (220, 0, 0)
PICTOGRAM_GROUND: RGB = (255, 255, 255)
PICTOGRAM_INK: RGB = (0, 0, 0)
INKS: dict[str, RGB] = {"frame": PICTOGRAM_FRAME, "ground": PICTOGRAM_GROUND, "ink": PICTOGRAM_INK}

FRAME_WIDTH = 0.06  # of the side, measured across the frame


@dataclass(frozen=True, slots=True)
class Poly:
    points: tuple[tuple[float, float], ...]
    ink: Ink = "ink"


@dataclass(frozen=True, slots=True)
class Ellipse:
    cx: float
    cy: float
    rx: float
    ry: float
    ink: Ink = "ink"


Shape = Poly | Ellipse


# ------------------------------------------------------------------------------------------ helpers


def _disc(cx: float, cy: float, r: float, ink: Ink = "ink") -> Ellipse:
    return Ellipse(cx, cy, r, r, ink)


def _bar(x0: float, y0: float, x1: float, y1: float, width: float, ink: Ink = "ink") -> Poly:
    """A straight bar of `width` from (x0, y0) to (x1, y1)."""
    dx, dy = x1 - x0, y1 - y0
    n = math.hypot(dx, dy) or 1.0
    ox, oy = -dy / n * width / 2, dx / n * width / 2
    return Poly(((x0 + ox, y0 + oy), (x1 + ox, y1 + oy), (x1 - ox, y1 - oy), (x0 - ox, y0 - oy)), ink)


def _rect(x0: float, y0: float, x1: float, y1: float, ink: Ink = "ink") -> Poly:
    return Poly(((x0, y0), (x1, y0), (x1, y1), (x0, y1)), ink)


def _diamond(inset: float, ink: Ink) -> Poly:
    """The diamond, its edges moved inwards by `inset` (so its corners move by inset·√2)."""
    h = 0.5 - inset * math.sqrt(2)
    return Poly(((0.5, 0.5 - h), (0.5 + h, 0.5), (0.5, 0.5 + h), (0.5 - h, 0.5)), ink)


def _star(cx: float, cy: float, outer: float, inner: float, spikes: int, turn: float = 0.0,
          ink: Ink = "ink") -> Poly:
    pts = []
    for i in range(2 * spikes):
        r = outer if i % 2 == 0 else inner
        a = math.pi * i / spikes + turn
        pts.append((cx + r * math.sin(a), cy - r * math.cos(a)))
    return Poly(tuple(pts), ink)


def _frame() -> list[Shape]:
    return [_diamond(0.0, "frame"), _diamond(FRAME_WIDTH, "ground")]


# ------------------------------------------------------------------------------------------ symbols


def _toxic() -> list[Shape]:
    """Skull and crossbones."""
    out: list[Shape] = []
    for (x0, y0), (x1, y1) in (((0.335, 0.575), (0.665, 0.715)), ((0.665, 0.575), (0.335, 0.715))):
        out.append(_bar(x0, y0, x1, y1, 0.05))
        dx, dy = x1 - x0, y1 - y0
        n = math.hypot(dx, dy)
        px, py = -dy / n * 0.028, dx / n * 0.028
        for ex, ey in ((x0, y0), (x1, y1)):
            out += [_disc(ex + px, ey + py, 0.03), _disc(ex - px, ey - py, 0.03)]
    out += [
        Ellipse(0.5, 0.415, 0.135, 0.125),  # cranium
        _rect(0.425, 0.46, 0.575, 0.585),  # jaw
        _disc(0.448, 0.43, 0.04, "ground"),  # eyes
        _disc(0.552, 0.43, 0.04, "ground"),
        Poly(((0.5, 0.475), (0.48, 0.515), (0.52, 0.515)), "ground"),  # nose
    ]
    out += [_rect(x, 0.545, x + 0.014, 0.585, "ground") for x in (0.457, 0.493, 0.529)]  # teeth
    return out


def _corrosive() -> list[Shape]:
    """Two test tubes pouring onto a surface and a hand, both eaten away."""
    out: list[Shape] = [
        _bar(0.335, 0.30, 0.445, 0.385, 0.065),  # left tube, mouth down to the right
        _bar(0.665, 0.30, 0.555, 0.385, 0.065),  # right tube, mouth down to the left
        _disc(0.455, 0.425, 0.018), _disc(0.46, 0.475, 0.022), _disc(0.455, 0.525, 0.016),
        _disc(0.545, 0.425, 0.018), _disc(0.54, 0.475, 0.022), _disc(0.545, 0.525, 0.016),
        _rect(0.29, 0.58, 0.475, 0.65),  # the surface…
        _disc(0.44, 0.58, 0.035, "ground"),  # …eaten away
        Poly(((0.525, 0.585), (0.58, 0.565), (0.66, 0.57), (0.71, 0.59), (0.71, 0.65), (0.525, 0.65))),  # a hand…
        _disc(0.565, 0.58, 0.032, "ground"),  # …eaten away
        _rect(0.60, 0.598, 0.71, 0.606, "ground"),  # fingers
        _rect(0.60, 0.622, 0.71, 0.630, "ground"),
    ]
    return out


def _flame() -> list[Shape]:
    """A flame over a bar."""
    outline = (
        (0.50, 0.665), (0.435, 0.655), (0.385, 0.62), (0.36, 0.565), (0.365, 0.50), (0.39, 0.445),
        (0.425, 0.395), (0.43, 0.33), (0.465, 0.37), (0.48, 0.42), (0.49, 0.35), (0.505, 0.29),
        (0.535, 0.215), (0.55, 0.29), (0.575, 0.35), (0.60, 0.405), (0.615, 0.35), (0.64, 0.42),
        (0.65, 0.50), (0.64, 0.575), (0.61, 0.625), (0.56, 0.655),
    )
    hollow = (
        (0.50, 0.635), (0.465, 0.625), (0.445, 0.585), (0.45, 0.535), (0.475, 0.49), (0.49, 0.44),
        (0.51, 0.49), (0.535, 0.525), (0.55, 0.575), (0.54, 0.615),
    )
    return [Poly(outline), Poly(hollow, "ground"), _rect(0.33, 0.69, 0.67, 0.73)]


def _exploding() -> list[Shape]:
    """An exploding bomb: a burst behind a bomb, and flying fragments."""
    out: list[Shape] = [_star(0.545, 0.45, 0.205, 0.09, 9, 0.15)]
    out += [_disc(0.45, 0.575, 0.112, "ground"), _disc(0.45, 0.575, 0.092)]
    out += [_bar(0.50, 0.505, 0.535, 0.47, 0.03)]  # the fuse
    for x, y, r in ((0.33, 0.40, 0.025), (0.31, 0.49, 0.018), (0.68, 0.58, 0.022), (0.62, 0.66, 0.016),
                    (0.40, 0.30, 0.018)):
        out.append(_star(x, y, r * 1.6, r * 0.7, 4, 0.4))
    return out


def _biohazard() -> list[Shape]:
    """The biohazard symbol: three open rings around a small ring, with gaps."""
    cx, cy, R = 0.5, 0.53, 0.23
    dirs = [(-90 + 120 * i) * math.pi / 180 for i in range(3)]
    out: list[Shape] = []
    for a in dirs:
        ux, uy = math.cos(a), math.sin(a)
        out.append(_disc(cx + ux * 0.46 * R, cy + uy * 0.46 * R, 0.54 * R))
    for a in dirs:
        ux, uy = math.cos(a), math.sin(a)
        out.append(_disc(cx + ux * 0.60 * R, cy + uy * 0.60 * R, 0.38 * R, "ground"))
    out.append(_disc(cx, cy, 0.40 * R, "ground"))
    out.append(_disc(cx, cy, 0.33 * R))  # the inner ring…
    out.append(_disc(cx, cy, 0.21 * R, "ground"))  # …around a white centre
    for a in dirs:  # the gaps where the inner ring meets each lobe
        ux, uy = math.cos(a), math.sin(a)
        out.append(_bar(cx + ux * 0.22 * R, cy + uy * 0.22 * R, cx + ux * 0.75 * R, cy + uy * 0.75 * R,
                        0.07 * R, "ground"))
    return out


_SYMBOLS = {"T": _toxic, "C": _corrosive, "I": _flame, "R": _exploding, "In": _biohazard}
CODES = tuple(_SYMBOLS)


@functools.cache
def pictogram(code: str) -> tuple[Shape, ...]:
    """The shapes of the pictogram for hazard characteristic `code` (T, C, I, R, In), frame first."""
    if code not in _SYMBOLS:
        raise ValueError(f"no pictogram for hazard characteristic {code!r}; expected one of {', '.join(CODES)}")
    return tuple(_frame() + _SYMBOLS[code]())


def polygon_points(shape: Poly, x: float, y: float, size: float) -> list[tuple[float, float]]:
    """The polygon's points placed in a square of side `size` at (x, y)."""
    return [(x + px * size, y + py * size) for px, py in shape.points]


def paint(draw: ImageDraw.ImageDraw, code: str, x: float, y: float, side: float, fills: dict[str, int]) -> None:
    """Paint pictogram `code` with Pillow into the square (x, y, side) in pixels; `fills` maps each ink to the
    image's fill value (a palette index, a grey level or a bit)."""
    for shape in pictogram(code):
        if isinstance(shape, Poly):
            draw.polygon([(x + px * side, y + py * side) for px, py in shape.points], fill=fills[shape.ink])
        else:
            draw.ellipse((x + (shape.cx - shape.rx) * side, y + (shape.cy - shape.ry) * side,
                          x + (shape.cx + shape.rx) * side, y + (shape.cy + shape.ry) * side), fill=fills[shape.ink])


def bitmap(code: str, side_px: int) -> Image.Image:
    """The pictogram as a 1-bit image of side `side_px`, for one-colour printers: 1 = print (the frame and the
    symbol), 0 = leave blank (the white ground)."""
    im = Image.new("1", (side_px, side_px), 0)
    paint(ImageDraw.Draw(im), code, 0, 0, side_px, {"frame": 1, "ground": 0, "ink": 1})
    return im
