"""Bounded load test of a real `arkg serve`: many clients, a mix of requests, runaway queries in flight.

    .venv/bin/python bench/load_test.py                      # 64 connections, 30 s (bench/README.md)
    .venv/bin/python bench/load_test.py --connections 16 --duration 5   # the variant in the test suite

Traffic, all on 127.0.0.1, each connection a client of its own (X-Forwarded-For, trusted
from 127.0.0.1 for this server only) so the per-client limits stay on as in production:

- cheap SPARQL queries (most connections), entity pages (``/id/...`` -> ``/doc/...``, HTML),
  and dump downloads (``/dumps/<version>/...``) where the server has them;
- ``--runaway`` connections from one abusive client, each sending a query that never ends
  on its own; the server must stop each at ``--query-timeout`` (503) or refuse it (429:
  that client already holds its share of the workers).

Reports errors among the well-formed requests (must be 0), how the runaway ones ended and
how long they took, the p50/p99 latency of each kind, and the peak RSS of the server
process tree (server processes and query workers), sampled every 0.25 s.
Reuses bench/load.py (the closed-loop client) and bench/servers.py (process and RSS).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import load  # noqa: E402
import servers  # noqa: E402

CHEAP = [
    "ASK { ?s ?p ?o }",
    "SELECT ?s ?label WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?label } LIMIT 10",
    "SELECT (COUNT(*) AS ?n) WHERE { GRAPH <https://w3id.org/arkg/graph/sources> { ?s ?p ?o } }",
    "SELECT ?type (COUNT(?s) AS ?n) WHERE { GRAPH <https://w3id.org/arkg/graph/entities> { ?s a ?type } } GROUP BY ?type",
    "SELECT ?p ?o WHERE { ?s ?p ?o } LIMIT 20",
]
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
ABUSER = "192.0.2.66"


def _client(i: int) -> str:
    """A distinct private address per connection (10.0.0.1, 10.0.0.2, ...)."""
    i += 1
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def _get(host: str, port: int, target: str, accept: str, client: str) -> bytes:
    return (f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: {accept}\r\n"
            f"X-Forwarded-For: {client}\r\nUser-Agent: arkg-load-test\r\n\r\n").encode("ascii")


def _targets(server: servers.Server) -> tuple[list[str], list[str]]:
    """Entity page paths and dump file paths this server has (either may be empty)."""
    import httpx

    base = f"http://127.0.0.1:{server.port}"
    rows = httpx.get(base + "/sparql", params={"query": (
        "SELECT DISTINCT ?s WHERE { GRAPH <https://w3id.org/arkg/graph/entities> { ?s ?p ?o } "
        "FILTER(STRSTARTS(STR(?s), \"https://w3id.org/arkg/id/\")) } LIMIT 40")},
        headers={"Accept": "application/sparql-results+json"}, timeout=30).json()["results"]["bindings"]
    pages = []
    for row in rows:
        path = "/" + row["s"]["value"].removeprefix("https://w3id.org/arkg/")
        response = httpx.get(base + path, headers={"Accept": "text/html"}, follow_redirects=False, timeout=30)
        if response.status_code in (302, 303) and response.headers.get("location"):
            target = urlsplit(response.headers["location"])
            pages.append(target.path + (f"?{target.query}" if target.query else ""))
    dumps = []
    latest = httpx.get(base + "/dumps/latest/", follow_redirects=True, timeout=60,
                       headers={"Accept": "application/json"})
    if latest.status_code == 200:
        version_path = urlsplit(str(latest.url)).path
        for name in ("arkg.nt.gz", "arkg.ttl", "void.ttl"):
            if httpx.head(base + version_path + name, timeout=30).status_code == 200:
                dumps.append(version_path + name)
    return pages, dumps


async def _runaways(port: int, count: int, duration: float) -> list[tuple[int, float]]:
    """``count`` connections of the abusive client sending the runaway query for ``duration`` s."""
    import httpx

    outcomes: list[tuple[int, float]] = []
    deadline = time.monotonic() + duration

    async def one(client: httpx.AsyncClient):
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                response = await client.get("/sparql", params={"query": RUNAWAY})
                outcomes.append((response.status_code, time.monotonic() - started))
            except httpx.HTTPError:
                outcomes.append((0, time.monotonic() - started))
            if outcomes[-1][0] == 429:
                await asyncio.sleep(0.5)

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120,
                                 headers={"X-Forwarded-For": ABUSER}) as client:
        await asyncio.gather(*(one(client) for _ in range(count)))
    return outcomes


async def _sample_rss(server: servers.Server, stop: asyncio.Event, peak: list[float]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], await asyncio.to_thread(server.rss_mb))
        try:
            await asyncio.wait_for(stop.wait(), 0.25)
        except asyncio.TimeoutError:
            pass


async def _drive(server: servers.Server, connections: int, duration: float, runaway: int) -> dict:
    host, port = "127.0.0.1", server.port
    pages, dumps = await asyncio.to_thread(_targets, server)
    n_dumps = min(4, connections // 16) if dumps else 0
    n_pages = connections // 8 if pages else 0
    n_cheap = connections - runaway - n_dumps - n_pages
    groups = {"cheap-query": (n_cheap, [f"/sparql?query={quote(q, safe='')}" for q in CHEAP],
                              "application/sparql-results+json"),
              "entity-page": (n_pages, pages, "text/html"),
              "dump": (n_dumps, dumps, "*/*")}
    cells, offset = {}, 0
    for kind, (n, targets, accept) in groups.items():
        if n <= 0:
            continue
        # run_cell gives connection k the requests k, k+n, k+2n...: one client address per connection.
        requests = [_get(host, port, targets[j % len(targets)], accept, _client(offset + j % n))
                    for j in range(n * max(len(targets), 1))]
        cells[kind] = (n, requests)
        offset += n
    stop, peak = asyncio.Event(), [server.rss_mb()]
    sampler = asyncio.ensure_future(_sample_rss(server, stop, peak))
    started = time.monotonic()
    results = await asyncio.gather(
        *(load.run_cell(host, port, requests, n, duration) for n, requests in cells.values()),
        _runaways(port, runaway, duration))
    stop.set()
    await sampler
    outcomes = results[-1]
    report = {"connections": connections, "duration_s": duration, "wall_s": round(time.monotonic() - started, 1),
              "peak_rss_mb": round(peak[0], 1), "kinds": {}}
    for kind, cell in zip(cells, results[:-1]):
        report["kinds"][kind] = {"connections": cells[kind][0], **cell.summary()}
    report["well_formed_requests"] = sum(k["requests"] for k in report["kinds"].values())
    report["well_formed_errors"] = sum(k["errors"] + k["unfinished"] for k in report["kinds"].values())
    statuses: dict[str, int] = {}
    for status, _ in outcomes:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    report["runaway"] = {"connections": runaway, "answers": statuses,
                         "longest_s": round(max((s for _, s in outcomes), default=0.0), 2)}
    return report


def run(connections: int = 64, duration: float = 30.0, runaway: int = 4, query_timeout: float = 5.0,
        workers: int = 2, query_workers: int = 2, log: Path | None = None) -> dict:
    """Start a server, drive it, stop it; returns the report (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="arkg-load-") as tmp:
        port = servers.free_port()
        server = servers.Server(
            "arkg", [str(servers.BIN / "arkg"), "serve", "--host", "127.0.0.1", "--port", str(port),
                     "--workers", str(workers), "--query-workers", str(query_workers),
                     "--query-timeout", str(query_timeout)], "/sparql", port,
            env={"ARKG_RATE_LIMIT": "true", "ARKG_FORWARDED_ALLOW_IPS": "127.0.0.1",
                 "ARKG_DUMPS_DIR": str(Path(tmp) / "dumps")}, startup=300, log=log)
        server.start()
        try:
            report = asyncio.run(_drive(server, connections, duration, runaway))
        finally:
            server.stop()
        report.update(query_timeout_s=query_timeout, server_processes=workers, query_workers_per_process=query_workers)
        return report


FAIR_CHEAP = "ASK { ?s ?p ?o }"  # not a bounded lookup (sparql/bounded.py): it goes to a query worker


async def _runaway_clients(port: int, k: int, duration: float) -> list[tuple[int, float, str]]:
    """``k`` clients (one address each), each with one runaway query in flight at a time."""
    import httpx

    outcomes: list[tuple[int, float, str]] = []
    deadline = time.monotonic() + duration

    async def one(i: int):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120,
                                     headers={"X-Forwarded-For": f"192.0.2.{i + 1}"}) as client:
            while time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    response = await client.get("/sparql", params={"query": RUNAWAY})
                    outcomes.append((response.status_code, time.monotonic() - started, response.text[:200]))
                except httpx.HTTPError as exc:
                    outcomes.append((0, time.monotonic() - started, str(exc)))
                if outcomes[-1][0] == 429:
                    await asyncio.sleep(1.0)

    await asyncio.gather(*(one(i) for i in range(k)))
    return outcomes


def _latencies(cell) -> dict:
    ordered = sorted(cell.latencies)
    return {"answered": cell.requests, "errors": cell.errors + cell.unfinished,
            "p50_ms": round(cell.p50_ms, 1), "p99_ms": round(cell.p99_ms, 1),
            "max_ms": round(ordered[-1] * 1000, 1) if ordered else 0.0,
            **({"first_error": cell.first_error} if cell.first_error else {})}


async def _drive_fair(server: servers.Server, k: int, duration: float) -> dict:
    host, port = "127.0.0.1", server.port
    pages, _ = await asyncio.to_thread(_targets, server)
    cheap = [_get(host, port, f"/sparql?query={quote(FAIR_CHEAP, safe='')}", "application/sparql-results+json",
                  "198.51.100.1")]
    page_requests = [_get(host, port, path, "text/html", "198.51.100.2") for path in pages]
    cells = await asyncio.gather(load.run_cell(host, port, cheap, 1, duration),
                                 load.run_cell(host, port, page_requests, 1, duration),
                                 _runaway_clients(port, k, duration))
    outcomes = cells[2]
    statuses: dict[str, int] = {}
    reasons: dict[str, int] = {}
    for status, _, text in outcomes:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        reason = ("preempted" if "free a query worker" in text else "waited" if "became free" in text
                  else "time limit" if "time limit" in text
                  else "budget" if "share of query time" in text else "concurrency" if "queries running" in text
                  else "other")
        reasons[reason] = reasons.get(reason, 0) + 1
    return {"k": k, "cheap_ask": _latencies(cells[0]), "entity_page": _latencies(cells[1]),
            "runaway": {"answers": statuses, "reasons": reasons,
                        "longest_s": round(max((s for _, s, _ in outcomes), default=0.0), 2)}}


def fair_share(ks: list[int], duration: float = 20.0, query_timeout: float = 5.0, query_workers: int = 2,
               log: Path | None = None) -> list[dict]:
    """For each K: K clients each with one runaway query in flight, one client sending a cheap
    ASK and one reading entity pages (each closed loop, one connection): how the cheap ones
    fare. The server runs as in production, over the on-disk store of an `arkg build` (made
    first, in a temporary build area): a stopped worker's replacement opens it in milliseconds."""
    import subprocess

    reports = []
    with tempfile.TemporaryDirectory(prefix="arkg-fair-") as tmp:
        subprocess.run([str(servers.BIN / "arkg"), "build", "--out", tmp], check=True, timeout=1800,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for k in ks:
            port = servers.free_port()
            server = servers.Server(
                "arkg", [str(servers.BIN / "arkg"), "serve", "--host", "127.0.0.1", "--port", str(port),
                         "--workers", "1", "--query-workers", str(query_workers),
                         "--query-timeout", str(query_timeout)], "/sparql", port,
                env={"ARKG_RATE_LIMIT": "true", "ARKG_FORWARDED_ALLOW_IPS": "127.0.0.1", "ARKG_BUILD_DIR": tmp},
                startup=300, log=log)
            server.start()
            try:
                report = asyncio.run(_drive_fair(server, k, duration))
            finally:
                server.stop()
            report.update(query_timeout_s=query_timeout, query_workers=query_workers, duration_s=duration)
            reports.append(report)
    return reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--runaway", type=int, default=4, help="connections sending a never-ending query")
    parser.add_argument("--query-timeout", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--query-workers", type=int, default=2, help="query workers per server process")
    parser.add_argument("--out", type=Path, help="also write the report here (JSON)")
    parser.add_argument("--fair-share", help="instead: K runaway clients vs one cheap client, for each K "
                        "in this comma-separated list (e.g. 2,4,8); --duration per K")
    args = parser.parse_args()
    if args.fair_share:
        reports = fair_share([int(k) for k in args.fair_share.split(",")], args.duration, args.query_timeout,
                             args.query_workers)
        text = json.dumps(reports, indent=2)
        print(text)
        if args.out:
            args.out.write_text(text + "\n")
        for r in reports:
            print(f"K={r['k']}: cheap ASK p99 {r['cheap_ask']['p99_ms']} ms (max {r['cheap_ask']['max_ms']}), "
                  f"entity page p99 {r['entity_page']['p99_ms']} ms (max {r['entity_page']['max_ms']}), "
                  f"runaways {r['runaway']['answers']} {r['runaway']['reasons']}, longest {r['runaway']['longest_s']} s",
                  file=sys.stderr)
        sys.exit(0)
    report = run(args.connections, args.duration, args.runaway, args.query_timeout, args.workers, args.query_workers)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    sys.exit(0 if report["well_formed_errors"] == 0 else 1)


if __name__ == "__main__":
    main()
