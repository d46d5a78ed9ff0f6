"""Batch generation over HTTP on PostgreSQL, against the floor of plain INSERTs of equal rows.

    python -m bench.ingest                         # fresh database wl_bench_<timestamp>, dropped at the end
    python -m bench.ingest --units 1               # every weighing on one unit: its journal chain serialises
    python -m bench.ingest --batches 1000 --profile 500 --py-spy /tmp/ingest.raw

What it does, in one run:

1. creates (or uses, with --database-url) a PostgreSQL database, migrates it with Alembic and seeds U generator
   units through the ledger services: a generation point, a storage room, this year's plan, an operator user
   and an API token each (a weighing terminal);
2. starts the real server as a subprocess (`uvicorn api.main:app --workers W`) and waits for /api/v1/health;
3. drives POST /api/v1/batches from C concurrent clients (asyncio + httpx), each request with its own
   Idempotency-Key and a realistic weighing (a mix of HW08/HW06/HW11/HW49 codes and one general-waste code,
   drums, tonne bags and bulk lots), round-robin over the units; measures per-request latency and wall time;
4. stores some of the generated batches (--stores N, one `POST /batches/{id}/store` per request, the same clients)
   and takes them out again (--retrieves N, `POST /batches/{id}/retrieve`), measuring each phase apart; stops the
   server and checks the ledger: every unit's chain verifies, batches == successful weighings, records == those and
   the successful storage moves;
5. measures plain INSERTs of rows equal to the ones a generation writes (a `batch` row and its `journal_record`
   row, copied from the run) into scratch tables with the same indexes, with psycopg: one transaction per pair
   at the same concurrency, one autocommit row at a time, and executemany in one transaction;
6. optionally (--profile N) counts and lists the SQL statements of one generation request in-process, splits
   in-process service time into SQL round trips and Python, and cProfiles N generations;
7. prints everything, the ratio HTTP/INSERT and whether the targets of this kind of run were met (`targets`).

Nothing here changes the application; the in-process profile only attaches SQLAlchemy event listeners.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import io
import itertools
import json
import logging
import math
import os
import pstats
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402
from psycopg.types.json import Json  # noqa: E402
from sqlalchemy import func  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from labels import FontNotFound, warm_pdf_fonts  # noqa: E402


def targets(*, units: int, bulk: int, rate: float, p99: float, cpu_ms: float, ratio: float | None) -> list[dict]:
    """The issue's targets for this kind of run, each with the figure measured and whether it is met: one weighing
    per request over 64 units (or more) — ≥ 300 batches/s, p99 < 100 ms, ≤ 2.5 ms of uvicorn CPU per request, a
    ratio ≥ 0.2 to the plain-INSERT pair per transaction; over 4 units (or fewer) — p99 < 200 ms; `--bulk` —
    ≥ 2,000 batches/s."""
    if bulk > 1:
        wanted = [("batches/s", ">=", 2000.0, rate)]
    elif units >= 64:
        wanted = [("batches/s", ">=", 300.0, rate), ("p99 ms", "<", 100.0, p99),
                  ("uvicorn CPU ms per request", "<=", 2.5, cpu_ms), ("ratio to INSERT pair per txn", ">=", 0.2,
                                                                       ratio or 0.0)]
    elif units <= 4:
        wanted = [("p99 ms", "<", 200.0, p99)]
    else:
        wanted = []
    test = {">=": lambda v, t: v >= t, "<": lambda v, t: v < t, "<=": lambda v, t: v <= t}
    return [{"what": w, "target": f"{op} {t:g}", "measured": round(v, 3), "met": test[op](v, t)}
            for w, op, t, v in wanted]
PUBLIC_URL = "https://ledger.bench.test"
CST = timezone(timedelta(hours=8))
REGIONS = ("370112", "370303", "370602", "370783", "370881", "371002", "371302", "370211")


@dataclass(frozen=True)
class Waste:
    code: str
    name: str
    form: str
    container: str
    volume_l: float | None
    gross_kg: tuple[float, float]
    tare_kg: float
    weight: int  # relative frequency at a weighing point


# What a chemical plant's weighing point sees in a day. Eight codes: a unit may label at most 999 packages of
# one code a day (HJ 1276 serial), so the mix also keeps a long single-unit run within the day's serials.
WASTES = (
    Waste("900-249-08", "废矿物油", "液态", "桶", 200, (150, 190), 18.5, 5),
    Waste("900-404-06", "废有机溶剂", "液态", "桶", 200, (140, 180), 18.5, 4),
    Waste("900-013-11", "精馏残渣", "半固态", "桶", 200, (160, 230), 18.5, 3),
    Waste("261-084-45", "含有机卤化物废物", "半固态", "桶", 200, (150, 210), 18.5, 2),
    Waste("900-039-49", "废活性炭", "固态", "吨袋", None, (300, 900), 2.5, 3),
    Waste("900-041-49", "废包装桶", "固态", "吨袋", None, (80, 400), 2.5, 3),
    Waste("900-047-49", "实验室废物", "固态", "箱", 60, (8, 40), 1.2, 1),
    Waste("900-001-S03", "脱硫石膏", "固态", "散装", None, (1200, 3500), 0, 2),
)


# ---- small helpers ---------------------------------------------------------------------------------------

def libpq(url: str, *, database: str | None = None) -> str:
    """A libpq conninfo URL for psycopg from a SQLAlchemy URL."""
    u = make_url(url).set(drivername="postgresql")
    if database is not None:
        u = u.set(database=database)
    return u.render_as_string(hide_password=False)


def pct(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def say(*parts: object) -> None:
    print(*parts, flush=True)


# ---- CPU accounting from /proc (who used the two cores) ----------------------------------------------------

CLK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu_s(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return (int(rest[11]) + int(rest[12])) / CLK
    except (OSError, IndexError, ValueError):
        return 0.0


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def _postgres_pids() -> list[int]:
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/comm") as f:
                    if f.read().strip() == "postgres":
                        pids.append(int(d))
            except OSError:
                pass
    return pids


def _machine() -> tuple[float, float, float]:
    """(busy, steal, total) CPU seconds of the machine so far; busy excludes idle, iowait and steal."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    total = sum(v[:8])  # guest time is already counted in user
    steal = v[7] if len(v) > 7 else 0
    return (total - v[3] - v[4] - steal) / CLK, steal / CLK, total / CLK


@dataclass
class CpuSnap:
    machine_busy: float
    machine_steal: float
    machine_total: float
    server: dict[int, float]
    postgres: dict[int, float]
    client: float

    @classmethod
    def take(cls, server_pid: int | None) -> CpuSnap:
        busy, steal, total = _machine()
        server = {p: _proc_cpu_s(p) for p in _descendants(server_pid)} if server_pid else {}
        return cls(busy, steal, total, server, {p: _proc_cpu_s(p) for p in _postgres_pids()}, time.process_time())


def cpu_figures(a: CpuSnap, b: CpuSnap, requests: int) -> dict:
    """CPU seconds between two snapshots by consumer, and per request in ms (for --json)."""
    server = sum(v - a.server.get(p, 0.0) for p, v in b.server.items())
    pg = sum(v - a.postgres.get(p, 0.0) for p, v in b.postgres.items())
    client = b.client - a.client
    busy = b.machine_busy - a.machine_busy
    n = max(requests, 1)
    return {"uvicorn_s": round(server, 2), "postgres_s": round(pg, 2), "client_s": round(client, 2),
            "other_s": round(max(busy - server - pg - client, 0.0), 2),
            "steal_s": round(b.machine_steal - a.machine_steal, 2),
            "uvicorn_ms_per_request": round(server / n * 1000, 2), "postgres_ms_per_request": round(pg / n * 1000, 2),
            "client_ms_per_request": round(client / n * 1000, 2)}


def cpu_report(a: CpuSnap, b: CpuSnap, wall: float, requests: int) -> str:
    ncpu = os.cpu_count() or 1
    server = sum(v - a.server.get(p, 0.0) for p, v in b.server.items())
    pg = sum(v - a.postgres.get(p, 0.0) for p, v in b.postgres.items())
    client = b.client - a.client
    busy = b.machine_busy - a.machine_busy
    steal = b.machine_steal - a.machine_steal
    total = b.machine_total - a.machine_total
    other = max(busy - server - pg - client, 0.0)
    return (f"CPU over {wall:.1f} s, {ncpu} vCPUs ({ncpu * wall:.1f} CPU-s): uvicorn workers {server:.1f} s, "
            f"postgres {pg:.1f} s, this client {client:.1f} s, other processes {other:.1f} s, "
            f"stolen by the hypervisor {steal:.1f} s, idle {max(total - busy - steal, 0):.1f} s\n"
            f"CPU per request: uvicorn worker {server / max(requests, 1) * 1000:.1f} ms, postgres "
            f"{pg / max(requests, 1) * 1000:.1f} ms, client {client / max(requests, 1) * 1000:.1f} ms")


# ---- the machine and the database, before anything runs ------------------------------------------------------

def probe(url: str, n: int = 300) -> str:
    """Round trip of `SELECT 1` and latency of a one-row autocommit INSERT (WAL flush), one connection."""
    with psycopg.connect(libpq(url), autocommit=True) as c:
        c.execute("CREATE TABLE IF NOT EXISTS bench_probe (id bigint PRIMARY KEY, at timestamptz)")
        rt, ins = [], []
        for _ in range(n):
            t0 = time.perf_counter()
            c.execute("SELECT 1").fetchone()
            rt.append(time.perf_counter() - t0)
        for i in range(n):
            t0 = time.perf_counter()
            c.execute("INSERT INTO bench_probe VALUES (%s, now())", (i,))
            ins.append(time.perf_counter() - t0)
        c.execute("DROP TABLE bench_probe")
    rt.sort()
    ins.sort()
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    return (f"probe, one connection: SELECT 1 round trip p50 {pct(rt, .5) * 1000:.2f} ms, p99 "
            f"{pct(rt, .99) * 1000:.2f} ms; autocommit one-row INSERT (WAL flush) p50 {pct(ins, .5) * 1000:.2f} ms,"
            f" p99 {pct(ins, .99) * 1000:.2f} ms; load average {load}\n{calibrate()}")


def calibrate() -> str:
    """How fast a core is right now: a fixed pure-Python loop, CPU and wall time (the machine may be shared)."""
    t0, c0 = time.perf_counter(), time.thread_time()
    acc = 0
    for i in range(2_000_000):
        acc += i * i
    cpu, wall = time.thread_time() - c0, time.perf_counter() - t0
    return (f"calibration: 2M-iteration pure-Python loop took {cpu * 1000:.0f} ms of CPU, {wall * 1000:.0f} ms "
            "wall (on an idle modern x86 core CPython 3.11 needs on the order of 0.1 s; scale the figures by this)")


class ActivitySampler:
    """Samples pg_stat_activity of the benchmark database every 50 ms: what the app's backends are doing."""

    def __init__(self, url: str) -> None:
        self.conninfo = libpq(url)
        self.samples: Counter = Counter()
        self.n = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        q = ("SELECT state, coalesce(wait_event_type, 'CPU'), coalesce(wait_event, '') FROM pg_stat_activity "
             "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
        with psycopg.connect(self.conninfo, autocommit=True) as c:
            while not self._stop.wait(0.05):
                self.n += 1
                for state, wtype, wevent in c.execute(q).fetchall():
                    if state == "idle":
                        continue
                    if state == "idle in transaction":
                        self.samples["idle in transaction: waiting for the app (Python) between statements"] += 1
                    elif wtype == "Lock":
                        self.samples[f"active, waiting for a lock ({wevent}): another request holds the row"] += 1
                    elif wevent in ("WALSync", "WALWrite", "WALInsert") or wtype == "IO":
                        self.samples[f"active, {wtype}:{wevent} (flushing the WAL at COMMIT)"] += 1
                    elif wtype == "CPU":
                        self.samples["active, running on CPU"] += 1
                    else:
                        self.samples[f"active, {wtype}:{wevent}"] += 1

    def stop(self) -> list[str]:
        self._stop.set()
        self._thread.join(timeout=5)
        if not self.n:
            return []
        lines = [f"pg_stat_activity, {self.n} samples: average number of the app's backends that were (non-idle)"]
        lines += [f"  {v / self.n:6.2f}  {k}" for k, v in self.samples.most_common()]
        return lines


# ---- database: create, migrate, seed, verify, drop ---------------------------------------------------------

def create_database(server_url: str, prefix: str = "wl_bench") -> str:
    name = f"{prefix}_{datetime.now():%Y%m%d_%H%M%S}_{os.getpid()}"
    with psycopg.connect(libpq(server_url, database="postgres"), autocommit=True) as c:
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(libpq(url, database="postgres"), autocommit=True) as c:
        c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@dataclass(frozen=True)
class Plant:
    unit_id: int
    credit_code: str
    gen_facility_id: int
    store_facility_id: int
    token: str
    scale_id: str
    operator: str


def seed(url: str, n_units: int) -> list[Plant]:
    """U generator units with a generation point, a storage room, this year's plan and a terminal token each."""
    from ledger.accounts import issue_token
    from ledger.auth import SYSTEM
    from ledger.codes import credit_check_character
    from ledger.db import get_engine, session_scope
    from ledger.registry import assets, plans, units
    from ledger.types import utcnow
    from ledger.users import UserCreate, create_user
    from ledger.workdays import local_day

    tag = uuid.uuid4().hex[:6]
    base = random.SystemRandom().randrange(10**6, 9 * 10**6)
    year = local_day(utcnow()).year
    plants = []
    with session_scope(get_engine(url)) as s:
        for i in range(n_units):
            first17 = f"91370100MA{base + i:07d}"
            unit = units.create_unit(s, principal=SYSTEM, data=units.UnitCreate(
                credit_code=first17 + credit_check_character(first17), name=f"压测精细化工{i + 1}号厂",
                region_code=REGIONS[i % len(REGIONS)], roles=["generator"], industry_code="C2614",
                address=f"工业园区{i + 1}号路", contact="王工", phone="0531-88880001"))
            gen = assets.create_facility(s, principal=SYSTEM, unit_id=unit.id, data=assets.FacilityCreate(
                kind="generation", code="CS-01", name="精馏车间产废点"))
            store = assets.create_facility(s, principal=SYSTEM, unit_id=unit.id, data=assets.FacilityCreate(
                kind="storage", storage_type="贮存库", code="ZC-01", name="1号危废贮存库",
                storage_capacity_t=Decimal(500)))
            plans.file_plan(s, principal=SYSTEM, unit_id=unit.id, data=plans.PlanCreate(year=year, items=[
                plans.PlanItemIn(waste_code=w.code, planned_kg=Decimal(2_000_000)) for w in WASTES]))
            user = create_user(s, principal=SYSTEM, data=UserCreate(
                username=f"bench.{tag}.scale{i + 1}", display_name=f"{i + 1}号称重点终端", role="operator",
                unit_id=unit.id))
            token = issue_token(s, user=user, name="weighing terminal")
            plants.append(Plant(unit.id, unit.credit_code, gen.id, store.id, token, f"SCALE-{i + 1:02d}",
                                f"称重员{i + 1}"))
    return plants


@dataclass
class LedgerCheck:
    ok: bool
    records: int
    batches: int
    lines: list[str]


def check_ledger(url: str, plants: list[Plant], expected: int, moves: int = 0) -> LedgerCheck:
    """Every unit's chain verifies; batches equal the successful weighings, journal records those and the
    successful storage moves."""
    from ledger import journal
    from ledger.batches import Batch
    from ledger.db import get_engine
    from ledger.journal import JournalRecord

    ids = [p.unit_id for p in plants]
    lines, ok = [], True
    with Session(get_engine(url)) as s:
        for uid in ids:
            c = journal.verify(s, unit_id=uid)
            ok &= c.ok
            lines.append(f"unit {uid}: chain {'valid' if c.ok else 'BROKEN'}, {c.records} records"
                         + ("" if c.ok else f" — seq {c.first_bad_seq}: {c.reason}"))
        records = s.exec(select(func.count()).select_from(JournalRecord)
                         .where(JournalRecord.unit_id.in_(ids))).one()
        batches = s.exec(select(func.count()).select_from(Batch).where(Batch.unit_id.in_(ids))).one()
    ok &= records == expected + moves and batches == expected
    return LedgerCheck(ok, records, batches, lines)


# ---- requests ----------------------------------------------------------------------------------------------

def _move_requests(url: str, plants: list[Plant], n: int, rng: random.Random, *, status: str, action: str,
                   body: Callable[[Plant], dict]) -> list:
    """Up to n moves of the run's batches in `status`, one request each (`POST /batches/{id}/{action}`), in the
    order the batches were weighed, each with its own Idempotency-Key; pre-encoded for bench.loadgen."""
    from bench import loadgen

    by_unit = {p.unit_id: p for p in plants}
    with psycopg.connect(libpq(url)) as c:
        rows = c.execute("SELECT id, unit_id FROM batch WHERE unit_id = ANY(%s) AND status = %s "
                         "ORDER BY id LIMIT %s", (list(by_unit), status, n)).fetchall()
    return [loadgen.Request.post(f"/api/v1/batches/{batch_id}/{action}", json.dumps(body(by_unit[unit_id])).encode(), {
        "Authorization": f"Bearer {by_unit[unit_id].token}", "Content-Type": "application/json",
        "Idempotency-Key": f"{action}-{uuid.UUID(int=rng.getrandbits(128))}"}, tag=action) for batch_id, unit_id in rows]


def make_stores(url: str, plants: list[Plant], n: int, rng: random.Random) -> list:
    """Up to n 入库 of the generated batches: the whole batch into its unit's storage room."""
    return _move_requests(url, plants, n, rng, status="generated", action="store",
                          body=lambda p: {"facility_id": p.store_facility_id, "operator": p.operator})


def make_retrieves(url: str, plants: list[Plant], n: int, rng: random.Random) -> list:
    """Up to n 出库 of the stored batches: the whole stored mass, for a transfer."""
    return _move_requests(url, plants, n, rng, status="stored", action="retrieve",
                          body=lambda p: {"operator": p.operator, "purpose": "transfer"})


def make_requests(plants: list[Plant], n: int, rng: random.Random, *, only: Waste | None = None
                  ) -> list[tuple[dict, bytes]]:
    """n (headers, body) pairs, round-robin over the plants, each with its own Idempotency-Key."""
    weights = [w.weight for w in WASTES]
    out = []
    for i in range(n):
        p = plants[i % len(plants)]
        w = only or rng.choices(WASTES, weights)[0]
        gross = rng.uniform(*w.gross_kg)
        occurred = datetime.now(UTC) - timedelta(seconds=rng.randint(20, 900))
        body = {"unit_id": p.unit_id, "waste_code": w.code, "name": w.name, "form": w.form,
                "facility_id": p.gen_facility_id, "container_type": w.container,
                "container_count": 1, "container_volume_l": w.volume_l,
                "gross_kg": f"{gross:.1f}", "tare_kg": f"{w.tare_kg:.1f}", "scale_id": p.scale_id,
                "operator": p.operator, "occurred_at": occurred.astimezone(CST).isoformat(timespec="seconds")}
        headers = {"Authorization": f"Bearer {p.token}", "Content-Type": "application/json",
                   "Idempotency-Key": f"{p.scale_id}-{uuid.UUID(int=rng.getrandbits(128))}"}
        out.append((headers, json.dumps(body, ensure_ascii=False).encode()))
    return out


def bundle(reqs: list[tuple[dict, bytes]], n: int, rng: random.Random) -> list[tuple[dict, bytes, int]]:
    """Group single weighings into POST /batches/bulk bodies of up to n items, per terminal (token)."""
    by_token: dict[str, list[tuple[dict, bytes]]] = {}
    for headers, body in reqs:
        by_token.setdefault(headers["Authorization"], []).append((headers, body))
    out = []
    for group in by_token.values():
        for i in range(0, len(group), n):
            chunk = group[i:i + n]
            headers = {**chunk[0][0], "Idempotency-Key": f"bulk-{uuid.UUID(int=rng.getrandbits(128))}"}
            out.append((headers, b'{"items":[' + b",".join(b for _, b in chunk) + b"]}", len(chunk)))
    rng.shuffle(out)
    return out


@dataclass
class HttpResult:
    wall: float = 0.0
    items: int = 0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    stopped_by_time: bool = False

    @property
    def ok(self) -> int:
        return self.statuses.get(201, 0)

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())


async def _drive(base: str, reqs: list[tuple[dict, bytes]], concurrency: int, max_seconds: float) -> HttpResult:
    res = HttpResult()
    todo = iter(reqs)  # shared by the client tasks of one event loop
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60.0) as client:
        deadline = time.perf_counter() + max_seconds

        async def terminal() -> None:
            for req in todo:
                headers, body, n = req if len(req) == 3 else (*req, 1)
                if time.perf_counter() > deadline:
                    res.stopped_by_time = True
                    return
                t0 = time.perf_counter()
                try:
                    r = await client.post("/api/v1/batches/bulk" if len(req) == 3 else "/api/v1/batches",
                                          content=body, headers=headers)
                except httpx.HTTPError as e:
                    res.statuses[f"{type(e).__name__}"] += 1
                    if len(res.failures) < 5:
                        res.failures.append(repr(e))
                    continue
                res.latencies.append(time.perf_counter() - t0)
                res.statuses[r.status_code] += 1
                if r.status_code == 201:
                    res.items += n
                if r.status_code != 201 and len(res.failures) < 5:
                    res.failures.append(f"{r.status_code} {r.text[:400]}")

        t0 = time.perf_counter()
        await asyncio.gather(*(terminal() for _ in range(concurrency)))
        res.wall = time.perf_counter() - t0
    res.latencies.sort()
    return res


def encode(reqs: list) -> list:
    """The requests as bench.loadgen's pre-encoded bytes (done before the clock starts); idempotent."""
    from bench import loadgen

    return [r if isinstance(r, loadgen.Request) else loadgen.Request.post(
        "/api/v1/batches/bulk" if len(r) == 3 else "/api/v1/batches", r[1], r[0], items=r[2] if len(r) == 3 else 1)
        for r in reqs]


def drive(base: str, reqs: list[tuple[dict, bytes]], concurrency: int, max_seconds: float,
          client: str = "raw") -> HttpResult:
    """Send the requests from `concurrency` clients: bench.loadgen's raw keep-alive connections (pre-encoded
    requests, the default) or httpx's AsyncClient (`client="httpx"`, what this bench used before)."""
    if client == "raw":
        from bench import loadgen

        raw = encode(reqs)
        out = loadgen.run(base, raw, clients=concurrency, max_seconds=max_seconds, ok=(201,))
        return HttpResult(wall=out.wall, items=out.items, latencies=out.latencies, statuses=out.statuses,
                          failures=out.failures, stopped_by_time=out.stopped_by_time)
    try:
        import uvloop

        return uvloop.run(_drive(base, reqs, concurrency, max_seconds))
    except ImportError:
        return asyncio.run(_drive(base, reqs, concurrency, max_seconds))


# ---- the server --------------------------------------------------------------------------------------------

class Server:
    """`uvicorn api.main:app --workers W` in its own process group."""

    def __init__(self, url: str, workers: int) -> None:
        # Each worker warms the PDF fonts at start-up; on a machine that has not built the reduced copies yet,
        # every worker would build them at once (tens of seconds of CPU) inside the first measured phase. Built
        # here first, the workers find them on disk. (Without a CJK font the app serves on, and so does the bench.)
        try:
            warm_pdf_fonts()
        except FontNotFound as e:
            say(f"no CJK font, so no PDF fonts to build first: {e}")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="wl-bench-uvicorn-", suffix=".log", delete=False)
        env = {**os.environ, "LEDGER_DATABASE_URL": url, "LEDGER_ENV": "test", "LEDGER_PUBLIC_URL": PUBLIC_URL}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(workers), "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, workers: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if httpx.get(f"{self.base}/api/v1/health", timeout=2).status_code == 200 and (
                        workers <= 1 or len(_descendants(self.proc.pid)) > workers):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"uvicorn did not answer /api/v1/health in {timeout:.0f} s:\n{self.tail()}")

    def tail(self, n: int = 30) -> str:
        return "\n".join(Path(self.log.name).read_text(errors="replace").splitlines()[-n:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()


class PySpy:
    """py-spy recording the server's workers (raw collapsed stacks) while the measured phase runs; with `gil`
    only the thread holding the GIL is sampled (Python CPU), otherwise every non-idle thread (wall time)."""

    def __init__(self, pid: int, out: str, rate: int, gil: bool) -> None:
        self.out = out
        self.proc = subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--subprocesses", "--format", "raw",
                                      "--rate", str(rate), "--output", out, "--nonblocking", *(["--gil"] if gil else [])],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)  # let it attach before the measured phase starts

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err or ""


_FRAME = re.compile(r"^(?P<fn>.+?) \((?P<file>[^:()]+)(?::\d+)?\)$")


def _short(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m["file"]
    for marker in ("site-packages/", str(ROOT) + "/", "lib/python3."):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{m['fn']} ({path})"


_LAYERS = (("psycopg/", "psycopg: sending to / waiting on PostgreSQL"),
           ("sqlalchemy/", "SQLAlchemy: ORM unit of work, compile/cache keys, result rows"),
           ("sqlmodel/", "SQLModel"), ("pydantic", "pydantic validation/serialisation"),
           ("fastapi/", "FastAPI/Starlette/anyio/uvicorn"), ("starlette/", "FastAPI/Starlette/anyio/uvicorn"),
           ("anyio/", "FastAPI/Starlette/anyio/uvicorn"), ("uvicorn/", "FastAPI/Starlette/anyio/uvicorn"),
           ("ledger/", "ledger/ and api/ code"), ("api/", "ledger/ and api/ code"),
           ("json/", "json, hashlib"), ("hashlib", "json, hashlib"), ("threading.py", "thread hand-off"))


def _layer(frame: str) -> str:
    return next((name for key, name in _LAYERS if key in frame), "other")


def summarise_py_spy(path: str, top: int = 20) -> list[str]:
    """Where the workers' request threads spent their samples, from py-spy's raw (collapsed) output."""
    self_t: Counter = Counter()
    incl: Counter = Counter()
    layers: Counter = Counter()
    all_layers: Counter = Counter()
    kinds: Counter = Counter()
    total = req = 0
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            stack = re.sub(r'^process \d+:"[^"]*";', "", stack)  # the command line may contain ";"
            frames = [_short(fr) for fr in stack.split(";") if fr and not fr.startswith(("process ", "thread "))]
            if not frames:
                continue
            total += n
            all_layers[_layer(frames[-1])] += n
            # a request's own thread, or the thread that writes a commit group of requests (api/grouping.py)
            if not any("_run_sync_endpoint" in fr or "run_endpoint_function" in fr or "CommitGroups._write" in fr
                       for fr in frames):
                leaf = frames[-1]
                kinds["event loop thread (uvloop: HTTP parsing, routing, await)" if "Runner.run" in leaf else
                      "thread pool, between requests" if "Condition.wait" in leaf or "WorkerThread" in leaf else
                      "other, outside the endpoint"] += n
                continue
            req += n
            self_t[frames[-1]] += n
            layers[_layer(frames[-1])] += n
            for fr in set(frames):
                incl[fr] += n
    if not total:
        return ["py-spy recorded no samples"]
    lines = [f"{total} samples; {req / total:.0%} inside the endpoint (a request's thread or its commit group's), "
             "the rest: "
             + ", ".join(f"{k} {v / total:.0%}" for k, v in kinds.most_common())]
    lines.append("  all samples, by the layer of the running frame:")
    lines += [f"    {n / total:6.1%}  {name}" for name, n in all_layers.most_common()]
    if not req:
        return lines
    lines.append("  inside the endpoint, by the layer of the running frame:")
    lines += [f"    {n / req:6.1%}  {name}" for name, n in layers.most_common()]
    lines.append("  inside the endpoint, self time of the running frame:")
    lines += [f"    {n / req:6.1%}  {fr}" for fr, n in self_t.most_common(top)]
    ours = [(fr, n) for fr, n in incl.items() if "ledger/" in fr or "api/" in fr or "counters" in fr]
    lines.append("  inside the endpoint, inclusive time of ledger/ and api/ functions:")
    lines += [f"    {n / req:6.1%}  {fr}" for fr, n in sorted(ours, key=lambda x: -x[1])[:top]]
    return lines


# ---- the INSERT floor --------------------------------------------------------------------------------------

@dataclass
class InsertResult:
    label: str
    rows: int
    txns: int
    wall: float
    latencies: list[float]

    @property
    def txn_rate(self) -> float:
        return self.txns / self.wall

    @property
    def row_rate(self) -> float:
        return self.rows / self.wall


class Floor:
    """Scratch tables shaped like `batch` and `journal_record` (same columns, same indexes, no foreign keys),
    filled with copies of one generation's rows; only the unique columns vary."""

    def __init__(self, url: str, plants: list[Plant]) -> None:
        self.conninfo = libpq(url)
        with psycopg.connect(self.conninfo, autocommit=True, row_factory=dict_row) as c:
            b = c.execute("SELECT * FROM batch WHERE unit_id = ANY(%s) ORDER BY id DESC LIMIT 1",
                          ([p.unit_id for p in plants],)).fetchone()
            r = c.execute("SELECT * FROM journal_record WHERE batch_id = %s AND kind = 'generated'",
                          (b["id"],)).fetchone()
            for t in ("bench_floor_batch", "bench_floor_record"):
                c.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(t)))
            c.execute("CREATE TABLE bench_floor_batch (LIKE batch INCLUDING INDEXES INCLUDING CONSTRAINTS)")
            c.execute("CREATE TABLE bench_floor_record (LIKE journal_record INCLUDING INDEXES INCLUDING CONSTRAINTS)")
        self.b, self.r = b, r
        self.b_sql = self._insert("bench_floor_batch", list(b))
        self.r_sql = self._insert("bench_floor_record", list(r))

    @staticmethod
    def _insert(table: str, cols: list[str]) -> sql.Composed:
        return sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, cols)),
            sql.SQL(", ").join(sql.Placeholder() * len(cols)))

    @staticmethod
    def _values(row: dict, **change) -> list:
        row = {**row, **change}
        return [Json(v) if isinstance(v, dict | list) else v for v in row.values()]

    def batch_row(self, i: int) -> list:
        return self._values(self.b, id=i + 1, digital_id=f"BENCH{i:033d}")

    def record_row(self, i: int) -> list:
        return self._values(self.r, id=i + 1, seq=i + 1, batch_id=i + 1)

    def truncate(self) -> None:
        with psycopg.connect(self.conninfo, autocommit=True) as c:
            c.execute("TRUNCATE bench_floor_batch, bench_floor_record")
            c.execute("CHECKPOINT")  # the three modes start from the same state

    def drop(self) -> None:
        with psycopg.connect(self.conninfo, autocommit=True) as c:
            c.execute("DROP TABLE IF EXISTS bench_floor_batch, bench_floor_record")

    def threaded(self, label: str, n: int, concurrency: int, rows_per_txn: int,
                 one: Callable[[psycopg.Connection, int], None]) -> InsertResult:
        conns = [psycopg.connect(self.conninfo, autocommit=True) for _ in range(concurrency)]
        counter, lock = itertools.count(), threading.Lock()
        lats: list[list[float]] = [[] for _ in conns]
        start = threading.Barrier(concurrency + 1)

        def work(k: int) -> None:
            conn, mine = conns[k], lats[k]
            start.wait()
            while True:
                with lock:
                    i = next(counter)
                if i >= n:
                    return
                t0 = time.perf_counter()
                one(conn, i)
                mine.append(time.perf_counter() - t0)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(concurrency)]
        for t in threads:
            t.start()
        start.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        for c in conns:
            c.close()
        return InsertResult(label, n * rows_per_txn, n, wall, sorted(x for m in lats for x in m))

    def pair_per_txn(self, n: int, concurrency: int) -> InsertResult:
        def one(conn: psycopg.Connection, i: int) -> None:
            with conn.transaction():
                conn.execute(self.b_sql, self.batch_row(i))
                conn.execute(self.r_sql, self.record_row(i))
        return self.threaded("batch + journal_record, 1 txn per pair", n, concurrency, 2, one)

    def row_autocommit(self, n: int, concurrency: int) -> InsertResult:
        def one(conn: psycopg.Connection, i: int) -> None:
            conn.execute(self.r_sql, self.record_row(i))
        return self.threaded("journal_record only, 1 autocommit row", n, concurrency, 1, one)

    def executemany(self, n: int) -> InsertResult:
        brows = [self.batch_row(i) for i in range(n)]
        rrows = [self.record_row(i) for i in range(n)]
        with psycopg.connect(self.conninfo) as conn:
            t0 = time.perf_counter()
            with conn.cursor() as cur:
                cur.executemany(self.b_sql, brows)
                cur.executemany(self.r_sql, rrows)
            conn.commit()
            wall = time.perf_counter() - t0
        return InsertResult("batch + journal_record, executemany, 1 txn", 2 * n, 1, wall, [])


# ---- in-process profile: SQL statements, SQL vs Python time, cProfile ---------------------------------------

class SqlTap:
    """Counts and times every statement SQLAlchemy sends, plus COMMITs and pool pre-pings (not cursor events)."""

    def __init__(self, engine) -> None:  # noqa: ANN001
        from sqlalchemy import event

        self.engine, self.on = engine, False
        self.statements: list[str] = []
        self.sql_s = self.commit_s = self.ping_s = 0.0
        self.commits = self.pings = 0
        self._t0 = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        dialect = engine.dialect
        self._do_commit, self._do_ping = dialect.do_commit, dialect.do_ping
        dialect.do_commit, dialect.do_ping = self._commit, self._ping

    def reset(self) -> None:
        self.statements.clear()
        self.sql_s = self.commit_s = self.ping_s = 0.0
        self.commits = self.pings = 0

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if self.on:
            self.statements.append(statement)
            self._t0 = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if self.on:
            self.sql_s += time.perf_counter() - self._t0

    def _commit(self, dbapi_conn) -> None:  # noqa: ANN001
        t0 = time.perf_counter()
        self._do_commit(dbapi_conn)
        if self.on:
            self.commits += 1
            self.commit_s += time.perf_counter() - t0

    def _ping(self, dbapi_conn) -> bool:  # noqa: ANN001
        t0 = time.perf_counter()
        ok = self._do_ping(dbapi_conn)
        if self.on:
            self.pings += 1
            self.ping_s += time.perf_counter() - t0
        return ok

    def count_round_trips(self) -> Callable[[], int]:
        """Count psycopg's `execute` generator runs (one per message round trip: BEGIN, statements, PREPARE,
        COMMIT, pings) until the returned function is called; it restores psycopg and returns the count."""
        import psycopg._cursor_base as cursor_base
        import psycopg.generators as generators

        orig, n = generators.execute, [0]

        def counting(pgconn):  # noqa: ANN001, ANN202
            n[0] += 1
            return orig(pgconn)

        generators.execute = cursor_base.execute = counting

        def done() -> int:
            generators.execute = cursor_base.execute = orig
            return n[0]
        return done

    def close(self) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)
        self.engine.dialect.do_commit, self.engine.dialect.do_ping = self._do_commit, self._do_ping


def _one_line(statement: str, width: int = 150) -> str:
    s = re.sub(r"\s+", " ", statement).strip()
    s = re.sub(r"SELECT (?!count|max|coalesce|1\b)[\w.\", ]+? FROM", "SELECT … FROM", s)
    return s if len(s) <= width else s[: width - 1] + "…"


def profile(url: str, plants: list[Plant], n: int, top: int) -> list[str]:
    """Statement list of one HTTP request (in-process TestClient), then N unit-of-work runs without HTTP:
    timed by part, then under cProfile."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from api.app import create_app
    from api.deps import Tx
    from ledger import batches as svc
    from ledger.accounts import find_token
    from ledger.auth import Principal
    from ledger.config import Settings
    from ledger.db import get_engine

    logging.getLogger("httpx").setLevel(logging.WARNING)
    out: list[str] = []
    engine = get_engine(url)
    tap = SqlTap(engine)
    rng = random.Random(7)
    plant = plants[0]
    try:
        app = create_app(Settings(env="test", database_url=url, public_url=PUBLIC_URL))
        with TestClient(app) as client:
            # the last one is traced (prepared statements warm); the commonest weighing: a drum of HW08 waste oil
            for headers, body in make_requests([plant], 12, rng, only=WASTES[0]):
                tap.reset()
                tap.on = True
                done = tap.count_round_trips()
                r = client.post("/api/v1/batches", content=body, headers=headers)
                round_trips = done()
                tap.on = False
                assert r.status_code == 201, r.text
        out.append(f"SQL of one POST /api/v1/batches (in-process, same app and engine; {json.loads(body)['waste_code']})"
                   f": {len(tap.statements)} statements through the cursor + {tap.commits} COMMIT"
                   f" + {tap.pings} pool pre-ping + the BEGIN psycopg sends before the first statement:")
        out += [f"  {i:2d}. {_one_line(s)}" for i, s in enumerate(tap.statements, 1)]
        out.append(f"  => {round_trips} round trips to PostgreSQL for this request (counted in psycopg)")

        def unit_of_work(headers: dict, body: bytes) -> None:
            s = Session(engine, expire_on_commit=False)
            try:
                tok, user = find_token(s, clear=headers["Authorization"][7:])
                p = Principal.of(user, token_id=tok.id, source_ip="127.0.0.1", user_agent="bench")
                data = svc.BatchCreate.model_validate_json(body)
                fp = hashlib.sha256(b"POST /api/v1/batches?\n" + body).hexdigest()
                resp = Tx(session=s, principal=p, key=headers["Idempotency-Key"], fingerprint=fp).run(
                    lambda s, p: svc.batch_public(svc.generate(s, principal=p, data=data), public_url=PUBLIC_URL),
                    status=201)
                assert resp.status_code == 201
            finally:
                s.rollback()
                s.close()

        reqs = make_requests([plant], 2 * n, rng)
        tap.reset()
        tap.on = True
        t0, c0 = time.perf_counter(), time.thread_time()
        for h, b in reqs[:n]:
            unit_of_work(h, b)
        wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
        tap.on = False
        db = tap.sql_s + tap.commit_s + tap.ping_s
        per = 1000 / n
        out.append("")
        out.append(f"In-process unit of work (token lookup, validation, Tx.run(generate), JSON), one thread, "
                   f"{n} generations, no HTTP, no profiler: {wall * per:.2f} ms each ({n / wall:.0f}/s)")
        out.append(f"  waiting on PostgreSQL: {db * per:.2f} ms ({db / wall:.0%}) = statements "
                   f"{tap.sql_s * per:.2f} ms ({len(tap.statements) / n:.1f} per request) + COMMIT "
                   f"{tap.commit_s * per:.2f} ms + pre-ping {tap.ping_s * per:.2f} ms")
        out.append(f"  the rest, in Python (SQLAlchemy/SQLModel ORM, pydantic, hashing, JSON): "
                   f"{(wall - db) * per:.2f} ms ({(wall - db) / wall:.0%})")
        out.append(f"  CPU time of this thread: {cpu * per:.2f} ms per generation (wall minus CPU = waiting for "
                   f"PostgreSQL or for a core: {(wall - cpu) * per:.2f} ms)")

        prof = cProfile.Profile()
        prof.enable()
        for h, b in reqs[n:]:
            unit_of_work(h, b)
        prof.disable()
        by_layer: Counter = Counter()
        for (file, _line, fn), (_cc, _nc, tt, _ct, _callers) in pstats.Stats(prof).stats.items():
            where = f"{fn} ({file})"
            by_layer["psycopg: blocked on the socket (Connection.wait)" if fn == "wait" and "psycopg" in file
                     else _layer(where if file != "~" else fn)] += tt
        spent = sum(by_layer.values())
        out.append("")
        out.append(f"cProfile of {n} in-process generations, self time by layer (profiler overhead included):")
        out += [f"  {t / spent:6.1%}  {t / n * 1000:6.2f} ms/request  {name}" for name, t in by_layer.most_common()]
        for key, title in (("tottime", "self time"), ("cumulative", "cumulative time")):
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).strip_dirs().sort_stats(key).print_stats(top)
            text = buf.getvalue()
            body = text[text.find("ncalls"):] if "ncalls" in text else text
            out.append("")
            out.append(f"cProfile of {n} in-process generations, top {top} by {title}:")
            out += ["  " + ln for ln in body.rstrip().splitlines()]
    finally:
        tap.close()
    return out


def run_info(url: str) -> dict:
    """What identifies a run: database URL without its password, git commit, UTC time, machine."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                timeout=10).stdout.strip() or None
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                    capture_output=True, text=True, timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    with open("/proc/loadavg") as f:
        load = float(f.read().split()[0])
    return {"database_url": make_url(url).set(password=None).render_as_string(hide_password=False),
            "git_commit": commit, "git_dirty": dirty, "utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "cpus": os.cpu_count(), "loadavg_1m": load, "python": sys.version.split()[0]}


def write_json(path: str, summary: dict, url: str, info: dict | None = None) -> None:
    """The summary plus run_info() (pass the one taken when the run started: the commit that ran), to `path`."""
    with open(path, "w") as f:
        json.dump({**summary, **(info or run_info(url))}, f, indent=2, ensure_ascii=False, default=str)
        f.write("\n")


# ---- main --------------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", help="use this PostgreSQL database (migrated, kept); default: create "
                    "wl_bench_<timestamp> on --server-url and drop it at the end")
    ap.add_argument("--server-url", default="postgresql+psycopg://postgres@127.0.0.1:5432",
                    help="where to create the fresh database (default: %(default)s)")
    ap.add_argument("--db-prefix", default="wl_bench",
                    help="name prefix of the fresh database (default %(default)s: <prefix>_<timestamp>_<pid>)")
    ap.add_argument("--batches", type=int, default=3000, help="measured generation requests (default 3000)")
    ap.add_argument("--concurrency", type=int, default=16, help="concurrent HTTP clients and INSERT threads")
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (default 2)")
    ap.add_argument("--units", type=int, default=4,
                    help="generator units the load is spread over (default 4); 1 = one chain, the worst case")
    ap.add_argument("--warmup", type=int, default=200, help="unmeasured requests first (default 200)")
    ap.add_argument("--max-seconds", type=float, default=180.0, help="stop the measured phase after this long")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="also list the SQL of one request and profile N in-process generations")
    ap.add_argument("--top", type=int, default=20, help="rows of cProfile output (default 20)")
    ap.add_argument("--py-spy", metavar="FILE", help="record the workers with py-spy during the measured phase")
    ap.add_argument("--py-spy-stores", metavar="FILE", help="record the workers with py-spy while they store")
    ap.add_argument("--py-spy-rate", type=int, default=200, help="py-spy samples per second (default 200)")
    ap.add_argument("--py-spy-gil", action="store_true", help="sample only the thread holding the GIL (py-spy --gil)")
    ap.add_argument("--bulk", type=int, default=1, metavar="N",
                    help="send the weighings N at a time to POST /api/v1/batches/bulk (a terminal's buffer)")
    ap.add_argument("--client", choices=("raw", "httpx"), default="raw",
                    help="load generator: raw = bench.loadgen (pre-encoded keep-alive HTTP/1.1, default), "
                    "httpx = httpx.AsyncClient (the earlier client, about 2 ms CPU per request)")
    ap.add_argument("--stores", type=int, default=2000, metavar="N",
                    help="then store N of the generated batches, one per request (POST /batches/{id}/store), and "
                    "measure that too (default 2000; 0: skip)")
    ap.add_argument("--retrieves", type=int, default=2000, metavar="N",
                    help="then take N of the stored batches out again, one per request (POST /batches/{id}/retrieve), "
                    "and measure that too (default 2000; 0: skip)")
    ap.add_argument("--json", metavar="FILE", help="also write the summary as JSON to FILE (to compare runs)")
    ap.add_argument("--keep", action="store_true", help="do not drop the database this run created")
    ap.add_argument("--seed", type=int, default=2026, help="random seed of the request mix")
    a = ap.parse_args(argv)
    if a.units < 1 or a.batches < 1 or a.concurrency < 1 or a.workers < 1:
        ap.error("--units, --batches, --concurrency and --workers must be at least 1")
    per_unit_code = (a.batches + a.warmup + 2 * a.profile + 8) / a.units / len(WASTES)
    if per_unit_code > 800:  # the digital-ID serial allows 999 packages of a code per unit a day
        ap.error(f"about {per_unit_code:.0f} batches per unit and waste code: above the 999 a day that digital "
                 "IDs allow; use more --units or fewer --batches")
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    from ledger.db import dispose_engines
    from ledger.migrate import upgrade

    created = a.database_url is None
    url = create_database(a.server_url, a.db_prefix) if created else a.database_url
    if not url.startswith("postgresql"):
        raise SystemExit("this benchmark measures PostgreSQL: give a postgresql+psycopg:// URL")
    info = run_info(url)
    server: Server | None = None
    spy: PySpy | None = None
    floor: Floor | None = None
    exit_code = 0
    try:
        with psycopg.connect(libpq(url), autocommit=True) as c:
            pg = c.execute("SHOW server_version").fetchone()[0]
            settings = {k: c.execute(sql.SQL("SHOW {}").format(sql.Identifier(k))).fetchone()[0]
                        for k in ("synchronous_commit", "fsync", "shared_buffers", "max_connections")}
        say(f"# bench.ingest — {datetime.now():%Y-%m-%d %H:%M:%S}, {os.cpu_count()} CPUs, Python "
            f"{sys.version.split()[0]}, PostgreSQL {pg} ({', '.join(f'{k}={v}' for k, v in settings.items())})")
        say(f"database {make_url(url).database} ({'fresh, dropped at the end' if created and not a.keep else 'kept'})"
            f"; {a.units} unit(s), {a.batches} batches + {a.warmup} warm-up, {a.concurrency} clients, "
            f"{a.workers} uvicorn worker(s)")
        t0 = time.perf_counter()
        upgrade(url)
        plants = seed(url, a.units)
        dispose_engines()
        say(f"migrated and seeded in {time.perf_counter() - t0:.1f} s: units {[p.unit_id for p in plants]}")
        say(probe(url))

        server = Server(url, a.workers)
        server.wait_ready(a.workers)
        say(f"uvicorn api.main:app --workers {a.workers} on {server.base} (pid {server.proc.pid})")

        rng = random.Random(a.seed)
        warm = drive(server.base, make_requests(plants, a.warmup, rng), a.concurrency, a.max_seconds, a.client) \
            if a.warmup else HttpResult()
        if warm.sent:
            say(f"warm-up: {warm.ok}/{warm.sent} created in {warm.wall:.1f} s")
        reqs = make_requests(plants, a.batches, rng)
        if a.bulk > 1:
            reqs = bundle(reqs, a.bulk, rng)
        if a.client == "raw":
            reqs = encode(reqs)
        if a.py_spy:
            spy = PySpy(server.proc.pid, a.py_spy, a.py_spy_rate, a.py_spy_gil)
        sampler = ActivitySampler(url)
        snap0 = CpuSnap.take(server.proc.pid)
        res = drive(server.base, reqs, a.concurrency, a.max_seconds, a.client)
        snap1 = CpuSnap.take(server.proc.pid)
        activity = sampler.stop()
        spy_err = spy.stop() if spy else ""
        phases: list[tuple] = []  # storage moves: (key, path, loadgen result, CPU before, CPU after)
        if a.stores:
            from bench import loadgen

            for key, path, n, make in (("stores", "store (入库", a.stores, make_stores),
                                       ("retrieves", "retrieve (出库", a.retrieves, make_retrieves)):
                if not n:
                    continue
                move_reqs = make(url, plants, n, rng)
                if key == "stores" and a.py_spy_stores:
                    spy = PySpy(server.proc.pid, a.py_spy_stores, a.py_spy_rate, a.py_spy_gil)
                m0 = CpuSnap.take(server.proc.pid)
                result = loadgen.run(server.base, move_reqs, clients=a.concurrency, max_seconds=a.max_seconds,
                                     ok=(201,))
                phases.append((key, path, result, m0, CpuSnap.take(server.proc.pid)))
                if key == "stores" and a.py_spy_stores:
                    spy_err = spy.stop()
        server.stop()
        dispose_engines()

        rate = res.items / res.wall if res.wall else 0.0
        p50, p90, p99 = (pct(res.latencies, q) * 1000 for q in (0.50, 0.90, 0.99))
        mx = res.latencies[-1] * 1000 if res.latencies else float("nan")
        say("")
        path = f"/api/v1/batches/bulk ({a.bulk} weighings per request)" if a.bulk > 1 else "/api/v1/batches"
        say(f"## HTTP: POST {path}, {a.units} unit(s), {a.concurrency} concurrent clients")
        say(f"{res.items} batches created by {res.ok} of {res.sent} requests in {res.wall:.2f} s"
            + (" (stopped by --max-seconds)" if res.stopped_by_time else ""))
        say(f"{rate:.1f} batches/s; request latency p50 {p50:.1f} ms, p90 {p90:.1f} ms, p99 {p99:.1f} ms, max {mx:.1f} ms")
        non201 = {k: v for k, v in res.statuses.items() if k != 201}
        say(f"non-201 responses: {sum(non201.values())}" + (f" {non201}" if non201 else ""))
        for f in res.failures:
            say(f"  {f}")
        say(cpu_report(snap0, snap1, res.wall, res.sent))
        cpu = cpu_figures(snap0, snap1, res.sent)
        for line in activity:
            say(line)

        move_summaries: dict[str, dict] = {}
        for key, path, moves, m0, m1 in phases:
            mcpu = cpu_figures(m0, m1, moves.sent)
            m50, m90, m99 = (pct(moves.latencies, q) * 1000 for q in (0.50, 0.90, 0.99))
            bad = {k: v for k, v in moves.statuses.items() if k != 201}
            move_summaries[key] = {"requests": moves.sent, "moved": moves.ok_count,
                                   "per_s": round(moves.sent / moves.wall, 1), "p50_ms": round(m50, 1),
                                   "p90_ms": round(m90, 1), "p99_ms": round(m99, 1), "non_201": sum(bad.values()),
                                   "cpu": mcpu, "uvicorn_cpu_ms_per_request": mcpu["uvicorn_ms_per_request"]}
            say("")
            say(f"## HTTP: POST /api/v1/batches/{{id}}/{path}, one batch per request), {a.concurrency} clients")
            say(f"{moves.ok_count} of {moves.sent} batches moved in {moves.wall:.2f} s, "
                f"{moves.sent / moves.wall:.1f}/s; p50 {m50:.1f} ms, p90 {m90:.1f} ms, p99 {m99:.1f} ms; "
                f"non-201 {sum(bad.values())}" + (f" {bad} {moves.failures[:2]}" if bad else ""))
            say(cpu_report(m0, m1, moves.wall, moves.sent))
            if bad:
                exit_code = 1
        moved = sum(m["moved"] for m in move_summaries.values())
        check = check_ledger(url, plants, warm.ok + res.items, moved)
        say("")
        say(f"## ledger check: {'OK' if check.ok else 'FAILED'} — {check.records} journal records, "
            f"{check.batches} batches, {warm.ok + res.items} weighings created (warm-up included)"
            + "".join(f", {m['moved']} {k}" for k, m in move_summaries.items()))
        for line in check.lines:
            say(f"  {line}")
        if not check.ok or non201:
            exit_code = 1

        n_floor = max(res.items, 1)
        floor = Floor(url, plants)
        say("")
        say(f"## plain INSERTs of equal rows (psycopg, scratch tables LIKE batch/journal_record with their "
            f"indexes, no FKs), {n_floor} each")
        results = []
        for run in (lambda: floor.pair_per_txn(n_floor, a.concurrency),
                    lambda: floor.row_autocommit(n_floor, a.concurrency),
                    lambda: floor.executemany(n_floor)):
            floor.truncate()
            r = run()
            results.append(r)
            lat = (f"; p50 {pct(r.latencies, .5) * 1000:.2f} ms, p99 {pct(r.latencies, .99) * 1000:.2f} ms"
                   if r.latencies else f"; {r.rows // 2 / r.wall:.0f} pairs/s")
            txns = f"{r.txn_rate:9.0f} txn/s" if r.txns > 1 else f"{'1 txn':>15}"
            say(f"  {r.label:<44} {txns} {r.row_rate:9.0f} rows/s{lat}")
        pair = results[0]

        prof_lines = profile(url, plants, a.profile, a.top) if a.profile else []
        if prof_lines:
            say("")
            say("## where the time goes in one request (in-process)")
            for line in prof_lines:
                say(line)
        for phase, path in (("the measured phase", a.py_spy), ("the storage moves", a.py_spy_stores)):
            if not path:
                continue
            say("")
            say(f"## py-spy of the uvicorn workers during {phase} ({path}; "
                f"{'GIL holder only: Python CPU' if a.py_spy_gil else 'all non-idle threads: wall time'})")
            if os.path.exists(path) and os.path.getsize(path):
                for line in summarise_py_spy(path):
                    say(line)
            else:
                say(f"  py-spy wrote nothing: {spy_err.strip()[-500:]}")

        goals = targets(units=a.units, bulk=a.bulk, rate=rate, p99=p99, cpu_ms=cpu["uvicorn_ms_per_request"],
                        ratio=rate / pair.txn_rate if rate and pair.txn_rate else None)
        say("")
        say(f"at the end: {calibrate()}")
        say("")
        say("## summary")
        rows = [
            ("HTTP generation (batches/s)", f"{rate:.1f}"),
            ("HTTP p50 latency (ms)", f"{p50:.1f}"),
            ("HTTP p99 latency (ms)", f"{p99:.1f}"),
            ("non-201 responses", str(sum(non201.values()))),
            (f"plain INSERT, batch+record pair per txn, {a.concurrency} conns (txn/s)", f"{pair.txn_rate:.0f}"),
            (f"plain INSERT, 1 autocommit row, {a.concurrency} conns (rows/s)", f"{results[1].row_rate:.0f}"),
            ("plain INSERT, executemany in 1 txn (pairs/s)", f"{n_floor / results[2].wall:.0f}"),
            ("ratio HTTP / INSERT pair-per-txn", f"{rate / pair.txn_rate:.3f} (1 : {pair.txn_rate / rate:.1f})"
             if rate else "n/a"),
            ("ratio HTTP / INSERT 1 row per txn", f"{rate / results[1].txn_rate:.3f}" if rate else "n/a"),
            *[(f"target: {g['what']} {g['target']}", ("MET" if g["met"] else "NOT MET") + f" ({g['measured']:g})")
              for g in goals],
            *[row for key, m in move_summaries.items() for row in (
                (f"{key}, one per request (/s)", f"{m['per_s']:.1f}"),
                (f"{key} p50 / p99 (ms)", f"{m['p50_ms']:.1f} / {m['p99_ms']:.1f}"),
                (f"{key}, uvicorn / PostgreSQL CPU per request (ms)",
                 f"{m['uvicorn_cpu_ms_per_request']:.2f} / {m['cpu']['postgres_ms_per_request']:.2f}"))],
            ("ledger chains valid, records == successes", "yes" if check.ok else "NO"),
        ]
        width = max(len(k) for k, _ in rows)
        for k, v in rows:
            say(f"  {k:<{width}}  {v}")
        say(f"  (units {a.units}, clients {a.concurrency}, workers {a.workers}, {res.items} measured batches, "
            f"bulk {a.bulk}, client {a.client}: {cpu['client_ms_per_request']:.2f} ms CPU per request)")
        if a.json:
            write_json(a.json, {
                "bench": "ingest", "batches_per_s": round(rate, 1), "p50_ms": round(p50, 1), "p90_ms": round(p90, 1),
                "p99_ms": round(p99, 1), "max_ms": round(mx, 1), "requests": res.sent, "batches": res.items,
                "non_201": sum(non201.values()), "wall_s": round(res.wall, 2),
                "insert_pair_per_txn_per_s": round(pair.txn_rate), "insert_row_autocommit_per_s": round(
                    results[1].row_rate), "insert_executemany_pairs_per_s": round(n_floor / results[2].wall),
                "ratio_http_to_insert_pair": round(rate / pair.txn_rate, 4) if rate else None,
                "cpu": cpu, "uvicorn_cpu_ms_per_request": cpu["uvicorn_ms_per_request"],
                "client_cpu_ms_per_request": cpu["client_ms_per_request"],
                "settings": {"units": a.units, "clients": a.concurrency, "bulk": a.bulk, "workers": a.workers,
                             "batches": a.batches, "warmup": a.warmup, "client": a.client},
                "targets": goals, **move_summaries,
                "ledger_ok": check.ok}, url, info)
            say(f"wrote {a.json}")
    except BaseException:
        if server is not None and server.proc.poll() is None:
            say(f"uvicorn log tail:\n{server.tail()}")
        raise
    finally:
        if spy is not None and spy.proc.poll() is None:
            spy.stop()
        if server is not None:
            server.stop()
        dispose_engines()
        if created and not a.keep:
            drop_database(url)
            say(f"dropped database {make_url(url).database}")
        elif floor is not None:
            floor.drop()
    return exit_code


if __name__ == "__main__":
    raise SystemExit(main())
