"""Alert tests run with the event-time rules strict: an error in the alert layer fails the test instead of being
logged (in production it is logged and the ledger write goes through)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import inspect, text
from sqlmodel import Session

from alerts import engine as alert_engine
from alerts import settings as S


@pytest.fixture(autouse=True)
def strict_alerts() -> Iterator[None]:
    alert_engine.install()
    cfg = S.config()
    saved = cfg.strict
    cfg.strict = True
    yield
    cfg.strict = saved


@pytest.fixture
def db(engine) -> Iterator[Session]:  # noqa: ANN001
    """A writing session (the shared `session` fixture reads only)."""
    with Session(engine, expire_on_commit=False) as s:
        yield s
        s.rollback()


DECLARATION_DDL = """CREATE TABLE declaration (
    id {serial} PRIMARY KEY, unit_id INTEGER NOT NULL, kind VARCHAR(12) NOT NULL, period_start DATE NOT NULL,
    period_end DATE NOT NULL, due_on DATE NOT NULL, version INTEGER NOT NULL DEFAULT 1,
    status VARCHAR(12) NOT NULL, submitted_at TIMESTAMP WITH TIME ZONE)"""


@pytest.fixture
def declaration_table(engine, db) -> Iterator[str]:  # noqa: ANN001
    """The reports module's `declaration` table: the real one once merged, else a stand-in with its columns."""
    created = not inspect(engine).has_table("declaration")
    if created:
        with engine.begin() as c:
            serial = "SERIAL" if engine.dialect.name == "postgresql" else "INTEGER"
            c.execute(text(DECLARATION_DDL.format(serial=serial)))
    yield "declaration"
    db.rollback()
    with engine.begin() as c:
        c.execute(text("DROP TABLE declaration") if created else text("DELETE FROM declaration"))
