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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psycopg_pool import AsyncConnectionPool
from sqlalchemy import TypeDecorator
from sqlalchemy.dialects.postgresql import psycopg as _pg
from sqlalchemy.engine import make_url
from sqlalchemy.sql import Select

_DIALECT = _pg.dialect()


@dataclass(frozen=True)
class Compiled:
    """A Core SELECT as psycopg runs it: its SQL text, the values of its constant parameters, and a converter per
    result column (None: psycopg's value is already the Python value the ORM would give)."""

    sql: str
    constants: dict[str, Any]
    converters: tuple[Callable[[Any], Any] | None, ...]

    def convert(self, row: tuple) -> tuple:
        return tuple(v if f is None else f(v) for f, v in zip(self.converters, row, strict=True))


def compile_pg(stmt: Select) -> Compiled:
    """Compile a Core SELECT for psycopg, once (named `%(name)s` parameters; give an IN list as an array with
    `= any_(bindparam(…, type_=ARRAY(…)))`: an expanding IN has no text until its values are known)."""
    compiled = stmt.compile(dialect=_DIALECT)
    # psycopg already gives the values of plain types as the ORM does (its dialect adds no processing for them);
    # a type of ours with a Python side (UTCDateTime) converts as it would for the ORM
    converters = tuple(c.type.result_processor(_DIALECT, None) if isinstance(c.type, TypeDecorator) else None
                       for c in stmt.selected_columns)
    constants = {k: v for k, v in compiled.params.items() if v is not None}
    return Compiled(str(compiled), constants, converters)


def conninfo(url: str) -> str:
    """A libpq URL for psycopg from a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class AsyncReader:
    """A pool of autocommit connections read from on the event loop."""

    def __init__(self, url: str, *, size: int, timeout: float = 5.0) -> None:
        self.pool = AsyncConnectionPool(
            conninfo(url), min_size=1, max_size=max(2, size), timeout=timeout, open=False, name="wasteledger-reads",
            kwargs={"autocommit": True, "options": "-c jit=off"})

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
