"""Reading the balances: flow sums over a scope's months, cumulative stocks, the holdings cross-check, and the
records behind a figure. Every function is one or two SQL statements; none loops over records in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache

from sqlalchemy import and_, case, func, literal, or_, select, union_all
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session

from ledger.rollups import sqltext
from ledger.rollups.classify import flow_rules, flow_source
from ledger.rollups.models import FLOW_COLUMNS, PeriodBalance
from ledger.rollups.posting import post_pending
from ledger.rollups.scope import Plan, Scope, month_first, month_last, yyyymm
from ledger.workdays import day_bounds_utc

RECYCLABLE_CLASSES = ("S17",)
HELD = ("generated", "stored", "partly_stored", "retrieved", "in_transit")  # batch statuses that may hold mass  # 可再生类废物 (to verify against the 2024 classification catalogue)

# A stock is the sum of earlier flows with these signs.
STOCKS: dict[str, dict[str, int]] = {
    "own": {"generated_g": 1, "used_g": -1, "disposed_g": -1, "sent_util_g": -1, "sent_disp_g": -1,
            "returned_util_g": 1, "returned_disp_g": 1},
    "received": {"received_g": 1, "proc_util_g": -1, "proc_disp_g": -1, "fwd_util_g": -1, "fwd_disp_g": -1,
                 "fwd_returned_util_g": 1, "fwd_returned_disp_g": 1},
    "storage": {"stored_g": 1, "retrieved_g": -1},
}

_RAW_GROUP = {"month": "month", "kind": "wkind", "origin": "origin", "waste_code": "waste_code", "method": "method",
              "facility_id": "facility_id", "counterparty_id": "counterparty_id", "unit_id": "unit_id"}


@lru_cache(maxsize=4)
def flows_x(dialect: str):  # noqa: ANN201
    """The flow-source subquery and its column rules, built once per dialect (statements are immutable)."""
    x = flow_source(dialect).subquery("x")
    return x, flow_rules(x)


@lru_cache(maxsize=4)
def raw_sums(dialect: str) -> tuple:
    """`sum(CASE WHEN rule THEN grams ELSE 0 END)` per flow column, in FLOW_COLUMNS order, built once."""
    _x, rules = flows_x(dialect)
    return tuple(func.sum(case((cond, amt), else_=0)) for cond, amt in (rules[c] for c in FLOW_COLUMNS))



def category_of(waste_code: str) -> str:
    """HW08 for 900-249-08, S01 for 321-001-S01."""
    last = waste_code.rsplit("-", 1)[-1]
    return last if last.startswith("S") else "HW" + last


def category_suffix(category: str) -> str:
    return category[2:] if category.startswith("HW") else category


def recyclable(code_col) -> ColumnElement:  # noqa: ANN001
    return or_(*(code_col.like(f"%-{c}") for c in RECYCLABLE_CLASSES))


def _flag(cond: ColumnElement) -> ColumnElement:
    return case((cond, 1), else_=0)


Sums = dict[tuple, dict[str, int]]


def _merge(into: Sums, rows, width: int) -> None:  # noqa: ANN001
    for row in rows:
        key = tuple(row[:width])
        acc = into.setdefault(key, dict.fromkeys(FLOW_COLUMNS, 0))
        for c, v in zip(FLOW_COLUMNS, row[width:], strict=True):
            acc[c] += int(v or 0)


def _naming(session: Session, plan: Plan, *, members_only: bool) -> dict[int, set[int]]:
    """Per dirty month, the units with balance rows naming a unit whose membership changes in that month (from
    the counterparty index): only their records that name it are read from the journal."""
    pb = PeriodBalance.__table__
    moving = sorted({u for us in plan.changing.values() for u in us})
    if not plan.dirty or not moving:
        return {}
    rows = plan.__dict__.get("_naming_rows")
    if rows is None:
        rows = session.execute(select(pb.c.month, pb.c.unit_id, pb.c.counterparty_id).where(
            pb.c.month.in_(plan.dirty), plan.scope.ids(pb.c.counterparty_id, moving)).distinct()).all()
        plan.__dict__["_naming_rows"] = rows
    stable = {s.first: set(s.members) for s in plan.segments if s.changing}  # a dirty month is its own segment
    out: dict[int, set[int]] = {}
    for m, unit, party in rows:
        if party in plan.changing.get(m, ()) and (not members_only or unit in stable.get(m, set())):
            out.setdefault(m, set()).add(unit)
    return out


def flow_sums(session: Session, plan: Plan, *, by: tuple[str, ...] = ("month", "kind", "origin"),
              by_year: bool = False) -> Sums:
    """Every flow column summed over the plan's months, grouped by `by` + (counterparty in scope, recyclable).

    Balance rows wherever membership is constant over the month; the journal for the units whose membership
    starts or ends inside a month, and for the records naming such a unit as counterparty in that month.
    `by_year`: the caller needs years only (a yearly row stands for December): whole years of units in the scope
    all year are then read from the yearly rows.
    """
    post_pending(session)
    dialect = session.get_bind().dialect.name
    stmt, params = sqltext.flow_sums(plan, by, dialect, by_year=by_year)
    out: Sums = {}
    _merge(out, session.execute(stmt, params).all(), len(by) + 2)
    if plan.dirty:
        x, rules = flows_x(session.get_bind().dialect.name)
        rgroup = [x.c[_RAW_GROUP[b]] for b in by] + [_flag(plan.raw_counterparty_in(x, only_dirty=True)),
                                                     _flag(recyclable(x.c.waste_code))]
        where = or_(plan.raw_condition(x, only_dirty=True),
                    plan.raw_counterpart_condition(x, _naming(session, plan, members_only=True)))
        q = select(*rgroup, *raw_sums(dialect)).where(where).group_by(*rgroup)
        _merge(out, session.execute(q).all(), len(rgroup))
    return out


def counterparty_sums(session: Session, plan: Plan, *, by: tuple[str, ...] = ("month", "kind", "origin"),
                      by_year: bool = False) -> Sums:
    """Flows in rows of any unit that name a unit of the scope as counterparty (when it was in the scope). Only
    the receipt flows (received, refused, transit_diff) are exact where the journal is read (units joining or
    leaving mid-month), which is what is used."""
    post_pending(session)
    stmt, params = sqltext.counterparty_sums(plan, by, session.get_bind().dialect.name, by_year=by_year)
    out: Sums = {}
    _merge(out, session.execute(stmt, params).all(), len(by))
    naming = _naming(session, plan, members_only=False)
    if naming:
        x, rules = flows_x(session.get_bind().dialect.name)
        rgroup = [x.c[_RAW_GROUP[b]] for b in by]
        units = []
        for m, us in naming.items():
            a, b = day_bounds_utc(month_first(m))[0], day_bounds_utc(month_last(m))[1]
            units.append(and_(plan.scope.ids(x.c.unit_id, us), x.c.at >= a, x.c.at < b))
        q = (select(*rgroup, *raw_sums(session.get_bind().dialect.name))
             .where(x.c.record_kind == "received", or_(*units), plan.raw_counterparty_in(x, changing_only=True))
             .group_by(*rgroup))
        _merge(out, session.execute(q).all(), len(rgroup))
    return out


def stock_expr(table_or_cols, name: str) -> ColumnElement:  # noqa: ANN001
    cols = table_or_cols.c if hasattr(table_or_cols, "c") else table_or_cols
    expr = None
    for col, sign in STOCKS[name].items():
        term = cols[col] if sign > 0 else -cols[col]
        expr = term if expr is None else expr + term
    return expr


@dataclass
class Cumulative:
    """Stocks at the end of given months, per (unit?, kind, origin): {(key): {(stock, month): grams}}."""

    values: dict[tuple, dict[tuple[str, int], int]] = field(default_factory=dict)

    def get(self, key: tuple, stock: str, month: int) -> int:
        return self.values.get(key, {}).get((stock, month), 0)


def cumulative(session: Session, cuts: list[int], *, scope: Scope | None = None, unit_ids: list[int] | None = None,
               per_unit: bool, by: tuple[str, ...] = ("kind", "origin")) -> Cumulative:
    """Stocks (own, received, storage) at the end of each cut month of the scope's units (or of `unit_ids`),
    from the balance rows, in one statement: each row's stock changes are computed once and summed per bucket
    (the first cut at or after its month), then accumulated."""
    post_pending(session)
    cuts = sorted(set(cuts))
    stmt, params = sqltext.cumulative(scope, unit_ids, cuts, STOCKS, by, per_unit, session.get_bind().dialect.name)
    width = len(by) + (1 if per_unit else 0)
    per_key: dict[tuple, dict[int, tuple]] = {}
    for row in session.execute(stmt, params).all():
        per_key.setdefault(tuple(row[:width]), {})[row[width]] = row[width + 1:]
    out = Cumulative()
    for key, buckets in per_key.items():
        running = dict.fromkeys(STOCKS, 0)
        values = {}
        for m in cuts:
            for name, v in zip(STOCKS, buckets.get(m, (0,) * len(STOCKS)), strict=True):
                running[name] += int(v or 0)
            for name in STOCKS:
                values[(name, m)] = running[name]
        out.values[key] = values
    return out


def raw_stock_delta(session: Session, unit_ids: list[int], first: date, last: date) -> dict[tuple, dict[str, int]]:
    """Stock changes per (unit, kind, origin) from the journal over the Shanghai days first..last (part of a
    month, for a membership that starts or ends mid-month)."""
    x, rules = flows_x(session.get_bind().dialect.name)
    a, b = day_bounds_utc(first)[0], day_bounds_utc(last)[1]
    exprs = []
    for s, terms in STOCKS.items():
        e = None
        for col, sign in terms.items():
            cond, amt = rules[col]
            term = case((cond, amt * sign), else_=0)
            e = term if e is None else e + term
        exprs.append(func.sum(e).label(s))
    q = (select(x.c.unit_id, x.c.wkind, x.c.origin, *exprs)
         .where(x.c.unit_id.in_(unit_ids), x.c.at >= a, x.c.at < b).group_by(x.c.unit_id, x.c.wkind, x.c.origin))
    return {(r[0], r[1], r[2]): {s: int(v or 0) for s, v in zip(STOCKS, r[3:], strict=True)}
            for r in session.execute(q).all()}


def holdings(session: Session, *, scope: Scope | None = None, unit_ids: list[int] | None = None
             ) -> dict[tuple[str, int], int]:
    """What the holdings cache says the units hold now: {(own|received, kind): grams} (the batch table)."""
    stmt, params = sqltext.holdings(scope, unit_ids, session.get_bind().dialect.name)
    return {(o, k): int(v or 0) for o, k, v in session.execute(stmt, params).all()}


# ---- the records behind a figure ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Term:
    column: str
    sign: int = 1
    counterparty_in_scope: bool = False  # counted only when the row's counterparty is in the scope on its date


@dataclass(frozen=True)
class RecordQuery:
    """Which flow rows make up a figure: terms, waste kinds, and whose rows (the scope's, or rows naming it)."""

    terms: tuple[Term, ...]
    kinds: tuple[int, ...]
    side: str = "unit"  # "unit": the scope's own rows; "counterparty": rows that name a scope unit
    recyclable_only: bool = False
    category: str | None = None  # HW08, S01 …: only waste codes of this category / class
    method: str | None = None  # only flows under this method
    stock_on: date | None = None  # a stock: every flow up to this day (inclusive) …
    members_on: date | None = None  # … of the units in the scope on this day (default: stock_on)


def _scope_condition(plan: Plan, scope: Scope, x, rq: RecordQuery) -> ColumnElement:  # noqa: ANN001
    if rq.stock_on is not None:
        end = day_bounds_utc(rq.stock_on)[1]
        if scope.kind == "region":
            units = scope.unit_condition(x.c.unit_id)
        else:
            units = scope.ids(x.c.unit_id, scope.members_on(rq.members_on or rq.stock_on))
        return and_(units, x.c.at < end)
    if rq.side == "counterparty":
        return plan.raw_counterparty_in(x)
    return plan.raw_condition(x, only_dirty=False)


def flow_rows(session: Session, plan: Plan, rq: RecordQuery):  # noqa: ANN201
    """A subquery of (record_id, unit_id, record_kind, at, month, waste_code, wkind, counterparty_id, method,
    origin, flow, counted_g): one row per record and flow column of the figure, signed as the figure counts it."""
    post_pending(session)
    x, rules = flows_x(session.get_bind().dialect.name)
    base = and_(_scope_condition(plan, plan.scope, x, rq), x.c.wkind.in_(rq.kinds))
    if rq.recyclable_only:
        base = and_(base, recyclable(x.c.waste_code))
    if rq.category:
        base = and_(base, x.c.waste_code.like(f"%-{category_suffix(rq.category)}"))
    if rq.method is not None:
        base = and_(base, x.c.method == rq.method)
    parts = []
    for t in rq.terms:
        cond, amount = rules[t.column]
        where = and_(base, cond, amount != 0)
        if t.counterparty_in_scope:
            where = and_(where, plan.raw_counterparty_in(x))
        parts.append(select(x.c.record_id, x.c.unit_id, x.c.record_kind, x.c.at, x.c.month, x.c.waste_code,
                            x.c.wkind, x.c.counterparty_id, x.c.method, x.c.origin,
                            literal(t.column).label("flow"), (amount * t.sign).label("counted_g")).where(where))
    return union_all(*parts).subquery("f") if len(parts) > 1 else parts[0].subquery("f")


def figure_records(session: Session, plan: Plan, rq: RecordQuery, *, offset: int = 0, limit: int = 100
                   ) -> tuple[list[dict], int, int]:
    """A page of the records behind a figure, their total count and the sum of what they count (grams)."""
    from ledger.batches import Batch
    from ledger.journal import JournalRecord

    f = flow_rows(session, plan, rq)
    total_count, total_g = session.execute(select(func.count(), func.coalesce(func.sum(f.c.counted_g), 0))).one()
    r, b = JournalRecord.__table__, Batch.__table__
    q = (select(f, r.c.seq, r.c.record_code, r.c.mass_g, r.c.manifest_id, r.c.facility_id, r.c.actor_name,
                r.c.occurred_at.label("recorded_occurred_at"), r.c.corrects_id, r.c.hash, b.c.digital_id,
                b.c.id.label("batch_id"), b.c.name.label("waste_name"))
         .select_from(f.join(r, r.c.id == f.c.record_id)
                      .join(b, b.c.id == func.coalesce(r.c.batch_id, r.c.source_batch_id)))
         .order_by(f.c.at, f.c.record_id, f.c.flow).offset(offset).limit(limit))
    rows = [dict(m) for m in session.execute(q).mappings().all()]
    return rows, int(total_count), int(total_g)


def month_of(day: date) -> int:
    return yyyymm(day)


def utc_start(m: int) -> datetime:
    return day_bounds_utc(month_first(m))[0]
