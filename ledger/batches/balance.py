"""The balance rules: what each record kind does to a holding's remaining, stored and in-transit mass
(`apply`), and `record`, which applies a record and appends it to the journal. Live writes and `rebuild` both go
through `apply`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlmodel import Session

from ledger import journal
from ledger.auth import Principal
from ledger.batches.models import Batch
from ledger.db import insert_loaded, mark_loaded, update_loaded
from ledger.errors import Conflict, InvalidInput
from ledger.journal import JournalRecord
from ledger.mass import g_to_kg


@dataclass(frozen=True)
class BatchState:
    net_g: int = 0
    remaining_g: int = 0
    stored_g: int = 0
    in_transit_g: int = 0
    storage_facility_id: int | None = None
    holder_unit_id: int | None = None
    stored_ever: bool = False

    @property
    def loose_g(self) -> int:
        """Held, not consumed, not in storage: what may be stored, used, disposed or loaded."""
        return self.remaining_g - self.stored_g

    @property
    def status(self) -> str:
        if self.in_transit_g > 0 and self.remaining_g == 0:
            return "in_transit"
        if self.remaining_g == 0:
            return "closed"
        if self.stored_g == self.remaining_g:
            return "stored"
        if self.stored_g > 0:
            return "partly_stored"
        return "retrieved" if self.stored_ever else "generated"


def _refuse(message: str, **details) -> Conflict:
    return Conflict(message, code="batch.insufficient_mass", details=details)


def apply(state: BatchState, *, kind: str, mass_g: int, unit_id: int, facility_id: int | None,
          body: dict, as_source: bool = False) -> BatchState:
    """What one record does to a holding's balances; refuses anything that would make a mass negative.

    `as_source` applies a receipt to the holding it came from (the shipped mass leaves transit, except the
    refused part, which stays in transit on the return leg) rather than to the new holding it creates.
    """
    if as_source and kind == "combined":  # a collected holding poured into a collection-centre lot
        if mass_g <= 0 or mass_g > state.loose_g:
            raise _refuse(f"only {g_to_kg(state.loose_g)} kg of this holding is out of storage to combine",
                          available_kg=str(g_to_kg(state.loose_g)))
        return replace(state, remaining_g=state.remaining_g - mass_g)
    if as_source:
        if kind not in ("received", "refused"):
            raise ValueError(f"a {kind} record has no effect on a source holding")
        settled = int(body["shipped_g"]) - int(body.get("refused_g", 0))
        if settled > state.in_transit_g:
            raise _refuse("the receipt settles more than is in transit", in_transit_g=state.in_transit_g)
        return replace(state, in_transit_g=state.in_transit_g - settled)
    if kind == "corrected":
        delta = int(body["to_g"]) - int(body["from_g"])
        original = body["corrects_kind"]
        if original == "generated":
            s = replace(state, net_g=state.net_g + delta, remaining_g=state.remaining_g + delta)
        elif original == "stored":
            s = replace(state, stored_g=state.stored_g + delta)
        elif original == "retrieved":
            s = replace(state, stored_g=state.stored_g - delta)
        elif original in ("used_in_house", "disposed_in_house"):
            s = replace(state, remaining_g=state.remaining_g - delta)
        else:
            raise Conflict(f"records of kind {original} are amended by their manifest, not by a correction",
                           code="correction.not_allowed")
        if s.remaining_g < 0 or s.stored_g < 0 or s.stored_g > s.remaining_g:
            raise _refuse("this correction would leave a negative or inconsistent balance: correct the later "
                          "records first", remaining_g=s.remaining_g, stored_g=s.stored_g)
        return s
    if kind == "generated":
        return BatchState(net_g=mass_g, remaining_g=mass_g, holder_unit_id=unit_id)
    if mass_g <= 0:
        raise InvalidInput("mass must be more than 0", field="mass_kg")
    if kind == "stored":
        if mass_g > state.loose_g:
            raise _refuse(f"only {g_to_kg(state.loose_g)} kg of this batch is outside storage",
                          available_kg=str(g_to_kg(state.loose_g)))
        if state.stored_g and state.storage_facility_id != facility_id:
            raise Conflict(f"part of this batch is stored in facility {state.storage_facility_id}; retrieve it "
                           "before storing elsewhere", code="batch.stored_elsewhere")
        return replace(state, stored_g=state.stored_g + mass_g, storage_facility_id=facility_id, stored_ever=True)
    if kind == "retrieved":
        if mass_g > state.stored_g:
            raise _refuse(f"only {g_to_kg(state.stored_g)} kg of this batch is in storage",
                          available_kg=str(g_to_kg(state.stored_g)))
        stored = state.stored_g - mass_g
        return replace(state, stored_g=stored, storage_facility_id=state.storage_facility_id if stored else None)
    if kind in ("used_in_house", "disposed_in_house", "shipped"):
        if mass_g > state.loose_g:
            raise _refuse(f"only {g_to_kg(state.loose_g)} kg of this batch is out of storage; retrieve it first",
                          available_kg=str(g_to_kg(state.loose_g)))
        s = replace(state, remaining_g=state.remaining_g - mass_g)
        return replace(s, in_transit_g=s.in_transit_g + mass_g) if kind == "shipped" else s
    if kind == "combined":  # the lot holding gains each source's mass
        return replace(state, net_g=state.net_g + mass_g, remaining_g=state.remaining_g + mass_g,
                       holder_unit_id=unit_id)
    if kind == "received":  # the new holding at the receiver: what it accepted
        return BatchState(net_g=mass_g, remaining_g=mass_g, holder_unit_id=unit_id)
    if kind == "returned":  # the refused mass is back with the holding it left
        if mass_g > state.in_transit_g:
            raise _refuse("more is returned than is on the return leg", in_transit_g=state.in_transit_g)
        return replace(state, in_transit_g=state.in_transit_g - mass_g, remaining_g=state.remaining_g + mass_g)
    raise ValueError(f"unknown record kind {kind}")


@dataclass
class Move:
    """A checked move of a holding (入库, 出库, 自行利用/处置), before its record code and chain link are allocated."""

    principal: Principal
    batch: Batch
    kind: str  # stored | retrieved | used_in_house | disposed_in_house
    facility_id: int | None
    mass: int
    occurred: datetime
    body: dict
    state: BatchState  # the holding's state after this move


def signed_by(principal: Principal) -> dict:
    """Who was logged in when a record was written, and through which token (hashed with the record, beside the
    `actor_name` the terminal or the person typed)."""
    by = {"user_id": principal.user_id or None, "username": principal.username, "token_id": principal.token_id}
    if principal.extra.get("consent_id"):  # a collector's user acting for a small producer (auth.act_for_producer)
        by.update(consent_id=principal.extra["consent_id"], for_collector_id=principal.extra["collector_id"])
    return by


def state_of(b: Batch) -> BatchState:
    return BatchState(net_g=b.net_g, remaining_g=b.remaining_g, stored_g=b.stored_g, in_transit_g=b.in_transit_g,
                      storage_facility_id=b.storage_facility_id, holder_unit_id=b.holder_unit_id,
                      stored_ever=b.stored_ever)


def put_state(b: Batch, s: BatchState) -> None:
    b.net_g, b.remaining_g, b.stored_g, b.in_transit_g = s.net_g, s.remaining_g, s.stored_g, s.in_transit_g
    b.storage_facility_id, b.holder_unit_id, b.stored_ever, b.status = (
        s.storage_facility_id, s.holder_unit_id, s.stored_ever, s.status)


_STATE_COLUMNS = ("net_g", "remaining_g", "stored_g", "in_transit_g", "storage_facility_id", "holder_unit_id",
                  "stored_ever", "status")


def _columns(st: BatchState) -> dict:
    return {c: getattr(st, c) for c in _STATE_COLUMNS}


def write_states(session: Session, states: list[tuple[Batch, BatchState]]) -> None:
    """Write holdings' new balances: the last state given for each holding, in one prebuilt UPDATE (executemany),
    in the order given (`ledger.db.update_loaded`). A holding the transaction created and has not yet written (no
    id) takes its balances into its INSERT instead (`insert_loaded`).

    The rows are locked already (`lock_holdings`); no ORM unit of work is involved: each object is left holding
    these values as if loaded with them. A rolled-back savepoint therefore cannot expire them: whoever writes a
    holding reads it afresh and locked (`lock_holdings`), and a commit group empties its session
    after a refused unit of work (`api.grouping`)."""
    last: dict[int, tuple[Batch, BatchState]] = {}
    for b, st in states:
        if b.id is None:  # new: one INSERT with its balances, and it joins the session as if loaded
            put_state(b, st)
            insert_loaded(session, [b])
        else:
            last[b.id] = (b, st)
    update_loaded(session, [(b, _columns(st)) for b, st in last.values()])


def show_state(b: Batch, st: BatchState) -> None:
    """The object holds these balances as if loaded with them (nothing for the ORM to write)."""
    mark_loaded(b, _columns(st))


def record(session: Session, b: Batch | None, *, kind: str, unit_id: int, principal: Principal, actor_name: str,
           occurred_at: datetime, mass_g: int, facility_id: int | None = None, manifest_id: int | None = None,
           record_code: str | None = None, corrects_id: int | None = None, body: dict | None = None,
           source: Batch | None = None) -> JournalRecord:
    """Apply a record to a (locked) holding, and to its source holding if any, and append it to the journal.

    The balances are written before the record takes the unit's chain head (the rows are locked already): the
    head, held from here to COMMIT, is taken last. In a commit group of units of work the record waits, and the
    group appends every one at its end (`journal.appends_deferred`). A holding created for this record (a receipt's
    `split_holding`) is inserted with its balances."""
    body = {**(body or {}), "by": signed_by(principal)}
    states = []
    if b is not None:
        states.append((b, apply(state_of(b), kind=kind, mass_g=mass_g, unit_id=unit_id, facility_id=facility_id,
                                body=body)))
    if source is not None:
        states.append((source, apply(state_of(source), kind=kind, mass_g=mass_g, unit_id=unit_id,
                                     facility_id=facility_id, body=body, as_source=True)))
    write_states(session, states)
    return journal.append(session, unit_id=unit_id, kind=kind, actor_id=principal.user_id or None,
                          actor_name=actor_name, occurred_at=occurred_at, batch_id=b.id if b else None,
                          source_batch_id=source.id if source else None, mass_g=mass_g, facility_id=facility_id,
                          manifest_id=manifest_id, record_code=record_code, corrects_id=corrects_id, body=body)
