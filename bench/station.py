"""The weighing station's record-and-print round trip, as the page does it, over real HTTP.

    python -m bench.station                       # fresh SQLite file in a temp folder, 200 weighings
    python -m bench.station --n 500 --database-url postgresql+psycopg://postgres@127.0.0.1:5432/wl_bench

One run:
1. migrates a fresh database and seeds a plant (generation point, storage room, this year's plan) and an
   operator through the ledger services;
2. starts `uvicorn api.main:app` (one worker, as a small plant's server) and logs the operator in through the
   login form (session cookie), as the station does once per shift;
3. N times, what one press of Enter costs the station (one Idempotency-Key each, Origin header as a browser
   sends): POST /api/v1/batches with 即入库 (store_facility_id) → GET /station/label/{id}?print=1 (the print
   page) → GET /api/v1/batches/{id}/label.png (the label at 300 dpi, which the browser prints) →
   GET /station/recent (the list the page refreshes);
4. prints p50/p95 per step and for the whole round trip, and the share of each step (ratios measured in this
   run, on this machine: read them as ratios, not as absolute times).
Not a test: nothing here asserts a target.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STEPS = ("record", "print page", "label.png", "recent list")


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, round(q * (len(v) - 1)))]


def seed(url: str) -> dict:
    """A plant with a generation point, a storage room and a plan, and an operator with a password."""
    from sqlmodel import Session

    from ledger.auth import SYSTEM
    from ledger.codes import credit_check_character
    from ledger.db import get_engine
    from ledger.migrate import upgrade
    from ledger.registry import assets, plans, units
    from ledger.users import UserCreate, create_user

    upgrade(url)
    with Session(get_engine(url)) as s:
        first17 = "91370100MA3B" + uuid.uuid4().hex[:5].upper().replace("I", "1").replace("O", "0")
        unit = units.create_unit(s, principal=SYSTEM, data=units.UnitCreate(
            credit_code=first17 + credit_check_character(first17), name="基准化工", region_code="370112",
            roles=["generator"]))
        gen = assets.create_facility(s, principal=SYSTEM, unit_id=unit.id, data=assets.FacilityCreate(
            kind="generation", code="CS-01", name="车间"))
        store = assets.create_facility(s, principal=SYSTEM, unit_id=unit.id, data=assets.FacilityCreate(
            kind="storage", code="ZC-01", name="贮存库", storage_type="贮存库", storage_capacity_t=Decimal(10000)))
        plans.file_plan(s, principal=SYSTEM, unit_id=unit.id, data=plans.PlanCreate(
            year=datetime.now(UTC).year, items=[plans.PlanItemIn(waste_code="900-249-08", planned_kg=Decimal(1e6))]))
        create_user(s, principal=SYSTEM, data=UserCreate(username="bench.op", display_name="称重员", role="operator",
                                                         unit_id=unit.id, password="bench-pass-123"))
        s.commit()
        return {"unit": unit.id, "gen": gen.id, "store": store.id}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="weighings (default 200)")
    ap.add_argument("--database-url", help="default: a fresh SQLite file in a temp folder")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="wl-bench-station-")
    url = args.database_url or f"sqlite:///{tmp}/bench.db"
    world = seed(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "LEDGER_DATABASE_URL": url, "LEDGER_PUBLIC_URL": base, "LEDGER_ENV": "test"}
    log = open(Path(tmp) / "uvicorn.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port",
                             str(port), "--log-level", "warning"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        with httpx.Client(base_url=base, timeout=30, headers={"Origin": base}) as c:
            for _ in range(200):
                try:
                    if c.get("/api/v1/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            r = c.post("/login", data={"username": "bench.op", "password": "bench-pass-123"})
            assert r.status_code in (200, 303) and "wl_session" in c.cookies, r.text
            # warm up: the first label builds its caches
            times: dict[str, list[float]] = {k: [] for k in (*STEPS, "round trip")}
            for i in range(args.n + 5):
                body = {"unit_id": world["unit"], "waste_code": "900-249-08", "name": "废矿物油", "form": "液态",
                        "facility_id": world["gen"], "container_type": "桶", "container_count": 1,
                        "container_volume_l": 200, "gross_kg": str(150 + i % 50), "tare_kg": "18.5",
                        "scale_id": "SCALE-01", "operator": "王工", "store_facility_id": world["store"],
                        "occurred_at": datetime.now(UTC).isoformat()}
                t0 = time.perf_counter()
                r = c.post("/api/v1/batches", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
                assert r.status_code == 201, r.text
                bid = r.json()["id"]
                t1 = time.perf_counter()
                assert c.get(f"/station/label/{bid}?print=1").status_code == 200
                t2 = time.perf_counter()
                png = c.get(f"/api/v1/batches/{bid}/label.png")
                assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
                t3 = time.perf_counter()
                assert c.get(f"/station/recent?unit_id={world['unit']}").status_code == 200
                t4 = time.perf_counter()
                if i < 5:
                    continue
                for k, v in zip((*STEPS, "round trip"), (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0), strict=True):
                    times[k].append(v * 1000)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
    total = sum(times["round trip"])
    kind = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"station record-and-print round trip, {args.n} weighings, {kind}, one uvicorn worker, "
          f"{os.cpu_count()} CPUs")
    print(f"{'step':14} {'p50 ms':>8} {'p95 ms':>8} {'share':>7}")
    for k in (*STEPS, "round trip"):
        print(f"{k:14} {pct(times[k], .5):8.1f} {pct(times[k], .95):8.1f} {sum(times[k]) / total:7.0%}")
    print(f"label.png is {len(png.content) / 1024:.0f} KB; the record alone is "
          f"1 : {pct(times['round trip'], .5) / pct(times['record'], .5):.1f} of the round trip (p50)")


if __name__ == "__main__":
    main()
