from __future__ import annotations

import io

import pypdf
import pytest
import zxingcpp

from labels import FacilityCardData, render_facility_card_pdf, render_facility_card_png
from labels.canvas import Text, width_mm
from labels.facility import facility_card_canvas
from tests.labels.factories import open_png, squash


def card(**kw) -> FacilityCardData:  # noqa: ANN003
    data = dict(
        facility_code="F-370100-0012",
        facility_name="一号危险废物贮存库（东厂区）",
        kind_label="贮存库",
        unit_name="济南某某精密机械制造有限公司",
        qr_payload="https://gufei.example.gov.cn/f/12",
    )
    data.update(kw)
    return FacilityCardData(**data)


def test_card_png_size_and_qr():
    data = card()
    im = open_png(render_facility_card_png(data))
    assert im.size == (1181, 1654)  # 100 x 140 mm at 300 dpi
    assert [b.text for b in zxingcpp.read_barcodes(im.convert("L"))] == [data.qr_payload]


def test_card_shows_kind_name_code_and_unit():
    texts = [it.text for it in facility_card_canvas(card()).items if isinstance(it, Text)]
    for expected in (
        "贮存库",
        "一号危险废物贮存库（东厂区）",
        "F-370100-0012",
        "济南某某精密机械制造有限公司",
    ):
        assert expected in texts


def test_card_long_name_is_cut_to_two_lines_inside_the_card():
    canvas = facility_card_canvas(card(facility_name="一号危险废物贮存库" * 8))
    for it in canvas.items:
        if isinstance(it, Text):
            assert it.x + width_mm(it.text, it.em, it.bold) <= canvas.width - 2


def test_card_pdf():
    data = card()
    page = pypdf.PdfReader(io.BytesIO(render_facility_card_pdf(data))).pages[0]
    assert float(page.mediabox.width) == pytest.approx(100 / 25.4 * 72, abs=0.05)
    assert float(page.mediabox.height) == pytest.approx(140 / 25.4 * 72, abs=0.05)
    assert "一号危险废物贮存库" in squash(page.extract_text())
    assert [b.text for b in zxingcpp.read_barcodes(page.images[0].image.convert("L"))] == [data.qr_payload]
