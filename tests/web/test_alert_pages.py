"""An alert through its whole mid route in the browser: a receipt with one line partly refused (and 7% light) raises
it; the city regulator finds it in the queue and pushes it (1366×768); the unit's administrator rectifies on a phone
(390×844) with an attachment; the regulator accepts. The queue's counts per tier and its closure rate move
accordingly, and always equal GET /alerts/stats."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlmodel import select

from alerts.models import Alert, AlertAction
from ledger.accounts import User
from tests.conftest import auth, make_user
from tests.web.conftest import login, shoot
from tests.web.world import XSS


def figures(page) -> dict:  # noqa: ANN001
    """What the queue's tiles say."""
    return {"high": page.inner_text("#open-high strong"), "mid": page.inner_text("#open-mid strong"),
            "low": page.inner_text("#open-low strong"), "rate": page.inner_text("#closure-rate"),
            "of": page.inner_text("#closure-figures"), "mid_pushed": page.inner_text("#count-mid-pushed"),
            "mid_closed": page.inner_text("#count-mid-closed")}


def api_figures(client, token: str) -> dict:  # noqa: ANN001
    st = client.get("/api/v1/alerts/stats", headers=auth(token)).json()
    c = st["counts"]
    rate = "—" if st["closure_rate"] is None else f"{st['closure_rate'] * 100:.1f}%"
    return {t: str(sum(n for s, n in c[t].items() if s != "closed")) for t in ("high", "mid", "low")} | {
        "rate": rate, "of": f"{st['closed_of_pushed']}/{st['pushed']}", "mid_pushed": str(c["mid"]["pushed"]),
        "mid_closed": str(c["mid"]["closed"])}


def test_regulator_pushes_the_unit_rectifies_the_regulator_accepts(new_context, client, transfer, session):
    w, m = transfer, transfer["manifest"]
    r = client.post(f"/api/v1/manifests/{m['id']}/pickup", headers=w["drv"],
                    json={"scanned": [d["digital_id"] for d in w["drums"]]})
    assert r.status_code == 200, r.text
    second = m["lines"][1]  # 131.5 kg shipped: 122 kg arrive (7.2% light), 100 kg of it accepted
    r = client.post(f"/api/v1/manifests/{m['id']}/receive", headers=w["rcv"], json={"lines": [
        {"batch_id": ln["batch_id"], "received_kg": ln["shipped_kg"], "acceptance": "accepted"}
        if ln["line_no"] != 2 else
        {"batch_id": ln["batch_id"], "received_kg": "122", "acceptance": "partially_refused", "accepted_kg": "100",
         "reason": "桶体破损"} for ln in m["lines"]]})
    assert r.status_code == 200, r.text
    assert second["shipped_kg"] == "131.500"
    session.rollback()  # end the read snapshot before writing (SQLite WAL)
    city, token = make_user(session, role="regulator", region_prefix="3701", username="city-jn")
    mid = session.exec(select(Alert).where(Alert.rule == "TRN-WEIGHT-DIFF")).one()
    assert (mid.tier, mid.status, mid.unit_id) == ("mid", "open", w["unit"]["id"])

    reg = new_context("desktop").new_page()
    login(reg, city.username)
    reg.goto("/console/alerts")
    before = figures(reg)
    assert before == {"high": "1", "mid": "1", "low": "0", "rate": "—", "of": "0/0", "mid_pushed": "0",
                      "mid_closed": "0"}
    assert before == api_figures(client, token)
    reg.select_option("#f-tier", "mid")
    reg.click("#alert-filters button[type=submit]")
    expect(reg.locator("#alert-list tbody tr")).to_have_count(1)
    reg.click(f"#alert-list a[href='/console/alerts/{mid.id}']")
    # the evidence, and the manifest it points to rendered inline with its partly refused line
    expect(reg.locator("#evidence")).to_contain_text("122")
    expect(reg.locator("#trace-manifest")).to_have_text(m["number"])
    expect(reg.locator("#trace-lines")).to_contain_text("部分拒收")
    assert reg.locator("#act-push").count() == 1 and reg.locator("#act-accept").count() == 0
    assert reg.locator("#act-rectify").count() == 0  # a regulator never rectifies for a unit
    reg.fill("#push-note", "请核实运输途中损耗")
    reg.click("#submit-push")
    expect(reg.locator("#alert-status")).to_have_text("已推送")
    shoot(reg, "flow-alert-pushed", "desktop")
    reg.goto("/console/alerts")
    pushed = figures(reg)
    assert pushed == {**before, "rate": "0.0%", "of": "0/1", "mid_pushed": "1"}
    assert pushed == api_figures(client, token)

    # The unit's administrator, on a phone: the alert waits on the unit's page with its rectification form.
    session.rollback()
    admin_name = session.exec(select(User.username).where(User.unit_id == w["unit"]["id"],
                                                          User.role == "unit_admin")).first()
    unit = new_context("phone").new_page()
    login(unit, admin_name)
    assert unit.url.endswith(f"/unit/{w['unit']['id']}")
    expect(unit.locator("#unit-alerts")).to_contain_text("待您整改")
    expect(unit.locator("#code-colour")).to_contain_text("红码")  # the high alert (refusal not returned) is open
    unit.click(f"#unit-alerts a[href$='/alerts/{mid.id}']")
    unit.click("#submit-rectify")  # empty: the page says what to write, nothing is sent
    expect(unit.locator("#act-rectify .msg")).to_contain_text("整改")
    unit.fill("#rectify-text", "已与承运人核对过磅记录，破损桶的渗漏量已计入；今后装车前逐桶复秤。")
    unit.fill("#attachments .attachment [data-k=name]", f"{XSS}复秤记录")
    unit.fill("#attachments .attachment [data-k=url]", "https://files.example.test/recheck.pdf")
    unit.click("#add-attachment")
    unit.locator("#attachments .attachment").nth(1).locator("[data-k=name]").fill("javascript 链接")
    unit.locator("#attachments .attachment").nth(1).locator("[data-k=url]").fill("javascript:alert(1)")
    unit.click("#submit-rectify")
    expect(unit.locator("#alert-status")).to_have_text("已反馈")
    expect(unit.locator("#alert-log")).to_contain_text(f"{XSS}复秤记录")  # shown as text
    assert unit.locator("#alert-log a[href^='javascript']").count() == 0  # never a link
    shoot(unit, "flow-alert-rectified", "phone")
    session.rollback()
    act = session.exec(select(AlertAction).where(AlertAction.alert_id == mid.id, AlertAction.action == "rectify")).one()
    assert act.username == admin_name and act.attachments[0] == {
        "name": f"{XSS}复秤记录", "url": "https://files.example.test/recheck.pdf", "sha256": None}
    assert act.attachments[1]["url"] == "javascript:alert(1)"  # kept as typed, shown as text

    reg.goto(f"/console/alerts/{mid.id}")
    expect(reg.locator("#alert-log")).to_contain_text("今后装车前逐桶复秤")
    reg.click("#submit-accept")
    expect(reg.locator("#alert-status")).to_have_text("已办结")
    assert reg.locator("#alert-actions form").count() == 0
    reg.goto("/console/alerts")
    after = figures(reg)
    assert after == {**before, "mid": "0", "rate": "100.0%", "of": "1/1", "mid_closed": "1"}
    assert after == api_figures(client, token)
    session.rollback()
    assert [a.action for a in session.exec(select(AlertAction).where(AlertAction.alert_id == mid.id)
                                           .order_by(AlertAction.id)).all()] == ["open", "push", "rectify", "accept"]
