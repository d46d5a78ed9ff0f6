"""Issue 8, findings 1, 2 and 4: supervising is not acting; park membership is asked, not taken; logins are
rate-limited. (The full role × route × ownership table is tests/api/test_authz_matrix.py.)"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from ledger.accounts import ApiToken, User
from ledger.batches import Batch
from ledger.registry.models import ParkMember
from ledger.throttle import Throttle
from ledger.workdays import today as shanghai_today
from tests.conftest import auth, batch_body, create_unit, facility_body, make_user, permit_body, setup_plant

TODAY = shanghai_today()


# ---- finding 1: a regulator supervises; it never acts as the unit -----------------------------------------

def test_a_city_regulator_cannot_issue_a_token_for_an_operator_of_a_unit_it_supervises(client, admin, session):
    plant = setup_plant(client, admin, session)
    uid = plant["unit"]["id"]
    operator = session.exec(select(User).where(User.unit_id == uid, User.role == "operator")).first()
    _, reg = make_user(session, role="regulator", region_prefix="3701")
    h = auth(reg)
    before = len(session.exec(select(ApiToken)).all())
    r = client.post("/api/v1/tokens", json={"name": "stolen", "user_id": operator.id}, headers=h)
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.forbidden"
    session.expire_all()
    assert len(session.exec(select(ApiToken)).all()) == before
    # nor revoke the operator's tokens
    tok = session.exec(select(ApiToken).where(ApiToken.user_id == operator.id)).first()
    assert client.post(f"/api/v1/tokens/{tok.id}/revoke", headers=h).status_code == 403


def test_a_regulator_cannot_create_a_user_on_a_unit_it_supervises(client, admin, session):
    plant = setup_plant(client, admin, session)
    _, reg = make_user(session, role="regulator", region_prefix="3701")
    for role in ("operator", "unit_admin", "driver", "receiver_operator"):
        r = client.post("/api/v1/users", headers=auth(reg), json={
            "username": f"puppet.{role}", "display_name": "傀儡", "role": role, "unit_id": plant["unit"]["id"],
            "password": "chosen-by-regulator"})
        assert r.status_code == 403, (role, r.text)
    assert session.exec(select(User).where(User.username.startswith("puppet."))).all() == []


def test_a_regulator_reads_supervises_and_certifies_but_never_operates_or_registers(client, admin, session):
    plant = setup_plant(client, admin, session)
    uid = plant["unit"]["id"]
    _, tok = make_user(session, role="regulator", region_prefix="3701")
    h = auth(tok)
    assert client.get(f"/api/v1/units/{uid}", headers=h).status_code == 200
    assert client.get(f"/api/v1/units/{uid}/records", headers=h).status_code == 200
    r = client.post(f"/api/v1/units/{uid}/tier", json={"tier": "key", "reason": "重点排污单位"}, headers=h)
    assert r.status_code == 200
    r = client.post("/api/v1/batches", json=batch_body(plant), headers=h)
    assert r.status_code == 403
    assert session.exec(select(Batch)).all() == []
    r = client.post(f"/api/v1/units/{uid}/facilities", json=facility_body(code="ZC-99"), headers=h)
    assert r.status_code == 403
    r = client.post(f"/api/v1/units/{uid}/economics", headers=h,
                    json={"year": 2025, "value_added_10k": "1", "output_value_10k": "2"})
    assert r.status_code == 403
    # a licence is the authority's own act: the regulator records the licence it issued
    recv = create_unit(client, admin, roles=["receiver"], region_code="370112")
    r = client.post(f"/api/v1/units/{recv['id']}/permits", json=permit_body(number="鲁危证7001"), headers=h)
    assert r.status_code == 201, r.text


def test_a_unit_cannot_record_its_own_licence(client, admin, session):
    recv = create_unit(client, admin, roles=["receiver"])
    _, tok = make_user(session, role="unit_admin", unit_id=recv["id"])
    r = client.post(f"/api/v1/units/{recv['id']}/permits", json=permit_body(number="鲁危证7002"), headers=auth(tok))
    assert r.status_code == 403


def test_only_the_units_admin_administers_its_accounts(client, admin, session):
    plant = setup_plant(client, admin, session)
    uid = plant["unit"]["id"]
    operator = session.exec(select(User).where(User.unit_id == uid, User.role == "operator")).first()
    _, ua = make_user(session, role="unit_admin", unit_id=uid)
    r = client.post("/api/v1/tokens", json={"name": "地磅2", "user_id": operator.id}, headers=auth(ua))
    assert r.status_code == 201
    # an operator of the same unit may not issue tokens for a colleague
    _, op2 = make_user(session, role="operator", unit_id=uid)
    r = client.post("/api/v1/tokens", json={"name": "x", "user_id": operator.id}, headers=auth(op2))
    assert r.status_code == 403
    # another unit's admin does not even see the user
    other = create_unit(client, admin)
    _, oa = make_user(session, role="unit_admin", unit_id=other["id"])
    r = client.post("/api/v1/tokens", json={"name": "x", "user_id": operator.id}, headers=auth(oa))
    assert r.status_code == 404
    # a park manager whose park holds the unit cannot either
    park = client.post("/api/v1/parks", json={"code": "PA", "name": "化工园区", "region_code": "370112"},
                       headers=admin).json()
    client.post(f"/api/v1/parks/{park['id']}/members", json={"unit_id": uid, "since": str(TODAY)}, headers=admin)
    _, pm = make_user(session, role="park_manager", park_id=park["id"])
    r = client.post("/api/v1/tokens", json={"name": "x", "user_id": operator.id}, headers=auth(pm))
    assert r.status_code == 403


# ---- finding 2: park membership is a regulator's act, or a request the unit accepts ------------------------

def _park_world(client, admin, session):  # noqa: ANN001, ANN202
    unit = create_unit(client, admin, region_code="370112")
    park = client.post("/api/v1/parks", json={"code": "JNHG", "name": "济南化工园", "region_code": "370112"},
                       headers=admin).json()
    _, pm = make_user(session, role="park_manager", park_id=park["id"])
    _, ua = make_user(session, role="unit_admin", unit_id=unit["id"])
    return unit, park, auth(pm), auth(ua)


def test_a_park_manager_cannot_pull_a_unit_into_its_park(client, admin, session):
    unit, park, pm, _ = _park_world(client, admin, session)
    for since in ("2020-01-01", str(TODAY)):
        r = client.post(f"/api/v1/parks/{park['id']}/members", json={"unit_id": unit["id"], "since": since},
                        headers=pm)
        assert r.status_code == 403 and "member-requests" in r.json()["error"]["message"]
    assert session.exec(select(ParkMember)).all() == []
    assert client.get(f"/api/v1/units/{unit['id']}", headers=pm).status_code == 404


def test_a_park_managers_request_is_not_backdated_and_joins_only_when_the_unit_accepts(client, admin, session):
    unit, park, pm, ua = _park_world(client, admin, session)
    base = f"/api/v1/parks/{park['id']}/member-requests"
    r = client.post(base, json={"credit_code": unit["credit_code"], "since": "2020-01-01"}, headers=pm)
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "since"
    r = client.post(base, json={"credit_code": unit["credit_code"], "since": str(TODAY)}, headers=pm)
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["status"] == "pending" and req["unit_id"] == unit["id"]
    assert client.post(base, json={"credit_code": unit["credit_code"], "since": str(TODAY)},
                       headers=pm).status_code == 409
    # pending: the park manager still sees nothing of the unit
    assert client.get(f"/api/v1/units/{unit['id']}", headers=pm).status_code == 404
    # the unit sees the request; only its admin answers
    listed = client.get(f"/api/v1/units/{unit['id']}/park-requests", headers=ua).json()
    assert [x["id"] for x in listed] == [req["id"]]
    _, op = make_user(session, role="operator", unit_id=unit["id"])
    accept = f"/api/v1/units/{unit['id']}/park-requests/{req['id']}/accept"
    assert client.post(accept, headers=auth(op)).status_code == 403
    assert client.post(accept, headers=pm).status_code == 404
    r = client.post(accept, headers=ua)
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    member = session.exec(select(ParkMember)).one()
    assert member.since == TODAY
    assert client.get(f"/api/v1/units/{unit['id']}", headers=pm).status_code == 200
    assert client.post(accept, headers=ua).status_code == 409


def test_a_rejected_request_changes_nothing(client, admin, session):
    unit, park, pm, ua = _park_world(client, admin, session)
    req = client.post(f"/api/v1/parks/{park['id']}/member-requests", headers=pm, json={
        "credit_code": unit["credit_code"], "since": str(TODAY + timedelta(days=3))}).json()
    r = client.post(f"/api/v1/units/{unit['id']}/park-requests/{req['id']}/reject", headers=ua)
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert session.exec(select(ParkMember)).all() == []
    assert client.get(f"/api/v1/parks/{park['id']}/member-requests", headers=pm).json()[0]["status"] == "rejected"


def test_a_regulator_of_the_parks_region_records_membership_directly(client, admin, session):
    unit, park, _, _ = _park_world(client, admin, session)
    _, outside = make_user(session, role="regulator", region_prefix="3703")
    r = client.post(f"/api/v1/parks/{park['id']}/members", json={"unit_id": unit["id"], "since": "2020-01-01"},
                    headers=auth(outside))
    assert r.status_code == 404
    _, reg = make_user(session, role="regulator", region_prefix="3701")
    r = client.post(f"/api/v1/parks/{park['id']}/members", json={"unit_id": unit["id"], "since": "2020-01-01"},
                    headers=auth(reg))
    assert r.status_code == 201 and r.json()["unit_ids"] == [unit["id"]]


# ---- finding 4: brute force ---------------------------------------------------------------------------------

def login(client, username, password):  # noqa: ANN001, ANN201
    client.cookies.clear()  # a script logging in afresh (a cookie-borne write would need our Origin: CSRF check)
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def test_wrong_passwords_for_one_account_end_in_429_with_retry_after(client, session):
    make_user(session, role="admin", username="victim")
    for _ in range(5):
        assert login(client, "victim", "guess-guess").status_code == 401
    r = login(client, "victim", "guess-guess")
    assert r.status_code == 429 and r.json()["error"]["code"] == "auth.too_many_attempts"
    wait = int(r.headers["retry-after"])
    assert 0 < wait <= 900 and r.json()["error"]["details"]["scope"] == "login.account"
    # locked means locked: even the right password waits
    assert login(client, "victim", "password-123").status_code == 429
    # another account from the same address is not locked by this one
    make_user(session, role="admin", username="bystander")
    assert login(client, "bystander", "password-123").status_code == 200
    # once the window has passed, the right password works again and clears the count
    for row in session.exec(select(Throttle)).all():
        row.window_start -= timedelta(minutes=16)
        session.add(row)
    session.commit()
    assert login(client, "victim", "password-123").status_code == 200
    assert session.exec(select(Throttle).where(Throttle.scope == "login.account")).all() == []


def test_one_address_guessing_many_accounts_is_limited_too(client, session):
    for i in range(20):
        assert login(client, f"nobody{i}", "guess-guess").status_code == 401
    r = login(client, "nobody-else", "guess-guess")
    assert r.status_code == 429 and r.json()["error"]["details"]["scope"] == "login.address"
    assert "Retry-After" in r.headers
