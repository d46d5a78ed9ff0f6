from __future__ import annotations

import io
import math
from decimal import Decimal

import pypdf
import pytest
import zxingcpp
from PIL import Image, ImageChops

from labels import render
from labels.canvas import DESCENT, Pictogram, QRBlock, Rect, Text, width_mm
from labels.render import (
    GENERAL_ACCENT,
    HAZARDOUS_BACKGROUND,
    INK_HEIGHT_EM,
    format_kg,
    label_canvas,
    label_size_mm,
    min_text_height_mm,
    render_label_pdf,
    render_label_png,
    render_label_zpl,
)
from tests.labels.factories import make_label, open_png, squash

MM = 300 / 25.4  # pixels per mm at 300 dpi

LONG = dict(
    waste_name="含油废抹布、废手套及其他沾染矿物油的废弃包装物和容器（来自设备检修与清洗工段）" * 3,
    components="矿物油、润滑油添加剂、金属碎屑、乳化液、切削液、清洗剂残留、少量重金属（铅、铬、镉）" * 4,
    precautions="远离火源，防止泄漏，禁止与强氧化剂混放，搬运时佩戴防护手套和护目镜，泄漏时用吸附棉处理" * 3,
    unit_name="济南某某精密机械制造有限公司第二分公司（历城区工业园区）" * 3,
    contact="欧阳某某某某某某某某",
    phone="0531-88886666 转 8001 / 13800000000",
    hazard=("T", "C", "I", "R", "In"),
)


def decode(im: Image.Image) -> list:
    return zxingcpp.read_barcodes(im.convert("L"))


# ------------------------------------------------------------------------------------------ sizes


@pytest.mark.parametrize(
    ("volume", "side"),
    [
        (0, 100),
        (20, 100),
        (50, 100),
        (50.1, 150),
        (200, 150),
        (450, 150),
        (450.5, 200),
        (1000, 200),
        (None, 200),
    ],
)
def test_label_size_follows_hj1276(volume, side):
    assert label_size_mm(volume) == side


def test_unknown_volume_gets_the_largest_label():
    assert label_size_mm(math.nan) == 200


@pytest.mark.parametrize(("volume", "pixels"), [(30, 1181), (200, 1772), (1000, 2362), (None, 2362)])
def test_png_has_the_physical_size_at_300_dpi(volume, pixels):
    im = open_png(render_label_png(make_label(container_volume_l=volume)))
    assert im.size == (pixels, pixels)
    dpi = im.info["dpi"]
    assert dpi[0] == pytest.approx(300, abs=0.01)


def test_png_at_another_resolution():
    im = open_png(render_label_png(make_label(container_volume_l=30), dpi=600))
    assert im.size == (2362, 2362)


# ------------------------------------------------------------------------------------------ QR


@pytest.mark.parametrize("hazardous", [True, False])
@pytest.mark.parametrize("volume", [30, 200, 1000])
def test_png_qr_decodes_to_exactly_the_payload(hazardous, volume):
    data = make_label(hazardous=hazardous, container_volume_l=volume)
    found = decode(open_png(render_label_png(data)))
    assert [b.text for b in found] == [data.qr_payload]
    assert data.qr_payload == f"https://gufei.example.gov.cn/s/{data.digital_id}"
    assert len(data.digital_id) == (37 if hazardous else 38)


def test_qr_is_large_enough_on_the_smallest_label():
    data = make_label(container_volume_l=10)
    (block,) = [it for it in label_canvas(data).items if isinstance(it, QRBlock)]
    assert block.size >= 25  # with its quiet zone
    (code,) = decode(open_png(render_label_png(data)))
    p = code.position
    side_mm = math.dist((p.top_left.x, p.top_left.y), (p.top_right.x, p.top_right.y)) / MM
    assert side_mm >= 24  # the symbol itself, quiet zone excluded


def test_qr_still_decodes_with_long_content():
    data = make_label(container_volume_l=30, **LONG)
    assert [b.text for b in decode(open_png(render_label_png(data)))] == [data.qr_payload]


# ------------------------------------------------------------------------------------------ text


def _text_box(item: Text, dpi: int = 300) -> tuple[int, int, int, int]:
    s = dpi / 25.4
    w = width_mm(item.text, item.em, item.bold)
    return (
        int(item.x * s),
        int((item.baseline - 0.9 * item.em) * s),
        math.ceil((item.x + w) * s),
        math.ceil((item.baseline + DESCENT * item.em) * s),
    )


def test_chinese_text_is_actually_drawn_where_the_layout_says():
    a, b = make_label(waste_name="废机油"), make_label(waste_name="废乳化液")
    (item,) = [it for it in label_canvas(a).items if isinstance(it, Text) and it.text == "废机油"]
    box = _text_box(item)
    ima, imb = open_png(render_label_png(a)).convert("L"), open_png(render_label_png(b)).convert("L")
    crop = ima.crop(box)
    assert crop.getextrema()[0] < 64  # dark ink in the value's box
    assert ImageChops.difference(crop, imb.crop(box)).getbbox() is not None  # and it is the text that changed
    # everything outside that row is the same
    assert (
        ImageChops.difference(
            ima.crop((0, box[3] + 40, ima.width, ima.height)),
            imb.crop((0, box[3] + 40, ima.width, ima.height)),
        ).getbbox()
        is None
    )


@pytest.mark.parametrize(
    ("hazardous", "accent", "ground", "margin", "title"),
    [
        (True, HAZARDOUS_BACKGROUND, HAZARDOUS_BACKGROUND, HAZARDOUS_BACKGROUND, "危险废物"),  # orange all over
        (False, GENERAL_ACCENT, (255, 255, 255), (255, 255, 255), "一般工业固体废物"),  # white, green band
    ],
)
def test_header_colour_and_title(hazardous, accent, ground, margin, title):
    data = make_label(hazardous=hazardous)
    canvas = label_canvas(data)
    texts = [it.text for it in canvas.items if isinstance(it, Text)]
    assert texts[0] == title
    im = open_png(render_label_png(data)).convert("RGB")
    assert im.getpixel((int(50 * MM), int(2.6 * MM))) == accent
    assert im.getpixel((int(50 * MM), int(95 * MM))) == ground
    assert im.getpixel((int(0.5 * MM), int(50 * MM))) == margin
    assert im.getpixel((int(1.5 * MM), int(50 * MM))) == (0, 0, 0)  # 1 mm border


def test_hazard_pictograms_and_rows():
    canvas = label_canvas(make_label(hazard=("In", "t")))
    texts = [it.text for it in canvas.items if isinstance(it, Text)]
    assert [it.code for it in canvas.items if isinstance(it, Pictogram)] == ["T", "In"]
    assert "毒性(T)、感染性(In)" in texts
    for label in (
        "废物名称",
        "废物类别",
        "废物代码",
        "废物形态",
        "主要成分",
        "危险特性",
        "注意事项",
        "产生日期",
        "重量(kg)",
        "产生单位",
        "联系人",
        "联系电话",
        "数字识别码",
        "备注",
    ):
        assert label in texts, label
    assert "2025-03-01" in texts and "182.5" in texts and "0531-88886666" in texts
    assert make_label().digital_id in texts


def test_general_label_has_no_hazard_pictograms():
    canvas = label_canvas(make_label(hazardous=False))
    assert not [it for it in canvas.items if isinstance(it, Pictogram)]
    texts = [it.text for it in canvas.items if isinstance(it, Text)]
    assert "危险特性" not in texts
    assert not any(t.endswith("毒性") for t in texts)
    assert "S03 炉渣" in texts


def _check_layout(canvas) -> None:  # noqa: ANN001
    size = canvas.width
    inner = 2.0 * size / 100
    texts = [it for it in canvas.items if isinstance(it, Text)]
    (qr,) = [it for it in canvas.items if isinstance(it, QRBlock)]
    boxes = []
    for t in texts:
        w = width_mm(t.text, t.em, t.bold)
        top, bottom = t.baseline - 0.88 * t.em, t.baseline + DESCENT * t.em
        assert t.x >= inner and t.x + w <= size - inner + 1e-6, t
        assert top >= inner and bottom <= size - inner + 1e-6, t
        assert not (t.x < qr.x + qr.size and t.x + w > qr.x and top < qr.y + qr.size and bottom > qr.y), t
        boxes.append((t.x, top, t.x + w, bottom, t))
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            overlap = a[0] < b[2] - 1e-6 and b[0] < a[2] - 1e-6 and a[1] < b[3] - 1e-6 and b[1] < a[3] - 1e-6
            assert not overlap, (a[4], b[4])


@pytest.mark.parametrize("volume", [30, 200, 1000])
@pytest.mark.parametrize("hazardous", [True, False])
def test_long_texts_wrap_and_never_overflow(volume, hazardous):
    data = make_label(
        hazardous=hazardous, container_volume_l=volume, **(LONG if hazardous else {**LONG, "hazard": ()})
    )
    canvas = label_canvas(data)
    _check_layout(canvas)
    texts = [it.text for it in canvas.items if isinstance(it, Text)]
    assert any(t.endswith("…") for t in texts)  # something had to be cut
    assert data.digital_id in texts  # but never the ID
    minimum = min_text_height_mm(canvas.width)
    for t in canvas.items:
        if isinstance(t, Text) and t.text != data.digital_id:
            assert t.em * INK_HEIGHT_EM >= minimum, t  # HJ 1276 minimum character height


def test_a_moderately_long_name_wraps_without_loss():
    name = "含油废抹布、废手套及其他沾染矿物油的废弃包装物"
    canvas = label_canvas(make_label(waste_name=name, container_volume_l=30))
    _check_layout(canvas)
    texts = [it for it in canvas.items if isinstance(it, Text)]
    start = next(i for i, t in enumerate(texts) if t.text == "废物名称")
    end = next(i for i, t in enumerate(texts) if t.text == "废物类别")
    pieces = [t.text for t in texts[start + 1 : end]]
    assert len(pieces) >= 2
    assert "".join(pieces) == name


def test_typical_labels_lay_out_cleanly():
    for volume in (30, 200, 1000):
        for hazardous in (True, False):
            _check_layout(label_canvas(make_label(hazardous=hazardous, container_volume_l=volume)))


def test_missing_glyphs_are_replaced_not_tofu():
    canvas = label_canvas(make_label(waste_name="废油\U0001f6e2"))
    assert "废油〓" in [it.text for it in canvas.items if isinstance(it, Text)]


# ------------------------------------------------------------------------------------------ PDF


@pytest.mark.parametrize(("volume", "side"), [(30, 100), (1000, 200)])
def test_pdf_has_the_physical_size_text_and_qr(volume, side):
    data = make_label(container_volume_l=volume)
    reader = pypdf.PdfReader(io.BytesIO(render_label_pdf(data)))
    assert len(reader.pages) == 1
    page = reader.pages[0]
    assert float(page.mediabox.width) == pytest.approx(side / 25.4 * 72, abs=0.05)
    assert float(page.mediabox.height) == pytest.approx(side / 25.4 * 72, abs=0.05)
    text = squash(page.extract_text())
    for expected in (
        "危险废物",
        "废物名称",
        data.waste_name,
        data.digital_id,
        "济南某某精密机械制造有限公司",
    ):
        assert expected in text
    fonts = [f.get_object() for f in page["/Resources"]["/Font"].values()]
    assert any("CJK" in str(f["/BaseFont"]) for f in fonts)
    descendant = fonts[0]["/DescendantFonts"][0].get_object()
    descriptor = descendant["/FontDescriptor"].get_object()
    assert "/FontFile3" in descriptor or "/FontFile2" in descriptor  # embedded
    images = page.images
    assert len(images) == 1
    assert [b.text for b in decode(images[0].image)] == [data.qr_payload]


def test_pdf_with_a_character_outside_gb2312_embeds_the_full_face():
    data = make_label(unit_name="淄博堃昇新材料有限公司")  # 堃 and 昇 are not in GB 2312
    page = pypdf.PdfReader(io.BytesIO(render_label_pdf(data))).pages[0]
    assert "淄博堃昇新材料有限公司" in squash(page.extract_text())
    assert [b.text for b in decode(page.images[0].image)] == [data.qr_payload]


def test_pdf_re_renders_with_the_full_face_if_a_glyph_is_missing(monkeypatch):
    """Safety net: should the reduced font lack a character it claims, the PDF is redone with the full face."""
    from labels import fonts

    claimed = fonts.reduced_charset() | {ord("堃")}
    monkeypatch.setattr(fonts, "reduced_charset", lambda: claimed)
    page = pypdf.PdfReader(io.BytesIO(render_label_pdf(make_label(unit_name="淄博堃业公司")))).pages[0]
    assert "淄博堃业公司" in squash(page.extract_text())


# ------------------------------------------------------------------------------------------ ZPL


def test_zpl_structure_and_payload():
    data = make_label(container_volume_l=30)
    zpl = render_label_zpl(data)
    assert zpl.startswith("^XA")
    assert zpl.rstrip().endswith("^XZ")
    assert "^CI28" in zpl
    assert "^PW799" in zpl and "^LL799" in zpl  # 100 mm at 203 dpi
    assert "^BQN,2," in zpl
    assert f"^FDQA,{data.qr_payload}^FS" in zpl
    assert "^A@N," in zpl and "E:SIMSUN.TTF" in zpl
    assert "^FD危险废物^FS" in zpl and f"^FD{data.digital_id}^FS" in zpl
    assert zpl.count("^XA") == zpl.count("^XZ") == 1


def test_zpl_font_dpi_and_escaping():
    data = make_label(container_volume_l=1000, waste_name="A^B~C")
    zpl = render_label_zpl(data, dpi=300, font="R:NOTO.TTF", copies=2)
    assert "^PW2362" in zpl and "R:NOTO.TTF" in zpl and "SIMSUN" not in zpl
    assert "^FH\\^FDA\\5EB\\7EC^FS" in zpl
    assert "^PQ2" in zpl
    with pytest.raises(ValueError):
        render_label_zpl(data, dpi=250)


# ------------------------------------------------------------------------------------------ data


def test_label_data_normalises_and_validates():
    data = make_label(hazard=["i", "T", "IN"], net_kg=12.5)
    assert data.hazard == ("T", "I", "In")
    assert data.net_kg == Decimal("12.5")
    with pytest.raises(ValueError, match="unknown hazard"):
        make_label(hazard=("X",))
    with pytest.raises(ValueError, match="does not resolve"):
        make_label(qr_payload="https://gufei.example.gov.cn/s/SOMETHING-ELSE")


def test_format_kg():
    assert format_kg(Decimal("182.500")) == "182.5"
    assert format_kg(Decimal("1000")) == "1000"
    assert format_kg(Decimal("0.0004")) == "0"
    assert format_kg("3.14159") == "3.142"


def test_size_override_and_bounds():
    assert open_png(render_label_png(make_label(container_volume_l=30), size_mm=150)).size == (1772, 1772)
    with pytest.raises(ValueError):
        render.label_canvas(make_label(), size_mm=20)


def test_rect_items_stay_on_the_label():
    canvas = label_canvas(make_label(container_volume_l=30, **LONG))
    for it in canvas.items:
        if isinstance(it, Rect):
            assert it.x >= 0 and it.y >= 0
            assert it.x + it.w <= canvas.width + 1e-6 and it.y + it.h <= canvas.height + 1e-6
