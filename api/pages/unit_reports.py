"""A unit's declarations and ledger downloads (/unit/{id}/declarations, /unit/{id}/ledger), beside its own pages.

Declarations (申报, HJ 1259 §7): every period the unit owes with its state (`declarations.owed`), every version
drafted or submitted, and one declaration's figures (tables C.1–C.3) and status. The unit's own operators and
admins draft, refresh, submit and correct through the JSON API (wl.js action forms, one Idempotency-Key each);
anyone else who may read the unit (its regulators, its park manager) sees the same pages without the buttons.

Returns (退回): the declaration lists the returns a regulator made (reason, who, when) and, while one waits, the
correction path (更正 → a new draft → submit; submitting it settles the return). A regulator whose jurisdiction
covers the unit gets the 退回 form on the submitted version (POST …/declarations/{id}/return).

Ledger downloads: for a chosen period, the links to what GET /units/{id}/ledger offers: the HJ 1259 workbook
(B.1–B.5, the receiver's table and the general-waste ledger GF.1–GF.3, format=xlsx), each table as CSV, and the
one-row-per-record CSV; with the number of rows each table holds for the period.
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session, select

from api.deps import get_session
from api.pages.common import PageRoute, Viewer, form_day, login_required, render
from api.routers.reports import exact
from ledger.auth import DECLARANT_ROLES, Principal, may, require_unit
from ledger.errors import InvalidInput
from ledger.filings.models import InboxItem
from ledger.registry.models import TIER_NAMES, Unit
from ledger.reports import declarations as svc
from ledger.reports import hj1259
from ledger.workdays import today

router = APIRouter(route_class=PageRoute)
STATUS_NAMES = {"draft": "草稿", "submitted": "已提交", "superseded": "已被更正版本取代"}
OWED_STATES = {"missing": "未起草", "draft": "草稿未提交", "overdue": "逾期未提交", "on_time": "按期提交",
               "late": "逾期提交"}
OWED_PAGE = 24
MAX_DAYS = 3 * 366  # a download longer than three years is split (the XLSX is built in memory)


def _declarant(p: Principal, unit: Unit) -> bool:
    return p.unit_id == unit.id and p.role in DECLARANT_ROLES


@router.get("/unit/{unit_id}/declarations")
def declaration_list(unit_id: int, request: Request, all: int = 0, s: Session = Depends(get_session),  # noqa: A002
                     v: Viewer = Depends(login_required)):
    """What the unit owes (newest first; the last OWED_PAGE periods unless all=1) and every version it drafted or
    submitted."""
    unit = require_unit(s, v.principal, unit_id)
    owed = list(reversed(svc.owed(s, principal=v.principal, unit_id=unit.id)))
    rows = list(reversed(svc.list_for(s, principal=v.principal, unit_id=unit.id)))
    tier = svc.unit_tier(s, unit)
    counts = {k: sum(1 for o in owed if o["state"] == k) for k in OWED_STATES}
    return render(request, "unit/declarations.html", {
        "unit": unit, "owed": owed if all else owed[:OWED_PAGE], "owed_total": len(owed), "rows": rows, "tier": TIER_NAMES.get(tier, tier),
        "kinds": [svc.KIND_NAMES[k] for k in svc.KINDS_BY_TIER[tier]], "counts": counts,
        "labels": {d.id: svc.period_of(d.kind, d.period_start).label for d in rows},
        "declarant": _declarant(v.principal, unit), "base": f"/unit/{unit.id}", "STATUS_NAMES": STATUS_NAMES,
        "OWED_STATES": OWED_STATES, "KIND_NAMES": svc.KIND_NAMES,
        "SHORT": {"monthly": "月报", "quarterly": "季报", "annual": "年报"}}, v=v)


@router.get("/unit/{unit_id}/declarations/{declaration_id}")
def declaration_page(unit_id: int, declaration_id: int, request: Request, s: Session = Depends(get_session),
                     v: Viewer = Depends(login_required)):
    """One declaration: its period, due date, status and version, the figures per waste code, the actions."""
    unit = require_unit(s, v.principal, unit_id)
    obj = svc.get(s, v.principal, unit.id, declaration_id)
    submitted_at = obj.submitted_at
    d = exact(svc.public(s, obj))
    versions = [x for x in svc.list_for(s, principal=v.principal, unit_id=unit.id)
                if x.kind == d["kind"] and str(x.period_start) == d["period_start"]]
    latest = max(versions, key=lambda x: x.version) if versions else None
    open_return = s.exec(select(InboxItem.id).where(
        InboxItem.subject_type == "declaration", InboxItem.subject_id == obj.id, InboxItem.kind == "declaration.returned",
        InboxItem.resolved_at.is_(None))).first()
    p = v.principal
    replaced = svc.get(s, p, unit.id, obj.replaces_id) if obj.replaces_id else None
    return render(request, "unit/declaration.html", {
        "replaced_returns": svc.public(s, replaced, compare=False)["returns"] if replaced else [],
        "unit": unit, "d": d, "submitted_at": submitted_at, "versions": versions, "is_latest": latest is not None and latest.id == d["id"],
        "latest": latest, "open_return": open_return is not None,
        # A regulator whose jurisdiction covers the unit returns a submitted declaration (退回); never the unit itself.
        "may_return": p.role == "regulator" and may(p, unit, "supervise") and d["status"] == "submitted"
        and open_return is None,
        "declarant": _declarant(p, unit), "base": f"/unit/{unit.id}", "STATUS_NAMES": STATUS_NAMES,
        "tier": TIER_NAMES.get(d["tier"], d["tier"])}, v=v)



def presets(t: date) -> list[dict]:
    """Periods a unit usually downloads: this year so far, last year, last quarter, last month."""
    first_month = t.replace(day=1)
    last_month_end = first_month - timedelta(days=1)
    q_start = date(t.year, (t.month - 1) // 3 * 3 + 1, 1)
    lq_end = q_start - timedelta(days=1)
    lq_start = date(lq_end.year, (lq_end.month - 1) // 3 * 3 + 1, 1)
    return [{"label": "本年至今", "from": date(t.year, 1, 1), "to": t},
            {"label": f"{t.year - 1}年", "from": date(t.year - 1, 1, 1), "to": date(t.year - 1, 12, 31)},
            {"label": f"上季度（{lq_start.year}年第{(lq_start.month - 1) // 3 + 1}季度）", "from": lq_start,
             "to": lq_end},
            {"label": f"上月（{last_month_end.year}年{last_month_end.month}月）", "from": last_month_end.replace(day=1),
             "to": last_month_end}]


@router.get("/unit/{unit_id}/ledger")
def ledger_page(unit_id: int, request: Request, s: Session = Depends(get_session),
                v: Viewer = Depends(login_required)):
    """The HJ 1259 ledger downloads for a period (default: this year so far), with each table's row count."""
    unit = require_unit(s, v.principal, unit_id)
    params = request.query_params
    t = today()
    start = form_day(params.get("from"), "from") or date(t.year, 1, 1)
    end = form_day(params.get("to"), "to") or t
    if end < start:
        raise InvalidInput("结束日期早于开始日期", field="to")
    if (end - start).days > MAX_DAYS:
        raise InvalidInput("一次最多下载三年的台账，请缩短期间", field="from")
    tables = hj1259.standard_tables(s, unit_id=unit.id, start=start, end=end)
    api = f"/api/v1/units/{unit.id}/ledger"
    period = {"from": start.isoformat(), "to": end.isoformat()}
    links = [{"key": k, "title": tb.title, "rows": len(tb.rows),
              "csv": f"{api}?{urlencode({**period, 'format': 'csv', 'table': k})}"} for k, tb in tables.items()]
    return render(request, "unit/ledger.html", {
        "unit": unit, "start": start, "end": end, "links": links, "presets": presets(t),
        "xlsx_url": f"{api}?{urlencode({**period, 'format': 'xlsx'})}",
        "records_csv": f"{api}?{urlencode({**period, 'format': 'csv'})}",
        "base": f"/unit/{unit.id}"}, v=v)
