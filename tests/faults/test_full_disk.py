"""A full disk under SQLite: the write that does not fit is refused with 503 database.disk_full and Retry-After,
nothing of it is stored, writing resumes when space is freed, chains verify and `rebuild` agrees.

The disk is a real tmpfs of 2 MB when the test may mount one (root); elsewhere SQLite's `max_page_count` pragma
caps the file instead, which makes SQLite answer exactly as on a full disk (SQLITE_FULL)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlmodel import Session, select

from api.app import create_app
from ledger.batches import Batch
from ledger.config import Settings
from ledger.db import dispose_engine, get_engine, is_sqlite
from ledger.migrate import upgrade
from tests.conftest import batch_body, make_user, setup_plant
from tests.faults.helpers import ledger_consistent, small_filesystem

pytestmark = pytest.mark.faults


@pytest.mark.parametrize("limit", ["tmpfs", "max_page_count"])
def test_a_full_disk_is_named_refuses_the_write_whole_and_recovers(tmp_path, limit):
    with small_filesystem(4096) as mounted:
        if limit == "tmpfs" and mounted is None:
            pytest.skip("cannot mount a tmpfs here (not root); the max_page_count variant runs instead")
        fs = mounted if limit == "tmpfs" else None
        where = fs or tmp_path
        url = f"sqlite:///{where / 'full.db'}"
        assert is_sqlite(url)
        upgrade(url)
        engine = get_engine(url)
        app = create_app(Settings(env="test", database_url=url, public_url="https://ledger.example.test"))
        client = TestClient(app)
        with Session(engine, expire_on_commit=False) as s:
            _, token = make_user(s, role="admin")
            admin = {"Authorization": f"Bearer {token}"}
            plant = setup_plant(client, admin, s)
        filler = Path(where) / "filler"
        if fs is not None:  # leave ~1 MB free on the real filesystem
            free = os.statvfs(fs).f_bavail * os.statvfs(fs).f_frsize
            filler.write_bytes(b"\0" * max(0, free - 1024 * 1024))
            kind = "tmpfs"
        else:  # cap the file 60 pages above its current size
            with engine.connect() as c:
                pages = c.exec_driver_sql("PRAGMA page_count").scalar()
            cap = {"pages": pages + 60}

            @event.listens_for(engine, "connect")
            def _cap(dbapi_conn, _record):  # noqa: ANN001
                dbapi_conn.execute(f"PRAGMA max_page_count = {cap['pages']}")

            engine.dispose()
            kind = "max_page_count"
        acked, refused = [], None
        for i in range(3000):
            r = client.post("/api/v1/batches", json=batch_body(plant, gross_kg=str(100 + i),
                                                               components="油" * 150), headers=plant["op"])
            if r.status_code == 201:
                acked.append(r.json()["id"])
                continue
            refused = r
            break
        assert refused is not None, f"the {kind} never filled up"
        assert refused.status_code == 503, refused.text
        err = refused.json()["error"]
        assert err["code"] == "database.disk_full" and "disk is full" in err["message"]
        assert int(refused.headers["Retry-After"]) > 0
        with Session(engine) as s:  # nothing of the refused weighing is stored
            assert sorted(s.exec(select(Batch.id)).all()) == sorted(acked)
        # free space: writing resumes without a restart
        if fs is not None:
            filler.unlink()
        else:
            cap["pages"] += 10_000
            engine.dispose()
        r = client.post("/api/v1/batches", json=batch_body(plant, gross_kg="77"), headers=plant["op"])
        assert r.status_code == 201, r.text
        print(f"\n{kind}: {len(acked)} weighings stored before the disk was full")
        ledger_consistent(engine)
        dispose_engine(url)
