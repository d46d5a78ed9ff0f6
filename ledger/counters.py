"""Gapless counters (serials, sequence numbers) allocated inside the caller's transaction."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, Session, SQLModel


class Counter(SQLModel, table=True):
    """One named counter, e.g. 'did:12:900-249-08:20260101' or 'manifest:3701:2026'."""

    scope: str = Field(primary_key=True, max_length=120)
    value: int = Field(sa_column=Column(BigInteger, nullable=False))


def next_value(session: Session, scope: str) -> int:
    """Increment and return the counter. The row stays locked until commit, so values are gapless and unique."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(Counter.__table__).values(scope=scope, value=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=["scope"], set_={"value": Counter.__table__.c.value + 1}
    ).returning(Counter.__table__.c.value)
    return int(session.execute(stmt).scalar_one())


def next_ranges(session: Session, counts: dict[str, int]) -> dict[str, int]:
    """Take `n` consecutive values of each counter in one statement; returns the first value of each range."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = Counter.__table__
    stmt = insert(table).values([{"scope": sc, "value": n} for sc, n in sorted(counts.items())])
    stmt = stmt.on_conflict_do_update(index_elements=["scope"], set_={"value": table.c.value + stmt.excluded.value}
                                      ).returning(table.c.scope, table.c.value)
    return {sc: int(last) - counts[sc] + 1 for sc, last in session.execute(stmt).all()}
