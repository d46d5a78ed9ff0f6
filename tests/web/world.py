"""One small world that reaches every page, with names that try to smuggle a script into each of them: a plant, a
hauler and a receiver with manifests in two states and the alerts a receipt raised (a 8.5% lighter line: a mid
alert, pushed; a partly refused line: a high one); a collector and a garage with pickup orders at every step."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import select

from ledger.accounts import User
from ledger.registry.models import Unit
from ledger.workdays import today as shanghai_today
from tests.api.collection_world import OIL, add_collector, add_garage, window
from tests.conftest import auth, batch_body, make_user, setup_transfer

XSS = '<script>alert("x")</script>'


def _ok(r, status: int = 200) -> dict:  # noqa: ANN001
    assert r.status_code == status, r.text
    return r.json()


def build(client, admin, session) -> dict:  # noqa: ANN001
    """Plant, hauler (named with a script), receiver, a submitted and a received manifest, a stored batch;
    users of every role; and which pages each of them (and an anonymous phone) opens."""
    w = setup_transfer(client, admin, session)
    uid = w["unit"]["id"]
    session.execute(update(Unit).where(Unit.id == w["hauler"]["id"]).values(name=f"{XSS}安运物流"))
    session.execute(update(User).where(User.id == w["driver_id"]).values(display_name=f"{XSS}张师傅"))
    session.commit()
    op, _ = make_user(session, role="operator", unit_id=uid, username=f"op-{uid}")
    ua, _ = make_user(session, role="unit_admin", unit_id=uid, username=f"ua-{uid}")
    rcv, _ = make_user(session, role="receiver_operator", unit_id=w["receiver"]["id"], username=f"rcv-{uid}")
    reg, _ = make_user(session, role="regulator", region_prefix="37", username=f"reg-{uid}")
    driver = session.exec(select(User.username).where(User.id == w["driver_id"])).one()

    def drum(**kw) -> dict:  # noqa: ANN003
        return _ok(client.post("/api/v1/batches", json=batch_body(w, **kw), headers=w["op"]), 201)

    d = [drum(name=f"{XSS}废矿物油", operator=f"{XSS}王工", container_volume_l=30), drum(), drum(), drum(),
         drum(store_facility_id=w["store"], gross_kg="60")]

    def manifest(batches: list[dict]) -> dict:
        m = _ok(client.post("/api/v1/manifests", headers=w["op"], json={
            "originator_id": uid, "hauler_id": w["hauler"]["id"], "vehicle_id": w["vehicles"][0],
            "receiver_id": w["receiver"]["id"], "driver_id": w["driver_id"], "planned_date": shanghai_today().isoformat(),
            "remarks": XSS, "lines": [{"batch_id": b["id"], "planned_method": "R9"} for b in batches]}), 201)
        return _ok(client.post(f"/api/v1/manifests/{m['id']}/submit", headers=w["op"]))

    m1 = manifest(d[:2])
    m2 = manifest(d[2:4])
    _ok(client.post(f"/api/v1/manifests/{m2['id']}/pickup", headers=w["drv"],
                    json={"scanned": [b["digital_id"] for b in d[2:4]], "lat": 36.65, "lon": 117.12}))
    _ok(client.post(f"/api/v1/manifests/{m2['id']}/receive", headers=w["rcv"], json={"lines": [
        {"batch_id": d[2]["id"], "received_kg": "150", "acceptance": "accepted"},
        {"batch_id": d[3]["id"], "received_kg": "164", "acceptance": "partially_refused", "accepted_kg": "120",
         "reason": f"{XSS}桶体破损"}]}))
    rid = w["receiver"]["id"]
    # The receipt raised a mid alert (line 1 is 8.5% light) and a high one (line 2 partly refused, not returned).
    session.rollback()  # end the test session's read snapshot before it writes (SQLite WAL)
    city, ctok = make_user(session, role="regulator", region_prefix="3701", username=f"city-{uid}")
    alerts = {a["rule"]: a for a in _ok(client.get("/api/v1/alerts", headers=auth(ctok)))["items"]}
    mid, high = alerts["TRN-WEIGHT-DIFF"], alerts["TRN-REFUSAL-OPEN"]
    assert (mid["tier"], high["tier"]) == ("mid", "high")
    _ok(client.post(f"/api/v1/alerts/{mid['id']}/push", headers=auth(ctok), json={"note": f"{XSS}请核实"}))
    orders = pickup_world(client, admin, session)
    g, col = orders["garage"], orders["col"]
    pages = {
        None: [("login", "/login"), ("login-expired", "/login?expired=1"), ("verify", f"/m/{m2['number']}"),
               ("scan-anon", f"/s/{d[0]['digital_id']}"), ("facility-anon", f"/f/{w['store']}"),
               ("404", "/m/20990000000000"), ("public-unit", f"/u/{w['unit']['credit_code']}"),
               ("public-unit-404", "/u/91370100MA0000000X")],
        op.username: [("station", "/station"), ("station-label", f"/station/label/{d[0]['id']}"),
                      ("scan", f"/s/{d[0]['digital_id']}"), ("facility", f"/f/{w['store']}"),
                      ("unit", f"/unit/{uid}"), ("chain", f"/unit/{uid}/chain")],
        ua.username: [("unit-admin", f"/unit/{uid}"), ("unit-alert-rectify", f"/unit/{uid}/alerts/{mid['id']}"),
                      ("unit-alerts", f"/unit/{uid}/alerts")],
        driver: [("manifests", "/m"), ("pickup", f"/m/{m1['number']}"), ("403", "/station")],
        rcv.username: [("received", f"/m/{m2['number']}"), ("receiver-unit", f"/unit/{rid}")],
        reg.username: [("console", "/console"), ("console-units", "/console/units"),
                       ("console-unit", f"/console/units/{uid}"), ("console-chain", f"/console/units/{uid}/chain"),
                       ("console-manifests", "/console/manifests?q=%E5%AE%89%E8%BF%90"),
                       ("console-manifest", f"/m/{m1['number']}"), ("console-alerts", "/console/alerts"),
                       ("console-alert-high", f"/console/alerts/{high['id']}")],
        city.username: [("console-alerts-filtered", "/console/alerts?tier=mid&status=pushed&overdue=0&region=3701"),
                        ("console-alert", f"/console/alerts/{mid['id']}"), ("console-unit-code", f"/console/units/{uid}")],
        g["username"]: [("pickup-producer", "/pickup"), ("pickup-confirm-own", f"/pickup/{orders['weighed']['id']}"),
                        ("garage-unit", f"/unit/{g['id']}")],
        col["driver"]: [("pickup-collector", "/pickup"), ("pickup-accept", f"/pickup/{orders['requested']['id']}"),
                        ("pickup-schedule", f"/pickup/{orders['accepted']['id']}"),
                        ("pickup-weigh", f"/pickup/{orders['scheduled']['id']}"),
                        ("pickup-confirm-phone", f"/pickup/{orders['weighed']['id']}")],
        col["admin"]: [("collector-unit", f"/unit/{col['id']}")],
    }
    session.rollback()  # leave no read snapshot open: the caller may write next (SQLite WAL)
    return {"w": w, "drums": d, "m1": m1, "m2": m2, "pages": pages, "mid": mid, "high": high, "city": city.username,
            "orders": orders}


def pickup_world(client, admin, session) -> dict:  # noqa: ANN001
    """A collector (with its driver and administrator) and a garage that consented to it, with a pickup order at
    each step: requested (open to any collector), accepted, scheduled and weighed; the garage's address and the
    orders' notes carry a script."""
    col = add_collector(client, admin, session)
    g = add_garage(client, admin, session, 1)
    session.execute(update(Unit).where(Unit.id == g["id"]).values(address=f"{XSS}工业南路1号"))
    session.commit()
    col["driver"] = session.exec(select(User.username).where(User.id == col["driver_id"])).one()
    session.rollback()
    col["admin"] = make_user(session, role="unit_admin", unit_id=col["id"], username=f"col-{col['id']}")[0].username
    _ok(client.post(f"/api/v1/units/{g['id']}/consents", headers=g["adm"], json={"collector_id": col["id"]}), 201)
    line = {"waste_code": OIL, "name": "废机油", "form": "液态", "estimated_kg": "40", "planned_method": "R9"}

    def order(**kw) -> dict:  # noqa: ANN003
        return _ok(client.post("/api/v1/pickup-orders", headers=g["adm"], json={
            "unit_id": g["id"], "lines": [line], "note": f"{XSS}先打电话", **window(), **kw}), 201)

    out = {"col": col, "garage": g, "requested": order()}
    out["accepted"] = order(collector_id=col["id"])
    out["scheduled"] = order(collector_id=col["id"])
    out["weighed"] = order(collector_id=col["id"])
    for o in (out["accepted"], out["scheduled"], out["weighed"]):
        _ok(client.post(f"/api/v1/pickup-orders/{o['id']}/accept", headers=col["adm"], json={}))
    for o in (out["scheduled"], out["weighed"]):
        _ok(client.post(f"/api/v1/pickup-orders/{o['id']}/schedule", headers=col["adm"], json={
            "pickup_date": shanghai_today().isoformat(), "vehicle_id": col["vehicle"], "driver_id": col["driver_id"]}))
    _ok(client.post(f"/api/v1/pickup-orders/{out['weighed']['id']}/weigh", headers=col["drv"], json={
        "scale_id": "便携秤", "lines": [{"line_no": 1, "weighings": [
            {"gross_kg": "25.5", "tare_kg": "2.5", "container_type": "塑料桶", "container_volume_l": 30},
            {"gross_kg": "18", "tare_kg": "2.5", "container_type": "塑料桶", "container_volume_l": 30}]}]}))
    return out
