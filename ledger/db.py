"""Engine, sessions and the naming convention. SQLite file by default, PostgreSQL by URL."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from pydantic_core import from_json
from sqlalchemy import MetaData, Text, bindparam, event, insert, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, SQLModel, create_engine


def parse_json(data: str | bytes) -> object:
    """A JSON column's value: pydantic-core's parser (the one that serialises the answers), about twice as fast as
    `json.loads` and giving the same values, with `json.loads` for what it refuses. Both columns hold text that
    `json.dumps` wrote, and `json` (not `jsonb`) columns keep what `json.loads` accepts and pydantic-core does not:
    a lone surrogate escape (`"\\ud800"`) in free text."""
    try:
        return from_json(data)
    except ValueError:
        return json.loads(data)


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
        engine = create_engine(url, echo=echo, json_deserializer=parse_json,
                               connect_args={"check_same_thread": False, "timeout": 30})

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
    # JIT off: the ledger's statements are short, and report queries are short and wide; PostgreSQL's JIT would
    # spend about a second compiling each report query whose cost estimate passes jit_above_cost.
    # Pre-ping: a pooled connection is tried when it is taken from the pool (one round trip), so that after the
    # server restarted while the service stood idle (a night's maintenance, a failover) the first requests get
    # fresh connections, not 503s from connections that died in the pool.
    # JSON columns (a record's body, a manifest's flags) are parsed as the reads on the event loop parse them
    # (`parse_json`, `ledger.aio`)
    return create_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size * 2, pool_recycle=1800,
                         pool_pre_ping=True, json_deserializer=parse_json, connect_args={"options": "-c jit=off"})


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


_READERS: dict[int, tuple[Engine, Engine]] = {}  # id(engine) → (engine, its reader); the engine is held, so
# its id cannot be reused by another while it is here
#: what a reader may send: a statement that starts with one of these words and writes nothing
_READ_ONLY = re.compile(r"\s*(SELECT|SHOW|EXPLAIN|WITH)\b", re.IGNORECASE)
_WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE)\b|\bFOR\s+(NO\s+KEY\s+)?UPDATE\b", re.IGNORECASE)


class ReaderWrote(RuntimeError):
    """A session on `reader()` tried to write (or to lock a row): its statements commit one by one."""


def reader(engine: Engine) -> Engine:
    """The same engine for read-only work (GET requests, pages that only show).

    On PostgreSQL its connections run in autocommit: a read sends no BEGIN and no ROLLBACK, two round trips of a
    scan's five. Under READ COMMITTED, PostgreSQL's default and ours, each statement of a transaction takes its own
    snapshot anyway, so a read sees nothing different. It also keeps psycopg's prepared statements: psycopg
    forgets them all, and sends DEALLOCATE ALL, after every ROLLBACK, so a read that ended in one never had its
    statements prepared. A statement that writes or locks rows is refused (`ReaderWrote`): without a transaction
    it would commit on its own. On SQLite its transactions are deferred, so they do not take the write lock."""
    held = _READERS.get(id(engine))
    if held is not None and held[0] is engine:
        return held[1]
    with _lock:
        if is_sqlite(engine):
            found = engine.execution_options(sqlite_begin="DEFERRED")
        else:
            found = engine.execution_options(isolation_level="AUTOCOMMIT", wasteledger_reader=True)
            if not event.contains(engine, "before_cursor_execute", _refuse_writes):
                event.listen(engine, "before_cursor_execute", _refuse_writes)
        _READERS[id(engine)] = (engine, found)
    return found


def deferred(engine: Engine) -> Engine:
    """The same engine for a unit of work that mostly reads and may write late: on SQLite its transactions are
    deferred (they take the write lock at their first write, not at BEGIN); elsewhere the engine itself."""
    return engine.execution_options(sqlite_begin="DEFERRED") if is_sqlite(engine) else engine


_VERDICTS: dict[str, bool] = {}  # statement text → whether a reader may send it; the texts are the few that the
# service's statements compile to, so the two searches run once per text, not on every execution (on a trace's
# long SELECTs they had cost about 5% of its CPU)


def _writes(statement: str) -> bool:
    verdict = _VERDICTS.get(statement)
    if verdict is None:
        verdict = not _READ_ONLY.match(statement) or _WRITES.search(statement) is not None
        if len(_VERDICTS) >= 4096:  # texts built with literal values could be many: keep the memo bounded
            _VERDICTS.clear()
        _VERDICTS[statement] = verdict
    return verdict


def _refuse_writes(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001, ARG001
    if conn.get_execution_options().get("wasteledger_reader") and _writes(statement):
        raise ReaderWrote(f"a read-only session tried to write: {statement[:120]!r}; write in a session on the "
                          "engine itself (a unit of work), not on reader()")


_INSERTS: dict = {}
_INSERT_ONE: dict = {}
_UPDATES: dict = {}
_JSON_COLUMNS: dict = {}



def insert_all(session, objects: list) -> None:  # noqa: ANN001
    """INSERT table-model objects of one class in one statement and set their ids (bulk paths, commit groups).

    On PostgreSQL the rows go as one array per column (`INSERT … SELECT … FROM unnest(…) WITH ORDINALITY ORDER BY
    ordinality RETURNING id`): the statement's text is the same for any number of rows, so psycopg parses it once,
    where a multi-row VALUES list is a new text for every row count and is re-parsed on every call. Ids come from
    the table's sequence in insertion order, so the sorted ids are the rows' ids in order. Elsewhere (SQLite) a
    multi-row VALUES with RETURNING in parameter order. Either statement is built once per table. One object goes
    as a plain single-row INSERT (measured at about half the CPU of the array form for one row)."""
    if not objects:
        return
    table = type(objects[0]).__table__
    if len(objects) == 1:  # one row (a unit of work's one record, a new holding): a plain INSERT, as cheap as any
        if table not in _INSERT_ONE:
            _INSERT_ONE[table] = (insert(table).returning(table.c.id), [c.name for c in table.columns if c.name != "id"])
        stmt, names = _INSERT_ONE[table]
        o = objects[0]
        o.id = session.execute(stmt, {n: getattr(o, n) for n in names}).scalar_one()
        return
    dialect = session.get_bind().dialect.name
    key = (table, dialect)
    if key not in _INSERTS:
        _INSERTS[key] = (_unnest_insert(table) if dialect == "postgresql"
                         else insert(table).returning(table.c.id, sort_by_parameter_order=True),
                         [c.name for c in table.columns if c.name != "id"])
    stmt, names = _INSERTS[key]
    if dialect == "postgresql":
        as_text = _JSON_COLUMNS[table]  # as SQLAlchemy's JSON type stores them: json.dumps, None as JSON null
        ids = sorted(session.execute(stmt, {n: [json.dumps(getattr(o, n)) for o in objects] if n in as_text else
                                            [getattr(o, n) for o in objects] for n in names}).scalars().all())
    else:
        ids = session.execute(stmt, [{n: getattr(o, n) for n in names} for o in objects]).scalars().all()
    for o, oid in zip(objects, ids, strict=True):
        o.id = oid


def insert_loaded(session, objects: list) -> None:  # noqa: ANN001
    """INSERT new table-model objects of one class in one statement (`insert_all`) and keep them in the session as
    if loaded from their rows: no ORM unit of work writes them, and later reads in the transaction find them in
    the identity map. A rolled-back savepoint does not take them out again: a commit group empties its session
    after a refused unit of work (`api.grouping`); a request alone rolls back its whole transaction."""
    insert_all(session, objects)
    for o in objects:
        make_transient_to_detached(o)
        session.add(o)


def update_loaded(session, rows: list[tuple[object, dict]]) -> None:  # noqa: ANN001
    """UPDATE columns of rows of one table by id — every row the same columns, `(object, {column: value})` — in
    one statement built once per set of columns (an executemany for several rows), and leave each object holding
    the values as if loaded (`mark_loaded`): no ORM unit of work writes them. The rows are the caller's, locked
    already. As with `insert_loaded`, a rolled-back savepoint does not undo what the objects hold: a commit group
    empties its session after a refused unit of work."""
    if not rows:
        return
    table, columns = type(rows[0][0]).__table__, tuple(rows[0][1])
    if (table, columns) not in _UPDATES:
        _UPDATES[table, columns] = (update(table).where(table.c.id == bindparam("row_id"))
                                    .values({c: bindparam(f"new_{c}") for c in columns}))
    params = [{"row_id": o.id, **{f"new_{c}": v for c, v in values.items()}} for o, values in rows]
    session.execute(_UPDATES[table, columns], params[0] if len(params) == 1 else params)
    for o, values in rows:
        mark_loaded(o, values)


def mark_loaded(obj, values: dict) -> None:  # noqa: ANN001
    """The object holds these column values as if loaded with them (its row already does): nothing for the ORM's
    unit of work to write."""
    for k, v in values.items():
        set_committed_value(obj, k, v)


def quoted(names) -> str:  # noqa: ANN001
    """Column names for a statement written as text: each in double quotes, comma-separated."""
    return ", ".join(f'"{n}"' for n in names)


def _unnest_insert(table):  # noqa: ANN001, ANN202
    """The PostgreSQL bulk INSERT of `insert_all`: one array parameter per column. JSON values go as text (a JSON
    array parameter would be taken for a nested array) and are cast back to the column's type in the SELECT."""
    from sqlalchemy import JSON, String, bindparam, text
    from sqlalchemy.dialects.postgresql import ARRAY

    cols = [c for c in table.columns if c.name != "id"]
    names = quoted(c.name for c in cols)
    picks = ", ".join(f'"{c.name}"::json' if isinstance(c.type, JSON) else f'"{c.name}"' for c in cols)
    arrays = ", ".join(f":{c.name}" for c in cols)
    # Strings go as text[]: an explicit cast to varchar(n)[] would cut an over-long value short without a word (and
    # break a record's hash); the INSERT's own assignment refuses it, as a plain INSERT does.
    def as_text(t) -> bool:  # noqa: ANN001 — JSON, and strings (also SQLModel's AutoString, a TypeDecorator)
        return isinstance(t, (JSON, String)) or isinstance(getattr(t, "impl_instance", None), String)

    binds = [bindparam(c.name, type_=ARRAY(Text() if as_text(c.type) else c.type)) for c in cols]
    _JSON_COLUMNS[table] = {c.name for c in cols if isinstance(c.type, JSON)}
    return text(f'INSERT INTO "{table.name}" ({names}) SELECT {picks} FROM unnest({arrays}) WITH ORDINALITY '
                f'AS u({names}, ord_) ORDER BY ord_ RETURNING id').bindparams(*binds).columns(table.c.id)


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


_DEFAULTS: dict = {}


def new_row(cls, **values):  # noqa: ANN001, ANN003, ANN201
    """A new table-model object for `insert_all`, built the way SQLAlchemy builds a row it loads: the values go
    straight into the instance's `__dict__` (with the fields' defaults), not through SQLModel's `__init__`, which
    sets every field twice through SQLAlchemy's and pydantic's `__setattr__` (the larger part of a bulk weighing's
    CPU). The object is transient and equal, field by field, to `cls(**values)`; an attribute set on it later
    goes through the instrumentation as usual (`insert_all` sets the id that way)."""
    if cls not in _DEFAULTS:
        from sqlalchemy.orm import instrumentation

        fields = cls.model_fields
        _DEFAULTS[cls] = (instrumentation.manager_of_class(cls),
                          {n: f.default for n, f in fields.items() if not f.is_required() and not f.default_factory},
                          {n: f.default_factory for n, f in fields.items() if f.default_factory})
    manager, plain, factories = _DEFAULTS[cls]
    obj = manager.new_instance()
    state = {**plain, **{n: make() for n, make in factories.items() if n not in values}, **values}
    obj.__dict__.update(state)
    object.__setattr__(obj, "__pydantic_fields_set__", set(values))
    object.__setattr__(obj, "__pydantic_extra__", None)
    return obj


# ---- rows a transaction has read or written, for the work that follows in it --------------------------------------

_KNOWN = "wasteledger.known_rows"


def know_rows(session: Session, kind: str, rows: dict) -> None:
    """Keep rows this transaction has read or written (`kind`: "manifest", "lines", "events", "labels" (a batch's
    digital ID and name), "holding" — holdings also locked) for what follows in it: a commit group, or a signature
    alone as a group of one, reads its manifests' rows in one statement each (`ledger.manifests.state.
    read_for_group`), a draft keeps what it wrote (`know_manifest`), `lock_holdings` what it locked; the work, its
    answer and the alert rules at commit find them here instead of reading them again (`known_row`).

    The objects stay current because every write of the write path goes through the session and tells them what
    it wrote (the ORM's flush, `update_loaded`, `mark_loaded`); a change by another transaction is caught by the
    manifest's compare-and-set, as it is for a row read a moment later. They are forgotten when the transaction
    ends, and must be when the session is emptied (`forget_rows`, after a refused unit of work)."""
    session.info.setdefault(_KNOWN, {}).setdefault(kind, {}).update(rows)


def known_row(session: Session, kind: str, key: object) -> object | None:
    """A row kept by `know_rows`, or None."""
    known = session.info.get(_KNOWN)
    return known.get(kind, {}).get(key) if known else None


def forget_rows(session: Session) -> None:
    """Forget what `know_rows` kept (the session was emptied, or its transaction ended)."""
    session.info.pop(_KNOWN, None)


@event.listens_for(OrmSession, "after_soft_rollback")
def _rolled_back(session: OrmSession, previous_transaction) -> None:  # noqa: ANN001
    if not previous_transaction.nested:
        forget_rows(session)


@event.listens_for(OrmSession, "after_commit")
def _committed(session: OrmSession) -> None:
    if not session.in_nested_transaction():
        forget_rows(session)
