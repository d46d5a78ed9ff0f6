"""The bulk write helpers of ledger/db.py: `new_row` builds the same object as the constructor, and `insert_all`
gives every object the id of its own row (on PostgreSQL through one array per column)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from ledger.batches import Batch, batch_public
from ledger.db import insert_all, new_row
from ledger.journal import JournalRecord
from tests.conftest import PUBLIC_URL, batch_body, setup_plant


def batch_values(plant: dict, i: int) -> dict:
    body = batch_body(plant)
    return dict(unit_id=plant["unit"]["id"], holder_unit_id=plant["unit"]["id"], digital_id=f"TEST{i:05d}",
                batch_code=f"HWCS{i:08d}", waste_code=body["waste_code"], category="HW08", hazardous=True,
                name=f"废矿物油 {i} \"桶\" {{}} \\ ,", form="液态", hazard="T,I", components=None if i % 2 else "矿物油",
                container_type="桶", container_count=1 + i, container_volume_l=None if i % 3 else 200.0,
                period="container", facility_id=plant["gen"], scale_id="S", operator="王工",
                occurred_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i), gross_g=1000 + i, tare_g=0,
                net_g=1000 + i, remaining_g=1000 + i, status="generated",
                flags=[] if i % 2 else ["not_in_plan", "引号\"", "{a,b}"], created_at=datetime.now(UTC))


def test_new_row_equals_the_constructed_object(client, admin, session):
    plant = setup_plant(client, admin, session)
    for i in range(3):
        values = batch_values(plant, i)
        built, fast = Batch(**values), new_row(Batch, **values)
        assert fast.model_dump() == built.model_dump()
        assert fast.model_fields_set == built.model_fields_set
        built.id = fast.id = 7
        assert batch_public(fast, public_url=PUBLIC_URL) == batch_public(built, public_url=PUBLIC_URL)
    record = dict(unit_id=1, seq=1, kind="generated", actor_name="王工", occurred_at=datetime.now(UTC),
                  recorded_at=datetime.now(UTC), body={"a": [1, "二"]}, prev_hash="0" * 64)
    assert new_row(JournalRecord, **record).model_dump() == JournalRecord(**record).model_dump()


def test_insert_all_gives_each_object_the_id_of_its_own_row(client, admin, session):
    plant = setup_plant(client, admin, session)
    rows = [new_row(Batch, **batch_values(plant, i)) for i in range(300)]
    insert_all(session, rows)
    session.commit()
    ids = [r.id for r in rows]
    assert ids == sorted(ids) and len(set(ids)) == 300
    stored = {row.id: row for row in session.exec(
        text("SELECT id, digital_id, name, components, container_volume_l, flags FROM batch WHERE digital_id LIKE "
             "'TEST%'")).all()}
    for r in rows:
        back = stored[r.id]
        assert (back.digital_id, back.name, back.components, back.container_volume_l) == (
            r.digital_id, r.name, r.components, r.container_volume_l)
    assert session.get(Batch, rows[2].id).flags == ["not_in_plan", "引号\"", "{a,b}"]
    assert session.get(Batch, rows[1].id).flags == []


def test_insert_all_never_cuts_an_over_long_string_short(client, admin, session):
    """A value longer than its column is refused on PostgreSQL (as a plain INSERT refuses it), and kept whole on
    SQLite (which does not enforce lengths): never stored cut short, which would break a record's hash."""
    import pytest
    from sqlalchemy.exc import DataError

    plant = setup_plant(client, admin, session)
    values = {**batch_values(plant, 1), "operator": "操作员" * 50}  # 150 characters in a VARCHAR(120)
    row = new_row(Batch, **values)
    if session.get_bind().dialect.name == "postgresql":
        with pytest.raises(DataError, match="value too long"):
            insert_all(session, [row])
        session.rollback()
    else:
        insert_all(session, [row])
        session.commit()
        assert session.get(Batch, row.id).operator == "操作员" * 50


def test_one_record_and_its_chain_heads_move_in_one_statement_on_postgresql(client, admin, session, engine):
    """A unit of work's one record: on PostgreSQL its INSERT moves the chain head in the same statement (a WITH
    … UPDATE); elsewhere two statements. Either way the head ends on the last record and the chain verifies."""
    from sqlalchemy import event

    from ledger import journal

    plant = setup_plant(client, admin, session)
    unit_id = plant["unit"]["id"]
    sent: list[str] = []

    def seen(conn, cursor, statement, *_):  # noqa: ANN001, ANN002
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        for _ in range(3):  # each weighing alone: its one record
            r = client.post("/api/v1/batches", json=batch_body(plant), headers=plant["op"])
            assert r.status_code == 201, r.text
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    writes = [s for s in sent if "INTO journal_record" in s or "UPDATE journal_head" in s]
    if engine.dialect.name == "postgresql":
        assert len(writes) == 3 and all(s.lstrip().startswith("WITH moved AS") for s in writes)
    else:
        assert len(writes) == 6
    last = session.exec(text("SELECT seq, hash FROM journal_record WHERE unit_id = :u ORDER BY seq DESC LIMIT 1"),
                        params={"u": unit_id}).one()
    head = session.exec(text("SELECT seq, hash FROM journal_head WHERE unit_id = :u"), params={"u": unit_id}).one()
    assert tuple(head) == tuple(last) and journal.verify(session, unit_id=unit_id).ok
