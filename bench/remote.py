"""ARKG in front of an external engine: `arkg load` time and query latency through ARKG vs direct.

For each engine (Debian's Virtuoso; `oxigraph serve`), in one run: start it on 127.0.0.1 with a
fresh database, load a generated dataset with server/publish/load.py (what `arkg load` runs),
start `arkg serve --remote URL`, then send the bench queries (queries.py) for the dataset's
query entities alternately straight to the engine and through ARKG's /sparql, one at a time,
and report p50/p99 of each and their ratio. Engines stop by PID at the end.

    .venv/bin/python bench/remote.py --data /work/data/1m/dataset [--engines virtuoso,oxigraph]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from queries import QUERIES  # noqa: E402
from server.publish import load as loading  # noqa: E402
from tests.conftest import LiveServer  # noqa: E402  (the engines' and ARKG's launchers are the tests')
from tests.engine_servers import OxigraphServer, Virtuoso, oxigraph_missing, virtuoso_missing  # noqa: E402

ENGINES = {"virtuoso": (Virtuoso, virtuoso_missing), "oxigraph": (OxigraphServer, oxigraph_missing)}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def engine_dataset(engine) -> list[tuple[str, str]]:
    """The dataset parameters a direct client needs for ARKG's answers: none when the engine's
    default graph is the union already, else every named graph (what ARKG sends too)."""
    ask = httpx.post(engine.query_url, data={"query": "ASK { ?s ?p ?o }"},
                     headers={"Accept": "application/sparql-results+json"}, timeout=60)
    if ask.json().get("boolean"):
        return []
    rows = httpx.post(engine.query_url, data={"query": "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"},
                      headers={"Accept": "application/sparql-results+json"}, timeout=600).json()
    graphs = sorted(b["g"]["value"] for b in rows["results"]["bindings"])
    return [("default-graph-uri", g) for g in graphs] + [("named-graph-uri", g) for g in graphs]


def measure(engine, arkg_url: str, entities: list[str], *, rounds: int) -> dict:
    direct, through = httpx.Client(timeout=60), httpx.Client(timeout=60)
    dataset = engine_dataset(engine)
    out = {}
    for name, make in QUERIES.items():
        times = {"direct": [], "arkg": []}
        rows = {}
        for i in range(rounds):
            for entity in entities:
                query = make(entity)
                order = (("direct", "arkg") if i % 2 == 0 else ("arkg", "direct"))
                for who in order:
                    started = time.perf_counter()
                    if who == "direct":
                        r = direct.post(engine.query_url, content=urlencode([("query", query), *dataset]),
                                        headers={"Accept": "application/sparql-results+json",
                                                 "Content-Type": "application/x-www-form-urlencoded"})
                    else:
                        r = through.get(arkg_url + "/sparql", params={"query": query},
                                        headers={"Accept": "application/sparql-results+json"})
                    times[who].append(time.perf_counter() - started)
                    r.raise_for_status()
                    rows.setdefault(who, 0)
                    rows[who] += len(r.json()["results"]["bindings"])
        out[name] = {who: {"p50_ms": round(statistics.median(t) * 1000, 2), "p99_ms": round(_pct(t, 0.99) * 1000, 2)}
                     for who, t in times.items()}
        out[name]["ratio_p50"] = round(out[name]["arkg"]["p50_ms"] / out[name]["direct"]["p50_ms"], 2)
        out[name]["rows_agree"] = rows.get("direct") == rows.get("arkg")
    direct.close()
    through.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a generated dataset directory (bench/generate.py)")
    parser.add_argument("--engines", default="virtuoso,oxigraph")
    parser.add_argument("--entities", type=int, default=64, help="query entities used (from queries.json)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--scratch", type=Path, default=None)
    args = parser.parse_args()
    entities = json.loads((args.data / "queries.json").read_text())["query_entities"][: args.entities]
    scratch = Path(tempfile.mkdtemp(prefix="arkg-bench-remote-", dir=args.scratch))
    source = loading.open_source(build_dir=scratch / "no-build", data_dir=args.data)
    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "data": str(args.data),
               "triples": sum(source.graph_counts().values()), "engines": {}}
    try:
        for name in args.engines.split(","):
            start, missing = ENGINES[name]
            if missing():
                print(f"{name}: skipped ({missing()})", flush=True)
                continue
            with start(scratch / name) as engine:
                target = loading.Target(engine.query_url, engine.graph_store_url, engine.user, engine.password)
                load_avg = os.getloadavg()[0]
                report = loading.load(source, target, state_path=scratch / f"{name}-state.json")
                row = {"load_s": round(report.seconds, 1), "triples_per_s": round(report.sent_triples / report.seconds),
                       "verified": not report.mismatches, "loadavg_at_load": round(load_avg, 1)}
                print(name, row, flush=True)
                server = LiveServer("--remote", engine.query_url, "--query-timeout", "30", startup=300)
                try:
                    row["queries"] = measure(engine, server.url, entities, rounds=args.rounds)
                finally:
                    server.stop()
                row["loadavg_after"] = round(os.getloadavg()[0], 1)
                print(name, json.dumps(row["queries"]), flush=True)
                results["engines"][name] = row
    finally:
        source.close()
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
