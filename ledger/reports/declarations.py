"""Declarations (申报, HJ 1259 §7 and appendix C): drafted from the period balances, annotated, submitted, frozen.

What a unit owes depends on its tier: 重点监管 (key) monthly by the 15th of the next month and annually by 31 March;
简化管理 (simplified) quarterly by the 15th of the quarter's first month after it and annually; 登记管理 (registered)
annually. A draft's figures are recomputed from the balances whenever it is refreshed; a submitted declaration is
frozen; a correction is a new version that names the one it replaces (which becomes `superseded` when the new
version is submitted). The alert rules read `submitted_at` and `due_on` from this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated

from annotated_types import MaxLen
from sqlalchemy import JSON, Column, Index, UniqueConstraint, func, update
from sqlmodel import Field, Session, SQLModel, select

from ledger.auth import Principal, audit, require_declarant, require_unit
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.filings.models import InboxItem
from ledger.registry.models import TIER_NAMES, Unit
from ledger.types import UTCDateTime, utcnow
from ledger.validation import Code, Day, Input
from ledger.workdays import local_day
from ledger.workdays import today as shanghai_today

KINDS = ("monthly", "quarterly", "annual")
STATUSES = ("draft", "submitted", "superseded")
KIND_NAMES = {"monthly": "月度申报", "quarterly": "季度申报", "annual": "年度申报"}


class Declaration(SQLModel, table=True):
    """One version of one declaration of one unit for one period."""

    __tablename__ = "declaration"
    __table_args__ = (
        UniqueConstraint("unit_id", "kind", "period_start", "version"),
        Index("ix_declaration_unit_period", "unit_id", "kind", "period_start"),
        Index("ix_declaration_due", "status", "due_on"),
    )
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id")
    kind: str = Field(max_length=10)
    period_start: date
    period_end: date
    due_on: date
    version: int = 1
    status: str = Field(default="draft", max_length=12)
    tier: str = Field(max_length=16)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    submitted_by: int | None = None
    submitted_by_name: str | None = Field(default=None, max_length=120)
    replaces_id: int | None = Field(default=None, foreign_key="declaration.id")
    note: str | None = Field(default=None, max_length=2000)
    annotations: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    figures: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# ---- periods a unit owes ----------------------------------------------------------------------------------------

ANNUAL_DUE = (3, 31)  # 每年 3 月 31 日前 (HJ 1259 §7.2)
PERIODIC_DUE_DAY = 15  # 每月 / 每季度首月 15 日前


@dataclass(frozen=True)
class Period:
    kind: str
    start: date
    end: date
    due_on: date

    @property
    def label(self) -> str:
        if self.kind == "monthly":
            return f"{self.start.year}年{self.start.month}月"
        if self.kind == "quarterly":
            return f"{self.start.year}年第{(self.start.month - 1) // 3 + 1}季度"
        return f"{self.start.year}年"


KINDS_BY_TIER = {"key": ("monthly", "annual"), "simplified": ("quarterly", "annual"), "registered": ("annual",)}


def period_of(kind: str, start: date) -> Period:
    """The period of `kind` that begins on `start` (a first of month; of a quarter; 1 January)."""
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind")
    if start.day != 1 or (kind == "quarterly" and start.month % 3 != 1) or (kind == "annual" and start.month != 1):
        raise InvalidInput(f"a {kind} period starts on the first day of a "
                           f"{ {'monthly': 'month', 'quarterly': 'quarter', 'annual': 'year'}[kind]}",
                           field="period_start")
    months = {"monthly": 1, "quarterly": 3, "annual": 12}[kind]
    y, m = divmod(start.month - 1 + months, 12)
    nxt = date(start.year + y, m + 1, 1)
    due = date(nxt.year, *ANNUAL_DUE) if kind == "annual" else date(nxt.year, nxt.month, PERIODIC_DUE_DAY)
    return Period(kind, start, nxt - timedelta(days=1), due)


def owed_periods(kind: str, first_day: date, today: date) -> list[Period]:
    """Every period of `kind` that ended before today, from the one containing `first_day`."""
    if kind == "monthly":
        start = first_day.replace(day=1)
    elif kind == "quarterly":
        start = date(first_day.year, (first_day.month - 1) // 3 * 3 + 1, 1)
    else:
        start = date(first_day.year, 1, 1)
    out = []
    while True:
        p = period_of(kind, start)
        if p.end >= today:
            return out
        out.append(p)
        start = p.end + timedelta(days=1)


def unit_tier(session: Session, unit: Unit) -> str:
    from ledger.registry.tiers import derived_tier

    return unit.tier_override or derived_tier(session, unit=unit)


# ---- figures (HJ 1259 appendix C) from the balances ---------------------------------------------------------------

def figures(session: Session, *, unit: Unit, start: date, end: date) -> dict:
    """What a declaration states for the period: per hazardous waste code, generation, in-house utilisation and
    disposal by method, what was sent out per receiver and method (net of returns), and the stock at the end of
    the previous period and of this one (tables C.1–C.3). Read from the period balances."""
    from ledger.batches import Batch
    from ledger.mass import g_to_kg
    from ledger.registry.models import Method, Permit, WasteCode
    from ledger.rollups.models import HAZARDOUS
    from ledger.rollups.query import cumulative, flow_sums
    from ledger.rollups.scope import Scope, Window, plan, yyyymm

    scope = Scope("unit", unit.id, unit.name, unit.region_code, [Window(unit.id, date(1900, 1, 1),
                                                                         date(9999, 12, 31))])
    first, last = yyyymm(start), yyyymm(end)
    prev = first - 89 if first % 100 == 1 else first - 1
    sums = flow_sums(session, plan(scope, first, last), by=("kind", "waste_code", "method", "counterparty_id"))
    cum = cumulative(session, [prev, last], scope=scope, per_unit=False, by=("kind", "waste_code"))
    codes = {k[1] for k in sums if k[0] == HAZARDOUS} | {k[1] for k in cum.values if k[0] == HAZARDOUS}
    methods = {m.code: m for m in session.exec(select(Method))}
    catalogue = {w.code: w for w in session.exec(select(WasteCode).where(WasteCode.code.in_(codes)))} if codes else {}
    batch_info = {}
    for code, name, form, hazard, comp in session.exec(select(
            Batch.waste_code, Batch.name, Batch.form, Batch.hazard, Batch.components)
            .where(Batch.holder_unit_id == unit.id, Batch.waste_code.in_(codes)).order_by(Batch.id)).all():
        batch_info.setdefault(code, (name, form, hazard, comp))
    units = {u.id: u for u in session.exec(select(Unit))}
    rows = []
    for code in sorted(codes):
        own_in: dict = {}
        sent: dict = {}
        received = processed = 0
        gen = 0
        for (wk, c, method, party, _cp, _rec), cols in sums.items():
            if wk != HAZARDOUS or c != code:
                continue
            gen += cols["generated_g"]
            for col, label in (("used_g", "利用"), ("disposed_g", "处置")):
                if cols[col]:
                    own_in[(method, label)] = own_in.get((method, label), 0) + cols[col]
            net = (cols["sent_util_g"] - cols["returned_util_g"]) + (cols["sent_disp_g"] - cols["returned_disp_g"])
            if net:
                sent[(party, method)] = sent.get((party, method), 0) + net
            received += cols["received_g"]
            processed += cols["proc_util_g"] + cols["proc_disp_g"]
        name, form, hazard, comp = batch_info.get(code, ("", "", "", None))
        cat = catalogue.get(code)
        opening = cum.get((HAZARDOUS, code), "own", prev) + cum.get((HAZARDOUS, code), "received", prev)
        closing = cum.get((HAZARDOUS, code), "own", last) + cum.get((HAZARDOUS, code), "received", last)
        sent_rows = []
        for (party, method), g in sorted(sent.items()):
            receiver = units.get(party)
            licence = ""
            if receiver is not None:
                p = session.exec(select(Permit).where(Permit.unit_id == receiver.id,
                                                      Permit.kind == "operating_licence",
                                                      Permit.valid_from <= end, Permit.valid_to >= start)).first()
                licence = p.number if p else ""
            sent_rows.append({"province": receiver.region_code[:2] if receiver else "", "receiver_id": party or None,
                              "receiver": receiver.name if receiver else "", "licence": licence, "method": method,
                              "method_name": methods[method].name if method in methods else "",
                              "kg": str(g_to_kg(g))})
        rows.append({
            "waste_code": code, "category": "HW" + code[-2:], "name": name,
            "catalogue_name": cat.description if cat else "", "components": comp or "", "form": form,
            "hazard": hazard, "unit": "kg", "generated_kg": str(g_to_kg(gen)),
            "in_house": [{"method": m, "method_name": methods[m].name if m in methods else "", "kind": k,
                          "kg": str(g_to_kg(g))} for (m, k), g in sorted(own_in.items())],
            "sent_out": sent_rows, "received_kg": str(g_to_kg(received)), "processed_kg": str(g_to_kg(processed)),
            "opening_stock_kg": str(g_to_kg(opening)), "closing_stock_kg": str(g_to_kg(closing)),
        })
    return {"unit": {"id": unit.id, "name": unit.name, "credit_code": unit.credit_code},
            "period": {"start": str(start), "end": str(end)}, "rows": rows,
            "table": "C.3" if (end - start).days > 100 else ("C.2" if (end - start).days > 40 else "C.1")}


# ---- services -----------------------------------------------------------------------------------------------------

class DraftIn(Input):
    kind: str = Field(max_length=16, description="monthly | quarterly | annual")
    period_start: Day = Field(description="first day of the month / quarter / year")


class AnnotateIn(Input):
    note: str | None = Field(default=None, max_length=2000, description="a remark for the whole declaration")
    annotations: dict[Code, Annotated[str, MaxLen(500)]] | None = Field(default=None, max_length=500,
                                                                         description="{waste_code: remark}")


class CorrectIn(Input):
    reason: str = Field(min_length=4, max_length=500, description="why the submitted declaration is corrected")


def _latest(session: Session, unit_id: int, kind: str, start: date) -> Declaration | None:
    return session.exec(select(Declaration).where(Declaration.unit_id == unit_id, Declaration.kind == kind,
                                                  Declaration.period_start == start)
                        .order_by(Declaration.version.desc())).first()


def get(session: Session, principal: Principal, unit_id: int, declaration_id: int) -> Declaration:
    require_unit(session, principal, unit_id)
    d = session.get(Declaration, declaration_id, populate_existing=True)
    if d is None or d.unit_id != unit_id:
        raise NotFound(f"declaration {declaration_id} is not a declaration of unit {unit_id}",
                       code="declaration.not_found")
    return d


def draft(session: Session, *, principal: Principal, unit_id: int, data: DraftIn, today: date | None = None
          ) -> Declaration:
    """Draft (or refresh the draft of) what the unit owes for a period, from its balances."""
    unit = require_declarant(session, principal, unit_id)
    today = today or shanghai_today()
    p = period_of(data.kind, data.period_start)
    tier = unit_tier(session, unit)
    if p.kind not in KINDS_BY_TIER[tier]:
        raise InvalidInput(f"a {TIER_NAMES[tier]} unit declares {' and '.join(KINDS_BY_TIER[tier])}, not {p.kind}",
                           field="kind", code="declaration.kind_not_owed")
    if p.end >= today:
        raise InvalidInput(f"the period {p.label} has not ended yet", field="period_start",
                           code="declaration.period_open")
    latest = _latest(session, unit.id, p.kind, p.start)
    if latest is not None and latest.status != "draft":
        raise Conflict(f"the {KIND_NAMES[p.kind]} for {p.label} was submitted (version {latest.version}); "
                       f"correct it with POST …/declarations/{latest.id}/correct", code="declaration.submitted",
                       details={"declaration_id": latest.id})
    now = utcnow()
    if latest is None:
        latest = Declaration(unit_id=unit.id, kind=p.kind, period_start=p.start, period_end=p.end, due_on=p.due_on,
                             version=1, status="draft", tier=tier, created_by=principal.user_id or None)
    latest.figures = figures(session, unit=unit, start=p.start, end=p.end)
    latest.tier, latest.updated_at = tier, now
    session.add(latest)
    session.flush()
    audit(session, principal, action="declaration.draft", entity="declaration", entity_id=latest.id,
          detail={"kind": p.kind, "period_start": str(p.start), "version": latest.version})
    return latest


def annotate(session: Session, *, principal: Principal, unit_id: int, declaration_id: int, data: AnnotateIn
             ) -> Declaration:
    """The unit adds its remarks to a draft (a submitted declaration is frozen)."""
    require_declarant(session, principal, unit_id)
    d = get(session, principal, unit_id, declaration_id)
    if d.status != "draft":
        raise Conflict(f"declaration {d.id} is {d.status} and frozen; correct it with a new version",
                       code="declaration.frozen")
    if data.note is not None:
        d.note = data.note
    if data.annotations is not None:
        codes = {r["waste_code"] for r in d.figures.get("rows", [])}
        unknown = sorted(set(data.annotations) - codes)
        if unknown:
            raise InvalidInput(f"no row for waste code(s) {', '.join(unknown)} in this declaration",
                               field="annotations")
        d.annotations = {**d.annotations, **data.annotations}
    d.updated_at = utcnow()
    session.add(d)
    session.flush()
    audit(session, principal, action="declaration.annotate", entity="declaration", entity_id=d.id)
    return d


def submit(session: Session, *, principal: Principal, unit_id: int, declaration_id: int) -> Declaration:
    """Submit a draft as reviewed: it is frozen; a version it replaces becomes superseded."""
    require_declarant(session, principal, unit_id)
    d = get(session, principal, unit_id, declaration_id)
    if d.status != "draft":
        raise Conflict(f"declaration {d.id} is already {d.status}", code="declaration.frozen")
    now = utcnow()
    result = session.execute(update(Declaration).where(Declaration.id == d.id, Declaration.status == "draft")
                             .values(status="submitted", submitted_at=now, submitted_by=principal.user_id or None,
                                     submitted_by_name=principal.username, updated_at=now))
    if result.rowcount != 1:
        raise Conflict(f"declaration {d.id} was submitted by someone else just now", code="declaration.frozen")
    if d.replaces_id:
        session.execute(update(Declaration).where(Declaration.id == d.replaces_id).values(status="superseded",
                                                                                         updated_at=now))
    session.refresh(d)
    audit(session, principal, action="declaration.submit", entity="declaration", entity_id=d.id,
          detail={"kind": d.kind, "period_start": str(d.period_start), "version": d.version,
                  "on_time": local_day(now) <= d.due_on})
    return d


def correct(session: Session, *, principal: Principal, unit_id: int, declaration_id: int, data: CorrectIn
            ) -> Declaration:
    """Start a correction of a submitted declaration: a new draft version naming the one it replaces."""
    unit = require_declarant(session, principal, unit_id)
    d = get(session, principal, unit_id, declaration_id)
    latest = _latest(session, unit.id, d.kind, d.period_start)
    if d.status != "submitted" or latest.id != d.id:
        raise Conflict(f"only the latest submitted version is corrected (version {latest.version} is "
                       f"{latest.status})", code="declaration.not_latest", details={"declaration_id": latest.id})
    new = Declaration(unit_id=unit.id, kind=d.kind, period_start=d.period_start, period_end=d.period_end,
                      due_on=d.due_on, version=d.version + 1, status="draft", tier=d.tier, replaces_id=d.id,
                      note=f"更正：{data.reason}", annotations=dict(d.annotations), created_by=principal.user_id or None,
                      figures=figures(session, unit=unit, start=d.period_start, end=d.period_end))
    session.add(new)
    session.flush()
    audit(session, principal, action="declaration.correct", entity="declaration", entity_id=new.id,
          detail={"replaces": d.id, "reason": data.reason})
    return new


def list_for(session: Session, *, principal: Principal, unit_id: int) -> list[Declaration]:
    require_unit(session, principal, unit_id)
    return list(session.exec(select(Declaration).where(Declaration.unit_id == unit_id)
                             .order_by(Declaration.period_start, Declaration.kind, Declaration.version)).all())


def owed(session: Session, *, principal: Principal, unit_id: int, today: date | None = None) -> list[dict]:
    """Every period the unit owes since its first record, with the state of its declaration."""
    from ledger.journal import JournalRecord

    unit = require_unit(session, principal, unit_id)
    today = today or shanghai_today()
    first = session.exec(select(func.min(JournalRecord.occurred_at)).where(JournalRecord.unit_id == unit.id)).one()
    if first is None:
        return []
    tier = unit_tier(session, unit)
    have = {}
    for d in session.exec(select(Declaration).where(Declaration.unit_id == unit.id).order_by(Declaration.version)):
        have[(d.kind, d.period_start)] = d
    out = []
    for kind in KINDS_BY_TIER[tier]:
        for p in owed_periods(kind, local_day(first), today):
            d = have.get((p.kind, p.start))
            sub = d.submitted_at if d is not None else None
            if d is None or d.status == "draft" or sub is None:
                state = "overdue" if today > p.due_on else ("draft" if d is not None else "missing")
            else:
                first_sub = session.exec(select(func.min(Declaration.submitted_at)).where(
                    Declaration.unit_id == unit.id, Declaration.kind == p.kind,
                    Declaration.period_start == p.start)).one()
                state = "on_time" if local_day(first_sub) <= p.due_on else "late"
            out.append({"kind": p.kind, "label": p.label, "period_start": p.start, "period_end": p.end,
                        "due_on": p.due_on, "state": state, "declaration_id": d.id if d else None,
                        "version": d.version if d else None})
    return sorted(out, key=lambda x: (x["period_start"], x["kind"]))


def returns_of(session: Session, ids: list[int]) -> dict[int, list[dict]]:
    """The regulator's returns (退回) of each declaration, oldest first, in one query."""
    out: dict[int, list[dict]] = {i: [] for i in ids}
    if not ids:
        return out
    for r in session.exec(select(InboxItem).where(InboxItem.subject_type == "declaration",
                                                  InboxItem.subject_id.in_(ids),
                                                  InboxItem.kind == "declaration.returned").order_by(InboxItem.id)):
        out[r.subject_id].append({"reason": r.data.get("reason"), "returned_by": r.data.get("returned_by"),
                                  "at": r.created_at, "inbox_item_id": r.id})
    return out


def public(session: Session, d: Declaration, *, compare: bool = True, returns: list[dict] | None = None) -> dict:
    """The declaration, and whether the ledger now says something else for its period (`returns`: preloaded by
    `returns_of` when many are listed)."""
    out = {"id": d.id, "unit_id": d.unit_id, "kind": d.kind, "kind_name": KIND_NAMES[d.kind],
           "label": period_of(d.kind, d.period_start).label, "period_start": d.period_start,
           "period_end": d.period_end, "due_on": d.due_on, "version": d.version, "status": d.status, "tier": d.tier,
           "submitted_at": d.submitted_at, "submitted_by": d.submitted_by, "submitted_by_name": d.submitted_by_name,
           "on_time": None if d.submitted_at is None else local_day(d.submitted_at) <= d.due_on,
           "replaces_id": d.replaces_id, "note": d.note, "annotations": d.annotations, "figures": d.figures,
           "created_at": d.created_at, "updated_at": d.updated_at}
    out["returns"] = returns if returns is not None else returns_of(session, [d.id])[d.id]
    if compare and d.status == "submitted":
        unit = session.get(Unit, d.unit_id)
        now = figures(session, unit=unit, start=d.period_start, end=d.period_end)
        out["differs_from_ledger"] = now["rows"] != d.figures.get("rows")
    return out
