"""Login, tokens, revocation and who may create whom."""

from __future__ import annotations

from sqlmodel import select

from ledger.accounts import ApiToken
from tests.conftest import auth, create_unit, make_user


def test_password_login_sets_a_session_cookie_that_authenticates(client, session):
    make_user(session, role="admin", username="alice")
    r = client.post("/api/v1/auth/login", json={"username": "alice", "password": "wrong-pass"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "auth.bad_credentials"
    r = client.post("/api/v1/auth/login", json={"username": "alice", "password": "password-123"})
    assert r.status_code == 200 and "wl_session" in r.cookies
    assert client.get("/api/v1/auth/me").json()["username"] == "alice"
    # A write authenticated by the cookie alone must come from our own origin (CSRF).
    assert client.post("/api/v1/auth/logout").json()["error"]["code"] == "auth.csrf"
    assert client.post("/api/v1/auth/logout", headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.post("/api/v1/auth/logout", headers={"Origin": "http://testserver"}).status_code == 200
    client.cookies.clear()
    assert client.get("/api/v1/auth/me").status_code == 401


def test_passwords_are_stored_as_argon2(session):
    user, _ = make_user(session, role="admin")
    assert user.password_hash.startswith("$argon2id$")


def test_token_issue_and_revoke(client, admin, session):
    r = client.post("/api/v1/tokens", json={"name": "weighbridge 2"}, headers=admin)
    assert r.status_code == 201
    tok = r.json()["token"]
    stored = session.exec(select(ApiToken).where(ApiToken.id == r.json()["id"])).one()
    assert tok not in (stored.token_hash, stored.prefix) and len(stored.token_hash) == 64
    assert client.get("/api/v1/auth/me", headers=auth(tok)).status_code == 200
    assert client.post(f"/api/v1/tokens/{r.json()['id']}/revoke", headers=admin).status_code == 200
    assert client.get("/api/v1/auth/me", headers=auth(tok)).status_code == 401


def test_unit_admin_creates_users_for_its_unit_only(client, admin, session):
    mine = create_unit(client, admin)
    other = create_unit(client, admin)
    _, tok = make_user(session, role="unit_admin", unit_id=mine["id"])
    h = auth(tok)
    ok = client.post("/api/v1/users", headers=h, json={"username": "scale1", "display_name": "地磅1",
                                                       "role": "operator", "unit_id": mine["id"]})
    assert ok.status_code == 201
    r = client.post("/api/v1/users", headers=h, json={"username": "other1", "display_name": "x", "role": "operator",
                                                      "unit_id": other["id"]})
    assert r.status_code == 404
    r = client.post("/api/v1/users", headers=h, json={"username": "other2", "display_name": "x", "role": "regulator",
                                                      "region_prefix": "37"})
    assert r.status_code == 403
    # and it can issue a terminal token for its operator
    r = client.post("/api/v1/tokens", headers=h, json={"name": "地磅终端", "user_id": ok.json()["id"]})
    assert r.status_code == 201


def test_regulator_cannot_widen_its_jurisdiction(client, session):
    _, tok = make_user(session, role="regulator", region_prefix="3703")
    h = auth(tok)
    r = client.post("/api/v1/users", headers=h, json={"username": "reg2", "display_name": "r", "role": "regulator",
                                                      "region_prefix": "37"})
    assert r.status_code == 403
    r = client.post("/api/v1/users", headers=h, json={"username": "reg3", "display_name": "r", "role": "regulator",
                                                      "region_prefix": "370303"})
    assert r.status_code == 201
