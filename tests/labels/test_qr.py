from __future__ import annotations

import random
import string

import pytest
import qrcode
import zxingcpp
from PIL import Image

from labels import qr


def _image(matrix, quiet: int = 4, scale: int = 4) -> Image.Image:  # noqa: ANN001
    n = len(matrix)
    side = n + 2 * quiet
    im = Image.new("L", (side, side), 255)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                im.putpixel((x + quiet, y + quiet), 0)
    return im.resize((side * scale, side * scale), Image.Resampling.NEAREST)


def _decode(im: Image.Image) -> str:
    found = zxingcpp.read_barcodes(im.convert("L"))
    assert found, "no QR code found"
    return found[0].text


def test_scan_url_joins_with_one_slash():
    assert qr.scan_url("https://x.gov.cn/", "ABC") == "https://x.gov.cn/s/ABC"
    assert qr.scan_url("https://x.gov.cn", "ABC") == "https://x.gov.cn/s/ABC"
    assert qr.scan_url("https://x.gov.cn/ledger//", "ABC") == "https://x.gov.cn/ledger/s/ABC"


def test_qr_image_has_quiet_zone_and_module_size():
    payload = "https://gufei.example.gov.cn/s/91370100MA3C5X12349002490820250301001"
    n = len(qr.qr_matrix(payload))
    im = qr.qr_image(payload, box_size=5, border=4)
    assert im.size == ((n + 8) * 5, (n + 8) * 5)
    assert im.mode == "1"
    border = im.crop((0, 0, im.width, 4 * 5)).convert("L")
    assert border.getextrema() == (255, 255)  # quiet zone is light
    assert _decode(im) == payload


@pytest.mark.parametrize("level", ["L", "M", "Q", "H"])
def test_every_mask_candidate_decodes(level):
    """The 8 re-masked symbols (the fast mask choice) must all be valid QR codes."""
    rnd = random.Random(level)
    payloads = ["https://gufei.example.gov.cn/s/91370100MA3C5X12349002490820250301001"]
    payloads += ["".join(rnd.choices(string.ascii_letters + string.digits, k=k)) for k in (3, 150, 320)]
    for payload in payloads:
        sym = qrcode.QRCode(error_correction=qr._LEVELS[level], border=0, mask_pattern=0)
        sym.add_data(payload)
        sym.make(fit=True)
        rows, _cols = qr._candidates(sym)
        for m in range(8):
            assert _decode(_image(qr._unpack(rows[m], sym.modules_count))) == payload, (payload, m)


def _reference_penalty(matrix) -> int:  # noqa: ANN001
    n = len(matrix)
    p = 0
    for line in [list(r) for r in matrix] + [list(c) for c in zip(*matrix, strict=True)]:
        run = 1
        for i in range(1, n + 1):
            if i < n and line[i] == line[i - 1]:
                run += 1
            else:
                p += run - 2 if run >= 5 else 0
                run = 1
        s = "".join("1" if v else "0" for v in line)
        p += 40 * sum(s[i : i + 11] in ("10111010000", "00001011101") for i in range(n - 10))
    for r in range(n - 1):
        for c in range(n - 1):
            p += 3 * (matrix[r][c] == matrix[r][c + 1] == matrix[r + 1][c] == matrix[r + 1][c + 1])
    dark = sum(map(sum, matrix))
    return p + 10 * (abs(dark * 100 // (n * n) - 50) // 5)


def test_penalty_matches_a_plain_implementation():
    sym = qrcode.QRCode(error_correction=qr._LEVELS["Q"], border=0, mask_pattern=0)
    sym.add_data("https://gufei.example.gov.cn/s/91370100MA3C5X12349002490820250301001")
    sym.make(fit=True)
    rows, cols = qr._candidates(sym)
    n = sym.modules_count
    for m in range(8):
        assert qr.penalty(rows[m], cols[m], n) == _reference_penalty(qr._unpack(rows[m], n))


def test_chosen_matrix_is_the_lowest_penalty_one():
    payload = "https://gufei.example.gov.cn/s/91370100MA3C5X12349002490820250301002"
    matrix = qr.qr_matrix(payload, "Q")
    sym = qrcode.QRCode(error_correction=qr._LEVELS["Q"], border=0, mask_pattern=0)
    sym.add_data(payload)
    sym.make(fit=True)
    rows, _ = qr._candidates(sym)
    penalties = [_reference_penalty(qr._unpack(r, sym.modules_count)) for r in rows]
    assert _reference_penalty(matrix) == min(penalties)


def test_empty_payload_is_refused():
    with pytest.raises(ValueError):
        qr.qr_matrix("")
