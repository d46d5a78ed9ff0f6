"""The reports part of the demo: an imported year of history, declarations of each kind, and the users who file.

`seed(…)` in `api/demo.py` writes three full years of ledger history; this adds, through the same services:

- the smelter's year before that (monthly totals, the way a plant brings its paper ledger), imported as a CSV file,
  so its application has a base year and its figures say how much came from imported history;
- one declaration of each kind, each for the tier that owes it: the receiver (重点监管: licensed) files a monthly
  one, the smelter (简化管理: 10–100 t of hazardous waste a year) a quarterly one, the chemical plant an annual one;
  each submitted before its due date, plus a draft of the next month for the receiver; the regulator returns the
  receiver's submitted month (退回), so its inbox shows a declaration waiting for correction;
- `admin.ly`, the receiver's unit admin (its receiving clerk may not file declarations).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlmodel import Session, select

from ledger.accounts import User
from ledger.auth import Principal
from ledger.filings import returns
from ledger.history import imports
from ledger.reports import declarations
from ledger.types import clock_at
from ledger.users import UserCreate, create_user
from ledger.workdays import SHANGHAI


def _at(day: date, hh: int = 10) -> datetime:
    return datetime.combine(day, time(hh), tzinfo=SHANGHAI)


def _history_csv(year: int, cement_credit: str) -> bytes:
    """The smelter's year before its live ledger: slag and leach residue, monthly totals."""
    lines = ["月份,废物代码,废物名称,形态,产生量(kg),委托利用量(kg),委托利用方式,接收单位"]
    for m in range(1, 13):
        slag = 118_000 + 900 * ((m * 7) % 5)
        leach = 8_100 + 60 * (m % 4)
        lines.append(f"{year}-{m:02d},321-001-S01,冶炼炉渣,固态,{slag},{slag * 84 // 100},C2,{cement_credit}")
        lines.append(f"{year}-{m:02d},321-004-48,锌浸出渣,固态,{leach},{leach if m % 3 == 0 else 0},C1,"
                     f"{cement_credit}")
    return ("\n".join(lines) + "\n").encode()


def seed_reports(session: Session, world: dict, today: date) -> dict:
    """Import the smelter's earlier year, and file one declaration of each kind."""
    from ledger.registry.models import Unit

    u = world["units"]
    people = {name: session.exec(select(User).where(User.username == name)).one()
              for name in ("operator.mq", "operator.lz")}
    admin_ly = create_user(session, principal=Principal.of(session.exec(select(User).where(
        User.username == "admin")).one()), data=UserCreate(
        username="admin.ly", display_name="绿源环保 环保负责人", role="unit_admin", password="demo-pass-2026",
        unit_id=u["receiver"]))
    who = {"plant": Principal.of(people["operator.mq"]), "smelter": Principal.of(people["operator.lz"]),
           "receiver": Principal.of(admin_ly)}
    cement = session.get(Unit, u["cement"])
    first_live = date(today.year - 3, 1, 1)
    year = first_live.year - 1
    from ledger.registry import plans

    plans.set_economics(session, principal=Principal.of(session.exec(select(User).where(
        User.username == "admin")).one()), unit_id=u["smelter"], data=plans.EconomicsIn(
        year=year, value_added_10k=Decimal(86500), output_value_10k=Decimal(454000)))  # the imported year's
    result = imports.import_file(session, principal=who["smelter"], unit_id=u["smelter"],
                                 content=_history_csv(year, cement.credit_code),
                                 filename=f"鲁中冶炼{year}年固废台账（月汇总）.csv")
    filed = {}

    def file(unit: str, kind: str, start: date, submit: bool = True) -> None:
        period = declarations.period_of(kind, start)
        when = _at(period.due_on - timedelta(days=3))
        if when.date() >= today:
            when = _at(today - timedelta(days=1))
        if when.date() <= period.end:
            return  # the period has not ended yet (seeding on the first days of a month)
        with clock_at(when):
            d = declarations.draft(session, principal=who[unit], unit_id=u[unit],
                                   data=declarations.DraftIn(kind=kind, period_start=start))
            declarations.annotate(session, principal=who[unit], unit_id=u[unit], declaration_id=d.id,
                                  data=declarations.AnnotateIn(note="数据来自台账，已核对。"))
            if submit:
                declarations.submit(session, principal=who[unit], unit_id=u[unit], declaration_id=d.id)
        filed[f"{unit}:{kind}:{start}"] = d.id

    # One declaration of each kind, each filed by a unit whose tier owes it (a regulator's override where the
    # seeded quantities put the unit in another tier: the override is what a regulator would record).
    admin = Principal.of(session.exec(select(User).where(User.username == "admin")).one())
    quarterly_filer = "smelter"
    for unit in ("smelter", "plant"):
        if declarations.unit_tier(session, session.get(Unit, u[unit])) == "simplified":
            quarterly_filer = unit
            break
    else:
        from ledger.registry import units as registry_units

        registry_units.override_tier(session, principal=admin, unit_id=u["smelter"], data=registry_units.TierOverride(
            tier="simplified", reason="演示数据：年产生危险废物 10–100 吨，按简化管理"))
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    before_last = (last_month - timedelta(days=1)).replace(day=1)
    quarter = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
    last_quarter = (quarter - timedelta(days=1)).replace(day=1)
    last_quarter = date(last_quarter.year, (last_quarter.month - 1) // 3 * 3 + 1, 1)
    file("receiver", "monthly", before_last)
    key = f"receiver:monthly:{before_last}"
    if key in filed:  # the regulator returns it (退回): it waits in the receiver's inbox for a corrected version
        receiver = session.get(Unit, u["receiver"])
        reg_name = "regulator.zb" if receiver.region_code.startswith("3703") else "regulator.sd"
        reg = Principal.of(session.exec(select(User).where(User.username == reg_name)).one())
        with clock_at(datetime.now(SHANGHAI) - timedelta(minutes=5)):
            returns.return_declaration(session, principal=reg, unit_id=u["receiver"], declaration_id=filed[key],
                                       data=returns.ReturnIn(reason="接收量与联单接收量不一致，请核对后更正再报"))
    file("receiver", "monthly", last_month, submit=False)
    file(quarterly_filer, "quarterly", last_quarter)
    file("plant", "annual", date(today.year - 1, 1, 1))
    session.flush()
    return {"imported": {"document_id": result.document.id, "batches": result.batches, "records": result.records,
                         "year": year}, "declarations": filed}
