"""Hazardous-waste labels: the orange ground all over, one warning pictogram per hazard characteristic (vector in
PNG and PDF, a ^GF bitmap in ZPL), black text that stays readable, and a QR code that still decodes."""

from __future__ import annotations

import io
import itertools
import re
import shutil
import subprocess
from collections import Counter

import pypdf
import pytest
import zxingcpp
from PIL import Image, ImageChops
from zebrafy import ZebrafyZPL

from labels.canvas import DESCENT, Pictogram, QRBlock, Rect, Text, width_mm
from labels.pictograms import CODES, PICTOGRAM_FRAME, bitmap, pictogram
from labels.render import (
    GENERAL_ACCENT,
    HAZARDOUS_BACKGROUND,
    PICTOGRAM_MIN,
    label_canvas,
    render_label_pdf,
    render_label_png,
    render_label_zpl,
)
from tests.labels.factories import make_label, open_png

MM = 300 / 25.4
ALL = ("T", "C", "I", "R", "In")
WHITE, BLACK = (255, 255, 255), (0, 0, 0)


def _pictos(canvas) -> list[Pictogram]:  # noqa: ANN001
    return [it for it in canvas.items if isinstance(it, Pictogram)]


def _crop(im: Image.Image, p: Pictogram, dpi: int = 300) -> Image.Image:
    s = dpi / 25.4
    return im.crop((round(p.x * s), round(p.y * s), round((p.x + p.size) * s), round((p.y + p.size) * s)))


def colours(im: Image.Image) -> Counter:
    """Pixel count per colour."""
    return Counter({colour: n for n, colour in im.getcolors(im.width * im.height)})


def set_bits(im: Image.Image) -> int:
    """How many pixels of a 1-bit image are set."""
    return im.convert("L").histogram()[255]


def _luminance(rgb: tuple[int, int, int]) -> float:
    def lin(c: int) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


# ------------------------------------------------------------------------------------------ the ground


def test_the_colour_is_one_constant():
    assert HAZARDOUS_BACKGROUND == (255, 150, 0)


def test_black_on_orange_is_readable():
    """WCAG contrast of black text on the label ground: at least 7 : 1 (the AAA level for normal text)."""
    ratio = (_luminance(HAZARDOUS_BACKGROUND) + 0.05) / (_luminance(BLACK) + 0.05)
    assert ratio >= 7, ratio


@pytest.mark.parametrize("volume", [30, 200, 1000])
def test_the_whole_hazardous_label_is_orange(volume):
    im = open_png(render_label_png(make_label(container_volume_l=volume, hazard=ALL))).convert("RGB")
    counts = colours(im)
    assert counts.most_common(1)[0][0] == HAZARDOUS_BACKGROUND
    assert counts[HAZARDOUS_BACKGROUND] > 0.55 * im.width * im.height
    w, h = im.size
    for x, y in ((2, 2), (w - 3, 2), (2, h - 3), (w - 3, h - 3), (w // 2, h - 3)):  # to the edges
        assert im.getpixel((x, y)) == HAZARDOUS_BACKGROUND
    # no white left but the QR's quiet zone square and the pictograms' grounds
    canvas = label_canvas(make_label(container_volume_l=volume, hazard=ALL))
    allowed = [it for it in canvas.items if isinstance(it, (QRBlock, Pictogram))]
    mask = Image.new("L", im.size, 0)
    for it in allowed:
        mask.paste(255, (round(it.x * MM), round(it.y * MM), round((it.x + it.size) * MM),
                         round((it.y + it.size) * MM)))
    stray = ImageChops.subtract(im.convert("L").point(lambda v: 255 if v == 255 else 0), mask)
    assert stray.getbbox() is None, stray.getbbox()


def test_text_is_black_on_orange_without_a_white_halo():
    data = make_label(container_volume_l=30)
    canvas = label_canvas(data)
    im = open_png(render_label_png(data)).convert("RGB")
    (item,) = [it for it in canvas.items if isinstance(it, Text) and it.text == "废物名称"]
    box = (int(item.x * MM), int((item.baseline - 0.9 * item.em) * MM),
           int((item.x + width_mm(item.text, item.em, True)) * MM), int((item.baseline + DESCENT * item.em) * MM))
    seen = set(colours(im.crop(box)))
    assert BLACK in seen and HAZARDOUS_BACKGROUND in seen
    # anti-aliasing blends black into orange only: every colour is a shade of the ground, none is grey or white
    for r, g, b in seen:
        assert b == 0 and abs(g - r * 150 / 255) <= 2, (r, g, b)


# ------------------------------------------------------------------------------------------ pictograms


@pytest.mark.parametrize("hazard", [("T",), ("C", "I"), ("T", "C", "I", "R", "In"), ("In",), ("R", "I")])
def test_one_pictogram_per_hazard_characteristic_in_the_header(hazard):
    for volume in (30, 200, 1000):
        canvas = label_canvas(make_label(container_volume_l=volume, hazard=hazard))
        pictos = _pictos(canvas)
        assert [p.code for p in pictos] == [c for c in ALL if c in hazard]
        k = canvas.width / 100
        (qr,) = [it for it in canvas.items if isinstance(it, QRBlock)]
        texts = [it for it in canvas.items if isinstance(it, Text)]
        first_row = min(t.baseline - 0.88 * t.em for t in texts[1:])  # the rows start under the header
        for p in pictos:
            assert p.size >= PICTOGRAM_MIN * k - 1e-9
            assert p.x >= 2 * k and p.x + p.size <= qr.x + 1e-9  # left of the QR, inside the border
            assert p.y + p.size <= first_row
            for t in texts:
                top, bottom = t.baseline - 0.88 * t.em, t.baseline + DESCENT * t.em
                right = t.x + width_mm(t.text, t.em, t.bold)
                assert not (t.x < p.x + p.size and right > p.x and top < p.y + p.size and bottom > p.y), t
        for a, b in itertools.combinations(pictos, 2):
            assert a.x + a.size <= b.x + 1e-9 or b.x + b.size <= a.x + 1e-9 or \
                a.y + a.size <= b.y + 1e-9 or b.y + b.size <= a.y + 1e-9


def test_the_five_pictograms_are_different_shapes():
    marks = {c: bitmap(c, 200) for c in CODES}
    assert set(CODES) == set(ALL)
    for a, b in itertools.combinations(CODES, 2):
        share = set_bits(ImageChops.logical_xor(marks[a], marks[b])) / (200 * 200)
        assert share > 0.03, (a, b, share)  # the symbols differ, not only the (shared) frame
    with pytest.raises(ValueError):
        pictogram("X")


def test_pictograms_are_drawn_in_the_png_red_frame_white_ground_black_symbol():
    data = make_label(container_volume_l=30, hazard=ALL)
    im = open_png(render_label_png(data)).convert("RGB")
    crops = []
    for p in _pictos(label_canvas(data)):
        crop = _crop(im, p)
        counts = colours(crop)
        for colour in (PICTOGRAM_FRAME, WHITE, BLACK, HAZARDOUS_BACKGROUND):  # the ground shows at the corners
            assert counts[colour] > 0.02 * crop.width * crop.height, (p.code, colour)
        # the same shapes as the pictogram drawn on its own
        ink = crop.convert("L").point(lambda v: 255 if v < 128 else 0).convert("1")
        alone = bitmap(p.code, crop.width).resize(crop.size)
        agree = crop.width * crop.height - set_bits(ImageChops.logical_xor(ink, alone))
        assert agree > 0.95 * crop.width * crop.height, p.code  # (edges may fall a pixel apart)
        crops.append(crop)
    assert len({c.tobytes() for c in crops}) == 5


@pytest.mark.parametrize("hazard", [("T", "I"), ALL])
@pytest.mark.parametrize("volume", [30, 200, 1000])
def test_qr_decodes_on_the_orange_label(volume, hazard):
    data = make_label(container_volume_l=volume, hazard=hazard)
    im = open_png(render_label_png(data))
    assert [b.text for b in zxingcpp.read_barcodes(im.convert("L"))] == [data.qr_payload]
    assert [b.text for b in zxingcpp.read_barcodes(im.convert("RGB"))] == [data.qr_payload]


def test_general_labels_keep_their_look():
    data = make_label(hazardous=False, container_volume_l=30)
    canvas = label_canvas(data)
    assert not _pictos(canvas) and canvas.colors == () and canvas.accent == GENERAL_ACCENT
    assert [it for it in canvas.items if isinstance(it, Rect)][0].fill == WHITE
    im = open_png(render_label_png(data)).convert("RGB")
    counts = colours(im)
    assert counts.most_common(1)[0][0] == WHITE
    assert HAZARDOUS_BACKGROUND not in counts and PICTOGRAM_FRAME not in counts
    assert im.getpixel((int(50 * MM), int(2.6 * MM))) == GENERAL_ACCENT


# ------------------------------------------------------------------------------------------ PDF


def _fills(page) -> set[tuple[int, int, int]]:  # noqa: ANN001
    """The fill colours a page sets (rg for colours, g for greys)."""
    content = page.get_contents().get_data().decode("latin-1")
    out = {tuple(round(float(v) * 255) for v in m.groups())
           for m in re.finditer(r"([\d.]+) ([\d.]+) ([\d.]+) rg\b", content)}
    return out | {(round(float(m.group(1)) * 255),) * 3 for m in re.finditer(r"(?<![\d.] )\b([\d.]+) g\b", content)}


def test_pdf_draws_the_pictograms_as_vector_paths():
    data = make_label(container_volume_l=30, hazard=ALL)
    page = pypdf.PdfReader(io.BytesIO(render_label_pdf(data))).pages[0]
    assert len(page.images) == 1  # the QR only: the pictograms are not images
    fills = _fills(page)
    assert {HAZARDOUS_BACKGROUND, PICTOGRAM_FRAME, WHITE, BLACK} <= fills
    content = page.get_contents().get_data().decode("latin-1")
    assert len(re.findall(r"\bf\b", content)) >= 5 * 8  # filled paths: frames, grounds and symbols


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs poppler-utils (pdftoppm)")
def test_pdf_as_printed_shows_orange_pictograms_and_a_decodable_qr(tmp_path):
    data = make_label(container_volume_l=30, hazard=ALL)
    pdf = tmp_path / "label.pdf"
    pdf.write_bytes(render_label_pdf(data))
    subprocess.run(["pdftoppm", "-r", "300", "-png", "-singlefile", str(pdf), str(tmp_path / "page")], check=True,
                   timeout=120)
    im = Image.open(tmp_path / "page.png").convert("RGB")
    assert [b.text for b in zxingcpp.read_barcodes(im)] == [data.qr_payload]
    assert colours(im).most_common(1)[0][0] == HAZARDOUS_BACKGROUND
    for p in _pictos(label_canvas(data)):
        crop = colours(_crop(im, p))
        red = sum(n for (r, g, b), n in crop.items() if r > 180 and g < 60 and b < 60)
        assert red > 0.05 * sum(crop.values()), p.code


# ------------------------------------------------------------------------------------------ ZPL


@pytest.mark.parametrize("dpi", [203, 300])
def test_zpl_sends_each_pictogram_as_a_graphic_field(dpi):
    data = make_label(container_volume_l=30, hazard=("T", "C", "In"))
    zpl = render_label_zpl(data, dpi=dpi)
    pictos = _pictos(label_canvas(data))
    fields = re.findall(r"\^FO(\d+),(\d+)\^GFA,(\d+),(\d+),(\d+),", zpl)
    assert len(fields) == 3
    images = ZebrafyZPL(zpl, dpi=dpi).to_images()  # an independent ZPL ^GF decoder
    assert len(images) == 3
    for p, (x, y, total, _, per_row), im in zip(pictos, fields, images, strict=True):
        side = round(p.size * dpi / 25.4)
        assert (int(x), int(y)) == (round(p.x * dpi / 25.4), round(p.y * dpi / 25.4))
        assert int(total) == int(per_row) * side and im.height == side
        # zebrafy shows printed dots black; compare with the pictogram rasterised at that size
        printed = im.convert("L").point(lambda v: 255 if v < 128 else 0).crop((0, 0, side, side)).convert("1")
        assert ImageChops.logical_xor(printed, bitmap(p.code, side)).getbbox() is None, p.code
    assert "^GFA" not in render_label_zpl(make_label(hazardous=False))


def test_zpl_graphic_fields_are_compressed():
    zpl = render_label_zpl(make_label(container_volume_l=1000, hazard=ALL), dpi=300)
    for total, data in re.findall(r"\^GFA,(\d+),\d+,\d+,([^\^]*)\^FS", zpl):
        assert len(data) < 2 * int(total) / 4  # well under the plain hex size
