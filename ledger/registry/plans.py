"""Yearly management plans (管理计划) and yearly economics (工业增加值, 产值)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Field, Session, SQLModel, select

from ledger.auth import Principal, audit, require_unit
from ledger.errors import InvalidInput
from ledger.mass import g_to_kg, kg_to_g
from ledger.registry.catalogue import check_methods, check_waste_code
from ledger.registry.models import Economics, Plan, PlanItem, Unit
from ledger.validation import Code, DbId, Input, Money10k, PositiveKg, Year
from ledger.workdays import SHANGHAI

PLAN_DEADLINE = (3, 31)  # filed by 31 March each year
NEW_UNIT_PLAN_DAYS = 30  # a unit registered after that files its first plan within this many days


class PlanItemIn(Input):
    waste_code: Code
    planned_kg: PositiveKg
    receiver_ids: list[DbId] = Field(default_factory=list, max_length=100)
    methods: list[Code] = Field(default_factory=list, max_length=50)


class PlanCreate(Input):
    year: Year
    items: list[PlanItemIn] = Field(min_length=1, max_length=1000)
    note: str | None = Field(default=None, max_length=500)


class PlanItemPublic(SQLModel):
    waste_code: str
    planned_kg: Decimal
    receiver_ids: list[int]
    methods: list[str]


class PlanPublic(SQLModel):
    id: int
    unit_id: int
    year: int
    version: int
    filed_at: datetime
    filed_late: bool
    note: str | None
    items: list[PlanItemPublic]


class EconomicsIn(Input):
    year: Year
    value_added_10k: Money10k = Field(description="工业增加值, 万元")
    output_value_10k: Money10k = Field(description="工业总产值, 万元")


class EconomicsPublic(SQLModel):
    unit_id: int
    year: int
    value_added_10k: Decimal = Field(description="工业增加值, 万元")
    output_value_10k: Decimal = Field(description="工业总产值, 万元")


def file_plan(session: Session, *, principal: Principal, unit_id: int, data: PlanCreate) -> Plan:
    """File a plan for a year; filing again for the same year makes a new version, the old one stays."""
    unit = require_unit(session, principal, unit_id, act="register")
    seen = set()
    items = []
    for i, it in enumerate(data.items):
        code = check_waste_code(session, it.waste_code, field=f"items[{i}].waste_code")
        if code in seen:
            raise InvalidInput(f"{code} appears twice in the plan", field=f"items[{i}].waste_code")
        seen.add(code)
        for j, rid in enumerate(it.receiver_ids):
            r = session.get(Unit, rid)
            if r is None or not (r.is_receiver or r.is_collector):  # a small producer plans its collector
                raise InvalidInput(f"unit {rid} is not a registered receiver or collector",
                                   field=f"items[{i}].receiver_ids[{j}]")
        methods = check_methods(session, it.methods, field=f"items[{i}].methods")
        items.append(PlanItem(plan_id=0, waste_code=code, planned_g=kg_to_g(it.planned_kg, field=f"items[{i}].planned_kg"),
                              receiver_ids=list(it.receiver_ids), methods=methods))
    version = (session.exec(select(func.max(Plan.version)).where(Plan.unit_id == unit.id, Plan.year == data.year))
               .one() or 0) + 1
    plan = Plan(unit_id=unit.id, year=data.year, version=version, filed_by=principal.user_id, note=data.note)
    session.add(plan)
    session.flush()
    for it in items:
        it.plan_id = plan.id
        session.add(it)
    session.flush()
    audit(session, principal, action="plan.file", entity="plan", entity_id=plan.id,
          detail={"unit_id": unit.id, "year": data.year, "version": version, "codes": sorted(seen)})
    return plan


def plan_public(session: Session, plan: Plan) -> PlanPublic:
    items = session.exec(select(PlanItem).where(PlanItem.plan_id == plan.id).order_by(PlanItem.id)).all()
    return PlanPublic(id=plan.id, unit_id=plan.unit_id, year=plan.year, version=plan.version, filed_at=plan.filed_at,
                      filed_late=filed_late(plan, session.get(Unit, plan.unit_id)), note=plan.note,
                      items=[PlanItemPublic(waste_code=i.waste_code, planned_kg=g_to_kg(i.planned_g),
                                            receiver_ids=i.receiver_ids, methods=i.methods) for i in items])


def filed_late(plan: Plan, unit: Unit | None) -> bool:
    """Filed after 31 March of its year — or, for a unit registered later in the year, more than
    NEW_UNIT_PLAN_DAYS after its registration (a new unit files its first plan when it starts, not by March)."""
    due = date(plan.year, *PLAN_DEADLINE)
    if unit is not None and unit.created_at is not None:
        registered = unit.created_at.astimezone(SHANGHAI).date()
        if registered.year == plan.year:
            due = max(due, registered + timedelta(days=NEW_UNIT_PLAN_DAYS))
    return plan.filed_at.astimezone(SHANGHAI).date() > due


def list_plans(session: Session, *, principal: Principal, unit_id: int, year: int | None = None) -> list[Plan]:
    unit = require_unit(session, principal, unit_id)
    q = select(Plan).where(Plan.unit_id == unit.id)
    if year is not None:
        q = q.where(Plan.year == year)
    return list(session.exec(q.order_by(Plan.year, Plan.version)).all())


def current_plan_items(session: Session, *, unit_id: int, year: int) -> list[PlanItem]:
    """The items of the latest plan version for that year (empty when none was filed)."""
    plan = session.exec(select(Plan).where(Plan.unit_id == unit_id, Plan.year == year)
                        .order_by(Plan.version.desc())).first()
    if plan is None:
        return []
    return list(session.exec(select(PlanItem).where(PlanItem.plan_id == plan.id)).all())


def set_economics(session: Session, *, principal: Principal, unit_id: int, data: EconomicsIn) -> Economics:
    """Record (or revise) a unit's yearly economics; the previous figures go to the audit log."""
    unit = require_unit(session, principal, unit_id, act="register")
    row = session.exec(select(Economics).where(Economics.unit_id == unit.id, Economics.year == data.year)).first()
    before = None
    if row is None:
        row = Economics(unit_id=unit.id, year=data.year, value_added_10k=data.value_added_10k,
                        output_value_10k=data.output_value_10k)
    else:
        before = {"value_added_10k": str(row.value_added_10k), "output_value_10k": str(row.output_value_10k)}
        row.value_added_10k, row.output_value_10k = data.value_added_10k, data.output_value_10k
    session.add(row)
    session.flush()
    audit(session, principal, action="economics.set", entity="economics", entity_id=row.id,
          detail={"unit_id": unit.id, "year": data.year, "before": before,
                  "value_added_10k": str(data.value_added_10k), "output_value_10k": str(data.output_value_10k)})
    return row


def list_economics(session: Session, *, principal: Principal, unit_id: int) -> list[Economics]:
    unit = require_unit(session, principal, unit_id)
    return list(session.exec(select(Economics).where(Economics.unit_id == unit.id).order_by(Economics.year)).all())


def planned_receivers(session: Session, *, unit_id: int, year: int) -> dict[str, tuple[int, ...]]:
    """The waste codes of the latest plan version for that year, each with the receivers its item names (none: any
    receiver), from the registry cache (every manifest draft asks)."""
    from ledger.cache import cached

    def load() -> dict[str, tuple[int, ...]]:
        return {i.waste_code: tuple(i.receiver_ids or ())
                for i in current_plan_items(session, unit_id=unit_id, year=year)}

    return dict(cached(session, ("planned_receivers", unit_id, year), load))


def planned_codes(session: Session, *, unit_id: int, year: int) -> frozenset[str]:
    """The waste codes of the latest plan version for that year, in one query (or from the registry cache)."""
    from ledger.cache import cached

    def load() -> frozenset[str]:
        latest = (select(func.max(Plan.version)).where(Plan.unit_id == unit_id, Plan.year == year)).scalar_subquery()
        return frozenset(session.exec(select(PlanItem.waste_code).join(Plan, Plan.id == PlanItem.plan_id).where(
            Plan.unit_id == unit_id, Plan.year == year, Plan.version == latest)).all())

    return cached(session, ("planned_codes", unit_id, year), load)
