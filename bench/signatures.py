"""Manifest signatures over HTTP on PostgreSQL: each step of the electronic manifest measured as its own phase.

    python -m bench.signatures                     # 1,000 manifests of one batch, 16 clients, 2 workers
    python -m bench.signatures --manifests 2000 --json /tmp/sig.json
    python -m bench.signatures --profile 200       # in-process: statements, CPU and where it goes, per step

What it does, in one run:

1. creates a PostgreSQL database (dropped at the end), migrates it and seeds P plants, a hauler (transport permit,
   vehicle, driver) and a licensed receiver with its utilisation line (`bench.soak.seed`);
2. starts the real server (`uvicorn api.main:app --workers W`) and weighs M hazardous batches (unmeasured);
3. drives every manifest through its steps, one phase per step, each step of all M manifests sent by C
   keep-alive clients (`bench.loadgen`), one manifest per request, each with its own Idempotency-Key:
   create (the originator's draft), submit (the originator signs), pickup (the driver signs with the scanned
   label), deliver, receive (the receiver weighs and signs; the load goes to its utilisation line), process (the
   receiver's 自行利用 of the received holding, `POST /batches/{id}/use-in-house`) and complete;
4. measures per phase: requests/s, p50/p99 latency, uvicorn and PostgreSQL CPU per request;
5. checks the ledger: every manifest completed, every unit's chain verifies.

`--profile N` measures instead, without HTTP's server and clients: N manifests go through the same steps in this
process (FastAPI's TestClient, the same app and database), and per step it prints the statements one request
sends, the process CPU per request (TestClient's own share included), and, profiled with yappi (CPU clock, every
thread: the endpoint runs in a worker thread), the functions of ours where the CPU goes, inclusive.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from datetime import UTC, datetime

import psycopg

from bench import loadgen
from bench.ingest import (
    WASTES,
    CpuSnap,
    PySpy,
    Server,
    calibrate,
    cpu_figures,
    create_database,
    drop_database,
    libpq,
    pct,
    say,
    summarise_py_spy,
)
from bench.soak import World, seed

STEPS = ("create", "submit", "pickup", "deliver", "receive", "process", "complete")


def _headers(token: str, rng: random.Random) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
            "Idempotency-Key": f"sig-{uuid.UUID(int=rng.getrandbits(128))}"}


def weighings(w: World, n: int, rng: random.Random) -> list[loadgen.Request]:
    """n hazardous weighings spread over the plants (HJ 1276 allows 999 labels per unit, code and day)."""
    hazardous = [x for x in WASTES if not x.code.endswith("S03")]  # the receiver's licence covers their HW classes
    out = []
    for i in range(n):
        p, x = w.plants[i % len(w.plants)], hazardous[(i // len(w.plants)) % len(hazardous)]
        body = {"unit_id": p.unit_id, "waste_code": x.code, "name": x.name, "form": x.form,
                "facility_id": p.gen_facility_id, "container_type": x.container, "container_volume_l": x.volume_l,
                "gross_kg": f"{rng.uniform(*x.gross_kg):.1f}", "tare_kg": f"{x.tare_kg:.1f}",
                "scale_id": "SIG-1", "operator": "称重员", "occurred_at": datetime.now(UTC).isoformat()}
        out.append(loadgen.Request.post("/api/v1/batches", json.dumps(body).encode(), _headers(p.token, rng)))
    return out


def step_requests(url: str, w: World, step: str, rng: random.Random) -> list[loadgen.Request]:
    """The requests of one step for every manifest in the state before it, read from the database."""
    tokens = {p.unit_id: p.token for p in w.plants}
    with psycopg.connect(libpq(url)) as c:
        if step == "create":
            rows = c.execute("SELECT b.id, b.unit_id FROM batch b WHERE b.unit_id = ANY(%s) AND b.hazardous "
                             "AND NOT EXISTS (SELECT 1 FROM manifest_line l WHERE l.batch_id = b.id) ORDER BY b.id",
                             (list(tokens),)).fetchall()
            return [loadgen.Request.post("/api/v1/manifests", json.dumps({
                "originator_id": unit_id, "hauler_id": w.hauler.unit_id, "vehicle_id": w.vehicle_id,
                "receiver_id": w.receiver.unit_id, "driver_id": w.driver_id,
                "planned_date": str(datetime.now(UTC).date()),
                "lines": [{"batch_id": batch_id, "planned_method": "R9"}]}).encode(),
                _headers(tokens[unit_id], rng), tag=step) for batch_id, unit_id in rows]
        before = {"submit": "draft", "pickup": "submitted", "deliver": "in_transit", "receive": "delivered",
                  "process": "received", "complete": "received"}[step]
        rows = c.execute("SELECT m.id, m.originator_id, b.id, b.digital_id, l.mass_g, l.holding_id FROM manifest m "
                         "JOIN manifest_line l ON l.manifest_id = m.id JOIN batch b ON b.id = l.batch_id "
                         "WHERE m.status = %s ORDER BY m.id", (before,)).fetchall()
    out = []
    for m, originator, batch_id, digital_id, mass_g, holding_id in rows:
        path = f"/api/v1/manifests/{m}/{step}"
        if step == "submit":
            token, body = tokens[originator], {}
        elif step == "pickup":
            token, body = w.driver, {"scanned": [digital_id], "lat": 36.6, "lon": 117.0}
        elif step == "deliver":
            token, body = w.driver, {}
        elif step == "receive":
            token, body = w.receiver.token, {"facility_id": w.receiver_line, "lines": [
                {"batch_id": batch_id, "received_kg": f"{mass_g / 1000:.3f}", "acceptance": "accepted"}]}
        elif step == "process":
            path, token = f"/api/v1/batches/{holding_id}/use-in-house", w.receiver.token
            body = {"method": "R9", "facility_id": w.receiver_line, "operator": "孙"}
        else:
            token, body = w.receiver.token, {}
        out.append(loadgen.Request.post(path, json.dumps(body).encode(), _headers(token, rng), tag=step))
    return out


def check(url: str, w: World, manifests: int) -> tuple[bool, list[str]]:
    from sqlmodel import Session

    from ledger import journal
    from ledger.db import get_engine

    lines = []
    with psycopg.connect(libpq(url)) as c:
        by_status = dict(c.execute("SELECT status, count(*) FROM manifest GROUP BY status").fetchall())
    ok = by_status == {"completed": manifests}
    lines.append(f"manifests by status: {by_status}")
    with Session(get_engine(url)) as s:
        for unit_id in [p.unit_id for p in w.plants] + [w.hauler.unit_id, w.receiver.unit_id]:
            r = journal.verify(s, unit_id=unit_id)
            ok &= r.ok
            if not r.ok:
                lines.append(f"unit {unit_id}: chain broken at seq {r.first_bad_seq}: {r.reason}")
    lines.append("every unit's chain verifies" if ok else "LEDGER CHECK FAILED")
    return ok, lines


def _in_process(req: loadgen.Request) -> tuple[str, dict[str, str], bytes]:
    """A pre-encoded request taken apart again for TestClient: path, headers, body."""
    head, body = req.raw.split(b"\r\n\r\n", 1)
    first, *fields = head.decode().split("\r\n")
    headers = dict(f.split(": ", 1) for f in fields)
    for k in ("Host", "Content-Length"):
        headers.pop(k, None)
    return first.split(" ")[1], headers, body


def profile(url: str, w: World, n: int, top: int, rng: random.Random) -> list[str]:
    """Each step of n manifests in this process: statements and CPU per request (first half), then yappi's
    inclusive CPU of our functions (second half)."""
    import logging
    import warnings

    import yappi

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from api.app import create_app
    from bench.ingest import SqlTap, _one_line
    from ledger.config import Settings
    from ledger.db import get_engine

    logging.getLogger("httpx").setLevel(logging.WARNING)
    out: list[str] = []
    tap = SqlTap(get_engine(url))
    app = create_app(Settings(env="test", database_url=url, public_url="http://bench"))
    ours = ("/ledger/", "/alerts/", "/api/")
    try:
        with TestClient(app) as client:
            for req in weighings(w, n, rng):
                path, headers, body = _in_process(req)
                assert client.post(path, content=body, headers=headers).status_code == 201
            for step in STEPS:
                reqs = [_in_process(r) for r in step_requests(url, w, step, rng)]
                warm, timed, profiled = reqs[:5], reqs[5:5 + (len(reqs) - 5) // 2], reqs[5 + (len(reqs) - 5) // 2:]
                for path, headers, body in warm:
                    r = client.post(path, content=body, headers=headers)
                    assert r.status_code in (200, 201), r.text
                tap.reset()
                tap.on = True
                first: list[str] = []
                t0, c0 = time.perf_counter(), time.process_time()
                for i, (path, headers, body) in enumerate(timed):
                    r = client.post(path, content=body, headers=headers)
                    assert r.status_code in (200, 201), r.text
                    if i == 0:
                        first = list(tap.statements)
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                tap.on = False
                k = len(timed)
                out.append(f"## {step}: {cpu / k * 1000:.2f} ms of process CPU and {wall / k * 1000:.2f} ms wall per "
                           f"request, {len(tap.statements) / k:.1f} statements + {tap.commits / k:.0f} COMMIT "
                           f"({k} requests); the statements of one:")
                out += [f"  {i:2d}. {_one_line(st, 120)}" for i, st in enumerate(first, 1)]
                yappi.set_clock_type("cpu")
                yappi.clear_stats()
                yappi.start()
                for path, headers, body in profiled:
                    client.post(path, content=body, headers=headers)
                yappi.stop()
                rows = sorted(((f.ttot, f.ncall, f.module, f.name) for f in yappi.get_func_stats()
                               if any(o in f.module for o in ours) and "site-packages" not in f.module),
                              reverse=True)
                out.append(f"  yappi, CPU inclusive per request ({len(profiled)} requests; the profiler roughly "
                           "doubles every figure, compare them with each other):")
                root = __file__.rsplit("/bench/", 1)[0] + "/"
                out += [f"    {t / len(profiled) * 1000:7.2f} ms {c / len(profiled):5.1f}×  "
                        f"{mod.replace(root, '')}: {name}" for t, c, mod, name in rows[:top]]
                out.append("")
    finally:
        tap.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.signatures", description=__doc__.splitlines()[0])
    ap.add_argument("--server-url", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    ap.add_argument("--manifests", type=int, default=1000, help="manifests of one batch each (default 1000)")
    ap.add_argument("--plants", type=int, default=16, help="originating plants (default 16)")
    ap.add_argument("--concurrency", type=int, default=16, help="concurrent HTTP clients (default 16)")
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (default 2)")
    ap.add_argument("--json", metavar="FILE", help="also write the summary as JSON to FILE")
    ap.add_argument("--py-spy", metavar="FILE", help="record the workers (GIL holder only) during these steps")
    ap.add_argument("--py-spy-steps", default="pickup,receive", help="the steps --py-spy records (default: "
                    "pickup,receive)")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="in-process instead: N manifests, statements, CPU and yappi's profile per step")
    ap.add_argument("--top", type=int, default=25, help="rows of the profile per step (default 25)")
    ap.add_argument("--seed", type=int, default=2026)
    a = ap.parse_args(argv)

    from ledger.db import dispose_engines
    from ledger.migrate import upgrade

    rng = random.Random(a.seed)
    url = create_database(a.server_url, "wl_sig")
    server = None
    exit_code = 0
    try:
        upgrade(url)
        world = seed(url, a.plants)
        dispose_engines()
        if a.profile:
            for line in profile(url, world, a.profile, a.top, rng):
                say(line)
            return 0
        server = Server(url, a.workers)
        server.wait_ready(a.workers)
        say(calibrate())
        t0 = time.perf_counter()
        made = loadgen.run(server.base, weighings(world, a.manifests, rng), clients=a.concurrency, ok=(201,))
        say(f"weighed {made.ok_count} of {made.sent} batches in {time.perf_counter() - t0:.1f} s (not measured)")
        summary: dict[str, dict] = {}
        spied = set(a.py_spy_steps.split(",")) if a.py_spy else set()
        for step in STEPS:
            reqs = step_requests(url, world, step, rng)
            spy = PySpy(server.proc.pid, f"{a.py_spy}.{step}", 200, True) if step in spied else None
            c0 = CpuSnap.take(server.proc.pid)
            res = loadgen.run(server.base, reqs, clients=a.concurrency, ok=(200, 201))
            c1 = CpuSnap.take(server.proc.pid)
            if spy is not None:
                spy.stop()
            cpu = cpu_figures(c0, c1, res.sent)
            lat = sorted(res.latencies)
            bad = {k: v for k, v in res.statuses.items() if k not in (200, 201)}
            summary[step] = {"requests": res.sent, "ok": res.ok_count, "per_s": round(res.sent / res.wall, 1),
                             "p50_ms": round(pct(lat, 0.5) * 1000, 1), "p99_ms": round(pct(lat, 0.99) * 1000, 1),
                             "uvicorn_cpu_ms_per_request": cpu["uvicorn_ms_per_request"],
                             "postgres_cpu_ms_per_request": cpu["postgres_ms_per_request"], "non_2xx": bad}
            if bad:
                exit_code = 1
                say(f"  {step}: non-2xx {bad} {res.failures[:2]}")
        server.stop()
        server = None
        dispose_engines()
        ok, lines = check(url, world, a.manifests)
        exit_code |= 0 if ok else 1
        say("")
        say(f"## manifest steps, {a.manifests} manifests of one batch, {a.concurrency} clients, "
            f"{a.workers} workers, {a.plants} plants")
        say(f"  {'step':<9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'uvicorn CPU ms':>15} {'PG CPU ms':>10}")
        for step, m in summary.items():
            say(f"  {step:<9} {m['per_s']:>8.1f} {m['p50_ms']:>8.1f} {m['p99_ms']:>8.1f} "
                f"{m['uvicorn_cpu_ms_per_request']:>15.2f} {m['postgres_cpu_ms_per_request']:>10.2f}")
        for line in lines:
            say(f"  {line}")
        for step in sorted(spied, key=STEPS.index):
            say("")
            say(f"## py-spy of the workers during {step} ({a.py_spy}.{step}; GIL holder only: Python CPU)")
            for line in summarise_py_spy(f"{a.py_spy}.{step}"):
                say(line)
        say(f"at the end: {calibrate()}")
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"bench": "signatures", "manifests": a.manifests, "clients": a.concurrency,
                           "workers": a.workers, "steps": summary, "ledger_ok": ok}, f, indent=1)
            say(f"wrote {a.json}")
    finally:
        if server is not None:
            server.stop()
        dispose_engines()
        drop_database(url)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
