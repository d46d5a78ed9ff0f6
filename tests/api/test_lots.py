"""Collection-centre lots: many producers' small batches combined into one lot, traced back to each producer."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from ledger.workdays import today as shanghai_today
from tests.api.collection_world import OIL, collect, ok, ship_lot, world
from tests.conftest import create_unit

D = Decimal


@pytest.fixture
def w(client, admin, session):
    return world(client, admin, session, garages=3)


def _combine(client, col, **kw):
    return client.post(f"/api/v1/facilities/{col['centre']}/lots", headers=col["adm"],
                       json={"waste_code": OIL, "container_type": "吨桶", "operator": "收集点 李工", **kw})


def test_a_combined_lot_traces_to_every_producer(client, w):
    col, rcv = w["col"], w["rcv"]
    grosses = [("25.5", "18.25"), ("30.125",), ("12.5", "12.5", "9.75")]  # tare 2.5 kg each
    for g, gr in zip(w["garages"], grosses, strict=True):
        collect(client, g, col, gr)
    expected = {g["id"]: sum(D(x) - D("2.5") for x in gr) for g, gr in zip(w["garages"], grosses, strict=True)}
    res = ok(_combine(client, col), 201)
    lot, b = res["lot"], res["batch"]
    assert lot["producers"] == 3 and len(lot["sources"]) == 6
    assert D(lot["net_kg"]) == D(lot["sources_total_kg"]) == sum(expected.values())
    per_producer: dict[int, Decimal] = {}
    for s in lot["sources"]:
        per_producer[s["producer_id"]] = per_producer.get(s["producer_id"], D(0)) + D(s["mass_kg"])
        assert s["inbound_manifest"] and s["digital_id"][:18] != b["digital_id"][:18]
    assert per_producer == expected
    # the lot has its own label under the collector's credit code, and sits in the centre
    assert b["digital_id"].startswith(col["unit"]["credit_code"]) and b["batch_code"].startswith("HWSJ")
    assert b["status"] == "stored" and b["storage_facility_id"] == col["centre"]
    label = client.get(f"/api/v1/batches/{b['id']}/label.png", headers=col["adm"])
    assert label.status_code == 200 and label.headers["content-type"] == "image/png"
    centre = ok(client.get(f"/api/v1/facilities/{col['centre']}", headers=col["adm"]))
    assert centre["stock"] == [{"waste_code": OIL, "stored_kg": lot["net_kg"], "batches": 1}]
    # onward to the end receiver, with a small transit difference
    m = ship_lot(client, b["id"], col, rcv, received_kg=str(D(lot["net_kg"]) - D("0.5")))
    holding = m["lines"][0]["holding_id"]
    tr = ok(client.get(f"/api/v1/batches/{holding}/trace", headers=rcv["rcv"]))
    section = tr["sections"]["lot"]
    assert section["lot_id"] == b["id"] and {s["producer_id"] for s in section["sources"]} == set(expected)
    assert sum(D(s["mass_kg"]) for s in section["sources"]) == D(section["net_kg"])
    party_ids = {p["unit_id"] for p in tr["parties"]}
    assert set(expected) | {col["id"], rcv["id"]} <= party_ids
    numbers = {x["number"] for x in tr["manifests"]}
    assert {s["inbound_manifest"] for s in section["sources"]} | {m["number"]} <= numbers
    kinds = [s["record"]["kind"] for s in tr["steps"]]
    assert kinds.count("combined") == 6 and kinds[-2:] == ["received", "stored"]
    # from a producer's batch the trace reaches the lot and the end receiver
    first = section["sources"][0]
    ptr = ok(client.get(f"/api/v1/batches/{first['root_id']}/trace", headers=w["garages"][0]["adm"]))
    assert ptr["sections"]["in_lots"][0]["lot_id"] == b["id"]
    assert ptr["sections"]["in_lots"][0]["onward_manifests"][0]["receiver_id"] == rcv["id"]
    assert rcv["id"] in {p["unit_id"] for p in ptr["parties"]}
    assert "combined" in [s["record"]["kind"] for s in ptr["steps"]]
    # each producer's own figures are untouched: what it generated and shipped
    for g in w["garages"]:
        recs = ok(client.get(f"/api/v1/units/{g['id']}/records", headers=g["adm"]))
        assert sum(D(r["mass_kg"]) for r in recs if r["kind"] == "shipped") == expected[g["id"]]
    crecs = ok(client.get(f"/api/v1/units/{col['id']}/records", headers=col["adm"]))
    shipped = [r for r in crecs if r["kind"] == "shipped"]
    assert len(shipped) == 1 and shipped[0]["body"]["collected"] and shipped[0]["body"]["lot"]
    assert ok(client.get(f"/api/v1/lots/{b['id']}", headers=col["adm"]))["sources"] == lot["sources"]
    # the collector's HJ 1259 tables: each source out of the centre and the lot at loading (B.3), the lot into the
    # centre (B.2), the lot sent on (B.5); the combined records themselves have no table
    day = shanghai_today()
    tables = ok(client.get(f"/api/v1/units/{col['id']}/ledger?from={day - timedelta(days=1)}&to={day + timedelta(days=1)}",
                           headers=col["adm"]))["tables"]
    assert len(tables["B.3"]["rows"]) == 7 and len(tables["IN"]["rows"]) == 6 and len(tables["B.5"]["rows"]) == 1
    assert [r["record_code"] for r in tables["B.2"]["rows"]][-1].startswith("HWRK")
    assert D(tables["B.5"]["rows"][0]["mass_kg"]) == D(lot["net_kg"])
    for unit, who in [(col["id"], col["adm"]), (rcv["id"], rcv["rcv"])]:
        assert ok(client.get(f"/api/v1/units/{unit}/verify", headers=who))["ok"]
    # the alert scan finds no balance gap in the lot and no licence breach at the collector (its collection
    # licence covers what it collects; the planned method is the end receiver's)
    from alerts import engine as alert_engine
    from alerts.models import Alert
    from ledger.db import session_scope

    with session_scope(client.app.state.engine) as s:
        alert_engine.scan(s)
        rules = {a.rule for a in s.exec(select(Alert).where(Alert.unit_id == col["id"])).all()}
    assert not rules & {"INV-BALANCE", "OPS-LICENCE-SCOPE"}, rules


def test_lot_checks_say_what_to_fix(client, w, admin):
    col, g = w["col"], w["garages"][0]
    m = collect(client, g, col, ("20",))
    r = _combine(client, col)
    assert r.status_code == 422 and r.json()["error"]["code"] == "lot.too_few_sources"
    collect(client, w["garages"][1], col, ("20",))
    holding = m["lines"][0]["holding_id"]
    r = _combine(client, col, source_ids=[holding, holding])
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "source_ids"
    # a producer's own batch is not a collected holding
    r = _combine(client, col, source_ids=[holding, m["lines"][0]["batch_id"]])
    assert r.status_code == 422 and r.json()["error"]["code"] == "lot.not_collected"
    # only a collector's centre makes lots; the producer may not combine at the collector's centre
    r = client.post(f"/api/v1/facilities/{col['centre']}/lots", headers=g["adm"],
                    json={"waste_code": OIL, "container_type": "吨桶", "operator": "x"})
    assert r.status_code == 404
    plain = create_unit(client, admin, roles=["receiver"], name="普通接收单位")
    fid = ok(client.post(f"/api/v1/units/{plain['id']}/facilities", headers=admin, json={
        "kind": "storage", "code": "K", "name": "库", "storage_type": "贮存库"}), 201)["id"]
    r = client.post(f"/api/v1/facilities/{fid}/lots", headers=admin,
                    json={"waste_code": OIL, "container_type": "吨桶", "operator": "x"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "lot.not_collector"
    # a collector on a collection licence does not utilise what it collected
    ok(client.post(f"/api/v1/batches/{holding}/retrieve", headers=col["ctr"], json={"operator": "x"}), 201)
    r = client.post(f"/api/v1/batches/{holding}/use-in-house", headers=col["ctr"],
                    json={"method": "R9", "operator": "x"})
    assert r.status_code == 422, r.text
