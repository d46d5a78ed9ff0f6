"""Manifests on a phone at 390×844: the driver picks up by typing the labels, through a network cut, and exactly
one pickup is recorded; the receiver signs receipt with one line partly refused."""

from __future__ import annotations

from sqlmodel import select

from ledger.journal import JournalRecord
from ledger.manifests import ManifestEvent, ManifestLine, TrackPoint
from tests.web.conftest import JINAN, login, shoot, wait_js


def events(session, manifest_id: int, action: str) -> list[ManifestEvent]:  # noqa: ANN001
    session.rollback()
    return list(session.exec(select(ManifestEvent).where(ManifestEvent.manifest_id == manifest_id,
                                                         ManifestEvent.action == action)).all())


def type_label(page, digital_id: str) -> None:  # noqa: ANN001
    page.fill("#label-input", digital_id)
    page.press("#label-input", "Enter")


def test_driver_picks_up_by_typing_labels_through_a_network_cut_and_signs_once(new_context, transfer, session):
    w, m = transfer, transfer["manifest"]
    ctx = new_context("phone", geolocation=JINAN, permissions=["geolocation"])
    page = ctx.new_page()
    login(page, w["driver"])
    assert page.url.endswith("/m")
    shoot(page, "phone-list", "phone")
    page.click(f"a[href='/m/{m['number']}']")
    page.wait_for_selector("#pickup")
    assert page.inner_text("#pickup-count") == "0/3" and page.is_disabled("#sign-pickup")

    ids = [d["digital_id"] for d in w["drums"]]
    # The phone's camera app reads the first label's QR and opens its URL: the scan page ticks it off on this
    # manifest and goes back to it.
    page.goto(f"/s/{ids[0]}")
    assert m["number"] in page.inner_text("#pickup")
    page.wait_for_url(f"**/m/{m['number']}")
    page.wait_for_selector("#pickup")
    assert page.inner_text("#pickup-count") == "1/3"
    type_label(page, ids[0][:-3] + "999")  # a label that is not on this manifest
    assert "不得装车" in page.inner_text("#label-msg")

    wait_js(page, "document.body.getAttribute('data-gps') === '1'")  # the phone knows where it is
    ctx.set_offline(True)
    wait_js(page, "!document.getElementById('net').hidden")
    type_label(page, f"https://ledger.example.test/s/{ids[1]}")  # a pasted QR text works too
    type_label(page, ids[2].lower())
    assert page.inner_text("#pickup-count") == "3/3"
    page.click("#sign-pickup")
    wait_js(page, "document.getElementById('outbox-state') && "
                  "document.getElementById('outbox-state').textContent.indexOf('1 项等待发送') >= 0")
    assert "签字提货" in page.inner_text("#outbox")
    page.click("#sign-pickup", force=True)  # pressed again while waiting: nothing more is queued
    assert page.evaluate("JSON.parse(localStorage.getItem('wl:outbox')).length") == 1
    shoot(page, "phone-pickup-offline", "phone")
    assert events(session, m["id"], "pickup") == []

    # Back online, the first answer is lost on the way (the server recorded it, the phone never heard):
    # the page sends again with the same Idempotency-Key and gets the first answer back.
    seen = []

    def lose_first_answer(route):  # noqa: ANN001, ANN202
        seen.append(route.request.headers.get("idempotency-key"))
        if len(seen) == 1:
            route.fetch()
            route.abort()
        else:
            route.continue_()

    page.route("**/api/v1/manifests/*/pickup", lose_first_answer)
    ctx.set_offline(False)
    wait_js(page, "document.getElementById('status') && "
                  "document.getElementById('status').textContent.indexOf('运输中') >= 0", timeout=30)
    assert len(seen) == 2 and seen[0] == seen[1]
    assert len(events(session, m["id"], "pickup")) == 1
    shipped = session.exec(select(JournalRecord).where(JournalRecord.manifest_id == m["id"],
                                                       JournalRecord.kind == "shipped")).all()
    assert len(shipped) == 3
    assert page.evaluate("localStorage.getItem('wl:outbox')") == "[]"
    assert events(session, m["id"], "pickup")[0].lat == JINAN["latitude"]

    # On the road the page sends GPS points while it is open.
    wait_js(page, "document.getElementById('track-count').textContent !== '0'", timeout=20)
    session.rollback()
    points = session.exec(select(TrackPoint).where(TrackPoint.manifest_id == m["id"])).all()
    assert len(points) >= 1 and points[0].lat == JINAN["latitude"]
    shoot(page, "phone-in-transit", "phone")
    # Arrival is one button, through the same outbox.
    page.click("[data-step$='/deliver']")
    wait_js(page, "document.getElementById('status') && "
                  "document.getElementById('status').textContent.indexOf('已到达') >= 0", timeout=20)
    assert len(events(session, m["id"], "deliver")) == 1


def test_receiver_signs_receipt_with_one_line_partly_refused(new_context, client, transfer, session):
    w, m = transfer, transfer["manifest"]
    r = client.post(f"/api/v1/manifests/{m['id']}/pickup", headers=w["drv"],
                    json={"scanned": [d["digital_id"] for d in w["drums"]]})
    assert r.status_code == 200, r.text
    page = new_context("phone").new_page()
    login(page, w["receiver_user"])
    page.goto(f"/m/{m['number']}")
    page.wait_for_selector("#receive-form")
    shoot(page, "phone-receive", "phone")
    page.fill("#recv-1", "163.8")
    page.select_option("#acc-2", "partially_refused")
    page.fill("#recv-2", "131.5")
    page.fill("#acckg-2", "100")
    # What was typed survives a reload (a dropped connection, a phone call).
    page.reload()
    page.wait_for_selector("#receive-form")
    assert page.input_value("#recv-2") == "131.5" and page.input_value("#acc-2") == "partially_refused"
    page.click("#sign-receive")
    assert "拒收原因" in page.inner_text("#receive-msg")  # a partial refusal needs its reason
    page.fill("#reason-2", "桶体破损渗漏，<script>alert(1)</script>")
    page.click("#sign-receive")
    wait_js(page, "document.getElementById('status') && "
                  "document.getElementById('status').textContent.indexOf('已接收') >= 0", timeout=20)
    session.rollback()
    lines = {ln.line_no: ln for ln in session.exec(select(ManifestLine).where(
        ManifestLine.manifest_id == m["id"])).all()}
    assert (lines[1].received_g, lines[1].accepted_g, lines[1].acceptance) == (163_800, 163_800, "accepted")
    assert (lines[2].received_g, lines[2].accepted_g, lines[2].acceptance) == (131_500, 100_000,
                                                                              "partially_refused")
    assert lines[2].reason.startswith("桶体破损渗漏")
    assert lines[3].acceptance == "accepted" and lines[3].received_g == 76_750
    assert len(events(session, m["id"], "receive")) == 1
    assert page.evaluate(f"localStorage.getItem('wl:draft:{m['number']}')") is None
    assert "<script>alert(1)</script>" in page.inner_text("#lines")  # shown as text, never run
    shoot(page, "phone-received", "phone")
