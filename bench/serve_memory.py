"""Memory of `arkg serve --workers 2` over a build against `oxigraph serve-read-only` on the
same store, in one run: tree RSS idle, then after a load of the SPARQL query mix and the
HTML pages (issue 11's targets: under 1 GiB idle, under 2 GiB after load, within 3x of
Oxigraph's RSS).

    .venv/bin/arkg build --data-dir DATA --out AREA
    .venv/bin/python bench/serve_memory.py --data-dir DATA --build-dir AREA [--seconds 20]

Oxigraph opens the build's own store (read-only), so both serve the same bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import load  # noqa: E402
import servers  # noqa: E402
from queries import ACCEPT, JSON, QUERIES  # noqa: E402


def measure(server: servers.Server, entities: list[str], seconds: float, *, pages: bool) -> dict:
    server.start()
    try:
        time.sleep(3)
        idle = server.rss_mb()
        peak = idle
        host, port = "127.0.0.1", server.port
        for name, make in QUERIES.items():
            queries = [make(e) for e in entities]
            requests = load.get_requests(host, port, server.path, queries, ACCEPT.get(name, JSON))
            for concurrency in (8, 32):
                cell = asyncio.run(load.run_cell(host, port, requests, concurrency, seconds))
                peak = max(peak, server.rss_mb())
                print(f"  {server.name} {name} x{concurrency}: {cell.summary()}", file=sys.stderr, flush=True)
        if pages:
            paths = [f"/doc/{e.split('/id/', 1)[1]}" for e in entities] + ["/", "/dumps/", "/.well-known/void"]
            for path in paths[:50]:
                raw = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/html\r\n\r\n").encode()
                asyncio.run(load.run_cell(host, port, [raw], 4, 0.5))
            peak = max(peak, server.rss_mb())
        after = server.rss_mb()
        return {"idle_mib": round(idle), "after_load_mib": round(after), "peak_sampled_mib": round(peak),
                "started_in_s": round(server.started_in, 1)}
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--build-dir", type=Path, help="The build area (arkg build --out) holding the data's build.")
    parser.add_argument("--store", type=Path, help="Instead of a build: an on-disk store (arkg serve --store).")
    parser.add_argument("--seconds", type=float, default=20.0, help="Per load cell.")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE.parent))
    from server.publish.build import current

    if args.store:
        store, logs = args.store, Path(tempfile.mkdtemp(prefix="serve-memory-"))
        arkg = servers.arkg(store=store, workers=2, log=logs / "arkg.log")
    else:
        layout = current(args.build_dir, args.data_dir)
        if layout is None:
            raise SystemExit(f"no up-to-date build of {args.data_dir} in {args.build_dir}; run arkg build first")
        store, logs = layout.store, args.build_dir / "logs"
        logs.mkdir(exist_ok=True)
        arkg = servers.arkg(data_dir=args.data_dir, workers=2, log=logs / "arkg.log",
                            env={"ARKG_BUILD_DIR": str(args.build_dir)})
    meta = json.loads((args.data_dir / "queries.json").read_text())
    entities = meta["query_entities"][:64]
    oxigraph = servers.oxigraph(store, log=logs / "oxigraph.log")
    uptime = os.getloadavg()
    results = {"date": time.strftime("%Y-%m-%d %H:%M"), "load_average": [round(x, 1) for x in uptime],
               "data": str(args.data_dir), "store": str(store), "arkg": measure(arkg, entities, args.seconds, pages=True),
               "oxigraph": measure(oxigraph, entities, args.seconds, pages=False)}
    results["ratio_after_load"] = round(results["arkg"]["after_load_mib"] / max(1, results["oxigraph"]["after_load_mib"]), 2)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
