"""A park's yearly indicators from the period balances, against one plain SQL aggregate over the same raw rows.

    python -m bench.rollup                       # 500 units, 2,000,000 records, PostgreSQL wl_reports_bench
    python -m bench.rollup --reuse               # keep the seeded database from an earlier run
    python -m bench.rollup --units 100 --records 200000 --database-url postgresql+psycopg://…/other

What it does, in one run:

1. creates (or empties) the database, migrates it with Alembic, and seeds with set-based SQL (no API): U units
   (20 of them licensed receivers), a park of P members (one joins on 15 June of the evaluated year, so the
   partial-month path is exercised), yearly economics, and four years of batches and journal records: half of the
   batches are stored, retrieved and used in-house; four in ten are shipped to a receiver, received (some with a
   transit difference) and utilised or disposed there; one in ten stays in stock. Hash chains are not computed
   (nothing here verifies them);
2. builds the period balances from the journal with the rebuild statement (`ledger.rollups.rebuild.repair`);
3. times, warm, the median of R runs of (a) `ledger.reports.indicators.indicators` for the park and the last
   full year (every figure, hazardous / general / all, base year, identity, holdings check) and (b) one plain
   SQL aggregate over the park's raw journal rows of that year (mass per waste kind and record kind, joined to
   the batches), and prints both and their ratio. Target: indicators at least 5× faster than the aggregate.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/wl_reports_bench"
RECEIVERS = 20
RECORDS_PER_BATCH = 3.7  # 0.5 × 4 (stored, retrieved, used) + 0.4 × 4 (shipped, received, processed) + 0.1 × 1


def ensure_database(url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    admin = f"host={u.host} port={u.port or 5432} user={u.username} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as c:
        if c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (u.database,)).fetchone() is None:
            c.execute(f'CREATE DATABASE "{u.database}"')


def fresh_schema(url: str) -> None:
    from sqlalchemy import create_engine, text

    from ledger.migrate import upgrade

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade(url)


def seed(conn, *, units: int, records: int, park_units: int, year: int) -> dict:  # noqa: ANN001
    """Everything with set-based SQL: a handful of statements."""
    from sqlalchemy import text

    n = int(records / RECORDS_PER_BATCH)
    first = datetime(year - 3, 1, 1, tzinfo=UTC).isoformat()
    span = (datetime(year + 1, 1, 1, tzinfo=UTC) - datetime(year - 3, 1, 1, tzinfo=UTC)).total_seconds() - 8 * 86400
    members_first = RECEIVERS - 4  # five receivers inside the park
    members_last = members_first + park_units - 1
    p = {"u": units, "n": n, "first": first, "span": span, "rec": RECEIVERS, "gen": units - RECEIVERS,
         "mf": members_first, "ml": members_last, "y0": year - 3, "y": year}
    sql = [
        """INSERT INTO unit (id, credit_code, name, region_code, is_generator, is_hauler, is_receiver, industry_code,
                              created_at)
           SELECT u, 'BENCH' || lpad(u::text, 13, '0'), '基准单位' || u, '370112', true, false, u <= :rec, 'C2614',
                  now() FROM generate_series(1, :u) u""",
        """INSERT INTO facility (id, unit_id, kind, storage_type, code, name, methods, created_at)
           SELECT (u - 1) * 3 + k, u, (ARRAY['generation', 'storage', 'utilisation'])[k],
                  CASE WHEN k = 2 THEN '贮存库' END, 'F' || k, '设施' || k, '[]'::json, now()
           FROM generate_series(1, :u) u, generate_series(1, 3) k""",
        """INSERT INTO park (id, code, name, region_code, level, created_at)
           VALUES (1, 'BENCH-PARK', '基准园区', '370112', '省级', now())""",
        """INSERT INTO park_member (park_id, unit_id, since)
           SELECT 1, u, CASE WHEN u = :ml THEN make_date(:y, 6, 15) ELSE make_date(:y0 - 1, 1, 1) END
           FROM generate_series(:mf, :ml) u""",
        """INSERT INTO economics (unit_id, year, value_added_10k, output_value_10k, updated_at)
           SELECT u, y, 1000 + u, 5000 + 3 * u, now() FROM generate_series(1, :u) u, generate_series(:y0, :y) y""",
        """CREATE TEMP TABLE bp AS
           SELECT i, :rec + 1 + (i % :gen) AS u, (i * 7919) % 10 AS pat, (i % 2 = 0) AS haz,
                  CAST(:first AS timestamptz) + (i::float8 / :n) * :span * interval '1 second' AS t,
                  50000 + (i * 37) % 200000 AS g, 1 + (i % :rec) AS r, ((i / 2) % 3 = 0) AS disp,
                  CASE WHEN i % 5 = 0 THEN 1000 ELSE 0 END AS d
           FROM generate_series(1::bigint, :n) i""",
        """ALTER TABLE bp ADD COLUMN util boolean, ADD COLUMN m text, ADD COLUMN code text""",
        """UPDATE bp SET util = haz OR NOT disp,
                         m = CASE WHEN haz THEN 'R9' WHEN disp THEN 'D1' ELSE 'C2' END,
                         code = CASE WHEN haz THEN '900-249-08' ELSE '321-001-S01' END""",
        """INSERT INTO batch (id, unit_id, holder_unit_id, digital_id, batch_code, waste_code, category, hazardous,
                              name, form, hazard, container_type, container_count, facility_id, scale_id, operator,
                              occurred_at, gross_g, tare_g, net_g, remaining_g, stored_g, in_transit_g, stored_ever,
                              status, flags, created_at)
           SELECT i, u, u, 'BENCH' || lpad(i::text, 12, '0'), 'HWCS' || i, code,
                  CASE WHEN haz THEN 'HW08' ELSE 'S01' END, haz, '废物', '固态', '', '桶', 1, (u - 1) * 3 + 1, 'S',
                  'bench', t, g, 0, g, CASE WHEN pat = 9 THEN g ELSE 0 END, 0, 0, pat < 5,
                  CASE WHEN pat = 9 THEN 'generated' ELSE 'closed' END, '[]'::json, t
           FROM bp""",
        """INSERT INTO batch (id, unit_id, holder_unit_id, parent_id, root_id, digital_id, batch_code, waste_code,
                              category, hazardous, name, form, hazard, container_type, container_count, facility_id,
                              scale_id, operator, occurred_at, gross_g, tare_g, net_g, remaining_g, stored_g,
                              in_transit_g, stored_ever, status, flags, created_at)
           SELECT :n + i, u, r, i, i, 'BENCH' || lpad(i::text, 12, '0'), 'HWCS' || i, code,
                  CASE WHEN haz THEN 'HW08' ELSE 'S01' END, haz, '废物', '固态', '', '桶', 1, (u - 1) * 3 + 1, 'S',
                  'bench', t, g - d, 0, g - d, 0, 0, 0, false, 'closed', '[]'::json, t + interval '5 days 6 hours'
           FROM bp WHERE pat BETWEEN 5 AND 8""",
        """INSERT INTO journal_record (unit_id, seq, kind, batch_id, source_batch_id, mass_g, facility_id,
                                       actor_name, occurred_at, recorded_at, body, prev_hash, hash)
           SELECT unit_id, row_number() OVER (PARTITION BY unit_id ORDER BY at, batch_id, ord), kind, batch_id,
                  source_batch_id, mass_g, facility_id, 'bench', at, at, body, repeat('0', 64),
                  md5(batch_id::text || kind) || md5(kind || batch_id::text)
           FROM (
             SELECT u AS unit_id, 'generated' AS kind, i AS batch_id, NULL::int AS source_batch_id, g AS mass_g,
                    (u - 1) * 3 + 1 AS facility_id, t AS at, json_build_object('waste_code', code) AS body, 1 AS ord
             FROM bp
             UNION ALL SELECT u, 'stored', i, NULL, g, (u - 1) * 3 + 2, t + interval '1 minute', '{}'::json, 2
             FROM bp WHERE pat < 5
             UNION ALL SELECT u, 'retrieved', i, NULL, g, (u - 1) * 3 + 2, t + interval '10 days',
                              json_build_object('purpose', 'in_house'), 3 FROM bp WHERE pat < 5
             UNION ALL SELECT u, 'used_in_house', i, NULL, g, (u - 1) * 3 + 3, t + interval '10 days 1 hour',
                              json_build_object('method', CASE WHEN haz THEN 'R9' ELSE 'R5' END), 4
             FROM bp WHERE pat < 5
             UNION ALL SELECT u, 'shipped', i, NULL, g, NULL, t + interval '5 days',
                              json_build_object('planned_method', m, 'counts_as_utilisation', util,
                                                'receiver_id', r, 'shipped_g', g), 2
             FROM bp WHERE pat BETWEEN 5 AND 8
             UNION ALL SELECT r, 'received', :n + i, i, g - d, NULL, t + interval '5 days 6 hours',
                              json_build_object('originator_id', u, 'shipped_g', g, 'received_g', g - d,
                                                'accepted_g', g - d, 'refused_g', 0, 'transit_difference_g', d), 3
             FROM bp WHERE pat BETWEEN 5 AND 8
             UNION ALL SELECT r, CASE WHEN util THEN 'used_in_house' ELSE 'disposed_in_house' END, :n + i, NULL,
                              g - d, NULL, t + interval '7 days', json_build_object('method', m), 4
             FROM bp WHERE pat BETWEEN 5 AND 8
           ) steps""",
        """INSERT INTO journal_head (unit_id, seq, hash)
           SELECT unit_id, max(seq), repeat('0', 64) FROM journal_record GROUP BY unit_id""",
        "SELECT setval(pg_get_serial_sequence('unit', 'id'), :u)",
        "SELECT setval(pg_get_serial_sequence('facility', 'id'), 3 * :u)",
        "SELECT setval(pg_get_serial_sequence('batch', 'id'), (SELECT max(id) FROM batch))",
        "SELECT setval(pg_get_serial_sequence('park', 'id'), 1)",
        "DROP TABLE bp",
    ]
    ints = sorted(((k, v) for k, v in p.items() if isinstance(v, int)), key=lambda kv: -len(kv[0]))
    for stmt in sql:
        for k, v in ints:  # integers inline (bound small ints become int2 and make generate_series ambiguous)
            stmt = re.sub(rf":{k}\b", str(v), stmt)
        conn.execute(text(stmt), {k: v for k, v in p.items() if f":{k}" in stmt})
    return p


def analyze(engine) -> None:  # noqa: ANN001
    from sqlalchemy import text

    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))


def interleaved(fns: list, runs: int) -> list[tuple[float, float]]:  # noqa: ANN001
    """(first call, median of the next `runs` calls) per function, seconds; the functions take turns in each
    round, so a machine shared with other work slows them alike."""
    firsts, times = [], [[] for _ in fns]
    for fn in fns:
        t = time.perf_counter()
        fn()
        firsts.append(time.perf_counter() - t)
    for _ in range(runs):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - t)
    return [(f, statistics.median(ts)) for f, ts in zip(firsts, times, strict=True)]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", default=DEFAULT_URL)
    ap.add_argument("--units", type=int, default=500)
    ap.add_argument("--records", type=int, default=2_000_000)
    ap.add_argument("--park-units", type=int, default=100)
    ap.add_argument("--year", type=int, default=date.today().year - 1)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--reuse", action="store_true", help="keep the data of an earlier run")
    ap.add_argument("--check", action="store_true", help="also compare the balances with the journal")
    args = ap.parse_args(argv)

    from sqlalchemy import func, select, text
    from sqlmodel import Session

    import ledger.models  # noqa: F401
    from ledger.auth import SYSTEM
    from ledger.db import get_engine
    from ledger.reports.indicators import indicators
    from ledger.rollups.models import PeriodBalance
    from ledger.rollups.rebuild import compare, repair
    from ledger.rollups.scope import resolve
    from ledger.workdays import year_bounds_utc

    url = args.database_url
    engine = get_engine(url)
    if not args.reuse:
        ensure_database(url)
        fresh_schema(url)
        t = time.perf_counter()
        with engine.begin() as conn:
            p = seed(conn, units=args.units, records=args.records, park_units=args.park_units, year=args.year)
        print(f"seeded {args.units} units, {p['n']:,} root batches in {time.perf_counter() - t:.1f} s")
        analyze(engine)
    with Session(engine) as s:
        empty = s.execute(select(func.count()).select_from(PeriodBalance)).scalar() == 0
    if empty:
        t = time.perf_counter()
        with Session(engine) as s:
            repair(s)
            s.commit()
        print(f"period balances built from the journal (one INSERT … SELECT, the rebuild statement) in "
              f"{time.perf_counter() - t:.1f} s")
        analyze(engine)
    with Session(engine) as s:
        n_records = s.execute(select(func.count()).select_from(text("journal_record"))).scalar()
        n_balances = s.execute(select(func.count()).select_from(PeriodBalance)).scalar()
        n_units = s.execute(text("SELECT count(*) FROM unit")).scalar()
        members = [r[0] for r in s.execute(text("SELECT unit_id FROM park_member WHERE park_id = 1"))]
        print(f"database: {n_units} units, {n_records:,} journal records, {n_balances:,} balance rows; "
              f"park of {len(members)} members")
        if args.check:
            t = time.perf_counter()
            diffs = compare(s)
            print(f"rebuild comparison: {len(diffs)} difference(s) in {time.perf_counter() - t:.1f} s")
        raw_sql = text("""
            SELECT b.hazardous, r.kind, count(*), sum(r.mass_g)
            FROM journal_record r JOIN batch b ON b.id = coalesce(r.batch_id, r.source_batch_id)
            WHERE r.unit_id = ANY(:units) AND r.occurred_at >= :a AND r.occurred_at < :b
            GROUP BY b.hazardous, r.kind""")
        results = []
        for year, note in ((args.year, "one member joins on 15 June: that month is read from the journal for it"),
                           (args.year - 1, "membership constant all year")):
            start, end = year_bounds_utc(year)
            y_members = [r[0] for r in s.execute(text(
                "SELECT unit_id FROM park_member WHERE park_id = 1 AND since <= :d AND (until IS NULL OR until >= :d)"),
                {"d": date(year, 12, 31)})]
            n_raw = sum(r[2] for r in s.execute(raw_sql, {"units": y_members, "a": start, "b": end}).all())

            def run_indicators(year: int = year) -> None:
                s.expire_all()
                indicators(s, resolve(s, SYSTEM, kind="park", scope_id="1"), year)
                s.rollback()

            def run_raw(start: datetime = start, end: datetime = end, units: list = y_members) -> None:
                s.execute(raw_sql, {"units": units, "a": start, "b": end}).all()
                s.rollback()

            (ind_first, ind), (raw_first, raw) = interleaved([run_indicators, run_raw], args.runs)
            result = indicators(s, resolve(s, SYSTEM, kind="park", scope_id="1"), year)
            s.rollback()
            results.append((year, note, n_raw, ind_first, ind, raw_first, raw, result))
    for year, note, n_raw, ind_first, ind, raw_first, raw, result in results:
        g = result["kinds"]["all"]["figures"]["generated"]["g"]
        print(f"park indicators for {year} ({note}) over {n_raw:,} raw rows of the year "
              f"(generated {g / 1e6:,.3f} t, utilisation rate {result['kinds']['all']['utilisation_rate']['percent']}%, "
              f"identity balanced: {all(k['identity']['balanced'] for k in result['kinds'].values())})")
        print(f"  indicators from the balances: median {ind * 1000:.1f} ms (first call {ind_first * 1000:.1f} ms)")
        print(f"  one plain SQL aggregate over the same raw rows: median {raw * 1000:.1f} ms "
              f"(first call {raw_first * 1000:.1f} ms)")
        ratio = raw / ind
        print(f"  ratio aggregate / indicators: {ratio:.1f}×  (target ≥ 5×: {'met' if ratio >= 5 else 'NOT met'})")


if __name__ == "__main__":
    main()
