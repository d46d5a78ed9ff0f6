"""Rebuild the period balances from the journal with one set-based statement, compare, and optionally repair.

`expected()` is the whole balance table recomputed by SQL (`classify.flow_source` + `classify.flow_rules`, grouped
by key). `compare()` full-outer-joins it with the maintained table and returns every key whose flows differ (a
missing row counts as all zeros). `repair()` deletes the maintained rows (of one unit, or all) and inserts the
recomputed ones, in two statements.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, case, delete, func, insert, or_, select
from sqlmodel import Session

from ledger.rollups.classify import flow_rules, flow_source
from ledger.rollups.models import (
    FLOW_COLUMNS,
    KEY_COLUMNS,
    YEAR_KEY_COLUMNS,
    PeriodBalance,
    PeriodBalanceYear,
)
from ledger.rollups.posting import post_pending


def expected(session: Session, *, unit_id: int | None = None):  # noqa: ANN201
    """The balance rows the journal implies (a SELECT), optionally for one unit."""
    dialect = session.get_bind().dialect.name
    x = flow_source(dialect).subquery("x")
    rules = flow_rules(x)
    sums = [func.coalesce(func.sum(case((cond, amount), else_=0)), 0).label(col) for col, (cond, amount) in
            rules.items()]
    keys = [x.c.unit_id, x.c.month, x.c.facility_id, x.c.waste_code, x.c.counterparty_id, x.c.method, x.c.origin]
    q = select(*keys, func.max(x.c.wkind).label("kind"), *sums).group_by(*keys)
    return q.where(x.c.unit_id == unit_id) if unit_id is not None else q


@dataclass(frozen=True)
class BalanceDifference:
    key: dict
    column: str
    maintained: int
    journal: int

    def describe(self) -> str:
        k = self.key
        if k.get("table") == "period_balance_year":
            return (f"yearly balance unit {k['unit_id']} {k['year']} {k['waste_code']} party {k['counterparty_id']} "
                    f"origin {k['origin']}: "
                    f"{self.column} maintained={self.maintained} journal={self.journal}")
        return (f"balance unit {k['unit_id']} {k['month']} facility {k['facility_id']} {k['waste_code']} "
                f"party {k['counterparty_id']} method {k['method'] or '-'} origin {k['origin']}: {self.column} "
                f"maintained={self.maintained} journal={self.journal}")


def expected_years(session: Session, *, unit_id: int | None = None, from_monthly: bool = False):  # noqa: ANN201
    """The yearly rows the journal implies (a SELECT over `expected`), or the maintained monthly rows imply."""
    pb = PeriodBalance.__table__ if from_monthly else expected(session, unit_id=unit_id).subquery("m")
    year = pb.c.month // 100
    keys = [pb.c.unit_id, pb.c.waste_code, pb.c.counterparty_id, pb.c.origin]
    q = (select(pb.c.unit_id, year.label("year"), pb.c.waste_code, pb.c.counterparty_id, pb.c.origin,
                func.max(pb.c.kind).label("kind"),
                *(func.sum(pb.c[c]).label(c) for c in FLOW_COLUMNS)).group_by(*keys, year))
    return q.where(pb.c.unit_id == unit_id) if from_monthly and unit_id is not None else q


def _diff(session: Session, e, table, key_columns, *, unit_id: int | None, limit: int,  # noqa: ANN001
          label: str) -> list[BalanceDifference]:
    p = table
    if unit_id is not None:
        p = select(p).where(p.c.unit_id == unit_id).subquery("p")
    on = and_(*(e.c[k] == p.c[k] for k in key_columns))
    differs = or_(*(func.coalesce(e.c[c], 0) != func.coalesce(p.c[c], 0) for c in FLOW_COLUMNS))
    q = (select(*(func.coalesce(e.c[k], p.c[k]).label(k) for k in key_columns),
                *(func.coalesce(e.c[c], 0).label("e_" + c) for c in FLOW_COLUMNS),
                *(func.coalesce(p.c[c], 0).label("p_" + c) for c in FLOW_COLUMNS))
         .select_from(e.join(p, on, full=True)).where(differs).limit(limit))
    out = []
    for row in session.execute(q).mappings():
        key = {"table": label, **{k: row[k] for k in key_columns}}
        for c in FLOW_COLUMNS:
            if int(row["e_" + c]) != int(row["p_" + c]):
                out.append(BalanceDifference(key, c, int(row["p_" + c]), int(row["e_" + c])))
    return out


def compare(session: Session, *, unit_id: int | None = None, limit: int = 10000) -> list[BalanceDifference]:
    """Every (key, column) where the maintained balances (monthly and yearly rows) differ from the journal's."""
    post_pending(session)
    monthly = _diff(session, expected(session, unit_id=unit_id).subquery("e"), PeriodBalance.__table__,
                    KEY_COLUMNS, unit_id=unit_id, limit=limit, label="period_balance")
    yearly = _diff(session, expected_years(session, unit_id=unit_id).subquery("e"), PeriodBalanceYear.__table__,
                   YEAR_KEY_COLUMNS, unit_id=unit_id, limit=limit, label="period_balance_year")
    return monthly + yearly


def repair(session: Session, *, unit_id: int | None = None) -> int:
    """Replace the maintained balances (of one unit, or all) with the journal's; returns the rows written."""
    post_pending(session)
    table = PeriodBalance.__table__
    stmt = delete(table)
    if unit_id is not None:
        stmt = stmt.where(table.c.unit_id == unit_id)
    session.execute(stmt)
    src = expected(session, unit_id=unit_id).subquery("src")
    nonzero = or_(*(src.c[c] != 0 for c in FLOW_COLUMNS))
    cols = [*KEY_COLUMNS, "kind", *FLOW_COLUMNS]
    result = session.execute(insert(table).from_select(cols, select(*(src.c[c] for c in cols)).where(nonzero)))
    yt = PeriodBalanceYear.__table__
    stmt = delete(yt)
    if unit_id is not None:
        stmt = stmt.where(yt.c.unit_id == unit_id)
    session.execute(stmt)
    ys = expected_years(session, unit_id=unit_id, from_monthly=True).subquery("ys")  # just repaired
    ycols = [*YEAR_KEY_COLUMNS, "kind", *FLOW_COLUMNS]
    session.execute(insert(yt).from_select(ycols, select(*(ys.c[c] for c in ycols))
                                           .where(or_(*(ys.c[c] != 0 for c in FLOW_COLUMNS)))))
    session.flush()
    return result.rowcount if result.rowcount is not None and result.rowcount >= 0 else 0


def rebuild(session: Session, *, fix: bool = False, unit_id: int | None = None) -> list[BalanceDifference]:
    """Compare the maintained balances with the journal; with `fix`, repair them after reporting."""
    diffs = compare(session, unit_id=unit_id)
    if fix and diffs:
        repair(session, unit_id=unit_id)
    return diffs
