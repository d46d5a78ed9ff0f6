"""The yearly figures of a scope, from the period balances: every mass figure is a signed sum of balance columns
(`FIGURES`), so its records are the flow rows of those columns (`record_query`), and they sum to it exactly.

Definitions (DOMAIN.md "Figures the applications need", "Counting rules"):

- 综合利用量 = own waste utilised in-house + sent for utilisation at pickup − refused and brought back;
  处置量 likewise with disposal; each "其中往年贮存量" is the part generated in an earlier year than the year.
- 贮存量 (31 Dec) = the own waste the scope's units hold at the end of the year (units in the scope on 31 Dec).
- 当年贮存量 = that stock less what is left of the stock the year began with (opening stock, plus stock carried in
  by units that joined during the year, less stock carried out by units that left, less 往年贮存量 utilised or
  disposed): the part of this year's generation still held. It is what the national identity needs.
- 园区内综合利用量 counts in-house utilisation and loads sent to receivers that were in the same park on the pickup
  date (and their returns): 不含外运.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlmodel import Session

from ledger.rollups.models import GENERAL_INDUSTRIAL, HAZARDOUS
from ledger.rollups.query import (
    Cumulative,
    RecordQuery,
    Term,
    category_of,
    counterparty_sums,
    cumulative,
    flow_sums,
    holdings,
    raw_stock_delta,
)
from ledger.rollups.scope import Plan, Scope, month_last, plan, yyyymm

KINDS: dict[str, tuple[int, ...]] = {"hazardous": (HAZARDOUS,), "general": (GENERAL_INDUSTRIAL,),
                                     "all": (HAZARDOUS, GENERAL_INDUSTRIAL)}
KIND_LABELS = {"hazardous": "危险废物", "general": "一般工业固体废物", "all": "工业固体废物（一般工业固体废物 + 危险废物）"}


@dataclass(frozen=True)
class FigureSpec:
    label: str
    terms: tuple[Term, ...] = ()
    side: str = "unit"
    recyclable_only: bool = False
    stock: str | None = None  # "end" (31 Dec of the year) or "open" (31 Dec of the year before)


T = Term
ALL_MONTHS = 999912  # a cut after every month: the stock now
FIGURES: dict[str, FigureSpec] = {
    "generated": FigureSpec("产生量", (T("generated_g"),)),
    "utilised": FigureSpec("综合利用量", (T("used_g"), T("sent_util_g"), T("returned_util_g", -1))),
    "utilised_prior": FigureSpec("综合利用量中往年贮存量", (T("used_prior_g"), T("sent_util_prior_g"),
                                                   T("returned_util_prior_g", -1))),
    "utilised_in_house": FigureSpec("自行利用量", (T("used_g"),)),
    "sent_for_utilisation": FigureSpec("委托利用量（净）", (T("sent_util_g"), T("returned_util_g", -1))),
    "disposed": FigureSpec("处置量", (T("disposed_g"), T("sent_disp_g"), T("returned_disp_g", -1))),
    "disposed_prior": FigureSpec("处置量中往年贮存量", (T("disposed_prior_g"), T("sent_disp_prior_g"),
                                                 T("returned_disp_prior_g", -1))),
    "disposed_in_house": FigureSpec("自行处置量", (T("disposed_g"),)),
    "sent_for_disposal": FigureSpec("委托处置量（净）", (T("sent_disp_g"), T("returned_disp_g", -1))),
    "utilised_in_park": FigureSpec("园区内综合利用量（不含外运）", (
        T("used_g"), T("sent_util_g", 1, True), T("returned_util_g", -1, True))),
    "utilised_in_park_prior": FigureSpec("园区内综合利用量中往年贮存量", (
        T("used_prior_g"), T("sent_util_prior_g", 1, True), T("returned_util_prior_g", -1, True))),
    "received": FigureSpec("接收量", (T("received_g"),)),
    "processed_utilised": FigureSpec("接收废物利用量", (T("proc_util_g"),)),
    "processed_disposed": FigureSpec("接收废物处置量", (T("proc_disp_g"),)),
    "transit_received": FigureSpec("接收时运输差量（发出量 − 接收量）", (T("transit_diff_g"),)),
    "transit_shipped": FigureSpec("发出货物运输差量（发出量 − 接收量）", (T("transit_diff_g"),), side="counterparty"),
    "recycling_collected": FigureSpec("再生资源收集量", (T("received_g"),), recyclable_only=True),
    "recycling_recycled": FigureSpec("再生资源循环利用量", (
        T("proc_util_g"), T("fwd_util_g"), T("fwd_returned_util_g", -1)), recyclable_only=True),
    "stock_end": FigureSpec("贮存量（12月31日）", stock="end"),
    "stock_open": FigureSpec("年初贮存量（上年12月31日）", stock="open"),
}
OWN_STOCK_TERMS = (T("generated_g"), T("used_g", -1), T("disposed_g", -1), T("sent_util_g", -1),
                   T("sent_disp_g", -1), T("returned_util_g"), T("returned_disp_g"))


def record_query(scope: Scope, figure: str, year: int, kind: str, *, category: str | None = None,
                 method: str | None = None) -> tuple[Plan, RecordQuery]:
    """The plan and flow-row query whose rows sum to `figure` of `kind` for `year` (optionally one waste
    category, e.g. HW08 or S01, or one method)."""
    spec = FIGURES[figure]
    kinds = KINDS[kind]
    p = plan(scope, year * 100 + 1, year * 100 + 12)
    if spec.stock == "end":
        return p, RecordQuery(OWN_STOCK_TERMS, kinds, stock_on=date(year, 12, 31), members_on=date(year, 12, 31),
                              category=category, method=method)
    if spec.stock == "open":
        return p, RecordQuery(OWN_STOCK_TERMS, kinds, stock_on=date(year - 1, 12, 31), members_on=date(year, 1, 1),
                              category=category, method=method)
    return p, RecordQuery(spec.terms, kinds, side=spec.side, recyclable_only=spec.recyclable_only,
                          category=category, method=method)


def breakdown(session: Session, scope: Scope, years: list[int], figures: list[str], kind: str, *, by: str
              ) -> dict[tuple[int, str, str], Amount]:
    """Period figures of `kind` split by waste category (`by="category"`) or method (`by="method"`):
    {(year, figure, category or method): Amount}."""
    years = sorted(set(years))
    p = plan(scope, years[0] * 100 + 1, years[-1] * 100 + 12)
    col = "waste_code" if by == "category" else "method"
    sums = flow_sums(session, p, by=("month", "kind", "origin", col))
    out: dict[tuple[int, str, str], Amount] = {}
    for (month, wkind, origin, value, cp_in, recyc), cols in sums.items():
        if wkind not in KINDS[kind] or month // 100 not in years:
            continue
        key = category_of(value) if by == "category" else value
        for name in figures:
            spec = FIGURES[name]
            if spec.recyclable_only and not recyc:
                continue
            grams = sum(t.sign * cols[t.column] for t in spec.terms if cp_in or not t.counterparty_in_scope)
            if grams:
                out.setdefault((month // 100, name, key), Amount()).add(grams, origin)
    return out


# ---- computing a scope's years ------------------------------------------------------------------------------

@dataclass
class Amount:
    """Grams, with the part that came from imported history and from back-entered paper manifests."""

    g: int = 0
    imported_g: int = 0
    back_entered_g: int = 0

    def add(self, grams: int, origin: int) -> None:
        self.g += grams
        if origin == 1:
            self.imported_g += grams
        elif origin == 2:
            self.back_entered_g += grams

    def __sub__(self, other: Amount) -> Amount:
        return Amount(self.g - other.g, self.imported_g - other.imported_g,
                      self.back_entered_g - other.back_entered_g)

    def __add__(self, other: Amount) -> Amount:
        return Amount(self.g + other.g, self.imported_g + other.imported_g,
                      self.back_entered_g + other.back_entered_g)


@dataclass
class YearFigures:
    year: int
    kind: str
    values: dict[str, Amount] = field(default_factory=dict)
    transfers_in: Amount = field(default_factory=Amount)
    transfers_out: Amount = field(default_factory=Amount)
    received_stock_end: int = 0
    storage_stock_end: int = 0

    def __getitem__(self, name: str) -> Amount:
        return self.values.setdefault(name, Amount())

    @property
    def current_stock(self) -> Amount:
        """当年贮存量: this year's generation still held at the end of the year."""
        old_left = (self["stock_open"] + self.transfers_in - self.transfers_out - self["utilised_prior"]
                    - self["disposed_prior"])
        return self["stock_end"] - old_left


def _period_figures(sums: dict, cp_sums: dict, years: list[int]) -> dict[tuple[int, str], YearFigures]:
    out: dict[tuple[int, str], YearFigures] = {}
    for y in years:
        for kind in KINDS:
            out[(y, kind)] = YearFigures(y, kind)
    for (month, wkind, origin, cp_in, recyc), cols in sums.items():
        y = month // 100
        for kind, kinds in KINDS.items():
            if (y, kind) not in out or wkind not in kinds:
                continue
            yf = out[(y, kind)]
            for name, spec in FIGURES.items():
                if spec.stock or spec.side != "unit" or (spec.recyclable_only and not recyc):
                    continue
                grams = sum(t.sign * cols[t.column] for t in spec.terms if cp_in or not t.counterparty_in_scope)
                if grams:
                    yf[name].add(grams, origin)
    for (month, wkind, origin), cols in cp_sums.items():
        y = month // 100
        for kind, kinds in KINDS.items():
            if (y, kind) in out and wkind in kinds and cols["transit_diff_g"]:
                out[(y, kind)]["transit_shipped"].add(cols["transit_diff_g"], origin)
    return out


def compute(session: Session, scope: Scope, years: list[int]) -> dict[tuple[int, str], YearFigures]:
    """Every figure of `years` (and the stocks they need) for the scope, per waste kind."""
    years = sorted(set(years))
    first, last = years[0] * 100 + 1, years[-1] * 100 + 12
    p = plan(scope, first, last, only={y * 100 + m for y in years for m in range(1, 13)})
    out = _period_figures(flow_sums(session, p, by_year=True), counterparty_sums(session, p, by_year=True), years)
    # Stocks: 31 Dec of each year and of the year before, and around membership changes.
    per_unit = scope.kind == "park"
    cut_days: set[date] = set()
    for y in years:
        cut_days |= {date(y - 1, 12, 31), date(y, 12, 31)}
    boundaries = []  # (year, unit, day the stock is taken, "in"|"out")
    if per_unit:
        for y in years:
            for w in scope.windows(date(y, 1, 1), date(y, 12, 31)):
                if w.start > date(y, 1, 1):
                    boundaries.append((y, w.unit_id, w.start - timedelta(days=1), "in"))
                if w.end < date(y, 12, 31):
                    boundaries.append((y, w.unit_id, w.end, "out"))
    cuts = {yyyymm(d) for d in cut_days}
    bcuts = set()
    for _, _, d, _ in boundaries:
        m = yyyymm(d)
        bcuts.add(m if d == month_last(m) else _prev_month(m))
    cum = cumulative(session, sorted(cuts | {ALL_MONTHS}), scope=scope, per_unit=per_unit)  # year ends: yearly rows
    bcum = cumulative(session, sorted(bcuts), unit_ids=sorted({u for _, u, _, _ in boundaries}),
                      per_unit=True) if boundaries else cum  # around joins and leaves: monthly rows of those units
    session.info["wasteledger.cumulative"] = (scope, cum)  # the holdings check reads "now" from the same pass
    for y in years:
        for kind, kinds in KINDS.items():
            yf = out[(y, kind)]
            for name, day, members_day in (("stock_end", date(y, 12, 31), date(y, 12, 31)),
                                           ("stock_open", date(y - 1, 12, 31), date(y, 1, 1))):
                for origin in (0, 1, 2):
                    for wk in kinds:
                        yf[name].add(_stock(cum, scope, members_day, wk, origin, yyyymm(day), "own"), origin)
            for wk in kinds:
                for origin in (0, 1, 2):
                    yf.received_stock_end += _stock(cum, scope, date(y, 12, 31), wk, origin, y * 100 + 12,
                                                    "received")
                    yf.storage_stock_end += _stock(cum, scope, date(y, 12, 31), wk, origin, y * 100 + 12,
                                                   "storage")
    partial = [(y, u, d, side) for y, u, d, side in boundaries if d != month_last(yyyymm(d))]
    deltas = {}
    for _, u, d, _ in partial:
        deltas[(u, d)] = raw_stock_delta(session, [u], d.replace(day=1), d)
    for y, u, d, side in boundaries:
        m = yyyymm(d)
        base_month = m if d == month_last(m) else _prev_month(m)
        for kind, kinds in KINDS.items():
            target = out[(y, kind)].transfers_in if side == "in" else out[(y, kind)].transfers_out
            for wk in kinds:
                for origin in (0, 1, 2):
                    g = bcum.get((u, wk, origin), "own", base_month)
                    g += deltas.get((u, d), {}).get((u, wk, origin), {}).get("own", 0)
                    if g:
                        target.add(g, origin)
    return out


def _stock(cum: Cumulative, scope: Scope, members_day: date, wkind: int, origin: int, month: int, stock: str
           ) -> int:
    if scope.kind != "park":
        return cum.get((wkind, origin), stock, month)
    memo = cum.__dict__.setdefault("_sums", {})
    key = (members_day, month, stock)
    if key not in memo:  # the members' stocks summed once per (day, month, stock), per (kind, origin)
        members = set(scope.members_on(members_day))
        sums: dict[tuple[int, int], int] = {}
        for (u, wk, o), values in cum.values.items():
            if u in members:
                sums[(wk, o)] = sums.get((wk, o), 0) + values.get((stock, month), 0)
        memo[key] = sums
    return memo[key].get((wkind, origin), 0)


def _prev_month(m: int) -> int:
    y, mo = divmod(m, 100)
    return (y - 1) * 100 + 12 if mo == 1 else m - 1


def holdings_check(session: Session, scope: Scope, today: date) -> dict:
    """The stocks the balances imply now against what the holdings cache (batch table) says the units hold now."""
    members = scope.members_on(today) if scope.kind == "park" else []
    cached = session.info.pop("wasteledger.cumulative", None)
    if cached is not None and cached[0] is scope:
        cum = cached[1]
    else:
        cum = cumulative(session, [ALL_MONTHS], scope=scope, per_unit=scope.kind == "park")
    held = holdings(session, unit_ids=members) if scope.kind == "park" else holdings(session, scope=scope)

    def now(wk: int, o: int, stock: str) -> int:
        if scope.kind == "park":
            return sum(cum.get((u, wk, o), stock, ALL_MONTHS) for u in members)
        return cum.get((wk, o), stock, ALL_MONTHS)

    out = {}
    for kind, kinds in KINDS.items():
        bal_own = sum(now(wk, o, "own") for wk in kinds for o in (0, 1, 2))
        bal_recv = sum(now(wk, o, "received") for wk in kinds for o in (0, 1, 2))
        h_own = sum(held.get(("own", wk), 0) for wk in kinds)
        h_recv = sum(held.get(("received", wk), 0) for wk in kinds)
        out[kind] = {"balances_own_g": bal_own, "holdings_own_g": h_own, "balances_received_g": bal_recv,
                     "holdings_received_g": h_recv, "difference_g": (bal_own - h_own) + (bal_recv - h_recv)}
    return out
