"""Report paths: indicators with drill-downs, the 无废企业 / 无废园区 application tables (JSON, XLSX), charts."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import get_session, principal
from ledger.auth import Principal
from ledger.errors import InvalidInput
from ledger.mass import g_to_kg
from ledger.reports.figures import FIGURES, KINDS, record_query
from ledger.reports.indicators import indicators
from ledger.rollups.query import figure_records
from ledger.rollups.scope import resolve

router = APIRouter(prefix="/reports", tags=["reports"])

ERRORS = {401: {"description": "not logged in"}, 403: {"description": "outside your jurisdiction"},
          404: {"description": "the unit or park does not exist or is outside your scope"},
          422: {"description": "a parameter is missing or invalid (the field is named)"}}

ScopeQ = Query(..., pattern="^(unit|park|region)$", description="unit | park | region")
IdQ = Query(..., description="unit id, park id, or a 2/4/6-digit 行政区划 prefix for a region")


def exact(node):  # noqa: ANN001, ANN201
    """Decimals as strings (FastAPI would turn them into floats), recursively: masses and ratios stay exact."""
    if isinstance(node, Decimal):
        return format(node, "f")
    if isinstance(node, datetime):
        return node.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(node, date):
        return node.isoformat()
    if isinstance(node, dict):
        return {k: exact(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [exact(v) for v in node]
    return node


def _year(year: int) -> int:
    if not 2000 <= year <= 2100:
        raise InvalidInput("year must be between 2000 and 2100", field="year")
    return year


@router.get("/indicators", responses=ERRORS,
            summary="Yearly indicators of a unit, park or region (综合利用率, 产生强度, 贮存处置量, …), "
                    "each figure with a records_url")
def get_indicators(scope: str = ScopeQ, id: str = IdQ, year: int = Query(..., description="calendar year"),
                   s: Session = Depends(get_session), p: Principal = Depends(principal)):
    sc = resolve(s, p, kind=scope, scope_id=id)
    return exact(indicators(s, sc, _year(year)))


RECORD_COLUMNS = ("record_id", "unit_id", "seq", "record_kind", "occurred_at", "month", "waste_code", "waste_name",
                  "digital_id", "batch_id", "record_code", "flow", "counted_kg", "record_mass_kg", "method",
                  "counterparty_id", "manifest_id", "origin", "actor_name", "hash")


def _record_row(r: dict) -> dict:
    return {"record_id": r["record_id"], "unit_id": r["unit_id"], "seq": r["seq"], "record_kind": r["record_kind"],
            "occurred_at": r["at"], "month": r["month"], "waste_code": r["waste_code"], "waste_name": r["waste_name"],
            "digital_id": r["digital_id"], "batch_id": r["batch_id"], "record_code": r["record_code"],
            "flow": r["flow"], "counted_g": int(r["counted_g"]), "counted_kg": g_to_kg(int(r["counted_g"])),
            "record_mass_kg": g_to_kg(int(r["mass_g"])), "method": r["method"] or None,
            "counterparty_id": r["counterparty_id"] or None, "manifest_id": r["manifest_id"],
            "origin": {0: "ledger", 1: "import", 2: "back_entry"}[int(r["origin"])], "actor_name": r["actor_name"],
            "hash": r["hash"]}


@router.get("/records", responses=ERRORS,
            summary="The records behind one figure (paged JSON or CSV): their counted masses sum to the figure")
def get_records(scope: str = ScopeQ, id: str = IdQ, year: int = Query(...),
                figure: str = Query(..., description="a figure key, e.g. generated, utilised, stock_end"),
                kind: str = Query("all", pattern="^(hazardous|general|all)$"),
                category: str | None = Query(None, pattern="^(HW\\d{2}|S\\d{2})$",
                                             description="one waste category: HW08, S01 …"),
                method: str | None = Query(None, max_length=8, description="one method: R9, C2 …"),
                page: int = Query(1, ge=1), size: int = Query(100, ge=1, le=1000),
                format: str = Query("json", pattern="^(json|csv)$"),
                s: Session = Depends(get_session), p: Principal = Depends(principal)):
    if figure not in FIGURES:
        raise InvalidInput(f"figure must be one of {', '.join(FIGURES)}", field="figure")
    sc = resolve(s, p, kind=scope, scope_id=id)
    plan, rq = record_query(sc, figure, _year(year), kind, category=category, method=method)
    if format == "csv":
        rows, total, total_g = figure_records(s, plan, rq, offset=0, limit=1_000_000)
        buf = io.StringIO()
        buf.write("\ufeff")
        w = csv.DictWriter(buf, fieldnames=RECORD_COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(_record_row(r))
        name = f"records-{scope}-{id}-{year}-{figure}-{kind}.csv"
        return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "X-Total-Count": str(total), "X-Total-Kg": str(g_to_kg(total_g))})
    rows, total, total_g = figure_records(s, plan, rq, offset=(page - 1) * size, limit=size)
    return exact({"scope": {"kind": sc.kind, "id": sc.id, "name": sc.name}, "year": year, "figure": figure,
            "label": FIGURES[figure].label, "kind": kind, "kinds": list(KINDS[kind]), "total_records": total,
            "total_g": total_g, "total_kg": g_to_kg(total_g), "page": page, "size": size,
            "pages": (total + size - 1) // size, "records": [_record_row(r) for r in rows]})





def _years(years: str) -> list[int]:
    try:
        out = sorted({int(y) for y in years.split(",") if y.strip()})
    except ValueError:
        raise InvalidInput("years is a comma-separated list of years, e.g. 2021,2022,2023,2024", field="years") from None
    if not 1 <= len(out) <= 6 or any(not 2000 <= y <= 2100 for y in out):
        raise InvalidInput("give one to six years between 2000 and 2100", field="years")
    return out


AppScopeQ = Query(..., pattern="^(unit|park)$", description="unit (无废企业) | park (无废园区)")
YearsQ = Query(..., description="comma-separated years; the last three are evaluated against the year before them")


def _application(s: Session, p: Principal, scope: str, id: str, years: str):  # noqa: ANN202
    from ledger.reports.application import build

    sc = resolve(s, p, kind=scope, scope_id=id)
    return build(s, sc, _years(years))


@router.get("/application", responses=ERRORS,
            summary="The 无废企业 / 无废园区 application tables (MIIT 附表1/附表2, Hebei 2.1–2.4 / 4.1–4.4), "
                    "基本要求 met or not, and the records behind each figure")
def get_application(scope: str = AppScopeQ, id: str = IdQ, years: str = YearsQ,
                    s: Session = Depends(get_session), p: Principal = Depends(principal)):
    from ledger.reports.application import as_json

    return exact(as_json(_application(s, p, scope, id, years)))


@router.get("/application.xlsx", responses={**ERRORS, 200: {
    "content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}},
    "description": "the workbook: a sheet per table and a sheet of sources"}},
    response_class=Response, summary="The application tables as an XLSX workbook")
def get_application_xlsx(request: Request, scope: str = AppScopeQ, id: str = IdQ, years: str = YearsQ,
                         s: Session = Depends(get_session), p: Principal = Depends(principal)):
    from ledger.reports.application_xlsx import render
    from ledger.workdays import today

    app = _application(s, p, scope, id, years)
    data = render(app, public_url=request.app.state.settings.public_url, today=today())
    name = f"application-{scope}-{id}-{app.years[0]}-{app.years[-1]}.xlsx"
    return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def standard_ledger(s: Session, unit, start, end, *, format: str, table: str | None):  # noqa: ANN001, ANN201
    """`GET /units/{id}/ledger?layout=standard|format=xlsx`: HJ 1259 B.1–B.5 and the general-waste ledger."""
    from ledger.reports import hj1259

    tables = hj1259.standard_tables(s, unit_id=unit.id, start=start, end=end)
    name = f"ledger-{unit.id}-{start}-{end}"
    if format == "xlsx":
        data = hj1259.to_xlsx(tables, unit_name=unit.name, start=start, end=end)
        return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
    if format == "csv":
        if table not in tables:
            raise InvalidInput(f"with format=csv name one table: {', '.join(tables)}", field="table")
        return Response(hj1259.to_csv(tables[table]), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}-{table}.csv"'})
    return exact({"unit_id": unit.id, "from": str(start), "to": str(end), "layout": "standard",
                  "tables": hj1259.to_json(tables)})


SVG = {200: {"content": {"image/svg+xml": {}}, "description": "an SVG image"}}
KindQ = Query("all", pattern="^(hazardous|general|all)$", description="hazardous | general | all (工业固体废物)")


@router.get("/charts/monthly.svg", response_class=Response, responses={**ERRORS, **SVG},
            summary="Chart: monthly generation and utilisation (bars) and month-end stock (line) of a unit, park or "
                    "region for a year, in 吨")
def chart_monthly(scope: str = ScopeQ, id: str = IdQ, year: int = Query(...), kind: str = KindQ,
                  s: Session = Depends(get_session), p: Principal = Depends(principal)):
    from ledger.reports import charts

    sc = resolve(s, p, kind=scope, scope_id=id)
    svg = charts.render_monthly(sc.label(), _year(year), kind, charts.monthly_series(s, sc, year, kind))
    return Response(svg, media_type="image/svg+xml; charset=utf-8")


@router.get("/charts/rates.svg", response_class=Response, responses={**ERRORS, **SVG},
            summary="Chart: the yearly 综合利用率 trend (and 园区内综合利用率 for a park), in %")
def chart_rates(scope: str = ScopeQ, id: str = IdQ, from_year: int = Query(..., alias="from"),
                to_year: int = Query(..., alias="to"), kind: str = KindQ, s: Session = Depends(get_session),
                p: Principal = Depends(principal)):
    from ledger.reports import charts

    if not (2000 <= from_year <= to_year <= 2100 and to_year - from_year < 12):
        raise InvalidInput("from ≤ to, at most 12 years", field="to")
    sc = resolve(s, p, kind=scope, scope_id=id)
    years = list(range(from_year, to_year + 1))
    svg = charts.render_rates(sc.label(), kind, charts.rate_series(s, sc, years, kind), park=sc.kind == "park")
    return Response(svg, media_type="image/svg+xml; charset=utf-8")
