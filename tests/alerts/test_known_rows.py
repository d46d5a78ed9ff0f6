"""At a signature's commit the alert engine skips a gatherer whose scope the transaction's known rows show empty
(`alerts.facts`: idle): an ordinary pickup sends no alert statement and opens no savepoint. Whenever the known rows
cannot tell, or tell that there is something, the gatherer asks the database as before."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from types import SimpleNamespace

from sqlalchemy import event, text
from sqlmodel import Session, select

from alerts.facts import Scope
from alerts.facts.operation import _no_border_crossed
from alerts.facts.transfer import _nothing_flagged
from alerts.models import Alert
from ledger import manifests
from ledger.auth import registry_unit
from ledger.cache import cache_view
from ledger.db import know_rows
from tests.conftest import batch_body, setup_transfer

TODAY = date.today().isoformat()


@contextmanager
def statements(engine) -> Iterator[list[str]]:  # noqa: ANN001
    """The SQL the engine sends meanwhile (any thread: the app writes in a worker thread)."""
    sent: list[str] = []

    def seen(conn, cursor, statement, *_):  # noqa: ANN001, ANN002
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def ok(r, status=200):  # noqa: ANN001, ANN201
    assert r.status_code == status, r.text
    return r.json()


def submitted(client, w, *, code: str = "900-249-08", **draft) -> tuple[dict, dict]:  # noqa: ANN001
    """A batch weighed and a manifest of it drafted and submitted: (batch, manifest)."""
    b = ok(client.post("/api/v1/batches", json=batch_body(w, waste_code=code, **(
        {"name": "废包装物", "form": "固态"} if code != "900-249-08" else {})), headers=w["op"]), 201)
    body = {"originator_id": w["unit"]["id"], "hauler_id": w["hauler"]["id"], "vehicle_id": w["vehicles"][0],
            "receiver_id": w["receiver"]["id"], "driver_id": w["driver_id"], "planned_date": TODAY,
            "lines": [{"batch_id": b["id"], "planned_method": "R9"}], **draft}
    m = ok(client.post("/api/v1/manifests", json=body, headers=w["op"]), 201)
    ok(client.post(f"/api/v1/manifests/{m['id']}/submit", headers=w["op"]))
    return b, m


def pickup(client, w, b: dict, m: dict) -> dict:  # noqa: ANN001
    return ok(client.post(f"/api/v1/manifests/{m['id']}/pickup", headers=w["drv"],
                          json={"scanned": [b["digital_id"]], "lat": 36.6, "lon": 117.0}))


def test_an_ordinary_pickup_sends_no_alert_statement_and_opens_no_savepoint(client, admin, session, engine):
    w = setup_transfer(client, admin, session)
    b, m = submitted(client, w)
    with statements(engine) as sent:
        assert pickup(client, w, b, m)["status"] == "in_transit"
    assert sent and not [s for s in sent if "SAVEPOINT" in s.upper()]
    assert not [s for s in sent if "CAST(manifest.flags" in s or "substr(" in s.lower()]
    assert session.exec(select(Alert)).all() == []


def test_an_off_plan_pickup_still_raises_its_alert_at_the_pickup(client, admin, session, engine):
    w = setup_transfer(client, admin, session)
    b, m = submitted(client, w, code="900-041-49")  # not in the plant's plan: the draft is flagged
    assert m["flags"] == ["not_in_plan:900-041-49"]
    with statements(engine) as sent:
        pickup(client, w, b, m)
    assert [s for s in sent if "SAVEPOINT" in s.upper()] and [s for s in sent if "CAST(manifest.flags" in s]
    raised = session.exec(select(Alert).where(Alert.rule == "TRN-OFF-PLAN")).all()
    assert [a.subject for a in raised] == [f"manifest:{m['id']}"]


def test_a_pickup_across_a_province_border_is_asked_of_the_database(client, admin, session, engine):
    w = setup_transfer(client, admin, session, receiver_region="320105")  # Jiangsu, from Shandong
    approval = ok(client.post(f"/api/v1/units/{w['unit']['id']}/transfer-approvals", headers=admin, json={
        "number": "鲁苏转移2026-001", "receiver_id": w["receiver"]["id"], "waste_codes": ["900-249-08"],
        "cap_kg": "5000", "valid_from": (date.today() - timedelta(days=1)).isoformat(),
        "valid_to": (date.today() + timedelta(days=30)).isoformat()}), 201)
    b, m = submitted(client, w, approval_id=approval["id"])
    with statements(engine) as sent:
        pickup(client, w, b, m)
    assert [s for s in sent if "SAVEPOINT" in s.upper()] and [s for s in sent if "substr(" in s.lower()]


def test_the_idle_checks_read_only_what_the_transaction_knows(client, admin, session, engine):
    w = setup_transfer(client, admin, session)
    b, m = submitted(client, w)
    pickup(client, w, b, m)
    mid, scope = m["id"], Scope(manifest_ids=frozenset({m["id"]}), batch_ids=frozenset({b["id"]}))
    with Session(engine) as s, s.begin():
        # nothing known yet: neither can tell
        assert not _no_border_crossed(s, scope) and not _nothing_flagged(s, scope)
        manifests.read_for_group(s, [mid], lock=True)  # as a signature's commit group reads it
        for unit_id in (w["unit"]["id"], w["receiver"]["id"]):
            assert registry_unit(s, unit_id) is not None  # the stamps read, the units in the cache
        assert cache_view(s) is not None
        with statements(engine) as sent:
            assert _no_border_crossed(s, scope) and _nothing_flagged(s, scope)
        assert sent == []
        # a batch the transaction does not know, or one split off another (a received holding, which a line of
        # some other manifest may hold): cannot tell
        assert not _nothing_flagged(s, Scope(manifest_ids=scope.manifest_ids, batch_ids=frozenset({10**9})))
        know_rows(s, "holding", {b["id"]: SimpleNamespace(id=b["id"], parent_id=1)})
        assert not _nothing_flagged(s, scope)
    # the receiver moves to another province (an edit that stamps the registry): its unit is read again, and the
    # manifest now crosses a border
    with Session(engine) as s, s.begin():
        s.execute(text("UPDATE unit SET region_code = '320105' WHERE id = :id"), {"id": w["receiver"]["id"]})
        s.execute(text("UPDATE registry_version SET stamp = stamp + 1"))
    with Session(engine) as s, s.begin():
        manifests.read_for_group(s, [mid], lock=False)
        assert registry_unit(s, w["receiver"]["id"]).region_code == "320105"
        assert registry_unit(s, w["unit"]["id"]) is not None
        assert not _no_border_crossed(s, scope)
        assert _nothing_flagged(s, Scope(manifest_ids=scope.manifest_ids))  # (no batch: the manifest alone tells)


def test_a_receipts_loads_are_told_from_its_known_rows_as_the_query_tells_them(client, admin, session, engine):
    from datetime import UTC, datetime

    from alerts.facts import Clock
    from alerts.facts.operation import received_loads

    w = setup_transfer(client, admin, session)
    b, m = submitted(client, w)
    pickup(client, w, b, m)
    ok(client.post(f"/api/v1/manifests/{m['id']}/receive", headers=w["rcv"], json={
        "facility_id": w["rline"], "lines": [{"batch_id": b["id"], "received_kg": "99.5", "acceptance": "accepted"}]}))
    scope, clock = Scope(manifest_ids=frozenset({m["id"]})), Clock(datetime.now(UTC))
    with Session(engine) as s, s.begin():
        asked = received_loads(s, clock, scope)  # nothing known: the query
        assert len(asked) == 1 and asked[0].lines[0][3] == 99_500
        manifests.read_for_group(s, [m["id"]], lock=False)
        with statements(engine) as sent:
            told = received_loads(s, clock, scope)
        assert told == asked and not [x for x in sent if "manifest_line" in x]


def test_a_receipt_outside_the_licence_raises_its_alert_from_the_rows_the_receipt_kept(client, admin, session,
                                                                                        engine):
    w = setup_transfer(client, admin, session)
    b, m = submitted(client, w)
    pickup(client, w, b, m)
    # the licence stops covering the load's code while it is on the road (a regulator's edit stamps the registry)
    with Session(engine) as s, s.begin():
        s.execute(text("UPDATE permit SET waste_codes = '[\"900-041-49\"]' WHERE unit_id = :u"),
                  {"u": w["receiver"]["id"]})
        s.execute(text("UPDATE registry_version SET stamp = stamp + 1"))
    with statements(engine) as sent:
        ok(client.post(f"/api/v1/manifests/{m['id']}/receive", headers=w["rcv"], json={
            "facility_id": w["rline"],
            "lines": [{"batch_id": b["id"], "received_kg": "99.5", "acceptance": "accepted"}]}))
    raised = session.exec(select(Alert).where(Alert.rule == "OPS-LICENCE-SCOPE")).all()
    assert [a.subject for a in raised] == [f"manifest:{m['id']}"]
    assert raised[0].evidence["lines"] == [{"line_no": 1, "waste_code": "900-249-08", "method": "R9", "why": "code"}]
    assert not [x for x in sent if "manifest_line.accepted_g >" in x]  # the loads came from the receipt's rows


def test_an_off_plan_pickup_in_a_group_with_a_refused_neighbour_still_raises_its_alert(client, admin, session,
                                                                                       engine):
    """In a commit group the flagged manifest is asked of the database at the group's commit, also when a refused
    neighbour emptied the session and made it forget the rows it knew."""
    from api.grouping import CommitGroups
    from tests.api.test_group_commit import deferred
    from tests.api.test_group_commit_signatures import answer, together

    w = setup_transfer(client, admin, session)
    (a, ma), (b, mb), (_, mc) = submitted(client, w), submitted(client, w, code="900-041-49"), submitted(client, w)
    assert mb["flags"] == ["not_in_plan:900-041-49"]
    groups = CommitGroups(engine)
    out = together(groups, "pickup", [(deferred(w["drv"]), ma["id"], {"scanned": [a["digital_id"]]}),
                                      (deferred(w["drv"]), mb["id"], {"scanned": [b["digital_id"]]}),
                                      (deferred(w["drv"]), mc["id"], {"scanned": [a["digital_id"]]})])  # wrong label
    assert [answer(r)["status"] for r in out[:2]] == ["in_transit"] * 2
    assert getattr(out[2], "code", None) == "manifest.label_not_on_manifest"
    assert groups.grouped == 2
    raised = session.exec(select(Alert).where(Alert.rule == "TRN-OFF-PLAN")).all()
    assert [a.subject for a in raised] == [f"manifest:{mb['id']}"]
