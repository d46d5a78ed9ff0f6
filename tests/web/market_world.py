"""A small trading hall for the page tests: a garage (producer) with an open post (its name and note carry a script,
a sample photo), a second open post and one already matched with a draft manifest; a licensed receiver nearby, a
collector that also hauls, a receiver licensed only for packaging (HW49, it must never see the oil posts) and a
city regulator. Every user has a known username for the login form."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from PIL import Image
from sqlalchemy import update
from sqlmodel import Session

from ledger.registry.models import Unit
from ledger.workdays import today as shanghai_today
from tests.api.collection_world import OIL, add_collector, add_garage, add_receiver, ok
from tests.conftest import auth, make_user

XSS = '<script>alert("x")</script>'
OTHER = "900-249-08"  # 其他生产、销售、使用过程中产生的废矿物油


def png(color=(180, 120, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), color).save(buf, "PNG")
    return buf.getvalue()


def user(session: Session, unit_id: int, name: str, role: str = "unit_admin") -> tuple[str, dict]:
    u, tok = make_user(session, role=role, unit_id=unit_id, username=name)
    return u.username, auth(tok)


def batch(client, g: dict, gross: str = "210") -> dict:  # noqa: ANN001
    return ok(client.post("/api/v1/batches", headers=g["adm"], json={
        "unit_id": g["id"], "waste_code": OIL, "name": "废机油", "form": "液态", "facility_id": g["gen"],
        "container_type": "桶", "gross_kg": gross, "tare_kg": "10", "scale_id": "S", "operator": "店长",
        "occurred_at": datetime.now(UTC).isoformat()}), 201)


def parties(client, admin, session: Session, *, garage: int = 1) -> dict:  # noqa: ANN001
    """The units and their users, no posts yet."""
    g = add_garage(client, admin, session, garage, lat=36.66, lon=117.02)
    near = add_receiver(client, admin, session, name="济南近郊再生油厂", region="370112", lat=36.70, lon=117.10)
    wrong = add_receiver(client, admin, session, name="只收废包装桶的单位", codes=("HW49",), region="370112",
                         lat=36.66, lon=117.02)
    col = add_collector(client, admin, session)
    session.execute(update(Unit).where(Unit.id == near["id"]).values(name=f"{XSS}济南近郊再生油厂"))
    session.commit()
    n = g["id"]
    g["user"] = g["username"]
    g["operator"], _ = user(session, g["id"], f"mk-op-{n}", role="operator")
    near["user"], _ = user(session, near["id"], f"mk-near-{n}")
    wrong["user"], _ = user(session, wrong["id"], f"mk-wrong-{n}")
    col["user"], _ = user(session, col["id"], f"mk-col-{n}")
    reg, rtok = make_user(session, role="regulator", region_prefix="3701", username=f"mk-reg-{n}")
    session.rollback()
    return {"g": g, "near": near, "wrong": wrong, "col": col, "reg": reg.username, "reg_h": auth(rtok)}


def build(client, admin, session: Session) -> dict:  # noqa: ANN001
    """The parties, three posts (open with offers, open, matched) and which pages each user opens."""
    w = parties(client, admin, session)
    g, near, col = w["g"], w["near"], w["col"]

    def post(**kw) -> dict:  # noqa: ANN003
        return ok(client.post("/api/v1/market/posts", headers=g["adm"], json={
            "unit_id": g["id"], "waste_code": OIL, "name": "废机油", "form": "液态", "monthly_kg": "300", **kw}), 201)

    p_open = post(name=f"{XSS}废机油", note=f"{XSS}每月月底可上门\n桶装 200 L", address=f"{XSS}工业南路1号")
    ok(client.post(f"/api/v1/market/posts/{p_open['id']}/photos", headers=g["adm"],
                   files={"file": ("s.png", png(), "image/png")}), 201)
    o_col = ok(client.post(f"/api/v1/market/posts/{p_open['id']}/offers", headers=col["adm"],
                           json={"method": "R9", "fee_yuan_per_t": "500", "note": f"{XSS}两周内上门"}), 201)
    o_near = ok(client.post(f"/api/v1/market/posts/{p_open['id']}/offers", headers=near["adm"],
                            json={"method": "R9", "fee_yuan_per_t": "-200"}), 201)
    p_second = post(waste_code=OTHER, name="废液压油", monthly_kg="80", expires_in_days=14)
    batch(client, g)
    p_deal = post(name="废齿轮油", monthly_kg="120")
    o = ok(client.post(f"/api/v1/market/posts/{p_deal['id']}/offers", headers=near["adm"],
                       json={"method": "R9", "fee_yuan_per_t": "-150"}), 201)
    deal = ok(client.post(f"/api/v1/market/posts/{p_deal['id']}/offers/{o['id']}/accept", headers=g["adm"], json={
        "manifest": {"hauler_id": col["id"], "vehicle_id": col["vehicle"], "planned_date": shanghai_today().isoformat()}}))
    session.rollback()
    pages = {
        g["user"]: [("market-producer", "/market"), ("market-new", "/market/new"),
                    ("market-post-producer", f"/market/{p_open['id']}"), ("market-deal", f"/market/{p_deal['id']}")],
        near["user"]: [("market-receiver", "/market"), ("market-post-offerer", f"/market/{p_open['id']}"),
                       ("market-post-receiver", f"/market/{p_second['id']}")],
        col["user"]: [("market-collector", "/market")],
        w["reg"]: [("market-regulator", "/market"), ("market-post-regulator", f"/market/{p_open['id']}"),
                   ("market-deal-regulator", f"/market/{p_deal['id']}")],
    }
    return {**w, "open": p_open, "open_offers": {"col": o_col["id"], "near": o_near["id"]}, "second": p_second, "deal_post": p_deal, "deal": deal, "pages": pages}
