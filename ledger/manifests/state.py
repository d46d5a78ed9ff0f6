"""The state machine's parts every step shares: the compare-and-set move, the signature event, the lines, the
signers' names, the rows a commit group reads once, and the marks other modules add to the records a manifest writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import bindparam, insert, update
from sqlmodel import Session, select

from ledger.accounts import User
from ledger.auth import Principal
from ledger.batches import Batch, lock_holdings
from ledger.cache import registry_get
from ledger.db import know_rows, known_row, mark_loaded
from ledger.errors import Conflict
from ledger.manifests.models import Manifest, ManifestEvent, ManifestLine, Where
from ledger.types import utcnow

# Other modules add fields to the bodies of the records a manifest writes: (session, manifest, kind, holding) ->
# dict. The collection side marks a collector's pass-through `collected: true` so roll-ups count it once.
record_marks: list = []


def marks_for(session: Session, m: Manifest, kind: str, holding: Batch) -> dict:
    out: dict = {}
    for fn in record_marks:
        out.update(fn(session, m, kind, holding) or {})
    return out


# ---- transitions -----------------------------------------------------------------------------------------

def person_name(session: Session, user_id: int | None, fallback: str) -> str:
    """A user's display name (a person's name on documents and ledger tables), else `fallback`."""
    user = registry_get(session, User, user_id) if user_id else None
    return user.display_name if user is not None else fallback


def signer_name(session: Session, m: Manifest, action: str) -> str | None:
    """The name of the person who signed `action` on the manifest."""
    known = known_row(session, "events", m.id)  # read with its commit group's (`read_for_group`)
    if known is not None:
        e = next((e for e in reversed(known) if e.action == action), None)
    else:
        e = session.execute(_SIGNER, {"manifest_id": m.id, "action": action}).first()
    return person_name(session, e.user_id, e.user_name) if e is not None else None


class EventRow(NamedTuple):
    """A signature event as the answers and the signers' names read it."""

    action: str
    from_status: str | None
    to_status: str | None
    user_id: int | None
    user_name: str
    unit_id: int | None
    at: datetime
    lat: float | None
    lon: float | None
    detail: dict


_E = ManifestEvent
_EVENT_ROWS = (select(_E.action, _E.from_status, _E.to_status, _E.user_id, _E.user_name, _E.unit_id, _E.at, _E.lat,
                      _E.lon, _E.detail, _E.manifest_id)
               .where(_E.manifest_id.in_(bindparam("ids", expanding=True))).order_by(_E.id))


def events_of(session: Session, m: Manifest) -> list[EventRow]:
    """The manifest's events in order, as rows (kept by its commit group, `read_for_group`, or read now)."""
    known = known_row(session, "events", m.id)
    if known is not None:
        return list(known)
    return [EventRow(*r[:-1]) for r in session.execute(_EVENT_ROWS, {"ids": [m.id]})]


# built once (every signature runs them): building a statement costs about as much Python as executing it
_SIGNER = (select(ManifestEvent.user_id, ManifestEvent.user_name)
           .where(ManifestEvent.manifest_id == bindparam("manifest_id"), ManifestEvent.action == bindparam("action"))
           .order_by(ManifestEvent.id.desc()).limit(1))
LINES_OF = select(ManifestLine).where(ManifestLine.manifest_id == bindparam("manifest_id")).order_by(ManifestLine.line_no)


# one INSERT built once: no step reads an event's id, so it is written at once, without an object to flush
_ADD_EVENT = insert(ManifestEvent.__table__)


def add_event(session: Session, m: Manifest, principal: Principal, action: str, before: str | None, after: str | None,
           unit_id: int | None, where: Where | None = None, **detail) -> None:
    e = EventRow(action=action, from_status=before, to_status=after, user_id=principal.user_id or None,
                 user_name=principal.username, unit_id=unit_id, at=utcnow(), lat=where.lat if where else None,
                 lon=where.lon if where else None, detail=detail)
    session.execute(_ADD_EVENT, {"manifest_id": m.id, **e._asdict()})
    known = known_row(session, "events", m.id)
    if known is not None:  # the group's rows stay current: the event as a read would return it (JSON, UTC)
        known.append(e._replace(detail=json.loads(json.dumps(detail)), at=e.at.astimezone(UTC)))


def move(session: Session, m: Manifest, *, expect: tuple[str, ...], to: str, **stamps) -> None:
    """Compare-and-set the status: one of two racing signatures wins, the other gets 409."""
    if m.status not in expect:
        raise Conflict(f"manifest {m.number} is {m.status}; this step needs {' or '.join(expect)}",
                       code="manifest.invalid_transition", details={"status": m.status, "expected": list(expect)})
    values = {"status": to, "version": m.version + 1, **stamps}
    result = session.execute(_move_statement(tuple(values)), {
        **{f"new_{k}": v for k, v in values.items()}, "manifest_id": m.id, "old_status": m.status, "old_version": m.version})
    if result.rowcount != 1:
        session.rollback()
        raise Conflict(f"manifest {m.number} was changed by someone else just now; reload it",
                       code="manifest.concurrent_change")
    mark_loaded(m, values)  # the row now holds exactly these (no column changes on update by itself)


_MOVES: dict[tuple[str, ...], object] = {}


def _move_statement(columns: tuple[str, ...]):  # noqa: ANN202
    """`UPDATE manifest SET <columns> WHERE id, status and version are as read`, built once per set of columns
    (each step sets its own stamps): building a statement costs about as much Python as executing it."""
    if columns not in _MOVES:
        _MOVES[columns] = (update(Manifest)
                           .where(Manifest.id == bindparam("manifest_id"), Manifest.status == bindparam("old_status"),
                                  Manifest.version == bindparam("old_version"))
                           .values({c: bindparam(f"new_{c}") for c in columns})
                           .execution_options(synchronize_session=False))
    return _MOVES[columns]


def touch(session: Session, m: Manifest) -> None:
    """Compare-and-set the manifest as it was read, its status unchanged (a step that keeps the status: a return
    confirmed after receipt, a revision's decision): its version moves, so a step that read it before loses."""
    move(session, m, expect=(m.status,), to=m.status)


def transition(session: Session, principal: Principal, m: Manifest, *, action: str, expect: tuple[str, ...],
                to: str, unit_id: int, where: Where | None = None, detail: dict | None = None, **stamps) -> Manifest:
    """Move the manifest (compare-and-set) and record the signature that moved it."""
    before = m.status
    move(session, m, expect=expect, to=to, **stamps)
    add_event(session, m, principal, action, before, m.status, unit_id, where, **(detail or {}))
    return m


def lines_of(session: Session, m: Manifest) -> list[ManifestLine]:
    known = known_row(session, "lines", m.id)  # read with its commit group's (`read_for_group`)
    return list(known) if known is not None else list(session.exec(LINES_OF, params={"manifest_id": m.id}).all())


# the manifests with their lines and the lines' labels, a row per line, in one statement (an ORM statement costs
# about twice the Python of a plain one, most of it before the first row)
_MANIFESTS_WITH_LINES = (select(Manifest, ManifestLine, Batch.digital_id, Batch.name)
                         .outerjoin(ManifestLine, ManifestLine.manifest_id == Manifest.id)
                         .outerjoin(Batch, Batch.id == ManifestLine.batch_id)
                         .where(Manifest.id.in_(bindparam("ids", expanding=True)))
                         .order_by(Manifest.id, ManifestLine.line_no)
                         .execution_options(populate_existing=True))


class Label(NamedTuple):
    """What a manifest's answer shows of a line's batch: its label's digital ID and the waste's name (neither
    changes once the batch is weighed)."""

    digital_id: str
    name: str


def know_manifest(session: Session, m: Manifest, lines: list[ManifestLine], events: list[EventRow],
                  labels: dict[int, Label]) -> None:
    """Keep a manifest this transaction has just read or written, with its lines, events and the labels of its
    batches, for what follows in it (`known_row`): the steps and the answer find them instead of reading them."""
    know_rows(session, "manifest", {m.id: m})
    know_rows(session, "lines", {m.id: lines})
    know_rows(session, "events", {m.id: events})
    know_rows(session, "labels", labels)


def read_for_group(session: Session, ids: list[int], *, lock: bool) -> dict[int, Manifest]:
    """The manifests a commit group's signatures act on, with their lines (and their batches' labels) and events,
    read in two statements and kept for the group's units of work (`ledger.db.know_rows`: `get_manifest`,
    `lines_of`, `events_of`, `signer_name` and the answer find them there; `add_event` adds to them). With `lock`
    (signatures that write records) the holdings on them are locked too, in id order, and kept for `lock_holdings`:
    every writer takes a holding before a chain head, so a group takes all of its holdings first."""
    manifests: dict[int, Manifest] = {}
    lines: dict[int, list[ManifestLine]] = {}
    labels: dict[int, Label] = {}
    for m, ln, digital_id, name in session.exec(_MANIFESTS_WITH_LINES, params={"ids": sorted(set(ids))}):
        manifests[m.id] = m
        lines.setdefault(m.id, [])
        if ln is not None:
            lines[m.id].append(ln)
            labels[ln.batch_id] = Label(digital_id, name)
    events: dict[int, list[EventRow]] = {mid: [] for mid in manifests}
    if manifests:  # plain rows: straight on the connection, past the ORM's handling of a statement
        for r in session.connection().execute(_EVENT_ROWS, {"ids": sorted(manifests)}):
            events[r.manifest_id].append(EventRow(*r[:-1]))
    know_rows(session, "manifest", manifests)
    know_rows(session, "lines", lines)
    know_rows(session, "events", events)
    know_rows(session, "labels", labels)
    if lock:
        know_rows(session, "holding", lock_holdings(session, sorted({ln.batch_id for v in lines.values() for ln in v})))
    return manifests
