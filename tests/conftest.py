"""Test harness: a freshly migrated database per run (SQLite file, or PostgreSQL by LEDGER_TEST_DATABASE_URL),
emptied between tests; an app client; plain keyword-default factories."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlmodel import Session

from api.app import create_app
from ledger.accounts import User, issue_token
from ledger.auth import SYSTEM
from ledger.codes import credit_check_character
from ledger.config import Settings
from ledger.db import deferred, dispose_engines, get_engine, metadata
from ledger.migrate import upgrade
from ledger.users import UserCreate, create_user
from ledger.workdays import today as shanghai_today

KEEP = {"waste_code", "method", "alembic_version"}
PUBLIC_URL = "https://ledger.example.test"


def _worker_database(url: str) -> str:
    """Under pytest-xdist each worker gets a database of its own beside the given one (`<name>_gw0`, …), created on
    the same server; dropped at the end of the run (`_drop_worker_database`)."""
    from sqlalchemy.engine import make_url

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    u = make_url(url)
    mine = u.set(database=f"{u.database}_{worker}")
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": mine.database}).first():
            conn.execute(text(f'CREATE DATABASE "{mine.database}"'))
    admin.dispose()
    return mine.render_as_string(hide_password=False)


def _drop_worker_database(url: str) -> None:
    from sqlalchemy.engine import make_url

    if not os.environ.get("PYTEST_XDIST_WORKER") or not url.startswith("postgresql"):
        return
    u = make_url(url)
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)'))
    admin.dispose()


def _fresh_url(tmp_path_factory) -> str:  # noqa: ANN001
    url = os.environ.get("LEDGER_TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    url = _worker_database(url)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing():  # noqa: ANN201
    """Argon2 at its production cost takes ~50 ms per hash; the tests create many users."""
    from argon2 import PasswordHasher

    import ledger.auth

    saved = ledger.auth._hasher
    ledger.auth._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    yield
    ledger.auth._hasher = saved


@pytest.fixture(scope="session")
def db_url(tmp_path_factory) -> str:  # noqa: ANN001
    url = _fresh_url(tmp_path_factory)
    upgrade(url)
    yield url
    dispose_engines()
    _drop_worker_database(url)


@pytest.fixture(scope="session")
def engine(db_url):  # noqa: ANN001, ANN201
    yield get_engine(db_url)
    dispose_engines()


def _empty(engine) -> None:  # noqa: ANN001
    tables = [t.name for t in reversed(metadata.sorted_tables) if t.name not in KEEP]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for t in tables:
                conn.execute(text(f'DELETE FROM "{t}"'))


@pytest.fixture(autouse=True)
def clean(request, engine) -> Iterator[None]:  # noqa: ANN001
    yield
    _empty(engine)


@pytest.fixture
def session(engine) -> Iterator[Session]:  # noqa: ANN001
    with Session(deferred(engine), expire_on_commit=False) as s:
        yield s
        s.rollback()


@pytest.fixture(scope="session")
def settings(db_url) -> Settings:  # noqa: ANN001
    return Settings(env="test", database_url=db_url, public_url=PUBLIC_URL)


@pytest.fixture(scope="session")
def app(settings, engine):  # noqa: ANN001, ANN201
    return create_app(settings)


@pytest.fixture
def client(app) -> TestClient:  # noqa: ANN001
    return TestClient(app)


# ---- factories (plain keyword-default functions) -------------------------------------------------

_counter = {"n": 0}


def credit(n: int | None = None, *, prefix: str = "91370100MA") -> str:
    """A valid credit code, unique per call."""
    if n is None:
        _counter["n"] += 1
        n = _counter["n"]
    first17 = f"{prefix}{n:07d}"[:17]
    return first17 + credit_check_character(first17)


def unit_body(**kw) -> dict:
    body = {"credit_code": credit(), "name": "测试单位", "region_code": "370112", "roles": ["generator"],
            "industry_code": "C2614"}
    body.update(kw)
    return body


def make_user(session: Session, *, role: str = "admin", username: str | None = None, **binding) -> tuple[User, str]:
    """A committed user and a bearer token for it."""
    _counter["n"] += 1
    user = create_user(session, principal=SYSTEM, data=UserCreate(
        username=username or f"{role}{_counter['n']}", display_name=role, role=role, password="password-123",
        **binding))
    token = issue_token(session, user=user, name="test")
    session.commit()
    return user, token


def auth(token: str, **headers) -> dict:
    return {"Authorization": f"Bearer {token}", **headers}


@pytest.fixture
def admin(session) -> dict:  # noqa: ANN001
    _, token = make_user(session, role="admin")
    return auth(token)


def create_unit(client: TestClient, headers: dict, **kw) -> dict:
    r = client.post("/api/v1/units", json=unit_body(**kw), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def facility_body(**kw) -> dict:
    body = {"kind": "storage", "code": "ZC-01", "name": "贮存库", "storage_type": "贮存库", "storage_capacity_t": "50"}
    body.update(kw)
    return body


def permit_body(**kw) -> dict:
    body = {"kind": "operating_licence", "number": "鲁危证0001", "waste_codes": ["HW08"], "methods": ["R9"],
            "annual_capacity_t": "1000", "valid_from": str(date(2025, 1, 1)), "valid_to": str(date(2030, 12, 31))}
    body.update(kw)
    return body


D = Decimal


@pytest.fixture(scope="session")
def live_server(app):  # noqa: ANN001, ANN201
    """The app served by uvicorn on a free local port, in a thread: real HTTP, real concurrency."""
    import socket
    import threading
    import time

    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           limit_concurrency=200))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def setup_plant(client: TestClient, headers: dict, session: Session, *, plan_codes=("900-249-08",),
                region_code: str = "370112") -> dict:
    """A generator with a generation point, a storage room, an in-house utilisation line, a plan and an operator."""
    unit = create_unit(client, headers, roles=["generator"], region_code=region_code, name="明泉化工")
    uid = unit["id"]

    def fac(**kw):  # noqa: ANN001, ANN202
        r = client.post(f"/api/v1/units/{uid}/facilities", json=kw, headers=headers)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    gen = fac(kind="generation", code="CS-01", name="车间")
    store = fac(kind="storage", code="ZC-01", name="贮存库", storage_type="贮存库", storage_capacity_t="1")
    yard = fac(kind="storage", code="ZC-02", name="渣场", storage_type="贮存场", storage_capacity_t="5000")
    line = fac(kind="utilisation", code="LY-01", name="再生装置", methods=["R9", "R4"])
    year = shanghai_today().year
    r = client.post(f"/api/v1/units/{uid}/plans", headers=headers, json={"year": year, "items": [
        {"waste_code": c, "planned_kg": "100000"} for c in plan_codes]})
    assert r.status_code == 201, r.text
    _, tok = make_user(session, role="operator", unit_id=uid)
    return {"unit": unit, "gen": gen, "store": store, "yard": yard, "line": line, "op": auth(tok)}


def batch_body(plant: dict, **kw) -> dict:
    from datetime import UTC, datetime, timedelta

    body = {"unit_id": plant["unit"]["id"], "waste_code": "900-249-08", "name": "废矿物油", "form": "液态",
            "facility_id": plant["gen"], "container_type": "桶", "container_count": 1, "container_volume_l": 200,
            "gross_kg": "182.5", "tare_kg": "18.5", "scale_id": "SCALE-01", "operator": "王工",
            "occurred_at": (datetime.now(UTC) - timedelta(minutes=10)).isoformat()}
    body.update(kw)
    return body


def setup_transfer(client: TestClient, headers: dict, session: Session, *, receiver_region: str = "370305",
                   capacity_t: str = "1000") -> dict:
    """A plant, a hauler with a permit, a vehicle and a driver, and a licensed receiver with its line and operator."""
    w = setup_plant(client, headers, session)
    hauler = create_unit(client, headers, roles=["hauler"], name="安运物流", region_code="370112")
    r = client.post(f"/api/v1/units/{hauler['id']}/permits", headers=headers, json=permit_body(
        kind="transport_permit", number=f"鲁交运{hauler['id']:04d}", waste_codes=[], methods=[],
        annual_capacity_t=None))
    assert r.status_code == 201, r.text
    vehicles = []
    for plate in (f"鲁A{hauler['id']:05d}", f"鲁AD{hauler['id']:05d}"):
        r = client.post(f"/api/v1/units/{hauler['id']}/vehicles", json={"plate": plate}, headers=headers)
        assert r.status_code == 201, r.text
        vehicles.append(r.json()["id"])
    receiver = create_unit(client, headers, roles=["receiver"], name="绿源环保", region_code=receiver_region)
    r = client.post(f"/api/v1/units/{receiver['id']}/permits", headers=headers, json=permit_body(
        number=f"鲁危证{receiver['id']:04d}", waste_codes=["HW08", "900-041-49"], methods=["R9", "R2"],
        annual_capacity_t=capacity_t))
    assert r.status_code == 201, r.text
    r = client.post(f"/api/v1/units/{receiver['id']}/facilities", headers=headers, json={
        "kind": "utilisation", "code": "LY-01", "name": "再生装置", "methods": ["R9", "R2"]})
    line = r.json()["id"]
    r = client.post(f"/api/v1/units/{receiver['id']}/facilities", headers=headers, json={
        "kind": "storage", "code": "ZC-01", "name": "接收库", "storage_type": "贮存库", "storage_capacity_t": "500"})
    rstore = r.json()["id"]
    driver, dtok = make_user(session, role="driver", unit_id=hauler["id"])
    _, rtok = make_user(session, role="receiver_operator", unit_id=receiver["id"])
    _, otok = make_user(session, role="unit_admin", unit_id=w["unit"]["id"])
    w.update(hauler=hauler, vehicles=vehicles, receiver=receiver, rline=line, rstore=rstore, driver_id=driver.id,
             drv=auth(dtok), rcv=auth(rtok), orig=auth(otok))
    return w
