"""A cheap HTTP/1.1 load generator for the benchmarks: raw keep-alive connections over asyncio streams.

httpx's AsyncClient costs about 2 ms of client CPU per request on this machine (request building, header
objects, the connection pool, response decoding), which on two shared cores is CPU taken from the server being
measured. Here each request is encoded to bytes once, before the clock starts; a client task owns one keep-alive
connection and only writes those bytes and reads the status line, the headers and a Content-Length (or chunked)
body. Nothing is decoded unless the status is unexpected.

The connections are opened one after the other, a few milliseconds apart, before the clock starts, as terminals
that come online at different moments. Opened all at once, they land on one uvicorn worker: the workers share one
listening socket, and the one that wakes first accepts the whole burst (a probe with 16 connections and 2 workers:
16 and 0, or 15 and 1, in five tries of five; opened one after the other, 10 and 6 to 8 and 8).

    from bench.loadgen import Request, run
    reqs = [Request.post("/api/v1/batches", body, headers), Request.get("/api/v1/scan/…", headers)]
    result = run("http://127.0.0.1:8000", reqs, clients=16, max_seconds=120, ok=(201,))
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Request:
    raw: bytes  # the whole request, pre-encoded (without Host: added at connect time)
    items: int = 1  # what a success counts for (weighings in a bulk body)
    tag: str = ""  # to split latencies by kind of request

    @classmethod
    def make(cls, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"", *,
             items: int = 1, tag: str = "") -> Request:
        lines = [f"{method} {path} HTTP/1.1", "Host: bench"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items() if k.lower() not in ("host", "content-length")]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        return cls(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body, items, tag)

    @classmethod
    def post(cls, path: str, body: bytes, headers: dict[str, str] | None = None, **kw) -> Request:  # noqa: ANN003
        return cls.make("POST", path, headers, body, **kw)

    @classmethod
    def get(cls, path: str, headers: dict[str, str] | None = None, **kw) -> Request:  # noqa: ANN003
        return cls.make("GET", path, headers, **kw)


@dataclass
class Result:
    wall: float = 0.0
    items: int = 0
    latencies: list[float] = field(default_factory=list)
    by_tag: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    stopped_by_time: bool = False
    client_cpu_s: float = 0.0  # CPU time of this process during the run (the load generator's own cost)
    ok_count: int = 0

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, keep-alive) of one response."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, chunked, close = None, False, False
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        k = k.strip().lower()
        if k == b"content-length":
            length = int(v)
        elif k == b"transfer-encoding" and b"chunked" in v.lower():
            chunked = True
        elif k == b"connection" and v.strip().lower() == b"close":
            close = True
    if chunked:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            parts.append(await reader.readexactly(size + 2))
            if size == 0:
                break
        body = b"".join(p[:-2] for p in parts)
    elif length is not None:
        body = await reader.readexactly(length)
    else:
        body = await reader.read()
        close = True
    return status, body, not close


#: the pause between opening two connections
CONNECT_GAP_S = 0.005


async def _run(base: str, reqs: list[Request], clients: int, max_seconds: float, ok: tuple[int, ...]) -> Result:
    u = urlsplit(base)
    host, port = u.hostname or "127.0.0.1", u.port or 80
    res = Result()
    todo = iter(reqs)
    opened = []
    for _ in range(clients):  # one after the other, so that the server's workers share them (see above)
        opened.append(await asyncio.open_connection(host, port))
        await asyncio.sleep(CONNECT_GAP_S)
    deadline = time.perf_counter() + max_seconds

    async def client(reader: asyncio.StreamReader | None, writer: asyncio.StreamWriter | None) -> None:
        try:
            for req in todo:
                if time.perf_counter() > deadline:
                    res.stopped_by_time = True
                    return
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                t0 = time.perf_counter()
                try:
                    writer.write(req.raw)
                    status, body, keep = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError, ValueError) as e:
                    res.statuses[type(e).__name__] += 1
                    if len(res.failures) < 5:
                        res.failures.append(repr(e))
                    writer.close()
                    reader = writer = None
                    continue
                dt = time.perf_counter() - t0
                res.latencies.append(dt)
                if req.tag:
                    res.by_tag.setdefault(req.tag, []).append(dt)
                res.statuses[status] += 1
                if status in ok:
                    res.items += req.items
                    res.ok_count += 1
                elif len(res.failures) < 5:
                    res.failures.append(f"{status} {body[:400].decode(errors='replace')}")
                if not keep:
                    writer.close()
                    reader = writer = None
        finally:
            if writer is not None:
                writer.close()

    c0 = time.process_time()
    t0 = time.perf_counter()
    await asyncio.gather(*(client(r, w) for r, w in opened))
    res.wall = time.perf_counter() - t0
    res.client_cpu_s = time.process_time() - c0
    res.latencies.sort()
    for v in res.by_tag.values():
        v.sort()
    return res


def run(base: str, reqs: list[Request], *, clients: int, max_seconds: float = 180.0,
        ok: tuple[int, ...] = (200, 201)) -> Result:
    """Send the requests from `clients` concurrent keep-alive connections, as fast as answers come back."""
    try:
        import uvloop

        return uvloop.run(_run(base, reqs, clients, max_seconds, ok))
    except ImportError:
        return asyncio.run(_run(base, reqs, clients, max_seconds, ok))
