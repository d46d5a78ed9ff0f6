"""Request dependencies: the session, the principal, and the unit of work that commits once per request."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import psycopg
from anyio import CancelScope, CapacityLimiter
from fastapi import Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from psycopg_pool import PoolTimeout
from pydantic import BaseModel
from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from ledger.accounts import IdempotencyRecord, find_token
from ledger.aio import AsyncReader
from ledger.auth import Principal
from ledger.cache import CacheOnly, NeedsDatabase, NeedsRow
from ledger.db import reader
from ledger.errors import InvalidInput, LedgerError, Unauthenticated
from ledger.memo import one_read
from ledger.scan import Prefetched, fill, fill_all
from ledger.types import utcnow

SESSION_COOKIE = "wl_session"
IDEMPOTENCY_HEADER = "Idempotency-Key"


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session for this request; whatever was not committed by the unit of work is rolled back.

    `async def`: creating a session does no I/O (it connects on first use), so it costs no hop to the threadpool;
    at the end, a session with nothing open (a unit of work that committed) is closed here too, and only a rollback
    (a round trip) goes to a thread, shielded from cancellation and outside the threadpool's capacity limit (as
    FastAPI does for the exit of a sync dependency: waiting for a thread while holding a connection could deadlock)."""
    engine = request.app.state.engine
    if request.method in ("GET", "HEAD", "OPTIONS"):
        engine = reader(engine)
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
    finally:
        if session.in_transaction():
            with CancelScope(shield=True):
                await anyio.to_thread.run_sync(_end_session, session, limiter=CapacityLimiter(1))
        else:
            session.close()


def _end_session(session: Session) -> None:
    session.rollback()
    session.close()


async def clean_parameters(request: Request) -> None:
    """Refuse a NUL character in any path or query parameter (PostgreSQL cannot store or compare it).
    (The pure dependencies here are `async def`: FastAPI runs a plain `def` one in the threadpool, a hop per call.)"""
    for name, value in list(request.path_params.items()) + list(request.query_params.multi_items()):
        if "\x00" in str(value) or "\x00" in name:
            raise InvalidInput(f"{name}: must not contain NUL characters (\\u0000)", field=name.replace("\x00", ""))


async def throttled() -> None:
    """Marks a route whose attempts are rate-limited (it may answer 429 with Retry-After); see ledger/throttle.py."""


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(SESSION_COOKIE)


@dataclass(frozen=True)
class Credentials:
    """What a request says about its caller, before the token is looked up."""

    token: str
    source_ip: str | None
    user_agent: str | None

    @classmethod
    def of(cls, request: Request) -> Credentials | None:
        clear = _bearer(request)
        if not clear:
            return None
        return cls(token=clear, source_ip=request.client.host if request.client else None,
                   user_agent=request.headers.get("user-agent"))

    def principal(self, session: Session) -> Principal:
        """The caller, or 401 when the token is unknown, expired or revoked."""
        found = find_token(session, clear=self.token)
        if found is None:
            raise Unauthenticated("the token is unknown, expired or revoked; log in again or ask for a new token",
                                  code="auth.invalid_token")
        token, user = found
        return Principal.of(user, token_id=token.id, source_ip=self.source_ip, user_agent=self.user_agent)


NO_CREDENTIALS = "send 'Authorization: Bearer <token>' (or log in for the pages)"


def optional_principal(request: Request, session: Session = Depends(get_session)) -> Principal | None:
    """The caller, from a bearer token or a page-session cookie; None when anonymous."""
    credentials = Credentials.of(request)
    return credentials.principal(session) if credentials is not None else None


def read_session(request: Request) -> Session:
    """A read-only session for a route that opens its own, in a worker thread (`with read_session(request) as s:`),
    instead of the `get_session` dependency: the hottest reads (`prefetched_read`, with `caller`) save FastAPI's
    handling of a dependency with an exit. It holds no transaction on PostgreSQL (`ledger.db.reader`)."""
    return Session(reader(request.app.state.engine), expire_on_commit=False)


#: registry rows one hot read may fill on the event loop before it gives up and reads on a session (a trace's
#: parties and facilities, the caller's token: a handful)
REGISTRY_FILLS = 16


async def prefetched_read(request: Request, fetch: Callable[[AsyncReader], Awaitable[Prefetched]],
                          run: Callable[[Session], bytes]) -> Response:
    """The answer of a hot read (a label scan, a facility card, a trace): `run(session)` gives its JSON.

    On PostgreSQL `fetch` first reads what `run` will ask, in one round trip on the event loop (`ledger.scan`), and
    `run` goes on the registry cache at the stamp it read, with those answers primed (`CacheOnly`, `one_read`).
    The registry rows the prefetch knows the read will show (units, facilities) and the cache does not hold are
    read there first, in one round trip (`ledger.scan.fill_all`); any other the cache does not hold (`NeedsRow`:
    the caller's token) is read there too (`ledger.scan.fill`), and `run` runs again, up to REGISTRY_FILLS times.
    What that cannot answer (`NeedsDatabase`), a fault of the async pool, and every read on SQLite run `run` on a
    session in the threadpool: the same code, so the same answer."""
    aio = getattr(request.app.state, "aio", None)
    if aio is not None:
        try:
            found = await fetch(aio)
        except (psycopg.Error, PoolTimeout):
            found = None  # the session's path answers, or reports the fault as every other request does
        if found is not None and found.stamp is not None and found.registry:
            try:
                await fill_all(aio, found.stamp, found.registry)
            except (psycopg.Error, PoolTimeout):
                found = None
        if found is not None and found.stamp is not None:
            for _ in range(REGISTRY_FILLS):
                try:
                    with one_read(found.primed):
                        return Response(run(CacheOnly(found.stamp)), media_type="application/json")
                except NeedsRow as miss:  # a unit, facility or token not in the cache yet: read it here, run again
                    try:
                        if not await fill(aio, miss, found.stamp):
                            break
                    except (psycopg.Error, PoolTimeout):
                        break
                except NeedsDatabase:
                    break

    def on_session() -> bytes:
        with read_session(request) as s:
            return run(s)

    return Response(await anyio.to_thread.run_sync(on_session), media_type="application/json")


async def caller(request: Request) -> Credentials:
    """The caller's credentials for a route that looks its token up itself (`credentials.principal(session)`, on
    the registry cache or a session of its own: `prefetched_read`), for the hottest reads (a label scan, a trace, a
    facility card). 401 at once when the request carries none."""
    credentials = Credentials.of(request)
    if credentials is None:
        raise Unauthenticated(NO_CREDENTIALS)
    return credentials


async def principal(p: Principal | None = Depends(optional_principal)) -> Principal:
    """The authenticated caller, or 401."""
    if p is None:
        raise Unauthenticated(NO_CREDENTIALS)
    return p


async def request_fingerprint(request: Request) -> str:
    """SHA-256 of method, path, query and body: what an Idempotency-Key is bound to."""
    body = await request.body()
    h = hashlib.sha256()
    h.update(f"{request.method} {request.url.path}?{request.url.query}\n".encode())
    h.update(body)
    return h.hexdigest()


def checked_key(key: str | None) -> str | None:
    """An Idempotency-Key as sent, refused (422) when longer than the 200 characters it is stored in."""
    if key and len(key) > 200:
        raise InvalidInput("Idempotency-Key is longer than 200 characters", field=IDEMPOTENCY_HEADER)
    return key


#: a user's answer under an Idempotency-Key (built once: every keyed write looks it up)
_IDEMPOTENCY_RECORD = select(IdempotencyRecord).where(IdempotencyRecord.user_id == bindparam("user_id"),
                                                      IdempotencyRecord.key == bindparam("key"))


@dataclass
class Tx:
    """One request's unit of work: run the service, store the idempotent reply, commit."""

    session: Session
    principal: Principal
    key: str | None
    fingerprint: str

    def replay(self, rec: IdempotencyRecord) -> JSONResponse:
        if rec.request_hash != self.fingerprint:
            raise InvalidInput(f"Idempotency-Key {self.key!r} was already used for a different request; use a "
                               "new key for a new request", field=IDEMPOTENCY_HEADER, code="idempotency.key_reused")
        return JSONResponse(status_code=rec.status_code, content=json.loads(rec.response_body),
                            headers={"Idempotent-Replayed": "true"})

    def _existing(self) -> IdempotencyRecord | None:
        return self.session.exec(_IDEMPOTENCY_RECORD, params={"user_id": self.principal.user_id,
                                                              "key": self.key}).first()

    def run(self, fn: Callable[[Session, Principal], Any], *, status: int = 200) -> Response:
        """Execute `fn` once per Idempotency-Key; a retry gets the first response back.

        The key is recorded with the response after `fn`, in the same transaction (one statement). A retry of a
        request that committed finds the key and gets its first answer (also when `fn` refuses the retry, e.g. a
        signature already given); a concurrent request with the same key waits on the key's unique index until the
        first commits (PostgreSQL) or runs after it (SQLite), then rolls back and replays the first answer."""
        s = self.session
        checked_key(self.key)
        try:
            result = fn(s, self.principal)
        except LedgerError:
            if self.key:
                replay = self._replay_after_rollback()
                if replay is not None:
                    return replay
            raise
        content = result.model_dump(mode="json") if isinstance(result, BaseModel) else jsonable_encoder(result)
        # Serialised once, as JSONResponse would (compact, UTF-8, no NaN): the same text is stored under the key
        # and sent, and a replay (JSONResponse of the parsed text) sends the same bytes.
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
        if self.key:
            stmt = claim_statement(s.get_bind().dialect.name)
            rec_id = s.execute(stmt, {"user_id": self.principal.user_id, "key": self.key,
                                      "request_hash": self.fingerprint, "status_code": status,
                                      "response_body": text, "created_at": utcnow()}).scalar_one_or_none()
            if rec_id is None:  # the same key got there first
                replay = self._replay_after_rollback()
                if replay is not None:
                    return replay
                raise InvalidInput("a request with this Idempotency-Key is still being processed; retry shortly",
                                   field=IDEMPOTENCY_HEADER, code="idempotency.in_progress")
        s.commit()
        return Response(text.encode(), status_code=status, media_type="application/json")

    def _replay_after_rollback(self) -> JSONResponse | None:
        """Undo this attempt and replay the first answer under the key, if there is one."""
        self.session.rollback()
        existing = self._existing()
        return self.replay(existing) if existing is not None else None


_CLAIMS: dict[str, Any] = {}


def claim_statement(dialect: str):  # noqa: ANN202
    """INSERT the key and its answer unless the key exists (built once per dialect: compiled once)."""
    if dialect not in _CLAIMS:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table = IdempotencyRecord.__table__
        _CLAIMS[dialect] = (insert(table).on_conflict_do_nothing(index_elements=["user_id", "key"])
                            .returning(table.c.id))
    return _CLAIMS[dialect]


async def tx(request: Request, session: Session = Depends(get_session), who: Principal = Depends(principal),
       fingerprint: str = Depends(request_fingerprint)) -> Tx:
    """The unit of work for a mutating request."""
    return Tx(session=session, principal=who, key=request.headers.get(IDEMPOTENCY_HEADER), fingerprint=fingerprint)


@dataclass(frozen=True)
class Deferred:
    """A mutating request whose unit of work runs later, in a commit group (api/grouping.py): its credentials
    are checked there, in the group's transaction, and its Idempotency-Key is honoured as by `Tx`."""

    credentials: Credentials
    key: str | None
    fingerprint: str


async def deferred_tx(request: Request, fingerprint: str = Depends(request_fingerprint)) -> Deferred:
    """The unit of work of a request that joins a commit group (401 at once when it carries no credentials)."""
    credentials = Credentials.of(request)
    if credentials is None:
        raise Unauthenticated(NO_CREDENTIALS)
    return Deferred(credentials=credentials, key=checked_key(request.headers.get(IDEMPOTENCY_HEADER)),
                    fingerprint=fingerprint)
