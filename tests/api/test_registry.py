"""Registry over HTTP: the provincial platform's checks, scope, errors, audit, idempotency."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import select

from ledger.accounts import AuditLog
from ledger.registry.models import Permit, Unit
from tests.conftest import auth, create_unit, credit, facility_body, make_user, permit_body, unit_body


def test_create_and_read_unit(client, admin):
    body = unit_body(name="济南明泉化工", roles=["generator", "receiver"])
    r = client.post("/api/v1/units", json=body, headers=admin)
    assert r.status_code == 201, r.text
    u = r.json()
    assert u["credit_code"] == body["credit_code"] and u["roles"] == ["generator", "receiver"]
    assert u["tier"] == "registered" and u["tier_source"] == "derived"
    got = client.get(f"/api/v1/units/{u['id']}", headers=admin).json()
    assert got["name"] == "济南明泉化工"


def test_wrong_check_character_is_refused_and_nothing_written(client, admin, session):
    good = credit()
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    r = client.post("/api/v1/units", json=unit_body(credit_code=wrong), headers=admin)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["details"]["field"] == "credit_code"
    assert good[17] in err["message"]  # says which check character is expected
    assert session.exec(select(Unit)).all() == []


def test_five_digit_region_is_refused(client, admin, session):
    r = client.post("/api/v1/units", json=unit_body(region_code="37011"), headers=admin)
    assert r.status_code == 422
    assert r.json()["error"]["details"]["field"] == "region_code"
    assert session.exec(select(Unit)).all() == []


def test_schema_validation_errors_use_the_envelope_with_the_field_path(client, admin):
    r = client.post("/api/v1/units", json=unit_body(roles=["generator", "pilot"]), headers=admin)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "request.invalid"
    assert err["details"]["field"] == "roles[1]"
    r = client.post("/api/v1/units", json={"name": "x"}, headers=admin)
    fields = {e["field"] for e in r.json()["error"]["details"]["errors"]}
    assert {"credit_code", "region_code", "roles"} <= fields


def test_duplicate_credit_code_is_409(client, admin):
    body = unit_body()
    assert client.post("/api/v1/units", json=body, headers=admin).status_code == 201
    r = client.post("/api/v1/units", json=body, headers=admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "unit.duplicate"


def test_permit_validity_must_not_end_before_it_starts(client, admin, session):
    u = create_unit(client, admin, roles=["receiver"])
    r = client.post(f"/api/v1/units/{u['id']}/permits", headers=admin,
                    json=permit_body(valid_from="2026-06-01", valid_to="2026-05-31"))
    assert r.status_code == 422
    assert r.json()["error"]["details"]["field"] == "valid_to"
    assert session.exec(select(Permit)).all() == []


def test_unknown_waste_code_is_refused(client, admin, session):
    u = create_unit(client, admin, roles=["receiver"])
    r = client.post(f"/api/v1/units/{u['id']}/permits", headers=admin,
                    json=permit_body(waste_codes=["HW08", "900-999-08"]))
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["details"]["field"] == "waste_codes[1]" and err["code"] == "waste_code.unknown"
    r = client.post(f"/api/v1/units/{u['id']}/plans", headers=admin,
                    json={"year": 2026, "items": [{"waste_code": "123-456-99", "planned_kg": "10"}]})
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "items[0].waste_code"
    assert session.exec(select(Permit)).all() == []


def test_identified_by_testing_and_general_codes_are_accepted_in_plans(client, admin):
    u = create_unit(client, admin)
    r = client.post(f"/api/v1/units/{u['id']}/plans", headers=admin, json={"year": 2026, "items": [
        {"waste_code": "900-000-08", "planned_kg": "1000.5"},
        {"waste_code": "900-001-S03", "planned_kg": "200000"},
        {"waste_code": "900-249-08", "planned_kg": "50", "methods": ["R9"]},
    ]})
    assert r.status_code == 201, r.text
    assert [i["planned_kg"] for i in r.json()["items"]] == ["1000.500", "200000.000", "50.000"]


def test_licence_needs_receiver_role_and_vehicle_needs_hauler(client, admin):
    gen = create_unit(client, admin, roles=["generator"])
    r = client.post(f"/api/v1/units/{gen['id']}/permits", json=permit_body(), headers=admin)
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "kind"
    r = client.post(f"/api/v1/units/{gen['id']}/vehicles", json={"plate": "鲁A12345"}, headers=admin)
    assert r.status_code == 422
    hauler = create_unit(client, admin, roles=["hauler"])
    r = client.post(f"/api/v1/units/{hauler['id']}/vehicles", json={"plate": "鲁a 123-45"}, headers=admin)
    assert r.status_code == 201 and r.json()["plate"] == "鲁A12345"
    r = client.post(f"/api/v1/units/{hauler['id']}/vehicles", json={"plate": "XX12345"}, headers=admin)
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "plate"


def test_facilities_and_tier_from_own_facility_and_licence(client, admin):
    u = create_unit(client, admin, roles=["receiver"])
    r = client.post(f"/api/v1/units/{u['id']}/facilities", json=facility_body(storage_type=None), headers=admin)
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "storage_type"
    r = client.post(f"/api/v1/units/{u['id']}/facilities", json=facility_body(), headers=admin)
    assert r.status_code == 201 and Decimal(r.json()["storage_capacity_t"]) == 50
    assert client.get(f"/api/v1/units/{u['id']}", headers=admin).json()["tier"] == "registered"
    r = client.post(f"/api/v1/units/{u['id']}/facilities", headers=admin, json=facility_body(
        kind="utilisation", code="LY-01", storage_type=None, storage_capacity_t=None, methods=["R9"]))
    assert r.status_code == 201
    assert client.get(f"/api/v1/units/{u['id']}", headers=admin).json()["tier"] == "key"


def test_regulator_overrides_tier(client, admin, session):
    u = create_unit(client, admin, region_code="370305")
    _, tok = make_user(session, role="regulator", region_prefix="3703")
    r = client.post(f"/api/v1/units/{u['id']}/tier", json={"tier": "key", "reason": "重点排污单位名录"},
                    headers=auth(tok))
    assert r.status_code == 200 and r.json()["tier"] == "key" and r.json()["tier_source"] == "override"
    _, op = make_user(session, role="unit_admin", unit_id=u["id"])
    r = client.post(f"/api/v1/units/{u['id']}/tier", json={"tier": None, "reason": "自己修改管理类别"}, headers=auth(op))
    assert r.status_code == 403


def test_regulator_of_3703_cannot_read_a_unit_of_3701(client, admin, session):
    jinan = create_unit(client, admin, region_code="370112")
    zibo = create_unit(client, admin, region_code="370303")
    _, tok = make_user(session, role="regulator", region_prefix="3703")
    h = auth(tok)
    assert client.get(f"/api/v1/units/{zibo['id']}", headers=h).status_code == 200
    r = client.get(f"/api/v1/units/{jinan['id']}", headers=h)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unit.not_found"
    assert client.get(f"/api/v1/units/{jinan['id']}/facilities", headers=h).status_code == 404
    listed = {u["id"] for u in client.get("/api/v1/units", headers=h).json()}
    assert listed == {zibo["id"]}
    # nor may it register units outside its jurisdiction
    r = client.post("/api/v1/units", json=unit_body(region_code="370112"), headers=h)
    assert r.status_code == 403


def test_unit_operator_cannot_read_another_unit(client, admin, session):
    mine = create_unit(client, admin)
    other = create_unit(client, admin)
    _, tok = make_user(session, role="operator", unit_id=mine["id"])
    h = auth(tok)
    assert client.get(f"/api/v1/units/{mine['id']}", headers=h).status_code == 200
    assert client.get(f"/api/v1/units/{other['id']}", headers=h).status_code == 404
    assert [u["id"] for u in client.get("/api/v1/units", headers=h).json()] == [mine["id"]]
    # an operator weighs; it does not manage the registry
    r = client.post(f"/api/v1/units/{mine['id']}/facilities", json=facility_body(), headers=h)
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.forbidden"


def test_park_manager_sees_member_units_only(client, admin, session):
    a = create_unit(client, admin)
    b = create_unit(client, admin)
    park = client.post("/api/v1/parks", json={"code": "P1", "name": "化工园", "region_code": "370112"},
                       headers=admin).json()
    r = client.post(f"/api/v1/parks/{park['id']}/members", json={"unit_id": a["id"], "since": "2020-01-01"},
                    headers=admin)
    assert r.status_code == 201 and r.json()["unit_ids"] == [a["id"]]
    _, tok = make_user(session, role="park_manager", park_id=park["id"])
    h = auth(tok)
    assert client.get(f"/api/v1/units/{a['id']}", headers=h).status_code == 200
    assert client.get(f"/api/v1/units/{b['id']}", headers=h).status_code == 404
    # a unit belongs to one park at a time
    p2 = client.post("/api/v1/parks", json={"code": "P2", "name": "园二", "region_code": "370112"},
                     headers=admin).json()
    r = client.post(f"/api/v1/parks/{p2['id']}/members", json={"unit_id": a["id"], "since": "2024-01-01"},
                    headers=admin)
    assert r.status_code == 409


def test_unauthenticated_and_bad_token(client):
    r = client.get("/api/v1/units")
    assert r.status_code == 401 and r.json()["error"]["code"] == "auth.unauthenticated"
    r = client.get("/api/v1/units", headers=auth("wl_nope"))
    assert r.status_code == 401 and r.json()["error"]["code"] == "auth.invalid_token"


def test_every_write_is_audited_with_who_and_where(client, admin, session):
    u = create_unit(client, admin)
    client.post(f"/api/v1/units/{u['id']}/facilities", json=facility_body(), headers=admin)
    rows = session.exec(select(AuditLog).where(AuditLog.entity != "user").order_by(AuditLog.id)).all()
    assert [r.action for r in rows] == ["unit.create", "facility.create"]
    assert all(r.user_id and r.source_ip and r.at for r in rows)


def test_idempotency_key_replays_the_first_response(client, admin, session):
    body = unit_body()
    h = {**admin, "Idempotency-Key": "unit-create-1"}
    first = client.post("/api/v1/units", json=body, headers=h)
    again = client.post("/api/v1/units", json=body, headers=h)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again.headers.get("Idempotent-Replayed") == "true"
    assert len(session.exec(select(Unit)).all()) == 1
    other = client.post("/api/v1/units", json=unit_body(), headers=h)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency.key_reused"


def test_economics_upsert_and_plan_versions(client, admin):
    u = create_unit(client, admin)
    for va in ("1200.50", "1300"):
        r = client.post(f"/api/v1/units/{u['id']}/economics", headers=admin,
                        json={"year": 2025, "value_added_10k": va, "output_value_10k": "5000"})
        assert r.status_code == 200
    rows = client.get(f"/api/v1/units/{u['id']}/economics", headers=admin).json()
    assert len(rows) == 1 and rows[0]["value_added_10k"] in ("1300", "1300.00")
    for _ in range(2):
        client.post(f"/api/v1/units/{u['id']}/plans", headers=admin,
                    json={"year": 2026, "items": [{"waste_code": "900-249-08", "planned_kg": "10"}]})
    assert [p["version"] for p in client.get(f"/api/v1/units/{u['id']}/plans", headers=admin).json()] == [1, 2]


def test_openapi_lists_registry_paths(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for p in ("/api/v1/units", "/api/v1/units/{unit_id}/facilities", "/api/v1/units/{unit_id}/permits",
              "/api/v1/units/{unit_id}/vehicles", "/api/v1/units/{unit_id}/plans",
              "/api/v1/units/{unit_id}/economics", "/api/v1/parks"):
        assert p in paths, p


def test_a_plan_is_late_after_march_unless_the_unit_was_registered_later_that_year():
    from datetime import datetime as dt

    from ledger.registry.models import Plan, Unit
    from ledger.registry.plans import filed_late
    from ledger.workdays import SHANGHAI

    def plan(filed: str) -> Plan:
        return Plan(unit_id=1, year=2026, version=1, filed_at=dt.fromisoformat(filed).replace(tzinfo=SHANGHAI))

    old = Unit(credit_code="x", name="老单位", region_code="370112", created_at=dt(2024, 5, 1, tzinfo=SHANGHAI))
    new = Unit(credit_code="y", name="新单位", region_code="370112", created_at=dt(2026, 6, 10, tzinfo=SHANGHAI))
    assert not filed_late(plan("2026-03-31T23:00"), old) and filed_late(plan("2026-04-01T09:00"), old)
    assert not filed_late(plan("2026-07-09T10:00"), new)  # within 30 days of its registration
    assert filed_late(plan("2026-07-11T10:00"), new)
