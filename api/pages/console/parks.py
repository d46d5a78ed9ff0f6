"""Parks in the console (/console/parks): the parks the viewer oversees, and each park's page for a year: its
indicators (综合利用率, 园区内综合利用率, 产生强度, 贮存处置量下降幅度 …) from `ledger.reports.indicators`, the
monthly and rates charts (SVG served by the reports API), the 无废园区 application tables as HTML with the XLSX
download, and every figure's drill-down to the records it was computed from (`/console/parks/{id}/records`, the
same query as GET /reports/records).

Who: the park's manager, a regulator whose region covers it, an admin (`require_park(act="oversee")` through
`rollups.scope.resolve`); anyone else gets the 404 page (a park outside the viewer's view does not exist for it).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import func
from sqlmodel import Session, select

from api.deps import get_session
from api.pages.common import PageRoute, Viewer, templates
from api.pages.console.base import console_viewer, nav, render_console
from api.routers.reports import RECORD_COLUMNS, _record_row
from ledger.errors import InvalidInput
from ledger.mass import g_to_kg
from ledger.registry import units
from ledger.registry.models import ParkMember, Unit
from ledger.reports.application import build as build_application
from ledger.reports.figures import FIGURES, KIND_LABELS, KINDS, record_query
from ledger.reports.indicators import indicators
from ledger.rollups.query import figure_records
from ledger.rollups.scope import resolve
from ledger.workdays import today

router = APIRouter(prefix="/console", route_class=PageRoute)
nav("parks", "园区", "/console/parks", order=25)
RECORDS_PAGE = 100
API = "/api/v1/reports"
KIND_SHORT = {"all": "工业固体废物（合计）", "general": "一般工业固体废物", "hazardous": "危险废物"}
# The mass figures of a park's indicator table, in the order a reader expects them.
FIGURE_ORDER = ("generated", "utilised", "utilised_prior", "utilised_in_house", "sent_for_utilisation",
                "utilised_in_park", "utilised_in_park_prior", "disposed", "disposed_prior", "disposed_in_house",
                "sent_for_disposal", "stock_open", "stock_end", "received", "processed_utilised",
                "processed_disposed", "transit_shipped", "transit_received")
FORMATS = {"wan_t": "{:.6f}", "wan_yuan": "{:,.2f}", "percent": "{:.2f}", "intensity_t": "{:.6f}",
           "intensity_wan_t": "{:.10f}"}
# The application's 基本要求 name their basis for machines in English; the page says it in Chinese.
BASIS_NAMES = {"ledger": "台账数据", "not in the ledger: 须另附证明材料": "台账以外：须另附证明材料",
               "ledger: every figure drills down to its records": "台账数据：每个数据均可查到所依据的记录"}
ORIGIN_NAMES = {"ledger": "台账", "import": "导入历史", "back_entry": "补录联单"}
FLOW_NAMES = {"own": "本单位", "received": "接收", "counterparty": "对方"}


def default_year() -> int:
    """The last full calendar year (Shanghai): this year's figures are still growing."""
    return today().year - 1


def _year(year: int | None) -> int:
    y = default_year() if year is None else year
    if not 2000 <= y <= 2100:
        raise InvalidInput("年份应在 2000 至 2100 之间", field="year")
    return y


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidInput("口径应为 all（合计）、general（一般工业固体废物）或 hazardous（危险废物）", field="kind")
    return kind


def drill(park_id: int, records_url: str | None) -> str | None:
    """The console page listing the records behind a figure, from the API's records_url."""
    if not records_url:
        return None
    q = [(k, v) for k, v in parse_qsl(urlsplit(records_url).query) if k not in ("scope", "id")]
    return f"/console/parks/{park_id}/records?{urlencode(q)}"


def basis_text(value: str) -> str:
    if value in BASIS_NAMES:
        return BASIS_NAMES[value]
    return "台账数据（以产值代替产品产量：台账不登记产品数量）" if value.startswith("ledger (产值") else value


def cell_text(value: object, fmt: str) -> str:
    """An application cell as the XLSX shows it (万吨 to 6 decimals, 万元 to 2, % to 2 …)."""
    if value is None or value == "":
        return "—"
    if fmt == "year":
        return str(value)
    if fmt in FORMATS and isinstance(value, (int, Decimal, float)):
        return FORMATS[fmt].format(Decimal(value))
    return str(value)


def t_text(value: Decimal | None) -> str:
    """Tonnes to at most 3 decimals, without trailing zeros."""
    if value is None:
        return "—"
    text = f"{Decimal(value).quantize(Decimal('0.001')):,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def pct_text(value: Decimal | None) -> str:
    return "—" if value is None else f"{value}%"


templates.env.filters.update(tonnes=t_text, pct=pct_text)


def overseen_parks(s: Session, v: Viewer) -> list[dict]:
    """The parks whose figures the viewer may read (its park, its region's parks, every park for an admin),
    each with its current number of member units."""
    parks = units.list_parks(s, principal=v.principal)
    if not parks:
        return []
    d = today()
    counts = dict(s.exec(select(ParkMember.park_id, func.count(ParkMember.id)).where(
        ParkMember.park_id.in_([p.id for p in parks]), ParkMember.since <= d,
        (ParkMember.until.is_(None)) | (ParkMember.until >= d)).group_by(ParkMember.park_id)).all())
    return [{"park": p, "members": counts.get(p.id, 0)} for p in parks]


@router.get("/parks")
def park_list(request: Request, s: Session = Depends(get_session), v: Viewer = Depends(console_viewer)):
    return render_console(request, "console/parks.html", {"rows": overseen_parks(s, v), "year": default_year()},
                          v=v, active="parks")


def _members(s: Session, scope) -> list[dict]:  # noqa: ANN001
    """Every membership of the park (a unit may have joined late or left), with the unit's name."""
    far = date(9999, 12, 31)
    ids = scope.unit_ids()
    names = dict(s.exec(select(Unit.id, Unit.name).where(Unit.id.in_(ids))).all()) if ids else {}
    return [{"unit_id": w.unit_id, "name": names.get(w.unit_id, ""), "since": w.start,
             "until": None if w.end == far else w.end}
            for w in sorted(scope.memberships, key=lambda w: (w.start, w.unit_id))]


def _rate(block: dict | None, park_id: int) -> dict | None:
    """A ratio of the indicators with drill-downs for its numerator and each part of its denominator."""
    if block is None:
        return None
    return {"label": block["label"], "percent": block["percent"], "formula": block["formula"],
            "num": {"label": block["numerator"]["label"], "t": block["numerator"]["t"],
                    "href": drill(park_id, block["numerator"].get("records_url"))},
            "den_t": g_to_kg(block["denominator"]["g"]) / 1000,
            "parts": [{"label": p["label"], "t": p["t"], "href": drill(park_id, p.get("records_url"))}
                      for p in block["denominator"]["parts"]]}


@router.get("/parks/{park_id}")
def park_page(park_id: int, request: Request, year: int | None = None, kind: str = "all",
              s: Session = Depends(get_session), v: Viewer = Depends(console_viewer)):
    y, kind = _year(year), _kind(kind)
    sc = resolve(s, v.principal, kind="park", scope_id=str(park_id))  # 404 outside the viewer's oversight
    ind = indicators(s, sc, y)
    blk = ind["kinds"][kind]
    figures = [{**blk["figures"][k], "href": drill(park_id, blk["figures"][k]["records_url"])}
               for k in FIGURE_ORDER if k in blk["figures"]]
    rates = [r for r in (_rate(blk["utilisation_rate"], park_id), _rate(blk.get("in_park_utilisation_rate"), park_id),
                         _rate(ind["recycling"], park_id) if kind == "all" else None) if r]
    intensity = [{"label": it["label"], "value": it["value"], "unit": it["unit"],
                  "num_t": it["numerator"]["t"], "href": drill(park_id, it["numerator"]["records_url"]),
                  "va": it["value_added_10k"]} for it in ind["intensity"].values()]
    dec = ind["storage_disposal_decline"]
    decline = {"label": dec["label"], "percent": dec["decline_percent"], "formula": dec["formula"],
               "base_year": dec["base_year"], "base_t": g_to_kg(dec["base"]["g"]) / 1000,
               "evaluated_t": g_to_kg(dec["evaluated"]["g"]) / 1000,
               "base_href": drill(park_id, dec["base"]["parts"]["disposed"]["records_url"]),
               "evaluated_href": drill(park_id, dec["evaluated"]["parts"]["disposed"]["records_url"])}
    missing = ind["economics"]["missing_units"]
    missing_names = [n for _, n in s.exec(select(Unit.id, Unit.name).where(Unit.id.in_(missing))
                                          .order_by(Unit.id)).all()] if missing else []
    years = [y - 3, y - 2, y - 1, y]
    app = build_application(s, sc, years)
    for row in next((t.rows for t in app.tables if t.key == "requirements"), []):
        row[1][-1].value = basis_text(str(row[1][-1].value))
    tables = [{"key": t.key, "title": t.title, "columns": t.columns, "notes": t.notes,
               "rows": [{"style": style, "cells": [{"text": cell_text(c.value, c.fmt), "num": c.fmt in FORMATS, "year": c.fmt == "year",
                                                     "href": drill(park_id, (c.source or {}).get("records_url"))}
                                                    for c in cells]} for style, cells in t.rows]}
              for t in app.tables]
    q = urlencode({"scope": "park", "id": park_id})
    this_year = today().year
    return render_console(request, "console/park.html", {
        "park": sc, "year": y, "kind": kind, "kinds": KIND_SHORT, "kind_label": KIND_LABELS[kind],
        "year_choices": list(range(this_year, this_year - 8, -1)), "figures": figures, "rates": rates,
        "intensity": intensity, "decline": decline, "economics": ind["economics"], "missing_names": missing_names, "identity": blk["identity"],
        "holdings": ind["holdings_check"], "members": _members(s, sc), "tables": tables,
        "requirements": app.requirements, "app_years": years, "evaluated": app.evaluated, "base_year": app.base_year,
        "xlsx_url": f"{API}/application.xlsx?{q}&years={','.join(map(str, years))}",
        "monthly_svg": f"{API}/charts/monthly.svg?{q}&year={y}&kind={kind}",
        "rates_svg": f"{API}/charts/rates.svg?{q}&from={y - 3}&to={y}&kind={kind}",
        "records_base": f"/console/parks/{park_id}/records"}, v=v, active="parks")


@router.get("/parks/{park_id}/records")
def park_records(park_id: int, request: Request, figure: str, year: int | None = None, kind: str = "all",
                 category: str | None = Query(None, pattern="^(HW\\d{2}|S\\d{2})$"),
                 method: str | None = Query(None, max_length=8), page: int = 1,
                 s: Session = Depends(get_session), v: Viewer = Depends(console_viewer)):
    """The records one figure of the park was computed from: their counted masses sum to the figure."""
    y, kind = _year(year), _kind(kind)
    if figure not in FIGURES:
        raise InvalidInput(f"未知的指标 {figure}", field="figure")
    sc = resolve(s, v.principal, kind="park", scope_id=str(park_id))
    page = max(page, 1)
    plan, rq = record_query(sc, figure, y, kind, category=category, method=method)
    rows, total, total_g = figure_records(s, plan, rq, offset=(page - 1) * RECORDS_PAGE, limit=RECORDS_PAGE)
    records = [_record_row(r) for r in rows]
    ids = {r["unit_id"] for r in records} | {r["counterparty_id"] for r in records if r["counterparty_id"]}
    names = dict(s.exec(select(Unit.id, Unit.name).where(Unit.id.in_(ids))).all()) if ids else {}
    keep = {"year": y, "figure": figure, "kind": kind, "category": category or "", "method": method or ""}
    keep = {k: val for k, val in keep.items() if val != ""}
    api = f"{API}/records?{urlencode({'scope': 'park', 'id': park_id, **keep})}"
    pages = (total + RECORDS_PAGE - 1) // RECORDS_PAGE

    def link(n: int) -> str:
        return f"/console/parks/{park_id}/records?{urlencode({**keep, 'page': n})}"

    return render_console(request, "console/park_records.html", {
        "park": sc, "year": y, "kind": kind, "kind_label": KIND_SHORT[kind], "figure": figure,
        "label": FIGURES[figure].label, "category": category, "method": method, "records": records,
        "names": names, "total": total, "total_t": g_to_kg(total_g) / 1000, "total_kg": g_to_kg(total_g),
        "page": page, "pages": pages, "link": link, "csv_url": f"{api}&format=csv", "json_url": api,
        "columns": RECORD_COLUMNS, "origin_names": ORIGIN_NAMES, "flow_names": FLOW_NAMES},
        v=v, active="parks")
