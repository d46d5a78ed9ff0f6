"""Group commit for weighings, holding moves and manifest signatures: the single requests of one kind that reach
one process together share one transaction.

A weighing terminal sends one batch per request; a storage room's scanner one 入库 or 出库 per request; a
treatment line's terminal one 自行利用 or 自行处置 per request. Alone, each request pays for its own transaction: the registry
stamp, the serial counters, the chain head, the batch and record INSERTs, the balances, the idempotency key and
the COMMIT — about ten statements, and a thread hop per dependency. Here the requests that arrive while a group is
being written wait (on the event loop, costing nothing) and then go together, in one thread and one transaction:
one counter statement, one head lock per unit, multi-row INSERTs, one COMMIT (`ledger.batches.write_weighings`,
the code of the bulk route). Holding moves (`POST /batches/{id}/store`, `/retrieve`, `/use-in-house` and
`/dispose-in-house`) form groups of their own, one per kind, written by `ledger.batches.move_many`: the holdings
locked in one statement, then the same counters, heads and INSERTs. Manifest signatures (`submit_work`: create,
submit, cancel, pickup, deliver, receive, return, returned, complete, revisions) form groups of their own, one per
step: each request's own unit of work runs in
a savepoint of the group's transaction, in the order of the locks it takes (`order`: by the unit whose counters and
chain it appends to), and the group pays for one COMMIT, one posting of the balances and one pass of the alert rules.
Their records wait (`journal.appends_deferred`) and are appended after the last unit of work, in one statement per
step of the append: the chain heads are taken once, last, and held only from there to the COMMIT. The group's
`order` reads the rows its units of work share once for all of them (the manifests, their lines and events, the
locked holdings: `ledger.manifests.read_for_group`); a refused unit of work makes the next ones read them again.

What each request keeps, as if it had been alone:
- its own principal (its token is looked up in the group's transaction, from the registry cache) and its own
  access checks;
- its own Idempotency-Key: a key already answered is replayed, a key used twice within a group runs after the
  group (and is replayed then), and the answer is stored under the key in the group's transaction;
- its own error: a weighing that fails validation (`prepare_weighing`, which writes nothing), a move that its
  holding's state refuses (`check_store`/`check_retrieve`/`check_process`, against the state the group's earlier
  moves left), or a unit of work that raises one (its savepoint rolled back), gets its 4xx and the rest go on.
  Anything that fails later — while writing, at COMMIT, a key claimed meanwhile by another process, a unit of work
  that rolled back the whole transaction — rolls the whole group back and every request of it runs alone, on the
  ordinary path (`Tx`), so one bad weighing never fails its neighbours and nothing is half-written.

A group runs in a context of its own, at the real time. A request that runs the ledger at a set time or marks its
records with a source (`clock_at`, `recorded_from`: seeding and back-entry, over HTTP only tests) is written alone,
in its own context. A COMMIT whose answer is lost is looked up, never re-run (see `_commit`).

The ordering guarantees are those of `write_weighings`: gapless serials and seqs, one chain per unit, locks taken in
one order (counters, then heads by unit id). One group is in flight per process (and event loop) at a time; a
group takes at most `MAX_GROUP` requests. `LEDGER_GROUP_COMMIT=false` runs every request alone (for comparison).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import gc
import json
import logging
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio.to_thread
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import text as sql_text
from sqlalchemy import tuple_
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.deps import Deferred, Tx, claim_statement
from ledger import batches as svc
from ledger import journal, types
from ledger.accounts import IdempotencyRecord
from ledger.auth import Principal
from ledger.db import forget_rows
from ledger.errors import LedgerError
from ledger.journal import JournalRecord
from ledger.types import utcnow

log = logging.getLogger("wasteledger.grouping")

#: the holding moves that form groups, by record kind: the service that writes one alone
MOVES = {"stored": svc.store, "retrieved": svc.retrieve,
         "used_in_house": functools.partial(svc.process_in_house, kind="used_in_house"),
         "disposed_in_house": functools.partial(svc.process_in_house, kind="disposed_in_house")}
#: the most requests one group writes (a larger queue is written in several groups, one after the other)
MAX_GROUP = 64


@dataclass(eq=False)
class Job:
    """One request (a weighing, a holding move or a unit of work), waiting for its group."""

    deferred: Deferred
    data: svc.BatchCreate | svc.StoreIn | svc.RetrieveIn | svc.ProcessIn | None
    public_url: str
    kind: str = "weigh"  # or a holding move's record kind: "stored" (入库), "retrieved" (出库), "used_in_house", …
    batch_id: int | None = None  # a move's batch
    render: Callable[[svc.Batch, JournalRecord], BaseModel] | None = None  # a move's answer
    work: Callable[[Session, Principal], BaseModel] | None = None  # a unit of work of its own (`submit_work`)
    target: int | None = None  # the row a unit of work acts on (a manifest), for `order`
    order: Callable[[Session, list[Job]], list[Job]] | None = None  # the group's jobs in the order of their locks
    status: int = 201  # the answer's status code
    future: asyncio.Future | None = None
    principal: Principal | None = None
    outcome: Any = None  # a Response, or the exception to raise
    context: contextvars.Context | None = None  # the request's, when it must run in it (alone)


@dataclass
class _Queue:
    jobs: list[Job] = field(default_factory=list)
    running: bool = False
    task: asyncio.Task | None = None  # the writer, referenced so that it is not garbage-collected mid-run


class _Regroup(Exception):
    """The group cannot commit as one: run each request alone."""


class CommitGroups:
    """The commit groups of one application (one per process): `await groups.submit(...)` answers one weighing,
    `await groups.submit_move(...)` one 入库, 出库, 自行利用 or 自行处置. Each kind of request forms groups of its
    own."""

    def __init__(self, engine: Engine, *, enabled: bool = True) -> None:
        self.engine = engine
        self.enabled = enabled
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Queue]] = (
            weakref.WeakKeyDictionary())
        self.groups = 0  # groups written together, and the requests in them (for logs and tests)
        self.grouped = 0

    async def submit(self, deferred: Deferred, data: svc.BatchCreate, *, public_url: str) -> Response:
        """The response to one weighing request (raises its error, like a route would)."""
        return await self._submit(Job(deferred=deferred, data=data, public_url=public_url))

    async def submit_move(self, deferred: Deferred, kind: str, batch_id: int, data: svc.MoveIn, *,
                          public_url: str, render: Callable[[svc.Batch, JournalRecord], BaseModel]) -> Response:
        """The response to one holding move, `kind` a record kind of MOVES: "stored" (入库), "retrieved" (出库),
        "used_in_house" (自行利用), "disposed_in_house" (自行处置); `render` makes its answer from the holding and
        the record."""
        if kind not in MOVES:
            raise ValueError(f"not a holding move that forms groups: {kind}")
        return await self._submit(Job(deferred=deferred, data=data, public_url=public_url, kind=kind,
                                      batch_id=batch_id, render=render))

    async def submit_work(self, deferred: Deferred, kind: str, work: Callable[[Session, Principal], BaseModel], *,
                          target: int | None = None, status: int = 200,
                          order: Callable[[Session, list[Job]], list[Job]] | None = None) -> Response:
        """The response to one unit of work of `kind` (a manifest signature: "manifest.receive", …): `work(session,
        principal)` writes and returns the answer, as the function a route gives `Tx.run`. In a group each runs in a
        savepoint of the group's transaction, in the order `order` gives the group's jobs (the order of the locks
        they take: two processes' groups that took the same rows in different orders would deadlock); a refused one
        rolls its savepoint back and gets its error, the others go on."""
        if kind in MOVES or kind == "weigh":
            raise ValueError(f"{kind} is written by its own path")
        return await self._submit(Job(deferred=deferred, data=None, public_url="", kind=kind, work=work,
                                      target=target, order=order, status=status))

    async def _submit(self, job: Job) -> Response:
        if _in_own_time():  # the ledger's clock or a record source is set for this request: it runs alone, in it
            job.context = contextvars.copy_context()
        if not self.enabled:
            return self._result(await anyio.to_thread.run_sync(self._answer_alone, job))
        loop = asyncio.get_running_loop()
        queue = self._queues.setdefault(loop, {}).setdefault(job.kind, _Queue())
        job.future = loop.create_future()
        queue.jobs.append(job)
        if not queue.running:
            queue.running = True
            # in a context of its own: not the first request's (its context variables are no group's business)
            queue.task = loop.create_task(self._drain(queue), context=contextvars.Context())
        return self._result(await job.future)

    @staticmethod
    def _result(outcome: Any) -> Response:
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def _drain(self, queue: _Queue) -> None:
        try:
            while queue.jobs:
                group, queue.jobs = queue.jobs[:MAX_GROUP], queue.jobs[MAX_GROUP:]
                try:
                    await anyio.to_thread.run_sync(self._write, group)
                except BaseException as e:  # noqa: BLE001 — a cancelled loop or a bug: every waiter learns of it
                    for job in group:
                        if job.outcome is None:
                            job.outcome = e
                    if not isinstance(e, Exception):
                        raise
                finally:
                    for job in group:
                        if job.future is not None and not job.future.done():
                            job.future.set_result(job.outcome)
        finally:
            queue.running = False
            queue.task = None  # (a finished task would keep its event loop, the queue's weak key, alive)

    # ---- in a worker thread ----------------------------------------------------------------------------------

    def _write(self, group: list[Job]) -> None:
        """Write the group in one transaction; if that fails as a whole, write each request alone."""
        later: list[Job] = [job for job in group if job.context is not None]
        group = [job for job in group if job.context is None]
        if len(group) > 1:
            try:
                with _collector_paused():
                    later += self._together(group)
            except (_Regroup, LedgerError) as e:  # a key claimed meanwhile, a refusal while writing: each alone
                log.info("a commit group of %d weighings is written one by one: %r", len(group), e)
                later += group
            except Exception:  # noqa: BLE001 — an unexpected failure of the group is retried request by request
                log.exception("a commit group of %d weighings failed; writing them one by one", len(group))
                later += group
        else:
            later += group
        for job in later:
            job.outcome = None
            job.outcome = self._answer_alone(job)

    def _together(self, group: list[Job]) -> list[Job]:
        """Write what can go together; return the requests that must run alone after the commit."""
        later: list[Job] = []
        now = utcnow()
        with Session(self.engine, expire_on_commit=False) as s:
            live: list[Job] = []
            for job in group:
                try:
                    job.principal = job.deferred.credentials.principal(s)
                except LedgerError as e:
                    job.outcome = e
                    continue
                live.append(job)
            live = self._replays(s, live, later)
            kind = group[0].kind
            write = self._weighings if kind == "weigh" else self._moves if kind in MOVES else self._works
            written, answers, written_check = write(s, live, later, now)
            texts = [json.dumps(a.model_dump(mode="json"), ensure_ascii=False, allow_nan=False, indent=None,
                                separators=(",", ":")) for a in answers]
            if written:
                claims = sorted(({"user_id": job.principal.user_id, "key": job.deferred.key,
                                  "request_hash": job.deferred.fingerprint, "status_code": job.status,
                                  "response_body": text,
                                  "created_at": now} for job, text in zip(written, texts, strict=True)
                                 if job.deferred.key), key=lambda c: (c["user_id"], c["key"]))  # in index order
                if claims:
                    claimed = s.execute(claim_statement(s.get_bind().dialect.name), claims).all()
                    if len(claimed) != len(claims):  # a key answered meanwhile by another process
                        raise _Regroup
                    if written_check is _BY_CLAIM:  # the group is written if its first claim is
                        written_check = (_CLAIM_EXISTS, {"user_id": claims[0]["user_id"], "key": claims[0]["key"]})
            unknown = self._commit(s, written_check)
        if unknown is not None:  # whether the COMMIT took effect is unknown: a 5xx to each, never written twice
            for job in written:
                job.outcome = unknown
            return later
        for job, text in zip(written, texts, strict=True):
            job.outcome = Response(text.encode(), status_code=job.status, media_type="application/json")
        self.groups += 1
        self.grouped += len(written)
        return later

    @staticmethod
    def _refused(job: Job, e: LedgerError, later: list[Job]) -> None:
        if job.deferred.key:  # alone, a refused retry of a request that committed is replayed
            later.append(job)
        else:
            job.outcome = e

    def _weighings(self, s: Session, live: list[Job], later: list[Job], now: datetime) -> tuple:
        """Check each weighing (a refused one writes nothing) and write the rest (`ledger.batches.write_weighings`);
        returns the jobs written, their answers, and how to tell afterwards whether the group was written."""
        seen: dict = {}
        weighings, written = [], []
        for job in live:
            try:
                weighings.append(svc.prepare_weighing(s, job.principal, job.data, now, seen))
            except LedgerError as e:
                self._refused(job, e, later)
                continue
            written.append(job)
        if not weighings:
            return [], [], None
        batches = svc.write_weighings(s, weighings, now=now)
        answers = [svc.batch_public(b, public_url=job.public_url) for job, b in zip(written, batches, strict=True)]
        return written, answers, (_BATCH_EXISTS, {"id": batches[0].id})

    def _moves(self, s: Session, live: list[Job], later: list[Job], now: datetime) -> tuple:
        """Holding moves of one kind (`ledger.batches.move_many`): each refused one gets its error, the rest are
        written."""
        if not live:
            return [], [], None
        answers: dict[int, BaseModel] = {}
        results = svc.move_many(s, live[0].kind, [(job.principal, job.batch_id, job.data) for job in live],
                                 seen=lambda i, b, rec: answers.__setitem__(i, live[i].render(b, rec)))
        written = []
        for job, result in zip(live, results, strict=True):
            if isinstance(result, LedgerError):
                self._refused(job, result, later)
            else:
                written.append(job)
        if not written:
            return [], [], None
        first = next(r for r in results if not isinstance(r, LedgerError))
        return written, [answers[i] for i in sorted(answers)], (_RECORD_EXISTS, {"id": first.id})

    def _works(self, s: Session, live: list[Job], later: list[Job], now: datetime) -> tuple:
        """Units of work of one kind (`submit_work`), each in a savepoint, in the order of their locks. A refused
        one rolls its savepoint back and gets its error; one that ended the whole transaction (a compare-and-set
        lost to another process rolls back) sends the group to run alone."""
        if not live:
            return [], [], None
        if not s.in_transaction():
            s.begin()
        if live[0].order is not None:
            live = live[0].order(s, live)
        outer = s.get_transaction()
        written, answers = [], []
        with journal.appends_deferred(s):  # the records go to their chains at the end, after every unit of work
            for job in live:
                try:
                    with s.begin_nested():
                        answer = job.work(s, job.principal)
                except Exception as e:
                    if s.get_transaction() is not outer or not outer.is_active:
                        raise _Regroup from e
                    if not isinstance(e, LedgerError):
                        raise
                    # what the refused work wrote without the ORM's unit of work (a moved manifest, balances, a
                    # line received, a new holding) is still in the objects and the identity map, which a
                    # rolled-back savepoint does not undo: the next job reads every row afresh (the others' work
                    # is flushed); its waiting records were cut with its savepoint
                    s.expunge_all()
                    forget_rows(s)  # (and what the group read for its jobs is read again by each)
                    self._refused(job, e, later)
                    continue
                written.append(job)
                answers.append(answer)
            journal.flush_appends(s)
        if not written:
            return [], [], None
        return written, answers, _BY_CLAIM

    def _commit(self, s: Session, written: tuple | None) -> Exception | None:
        """COMMIT the group. A failure before the COMMIT was sent (a statement of the balances or the alert rules
        run at commit) is raised: nothing was written, each request runs alone. When COMMIT itself failed — its
        answer lost with the connection — the group may or may not be written: the first batch (or record, or
        Idempotency-Key of a group of units of work) is looked up in a new connection; found, the group stands; not
        found, each request runs alone; if that cannot be known (nothing to look up: units of work without a key),
        the error is returned, to be every request's answer (as a lost COMMIT of a request alone answers 5xx):
        running them again could write every weighing twice."""
        try:
            s.commit()
            return None
        except Exception as e:  # noqa: BLE001 — classified below
            if written is None:
                raise
            failure = e
        if written is _BY_CLAIM:  # nothing in the group tells: as a lost COMMIT of a request alone, a 5xx to each
            return failure
        statement, params = written
        try:
            with Session(self.engine) as check:
                found = check.execute(statement, params).first() is not None
        except Exception:  # noqa: BLE001 — the database cannot say: the requests get the COMMIT's error
            log.exception("a commit group's COMMIT failed and its outcome cannot be looked up")
            return failure
        if found:
            return None
        raise failure

    @staticmethod
    def _replays(s: Session, live: list[Job], later: list[Job]) -> list[Job]:
        """Answer the requests whose key was answered before; keep a key's second use within the group for later."""
        keyed = {(j.principal.user_id, j.deferred.key) for j in live if j.deferred.key}
        stored = {}
        if keyed:
            rows = s.exec(select(IdempotencyRecord).where(
                tuple_(IdempotencyRecord.user_id, IdempotencyRecord.key).in_(sorted(keyed)))).all()
            stored = {(r.user_id, r.key): r for r in rows}
        out, taken = [], set()
        for job in live:
            pair = (job.principal.user_id, job.deferred.key)
            if job.deferred.key and pair in stored:
                try:
                    job.outcome = _tx(s, job).replay(stored[pair])
                except LedgerError as e:
                    job.outcome = e
            elif job.deferred.key and pair in taken:
                later.append(job)
            else:
                taken.add(pair)
                out.append(job)
        return out

    def _answer_alone(self, job: Job) -> Any:
        """The request on the ordinary path: its own transaction (`Tx`), in its own context if it kept one."""
        if job.context is not None:
            return job.context.run(self._alone, job)
        return self._alone(job)

    def _alone(self, job: Job) -> Any:
        with Session(self.engine, expire_on_commit=False) as s:
            try:
                p = job.deferred.credentials.principal(s)
                return _tx(s, job, p).run(lambda s, p: _one(s, p, job), status=job.status)
            except Exception as e:  # noqa: BLE001 — handed to the request, whose handlers render it
                if s.in_transaction():
                    s.rollback()
                return e


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No pass of the cyclic garbage collector while a group holds its units' counters and chain heads (a full
    pass stops the process for tens of milliseconds, and the other workers' groups would wait on those locks); the
    pass that was due runs right after the COMMIT, when this process holds nothing another one waits for."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _in_own_time() -> bool:
    """Whether this request runs the ledger at a set time (`ledger.types.clock_at`) or marks its records with a
    source (`journal.recorded_from`): seeding and back-entry do, through the services; over HTTP only tests do.
    Such a request is written alone, in its own context; a group runs in a context of its own, at the real time."""
    return types.clock_is_set() or journal.source_is_set()


def _one(s: Session, p: Principal, job: Job) -> BaseModel:
    """A request's own unit of work, as its route would run it without a group; a unit of work of `submit_work` as
    a group of one runs it: the rows it shares with a group's read as `order` reads them (without locking: the work
    locks what it writes after its own checks), and its records appended at its end, each chain head taken last
    and once, after every counter (`journal.appends_deferred`)."""
    if job.work is not None:
        if job.order is not None:
            job.order(s, [job])
        with journal.appends_deferred(s):
            answer = job.work(s, p)
            journal.flush_appends(s)
        return answer
    if job.kind == "weigh":
        return svc.batch_public(svc.generate(s, principal=p, data=job.data), public_url=job.public_url)
    b = svc.get_batch(s, p, job.batch_id, lock=True)
    return job.render(b, MOVES[job.kind](s, principal=p, batch=b, data=job.data))


_BATCH_EXISTS = sql_text("SELECT 1 FROM batch WHERE id = :id")
_RECORD_EXISTS = sql_text("SELECT 1 FROM journal_record WHERE id = :id")
_CLAIM_EXISTS = sql_text("SELECT 1 FROM idempotency_record WHERE user_id = :user_id AND key = :key")
#: a group of units of work tells whether it was written by its first Idempotency-Key, if it has one
_BY_CLAIM = ("by claim",)


def _tx(s: Session, job: Job, p: Principal | None = None) -> Tx:
    return Tx(session=s, principal=p or job.principal, key=job.deferred.key, fingerprint=job.deferred.fingerprint)
