"""Group commit of holding moves, 入库, 出库 and 自行利用/处置 (api/grouping.py, `ledger.batches.move_many`): the
moves of one kind that arrive together share one transaction, and each keeps its own principal, answer, error and Idempotency-Key. The answers and the ledger equal
those of the same requests run one by one, which each test checks against a twin plant with group commit off."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

from api.grouping import CommitGroups
from api.routers.batches import MoveResult
from ledger import batches as svc
from ledger.batches import rebuild
from ledger.errors import Conflict, InvalidInput, NotFound
from tests.api.test_group_commit import deferred, ok
from tests.conftest import PUBLIC_URL, batch_body, setup_plant


def render(b, rec) -> MoveResult:  # noqa: ANN001
    return MoveResult(batch=svc.batch_public(b, public_url=PUBLIC_URL), record=svc.record_public(rec))


def store_together(groups: CommitGroups, requests: list[tuple], kind: str = "stored") -> list:
    """(Deferred, batch id, body) each, submitted at once in one event loop: a Response or the exception raised."""
    schema = {"stored": svc.StoreIn, "retrieved": svc.RetrieveIn}.get(kind, svc.ProcessIn)

    async def go() -> list:
        return await asyncio.gather(*[groups.submit_move(d, kind, batch_id, schema.model_validate(body),
                                                         public_url=PUBLIC_URL, render=render)
                                      for d, batch_id, body in requests], return_exceptions=True)
    return asyncio.run(go())


def weigh(client, plant: dict, kg: str) -> int:  # noqa: ANN001
    r = client.post("/api/v1/batches", json=batch_body(plant, gross_kg=kg, tare_kg="0"), headers=plant["op"])
    assert r.status_code == 201, r.text
    return r.json()["id"]


def scenario(client, plant: dict, other: dict) -> list[tuple]:  # noqa: ANN001
    """Nine moves: two partial stores of one batch then one too many, a batch already stored, another unit's
    batch, an unknown batch, a facility that is no store, a bad mass, and three batches that overfill the 1 t
    store."""
    a, b, c, d = (weigh(client, plant, kg) for kg in ("300", "400", "400", "400"))
    stored = weigh(client, plant, "50")
    r = client.post(f"/api/v1/batches/{stored}/store", json={"facility_id": plant["yard"], "operator": "甲"},
                    headers=plant["op"])
    assert r.status_code == 201, r.text
    foreign = weigh(client, other, "10")
    op = plant["op"]

    def move(batch_id: int, **kw) -> tuple:  # noqa: ANN003
        return (op, batch_id, {"facility_id": plant["store"], "operator": "库管张", **kw})
    return [move(a, mass_kg="100", note="第一次"), move(a, mass_kg="150"), move(a, mass_kg="100"),
            move(stored), move(foreign), move(10**9), move(b, facility_id=plant["line"]), move(b, mass_kg="0"),
            move(b), move(c), move(d)]


def comparable(result) -> object:  # noqa: ANN001
    """What must be equal between the grouped and the one-by-one runs (ids, times and units differ)."""
    if isinstance(result, Exception):
        return type(result).__name__, getattr(result, "code", None), getattr(result, "details", {}).get("field")
    body = json.loads(result.body)
    rec, b = body["record"], body["batch"]
    return (rec["kind"], rec["mass_kg"], rec["record_code"][-3:], bool(rec["body"].get("from_codes")),
            rec["body"].get("note"), rec["body"].get("over_capacity"), b["status"], b["stored_kg"],
            b["remaining_kg"])


def test_storage_moves_go_in_one_transaction_and_answer_as_if_alone(client, admin, session, engine):
    plant, other = setup_plant(client, admin, session), setup_plant(client, admin, session)
    twin, twin_other = setup_plant(client, admin, session), setup_plant(client, admin, session)
    grouped = CommitGroups(engine)
    out = store_together(grouped, [(deferred(op), bid, body) for op, bid, body in scenario(client, plant, other)])
    alone = CommitGroups(engine, enabled=False)  # one request after the other
    ref = [store_together(alone, [(deferred(op), bid, body)])[0]
           for op, bid, body in scenario(client, twin, twin_other)]
    assert [comparable(r) for r in out] == [comparable(r) for r in ref]
    assert (grouped.groups, grouped.grouped) == (1, 5) and alone.groups == 0

    first, second = json.loads(out[0].body), json.loads(out[1].body)
    assert Decimal(first["batch"]["stored_kg"]) == 100  # the first answer shows the holding after its own move
    assert second["record"]["body"]["from_codes"] == [first["record"]["record_code"]]  # HJ 1259 link to it
    assert isinstance(out[2], Conflict) and out[2].code == "batch.insufficient_mass"
    assert isinstance(out[3], Conflict) and out[3].code == "batch.already_stored"
    assert isinstance(out[4], NotFound) and isinstance(out[5], NotFound)
    assert isinstance(out[6], InvalidInput) and out[6].details["field"] == "facility_id"
    assert isinstance(out[7], InvalidInput) and out[7].details["field"] == "mass_kg"
    codes = [int(json.loads(r.body)["record"]["record_code"][-3:]) for r in out if not isinstance(r, Exception)]
    assert codes == [2, 3, 4, 5, 6]  # gapless after the yard's 入库 (001), in arrival order
    notes = [json.loads(r.body)["record"]["body"].get("over_capacity") for r in out[8:]]
    assert notes == [None, {"capacity_g": 1_000_000, "stock_after_g": 1_050_000},  # 250 kg of `a`, then 400 kg
                     {"capacity_g": 1_000_000, "stock_after_g": 1_450_000}]  # each: the stock after its move

    for p in (plant, twin):
        v = client.get(f"/api/v1/units/{p['unit']['id']}/verify", headers=admin).json()
        assert v["ok"] and v["records"] == 5 + 1 + 5  # five weighings, the yard's 入库, five grouped moves
    session.rollback()
    assert rebuild(session) == []  # every holding's balances equal its records


def test_a_store_key_used_twice_in_a_group_is_written_once_and_replayed(client, admin, session, engine):
    plant = setup_plant(client, admin, session)
    a, b = weigh(client, plant, "20"), weigh(client, plant, "30")
    groups = CommitGroups(engine)
    body = {"facility_id": plant["store"], "operator": "库管张"}
    out = store_together(groups, [(deferred(plant["op"], key="st-1", fingerprint="a"), a, body),
                                  (deferred(plant["op"], key="st-1", fingerprint="a"), a, body),
                                  (deferred(plant["op"], key="st-2", fingerprint="b"), b, body)])
    first, again, other = ok(out[0]), out[1], ok(out[2])
    assert again.headers.get("Idempotent-Replayed") == "true" and json.loads(again.body) == first
    assert other["batch"]["status"] == "stored" and (groups.groups, groups.grouped) == (1, 2)
    replay = store_together(groups, [(deferred(plant["op"], key="st-2", fingerprint="b"), b, body)])[0]
    assert replay.headers.get("Idempotent-Replayed") == "true" and json.loads(replay.body) == other
    v = client.get(f"/api/v1/units/{plant['unit']['id']}/verify", headers=admin).json()
    assert v["ok"] and v["records"] == 4


def retrievals(client, plant: dict) -> list[tuple]:  # noqa: ANN001
    """Six 出库: two partial ones of a stored batch then one too many, a batch never stored, a bad mass, and the
    whole of another stored batch."""
    a, b, loose = weigh(client, plant, "300"), weigh(client, plant, "200"), weigh(client, plant, "40")
    for bid in (a, b):
        r = client.post(f"/api/v1/batches/{bid}/store", json={"facility_id": plant["store"], "operator": "甲"},
                        headers=plant["op"])
        assert r.status_code == 201, r.text
    op = plant["op"]

    def move(batch_id: int, **kw) -> tuple:  # noqa: ANN003
        return (op, batch_id, {"operator": "库管张", "purpose": "transfer", **kw})
    return [move(a, mass_kg="100"), move(a, mass_kg="150", note="装车"), move(a, mass_kg="100"), move(loose),
            move(b, mass_kg="0"), move(b)]


def test_retrievals_go_in_one_transaction_and_answer_as_if_alone(client, admin, session, engine):
    plant, twin = setup_plant(client, admin, session), setup_plant(client, admin, session)
    grouped = CommitGroups(engine)
    out = store_together(grouped, [(deferred(op), bid, body) for op, bid, body in retrievals(client, plant)],
                         kind="retrieved")
    alone = CommitGroups(engine, enabled=False)
    ref = [store_together(alone, [(deferred(op), bid, body)], kind="retrieved")[0]
           for op, bid, body in retrievals(client, twin)]
    assert [comparable(r) for r in out] == [comparable(r) for r in ref]
    assert (grouped.groups, grouped.grouped) == (1, 3)
    first, second = json.loads(out[0].body), json.loads(out[1].body)
    assert Decimal(first["batch"]["stored_kg"]) == 200 and Decimal(second["batch"]["stored_kg"]) == 50
    assert second["record"]["body"]["from_codes"] == [first["record"]["record_code"]]
    assert first["record"]["facility_id"] == plant["store"]  # the store it left
    assert isinstance(out[2], Conflict) and out[2].code == "batch.insufficient_mass"
    assert isinstance(out[3], Conflict) and out[3].code == "batch.not_stored"
    assert isinstance(out[4], InvalidInput) and out[4].details["field"] == "mass_kg"
    last = json.loads(out[5].body)
    assert last["batch"]["status"] == "retrieved" and Decimal(last["batch"]["stored_kg"]) == 0
    codes = [int(json.loads(r.body)["record"]["record_code"][-3:]) for r in out if not isinstance(r, Exception)]
    assert codes == [1, 2, 3]
    v = client.get(f"/api/v1/units/{plant['unit']['id']}/verify", headers=admin).json()
    assert v["ok"] and v["records"] == 3 + 2 + 3
    session.rollback()
    assert rebuild(session) == []


def processings(client, plant: dict, other: dict) -> list[tuple]:  # noqa: ANN001
    """Eight 自行利用: two partial ones of a batch then one too many, a method the line is not registered for, a
    disposal method, another unit's batch, a bad mass, and the whole of a second batch without a facility."""
    a, b = weigh(client, plant, "300"), weigh(client, plant, "200")
    foreign = weigh(client, other, "10")
    op = plant["op"]

    def use(batch_id: int, **kw) -> tuple:  # noqa: ANN003
        return (op, batch_id, {"method": "R9", "facility_id": plant["line"], "operator": "操作工", **kw})
    return [use(a, mass_kg="100", note="第一班"), use(a, mass_kg="150"), use(a, mass_kg="100"),
            use(b, method="R13"), use(b, method="D10", facility_id=None), use(foreign), use(b, mass_kg="0"),
            use(b, method="R4", facility_id=None)]


def test_in_house_processing_goes_in_one_transaction_and_answers_as_if_alone(client, admin, session, engine):
    plant, other = setup_plant(client, admin, session), setup_plant(client, admin, session)
    twin, twin_other = setup_plant(client, admin, session), setup_plant(client, admin, session)
    grouped = CommitGroups(engine)
    out = store_together(grouped, [(deferred(op), bid, body) for op, bid, body in processings(client, plant, other)],
                         kind="used_in_house")
    alone = CommitGroups(engine, enabled=False)
    ref = [store_together(alone, [(deferred(op), bid, body)], kind="used_in_house")[0]
           for op, bid, body in processings(client, twin, twin_other)]
    assert [comparable(r) for r in out] == [comparable(r) for r in ref]
    assert (grouped.groups, grouped.grouped) == (1, 3)
    first, second, last = (json.loads(out[i].body) for i in (0, 1, 7))
    assert Decimal(first["batch"]["remaining_kg"]) == 200  # the first answer shows the holding after its own move
    assert second["record"]["body"]["from_codes"] == [first["record"]["record_code"]]
    assert first["record"]["body"]["method"] == "R9" and first["record"]["facility_id"] == plant["line"]
    assert isinstance(out[2], Conflict) and out[2].code == "batch.insufficient_mass"
    assert isinstance(out[3], InvalidInput) and out[3].details["field"] == "method"  # the line runs R9 and R4
    assert isinstance(out[4], InvalidInput) and out[4].details["field"] == "method"  # D10 is a disposal method
    assert isinstance(out[5], NotFound)
    assert isinstance(out[6], InvalidInput) and out[6].details["field"] == "mass_kg"
    assert last["record"]["kind"] == "used_in_house" and last["batch"]["status"] == "closed"
    assert Decimal(last["batch"]["remaining_kg"]) == 0
    codes = [int(json.loads(r.body)["record"]["record_code"][-3:]) for r in out if not isinstance(r, Exception)]
    assert codes == [1, 2, 3]
    v = client.get(f"/api/v1/units/{plant['unit']['id']}/verify", headers=admin).json()
    assert v["ok"] and v["records"] == 2 + 3
    session.rollback()
    assert rebuild(session) == []


def test_a_storage_move_of_another_kind_is_refused_by_the_groups():
    import pytest

    with pytest.raises(ValueError, match="not a holding move"):
        asyncio.run(CommitGroups(None).submit_move(None, "shipped", 1, None, public_url="", render=render))
