"""Alert engine on PostgreSQL: the full scheduled scan at province scale, and what event-time rules cost a weighing.

    python -m bench.alerts                                  # 10,000 units, ~1,000,000 journal records
    python -m bench.alerts --units 2000 --records 200000    # a smaller province
    python -m bench.alerts --skip-http                      # the scan only

1. Creates a fresh database (dropped at the end unless --keep), migrates it, and seeds it with set-based INSERTs
   (generate_series, no API): U units (generators, 2% receivers with licences, 1% haulers), their facilities,
   this year's plans, root batches over three years with consistent journal records (generated → stored →
   retrieved → used in-house; a tenth shipped on a completed manifest, received and processed by a receiver; the
   last 60 days still in store), per-unit gapless `seq`, chain heads, and the reports module's `declaration` table
   (a stand-in with its columns) with 97% of what is due submitted. A few deliberate situations: batches held over
   a year, small stores over 90%, licences expiring, 6% transit differences.
2. Times `alerts.engine.scan` twice in one transaction each: the first opens the alerts, the second is the steady
   state (everything already open: evidence compared, nothing rewritten). Prints each gatherer's time.
3. Serves the app twice at the same time on the same database (`uvicorn api.main:app`, one worker each), with
   the event-time rules on in one and off in the other (LEDGER_ALERTS_EVENT_RULES), and drives POST
   /api/v1/batches from C clients that alternate between the two servers request by request (so both see the
   same machine load), against plants that already have B batches this year (every other weighing stored at once,
   so the storage rules run); prints p50/p99 of each and the p99 the rules add. Then the same weighings in-process
   (service call + commit), rules on and off alternating, for the cost without HTTP.

Targets: scan < 60 s; event-time rules add < 10% to the request's p99.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench.ingest import (  # noqa: E402
    Server,
    create_database,
    drop_database,
    libpq,
    make_requests,
    pct,
    say,
)
from bench.ingest import seed as seed_plants  # noqa: E402

TARGET_SCAN_S = 60.0
TARGET_EVENT_SHARE = 0.10
REGIONS = ["370112", "370303", "370602", "370783", "370881", "371002", "371302", "370211"]


def seed_province(url: str, *, units: int, records: int) -> dict:
    """Everything at once with INSERT … SELECT: ~4.1 journal records per root batch."""
    n_batches = max(1000, int(records / 4.1))
    receivers, haulers = max(10, units // 50), max(5, units // 100)
    t0 = time.perf_counter()
    with psycopg.connect(libpq(url)) as c:
        c.execute("SET synchronous_commit = off")
        def x(query: str, params: dict | None = None):  # noqa: ANN202 - always with params: %% means %
            return c.execute(query, params or {})

        x("""INSERT INTO unit (id, credit_code, name, region_code, is_generator, is_hauler, is_receiver, created_at)
             SELECT g, 'B' || lpad(g::text, 17, '0'), '压测单位' || g, (%(regions)s::text[])[1 + g %% 8],
                    g > %(h)s::int + %(r)s, g <= %(h)s, g > %(h)s AND g <= %(h)s::int + %(r)s, now() - interval '4 years'
             FROM generate_series(1, %(u)s::int) g""", {"regions": REGIONS, "u": units, "h": haulers, "r": receivers})
        # facilities: generation g, storage U+g (2% small: 0.3 t), receivers' utilisation 2U+g
        x("""INSERT INTO facility (id, unit_id, kind, storage_type, code, name, storage_capacity_g, annual_capacity_g,
                                   methods, created_at)
             SELECT g, g, 'generation', NULL::varchar, 'CS-01', '车间', NULL::bigint, NULL::bigint, '[]'::json, now()
             FROM generate_series(1, %(u)s::int) g
             UNION ALL
             SELECT %(u)s::int + g, g, 'storage', '贮存库', 'ZC-01', '贮存库',
                    CASE WHEN g %% 50 = 7 THEN 300000 ELSE 500000000 END, NULL, '[]'::json, now()
             FROM generate_series(1, %(u)s::int) g
             UNION ALL
             SELECT 2 * %(u)s::int + g, g, 'utilisation', NULL, 'LY-01', '再生线', NULL, 100000000000, '["R9"]'::json, now()
             FROM generate_series(%(h)s::int + 1, %(h)s::int + %(r)s::int) g""", {"u": units, "h": haulers, "r": receivers})
        x("""INSERT INTO permit (unit_id, kind, number, waste_codes, methods, annual_capacity_g, valid_from, valid_to,
                                 created_at)
             SELECT g, 'operating_licence', 'BENCH-L' || g, '["HW08", "HW49", "HW06"]'::json, '["R9", "R2"]'::json,
                    10000000000000::bigint,
                    current_date - 400, CASE WHEN g %% 20 = 3 THEN current_date + 15 ELSE current_date + 700 END, now()
             FROM generate_series(%(h)s::int + 1, %(h)s::int + %(r)s::int) g
             UNION ALL
             SELECT g, 'transport_permit', 'BENCH-T' || g, '[]'::json, '[]'::json, NULL, current_date - 400,
                    current_date + 700, now()
             FROM generate_series(1, %(h)s::int) g""", {"h": haulers, "r": receivers})
        x("""INSERT INTO vehicle (unit_id, plate, created_at) SELECT g, '鲁B' || lpad(g::text, 5, '0'), now()
             FROM generate_series(1, %(h)s::int) g""", {"h": haulers})
        year = datetime.now(UTC).year
        x("""INSERT INTO plan (id, unit_id, year, version, filed_at, note)
             SELECT g, g, %(y)s::int, 1, make_date(%(y)s::int, 2, 1), NULL FROM generate_series(%(f)s::int, %(u)s::int) g""",
          {"y": year, "f": haulers + receivers + 1, "u": units})
        x("""INSERT INTO plan_item (plan_id, waste_code, planned_g, receiver_ids, methods)
             SELECT p.id, c.code, c.g, '[]', '[]' FROM plan p
             CROSS JOIN (VALUES ('900-249-08', 50000000::bigint), ('900-041-49', 5000000::bigint)) AS c(code, g)""")
        gens = units - haulers - receivers
        first_gen = haulers + receivers + 1
        # root batches: age uniform over three years; a batch's life decided by its id
        x("""CREATE TEMP TABLE b0 AS
             SELECT g AS id, %(fg)s + (g::bigint * 7919) %% %(gens)s AS unit_id,
                    now() - make_interval(secs => ((g::bigint * 104729) %% (1095 * 86400))) AS at,
                    CASE WHEN g %% 3 = 0 THEN '900-041-49' ELSE '900-249-08' END AS code,
                    (150000 + (g * 31) %% 100000)::bigint AS g
             FROM generate_series(1, %(n)s::int) g""", {"fg": first_gen, "gens": gens, "n": n_batches})
        x("""ALTER TABLE b0 ADD COLUMN life text""")
        # held: the last 60 days, and one in a thousand older ones (held over a year); shipped: a tenth of the rest
        x("""UPDATE b0 SET life = CASE WHEN at > now() - interval '60 days' OR id %% 1000 = 1 THEN 'held'
                                     WHEN id %% 10 = 4 THEN 'shipped' ELSE 'used' END""")
        x("""INSERT INTO batch (id, unit_id, holder_unit_id, parent_id, root_id, digital_id, batch_code, waste_code,
                                category, hazardous, name, form, hazard, container_type, container_count, facility_id,
                                scale_id, operator, occurred_at, gross_g, tare_g, net_g, remaining_g, stored_g,
                                in_transit_g, storage_facility_id, stored_ever, status, flags, created_at)
             SELECT id, unit_id, unit_id, NULL, NULL, 'D' || lpad(id::text, 36, '0'), 'HWCS' || id, code,
                    'HW' || right(code, 2), true, '废物', '液态', 'T', '桶', 1, unit_id, 'S', '王工', at, g, 0, g,
                    CASE WHEN life = 'held' THEN g ELSE 0 END, CASE WHEN life = 'held' THEN g ELSE 0 END, 0,
                    CASE WHEN life = 'held' THEN %(u)s::int + unit_id END, true,
                    CASE WHEN life = 'held' THEN 'stored' ELSE 'closed' END, '[]', at + interval '2 minutes'
             FROM b0""", {"u": units})
        # manifests for the shipped ones: received the next day, 2% six per cent light
        x("""CREATE TEMP TABLE m0 AS
             SELECT row_number() OVER (ORDER BY id) AS mid, id AS bid, unit_id AS origin,
                    1 + id %% %(h)s AS hauler, %(h)s::int + 1 + id %% %(r)s AS receiver, at, g,
                    CASE WHEN id %% 50 = 14 THEN g * 94 / 100 ELSE g END AS rg
             FROM b0 WHERE life = 'shipped'""", {"h": haulers, "r": receivers})
        x("""INSERT INTO manifest (id, number, status, version, hazardous, originator_id, hauler_id, receiver_id,
                                   vehicle_id, planned_date, flags, created_at, submitted_at, picked_up_at,
                                   delivered_at, received_at, completed_at, receipt_deadline)
             SELECT mid, lpad(mid::text, 14, '0'), 'completed', 5, true, origin, hauler, receiver,
                    (SELECT min(v.id) FROM vehicle v WHERE v.unit_id = hauler), (at + interval '10 days')::date, '[]',
                    at + interval '10 days', at + interval '10 days', at + interval '10 days 2 hours',
                    at + interval '10 days 6 hours', at + interval '10 days 7 hours', at + interval '11 days',
                    at + interval '17 days' FROM m0""")
        x("""INSERT INTO batch (id, unit_id, holder_unit_id, parent_id, root_id, digital_id, batch_code, waste_code,
                                category, hazardous, name, form, hazard, container_type, container_count, facility_id,
                                scale_id, operator, occurred_at, gross_g, tare_g, net_g, remaining_g, stored_g,
                                in_transit_g, storage_facility_id, stored_ever, status, flags, created_at)
             SELECT %(n)s::int + mid, b.unit_id, m.receiver, b.id, b.id, b.digital_id, b.batch_code, b.waste_code,
                    b.category, true, b.name, b.form, b.hazard, b.container_type, 1, b.facility_id, 'S', '王工',
                    b.occurred_at, m.rg, 0, m.rg, 0, 0, 0, NULL, false, 'closed', '[]', m.at + interval '10 days 7 hours'
             FROM m0 m JOIN batch b ON b.id = m.bid""", {"n": n_batches})
        x("""INSERT INTO manifest_line (manifest_id, line_no, batch_id, waste_code, mass_g, planned_method, received_g,
                                        accepted_g, acceptance, holding_id, returned_g)
             SELECT mid, 1, bid, (SELECT waste_code FROM batch WHERE id = bid), g, 'R9', rg, rg, 'accepted',
                    %(n)s::int + mid, 0 FROM m0""", {"n": n_batches})
        # the journal: every record of every life, then gapless seq per unit
        x("""CREATE TEMP TABLE ev AS
             SELECT unit_id, 'generated' AS kind, id AS batch_id, NULL::bigint AS src, g AS mass, unit_id AS fac,
                    NULL::int AS man, at AS t, 1 AS o, json_build_object('waste_code', code, 'flags', '[]'::json) AS body
             FROM b0
             UNION ALL SELECT unit_id, 'stored', id, NULL, g, %(u)s::int + unit_id, NULL, at + interval '1 hour', 2,
                    '{}'::json FROM b0
             UNION ALL SELECT unit_id, 'retrieved', id, NULL, g, %(u)s::int + unit_id, NULL, at + interval '10 days', 3,
                    '{}'::json FROM b0 WHERE life <> 'held'
             UNION ALL SELECT unit_id, 'used_in_house', id, NULL, g, NULL, NULL, at + interval '10 days 1 hour', 4,
                    '{"method": "R9"}'::json FROM b0 WHERE life = 'used'
             UNION ALL SELECT origin, 'shipped', bid, NULL, g, NULL, mid, at + interval '10 days 2 hours', 4,
                    json_build_object('planned_method', 'R9', 'receiver_id', receiver) FROM m0
             UNION ALL SELECT receiver, 'received', %(n)s::int + mid, bid, rg, NULL, mid, at + interval '10 days 7 hours', 5,
                    json_build_object('shipped_g', g, 'received_g', rg, 'accepted_g', rg, 'refused_g', 0) FROM m0
             UNION ALL SELECT receiver, 'used_in_house', %(n)s::int + mid, NULL, rg, NULL, NULL, at + interval '11 days', 6,
                    '{"method": "R9"}'::json FROM m0""", {"u": units, "n": n_batches})
        x("""INSERT INTO journal_record (unit_id, seq, kind, batch_id, source_batch_id, mass_g, facility_id,
                                         manifest_id, actor_name, occurred_at, recorded_at, body, prev_hash, hash)
             SELECT unit_id, row_number() OVER (PARTITION BY unit_id ORDER BY t, o, batch_id), kind, batch_id, src,
                    mass, fac, man, 'bench', t, t, body, md5(batch_id::text || kind) || md5(kind),
                    md5(kind || batch_id::text) || md5(batch_id::text) FROM ev""")
        x("""INSERT INTO journal_head (unit_id, seq, hash)
             SELECT unit_id, max(seq), repeat('0', 64) FROM journal_record GROUP BY unit_id""")
        for table in ("unit", "facility", "plan", "batch", "manifest"):
            x(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        c.commit()
        n_records = c.execute("SELECT count(*) FROM journal_record").fetchone()[0]
        n_all_batches = c.execute("SELECT count(*) FROM batch").fetchone()[0]
        n_manifests = c.execute("SELECT count(*) FROM manifest").fetchone()[0]
        c.execute("ANALYZE")
        c.commit()
    seeded = time.perf_counter() - t0
    declared = seed_declarations(url)
    return {"units": units, "receivers": receivers, "haulers": haulers, "batches": n_all_batches,
            "journal_records": n_records, "manifests": n_manifests, "declarations": declared,
            "seconds": round(seeded, 1)}


def seed_declarations(url: str) -> int:
    """The reports module's `declaration` table (a stand-in unless it exists), 97% of what is due submitted."""
    from sqlmodel import Session

    from alerts.facts import Clock
    from alerts.facts.declaration import _tiers
    from alerts.rules.declaration import due_periods
    from alerts.settings import DECLARATION_LOOKBACK_DAYS
    from ledger.db import get_engine

    engine = get_engine(url)
    clock = Clock(datetime.now(UTC))
    since = clock.today - timedelta(days=DECLARATION_LOOKBACK_DAYS)
    rows = []
    with Session(engine) as s:
        tiers = _tiers(s, clock, list(range(since.year - 1, clock.today.year + 1)))
    rng = random.Random(7)
    for u, by_year in tiers.items():
        for y, tier in by_year.items():
            for kind, start, end, due in due_periods(tier, today=clock.today, since=since):
                if start.year == y and rng.random() < 0.97:
                    rows.append((u, kind, start, end, due, datetime.combine(due, datetime.min.time(), UTC)))
    with psycopg.connect(libpq(url)) as c:
        c.execute("""CREATE TABLE IF NOT EXISTS declaration (id serial PRIMARY KEY, unit_id int NOT NULL,
                     kind varchar(12) NOT NULL, period_start date NOT NULL, period_end date NOT NULL,
                     due_on date NOT NULL, version int NOT NULL DEFAULT 1, status varchar(12) NOT NULL,
                     submitted_at timestamptz)""")
        with c.cursor().copy("COPY declaration (unit_id, kind, period_start, period_end, due_on, status, "
                             "submitted_at) FROM STDIN") as cp:
            for u, kind, start, end, due, at in rows:
                cp.write_row((u, kind, start, end, due, "submitted", at))
        c.commit()
    return len(rows)


def time_scan(url: str) -> list[dict]:
    """Two scans, each in its own transaction, with every gatherer timed."""
    from alerts import engine as alert_engine
    from ledger.db import get_engine, session_scope

    engine = get_engine(url)
    timings: dict[str, float] = {}
    originals = list(alert_engine.GATHERERS)

    def timed(g):  # noqa: ANN001, ANN202
        def run(s, clock, scope):  # noqa: ANN001, ANN202
            t = time.perf_counter()
            out = list(g.fn(s, clock, scope))
            timings[g.name] = timings.get(g.name, 0.0) + time.perf_counter() - t
            return out
        return type(g)(g.name, g.fact_types, run)

    alert_engine.GATHERERS[:] = [timed(g) for g in originals]
    from alerts import routing

    def clocked(name, fn):  # noqa: ANN001, ANN202
        def run(*args, **kw):  # noqa: ANN202
            t = time.perf_counter()
            try:
                return fn(*args, **kw)
            finally:
                timings[name] = timings.get(name, 0.0) + time.perf_counter() - t
        return run

    saved = alert_engine.reconcile, routing.check_deadlines
    alert_engine.reconcile = clocked("(reconcile)", alert_engine.reconcile)
    routing.check_deadlines = clocked("(deadlines)", routing.check_deadlines)
    results = []
    try:
        for label in ("first scan (opens the alerts)", "second scan (steady state)"):
            timings.clear()
            t0 = time.perf_counter()
            with session_scope(engine) as s:
                stats = alert_engine.scan(s)
            wall = time.perf_counter() - t0
            results.append({"label": label, "seconds": wall, "stats": stats, "gatherers": dict(timings)})
    finally:
        alert_engine.GATHERERS[:] = originals
        alert_engine.reconcile, routing.check_deadlines = saved
    return results


def busy_plants(url: str, n: int, batches_each: int) -> list:
    """n terminals (bench.ingest's seed), each plant with `batches_each` weighings already this year."""
    plants = seed_plants(url, n)
    with psycopg.connect(libpq(url)) as c:
        for p in plants:
            c.execute("""INSERT INTO batch (unit_id, holder_unit_id, digital_id, batch_code, waste_code, category,
                                            hazardous, name, form, hazard, container_type, container_count, facility_id,
                                            scale_id, operator, occurred_at, gross_g, tare_g, net_g, remaining_g,
                                            stored_g, in_transit_g, stored_ever, status, flags, created_at)
                         SELECT %(u)s::int, %(u)s, 'P' || %(u)s || '-' || g, 'HWCS' || g, '900-249-08', 'HW08', true, '废物',
                                '液态', 'T', '桶', 1, %(f)s, 'S', '王工',
                                date_trunc('year', now()) + make_interval(secs => g * 600), 160000, 0, 160000, 0, 0, 0,
                                true, 'closed', '[]', now()
                         FROM generate_series(1, %(n)s::int) g""",
                      {"u": p.unit_id, "f": p.gen_facility_id, "n": batches_each})
        c.execute("ANALYZE batch")
        c.commit()
    return plants


def weighings(plants: list, n: int, rng: random.Random) -> list[tuple[dict, bytes]]:
    """bench.ingest's weighings; every other one stored at once (即入库), so the storage rules run too."""
    import json

    out = []
    for i, (headers, body) in enumerate(make_requests(plants, n, rng)):
        if i % 2:
            data = json.loads(body)
            data["store_facility_id"] = next(p.store_facility_id for p in plants if p.unit_id == data["unit_id"])
            body = json.dumps(data, ensure_ascii=False).encode()
        out.append((headers, body))
    return out


async def _ab(bases: dict[str, str], reqs: list[tuple[dict, bytes]], clients: int) -> dict[str, list[float]]:
    """Each client alternates its requests between the servers, so both see the same load at the same time."""
    import asyncio

    import httpx

    out: dict[str, list[float]] = {m: [] for m in bases}
    failures: list[str] = []
    todo = iter(enumerate(reqs))
    modes = list(bases)
    async with httpx.AsyncClient(timeout=60.0) as client:
        async def terminal() -> None:
            for i, (headers, body) in todo:
                mode = modes[(i // 2) % 2]  # pairs, so that stored and unstored weighings split evenly
                t0 = time.perf_counter()
                r = await client.post(f"{bases[mode]}/api/v1/batches", content=body, headers=headers)
                if r.status_code == 201:
                    out[mode].append(time.perf_counter() - t0)
                elif len(failures) < 3:
                    failures.append(f"{r.status_code} {r.text[:200]}")

        await asyncio.gather(*(terminal() for _ in range(clients)))
    if failures:
        say(f"  failures: {failures}")
    return out


def http_ab(url: str, plants: list, *, requests: int, clients: int) -> dict[str, list[float]]:
    """Two servers on one database at the same time, event-time rules on in one and off in the other
    (LEDGER_ALERTS_EVENT_RULES), one worker each; the clients alternate between them request by request."""
    import asyncio
    import os

    rng = random.Random(10)
    servers = {}
    try:
        for mode in ("on", "off"):
            os.environ["LEDGER_ALERTS_EVENT_RULES"] = "true" if mode == "on" else "false"
            os.environ["LEDGER_ALERTS_SCHEDULER"] = "false"
            servers[mode] = Server(url, 1)
        for srv in servers.values():
            srv.wait_ready(1)
        bases = {m: srv.base for m, srv in servers.items()}
        asyncio.run(_ab(bases, weighings(plants, 80, rng), clients))  # warm up
        out = asyncio.run(_ab(bases, weighings(plants, requests * 2, rng), clients))
    finally:
        for srv in servers.values():
            srv.stop()
        os.environ["LEDGER_ALERTS_EVENT_RULES"] = "true"
    for v in out.values():
        v.sort()
    return out


def in_process(url: str, plants: list, n: int) -> dict[str, list[float]]:
    """The same weighings in-process (service call + commit), rules on and off alternating request by request, so
    that the machine's load drifts through both modes alike."""
    import json

    from sqlmodel import Session, select

    from alerts import engine as alert_engine
    from ledger import batches
    from ledger.accounts import User
    from ledger.auth import Principal
    from ledger.db import get_engine

    engine = get_engine(url)
    rng = random.Random(11)
    out: dict[str, list[float]] = {"on": [], "off": []}
    with Session(engine) as s:
        who = {p.unit_id: Principal.of(s.exec(select(User).where(User.unit_id == p.unit_id)).first()) for p in plants}
    reqs = weighings(plants, n, rng)
    import os

    from alerts import settings as alert_settings

    os.environ["LEDGER_ALERTS_EVENT_RULES"] = "true"
    alert_settings.config.cache_clear()
    evaluated = []
    original = alert_engine.evaluate_records

    def counting(*args, **kw):  # noqa: ANN202
        evaluated.append(1)
        return original(*args, **kw)

    alert_engine.evaluate_records = counting
    alert_engine.install()
    assert alert_engine.installed()
    try:
        for i, (_, body) in enumerate(reqs):
            mode = "on" if (i // 2) % 2 == 0 else "off"  # each mode gets as many stored weighings as the other
            (alert_engine.install if mode == "on" else alert_engine.uninstall)()
            data = batches.BatchCreate(**json.loads(body))
            t0 = time.perf_counter()
            with Session(engine, expire_on_commit=False) as s:
                batches.generate(s, principal=who[data.unit_id], data=data)
                s.commit()
            out[mode].append(time.perf_counter() - t0)
    finally:
        alert_engine.install()
        alert_engine.evaluate_records = original
    for v in out.values():
        v.sort()
    out["evaluated"] = [float(len(evaluated))]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.alerts", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                   help="PostgreSQL server (a fresh database is created on it)")
    p.add_argument("--units", type=int, default=10_000)
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--plants", type=int, default=8, help="weighing terminals for the HTTP part")
    p.add_argument("--plant-batches", type=int, default=5000, help="weighings each plant already has this year")
    p.add_argument("--requests", type=int, default=1500, help="weighings per mode")
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--skip-http", action="store_true")
    p.add_argument("--skip-scan", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep the database")
    p.add_argument("--reuse", metavar="URL", help="a database kept by an earlier run: its alerts are emptied and "
                                                    "the scans run again (no seeding)")
    a = p.parse_args(argv)
    url = a.reuse or create_database(a.server)
    a.keep = a.keep or bool(a.reuse)
    say(f"database {url.rsplit('/', 1)[-1]}")
    try:
        from ledger.migrate import upgrade

        if a.reuse:
            with psycopg.connect(libpq(url)) as c:
                c.execute("TRUNCATE alert, alert_action, alert_outbox, webhook_delivery, alert_scan")
        else:
            upgrade(url)
            seeded = seed_province(url, units=a.units, records=a.records)
            say(f"seeded with set-based INSERTs in {seeded['seconds']} s: {seeded['units']} units "
                f"({seeded['receivers']} receivers, {seeded['haulers']} haulers), {seeded['batches']} holdings, "
                f"{seeded['manifests']} manifests, {seeded['journal_records']} journal records, "
                f"{seeded['declarations']} submitted declarations")
        scans = [] if a.skip_scan else time_scan(url)
        for r in scans:
            st = r["stats"]
            say(f"{r['label']}: {r['seconds']:.1f} s — {st['findings']} findings, {st['opened']} opened, "
                f"{st['updated']} updated, {st['raised']} raised, {st['closed']} closed, {st['overdue']} overdue, "
                f"{st['escalated']} escalated")
            slow = sorted(r["gatherers"].items(), key=lambda kv: -kv[1])[:8]
            say("  slowest steps: " + ", ".join(f"{k} {v:.2f} s" for k, v in slow))
        if scans:
            opened = {k: v for k, v in scans[0]["stats"]["by_rule"].items() if v}
            say(f"  findings by rule: {opened}")
            worst = max(r["seconds"] for r in scans)
            say(f"scan target < {TARGET_SCAN_S:.0f} s: {'met' if worst < TARGET_SCAN_S else 'NOT met'} "
                f"(slowest {worst:.1f} s)")
        if not a.skip_http:
            plants = busy_plants(url, a.plants, a.plant_batches)
            say(f"event-time rules: {a.requests} weighings per mode, {a.clients} clients alternating between two "
                f"servers (rules on / off), {a.plants} plants with {a.plant_batches} weighings this year each")
            lat = http_ab(url, plants, requests=a.requests, clients=a.clients)
            on99, off99 = pct(lat["on"], .99), pct(lat["off"], .99)
            on50, off50 = pct(lat["on"], .5), pct(lat["off"], .5)
            share = (on99 - off99) / off99
            say(f"  rules on : p50 {on50 * 1000:.1f} ms, p99 {on99 * 1000:.1f} ms, mean "
                f"{statistics.mean(lat['on']) * 1000:.1f} ms ({len(lat['on'])} requests)")
            say(f"  rules off: p50 {off50 * 1000:.1f} ms, p99 {off99 * 1000:.1f} ms, mean "
                f"{statistics.mean(lat['off']) * 1000:.1f} ms ({len(lat['off'])} requests)")
            say(f"  added p99 {(on99 - off99) * 1000:+.1f} ms = {share * 100:+.1f}% of the p99 without rules "
                f"(p50 {(on50 - off50) * 1000:+.1f} ms); target < {TARGET_EVENT_SHARE * 100:.0f}%: "
                f"{'met' if share < TARGET_EVENT_SHARE else 'NOT met'}")
            ip = in_process(url, plants, a.requests * 2)
            evaluated = int(ip.pop("evaluated")[0])
            i99 = {m: pct(v, .99) for m, v in ip.items()}
            i50 = {m: pct(v, .5) for m, v in ip.items()}
            say(f"  in-process, alternating pairs of requests ({len(ip['on'])} each; {evaluated} commits with rules "
                f"on had records to evaluate): rules on p50 "
                f"{i50['on'] * 1000:.1f} / p99 {i99['on'] * 1000:.1f} ms, off p50 {i50['off'] * 1000:.1f} / p99 "
                f"{i99['off'] * 1000:.1f} ms: added p50 {(i50['on'] - i50['off']) * 1000:+.2f} ms, p99 "
                f"{(i99['on'] - i99['off']) * 1000:+.2f} ms = {(i99['on'] - i99['off']) / off99 * 100:.1f}% of "
                f"the HTTP p99 without rules")
    finally:
        if a.keep:
            say(f"kept {url}")
        else:
            from ledger.db import dispose_engines

            dispose_engines()
            drop_database(url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

