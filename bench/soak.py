"""Soak: a mixed workload for minutes at the highest rate the machine holds, then an exactly-once audit.

    python -m bench.soak                       # 10 minutes on a fresh PostgreSQL database (dropped at the end)
    python -m bench.soak --minutes 2 --clients 12
    python -m bench.soak --sqlite              # on a fresh SQLite file instead

What it does:

1. creates a PostgreSQL database (or a SQLite file), migrates it, seeds U plants (a generation point, a plan, a
   weighing terminal each), a hauler (permit, vehicle, driver) and a licensed receiver (utilisation line, operator);
2. starts the real server (`uvicorn api.main:app --workers W`) as a subprocess;
3. C closed-loop clients (as fast as the server answers: the highest rate it holds) each pick, per request:
   70 % generation (POST /batches, eight waste codes over P plants), 20 % scans (GET /scan/{digital_id} of an acknowledged batch), 10 % a manifest
   step (create → submit → pickup → deliver → receive → use-in-house of the receiver's holding → complete, one
   step per pick, for loads of 1–3 acknowledged batches). Every write carries an Idempotency-Key; a request that
   fails (connection error, 5xx) is retried with the same key, and counts as an error;
4. after --minutes, stops the clients and the server, then audits the database: every acknowledged generation is
   stored exactly once (its batch exists, one root batch per key, nothing unacknowledged), every acknowledged
   manifest step is in the manifest's state, every unit's chain verifies and `rebuild` finds no difference;
5. prints the rate held (per kind and per minute), the error count and the latency percentiles.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from bench.ingest import WASTES, Server, calibrate, drop_database, libpq, pct  # noqa: E402

MIX = (("generate", 70), ("scan", 20), ("manifest", 10))
STATES_AFTER = {"create": "draft", "submit": "submitted", "pickup": "in_transit", "deliver": "delivered",
                "receive": "received", "process": "received", "complete": "completed"}


@dataclass
class Actor:
    unit_id: int
    token: str
    gen_facility_id: int = 0
    credit_code: str = ""


@dataclass
class World:
    plants: list[Actor]
    hauler: Actor
    vehicle_id: int
    driver: str  # token
    driver_id: int
    receiver: Actor
    receiver_line: int


def seed(url: str, n_plants: int) -> World:
    from ledger.accounts import issue_token
    from ledger.auth import SYSTEM
    from ledger.codes import credit_check_character
    from ledger.db import get_engine, session_scope
    from ledger.registry import assets, plans, units
    from ledger.types import utcnow
    from ledger.users import UserCreate, create_user
    from ledger.workdays import local_day

    base = random.SystemRandom().randrange(10**6, 9 * 10**6)
    tag = uuid.uuid4().hex[:6]
    year = local_day(utcnow()).year
    n = iter(range(10_000))

    def unit(s, name: str, roles: list[str], region: str = "370112"):  # noqa: ANN001, ANN202
        first17 = f"91370100MA{base + next(n):07d}"
        return units.create_unit(s, principal=SYSTEM, data=units.UnitCreate(
            credit_code=first17 + credit_check_character(first17), name=name, region_code=region, roles=roles))

    def user(s, role: str, unit_id: int):  # noqa: ANN001, ANN202
        u = create_user(s, principal=SYSTEM, data=UserCreate(username=f"soak.{tag}.{role}.{next(n)}",
                                                            display_name=role, role=role, unit_id=unit_id))
        return u, issue_token(s, user=u, name="soak")

    with session_scope(get_engine(url)) as s:
        hauler = unit(s, "压测运输", ["hauler"])
        assets.create_permit(s, principal=SYSTEM, unit_id=hauler.id, data=assets.PermitCreate(
            kind="transport_permit", number=f"鲁交运{tag}", valid_from=local_day(utcnow()) - timedelta(days=30),
            valid_to=local_day(utcnow()) + timedelta(days=700)))
        vehicle = assets.create_vehicle(s, principal=SYSTEM, unit_id=hauler.id, data=assets.VehicleCreate(
            plate=f"鲁A{random.randrange(10000, 99999)}"))
        driver, driver_token = user(s, "driver", hauler.id)
        receiver = unit(s, "压测利用处置", ["receiver"], "370305")
        assets.create_permit(s, principal=SYSTEM, unit_id=receiver.id, data=assets.PermitCreate(
            kind="operating_licence", number=f"鲁危证{tag}",
            waste_codes=sorted({"HW" + w.code[-2:] for w in WASTES if not w.code.endswith(("S03",))}),
            methods=["R9"],
            valid_from=local_day(utcnow()) - timedelta(days=30), valid_to=local_day(utcnow()) + timedelta(days=700)))
        line = assets.create_facility(s, principal=SYSTEM, unit_id=receiver.id, data=assets.FacilityCreate(
            kind="utilisation", code="LY-01", name="再生装置", methods=["R9"]))
        _, receiver_token = user(s, "receiver_operator", receiver.id)
        plants = []
        for i in range(n_plants):
            p = unit(s, f"压测化工{i + 1}号厂", ["generator"])
            gen = assets.create_facility(s, principal=SYSTEM, unit_id=p.id, data=assets.FacilityCreate(
                kind="generation", code="CS-01", name="产废点"))
            plans.file_plan(s, principal=SYSTEM, unit_id=p.id, data=plans.PlanCreate(year=year, items=[
                plans.PlanItemIn(waste_code=w.code, planned_kg=Decimal(10**7), receiver_ids=[receiver.id],
                                 methods=["R9"]) for w in WASTES]))
            _, token = user(s, "unit_admin", p.id)
            plants.append(Actor(p.id, token, gen.id, p.credit_code))
        return World(plants, Actor(hauler.id, ""), vehicle.id, driver_token, driver.id,
                      Actor(receiver.id, receiver_token), line.id)


@dataclass
class Load:
    """A manifest in progress: its id, batches, the next step, and the last acknowledged state."""

    plant: Actor
    batch_ids: list[int]
    digital_ids: list[str]
    manifest_id: int | None = None
    holding_ids: list[int] = field(default_factory=list)
    shipped_kg: list[str] = field(default_factory=list)
    step: str = "create"
    acked_state: str | None = None


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    per_minute: Counter = field(default_factory=Counter)
    acked_batches: dict[str, tuple[int, int, str]] = field(default_factory=dict)  # key -> (unit, id, digital)
    # (unit, hazardous) -> batches not yet on a manifest (a manifest carries one kind)
    free_batches: dict[tuple[int, bool], list[tuple[int, str]]] = field(default_factory=lambda: defaultdict(list))
    loads: list[Load] = field(default_factory=list)
    done_loads: list[Load] = field(default_factory=list)


class Soak:
    def __init__(self, base: str, world: World, clients: int, seconds: float, seed: int) -> None:
        self.base, self.w, self.clients, self.seconds = base, world, clients, seconds
        self.rng = random.Random(seed)
        self.s = Stats()
        self.t0 = 0.0

    async def call(self, client: httpx.AsyncClient, kind: str, method: str, path: str, token: str,
                   json: dict | None = None, write: bool = True) -> httpx.Response | None:
        """One logical request; a write is retried with its Idempotency-Key until answered (each failure counts)."""
        headers = {"Authorization": f"Bearer {token}"}
        if write:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        for _ in range(20):
            t = time.perf_counter()
            try:
                r = await client.request(method, path, json=json, headers=headers)
            except httpx.HTTPError as e:
                self._error(kind, type(e).__name__, repr(e))
                await asyncio.sleep(0.2)
                continue
            self.s.latencies[kind].append(time.perf_counter() - t)
            self.s.statuses[(kind, r.status_code)] += 1
            self.s.per_minute[int((time.perf_counter() - self.t0) // 60)] += 1
            if r.status_code >= 500:
                self._error(kind, str(r.status_code), r.text[:300])
                await asyncio.sleep(0.2)
                continue
            if r.status_code >= 400:
                self._error(kind, str(r.status_code), r.text[:300])
                return None
            return r
        return None

    def _error(self, kind: str, what: str, sample: str) -> None:
        self.s.errors[(kind, what)] += 1
        if len(self.s.error_samples) < 10:
            self.s.error_samples.append(f"{kind} {what}: {sample}")

    async def generate(self, client: httpx.AsyncClient) -> None:
        # Uniform over plants and codes: a unit labels at most 999 packages of one code a day (HJ 1276 serial),
        # so P plants × 8 codes allow 999 × 8 × P weighings in a day's run.
        p, w = self.rng.choice(self.w.plants), self.rng.choice(WASTES)
        key = str(uuid.uuid4())
        body = {"unit_id": p.unit_id, "waste_code": w.code, "name": w.name, "form": w.form,
                "facility_id": p.gen_facility_id, "container_type": w.container, "container_volume_l": w.volume_l,
                "gross_kg": f"{self.rng.uniform(*w.gross_kg):.1f}", "tare_kg": f"{w.tare_kg:.1f}",
                "scale_id": "SOAK-1", "operator": "压测",
                "occurred_at": (datetime.now(UTC) - timedelta(seconds=30)).isoformat()}
        headers = {"Authorization": f"Bearer {p.token}", "Idempotency-Key": key}
        for _ in range(20):
            t = time.perf_counter()
            try:
                r = await client.post("/api/v1/batches", json=body, headers=headers)
            except httpx.HTTPError as e:
                self._error("generate", type(e).__name__, repr(e))
                await asyncio.sleep(0.2)
                continue
            self.s.latencies["generate"].append(time.perf_counter() - t)
            self.s.statuses[("generate", r.status_code)] += 1
            self.s.per_minute[int((time.perf_counter() - self.t0) // 60)] += 1
            if r.status_code == 201:
                b = r.json()
                self.s.acked_batches[key] = (p.unit_id, b["id"], b["digital_id"])
                self.s.free_batches[(p.unit_id, b["hazardous"])].append((b["id"], b["digital_id"]))
                return
            self._error("generate", str(r.status_code), r.text[:300])
            if r.status_code < 500:
                return
            await asyncio.sleep(0.2)

    async def scan(self, client: httpx.AsyncClient) -> None:
        if not self.s.acked_batches:
            return await self.generate(client)
        unit_id, _, digital = self.s.acked_batches[self.rng.choice(list(self.s.acked_batches))]
        token = next(p.token for p in self.w.plants if p.unit_id == unit_id)
        await self.call(client, "scan", "GET", f"/api/v1/scan/{digital}", token, write=False)

    async def manifest_step(self, client: httpx.AsyncClient) -> None:
        ready = [ld for ld in self.s.loads if ld.step != "busy"]
        if len(ready) < 4:  # start a load from a plant with batches to ship
            p = self.rng.choice(self.w.plants)
            free = self.s.free_batches[(p.unit_id, self.rng.random() < 0.8)]
            if free:
                take = [free.pop() for _ in range(min(len(free), self.rng.randint(1, 3)))]
                load = Load(p, [b for b, _ in take], [d for _, d in take])
                self.s.loads.append(load)
                ready.append(load)
        if not ready:
            return await self.generate(client)
        load = self.rng.choice(ready)
        step, load.step = load.step, "busy"
        w, m = self.w, load.manifest_id
        if step == "create":
            r = await self.call(client, "manifest", "POST", "/api/v1/manifests", load.plant.token, {
                "originator_id": load.plant.unit_id, "hauler_id": w.hauler.unit_id, "vehicle_id": w.vehicle_id,
                "receiver_id": w.receiver.unit_id, "driver_id": w.driver_id,
                "planned_date": str(datetime.now(UTC).date()),
                "lines": [{"batch_id": b, "planned_method": "R9"} for b in load.batch_ids]})
            if r is not None:
                load.manifest_id = r.json()["id"]
                load.shipped_kg = [ln["shipped_kg"] for ln in r.json()["lines"]]
            nxt = "submit"
        elif step == "submit":
            r = await self.call(client, "manifest", "POST", f"/api/v1/manifests/{m}/submit", load.plant.token)
            nxt = "pickup"
        elif step == "pickup":
            r = await self.call(client, "manifest", "POST", f"/api/v1/manifests/{m}/pickup", w.driver,
                                {"scanned": load.digital_ids, "lat": 36.6, "lon": 117.0})
            nxt = "deliver"
        elif step == "deliver":
            r = await self.call(client, "manifest", "POST", f"/api/v1/manifests/{m}/deliver", w.driver, {})
            nxt = "receive"
        elif step == "receive":
            r = await self.call(client, "manifest", "POST", f"/api/v1/manifests/{m}/receive", w.receiver.token, {
                "lines": [{"batch_id": b, "received_kg": kg, "acceptance": "accepted"}
                          for b, kg in zip(load.batch_ids, load.shipped_kg, strict=True)]})
            if r is not None:
                load.holding_ids = [ln["holding_id"] for ln in r.json()["lines"]]
            nxt = "process"
        elif step == "process":
            holding = load.holding_ids.pop()
            r = await self.call(client, "manifest", "POST", f"/api/v1/batches/{holding}/use-in-house",
                                w.receiver.token, {"method": "R9", "facility_id": w.receiver_line, "operator": "孙"})
            nxt = "process" if load.holding_ids else "complete"
        else:  # complete
            r = await self.call(client, "manifest", "POST", f"/api/v1/manifests/{m}/complete", w.receiver.token)
            nxt = "done"
        if r is None:  # refused (counted as an error): drop the load, its state is audited as acknowledged so far
            self.s.loads.remove(load)
            self.s.done_loads.append(load)
            return
        load.acked_state = STATES_AFTER[step]
        load.step = nxt
        if nxt == "done":
            self.s.loads.remove(load)
            self.s.done_loads.append(load)

    async def client_loop(self, client: httpx.AsyncClient, deadline: float) -> None:
        kinds, weights = zip(*MIX, strict=True)
        while time.perf_counter() < deadline:
            kind = self.rng.choices(kinds, weights)[0]
            if kind == "generate":
                await self.generate(client)
            elif kind == "scan":
                await self.scan(client)
            else:
                await self.manifest_step(client)

    async def run(self) -> float:
        limits = httpx.Limits(max_connections=self.clients, max_keepalive_connections=self.clients)
        async with httpx.AsyncClient(base_url=self.base, limits=limits, timeout=60.0) as client:
            self.t0 = time.perf_counter()
            deadline = self.t0 + self.seconds
            await asyncio.gather(*(self.client_loop(client, deadline) for _ in range(self.clients)))
            return time.perf_counter() - self.t0


def audit(url: str, soak: Soak) -> list[str]:
    """Every acknowledged write stored exactly once; manifests in their acknowledged states; chains; rebuild."""
    from ledger import journal
    from ledger.accounts import IdempotencyRecord
    from ledger.batches import Batch, rebuild
    from ledger.db import get_engine
    from ledger.manifests import Manifest
    from ledger.registry.models import Unit

    problems, notes = [], []
    s_ = soak.s
    with Session(get_engine(url)) as s:
        plant_ids = [p.unit_id for p in soak.w.plants]
        roots = s.exec(select(Batch).where(Batch.unit_id.in_(plant_ids), Batch.parent_id.is_(None))).all()
        acked = {bid: (unit, digital) for unit, bid, digital in s_.acked_batches.values()}
        stored = {b.id: (b.unit_id, b.digital_id) for b in roots}
        if stored != acked:
            lost = set(acked) - set(stored)
            extra = set(stored) - set(acked)
            problems.append(f"batches: {len(lost)} acknowledged but missing, {len(extra)} stored but never "
                            f"acknowledged (a retry without its answer would show here)")
        if len({d for _, d in stored.values()}) != len(stored):
            problems.append("two batches share a digital ID")
        keys = list(s_.acked_batches)
        rows = []
        for i in range(0, len(keys), 500):
            rows += s.exec(select(IdempotencyRecord.key).where(IdempotencyRecord.key.in_(keys[i:i + 500]))).all()
        if len(rows) != len(keys) or len(set(rows)) != len(keys):
            problems.append(f"idempotency records: {len(rows)} for {len(keys)} acknowledged keys")
        manifests = 0
        for load in s_.loads + s_.done_loads:
            if load.manifest_id is None or load.acked_state is None:
                continue
            manifests += 1
            m = s.get(Manifest, load.manifest_id)
            if m is None or m.status != load.acked_state:
                problems.append(f"manifest {load.manifest_id}: acknowledged {load.acked_state}, stored "
                                f"{m.status if m else 'nothing'}")
        units = s.exec(select(Unit.id)).all()
        records = 0
        for uid in units:
            c = journal.verify(s, unit_id=uid)
            records += c.records
            if not c.ok:
                problems.append(f"unit {uid}: chain broken at seq {c.first_bad_seq}: {c.reason}")
        diffs = rebuild(s)
        s.rollback()
        if diffs:
            problems.append(f"rebuild: {len(diffs)} differences between the cached balances and the journal")
        notes.append(f"audit: {len(stored)} batches for {len(acked)} acknowledged generations, {manifests} "
                     f"manifests in their acknowledged state, {len(units)} chains ({records} records) verified, "
                     f"rebuild {'agrees' if not diffs else 'DISAGREES'}")
    return notes + [f"PROBLEM: {p}" for p in problems]


def create_database(server_url: str, prefix: str) -> str:
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{datetime.now():%Y%m%d_%H%M%S}_{os.getpid()}"
    with psycopg.connect(libpq(server_url, database="postgres"), autocommit=True) as c:
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=16, help="closed-loop clients (default 16)")
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (default 2)")
    ap.add_argument("--plants", type=int, default=16, help="generator units (each labels ≤ 999 a day per code)")
    ap.add_argument("--server-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                    help="PostgreSQL server where a fresh database is created")
    ap.add_argument("--database-prefix", default="wl_soak", help="name prefix of the fresh database")
    ap.add_argument("--database-url", help="use this (migrated or empty) database instead of a fresh one")
    ap.add_argument("--sqlite", action="store_true", help="a fresh SQLite file instead of PostgreSQL")
    ap.add_argument("--keep", action="store_true", help="keep the fresh database")
    ap.add_argument("--seed", type=int, default=2026)
    a = ap.parse_args(argv)

    from ledger.db import dispose_engines
    from ledger.migrate import upgrade

    created = False
    if a.database_url:
        url = a.database_url
    elif a.sqlite:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='wl-soak-')}/soak.db"
    else:
        url, created = create_database(a.server_url, a.database_prefix), True
    server = None
    try:
        t = time.perf_counter()
        upgrade(url)
        world = seed(url, a.plants)
        dispose_engines()
        print(f"database {url.split('@')[-1]} migrated and seeded in {time.perf_counter() - t:.1f} s", flush=True)
        print(calibrate(), flush=True)
        server = Server(url, a.workers)
        server.wait_ready(a.workers)
        soak = Soak(server.base, world, a.clients, a.minutes * 60, a.seed)
        print(f"soak: {a.minutes:g} min, {a.clients} clients, {a.workers} workers, {a.plants} plants …", flush=True)
        wall = asyncio.run(soak.run())
        server.stop()
        server = None
        dispose_engines()
        s = soak.s
        total = sum(len(v) for v in s.latencies.values())
        every = sorted(x for v in s.latencies.values() for x in v)
        print(f"\n## {total} requests in {wall:.1f} s: {total / wall:.1f} requests/s held")
        for kind, lat in sorted(s.latencies.items()):
            lat.sort()
            print(f"  {kind:<9} {len(lat):6d} ({len(lat) / wall:6.1f}/s)  p50 {pct(lat, .5) * 1000:7.1f} ms  "
                  f"p99 {pct(lat, .99) * 1000:7.1f} ms  max {lat[-1] * 1000:7.1f} ms")
        print(f"  all       p50 {pct(every, .5) * 1000:.1f} ms, p99 {pct(every, .99) * 1000:.1f} ms")
        minutes = sorted(s.per_minute)
        print("  per minute: " + ", ".join(
            f"{s.per_minute[m] / (min(60.0, wall - 60 * m) or 1):.1f}/s" for m in minutes))
        print(f"  statuses: {dict(sorted(Counter({f'{k} {c}': n for (k, c), n in s.statuses.items()}).items()))}")
        errors = sum(s.errors.values())
        print(f"  errors: {errors}" + (f" {dict(s.errors)}" if errors else ""))
        for line in s.error_samples:
            print(f"    {line}")
        lines = audit(url, soak)
        for line in lines:
            print(line)
        print(f"at the end: {calibrate()}")
        ok = errors == 0 and not any(ln.startswith("PROBLEM") for ln in lines)
        print(f"\nsoak {'PASSED' if ok else 'FAILED'}: rate {total / wall:.1f}/s, errors {errors}, "
              f"p99 {pct(every, .99) * 1000:.1f} ms")
        return 0 if ok else 1
    finally:
        if server is not None:
            server.stop()
        dispose_engines()
        if created and not a.keep:
            drop_database(url)
            print(f"dropped database {url.split('/')[-1]}")
        if a.sqlite and not a.keep:
            for suffix in ("", "-wal", "-shm"):
                with __import__("contextlib").suppress(OSError):
                    os.remove(url.removeprefix("sqlite:///") + suffix)


if __name__ == "__main__":
    raise SystemExit(main())
