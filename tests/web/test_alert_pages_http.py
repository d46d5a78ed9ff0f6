"""Alert, 固废码 and pickup-order pages over plain HTTP: which action forms each viewer gets (the alert's step and
ledger.auth, never the template's guess), the queue's filters and paging, the public page of a 固废码 and what it
hides, the inbox and the zero report on a unit's page, and who may open an order."""

from __future__ import annotations

import re

from api.pages.console import alerts as console_alerts
from tests.conftest import auth, make_user
from tests.web import world
from tests.web.test_pages_http import ORIGIN, page_client


def forms(html: str) -> list[str]:
    return re.findall(r'id="act-(\w+)"', html)


def test_each_viewer_gets_the_actions_its_route_allows(app, client, admin, session):
    built = world.build(client, admin, session)
    w, mid, high = built["w"], built["mid"], built["high"]
    uid = w["unit"]["id"]
    province = page_client(app, f"reg-{uid}")  # 37
    city = page_client(app, built["city"])  # 3701
    unit_admin = page_client(app, f"ua-{uid}")
    operator = page_client(app, f"op-{uid}")
    # the high alert waits for the province: push to the city, close; forwarding needs the enforcement endpoint
    html = province.get(f"/console/alerts/{high['id']}").text
    assert forms(html) == ["push", "close"] and "移送执法" in html and "LEDGER_ALERTS_ENFORCEMENT_URL" in html
    assert forms(city.get(f"/console/alerts/{high['id']}").text) == []
    # the mid alert was pushed to the unit: its administrator rectifies; the city may only close it meanwhile
    assert forms(city.get(f"/console/alerts/{mid['id']}").text) == ["close"]
    assert forms(province.get(f"/console/alerts/{mid['id']}").text) == ["close"]
    html = unit_admin.get(f"/unit/{uid}/alerts/{mid['id']}").text
    assert forms(html) == ["rectify"] and "整改情况" in html and "附件" in html
    html = operator.get(f"/unit/{uid}/alerts/{mid['id']}").text
    assert forms(html) == [] and 'id="no-actions"' in html
    # once the province pushes the high alert, the city writes the verification report (核查报告)
    session.rollback()
    _, ptok = make_user(session, role="regulator", region_prefix="37")
    r = client.post(f"/api/v1/alerts/{high['id']}/push", headers=auth(ptok), json={})
    assert r.status_code == 200, r.text
    html = city.get(f"/console/alerts/{high['id']}").text
    assert forms(html) == ["rectify"] and "核查报告" in html and "整改情况" not in html  # closing a high: province
    assert forms(unit_admin.get(f"/unit/{uid}/alerts/{high['id']}").text) == []  # a unit never reports on a high
    # a cookie-authenticated action must come from our own pages
    r = unit_admin.post(f"/api/v1/alerts/{mid['id']}/rectify", json={"text": "已整改"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.csrf"
    # another city's regulator does not see the alert; a unit's user is sent away from the console
    session.rollback()
    other, _ = make_user(session, role="regulator", region_prefix="4401")
    r = page_client(app, other.username).get(f"/console/alerts/{mid['id']}")
    assert r.status_code == 404 and "不在您的查看范围" in r.text
    assert unit_admin.get("/console/alerts").status_code == 403


def test_the_queue_filters_pages_and_counts(app, client, admin, session, monkeypatch):
    built = world.build(client, admin, session)
    w, mid, high = built["w"], built["mid"], built["high"]
    city = page_client(app, built["city"])

    def listed(**params) -> list[int]:
        html = city.get("/console/alerts", params=params).text
        return [int(x) for x in re.findall(r'<tr data-alert="(\d+)"', html)]

    assert listed() == [high["id"], mid["id"]]  # highest tier first
    assert listed(tier="mid") == [mid["id"]]
    assert listed(status="open") == [high["id"]]
    assert listed(**{"class": "inventory"}) == []
    assert listed(region="3701") == [high["id"], mid["id"]] and listed(region="3702") == []
    assert listed(overdue="1") == [] and listed(overdue="0") == [high["id"], mid["id"]]
    assert listed(unit_id=w["unit"]["id"]) == [high["id"], mid["id"]]
    html = city.get("/console/alerts", params={"unit_id": w["unit"]["id"]}).text
    assert "只看" in html and "明泉化工" in html
    r = city.get("/console/alerts", params={"tier": "severe"})
    assert r.status_code == 422 and "tier" in r.text
    assert city.get("/console/alerts", params={"from": "yesterday"}).status_code == 422
    # the closure rate of a period without pushes is "—"
    html = city.get("/console/alerts", params={"from": "2020-01-01", "to": "2020-12-31"}).text
    assert re.search(r'id="closure-rate">—<', html) and 'id="closure-figures">0/0<' in html
    monkeypatch.setattr(console_alerts, "PAGE", 1)
    html = city.get("/console/alerts", params={"region": "3701"}).text
    assert re.findall(r'<tr data-alert="(\d+)"', html) == [str(high["id"])] and "第 1/2 页" in html
    nxt = re.search(r'href="(/console/alerts\?[^"]*page=1[^"]*)">下一页', html).group(1).replace("&amp;", "&")
    assert "region=3701" in nxt
    html = city.get(nxt).text
    assert re.findall(r'<tr data-alert="(\d+)"', html) == [str(mid["id"])] and "上一页" in html


def test_the_public_page_of_a_code_shows_the_colour_and_counts_and_nothing_else(app, client, admin, session):
    built = world.build(client, admin, session)
    w, mid = built["w"], built["mid"]
    anon = page_client(app, None)
    r = anon.get(f"/u/{w['unit']['credit_code']}")
    assert r.status_code == 200
    html = r.text
    for shown in ("明泉化工", w["unit"]["credit_code"], "山东省", "370112", "红码", "督办"):
        assert shown in html, shown
    assert re.search(r'id="open-high">1<', html) and re.search(r'id="open-mid">1<', html)
    assert re.search(r'id="open-low">0<', html)
    for hidden in (mid["title"], built["m2"]["number"], "TRN-", "绿源环保", "city-", "unit_admin", "/api/v1/"):
        assert hidden not in html, hidden
    # the QR of the unit's code encodes exactly this page
    assert client.get(f"/api/v1/units/{w['unit']['id']}/code", headers=w["orig"]).json()["public_url"].endswith(
        f"/u/{w['unit']['credit_code']}")
    r = anon.get("/u/91370100MA0000000X", headers={"Accept": "text/html"})
    assert r.status_code == 404 and "伪造" in r.text
    # the unit's page and the console show the same colour, with the alerts behind it
    ua = page_client(app, f"ua-{w['unit']['id']}")
    html = ua.get(f"/unit/{w['unit']['id']}").text
    assert 'data-colour="red"' in html and f'/unit/{w["unit"]["id"]}/alerts/{mid["id"]}' in html
    assert f'/api/v1/units/{w["unit"]["id"]}/code.png' in html


def test_inbox_zero_report_and_orders_on_unit_and_pickup_pages(app, client, admin, session):
    built = world.build(client, admin, session)
    orders, col, g = built["orders"], built["orders"]["col"], built["orders"]["garage"]
    collector = page_client(app, col["admin"])
    html = collector.get(f"/unit/{col['id']}").text
    assert 'id="zero-report"' in html and "零报告" in html  # a licensed collector reports daily
    assert f'href="/pickup/{orders["requested"]["id"]}"' in html  # an open order waits in its inbox
    notice = re.search(r'id="ack-(\d+)"', html).group(1)
    r = collector.post(f"/api/v1/units/{col['id']}/inbox/{notice}/ack", headers={**ORIGIN, "Idempotency-Key": "a1"})
    assert r.status_code == 200, r.text
    assert f'id="ack-{notice}"' not in collector.get(f"/unit/{col['id']}").text
    r = collector.post(f"/api/v1/units/{col['id']}/zero-reports", json={}, headers={**ORIGIN, "Idempotency-Key": "z1"})
    assert r.status_code == 201, r.text
    assert "最近零报告" in collector.get(f"/unit/{col['id']}").text
    garage = page_client(app, g["username"])
    html = garage.get(f"/unit/{g['id']}").text
    assert 'id="zero-report"' not in html  # a garage holds no licence: nothing to report daily
    assert "请确认" in html and f'href="/pickup/{orders["weighed"]["id"]}"' in html  # awaiting its confirmation
    # the garage confirms from its own login: no password form, one button
    html = garage.get(f"/pickup/{orders['weighed']['id']}").text
    assert 'id="confirm-form"' in html and 'id="confirm-password"' not in html
    # a driver of the collector gets the password form on its phone, and the weighed batches' labels
    drv = page_client(app, col["driver"])
    html = drv.get(f"/pickup/{orders['weighed']['id']}").text
    assert 'id="confirm-password"' in html and html.count("/station/label/") == 2
    # open orders: the collector may take them; another garage's user may not even see them
    html = drv.get("/pickup").text
    assert f'id="accept-{orders["requested"]["id"]}"' in html
    session.rollback()
    stranger, _ = make_user(session, role="unit_admin", unit_id=built["w"]["unit"]["id"])
    r = page_client(app, stranger.username).get(f"/pickup/{orders['requested']['id']}")
    assert r.status_code == 404


def test_evidence_reads_in_words(session):
    from alerts.models import Alert
    from api.pages.alert_views import evidence_of

    a = Alert(rule="INV-BALANCE", klass="inventory", tier="high", opened_tier="high", unit_id=1, region_code="370112",
              subject="unit:1", subject_kind="unit", subject_id=1, title="t", evidence={
                  "batch_ids": [7, 8], "manifest_id": 3, "status": "in_transit",
                  "deadline": "2026-10-08T15:59:59.999999+00:00",
                  "differences": [{"batch_id": 7, "field": "remaining_g", "cached_kg": "0", "journal_kg": "22.2"}],
                  "annual_kg": {"2025": "9800", "2026": "10400"}, "tier": "mid", "something_new": True})
    got = {e.label: (e.text, e.table) for e in evidence_of(session, a)}
    assert "manifest_id" not in got and got["批次"] == ("2 个", None)
    assert got["联单状态"][0] == "运输中" and got["期限"][0] == "2026-10-08 23:59"
    assert got["差异"][1] == (("批次 ID", "字段", "缓存 kg", "台账 kg"), (("7", "余量", "0", "22.2"),))
    assert got["年产生量 kg"][0] == "2025: 9800；2026: 10400" and got["级别"][0] == "中风险"
    assert got["something_new"][0] == "是"  # a key nobody named yet still shows, as it is
