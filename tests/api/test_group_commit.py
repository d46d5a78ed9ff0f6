"""Group commit (api/grouping.py): single weighings that arrive together share one transaction, and each keeps its
own principal, answer, error and Idempotency-Key.

The groups are formed deterministically: `asyncio.gather` queues every request before the group's writer runs, so
all of them go in one group (the writer is scheduled after them). Over real HTTP (uvicorn) the same holds for
concurrent clients, which the last test checks end to end."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import text

from api.deps import Credentials, Deferred
from api.grouping import CommitGroups
from ledger import batches as svc
from ledger.batches import rebuild, weighing
from ledger.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from tests.conftest import PUBLIC_URL, batch_body, make_user, setup_plant


def deferred(headers: dict, *, key: str | None = None, fingerprint: str = "f") -> Deferred:
    token = headers["Authorization"].removeprefix("Bearer ")
    return Deferred(credentials=Credentials(token=token, source_ip="127.0.0.1", user_agent="test"), key=key,
                    fingerprint=fingerprint)


def run_together(groups: CommitGroups, requests: list[tuple[Deferred, dict]]) -> list:
    """Submit every request at once in one event loop; each result is a Response or the exception it raised."""
    async def go() -> list:
        return await asyncio.gather(*[groups.submit(d, svc.BatchCreate.model_validate(body), public_url=PUBLIC_URL)
                                      for d, body in requests], return_exceptions=True)
    return asyncio.run(go())


def ok(result) -> dict:  # noqa: ANN001
    assert not isinstance(result, BaseException), repr(result)
    assert result.status_code == 201, result.body
    return json.loads(result.body)


def test_weighings_of_two_users_and_units_go_in_one_transaction_with_their_own_signatures(
        client, admin, session, engine):
    a = setup_plant(client, admin, session)
    b = setup_plant(client, admin, session)
    groups = CommitGroups(engine)
    reqs = [(deferred(p["op"]), batch_body(p, gross_kg=str(100 + i))) for i in range(12) for p in (a, b)]
    results = [ok(r) for r in run_together(groups, reqs)]
    assert (groups.groups, groups.grouped) == (1, 24)
    for plant in (a, b):
        mine = [r for r in results if r["unit_id"] == plant["unit"]["id"]]
        assert [int(r["digital_id"][-3:]) for r in mine] == list(range(1, 13))  # gapless, in arrival order
        assert [Decimal(r["gross_kg"]) for r in mine] == [Decimal(100 + i) for i in range(12)]
        v = client.get(f"/api/v1/units/{plant['unit']['id']}/verify", headers=admin).json()
        assert v["ok"] and v["records"] == 12
        signers = session.execute(text(
            "SELECT DISTINCT u.unit_id FROM journal_record r JOIN app_user u ON u.id = r.actor_id "
            "WHERE r.unit_id = :u"), {"u": plant["unit"]["id"]}).scalars().all()
        assert signers == [plant["unit"]["id"]]  # each record signed by its own unit's operator
    session.rollback()
    assert rebuild(session) == []


def test_a_bad_weighing_gets_its_own_error_and_its_neighbours_are_written(client, admin, session, engine):
    a = setup_plant(client, admin, session)
    b = setup_plant(client, admin, session)
    groups = CommitGroups(engine)
    reqs = [(deferred(a["op"]), batch_body(a)),
            (deferred(a["op"]), batch_body(a, gross_kg="10", tare_kg="12")),  # validation: tare over gross
            (deferred(a["op"]), batch_body(b)),  # another unit: out of this operator's scope
            (deferred({"Authorization": "Bearer nope"}), batch_body(a)),  # unknown token
            (deferred(a["op"]), batch_body(a, facility_id=b["gen"])),  # a facility of another unit
            (deferred(b["op"]), batch_body(b))]
    out = run_together(groups, reqs)
    assert isinstance(out[1], InvalidInput) and out[1].details["field"] == "tare_kg"
    assert isinstance(out[2], NotFound)
    assert isinstance(out[3], Unauthenticated) and out[3].code == "auth.invalid_token"
    assert isinstance(out[4], InvalidInput) and out[4].details["field"] == "facility_id"
    first, last = ok(out[0]), ok(out[5])
    assert (groups.groups, groups.grouped) == (1, 2)
    assert first["digital_id"].endswith("001") and last["digital_id"].endswith("001")
    for plant in (a, b):
        v = client.get(f"/api/v1/units/{plant['unit']['id']}/verify", headers=admin).json()
        assert v["ok"] and v["records"] == 1


def test_store_at_once_into_a_facility_that_is_no_store_is_refused_before_anything_is_written(
        client, admin, session, engine):
    a = setup_plant(client, admin, session)
    groups = CommitGroups(engine)
    reqs = [(deferred(a["op"]), batch_body(a, gross_kg=str(50 + i))) for i in range(4)]
    reqs.insert(2, (deferred(a["op"]), batch_body(a, store_facility_id=a["line"])))
    out = run_together(groups, reqs)
    assert isinstance(out[2], InvalidInput) and out[2].details["field"] == "store_facility_id", repr(out[2])
    written = [ok(r) for i, r in enumerate(out) if i != 2]
    assert (groups.groups, groups.grouped) == (1, 4)
    assert sorted(int(r["digital_id"][-3:]) for r in written) == [1, 2, 3, 4]


def test_a_failure_while_writing_sends_every_request_of_the_group_alone(client, admin, session, engine,
                                                                       monkeypatch):
    """A refusal that comes only while writing (here: storing one of the batches at once) rolls the group back;
    each request then runs on its own, so only that one is refused and no serial is lost."""
    a = setup_plant(client, admin, session)
    groups = CommitGroups(engine)
    real_store = svc.store

    def store(session, *, batch, data, **kw):  # noqa: ANN001, ANN003, ANN202
        if data.operator == "坏":
            raise Conflict("refused while writing", code="test.refused")
        return real_store(session, batch=batch, data=data, **kw)

    monkeypatch.setattr(weighing, "store", store)  # where the weighing writer looks it up
    reqs = [(deferred(a["op"]), batch_body(a, gross_kg=str(50 + i), store_facility_id=a["store"]))
            for i in range(4)]
    reqs.insert(2, (deferred(a["op"]), batch_body(a, store_facility_id=a["store"], operator="坏")))
    out = run_together(groups, reqs)
    assert isinstance(out[2], Conflict) and out[2].code == "test.refused"
    written = [ok(r) for i, r in enumerate(out) if i != 2]
    assert groups.groups == 0  # nothing committed as a group
    assert sorted(int(r["digital_id"][-3:]) for r in written) == [1, 2, 3, 4]  # no serial lost to the rollback
    assert all(r["status"] == "stored" for r in written)
    v = client.get(f"/api/v1/units/{a['unit']['id']}/verify", headers=admin).json()
    assert v["ok"] and v["records"] == 8


@pytest.mark.parametrize("committed", [True, False])
def test_a_commit_whose_answer_is_lost_never_writes_a_weighing_twice(client, admin, session, engine, monkeypatch,
                                                                    committed):
    """The COMMIT fails (the connection lost with its answer): if it took effect the group stands and each request
    gets its 201; if not, each runs alone. Either way every weighing is written once."""
    from sqlalchemy.exc import OperationalError

    import api.grouping as grouping

    a = setup_plant(client, admin, session)
    groups = CommitGroups(engine)
    failed = []

    class LosingSession(grouping.Session):
        def commit(self) -> None:
            if not failed:
                failed.append(True)
                if committed:
                    super().commit()
                else:
                    self.rollback()
                raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))
            super().commit()

    monkeypatch.setattr(grouping, "Session", LosingSession)
    out = run_together(groups, [(deferred(a["op"]), batch_body(a, gross_kg=str(50 + i))) for i in range(3)])
    written = [ok(r) for r in out]
    assert failed and groups.groups == (1 if committed else 0)
    assert sorted(int(r["digital_id"][-3:]) for r in written) == [1, 2, 3]
    assert session.execute(text("SELECT count(*) FROM batch WHERE unit_id = :u"),
                           {"u": a["unit"]["id"]}).scalar() == 3


def test_idempotency_keys_in_a_group_replay_and_refuse_as_alone(client, admin, session, engine):
    a = setup_plant(client, admin, session)
    groups = CommitGroups(engine)
    body = batch_body(a)
    first = ok(run_together(groups, [(deferred(a["op"], key="t1-0001", fingerprint="x"), body)])[0])
    out = run_together(groups, [
        (deferred(a["op"], key="t1-0001", fingerprint="x"), body),  # a retry of a committed request: replayed
        (deferred(a["op"], key="t1-0001", fingerprint="other"), body),  # the same key for another request
        (deferred(a["op"], key="t1-0002", fingerprint="y"), body),  # the same key twice in one group:
        (deferred(a["op"], key="t1-0002", fingerprint="y"), body),  # one batch, the second replays the first
        (deferred(a["op"], key="t1-0003", fingerprint="z"), body)])
    assert out[0].headers.get("Idempotent-Replayed") == "true" and json.loads(out[0].body)["id"] == first["id"]
    assert isinstance(out[1], InvalidInput) and out[1].code == "idempotency.key_reused"
    second, again, third = ok(out[2]), ok(out[3]), ok(out[4])
    assert again == second and out[3].headers.get("Idempotent-Replayed") == "true"
    assert len({first["id"], second["id"], third["id"]}) == 3
    v = client.get(f"/api/v1/units/{a['unit']['id']}/verify", headers=admin).json()
    assert v["ok"] and v["records"] == 3


def test_with_group_commit_off_each_request_is_its_own_transaction(client, admin, session, engine):
    a = setup_plant(client, admin, session)
    groups = CommitGroups(engine, enabled=False)
    out = run_together(groups, [(deferred(a["op"]), batch_body(a)) for _ in range(3)]
                       + [(deferred(a["op"]), batch_body(a, tare_kg="999"))])
    assert sorted(int(ok(r)["digital_id"][-3:]) for r in out[:3]) == [1, 2, 3]
    assert isinstance(out[3], InvalidInput) and groups.groups == 0


@pytest.mark.parametrize("n", [24])
def test_concurrent_http_weighings_form_groups_and_keep_every_answer(client, admin, session, app, live_server, n):
    a = setup_plant(client, admin, session)
    _, other_token = make_user(session, role="operator", unit_id=a["unit"]["id"])
    before = (app.state.commit_groups.groups, app.state.commit_groups.grouped)

    bodies = [batch_body(a, tare_kg="999") if i == 5 else batch_body(a, gross_kg=str(100 + i)) for i in range(n)]

    def one(i: int) -> httpx.Response:
        headers = a["op"] if i % 2 else {"Authorization": f"Bearer {other_token}"}
        body = bodies[i]
        with httpx.Client(base_url=live_server, timeout=60) as c:
            return c.post("/api/v1/batches", json=body, headers={**headers, "Idempotency-Key": f"http-{i}"})

    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(pool.map(one, range(n)))
    assert results[5].status_code == 422 and results[5].json()["error"]["details"]["field"] == "tare_kg"
    good = [r for i, r in enumerate(results) if i != 5]
    assert [r.status_code for r in good] == [201] * (n - 1), [r.text for r in good if r.status_code != 201]
    assert sorted(int(r.json()["digital_id"][-3:]) for r in good) == list(range(1, n))
    groups, grouped = app.state.commit_groups.groups - before[0], app.state.commit_groups.grouped - before[1]
    assert groups <= grouped <= n - 1  # a request is written in at most one group (or alone)
    with ThreadPoolExecutor(max_workers=n) as pool:  # the retries replay, nothing new is written
        again = list(pool.map(one, range(n)))
    assert [r.json()["id"] for r in again if r.status_code == 201] == [r.json()["id"] for r in good]
    assert all(r.headers.get("Idempotent-Replayed") == "true" for r in again if r.status_code == 201)
    v = client.get(f"/api/v1/units/{a['unit']['id']}/verify", headers=admin).json()
    assert v["ok"] and v["records"] == n - 1


def test_a_key_answered_meanwhile_by_another_process_sends_the_group_alone(client, admin, session, engine,
                                                                          monkeypatch):
    """The key's lookup found nothing, but another process committed the same key before the group's claim (here:
    the lookup is made blind to it): the claim comes back short, the group rolls back, and each request runs alone
    — the retry is replayed, its neighbours are written once."""
    a = setup_plant(client, admin, session)
    groups = CommitGroups(engine)
    body = batch_body(a)
    first = ok(run_together(groups, [(deferred(a["op"], key="t9-0001", fingerprint="x"), body)])[0])
    monkeypatch.setattr(CommitGroups, "_replays", staticmethod(lambda s, live, later: live))
    out = run_together(groups, [(deferred(a["op"], key="t9-0001", fingerprint="x"), body),
                                (deferred(a["op"], key="t9-0002", fingerprint="y"), batch_body(a)),
                                (deferred(a["op"]), batch_body(a))])
    assert out[0].headers.get("Idempotent-Replayed") == "true" and json.loads(out[0].body)["id"] == first["id"]
    second, third = ok(out[1]), ok(out[2])
    assert groups.groups == 0  # the group of three did not commit; each ran alone
    assert sorted(int(r["digital_id"][-3:]) for r in (first, second, third)) == [1, 2, 3]
    v = client.get(f"/api/v1/units/{a['unit']['id']}/verify", headers=admin).json()
    assert v["ok"] and v["records"] == 3


def test_a_request_at_a_set_time_runs_alone_in_it_and_its_neighbours_go_together(client, admin, session, engine):
    """`clock_at` (seeding, back-entry; over HTTP only tests) is the request's own: such a request is written alone
    at its time, the others together at the real time."""
    from datetime import UTC, datetime

    from ledger.types import clock_at

    a = setup_plant(client, admin, session)
    groups = CommitGroups(engine)
    then = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    async def go() -> list:
        async def at_then():  # noqa: ANN202
            with clock_at(then):
                return await groups.submit(deferred(a["op"]), svc.BatchCreate.model_validate(
                    batch_body(a, occurred_at=(then.replace(hour=7)).isoformat())), public_url=PUBLIC_URL)
        return await asyncio.gather(at_then(), *[groups.submit(deferred(a["op"]), svc.BatchCreate.model_validate(
            batch_body(a)), public_url=PUBLIC_URL) for _ in range(3)], return_exceptions=True)

    out = asyncio.run(go())
    past, *now = [ok(r) for r in out]
    assert past["digital_id"][-11:-3] == "20260302" and (groups.groups, groups.grouped) == (1, 3)
    from sqlmodel import select

    from ledger.journal import JournalRecord

    assert session.exec(select(JournalRecord.recorded_at).where(JournalRecord.batch_id == past["id"])).one() == then
