"""The command line: migrate, rebuild and verify against a real database file."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest


def run(*args, env):
    return subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.mark.slow
def test_migrate_seed_verify_rebuild_on_a_fresh_file(tmp_path):
    import os

    db = tmp_path / "cli.db"
    env = {**os.environ, "LEDGER_DATABASE_URL": f"sqlite:///{db}"}
    assert run("migrate", env=env).returncode == 0
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from api.demo import seed
    from ledger import batches
    from ledger.auth import SYSTEM
    from ledger.db import dispose_engines, get_engine, session_scope

    engine = get_engine(f"sqlite:///{db}")
    with session_scope(engine) as s:
        world = seed(s, history=False)
        for i in range(8):
            batches.generate(s, principal=SYSTEM, data=batches.BatchCreate(
                unit_id=world["units"]["plant"], waste_code="900-249-08", name="废矿物油", form="液态",
                facility_id=world["facilities"]["plant_gen"], container_type="桶", gross_kg=Decimal(180 + i),
                tare_kg=Decimal(18), scale_id="S1", operator="王", occurred_at=datetime.now(UTC) - timedelta(hours=i),
                store_facility_id=world["facilities"]["plant_store"]))
    dispose_engines()
    plant = world["units"]["plant"]
    v = run("verify", env=env)
    assert v.returncode == 0, v.stdout + v.stderr
    assert "ok" in v.stdout and "BROKEN" not in v.stdout
    r = run("rebuild", env=env)
    assert r.returncode == 0 and "0 difference(s)" in r.stdout
    con = sqlite3.connect(db)
    con.execute("UPDATE batch SET stored_g = stored_g - 5 WHERE id = (SELECT min(id) FROM batch WHERE stored_g > 0)")
    con.commit()
    r = run("rebuild", env=env)
    assert r.returncode == 1 and "stored_g" in r.stdout and "1 difference(s)" in r.stdout
    assert run("rebuild", "--fix", env=env).returncode == 0
    assert "0 difference(s)" in run("rebuild", env=env).stdout
    con.execute("UPDATE journal_record SET mass_g = mass_g + 1 WHERE unit_id = ? AND seq = 7", (plant,))
    con.commit()
    con.close()
    v = run("verify", env=env)
    assert v.returncode == 1 and f"unit {plant}: BROKEN at seq 7" in v.stdout
