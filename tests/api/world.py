"""A small seeded world for the fuzzer: a plant, a hauler, a receiver, batches, manifests in several states, a
park with a pending request, and the ids of each kind of row (what path parameters are drawn from)."""

from __future__ import annotations

from sqlmodel import Session, select

from ledger.accounts import ApiToken
from ledger.db import deferred
from ledger.workdays import today as shanghai_today
from tests.conftest import auth, batch_body, make_user, setup_transfer


def _ok(r, status=201):  # noqa: ANN001, ANN202
    assert r.status_code == status, r.text
    return r.json()


def seed_world(client, engine) -> dict:  # noqa: ANN001
    with Session(deferred(engine), expire_on_commit=False) as session:
        _, admin_token = make_user(session, role="admin")
        admin = auth(admin_token)
        w = setup_transfer(client, admin, session)
        # the operator of the fuzz is the plant's operator: some of its requests are in scope
        operator = w["op"]
        batches = [_ok(client.post("/api/v1/batches", json=batch_body(w, gross_kg=str(100 + i)), headers=operator))
                   for i in range(4)]
        stored = _ok(client.post("/api/v1/batches", json=batch_body(w, store_facility_id=w["store"]),
                                 headers=operator))

        def draft(bid: int) -> dict:
            return _ok(client.post("/api/v1/manifests", headers=operator, json={
                "originator_id": w["unit"]["id"], "hauler_id": w["hauler"]["id"], "vehicle_id": w["vehicles"][0],
                "receiver_id": w["receiver"]["id"], "driver_id": w["driver_id"], "planned_date": str(shanghai_today()),
                "lines": [{"batch_id": bid, "planned_method": "R9"}]}))

        drafted = draft(batches[0]["id"])
        submitted = draft(batches[1]["id"])
        _ok(client.post(f"/api/v1/manifests/{submitted['id']}/submit", headers=operator), 200)
        moving = draft(batches[2]["id"])
        _ok(client.post(f"/api/v1/manifests/{moving['id']}/submit", headers=operator), 200)
        _ok(client.post(f"/api/v1/manifests/{moving['id']}/pickup", headers=w["drv"],
                        json={"scanned": [batches[2]["digital_id"]]}), 200)
        revised = _ok(client.post(f"/api/v1/manifests/{moving['id']}/revisions", headers=w["drv"],
                                  json={"reason": "换车", "vehicle_id": w["vehicles"][1]}))
        park = _ok(client.post("/api/v1/parks", json={"code": "FUZZ", "name": "模糊园区", "region_code": "370112"},
                               headers=admin))
        _, pm_token = make_user(session, role="park_manager", park_id=park["id"])
        request = _ok(client.post(f"/api/v1/parks/{park['id']}/member-requests", headers=auth(pm_token),
                                  json={"credit_code": w["unit"]["credit_code"], "since": str(shanghai_today())}))
        tokens = [t.id for t in session.exec(select(ApiToken)).all()]
    ids = {
        "unit_id": [w["unit"]["id"], w["hauler"]["id"], w["receiver"]["id"]],
        "batch_id": [b["id"] for b in batches] + [stored["id"]],
        "facility_id": [w["gen"], w["store"], w["yard"], w["line"], w["rline"], w["rstore"]],
        "manifest_id": [drafted["id"], submitted["id"], moving["id"]],
        "revision_id": [r["id"] for r in revised["revisions"]],
        "park_id": [park["id"]],
        "request_id": [request["id"]],
        "token_id": tokens,
        "digital_id": [b["digital_id"] for b in batches],
        "code": ["900-249-08", "900-041-49"],
    }
    return {"admin": admin, "operator": operator, "ids": ids, "w": w}
