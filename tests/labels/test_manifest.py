from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal

import pypdf
import pytest
import zxingcpp

from labels.manifest_pdf import ManifestSignature, local_time, render_manifest_pdf
from tests.labels.factories import make_line, make_manifest, squash

A4 = (595.28, 841.89)  # points


def _read(doc) -> pypdf.PdfReader:  # noqa: ANN001
    return pypdf.PdfReader(io.BytesIO(render_manifest_pdf(doc)))


def test_manifest_pdf_is_a4_with_number_parties_and_qr():
    doc = make_manifest(
        lines=(
            make_line(0, received_kg=Decimal("726"), acceptance="partially_refused", reason="1桶渗漏"),
            make_line(1, received_kg=Decimal("728.5"), acceptance="accepted"),
            make_line(2),
        )
    )
    reader = _read(doc)
    page = reader.pages[0]
    assert (float(page.mediabox.width), float(page.mediabox.height)) == pytest.approx(A4, abs=0.05)
    text = squash(page.extract_text())
    assert "危险废物转移联单" in text
    assert doc.number in text
    for party in (doc.originator, doc.hauler, doc.receiver):
        assert party.name in text and party.credit_code in text
    for expected in (
        doc.hauler.vehicle_plate,
        doc.hauler.driver,
        doc.hauler.permit_no,
        "运输中",
        "2025-03-05",
    ):
        assert squash(expected) in text
    assert "部分拒收：1桶渗漏" in text and "接受" in text
    assert "2185.5" in text  # shipped total: 3 × 728.5
    assert "1454.5" in text  # received total: 726 + 728.5
    assert "R9废油再提炼或再利用" in text
    assert doc.lines[0].digital_id in text
    images = page.images
    assert len(images) == 1
    assert [b.text for b in zxingcpp.read_barcodes(images[0].image.convert("L"))] == [doc.qr_payload]


def test_signature_times_are_beijing_time():
    text = squash(_read(make_manifest()).pages[0].extract_text())
    assert "2025-03-0509:30" in text  # 01:30 UTC
    assert "2025-03-0510:10" in text
    assert "36.65120,117.12000" in text


def test_local_time_takes_naive_as_utc():
    assert local_time(dt.datetime(2025, 12, 31, 16, 5)) == "2026-01-01 00:05"
    assert (
        local_time(dt.datetime(2025, 1, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
        == "2025-01-01 08:00"
    )


def test_many_lines_break_across_pages_with_number_on_every_page():
    doc = make_manifest(n_lines=45)
    reader = _read(doc)
    assert len(reader.pages) >= 3
    n = len(reader.pages)
    all_text = ""
    for i, page in enumerate(reader.pages, 1):
        text = squash(page.extract_text())
        assert doc.number in text
        assert f"第{i}页/共{n}页" in text
        assert "拟转移量" in text or i == n  # the heading row is repeated on each page the table spans
        all_text += text
    for i in range(45):
        assert f"废机油{i}" in all_text
    assert format(Decimal("728.5") * 45, "f") in all_text  # 32782.5
    assert "签字记录" in all_text and "备注" in all_text


def test_general_waste_manifest_and_cross_province_approval():
    doc = make_manifest(
        hazardous=False,
        lines=(
            make_line(
                0,
                waste_code="251-001-S03",
                category="S03",
                hazard=(),
                method_code="C2",
                method_name="生产建筑材料",
            ),
        ),
        cross_province_approval="鲁环危转〔2025〕12号",
        signatures=(ManifestSignature("接受人签收", "赵六", dt.datetime(2025, 3, 6, 3, 0, tzinfo=dt.UTC)),),
    )
    text = squash(_read(doc).pages[0].extract_text())
    assert "一般工业固体废物转移联单" in text and "危险废物转移联单" not in text
    assert "鲁环危转〔2025〕12号" in text
    assert "跨省转移审批文号" in text


def test_line_values_are_normalised():
    line = make_line(0, hazard="t,in", shipped_kg=12.25, received_kg="12")
    assert line.hazard == ("T", "In")
    assert line.shipped_kg == Decimal("12.25") and line.received_kg == Decimal("12")
    assert make_line(0, hazard="T/C/I").hazard == ("T", "C", "I")
    with pytest.raises(ValueError):
        make_line(0, hazard="T/X")


def test_a_draft_without_number_still_prints():
    doc = make_manifest(number="", qr_payload="https://gufei.example.gov.cn/m/draft-17", status="草稿")
    text = squash(_read(doc).pages[0].extract_text())
    assert "（未编号）" in text and "草稿" in text


# ------------------------------------------------------------------------------------------ the manifest PDF


@pytest.mark.parametrize(
    ("shipped", "received", "large"),
    [
        ("1000", "950", False),  # exactly 5 %: not more than
        ("1000", "949.9", True),  # more than 5 %
        ("1000", "1050.1", True),  # over, as well as under
        ("2000", "1950", False),  # 50 kg and 2.5 %
        ("2000", "1949.999", True),  # more than 50 kg, although under 5 %
        ("10", "9.6", False),  # 4 %
        ("10", "9.4", True),  # 6 % of a small drum
    ],
)
def test_large_difference_thresholds(shipped, received, large):
    from labels.manifest_pdf import large_difference

    line = make_line(0, shipped_kg=Decimal(shipped), received_kg=Decimal(received), acceptance="accepted")
    assert large_difference(line) is large


def test_a_line_not_yet_weighed_or_refused_unweighed_is_not_a_difference():
    from labels.manifest_pdf import large_difference

    assert not large_difference(make_line(0))
    assert not large_difference(make_line(0, received_kg=0, acceptance="refused", reason="包装破损"))
    assert large_difference(make_line(0, received_kg=100, acceptance="refused", reason="与联单不符"))


def test_thresholds_are_named_constants():
    from labels import manifest_pdf

    assert manifest_pdf.DIFFERENCE_SHARE == Decimal("0.05") and manifest_pdf.DIFFERENCE_KG == Decimal("50")


def test_method_text_shows_the_actual_method_only_when_it_differs():
    from labels.manifest_pdf import method_text

    assert method_text(make_line(0)) == "R9 废油再提炼或再利用"
    assert method_text(make_line(0, actual_methods=("R9",))) == "R9 废油再提炼或再利用"
    assert method_text(make_line(0, actual_methods=("D10",))) == "计划 R9 / 实际 D10"
    assert method_text(make_line(0, actual_methods=("R9", "D10", "R9"))) == "计划 R9 / 实际 R9、D10"


def test_receiver_licence_and_highlighted_line_in_the_pdf():
    from labels.manifest_pdf import DIFFERENCE_FILL, ReceiverParty

    receiver = ReceiverParty("淄博某某环保科技有限公司", "91370300MA3E7Z9012", licence_no="鲁危证37030001")
    doc = make_manifest(
        receiver=receiver,
        lines=(
            make_line(0, received_kg=Decimal("600"), acceptance="accepted", actual_methods=("D10",)),
            make_line(1, received_kg=Decimal("728"), acceptance="accepted"),
        ),
    )
    reader = _read(doc)
    text = squash(reader.pages[0].extract_text())
    assert "危险废物经营许可证编号——鲁危证37030001" in text
    assert "600※差-128.5" in text and "728※" not in text
    assert "计划R9/实际D10" in text
    assert "底色标出的行" in text
    assert "\x00" not in reader.pages[0].extract_text()  # every character is in the reduced (GB 2312) font
    content = reader.pages[0].get_contents().get_data().decode("latin-1")
    fills = {
        tuple(round(float(v) * 255) for v in m.groups())
        for m in re.finditer(r"([\d.]+) ([\d.]+) ([\d.]+) rg", content)
    }
    assert DIFFERENCE_FILL in fills


def test_no_legend_when_every_difference_is_small():
    doc = make_manifest(lines=(make_line(0, received_kg=Decimal("728"), acceptance="accepted"),))
    assert "底色标出的行" not in squash(_read(doc).pages[0].extract_text())
