"""Period balances: maintained in the writer's transaction, one upsert per key for bulk generation, dropped with a
rolled-back savepoint, rebuilt set-based from the journal (which finds tampering and repairs it), and computed
by the migration for a database that already has a journal."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import event, func, select, text
from sqlmodel import Session

from ledger import batches
from ledger.auth import SYSTEM
from ledger.rollups.models import PeriodBalance
from ledger.rollups.rebuild import compare, rebuild
from tests.reports.scenario import OIL


def _weighing(w, **kw) -> batches.BatchCreate:
    base = dict(unit_id=w.u["A"], waste_code=OIL, name="废矿物油", form="液态", facility_id=w.f["A.gen"],
                container_type="桶", gross_kg=Decimal("181.5"), tare_kg=Decimal("18.5"), scale_id="S1",
                operator="王", occurred_at=datetime.now(UTC) - timedelta(minutes=5))
    base.update(kw)
    return batches.BatchCreate(**base)


def test_rebuild_agrees_then_finds_and_repairs_tampering(engine, world):
    with Session(engine) as s:
        assert compare(s) == []
        n = s.execute(select(func.count()).select_from(PeriodBalance)).scalar()
        assert n > 30
        s.execute(text("UPDATE period_balance SET used_g = used_g + 7 WHERE unit_id = :u AND used_g > 0"),
                  {"u": world.u["A"]})
        s.execute(text("DELETE FROM period_balance WHERE unit_id = :u AND generated_g > 0 AND month = 202309"),
                  {"u": world.u["B"]})
        s.execute(text("INSERT INTO period_balance (unit_id, month, facility_id, waste_code, counterparty_id, method, "
                       "origin, kind, generated_g) VALUES (:u, 202212, 0, '900-249-08', 0, '', 0, 1, 5)"),
                  {"u": world.u["C"]})
        s.commit()
        diffs = compare(s)
        found = {(d.key["unit_id"], d.column, d.maintained - d.journal) for d in diffs}
        assert (world.u["A"], "used_g", 7) in found
        assert (world.u["B"], "generated_g", -15_000_000) in found  # b4's weighing, row deleted
        assert (world.u["C"], "generated_g", 5) in found
        assert all(d.key["unit_id"] in {world.u["A"], world.u["B"], world.u["C"]} for d in diffs)
        assert all(d.key["table"] == "period_balance" for d in diffs)  # the yearly rows were not touched
        assert compare(s, unit_id=world.u["B"]) == [d for d in diffs if d.key["unit_id"] == world.u["B"]]
        rebuild(s, fix=True, unit_id=world.u["C"])
        assert {d.key["unit_id"] for d in compare(s)} == {world.u["A"], world.u["B"]}
        rebuild(s, fix=True)
        s.commit()
        assert compare(s) == []
        s.execute(text("UPDATE period_balance_year SET received_g = received_g + 3 WHERE unit_id = :u"),
                  {"u": world.u["RIN"]})
        diffs = compare(s)
        assert diffs and {(d.key["table"], d.column) for d in diffs} == {("period_balance_year", "received_g")}
        rebuild(s, fix=True)
        s.commit()
        assert compare(s) == []
        assert s.execute(select(func.count()).select_from(PeriodBalance)).scalar() == n


def test_bulk_generation_posts_one_upsert_per_key(engine, world):
    statements = []

    def count(conn, cursor, statement, *args):  # noqa: ANN001
        if "period_balance" in statement and statement.lstrip().upper().startswith("INSERT"):
            statements.append(statement)

    with Session(engine) as s:
        before = s.execute(select(func.coalesce(func.sum(PeriodBalance.generated_g), 0))
                           .where(PeriodBalance.unit_id == world.u["A"])).scalar()
        event.listen(engine, "before_cursor_execute", count)
        try:
            batches.generate_many(s, principal=SYSTEM, items=[_weighing(world) for _ in range(60)])
            s.commit()
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert len(statements) == 2  # one multi-row upsert for the monthly rows, one for the yearly rows
        assert all("ON CONFLICT" in st for st in statements)
        after = s.execute(select(func.coalesce(func.sum(PeriodBalance.generated_g), 0))
                          .where(PeriodBalance.unit_id == world.u["A"])).scalar()
        assert after - before == 60 * 163_000
        assert compare(s) == []


def test_a_rolled_back_savepoint_takes_its_records_out_of_the_balances(engine, world):
    with Session(engine) as s:
        before = s.execute(select(func.sum(PeriodBalance.generated_g))
                           .where(PeriodBalance.unit_id == world.u["A"])).scalar()
        batches.generate(s, principal=SYSTEM, data=_weighing(world, gross_kg=Decimal("118.5")))
        nested = s.begin_nested()
        batches.generate(s, principal=SYSTEM, data=_weighing(world, gross_kg=Decimal("1018.5")))
        nested.rollback()
        s.commit()
        after = s.execute(select(func.sum(PeriodBalance.generated_g))
                          .where(PeriodBalance.unit_id == world.u["A"])).scalar()
        assert after - before == 100_000
        assert compare(s) == []
    with Session(engine) as s:  # a rolled-back transaction posts nothing
        batches.generate(s, principal=SYSTEM, data=_weighing(world))
        s.rollback()
        assert s.execute(select(func.sum(PeriodBalance.generated_g))
                         .where(PeriodBalance.unit_id == world.u["A"])).scalar() == after


def test_cli_rebuild_reports_and_fixes_period_balances(tmp_path):
    db = tmp_path / "cli.db"
    env = {**os.environ, "LEDGER_DATABASE_URL": f"sqlite:///{db}"}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True, text=True, env=env,
                              timeout=300)

    assert run("migrate").returncode == 0
    from api.demo import seed
    from ledger.db import dispose_engines, get_engine, session_scope

    with session_scope(get_engine(f"sqlite:///{db}")) as s:
        world = seed(s, history=False)
        for i in range(3):
            batches.generate(s, principal=SYSTEM, data=batches.BatchCreate(
                unit_id=world["units"]["plant"], waste_code=OIL, name="废矿物油", form="液态",
                facility_id=world["facilities"]["plant_gen"], container_type="桶", gross_kg=Decimal(180 + i),
                tare_kg=Decimal(18), scale_id="S1", operator="王", occurred_at=datetime.now(UTC) - timedelta(hours=i)))
    dispose_engines()
    r = run("rebuild")
    assert r.returncode == 0 and "0 period-balance difference(s)" in r.stdout, r.stdout + r.stderr
    import sqlite3

    con = sqlite3.connect(db)
    con.execute("UPDATE period_balance SET generated_g = generated_g + 1 WHERE rowid = "
                "(SELECT min(rowid) FROM period_balance WHERE generated_g > 0)")
    con.commit()
    con.close()
    r = run("rebuild")
    assert r.returncode == 1 and "generated_g maintained=" in r.stdout and "1 period-balance difference(s)" in r.stdout
    assert run("rebuild", "--fix").returncode == 0
    assert "0 period-balance difference(s)" in run("rebuild").stdout


def test_the_migration_computes_balances_for_an_existing_journal(tmp_path):
    from ledger.db import dispose_engines, get_engine, session_scope
    from ledger.migrate import downgrade, upgrade

    url = f"sqlite:///{tmp_path / 'mig.db'}"
    upgrade(url)
    from api.demo import seed

    with session_scope(get_engine(url)) as s:
        world = seed(s, history=False)
        batches.generate(s, principal=SYSTEM, data=batches.BatchCreate(
            unit_id=world["units"]["plant"], waste_code=OIL, name="废矿物油", form="液态",
            facility_id=world["facilities"]["plant_gen"], container_type="桶", gross_kg=Decimal("200.5"),
            tare_kg=Decimal("0.5"), scale_id="S1", operator="王", occurred_at=datetime.now(UTC)))
    with session_scope(get_engine(url)) as s:
        want = s.execute(select(PeriodBalance.unit_id, PeriodBalance.generated_g)).all()
    dispose_engines()
    downgrade(url, "0012")  # the revision before the balances: the journal stays, the balance tables go
    upgrade(url)
    with session_scope(get_engine(url)) as s:
        assert sorted(s.execute(select(PeriodBalance.unit_id, PeriodBalance.generated_g)).all()) == sorted(want)
    assert sum(g for u, g in want if u == world["units"]["plant"]) >= 200_000  # the weighing above is in them
    dispose_engines()
