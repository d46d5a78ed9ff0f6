"""Webhook delivery against a real local HTTP server: the receiver goes away and comes back and every notification
arrives exactly once by its delivery id; a crash between the alert's commit and the delivery loses nothing; a
failing endpoint is disabled after N failed runs and resumes when re-enabled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlmodel import func, select

from alerts import notify
from alerts import settings as S
from alerts.models import AlertOutbox, WebhookDelivery, WebhookSubscription
from ledger.types import clock_at
from tests.alerts import world as w

ROOT = Path(__file__).resolve().parents[2]


class Receiver:
    """A webhook endpoint on a fixed local port that can be stopped and started again; it drops repeats by id."""

    def __init__(self, secret: str = "") -> None:
        self.secret = secret
        self.raw: list[dict] = []  # every POST that reached it
        self.seen: dict[str, dict] = {}  # by delivery id: what it kept
        self.fail_once: set[str] = set()  # event names whose first delivery is "lost" (kept, but answered 500)
        self.server: ThreadingHTTPServer | None = None
        self.port = 0

    def start(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                did = self.headers[notify.DELIVERY_HEADER]
                ok = notify.verify(outer.secret, body, self.headers[notify.SIGNATURE_HEADER])
                payload = json.loads(body)
                outer.raw.append({"id": did, "signed": ok, "event": payload["event"]})
                outer.seen.setdefault(did, payload)
                status = 200 if ok else 401
                if payload["event"] in outer.fail_once:
                    outer.fail_once.discard(payload["event"])
                    status = 500  # the reply is lost: the sender must try again, the receiver must drop the repeat
                self.send_response(status)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
def receiver():  # noqa: ANN201
    r = Receiver()
    r.start()
    yield r
    r.stop()


@pytest.fixture
def plant(db):  # noqa: ANN001, ANN201
    with clock_at(w.at(800)):
        p = w.unit(db, name="明泉化工")
        gen = w.facility(db, p, kind="generation", code="CS-01", name="车间")
        w.plan(db, p, 2025, {"900-249-08": "100000"})
        db.commit()
    return {"unit": p, "gen": gen}


def subscribe(db, unit_id: int, url: str) -> WebhookSubscription:  # noqa: ANN001
    sub = WebhookSubscription(unit_id=unit_id, url=url, secret=notify.new_secret())
    db.add(sub)
    db.commit()
    return sub




def look(session):  # noqa: ANN001, ANN201
    """The reading session at the latest committed state (it never holds SQLite's write lock)."""
    session.rollback()
    return session


def test_receiver_down_and_back_every_notification_arrives_exactly_once(db, session, engine, plant, receiver):  # noqa: ANN001
    sub = subscribe(db, plant["unit"], receiver.url)
    receiver.secret = sub.secret
    w.weigh(db, plant["unit"], plant["gen"], when=w.at(3), kg="10", code="900-041-49")  # GEN-NOT-IN-PLAN opened
    t = w.NOW
    stats = notify.dispatch(engine, now=t)
    assert (stats.fanned_out, stats.delivered) == (1, 1)

    receiver.stop()  # the endpoint goes away
    for i, code in enumerate(("900-252-12", "900-251-12", "900-250-12")):
        w.weigh(db, plant["unit"], plant["gen"], when=w.at(2 - i * 0.1), kg="10", code=code)
    stats = notify.dispatch(engine, now=t + timedelta(minutes=1))
    assert (stats.sent, stats.failed, stats.delivered) == (1, 1, 0)  # one failure for the subscription, not three
    assert notify.dispatch(engine, now=t + timedelta(minutes=1, seconds=10)).sent == 0  # backing off (30 s)
    assert look(session).get(WebhookSubscription, sub.id).consecutive_failures == 1

    receiver.start()  # back on the same port; the first reply it sends is lost on the way back
    receiver.fail_once.add("alert.opened")
    n = 0
    later = t + timedelta(minutes=2)
    while notify.pending_for(look(session), sub.id) and n < 10:
        notify.dispatch(engine, now=later)
        later += timedelta(minutes=5)
        n += 1
    deliveries = look(session).exec(select(WebhookDelivery)).all()
    assert len(deliveries) == 4 and all(d.status == "delivered" for d in deliveries)
    assert set(receiver.seen) == {d.id for d in deliveries}  # every delivery id arrived …
    assert len(receiver.raw) == 5  # … one of them twice (its first reply was lost), and the repeat was dropped
    assert all(r["signed"] for r in receiver.raw)
    outbox = session.exec(select(AlertOutbox.alert_id)).all()
    assert sorted(p["alert"]["id"] for p in receiver.seen.values()) == sorted(outbox) and len(outbox) == 4
    assert all(p["version"] == S.WEBHOOK_PAYLOAD_VERSION and p["event"] == "alert.opened"
               for p in receiver.seen.values())
    assert look(session).get(WebhookSubscription, sub.id).consecutive_failures == 0


def test_a_failing_endpoint_is_disabled_and_resumes_when_re_enabled(db, session, engine, plant, receiver):  # noqa: ANN001
    sub = subscribe(db, plant["unit"], receiver.url)
    receiver.secret = sub.secret
    receiver.stop()
    w.weigh(db, plant["unit"], plant["gen"], when=w.at(3), kg="10", code="900-041-49")
    now = w.NOW
    for _ in range(S.WEBHOOK_MAX_FAILURES):
        now += timedelta(seconds=S.WEBHOOK_BACKOFF_MAX_S + 1)
        notify.dispatch(engine, now=now)
    s = look(session).get(WebhookSubscription, sub.id)
    assert (s.active, s.consecutive_failures) == (False, S.WEBHOOK_MAX_FAILURES) and s.disabled_reason
    assert notify.dispatch(engine, now=now + timedelta(days=1)).sent == 0  # disabled: nothing is sent
    receiver.start()
    db.expire_all()
    notify.enable(db, db.get(WebhookSubscription, sub.id), now=now + timedelta(days=1))
    db.commit()
    assert notify.dispatch(engine, now=now + timedelta(days=1)).delivered == 1
    assert len(receiver.seen) == 1


CRASH = """
import os, sys
from datetime import datetime
sys.path.insert(0, {root!r})
from ledger.db import get_engine
from sqlmodel import Session
from alerts import engine as alert_engine
from ledger.types import clock_at
from tests.alerts import world as w
alert_engine.install()
with Session(get_engine({url!r})) as s:
    w.weigh(s, {unit}, {gen}, when=w.at(1), kg="12", code="900-041-49")  # commits: the alert and its outbox row
os._exit(17)  # the process dies before any delivery
"""


def test_a_crash_after_the_commit_loses_no_notification(db, session, engine, plant, receiver, db_url):  # noqa: ANN001
    sub = subscribe(db, plant["unit"], receiver.url)
    receiver.secret = sub.secret
    script = CRASH.format(root=str(ROOT), url=db_url, unit=plant["unit"], gen=plant["gen"])
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "LEDGER_ENV": "test"})
    assert proc.returncode == 17, proc.stderr
    assert look(session).exec(select(func.count()).select_from(AlertOutbox)).one() == 1  # committed with the alert
    assert session.exec(select(func.count()).select_from(WebhookDelivery)).one() == 0  # nothing was sent
    session.rollback()
    stats = notify.dispatch(engine, now=w.NOW)  # "after restart": another process delivers it
    assert stats.delivered == 1
    (payload,) = receiver.seen.values()
    assert payload["event"] == "alert.opened" and payload["alert"]["rule"] == "GEN-NOT-IN-PLAN"


def test_signatures_reject_tampering_and_replays():
    body = b'{"id":"x"}'
    header = notify.sign("whsec_k", body, 1_700_000_000)
    assert notify.verify("whsec_k", body, header, now=1_700_000_100)
    assert not notify.verify("whsec_k", body + b" ", header, now=1_700_000_100)
    assert not notify.verify("whsec_other", body, header, now=1_700_000_100)
    assert not notify.verify("whsec_k", body, header, now=1_700_001_000)  # older than 5 minutes
    assert not notify.verify("whsec_k", body, "garbage", now=1_700_000_100)


def test_a_filing_that_needs_the_firms_action_reaches_its_own_webhooks_only(db, engine, plant, receiver):  # noqa: ANN001
    from ledger.filings import inbox

    if notify.enqueue_inbox_event not in inbox.sinks:  # the API installs it at import; be explicit here
        inbox.subscribe(notify.enqueue_inbox_event)
    mine = subscribe(db, plant["unit"], receiver.url)
    receiver.secret = mine.secret
    region = WebhookSubscription(region_prefix="37", url=receiver.url + "?region", secret=notify.new_secret())
    db.add(region)
    db.commit()
    inbox.notify(db, unit_id=plant["unit"], kind="plan.returned", title="2025 年管理计划被退回：请补充接收单位",
                 subject=("plan", 1), data={"year": 2025})
    db.commit()
    stats = notify.dispatch(engine, now=w.at(900))
    assert stats.sent == 1
    (got,) = receiver.seen.values()
    assert got["event"] == "inbox.plan.returned" and got["inbox"]["unit_id"] == plant["unit"]
    assert got["inbox"]["needs_action"] is True and [r["signed"] for r in receiver.raw] == [True]
