"""Rate limits on attempts (password logins now, signature codes later), shared by every process.

Failures are counted per (scope, key) in the database, in a fixed window: `failed` adds one in a single atomic
upsert (a new window starts when the old one has ended), `check` refuses with 429 and `Retry-After` once a key has
used its allowance, `succeeded` forgets a key. Because the counts live in the database, every worker process and
every server behind a load balancer sees the same numbers; a burst racing through several processes at once can
overshoot by at most the number of concurrent requests.

To protect another secret (e.g. a manifest signature code), define a `Rule` and call `check` before verifying
and `failed` after a wrong answer, with keys such as the user id and the client address:

    SIGNATURE = Rule("sign.user", limit=5, window=timedelta(minutes=15))
    attempts = [(SIGNATURE, str(principal.user_id)), (SIGN_ADDRESS, principal.source_ip or "unknown")]
    throttle.check(session, attempts)
    if not code_ok:
        throttle.failed(session, attempts)   # the caller commits it even though the request fails
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, literal
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, Session, SQLModel, select

from ledger.errors import LedgerError
from ledger.types import UTCDateTime, utcnow


class Throttle(SQLModel, table=True):
    """Failed attempts of one key (a username, an address…) in the current window of one scope."""

    __tablename__ = "throttle"
    scope: str = Field(primary_key=True, max_length=40)
    key: str = Field(primary_key=True, max_length=200)
    window_start: datetime = Field(sa_type=UTCDateTime)
    failures: int = 0


@dataclass(frozen=True)
class Rule:
    """At most `limit` failures per key within `window`."""

    scope: str
    limit: int
    window: timedelta


class TooManyAttempts(LedgerError):
    """429: the key has used its allowance; `Retry-After` says when the window ends."""

    status = 429
    code = "auth.too_many_attempts"

    def __init__(self, message: str, *, retry_after: int, scope: str):
        super().__init__(message, details={"retry_after": retry_after, "scope": scope})
        self.headers = {"Retry-After": str(retry_after)}


Attempts = Iterable[tuple[Rule, str]]

WHAT = {"login.account": "failed logins for this account", "login.address": "failed logins from your address"}


def _key(key: str) -> str:
    return (key or "unknown").strip().lower()[:200]


def check(session: Session, attempts: Attempts, *, now: datetime | None = None) -> None:
    """Raise TooManyAttempts if any (rule, key) has used its allowance in the current window."""
    now = now or utcnow()
    worst: tuple[int, Rule] | None = None
    for rule, key in attempts:
        row = session.exec(select(Throttle).where(Throttle.scope == rule.scope, Throttle.key == _key(key))).first()
        if row is None or row.failures < rule.limit or row.window_start + rule.window <= now:
            continue
        wait = max(1, math.ceil((row.window_start + rule.window - now).total_seconds()))
        if worst is None or wait > worst[0]:
            worst = (wait, rule)
    if worst is not None:
        wait, rule = worst
        raise TooManyAttempts(f"too many {WHAT.get(rule.scope, 'attempts')} ({rule.limit} within "
                              f"{int(rule.window.total_seconds() // 60)} minutes); try again in {wait} seconds",
                              retry_after=wait, scope=rule.scope)


def failed(session: Session, attempts: Attempts, *, now: datetime | None = None) -> None:
    """Count one failure for each (rule, key), atomically (a window that has ended starts again at 1)."""
    now = now or utcnow()
    table = Throttle.__table__
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    for rule, key in attempts:
        stale = table.c.window_start <= literal(now - rule.window, UTCDateTime)
        stmt = insert(table).values(scope=rule.scope, key=_key(key), window_start=now, failures=1)
        stmt = stmt.on_conflict_do_update(index_elements=["scope", "key"], set_={
            "failures": case((stale, 1), else_=table.c.failures + 1),
            "window_start": case((stale, literal(now, UTCDateTime)), else_=table.c.window_start)})
        session.execute(stmt)
        # Forget this scope's windows that ended long ago (rare writes: only failures come here).
        old = now - max(rule.window, timedelta(days=1))
        session.execute(delete(table).where(table.c.scope == rule.scope,
                                            table.c.window_start < literal(old, UTCDateTime)))


def succeeded(session: Session, rule: Rule, key: str) -> None:
    """Forget the failures of a key (e.g. an account after a correct password)."""
    session.execute(delete(Throttle.__table__).where(Throttle.scope == rule.scope, Throttle.key == _key(key)))
