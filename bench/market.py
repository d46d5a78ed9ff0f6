"""The trading hall's listing: GET /api/v1/market/posts for a licensed receiver, against the floor of a plain SELECT
of the same posts, in one run.

    python -m bench.market                       # a fresh SQLite file in a temporary directory
    python -m bench.market --posts 4000 --runs 30
    python -m bench.market --database-url postgresql+psycopg://postgres@127.0.0.1:5432/wl_bench_market

It seeds, through the ledger services, one receiver licensed for HW08 and HW49 and P producers spread over a
province, each posting waste oil (covered), waste packaging (covered), lead batteries (HW31: not covered) and
slag (general: seen by every receiver), with a photo and an offer on some; then times the request in-process
(FastAPI TestClient: routing, auth, licence coverage, distances, capacity, sorting, JSON) and the plain SELECT of
the matching rows, and counts the SQL statements one request makes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=2000, help="posts in the hall (a quarter are not covered)")
    ap.add_argument("--producers", type=int, default=200)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--limit", type=int, default=100, help="posts per page (the API's default is 100)")
    ap.add_argument("--database-url", default=None, help="an empty database (default: a temporary SQLite file)")
    args = ap.parse_args()

    from fastapi.testclient import TestClient
    from sqlalchemy import event, text
    from sqlmodel import Session

    import ledger.auth
    from api.app import create_app
    from ledger.accounts import issue_token
    from ledger.auth import SYSTEM, Principal
    from ledger.config import Settings
    from ledger.db import get_engine
    from ledger.market import offers, posts
    from ledger.migrate import upgrade
    from ledger.registry import assets, units
    from ledger.users import UserCreate, create_user

    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{tmp.name}/market.db"
    upgrade(url)
    engine = get_engine(url)
    from argon2 import PasswordHasher

    ledger.auth._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # seeding users, not hashing
    from api.demo import credit

    t0 = time.perf_counter()
    with Session(engine) as s:
        rcv = units.create_unit(s, principal=SYSTEM, data=units.UnitCreate(
            credit_code=credit("91370300MA3D00001"), name="基准接收单位", region_code="370305", roles=["receiver"],
            lat=36.78, lon=118.10))
        assets.create_permit(s, principal=SYSTEM, unit_id=rcv.id, data=assets.PermitCreate(
            kind="operating_licence", number="BENCH-LIC-1", waste_codes=["HW08", "HW49"], methods=["R9", "R2"],
            annual_capacity_t=Decimal(50000), valid_from=date(2020, 1, 1),
            valid_to=date(2099, 12, 31)))
        ruser = create_user(s, principal=SYSTEM, data=UserCreate(username="bench.receiver", display_name="收料员",
                                                                 role="receiver_operator", unit_id=rcv.id,
                                                                 password="bench-pass-1"))
        token = issue_token(s, user=ruser, name="bench")
        codes = [("900-214-08", "废机油", "液态"), ("900-041-49", "废包装桶", "固态"),
                 ("900-052-31", "废铅蓄电池", "固态"), ("321-001-S01", "冶炼炉渣", "固态")]
        who = []
        for n in range(args.producers):
            g = units.create_unit(s, principal=SYSTEM, data=units.UnitCreate(
                credit_code=credit(f"92370112MB{n:07d}"), name=f"基准产废单位{n}", region_code="370112",
                roles=["generator"], lat=36.0 + (n % 20) * 0.1, lon=116.5 + (n // 20) * 0.15))
            u = create_user(s, principal=SYSTEM, data=UserCreate(username=f"bench.p{n}", display_name="x",
                                                                 role="unit_admin", unit_id=g.id))
            who.append((g, Principal.of(u)))
        s.commit()
        for i in range(args.posts):
            g, p = who[i % len(who)]
            code, name, form = codes[i % len(codes)]
            post = posts.create_post(s, principal=p, data=posts.PostCreate(
                unit_id=g.id, waste_code=code, name=name, form=form, monthly_kg=Decimal(100 + i % 900)))
            if i % 10 == 0 and code.endswith("-08"):
                offers.make_offer(s, principal=Principal.of(ruser), post_id=post.id, data=offers.OfferCreate(
                    method="R9", fee_yuan_per_t=Decimal(300)))
            if i % 200 == 199:
                s.commit()
        s.commit()
    seeded = time.perf_counter() - t0

    app = create_app(Settings(env="test", database_url=url, public_url="http://bench.invalid"))
    client = TestClient(app)
    headers = {"Authorization": f"Bearer {token}"}
    statements = {"n": 0}

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_a, **_k):  # noqa: ANN002, ANN003
        statements["n"] += 1

    r = client.get(f"/api/v1/market/posts?limit={args.limit}", headers=headers)
    assert r.status_code == 200, r.text
    shown = len(r.json())
    statements["n"] = 0
    client.get(f"/api/v1/market/posts?limit={args.limit}", headers=headers)
    per_request = statements["n"]
    api_ms = []
    for _ in range(args.runs):
        t = time.perf_counter()
        r = client.get(f"/api/v1/market/posts?limit={args.limit}", headers=headers)
        api_ms.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200
    floor_ms = []
    sql = text("SELECT * FROM market_post WHERE status = 'open' AND expires_at > :now AND (hazardous = false OR "
               "waste_code LIKE '%-08' OR waste_code LIKE '%-49') ORDER BY id DESC LIMIT 2000")
    from ledger.types import utcnow

    for _ in range(args.runs):
        t = time.perf_counter()
        with engine.connect() as conn:
            matching = len(conn.execute(sql, {"now": utcnow()}).all())
        floor_ms.append((time.perf_counter() - t) * 1000)

    def q(xs: list[float], p: float) -> float:
        return sorted(xs)[min(len(xs) - 1, int(p * len(xs)))]

    print(f"database: {engine.dialect.name}; seeded {args.posts} posts of {args.producers} producers in {seeded:.1f} s")
    print(f"matching posts for the receiver: {matching} (of {args.posts}); returned (limit {args.limit}): {shown}")
    print(f"SQL statements per request: {per_request}")
    print(f"GET /market/posts  mean {statistics.mean(api_ms):.1f} ms  p50 {q(api_ms, .5):.1f}  p95 {q(api_ms, .95):.1f}")
    print(f"plain SELECT       mean {statistics.mean(floor_ms):.1f} ms  p50 {q(floor_ms, .5):.1f}  "
          f"p95 {q(floor_ms, .95):.1f}")
    print(f"ratio (means) 1 : {statistics.mean(api_ms) / statistics.mean(floor_ms):.1f}")
    tmp.cleanup()


if __name__ == "__main__":
    main()
