"""`wasteledger backup` and `restore`: a restore into a fresh database whose chains verify and whose balances,
journal and HJ 1259 ledger tables equal the original's (SQLite online backup API; pg_dump / pg_restore)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from ledger import journal
from ledger.batches import Batch
from ledger.db import dispose_engine, is_sqlite, make_engine
from ledger.journal import JournalRecord
from ledger.registry.models import Unit
from ledger.reports.ledger_tables import ledger_rows
from ledger.workdays import today as shanghai_today
from tests.conftest import batch_body, setup_transfer

ROOT = Path(__file__).resolve().parents[2]


def cli(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LEDGER_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def snapshot(url: str) -> dict:
    """Everything a restore must give back: balances, the journal, the ledger tables, and that chains verify."""
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            units = s.exec(select(Unit.id).order_by(Unit.id)).all()
            today = shanghai_today()
            return {
                "balances": [(b.id, b.unit_id, b.holder_unit_id, b.digital_id, b.net_g, b.remaining_g, b.stored_g,
                              b.in_transit_g, b.status, b.storage_facility_id)
                             for b in s.exec(select(Batch).order_by(Batch.id))],
                "journal": [(r.id, r.unit_id, r.seq, r.kind, r.mass_g, r.prev_hash, r.hash)
                            for r in s.exec(select(JournalRecord).order_by(JournalRecord.id))],
                "ledger": {u: ledger_rows(s, unit_id=u, start=today - timedelta(days=2), end=today) for u in units},
                "chains": {u: journal.verify(s, unit_id=u).ok for u in units},
            }
    finally:
        engine.dispose()


@pytest.fixture
def fresh_target(db_url, tmp_path):  # noqa: ANN001, ANN201
    if is_sqlite(db_url):
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    url = make_url(db_url)
    name = f"{url.database}_restore"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    target = url.set(database=name).render_as_string(hide_password=False)
    yield target
    dispose_engine(target)
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_a_restore_gives_back_the_same_ledger(client, admin, session, db_url, tmp_path, fresh_target):
    w = setup_transfer(client, admin, session)
    op = w["op"]
    made = [client.post("/api/v1/batches", json=batch_body(w, gross_kg=str(150 + i), store_facility_id=w["store"]
                                                           if i % 2 else None), headers=op).json() for i in range(6)]
    b = made[0]
    assert client.post(f"/api/v1/batches/{b['id']}/corrections", headers=op,
                       json={"record_id": client.get(f"/api/v1/units/{w['unit']['id']}/records", headers=op)
                             .json()[0]["id"], "mass_kg": "120", "reason": "复磅更正"}).status_code == 201
    m = client.post("/api/v1/manifests", headers=op, json={
        "originator_id": w["unit"]["id"], "hauler_id": w["hauler"]["id"], "vehicle_id": w["vehicles"][0],
        "receiver_id": w["receiver"]["id"], "planned_date": str(shanghai_today()),
        "lines": [{"batch_id": made[2]["id"], "planned_method": "R9"}]}).json()
    assert client.post(f"/api/v1/manifests/{m['id']}/submit", headers=op).status_code == 200
    assert client.post(f"/api/v1/manifests/{m['id']}/pickup", headers=w["drv"],
                       json={"scanned": [made[2]["digital_id"]]}).status_code == 200
    r = client.post(f"/api/v1/manifests/{m['id']}/receive", headers=w["rcv"], json={"lines": [
        {"batch_id": made[2]["id"], "received_kg": "129", "acceptance": "accepted"}]})
    assert r.status_code == 200, r.text
    before = snapshot(db_url)
    assert all(before["chains"].values()) and len(before["journal"]) > 10

    backup_file = tmp_path / "ledger.backup"
    done = cli(db_url, "backup", str(backup_file))
    assert done.returncode == 0, done.stderr
    assert backup_file.stat().st_size > 0
    assert cli(db_url, "backup", str(backup_file)).returncode != 0  # never overwrites

    done = cli(fresh_target, "restore", str(backup_file))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every chain verifies" in done.stdout
    after = snapshot(fresh_target)
    assert after == before

    # a second restore into the now non-empty target needs --force
    again = cli(fresh_target, "restore", str(backup_file))
    assert again.returncode == 2 and "--force" in again.stderr
    assert cli(fresh_target, "restore", "--force", str(backup_file)).returncode == 0
    assert snapshot(fresh_target) == before


def test_a_backup_of_the_wrong_kind_is_refused(db_url, tmp_path):
    bogus = tmp_path / "not-a-backup"
    bogus.write_bytes(b"hello")
    done = cli(db_url, "restore", str(bogus))
    assert done.returncode == 2 and "neither a SQLite backup nor a pg_dump" in done.stderr
