"""What a QR code opens (a label scan, a facility card) reads on PostgreSQL in one round trip on the event loop, from
the registry cache (ledger/scan.py, api.deps.prefetched_read), and must answer exactly as the same read on a session does,
for every kind of caller. A registry row not in the cache yet (a token, a unit, a facility) is read there too, with
the registry stamp; what that cannot answer (a row that does not exist, a park's membership) goes to a session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from api import deps
from ledger.db import is_sqlite
from tests.api.test_manifests import draft, gen, ok, to_transit
from tests.conftest import auth, make_user, setup_transfer


@pytest.fixture
def fast(app, engine, monkeypatch) -> Iterator[tuple[TestClient, list[str]]]:  # noqa: ANN001
    """A client of an app whose lifespan ran (its async pool open), and the scans that went to a session."""
    if is_sqlite(engine):
        pytest.skip("PostgreSQL: on SQLite every scan runs on a session")
    went_to_session: list[str] = []
    on_session = deps.read_session

    def counted(request):  # noqa: ANN001, ANN202
        went_to_session.append(request.url.path)
        return on_session(request)

    monkeypatch.setattr(deps, "read_session", counted)
    with TestClient(app) as client:
        assert app.state.aio is not None
        client.went = went_to_session
        yield client, went_to_session
    assert getattr(app.state, "aio", None) is None  # the lifespan closed its pool


def both(client: TestClient, path: str, headers: dict) -> tuple[int, dict]:
    """The scan's answer on the event loop, checked equal to the same scan on a session (which is not counted in
    the scans that went to a session)."""
    fast_r = client.get(path, headers=headers)
    went: list = client.went
    aio, client.app.state.aio, mark = client.app.state.aio, None, len(went)
    try:
        slow_r = client.get(path, headers=headers)
    finally:
        client.app.state.aio = aio
        del went[mark:]
    assert (fast_r.status_code, fast_r.json()) == (slow_r.status_code, slow_r.json())
    return fast_r.status_code, fast_r.json()


def test_a_scan_on_the_event_loop_answers_as_on_a_session(fast, admin, session):  # noqa: ANN001
    client, went = fast
    w = setup_transfer(client, admin, session)
    a = gen(client, w)
    path = f"/api/v1/scan/{a['digital_id']}"

    status, body = both(client, path, w["op"])  # the token and the unit, new to the cache, read on the event loop
    assert status == 200 and body["batch"]["id"] == a["id"] and went == []
    assert body["next_actions"] == ["store", "use_in_house", "dispose_in_house", "load_onto_manifest"]
    spaced = f"/api/v1/scan/ {a['digital_id'].lower()} "
    assert both(client, spaced, w["op"]) == (status, body) and went == []

    _, reg = make_user(session, role="regulator", region_prefix="3701")
    assert both(client, path, auth(reg))[1]["next_actions"] == [] and went == []
    _, far = make_user(session, role="regulator", region_prefix="3703")
    assert both(client, path, auth(far))[0] == 404 and went == []

    # on a submitted manifest: the plant may no longer load it; the hauler sees it through the manifest (a query)
    m = ok(draft(client, w, [{"batch_id": a["id"], "planned_method": "R9"}]), 201)
    ok(client.post(f"/api/v1/manifests/{m['id']}/submit", headers=w["op"]))
    went.clear()
    assert both(client, path, w["op"])[1]["next_actions"] == ["store", "use_in_house", "dispose_in_house"]
    assert went == []
    assert both(client, path, w["drv"])[1]["next_actions"] == ["pickup_scan"]
    assert went == []  # the driver sees it through the manifest's parties, which the scan read with it

    # a load received: the receiver's own holding comes first, on the event loop once its token is known
    b = gen(client, w)
    m = to_transit(client, w, [{"batch_id": b["id"], "planned_method": "R9"}], [b["digital_id"]])
    bpath = f"/api/v1/scan/{b['digital_id']}"
    assert both(client, bpath, w["rcv"])[1]["next_actions"] == ["receive"]
    m = ok(client.post(f"/api/v1/manifests/{m['id']}/receive", headers=w["rcv"], json={"lines": [
        {"batch_id": b["id"], "received_kg": "164", "acceptance": "accepted"}]}))
    status, body = both(client, bpath, w["rcv"])
    assert body["batch"]["id"] == m["lines"][0]["holding_id"] and "retrieve" in body["next_actions"]
    assert went == []
    assert both(client, bpath, w["op"])[1]["batch"]["id"] == b["id"] and went == []

    # what has no holding, or is no digital ID, answers as before
    unknown = a["digital_id"][:-4] + ("0000" if not a["digital_id"].endswith("0000") else "0001")
    assert both(client, f"/api/v1/scan/{unknown}", w["op"])[0] in (404, 422)
    assert both(client, "/api/v1/scan/NOT-AN-ID", w["op"])[0] == 422
    assert client.get(path).status_code == 401


def test_a_revoked_token_is_refused_on_the_event_loop_at_once(fast, admin, session):  # noqa: ANN001
    client, went = fast
    w = setup_transfer(client, admin, session)
    a = gen(client, w)
    path = f"/api/v1/scan/{a['digital_id']}"
    r = client.post("/api/v1/tokens", json={"name": "扫码枪"}, headers=w["op"])
    assert r.status_code == 201, r.text
    tok = auth(r.json()["token"])
    assert both(client, path, tok)[0] == 200 and went == []
    assert client.post(f"/api/v1/tokens/{r.json()['id']}/revoke", headers=w["op"]).status_code == 200
    status, body = both(client, path, tok)
    assert status == 401 and body["error"]["code"] == "auth.invalid_token" and went == []


def test_a_facility_card_on_the_event_loop_answers_as_on_a_session(fast, admin, session):  # noqa: ANN001
    client, went = fast
    w = setup_transfer(client, admin, session)
    store = w["store"]
    path = f"/api/v1/facilities/{store}"
    for code in ("900-249-08", "900-249-08", "900-249-08", "900-041-49"):  # the stock's rows in code order
        b = gen(client, w, waste_code=code, **({} if code == "900-249-08" else {"name": "废包装桶", "form": "固态"}))
        ok(client.post(f"/api/v1/batches/{b['id']}/store", headers=w["op"], json={
            "facility_id": store, "operator": "王工"}), 201)
    status, card = both(client, path, w["op"])
    assert status == 200 and went == [] and len(card["recent"]) == 4
    assert [(row["waste_code"], row["batches"]) for row in card["stock"]] == [("900-041-49", 1), ("900-249-08", 3)]
    assert both(client, f"/api/v1/facilities/{w['rstore']}", w["rcv"])[1]["recent"] == []  # an empty room
    assert both(client, path, w["rcv"])[0] == 404  # another unit's room
    went.clear()  # a facility that does not exist is never cached: a session reads that it does not
    assert both(client, f"/api/v1/facilities/{10**9}", w["op"])[0] == 404 and went == [f"/api/v1/facilities/{10**9}"]


def test_a_fault_of_the_async_pool_sends_the_read_to_a_session(fast, admin, session):  # noqa: ANN001
    client, went = fast
    w = setup_transfer(client, admin, session)
    a = gen(client, w)
    path = f"/api/v1/scan/{a['digital_id']}"
    both(client, path, w["op"])
    client.portal.call(client.app.state.aio.close)  # as when the database went away under the pool
    went.clear()
    r = client.get(path, headers=w["op"])
    assert r.status_code == 200 and r.json()["batch"]["id"] == a["id"] and went == [path]


def test_a_trace_on_the_event_loop_answers_as_on_a_session(fast, admin, session):  # noqa: ANN001
    client, went = fast
    w = setup_transfer(client, admin, session)
    a = gen(client, w)
    path = f"/api/v1/batches/{a['id']}/trace"
    status, t = both(client, path, w["op"])
    assert status == 200 and went == [] and [s["record"]["kind"] for s in t["steps"]] == ["generated"]

    m = to_transit(client, w, [{"batch_id": a["id"], "planned_method": "R9"}], [a["digital_id"]])
    m = ok(client.post(f"/api/v1/manifests/{m['id']}/receive", headers=w["rcv"], json={"lines": [
        {"batch_id": a["id"], "received_kg": "164", "acceptance": "accepted"}]}))
    held = m["lines"][0]["holding_id"]
    for who, bid in (("op", a["id"]), ("rcv", held)):  # parties and facilities new to the cache: on the event loop
        status, t = both(client, f"/api/v1/batches/{bid}/trace", w[who])
        assert status == 200 and went == [], who
        assert [x["number"] for x in t["manifests"]] == [m["number"]]
        assert [s["action"] for s in t["manifests"][0]["signatures"]][:2] == ["create", "submit"]
        assert {p["unit_id"] for p in t["parties"]} >= {w["unit"]["id"], w["hauler"]["id"], w["receiver"]["id"]}
    assert both(client, f"/api/v1/batches/{held}/trace", w["drv"])[0] == 200  # the hauler's view, through the
    assert went == []  # manifest's parties, which the trace read with it
    went.clear()
    assert both(client, f"/api/v1/batches/{10**9}/trace", w["op"])[0] == 404 and went == []
    _, stranger = make_user(session, role="operator", unit_id=setup_transfer(client, admin, session)["unit"]["id"])
    assert both(client, f"/api/v1/batches/{held}/trace", auth(stranger))[0] == 404 and went == []  # no party


def test_a_park_managers_scan_goes_on_the_event_loop_once_the_membership_is_cached(fast, admin, session):  # noqa: ANN001
    """A park manager sees its park's units through their membership, a registry row: the set of the park's units
    comes from the registry cache, so its scans and traces need no session once it is there; a unit that leaves the
    park (a membership changed: the cache is dropped) is no longer seen, and a unit outside the park never was."""
    from datetime import timedelta

    from ledger.registry.models import Park, ParkMember
    from ledger.workdays import today

    client, went = fast
    w = setup_transfer(client, admin, session)
    park = Park(code=f"P{w['unit']['id']}", name="测试园区", region_code="370112")
    session.add(park)
    session.flush()
    member = ParkMember(park_id=park.id, unit_id=w["unit"]["id"], since=today() - timedelta(days=30))
    session.add(member)
    session.commit()
    _, pm = make_user(session, role="park_manager", park_id=park.id)
    a = gen(client, w)
    path = f"/api/v1/scan/{a['digital_id']}"
    assert both(client, path, auth(pm))[0] == 200  # the token and the park's units, new to the cache
    went.clear()
    assert both(client, path, auth(pm))[0] == 200 and went == []
    status, _ = both(client, f"/api/v1/batches/{a['id']}/trace", auth(pm))
    assert status == 200 and went == []
    other = setup_transfer(client, admin, session)
    b = gen(client, other)
    assert both(client, f"/api/v1/scan/{b['digital_id']}", auth(pm))[0] == 404  # not in the park
    member.until = today() - timedelta(days=1)  # the plant left the park yesterday
    session.add(member)
    session.commit()
    assert both(client, path, auth(pm))[0] == 404


def test_after_a_registry_change_the_rows_are_read_again_on_the_event_loop(fast, admin, session, monkeypatch):  # noqa: ANN001
    """A registry change drops the registry's part of every process's cache; the next reads find their units and
    facilities missing and read them on the event loop with the new stamp (`ledger.scan.fill_all`), so they show
    the change at once and no session is needed. The tokens, in the accounts' part, are kept; a logout (a token
    revoked) drops the accounts' part and keeps the units."""
    from ledger.registry.models import Unit

    client, went = fast
    misses: list[tuple] = []
    fill = deps.fill

    async def counted(reader, miss, stamp):  # noqa: ANN001, ANN202
        misses.append(miss.key[0])
        return await fill(reader, miss, stamp)

    monkeypatch.setattr(deps, "fill", counted)
    w = setup_transfer(client, admin, session)
    a = gen(client, w)
    m = to_transit(client, w, [{"batch_id": a["id"], "planned_method": "R9"}], [a["digital_id"]])
    ok(client.post(f"/api/v1/manifests/{m['id']}/receive", headers=w["rcv"], json={"lines": [
        {"batch_id": a["id"], "received_kg": "164", "acceptance": "accepted"}]}))
    path = f"/api/v1/batches/{a['id']}/trace"
    status, t = both(client, path, w["op"])
    assert status == 200 and went == []
    unit = session.get(Unit, w["unit"]["id"])
    unit.name = "改名后的产废单位"
    session.add(unit)
    session.commit()  # the registry stamp moves
    misses.clear()
    status, t = both(client, path, w["op"])
    assert status == 200 and went == []
    assert {p["unit_id"]: p["name"] for p in t["parties"]}[unit.id] == "改名后的产废单位"
    assert len(t["parties"]) == 3 and {s["facility_code"] for s in t["steps"]} - {None}
    # its three parties and its facilities were read with one round trip before it ran (`fill_all`), not one at a
    # time; the caller's token was kept
    assert misses == []
    assert both(client, f"/api/v1/scan/{a['digital_id']}", w["op"])[0] == 200 and went == [] and misses == []

    # a logout elsewhere: the accounts' stamp moves, the registry's does not
    from ledger import cache
    from ledger.cache import RegistryVersion

    before = {v.id: v.stamp for v in session.exec(select(RegistryVersion)).all()}
    r = client.post("/api/v1/tokens", json={"name": "临时"}, headers=w["rcv"])
    assert r.status_code == 201, r.text
    assert client.post(f"/api/v1/tokens/{r.json()['id']}/revoke", headers=w["rcv"]).status_code == 200
    session.expire_all()
    after = {v.id: v.stamp for v in session.exec(select(RegistryVersion)).all()}
    assert after[1] == before[1] and after[2] != before.get(2)
    misses.clear()
    status, t = both(client, path, w["op"])
    assert status == 200 and went == [] and misses == ["token"]  # the token again; no unit, no facility
    assert cache.holds((after[1], after[2]), ("unit", unit.id))
    facilities = {s["record"]["facility_id"] for s in t["steps"]} - {None}
    assert facilities and all(cache.holds((after[1], after[2]), ("facility", f)) for f in facilities)


def test_a_row_read_under_another_stamp_is_not_kept(fast, admin, session):  # noqa: ANN001
    """`fill` keeps a row only when the stamp read with it is the read's own: a row read after a registry change
    is not what the cache held at the read's stamp, and the read goes to a session instead."""
    from ledger import cache
    from ledger.accounts import hash_token
    from ledger.cache import NeedsRow, RegistryVersion
    from ledger.registry.models import Unit
    from ledger.scan import fill

    client, _ = fast
    w = setup_transfer(client, admin, session)
    rows = {v.id: v.stamp for v in session.exec(select(RegistryVersion)).all()}
    stamp = cache.stamps_of(rows[1], rows.get(2))
    cache.clear()
    unit_id = w["unit"]["id"]
    miss = NeedsRow(("unit", unit_id), Unit, unit_id)
    aio = client.app.state.aio
    assert client.portal.call(fill, aio, miss, (stamp[0] + 1, stamp[1])) is False
    assert not cache.holds(stamp, ("unit", unit_id))
    token = NeedsRow(("token", hash_token(w["op"]["Authorization"].split()[1])))
    assert client.portal.call(fill, aio, token, (stamp[0], stamp[1] + 1)) is False
    assert not cache.holds(stamp, token.key)
    # only the stamp of the row's own part must be the read's: a token is as good after a change of the registry,
    # a unit after a logout elsewhere
    assert client.portal.call(fill, aio, token, (stamp[0] + 1, stamp[1])) is True
    assert client.portal.call(fill, aio, miss, (stamp[0], stamp[1] + 1)) is True
    cache.clear()
    assert client.portal.call(fill, aio, NeedsRow(("unit", 10**9), Unit, 10**9), stamp) is False  # no such unit
    assert client.portal.call(fill, aio, miss, stamp) is True
    assert cache.holds(stamp, ("unit", unit_id))
    kept = cache._cache.values[0][("unit", unit_id)]
    assert kept.name == w["unit"]["name"] and kept.id == unit_id
    # what the session's path would have kept, value for value (UTCDateTime converted as the ORM converts it)
    assert kept.model_dump() == cache.snapshot(session.get(Unit, unit_id)).model_dump()
    assert kept.created_at.tzinfo is not None
