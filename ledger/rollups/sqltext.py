"""The hot balance-table reads as plain SQL text.

The indicators of a park read the balance table four times; written as SQLAlchemy expressions, building the
statement, computing its cache key and converting its parameters cost more than PostgreSQL spends executing it.
As text, with one array parameter per id list on PostgreSQL (`= ANY(:p)`; SQLite gets an expanding `IN`), the
statement is short, stable and cheap to send. Same conditions as the expression versions in `scope.Plan`.
"""

from __future__ import annotations

from sqlalchemy import bindparam, text
from sqlalchemy.sql.elements import TextClause

from ledger.rollups.models import FLOW_COLUMNS
from ledger.rollups.scope import Plan, Scope


class Sql:
    """Collects parameters while SQL fragments are written."""

    def __init__(self, dialect: str):
        self.dialect = dialect
        self.params: dict = {}
        self.expanding: list[str] = []

    def value(self, v) -> str:  # noqa: ANN001
        name = f"p{len(self.params)}"
        self.params[name] = v
        return f":{name}"

    def ids(self, col: str, ids) -> str:  # noqa: ANN001
        ids = sorted(set(ids))
        if not ids:
            return "1 = 0"
        name = f"p{len(self.params)}"
        self.params[name] = ids
        if self.dialect == "postgresql":
            return f"{col} = ANY(:{name})"
        self.expanding.append(name)
        return f"{col} IN :{name}"

    def unit_condition(self, scope: Scope, col: str) -> str:
        if scope.kind == "region":
            return f"{col} IN (SELECT id FROM unit WHERE region_code LIKE {self.value(str(scope.id) + '%')})"
        return self.ids(col, scope.unit_ids())

    def members(self, plan: Plan, unit_col: str, month_col: str = "month") -> str:
        parts = []
        for units, ranges in plan.unit_groups():
            months = " OR ".join(f"{month_col} BETWEEN {a} AND {b}" for a, b in ranges)
            parts.append(f"({self.ids(unit_col, units)} AND ({months}))")
        return "(" + " OR ".join(parts) + ")" if parts else "1 = 0"

    def region_months(self, plan: Plan, month_col: str = "month") -> str:
        return "(" + " OR ".join(f"{month_col} BETWEEN {s.first} AND {s.last}" for s in plan.segments) + ")"

    def balance_condition(self, plan: Plan) -> str:
        if plan.scope.kind == "region":
            return f"({self.unit_condition(plan.scope, 'unit_id')} AND {self.region_months(plan)})"
        cond = self.members(plan, "unit_id")
        moving = [f"(month = {m} AND {self.ids('counterparty_id', units)})" for m, units in plan.changing.items()]
        if moving:
            cond = f"({cond} AND NOT ({' OR '.join(moving)}))"
        return cond

    def counterparty_in(self, plan: Plan) -> str:
        if plan.scope.kind == "region":
            return f"({self.unit_condition(plan.scope, 'counterparty_id')} AND {self.region_months(plan)})"
        return self.members(plan, "counterparty_id")

    def statement(self, sql: str) -> TextClause:
        stmt = text(sql)
        if self.expanding:
            stmt = stmt.bindparams(*(bindparam(n, expanding=True) for n in self.expanding))
        return stmt


SUMS = ", ".join(f"sum({c})" for c in FLOW_COLUMNS)
RECYCLABLE = "(waste_code LIKE '%-S17')"  # keep in step with query.RECYCLABLE_CLASSES


YEARLY_BY = {"month", "kind", "origin", "waste_code", "counterparty_id"}  # what the yearly rows can group by


def _remainder_months(plan: Plan, whole: set[int]) -> list[str]:
    """Months of the plan outside its whole years."""
    out = []
    for seg in plan.segments:
        for y in range(seg.first // 100, seg.last // 100 + 1):
            if y not in whole:
                out.append(f"(month BETWEEN {max(seg.first, y * 100 + 1)} AND {min(seg.last, y * 100 + 12)})")
    return out


def _yearly_parts(q: Sql, plan: Plan, *, unit_col: str) -> tuple[list[str], str]:
    """(conditions on yearly rows, the condition for the monthly rows still to read): per whole year, the rows of
    units in the scope all year (region: every unit) that do not name a unit joining or leaving during that year
    come from the yearly rows; of that year only the rows of those joining or leaving units, and the rows naming
    them, are read monthly. Months outside whole years are read monthly."""
    on_year, remainder = [], []
    for y, (full, moving) in sorted(plan.yearly.items()):
        months = f"month BETWEEN {y * 100 + 1} AND {y * 100 + 12}"
        if plan.scope.kind == "region":
            on_year.append(f"(year = {y} AND {q.unit_condition(plan.scope, unit_col)})")
            continue
        if full:
            cell = q.ids(unit_col, full) + (f" AND NOT ({q.ids('counterparty_id', moving)})" if moving else "")
            on_year.append(f"(year = {y} AND {cell})")
        if moving:
            remainder.append(f"({months} AND ({q.ids(unit_col, moving)} OR {q.ids('counterparty_id', moving)}))")
    remainder += _remainder_months(plan, set(plan.yearly))
    return on_year, "(" + " OR ".join(remainder) + ")" if remainder else "1 = 0"


def _year_members(q: Sql, plan: Plan, col: str) -> str:
    parts = []
    for y, (full, _moving) in sorted(plan.yearly.items()):
        units = q.unit_condition(plan.scope, col) if plan.scope.kind == "region" else q.ids(col, full)
        parts.append(f"(year = {y} AND {units})")
    return "(" + " OR ".join(parts) + ")" if parts else "1 = 0"


def flow_sums(plan: Plan, by: tuple[str, ...], dialect: str, *, by_year: bool) -> tuple[TextClause, dict]:
    """Whole years of units in the scope all year from the yearly rows, the rest from the monthly rows, in one
    statement (UNION ALL). With `by_year` only: the "month" of a yearly row is December of its year."""
    q = Sql(dialect)
    n = len(by)
    group = ", ".join(str(i) for i in range(1, n + 3))
    monthly_where = q.balance_condition(plan)
    parts = []
    if by_year and plan.yearly and set(by) <= YEARLY_BY:
        on_year, remainder = _yearly_parts(q, plan, unit_col="unit_id")
        if on_year:
            ycols = ", ".join("year * 100 + 12" if b == "month" else b for b in by)
            parts.append(f"SELECT {ycols}, CASE WHEN {_year_members(q, plan, 'counterparty_id')} THEN 1 ELSE 0 END, "
                         f"CASE WHEN {RECYCLABLE} THEN 1 ELSE 0 END, {SUMS} FROM period_balance_year "
                         f"WHERE {' OR '.join(on_year)} GROUP BY {group}")
            monthly_where = f"{monthly_where} AND {remainder}"
    # the months outside whole years, units joining or leaving, and the rows naming them
    parts.append(f"SELECT {', '.join(by)}, CASE WHEN {q.counterparty_in(plan)} THEN 1 ELSE 0 END, "
                 f"CASE WHEN {RECYCLABLE} THEN 1 ELSE 0 END, {SUMS} FROM period_balance "
                 f"WHERE {monthly_where} GROUP BY {group}")
    return q.statement(" UNION ALL ".join(parts)), q.params


def counterparty_sums(plan: Plan, by: tuple[str, ...], dialect: str, *, by_year: bool) -> tuple[TextClause, dict]:
    """Rows of any unit naming a unit of the scope: whole years of units in the scope all year from the yearly
    rows, the rest from the monthly rows."""
    q = Sql(dialect)
    group = ", ".join(str(i) for i in range(1, len(by) + 1))
    monthly_where = f"counterparty_id <> 0 AND {q.counterparty_in(plan)}"
    parts = []
    if by_year and plan.yearly and set(by) <= YEARLY_BY:
        cells_y, remainder = [], []
        for y, (full, moving) in sorted(plan.yearly.items()):
            if plan.scope.kind == "region":
                cells_y.append(f"(year = {y} AND {q.unit_condition(plan.scope, 'counterparty_id')})")
                continue
            if full:
                cells_y.append(f"(year = {y} AND {q.ids('counterparty_id', full)})")
            if moving:
                remainder.append(f"(month BETWEEN {y * 100 + 1} AND {y * 100 + 12} AND "
                                 f"{q.ids('counterparty_id', moving)})")
        remainder += _remainder_months(plan, set(plan.yearly))
        if cells_y:
            ycols = ", ".join("year * 100 + 12" if b == "month" else b for b in by)
            parts.append(f"SELECT {ycols}, {SUMS} FROM period_balance_year WHERE counterparty_id <> 0 AND "
                         f"({' OR '.join(cells_y)}) GROUP BY {group}")
            monthly_where = f"{monthly_where} AND ({' OR '.join(remainder) if remainder else '1 = 0'})"
    parts.append(f"SELECT {', '.join(by)}, {SUMS} FROM period_balance WHERE {monthly_where} GROUP BY {group}")
    return q.statement(" UNION ALL ".join(parts)), q.params


def cumulative(scope: Scope | None, unit_ids: list[int] | None, cuts: list[int], stocks: dict[str, dict[str, int]],
               by: tuple[str, ...], per_unit: bool, dialect: str) -> tuple[TextClause, dict]:
    """Stock changes summed per bucket of cut months. When every cut is a December the yearly rows are read
    (a bucket is then a year); otherwise the monthly rows."""
    q = Sql(dialect)
    yearly = all(m % 100 == 12 for m in cuts)
    if yearly:
        table, col, marks = "period_balance_year", "year", [(m // 100, m) for m in cuts]
    else:
        table, col, marks = "period_balance", "month", [(m, m) for m in cuts]
    bucket = "CASE " + " ".join(f"WHEN {col} <= {v} THEN {m}" for v, m in marks) + " END"
    exprs = []
    for terms in stocks.values():
        exprs.append("sum(" + " ".join(f"{'+' if s > 0 else '-'} {c}" for c, s in terms.items()).lstrip("+ ") + ")")
    group = (["unit_id"] if per_unit else []) + list(by) + [bucket]
    cond = q.unit_condition(scope, "unit_id") if scope is not None else q.ids("unit_id", unit_ids or [])
    sql = (f"SELECT {', '.join(group)}, {', '.join(exprs)} FROM {table} WHERE {cond} AND {col} <= {marks[-1][0]} "
           f"GROUP BY {', '.join(str(i) for i in range(1, len(group) + 1))}")
    return q.statement(sql), q.params


def holdings(scope: Scope | None, unit_ids: list[int] | None, dialect: str) -> tuple[TextClause, dict]:
    q = Sql(dialect)
    cond = q.unit_condition(scope, "holder_unit_id") if scope is not None else q.ids("holder_unit_id", unit_ids or [])
    kind = ("CASE WHEN hazardous THEN 1 WHEN CAST(substr(waste_code, 10, 2) AS INTEGER) < 60 THEN 2 ELSE 3 END")
    sql = (f"SELECT CASE WHEN parent_id IS NULL AND period <> 'lot' THEN 'own' ELSE 'received' END, {kind}, sum(remaining_g) "
           f"FROM batch WHERE {cond} AND remaining_g <> 0 GROUP BY 1, 2")
    return q.statement(sql), q.params
