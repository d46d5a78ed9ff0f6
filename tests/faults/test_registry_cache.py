"""The registry cache of a server process is invalidated by writes made in another process: a revoked token stops
working at once, a plan filed elsewhere changes the next weighing's not-in-plan flag, a facility moved to another
unit is refused."""

from __future__ import annotations

import httpx
import pytest

from ledger.workdays import today as shanghai_today
from tests.conftest import auth, batch_body, make_user, setup_plant
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
