"""The engine: event-time rules in the writer's transaction, one alert per (rule, subject), evidence updates, tier
raises, low alerts closing themselves, mid/high ones waiting, no reopening loops, failures kept out of the ledger."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlmodel import select

from alerts import engine, facts, routing
from alerts import settings as S
from alerts.models import Alert, AlertAction, AlertOutbox
from ledger import batches
from ledger.auth import SYSTEM, Principal
from ledger.batches import Batch
from ledger.types import clock_at
from tests.alerts import world as w

REGULATOR = Principal(user_id=0, username="regulator.jn", role="regulator", region_prefix="3701")


@pytest.fixture
def plant(db):  # noqa: ANN001, ANN201
    with clock_at(w.at(800)):
        p = w.unit(db, name="明泉化工")
        ids = {"unit": p, "gen": w.facility(db, p, kind="generation", code="CS-01", name="车间"),
               "store": w.facility(db, p, kind="storage", storage_type="贮存库", code="ZC-01", name="1号库",
                                   storage_capacity_t="1")}
        w.plan(db, p, 2025, {"900-249-08": "100000"})
        db.commit()
    return ids


def alerts(db, **kw) -> list[Alert]:  # noqa: ANN001
    db.expire_all()
    q = select(Alert)
    for k, v in kw.items():
        q = q.where(getattr(Alert, k) == v)
    return list(db.exec(q.order_by(Alert.id)).all())


def test_event_time_rules_run_in_the_writers_transaction(db, plant):
    p = plant
    b = w.weigh(db, p["unit"], p["gen"], when=w.at(2), kg="40", code="900-041-49", entered=w.at(2) + timedelta(hours=25))
    found = {a.rule: a for a in alerts(db)}
    assert set(found) == {"GEN-NOT-IN-PLAN", "GEN-LATE-ENTRY"}  # no scan ran: raised at commit
    a = found["GEN-NOT-IN-PLAN"]
    assert (a.tier, a.status, a.unit_id, a.region_code) == ("low", "pushed", p["unit"], "370112")
    assert a.evidence["batch_ids"] == [b.id] and found["GEN-LATE-ENTRY"].evidence["batch_ids"] == [b.id]
    assert [x.action for x in db.exec(select(AlertAction).where(AlertAction.alert_id == a.id))] == ["open", "push"]
    assert {o.event for o in db.exec(select(AlertOutbox))} == {"alert.opened"}

    # a write that rolls back leaves no alert behind: the alert is part of the writer's transaction
    with clock_at(w.at(1)):
        batches.generate(db, principal=SYSTEM, data=batches.BatchCreate(
            unit_id=p["unit"], waste_code="900-252-12", name="废油漆", form="液态", facility_id=p["gen"],
            container_type="桶", gross_kg=w.D(10), scale_id="S1", operator="王工", occurred_at=w.at(1.5)))
        db.rollback()
    assert {a.rule for a in alerts(db)} == {"GEN-NOT-IN-PLAN", "GEN-LATE-ENTRY"}

    # the same fact again updates the one alert's evidence instead of opening another
    w.weigh(db, p["unit"], p["gen"], when=w.at(1), kg="60", code="900-041-49")
    again = alerts(db, rule="GEN-NOT-IN-PLAN")
    assert len(again) == 1 and again[0].evidence["generated_kg"] == "100"


def test_a_low_alert_closes_itself_when_its_fact_is_gone_and_a_mid_one_waits(db, plant):
    p = plant
    old = w.weigh(db, p["unit"], p["gen"], when=w.at(340), kg="100", store=p["store"])
    for day in (3, 2):
        w.weigh(db, p["unit"], p["gen"], when=w.at(day), kg="460", store=p["store"])  # 1.02 t in a 1 t store
    engine.scan(db, now=w.NOW)
    db.commit()
    age = alerts(db, rule="INV-STORAGE-AGE")[0]
    full = alerts(db, rule="INV-FACILITY-FULL")[0]
    assert (age.tier, full.tier) == ("low", "high")

    # 35 days on, still held: the same alert is raised to high (and the province now has to push it)
    later = w.NOW + timedelta(days=35)
    engine.scan(db, now=later)
    db.commit()
    age = alerts(db, rule="INV-STORAGE-AGE")[0]
    assert (age.tier, age.opened_tier, age.status, age.evidence["days"]) == ("high", "low", "open", 375)
    assert "raise" in [x.action for x in db.exec(select(AlertAction).where(AlertAction.alert_id == age.id))]

    # take it all out: the facility alert (high) is marked "fact cleared" and waits; nothing else changes
    with clock_at(later):
        for b in db.exec(select(Batch).where(Batch.stored_g > 0)).all():
            batches.retrieve(db, principal=SYSTEM, batch=b, data=batches.RetrieveIn(operator="王工"))
        db.commit()
    engine.scan(db, now=later + timedelta(hours=1))
    db.commit()
    full = alerts(db, rule="INV-FACILITY-FULL")[0]
    assert (full.status, full.fact_holds, full.fact_cleared_at is not None) == ("open", False, True)
    age = alerts(db, rule="INV-STORAGE-AGE")[0]
    assert age.status == "open"  # still held (retrieved, not gone)

    # a low one: a fresh low storage alert on a new old batch, then the batch is used up → it closes itself
    old2 = w.weigh(db, p["unit"], p["gen"], when=later - timedelta(days=331), kg="10")
    engine.scan(db, now=later + timedelta(hours=2))
    db.commit()
    low = alerts(db, rule="INV-STORAGE-AGE", subject=f"batch:{old2.id}")[0]
    assert low.tier == "low" and low.status == "pushed"
    with clock_at(later + timedelta(hours=3)):
        batches.process_in_house(db, principal=SYSTEM, batch=db.get(Batch, old2.id), kind="disposed_in_house",
                                 data=batches.ProcessIn(method="D10", operator="王工"))
        db.commit()
    engine.scan(db, now=later + timedelta(hours=4))
    db.commit()
    low = alerts(db, rule="INV-STORAGE-AGE", subject=f"batch:{old2.id}")[0]
    assert (low.status, low.resolution) == ("closed", "fact_cleared")
    assert [x.action for x in db.exec(select(AlertAction).where(AlertAction.alert_id == low.id))][-1] == "auto_close"
    assert old.id != old2.id


def test_a_state_alert_closed_while_its_fact_holds_is_not_reopened_until_the_fact_comes_back(db, plant):
    p = plant
    for day in (3, 2):
        w.weigh(db, p["unit"], p["gen"], when=w.at(day), kg="460", store=p["store"])  # 0.92 t: mid
    full = alerts(db, rule="INV-FACILITY-FULL")
    assert len(full) == 1 and full[0].tier == "mid"  # raised at the second weighing's commit
    with clock_at(w.at(1)):
        routing.close(db, principal=REGULATOR, a=full[0], reason="扩容改造已批复")
        db.commit()
    for hours in (1, 2):
        engine.scan(db, now=w.NOW + timedelta(hours=hours))
        db.commit()
    assert [a.status for a in alerts(db, rule="INV-FACILITY-FULL")] == ["closed"]  # no reopening loop
    # the stock goes down (fact gone: re-armed), then up again: a new alert
    with clock_at(w.NOW + timedelta(hours=3)):
        b = db.exec(select(Batch).where(Batch.stored_g > 0)).first()
        batches.retrieve(db, principal=SYSTEM, batch=b, data=batches.RetrieveIn(operator="王工"))
        db.commit()
    engine.scan(db, now=w.NOW + timedelta(hours=4))
    db.commit()
    with clock_at(w.NOW + timedelta(hours=5)):
        batches.store(db, principal=SYSTEM, batch=db.get(Batch, b.id),
                      data=batches.StoreIn(facility_id=p["store"], operator="王工"))
        db.commit()
    assert [a.status for a in alerts(db, rule="INV-FACILITY-FULL")] == ["closed", "open"]


def test_an_event_alert_is_raised_once_per_subject_ever(db, plant):
    p = plant
    b = w.weigh(db, p["unit"], p["gen"], when=w.at(2), kg="20", code="900-041-49")
    a = alerts(db, rule="GEN-NOT-IN-PLAN")[0]
    with clock_at(w.at(1)):
        routing.close(db, principal=REGULATOR, a=a, reason="已补充管理计划")
        db.commit()
    engine.scan(db, now=w.NOW)
    w.weigh(db, p["unit"], p["gen"], when=w.NOW - timedelta(hours=2), kg="20", code="900-041-49")
    assert [x.status for x in alerts(db, rule="GEN-NOT-IN-PLAN")] == ["closed"]
    assert b.id


def test_an_error_in_the_alert_layer_never_fails_the_ledger_write(db, plant, monkeypatch, caplog):
    p = plant
    boom = facts.Gatherer("boom", (facts.generation.PlanUse,), lambda *_: (_ for _ in ()).throw(RuntimeError("x")))
    monkeypatch.setattr(engine, "GATHERERS", [boom])
    monkeypatch.setattr(S.config(), "strict", False)
    with caplog.at_level(logging.ERROR, logger="alerts.engine"):
        b = w.weigh(db, p["unit"], p["gen"], when=w.at(1), kg="20", code="900-041-49")
    assert db.get(Batch, b.id) is not None and alerts(db) == []
    assert "event-time alert evaluation failed" in caplog.text


def test_switched_off_no_event_time_alerts(db, plant):
    engine.uninstall()
    try:
        w.weigh(db, plant["unit"], plant["gen"], when=w.at(1), kg="20", code="900-041-49")
    finally:
        engine.install()
    assert alerts(db) == []
    engine.scan(db, now=w.NOW)  # the scan catches up (and also finds the declarations this unit owes)
    assert [a.rule for a in alerts(db) if a.klass == "generation"] == ["GEN-NOT-IN-PLAN"]


def test_an_alert_opened_meanwhile_by_another_transaction_is_skipped_not_an_error(db, plant):
    p = plant
    w.weigh(db, p["unit"], p["gen"], when=w.at(2), kg="20", code="900-041-49")
    (existing,) = alerts(db)
    twin = {c: getattr(existing, c) for c in engine._ALERT_COLUMNS}
    assert engine._insert(db, [twin], w.NOW) == 0  # ON CONFLICT DO NOTHING on the open (rule, subject)
    db.commit()
    assert len(alerts(db)) == 1
