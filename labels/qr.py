"""QR payloads and matrices.

The `qrcode` package encodes; choosing the mask is done here because qrcode's own search re-places the
data for each of the 8 masks in pure Python (~10 ms, a third of a label's budget). The symbol is encoded
once with mask 0, the 8 candidates are derived by XOR on the data modules with the new format bits, and the
one with the lowest ISO/IEC 18004 penalty (N1–N4) wins — the same rule, a few times faster. If qrcode's
internals ever change shape, a self-check notices and qrcode's own search is used.
"""

from __future__ import annotations

import functools
import re

import qrcode
from PIL import Image
from qrcode.constants import ERROR_CORRECT_H, ERROR_CORRECT_L, ERROR_CORRECT_M, ERROR_CORRECT_Q
from qrcode.util import mask_func

#: Labels live on drums and bags that get dirty: level Q restores up to ~25 % damaged modules.
LABEL_ERROR_CORRECTION = "Q"
QUIET_ZONE = 4  # modules, the minimum ISO/IEC 18004 asks for

_LEVELS = {"L": ERROR_CORRECT_L, "M": ERROR_CORRECT_M, "Q": ERROR_CORRECT_Q, "H": ERROR_CORRECT_H}

Matrix = tuple[tuple[bool, ...], ...]


def scan_url(public_url: str, digital_id: str) -> str:
    """The label's QR payload: ``{public_url}/s/{digital_id}`` (public contract v1)."""
    return public_url.rstrip("/") + "/s/" + digital_id


def _bits(row: list) -> int:
    v = 0
    for cell in row:
        v = (v << 1) | (1 if cell else 0)
    return v


@functools.lru_cache(maxsize=128)
def _structure(version: int, level: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """Per row, as bit masks: data modules, format-info modules; and per mask the format-info values."""
    n = version * 4 + 17
    q = qrcode.QRCode(version=version, error_correction=level, border=0)
    q.modules_count = n
    q.modules = [[None] * n for _ in range(n)]
    q.setup_position_probe_pattern(0, 0)
    q.setup_position_probe_pattern(n - 7, 0)
    q.setup_position_probe_pattern(0, n - 7)
    q.setup_position_adjust_pattern()
    q.setup_timing_pattern()
    if version >= 7:
        q.setup_type_number(False)
    before = [[c is not None for c in row] for row in q.modules]
    q.setup_type_info(True, 0)
    after = [[c is not None for c in row] for row in q.modules]
    data = tuple(_bits([not c for c in row]) for row in after)
    fmt = tuple(_bits([a and not b for a, b in zip(ra, rb, strict=True)]) for ra, rb in zip(after, before, strict=True))
    values = []
    for m in range(8):
        q.modules = [[False] * n for _ in range(n)]
        q.setup_type_info(False, m)
        values.append(tuple(_bits(row) & f for row, f in zip(q.modules, fmt, strict=True)))
    return data, fmt, tuple(values)


@functools.lru_cache(maxsize=128)
def _flips(version: int) -> tuple[tuple[int, ...], ...]:
    """Per mask m, per row: the modules where mask m and mask 0 differ."""
    n = version * 4 + 17
    f0 = mask_func(0)
    out = []
    for m in range(8):
        fm = mask_func(m)
        out.append(tuple(_bits([f0(r, c) != fm(r, c) for c in range(n)]) for r in range(n)))
    return tuple(out)


_RUNS = re.compile(r"0{5,}|1{5,}")


def penalty(rows: list[str]) -> int:
    """ISO/IEC 18004 mask penalty of a symbol given as rows of '0'/'1'."""
    n = len(rows)
    p = 0
    for line in rows + ["".join(col) for col in zip(*rows, strict=True)]:
        for run in _RUNS.findall(line):
            p += len(run) - 2  # N1: 3 + (length - 5)
        p += 40 * (line.count("10111010000") + line.count("00001011101"))  # N3
    ints = [int(r, 2) for r in rows]
    edge = (1 << (n - 1)) - 1
    for a, b in zip(ints, ints[1:], strict=False):  # N2: 2x2 blocks of one colour
        same_v = ~(a ^ b)
        p += 3 * bin(same_v & (same_v >> 1) & ~(a ^ (a >> 1)) & edge).count("1")
    dark = sum(r.count("1") for r in rows)
    p += 10 * (abs(dark * 100 // (n * n) - 50) // 5)  # N4
    return p


def _candidates(qr: qrcode.QRCode) -> list[list[str]]:
    """The symbol under each of the 8 masks, as rows of '0'/'1' (qr was made with mask 0)."""
    n = qr.modules_count
    data, fmt, values = _structure(qr.version, qr.error_correction)
    base = [_bits(row) for row in qr.modules]
    out = []
    for m, flips in enumerate(_flips(qr.version)):
        rows = []
        for r in range(n):
            v = base[r] ^ (flips[r] & data[r])
            v = (v & ~fmt[r]) | values[m][r]
            rows.append(format(v, f"0{n}b"))
        out.append(rows)
    if [int(r, 2) for r in out[0]] != base:
        raise RuntimeError("qrcode internals changed")
    return out


def _encode(payload: str, level: int, mask: int | None) -> qrcode.QRCode:
    qr = qrcode.QRCode(error_correction=level, border=0, mask_pattern=mask)
    qr.add_data(payload)
    qr.make(fit=True)
    return qr


@functools.lru_cache(maxsize=1024)
def qr_matrix(payload: str, error_correction: str = LABEL_ERROR_CORRECTION) -> Matrix:
    """Dark-module matrix (rows of booleans) of the smallest QR symbol for `payload`, without quiet zone."""
    if not payload:
        raise ValueError("empty QR payload")
    level = _LEVELS[error_correction.upper()]
    qr = _encode(payload, level, 0)
    try:
        cands = _candidates(qr)
    except Exception:  # pragma: no cover - only if qrcode's internals move
        qr = _encode(payload, level, None)
        return tuple(tuple(bool(v) for v in row) for row in qr.modules)
    best = min(range(8), key=lambda m: (penalty(cands[m]), m))
    return tuple(tuple(c == "1" for c in row) for row in cands[best])


def qr_image(
    payload: str, box_size: int = 10, border: int = QUIET_ZONE, error_correction: str = LABEL_ERROR_CORRECTION
) -> Image.Image:
    """A 1-bit image: `box_size` pixels per module, `border` light modules of quiet zone around it."""
    matrix = qr_matrix(payload, error_correction)
    n = len(matrix)
    side = n + 2 * border
    rows = bytearray(b"\xff" * (side * side))
    for y, row in enumerate(matrix):
        base = (y + border) * side + border
        for x, dark in enumerate(row):
            if dark:
                rows[base + x] = 0
    img = Image.frombytes("L", (side, side), bytes(rows))
    if box_size != 1:
        img = img.resize((side * box_size, side * box_size), Image.Resampling.NEAREST)
    return img.convert("1", dither=Image.Dither.NONE)
