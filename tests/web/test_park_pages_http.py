"""Park pages and a unit's declaration and ledger pages over plain HTTP: who may see a park (its manager, a
regulator of its region; not another park's manager, a regulator elsewhere or a unit's operator), that every figure
on the park page is the API's and drills down to records that sum to it, the application tables, the declarations
and the ledger download links, and the weight budget of each new page."""

from __future__ import annotations

import re
import xml.dom.minidom
from decimal import Decimal
from html import unescape

from tests.web import park_world
from tests.web.test_pages_http import page_client, weigh_pages
from tests.web.world import XSS

YEAR = park_world.YEAR


def test_park_pages_are_for_those_who_oversee_the_park(app, session):
    pw = park_world.build(session)
    pid = pw["park"]
    url = f"/console/parks/{pid}?year={YEAR}"
    records = f"/console/parks/{pid}/records?year={YEAR}&figure=generated&kind=all"
    mgr = page_client(app, pw["manager"])
    r = mgr.get(url)
    assert r.status_code == 200 and XSS not in r.text and "&lt;script&gt;" in r.text
    assert mgr.get(records).status_code == 200
    # the manager's home is its park; its park list holds its park only
    r = mgr.get("/home", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/console/parks/{pid}"
    listed = re.findall(r'href="/console/parks/(\d+)"', mgr.get("/console/parks").text)
    assert listed == [str(pid)]
    assert f'href="/console/parks/{pid}"' in mgr.get("/console").text
    # a regulator of the province sees it (and the other park of its region)
    reg = page_client(app, pw["regulator"])
    assert reg.get(url).status_code == 200
    assert set(re.findall(r'href="/console/parks/(\d+)"', reg.get("/console/parks").text)) == {
        str(pid), str(pw["other_park"])}
    # another park's manager, a regulator of another province: the park does not exist for them
    for who in ("other_manager", "far"):
        c = page_client(app, pw[who])
        for u in (url, records):
            r = c.get(u)
            assert r.status_code == 404 and "不在您的查看范围" in r.text, (who, u)
        assert f"/console/parks/{pid}" not in c.get("/console/parks").text
    # a unit's operator or admin is not let into the console at all
    for who in ("operator", "unit_admin"):
        r = page_client(app, pw[who]).get(url)
        assert r.status_code == 403 and "监管控制台供监管人员" in r.text, who
    # and the API agrees with the pages
    from tests.conftest import auth, make_user

    _, tok = make_user(session, role="park_manager", username="other.mgr.api", park_id=pw["other_park"])
    r = mgr.get(f"/api/v1/reports/indicators?scope=park&id={pid}&year={YEAR}")
    assert r.status_code == 200
    assert page_client(app, None).get(url, follow_redirects=False).status_code == 303  # login first
    from fastapi.testclient import TestClient

    assert TestClient(app).get(f"/api/v1/reports/indicators?scope=park&id={pid}&year={YEAR}",
                               headers=auth(tok)).status_code == 404


def _text(html: str, element_id: str) -> str:
    m = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    assert m, element_id
    return unescape(re.sub(r"<[^>]+>", "", m.group(1))).strip()


def test_park_page_shows_the_apis_figures_each_drilling_down_to_its_records(app, session):
    pw = park_world.build(session)
    pid = pw["park"]
    mgr = page_client(app, pw["manager"])
    html = mgr.get(f"/console/parks/{pid}?year={YEAR}").text
    api = mgr.get(f"/api/v1/reports/indicators?scope=park&id={pid}&year={YEAR}").json()
    block = api["kinds"]["all"]
    assert _text(html, "rate-1") == f"{block['utilisation_rate']['percent']}%"
    assert _text(html, "rate-2") == f"{block['in_park_utilisation_rate']['percent']}%"
    # every mass figure's row links to its records page, whose records sum to the figure
    gen = block["figures"]["generated"]
    row = re.search(r'data-figure="generated">.*?href="([^"]+)">([^<]+)</a>', html).groups()
    assert Decimal(row[1].replace(",", "")) == Decimal(gen["t"])
    rec = mgr.get(unescape(row[0]))
    assert rec.status_code == 200
    assert Decimal(_text(rec.text, "records-total-t").replace(",", "")) == Decimal(gen["t"])
    assert int(_text(rec.text, "records-count")) == mgr.get(
        gen["records_url"]).json()["total_records"] > 0
    assert "text/csv" in mgr.get(unescape(re.search(r'href="([^"]+)" download id="records-csv"', rec.text)
                                        .group(1))).headers["content-type"]
    # charts are the service's SVGs, readable with the page's session
    for src in re.findall(r'<img class="chart" src="([^"]+)"', html):
        r = mgr.get(unescape(src))
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml"), src
        xml.dom.minidom.parseString(r.content)  # well-formed with the park's name in it, or a browser draws nothing
    # the application tables are the API's, cell for cell, with drill-downs where the API names records
    app_json = mgr.get(f"/api/v1/reports/application?scope=park&id={pid}&years={YEAR - 3},{YEAR - 2},{YEAR - 1},{YEAR}"
                       ).json()
    titles = [unescape(x) for x in re.findall(r'<h3 id="table-[^"]+">([^<]+)</h3>', html)]
    assert titles == [t["title"] for t in app_json["tables"]]
    miit = app_json["tables"][0]
    gen_row = next(r for r in miit["rows"] if r["cells"][0]["value"] == "园区内工业固废产生量（万吨）")
    last = gen_row["cells"][-1]
    assert f'{Decimal(last["value"]):.6f}' in html
    assert f'/console/parks/{pid}/records?year={YEAR}&amp;figure=generated&amp;kind=all' in html
    # a year without the members' economics says whose 工业增加值 is missing instead of an intensity
    later = mgr.get(f"/console/parks/{pid}?year={YEAR + 1}").text
    assert "甲化工" in _text(later, "missing-economics") and 'id="missing-economics"' not in html
    xlsx = re.search(r'id="xlsx-download" href="([^"]+)"', html).group(1)
    r = mgr.get(unescape(xlsx))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")


def test_declarations_and_ledger_downloads_of_a_unit(app, session):
    pw = park_world.build(session)
    uid, d = pw["unit"], pw["declarations"]
    ua = page_client(app, pw["unit_admin"])
    html = ua.get(f"/unit/{uid}/declarations").text
    for did in d.values():
        assert f'href="/unit/{uid}/declarations/{did}"' in html
    assert "按期提交" in html or "逾期提交" in html
    assert 'data-api="/api/v1/units/' in html  # the unit's admin may draft what is missing
    sub = ua.get(f"/unit/{uid}/declarations/{d['submitted']}").text
    assert _text(sub, "declaration-status") == "已提交" and 'id="declaration-correct"' in sub
    assert "900-249-08" in sub
    draft = ua.get(f"/unit/{uid}/declarations/{d['draft']}").text
    assert _text(draft, "declaration-status") == "草稿" and 'id="declaration-submit"' in draft
    # the park manager reads the member's declarations, without the buttons
    mgr = page_client(app, pw["manager"])
    r = mgr.get(f"/unit/{uid}/declarations/{d['draft']}")
    assert r.status_code == 200 and 'id="declaration-submit"' not in r.text and "wl.js" not in r.text
    assert page_client(app, pw["far"]).get(f"/unit/{uid}/declarations").status_code == 404
    # ledger downloads for a chosen period: every link works and says what it is
    page = ua.get(f"/unit/{uid}/ledger?from=2024-01-01&to=2024-12-31").text
    links = [unescape(u) for u in re.findall(r'href="(/api/v1/units/\d+/ledger\?[^"]+)"', page)]
    assert any("format=xlsx" in u for u in links) and any("table=B.1" in u for u in links)
    assert all("from=2024-01-01" in u and "to=2024-12-31" in u for u in links)
    for u in links:
        r = ua.get(u)
        assert r.status_code == 200, u
        assert "attachment" in r.headers["content-disposition"]
    assert ua.get(f"/unit/{uid}/ledger?from=2024-12-31&to=2024-01-01").status_code == 422


def test_new_pages_weigh_under_100_kb(app, session, capsys):
    pw = park_world.build(session)
    weigh_pages(app, pw["pages"], capsys)
