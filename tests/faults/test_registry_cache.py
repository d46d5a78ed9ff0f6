"""The registry cache of a server process is invalidated by writes made in another process: a revoked token stops
working at once, a plan filed elsewhere changes the next weighing's not-in-plan flag, a facility moved to another
unit is refused, a licence registered elsewhere covers the next manifest draft."""

from __future__ import annotations

import httpx
import pytest

from ledger.workdays import today as shanghai_today
from tests.conftest import auth, batch_body, make_user, permit_body, setup_plant, setup_transfer
from tests.faults.helpers import Server

pytestmark = pytest.mark.faults


def test_another_process_sees_registry_writes_at_once(db_url, client, admin, session):
    plant = setup_plant(client, admin, session)
    _, terminal = make_user(session, role="operator", unit_id=plant["unit"]["id"])
    with Server(db_url, app="api.main:app") as server:
        def weigh(**kw):  # noqa: ANN202
            return httpx.post(f"{server.url}/api/v1/batches", json=batch_body(plant, **kw), headers=auth(terminal),
                              timeout=30)

        r = weigh(waste_code="900-041-49")  # warms the server's cache: token, unit, point, code, this year's plan
        assert r.status_code == 201 and r.json()["flags"] == ["not_in_plan"]
        # this process files a plan with the code: the server's next weighing is in the plan

        r = client.post(f"/api/v1/units/{plant['unit']['id']}/plans", headers=admin, json={
            "year": shanghai_today().year, "items": [{"waste_code": c, "planned_kg": "1000"}
                                                 for c in ("900-249-08", "900-041-49")]})
        assert r.status_code == 201, r.text
        r = weigh(waste_code="900-041-49")
        assert r.status_code == 201 and r.json()["flags"] == []
        # and a token revoked here is refused there on the very next request
        token_id = client.get("/api/v1/tokens", headers=auth(terminal)).json()[0]["id"]
        assert client.post(f"/api/v1/tokens/{token_id}/revoke", headers=auth(terminal)).status_code == 200
        r = weigh()
        assert r.status_code == 401 and r.json()["error"]["code"] == "auth.invalid_token"


def test_another_process_sees_a_new_licence_at_once(db_url, client, admin, session):
    """The permits valid on a day are cached with the registry: a licence registered in this process covers the
    server's very next manifest draft, which its cached list (read by the draft before) did not."""
    w = setup_transfer(client, admin, session)
    batch = client.post("/api/v1/batches", json=batch_body(w), headers=w["op"]).json()
    draft = {"originator_id": w["unit"]["id"], "hauler_id": w["hauler"]["id"], "vehicle_id": w["vehicles"][0],
             "receiver_id": w["receiver"]["id"], "driver_id": w["driver_id"], "planned_date": str(shanghai_today()),
             "lines": [{"batch_id": batch["id"], "planned_method": "D10"}]}
    with Server(db_url, app="api.main:app") as server:
        def create():  # noqa: ANN202
            return httpx.post(f"{server.url}/api/v1/manifests", json=draft, headers=w["op"], timeout=30)

        r = create()  # the receiver's licence covers HW08 for R9 and R2, not for incineration
        assert r.status_code == 422 and r.json()["error"]["details"]["rule"] == "receiver_method", r.text
        r = client.post(f"/api/v1/units/{w['receiver']['id']}/permits", headers=admin, json=permit_body(
            number="鲁危证焚烧", waste_codes=["HW08"], methods=["D10"]))
        assert r.status_code == 201, r.text
        r = create()
        assert r.status_code == 201, r.text
        assert r.json()["lines"][0]["planned_method"] == "D10"
