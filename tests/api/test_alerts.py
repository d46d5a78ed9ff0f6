"""Alerts over HTTP: one alert of each tier walked through its whole route, an overdue escalation on a frozen clock
across a 调休 Saturday and the National Day week, the queue with its filters and closure rate, jurisdiction, the
固废码 (JSON and PNG), webhooks, and a refused pickup kept as an alert."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import zxingcpp
from PIL import Image
from sqlmodel import select

from alerts import engine
from alerts import settings as S
from alerts.models import AlertOutbox, WebhookDelivery, WebhookSubscription
from ledger.types import clock_at
from ledger.workdays import SHANGHAI
from ledger.workdays import today as shanghai_today
from tests.alerts.conftest import strict_alerts  # noqa: F401 (autouse: errors in the alert layer fail the test)
from tests.conftest import PUBLIC_URL, auth, create_unit, make_user

API = "/api/v1"


def sh(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


@pytest.fixture
def site(client, admin, session):  # noqa: ANN001, ANN201
    """A plant in 济南 (370112) with a 1 t store and a 2025 plan; its users; regulators of province, city, other city."""
    with clock_at(sh(2025, 1, 2)):
        unit = create_unit(client, admin, roles=["generator"], region_code="370112", name="明泉化工")
        uid = unit["id"]

        def fac(**kw) -> int:
            r = client.post(f"{API}/units/{uid}/facilities", json=kw, headers=admin)
            assert r.status_code == 201, r.text
            return r.json()["id"]

        gen = fac(kind="generation", code="CS-01", name="车间")
        store = fac(kind="storage", code="ZC-01", name="1号库", storage_type="贮存库", storage_capacity_t="1")
        r = client.post(f"{API}/units/{uid}/plans", headers=admin,
                        json={"year": 2025, "items": [{"waste_code": "900-249-08", "planned_kg": "100000"}]})
        assert r.status_code == 201, r.text
        users = {}
        for name, role, binding in (("ua", "unit_admin", {"unit_id": uid}), ("op", "operator", {"unit_id": uid}),
                                    ("province", "regulator", {"region_prefix": "37"}),
                                    ("city", "regulator", {"region_prefix": "3701"}),
                                    ("county", "regulator", {"region_prefix": "370112"}),
                                    ("zibo", "regulator", {"region_prefix": "3703"})):
            _, tok = make_user(session, role=role, **binding)
            users[name] = auth(tok)
    return {"unit": unit, "gen": gen, "store": store, **users}


def weigh(client, site, when: datetime, *, kg: str = "100", code: str = "900-249-08", store: bool = False) -> dict:  # noqa: ANN001
    with clock_at(when + timedelta(minutes=1)):
        r = client.post(f"{API}/batches", headers=site["op"], json={
            "unit_id": site["unit"]["id"], "waste_code": code, "name": "废物", "form": "液态", "facility_id": site["gen"],
            "container_type": "桶", "gross_kg": kg, "tare_kg": "0", "scale_id": "S1", "operator": "王工",
            "occurred_at": when.isoformat(), **({"store_facility_id": site["store"]} if store else {})})
    assert r.status_code == 201, r.text
    return r.json()


def only(client, headers: dict, **params) -> dict:  # noqa: ANN001
    r = client.get(f"{API}/alerts", params=params, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["total"] == 1, r.json()
    return r.json()["items"][0]


def act(client, alert_id: int, action: str, headers: dict, when: datetime, **body) -> tuple[int, dict]:  # noqa: ANN001
    with clock_at(when):
        r = client.post(f"{API}/alerts/{alert_id}/{action}", json=body or None, headers=headers)
    return r.status_code, r.json()


def colour(client, site, when: datetime) -> str:  # noqa: ANN001
    with clock_at(when):
        r = client.get(f"{API}/units/{site['unit']['id']}/code", headers=site["ua"])
    assert r.status_code == 200, r.text
    return r.json()["colour"]


def scan(engine_, when: datetime) -> dict:  # noqa: ANN001
    from sqlmodel import Session

    with Session(engine_) as s:
        stats = engine.scan(s, now=when.astimezone(UTC))
        s.commit()
    return stats


def test_low_alert_route_the_unit_rectifies_and_it_closes(client, site):
    # Monday 22 Sep 2025: 5 working days run to Sunday 28 Sep, a 调休 working day
    weigh(client, site, sh(2025, 9, 22), code="900-041-49")
    a = only(client, site["ua"], rule="GEN-NOT-IN-PLAN")
    assert (a["tier"], a["status"], a["next_acts"]) == ("low", "pushed", ["rectify"])
    assert a["deadline_at"].startswith("2025-09-28T15:59:59")  # end of Sunday 28 Sep in Shanghai, in UTC
    when = sh(2025, 9, 24)
    assert act(client, a["id"], "push", site["city"], when)[0] == 409  # low alerts go to the unit by themselves
    code, body = act(client, a["id"], "rectify", site["city"], when, text="已整改")
    assert code == 403 and "unit_admin" in body["error"]["message"]  # regulators supervise, never operate
    assert act(client, a["id"], "rectify", site["op"], when, text="已整改")[0] == 403
    assert act(client, a["id"], "rectify", site["ua"], when, text="x")[0] == 422
    code, body = act(client, a["id"], "rectify", site["ua"], when, text="已补报管理计划变更",
                     attachments=[{"name": "计划变更回执.pdf", "url": "https://files.example/1.pdf"}])
    assert code == 200, body
    assert (body["status"], body["resolution"], body["next_acts"]) == ("closed", "rectified", [])
    assert [x["action"] for x in body["actions"]] == ["open", "push", "rectify"]
    assert body["actions"][-1]["attachments"][0]["name"] == "计划变更回执.pdf"
    assert colour(client, site, when) == "green"


def test_overdue_low_alert_escalates_once_across_national_day(client, site, engine):  # noqa: ANN001
    # Monday 29 Sep 2025. Working days after it: Tue 30 Sep, (1–8 Oct holiday), Thu 9, Fri 10, Sat 11 (调休), Mon 13
    weigh(client, site, sh(2025, 9, 29), code="900-041-49")
    a = only(client, site["ua"], rule="GEN-NOT-IN-PLAN")
    assert a["deadline_at"].startswith("2025-10-13T15:59:59")
    assert colour(client, site, sh(2025, 10, 13, 23)) == "green"  # an open low alert on time
    scan(engine, sh(2025, 10, 13, 23))
    with clock_at(sh(2025, 10, 13, 23, 30)):
        assert only(client, site["ua"], rule="GEN-NOT-IN-PLAN")["overdue"] is False
    assert colour(client, site, sh(2025, 10, 14, 0, 30)) == "yellow"  # overdue low, before the scan marks it

    scan(engine, sh(2025, 10, 14, 0, 30))
    with clock_at(sh(2025, 10, 14, 1)):
        a = only(client, site["city"], rule="GEN-NOT-IN-PLAN")
    assert (a["tier"], a["opened_tier"], a["escalated_from"], a["status"]) == ("mid", "low", "low", "pushed")
    assert a["overdue_at"] and a["escalated_at"] and a["overdue"] is False
    assert a["deadline_at"].startswith("2025-10-21T15:59:59")  # 5 working days after Tue 14 Oct
    assert colour(client, site, sh(2025, 10, 14, 1)) == "yellow"  # an open mid alert

    # the new deadline passes too: marked overdue, but it does not escalate a second time
    scan(engine, sh(2025, 10, 22, 9))
    with clock_at(sh(2025, 10, 22, 10)):
        a = only(client, site["city"], rule="GEN-NOT-IN-PLAN", overdue="true")
        d = client.get(f"{API}/alerts/{a['id']}", headers=site["city"]).json()
    assert (a["tier"], a["overdue"]) == ("mid", True)
    assert [x["action"] for x in d["actions"]] == ["open", "push", "overdue", "escalate", "overdue"]
    assert colour(client, site, sh(2025, 10, 22, 10)) == "red"  # an overdue mid alert: 督办
    # the unit answers late; the city accepts: closed, green again
    assert act(client, a["id"], "rectify", site["ua"], sh(2025, 10, 23), text="已整改")[1]["status"] == "rectified"
    assert act(client, a["id"], "accept", site["city"], sh(2025, 10, 24))[1]["status"] == "closed"
    assert colour(client, site, sh(2025, 10, 24, 12)) == "green"


def test_mid_alert_route_pushed_rectified_rejected_accepted(client, site):
    for day in (6, 7):
        weigh(client, site, sh(2025, 11, day), kg="460", store=True)  # 0.92 t in a 1 t store
    a = only(client, site["city"], rule="INV-FACILITY-FULL")
    assert (a["tier"], a["status"], a["next_acts"]) == ("mid", "open", ["push", "close"])
    assert only(client, site["province"], rule="INV-FACILITY-FULL")["next_acts"] == ["close"]
    assert colour(client, site, sh(2025, 11, 7, 12)) == "yellow"
    t = sh(2025, 11, 7, 14)
    assert act(client, a["id"], "push", site["province"], t)[0] == 403  # mid: the county or city pushes
    assert act(client, a["id"], "rectify", site["ua"], t, text="清运")[0] == 409  # not pushed yet
    code, body = act(client, a["id"], "push", site["county"], t, note="请三日内清运")
    assert code == 200 and body["status"] == "pushed" and body["pushed_at"]
    assert act(client, a["id"], "accept", site["city"], t)[0] == 409
    assert act(client, a["id"], "rectify", site["ua"], sh(2025, 11, 10), text="已联系处置单位")[1]["status"] == "rectified"
    code, body = act(client, a["id"], "reject", site["city"], sh(2025, 11, 11), reason="库存仍超过 90%")
    assert code == 200 and body["status"] == "pushed"
    assert act(client, a["id"], "accept", site["ua"], sh(2025, 11, 11))[0] == 403
    assert act(client, a["id"], "rectify", site["ua"], sh(2025, 11, 12), text="已转移 0.5 吨")[0] == 200
    code, body = act(client, a["id"], "accept", site["city"], sh(2025, 11, 13), note="核实无误")
    assert (code, body["status"], body["resolution"]) == (200, "closed", "accepted")
    assert [x["action"] for x in body["actions"]] == ["open", "push", "rectify", "reject", "rectify", "accept"]
    assert [x["by"] for x in body["actions"]][0] == "system"
    assert act(client, a["id"], "close", site["city"], sh(2025, 11, 13), reason="重复")[0] == 409


def test_high_alert_route_province_city_forward_accept(client, site, monkeypatch, session):
    for day in (6, 7, 8):
        weigh(client, site, sh(2025, 11, day), kg="400", store=True)  # 1.2 t in a 1 t store
    a = only(client, site["province"], rule="INV-FACILITY-FULL")
    assert (a["tier"], a["status"]) == ("high", "open")
    assert colour(client, site, sh(2025, 11, 8, 12)) == "red"
    t = sh(2025, 11, 8, 14)
    assert act(client, a["id"], "push", site["city"], t)[0] == 403  # high: the province pushes to the city
    assert act(client, a["id"], "push", site["province"], t)[0] == 200
    assert act(client, a["id"], "rectify", site["ua"], t, text="已清运")[0] == 403  # the city verifies a high one
    code, body = act(client, a["id"], "rectify", site["city"], sh(2025, 11, 10), text="现场核实：超量贮存 0.2 吨")
    assert code == 200 and body["status"] == "rectified"
    code, body = act(client, a["id"], "forward", site["province"], sh(2025, 11, 10), reason="涉嫌超期超量贮存")
    assert code == 409 and "LEDGER_ALERTS_ENFORCEMENT_URL" in body["error"]["message"]
    monkeypatch.setattr(S.config(), "enforcement_url", "https://zhifa.example.test/api/alerts")
    assert act(client, a["id"], "forward", site["city"], sh(2025, 11, 10), reason="涉嫌违法")[0] == 403
    code, body = act(client, a["id"], "forward", site["province"], sh(2025, 11, 10), reason="涉嫌超期超量贮存")
    assert code == 200 and body["possible_offence"] and body["forwarded_at"]
    assert act(client, a["id"], "forward", site["province"], sh(2025, 11, 10), reason="再次移送")[0] == 409
    code, body = act(client, a["id"], "accept", site["province"], sh(2025, 11, 11))
    assert (code, body["status"]) == (200, "closed")
    assert [x["action"] for x in body["actions"]] == ["open", "push", "rectify", "forward", "accept"]
    session.expire_all()
    sub = session.exec(select(WebhookSubscription).where(WebhookSubscription.kind == "enforcement")).one()
    assert sub.url == "https://zhifa.example.test/api/alerts"
    events = [o.event for o in session.exec(select(AlertOutbox).where(AlertOutbox.alert_id == a["id"]))]
    assert events == ["alert.opened", "alert.pushed", "alert.rectified", "alert.forwarded", "alert.accepted"]


def test_queue_filters_jurisdiction_paging_and_closure_rate(client, site, admin, session):
    weigh(client, site, sh(2025, 11, 3), code="900-041-49")  # low, pushed at once
    for day in (6, 7):
        weigh(client, site, sh(2025, 11, day), kg="460", store=True)  # mid, open
    other = create_unit(client, admin, roles=["generator"], region_code="370303", name="淄博厂")
    with clock_at(sh(2025, 11, 8)):
        r = client.get(f"{API}/alerts", headers=site["city"])
        assert r.json()["total"] == 2 and [x["tier"] for x in r.json()["items"]] == ["mid", "low"]
        page = client.get(f"{API}/alerts", params={"limit": 1, "offset": 1}, headers=site["city"]).json()
        assert (page["total"], len(page["items"]), page["items"][0]["tier"]) == (2, 1, "low")
        assert client.get(f"{API}/alerts", params={"class": "inventory"}, headers=site["city"]).json()["total"] == 1
        assert client.get(f"{API}/alerts", params={"status": "open", "tier": "mid"},
                          headers=site["city"]).json()["total"] == 1
        assert client.get(f"{API}/alerts", params={"region": "3703"}, headers=site["city"]).json()["total"] == 0
        assert client.get(f"{API}/alerts", params={"unit_id": other["id"]}, headers=site["city"]).json()["total"] == 0
        zibo = client.get(f"{API}/alerts", headers=site["zibo"]).json()
        assert zibo["total"] == 0  # another city's regulator sees nothing of 济南
        any_id = r.json()["items"][0]["id"]
        r = client.get(f"{API}/alerts/{any_id}", headers=site["zibo"])
        assert r.status_code == 404 and r.json()["error"]["code"] == "alert.not_found"
        bad = client.get(f"{API}/alerts", params={"tier": "urgent"}, headers=site["city"])
        assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "tier"
        bad = client.get(f"{API}/alerts", params={"region": "99"}, headers=site["city"])
        assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "region"
        assert client.get(f"{API}/alerts", headers=site["op"]).json()["total"] == 2  # the unit's own alerts
        stats = client.get(f"{API}/alerts/stats", params={"from": "2025-11-01", "to": "2025-11-30"},
                           headers=site["city"]).json()
    assert stats["counts"]["low"]["pushed"] == 1 and stats["counts"]["mid"]["open"] == 1
    assert (stats["pushed"], stats["closed_of_pushed"], stats["closure_rate"]) == (1, 0, 0.0)
    low = only(client, site["ua"], rule="GEN-NOT-IN-PLAN")
    act(client, low["id"], "rectify", site["ua"], sh(2025, 11, 9), text="已变更计划")
    with clock_at(sh(2025, 11, 10)):
        stats = client.get(f"{API}/alerts/stats", params={"from": "2025-11-01", "to": "2025-11-30"},
                           headers=site["city"]).json()
        assert client.get(f"{API}/alerts/stats", params={"from": "2025-11-30", "to": "2025-11-01"},
                          headers=site["city"]).status_code == 422
    assert (stats["pushed"], stats["closed_of_pushed"], stats["closure_rate"]) == (1, 1, 1.0)
    rules = client.get(f"{API}/alerts/rules", headers=site["city"]).json()
    assert len(rules) >= 20 and {"code", "class", "tiers", "threshold", "basis"} <= set(rules[0])


def test_unit_code_png_is_a_qr_in_the_colour_opening_the_public_page(client, site):
    for day in (6, 7, 8):
        weigh(client, site, sh(2025, 11, day), kg="400", store=True)  # high: red
    with clock_at(sh(2025, 11, 9)):
        j = client.get(f"{API}/units/{site['unit']['id']}/code", headers=site["ua"]).json()
        r = client.get(f"{API}/units/{site['unit']['id']}/code.png", headers=site["ua"])
    assert (j["colour"], j["colour_name"], j["meaning"]) == ("red", "红码", "督办")
    assert j["alerts"][0]["drives_colour"] and j["alerts"][0]["tier"] == "high"
    assert j["public_url"] == f"{PUBLIC_URL}/u/{site['unit']['credit_code']}"
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = Image.open(io.BytesIO(r.content)).convert("RGB")
    found = zxingcpp.read_barcodes(img)
    assert [x.text for x in found] == [j["public_url"]]
    colours = {c for _, c in img.getcolors(1 << 20)}
    assert (170, 20, 20) in colours and (0, 122, 61) not in colours  # red modules, no green
    # the green code of a clean unit decodes too
    from labels.unit_code import UnitCodeData, render_unit_code_png

    for c in ("green", "yellow"):
        png = render_unit_code_png(UnitCodeData(colour=c, unit_name="一个名字很长很长的单位" * 3,
                                                credit_code=site["unit"]["credit_code"], payload=j["public_url"]))
        assert [x.text for x in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))] == [j["public_url"]]


def test_webhook_subscriptions_are_scoped_and_secret_shown_once(client, site, admin, session):
    uid = site["unit"]["id"]
    body = {"unit_id": uid, "url": "https://hooks.example.test/wl", "events": ["alert.opened"]}
    r = client.post(f"{API}/webhooks", json=body, headers=site["ua"])
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["secret"].startswith("whsec_") and created["active"]
    assert client.post(f"{API}/webhooks", json=body, headers=site["op"]).status_code == 403
    assert client.post(f"{API}/webhooks", json={**body, "url": "ftp://x"}, headers=site["ua"]).status_code == 422
    r = client.post(f"{API}/webhooks", json={**body, "events": ["alert.exploded"]}, headers=site["ua"])
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "events[0]"
    r = client.post(f"{API}/webhooks", json={"region_prefix": "3701", "url": "https://city.example.test/h"},
                    headers=site["city"])
    assert r.status_code == 201, r.text
    r = client.post(f"{API}/webhooks", json={"region_prefix": "3703", "url": "https://x.example.test/h"},
                    headers=site["city"])
    assert r.status_code == 403
    assert client.post(f"{API}/webhooks", json={"url": "https://x.example.test/h"},
                       headers=site["city"]).status_code == 422
    listed = client.get(f"{API}/webhooks", headers=site["ua"]).json()
    assert [x["id"] for x in listed] == [created["id"]] and "secret" not in listed[0]
    assert len(client.get(f"{API}/webhooks", headers=site["city"]).json()) == 2
    assert client.get(f"{API}/webhooks", headers=site["zibo"]).json() == []
    # an opened alert is queued for the unit's and the city's subscriptions
    weigh(client, site, sh(2025, 11, 3), code="900-041-49")
    from alerts import notify

    down = httpx.Client(transport=httpx.MockTransport(lambda req: httpx.Response(500)))
    stats = notify.dispatch(client.app.state.engine, now=datetime(2025, 11, 3, 3, tzinfo=UTC), client=down)
    assert stats.fanned_out == 2 and stats.failed == 2
    session.expire_all()
    assert session.exec(select(WebhookDelivery)).all()
    r = client.post(f"{API}/webhooks/{created['id']}/enable", headers=site["ua"])
    assert r.status_code == 200 and r.json()["consecutive_failures"] == 0 and r.json()["pending_deliveries"] == 1
    d = client.get(f"{API}/webhooks/{created['id']}/deliveries", headers=site["ua"]).json()
    assert d[0]["attempts"] == 1 and d[0]["last_status"] == 500


def test_a_pickup_refused_for_a_foreign_label_is_kept_as_an_alert(client, admin, session):
    from tests.conftest import batch_body, setup_transfer

    w = setup_transfer(client, admin, session)
    b = client.post(f"{API}/batches", json=batch_body(w), headers=w["op"]).json()
    stranger = client.post(f"{API}/batches", json=batch_body(w), headers=w["op"]).json()
    r = client.post(f"{API}/manifests", headers=w["orig"], json={
        "originator_id": w["unit"]["id"], "hauler_id": w["hauler"]["id"], "vehicle_id": w["vehicles"][0],
        "receiver_id": w["receiver"]["id"], "driver_id": w["driver_id"], "planned_date": str(shanghai_today()),
        "lines": [{"batch_id": b["id"], "planned_method": "R9"}]})
    assert r.status_code == 201, r.text
    m = r.json()
    assert client.post(f"{API}/manifests/{m['id']}/submit", headers=w["orig"]).status_code == 200
    r = client.post(f"{API}/manifests/{m['id']}/pickup", headers=w["drv"],
                    json={"scanned": [b["digital_id"], stranger["digital_id"]]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "manifest.label_not_on_manifest"
    r = client.get(f"{API}/alerts", params={"rule": "TRN-LABEL-MISMATCH"}, headers=admin).json()
    assert r["total"] == 1
    a = r["items"][0]
    assert (a["tier"], a["unit_id"], a["evidence"]["labels"]) == ("mid", w["unit"]["id"], [stranger["digital_id"]])
    # the refused pickup wrote nothing else: the manifest is still waiting for pickup
    assert client.get(f"{API}/manifests/{m['id']}", headers=w["orig"]).json()["status"] == "submitted"
    assert client.post(f"{API}/manifests/{m['id']}/pickup", headers=w["drv"],
                       json={"scanned": [b["digital_id"]]}).status_code == 200


def test_a_park_manager_reads_its_members_alerts_and_acts_on_none(client, site, admin, session):
    r = client.post(f"{API}/parks", json={"code": "JN-HG", "name": "化工园", "region_code": "370112"}, headers=admin)
    assert r.status_code == 201, r.text
    park = r.json()["id"]
    r = client.post(f"{API}/parks/{park}/members", json={"unit_id": site["unit"]["id"], "since": "2020-01-01"},
                    headers=admin)
    assert r.status_code in (200, 201), r.text
    _, tok = make_user(session, role="park_manager", park_id=park)
    manager = auth(tok)
    weigh(client, site, sh(2025, 11, 3), code="900-041-49")
    with clock_at(sh(2025, 11, 4)):
        a = only(client, manager, rule="GEN-NOT-IN-PLAN")
        assert a["next_acts"] == []
        assert client.post(f"{API}/alerts/{a['id']}/rectify", json={"text": "已整改"}, headers=manager).status_code == 403
        assert client.get(f"{API}/units/{site['unit']['id']}/code", headers=manager).json()["colour"] == "green"


def test_the_alert_paths_document_their_errors(client):
    spec = client.get(f"{API}/openapi.json").json()
    for path in ("/api/v1/alerts", "/api/v1/alerts/{alert_id}", "/api/v1/alerts/{alert_id}/push",
                 "/api/v1/webhooks", "/api/v1/units/{unit_id}/code.png"):
        for op in spec["paths"][path].values():
            assert {"401", "403", "404", "422"} <= set(op["responses"]), (path, sorted(op["responses"]))
            assert op.get("summary")
