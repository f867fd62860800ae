"""A small closed-loop HTTP/1.1 load client: N keep-alive connections, each sending its next
request as soon as the previous answer is read, for a bounded time.

Why not httpx or aiohttp: the client shares the machine's two cores with the server under
test, so every microsecond it spends per request is taken from the server. A bare asyncio
protocol on uvloop that writes a prebuilt request and parses only the status line and the
framing costs a fraction of a general-purpose client (its own CPU time is measured and
reported with every cell).

>>> _percentile([1.0, 2.0, 3.0, 4.0], 0.5), _percentile([1.0, 2.0, 3.0, 4.0], 0.99)
(2.0, 4.0)
"""

from __future__ import annotations

import asyncio
import resource
import time
from dataclasses import dataclass, field
from urllib.parse import quote


@dataclass
class Cell:
    """The outcome of one (server, query, concurrency) run."""
    requests: int = 0  # answered with 200 within the measured window
    errors: int = 0  # non-200 answers or broken connections
    unfinished: int = 0  # still waiting when the grace period ran out
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list, repr=False)
    client_cpu: float = 0.0  # CPU seconds the client itself used
    first_error: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def p50_ms(self) -> float:
        return _percentile(self.latencies, 0.50) * 1000

    @property
    def p99_ms(self) -> float:
        return _percentile(self.latencies, 0.99) * 1000

    def summary(self) -> dict:
        return {"rps": round(self.rps, 1), "p50_ms": round(self.p50_ms, 2), "p99_ms": round(self.p99_ms, 2),
                "requests": self.requests, "errors": self.errors, "unfinished": self.unfinished,
                "client_cpu_share": round(self.client_cpu / self.seconds, 3) if self.seconds else 0.0,
                **({"first_error": self.first_error} if self.first_error else {})}


def _percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q`` percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-int(q * len(ordered) * 1000) // 1000))  # ceil(q * n) without float surprises
    return ordered[min(len(ordered), rank) - 1]


def get_requests(host: str, port: int, path: str, queries: list[str],
                 accept: str = "application/sparql-results+json") -> list[bytes]:
    """Prebuilt ``GET path?query=...`` requests, one per query, for keep-alive connections."""
    return [(f"GET {path}?query={quote(q, safe='')} HTTP/1.1\r\nHost: {host}:{port}\r\n"
             f"Accept: {accept}\r\nUser-Agent: arkg-bench\r\n\r\n").encode("ascii") for q in queries]


class _BadResponse(Exception):
    pass


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, keep-alive) of one HTTP/1.1 response."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    try:
        status = int(lines[0].split(b" ", 2)[1])
    except (IndexError, ValueError):
        raise _BadResponse(f"bad status line {lines[0][:80]!r}") from None
    length, chunked, keep = None, False, True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and b"close" in value.lower():
            keep = False
    if chunked:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers expected; the final CRLF
                break
            parts.append(await reader.readexactly(size + 2))
        return status, b"".join(p[:-2] for p in parts), keep
    if length is not None:
        return status, await reader.readexactly(length), keep
    return status, await reader.read(), False


class _Window:
    """When measuring stops; set once every connection is open."""
    deadline = float("inf")


async def _connection(host: str, port: int, requests: list[bytes], first: int, stride: int, window: _Window,
                      cell: Cell, ready: asyncio.Event, opened: list) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    opened.append(writer)
    await ready.wait()
    deadline, i = window.deadline, first
    try:
        while time.perf_counter() < deadline:
            request = requests[i % len(requests)]
            i += stride
            sent = time.perf_counter()
            writer.write(request)
            try:
                status, body, keep = await _read_response(reader)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, _BadResponse) as exc:
                cell.errors += 1
                cell.first_error = cell.first_error or f"{type(exc).__name__}: {exc}"
                keep, status, body = False, 0, b""
            done = time.perf_counter()
            if status == 200:
                cell.latencies.append(done - sent)  # one that ends after the window still has a latency
                if done <= deadline:
                    cell.requests += 1
            elif status:
                cell.errors += 1
                cell.first_error = cell.first_error or f"HTTP {status}: {body[:200]!r}"
            if not keep:
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()


async def run_cell(host: str, port: int, requests: list[bytes], concurrency: int, duration: float,
                   grace: float = 30.0) -> Cell:
    """Keep ``concurrency`` connections busy for ``duration`` seconds; at most ``grace`` s more
    for the answers still in flight, after which they are abandoned and counted as unfinished."""
    cell, ready, opened, window = Cell(), asyncio.Event(), [], _Window()
    tasks = [asyncio.ensure_future(_connection(host, port, requests, k, concurrency, window, cell, ready, opened))
             for k in range(concurrency)]
    for _ in range(500):  # connections open outside the window: up to 5 s
        if len(opened) >= concurrency or any(t.done() for t in tasks):
            break
        await asyncio.sleep(0.01)
    start_cpu = resource.getrusage(resource.RUSAGE_SELF)
    window.deadline = time.perf_counter() + duration
    ready.set()
    done, pending = await asyncio.wait(tasks, timeout=duration + grace)
    end_cpu = resource.getrusage(resource.RUSAGE_SELF)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    cell.unfinished = len(pending)
    for task in done:
        if task.exception() is not None:
            cell.errors += 1
            cell.first_error = cell.first_error or f"{type(task.exception()).__name__}: {task.exception()}"
    cell.seconds = duration
    cell.client_cpu = (end_cpu.ru_utime - start_cpu.ru_utime) + (end_cpu.ru_stime - start_cpu.ru_stime)
    return cell
