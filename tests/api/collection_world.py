"""A small collection world for the tests: a collector (收集单位, also a hauler) with a centre, garages (汽修) that
produce waste oil, a licensed end receiver; and the steps of a pickup order as plain functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session

from ledger.workdays import today as shanghai_today
from tests.conftest import auth, create_unit, make_user, permit_body

OIL = "900-214-08"  # 车辆维修过程中产生的废发动机油
TODAY = shanghai_today().isoformat()
PASSWORD = "password-123"  # what tests.conftest.make_user gives every user


def ok(r, status=200):  # noqa: ANN001, ANN201
    assert r.status_code == status, r.text
    return r.json()


def _fac(client: TestClient, headers: dict, unit_id: int, **kw) -> int:
    return ok(client.post(f"/api/v1/units/{unit_id}/facilities", json=kw, headers=headers), 201)["id"]


def add_collector(client: TestClient, admin: dict, session: Session, *, name: str = "济南绿蜂小微危废收集有限公司",
                  codes: tuple[str, ...] = ("HW08", "HW49"), capacity_t: str = "500", lat: float = 36.68,
                  lon: float = 117.06) -> dict:
    """A collector that hauls for itself: collection licence, transport permit, a vehicle, a centre, its users."""
    col = create_unit(client, admin, roles=["collector", "hauler"], name=name, region_code="370112", lat=lat, lon=lon,
                      address="济南市历城区华山路1号")
    cid = col["id"]
    ok(client.post(f"/api/v1/units/{cid}/permits", headers=admin, json=permit_body(
        kind="collection_licence", number=f"鲁危收{cid:04d}", waste_codes=list(codes), methods=[],
        annual_capacity_t=capacity_t)), 201)
    ok(client.post(f"/api/v1/units/{cid}/permits", headers=admin, json=permit_body(
        kind="transport_permit", number=f"鲁交运{cid:04d}", waste_codes=[], methods=[], annual_capacity_t=None)), 201)
    vehicle = ok(client.post(f"/api/v1/units/{cid}/vehicles", json={"plate": f"鲁A{cid:05d}"}, headers=admin),
                 201)["id"]
    centre = _fac(client, admin, cid, kind="storage", code="JZ-01", name="华山集中收集点", storage_type="贮存库",
                  storage_capacity_t="30")
    driver, dtok = make_user(session, role="driver", unit_id=cid)
    _, otok = make_user(session, role="unit_admin", unit_id=cid)
    _, ctok = make_user(session, role="receiver_operator", unit_id=cid)
    return {"unit": col, "id": cid, "vehicle": vehicle, "centre": centre, "driver_id": driver.id,
            "drv": auth(dtok), "adm": auth(otok), "ctr": auth(ctok)}


def add_garage(client: TestClient, admin: dict, session: Session, n: int, *, lat: float = 36.66,
               lon: float = 117.02, region: str = "370112") -> dict:
    """A small producer (汽修厂) with a generation point and its administrator."""
    g = create_unit(client, admin, roles=["generator"], name=f"历城区第{n}汽车维修店", region_code=region,
                    industry_code="O8111", address=f"济南市历城区工业南路{n}号", contact="店长", phone="0531-8000000",
                    lat=lat, lon=lon)
    gen = _fac(client, admin, g["id"], kind="generation", code="CS-01", name="维修车间")
    user, tok = make_user(session, role="unit_admin", unit_id=g["id"])
    return {"unit": g, "id": g["id"], "gen": gen, "adm": auth(tok), "username": user.username}


def add_receiver(client: TestClient, admin: dict, session: Session, *, codes=("HW08",), methods=("R9",),
                 capacity_t: str = "1000", region: str = "370305", lat: float = 36.80, lon: float = 118.05,
                 name: str = "淄博绿源环保科技有限公司") -> dict:
    r = create_unit(client, admin, roles=["receiver"], name=name, region_code=region, lat=lat, lon=lon)
    rid = r["id"]
    ok(client.post(f"/api/v1/units/{rid}/permits", headers=admin, json=permit_body(
        number=f"鲁危证{rid:04d}", waste_codes=list(codes), methods=list(methods), annual_capacity_t=capacity_t)), 201)
    store = _fac(client, admin, rid, kind="storage", code="ZC-01", name="接收库", storage_type="贮存库",
                 storage_capacity_t="500")
    line = _fac(client, admin, rid, kind="utilisation", code="LY-01", name="再生装置", methods=list(methods))
    _, rtok = make_user(session, role="receiver_operator", unit_id=rid)
    _, atok = make_user(session, role="unit_admin", unit_id=rid)
    return {"unit": r, "id": rid, "store": store, "line": line, "rcv": auth(rtok), "adm": auth(atok)}


def world(client: TestClient, admin: dict, session: Session, garages: int = 3) -> dict:
    col = add_collector(client, admin, session)
    return {"col": col, "garages": [add_garage(client, admin, session, i + 1) for i in range(garages)],
            "rcv": add_receiver(client, admin, session)}


def window() -> dict:
    now = datetime.now(UTC)
    return {"window_from": (now + timedelta(hours=1)).isoformat(), "window_to": (now + timedelta(days=2)).isoformat()}


def consent(client: TestClient, g: dict, col: dict) -> dict:
    return ok(client.post(f"/api/v1/units/{g['id']}/consents", headers=g["adm"],
                          json={"collector_id": col["id"]}), 201)


def raise_by_collector(client: TestClient, g: dict, col: dict, *, estimated: str = "40") -> dict:
    return ok(client.post("/api/v1/pickup-orders", headers=col["adm"], json={
        "unit_id": g["id"], "lines": [{"waste_code": OIL, "name": "废机油", "form": "液态", "estimated_kg": estimated,
                                       "planned_method": "R9"}], **window()}), 201)


def accept_and_schedule(client: TestClient, o: dict, col: dict) -> dict:
    ok(client.post(f"/api/v1/pickup-orders/{o['id']}/accept", headers=col["adm"], json={}))
    return ok(client.post(f"/api/v1/pickup-orders/{o['id']}/schedule", headers=col["adm"], json={
        "pickup_date": TODAY, "vehicle_id": col["vehicle"], "driver_id": col["driver_id"]}))


def weigh(client: TestClient, o: dict, col: dict, grosses=("25.5",), tare: str = "2.5") -> dict:
    return ok(client.post(f"/api/v1/pickup-orders/{o['id']}/weigh", headers=col["drv"], json={
        "scale_id": "COL-PORTABLE-1", "lat": 36.66, "lon": 117.02, "lines": [{"line_no": 1, "weighings": [
            {"gross_kg": g_, "tare_kg": tare, "container_type": "塑料桶", "container_volume_l": 30} for g_ in grosses]}]}))


def confirm_on_drivers_phone(client: TestClient, o: dict, col: dict, g: dict, password: str = PASSWORD):  # noqa: ANN201
    return client.post(f"/api/v1/pickup-orders/{o['id']}/confirm", headers=col["drv"],
                       json={"username": g["username"], "password": password, "lat": 36.66, "lon": 117.02})


def pickup_and_receive(client: TestClient, manifest: dict, col: dict) -> dict:
    ok(client.post(f"/api/v1/manifests/{manifest['id']}/pickup", headers=col["drv"], json={
        "scanned": [ln["digital_id"] for ln in manifest["lines"]], "lat": 36.66, "lon": 117.02}))
    return ok(client.post(f"/api/v1/manifests/{manifest['id']}/receive", headers=col["ctr"], json={
        "facility_id": col["centre"], "lines": [{"batch_id": ln["batch_id"], "received_kg": ln["shipped_kg"],
                                                  "acceptance": "accepted"} for ln in manifest["lines"]]}))


def collect(client: TestClient, g: dict, col: dict, grosses=("25.5",), *, give_consent: bool = True) -> dict:
    """One garage's waste from consent to receipt at the centre; returns the received manifest."""
    if give_consent:
        consent(client, g, col)
    o = raise_by_collector(client, g, col)
    accept_and_schedule(client, o, col)
    weigh(client, o, col, grosses)
    res = ok(confirm_on_drivers_phone(client, o, col, g))
    return pickup_and_receive(client, res["manifest"], col)


def ship_lot(client: TestClient, lot_batch_id: int, col: dict, rcv: dict, *, received_kg: str | None = None
             ) -> dict:
    """The collector takes a lot to the end receiver, which receives it into its store."""
    m = ok(client.post("/api/v1/manifests", headers=col["adm"], json={
        "originator_id": col["id"], "hauler_id": col["id"], "vehicle_id": col["vehicle"],
        "receiver_id": rcv["id"], "driver_id": col["driver_id"], "planned_date": TODAY,
        "lines": [{"batch_id": lot_batch_id, "planned_method": "R9"}]}), 201)
    ok(client.post(f"/api/v1/manifests/{m['id']}/submit", headers=col["adm"]))
    m = ok(client.post(f"/api/v1/manifests/{m['id']}/pickup", headers=col["drv"], json={
        "scanned": [m["lines"][0]["digital_id"]]}))
    return ok(client.post(f"/api/v1/manifests/{m['id']}/receive", headers=rcv["rcv"], json={
        "facility_id": rcv["store"], "lines": [{"batch_id": lot_batch_id,
                                                "received_kg": received_kg or m["lines"][0]["shipped_kg"],
                                                "acceptance": "accepted"}]}))
