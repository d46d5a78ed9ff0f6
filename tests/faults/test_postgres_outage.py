"""PostgreSQL stopped (crashed) and started again under load, on a private throwaway cluster; then a real I/O
error (a relation file missing under the running server).

During the outage the service answers 503 database.unavailable with Retry-After; it recovers without a restart;
no acknowledged write is lost and none is doubled; every chain verifies and `rebuild` agrees afterwards."""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session, select

from api.app import create_app
from ledger.batches import Batch
from ledger.config import Settings
from ledger.db import dispose_engine, get_engine
from ledger.migrate import upgrade
from tests.conftest import batch_body, make_user, setup_plant
from tests.faults.helpers import PrivatePostgres, Server, is_root, ledger_consistent

pytestmark = [
    pytest.mark.faults, pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("LEDGER_TEST_DATABASE_URL"),
                       reason="runs in the PostgreSQL pass (it starts its own throwaway cluster)"),
    pytest.mark.skipif(not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) or (
        is_root() and not shutil.which("runuser")), reason="needs the PostgreSQL server binaries (initdb, pg_ctl)"),
]


@pytest.fixture(scope="module")
def private_pg():  # noqa: ANN201
    pg = PrivatePostgres().init()
    pg.start()
    upgrade(pg.url)
    yield pg
    dispose_engine(pg.url)
    pg.destroy()


def _plant_on(pg: PrivatePostgres) -> tuple:
    """The private cluster's engine, an in-process client of the app on it, and a plant with its operator."""
    engine = get_engine(pg.url)
    client = TestClient(create_app(Settings(env="test", database_url=pg.url, public_url="https://x.test")))
    with Session(engine, expire_on_commit=False) as s:
        _, token = make_user(s, role="admin")
        plant = setup_plant(client, {"Authorization": f"Bearer {token}"}, s)
    return engine, client, plant


def test_postgres_down_and_up_under_load(private_pg):
    pg = private_pg
    engine, client, plant = _plant_on(pg)
    answers: dict[str, httpx.Response] = {}
    outage: list[httpx.Response] = []
    lock, back = threading.Lock(), threading.Event()
    server = Server(pg.url, app="api.main:app").start()

    def client_loop(n: int) -> None:
        """New weighings one after the other, each retried under its key until stored, until a while after the
        server is back: the load spans the outage however fast this machine weighs."""
        i = 0
        while not back.is_set():
            i += 1
            key = f"pg-{n}-{i}-{uuid.uuid4()}"
            body = batch_body(plant, gross_kg=str(100 + i))
            for _ in range(400):
                try:
                    r = httpx.post(f"{server.url}/api/v1/batches", json=body, timeout=60,
                                   headers={**plant["op"], "Idempotency-Key": key})
                except httpx.HTTPError:
                    time.sleep(0.2)
                    continue
                if r.status_code == 201:
                    with lock:
                        answers[key] = r
                    break
                with lock:
                    outage.append(r)
                time.sleep(min(float(r.headers.get("Retry-After", "1")), 0.5))

    workers = [threading.Thread(target=client_loop, args=(n,)) for n in range(4)]
    try:
        for t in workers:
            t.start()
        time.sleep(1.5)
        pg.stop("immediate")  # a crash: no shutdown checkpoint
        time.sleep(3)
        pg.start()
        time.sleep(1)
        back.set()
        for t in workers:
            t.join(timeout=300)
        # the first request after the outage succeeds: no restart of the service
        r = httpx.get(f"{server.url}/api/v1/units/{plant['unit']['id']}", headers=plant["op"], timeout=30)
        assert r.status_code == 200, r.text
    finally:
        server.kill()
    assert answers and outage, "the outage was seen by the clients"
    for r in outage:
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "database.unavailable" and int(r.headers["Retry-After"]) > 0
    engine.dispose()
    with Session(engine) as s:
        rows = s.exec(select(Batch)).all()
    assert len(rows) == len(answers) and {b.id for b in rows} == {r.json()["id"] for r in answers.values()}
    print(f"\n{len(outage)} requests answered 503 during the outage; {len(answers)} weighings stored once each")
    ledger_consistent(engine)


def test_a_restart_while_the_service_stands_idle_costs_no_request(private_pg):
    """The server restarts while nobody weighs (a night's maintenance, a failover): the service's pooled
    connections died with it, and the first requests afterwards get fresh ones (the pool tries a connection before
    it hands it out), not a 503 each."""
    pg = private_pg
    engine, client, plant = _plant_on(pg)
    r = client.post("/api/v1/batches", json=batch_body(plant), headers=plant["op"])
    assert r.status_code == 201, r.text
    server = Server(pg.url, app="api.main:app").start()
    # a session's read and a label scan (read on the event loop from a pool of its own, `ledger/aio.py`)
    urls = [f"{server.url}/api/v1/units/{plant['unit']['id']}", f"{server.url}/api/v1/scan/{r.json()['digital_id']}"]
    try:
        with ThreadPoolExecutor(8) as pool:  # several connections in each pool
            assert {r.status_code for r in pool.map(lambda i: httpx.get(urls[i % 2], headers=plant["op"], timeout=30),
                                                    range(64))} == {200}
        pg.stop("fast")
        pg.start()
        after = [httpx.get(urls[i % 2], headers=plant["op"], timeout=30) for i in range(16)]
        assert [r.status_code for r in after] == [200] * 16, [(r.request.url.path, r.text) for r in after]
    finally:
        server.kill()


def test_a_real_io_error_is_named(private_pg):
    pg = private_pg
    engine = get_engine(pg.url)
    client = TestClient(create_app(Settings(env="test", database_url=pg.url, public_url="https://x.test")))
    with Session(engine, expire_on_commit=False) as s:
        _, token = make_user(s, role="admin")
        admin = {"Authorization": f"Bearer {token}"}
        plant = setup_plant(client, admin, s)
        relation = s.execute(text("SELECT pg_relation_filepath('facility')")).scalar_one()
    engine.dispose()
    pg.stop("fast")
    moved = pg.data / relation
    moved.rename(Path(str(moved) + ".away"))  # the table's file is gone: reading it is an I/O error
    pg.start()
    try:
        r = client.get(f"/api/v1/units/{plant['unit']['id']}/facilities", headers=admin)
        assert r.status_code == 503, r.text
        err = r.json()["error"]
        assert err["code"] == "database.io_error" and "I/O error" in err["message"]
        assert int(r.headers["Retry-After"]) > 0
    finally:
        engine.dispose()
        pg.stop("fast")
        Path(str(moved) + ".away").rename(moved)
        pg.start()
