"""Group commit of manifest signatures (api/grouping.py `submit_work`, api/routers/manifests.py): the signatures of
one step reaching a process together share one transaction, each in a savepoint, in the order of the locks they
take, and each keeps its own principal, answer, error and Idempotency-Key. The answers and the ledger equal those
of the same requests run one by one, which the tests check against twin worlds with group commit off."""

from __future__ import annotations

import asyncio
import json
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlmodel import select

from api.grouping import CommitGroups
from api.routers.manifests import BY_MANIFEST, BY_ORIGINATOR, BY_RECEIVER, step_work
from ledger import manifests as svc
from ledger.errors import Conflict, Forbidden, InvalidInput, LedgerError, NotFound
from ledger.manifests import state as manifest_state
from ledger.workdays import today as shanghai_today
from tests.api.test_group_commit import deferred
from tests.api.test_manifests import draft, gen, ok, to_transit
from tests.conftest import PUBLIC_URL, setup_transfer

ORDERS = {"receive": BY_RECEIVER, "pickup": BY_ORIGINATOR, "submit": BY_MANIFEST, "cancel": BY_MANIFEST,
          "return": BY_MANIFEST, "returned": BY_ORIGINATOR}
BODIES = {"receive": svc.ReceiveIn, "pickup": svc.PickupIn, "cancel": svc.CancelIn, "return": svc.Where,
          "returned": svc.Where}
STEPS = {"receive": svc.receive, "pickup": svc.pickup, "cancel": svc.cancel, "return": svc.start_return,
         "returned": svc.confirm_return}


def together(groups: CommitGroups, step: str, requests: list[tuple], seen: list | None = None) -> list:
    """(Deferred, manifest id, body) each, submitted at once in one event loop, as the route submits them: a
    Response or the exception raised. `seen` collects the manifest ids in the order their work ran."""
    def fn(mid: int, body: dict | None):  # noqa: ANN202
        data = BODIES[step].model_validate(body) if body is not None else None

        def run(s, p, m):  # noqa: ANN001, ANN202
            if seen is not None:
                seen.append(mid)
            if step in STEPS:
                return STEPS[step](s, principal=p, m=m, data=data)
            return svc.submit(s, principal=p, m=m)
        return run

    async def go() -> list:
        return await asyncio.gather(*[
            groups.submit_work(d, f"manifest.{step}", step_work(PUBLIC_URL, mid, fn(mid, body)), target=mid,
                               order=ORDERS[step]) for d, mid, body in requests], return_exceptions=True)
    return asyncio.run(go())


def answer(result) -> dict:  # noqa: ANN001
    assert not isinstance(result, BaseException), repr(result)
    assert result.status_code == 200, result.body
    return json.loads(result.body)


def comparable(result) -> object:  # noqa: ANN001
    """What must be equal between the grouped and the one-by-one runs (ids, numbers and times differ)."""
    if isinstance(result, Exception):
        return type(result).__name__, getattr(result, "code", None)
    m = answer(result)
    return (m["status"], m["flags"], [e["action"] for e in m["events"]],
            [(ln["received_kg"], ln["accepted_kg"], ln["refused_kg"], ln["acceptance"], ln["flags"],
              ln["holding_id"] is not None) for ln in m["lines"]])


def in_transit(client, w: dict, kg: str = "164") -> tuple[dict, dict]:  # noqa: ANN001
    a = gen(client, w, gross_kg=kg, tare_kg="0")
    return a, to_transit(client, w, [{"batch_id": a["id"], "planned_method": "R9"}], [a["digital_id"]])


def receipts(client, w1: dict, w2: dict) -> list[tuple]:  # noqa: ANN001
    """Seven receipts at two receivers: accepted into the line, stored at receipt, impossible, partly refused, the
    same manifest again, another receiver's manifest, and one refused whole."""
    (a1, m1), (a2, m2), (a3, m3), (a4, m4) = (in_transit(client, w) for w in (w1, w2, w1, w1))
    a5, m5 = in_transit(client, w2)
    a6, m6 = in_transit(client, w2)

    def line(a: dict, **kw) -> dict:  # noqa: ANN003
        return {"batch_id": a["id"], "received_kg": "164", "acceptance": "accepted", **kw}
    return [
        (w2["rcv"], m2["id"], {"lines": [line(a2)], "facility_id": w2["rstore"]}),
        (w1["rcv"], m1["id"], {"lines": [line(a1)], "facility_id": w1["rline"]}),
        (w1["rcv"], m3["id"], {"lines": [line(a3, received_kg="1640")], "facility_id": w1["rline"]}),
        (w1["rcv"], m4["id"], {"lines": [line(a4, received_kg="160", acceptance="partially_refused", accepted_kg="100",
                                              reason="含水超标")], "facility_id": w1["rline"]}),
        (w1["rcv"], m1["id"], {"lines": [line(a1)], "facility_id": w1["rline"]}),
        (w1["rcv"], m5["id"], {"lines": [line(a5)], "facility_id": w1["rline"]}),
        (w2["rcv"], m6["id"], {"lines": [line(a6, received_kg="164", acceptance="refused", reason="包装破损")]}),
    ]


def verified(client, admin: dict, unit_id: int) -> int:  # noqa: ANN001
    v = client.get(f"/api/v1/units/{unit_id}/verify", headers=admin).json()
    assert v["ok"], v
    return v["records"]


def test_receipts_go_in_one_transaction_in_lock_order_and_answer_as_if_alone(client, admin, session, engine):
    w1, w2 = setup_transfer(client, admin, session), setup_transfer(client, admin, session)
    t1, t2 = setup_transfer(client, admin, session), setup_transfer(client, admin, session)
    grouped, seen = CommitGroups(engine), []
    out = together(grouped, "receive", [(deferred(h), mid, body) for h, mid, body in receipts(client, w1, w2)], seen)
    alone = CommitGroups(engine, enabled=False)
    ref = [together(alone, "receive", [(deferred(h), mid, body)])[0] for h, mid, body in receipts(client, t1, t2)]
    assert [comparable(r) for r in out] == [comparable(r) for r in ref]
    assert isinstance(out[2], InvalidInput) and out[2].code == "manifest.receipt_impossible"
    assert isinstance(out[4], Conflict) and out[4].code == "manifest.invalid_transition"
    assert isinstance(out[5], NotFound)  # another receiver's manifest is outside the operator's scope
    assert (grouped.groups, grouped.grouped) == (1, 4)
    # run in the order of the receivers' locks, then of the manifests, whatever order the requests came in
    ran = [(session.get(svc.Manifest, mid).receiver_id, mid) for mid in seen]
    assert ran == sorted(ran) and len(ran) == 6  # (the manifest outside the scope is never signed)
    # the ledger as if alone: the stored, received and refused records on chains that verify
    for w, t in ((w1, t1), (w2, t2)):
        assert verified(client, admin, w["receiver"]["id"]) == verified(client, admin, t["receiver"]["id"])
        assert verified(client, admin, w["unit"]["id"]) == verified(client, admin, t["unit"]["id"])
    stored = answer(out[0])["lines"][0]["holding_id"]
    b = client.get(f"/api/v1/batches/{stored}", headers=w2["rcv"]).json()
    assert b["status"] == "stored" and b["stored_kg"] == "164.000"


def test_pickups_with_a_wrong_label_fail_alone_and_the_rest_go_together(client, admin, session, engine):
    w, t = setup_transfer(client, admin, session), setup_transfer(client, admin, session)

    def pickups(x: dict) -> list[tuple]:
        out = []
        for i in range(4):
            a = gen(client, x, gross_kg=str(100 + i), tare_kg="0")
            m = ok(draft(client, x, [{"batch_id": a["id"], "planned_method": "R9"}]), 201)
            ok(client.post(f"/api/v1/manifests/{m['id']}/submit", headers=x["op"]))
            out.append((a, m))
        (a0, m0), (a1, m1), (a2, m2), (a3, m3) = out
        return [(x["drv"], m0["id"], {"scanned": [a0["digital_id"]]}),
                (x["drv"], m1["id"], {"scanned": [a1["digital_id"], a2["digital_id"]]}),  # a label not on it
                (x["drv"], m2["id"], {"scanned": [a2["digital_id"]]}),
                (x["op"], m3["id"], {"scanned": [a3["digital_id"]]}),  # the plant's operator does not haul
                (x["drv"], m3["id"], {"scanned": [a3["digital_id"].lower()]}),
                (x["drv"], m0["id"], {"scanned": [a0["digital_id"]]})]  # picked up already, in this group
    grouped = CommitGroups(engine)
    out = together(grouped, "pickup", [(deferred(h), mid, body) for h, mid, body in pickups(w)])
    alone = CommitGroups(engine, enabled=False)
    ref = [together(alone, "pickup", [(deferred(h), mid, body)])[0] for h, mid, body in pickups(t)]
    assert [comparable(r) for r in out] == [comparable(r) for r in ref]
    assert isinstance(out[1], LedgerError) and out[1].code == "manifest.label_not_on_manifest"
    assert isinstance(out[3], Forbidden)
    assert isinstance(out[5], Conflict) and out[5].code == "manifest.invalid_transition"
    assert [answer(out[i])["status"] for i in (0, 2, 4)] == ["in_transit"] * 3
    assert (grouped.groups, grouped.grouped) == (1, 3)
    assert verified(client, admin, w["unit"]["id"]) == verified(client, admin, t["unit"]["id"])


def test_a_signature_that_ends_the_whole_transaction_sends_the_group_alone(client, admin, session, engine):
    """A compare-and-set lost to another process rolls the transaction back (`ledger.manifests.state.move`), not
    just its savepoint: the group cannot commit what came before it, so every request runs alone."""
    w = setup_transfer(client, admin, session)
    a1, m1 = in_transit(client, w)
    groups = CommitGroups(engine)
    receive = step_work(PUBLIC_URL, m1["id"], lambda s, p, m: svc.receive(s, principal=p, m=m, data=svc.ReceiveIn(
        lines=[svc.ReceiveLineIn(batch_id=a1["id"], received_kg="164", acceptance="accepted")],
        facility_id=w["rline"])))

    def lost(s, p):  # noqa: ANN001, ANN202
        s.rollback()
        raise Conflict("changed by someone else just now", code="manifest.concurrent_change")

    async def go() -> list:
        return await asyncio.gather(groups.submit_work(deferred(w["rcv"]), "manifest.receive", receive),
                                    groups.submit_work(deferred(w["rcv"]), "manifest.receive", lost),
                                    return_exceptions=True)
    first, second = asyncio.run(go())
    assert answer(first)["status"] == "received" and [e["action"] for e in answer(first)["events"]].count(
        "receive") == 1
    assert isinstance(second, Conflict) and groups.groups == 0
    m = client.get(f"/api/v1/manifests/{m1['id']}", headers=w["rcv"]).json()
    assert m["status"] == "received" and [e["action"] for e in m["events"]].count("receive") == 1
    assert verified(client, admin, w["receiver"]["id"]) == 1


def test_signature_keys_in_a_group_replay_and_refuse_as_alone(client, admin, session, engine):
    w = setup_transfer(client, admin, session)
    drafts = [ok(draft(client, w, [{"batch_id": gen(client, w)["id"], "planned_method": "R9"}]), 201)
              for _ in range(3)]
    groups = CommitGroups(engine)
    first = answer(together(groups, "submit", [(deferred(w["op"], key="s-1", fingerprint="a"), drafts[0]["id"],
                                                None)])[0])
    out = together(groups, "submit", [
        (deferred(w["op"], key="s-1", fingerprint="a"), drafts[0]["id"], None),  # a retry: replayed
        (deferred(w["op"], key="s-1", fingerprint="b"), drafts[1]["id"], None),  # the key for another request
        (deferred(w["op"], key="s-2", fingerprint="c"), drafts[1]["id"], None),  # one key twice in one group:
        (deferred(w["op"], key="s-2", fingerprint="c"), drafts[1]["id"], None),  # signed once, then replayed
        (deferred(w["op"], key="s-3", fingerprint="d"), drafts[2]["id"], None)])
    assert out[0].headers.get("Idempotent-Replayed") == "true" and json.loads(out[0].body) == first
    assert isinstance(out[1], InvalidInput) and out[1].code == "idempotency.key_reused"
    second, again, third = answer(out[2]), answer(out[3]), answer(out[4])
    assert again == second and out[3].headers.get("Idempotent-Replayed") == "true"
    assert second["status"] == third["status"] == "submitted"
    assert [e["action"] for e in second["events"]].count("submit") == 1


@pytest.mark.parametrize("n", [12])
def test_concurrent_http_receipts_form_groups_and_keep_every_answer(client, admin, session, app, live_server, n):
    w = setup_transfer(client, admin, session)
    loads = [in_transit(client, w, kg=str(100 + i)) for i in range(n)]
    before = (app.state.commit_groups.groups, app.state.commit_groups.grouped)

    def one(i: int) -> httpx.Response:
        a, m = loads[i]
        received = "9999" if i == 3 else str(100 + i)  # one impossible mass
        with httpx.Client(base_url=live_server, timeout=60) as c:
            return c.post(f"/api/v1/manifests/{m['id']}/receive", headers={**w["rcv"], "Idempotency-Key": f"r-{i}"},
                          json={"lines": [{"batch_id": a["id"], "received_kg": received, "acceptance": "accepted"}],
                                "facility_id": w["rline"]})

    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(pool.map(one, range(n)))
    assert results[3].status_code == 422 and results[3].json()["error"]["code"] == "manifest.receipt_impossible"
    good = [r for i, r in enumerate(results) if i != 3]
    assert [r.status_code for r in good] == [200] * (n - 1), [r.text for r in good if r.status_code != 200]
    assert all(r.json()["status"] == "received" for r in good)
    groups, grouped = app.state.commit_groups.groups - before[0], app.state.commit_groups.grouped - before[1]
    assert groups <= grouped <= n - 1
    with ThreadPoolExecutor(max_workers=n) as pool:  # the retries replay, nothing new is written
        again = list(pool.map(one, range(n)))
    assert [r.json() for r in again if r.status_code == 200] == [r.json() for r in good]
    assert all(r.headers.get("Idempotent-Replayed") == "true" for r in again if r.status_code == 200)
    assert verified(client, admin, w["receiver"]["id"]) == n - 1


def test_drafts_go_together_with_gapless_numbers_and_their_own_errors(client, admin, session, engine):
    """Drafts take their city's manifest counter: in a group the refused one rolls its savepoint back, number and
    all, so the numbers written are gapless, as alone."""
    from api.routers.manifests import _drafts_in_lock_order, manifest_public

    w, t = setup_transfer(client, admin, session), setup_transfer(client, admin, session)

    def drafts(x: dict) -> list[tuple]:
        a, b, c = (gen(client, x, gross_kg=str(100 + i))["id"] for i in range(3))
        body = {"originator_id": x["unit"]["id"], "hauler_id": x["hauler"]["id"], "vehicle_id": x["vehicles"][0],
                "receiver_id": x["receiver"]["id"], "driver_id": x["driver_id"],
                "planned_date": str(shanghai_today())}
        return [(x["op"], {**body, "lines": [{"batch_id": a, "planned_method": "R9"}]}),
                (x["op"], {**body, "lines": [{"batch_id": a, "planned_method": "R9"}]}),  # a's on an open one now
                (x["op"], {**body, "lines": [{"batch_id": b, "planned_method": "D10"}]}),  # not a licensed method
                (x["drv"], {**body, "lines": [{"batch_id": c, "planned_method": "R9"}]}),  # a driver drafts none
                (x["op"], {**body, "lines": [{"batch_id": c, "planned_method": "R9"}]})]

    def run(groups: CommitGroups, requests: list[tuple]) -> list:
        async def go() -> list:
            return await asyncio.gather(*[groups.submit_work(
                deferred(h), "manifest.create",
                lambda s, p, body=body: manifest_public(s, svc.create(s, principal=p, data=svc.ManifestCreate
                                                                      .model_validate(body)), PUBLIC_URL),
                target=body["originator_id"], status=201, order=_drafts_in_lock_order)
                for h, body in requests], return_exceptions=True)
        return asyncio.run(go())

    grouped = CommitGroups(engine)
    out = run(grouped, drafts(w))
    alone = CommitGroups(engine, enabled=False)
    ref = [run(alone, [r])[0] for r in drafts(t)]

    def shape(r) -> object:  # noqa: ANN001
        if isinstance(r, Exception):
            return type(r).__name__, r.code
        assert r.status_code == 201, r.body
        m = json.loads(r.body)
        return m["status"], [ln["planned_method"] for ln in m["lines"]]
    assert [shape(r) for r in out] == [shape(r) for r in ref]
    codes = [r.code if isinstance(r, Exception) else r.status_code for r in out]
    assert codes == [201, "manifest.batch_on_open_manifest", "manifest.receiver_method", "unit.not_found", 201]
    numbers = [json.loads(out[i].body)["number"] for i in (0, 4)]
    assert int(numbers[1][-4:]) - int(numbers[0][-4:]) == 1  # gapless: the refused drafts took no number
    assert (grouped.groups, grouped.grouped) == (1, 2)


@pytest.mark.parametrize("keyed", [True, False])
def test_a_lost_commit_of_signatures_is_looked_up_by_its_key_never_signed_twice(client, admin, session, engine,
                                                                               monkeypatch, keyed):
    """The COMMIT of a group of submissions took effect but its answer was lost: with Idempotency-Keys the group
    is found by its first key and every request gets its 200; without one nothing tells, and each gets the
    COMMIT's error (a 5xx, as alone), never a second signature."""
    from sqlalchemy.exc import OperationalError

    import api.grouping as grouping

    w = setup_transfer(client, admin, session)
    drafts = [ok(draft(client, w, [{"batch_id": gen(client, w)["id"], "planned_method": "R9"}]), 201)
              for _ in range(3)]
    groups, failed = CommitGroups(engine), []

    class LosingSession(grouping.Session):
        def commit(self) -> None:
            if not failed and not self.in_nested_transaction():
                failed.append(True)
                super().commit()
                raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))
            super().commit()

    monkeypatch.setattr(grouping, "Session", LosingSession)
    out = together(groups, "submit", [(deferred(w["op"], key=f"lost-{i}" if keyed else None), d["id"], None)
                                      for i, d in enumerate(drafts)])
    assert failed
    if keyed:
        assert [answer(r)["status"] for r in out] == ["submitted"] * 3 and groups.groups == 1
    else:
        assert all(isinstance(r, OperationalError) for r in out) and groups.groups == 0
    for d in drafts:  # signed once each, whatever the answer said
        m = client.get(f"/api/v1/manifests/{d['id']}", headers=w["op"]).json()
        assert m["status"] == "submitted" and [e["action"] for e in m["events"]].count("submit") == 1


def test_a_unit_of_work_refused_after_it_wrote_leaves_nothing_behind_for_the_next(client, admin, session, engine,
                                                                                monkeypatch):
    """Balances, a line's receipt and the manifest's move are written without the ORM's unit of work (prebuilt
    UPDATEs; the objects are told the values they now hold), so a rolled-back savepoint cannot expire them by
    itself: the group empties its session after a refused unit of work, and the next one reads the rows afresh. A
    receipt refused after it signed its first line, then the same receipt again in the same group: the second
    answers and writes exactly what a receipt alone writes (without that, the first line's flag is doubled, and the
    rolled-back holding stays in the session, where SQLite gives its id to the next one)."""
    w, t = setup_transfer(client, admin, session), setup_transfer(client, admin, session)

    def two_lines(x: dict) -> tuple[int, dict]:
        a, b = gen(client, x, gross_kg="164", tare_kg="0"), gen(client, x, gross_kg="120", tare_kg="0")
        m = to_transit(client, x, [{"batch_id": a["id"], "planned_method": "R9"},
                                   {"batch_id": b["id"], "planned_method": "R9"}], [a["digital_id"], b["digital_id"]])
        return m["id"], {"lines": [{"batch_id": a["id"], "received_kg": "180", "acceptance": "accepted",
                                    "confirm_overweight": True, "reason": "复磅无误"},
                                   {"batch_id": b["id"], "received_kg": "120", "acceptance": "accepted"}],
                         "facility_id": x["rline"]}
    mid, body = two_lines(w)
    tid, tbody = two_lines(t)
    calls = []

    def refuse_second_line_once(session, m, kind, holding):  # noqa: ANN001, ANN202
        calls.append(kind)
        if kind == "received" and calls.count("received") == 2:
            raise Conflict("refused after the first line was signed", code="test.refused_late")
        return {}
    monkeypatch.setattr(manifest_state, "record_marks", [*manifest_state.record_marks, refuse_second_line_once])
    grouped = CommitGroups(engine)
    first, second = together(grouped, "receive", [(deferred(w["rcv"]), mid, body), (deferred(w["rcv"]), mid, body)])
    assert isinstance(first, Conflict) and first.code == "test.refused_late"
    got = answer(second)
    monkeypatch.setattr(manifest_state, "record_marks", [f for f in manifest_state.record_marks
                                                         if f is not refuse_second_line_once])
    ref = together(CommitGroups(engine, enabled=False), "receive", [(deferred(t["rcv"]), tid, tbody)])[0]
    assert comparable(second) == comparable(ref)
    assert got["lines"][0]["flags"] == ["received_over_shipped"]
    stored = client.get(f"/api/v1/manifests/{mid}", headers=w["rcv"]).json()
    assert stored["lines"] == got["lines"]
    for ln in got["lines"]:  # each line's holding exists and holds what the line accepted
        h = client.get(f"/api/v1/batches/{ln['holding_id']}", headers=w["rcv"]).json()
        assert h["net_kg"] == ln["accepted_kg"]
    assert verified(client, admin, w["receiver"]["id"]) == verified(client, admin, t["receiver"]["id"]) == 2


def test_cancels_and_returns_go_in_groups_and_answer_as_if_alone(client, admin, session, engine):
    """The rarer signatures share the groups too: cancels (one by a hauler, who may not; one after pickup; one
    manifest cancelled twice in the group) and the return of refused loads (the hauler's leg, then the
    originator's confirmation, which writes its records on the originator's chain)."""
    w, t = setup_transfer(client, admin, session), setup_transfer(client, admin, session)

    def cancels(x: dict) -> list[tuple]:
        d1, d2 = (ok(draft(client, x, [{"batch_id": gen(client, x)["id"], "planned_method": "R9"}]), 201)
                  for _ in range(2))
        ok(client.post(f"/api/v1/manifests/{d2['id']}/submit", headers=x["op"]))
        _, moving = in_transit(client, x)
        why = {"reason": "车辆故障"}
        return [(x["op"], d1["id"], why), (x["drv"], d2["id"], why), (x["op"], d2["id"], why),
                (x["op"], moving["id"], why), (x["op"], d1["id"], why)]

    def refused(x: dict) -> list[int]:
        out = []
        for _ in range(3):
            a, m = in_transit(client, x)
            ok(client.post(f"/api/v1/manifests/{m['id']}/receive", headers=x["rcv"], json={"lines": [
                {"batch_id": a["id"], "received_kg": "164", "acceptance": "refused", "reason": "包装破损"}]}))
            out.append(m["id"])
        return out

    grouped, alone = CommitGroups(engine), CommitGroups(engine, enabled=False)
    out = together(grouped, "cancel", [(deferred(h), mid, body) for h, mid, body in cancels(w)])
    ref = [together(alone, "cancel", [(deferred(h), mid, body)])[0] for h, mid, body in cancels(t)]
    assert [comparable(r) for r in out] == [comparable(r) for r in ref]
    assert [answer(out[i])["status"] for i in (0, 2)] == ["cancelled"] * 2
    assert isinstance(out[1], Forbidden)
    assert isinstance(out[3], Conflict) and isinstance(out[4], Conflict)
    assert (grouped.groups, grouped.grouped) == (1, 2)

    mw, mt = refused(w), refused(t)
    back = {"lat": 36.6, "lon": 117.0}
    out = together(grouped, "return", [(deferred(w["drv"]), mid, back) for mid in mw])
    ref = [together(alone, "return", [(deferred(t["drv"]), mid, back)])[0] for mid in mt]
    assert [comparable(r) for r in out] == [comparable(r) for r in ref]
    assert [answer(r)["status"] for r in out] == ["returning"] * 3
    requests = [(w["drv"], mw[0]), (w["op"], mw[0]), (w["op"], mw[1]), (w["op"], mw[2])]  # the hauler may not
    out = together(grouped, "returned", [(deferred(h), mid, back) for h, mid in requests])
    ref = [together(alone, "returned", [(deferred(h), mid, back)])[0]
           for h, mid in [(t["drv"], mt[0]), (t["op"], mt[0]), (t["op"], mt[1]), (t["op"], mt[2])]]
    assert [comparable(r) for r in out] == [comparable(r) for r in ref]
    assert isinstance(out[0], Forbidden) and [answer(r)["status"] for r in out[1:]] == ["returned"] * 3
    assert (grouped.groups, grouped.grouped) == (3, 8)
    # the loads are back in the originator's hands, on a chain that verifies as the twin's does
    assert verified(client, admin, w["unit"]["id"]) == verified(client, admin, t["unit"]["id"])


def test_a_group_that_writes_records_locks_its_holdings_before_any_chain_head(client, admin, session, engine):
    """Every writer takes a holding before a chain head. A group of pickups appends to the originator's chain at its
    first job, so it locks the holdings of all its manifests first (in id order), not each job's own holdings while
    the group already holds the head."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL: SQLite has no row locks")
    from sqlalchemy import event

    w = setup_transfer(client, admin, session)
    requests, ids = [], []
    for _ in range(3):
        a = gen(client, w)
        m = ok(draft(client, w, [{"batch_id": a["id"], "planned_method": "R9"}]), 201)
        ok(client.post(f"/api/v1/manifests/{m['id']}/submit", headers=w["op"]))
        requests.append((deferred(w["drv"]), m["id"], {"scanned": [a["digital_id"]]}))
        ids.append(a["id"])
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ANN202
        seen.append((statement, parameters))
    event.listen(engine, "before_cursor_execute", capture)
    try:
        out = together(CommitGroups(engine), "pickup", requests)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert [answer(r)["status"] for r in out] == ["in_transit"] * 3
    first_head = next(i for i, (sql, _) in enumerate(seen) if "journal_head" in sql)
    locks = [(i, p) for i, (sql, p) in enumerate(seen) if sql.startswith("SELECT") and "FROM batch" in sql
             and "FOR UPDATE" in sql]
    assert locks and locks[0][0] < first_head
    assert sorted(v for k, v in locks[0][1].items() if k.startswith("ids")) == sorted(ids)


def test_a_group_appends_its_records_at_its_end_taking_each_chain_head_once(client, admin, session, engine):
    """The units of work of a group build their records as they go, and the group appends them all after the last
    one: each chain head is locked once, after every unit of work, in one statement, and the records go in one
    INSERT. The chain is the one the pickups alone would have written (seqs gapless, links verified)."""
    from sqlalchemy import event

    w, t = setup_transfer(client, admin, session), setup_transfer(client, admin, session)

    def pickups(x: dict) -> list[tuple]:
        out = []
        for _ in range(3):
            a = gen(client, x)
            m = ok(draft(client, x, [{"batch_id": a["id"], "planned_method": "R9"}]), 201)
            ok(client.post(f"/api/v1/manifests/{m['id']}/submit", headers=x["op"]))
            out.append((deferred(x["drv"]), m["id"], {"scanned": [a["digital_id"]], "lat": 36.651234, "lon": 117.1201}))
        return out
    requests = pickups(w)
    seen: list[str] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ANN202
        seen.append(statement)
    event.listen(engine, "before_cursor_execute", capture)
    try:
        out = together(CommitGroups(engine), "pickup", requests)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    ref = [together(CommitGroups(engine, enabled=False), "pickup", [r])[0] for r in pickups(t)]
    assert [comparable(r) for r in out] == [comparable(r) for r in ref]
    heads = [i for i, sql in enumerate(seen) if sql.startswith("INSERT INTO journal_head")]
    inserts = [i for i, sql in enumerate(seen) if sql.replace('"', "").startswith("INSERT INTO journal_record")]
    events = [i for i, sql in enumerate(seen) if sql.startswith("INSERT INTO manifest_event")]
    assert len(heads) == 1 and len(events) == 3
    assert events[-1] < heads[0] < min(inserts)  # after every unit of work
    if engine.dialect.name == "postgresql":  # (SQLite's driver sends a multi-row INSERT with RETURNING row by row)
        assert len(inserts) == 1
    assert verified(client, admin, w["unit"]["id"]) == verified(client, admin, t["unit"]["id"])
    # the group read its manifests, their lines and holdings once for all three (`read_for_group`), not per job
    one_manifest = re.compile(r"FROM manifest\s+WHERE manifest\.id = ")
    one_manifests_lines = re.compile(r"FROM manifest_line\s+WHERE manifest_line\.manifest_id = ")
    assert not [sql for sql in seen if one_manifest.search(sql) or one_manifests_lines.search(sql)]
    assert len([sql for sql in seen if re.search(r"FROM batch\s+WHERE batch\.id IN", sql)]) == 1
    assert len([sql for sql in seen if re.search(r"FROM manifest_event\b", sql)]) == 1  # the events, signers too
    # each answer, made from the rows the group keeps current, is the manifest as a read shows it afterwards
    for r, (_, mid, _) in zip(out, requests, strict=True):
        assert answer(r) == client.get(f"/api/v1/manifests/{mid}", headers=w["drv"]).json()


def test_a_load_stored_at_receipt_in_a_group_links_to_its_waiting_receipt(client, admin, session, engine):
    """The 入库 of a load stored at receipt links back to the holding's last record (HJ 1259 `from_codes`): in a
    group that record, the receipt, still waits to be appended, and the link is found there."""
    from ledger.journal import JournalRecord

    w = setup_transfer(client, admin, session)
    requests = []
    for _ in range(2):
        a, m = in_transit(client, w)
        requests.append((deferred(w["rcv"]), m["id"], {"lines": [
            {"batch_id": a["id"], "received_kg": "164", "acceptance": "accepted"}], "facility_id": w["rstore"]}))
    grouped = CommitGroups(engine)
    out = together(grouped, "receive", requests)
    assert grouped.groups == 1
    for r in out:
        holding = answer(r)["lines"][0]["holding_id"]
        recs = session.exec(select(JournalRecord).where(JournalRecord.batch_id == holding)
                            .order_by(JournalRecord.seq)).all()
        assert [x.kind for x in recs] == ["received", "stored"]
        assert recs[1].body["from_codes"] == [recs[0].record_code] and recs[0].record_code
        assert answer(r) == client.get(f"/api/v1/manifests/{answer(r)['id']}", headers=w["rcv"]).json()
    assert verified(client, admin, w["receiver"]["id"]) == 4


def test_steps_on_a_manifest_read_before_another_process_signed_it_lose_their_compare_and_set(client, admin,
                                                                                            session, engine):
    """A commit group reads its manifests once, at its start (`read_for_group`); a step of its that acts on one
    another process has signed since must not act on what it read. Every step that writes moves the manifest's
    version with a compare-and-set, also those that keep its status: the return's confirmation of a received
    manifest (else the refused part could come back twice) and a revision's proposal and decisions (else a
    manifest received meanwhile could be revised)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL: SQLite's writers hold the database's write lock from their first statement")
    from sqlmodel import Session

    w = setup_transfer(client, admin, session)
    a, m = in_transit(client, w)
    ok(client.post(f"/api/v1/manifests/{m['id']}/receive", headers=w["rcv"], json={"lines": [
        {"batch_id": a["id"], "received_kg": "164", "acceptance": "partially_refused", "accepted_kg": "100",
         "reason": "含水超标"}], "facility_id": w["rline"]}))
    b, n = in_transit(client, w)
    ok(client.post(f"/api/v1/manifests/{n['id']}/deliver", headers=w["drv"], json={"lat": 36.6, "lon": 117.1}))
    rev = ok(client.post(f"/api/v1/manifests/{n['id']}/revisions", headers=w["op"],
                         json={"reason": "车辆故障换车", "vehicle_id": w["vehicles"][1]}), 201)["revisions"][0]
    ok(client.post(f"/api/v1/manifests/{n['id']}/revisions/{rev['id']}/approve", headers=w["rcv"]))
    with Session(engine, expire_on_commit=False) as s1, Session(engine, expire_on_commit=False) as s2:
        op, drv = deferred(w["op"]).credentials.principal(s1), deferred(w["drv"]).credentials.principal(s2)
        svc.read_for_group(s1, [m["id"]], lock=False)  # two groups that read their manifests at their start …
        svc.read_for_group(s2, [n["id"]], lock=False)
        # … while another process confirms the return and receives the other manifest
        ok(client.post(f"/api/v1/manifests/{m['id']}/returned", headers=w["op"], json={}))
        ok(client.post(f"/api/v1/manifests/{n['id']}/receive", headers=w["rcv"], json={"lines": [
            {"batch_id": b["id"], "received_kg": "164", "acceptance": "accepted"}], "facility_id": w["rline"]}))
        with pytest.raises(Conflict) as e:
            svc.confirm_return(s1, principal=op, m=svc.get_manifest(s1, op, m["id"]), data=svc.Where())
        assert e.value.code == "manifest.concurrent_change"
        with pytest.raises(Conflict) as e:
            svc.decide_revision(s2, principal=drv, m=svc.get_manifest(s2, drv, n["id"]), revision_id=rev["id"],
                                approve=True)
        assert e.value.code == "manifest.concurrent_change"
    back = client.get(f"/api/v1/manifests/{m['id']}", headers=w["op"]).json()
    assert [e["action"] for e in back["events"]].count("returned") == 1
    got = client.get(f"/api/v1/manifests/{n['id']}", headers=w["op"]).json()
    assert got["status"] == "received" and got["revisions"][0]["status"] == "pending"
    assert got["vehicle_plate"] == client.get(f"/api/v1/manifests/{m['id']}", headers=w["op"]).json()["vehicle_plate"]
