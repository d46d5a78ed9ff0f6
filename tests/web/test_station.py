"""The weighing station at 1366×768, with the keyboard alone: log in, record a batch stored at once (即入库), the
label appears and prints at its physical size; scan the label and take the batch out of storage."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import select

from ledger.batches import Batch
from ledger.journal import JournalRecord
from tests.conftest import make_user, setup_plant
from tests.web.conftest import login, shoot, wait_js


def focused(page) -> str:  # noqa: ANN001
    return page.evaluate("document.activeElement.id")


def focus_is_visible(page) -> bool:  # noqa: ANN001
    return page.evaluate("getComputedStyle(document.activeElement).outlineStyle") not in ("none", "")


def test_operator_records_a_batch_with_the_keyboard_and_the_label_appears(new_context, client, admin, session):
    plant = setup_plant(client, admin, session)
    make_user(session, role="operator", unit_id=plant["unit"]["id"], username="op-station")
    page = new_context("desktop").new_page()
    login(page, "op-station", keyboard=True)
    assert page.url.endswith("/station")
    shoot(page, "station", "desktop")

    kb = page.keyboard
    assert focused(page) == "waste_code" and page.input_value("#waste_code") == "900-249-08"  # planned code first
    assert focus_is_visible(page)
    kb.press("Tab")
    assert focused(page) == "name"
    kb.press("Control+A")
    kb.type("废机油")
    kb.press("Tab")
    kb.press("ArrowDown")
    kb.press("ArrowDown")  # 固态 → 半固态 → 液态
    assert page.input_value("#form") == "液态"
    kb.press("Tab")
    assert focused(page) == "facility_id" and focus_is_visible(page)
    kb.press("Tab")
    assert focused(page) == "container_type"
    kb.press("Tab")
    kb.press("Tab")
    assert focused(page) == "container_volume_l"
    kb.type("200")  # a 200 L drum: a 150 mm label (HJ 1276)
    kb.press("Tab")
    assert focused(page) == "gross_kg"
    kb.type("182.5")
    kb.press("Tab")
    kb.press("Control+A")
    kb.type("18.5")
    kb.press("Tab")
    assert focused(page) == "store_facility_id"
    kb.press("ArrowDown")  # 即入库 into ZC-01
    kb.press("Tab")
    assert focused(page) == "operator" and page.input_value("#operator")
    kb.press("Enter")

    wait_js(page, "document.getElementById('weigh-msg').textContent.indexOf('已记录') >= 0")
    wait_js(page, "(() => { const i = document.getElementById('label-img');"
                           " return i.complete && i.naturalWidth > 1000; })()")
    assert focused(page) == "gross_kg"  # ready for the next weighing
    assert "已入库" in page.inner_text("#weigh-msg")
    session.rollback()
    b = session.exec(select(Batch).where(Batch.unit_id == plant["unit"]["id"])).one()
    assert (b.net_g, b.status, b.storage_facility_id, b.name, b.form) == (164_000, "stored", plant["store"],
                                                                           "废机油", "液态")
    # the print frame loaded the label page, which prints the PNG at its physical size
    wait_js(page, "(() => { const f = document.getElementById('print-frame');"
                           f" return f.src.indexOf('/station/label/{b.id}?print=1') >= 0; }})()")
    shoot(page, "station-recorded", "desktop")

    label = page.context.new_page()
    label.emulate_media(media="print")
    label.goto(f"/station/label/{b.id}")
    wait_js(label, "document.getElementById('label').naturalWidth > 0")
    width_px = label.evaluate("document.getElementById('label').getBoundingClientRect().width")
    assert abs(width_px - 150 / 25.4 * 96) < 1  # 150 mm at the CSS 96 px per inch
    label.emulate_media(media="screen")
    shoot(label, "station-label", "desktop")
    label.close()

    # A USB scanner types the QR text (the label URL) into the focused field and presses Enter.
    kb.press("F2")
    assert focused(page) == "scan"
    kb.type(f"https://ledger.example.test/s/{b.digital_id}")
    kb.press("Enter")
    page.wait_for_selector("#batch form[data-api$='/retrieve']")
    assert page.evaluate("document.activeElement.name") == "purpose" and focus_is_visible(page)
    shoot(page, "station-batch", "desktop")
    kb.press("Tab")
    kb.type("50")
    kb.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('data-action')") == "retrieve"
    kb.press("Enter")
    wait_js(page, "(() => { const s = document.getElementById('batch-status');"
                           " return s && s.textContent.indexOf('部分在库') >= 0; })()")
    session.rollback()
    b = session.get(Batch, b.id)
    assert (b.stored_g, b.remaining_g) == (114_000, 164_000)
    kinds = session.exec(select(JournalRecord.kind, JournalRecord.actor_name).where(
        JournalRecord.batch_id == b.id).order_by(JournalRecord.seq)).all()
    assert [k for k, _ in kinds] == ["generated", "stored", "retrieved"]
    assert kinds[-1][1] == page.input_value("#operator")  # the station's operator signs the move
    assert Decimal(b.net_g) / 1000 == Decimal("164")
