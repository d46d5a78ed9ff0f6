"""Counting collected waste once, at the producer, from the journal alone; rebuild agrees after lots."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import text
from sqlmodel import Session, select

from ledger.batches import Batch, rebuild
from ledger.collection.models import LotSource
from ledger.journal import JournalRecord
from tests.api.collection_world import OIL, collect, ok, ship_lot, world

D = Decimal


def _journal_figures(session: Session) -> dict:
    """Per unit: generated, sent out (委外, net of returns) and received — each split into the producer's own figures
    and a collector's pass-through (records whose body says collected: true) — from the journal alone."""
    f: dict = defaultdict(lambda: defaultdict(int))
    for r in session.exec(select(JournalRecord).order_by(JournalRecord.id)).all():
        passthrough = bool(r.body.get("collected"))
        key = {"generated": "generated", "shipped": "sent", "returned": "sent", "received": "received",
               "combined": "combined"}.get(r.kind)
        if key is None:
            continue
        sign = -1 if r.kind == "returned" else 1
        f[r.unit_id][("pass_" if passthrough else "") + key] += sign * r.mass_g
    return f


def test_collected_waste_counts_once_at_the_producer(client, admin, session):
    w = world(client, admin, session, garages=3)
    col, rcv = w["col"], w["rcv"]
    grosses = [("25.5", "18.25"), ("30.125",), ("12.5", "9.75")]  # tare 2.5 kg each
    for g, gr in zip(w["garages"], grosses, strict=True):
        collect(client, g, col, gr)
    lot = ok(client.post(f"/api/v1/facilities/{col['centre']}/lots", headers=col["adm"], json={
        "waste_code": OIL, "container_type": "吨桶", "operator": "李工"}), 201)["batch"]
    ship_lot(client, lot["id"], col, rcv, received_kg=str(D(lot["net_kg"]) - D("0.25")))
    session.expire_all()
    f = _journal_figures(session)
    weighed = {g["id"]: sum(int((D(x) - D("2.5")) * 1000) for x in gr) for g, gr in zip(w["garages"], grosses,
                                                                                      strict=True)}
    producers = [g["id"] for g in w["garages"]]
    for pid in producers:  # each producer: what it generated, all of it sent out to the collector
        assert f[pid]["generated"] == f[pid]["sent"] == weighed[pid]
        assert not any(k.startswith("pass_") for k in f[pid])
    total = sum(weighed.values())
    c = f[col["id"]]  # the collector: only pass-through, summing exactly to what the producers sent
    assert c["pass_received"] == c["pass_combined"] == c["pass_sent"] == total
    assert c["generated"] == c["sent"] == c["received"] == 0
    assert f[rcv["id"]]["received"] == total - 250  # the end receiver counts what it received
    # a roll-up over the region counts the producers' waste once by leaving the pass-through out …
    region_generated = sum(u["generated"] for u in f.values())
    region_sent = sum(u["sent"] for u in f.values())
    assert region_generated == region_sent == total
    # … and would count it twice if it did not
    assert sum(u["sent"] + u["pass_sent"] for u in f.values()) == 2 * total
    # the lot's sources, as indexed, are its combined records
    sources = session.exec(select(LotSource).where(LotSource.lot_id == lot["id"])).all()
    by_record = {r.id: r for r in session.exec(select(JournalRecord).where(JournalRecord.kind == "combined")).all()}
    assert sorted((s.source_id, s.mass_g) for s in sources) == sorted(
        (r.source_batch_id, r.mass_g) for r in by_record.values())
    assert {s.producer_id for s in sources} == set(producers)


def test_rebuild_agrees_after_lots_and_repairs_a_tampered_lot(client, admin, session, engine):
    w = world(client, admin, session, garages=2)
    col, rcv = w["col"], w["rcv"]
    for g in w["garages"]:
        collect(client, g, col, ("20.5", "11"))
    lot = ok(client.post(f"/api/v1/facilities/{col['centre']}/lots", headers=col["adm"], json={
        "waste_code": OIL, "container_type": "吨桶", "operator": "李工"}), 201)["batch"]
    with Session(engine) as s:
        assert rebuild(s) == []
    ship_lot(client, lot["id"], col, rcv)
    with Session(engine) as s:
        assert rebuild(s) == []
        sources = s.exec(select(Batch).where(Batch.id.in_(select(LotSource.source_id)))).all()
        assert sources and all(b.remaining_g == 0 and b.status == "closed" for b in sources)
    with engine.begin() as conn:  # an edit behind the service's back
        conn.execute(text("UPDATE batch SET remaining_g = remaining_g + 1000, net_g = 1 WHERE id = :i"),
                     {"i": lot["id"]})
    with Session(engine) as s:
        diffs = rebuild(s)
        assert {(d.batch_id, d.field) for d in diffs} == {(lot["id"], "remaining_g"), (lot["id"], "net_g")}
        rebuild(s, apply_fixes=True)
        s.commit()
    with Session(engine) as s:
        assert rebuild(s) == []
