"""Reads on the event loop (PostgreSQL only): a psycopg async connection pool for the hottest GET, a label scan.

A read through the ordinary path runs in FastAPI's threadpool on a SQLAlchemy session: a thread hop, the ORM's
statement execution and its rows. Where a read needs one statement, that is most of its cost. Here a SQLAlchemy
Core statement is compiled once for psycopg (`compile_pg`); its rows come back as tuples, converted by the
columns' own types where they have a Python side (`UTCDateTime`). The connections run in autocommit, like the
ordinary reader's (`ledger.db.reader`): a read sends no BEGIN or ROLLBACK, and each statement sees the latest
committed state. psycopg prepares a statement on a connection the first time it runs there.

The pool lives as long as the app (`api.app.lifespan` opens and closes it). On SQLite there is none, and every
read takes the ordinary path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from psycopg import AsyncConnection
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import TypeDecorator
from sqlalchemy.dialects.postgresql import psycopg as _pg
from sqlalchemy.engine import make_url
from sqlalchemy.sql import Select

from ledger.db import parse_json

_DIALECT = _pg.dialect()
T = TypeVar("T")


@dataclass(frozen=True)
class Compiled:
    """A Core SELECT as psycopg runs it: its SQL text, the values of its constant parameters, and the converters
    of the result columns that need one, by position (the others: psycopg's value is already the Python value the
    ORM would give)."""

    sql: str
    constants: dict[str, Any]
    converters: tuple[tuple[int, Callable[[Any], Any]], ...]

    def convert(self, row: tuple) -> tuple:
        if not self.converters:
            return row
        values = list(row)
        for i, f in self.converters:
            values[i] = f(values[i])
        return tuple(values)


def compile_pg(stmt: Select) -> Compiled:
    """Compile a Core SELECT for psycopg, once (named `%(name)s` parameters; give an IN list as an array with
    `= any_(bindparam(…, type_=ARRAY(…)))`: an expanding IN has no text until its values are known)."""
    compiled = stmt.compile(dialect=_DIALECT)
    # psycopg already gives the values of plain types as the ORM does (its dialect adds no processing for them);
    # a type of ours with a Python side (UTCDateTime) converts as it would for the ORM
    processors = ((i, c.type.result_processor(_DIALECT, None)) for i, c in enumerate(stmt.selected_columns)
                  if isinstance(c.type, TypeDecorator))
    converters = tuple((i, f) for i, f in processors if f is not None)
    constants = {k: v for k, v in compiled.params.items() if v is not None}
    return Compiled(str(compiled), constants, converters)


@cache
def maker(model: type[T]) -> Callable[[Sequence[Any]], T]:
    """A function that makes a detached `model` from the values of its table's columns in their order: what
    `model.model_construct(**dict(zip(column names, values)))` makes, without pydantic's walk over every field's
    aliases and defaults for each row (most of its cost, and model_construct was a fifth of a trace's prefetch).

    Only for a model whose fields are exactly its columns, none aliased and with no post-init (every table model
    here); any other gets model_construct itself."""
    names = tuple(c.name for c in model.__table__.columns)
    fields = model.__pydantic_fields__
    if (set(names) != set(fields) or len(names) != len(fields) or model.__pydantic_post_init__
            or model.model_config.get("extra") == "allow"
            or any(f.alias is not None or f.validation_alias is not None for f in fields.values())):
        return lambda values: model.model_construct(**dict(zip(names, values, strict=True)))

    new, setattr_, fields_set = model.__new__, object.__setattr__, frozenset(names)

    def make(values: Sequence[Any]) -> T:  # `unvalidated`, inlined: it runs for every row a hot read makes
        m = new(model)
        setattr_(m, "__dict__", dict(zip(names, values, strict=True)))
        setattr_(m, "__pydantic_fields_set__", set(fields_set))
        setattr_(m, "__pydantic_extra__", None)
        setattr_(m, "__pydantic_private__", None)
        return m

    return make


def unvalidated(model: type[T], values: dict[str, Any]) -> T:
    """`model` holding `values`, one for each of its fields and each of the field's own type already, set as they
    are, without validation: what `model_construct` makes of them, without its walk over every field's aliases and
    defaults. For rows read from the database (`maker`) and the public shapes built from them
    (`ledger.batches.schemas`), where validation was most of each one's cost."""
    m = model.__new__(model)
    object.__setattr__(m, "__dict__", values)
    object.__setattr__(m, "__pydantic_fields_set__", set(values))
    object.__setattr__(m, "__pydantic_extra__", None)
    object.__setattr__(m, "__pydantic_private__", None)
    return m


def conninfo(url: str) -> str:
    """A libpq URL for psycopg from a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _configure(conn: AsyncConnection) -> None:
    """A new connection's JSON columns are parsed as the engine's are (`ledger.db.parse_json`: pydantic-core's
    parser, a journal record's body in 2.3 against 5.1 µs with `json.loads`, which it falls back to)."""
    set_json_loads(parse_json, conn)


class AsyncReader:
    """A pool of autocommit connections read from on the event loop."""

    def __init__(self, url: str, *, size: int, timeout: float = 5.0) -> None:
        self.pool = AsyncConnectionPool(
            conninfo(url), min_size=1, max_size=max(2, size), timeout=timeout, open=False, name="wasteledger-reads",
            kwargs={"autocommit": True, "options": "-c jit=off"}, configure=_configure)

    async def open(self) -> None:
        await self.pool.open(wait=False)  # connects in the background: a database that is down does not stop start-up

    async def close(self) -> None:
        await self.pool.close()

    async def rows(self, q: Compiled, **params: Any) -> list[tuple]:
        """The rows of `q` with these parameters, converted as the ORM would convert them."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(q.sql, {**q.constants, **params}, prepare=True)
            return [q.convert(r) for r in await cur.fetchall()]

    async def rows_of(self, *queries: tuple[Compiled, dict[str, Any]]) -> list[list[tuple]]:
        """The rows of each query, sent together in one round trip (psycopg's pipeline mode)."""
        async with self.pool.connection() as conn:
            async with conn.pipeline():
                cursors = [await conn.execute(q.sql, {**q.constants, **params}, prepare=True) for q, params in queries]
            return [[q.convert(r) for r in await cur.fetchall()] for (q, _), cur in zip(queries, cursors, strict=True)]
