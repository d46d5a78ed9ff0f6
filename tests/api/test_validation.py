"""Issue 8, findings 3, 5 (unknown keys) and 6: nothing unchecked reaches the database.

Every case is a 422 naming the field, the same on SQLite and PostgreSQL (before the fix: 404 or a stored value on
SQLite, 500 on PostgreSQL).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from ledger.batches import Batch
from ledger.registry.models import Unit
from ledger.workdays import today as shanghai_today
from tests.conftest import batch_body, create_unit, setup_plant, setup_transfer, unit_body

BIG = 2**31  # one past PostgreSQL's integer


def field_of(r) -> str:  # noqa: ANN001
    assert r.status_code == 422, (r.status_code, r.text)
    return r.json()["error"]["details"]["field"]


@pytest.mark.parametrize(("path", "field"), [
    (f"/api/v1/units/{BIG}", "unit_id"),
    (f"/api/v1/units/{2**63}", "unit_id"),
    ("/api/v1/units/-1", "unit_id"),
    (f"/api/v1/batches/{BIG}", "batch_id"),
    (f"/api/v1/manifests/{BIG}", "manifest_id"),
    (f"/api/v1/facilities/{BIG}", "facility_id"),
    (f"/api/v1/parks/{BIG}", "park_id"),
    ("/api/v1/units?limit=-1", "limit"),
    ("/api/v1/units?limit=100000", "limit"),
    ("/api/v1/units?offset=-1", "offset"),
    (f"/api/v1/units?park_id={BIG}", "park_id"),
    ("/api/v1/manifests?limit=-5", "limit"),
    (f"/api/v1/manifests?unit_id={BIG}", "unit_id"),
    ("/api/v1/catalogue/waste-codes?limit=-1", "limit"),
    ("/api/v1/units/1/records?limit=-1", "limit"),
    (f"/api/v1/units/1/records?after_seq={BIG}", "after_seq"),
    (f"/api/v1/units/1/plans?year={BIG}", "year"),
    ("/api/v1/units/1/ledger?from=0001-01-01&to=2026-01-01", "from"),
    ("/api/v1/units?region=37%00", "region"),
    ("/api/v1/catalogue/waste-codes?q=%00", "q"),
    ("/api/v1/scan/ABC%00DEF", "digital_id"),
])
def test_out_of_range_and_nul_parameters_are_422_naming_the_parameter(client, admin, path, field):
    assert field_of(client.get(path, headers=admin)) == field


def test_a_negative_limit_no_longer_lifts_the_cap(client, admin):
    # on SQLite LIMIT -1 means "no limit"; a negative limit is now refused before any query
    assert client.get("/api/v1/units/1/records?limit=-1", headers=admin).status_code == 422


@pytest.mark.parametrize(("value", "field"), [
    ({"value_added_10k": "1e20", "output_value_10k": "1"}, "value_added_10k"),
    ({"value_added_10k": "12.345", "output_value_10k": "1"}, "value_added_10k"),
    ({"value_added_10k": "1", "output_value_10k": "100000000000000"}, "output_value_10k"),
    ({"value_added_10k": "1", "output_value_10k": "1", "year": 0}, "year"),
])
def test_economics_beyond_their_column_are_422(client, admin, value, field):
    u = create_unit(client, admin)
    r = client.post(f"/api/v1/units/{u['id']}/economics", headers=admin, json={"year": 2025, **value})
    assert field_of(r) == field


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "明泉\x00化工"}, "name"),
    ({"address": "\x00"}, "address"),
    ({"nmae": "typo"}, "nmae"),
    ({"roles": ["generator"], "extra": 1}, "extra"),
])
def test_nul_text_and_unknown_keys_in_a_body_are_refused(client, admin, session, body, field):
    r = client.post("/api/v1/units", json=unit_body(**body), headers=admin)
    assert field_of(r) == field
    assert session.exec(select(Unit)).all() == []


def test_nul_nested_in_a_list_names_the_item(client, admin, session):
    w = setup_transfer(client, admin, session)
    r = client.post("/api/v1/batches", json=batch_body(w), headers=w["op"])
    b = r.json()
    m = client.post("/api/v1/manifests", headers=w["op"], json={
        "originator_id": w["unit"]["id"], "hauler_id": w["hauler"]["id"], "vehicle_id": w["vehicles"][0],
        "receiver_id": w["receiver"]["id"], "planned_date": shanghai_today().isoformat(),
        "lines": [{"batch_id": b["id"], "planned_method": "R9\x00"}]})
    assert field_of(m) == "lines[0].planned_method"


@pytest.mark.parametrize(("patch", "field"), [
    ({"unit_id": BIG}, "unit_id"),
    ({"facility_id": 2**40}, "facility_id"),
    ({"store_facility_id": -3}, "store_facility_id"),
    ({"gross_kg": "1e30"}, "gross_kg"),
    ({"gross_kg": "NaN"}, "gross_kg"),
    ({"container_volume_l": 1e7}, "container_volume_l"),
    ({"container_volume_l": "Infinity"}, "container_volume_l"),
    ({"occurred_at": "0001-01-01T00:00:00+08:00"}, "occurred_at"),
    ({"occurred_at": "1900-01-01T08:00:00+08:00"}, "occurred_at"),
    ({"operator": "王\x00工"}, "operator"),
    ({"colour": "red"}, "colour"),
])
def test_a_weighing_with_an_impossible_value_is_refused_and_nothing_written(client, admin, session, patch, field):
    plant = setup_plant(client, admin, session)
    r = client.post("/api/v1/batches", json=batch_body(plant, **patch), headers=plant["op"])
    assert field_of(r) == field
    assert session.exec(select(Batch)).all() == []


def test_a_batch_dated_1900_is_refused(client, admin, session):
    plant = setup_plant(client, admin, session)
    r = client.post("/api/v1/batches", json=batch_body(plant, occurred_at="1900-01-01T09:00:00+08:00"),
                    headers=plant["op"])
    assert field_of(r) == "occurred_at" and "2000" in r.json()["error"]["message"]


@pytest.mark.parametrize("planned", ["1900-01-01", "2999-12-31"])
def test_a_manifest_planned_in_1900_or_2999_names_planned_date(client, admin, session, planned):
    w = setup_transfer(client, admin, session)
    b = client.post("/api/v1/batches", json=batch_body(w), headers=w["op"]).json()
    r = client.post("/api/v1/manifests", headers=w["op"], json={
        "originator_id": w["unit"]["id"], "hauler_id": w["hauler"]["id"], "vehicle_id": w["vehicles"][0],
        "receiver_id": w["receiver"]["id"], "planned_date": planned,
        "lines": [{"batch_id": b["id"], "planned_method": "R9"}]})
    assert field_of(r) == "planned_date"


def test_gps_points_are_typed(client, admin, session):
    w = setup_transfer(client, admin, session)
    b = client.post("/api/v1/batches", json=batch_body(w), headers=w["op"]).json()
    m = client.post("/api/v1/manifests", headers=w["op"], json={
        "originator_id": w["unit"]["id"], "hauler_id": w["hauler"]["id"], "vehicle_id": w["vehicles"][0],
        "receiver_id": w["receiver"]["id"], "planned_date": shanghai_today().isoformat(),
        "lines": [{"batch_id": b["id"], "planned_method": "R9"}]}).json()
    client.post(f"/api/v1/manifests/{m['id']}/submit", headers=w["op"])
    client.post(f"/api/v1/manifests/{m['id']}/pickup", headers=w["drv"], json={"scanned": [b["digital_id"]]})
    now = datetime.now(UTC)
    for point, field in (({"at": now.isoformat(), "lat": 36.7, "lon": 117.5, "speed_kmh": "fast"},
                          "points[0].speed_kmh"),
                         ({"at": "0001-01-01T00:00:00-05:00", "lat": 36.7, "lon": 117.5}, "points[0].at"),
                         ({"at": (now - timedelta(hours=1)).isoformat(), "lat": 36.7, "lon": 117.5, "x": 1},
                          "points[0].x")):
        r = client.post(f"/api/v1/manifests/{m['id']}/track", headers=w["drv"], json={"points": [point]})
        assert field_of(r) == field


def test_permit_and_membership_dates_are_bounded(client, admin):
    u = create_unit(client, admin, roles=["receiver"])
    r = client.post(f"/api/v1/units/{u['id']}/permits", headers=admin, json={
        "kind": "operating_licence", "number": "鲁危证9", "waste_codes": ["HW08"], "methods": ["R9"],
        "valid_from": "1900-01-01", "valid_to": "2030-01-01"})
    assert field_of(r) == "valid_from"
    park = client.post("/api/v1/parks", json={"code": "P9", "name": "园区", "region_code": "370112"},
                       headers=admin).json()
    r = client.post(f"/api/v1/parks/{park['id']}/members", json={"unit_id": u["id"], "since": "0001-01-01"},
                    headers=admin)
    assert field_of(r) == "since"


@pytest.mark.parametrize(("body", "field"), [
    ({"username": "abc", "display_name": "x", "role": "operator", "unit_id": 1, "region_prefix": "1234567"},
     "region_prefix"),
    ({"username": "abc", "display_name": "x", "role": "operator", "unit_id": 1, "phone": "1" * 41}, "phone"),
    ({"username": "abc", "display_name": "x", "role": "operator", "unit_id": True}, "unit_id"),
])
def test_user_fields_fit_their_columns(client, admin, body, field):
    assert field_of(client.post("/api/v1/users", json=body, headers=admin)) == field


def test_login_with_nul_is_422_not_500(client):
    r = client.post("/api/v1/auth/login", json={"username": "a\x00b", "password": "whatever-1"})
    assert field_of(r) == "username"
