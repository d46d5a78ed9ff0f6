"""What each journal record adds to the period balances: the same rules written twice, once in Python (posting, in
the writer's transaction) and once in SQL (rebuild and drill-down, set-based). `wasteledger rebuild` compares the
two, so a disagreement between them, or a balance row edited behind the service's back, shows up.

The rules (DOMAIN.md "Counting rules"; record semantics from `ledger.batches.apply`):

- the month is the Asia/Shanghai month of the record's `occurred_at`; a `corrected` record counts in the month, at
  the facility and under the method of the record it corrects, for the flow of that record's kind, by its delta;
- a holding is "own" when it is a root batch (the unit generated it) and "received" when a receipt split it off;
- `generated` → generated; `stored`/`retrieved` → stored/retrieved at the storage facility;
- `used_in_house`/`disposed_in_house` → used/disposed (own) or proc_util/proc_disp (received), by body.method;
- `shipped` → sent_util/sent_disp (own) or fwd_util/fwd_disp (received) by body.counts_as_utilisation, under the
  planned method, with the receiver as counterparty;
- `returned` → returned_util/returned_disp (own) or fwd_returned_* (received), as the shipment it comes back from;
- `received` → received (accepted mass), transit_diff (body.transit_difference_g), refused (body.refused_g), with the
  originator as counterparty; a whole `refused` record → refused;
- "prior" (往年贮存量): the holding was generated (own) or received (received holding: the holding is created by
  the receipt, so its `created_at` is the receipt time) in an earlier calendar year than the month, for every
  utilisation and disposal flow and for returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import (
    BigInteger,
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.sql import ColumnElement, Select

from ledger.rollups.models import FLOW_COLUMNS, LIVE, ORIGINS, waste_kind
from ledger.types import UTCDateTime
from ledger.workdays import SHANGHAI

CONSUMED = ("used_in_house", "disposed_in_house")


# ---- Python (posting) --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Holding:
    """What the rules need of a record's batch row."""

    waste_code: str
    received: bool  # split off by a receipt (parent_id set)
    source_year: int | None  # Shanghai year of generation (own) or of receipt (received holding: its creation)


def yyyymm(at: datetime) -> int:
    local = at.astimezone(SHANGHAI)
    return local.year * 100 + local.month


def origin_of(body: dict) -> int:
    source = body.get("source") if isinstance(body, dict) else None
    return ORIGINS.get(source.get("kind"), LIVE) if isinstance(source, dict) else LIVE


def classify(*, kind: str, unit_id: int, occurred_at: datetime, facility_id: int | None, mass_g: int, body: dict,
             holding: Holding, original: dict | None = None, shipped_body: dict | None = None
             ) -> tuple[tuple, dict[str, int]]:
    """The balance key and the flows (column → grams) of one record.

    `original` is the corrected record ({kind, occurred_at, facility_id, body}) for a `corrected` record;
    `shipped_body` is the body of the `shipped` record a `returned` record comes back from.
    """
    origin = origin_of(body)
    ebody = body
    if kind == "corrected":
        kind, occurred_at, facility_id, ebody = (original["kind"], original["occurred_at"], original["facility_id"],
                                                 original["body"])
    shipped_body = shipped_body or {}
    month = yyyymm(occurred_at)
    prior = holding.source_year is not None and holding.source_year < month // 100
    method, counterparty, flows = "", 0, {}
    util = None
    if kind in ("shipped", "returned"):
        util = ebody.get("counts_as_utilisation")
        if util is None:
            util = shipped_body.get("counts_as_utilisation")
        util = bool(util)
        method = ebody.get("planned_method") or shipped_body.get("planned_method") or ""
        counterparty = ebody.get("receiver_id") or shipped_body.get("receiver_id") or 0
    elif kind in CONSUMED:
        method = ebody.get("method") or ""
    elif kind in ("received", "refused"):
        counterparty = ebody.get("originator_id") or 0

    def add(col: str, grams: int, with_prior: bool = False) -> None:
        if grams:
            flows[col] = flows.get(col, 0) + grams
            if with_prior and prior:
                flows[col.removesuffix("_g") + "_prior_g"] = flows.get(col.removesuffix("_g") + "_prior_g", 0) + grams

    if kind == "generated":
        add("generated_g", mass_g)
    elif kind == "stored":
        add("stored_g", mass_g)
    elif kind == "retrieved":
        add("retrieved_g", mass_g)
    elif kind == "used_in_house":
        add("proc_util_g" if holding.received else "used_g", mass_g, True)
    elif kind == "disposed_in_house":
        add("proc_disp_g" if holding.received else "disposed_g", mass_g, True)
    elif kind == "shipped":
        if holding.received:
            add("fwd_util_g" if util else "fwd_disp_g", mass_g)
        else:
            add("sent_util_g" if util else "sent_disp_g", mass_g, True)
    elif kind == "returned":
        if holding.received:
            add("fwd_returned_util_g" if util else "fwd_returned_disp_g", mass_g)
        else:
            add("returned_util_g" if util else "returned_disp_g", mass_g, True)
    elif kind == "received":
        add("received_g", mass_g)
        add("transit_diff_g", int(ebody.get("transit_difference_g") or 0))
        add("refused_g", int(ebody.get("refused_g") or 0))
    elif kind == "refused":
        add("refused_g", int(ebody.get("refused_g") or 0))
    elif kind == "combined":
        pass  # a collection-centre lot: received holdings poured into one, the unit's stock is unchanged
    else:
        raise ValueError(f"no balance rule for a {kind} record")
    key = (unit_id, month, facility_id or 0, holding.waste_code, int(counterparty), method, origin)
    return key, flows


def key_row(key: tuple, flows: dict[str, int]) -> dict:
    """A full balance row (every flow column, zero when absent) for the upsert."""
    unit_id, month, facility_id, waste_code, counterparty_id, method, origin = key
    row = {"unit_id": unit_id, "month": month, "facility_id": facility_id, "waste_code": waste_code,
           "counterparty_id": counterparty_id, "method": method, "origin": origin, "kind": waste_kind(waste_code)}
    row.update({c: flows.get(c, 0) for c in FLOW_COLUMNS})
    return row


# ---- SQL (rebuild, drill-down, partial months) --------------------------------------------------------------------

def local_month(dialect: str, at: ColumnElement) -> ColumnElement:
    """YYYYMM of a UTC timestamp column in Asia/Shanghai (no daylight saving since 1991: a fixed +8 on SQLite)."""
    if dialect == "postgresql":
        return cast(func.to_char(func.timezone("Asia/Shanghai", at), "YYYYMM"), Integer)
    return cast(func.strftime("%Y%m", at, "+8 hours"), Integer)


def local_year(dialect: str, at: ColumnElement) -> ColumnElement:
    if dialect == "postgresql":
        return cast(func.to_char(func.timezone("Asia/Shanghai", at), "YYYY"), Integer)
    return cast(func.strftime("%Y", at, "+8 hours"), Integer)


@lru_cache(maxsize=4)
def flow_source(dialect: str):  # noqa: ANN201
    """One row per journal record with everything the rules need, to select flows from (`.subquery("x")`).

    Columns: record_id, record_kind, unit_id, kind (effective: the corrected record's kind for a correction), at
    (effective time: the corrected record's for a correction), month, facility_id, waste_code, wkind,
    counterparty_id, method, origin, recv, prior, util, mass_g, transit_diff, refused.

    Two branches, plain records and corrections, so that a condition on `at` reaches the journal's (unit_id,
    occurred_at) index in the first and the corrected record's time in the second.
    """
    return union_all(_branch(dialect, corrections=False), _branch(dialect, corrections=True))


def _branch(dialect: str, *, corrections: bool) -> Select:
    from ledger.batches import Batch
    from ledger.journal import JournalRecord

    r = JournalRecord.__table__.alias("r")
    o = JournalRecord.__table__.alias("o")  # the corrected record, for a correction
    s = JournalRecord.__table__.alias("s")  # the shipment a return comes back from
    bt = Batch.__table__
    batch_key = func.coalesce(r.c.batch_id, r.c.source_batch_id)
    if dialect == "postgresql":
        # One index probe per record: LATERAL … LIMIT 1 keeps the planner from scanning every batch when it
        # overestimates the records of a partial month (and from JIT-compiling that plan).
        b = select(bt).where(bt.c.id == batch_key).limit(1).lateral("b")
        on = true()
    else:
        b = bt.alias("b")
        on = b.c.id == batch_key
    e = o if corrections else r  # the record whose kind, time, facility and method count
    kind = e.c.kind
    at = e.c.occurred_at
    month = local_month(dialect, at)
    recv = or_(b.c.parent_id.is_not(None), b.c.period == "lot")  # a lot is made of received holdings
    # Looked up only for the rows that need it (correlated, inside CASE): a return's shipment. Joining it would
    # make the planner scan every shipment of the journal.
    shipment = type_coerce(select(s.c.body).where(s.c.batch_id == r.c.batch_id, s.c.manifest_id == r.c.manifest_id,
                                                  s.c.kind == "shipped").order_by(s.c.id.desc()).limit(1)
                           .scalar_subquery(), JournalRecord.__table__.c.body.type)
    src_year = case((recv, local_year(dialect, b.c.created_at)), else_=local_year(dialect, b.c.occurred_at))
    prior = func.coalesce(src_year, 9999) * 100 + 13 <= month  # an earlier year than the month's (none: not)
    returned = r.c.kind == "returned"
    util = case((r.c.kind == "shipped", r.c.body["counts_as_utilisation"].as_boolean()),
                (and_(returned, r.c.body["counts_as_utilisation"].as_boolean().is_not(None)),
                 r.c.body["counts_as_utilisation"].as_boolean()),
                (returned, shipment["counts_as_utilisation"].as_boolean()),
                else_=None)
    method = case(
        (kind.in_(CONSUMED), e.c.body["method"].as_string()),
        (r.c.kind == "shipped", r.c.body["planned_method"].as_string()),
        (and_(returned, r.c.body["planned_method"].as_string().is_not(None)), r.c.body["planned_method"].as_string()),
        (returned, shipment["planned_method"].as_string()),
        else_=None)
    counterparty = case(
        (r.c.kind == "shipped", r.c.body["receiver_id"].as_integer()),
        (and_(returned, r.c.body["receiver_id"].as_integer().is_not(None)), r.c.body["receiver_id"].as_integer()),
        (returned, shipment["receiver_id"].as_integer()),
        (r.c.kind.in_(("received", "refused")), r.c.body["originator_id"].as_integer()),
        else_=None)
    source_kind = r.c.body[("source", "kind")].as_string()
    origin = case(*((source_kind == k, literal(v)) for k, v in ORIGINS.items()), else_=literal(LIVE))
    wkind = case((b.c.hazardous, 1),
                 (cast(func.substr(b.c.waste_code, 10, 2), Integer) < 60, 2), else_=3)
    q = (
        select(
            r.c.id.label("record_id"), r.c.kind.label("record_kind"), r.c.unit_id, kind.label("kind"),
            type_coerce(at, UTCDateTime).label("at"), month.label("month"),
            func.coalesce(e.c.facility_id, 0).label("facility_id"), b.c.waste_code, wkind.label("wkind"),
            func.coalesce(counterparty, 0).label("counterparty_id"), func.coalesce(method, "").label("method"),
            origin.label("origin"), recv.label("recv"), prior.label("prior"),
            func.coalesce(util, False).label("util"), r.c.mass_g,
            func.coalesce(cast(r.c.body["transit_difference_g"].as_string(), BigInteger), 0).label("transit_diff"),
            func.coalesce(cast(r.c.body["refused_g"].as_string(), BigInteger), 0).label("refused"),
        )
        .select_from(r)
        .join(b, on)
    )
    if corrections:
        q = q.join(o, o.c.id == r.c.corrects_id).where(r.c.kind == "corrected")
    else:
        q = q.where(r.c.kind != "corrected")
    return q


def flow_rules(x) -> dict[str, tuple[ColumnElement, ColumnElement]]:  # noqa: ANN001
    """Per balance column: (the condition on a flow_source row, the grams it adds)."""
    k, m = x.c.kind, x.c.mass_g
    own, recv = ~x.c.recv, x.c.recv
    util, prior = x.c.util, x.c.prior
    rules: dict[str, tuple[ColumnElement, ColumnElement]] = {
        "generated_g": (k == "generated", m),
        "stored_g": (k == "stored", m),
        "retrieved_g": (k == "retrieved", m),
        "used_g": (and_(k == "used_in_house", own), m),
        "disposed_g": (and_(k == "disposed_in_house", own), m),
        "sent_util_g": (and_(k == "shipped", own, util), m),
        "sent_disp_g": (and_(k == "shipped", own, ~util), m),
        "returned_util_g": (and_(k == "returned", own, util), m),
        "returned_disp_g": (and_(k == "returned", own, ~util), m),
        "received_g": (k == "received", m),
        "refused_g": (k.in_(("received", "refused")), x.c.refused),
        "transit_diff_g": (k == "received", x.c.transit_diff),
        "proc_util_g": (and_(k == "used_in_house", recv), m),
        "proc_disp_g": (and_(k == "disposed_in_house", recv), m),
        "fwd_util_g": (and_(k == "shipped", recv, util), m),
        "fwd_disp_g": (and_(k == "shipped", recv, ~util), m),
        "fwd_returned_util_g": (and_(k == "returned", recv, util), m),
        "fwd_returned_disp_g": (and_(k == "returned", recv, ~util), m),
    }
    for col in ("used_g", "disposed_g", "sent_util_g", "sent_disp_g", "returned_util_g", "returned_disp_g",
                "proc_util_g", "proc_disp_g"):
        cond, amount = rules[col]
        rules[col.removesuffix("_g") + "_prior_g"] = (and_(cond, prior), amount)
    assert set(rules) == set(FLOW_COLUMNS)
    return rules


def any_of(conditions: list[ColumnElement]) -> ColumnElement:
    return or_(*conditions) if conditions else literal(False)
