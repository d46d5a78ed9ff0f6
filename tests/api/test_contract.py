"""Issue 8, findings 5 and 7: the OpenAPI contract names every answer; methods, body sizes and token targets."""

from __future__ import annotations

import json
import re

import pytest
from sqlmodel import select

from ledger.accounts import ApiToken
from ledger.registry.models import Unit
from tests.conftest import unit_body

WRITE = {"post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def spec(app) -> dict:  # noqa: ANN001
    from fastapi.testclient import TestClient

    return TestClient(app).get("/api/v1/openapi.json").json()


def operations(spec: dict):  # noqa: ANN201
    for path, item in spec["paths"].items():
        for method, op in item.items():
            yield method, path, op


def test_every_operation_documents_its_error_statuses_with_the_envelope(spec):
    problems = []
    for method, path, op in operations(spec):
        responses = op["responses"]
        public = path in ("/api/v1/health", "/api/v1/auth/login")
        want = {"422", "503"} if path != "/api/v1/health" else {"422"}
        if not public:
            want |= {"401", "403", "404"}
        if method in WRITE and not public:
            want.add("409")
        if "requestBody" in op:
            want.add("413")
        for status in want:
            if status not in responses:
                problems.append(f"{method.upper()} {path}: {status} missing")
                continue
            schema = responses[status]["content"]["application/json"]["schema"]
            if schema.get("$ref") != "#/components/schemas/ErrorEnvelope":
                problems.append(f"{method.upper()} {path}: {status} is not the error envelope")
        if "503" in responses and "Retry-After" not in responses["503"].get("headers", {}):
            problems.append(f"{method.upper()} {path}: 503 without Retry-After")
    assert not problems, "\n".join(problems)
    envelope = spec["components"]["schemas"]["ErrorEnvelope"]
    assert envelope["required"] == ["error"]


def test_login_documents_429_with_retry_after(spec):
    r = spec["paths"]["/api/v1/auth/login"]["post"]["responses"]["429"]
    assert r["headers"]["Retry-After"]["required"] is True


def test_binary_answers_document_their_media_type(spec):
    assert "image/png" in spec["paths"]["/api/v1/batches/{batch_id}/label.png"]["get"]["responses"]["200"]["content"]
    assert "text/csv" in spec["paths"]["/api/v1/units/{unit_id}/ledger"]["get"]["responses"]["200"]["content"]


def test_ids_and_pages_publish_their_bounds(spec):
    params = {p["name"]: p["schema"] for p in spec["paths"]["/api/v1/units"]["get"]["parameters"]}
    assert params["limit"]["minimum"] == 1 and params["limit"]["maximum"] == 1000
    assert params["offset"]["minimum"] == 0
    unit_id = spec["paths"]["/api/v1/units/{unit_id}"]["get"]["parameters"][0]["schema"]
    assert unit_id["minimum"] == 1 and unit_id["maximum"] == 2**31 - 1


@pytest.mark.parametrize("method", ["TRACE", "PUT", "DELETE", "PATCH"])
def test_unsupported_methods_answer_405_with_allow(client, admin, method):
    r = client.request(method, "/api/v1/units", headers=admin)
    assert r.status_code == 405
    assert set(r.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert r.json()["error"]["code"] == "method_not_allowed"


def test_401_names_the_scheme(client):
    r = client.get("/api/v1/units")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


def test_a_token_for_user_false_is_refused_not_issued_for_the_caller(client, admin, session):
    before = len(session.exec(select(ApiToken)).all())
    for target in (False, True, 0, -1, 2**31):
        r = client.post("/api/v1/tokens", json={"name": "x", "user_id": target}, headers=admin)
        assert r.status_code == 422, (target, r.text)
        assert r.json()["error"]["details"]["field"] == "user_id"
    session.expire_all()
    assert len(session.exec(select(ApiToken)).all()) == before


def test_a_10_mb_body_is_refused_with_413_and_nothing_written(client, admin, session):
    body = unit_body(address="x" * (10 * 1024 * 1024))
    r = client.post("/api/v1/units", json=body, headers=admin)
    assert r.status_code == 413
    err = r.json()["error"]
    assert err["code"] == "request.too_large" and err["details"]["limit_bytes"] == 1_048_576
    assert "1 MB" in err["message"]
    assert session.exec(select(Unit)).all() == []


def test_a_chunked_body_past_the_limit_is_refused_too(client, admin, session):
    payload = json.dumps(unit_body(address="y" * (2 * 1024 * 1024))).encode()

    def chunks():  # noqa: ANN202  (no Content-Length: the server counts as it reads)
        for i in range(0, len(payload), 65536):
            yield payload[i:i + 65536]

    r = client.post("/api/v1/units", content=chunks(), headers={**admin, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "request.too_large"
    assert session.exec(select(Unit)).all() == []


def test_a_body_under_the_limit_still_passes(client, admin):
    r = client.post("/api/v1/units", json=unit_body(address="济南市" * 50), headers=admin)
    assert r.status_code == 201


def _concrete(path: str) -> str:
    return re.sub(r"{([^}]*)}", lambda m: "900-249-08" if m.group(1) in ("code", "digital_id") else "1", path)


def _answering(spec: dict, concrete: str, method: str) -> bool:
    """True when some path template of the spec answers `method` at this concrete path (/batches/bulk fits
    /batches/{batch_id} too)."""
    for path, item in spec["paths"].items():
        pattern = "^" + re.sub(r"{[^}]*}", "[^/]+", re.escape(path).replace(r"\{", "{").replace(r"\}", "}")) + "$"
        if re.match(pattern, concrete) and method.lower() in item:
            return True
    return False


def test_every_path_answers_an_undeclared_method_with_405_and_its_allow(client, admin, spec):
    problems = []
    for path, item in spec["paths"].items():
        concrete = _concrete(path)
        declared = {m.upper() for m in item}
        for method in ("TRACE", "PUT", "PATCH", "DELETE", "GET", "POST", "OPTIONS"):
            if method in declared or _answering(spec, concrete, method):
                continue
            r = client.request(method, concrete, headers=admin)
            allow = {m.strip() for m in r.headers.get("allow", "").split(",") if m.strip()} - {"HEAD"}
            if r.status_code != 405 or allow != declared:
                problems.append(f"{method} {concrete}: {r.status_code}, Allow {sorted(allow)} (declared "
                                f"{sorted(declared)})")
    assert not problems, "\n".join(problems)


def test_routes_are_registered_flat_on_the_app(app):  # noqa: ANN001
    """Every path operation sits on the app's own router (api/routing.py): no included-router node, which FastAPI
    ≥ 0.137 would walk route by route on every request."""
    from starlette.routing import Mount, Route

    from api.routing import RouteIndex, include_flat

    assert isinstance(app.routes[0], RouteIndex)  # then the routes themselves, which it indexes
    assert all(isinstance(r, Route | Mount) for r in app.routes[1:]), [type(r) for r in app.routes]
    paths = {r.path for r in app.routes[1:]}
    assert {"/api/v1/scan/{digital_id}", "/api/v1/health", "/login", "/console"} <= paths
    # the pages stay out of the API docs
    assert "/login" not in app.openapi()["paths"] and "/api/v1/scan/{digital_id}" in app.openapi()["paths"]
    from fastapi import APIRouter, FastAPI

    mounted = APIRouter()
    mounted.routes.append(Mount("/files", app=FastAPI()))
    with pytest.raises(TypeError, match="not an APIRoute"):
        include_flat(FastAPI(), mounted)
