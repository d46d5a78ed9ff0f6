"""A unit's webhook subscriptions (/unit/{id}/webhooks): each with its state, consecutive failures, pending
deliveries and its recent deliveries; the unit's administrator creates one (URL, events, minimum tier; the signing
secret is shown once, by the script, from the API's answer, and never again) and re-enables one that was disabled
after repeated failures (`POST /webhooks`, `/webhooks/{id}/enable`, `alerts/webhooks.py`). Others who may read the
unit (its operators, its regulators) see the list without forms; a regulator's own region subscriptions are not
the unit's and are not shown here.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session

from alerts import notify
from alerts import webhooks as wsvc
from alerts.settings import TIER_NAMES
from api.deps import get_session
from api.pages.common import PageRoute, Viewer, login_required, render
from ledger.auth import may, require_unit

router = APIRouter(route_class=PageRoute)
DELIVERIES_SHOWN = 10
EVENT_NAMES = {"alert.opened": "告警产生", "alert.raised": "告警升级", "alert.pushed": "告警推送",
               "alert.rectified": "已提交整改", "alert.accepted": "整改通过", "alert.rejected": "整改退回",
               "alert.closed": "告警办结", "alert.fact_cleared": "事实消除", "alert.overdue": "告警逾期",
               "alert.escalated": "告警上报", "alert.forwarded": "移送执法"}
DELIVERY_STATUS = {"pending": "待发送", "delivered": "已送达", "failed": "失败", "dead": "放弃",
                   "retrying": "重试中"}


@router.get("/unit/{unit_id}/webhooks")
def webhooks_page(unit_id: int, request: Request, s: Session = Depends(get_session),
                  v: Viewer = Depends(login_required)):
    p = v.principal
    unit = require_unit(s, p, unit_id)
    subs = [x for x in wsvc.list_subscriptions(s, principal=p) if x.unit_id == unit.id]
    rows = [{"sub": wsvc.public(s, x),
             "deliveries": wsvc.deliveries(s, principal=p, subscription_id=x.id, limit=DELIVERIES_SHOWN)}
            for x in reversed(subs)]
    events = [(e, EVENT_NAMES.get(e, e)) for e in notify.EVENTS] + [(e, e) for e in notify.INBOX_EVENTS]
    return render(request, "unit/webhooks.html", {
        "unit": unit, "rows": rows, "can_manage": p.unit_id == unit.id and may(p, unit, "register"),
        "events": events, "EVENT_NAMES": EVENT_NAMES, "TIERS": TIER_NAMES, "DELIVERY_STATUS": DELIVERY_STATUS,
        "shown": DELIVERIES_SHOWN, "base": f"/unit/{unit.id}"}, v=v)
