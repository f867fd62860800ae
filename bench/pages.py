"""Page latencies of a running ARKG over a generated dataset: every page's p50/p99 and req/s.

    .venv/bin/python bench/pages.py --store DIR --queries DATA/queries.json [--pages 200] [--duration 10]

Starts ``arkg serve --workers 2 --store DIR`` (this checkout's code, on 127.0.0.1, stopped by
PID), picks ``--pages`` distinct pages of each kind (entities from the generator's
``queries.json``; claims, propositions and articles those entities lead to, read with bounded
SPARQL), then for each kind:

- **cold**: each distinct page once, sequentially (no page was built before in this server:
  the figure for a page nobody asked for recently);
- **warm**: the same pages four times more, sequentially (documents and rendered pages are
  memoised per server process, and each of the two uvicorn workers must see a page once);
- **8 conns**: ``--duration`` seconds of 8 keep-alive connections cycling over the pages.

Also ``/``, ``/dumps/``, ``/.well-known/void`` and a browse page, and, as the peer measured in
the same run, ``/sparql`` answering ``SELECT ?p ?o WHERE { <entity> ?p ?o }`` for the same
entities (the cheapest query the server answers: page figures are read as ratios to it).
Prints a table, the date and ``uptime``'s load, and writes JSON to ``--out``. Every wait is
bounded: start-up by 600 s, each request by 60 s, each 8-connection cell by its duration plus 30 s.

The server gets an empty build area (``ARKG_BUILD_DIR``): no ``figures.json``, so the home page's
figures are computed once per version (the first request of each process pays; the table's
p99 of ``home`` shows it), and ``/dumps/`` and ``/.well-known/void`` answer 404 quickly.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load  # noqa: E402
import servers  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BASE = "https://w3id.org/arkg/"
ARKG, RDF, PROV = BASE + "ontology#", "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "http://www.w3.org/ns/prov#"


def start(store: Path, workers: int, log: Path) -> servers.Server:
    port = servers.free_port()
    area = log.parent / "empty-build-area"
    area.mkdir(exist_ok=True)
    env = {"PYTHONPATH": str(ROOT), "ARKG_RATE_LIMIT": "false", "ARKG_VALIDATE_ON_START": "false",
           "ARKG_BUILD_DIR": str(area),
           "ARKG_QUERY_TIMEOUT": "120"}  # start-up counts every graph of the store once
    return servers.Server("arkg-store", [sys.executable, "-m", "server.cli", "serve", "--host", "127.0.0.1",
                                         "--port", str(port), "--workers", str(workers), "--store", str(store)],
                          "/sparql", port, env=env, log=log).start()


def rows(server: servers.Server, query: str) -> list[dict[str, str]]:
    data = json.loads(server.ask(query))
    return [{k: v["value"] for k, v in row.items()} for row in data["results"]["bindings"]]


def path_of(iri: str, ext: str = "html") -> str:
    return "/doc/" + iri[len(BASE) + 3:] + "." + ext


def pick_pages(server: servers.Server, entities: list[str], n: int) -> dict[str, list[str]]:
    """Distinct pages of each kind reached from the entities (bounded queries: LIMIT per entity)."""
    claims, propositions, articles = [], [], []
    for e in entities[:n]:
        for r in rows(server, f"""SELECT ?c ?p ?a WHERE {{ ?c <{RDF}subject> <{e}> ; <{ARKG}aboutProposition> ?p ;
                                  <{PROV}wasDerivedFrom> ?a }} LIMIT 1"""):
            claims.append(r["c"])
            propositions.append(r["p"])
            articles.append(r["a"])
    unique = lambda xs: list(dict.fromkeys(xs))[:n]  # noqa: E731
    return {"entity": [path_of(e) for e in entities[:n]], "claim": [path_of(c) for c in unique(claims)],
            "proposition": [path_of(p) for p in unique(propositions)], "article": [path_of(a) for a in unique(articles)],
            "entity.ttl": [path_of(e, "ttl") for e in entities[:n]],
            "sparql-lookup": ["/sparql?query=" + quote(f"SELECT ?p ?o WHERE {{ <{e}> ?p ?o }}", safe="")
                              for e in entities[:n]]}


def sequential(port: int, paths: list[str]) -> dict:
    """Each path once on one keep-alive connection; latencies of 200 answers."""
    latencies, errors = [], 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for path in paths:
        started = time.perf_counter()
        try:
            conn.request("GET", path, headers={"Accept": "application/sparql-results+json, text/html;q=0.9, */*;q=0.1"})
            response = conn.getresponse()
            response.read()
        except OSError:  # a broken answer counts as an error; the next request gets a new connection
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            continue
        elapsed = time.perf_counter() - started
        if response.status == 200:
            latencies.append(elapsed)
        else:
            errors += 1
    conn.close()
    return {"requests": len(latencies), "errors": errors,
            "p50_ms": round(load._percentile(latencies, 0.5) * 1000, 2),
            "p99_ms": round(load._percentile(latencies, 0.99) * 1000, 2)}


def concurrent(port: int, paths: list[str], conns: int, duration: float) -> dict:
    requests = [(f"GET {quote(p, safe='/?=&.%')} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                 "Accept: application/sparql-results+json, text/html;q=0.9, */*;q=0.1\r\n"
                 "User-Agent: arkg-bench\r\n\r\n").encode("ascii") for p in paths]
    return asyncio.run(load.run_cell("127.0.0.1", port, requests, conns, duration)).summary()


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, required=True, help="On-disk store (arkg build-store / arkg build).")
    parser.add_argument("--queries", type=Path, required=True, help="The generator's queries.json (query_entities).")
    parser.add_argument("--pages", type=int, default=200, help="Distinct pages per kind.")
    parser.add_argument("--duration", type=float, default=10.0, help="Seconds per 8-connection cell.")
    parser.add_argument("--conns", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers of the server.")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "pages.json")
    args = parser.parse_args(argv)

    entities = json.loads(args.queries.read_text())["query_entities"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    server = start(args.store, args.workers, args.out.with_suffix(".log"))
    report = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "store": str(args.store),
              "started_in_s": round(server.started_in, 1), "load_before": uptime(), "pages": {}}
    try:
        pages = pick_pages(server, entities, args.pages)
        pages["home"] = ["/"] * 20
        pages["browse"] = ["/browse/person?page=2"] * 20
        pages["dumps"] = ["/dumps/"] * 20
        pages["void"] = ["/.well-known/void"] * 5
        for kind, paths in pages.items():
            entry = {"distinct": len(set(paths)), "cold": sequential(server.port, paths)}
            entry["warm"] = sequential(server.port, paths * 4)
            entry[f"{args.conns}conns"] = concurrent(server.port, paths, args.conns, args.duration)
            report["pages"][kind] = entry
            print(f"{kind:12} distinct {entry['distinct']:4}  cold p50 {entry['cold']['p50_ms']:7.1f} p99 "
                  f"{entry['cold']['p99_ms']:7.1f}  warm p50 {entry['warm']['p50_ms']:6.1f} p99 {entry['warm']['p99_ms']:6.1f}"
                  f"  {args.conns} conns {entry[f'{args.conns}conns']['rps']:7.1f} req/s "
                  f"(p50 {entry[f'{args.conns}conns']['p50_ms']:.1f}, errors {entry[f'{args.conns}conns']['errors']}"
                  f"+{entry['cold']['errors']})", flush=True)
        report["rss_mb_after"] = round(server.rss_mb())
    finally:
        server.stop()
    report["load_after"] = uptime()
    args.out.write_text(json.dumps(report, indent=1))
    print(report["load_before"], "|", report["load_after"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
