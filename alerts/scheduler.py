"""The in-process scheduler: the scan (hourly by default) and webhook deliveries (every 15 s).

APScheduler 3.x with its job store in the database (SQLAlchemyJobStore, table `apscheduler_jobs`): a restart keeps
the schedule, and a run missed while the service was down is made once (coalesced) when it comes back.

Exactly one process runs the jobs when several share a PostgreSQL database: each process tries to take a session
advisory lock (`pg_try_advisory_lock`) on a connection it keeps open; the one that holds it is the leader and starts
the scheduler, the others wait and retry every few seconds. If the leader dies its connection closes, the lock is
released and a standby takes over. As a second guard each scan claims its tick in `alert_scan` (unique), so a tick
is scanned once even across a hand-over. On SQLite the leader holds an exclusive lock on a file beside the database
(`<db>.scheduler.lock`, released by the OS when the process dies), so several workers on one file elect one too.
"""

from __future__ import annotations

import fcntl
import logging
import math
import os
import socket
import threading
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import select

from alerts import notify
from alerts import settings as S
from alerts.models import AlertScan
from ledger.db import is_sqlite, session_scope
from ledger.types import utcnow

log = logging.getLogger(__name__)
SCAN_JOB, DELIVER_JOB = "alerts-scan", "alerts-deliver"
_current: dict = {}  # the engine and intervals the jobs of this process use (not pickled into the job store)


def runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim_tick(engine: Engine, *, interval_s: int, now: datetime | None = None) -> AlertScan | None:
    """Record that this runner scans the current tick; None when someone already did."""
    now = now or utcnow()
    tick = datetime.fromtimestamp(math.floor(now.timestamp() / interval_s) * interval_s, tz=UTC)
    with session_scope(engine) as s:
        if s.exec(select(AlertScan.id).where(AlertScan.tick == tick)).first() is not None:
            return None
        row = AlertScan(tick=tick, started_at=now, runner=runner_name())
        s.add(row)
        try:
            s.flush()
        except Exception:  # noqa: BLE001 - the unique tick: another runner got there first
            s.rollback()
            return None
    return row


def run_scan() -> dict | None:
    """The scan job: claim the tick, scan in one transaction, record what was found."""
    from alerts.engine import scan

    engine, interval = _current["engine"], _current["scan_seconds"]
    _current["runs"] = _current.get("runs", 0) + 1
    row = claim_tick(engine, interval_s=interval)
    if row is None:
        log.info("alert scan: tick already scanned by another runner")
        return None
    t0 = utcnow()
    with session_scope(engine) as s:
        stats = scan(s, now=t0)
    with session_scope(engine) as s:
        r = s.get(AlertScan, row.id)
        r.finished_at = utcnow()
        r.stats = {**stats, "seconds": round((r.finished_at - t0).total_seconds(), 3)}
        s.add(r)
    log.info("alert scan: %s", stats)
    return stats


def run_deliveries() -> None:
    """The delivery job: fan out the outbox and send what is due."""
    stats = notify.dispatch(_current["engine"])
    if stats.sent:
        log.info("webhooks: %s", stats)


class AlertScheduler:
    """Leader election plus an APScheduler BackgroundScheduler started only while this process leads."""

    def __init__(self, engine: Engine, *, scan_seconds: int | None = None, deliver_seconds: int | None = None,
                 poll_seconds: float = S.LEADER_POLL_S):
        cfg = S.config()
        self.engine = engine
        self.scan_seconds = scan_seconds or cfg.scan_seconds
        self.deliver_seconds = deliver_seconds or cfg.deliver_seconds
        self.poll_seconds = poll_seconds
        self.scheduler: BackgroundScheduler | None = None
        self._conn: Connection | None = None
        self._lock_file = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def leading(self) -> bool:
        return self.scheduler is not None and self.scheduler.running

    def start(self) -> None:
        _current.update(engine=self.engine, scan_seconds=self.scan_seconds)
        self._thread = threading.Thread(target=self._loop, name="alerts-leader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._resign()

    # -- leadership -------------------------------------------------------------------------------------------

    def _try_lock(self) -> bool:
        if is_sqlite(self.engine):
            return self._try_file_lock()
        try:
            if self._conn is None:
                self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            return bool(self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                           {"k": S.ADVISORY_LOCK_KEY}).scalar())
        except Exception:  # noqa: BLE001 - the database is away: stay a standby and retry
            log.exception("alert scheduler: could not try the leader lock")
            self._drop_conn()
            return False

    def _still_leading(self) -> bool:
        if is_sqlite(self.engine):
            return True
        try:
            self._conn.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - the lock went with the connection
            log.warning("alert scheduler: lost the leader connection; stepping down")
            return False

    def _try_file_lock(self) -> bool:
        path = self.engine.url.database
        if not path or path == ":memory:":
            return True
        if self._lock_file is None:
            self._lock_file = open(f"{path}.scheduler.lock", "a")  # noqa: SIM115 - held while leading
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False

    def _drop_conn(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001
                pass
            self._conn = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self.scheduler is None:
                if self._try_lock():
                    self._lead()
            elif not self._still_leading():
                self._resign()
            self._stop.wait(self.poll_seconds)

    def _lead(self) -> None:
        log.info("alert scheduler: %s leads (scan every %ss, deliveries every %ss)", runner_name(),
                 self.scan_seconds, self.deliver_seconds)
        sched = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.engine, tablename="apscheduler_jobs")},
            executors={"default": ThreadPoolExecutor(2)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone="Asia/Shanghai")
        sched.start(paused=True)
        for job_id, fn, seconds in ((SCAN_JOB, run_scan, self.scan_seconds),
                                    (DELIVER_JOB, run_deliveries, self.deliver_seconds)):
            job = sched.get_job(job_id)
            if job is None or getattr(job.trigger, "interval", None) is None or \
                    job.trigger.interval.total_seconds() != seconds:
                # a new schedule starts soon after start-up; an existing one keeps the times kept in the database
                sched.add_job(fn, "interval", seconds=seconds, id=job_id, replace_existing=True,
                              misfire_grace_time=seconds,
                              next_run_time=datetime.now(UTC) + timedelta(seconds=min(seconds, 10)))
        sched.resume()
        self.scheduler = sched

    def _resign(self) -> None:
        if self.scheduler is not None:
            try:
                self.scheduler.shutdown(wait=True)
            except Exception:  # noqa: BLE001
                log.exception("alert scheduler: shutdown failed")
            self.scheduler = None
        if self._lock_file is not None:
            self._lock_file.close()  # releases the file lock
            self._lock_file = None
        if self._conn is not None and not is_sqlite(self.engine):
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": S.ADVISORY_LOCK_KEY})
            except Exception:  # noqa: BLE001
                pass
        self._drop_conn()


def enabled(env: str) -> bool:
    """Whether the app should run the scheduler: LEDGER_ALERTS_SCHEDULER, else on unless LEDGER_ENV=test."""
    flag = S.config().scheduler
    return (env != "test") if flag is None else flag
