"""The console's home: the jurisdiction at a glance (open and overdue alerts, units, manifests on the road, receipts
overdue), the parks it oversees, and search."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy import func, or_
from sqlmodel import Session, select

from alerts import queue
from alerts.models import Alert
from api.deps import get_session
from api.pages.common import PageRoute, Viewer
from api.pages.console.base import console_viewer, nav, render_console
from api.pages.console.parks import overseen_parks
from ledger.auth import unit_scope
from ledger.manifests import Manifest
from ledger.registry.models import Unit
from ledger.types import utcnow

router = APIRouter(prefix="/console", route_class=PageRoute)
nav("home", "概览", "/console", order=0)


@router.get("")
def home(request: Request, s: Session = Depends(get_session), v: Viewer = Depends(console_viewer)):
    p = v.principal
    visible = select(Unit.id).where(unit_scope(p))
    units = s.exec(select(func.count(Unit.id)).where(unit_scope(p))).one()
    in_scope = or_(Manifest.originator_id.in_(visible), Manifest.receiver_id.in_(visible),
                   Manifest.hauler_id.in_(visible))
    by_status = dict(s.exec(select(Manifest.status, func.count(Manifest.id)).where(in_scope)
                            .group_by(Manifest.status)).all())
    overdue = s.exec(select(func.count(Manifest.id)).where(
        in_scope, Manifest.status.in_(("in_transit", "delivered")), Manifest.receipt_deadline < utcnow())).one()
    now = utcnow()
    alerts_open = s.exec(select(func.count(Alert.id)).where(queue.visible(p), Alert.status != "closed")).one()
    alerts_overdue = s.exec(select(func.count(Alert.id)).where(queue.visible(p), queue.overdue_clause(now))).one()
    return render_console(request, "console/home.html", {"units": units, "by_status": by_status,
                                                         "overdue": overdue, "alerts_open": alerts_open,
                                                         "alerts_overdue": alerts_overdue,
                                                         "parks": overseen_parks(s, v)}, v=v, active="home")
