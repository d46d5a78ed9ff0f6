"""One small world that reaches every page, with names that try to smuggle a script into each of them."""

from __future__ import annotations

from datetime import date

from sqlalchemy import update
from sqlmodel import select

from ledger.accounts import User
from ledger.registry.models import Unit
from tests.conftest import batch_body, make_user, setup_transfer

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
            "receiver_id": w["receiver"]["id"], "driver_id": w["driver_id"], "planned_date": date.today().isoformat(),
            "remarks": XSS, "lines": [{"batch_id": b["id"], "planned_method": "R9"} for b in batches]}), 201)
        return _ok(client.post(f"/api/v1/manifests/{m['id']}/submit", headers=w["op"]))

    m1 = manifest(d[:2])
    m2 = manifest(d[2:4])
    _ok(client.post(f"/api/v1/manifests/{m2['id']}/pickup", headers=w["drv"],
                    json={"scanned": [b["digital_id"] for b in d[2:4]], "lat": 36.65, "lon": 117.12}))
    _ok(client.post(f"/api/v1/manifests/{m2['id']}/receive", headers=w["rcv"], json={"lines": [
        {"batch_id": d[2]["id"], "received_kg": "163.5", "acceptance": "accepted"},
        {"batch_id": d[3]["id"], "received_kg": "164", "acceptance": "partially_refused", "accepted_kg": "120",
         "reason": f"{XSS}桶体破损"}]}))
    rid = w["receiver"]["id"]
    pages = {
        None: [("login", "/login"), ("login-expired", "/login?expired=1"), ("verify", f"/m/{m2['number']}"),
               ("scan-anon", f"/s/{d[0]['digital_id']}"), ("facility-anon", f"/f/{w['store']}"),
               ("404", "/m/20990000000000")],
        op.username: [("station", "/station"), ("station-label", f"/station/label/{d[0]['id']}"),
                      ("scan", f"/s/{d[0]['digital_id']}"), ("facility", f"/f/{w['store']}"),
                      ("unit", f"/unit/{uid}"), ("chain", f"/unit/{uid}/chain")],
        ua.username: [("unit-admin", f"/unit/{uid}")],
        driver: [("manifests", "/m"), ("pickup", f"/m/{m1['number']}"), ("403", "/station")],
        rcv.username: [("received", f"/m/{m2['number']}"), ("receiver-unit", f"/unit/{rid}")],
        reg.username: [("console", "/console"), ("console-units", "/console/units"),
                       ("console-unit", f"/console/units/{uid}"), ("console-chain", f"/console/units/{uid}/chain"),
                       ("console-manifests", "/console/manifests?q=%E5%AE%89%E8%BF%90"),
                       ("console-manifest", f"/m/{m1['number']}")],
    }
    return {"w": w, "drums": d, "m1": m1, "m2": m2, "pages": pages}
