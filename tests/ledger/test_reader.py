"""`ledger.db.reader`: the engine of read-only work. On PostgreSQL its sessions run without a transaction (no BEGIN,
no ROLLBACK) and refuse any statement that writes or locks rows; on SQLite they only read without the write lock."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from ledger.accounts import User
from ledger.db import ReaderWrote, deferred, is_sqlite, reader
from tests.conftest import make_user


def test_a_reader_reads_what_was_committed_and_is_built_once(engine, session):  # noqa: ANN001
    make_user(session, role="admin", username="reads")
    assert reader(engine) is reader(engine)
    with Session(reader(engine)) as s:
        assert s.exec(select(User).where(User.username == "reads")).one().role == "admin"


def test_on_postgresql_a_reader_runs_in_autocommit_and_refuses_writes(engine, session):  # noqa: ANN001
    if is_sqlite(engine):
        pytest.skip("PostgreSQL: SQLite readers keep their deferred transactions")
    from psycopg.pq import TransactionStatus

    make_user(session, role="admin", username="kept")
    # a read leaves no transaction open on the server (no BEGIN was sent, so no ROLLBACK will be)
    with Session(reader(engine)) as s:
        assert s.exec(select(User)).all()
        assert s.connection().connection.dbapi_connection.info.transaction_status == TransactionStatus.IDLE
    with Session(engine) as s:  # a unit of work's read does open one
        assert s.exec(select(User)).all()
        assert s.connection().connection.dbapi_connection.info.transaction_status == TransactionStatus.INTRANS
    for statement in ("UPDATE app_user SET display_name = 'x'", "DELETE FROM app_user",
                      "SELECT * FROM app_user FOR UPDATE", "SELECT * FROM app_user FOR NO KEY UPDATE",
                      "WITH d AS (DELETE FROM app_user RETURNING id) SELECT count(*) FROM d",
                      "INSERT INTO registry_version (id, stamp) VALUES (1, 1)"):
        with Session(reader(engine)) as s, pytest.raises(ReaderWrote, match="read-only session tried to write"):
            s.execute(text(statement))
    # nothing was written by the refused statements; a unit of work on the engine itself still writes
    with Session(deferred(engine)) as s:
        assert s.exec(select(User).where(User.username == "kept")).one().display_name == "admin"
        s.exec(select(User).where(User.username == "kept")).one().display_name = "改名"
        s.commit()
    with Session(reader(engine)) as s:
        assert s.exec(select(User).where(User.username == "kept")).one().display_name == "改名"
