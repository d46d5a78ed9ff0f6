"""The collection stream's remaining pages over plain HTTP: consents, lots, webhooks and a regulator's return of a
declaration: who sees what, forms only for those whose act it is, every typed name escaped, the weight budget."""

from __future__ import annotations

import re
from html import unescape

from tests.web import stream_world
from tests.web.test_pages_http import ORIGIN, page_client, weigh_pages
from tests.web.world import XSS

ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"


def _forms(html: str) -> list[str]:
    return re.findall(r'data-api="([^"]+)"', html)


def _text(html: str, el_id: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", re.search(rf'id="{el_id}"[^>]*>(.*?)</', html, re.S).group(1)))


def _escaped(html: str) -> None:
    assert "<script>alert" not in html
    assert ESCAPED in html or XSS not in unescape(html)


def test_consent_pages_show_forms_to_the_producers_admin_only(app, client, admin, session):
    w = stream_world.build(client, admin, session)
    g1, g2, g3 = w["garages"]
    col = w["col"]
    # the producer's admin: its live consent with a revoke form; the grant form lists licensed collectors it has
    # not consented to (none left here: the only collector already holds its consent)
    html = page_client(app, g1["username"]).get(f"/unit/{g1['id']}/consents").text
    _escaped(html)
    assert f"/api/v1/units/{g1['id']}/consents/" in html and "/revoke" in html
    assert 'id="no-collectors"' in html and 'id="grant-form"' not in html
    # a garage without consents: the grant form offers the licensed collector of the province
    html = page_client(app, g3["username"]).get(f"/unit/{g3['id']}/consents").text
    assert 'id="grant-form"' in html and f'<option value="{col["id"]}">' in html
    assert 'id="no-consents"' in html and "forms.js" in html
    # the revoked consent shows who revoked it and why, escaped, with no form
    html = page_client(app, g2["username"]).get(f"/unit/{g2['id']}/consents").text
    _escaped(html)
    assert "已撤回" in html and ESCAPED + "换收集单位" in html and "/revoke" not in html
    # the producer's operator reads, without forms (granting is the administrator's act)
    html = page_client(app, w["g1_op"]).get(f"/unit/{g1['id']}/consents").text
    assert _forms(html) == [] and "wl.js" not in html
    # the collector's admin sees the consents it holds (the first garage's name escaped) and may give one up
    html = page_client(app, w["col_admin"]).get(f"/unit/{col['id']}/consents").text
    _escaped(html)
    assert 'id="consents-held"' in html and ESCAPED in html and 'id="consents-given"' not in html
    assert any(a.endswith("/revoke") for a in _forms(html))
    # the collector's driver reads the same list without forms
    html = page_client(app, col["driver"]).get(f"/unit/{col['id']}/consents").text
    assert 'id="consents-held"' in html and _forms(html) == []
    # a regulator of the province reads, never grants or revokes; one of another province gets the 404 page
    html = page_client(app, w["reg"]).get(f"/unit/{g1['id']}/consents").text
    assert 'id="consents-given"' in html and _forms(html) == [] and "wl.js" not in html
    assert page_client(app, w["far"]).get(f"/unit/{g1['id']}/consents").status_code == 404
    # another unit's user: 404 (outside its scope)
    assert page_client(app, g3["username"]).get(f"/unit/{g1['id']}/consents").status_code == 404
    # the unit home and the pickup pages link the consents
    assert 'id="consents-link"' in page_client(app, g1["username"]).get(f"/unit/{g1['id']}").text
    assert 'id="pickup-consents"' in page_client(app, g1["username"]).get("/pickup").text


def test_lot_pages_combine_and_list_every_source(app, client, admin, session):
    w = stream_world.build(client, admin, session)
    col, lot = w["col"], w["lot"]["lot"]
    g1, g2, _ = w["garages"]
    adm = page_client(app, w["col_admin"])
    html = adm.get(f"/unit/{col['id']}/lots").text
    _escaped(html)
    # the two holdings left, each with its producer, and one combine form for the centre and code
    assert _forms(html) == [f"/api/v1/facilities/{col['centre']}/lots"]
    left = [w["by_unit"][g1["id"]][1], w["by_unit"][g2["id"]][1]]
    for bid in left:
        assert f'name="source" value="{bid}" checked' in html
    assert ESCAPED + "历城区第1汽车维修店" in html
    assert f'href="/unit/{col["id"]}/lots/{lot["lot_id"]}"' in html
    # the centre's operator combines too; a regulator reads without a form
    assert len(_forms(page_client(app, w["col_op"]).get(f"/unit/{col['id']}/lots").text)) == 1
    html = page_client(app, w["reg"]).get(f"/unit/{col['id']}/lots").text
    assert _forms(html) == [] and "forms.js" not in html and f'value="{left[0]}"' not in html
    # a producer has no lots page
    assert page_client(app, g1["username"]).get(f"/unit/{g1['id']}/lots").status_code == 404
    # the lot's page: every source (producer, batch, mass), the sum equal to the lot, its label
    page = adm.get(f"/unit/{col['id']}/lots/{lot['lot_id']}").text
    _escaped(page)
    for src in lot["sources"]:
        assert src["digital_id"] in page
    total = re.search(r'id="lot-sum">([\d.]+)<', page).group(1)
    assert total == "50.5" and f"{total} kg" in _text(page, "lot-net")  # 23 + 27.5, the lot's net mass
    assert f'href="/station/label/{lot["lot_id"]}"' in page and f"/api/v1/batches/{lot['lot_id']}/label.pdf" in page
    assert adm.get(f"/station/label/{lot['lot_id']}").status_code == 200
    # the lot through another unit's path, or a producer's batch as a lot: the 404 page
    assert adm.get(f"/unit/{g1['id']}/lots/{lot['lot_id']}").status_code == 404
    assert adm.get(f"/unit/{col['id']}/lots/{left[0]}").status_code == 404
    # the combine form's API call as the page's script sends it: a new lot of the two left
    r = adm.post(f"/api/v1/facilities/{col['centre']}/lots", headers={**ORIGIN, "Idempotency-Key": "lot-page-1"},
                 json={"waste_code": lot["waste_code"], "source_ids": left, "container_type": "吨桶",
                       "container_count": 1, "operator": "站长"})
    assert r.status_code == 201, r.text
    html = adm.get(f"/unit/{col['id']}/lots").text
    assert 'id="no-sources"' in html and _forms(html) == []


def test_webhook_page_shows_state_and_forms_to_the_admin(app, client, admin, session):
    w = stream_world.build(client, admin, session)
    col = w["col"]
    active, disabled = w["hooks"]
    adm = page_client(app, w["col_admin"])
    html = adm.get(f"/unit/{col['id']}/webhooks").text
    _escaped(html)
    assert ESCAPED + "ERP 对接" in html
    assert 'id="webhook-form"' in html and f"/api/v1/webhooks/{disabled['id']}/enable" in html
    assert f"/api/v1/webhooks/{active['id']}/enable" not in html  # an active one has nothing to re-enable
    assert "HTTP 500 连续失败 8 次" in html and ">8</strong>" in html
    api = {x["id"]: x for x in adm.get("/api/v1/webhooks").json()}
    for x in (active, disabled):  # the same figures as GET /webhooks
        pending = re.search(rf'data-webhook="{x["id"]}".*?class="pending">(\d+)<', html, re.S).group(1)
        assert int(pending) == api[x["id"]]["pending_deliveries"]
    assert ESCAPED + "Internal Server Error" in html and ">500<" in html  # the failed deliveries, escaped
    assert active["secret"] not in html and disabled["secret"] not in html  # the secret is never shown again
    # operators and regulators read the list without forms
    for user in (w["col_op"], w["reg"]):
        html = page_client(app, user).get(f"/unit/{col['id']}/webhooks").text
        assert f'data-webhook="{active["id"]}"' in html and _forms(html) == [] and "forms.js" not in html
    assert page_client(app, w["far"]).get(f"/unit/{col['id']}/webhooks").status_code == 404
    # re-enable, as the page's form does it
    r = adm.post(f"/api/v1/webhooks/{disabled['id']}/enable", headers={**ORIGIN, "Idempotency-Key": "wh-en-1"})
    assert r.status_code == 200 and r.json()["active"] is True
    assert f"/api/v1/webhooks/{disabled['id']}/enable" not in adm.get(f"/unit/{col['id']}/webhooks").text


def test_a_regulator_returns_a_declaration_and_the_unit_sees_its_correction_path(app, client, admin, session):
    w = stream_world.build(client, admin, session)
    g1 = w["garages"][0]
    d = w["declaration"]
    url = f"/unit/{g1['id']}/declarations/{d['id']}"
    api = f"/api/v1/units/{g1['id']}/declarations/{d['id']}/return"
    reg = page_client(app, w["reg"])
    html = reg.get(url).text
    assert 'id="return-form"' in html and api in html and 'id="declaration-correct"' not in html
    unit_admin = page_client(app, g1["username"])
    html = unit_admin.get(url).text
    assert 'id="return-form"' not in html and api not in html and 'id="declaration-correct"' in html
    assert page_client(app, w["far"]).get(url).status_code == 404
    r = reg.post(api, headers={**ORIGIN, "Idempotency-Key": "ret-1"}, json={"reason": f"{XSS}产生量与联单不符"})
    assert r.status_code == 201, r.text
    # the regulator: the return listed, no second form while it waits
    html = reg.get(url).text
    _escaped(html)
    assert 'id="return-form"' not in html and ESCAPED + "产生量与联单不符" in html and "等待单位更正" in html
    # the unit: the return, its correction path, the correct form; its inbox links the declaration
    html = unit_admin.get(url).text
    _escaped(html)
    assert 'id="return-path"' in html and "更正" in html and 'id="declaration-correct"' in html
    home = unit_admin.get(f"/unit/{g1['id']}").text
    assert f'href="{url}"' in home
    # the unit corrects: the new draft says what it corrects; once submitted the old one links to it
    r = unit_admin.post(f"/api/v1/units/{g1['id']}/declarations/{d['id']}/correct",
                        headers={**ORIGIN, "Idempotency-Key": "cor-1"}, json={"reason": "按退回意见更正"})
    assert r.status_code in (200, 201), r.text
    new = r.json()
    draft = unit_admin.get(f"/unit/{g1['id']}/declarations/{new['id']}").text
    assert 'id="corrects-return"' in draft and ESCAPED + "产生量与联单不符" in draft
    r = unit_admin.post(f"/api/v1/units/{g1['id']}/declarations/{new['id']}/submit",
                        headers={**ORIGIN, "Idempotency-Key": "sub-2"})
    assert r.status_code == 200, r.text
    old = unit_admin.get(url).text
    assert "已更正" in old and f'href="/unit/{g1["id"]}/declarations/{new["id"]}"' in old
    assert 'id="return-form"' not in reg.get(url).text  # superseded: nothing to return


def test_stream_pages_weigh_under_100_kb(app, client, admin, session, capsys):
    w = stream_world.build(client, admin, session)
    weigh_pages(app, w["pages"], capsys)
