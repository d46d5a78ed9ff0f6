"""The printed manifest over HTTP (its contents), and a quiet server log while PDFs are rendered."""

from __future__ import annotations

import io
import logging
import re

import pytest
from pypdf import PdfReader

from labels.manifest_pdf import DIFFERENCE_FILL
from ledger.accounts import issue_token
from ledger.auth import SYSTEM
from ledger.users import UserCreate, create_user
from ledger.workdays import today as shanghai_today
from tests.api.test_manifests import gen, ok, to_transit
from tests.conftest import auth, permit_body, setup_transfer

TODAY = shanghai_today().isoformat()


@pytest.fixture
def w(client, admin, session):
    return setup_transfer(client, admin, session)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_rendering_pdfs_sends_no_fonttools_info_to_the_log(client, w):
    """fontTools.subset logs a dozen INFO lines per embedded font; the server's log must not carry them."""
    from api.app import configure_logging

    root = logging.getLogger()
    handler, saved = _Collect(), root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)  # as the server runs: INFO and above reach the root's handlers
    try:
        configure_logging()
        a = gen(client, w)
        m = to_transit(client, w, [{"batch_id": a["id"], "planned_method": "R9"}], [a["digital_id"]])
        for url in (f"/api/v1/manifests/{m['id']}.pdf", f"/api/v1/batches/{a['id']}/label.pdf"):
            r = client.get(url, headers=w["drv"] if "manifests" in url else w["op"])
            assert r.status_code == 200 and r.content.startswith(b"%PDF"), url
    finally:
        root.removeHandler(handler)
        root.setLevel(saved)
    noisy = [r for r in handler.records if r.name.startswith("fontTools") and r.levelno < logging.WARNING]
    assert noisy == [], f"{len(noisy)} fontTools records, e.g. {noisy[0].name}: {noisy[0].getMessage()}"
    assert handler.records  # the handler did see the request's own INFO lines, so it was listening


def person(session, *, username: str, display_name: str, role: str, unit_id: int, phone: str | None = None) -> dict:
    """A named user of a unit and its bearer-token headers."""
    user = create_user(session, principal=SYSTEM, data=UserCreate(
        username=username, display_name=display_name, role=role, unit_id=unit_id, phone=phone,
        password="password-123"))
    token = issue_token(session, user=user, name="test")
    session.commit()
    return {"id": user.id, "headers": auth(token)}


def pdf_text(client, manifest_id: int, headers: dict) -> tuple[str, bytes]:
    r = client.get(f"/api/v1/manifests/{manifest_id}.pdf", headers=headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf", r.text
    reader = PdfReader(io.BytesIO(r.content))
    text = "".join(page.extract_text() for page in reader.pages)
    assert "\x00" not in text  # the reduced (GB 2312) font was enough: no fallback to the full CJK face
    content = b"".join(page.get_contents().get_data() for page in reader.pages)
    return "".join(text.split()), content


def _process(client, w, holding_id: int, method: str, headers: dict) -> None:
    """The receiver processes a received holding (taking it out of its store first if receipt stored it)."""
    h = client.get(f"/api/v1/batches/{holding_id}", headers=headers).json()
    if float(h.get("stored_kg") or 0) > 0:
        ok(client.post(f"/api/v1/batches/{holding_id}/retrieve", headers=headers, json={"operator": "收料员"}), 201)
    ok(client.post(f"/api/v1/batches/{holding_id}/use-in-house", headers=headers,
                   json={"method": method, "facility_id": w["rline"], "operator": "操作工"}), 201)


def test_pdf_names_people_licence_actual_method_and_shades_large_differences(client, session, w):
    orig = person(session, username="operator.mq", display_name="张明", role="unit_admin", unit_id=w["unit"]["id"])
    drv = person(session, username="driver.ay", display_name="王师傅", role="driver", unit_id=w["hauler"]["id"],
                 phone="13900001111")
    rcv = person(session, username="receiver.ly", display_name="李收料", role="receiver_operator",
                 unit_id=w["receiver"]["id"])
    a = gen(client, w, gross_kg="200", tare_kg="20")  # 180 kg
    b = gen(client, w, gross_kg="200", tare_kg="20")
    r = client.post("/api/v1/manifests", headers=orig["headers"], json={
        "originator_id": w["unit"]["id"], "hauler_id": w["hauler"]["id"], "vehicle_id": w["vehicles"][0],
        "receiver_id": w["receiver"]["id"], "driver_id": None, "planned_date": TODAY,
        "lines": [{"batch_id": a["id"], "planned_method": "R9"}, {"batch_id": b["id"], "planned_method": "R9"}]})
    m = ok(r, 201)
    assert m["driver_id"] is None
    ok(client.post(f"/api/v1/manifests/{m['id']}/submit", headers=orig["headers"]))
    ok(client.post(f"/api/v1/manifests/{m['id']}/pickup", headers=drv["headers"],
                   json={"scanned": [a["digital_id"], b["digital_id"]]}))
    m = ok(client.post(f"/api/v1/manifests/{m['id']}/receive", headers=rcv["headers"], json={
        "facility_id": w["rstore"], "lines": [
            {"batch_id": a["id"], "received_kg": "120", "acceptance": "accepted"},  # 60 kg (33 %) short
            {"batch_id": b["id"], "received_kg": "179", "acceptance": "accepted"}]}))  # 1 kg short: normal
    holdings = {ln["batch_id"]: ln["holding_id"] for ln in m["lines"]}

    text, _ = pdf_text(client, m["id"], drv["headers"])
    assert "实际" not in text  # nothing processed yet: only the planned method
    assert "驾驶员—王师傅13900001111—" in text  # driver_id is empty: the person who signed pickup
    assert f"危险废物经营许可证编号——鲁危证{w['receiver']['id']:04d}" in text

    _process(client, w, holdings[a["id"]], "R2", rcv["headers"])  # not the planned R9
    _process(client, w, holdings[b["id"]], "R9", rcv["headers"])
    text, content = pdf_text(client, m["id"], rcv["headers"])
    # signatories by name, each with its unit; never the login names
    for name, unit in (("张明", "明泉化工"), ("王师傅", "安运物流"), ("李收料", "绿源环保")):
        assert f"{name}（{unit}）" in text, name
    for login in ("operator.mq", "driver.ay", "receiver.ly"):
        assert login not in text
    # the method used beside the planned one, only where they differ
    assert text.count("计划R9/实际R2") == 1 and text.count("实际") == 1
    assert "R9废油再提炼" in text
    # the large difference is marked, shaded and explained; the small one is not
    assert "120※差-60" in text
    assert "179※" not in text and "差-1" not in text
    assert "底色标出的行：接收量与拟转移量相差超过拟转移量的5%或50kg" in text
    fills = {tuple(round(float(v) * 255) for v in m.groups())
             for m in re.finditer(rb"([\d.]+) ([\d.]+) ([\d.]+) rg", content)}
    assert DIFFERENCE_FILL in fills, fills


def test_pdf_names_the_manifest_driver_with_phone(client, session, w):
    drv = person(session, username="driver.two", display_name="赵师傅", role="driver", unit_id=w["hauler"]["id"],
                 phone="13700002222")
    a = gen(client, w)
    r = client.post("/api/v1/manifests", headers=w["op"], json={
        "originator_id": w["unit"]["id"], "hauler_id": w["hauler"]["id"], "vehicle_id": w["vehicles"][0],
        "receiver_id": w["receiver"]["id"], "driver_id": drv["id"], "planned_date": TODAY,
        "lines": [{"batch_id": a["id"], "planned_method": "R9"}]})
    m = ok(r, 201)
    text, _ = pdf_text(client, m["id"], w["op"])
    assert "驾驶员—赵师傅13700002222—" in text
    assert "承运人提货" not in text  # not picked up yet


def test_pdf_prints_only_the_licence_valid_on_the_planned_date_covering_the_codes(client, admin, w):
    rid = w["receiver"]["id"]
    for number, codes, start, end in (("鲁危证旧0001", ["HW08"], "2020-01-01", "2024-12-31"),  # expired
                                      ("鲁危证其他0002", ["HW49"], "2025-01-01", "2030-12-31")):  # other codes
        r = client.post(f"/api/v1/units/{rid}/permits", headers=admin, json=permit_body(
            number=number, waste_codes=codes, methods=["R9"], valid_from=start, valid_to=end))
        assert r.status_code == 201, r.text
    a = gen(client, w)
    m = ok(client.post("/api/v1/manifests", headers=w["op"], json={
        "originator_id": w["unit"]["id"], "hauler_id": w["hauler"]["id"], "vehicle_id": w["vehicles"][0],
        "receiver_id": rid, "driver_id": w["driver_id"], "planned_date": TODAY,
        "lines": [{"batch_id": a["id"], "planned_method": "R9"}]}), 201)
    text, _ = pdf_text(client, m["id"], w["op"])
    assert f"危险废物经营许可证编号——鲁危证{rid:04d}道路运输" in text
    assert "鲁危证旧0001" not in text and "鲁危证其他0002" not in text
