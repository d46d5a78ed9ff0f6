"""SIGKILL of a real server process mid-write and between commit and answer, with retries under the same
Idempotency-Key: no acknowledged write lost, none doubled, every chain verifies, `rebuild` agrees."""

from __future__ import annotations

import random
import threading
import time
import uuid

import httpx
import pytest
from sqlmodel import select

from ledger.accounts import IdempotencyRecord
from ledger.batches import Batch
from tests.conftest import batch_body, setup_plant
from tests.faults.helpers import Server, ledger_consistent

pytestmark = pytest.mark.faults


def post(server: Server, plant: dict, body: dict, key: str, kill: str | None = None) -> httpx.Response:
    headers = {**plant["op"], "Idempotency-Key": key}
    if kill:
        headers["X-Test-Kill"] = kill
    return httpx.post(f"{server.url}/api/v1/batches", json=body, headers=headers, timeout=60)


@pytest.mark.parametrize("moment", ["mid-write", "after-commit"])
def test_a_kill_at_a_chosen_moment_then_a_retry_stores_the_weighing_once(db_url, engine, client, admin, session,
                                                                       moment):
    plant = setup_plant(client, admin, session)
    body, key = batch_body(plant), f"kill-{moment}"
    server = Server(db_url).start()
    try:
        with pytest.raises(httpx.HTTPError):  # the connection dies with the process
            post(server, plant, body, key, kill=moment)
        server.proc.wait(timeout=30)
        server.start()
        r = post(server, plant, body, key)
        assert r.status_code == 201, r.text
        # after a commit the retry gets the stored answer; before it, the weighing is made now
        assert (r.headers.get("Idempotent-Replayed") == "true") == (moment == "after-commit")
        again = post(server, plant, body, key)
        assert again.json() == r.json() and again.headers.get("Idempotent-Replayed") == "true"
    finally:
        server.kill()
    session.expire_all()
    assert [b.id for b in session.exec(select(Batch)).all()] == [r.json()["id"]]
    ledger_consistent(engine)


@pytest.mark.slow
def test_random_kills_under_load_lose_nothing_and_double_nothing(db_url, engine, client, admin, session):
    """Six clients weigh continuously (a new Idempotency-Key per weighing, retried until answered) while the
    server is SIGKILLed and restarted five times at random moments."""
    plant = setup_plant(client, admin, session)
    answers: dict[str, httpx.Response] = {}
    failed_first: set[str] = set()
    issued: list[str] = []
    server = Server(db_url).start()
    stop = threading.Event()
    lock = threading.Lock()
    rng = random.Random(8)

    def client_loop(n: int) -> None:
        i = 0
        while not stop.is_set():
            key, i = f"load-{n}-{i}-{uuid.uuid4()}", i + 1
            body = batch_body(plant, gross_kg=str(100 + i % 50))
            with lock:
                issued.append(key)
            for attempt in range(300):  # a started weighing is finished, even after `stop`
                try:
                    r = post(server, plant, body, key)
                    if r.status_code == 201:
                        answers[key] = r
                        break
                except httpx.HTTPError:
                    pass
                failed_first.add(key)
                time.sleep(0.2 + min(attempt, 20) * 0.02)

    workers = [threading.Thread(target=client_loop, args=(n,)) for n in range(6)]
    for t in workers:
        t.start()
    try:
        for _ in range(5):
            time.sleep(rng.uniform(0.3, 1.5))
            server.kill()
            server.start()
        time.sleep(0.5)
    finally:
        stop.set()
        for t in workers:
            t.join(timeout=300)
        server.kill()
    assert issued and sorted(answers) == sorted(issued), "every weighing was eventually acknowledged"
    session.expire_all()
    rows = session.exec(select(Batch)).all()
    assert len(rows) == len(issued), "exactly one batch per Idempotency-Key"
    assert {r.json()["id"] for r in answers.values()} == {b.id for b in rows}
    records = session.exec(select(IdempotencyRecord).where(IdempotencyRecord.key.in_(issued))).all()
    assert len(records) == len(issued) and all(x.status_code == 201 for x in records)
    replayed = sum(1 for k in failed_first if answers[k].headers.get("Idempotent-Replayed") == "true")
    print(f"\n5 kills, {len(issued)} weighings, {len(failed_first)} retried, {replayed} of them committed before "
          "the kill (answered from the idempotency store)")
    ledger_consistent(engine)
