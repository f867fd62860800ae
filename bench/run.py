"""Serve the same generated claims graph three ways and measure them in one run.

    .venv/bin/python bench/run.py --sizes 100k,1m

For each size: generate the data (seeded; reused when already there), build ARKG's on-disk
store and load Oxigraph's, start the three servers, check that their answers agree, then
run every (query, connections) cell for ``--duration`` seconds on each server in turn,
``--rounds`` times with the servers interleaved (an idle server uses no CPU; interleaving
spreads this shared machine's slow spells over all three), and report the median.
Prints Markdown tables with ratios to ``oxigraph serve-read-only`` and writes the figures
to ``bench/results/<size>.json``. Every wait is bounded; servers are stopped by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import generate  # noqa: E402
import load  # noqa: E402
import servers  # noqa: E402
from queries import QUERIES  # noqa: E402

TARGETS = {("lookup", "oxigraph"): 0.4, ("claims", "oxigraph"): 0.8, ("lookup", "rdflib"): 5.0, ("claims", "rdflib"): 5.0}
TARGET_CONNS = 8


def parse_size(text: str) -> int:
    """``100k`` -> 100000, ``1m`` -> 1000000.

    >>> parse_size("100k"), parse_size("1M"), parse_size("2500")
    (100000, 1000000, 2500)
    """
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * scale)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def prepare(size: str, data_root: Path, seed: int) -> dict:
    """Data directory, ARKG store and Oxigraph store for ``size``, built only when missing."""
    from server.publish import build as builder
    from server.engine.dataset import dataset_files, dataset_version

    root = data_root / size
    dataset, build_area, ox_store = root / "dataset", root / "build", root / "oxigraph-store"
    timings = {}
    meta_path = dataset / "queries.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if (meta.get("requested"), meta.get("seed"), meta.get("generator")) != (parse_size(size), seed,
                                                                             generate.GENERATOR_VERSION):
        log(f"{size}: generating the claims graph")
        for stale in (dataset / "graphs", build_area, ox_store, root / "oxigraph-store.version"):
            if stale.exists():
                subprocess.run(["rm", "-rf", "--", str(stale)], check=True)
        meta = generate.generate(parse_size(size), dataset, seed)
        timings["generate_s"] = meta["seconds"]
    version = dataset_version(dataset_files(dataset))
    if builder.current(build_area, dataset) is None:
        log(f"{size}: arkg build")
        timings["arkg_build_s"] = round(builder.build(build_area, dataset).seconds, 1)
    arkg_store = builder.current(build_area, dataset).store
    ox_marker = root / "oxigraph-store.version"
    if not ox_marker.exists() or ox_marker.read_text().strip() != version:
        if ox_store.exists():
            subprocess.run(["rm", "-rf", "--", str(ox_store)], check=True)
        log(f"{size}: oxigraph load")
        started = time.monotonic()
        files = sorted(str(p) for p in (dataset / "graphs").rglob("*.nq"))
        subprocess.run([str(servers.BIN / "oxigraph"), "load", "--location", str(ox_store), "--file", *files],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800)
        # Compacted, as `arkg build` leaves its store: neither server pays for a fresh load's layout.
        subprocess.run([str(servers.BIN / "oxigraph"), "optimize", "--location", str(ox_store)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800)
        timings["oxigraph_load_s"] = round(time.monotonic() - started, 1)
        ox_marker.write_text(version + "\n")
    return {"root": root, "dataset": dataset, "arkg_store": arkg_store, "build": build_area, "oxigraph_store": ox_store,
            "meta": meta, "timings": timings,
            "files": sorted((dataset / "graphs").rglob("*.nq"))}


def make_server(name: str, data: dict, logs: Path, arkg_workers: int) -> servers.Server:
    log_file = logs / f"{name}.log"
    if name == "arkg":
        return servers.arkg(data_dir=data["dataset"], workers=arkg_workers, log=log_file,
                            env={"ARKG_BUILD_DIR": str(data["build"])})  # serves the build made above
    if name == "arkg-store":
        return servers.arkg(store=data["arkg_store"], workers=arkg_workers, log=log_file)
    if name == "oxigraph":
        return servers.oxigraph(data["oxigraph_store"], log=log_file)
    if name == "rdflib":
        return servers.rdflib_endpoint(data["files"], log=log_file)
    raise SystemExit(f"unknown server {name!r}; use arkg, arkg-store, oxigraph, rdflib")


def answer_rows(server: servers.Server, query: str) -> int:
    return len(json.loads(server.ask(query, timeout=120))["results"]["bindings"])


def settle(server: servers.Server, limit: float = 180.0) -> None:
    """Wait (bounded) until the server answers a cheap query quickly: work queued by the
    previous cell (rdflib-endpoint evaluates on its event loop) must not leak into the next."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            server.ask("ASK { ?s ?p ?o }", timeout=limit)
        except OSError:
            time.sleep(0.5)
            continue
        if time.monotonic() - started < 0.5:
            return


def check_answers(started: list[servers.Server], entities: list[str], queries: list[str]) -> dict:
    """Row counts of each query for a few entities on every server; they must agree."""
    rows = {s.name: {q: [answer_rows(s, QUERIES[q](e)) for e in entities[:3]] for q in queries} for s in started}
    reference = rows.get("oxigraph") or next(iter(rows.values()))
    for name, got in rows.items():
        for q in queries:
            if got[q] != reference[q]:
                log(f"WARNING {name} {q}: rows {got[q]} differ from {reference[q]}")
    return rows


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def bench_all(started: list[servers.Server], entities: list[str], queries: list[str], conns: list[int],
              duration: float, warmup: float, rounds: int) -> dict:
    """Every cell on every server, servers interleaved within each round (in a rotating order),
    so that a slow spell of this shared machine lands on all of them rather than on one."""
    cells: dict[str, dict[str, list[dict]]] = {s.name: {} for s in started}
    for q in queries:
        requests = {s.name: load.get_requests("127.0.0.1", s.port, s.path, [QUERIES[q](e) for e in entities])
                    for s in started}
        if warmup:
            for s in started:
                asyncio.run(load.run_cell("127.0.0.1", s.port, requests[s.name], 8, warmup))
                settle(s)
        for c in conns:
            for r in range(rounds):
                for s in started[r % len(started):] + started[:r % len(started)]:
                    cell = asyncio.run(load.run_cell("127.0.0.1", s.port, requests[s.name], c, duration))
                    cells[s.name].setdefault(f"{q}@{c}", []).append(cell.summary())
                    log(f"{s.name:9} {q:7} c={c:<3} round {r + 1}: {cell.rps:9.1f} req/s  p50 {cell.p50_ms:8.2f} ms  "
                        f"p99 {cell.p99_ms:8.2f} ms  errors {cell.errors + cell.unfinished}  "
                        f"client CPU {cell.client_cpu / duration:.0%}")
                    settle(s)
    out: dict[str, dict] = {}
    for name, by_cell in cells.items():
        out[name] = {}
        for key, runs in by_cell.items():
            out[name][key] = {"rps": round(median([x["rps"] for x in runs]), 1),
                              "p50_ms": round(median([x["p50_ms"] for x in runs]), 2),
                              "p99_ms": round(median([x["p99_ms"] for x in runs]), 2),
                              "errors": sum(x["errors"] + x["unfinished"] for x in runs),
                              "client_cpu_share": round(median([x["client_cpu_share"] for x in runs]), 3),
                              "rounds": runs}
    return out


def table(size: str, report: dict, queries: list[str], conns: list[int]) -> str:
    names = list(report["servers"])
    base = report["servers"].get("oxigraph")
    lines = [f"### {size}: {report['triples']:,} triples", "",
             "| query | conns | server | req/s | p50 ms | p99 ms | x oxigraph | errors | client CPU |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for q in queries:
        for c in conns:
            key = f"{q}@{c}"
            for name in names:
                cell = report["servers"][name]["cells"].get(key)
                if cell is None:
                    continue
                ratio = ""
                if base and base["cells"].get(key, {}).get("rps"):
                    ratio = f"{cell['rps'] / base['cells'][key]['rps']:.2f}"
                lines.append(f"| {q} | {c} | {name} | {cell['rps']:.0f} | {cell['p50_ms']:.2f} | {cell['p99_ms']:.2f} "
                             f"| {ratio} | {cell['errors']} | {cell['client_cpu_share']:.0%} |")
    lines.append("")
    lines += [f"Servers: " + ", ".join(f"{n} started in {s['started_in_s']} s, {s['rss_mb']:.0f} MiB resident after the run"
                                       for n, s in report["servers"].items())]
    return "\n".join(lines)


def verdicts(report: dict) -> list[str]:
    out = []
    for mine in ("arkg", "arkg-store"):
        ours = report["servers"].get(mine)
        for (q, other), target in TARGETS.items():
            theirs = report["servers"].get(other)
            key = f"{q}@{TARGET_CONNS}"
            if not ours or not theirs or key not in ours.get("cells", {}) or key not in theirs.get("cells", {}):
                continue
            ratio = ours["cells"][key]["rps"] / max(theirs["cells"][key]["rps"], 1e-9)
            out.append(f"{q} at {TARGET_CONNS} conns: {mine} = {ratio:.2f}x {other} (target >= {target}x): "
                       + ("met" if ratio >= target else "NOT met"))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ARKG vs oxigraph serve-read-only vs rdflib-endpoint.")
    parser.add_argument("--sizes", default="100k", help="Comma-separated dataset sizes in triples (100k,1m).")
    parser.add_argument("--servers", default="oxigraph,arkg,arkg-store,rdflib")
    parser.add_argument("--queries", default="lookup,claims")
    parser.add_argument("--conns", default="1,8,32", help="Concurrent connections per cell.")
    parser.add_argument("--duration", type=float, default=5.0, help="Seconds per cell and round.")
    parser.add_argument("--warmup", type=float, default=2.0, help="Seconds of warm-up per server and query.")
    parser.add_argument("--rounds", type=int, default=3, help="Runs of each cell per server; the median is reported.")
    parser.add_argument("--arkg-workers", type=int, default=2, help="`arkg serve --workers`.")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data", type=Path, default=HERE / "data", help="Where generated data and stores live.")
    parser.add_argument("--results", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    queries, conns = args.queries.split(","), [int(c) for c in args.conns.split(",")]
    for q in queries:
        if q not in QUERIES:
            parser.error(f"unknown query {q!r}; use {','.join(QUERIES)}")
    args.results.mkdir(parents=True, exist_ok=True)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"Machine: {machine}; the load client runs on the same cores.\n")
    for size in args.sizes.split(","):
        size = size.strip().lower()
        began = time.monotonic()
        data = prepare(size, args.data, args.seed)
        entities = data["meta"]["query_entities"]
        report = {"size": size, "triples": data["meta"]["triples"], "machine": machine, "duration_s": args.duration,
                  "prepare": data["timings"], "servers": {}}
        logs = data["root"] / "logs"
        logs.mkdir(exist_ok=True)
        started: list[servers.Server] = []
        try:
            for name in args.servers.split(","):
                server = make_server(name.strip(), data, logs, args.arkg_workers)
                log(f"{size}: starting {server.name}")
                started.append(server.start())
                report["servers"][server.name] = {"started_in_s": round(server.started_in, 1)}
            report["answers"] = check_answers(started, entities, queries)
            cells = bench_all(started, entities, queries, conns, args.duration, args.warmup, args.rounds)
            for server in started:
                report["servers"][server.name].update(cells=cells[server.name], rss_mb=round(server.rss_mb(), 1))
        finally:
            for server in started:
                server.stop()
        report["wall_s"] = round(time.monotonic() - began, 1)
        report["verdicts"] = verdicts(report)
        (args.results / f"{size}.json").write_text(json.dumps(report, indent=1))
        print(table(size, report, queries, conns))
        print("\nPrepared: " + (json.dumps(data["timings"]) if data["timings"] else "reused from an earlier run")
              + f"; this size took {report['wall_s']} s.")
        for line in report["verdicts"]:
            print("- " + line)
        print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
