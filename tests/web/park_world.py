"""The reports' four-year park world (tests/reports/scenario.py: 2021–2024, a park of four units with a late joiner,
receivers inside and outside) for the park and declaration pages, with the people who look at it: the park's
manager, the manager of another park, a regulator of the province and one of another province, an operator of a
member unit, and the unit's admin with declarations in every state. The park's name carries a script."""

from __future__ import annotations

from datetime import date

from sqlalchemy import update
from sqlmodel import Session

from ledger.auth import SYSTEM
from ledger.registry import units
from ledger.registry.models import Park
from ledger.reports import declarations
from tests.conftest import make_user
from tests.reports.scenario import World
from tests.reports.scenario import build as build_scenario
from tests.web.world import XSS

YEAR = 2024


def build(session: Session) -> dict:
    w: World = build_scenario(session)
    session.execute(update(Park).where(Park.id == w.park).values(name=f"{XSS}测试化工园区"))
    other = units.create_park(session, principal=SYSTEM, data=units.ParkCreate(
        code="O-PARK", name="另一园区", region_code="370112"))
    session.commit()
    mgr, _ = make_user(session, role="park_manager", username="park.mgr", park_id=w.park)
    other_mgr, _ = make_user(session, role="park_manager", username="other.mgr", park_id=other.id)
    reg, _ = make_user(session, role="regulator", username="reg.sd", region_prefix="37")
    far, _ = make_user(session, role="regulator", username="reg.gd", region_prefix="44")
    op, _ = make_user(session, role="operator", username="op.a", unit_id=w.u["A"])
    ua = "a.user"  # the scenario's unit admin of A
    # Declarations of A: the annual of 2023 submitted, the annual of 2024 drafted, one monthly of 2024 submitted.
    a = w.who["A"]
    d1 = declarations.draft(session, principal=a, unit_id=w.u["A"], data=declarations.DraftIn(
        kind="annual", period_start=date(2023, 1, 1)))
    declarations.submit(session, principal=a, unit_id=w.u["A"], declaration_id=d1.id)
    d2 = declarations.draft(session, principal=a, unit_id=w.u["A"], data=declarations.DraftIn(
        kind="annual", period_start=date(2024, 1, 1)))
    d3 = declarations.draft(session, principal=a, unit_id=w.u["A"], data=declarations.DraftIn(
        kind="monthly", period_start=date(2024, 3, 1)))
    declarations.submit(session, principal=a, unit_id=w.u["A"], declaration_id=d3.id)
    session.commit()
    pid, uid = w.park, w.u["A"]
    pages = {
        mgr.username: [("park-list", "/console/parks"), ("park", f"/console/parks/{pid}?year={YEAR}"),
                       ("park-general", f"/console/parks/{pid}?year={YEAR}&kind=general"),
                       ("park-records", f"/console/parks/{pid}/records?year={YEAR}&figure=generated&kind=all"),
                       ("park-home", "/console")],
        reg.username: [("park-reg", f"/console/parks/{pid}?year=2023&kind=hazardous")],
        other_mgr.username: [("park-other-404", f"/console/parks/{pid}?year={YEAR}")],
        ua: [("declarations", f"/unit/{uid}/declarations"), ("declaration-draft", f"/unit/{uid}/declarations/{d2.id}"),
             ("declaration-submitted", f"/unit/{uid}/declarations/{d1.id}"),
             ("ledger-downloads", f"/unit/{uid}/ledger?from=2024-01-01&to=2024-12-31")],
    }
    session.rollback()
    return {"w": w, "park": pid, "other_park": other.id, "unit": uid, "pages": pages, "manager": mgr.username,
            "other_manager": other_mgr.username, "regulator": reg.username, "far": far.username,
            "operator": op.username, "unit_admin": ua, "declarations": {"submitted": d1.id, "draft": d2.id,
                                                                      "monthly": d3.id}}
