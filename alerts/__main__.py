"""`python -m alerts scan | deliver | scheduler`: one scan now, one delivery run, or the scheduler in the foreground.

The database is LEDGER_DATABASE_URL (or --database-url). `scheduler` prints one line per scan job it runs
(`SCAN <tick> claimed|skipped`) and `LEADER` when it takes the lead, so several of them can be watched side by side.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

from alerts import engine, notify, scheduler
from ledger.db import get_engine, session_scope


def _scan(url: str | None) -> None:
    with session_scope(get_engine(url)) as s:
        print(json.dumps(engine.scan(s), ensure_ascii=False, default=str))


def _deliver(url: str | None) -> None:
    print(notify.dispatch(get_engine(url)))


def _run_scheduler(url: str | None, *, scan_seconds: int, deliver_seconds: int, poll: float, duration: float | None
                   ) -> None:
    db = get_engine(url)
    original = scheduler.claim_tick

    def claim(eng, **kw):  # noqa: ANN001, ANN202 - report each scan job on stdout
        row = original(eng, **kw)
        print(f"SCAN {'claimed' if row else 'skipped'} {row.tick.isoformat() if row else ''}", flush=True)
        return row

    scheduler.claim_tick = claim
    runner = scheduler.AlertScheduler(db, scan_seconds=scan_seconds, deliver_seconds=deliver_seconds,
                                      poll_seconds=poll)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    runner.start()
    announced = False
    while not stop.wait(0.1):
        if runner.leading and not announced:
            print(f"LEADER {scheduler.runner_name()}", flush=True)
            announced = True
        if duration is not None:
            duration -= 0.1
            if duration <= 0:
                break
    runner.stop()
    print(f"STOPPED runs={scheduler._current.get('runs', 0)}", flush=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m alerts", description=__doc__)
    p.add_argument("command", choices=("scan", "deliver", "scheduler"))
    p.add_argument("--database-url", default=None)
    p.add_argument("--scan-seconds", type=int, default=None)
    p.add_argument("--deliver-seconds", type=int, default=None)
    p.add_argument("--poll", type=float, default=5.0, help="seconds between a standby's tries to lead")
    p.add_argument("--for", dest="duration", type=float, default=None, help="stop after this many seconds")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if a.command == "scan":
        _scan(a.database_url)
    elif a.command == "deliver":
        _deliver(a.database_url)
    else:
        from alerts.settings import config

        cfg = config()
        _run_scheduler(a.database_url, scan_seconds=a.scan_seconds or cfg.scan_seconds,
                       deliver_seconds=a.deliver_seconds or cfg.deliver_seconds, poll=a.poll, duration=a.duration)


if __name__ == "__main__":
    main()
