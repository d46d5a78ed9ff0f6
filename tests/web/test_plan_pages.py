"""A unit's yearly management plan page (/unit/{id}/plans): the current version against what was generated (its
share, the codes over plan and outside it), the versions, a return that waits; who gets which form; and, in a
browser, the administrator filing a new version from the current one's rows, a regulator returning it, the unit
seeing why."""

from __future__ import annotations

import re
from html import unescape

from playwright.sync_api import expect

from ledger.workdays import today
from tests.conftest import auth, batch_body, make_user, setup_transfer
from tests.web.conftest import login, shoot
from tests.web.test_pages_http import page_client
from tests.web.world import XSS

OIL, OTHER = "900-249-08", "900-041-49"


def _ok(r, status=201):  # noqa: ANN001, ANN202
    assert r.status_code == status, r.text
    return r.json()


def plant(client, admin, session) -> dict:  # noqa: ANN001
    """A plant that generated 328 kg of waste oil and 20 kg of another code this year, with a plan version filed
    for 200 kg of waste oil going to its receiver (so the oil is over plan and the other code outside it)."""
    w = setup_transfer(client, admin, session)
    uid = w["unit"]["id"]
    adm, atok = make_user(session, role="unit_admin", unit_id=uid, username=f"plan-adm-{uid}")
    make_user(session, role="operator", unit_id=uid, username=f"plan-op-{uid}")
    make_user(session, role="regulator", region_prefix="3701", username=f"plan-reg-{uid}")
    make_user(session, role="regulator", region_prefix="4403", username=f"plan-far-{uid}")
    for gross in ("182.5", "182.5"):
        _ok(client.post("/api/v1/batches", json=batch_body(w, gross_kg=gross), headers=w["op"]))
    _ok(client.post("/api/v1/batches", json=batch_body(w, waste_code=OTHER, name="废包装桶", form="固态",
                                                       gross_kg="20", tare_kg="0"), headers=w["op"]))
    plan = _ok(client.post(f"/api/v1/units/{uid}/plans", headers=auth(atok), json={
        "year": today().year, "note": f"{XSS}首次备案", "items": [
            {"waste_code": OIL, "planned_kg": "200", "receiver_ids": [w["receiver"]["id"]], "methods": ["R9"]}]}))
    session.rollback()
    return {**w, "uid": uid, "adm": adm.username, "atok": atok, "plan": plan}


def _forms(html: str) -> list[str]:
    return re.findall(r'data-api="([^"]+)"', html)


def test_the_plan_page_shows_the_year_against_the_plan_and_forms_to_whom_they_belong(app, client, admin, session):
    w = plant(client, admin, session)
    uid, url = w["uid"], f"/unit/{w['uid']}/plans"
    html = page_client(app, w["adm"]).get(url).text
    assert "<script>alert" not in html and "&lt;script&gt;" in html  # the note typed with a script, escaped
    row = re.search(rf'<tr data-code="{OIL}"[^>]*>(.*?)</tr>', html, re.S)
    assert row and 'class="warn"' in row.group(0)  # 328 kg of 200 kg planned: over the plan (> 120%)
    cells = unescape(re.sub(r"<[^>]+>", "|", row.group(1)))
    assert "200" in cells and "328" in cells and "164%" in cells and "超计划" in cells and "绿源环保" in cells
    assert f'<li data-code="{OTHER}">' in html  # generated, not in the plan
    assert f'id="plan-version">{w["plan"]["version"]}<' in html
    # the unit's administrator files a new version: the form starts from the current rows, then empty ones
    assert _forms(html) == [f"/api/v1/units/{uid}/plans"]
    assert f'value="{OIL}"' in html and html.count('class="plan-row"') == 1 + 3
    # its operator and the receiver read nothing to act on; the regulator of the region gets the return form
    assert _forms(page_client(app, f"plan-op-{uid}").get(url).text) == []
    reg = page_client(app, f"plan-reg-{uid}").get(url).text
    assert _forms(reg) == [f"/api/v1/units/{uid}/plans/{w['plan']['id']}/return"] and 'id="plan-form"' not in reg
    assert page_client(app, f"plan-far-{uid}").get(url).status_code == 404  # outside its region
    # another year: nothing filed, what was generated then (nothing) and the filing form for that year
    html = page_client(app, w["adm"]).get(f"{url}?year={today().year - 1}").text
    assert 'id="no-plan"' in html and f'name="year" value="{today().year - 1}"' in html
    assert page_client(app, w["adm"]).get(f"{url}?year=1800").status_code == 422
    # the unit's page links to it
    assert f'href="/unit/{uid}/plans"' in page_client(app, w["adm"]).get(f"/unit/{uid}").text


def test_the_administrator_files_a_new_version_and_a_regulator_returns_it(new_context, client, admin, session):
    w = plant(client, admin, session)
    uid, url, v = w["uid"], f"/unit/{w['uid']}/plans", w["plan"]["version"]
    page = new_context("desktop").new_page()
    login(page, w["adm"])
    page.goto(f"/unit/{uid}")
    page.click("#plans-link")
    expect(page.locator("#plan-version")).to_have_text(str(v))
    rows = page.locator("#plan-form tr.plan-row")
    expect(rows).to_have_count(4)
    # a row with a code and no mass is refused by the page, nothing sent
    rows.nth(1).locator("[name=row_code]").fill(OTHER)
    page.click("#plan-submit")
    expect(page.locator("#plan-form .msg")).to_contain_text("请填写计划量")
    # raise the oil to 400 kg, add the other code for 50 kg with the receiver and two methods
    rows.nth(0).locator("[name=row_kg]").fill("400")
    rows.nth(1).locator("[name=row_kg]").fill("50")
    rows.nth(1).locator("[name=row_receivers]").select_option(str(w["receiver"]["id"]))
    rows.nth(1).locator("[name=row_methods]").fill("r9, d10")
    page.fill("#plan-note", "产能扩大，调整计划")
    page.click("#plan-submit")
    expect(page.locator("#plan-version")).to_have_text(str(v + 1))
    plans = _ok(client.get(f"/api/v1/units/{uid}/plans?year={today().year}", headers=auth(w["atok"])), 200)
    assert [p["version"] for p in plans][-2:] == [v, v + 1]
    assert [(i["waste_code"], i["planned_kg"], i["receiver_ids"], i["methods"]) for i in plans[-1]["items"]] == [
        (OIL, "400.000", [w["receiver"]["id"]], ["R9"]), (OTHER, "50.000", [w["receiver"]["id"]], ["R9", "D10"])]
    assert plans[-1]["note"] == "产能扩大，调整计划"
    expect(page.locator(f"#plan-items tr[data-code='{OIL}'] .share")).to_have_text("82%")  # 328 of 400 kg
    expect(page.locator("#plan-unplanned")).to_have_count(0)
    shoot(page, "flow-plan-filed", "desktop")
    # the regulator of the region returns the new version with a reason
    reg = new_context("desktop").new_page()
    login(reg, f"plan-reg-{uid}")
    reg.goto(url)
    expect(reg.locator("#plan-form")).to_have_count(0)  # a regulator never files for the unit
    reg.fill("#plan-return-reason", "废包装桶产生量与上年申报不符，请核实")
    reg.click("#plan-return-submit")
    expect(reg.locator("#plan-returned")).to_contain_text("废包装桶产生量与上年申报不符")
    expect(reg.locator("#plan-return-form")).to_have_count(0)  # it waits for the unit now
    # the unit sees why, and a new version settles it
    page.goto(url)
    expect(page.locator("#plan-returned")).to_contain_text(f"第 {v + 1} 版已被退回")
    page.locator("#plan-form tr.plan-row").nth(1).locator("[name=row_kg]").fill("30")
    page.click("#plan-submit")
    expect(page.locator("#plan-version")).to_have_text(str(v + 2))
    expect(page.locator("#plan-returned")).to_have_count(0)
    # on a phone the page fits its width (the tables scroll inside their cards)
    phone = new_context("phone").new_page()
    login(phone, w["adm"])
    phone.goto(url)
    expect(phone.locator("#plan-form")).to_be_visible()
    shoot(phone, "plans", "phone")
