"""Engine, sessions and the naming convention. SQLite file by default, PostgreSQL by URL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import MetaData, event, insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def is_sqlite(engine_or_url: Engine | str) -> bool:
    """True when the database is SQLite."""
    url = engine_or_url if isinstance(engine_or_url, str) else str(engine_or_url.url)
    return url.startswith("sqlite")


def make_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> Engine:
    """Build an engine; SQLite gets WAL, foreign keys, a busy timeout and write-locking transactions."""
    if is_sqlite(url):
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # noqa: ANN001
            # Writers BEGIN IMMEDIATE: they take the write lock up front and queue, instead of failing with
            # "database is locked" when a read transaction tries to upgrade. Readers (see `reader()`) stay deferred.
            mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    return create_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size * 2, pool_recycle=1800)


def get_engine(url: str | None = None) -> Engine:
    """The engine for `url` (default: settings), created once per URL."""
    if url is None:
        from ledger.config import get_settings

        settings = get_settings()
        url, echo, pool = settings.database_url, settings.sql_echo, settings.pool_size
    else:
        echo, pool = False, 10
    with _lock:
        if url not in _engines:
            _engines[url] = make_engine(url, echo=echo, pool_size=pool)
        return _engines[url]


def reader(engine: Engine) -> Engine:
    """The same engine for read-only work: on SQLite its transactions do not take the write lock."""
    return engine.execution_options(sqlite_begin="DEFERRED") if is_sqlite(engine) else engine


_INSERTS: dict = {}


def insert_all(session, objects: list) -> None:  # noqa: ANN001
    """INSERT table-model objects of one class in one multi-row statement and set their ids (bulk paths; the
    statement is built once per table, so it is compiled once)."""
    if not objects:
        return
    table = type(objects[0]).__table__
    if table not in _INSERTS:
        _INSERTS[table] = (insert(table).returning(table.c.id, sort_by_parameter_order=True),
                           [c.name for c in table.columns if c.name != "id"])
    stmt, names = _INSERTS[table]
    rows = [{n: getattr(o, n) for n in names} for o in objects]
    ids = session.execute(stmt, rows).scalars().all()
    for o, oid in zip(objects, ids, strict=True):
        o.id = oid


def dispose_engine(url: str) -> None:
    """Close the pooled connections of one URL's engine and forget it."""
    with _lock:
        engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()


def dispose_engines() -> None:
    """Close every pooled connection (tests, shutdown)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """One transaction: commit on success, roll back on error. Jobs and CLI commands use this."""
    session = Session(engine or get_engine(), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def check_writable(engine_or_url: Engine | str) -> None:
    """Raise the database's own error unless a write can be made (a DDL probe in a transaction, rolled back).

    Used at start-up, so a read-only file, a read-only volume, a standby server or a full disk is reported before
    the first request rather than as a failing write later.
    """
    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    try:
        with engine.connect() as conn:
            tx = conn.begin()
            try:
                conn.exec_driver_sql("CREATE TABLE wl_write_probe (x INTEGER)")
            finally:
                tx.rollback()
    finally:
        if isinstance(engine_or_url, str):
            engine.dispose()
