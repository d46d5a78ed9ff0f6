"""`GET /reports/indicators`: a scope's figures for a year, each with the link to the records behind it.

Ratios name their numerator and denominator (each a figure with its own records); intensities name the
工业增加值 they divide by (万元, from the registry's economics; a park's value added counts each member for the
days it was a member). The national identity is checked, and the stocks the balances imply are checked against
the holdings the batch ledger keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

from sqlalchemy import func
from sqlmodel import Session, select

from ledger.mass import g_to_kg, g_to_t
from ledger.registry.models import Economics, Unit
from ledger.reports.figures import FIGURES, KIND_LABELS, KINDS, YearFigures, compute, holdings_check
from ledger.rollups.scope import Scope
from ledger.workdays import today as shanghai_today

API = "/api/v1"
PERCENT = Decimal("0.01")
INTENSITY = Decimal("0.000001")


def wan_t(g: int) -> Decimal:
    """Grams as 万吨 (10^4 t), exact."""
    return Decimal(f"{g}E-10")


def percent(num: int, den: int) -> Decimal | None:
    if den == 0:
        return None
    return (Decimal(num) * 100 / Decimal(den)).quantize(PERCENT, rounding=ROUND_HALF_UP)


def records_url(scope: Scope, figure: str, year: int, kind: str) -> str:
    sid = scope.id if scope.kind != "region" else urlencode({"id": scope.id})[3:]
    return f"{API}/reports/records?scope={scope.kind}&id={sid}&year={year}&figure={figure}&kind={kind}"


def mass(scope: Scope, yf: YearFigures, name: str) -> dict:
    a = yf[name]
    return {"key": name, "label": FIGURES[name].label, "g": a.g, "kg": g_to_kg(a.g), "t": g_to_t(a.g),
            "imported_kg": g_to_kg(a.imported_g), "back_entered_kg": g_to_kg(a.back_entered_g),
            "records_url": records_url(scope, name, yf.year, yf.kind)}


def derived(label: str, g: int, parts: dict) -> dict:
    """A mass that is not a sum of records (e.g. 当年贮存量): its parts each have their records."""
    return {"label": label, "g": g, "kg": g_to_kg(g), "t": g_to_t(g), "parts": parts}


def ratio(label: str, num: dict, den_parts: list[dict], *, formula: str) -> dict:
    den = sum(p["g"] for p in den_parts)
    return {"label": label, "percent": percent(num["g"], den), "formula": formula, "numerator": num,
            "denominator": {"g": den, "kg": g_to_kg(den), "parts": den_parts}}


# ---- economics ---------------------------------------------------------------------------------------------------

@dataclass
class ValueAdded:
    value_10k: Decimal | None
    output_10k: Decimal | None
    missing_units: list[int]
    basis: str


def value_added(session: Session, scope: Scope, year: int) -> ValueAdded:
    """工业增加值 and 工业总产值 (万元) of the scope for a year; a park prorates members by their days."""
    if scope.kind == "region":
        va, out, n = session.execute(select(
            func.sum(Economics.value_added_10k), func.sum(Economics.output_value_10k), func.count())
            .join(Unit, Unit.id == Economics.unit_id)
            .where(Economics.year == year, scope.unit_condition(Economics.unit_id))).one()
        return ValueAdded(Decimal(va) if va is not None else None, Decimal(out) if out is not None else None, [],
                          f"sum over the {n} units of the region that reported economics for {year}")
    windows = scope.windows(date(year, 1, 1), date(year, 12, 31))
    ids = sorted({w.unit_id for w in windows})
    rows = {u: (va, out) for u, va, out in session.execute(
        select(Economics.unit_id, Economics.value_added_10k, Economics.output_value_10k)
        .where(Economics.year == year, scope.ids(Economics.unit_id, ids))).all()} if ids else {}
    missing = [u for u in ids if u not in rows]
    if not ids or missing:
        return ValueAdded(None, None, missing, "工业增加值 missing")
    days = Decimal((date(year, 12, 31) - date(year, 1, 1)).days + 1)
    va = out = Decimal(0)
    for w in windows:
        share = Decimal((w.end - w.start).days + 1) / days
        va += Decimal(rows[w.unit_id][0]) * share
        out += Decimal(rows[w.unit_id][1]) * share
    q = Decimal("0.01")
    basis = "each unit's yearly figure" if scope.kind == "unit" else (
        "members' yearly figures, each prorated by its days of membership in the year")
    return ValueAdded(va.quantize(q), out.quantize(q), [], basis)


def intensity(g: int, va: ValueAdded) -> Decimal | None:
    if va.value_10k is None or va.value_10k == 0:
        return None
    return (Decimal(g) / Decimal(1_000_000) / va.value_10k).quantize(INTENSITY, rounding=ROUND_HALF_UP)


# ---- assembling ------------------------------------------------------------------------------------------------

def kind_block(scope: Scope, yf: YearFigures) -> dict:
    names = ["generated", "utilised", "utilised_prior", "utilised_in_house", "sent_for_utilisation", "disposed",
             "disposed_prior", "disposed_in_house", "sent_for_disposal", "stock_end", "stock_open", "received",
             "processed_utilised", "processed_disposed", "transit_shipped", "transit_received"]
    if scope.kind == "park":
        names += ["utilised_in_park", "utilised_in_park_prior"]
    figs = {n: mass(scope, yf, n) for n in names}
    out = {"label": KIND_LABELS[yf.kind], "figures": figs}
    out["utilisation_rate"] = ratio("综合利用率", figs["utilised"], [figs["generated"], figs["utilised_prior"]],
                                    formula="综合利用量 ÷ (当年产生量 + 综合利用往年贮存量) × 100%")
    if scope.kind == "park":
        out["in_park_utilisation_rate"] = ratio(
            "园区内综合利用率（不含外运）", figs["utilised_in_park"],
            [figs["generated"], figs["utilised_in_park_prior"]],
            formula="园区内综合利用量 ÷ (当年产生量 + 园区内综合利用往年贮存量) × 100%")
    cur = yf.current_stock
    out["current_stock"] = derived("当年贮存量（当年产生、年末仍贮存）", cur.g, {
        "stock_end": figs["stock_end"], "stock_open": figs["stock_open"],
        "transfers_in_g": yf.transfers_in.g, "transfers_out_g": yf.transfers_out.g,
        "utilised_prior": figs["utilised_prior"], "disposed_prior": figs["disposed_prior"],
        "formula": "贮存量 − (年初贮存量 + 迁入单位库存 − 迁出单位库存 − 综合利用往年贮存量 − 处置往年贮存量)"})
    out["storage_disposal"] = derived("贮存处置量（处置量 + 当年贮存量）", yf["disposed"].g + cur.g, {
        "disposed": figs["disposed"], "current_stock_g": cur.g})
    out["received_stock_end_kg"] = g_to_kg(yf.received_stock_end)
    out["storage_facilities_stock_end_kg"] = g_to_kg(yf.storage_stock_end)
    g, u, up = yf["generated"].g, yf["utilised"].g, yf["utilised_prior"].g
    d, dp = yf["disposed"].g, yf["disposed_prior"].g
    rhs = (u - up) + (d - dp) + cur.g
    out["identity"] = {
        "formula": "产生量 = (综合利用量 − 其中往年贮存量) + 贮存量 + (处置量 − 其中往年贮存量) + 倾倒丢弃量",
        "generated_g": g, "utilised_excl_prior_g": u - up, "disposed_excl_prior_g": d - dp,
        "current_stock_g": cur.g, "dumped_g": 0, "imbalance_g": g - rhs, "balanced": g == rhs,
        "note": "倾倒丢弃量 is 0: the ledger has no record kind for dumping; 贮存量 here is 当年贮存量"}
    return out


def indicators(session: Session, scope: Scope, year: int, *, today: date | None = None) -> dict:
    """Every indicator of the scope for the year, against the base year (the year before the three evaluated)."""
    today = today or shanghai_today()
    base = year - 3
    figs = compute(session, scope, [base, year])
    out: dict = {"scope": {"kind": scope.kind, "id": scope.id, "name": scope.name}, "year": year,
                 "base_year": base, "kinds": {}}
    for kind in KINDS:
        out["kinds"][kind] = kind_block(scope, figs[(year, kind)])
    va = value_added(session, scope, year)
    general, allk = figs[(year, "general")], figs[(year, "all")]
    out["economics"] = {"value_added_10k": va.value_10k, "output_value_10k": va.output_10k, "basis": va.basis,
                        "missing_units": va.missing_units}
    out["intensity"] = {
        "hebei": {"label": "一般工业固体废物产生强度（河北：一般工业固体废物产生量 ÷ 工业增加值）", "unit": "t/万元",
                  "value": intensity(general["generated"].g, va),
                  "numerator": mass(scope, general, "generated"), "value_added_10k": va.value_10k},
        "miit": {"label": "工业固废产生强度（工信部附表1：工业固体废物产生量 ÷ 工业增加值）", "unit": "t/万元",
                 "value": intensity(allk["generated"].g, va),
                 "numerator": mass(scope, allk, "generated"), "value_added_10k": va.value_10k},
    }
    base_g = figs[(base, "general")]
    b_sd = base_g["disposed"].g + base_g.current_stock.g
    e_sd = general["disposed"].g + general.current_stock.g
    out["storage_disposal_decline"] = {
        "label": "一般工业固体废物贮存处置量下降幅度", "base_year": base,
        "formula": "(基准年贮存处置量 − 评价年贮存处置量) ÷ 基准年贮存处置量 × 100%",
        "base": derived("基准年贮存处置量", b_sd, {"disposed": mass(scope, base_g, "disposed"),
                                             "current_stock_g": base_g.current_stock.g}),
        "evaluated": derived("评价年贮存处置量", e_sd, {"disposed": mass(scope, general, "disposed"),
                                                "current_stock_g": general.current_stock.g}),
        "decline_percent": percent(b_sd - e_sd, b_sd)}
    coll = allk["recycling_collected"].g
    out["recycling"] = None if coll == 0 else ratio(
        "再生资源回收利用率", mass(scope, allk, "recycling_recycled"), [mass(scope, allk, "recycling_collected")],
        formula="再生资源循环利用量 ÷ 再生资源收集量 × 100%（可再生类废物 S17 的接收量与其利用、转交利用量）")
    out["holdings_check"] = holdings_check(session, scope, today)
    gen = allk["generated"]
    out["history"] = {"generated_imported_kg": g_to_kg(gen.imported_g),
                      "generated_back_entered_kg": g_to_kg(gen.back_entered_g),
                      "note": "every mass figure gives imported_kg / back_entered_kg: the part from imported "
                              "history and from back-entered paper manifests"}
    return out
