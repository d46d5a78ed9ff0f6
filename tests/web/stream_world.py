"""The collection stream's remaining pages: a collector with its centre and two garages that consented to it (the
first named with a script), their waste collected into the centre (four holdings of waste oil), one lot made of two
of them and two left to combine; the second garage's consent revoked (the reason carries a script); a third garage
that consented to nobody; the collector's webhook subscriptions (one active with pending deliveries, one disabled
after failures; a description with a script); and the first garage's annual declaration of last year, submitted,
for a regulator of the province to return. Usernames are fixed so that tests and screenshots can log in."""

from __future__ import annotations

from datetime import date

from sqlalchemy import update
from sqlmodel import select

from alerts import notify
from alerts.models import WebhookDelivery, WebhookSubscription
from ledger.accounts import User
from ledger.registry.models import Unit
from ledger.types import utcnow
from ledger.workdays import today as shanghai_today
from tests.api.collection_world import OIL, add_collector, add_garage, collect
from tests.conftest import auth, make_user
from tests.web.world import XSS, _ok


def build(client, admin, session) -> dict:  # noqa: ANN001
    col = add_collector(client, admin, session)
    g1, g2, g3 = (add_garage(client, admin, session, n) for n in (1, 2, 3))
    session.execute(update(Unit).where(Unit.id == g1["id"]).values(name=f"{XSS}历城区第1汽车维修店"))
    session.commit()
    cid = col["id"]
    col_admin, ctok = make_user(session, role="unit_admin", unit_id=cid, username=f"coladm-{cid}")
    col_op, _ = make_user(session, role="operator", unit_id=cid, username=f"colop-{cid}")
    reg, _ = make_user(session, role="regulator", region_prefix="37", username=f"reg37-{cid}")
    far, _ = make_user(session, role="regulator", region_prefix="44", username=f"reg44-{cid}")
    g1_op, _ = make_user(session, role="operator", unit_id=g1["id"], username=f"g1op-{cid}")
    col["driver"] = session.exec(select(User.username).where(User.id == col["driver_id"])).one()
    session.rollback()
    # Webhooks first, so that the consents and orders below leave deliveries waiting for them.
    hooks = [_ok(client.post("/api/v1/webhooks", headers=auth(ctok), json={
        "unit_id": cid, "url": "https://erp.example.com/hooks/ledger", "events": [], "min_tier": "mid",
        "description": f"{XSS}ERP 对接"}), 201),
        _ok(client.post("/api/v1/webhooks", headers=auth(ctok), json={
            "unit_id": cid, "url": "http://10.0.0.7/hook", "events": ["alert.opened", "inbox.consent.granted"]}),
            201)]
    collect(client, g1, col, ("25.5", "20"))
    collect(client, g2, col, ("30", "18.5"))
    notify.fan_out(session, now=utcnow())  # the scheduler's step: the inbox events become deliveries
    session.execute(update(WebhookSubscription).where(WebhookSubscription.id == hooks[1]["id"]).values(
        active=False, consecutive_failures=8, disabled_reason="HTTP 500 连续失败 8 次，已自动停用"))
    session.execute(update(WebhookDelivery).where(WebhookDelivery.subscription_id == hooks[1]["id"]).values(
        attempts=8, last_status=500, last_error=f"{XSS}Internal Server Error"))
    session.commit()
    # The collected holdings at the centre: make one lot of the first of each garage's, leave two to combine.
    from ledger.batches import Batch

    held = session.exec(select(Batch).where(Batch.holder_unit_id == cid, Batch.parent_id.is_not(None))
                        .order_by(Batch.id)).all()
    assert len(held) == 4, [b.id for b in held]
    by_unit: dict[int, list[int]] = {}
    for b in held:
        by_unit.setdefault(b.unit_id, []).append(b.id)
    session.rollback()
    lot = _ok(client.post(f"/api/v1/facilities/{col['centre']}/lots", headers=col["adm"], json={
        "waste_code": OIL, "source_ids": [by_unit[g1["id"]][0], by_unit[g2["id"]][0]], "container_type": "吨桶",
        "operator": "站长"}), 201)
    consents = _ok(client.get(f"/api/v1/units/{g2['id']}/consents", headers=g2["adm"]))
    _ok(client.post(f"/api/v1/units/{g2['id']}/consents/{consents[0]['id']}/revoke", headers=g2["adm"],
                    json={"reason": f"{XSS}换收集单位"}))
    # The first garage's annual declaration of last year, submitted.
    start = date(shanghai_today().year - 1, 1, 1).isoformat()
    d = _ok(client.post(f"/api/v1/units/{g1['id']}/declarations", headers=g1["adm"],
                        json={"kind": "annual", "period_start": start}), 201)
    d = _ok(client.post(f"/api/v1/units/{g1['id']}/declarations/{d['id']}/submit", headers=g1["adm"]))
    c_id, lot_id = cid, lot["lot"]["lot_id"]
    pages = {
        g1["username"]: [("consents-producer", f"/unit/{g1['id']}/consents"),
                         ("garage-home", f"/unit/{g1['id']}"),
                         ("declaration-unit", f"/unit/{g1['id']}/declarations/{d['id']}")],
        g3["username"]: [("consents-none", f"/unit/{g3['id']}/consents")],
        col_admin.username: [("consents-collector", f"/unit/{c_id}/consents"), ("lots", f"/unit/{c_id}/lots"),
                             ("lot", f"/unit/{c_id}/lots/{lot_id}"), ("webhooks", f"/unit/{c_id}/webhooks"),
                             ("collector-home", f"/unit/{c_id}")],
        col_op.username: [("lots-operator", f"/unit/{c_id}/lots"), ("webhooks-operator", f"/unit/{c_id}/webhooks")],
        reg.username: [("consents-regulator", f"/unit/{g1['id']}/consents"),
                       ("lots-regulator", f"/unit/{c_id}/lots"), ("webhooks-regulator", f"/unit/{c_id}/webhooks"),
                       ("declaration-regulator", f"/unit/{g1['id']}/declarations/{d['id']}")],
    }
    session.rollback()
    return {"col": col, "garages": [g1, g2, g3], "lot": lot, "hooks": hooks, "declaration": d, "pages": pages,
            "col_admin": col_admin.username, "col_op": col_op.username, "reg": reg.username, "far": far.username,
            "g1_op": g1_op.username, "ctok": ctok, "by_unit": by_unit}
