"""What needs a firm's action is visible to it: the unit inbox and its events, returned plans, zero reports."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.filings import inbox
from ledger.workdays import today as shanghai_today
from tests.api.collection_world import add_receiver, consent, ok, raise_by_collector, world
from tests.conftest import auth, make_user, setup_plant


@pytest.fixture
def events():
    got: list[dict] = []

    def sink(_session, event):
        got.append(event)
    inbox.subscribe(sink)
    yield got
    inbox.unsubscribe(sink)


def test_a_returned_plan_waits_in_the_inbox_until_a_new_version(client, admin, session, events):
    plant = setup_plant(client, admin, session)
    uid = plant["unit"]["id"]
    plan = ok(client.get(f"/api/v1/units/{uid}/plans", headers=admin))[-1]
    _, reg = make_user(session, role="regulator", region_prefix="3701")
    _, far = make_user(session, role="regulator", region_prefix="3703")
    _, boss = make_user(session, role="unit_admin", unit_id=uid)
    body = {"reason": "废矿物油计划量与上年申报差异过大，请核实"}
    assert client.post(f"/api/v1/units/{uid}/plans/{plan['id']}/return", headers=auth(far), json=body).status_code == 404
    r = client.post(f"/api/v1/units/{uid}/plans/{plan['id']}/return", headers=auth(boss), json=body)
    assert r.status_code == 403
    item = ok(client.post(f"/api/v1/units/{uid}/plans/{plan['id']}/return", headers=auth(reg), json=body), 201)
    assert item["kind"] == "plan.returned" and item["needs_action"] and item["open"] and body["reason"] in item["title"]
    r = client.post(f"/api/v1/units/{uid}/plans/{plan['id']}/return", headers=auth(reg), json=body)
    assert r.status_code == 409 and r.json()["error"]["code"] == "plan.already_returned"
    listed = ok(client.get(f"/api/v1/units/{uid}/inbox", headers=auth(boss)))
    assert [i["kind"] for i in listed] == ["plan.returned"]
    assert ok(client.get(f"/api/v1/units/{uid}/inbox", headers=auth(reg)))[0]["id"] == item["id"]  # supervision
    r = client.post(f"/api/v1/units/{uid}/inbox/{item['id']}/ack", headers=auth(boss))
    assert r.status_code == 409 and r.json()["error"]["code"] == "inbox.needs_action"
    # the event the webhooks get: a plain dict
    ev = next(e for e in events if e["event"] == "plan.returned")
    assert ev == {"event": "plan.returned", "unit_id": uid, "item_id": item["id"], "title": item["title"],
                  "subject": {"type": "plan", "id": plan["id"]}, "needs_action": True,
                  "occurred_at": ev["occurred_at"], "data": ev["data"]}
    assert ev["occurred_at"].endswith("Z") and ev["data"]["reason"] == body["reason"]
    # filing a new version settles it
    ok(client.post(f"/api/v1/units/{uid}/plans", headers=auth(boss), json={"year": plan["year"], "items": [
        {"waste_code": "900-249-08", "planned_kg": "80000"}]}), 201)
    assert ok(client.get(f"/api/v1/units/{uid}/inbox", headers=auth(boss))) == []
    closed = ok(client.get(f"/api/v1/units/{uid}/inbox?open=false", headers=auth(boss)))
    assert [(i["kind"], i["open"]) for i in closed] == [("plan.returned", False)]
    r = client.post(f"/api/v1/units/{uid}/plans/{plan['id']}/return", headers=auth(reg), json=body)
    assert r.status_code == 409 and r.json()["error"]["code"] == "plan.superseded"


def test_a_collectors_filing_on_the_producers_behalf_is_a_notice_it_acknowledges(client, admin, session, events):
    w = world(client, admin, session, garages=1)
    col, g = w["col"], w["garages"][0]
    consent(client, g, col)
    assert [e["event"] for e in events] == ["consent.granted"] and events[0]["unit_id"] == col["id"]
    o = raise_by_collector(client, g, col)
    items = ok(client.get(f"/api/v1/units/{g['id']}/inbox", headers=g["adm"]))
    assert [i["kind"] for i in items] == ["pickup_order.raised_for_you"]
    assert items[0]["subject"] == {"type": "pickup_order", "id": o["id"]} and not items[0]["needs_action"]
    r = client.post(f"/api/v1/units/{g['id']}/inbox/{items[0]['id']}/ack", headers=col["adm"])
    assert r.status_code == 404  # the collector does not manage the producer's inbox
    seen = ok(client.post(f"/api/v1/units/{g['id']}/inbox/{items[0]['id']}/ack", headers=g["adm"]))
    assert seen["acknowledged_at"] and not seen["open"]
    assert ok(client.get(f"/api/v1/units/{g['id']}/inbox", headers=g["adm"])) == []


def test_a_licensed_operator_files_a_zero_report_in_one_action(client, admin, session):
    rcv = add_receiver(client, admin, session)
    rid, today = rcv["id"], shanghai_today()
    # the days without records or reports show in its inbox
    missing = [i for i in ok(client.get(f"/api/v1/units/{rid}/inbox", headers=rcv["adm"]))
               if i["kind"] == "daily_report.missing"]
    assert len(missing) == 1 and len(missing[0]["data"]["days"]) == 7
    first = ok(client.post(f"/api/v1/units/{rid}/zero-reports", headers=rcv["rcv"], json={}), 201)
    assert first["day"] == today.isoformat() and not first["already_filed"]
    again = ok(client.post(f"/api/v1/units/{rid}/zero-reports", headers=rcv["rcv"], json={}), 201)
    assert again["id"] == first["id"] and again["already_filed"]
    yesterday = (today - timedelta(days=1)).isoformat()
    ok(client.post(f"/api/v1/units/{rid}/zero-reports", headers=rcv["rcv"], json={"day": yesterday}), 201)
    missing = next(i for i in ok(client.get(f"/api/v1/units/{rid}/inbox", headers=rcv["adm"]))
                   if i["kind"] == "daily_report.missing")
    assert yesterday not in missing["data"]["days"] and len(missing["data"]["days"]) == 6
    listed = ok(client.get(f"/api/v1/units/{rid}/zero-reports", headers=rcv["adm"]))
    assert [z["day"] for z in listed] == [today.isoformat(), yesterday]
    r = client.post(f"/api/v1/units/{rid}/zero-reports", headers=rcv["rcv"],
                    json={"day": (today + timedelta(days=1)).isoformat()})
    assert r.status_code == 422 and r.json()["error"]["code"] == "zero_report.future_day"
    r = client.post(f"/api/v1/units/{rid}/zero-reports", headers=rcv["rcv"],
                    json={"day": (today - timedelta(days=60)).isoformat()})
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "day"
    # a regulator supervises but does not report for the unit; a unit without a licence has nothing to report daily
    _, reg = make_user(session, role="regulator", region_prefix="37")
    assert client.post(f"/api/v1/units/{rid}/zero-reports", headers=auth(reg), json={}).status_code == 403
    plant = setup_plant(client, admin, session)
    r = client.post(f"/api/v1/units/{plant['unit']['id']}/zero-reports", headers=plant["op"], json={})
    assert r.status_code == 422 and r.json()["error"]["code"] == "zero_report.not_required"


def test_a_day_with_records_is_not_reported_empty(client, admin, session):
    w = world(client, admin, session, garages=1)
    col = w["col"]
    from tests.api.collection_world import collect

    collect(client, w["garages"][0], col, ("20",))  # the collector received and stored today
    r = client.post(f"/api/v1/units/{col['id']}/zero-reports", headers=col["adm"], json={})
    assert r.status_code == 409 and r.json()["error"]["code"] == "zero_report.day_has_records"
