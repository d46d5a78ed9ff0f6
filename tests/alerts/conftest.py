"""Alert tests run with the event-time rules strict: an error in the alert layer fails the test instead of being
logged (in production it is logged and the ledger write goes through)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
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

