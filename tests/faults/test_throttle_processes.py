"""The login rate limit holds across server processes: its counts live in the database, not in a worker."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import make_user
from tests.faults.helpers import Server

pytestmark = pytest.mark.faults


def test_wrong_passwords_spread_over_two_processes_still_end_in_429(db_url, session):
    make_user(session, role="admin", username="target")
    first, second = Server(db_url, app="api.main:app"), Server(db_url, app="api.main:app")
    with first, second:
        seen = []
        for i in range(6):
            server = (first, second)[i % 2]
            r = httpx.post(f"{server.url}/api/v1/auth/login", json={"username": "target", "password": "guess-000"},
                           timeout=30)
            seen.append(r.status_code)
        assert seen == [401] * 5 + [429], seen
        r = httpx.post(f"{first.url}/api/v1/auth/login", json={"username": "target", "password": "password-123"},
                       timeout=30)
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
