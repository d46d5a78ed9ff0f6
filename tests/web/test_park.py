"""A park manager in the browser: logs in and lands on the park's page, picks the year, reads the 综合利用率 the
API computes, follows a figure to the records behind it, and downloads the 无废园区 application XLSX; the workbook
holds the API's figure."""

from __future__ import annotations

import io
from decimal import Decimal

from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.conftest import auth, make_user
from tests.web import park_world
from tests.web.conftest import login, shoot

YEAR = park_world.YEAR
GEN_ROW = "园区内工业固废产生量（万吨）"


def test_park_manager_opens_the_park_and_downloads_the_application(new_context, client, session):
    pw = park_world.build(session)
    pid = pw["park"]
    _, token = make_user(session, role="park_manager", username="park.api", park_id=pid)
    years = ",".join(str(y) for y in range(YEAR - 3, YEAR + 1))
    app_json = client.get(f"/api/v1/reports/application?scope=park&id={pid}&years={years}",
                          headers=auth(token)).json()
    ind = client.get(f"/api/v1/reports/indicators?scope=park&id={pid}&year={YEAR}", headers=auth(token)).json()

    page = new_context("desktop", accept_downloads=True).new_page()
    login(page, pw["manager"])
    assert page.url.endswith(f"/console/parks/{pid}")  # the manager's home is its park
    page.select_option("#f-year", str(YEAR))
    page.click("#park-filters button[type=submit]")
    page.wait_for_url(f"**/console/parks/{pid}?year={YEAR}**")
    expect(page.locator("#rate-1")).to_have_text(f"{ind['kinds']['all']['utilisation_rate']['percent']}%")
    # the charts are served by the service and draw (an <img> that failed has no natural width)
    for img in page.locator("img.chart").all():
        img.scroll_into_view_if_needed()
        expect(img).to_have_js_property("complete", True)
        assert img.evaluate("i => i.naturalWidth") > 0
    shoot(page, "park-manager", "desktop")

    with page.expect_download() as info:
        page.click("#xlsx-download")
    download = info.value
    assert download.suggested_filename == f"application-park-{pid}-{YEAR - 3}-{YEAR}.xlsx"
    wb = load_workbook(io.BytesIO(open(download.path(), "rb").read()))  # noqa: SIM115
    ws = wb["附表1 园区基本情况表"]
    row = next(r for r in ws.iter_rows(values_only=True) if r[0] == GEN_ROW)
    miit = app_json["tables"][0]
    api_row = next(r for r in miit["rows"] if r["cells"][0]["value"] == GEN_ROW)
    assert Decimal(str(row[-1])) == Decimal(api_row["cells"][-1]["value"]) > 0
    # the same figure on the page, to 6 decimals
    assert f"{Decimal(api_row['cells'][-1]['value']):.6f}" in page.inner_text("#application")

    # a figure leads to the records it was computed from; they sum to it
    page.click("#figure-table tr[data-figure=generated] a")
    page.wait_for_url("**/records?**")
    gen_t = Decimal(ind["kinds"]["all"]["figures"]["generated"]["t"])
    assert Decimal(page.inner_text("#records-total-t").replace(",", "")) == gen_t
    assert page.locator("#record-list tbody tr").count() > 0

    # on a phone nothing scrolls sideways; the wide tables scroll inside their boxes
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/console/parks/{pid}?year={YEAR}")
    shoot(page, "park-manager", "phone")
