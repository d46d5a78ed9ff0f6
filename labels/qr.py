"""QR payloads and matrices.

The `qrcode` package encodes; choosing the mask is done here because qrcode's own search re-places the
data for each of the 8 masks in pure Python (~10 ms, a third of a label's budget). The symbol is encoded
once with mask 0, the 8 candidates are derived by XOR on the data modules with the new format bits, and the
one with the lowest ISO/IEC 18004 penalty (N1–N4) wins — the same rule, a few times faster. If qrcode's
internals ever change shape, a self-check notices and qrcode's own search is used.
"""

from __future__ import annotations

import functools

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


def _pack(grid, n: int, transpose: bool = False) -> int:
    """A symbol as one integer: module (r, c) is bit r*n + c (bit c*n + r when transposed)."""
    rows = zip(*grid, strict=True) if transpose else grid
    return int("".join("".join("1" if v else "0" for v in reversed(row)) for row in reversed(list(rows))), 2)


def _mask_grid(n: int, pred) -> list[list[bool]]:
    return [[bool(pred(r, c)) for c in range(n)] for r in range(n)]


@functools.lru_cache(maxsize=128)
def _structure(version: int, level: int) -> tuple:
    """Per orientation (rows, columns): data-module mask, format-info mask, format values and mask flips
    for each of the 8 masks — all as packed integers, cached per (version, level)."""
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
    data = [[c is None for c in row] for row in q.modules]
    fmt = [
        [c is not None and not b for c, b in zip(row, brow, strict=True)]
        for row, brow in zip(q.modules, before, strict=True)
    ]
    values = []
    for m in range(8):
        q.modules = [[False] * n for _ in range(n)]
        q.setup_type_info(False, m)
        values.append(
            [
                [bool(v) and f for v, f in zip(row, frow, strict=True)]
                for row, frow in zip(q.modules, fmt, strict=True)
            ]
        )
    f0 = mask_func(0)
    flips = [_mask_grid(n, lambda r, c, fm=mask_func(m): f0(r, c) != fm(r, c)) for m in range(8)]
    out = []
    for t in (False, True):
        out.append(
            (
                _pack(data, n, t),
                _pack(fmt, n, t),
                tuple(_pack(v, n, t) for v in values),
                tuple(_pack(f, n, t) for f in flips),
            )
        )
    return tuple(out)


@functools.lru_cache(maxsize=64)
def _windows(n: int) -> tuple[int, int, int]:
    """Bits p whose neighbour p+1 (resp. p+1..p+10) is on the same line, and 2x2 block origins."""
    pair = _pack(_mask_grid(n, lambda r, c: c <= n - 2), n)
    eleven = _pack(_mask_grid(n, lambda r, c: c <= n - 11), n)
    block = _pack(_mask_grid(n, lambda r, c: c <= n - 2 and r <= n - 2), n)
    return pair, eleven, block


_FINDER_LIKE = ("10111010000", "00001011101")


def penalty(rows: int, cols: int, n: int) -> int:
    """ISO/IEC 18004 mask penalty (N1 + N2 + N3 + N4) of a symbol packed by rows and by columns."""
    pair, eleven, block = _windows(n)
    p = 0
    for b in (rows, cols):
        same = ~(b ^ (b >> 1)) & pair
        run5 = same & (same >> 1) & (same >> 2) & (same >> 3)  # 5 equal modules starting here
        p += run5.bit_count() + 2 * (run5 & ~(run5 << 1)).bit_count()  # N1: 3 + (length - 5) per run
        for pattern in _FINDER_LIKE:  # N3
            match = eleven
            for k, bit in enumerate(pattern):
                match &= (b >> k) if bit == "1" else ~(b >> k)
            p += 40 * match.bit_count()
    same_h = ~(rows ^ (rows >> 1))
    p += 3 * (same_h & (same_h >> n) & ~(rows ^ (rows >> n)) & block).bit_count()  # N2
    p += 10 * (abs(rows.bit_count() * 100 // (n * n) - 50) // 5)  # N4
    return p


def _candidates(qr: qrcode.QRCode) -> tuple[list[int], list[int]]:
    """The symbol (made with mask 0) under each of the 8 masks, packed by rows and by columns."""
    n = qr.modules_count
    out = []
    for transposed in (False, True):
        data, fmt, values, flips = _structure(qr.version, qr.error_correction)[transposed]
        base = _pack(qr.modules, n, transposed)
        cands = [((base ^ (flips[m] & data)) & ~fmt) | values[m] for m in range(8)]
        if cands[0] != base:
            raise RuntimeError("qrcode internals changed")
        out.append(cands)
    return out[0], out[1]


def _unpack(bits: int, n: int) -> Matrix:
    s = format(bits, f"0{n * n}b")[::-1]
    return tuple(tuple(ch == "1" for ch in s[r * n : (r + 1) * n]) for r in range(n))


def _choose_mask(qr: qrcode.QRCode) -> Matrix:
    n = qr.modules_count
    rows, cols = _candidates(qr)
    best = min(range(8), key=lambda m: (penalty(rows[m], cols[m], n), m))
    return _unpack(rows[best], n)


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
    try:
        return _choose_mask(_encode(payload, level, 0))
    except (AttributeError, TypeError, RuntimeError):  # pragma: no cover - only if qrcode's internals move
        qr = _encode(payload, level, None)
        return tuple(tuple(bool(v) for v in row) for row in qr.modules)


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
