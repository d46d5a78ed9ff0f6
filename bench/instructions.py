"""Instructions per request of the hot reads, of a weighing and of each step of a manifest, counted by valgrind's
callgrind: the same figure run after run.

CPU time on this shared machine moves by ±20% between two runs of the same code, and by 3× between a quiet hour
and a busy one, so a change worth 3% cannot be seen in `bench.reads`. The instructions a request executes do not
depend on what else the machine is doing: counted twice, the same code gives the same count to within a few
tenths of a percent. Measure a change here first; then measure it over HTTP with `bench.reads`.

    python -m bench.instructions                      # seeds a small database, counts every path, drops it
    python -m bench.instructions --keep               # ... and keeps the database for the next run
    python -m bench.instructions --reuse --paths trace --repeat 2 --json /tmp/trace.json
    python -m bench.instructions --reuse --cache-sim  # ... with the simulated cache misses
    python -m bench.instructions --paths sign,weigh   # the writes only: the manifest's steps and a weighing

What is counted: the process that answers, driven through the ASGI interface in process (no HTTP server, no
client), the same app as `uvicorn api.main:app`: the middleware, routing, dependencies, the prefetch through
psycopg on the event loop, building and serialising the answer; for a weighing (`POST /batches`, one at a time,
each its own commit group, in a fresh database of bench.ingest's plants per run) the validation, the group commit
and its worker thread, the statements through SQLAlchemy, the event-time alert rules, the answer; for `sign`, in
a fresh database of bench.signatures' world per run (plants, a hauler with vehicle and driver, a licensed receiver),
each step of the manifest of one hazardous batch as bench.signatures sends it, the same manifests step after step:
create, submit, pickup (the driver scans the label), deliver, receive (weighed, onto the receiver's utilisation
line), process (`use-in-house`) and complete. Not counted: PostgreSQL's side, the kernel, and uvicorn's HTTP
parsing (the floor, `GET /health`, is the framework's own share). Each path runs in its own process under
`valgrind --tool=callgrind --instr-atstart=no`; after its warm-up (the registry cache filled, the statements
prepared) the process turns the counting on (`callgrind_control -i on`), sends the measured requests one after
the other, turns it off and dumps the count under the path's name (`-d`: each step of `sign` is its own dump). The
processes run side by side: counts do not depend on sharing a core.

What the count is not: time. A request runs at far fewer instructions per cycle than a tight loop: its code and
data do not stay in the core's caches (in process, a scan measured 1.32 ms of user CPU for 1.8 million
instructions, the calibration loop of the other benches 177 ms for 1,457 million). `--cache-sim` adds callgrind's
cache simulation (about twice as slow) and its estimate of cycles, Ir + 10 × first-level misses + 100 × last-level
misses, which counts some of that. Read a count as the measure of one commit against another on the same Python
and libraries, not as milliseconds.

Needs valgrind (Debian: `apt-get install valgrind`; `callgrind_control` comes with it) and PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench import ingest, reads  # noqa: E402
from bench.ingest import PUBLIC_URL, calibrate, libpq, say  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/wl_reads_instructions"
PATHS = {**{k: label for k, label in reads.PATHS}, "weigh": "POST /batches (a weighing)",
         "sign": "the manifest's steps"}
SIGN_LABELS = {"create": "POST /manifests", "submit": "POST …/submit", "pickup": "POST …/pickup",
               "deliver": "POST …/deliver", "receive": "POST …/receive",
               "process": "POST /batches/{id}/use-in-house", "complete": "POST …/complete"}
WEIGHING_UNITS = 8  # bench.ingest's plants, weighing round-robin; bench.signatures' plants


# ---- in the counted process ---------------------------------------------------------------------------------

def _callgrind(*args: str) -> None:
    """Send callgrind a command for this process (`-i on|off`: count or not; `-d NAME`: write what was counted
    since the last dump to its own file, named NAME in it, and start again from zero)."""
    done = subprocess.run(["callgrind_control", *args, str(os.getpid())], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:  # a count of nothing, or of the shutdown too, would print as if it were right
        raise SystemExit(f"callgrind_control {' '.join(args)} failed ({done.returncode}): "
                         f"{(done.stdout + done.stderr).strip()[-500:]}")
    time.sleep(0.5)  # the tool takes the command at its next check; sleeping executes next to nothing


async def _counted(app, name: str, reqs: list, ok: tuple[int, ...]) -> None:  # noqa: ANN001
    """Send reqs one after the other with the counting on; dump their count as `name`."""
    _callgrind("-i", "on")
    statuses = [await _asgi(app, method, path, headers, body) for method, path, headers, body in reqs]
    _callgrind("-i", "off")
    _callgrind("-d", name)
    bad = [s for s in statuses if s not in ok]
    if bad:
        raise SystemExit(f"{name}: {len(bad)} of {len(statuses)} answers were not {ok} ({bad[:5]})")


def _asgi(app, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b""):  # noqa: ANN001, ANN202
    """One request to the ASGI app; its status."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [*headers, (b"content-length", str(len(body)).encode())] if method != "GET" else headers,
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000)}
    status: list[int] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    async def run() -> int:
        await app(scope, receive, send)
        return status[0]

    return run()


def _encoded(reqs: list[Req]) -> list:
    return [(m, p, [(k.encode(), v.encode()) for k, v in h], b.encode()) for m, p, h, b in reqs]


async def _sign(app, url: str, spec: dict, warmup: int) -> None:  # noqa: ANN001
    """Weigh the batches (not counted), then take every manifest through its steps, step by step: the first
    `warmup` manifests of a step not counted, the rest counted and dumped under the step's name."""
    from bench import signatures
    from bench.soak import Actor, World

    w = World(**{**spec["world"], "plants": [Actor(**p) for p in spec["world"]["plants"]],
                 "hauler": Actor(**spec["world"]["hauler"]), "receiver": Actor(**spec["world"]["receiver"])})
    rng = random.Random(spec["seed"])
    for method, path, headers, body in _encoded([_split(r) for r in signatures.weighings(w, spec["manifests"], rng)]):
        if (status := await _asgi(app, method, path, headers, body)) != 201:
            raise SystemExit(f"a weighing before the manifests answered {status}")
    for step in signatures.STEPS:
        reqs = _encoded([_split(r) for r in signatures.step_requests(url, w, step, rng)])
        if len(reqs) != spec["manifests"]:
            raise SystemExit(f"{step}: {len(reqs)} manifests ready for it, not {spec['manifests']}")
        for method, path, headers, body in reqs[:warmup]:
            if (status := await _asgi(app, method, path, headers, body)) not in (200, 201):
                raise SystemExit(f"{step}: a warm-up request answered {status}")
        await _counted(app, f"sign:{step}", reqs[warmup:], (200, 201))


def child(kind: str, url: str, requests_file: str, warmup: int) -> None:
    """Warm up, then count the measured requests."""
    import threading

    import uvloop

    from api.app import create_app
    from ledger.config import Settings

    spec = json.loads(Path(requests_file).read_text())
    app = create_app(Settings(env="test", database_url=url, public_url=PUBLIC_URL))

    async def main() -> None:
        async with app.router.lifespan_context(app):
            for t in threading.enumerate():
                if t.name == "warm-pdf-fonts":
                    t.join()  # its work is not a request's
            if kind == "sign":
                await _sign(app, url, spec, warmup)
                return
            reqs = _encoded(spec)
            for method, path, headers, body in reqs[:warmup]:
                await _asgi(app, method, path, headers, body)
            await _counted(app, kind, reqs[warmup:], (201,) if kind == "weigh" else (200,))

    uvloop.run(main())


# ---- the parent ---------------------------------------------------------------------------------------------

Req = tuple[str, str, list[tuple[str, str]], str]  # method, path, headers, body


def _split(r) -> Req:  # noqa: ANN001
    """A pre-encoded request of bench.loadgen taken apart again: method, path, headers (without Host and
    Content-Length, which the ASGI call sets), body."""
    head, body = r.raw.split(b"\r\n\r\n", 1)
    first, *fields = head.decode().split("\r\n")
    method, path = first.split(" ")[:2]
    headers = [(k.lower(), v) for k, v in (f.split(": ", 1) for f in fields) if k.lower() not in ("host",
                                                                                                    "content-length")]
    return method, path, headers, body.decode()


def _requests_for(kind: str, t: dict, n: int, rng: random.Random) -> list[Req]:
    return [_split(r) for r in reads.requests(kind, t, n, rng)]


def _weighings(url: str, n: int, rng: random.Random) -> list[Req]:
    """n single weighings (`POST /api/v1/batches`) of bench.ingest's plants, seeded into the database at `url`."""
    plants = ingest.seed(url, WEIGHING_UNITS)
    return [("POST", "/api/v1/batches", [(k.lower(), v) for k, v in headers.items()], body.decode())
            for headers, body in ingest.make_requests(plants, n, rng)]


def _sign_spec(url: str, manifests: int, seed: str) -> dict:
    """bench.signatures' world (plants, a hauler with its vehicle and driver, a licensed receiver) seeded into the
    database at `url`, for the child that takes `manifests` manifests through their steps."""
    from bench.soak import seed as seed_world

    return {"world": asdict(seed_world(url, WEIGHING_UNITS)), "manifests": manifests, "seed": seed}


def _count(kind: str, url: str, requests_file: str, warmup: int, out_dir: str, run: int,
           cache_sim: bool) -> dict[str, dict[str, int]]:
    """Run `kind` in a child under callgrind; by the name of each dump (the kind, or `sign:STEP`), the events
    it counted, by name (Ir: instructions; with the cache simulation also the misses, I1mr, D1mr, D1mw, ILmr,
    DLmr, DLmw)."""
    out = Path(out_dir) / f"callgrind.{kind}.{run}"
    env = {**os.environ, "PYTHONHASHSEED": "0", "LEDGER_ALERTS_SCHEDULER": "false", "PYTHONPATH": str(ROOT)}
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--cache-sim={'yes' if cache_sim else 'no'}",
           f"--callgrind-out-file={out}", sys.executable, "-m", "bench.instructions", "--child", kind,
           "--database-url", url, "--requests-file", requests_file, "--warmup", str(warmup)]
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise SystemExit(f"{kind} under callgrind exited with {p.returncode}:\n{p.stderr[-3000:]}")
    dumps: dict[str, dict[str, int]] = {}
    # one file per dump, numbered in order (`out` itself is the exit's, zero): a name dumped twice means a command
    # reached the process from elsewhere (callgrind_control without a pid talks to every callgrind process)
    for f in sorted(Path(out_dir).glob(f"{out.name}.*"), key=lambda f: int(f.suffix[1:])):
        text = f.read_text()
        name = re.search(r"^desc: Trigger: dump (.*)$", text, re.M)
        events, totals = re.search(r"^events:(.*)$", text, re.M), re.search(r"^totals:(.*)$", text, re.M)
        if name is None or events is None or totals is None:
            raise SystemExit(f"{kind}: no named dump with totals in {f}")
        if name.group(1).strip() in dumps:
            raise SystemExit(f"{kind}: {name.group(1).strip()} was dumped twice ({f}): another callgrind_control "
                             "reached this process; count again")
        dumps[name.group(1).strip()] = dict(zip(events.group(1).split(), map(int, totals.group(1).split()),
                                                strict=True))
    names = [f"sign:{step}" for step in SIGN_LABELS] if kind == "sign" else [kind]
    for name in names:
        if not dumps.get(name, {}).get("Ir"):
            raise SystemExit(f"{kind}: callgrind counted no instructions for {name} (did callgrind_control reach "
                             "it?)")
    return {name: dumps[name] for name in names}


def cycles(ev: dict[str, int]) -> int:
    """callgrind's estimate of cycles from its simulated caches: Ir + 10 × L1 misses + 100 × last-level misses."""
    return (ev["Ir"] + 10 * (ev["I1mr"] + ev["D1mr"] + ev["D1mw"])
            + 100 * (ev["ILmr"] + ev["DLmr"] + ev["DLmw"]))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.split("\n")[0])
    ap.add_argument("--database-url", default=DEFAULT_URL, help="database to (re)create and seed (default "
                    "%(default)s; its name must start with wl_reads)")
    ap.add_argument("--records", type=int, default=50_000, help="journal records to seed (default 50,000)")
    ap.add_argument("--paths", default=",".join(PATHS), help=f"which paths to count (default {','.join(PATHS)})")
    ap.add_argument("--requests", type=int, default=100, help="counted requests per path (default 100)")
    ap.add_argument("--warmup", type=int, default=200, help="requests per path before counting (default 200)")
    ap.add_argument("--sign-warmup", type=int, default=50, help="manifests per step before counting, for `sign` "
                    "(default 50; each counted step has --requests more)")
    ap.add_argument("--repeat", type=int, default=1, help="count each path this many times, to see the spread")
    ap.add_argument("--cache-sim", action="store_true", help="simulate the caches too (about twice as slow) and "
                    "print callgrind's estimate of cycles")
    ap.add_argument("--reuse", action="store_true", help="do not seed: read the database as it is")
    ap.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    ap.add_argument("--json", metavar="FILE", help="also write the counts as JSON to FILE")
    ap.add_argument("--seed", type=int, default=2026, help="random seed (the same requests every run)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--requests-file", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    if a.child:
        child(a.child, a.database_url, a.requests_file, a.warmup)
        return 0
    missing = [tool for tool in ("valgrind", "callgrind_control") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"{' and '.join(missing)} not found: install valgrind (Debian: apt-get install valgrind)")
    kinds = [k for k in a.paths.split(",") if k]
    unknown = [k for k in kinds if k not in PATHS]
    if unknown:
        raise SystemExit(f"unknown path(s) {unknown}: choose from {', '.join(PATHS)}")
    url = a.database_url
    if not make_url(url).database.startswith("wl_reads"):
        raise SystemExit("give a database whose name starts with wl_reads")
    from ledger.db import dispose_engines
    from ledger.migrate import upgrade

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=False).stdout.strip() or None
    rng = random.Random(a.seed)
    say(f"# bench.instructions — {datetime.now():%Y-%m-%d %H:%M:%S}, commit {commit}; {calibrate()}")
    reading = [k for k in kinds if k not in ("weigh", "sign")]
    write_urls: dict[tuple[str, int], str] = {}  # a fresh database per counted run of a path that writes
    try:
        with tempfile.TemporaryDirectory(prefix="wl-instructions-") as tmp:
            files: dict[tuple[str, int], str] = {}
            if reading:
                if not a.reuse:
                    reads.recreate(url)
                    upgrade(url)
                    stats = reads.seed(url, records=a.records, units=max(20, a.records // 1000), rng=rng)
                    say(f"seeded {make_url(url).database}: {stats['journal_records']:,} journal records, "
                        f"{stats['batches']:,} batches, {stats['manifests']:,} manifests in {stats['seconds']} s")
                dispose_engines()
                with psycopg.connect(libpq(url)) as c:
                    gens, recvs, hauls = ([r[0] for r in c.execute(f"SELECT id FROM unit WHERE {role} ORDER BY id")]
                                          for role in ("is_generator", "is_receiver", "is_hauler"))
                sample, rsample, hsample = gens[:16], recvs[:4], hauls[:2]
                toks = reads.tokens(url, sample + rsample + hsample)
                t = reads.targets(url, {u: toks[u] for u in sample}, {u: toks[u] for u in rsample},
                                  {u: toks[u] for u in hsample})
                dispose_engines()
                for kind in reading:
                    path = str(Path(tmp) / f"{kind}.json")
                    Path(path).write_text(json.dumps(_requests_for(kind, t, a.warmup + a.requests,
                                                                   random.Random(f"{a.seed}:{kind}"))))
                    files.update({(kind, run): path for run in range(a.repeat)})
            for kind in [k for k in kinds if k in ("weigh", "sign")]:
                for run in range(a.repeat):
                    db = write_urls[(kind, run)] = ingest.create_database(url, prefix=f"wl_bench_instructions_{kind}"
                                                                                      f"_{run}")
                    upgrade(db)
                    path = str(Path(tmp) / f"{kind}.{run}.json")
                    Path(path).write_text(json.dumps(
                        _weighings(db, a.warmup + a.requests, random.Random(f"{a.seed}:weigh")) if kind == "weigh"
                        else _sign_spec(db, a.sign_warmup + a.requests, f"{a.seed}:sign")))
                    files[(kind, run)] = path
                    dispose_engines()
            jobs = [(kind, run) for run in range(a.repeat) for kind in kinds]
            say(f"counting {', '.join(kinds)} ({a.requests} requests each after {a.warmup} warm-up) under "
                f"callgrind{' with its cache simulation' if a.cache_sim else ''}, {len(jobs)} processes, "
                f"{os.cpu_count()} at a time …")
            t0 = time.perf_counter()
            with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
                counted = dict(zip(jobs, pool.map(lambda j: _count(
                    j[0], write_urls.get(j, url), files[j], a.sign_warmup if j[0] == "sign" else a.warmup, tmp, j[1],
                    a.cache_sim), jobs), strict=True))
            say(f"counted in {time.perf_counter() - t0:.0f} s")
    finally:
        dispose_engines()
        for write_url in write_urls.values():
            ingest.drop_database(write_url)
        if reading and not a.keep and not a.reuse:
            reads.drop(url)
    measure = cycles if a.cache_sim else (lambda ev: ev["Ir"])
    unit = "estimated cycles" if a.cache_sim else "instructions"
    # a row per dump: the kind, or for `sign` each step of the manifest (`sign:STEP`)
    counts = {(name, run): ev for (kind, run), dumps in counted.items() for name, ev in dumps.items()}
    rows = [(name, SIGN_LABELS[name[5:]] if name.startswith("sign:") else PATHS[name])
            for name in dict.fromkeys(name for name, _ in counts)]
    floor = min(measure(counts[("floor", r)]) for r in range(a.repeat)) / a.requests if "floor" in kinds else None
    out: dict = {"bench": "instructions", "commit": commit, "requests": a.requests, "warmup": a.warmup,
                 "sign_warmup": a.sign_warmup, "records": None if a.reuse else a.records, "cache_sim": a.cache_sim,
                 "paths": {}}
    say("")
    say(f"  {'path':<34} {unit + '/request':>26} {'spread':>8} {'× floor':>8}")
    for name, label in rows:
        per = [measure(counts[(name, r)]) / a.requests for r in range(a.repeat)]
        best = min(per)
        spread = (max(per) - best) / best if best else 0.0
        say(f"  {label:<34} {best:>26,.0f} {spread:>7.2%} {best / floor if floor else float('nan'):>8.2f}")
        out["paths"][name] = {"label": label, f"{unit.replace(' ', '_')}_per_request": per,
                              "events_per_request": [{k: v / a.requests for k, v in counts[(name, r)].items()}
                                                     for r in range(a.repeat)]}
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2))
        say(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
