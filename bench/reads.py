"""The read paths on PostgreSQL at scale: a label scan, a batch's trace, a facility card, over HTTP.

    python -m bench.reads                              # 10^6 journal records in wl_reads (created, dropped at the end)
    python -m bench.reads --records 100000             # a quick run
    python -m bench.reads --keep ... / --reuse         # keep the seeded database / measure an already seeded one

1. Creates the database (default `wl_reads`; any existing one of that name is dropped first unless --reuse),
   migrates it with Alembic and seeds it without the API (the API writes ~60 weighings/s here; 10^6 records would
   take hours): U generator units (2% receivers with a utilisation line, 1% haulers with a vehicle), a generation
   point and a storage room each; root batches spread over three years, each with a life decided by its number:
   generated → stored (the last 60 days: still in store), → retrieved → used in-house, or (a tenth) → retrieved →
   shipped on a completed manifest (four signatures) → received into a child holding at a receiver → used there.
   Rows are built in Python and written with COPY: valid HJ 1276 digital IDs (per unit, code and day serials) and
   HJ 1259 record codes; batch balances computed by `ledger.batches.apply` over the batch's own records (what
   `rebuild` computes); the journal in global time order with gapless per-unit `seq` and the real SHA-256 chain
   (`ledger.journal`'s canonical JSON, checked afterwards with `journal.verify` on a sample of units), and the
   chain heads. Not seeded: serial counters, period balances, idempotency records, alerts (no read here uses them).
2. Creates an operator user and API token (through the ledger services) for a sample of generators and receivers.
3. Captures the SQL of one request of each path in-process and runs EXPLAIN (ANALYZE, BUFFERS) on every statement
   with its parameters: prints the plan's scans and flags a sequential scan of a large table or a slow statement.
4. Starts `uvicorn api.main:app --workers 2` (bench.ingest.Server) and, per path, drives N requests from C clients
   over keep-alive connections (bench.loadgen): scans of the sampled units' labels (a fifth by receivers scanning
   what they received, a tenth by haulers scanning what they carried), traces of their batches (a tenth crossed a
   manifest; the same shares of receivers and haulers), cards of their storage rooms and generation points, and
   the floor: `GET /health`, which reads nothing and does nothing, through the same server, middleware and
   routing (what any request costs on this machine at this hour, measured in the same run). Prints
   p50/p90/p99/max, requests/s and uvicorn CPU per request, and checks the target: scan and trace p99 < 20 ms at
   16 clients; and what that target asks of a request's CPU (all processes), at the latency per millisecond of
   CPU the run measured (`cpu_budget`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench import loadgen  # noqa: E402
from bench.ingest import (  # noqa: E402
    PUBLIC_URL,
    REGIONS,
    WASTES,
    CpuSnap,
    PySpy,
    Server,
    calibrate,
    cpu_figures,
    libpq,
    pct,
    run_info,
    say,
    summarise_py_spy,
    write_json,
)

TARGET_P99_MS = 20.0
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/wl_reads"
HAZ = [w for w in WASTES if "-S" not in w.code]  # hazardous codes only: one record-code family per unit
DAY = 86400
CST = 8 * 3600
# records per root batch on average with the lives below (5.5% held: 2, 9.5% shipped: 4 + 2, the rest 4)
RECORDS_PER_ROOT = 4.08


# ---- the database ------------------------------------------------------------------------------------------

def recreate(url: str) -> None:
    name = make_url(url).database
    if not name.startswith("wl_reads"):
        raise SystemExit(f"refusing to drop/create {name}: this bench only uses databases named wl_reads*")
    with psycopg.connect(libpq(url, database="postgres"), autocommit=True) as c:
        c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop(url: str) -> None:
    with psycopg.connect(libpq(url, database="postgres"), autocommit=True) as c:
        c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(make_url(url).database)))


# ---- seeding ------------------------------------------------------------------------------------------------

def _ts(epoch: int) -> str:
    """journal._ts of a whole-second UTC epoch (the canonical JSON's timestamp form)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _dt(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _day(epoch: int) -> date:
    """The Asia/Shanghai business day of a UTC epoch."""
    return datetime.fromtimestamp(epoch + CST, UTC).date()


def seed(url: str, *, records: int, units: int, rng: random.Random) -> dict:
    """Units, facilities, batches, manifests and the chained journal, with COPY. Returns counts and timings."""
    from ledger import journal
    from ledger.batches import BatchState, apply
    from ledger.codes import credit_check_character, make_batch_code, make_digital_id

    t0 = time.perf_counter()
    gens = units
    receivers, haulers = max(2, units // 50), max(1, units // 100)
    n_units = gens + receivers + haulers
    first_recv, first_haul = gens + 1, gens + receivers + 1
    base = rng.randrange(10**6, 9 * 10**6)
    credit = {}
    for u in range(1, n_units + 1):
        first17 = f"91370100MA{base + u:07d}"
        credit[u] = first17 + credit_check_character(first17)
    gen_fac = {u: u for u in range(1, n_units + 1)}  # generation point
    store_fac = {u: n_units + u for u in range(1, n_units + 1)}  # storage room
    util_fac = {r: 2 * n_units + i + 1 for i, r in enumerate(range(first_recv, first_haul))}
    now = int(time.time())
    n_roots = max(100, int(records / RECORDS_PER_ROOT))
    span = 1095 * DAY

    # root batches: (id, unit, at, waste, gross_g, tare_g, life)
    roots = []
    serial: Counter = Counter()
    did_of, code_of = {}, {}
    for i in range(1, n_roots + 1):
        u = rng.randrange(1, gens + 1)
        at = now - 3600 - rng.randrange(span)
        w = rng.choices(HAZ, [x.weight for x in HAZ])[0]
        gross = int(rng.uniform(*w.gross_kg) * 1000)
        tare = int(w.tare_kg * 1000)
        life = "held" if at > now - 60 * DAY or i % 1000 == 1 else "shipped" if i % 10 == 4 else "used"
        day = _day(at)
        serial[(u, w.code, day)] += 1
        if serial[(u, w.code, day)] > 999:
            continue
        did_of[i] = make_digital_id(credit_code=credit[u], waste_code=w.code, day=day, serial=serial[(u, w.code, day)])
        serial[(u, "HWCS", day)] += 1
        code_of[i] = make_batch_code(kind="generated", day=day, serial=serial[(u, "HWCS", day)], hazardous=True)
        roots.append((i, u, at, w, gross, tare, life))
    waste_of = {r[0]: r[3] for r in roots}

    # events: (t, order, unit, kind, batch_id, source_id, mass, facility, manifest, body)
    events = []
    manifests, child = [], {}  # child holding id per shipped root
    next_batch = n_roots + 1
    for i, u, at, w, gross, tare, life in roots:
        net = gross - tare
        events.append((at, 0, u, "generated", i, None, net, gen_fac[u], None, {
            "digital_id": did_of[i], "waste_code": w.code, "gross_g": gross, "tare_g": tare, "scale_id": "SCALE-01",
            "container_type": w.container, "container_count": 1, "period": "container", "flags": []}))
        events.append((at + 600, 1, u, "stored", i, None, net, store_fac[u], None, {"from_codes": [code_of[i]],
                                                                                     "note": None}))
        if life == "held":
            continue
        events.append((at + 10 * DAY, 2, u, "retrieved", i, None, net, store_fac[u], None, {
            "from_codes": ["RK"], "purpose": "ship" if life == "shipped" else "use", "note": None}))
        if life == "used":
            events.append((at + 10 * DAY + 3600, 3, u, "used_in_house", i, None, net, None, None, {
                "from_codes": ["CK"], "method": "R9", "completed_at": _dt(at + 10 * DAY + 3600).isoformat(),
                "note": None}))
            continue
        mid = len(manifests) + 1
        recv = rng.randrange(first_recv, first_haul)
        haul = rng.randrange(first_haul, n_units + 1)
        received = net * 94 // 100 if i % 50 == 14 else net
        c = next_batch
        next_batch += 1
        child[i] = (c, recv, received)
        manifests.append((mid, i, u, haul, recv, at, net, received))
        events.append((at + 10 * DAY + 7200, 3, u, "shipped", i, None, net, None, mid, {
            "from_codes": ["CK"], "manifest_number": f"{mid:014d}", "planned_method": "R9", "receiver_id": recv}))
        events.append((at + 10 * DAY + 7 * 3600, 4, recv, "received", c, i, received, None, mid, {
            "manifest_number": f"{mid:014d}", "shipped_g": net, "received_g": received, "accepted_g": received,
            "refused_g": 0, "acceptance": "accepted"}))
        events.append((at + 11 * DAY, 5, recv, "used_in_house", c, None, received, util_fac[recv], None, {
            "from_codes": ["JS"], "method": "R9", "completed_at": _dt(at + 11 * DAY).isoformat(), "note": None}))
    events.sort(key=lambda e: (e[0], e[4], e[1]))
    t_build = time.perf_counter() - t0

    # balances: ledger.batches.apply over each holding's records in order
    states: dict[int, BatchState] = {}
    for _t, _o, u, kind, b, src, mass, fac, _m, body in events:
        by = {"user_id": None, "username": "bench.seed", "token_id": None}
        states[b] = apply(states.get(b, BatchState()), kind=kind, mass_g=mass, unit_id=u, facility_id=fac,
                          body={**body, "by": by})
        if src is not None:
            states[src] = apply(states[src], kind=kind, mass_g=mass, unit_id=u, facility_id=fac, body=body,
                                as_source=True)

    conninfo = libpq(url)
    with psycopg.connect(conninfo) as c:
        c.execute("SET synchronous_commit = off")

        def copy(table: str, cols: list[str], rows) -> int:  # noqa: ANN001
            n = 0
            with c.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(
                    sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, cols)))) as cp:
                for row in rows:
                    cp.write_row(row)
                    n += 1
            return n

        created = _dt(now - span - 30 * DAY)
        copy("unit", ["id", "credit_code", "name", "region_code", "is_generator", "is_hauler", "is_receiver",
                      "industry_code", "address", "contact", "phone", "created_at"],
             ((u, credit[u], f"压测单位{u}号", REGIONS[u % len(REGIONS)], u < first_recv, u >= first_haul,
               first_recv <= u < first_haul, "C2614", f"工业园区{u}号路", "王工", "0531-88880001", created)
              for u in range(1, n_units + 1)))
        copy("facility", ["id", "unit_id", "kind", "storage_type", "code", "name", "storage_capacity_g",
                          "annual_capacity_g", "methods", "created_at"],
             [(gen_fac[u], u, "generation", None, "CS-01", "产废车间", None, None, "[]", created)
              for u in range(1, n_units + 1)]
             + [(store_fac[u], u, "storage", "贮存库", "ZC-01", "1号危废贮存库", 500_000_000, None, "[]", created)
                for u in range(1, n_units + 1)]
             + [(f, r, "utilisation", None, "LY-01", "再生利用线", None, 10**11, '["R9"]', created)
                for r, f in util_fac.items()])
        copy("vehicle", ["id", "unit_id", "plate", "created_at"],
             ((h, h, f"鲁B{h:05d}", created) for h in range(first_haul, n_units + 1)))

        def batch_rows():  # noqa: ANN202
            for i, u, at, w, gross, tare, _life in roots:
                s = states[i]
                yield (i, u, s.holder_unit_id, None, None, did_of[i], code_of[i], w.code, "HW" + w.code[-2:], True,
                       w.name, w.form, "T", w.container, 1, w.volume_l, "container", gen_fac[u], "SCALE-01", "称重员",
                       _dt(at), gross, tare, s.net_g, s.remaining_g, s.stored_g, s.in_transit_g,
                       s.storage_facility_id, s.stored_ever, s.status, "[]", _dt(at + 5))
                if i in child:
                    cid, recv, received = child[i]
                    s = states[cid]
                    yield (cid, u, s.holder_unit_id, i, i, did_of[i], code_of[i], w.code, "HW" + w.code[-2:], True,
                           w.name, w.form, "T", w.container, 1, w.volume_l, "container", gen_fac[u], "SCALE-01",
                           "称重员", _dt(at), received, 0, s.net_g, s.remaining_g, s.stored_g, s.in_transit_g,
                           s.storage_facility_id, s.stored_ever, s.status, "[]", _dt(at + 10 * DAY + 7 * 3600))

        n_batches = copy("batch", ["id", "unit_id", "holder_unit_id", "parent_id", "root_id", "digital_id",
                                   "batch_code", "waste_code", "category", "hazardous", "name", "form", "hazard",
                                   "container_type", "container_count", "container_volume_l", "period",
                                   "facility_id", "scale_id", "operator", "occurred_at", "gross_g", "tare_g", "net_g",
                                   "remaining_g", "stored_g", "in_transit_g", "storage_facility_id", "stored_ever",
                                   "status", "flags", "created_at"], batch_rows())
        copy("manifest", ["id", "number", "status", "version", "hazardous", "originator_id", "hauler_id",
                          "receiver_id", "vehicle_id", "driver_name", "planned_date", "flags", "created_at",
                          "submitted_at", "picked_up_at", "delivered_at", "received_at", "completed_at",
                          "receipt_deadline"],
             ((mid, f"{mid:014d}", "completed", 5, True, u, h, r, h, "李师傅", _day(at + 10 * DAY), "[]",
               _dt(at + 9 * DAY), _dt(at + 9 * DAY + 600), _dt(at + 10 * DAY + 7200), _dt(at + 10 * DAY + 6 * 3600),
               _dt(at + 10 * DAY + 7 * 3600), _dt(at + 11 * DAY), _dt(at + 17 * DAY))
              for mid, _b, u, h, r, at, _net, _rg in manifests))
        copy("manifest_line", ["manifest_id", "line_no", "batch_id", "waste_code", "mass_g", "planned_method",
                               "received_g", "accepted_g", "acceptance", "holding_id", "refused_g", "returned_g",
                               "flags"],
             ((mid, 1, b, waste_of[b].code, net, "R9", rg, rg, "accepted", child[b][0], 0, 0, "[]")
              for mid, b, _u, _h, _r, _at, net, rg in manifests))
        steps = (("submit", "draft", "submitted", 9 * DAY + 600, 0), ("pickup", "submitted", "in_transit",
                 10 * DAY + 7200, 1), ("receive", "in_transit", "received", 10 * DAY + 7 * 3600, 2),
                 ("complete", "received", "completed", 11 * DAY, 2))
        copy("manifest_event", ["manifest_id", "action", "from_status", "to_status", "user_name", "unit_id", "at",
                                "lat", "lon", "detail"],
             ((mid, a, f, t, "bench", (u, h, r)[who], _dt(at + dt), 36.68, 117.05, "{}")
              for mid, _b, u, h, r, at, _n, _rg in manifests for a, f, t, dt, who in steps))
        c.commit()
        t_rows = time.perf_counter() - t0 - t_build

        # the journal, in global time order: ids ascending with time, per-unit gapless seq and the SHA-256 chain
        heads: dict[int, tuple[int, str]] = {}
        rcode: Counter = Counter()
        prefix = {"generated": "generated", "stored": "stored", "retrieved": "retrieved",
                  "used_in_house": "used_in_house", "shipped": "sent_out_for_use", "received": "received"}
        dumps, sha = json.dumps, hashlib.sha256

        def record_rows():  # noqa: ANN202
            for rid, (t, _o, u, kind, b, src, mass, fac, man, body) in enumerate(events, 1):
                seq, prev = heads.get(u, (0, journal.GENESIS))
                seq += 1
                if kind == "generated":
                    code = code_of[b]
                else:
                    day = _day(t)
                    rcode[(u, kind, day)] += 1
                    code = make_batch_code(kind=prefix[kind], day=day, serial=rcode[(u, kind, day)], hazardous=True)
                body = {**body, "by": {"user_id": None, "username": "bench.seed", "token_id": None}}
                ts, rec = _ts(t), _ts(t + 2)
                content = {"unit_id": u, "seq": seq, "kind": kind, "batch_id": b, "source_batch_id": src,
                           "mass_g": mass, "facility_id": fac, "manifest_id": man, "record_code": code,
                           "actor_id": None, "actor_name": "称重员", "occurred_at": ts, "recorded_at": rec,
                           "corrects_id": None, "body": body, "prev_hash": prev}
                h = sha(dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()
                heads[u] = (seq, h)
                yield (rid, u, seq, kind, b, src, mass, fac, man, code, None, "称重员", _dt(t), _dt(t + 2), None,
                       dumps(body, ensure_ascii=False), prev, h)

        n_records = copy("journal_record", ["id", "unit_id", "seq", "kind", "batch_id", "source_batch_id", "mass_g",
                                            "facility_id", "manifest_id", "record_code", "actor_id", "actor_name",
                                            "occurred_at", "recorded_at", "corrects_id", "body", "prev_hash", "hash"],
                         record_rows())
        copy("journal_head", ["unit_id", "seq", "hash"], ((u, s, h) for u, (s, h) in heads.items()))
        for table in ("unit", "facility", "vehicle", "batch", "manifest", "manifest_line", "manifest_event",
                      "journal_record"):
            c.execute(sql.SQL("SELECT setval(pg_get_serial_sequence({}, 'id'), (SELECT max(id) FROM {}))").format(
                sql.Literal(table), sql.Identifier(table)))
        c.commit()
        t_journal = time.perf_counter() - t0 - t_build - t_rows
    with psycopg.connect(conninfo, autocommit=True) as c:
        c.execute("VACUUM ANALYZE")
    return {"units": n_units, "generators": gens, "receivers": receivers, "haulers": haulers,
            "batches": n_batches, "root_batches": len(roots), "manifests": len(manifests),
            "journal_records": n_records, "seconds": round(time.perf_counter() - t0, 1),
            "seconds_build": round(t_build, 1), "seconds_rows": round(t_rows, 1),
            "seconds_journal": round(t_journal, 1)}


def verify_sample(url: str, unit_ids: list[int]) -> list[str]:
    """journal.verify on some units' chains (the seed's hashes must be the ledger's)."""
    from sqlmodel import Session

    from ledger import journal
    from ledger.db import get_engine

    out = []
    with Session(get_engine(url)) as s:
        for u in unit_ids:
            c = journal.verify(s, unit_id=u)
            out.append(f"unit {u}: chain {'valid' if c.ok else 'BROKEN'}, {c.records} records"
                       + ("" if c.ok else f" — seq {c.first_bad_seq}: {c.reason}"))
    return out


def tokens(url: str, unit_ids: list[int]) -> dict[int, str]:
    """An operator user (created unless a --reuse run finds it) and a new API token per unit, through the ledger
    services."""
    from sqlmodel import select

    from ledger.accounts import User, issue_token
    from ledger.auth import SYSTEM
    from ledger.db import get_engine, session_scope
    from ledger.users import UserCreate, create_user

    out = {}
    with session_scope(get_engine(url)) as s:
        for u in unit_ids:
            name = f"bench.reads.u{u}"
            user = s.exec(select(User).where(User.username == name)).first()  # a --reuse run: the user is there
            if user is None:
                user = create_user(s, principal=SYSTEM, data=UserCreate(
                    username=name, display_name=f"{u}号单位操作员", role="operator", unit_id=u))
            out[u] = issue_token(s, user=user, name="bench.reads")
    return out


# ---- what to read ------------------------------------------------------------------------------------------

def targets(url: str, gen_tokens: dict[int, str], recv_tokens: dict[int, str],
            haul_tokens: dict[int, str] | None = None) -> dict[str, list]:
    """(token, value) pairs per path: digital IDs to scan, batch ids to trace, facility ids for the card; and
    the loads the sampled haulers carried (a hauler sees a batch only through the manifest that carried it)."""
    haul_tokens = haul_tokens or {}
    with psycopg.connect(libpq(url)) as c:
        own = c.execute("SELECT unit_id, digital_id, id FROM batch WHERE parent_id IS NULL AND unit_id = ANY(%s)",
                        (list(gen_tokens),)).fetchall()
        got = c.execute("SELECT holder_unit_id, digital_id, id FROM batch WHERE parent_id IS NOT NULL AND "
                        "holder_unit_id = ANY(%s)", (list(recv_tokens),)).fetchall()
        facs = c.execute("SELECT unit_id, id FROM facility WHERE unit_id = ANY(%s)",
                         (list(gen_tokens) + list(recv_tokens),)).fetchall()
        hauled = c.execute("SELECT m.hauler_id, b.digital_id, b.id FROM manifest m JOIN manifest_line l ON "
                           "l.manifest_id = m.id JOIN batch b ON b.id = l.batch_id WHERE m.hauler_id = ANY(%s) "
                           "ORDER BY m.id LIMIT 5000", (list(haul_tokens),)).fetchall()
    toks = {**gen_tokens, **recv_tokens}
    return {"own": [(gen_tokens[u], d, i) for u, d, i in own], "received": [(recv_tokens[u], d, i) for u, d, i in got],
            "facilities": [(toks[u], f) for u, f in facs], "hauled": [(haul_tokens[u], d, i) for u, d, i in hauled]}


def requests(kind: str, t: dict[str, list], n: int, rng: random.Random, hauled: float = 0.1) -> list[loadgen.Request]:
    """A fifth of the scans and traces by receivers of what they received, a share `hauled` (a tenth) by haulers
    of what they carried (when the sample has some), the rest by generators of their own labels."""
    out = []
    if kind == "floor":
        return [loadgen.Request.get("/api/v1/health", tag=kind)] * n
    for _ in range(n):
        draw = rng.random()
        who = ("hauled" if t.get("hauled") and draw < hauled else
               "received" if t["received"] and draw < hauled + 0.2 else "own")
        if kind == "facility":
            tok, fid = rng.choice(t["facilities"])
            path = f"/api/v1/facilities/{fid}"
        else:
            tok, did, bid = rng.choice(t[who])
            path = f"/api/v1/scan/{did}" if kind == "scan" else f"/api/v1/batches/{bid}/trace"
        out.append(loadgen.Request.get(path, {"Authorization": f"Bearer {tok}"}, tag=kind))
    return out


# ---- EXPLAIN of what each path sends --------------------------------------------------------------------------

PATHS = (("scan", "GET /scan/{digital_id}"), ("trace", "GET /batches/{id}/trace"),
         ("facility", "GET /facilities/{id}"), ("floor", "GET /health (the floor)"))
BIG = ("journal_record", "batch", "manifest", "manifest_line", "manifest_event")


def _scans(node: dict) -> list[tuple]:
    """(node type, relation, index, actual rows, rows removed by filter) of every scan in a JSON plan."""
    nt = node["Node Type"]
    out = []
    if "Scan" in nt and "Relation Name" in node or nt == "Bitmap Index Scan":
        out.append((nt, node.get("Relation Name"), node.get("Index Name"), node.get("Actual Rows"),
                    node.get("Rows Removed by Filter", 0)))
    for ch in node.get("Plans", []):
        out += _scans(ch)
    return out


def explain(url: str, samples: dict[str, loadgen.Request]) -> tuple[list[str], list[dict]]:
    """One request per path in-process (TestClient, same app), every statement captured with its parameters
    (those of the engine and those the hot reads send on the event loop, `ledger.aio.AsyncReader`), then
    EXPLAIN (ANALYZE, BUFFERS) of each on PostgreSQL."""
    import logging
    import warnings

    from sqlalchemy import event

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from api.app import create_app
    from ledger.aio import AsyncReader
    from ledger.config import Settings
    from ledger.db import get_engine

    logging.getLogger("httpx").setLevel(logging.WARNING)
    engine = get_engine(url)
    captured: list[tuple[str, object]] = []

    def before(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        captured.append((statement, parameters))

    # the hot reads send their statements on the event loop (ledger.aio.AsyncReader), not through the engine
    capturing = [False]
    rows, rows_of = AsyncReader.rows, AsyncReader.rows_of

    async def rows_seen(self, q, **params):  # noqa: ANN001, ANN003, ANN202
        if capturing[0]:
            captured.append((q.sql, {**q.constants, **params}))
        return await rows(self, q, **params)

    async def rows_of_seen(self, *queries):  # noqa: ANN001, ANN002, ANN202
        if capturing[0]:
            captured.extend((q.sql, {**q.constants, **params}) for q, params in queries)
        return await rows_of(self, *queries)

    lines, found = [], []
    app = create_app(Settings(env="test", database_url=url, public_url=PUBLIC_URL))
    AsyncReader.rows, AsyncReader.rows_of = rows_seen, rows_of_seen
    try:
        with TestClient(app) as client:
            for kind, req in samples.items():
                head = req.raw.split(b"\r\n\r\n")[0].decode().split("\r\n")
                path = head[0].split(" ")[1]
                auth = next(h.split(": ", 1)[1] for h in head if h.startswith("Authorization"))
                client.get(path, headers={"Authorization": auth})  # warm (registry cache, prepared statements)
                captured.clear()
                capturing[0] = True
                event.listen(engine, "before_cursor_execute", before)
                r = client.get(path, headers={"Authorization": auth})
                event.remove(engine, "before_cursor_execute", before)
                capturing[0] = False
                lines.append(f"{kind}: GET {path.split('/api/v1')[1]} -> {r.status_code}, {len(captured)} statements")
                _explain_each(engine, kind, list(captured), lines, found)
    finally:
        AsyncReader.rows, AsyncReader.rows_of = rows, rows_of
    return lines, found


def _explain_each(engine, kind: str, stmts: list[tuple[str, object]], lines: list[str],  # noqa: ANN001
                  found: list[dict]) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of each SELECT, planned for its parameters, into `lines` and `found`."""
    with engine.connect() as conn:
        for stmt, params in stmts:
            if not stmt.lstrip().upper().startswith("SELECT"):
                continue
            plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + stmt, params).scalar()
            top = plan[0]
            scans = _scans(top["Plan"])
            ms = top["Execution Time"]
            seq_big = [s for s in scans if s[0] == "Seq Scan" and s[1] in BIG]
            flag = " <-- SEQ SCAN of a large table" if seq_big else " <-- slow" if ms > 5 else ""
            one = " ".join(stmt.split())
            # named by the first table it reads other than the registry's stamps (which most of them read too)
            table = next((rel for _, rel, _, _, _ in scans if rel and rel != "registry_version"), None) or (
                one.split(" FROM ", 1)[1].split()[0] if " FROM " in one else "?")
            desc = "; ".join(f"{t} on {rel}" + (f" using {ix}" if ix else "") + f" ({rows} rows"
                             + (f", {rem} removed by filter" if rem else "") + ")"
                             for t, rel, ix, rows, rem in scans)
            lines.append(f"  {ms:7.3f} ms  FROM {table}: {desc}{flag}")
            found.append({"path": kind, "table": table, "ms": ms, "scans": [list(s) for s in scans],
                          "sql": " ".join(stmt.split())[:300]})


def cpu_budget(results: list[dict]) -> list[str]:
    """What the target asks of a request's CPU, from the run itself. With every client waiting on two busy cores,
    a request's latency is the CPU of the requests ahead of it: the p50 comes near clients / cores × the CPU a
    request costs (uvicorn, PostgreSQL and the load generator together: the load generator's share is the
    machine's work too, and small), and the p99 is some multiple of it that the run measures (the floor's ratio as
    the paths'). At that ratio, the target's p99 needs the CPU below."""
    out = []
    for r in results:
        if r["target_met"] is None or not r["p99_ms_per_cpu_ms"]:
            continue
        need = TARGET_P99_MS / r["p99_ms_per_cpu_ms"]
        out.append(f"  {r['path']}: {r['cpu_ms_per_request']:.2f} ms of CPU a request (uvicorn, PostgreSQL, the "
                   f"load generator); p50 "
                   f"{r['p50_ms_per_cpu_ms']:.1f} and p99 {r['p99_ms_per_cpu_ms']:.1f} ms per ms of it; at that "
                   f"ratio p99 < {TARGET_P99_MS:.0f} ms needs <= {need:.2f} ms ({r['cpu_ms_per_request'] / need:.1f}x "
                   f"less)")
    floor = next((r for r in results if r["kind"] == "floor" and r["clients"] == 16 and r["p99_ms_per_cpu_ms"]), None)
    if out or floor:
        out.insert(0, "  what the target asks of a request's CPU, at the latency per ms of CPU measured in this run:")
    if floor:
        out.append(f"  the floor (GET /health) at 16 clients: {floor['cpu_ms_per_request']:.2f} ms of CPU, p99 "
                   f"{floor['p99_ms']:.1f} ms ({floor['p99_ms_per_cpu_ms']:.1f} per ms)")
    return out


# ---- main ----------------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.reads", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default=DEFAULT_URL, help="database to (re)create and seed (default "
                    "%(default)s; its name must start with wl_reads)")
    ap.add_argument("--records", type=int, default=1_000_000, help="journal records to seed (default 10^6)")
    ap.add_argument("--units", type=int, default=0, help="generator units (default: records / 1000, at least 20)")
    ap.add_argument("--sample-units", type=int, default=32, help="generators given a token and read (default 32)")
    ap.add_argument("--requests", type=int, default=3000, help="measured requests per path (default 3000)")
    ap.add_argument("--warmup", type=int, default=300, help="unmeasured requests per path first (default 300)")
    ap.add_argument("--clients", default="16,1", help="concurrent keep-alive connections, a run per value "
                    "(default 16,1: the target's load, then one client alone for the service time)")
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (default 2)")
    ap.add_argument("--paths", default=",".join(k for k, _ in PATHS),
                    help=f"which paths to measure (default {','.join(k for k, _ in PATHS)})")
    ap.add_argument("--py-spy", metavar="FILE", help="record the workers with py-spy (--gil: Python CPU) during "
                    "each measured phase at 16 clients, to FILE.<path>, and print where the samples fell")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="stop a path's measured phase after this long")
    ap.add_argument("--hauled", type=float, default=0.1, help="the share of scans and traces by haulers of the "
                    "loads they carried (default 0.1; 1 for haulers only)")
    ap.add_argument("--reuse", action="store_true", help="do not seed: measure the database as it is")
    ap.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    ap.add_argument("--json", metavar="FILE", help="also write the summary as JSON to FILE")
    ap.add_argument("--seed", type=int, default=2026, help="random seed")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    from ledger.db import dispose_engines
    from ledger.migrate import upgrade

    url = a.database_url
    if not make_url(url).database.startswith("wl_reads"):
        raise SystemExit("give a database whose name starts with wl_reads")
    units = a.units or max(20, a.records // 1000)
    rng = random.Random(a.seed)
    server = None
    out: dict = {"bench": "reads"}
    info = run_info(url)
    try:
        say(f"# bench.reads — {datetime.now():%Y-%m-%d %H:%M:%S}, {calibrate()}")
        if not a.reuse:
            recreate(url)
            t0 = time.perf_counter()
            upgrade(url)
            say(f"migrated {make_url(url).database} in {time.perf_counter() - t0:.1f} s; seeding {a.records:,} "
                f"records over {units} generators …")
            stats = seed(url, records=a.records, units=units, rng=rng)
            say(f"seeded in {stats['seconds']} s (rows built {stats['seconds_build']} s, registry/batches/"
                f"manifests {stats['seconds_rows']} s, journal {stats['seconds_journal']} s): {stats}")
            out["seed"] = stats
        dispose_engines()
        with psycopg.connect(libpq(url)) as c:
            n_units, = c.execute("SELECT count(*) FROM unit WHERE is_generator").fetchone()
            gens = [r[0] for r in c.execute("SELECT id FROM unit WHERE is_generator ORDER BY id").fetchall()]
            recvs = [r[0] for r in c.execute("SELECT id FROM unit WHERE is_receiver ORDER BY id").fetchall()]
            hauls = [r[0] for r in c.execute("SELECT id FROM unit WHERE is_hauler ORDER BY id").fetchall()]
            counts = {t: c.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0]
                      for t in ("journal_record", "batch", "manifest")}
            sizes = c.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
        say(f"database: {counts['journal_record']:,} journal records, {counts['batch']:,} batches, "
            f"{counts['manifest']:,} manifests, {len(gens)} generators, {len(recvs)} receivers; {sizes}")
        out["data"] = {**counts, "generators": len(gens), "receivers": len(recvs), "size": sizes}
        sample = sorted(rng.sample(gens, min(a.sample_units, len(gens))))
        rsample = sorted(rng.sample(recvs, min(max(2, a.sample_units // 4), len(recvs))))
        hsample = sorted(rng.sample(hauls, min(max(1, a.sample_units // 8), len(hauls))))
        toks = tokens(url, sample + rsample + hsample)
        gen_t, recv_t = {u: toks[u] for u in sample}, {u: toks[u] for u in rsample}
        for line in verify_sample(url, sample[:3] + rsample[:1]):
            say(f"  journal.verify {line}")
        t = targets(url, gen_t, recv_t, {u: toks[u] for u in hsample})
        say(f"read targets: {len(t['own'])} labels of {len(sample)} generators, {len(t['received'])} received by "
            f"{len(rsample)} receivers, {len(t['hauled'])} carried by {len(hsample)} haulers, "
            f"{len(t['facilities'])} facilities")

        say("")
        say("## EXPLAIN (ANALYZE, BUFFERS) of each statement of one request per path (in-process, warm)")
        samples = {k: requests(k, t, 1, rng)[0] for k in ("scan", "trace")}
        with psycopg.connect(libpq(url)) as c:  # a busy storage room, and one with no movement (a receiver's)
            busy = c.execute("SELECT f.id, f.unit_id FROM facility f WHERE f.kind = 'storage' AND f.unit_id = ANY(%s) "
                             "ORDER BY f.id LIMIT 1", (sample,)).fetchone()
            idle = c.execute("SELECT f.id, f.unit_id FROM facility f WHERE f.kind = 'storage' AND f.unit_id = ANY(%s) "
                             "AND NOT EXISTS (SELECT 1 FROM journal_record r WHERE r.facility_id = f.id) LIMIT 1",
                             (rsample,)).fetchone()
        for name, row in (("facility (busy storage room)", busy), ("facility (storage room without movements)", idle)):
            if row:
                samples[name] = loadgen.Request.get(f"/api/v1/facilities/{row[0]}",
                                                    {"Authorization": f"Bearer {toks[row[1]]}"})
        ex_lines, ex = explain(url, samples)
        for line in ex_lines:
            say(line)
        out["explain"] = ex
        dispose_engines()

        server = Server(url, a.workers)
        server.wait_ready(a.workers)
        say("")
        clients = [int(x) for x in str(a.clients).split(",") if x.strip()]
        say(f"## HTTP: uvicorn api.main:app --workers {a.workers}, {'/'.join(map(str, clients))} keep-alive clients "
            f"(bench.loadgen), {a.requests} requests per path and client count after {a.warmup} warm-up")
        results: list[dict] = []
        for n_clients in clients:
            for kind, label in PATHS:
                if kind not in a.paths.split(","):
                    continue
                if a.warmup:
                    loadgen.run(server.base, requests(kind, t, a.warmup, rng, a.hauled), clients=n_clients,
                                max_seconds=a.max_seconds)
                reqs = requests(kind, t, a.requests, rng, a.hauled)
                spy = PySpy(server.proc.pid, f"{a.py_spy}.{kind}", 200, gil=True) \
                    if a.py_spy and n_clients == 16 else None
                s0 = CpuSnap.take(server.proc.pid)
                r = loadgen.run(server.base, reqs, clients=n_clients, max_seconds=a.max_seconds, ok=(200,))
                s1 = CpuSnap.take(server.proc.pid)
                if spy is not None:
                    spy_err = spy.stop()
                    say(f"## py-spy --gil of the workers, {label}, {n_clients} clients ({spy.out})")
                    for line in summarise_py_spy(spy.out) if Path(spy.out).exists() else [spy_err[-500:]]:
                        say(f"  {line}")
                cpu = cpu_figures(s0, s1, r.sent)
                whole = sum(cpu[k] or 0.0 for k in ("uvicorn_ms_per_request", "postgres_ms_per_request",
                                                    "client_ms_per_request"))
                p50, p90, p99 = (pct(r.latencies, q) * 1000 for q in (0.5, 0.9, 0.99))
                mx = r.latencies[-1] * 1000 if r.latencies else float("nan")
                bad = {k: v for k, v in r.statuses.items() if k != 200}
                results.append({
                    "path": label, "kind": kind, "clients": n_clients, "requests": r.sent, "ok": r.ok_count,
                    "non_200": sum(bad.values()), "per_s": round(r.sent / r.wall, 1), "p50_ms": round(p50, 2),
                    "p90_ms": round(p90, 2), "p99_ms": round(p99, 2), "max_ms": round(mx, 2),
                    "uvicorn_cpu_ms_per_request": cpu["uvicorn_ms_per_request"],
                    "postgres_cpu_ms_per_request": cpu["postgres_ms_per_request"],
                    "client_cpu_ms_per_request": cpu["client_ms_per_request"],
                    # the CPU a request costs in uvicorn, PostgreSQL and the load generator together, and the
                    # latency per millisecond of it (`cpu_budget`)
                    "cpu_ms_per_request": round(whole, 3),
                    "p50_ms_per_cpu_ms": round(p50 / whole, 1) if whole and r.latencies else None,
                    "p99_ms_per_cpu_ms": round(p99 / whole, 1) if whole and r.latencies else None,
                    "target_met": p99 < TARGET_P99_MS if kind in ("scan", "trace") and n_clients == 16 else None})
                say(f"{label}, {n_clients} clients: {r.sent} requests in {r.wall:.1f} s, {r.sent / r.wall:.0f}/s; "
                    f"p50 {p50:.1f} ms, p90 {p90:.1f} ms, p99 {p99:.1f} ms, max {mx:.1f} ms; non-200 "
                    f"{sum(bad.values())}" + (f" {dict(bad)} {r.failures[:2]}" if bad else ""))
                say(f"  CPU per request: uvicorn {cpu['uvicorn_ms_per_request']:.2f} ms, postgres "
                    f"{cpu['postgres_ms_per_request']:.2f} ms, load generator {cpu['client_ms_per_request']:.2f} ms")
        server.stop()
        out["http"] = results

        say("")
        say(f"at the end: {calibrate()}")
        say("")
        say(f"## summary ({counts['journal_record']:,} journal records, {a.workers} uvicorn workers, "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC)")
        say(f"  {'path':<26} {'clients':>7} {'req/s':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} "
            f"{'uvicorn CPU/req':>16}  target")
        for r in results:
            tgt = {True: "MET", False: "NOT MET"}.get(r["target_met"], "—")
            if r["target_met"] is not None:
                tgt += f" (p99 < {TARGET_P99_MS:.0f} ms at 16 clients)"
            say(f"  {r['path']:<26} {r['clients']:>7} {r['per_s']:>7.0f} {r['p50_ms']:>8.1f} {r['p90_ms']:>8.1f} "
                f"{r['p99_ms']:>8.1f} {r['max_ms']:>8.1f} {r['uvicorn_cpu_ms_per_request']:>13.2f} ms  {tgt}")
        for line in cpu_budget(results):
            say(line)
        slow = [e for e in ex if any(s[0] == "Seq Scan" and s[1] in BIG for s in e["scans"]) or e["ms"] > 5]
        say("  statements with a sequential scan of a large table or over 5 ms: "
            + ("; ".join(f"{e['path']}: FROM {e['table']} {e['ms']:.1f} ms" for e in slow) if slow else "none"))
        if a.json:
            out["settings"] = {"records": a.records, "units": units, "sample_units": a.sample_units,
                               "clients": a.clients, "workers": a.workers, "requests": a.requests,
                               "warmup": a.warmup, "reuse": a.reuse}
            out["target_p99_ms"] = TARGET_P99_MS
            write_json(a.json, out, url, info)
            say(f"wrote {a.json}")
    except BaseException:
        if server is not None and server.proc.poll() is None:
            say(f"uvicorn log tail:\n{server.tail()}")
        raise
    finally:
        if server is not None:
            server.stop()
        dispose_engines()
        if not a.keep:
            drop(url)
            say(f"dropped database {make_url(url).database}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
