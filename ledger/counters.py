"""Gapless counters (serials, sequence numbers) allocated inside the caller's transaction."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, Session, SQLModel


class Counter(SQLModel, table=True):
    """One named counter, e.g. 'did:12:900-249-08:20260101' or 'manifest:3701:2026'."""

    scope: str = Field(primary_key=True, max_length=120)
    value: int = Field(sa_column=Column(BigInteger, nullable=False))


_NEXT: dict[str, object] = {}


def next_value(session: Session, scope: str) -> int:
    """Increment and return the counter. The row stays locked until commit, so values are gapless and unique.
    (The statement is built once per dialect, with the scope bound: building it costs about as much Python as
    executing it.)"""
    dialect = session.get_bind().dialect.name
    if dialect not in _NEXT:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table = Counter.__table__
        _NEXT[dialect] = insert(table).values(scope=bindparam("scope"), value=1).on_conflict_do_update(
            index_elements=["scope"], set_={"value": table.c.value + 1}).returning(table.c.value)
    return int(session.execute(_NEXT[dialect], {"scope": scope}).scalar_one())


_RANGES: dict[str, object] = {}


def _ranges_statement(dialect: str):  # noqa: ANN202
    """`INSERT … ON CONFLICT (scope) DO UPDATE SET value = value + excluded.value RETURNING scope, value`, built
    once per dialect and executed with a list of rows (SQLAlchemy renders them as one multi-row VALUES): unlike
    `.values([...])` with the rows inlined, which has no cache key, it is compiled once."""
    if dialect not in _RANGES:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table = Counter.__table__
        stmt = insert(table)
        _RANGES[dialect] = stmt.on_conflict_do_update(
            index_elements=["scope"], set_={"value": table.c.value + stmt.excluded.value}
        ).returning(table.c.scope, table.c.value)
    return _RANGES[dialect]


def next_ranges(session: Session, counts: dict[str, int]) -> dict[str, int]:
    """Take `n` consecutive values of each counter in one statement; returns the first value of each range.
    Rows go in scope order, so two transactions lock shared counters in the same order."""
    stmt = _ranges_statement(session.get_bind().dialect.name)
    rows = [{"scope": sc, "value": n} for sc, n in sorted(counts.items())]
    return {sc: int(last) - counts[sc] + 1 for sc, last in session.execute(stmt, rows).all()}
