"""The batch ledger over HTTP: generation, labels, storage, in-house use, corrections, chain, concurrency."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import zxingcpp
from PIL import Image
from sqlalchemy import text

from tests.conftest import PUBLIC_URL, auth, batch_body, make_user, setup_plant

D = Decimal


def gen(client, plant, **kw):
    r = client.post("/api/v1/batches", json=batch_body(plant, **kw), headers=plant["op"])
    assert r.status_code == 201, r.text
    return r.json()


def test_generate_store_retrieve_use_in_house_keeps_masses_right(client, admin, session):
    plant = setup_plant(client, admin, session)
    op = plant["op"]
    b = gen(client, plant)
    assert D(b["net_kg"]) == D("164.000") and b["status"] == "generated" and b["flags"] == []
    assert len(b["digital_id"]) == 37 and b["digital_id"].startswith(plant["unit"]["credit_code"] + "90024908")
    assert b["digital_id"].endswith("001") and b["batch_code"].startswith("HWCS")
    assert b["scan_url"] == f"{PUBLIC_URL}/s/{b['digital_id']}"

    r = client.post(f"/api/v1/batches/{b['id']}/store", json={"facility_id": plant["store"], "operator": "李"},
                    headers=op)
    assert r.status_code == 201, r.text
    stored = r.json()
    assert stored["batch"]["status"] == "stored" and D(stored["batch"]["stored_kg"]) == D(164)
    assert stored["record"]["record_code"].startswith("HWRK")
    assert stored["record"]["body"]["from_codes"] == [b["batch_code"]]
    fac = client.get(f"/api/v1/facilities/{plant['store']}", headers=op).json()
    assert D(fac["stock_kg"]) == D(164) and fac["stock"][0]["batches"] == 1

    r = client.post(f"/api/v1/batches/{b['id']}/retrieve", json={"mass_kg": "100", "operator": "李"}, headers=op)
    assert r.status_code == 201
    assert r.json()["batch"]["status"] == "partly_stored" and D(r.json()["batch"]["stored_kg"]) == D(64)
    assert r.json()["record"]["record_code"].startswith("HWCK")

    # only the 100 kg out of storage can be used
    r = client.post(f"/api/v1/batches/{b['id']}/use-in-house", headers=op,
                    json={"mass_kg": "120", "method": "R9", "facility_id": plant["line"], "operator": "赵"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "batch.insufficient_mass"
    r = client.post(f"/api/v1/batches/{b['id']}/use-in-house", headers=op,
                    json={"mass_kg": "100", "method": "R9", "facility_id": plant["line"], "operator": "赵"})
    assert r.status_code == 201, r.text
    used = r.json()
    assert D(used["batch"]["remaining_kg"]) == D(64) and used["batch"]["status"] == "stored"
    assert used["record"]["record_code"].startswith("HWZXLY") and used["record"]["body"]["method"] == "R9"

    client.post(f"/api/v1/batches/{b['id']}/retrieve", json={"operator": "李"}, headers=op)
    r = client.post(f"/api/v1/batches/{b['id']}/dispose-in-house", headers=op,
                    json={"method": "R9", "operator": "赵"})
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "method"
    r = client.post(f"/api/v1/batches/{b['id']}/use-in-house", headers=op,
                    json={"method": "R9", "facility_id": plant["line"], "operator": "赵"})
    assert r.status_code == 201 and r.json()["batch"]["status"] == "closed"
    assert D(r.json()["batch"]["remaining_kg"]) == 0

    trace = client.get(f"/api/v1/batches/{b['id']}/trace", headers=op).json()
    assert [s["record"]["kind"] for s in trace["steps"]] == [
        "generated", "stored", "retrieved", "used_in_house", "retrieved", "used_in_house"]
    assert trace["fate"]["closed"] and trace["fate"]["processed"] == [
        {"kind": "used_in_house", "method": "R9", "mass_kg": "164.000"}]
    assert trace["steps"][1]["facility_code"] == "ZC-01"
    assert client.get(f"/api/v1/units/{plant['unit']['id']}/verify", headers=op).json()["ok"] is True


def test_label_png_qr_decodes_to_the_scan_url(client, admin, session):
    plant = setup_plant(client, admin, session)
    b = gen(client, plant)
    r = client.get(f"/api/v1/batches/{b['id']}/label.png", headers=plant["op"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = Image.open(io.BytesIO(r.content))
    assert img.size[0] >= 1700  # 150 mm at 300 dpi for a 200 L drum
    codes = zxingcpp.read_barcodes(img)
    assert [c.text for c in codes] == [f"{PUBLIC_URL}/s/{b['digital_id']}"]
    pdf = client.get(f"/api/v1/batches/{b['id']}/label.pdf", headers=plant["op"])
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    zpl = client.get(f"/api/v1/batches/{b['id']}/label.zpl", headers=plant["op"]).text
    assert zpl.startswith("^XA") and b["digital_id"] in zpl


def test_bad_weighings_are_refused_with_the_field(client, admin, session):
    plant = setup_plant(client, admin, session)
    cases = [
        ({"gross_kg": "20", "tare_kg": "20"}, "gross_kg", "weighing.net_not_positive"),
        ({"gross_kg": "20", "tare_kg": "25"}, "tare_kg", "weighing.tare_exceeds_gross"),
        ({"gross_kg": "40100", "tare_kg": "50"}, "gross_kg", "weighing.too_heavy"),
        ({"occurred_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat()}, "occurred_at", "time.in_future"),
        ({"occurred_at": "2026-01-01T10:00:00"}, "occurred_at", None),
        ({"gross_kg": "10.0001"}, "gross_kg", None),
        ({"waste_code": "900-249-99"}, "waste_code", None),
        ({"facility_id": plant["store"]}, "facility_id", None),
    ]
    for change, field, code in cases:
        r = client.post("/api/v1/batches", json=batch_body(plant, **change), headers=plant["op"])
        assert r.status_code == 422, (change, r.text)
        err = r.json()["error"]
        assert err["details"]["field"] == field, (change, err)
        if code:
            assert err["code"] == code
    verify = client.get(f"/api/v1/units/{plant['unit']['id']}/verify", headers=plant["op"]).json()
    assert verify["records"] == 0  # nothing half-written


def test_a_code_outside_the_plan_is_allowed_but_flagged(client, admin, session):
    plant = setup_plant(client, admin, session)
    b = gen(client, plant, waste_code="900-041-49", name="废包装桶", form="固态")
    assert b["flags"] == ["not_in_plan"]
    rec = client.get(f"/api/v1/units/{plant['unit']['id']}/records", headers=plant["op"]).json()[0]
    assert rec["body"]["flags"] == ["not_in_plan"]


def test_same_idempotency_key_yields_one_batch(client, admin, session):
    plant = setup_plant(client, admin, session)
    h = {**plant["op"], "Idempotency-Key": "scale-01-20261122-0001"}
    body = batch_body(plant)
    a = client.post("/api/v1/batches", json=body, headers=h)
    b = client.post("/api/v1/batches", json=body, headers=h)
    assert a.status_code == b.status_code == 201 and a.json()["id"] == b.json()["id"]
    records = client.get(f"/api/v1/units/{plant['unit']['id']}/records", headers=plant["op"]).json()
    assert len(records) == 1


def test_parallel_generation_gives_distinct_serials_and_a_valid_chain(client, admin, session, live_server):
    plant = setup_plant(client, admin, session)
    body = batch_body(plant)

    def one(i: int) -> httpx.Response:
        with httpx.Client(base_url=live_server, timeout=60) as c:
            return c.post("/api/v1/batches", json=body, headers={**plant["op"], "Idempotency-Key": f"k{i}"})

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(one, range(20)))
    assert [r.status_code for r in results] == [201] * 20, [r.text for r in results if r.status_code != 201]
    serials = sorted(int(r.json()["digital_id"][-3:]) for r in results)
    assert serials == list(range(1, 21))
    assert len({r.json()["batch_code"] for r in results}) == 20
    v = client.get(f"/api/v1/units/{plant['unit']['id']}/verify", headers=plant["op"]).json()
    assert v["ok"] and v["records"] == 20


def test_an_update_behind_the_services_back_breaks_the_chain_at_that_record(client, admin, session, engine):
    plant = setup_plant(client, admin, session)
    for _ in range(3):
        gen(client, plant)
    records = client.get(f"/api/v1/units/{plant['unit']['id']}/records", headers=plant["op"]).json()
    target = records[1]
    with engine.begin() as conn:
        conn.execute(text("UPDATE journal_record SET mass_g = mass_g - 1000 WHERE id = :i"), {"i": target["id"]})
    v = client.get(f"/api/v1/units/{plant['unit']['id']}/verify", headers=plant["op"]).json()
    assert v["ok"] is False and v["first_bad_seq"] == 2 and v["first_bad_record_id"] == target["id"]
    assert "changed" in v["reason"]


def test_a_deleted_record_shows_as_a_gap(client, admin, session, engine):
    plant = setup_plant(client, admin, session)
    for _ in range(3):
        gen(client, plant)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM journal_record WHERE unit_id = :u AND seq = 3"), {"u": plant["unit"]["id"]})
    v = client.get(f"/api/v1/units/{plant['unit']['id']}/verify", headers=plant["op"]).json()
    assert v["ok"] is False and v["first_bad_seq"] == 3


def test_bulk_lot_draws_fifo_and_keeps_each_remaining_mass(client, admin, session):
    plant = setup_plant(client, admin, session, plan_codes=("900-001-S03",))
    op = plant["op"]
    base = datetime.now(UTC) - timedelta(hours=5)
    ids = []
    for i, kg in enumerate(("30000", "25000", "28000")):
        b = gen(client, plant, waste_code="900-001-S03", name="炉渣", form="固态", container_type="散装",
                container_volume_l=None, gross_kg=kg, tare_kg="0", occurred_at=(base + timedelta(hours=i)).isoformat(),
                store_facility_id=plant["yard"])
        assert b["status"] == "stored" and len(b["digital_id"]) == 38 and b["batch_code"].startswith("GFCS")
        ids.append(b["id"])
    r = client.post(f"/api/v1/facilities/{plant['yard']}/retrieve", headers=op,
                    json={"waste_code": "900-001-S03", "mass_kg": "40000", "operator": "铲车", "purpose": "transfer"})
    assert r.status_code == 201, r.text
    lot = r.json()
    assert [(d["batch_id"], d["mass_kg"]) for d in lot["draws"]] == [(ids[0], "30000.000"), (ids[1], "10000.000")]
    assert lot["lot_code"].startswith("GFCK")
    stock = client.get(f"/api/v1/facilities/{plant['yard']}", headers=op).json()
    assert D(stock["stock_kg"]) == D(43000)
    assert D(client.get(f"/api/v1/batches/{ids[1]}", headers=op).json()["stored_kg"]) == D(15000)
    r = client.post(f"/api/v1/facilities/{plant['yard']}/retrieve", headers=op,
                    json={"waste_code": "900-001-S03", "mass_kg": "50000", "operator": "铲车"})
    assert r.status_code == 409 and r.json()["error"]["details"]["available_kg"] == "43000.000"


def test_over_capacity_storage_is_allowed_but_recorded(client, admin, session):
    plant = setup_plant(client, admin, session)
    b = gen(client, plant, gross_kg="1200", tare_kg="20", container_volume_l=1000)
    r = client.post(f"/api/v1/batches/{b['id']}/store", json={"facility_id": plant["store"], "operator": "李"},
                    headers=plant["op"])
    assert r.status_code == 201
    assert r.json()["record"]["body"]["over_capacity"] == {"capacity_g": 1_000_000, "stock_after_g": 1_180_000}


def test_correction_is_a_new_record_and_rebuild_agrees(client, admin, session, engine):
    from ledger.batches import rebuild

    plant = setup_plant(client, admin, session)
    b = gen(client, plant)
    first = client.get(f"/api/v1/units/{plant['unit']['id']}/records", headers=plant["op"]).json()[0]
    r = client.post(f"/api/v1/batches/{b['id']}/corrections", headers=plant["op"],
                    json={"record_id": first["id"], "mass_kg": "160", "reason": "地磅零点漂移，复称"})
    assert r.status_code == 201, r.text
    assert D(r.json()["batch"]["net_kg"]) == D(160) and r.json()["record"]["corrects_id"] == first["id"]
    records = client.get(f"/api/v1/units/{plant['unit']['id']}/records", headers=plant["op"]).json()
    assert [x["kind"] for x in records] == ["generated", "corrected"] and D(records[0]["mass_kg"]) == D(164)
    session.rollback()
    assert rebuild(session) == []
    with engine.begin() as conn:
        conn.execute(text("UPDATE batch SET remaining_g = 1 WHERE id = :i"), {"i": b["id"]})
    session.rollback()
    diffs = rebuild(session, apply_fixes=True)
    assert [(d.field, d.cached, d.journal) for d in diffs] == [("remaining_g", 1, 160_000)]
    session.commit()
    assert rebuild(session) == []


def test_scan_shows_the_batch_and_the_callers_next_actions(client, admin, session):
    plant = setup_plant(client, admin, session)
    b = gen(client, plant)
    r = client.get(f"/api/v1/scan/{b['digital_id']}", headers=plant["op"])
    assert r.status_code == 200 and r.json()["next_actions"] == [
        "store", "use_in_house", "dispose_in_house", "load_onto_manifest"]
    _, reg = make_user(session, role="regulator", region_prefix="3701")
    r = client.get(f"/api/v1/scan/{b['digital_id']}", headers=auth(reg))
    assert r.status_code == 200 and r.json()["next_actions"] == []
    _, other = make_user(session, role="regulator", region_prefix="3703")
    assert client.get(f"/api/v1/scan/{b['digital_id']}", headers=auth(other)).status_code == 404
    assert client.get("/api/v1/scan/NOT-AN-ID", headers=plant["op"]).status_code == 422
    page = client.get(f"/s/{b['digital_id']}")
    assert page.status_code == 200 and "废矿物油" in page.text and b["digital_id"] in page.text
    assert 'id="actions"' not in page.text  # anonymous: the label's facts only


def test_operator_of_another_unit_cannot_touch_the_batch(client, admin, session):
    plant = setup_plant(client, admin, session)
    b = gen(client, plant)
    other = setup_plant(client, admin, session)
    r = client.post(f"/api/v1/batches/{b['id']}/store", json={"facility_id": plant["store"], "operator": "x"},
                    headers=other["op"])
    assert r.status_code == 404
    r = client.post("/api/v1/batches", json=batch_body(plant), headers=other["op"])
    assert r.status_code == 404


def test_bulk_generation_is_all_or_nothing_and_chains_like_single_weighings(client, admin, session):
    plant = setup_plant(client, admin, session, plan_codes=("900-249-08", "900-041-49"))
    other = setup_plant(client, admin, session)
    first = gen(client, plant)
    items = [batch_body(plant, gross_kg=str(100 + i)) for i in range(30)]
    items += [batch_body(other, waste_code="900-041-49", name="废包装桶", form="固态") for _ in range(5)]
    items.insert(7, batch_body(plant, store_facility_id=plant["store"]))
    bad = [*items[:3], batch_body(plant, gross_kg="10", tare_kg="12"), *items[3:]]
    r = client.post("/api/v1/batches/bulk", json={"items": bad}, headers=admin)
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "items[3].tare_kg"
    assert client.get(f"/api/v1/units/{plant['unit']['id']}/verify", headers=admin).json()["records"] == 1
    h = {**admin, "Idempotency-Key": "terminal-7-buffer-1"}
    r = client.post("/api/v1/batches/bulk", json={"items": items}, headers=h)
    assert r.status_code == 201, r.text
    out = r.json()["batches"]
    assert len(out) == 36
    mine = [b for b in out if b["unit_id"] == plant["unit"]["id"] and b["waste_code"] == "900-249-08"]
    assert [int(b["digital_id"][-3:]) for b in mine] == list(range(2, 33))  # after the single weighing's 001
    assert [D(b["net_kg"]) for b in mine[:3]] == [D("81.5"), D("82.5"), D("83.5")]
    assert out[7]["status"] == "stored" and out[-1]["flags"] == ["not_in_plan"]
    again = client.post("/api/v1/batches/bulk", json={"items": items}, headers=h)
    assert again.json() == r.json()
    for unit, n in ((plant, 1 + 31 + 1), (other, 5)):  # generated records (+ one stored)
        v = client.get(f"/api/v1/units/{unit['unit']['id']}/verify", headers=admin).json()
        assert v["ok"] and v["records"] == n
    from ledger.batches import rebuild

    session.rollback()
    assert rebuild(session) == []
    assert first["digital_id"].endswith("001")
