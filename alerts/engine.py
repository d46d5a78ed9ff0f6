"""The engine: gathers facts, runs the rules, and opens, updates and closes alerts.

- One alert per (rule, subject) is not closed at any time (a partial unique index enforces it). A re-evaluation
  that finds the fact again updates the alert's evidence (and raises its tier if the fact got worse; tiers never
  drop by themselves).
- When a state rule's fact is gone, a low alert closes itself; a mid or high one is marked "fact cleared" and waits
  for the regulator. A state alert the regulator closed while its fact still held is not reopened until the fact has
  been gone once (no reopening loop). An event rule raises one alert per subject, ever.
- Event time: `install()` subscribes to the journal (`ledger.journal.subscribe`). Records reach the subscriber inside
  the writer's transaction; they are collected and evaluated once, just before that transaction commits
  (`before_commit`), so a request that writes several records (a weighing stored at once, a receipt of ten lines)
  is evaluated once, on its final state, in the same transaction. Only the rules a record kind can affect run,
  scoped to the units, facilities, manifests and batches touched. The evaluation runs in a SAVEPOINT: a failure in
  the alert layer is logged and never fails the ledger write (the scheduled scan catches up). When every gatherer
  it needs can tell from the transaction's known rows that its scope holds nothing (`alerts.facts`: idle), nothing
  is evaluated and no savepoint is opened.
- Scheduled time: `scan()` gathers every scanned rule over everything, reconciles, then checks deadlines.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, event, insert, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, select

from alerts import notify, routing
from alerts import settings as S
from alerts.facts import Clock, Gatherer, Scope
from alerts.facts import load_all as load_gatherers
from alerts.models import Alert, AlertAction, AlertOutbox
from alerts.rules import REGISTRY, TIER_ORDER, Finding, Rule
from alerts.rules import load_all as load_rules
from ledger import journal
from ledger.errors import Conflict
from ledger.journal import JournalRecord
from ledger.registry.models import Unit
from ledger.types import utcnow

log = logging.getLogger(__name__)
PENDING = "alerts.pending_records"
CHUNK = 500

load_rules()
GATHERERS = load_gatherers()


@dataclass
class Stats:
    findings: int = 0
    opened: int = 0
    updated: int = 0
    raised: int = 0
    cleared: int = 0
    closed: int = 0
    skipped: int = 0  # changes left for the next run because someone acted on the alert meanwhile
    by_rule: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# ---- evaluation ---------------------------------------------------------------------------------------------------

def evaluate(session: Session, rules: Iterable[Rule], *, now: datetime, scope: Scope | None = None,
             gatherers: Iterable[Gatherer] | None = None) -> list[Finding]:
    """Run each gatherer the rules need once (of `gatherers`, if given), and each rule on every fact of its type."""
    rules = list(rules)
    by_type: dict[type, list[Rule]] = defaultdict(list)
    for r in rules:
        by_type[r.fact].append(r)
    clock = Clock(now)
    findings: list[Finding] = []
    for g in GATHERERS if gatherers is None else gatherers:
        if not any(t in by_type for t in g.fact_types):
            continue
        for fact in g.fn(session, clock, scope):
            for r in by_type.get(type(fact), ()):
                findings.extend(r(fact))
    return findings


def evaluate_fact(session: Session, fact: object, *, now: datetime | None = None) -> Stats:
    """Raise the alerts one fact gives (a fact observed outside the journal, e.g. a refused pickup)."""
    rules = [r for r in REGISTRY.values() if r.fact is type(fact)]
    findings = [f for r in rules for f in r(fact)]
    return reconcile(session, findings, rules=rules, now=now or utcnow(), clear=False)


def record_refused_pickup(session: Session, *, manifest_id: int, labels: list[str], by: str,
                          now: datetime | None = None) -> Stats:
    """A pickup the ledger refused because scanned labels are not on the manifest: raise TRN-LABEL-MISMATCH."""
    from alerts.rules.transfer import RefusedPickup
    from ledger.manifests import Manifest

    now = now or utcnow()
    m = session.get(Manifest, manifest_id)
    if m is None or not labels:
        return Stats()
    fact = RefusedPickup(m.id, m.number, m.originator_id, m.hauler_id, tuple(labels), by, now)
    return evaluate_fact(session, fact, now=now)


# ---- reconciliation -----------------------------------------------------------------------------------------------

def _existing(session: Session, rule: Rule, subjects: list[str], *, everything: bool) -> list[Alert]:
    """The alerts a rule's findings are matched against (see the module docstring)."""
    relevant = Alert.rule == rule.code
    if rule.kind == "state":
        relevant = relevant & ((Alert.status != "closed") | Alert.fact_holds.is_(True))
    if everything:
        return list(session.exec(select(Alert).where(relevant)).all())
    out: list[Alert] = []
    for i in range(0, len(subjects), CHUNK):
        out.extend(session.exec(select(Alert).where(relevant, Alert.subject.in_(subjects[i:i + CHUNK]))).all())
    return out


def reconcile(session: Session, findings: list[Finding], *, rules: list[Rule], now: datetime, clear: bool) -> Stats:
    """Turn findings into alerts. `clear`: the findings are complete for these rules (the scan), so state alerts
    without a finding have lost their fact."""
    stats = Stats(findings=len(findings))
    by_rule: dict[str, dict[str, Finding]] = defaultdict(dict)
    for f in findings:
        prior = by_rule[f.rule].get(f.subject)
        if prior is None or TIER_ORDER[f.tier] >= TIER_ORDER[prior.tier]:
            by_rule[f.rule][f.subject] = f
    regions = _regions(session, {f.unit_id for f in findings})
    new: list[dict] = []
    evidence_updates: list[dict] = []
    for rule in rules:
        fs = by_rule.get(rule.code, {})
        stats.by_rule[rule.code] = len(fs)
        if not fs and not (clear and rule.kind == "state"):
            continue
        existing = _existing(session, rule, sorted(fs), everything=clear and rule.kind == "state")
        open_ = {a.subject: a for a in existing if a.status != "closed"}
        done = {a.subject for a in existing if a.status == "closed"}
        for subject, f in fs.items():
            a = open_.get(subject)
            if a is None:
                if subject not in done:
                    new.append(_new_alert(rule, f, regions[f.unit_id], now))
                continue
            evidence = _jsonable(f.evidence)
            if a.evidence != evidence or a.title != f.title or not a.fact_holds:
                evidence_updates.append({"b_id": a.id, "evidence": evidence, "title": f.title, "updated_at": now})
                stats.updated += 1
            if TIER_ORDER[f.tier] > TIER_ORDER[a.tier]:
                try:
                    _raise(session, a, f.tier, now)
                    stats.raised += 1
                except Conflict:  # someone acted on it meanwhile: the next evaluation raises it
                    stats.skipped += 1

        if clear and rule.kind == "state":
            for a in existing:
                if a.subject in fs or not a.fact_holds:
                    continue
                if a.status == "closed":  # closed while the fact held: re-arm, a new alert may open next time
                    session.execute(update(Alert).where(Alert.id == a.id).values(fact_holds=False))
                    continue
                try:
                    stats.closed += _clear(session, a, now)
                    stats.cleared += 1
                except Conflict:  # someone acted on it meanwhile: the next scan looks again
                    stats.skipped += 1
    if evidence_updates:
        t = Alert.__table__
        session.connection().execute(
            update(t).where(t.c.id == bindparam("b_id"))
            .values(evidence=bindparam("evidence"), title=bindparam("title"), updated_at=bindparam("updated_at"),
                    fact_holds=True), evidence_updates)
    if new:
        stats.opened = _insert(session, new, now)
    session.flush()
    return stats


def _jsonable(evidence: Any) -> dict:
    return json.loads(json.dumps(dict(evidence), ensure_ascii=False, default=str))


def _regions(session: Session, unit_ids: set[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    ids = sorted(unit_ids)
    for i in range(0, len(ids), CHUNK):
        out.update(session.execute(select(Unit.id, Unit.region_code).where(Unit.id.in_(ids[i:i + CHUNK]))).all())
    return out


_ALERT_COLUMNS = [c.name for c in Alert.__table__.columns if c.name != "id"]


def _new_alert(rule: Rule, f: Finding, region: str, now: datetime) -> dict:
    """The column values of a new alert (plain values: the bulk path builds no ORM objects)."""
    row = dict.fromkeys(_ALERT_COLUMNS)
    row.update(rule=rule.code, klass=rule.klass, tier=f.tier, opened_tier=f.tier, unit_id=f.unit_id,
               region_code=region, subject=f.subject, subject_kind=f.subject_kind, subject_id=f.subject_id,
               title=f.title[:300], evidence=_jsonable(f.evidence), fact_holds=True, overdue=False,
               possible_offence=False, version=1, opened_at=now, updated_at=now, **routing.start(f.tier, now))
    return row


def _insert(session: Session, rows: list[dict], now: datetime) -> int:
    """INSERT new alerts in one executemany, skipping any (rule, subject) another transaction opened meanwhile (the
    partial unique index: ON CONFLICT DO NOTHING), then their first actions and notifications. Returns how many."""
    table = Alert.__table__
    make = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (make(table).on_conflict_do_nothing(index_elements=["rule", "subject"],
                                               index_where=text("status != 'closed'"))
            .returning(table.c.id, table.c.rule, table.c.subject))
    conn = session.connection()
    ids = {(r, subject): aid for aid, r, subject in conn.execute(stmt, rows).all()}
    actions, outbox = [], []
    for row in rows:
        aid = ids.get((row["rule"], row["subject"]))
        if aid is None:
            continue
        a = SimpleNamespace(id=aid, **row)
        actions.append(routing.action_values(a, "open", now=now, rule=a.rule))
        if a.status == "pushed":
            actions.append(routing.action_values(a, "push", now=now, before="open", to="unit"))
        outbox.append(notify.outbox_values(a, "alert.opened", now))
    if actions:
        conn.execute(insert(AlertAction.__table__), actions)
        conn.execute(insert(AlertOutbox.__table__), outbox)
    return len(outbox)


def _raise(session: Session, a: Alert, tier: str, now: datetime) -> None:
    """The fact got worse: the alert takes the higher tier (and that tier's route)."""
    before, old = a.status, a.tier
    values = routing.retier({"updated_at": now}, status=a.status, new_tier=tier, now=now, escalation=False)
    routing.cas(session, a, **values)
    session.add(routing.action(a, "raise", now=now, before=before, from_tier=old, to_tier=tier))
    notify.enqueue(session, a, "alert.raised", now, from_tier=old)


def _clear(session: Session, a: Alert, now: datetime) -> int:
    """The fact is gone: a low alert closes itself, a mid/high one is marked and waits. Returns 1 when closed."""
    before = a.status
    if a.tier == "low":
        routing.cas(session, a, status="closed", resolution="fact_cleared", closed_at=now, fact_holds=False,
                    fact_cleared_at=now, overdue=False, deadline_at=None, updated_at=now)
        session.add(routing.action(a, "auto_close", now=now, before=before))
        notify.enqueue(session, a, "alert.closed", now)
        return 1
    routing.cas(session, a, fact_holds=False, fact_cleared_at=now, updated_at=now)
    session.add(routing.action(a, "fact_cleared", now=now, before=before))
    notify.enqueue(session, a, "alert.fact_cleared", now)
    return 0


# ---- the scheduled scan ------------------------------------------------------------------------------------------------

def scan(session: Session, *, now: datetime | None = None) -> dict[str, Any]:
    """Every scanned rule over everything, then the deadlines. One transaction (the caller commits)."""
    now = now or utcnow()
    rules = [r for r in REGISTRY.values() if r.scanned]
    findings = evaluate(session, rules, now=now)
    stats = reconcile(session, findings, rules=rules, now=now, clear=True).as_dict()
    stats.update(routing.check_deadlines(session, now=now))
    return stats


# ---- event time -------------------------------------------------------------------------------------------------------

_TRIGGERED: dict[str, list[Rule]] = defaultdict(list)
for _r in REGISTRY.values():
    for _kind in _r.triggers:
        _TRIGGERED[_kind].append(_r)


def _collect(session: Session, record: JournalRecord) -> None:
    """Journal subscriber: remember a record that can raise an alert, for the evaluation at commit (no query here:
    an ordinary weighing triggers nothing and costs nothing)."""
    body = record.body or {}
    if any(r.triggered_by(record.kind, body) for r in _TRIGGERED.get(record.kind, ())):
        session.info.setdefault(PENDING, []).append(record)


@dataclass(frozen=True)
class Plan:
    """What a transaction's records ask at its commit: the rules they can affect, the scope they touched, and the
    gatherers those rules need that might find something there."""

    rules: list[Rule]
    scope: Scope
    gatherers: list[Gatherer]


def plan_records(session: Session, records: list[JournalRecord]) -> Plan | None:
    """The evaluation the records ask for; None when there is nothing to evaluate: no rule they can affect, or every
    gatherer the rules need idle in their scope (told from the transaction's known rows and the registry cache,
    `alerts.facts`). Sends no statement."""
    rules: dict[str, Rule] = {}
    units, facilities, manifests, batches = set(), set(), set(), set()
    for rec in records:
        hit = [r for r in _TRIGGERED.get(rec.kind, ()) if r.triggered_by(rec.kind, rec.body or {})]
        if not hit:
            continue
        for r in hit:
            rules[r.code] = r
        units.add(rec.unit_id)
        for ids, value in ((facilities, rec.facility_id), (manifests, rec.manifest_id), (batches, rec.batch_id)):
            if value is not None:
                ids.add(value)
    if not rules:
        return None
    scope = Scope(frozenset(units), frozenset(facilities), frozenset(manifests), frozenset(batches))
    types = {r.fact for r in rules.values()}
    gatherers = [g for g in GATHERERS if types.intersection(g.fact_types)
                 and not (g.idle is not None and g.idle(session, scope))]
    return Plan(list(rules.values()), scope, gatherers) if gatherers else None


def evaluate_records(session: Session, records: list[JournalRecord], *, now: datetime | None = None,
                     plan: Plan | None = None) -> Stats:
    """The event-time rules the records can affect, scoped to what they touched (open/update only); `plan`: as
    `plan_records` made it already."""
    plan = plan or plan_records(session, records)
    if plan is None:
        return Stats()
    now = now or utcnow()
    findings = evaluate(session, plan.rules, now=now, scope=plan.scope, gatherers=plan.gatherers)
    if not findings:
        return Stats()
    return reconcile(session, findings, rules=plan.rules, now=now, clear=False)


def _before_commit(session: OrmSession) -> None:
    if session.in_nested_transaction():
        return  # a savepoint commits: wait for the transaction itself
    records = session.info.pop(PENDING, None)
    if not records or not _state["installed"]:
        return
    try:
        plan = plan_records(session, records)
        if plan is None:
            return  # nothing to evaluate: no statement, and no savepoint
        with session.begin_nested():
            evaluate_records(session, records, plan=plan)
    except Exception:  # noqa: BLE001 - the ledger write must not fail because of the alert layer
        if S.config().strict:
            raise
        log.exception("event-time alert evaluation failed; the scheduled scan will catch up")


def _forget(session: OrmSession, *_: object) -> None:
    session.info.pop(PENDING, None)


_state = {"installed": False, "listening": False}


def install() -> None:
    """Evaluate event-time rules in every writing transaction (idempotent; honours LEDGER_ALERTS_EVENT_RULES)."""
    if not S.config().event_rules:
        return
    if not _state["listening"]:
        event.listen(OrmSession, "before_commit", _before_commit)
        event.listen(OrmSession, "after_rollback", _forget)
        _state["listening"] = True
    journal.subscribe(_collect)
    journal.collected_per_savepoint(PENDING)  # a refused request's records raise nothing
    _state["installed"] = True


def uninstall() -> None:
    """Switch event-time rules off (benchmarks compare with and without them)."""
    journal.unsubscribe(_collect)
    _state["installed"] = False


def installed() -> bool:
    return _state["installed"]
