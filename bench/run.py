"""Serve the same generated claims graph with ARKG and with Oxigraph's own server, and measure both in one run.

    .venv/bin/python bench/run.py --sizes 100k,1m --dataset-root /work/data --data /work/scratch/bench

For each size: take the data (``--dataset-root/<size>/dataset``, as ``arkg synth`` wrote it,
used as it is; otherwise generated here, seeded), run ``arkg build`` on it (wall time and peak
RSS: the largest process, and the whole process tree sampled every 0.2 s) and load Oxigraph's
store, start the servers (start-up time to the first answer; tree RSS idle), check that their
answers agree, then run every (query, connections) cell for ``--duration`` seconds on each
server in turn, ``--rounds`` times with the servers interleaved (an idle server uses no CPU;
interleaving spreads this shared machine's slow spells over all of them), report the median,
then time ARKG's pages (bench/pages.py: sequential p50/p99 of each kind, and req/s at
``--page-conns`` connections) and take the tree RSS after the load. ``uptime`` is recorded
before and after each size. Prints Markdown tables with ratios to ``oxigraph
serve-read-only`` and verdicts against issue 11's targets, and writes the figures to
``--results/<size>.json``. Every wait is bounded; servers are stopped by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import generate  # noqa: E402
import load  # noqa: E402
import servers  # noqa: E402
from queries import QUERIES, accept  # noqa: E402

try:  # the pages engineer's timings (issue 11): reused, not repeated here
    import pages as page_bench  # noqa: E402
except ImportError:  # pragma: no cover
    page_bench = None

# Issue 11: (query, peer, connections) -> the least ratio of req/s to the peer's.
TARGETS = {("lookup", "oxigraph", 8): 0.4, ("claims", "oxigraph", 8): 0.8,
           ("describe", "oxigraph", 8): 0.4, ("describe", "oxigraph", 32): 0.4,
           ("ask", "oxigraph", 8): 0.4, ("ask", "oxigraph", 32): 0.4,
           ("lookup", "rdflib", 8): 5.0, ("claims", "rdflib", 8): 5.0}


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


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def timed_build(dataset: Path, area: Path, *, force: bool, validate: bool) -> dict:
    """``arkg build`` as an operator runs it: wall time, peak RSS of its largest process
    (wait4's ru_maxrss) and of its whole process tree (sampled every 0.2 s). Without
    ``validate``, the same build function with its validation stage off (the command has no
    such switch)."""
    if validate:
        command = [str(servers.BIN / "arkg"), "build", "--data-dir", str(dataset), "--out", str(area)]
        command += ["--force"] if force else []
    else:
        command = [sys.executable, "-c", "import sys; from pathlib import Path; from rich.console import Console; "
                   "from server.publish.build import build; "
                   "build(Path(sys.argv[1]), Path(sys.argv[2]), validate=False, force=sys.argv[3] == '1', "
                   "console=Console(stderr=True))", str(area), str(dataset), "1" if force else "0"]
    # A validation cache of its own, empty: a version validated before (by an earlier run or the
    # tests, in var/cache) would skip validation and the checks, about 10 s of a 5M build's wall.
    with tempfile.TemporaryDirectory(prefix="arkg-bench-cache-") as cache:
        started = time.monotonic()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, cwd=str(HERE.parent),
                                stderr=open(area.parent / "build.log", "wb"),
                                env={**os.environ, "COLUMNS": "120", "ARKG_CACHE_DIR": str(cache)})
        tree_peak, deadline, usage, status = 0.0, started + 3600, None, 0
        while usage is None:  # wait4 (not poll) keeps the child's own rusage: its peak RSS
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                usage = rusage
                break
            if time.monotonic() > deadline:
                proc.kill()
            tree_peak = max(tree_peak, servers.tree_rss_mb(proc.pid))
            time.sleep(0.2)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds, largest = time.monotonic() - started, usage.ru_maxrss / 1024
    if proc.returncode != 0:
        raise RuntimeError(f"arkg build failed ({proc.returncode}); see {area.parent / 'build.log'}")
    return {"arkg_build_s": round(seconds, 1), "arkg_build_peak_mib": round(largest),
            "arkg_build_tree_peak_mib": round(tree_peak), "arkg_build_validated": validate, "uptime": uptime()}


def prepare(size: str, data_root: Path, seed: int, *, dataset_root: Path | None, rebuild: bool,
            validate: bool = True, store: Path | None = None) -> dict:
    """Data directory, ARKG build and Oxigraph store for ``size``, built only when missing
    (``rebuild``: ``arkg build --force``, to measure it)."""
    from server.publish import build as builder
    from server.engine.dataset import dataset_files, dataset_version

    root = data_root / size
    root.mkdir(parents=True, exist_ok=True)
    given = dataset_root / size / "dataset" if dataset_root else None
    dataset = given if given else root / "dataset"
    build_area, ox_store = root / "build", root / "oxigraph-store"
    timings = {}
    meta_path = dataset / "queries.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if given is None and (meta.get("requested"), meta.get("seed"), meta.get("generator")) != (
            parse_size(size), seed, generate.GENERATOR_VERSION):
        log(f"{size}: generating the claims graph")
        for stale in (dataset / "graphs", build_area, ox_store, root / "oxigraph-store.version"):
            if stale.exists():
                subprocess.run(["rm", "-rf", "--", str(stale)], check=True)
        meta = generate.generate(parse_size(size), dataset, seed)
        timings["generate_s"] = meta["seconds"]
    if not meta:
        raise SystemExit(f"{dataset} has no queries.json (write it with `arkg synth`)")
    version = dataset_version(dataset_files(dataset))
    build_area.mkdir(exist_ok=True)
    if store is not None:  # an on-disk store made earlier (server `arkg-store`): no build here
        pass
    elif rebuild or builder.current(build_area, dataset) is None:
        log(f"{size}: arkg build ({uptime()})")
        timings.update(timed_build(dataset, build_area, force=rebuild, validate=validate))
        log(f"{size}: arkg build took {timings['arkg_build_s']} s, peak {timings['arkg_build_peak_mib']} MiB "
            f"(tree {timings['arkg_build_tree_peak_mib']} MiB)")
    layout = builder.current(build_area, dataset) if store is None else None
    arkg_store = store if store is not None else layout.store
    # Oxigraph gets what ARKG serves: the build's N-Quads dump (the files plus the derived and
    # asserted graphs), else (an earlier store, no build) the files.
    dump = layout.dumps / version / "arkg.nq.gz" if layout is not None else None
    sources = [str(dump)] if dump is not None and dump.is_file() else sorted(str(p) for p in (dataset / "graphs").rglob("*.nq"))
    ox_marker = root / "oxigraph-store.version"
    marker = f"{version} {'dump' if dump is not None and dump.is_file() else 'files'}"
    if not ox_marker.exists() or ox_marker.read_text().strip() != marker:
        if ox_store.exists():
            subprocess.run(["rm", "-rf", "--", str(ox_store)], check=True)
        log(f"{size}: oxigraph load")
        started = time.monotonic()
        subprocess.run([str(servers.BIN / "oxigraph"), "load", "--location", str(ox_store), "--file", *sources],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800)
        # Compacted, as `arkg build` leaves its store: neither server pays for a fresh load's layout.
        subprocess.run([str(servers.BIN / "oxigraph"), "optimize", "--location", str(ox_store)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800)
        timings["oxigraph_load_s"] = round(time.monotonic() - started, 1)
        ox_marker.write_text(marker + "\n")
    return {"root": root, "dataset": dataset, "arkg_store": arkg_store, "build": build_area, "oxigraph_store": ox_store,
            "meta": meta, "timings": timings,
            "files": sorted((dataset / "graphs").rglob("*.nq"))}


def make_server(name: str, data: dict, logs: Path, arkg_workers: int) -> servers.Server:
    log_file = logs / f"{name}.log"
    if name == "arkg":
        return servers.arkg(data_dir=data["dataset"], workers=arkg_workers, log=log_file,
                            env={"ARKG_BUILD_DIR": str(data["build"])})  # serves the build made above
    if name == "arkg-store":
        empty = data["root"] / "empty-build-area"  # the store alone: no build's dumps, VoID or figures
        empty.mkdir(exist_ok=True)
        return servers.arkg(store=data["arkg_store"], workers=arkg_workers, log=log_file,
                            env={"ARKG_BUILD_DIR": str(empty)})
    if name == "oxigraph":
        return servers.oxigraph(data["oxigraph_store"], log=log_file)
    if name == "rdflib":
        return servers.rdflib_endpoint(data["files"], log=log_file)
    raise SystemExit(f"unknown server {name!r}; use arkg, arkg-store, oxigraph, rdflib")


def answer_rows(server: servers.Server, name: str, query: str) -> int | bool:
    """Rows of a SELECT, the boolean of an ASK, the triples of a DESCRIBE (N-Triples lines)."""
    request = servers.Request(f"{server.url}?query={servers.quote(query, safe='')}", headers={"Accept": accept(name)})
    with servers.urlopen(request, timeout=120) as response:  # noqa: S310 (127.0.0.1 only)
        body = response.read()
    if accept(name) != "application/sparql-results+json":
        return len([line for line in body.decode().splitlines() if line.strip()])
    data = json.loads(body)
    return data["boolean"] if "boolean" in data else len(data["results"]["bindings"])


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
    rows = {s.name: {q: [answer_rows(s, q, QUERIES[q](e)) for e in entities[:3]] for q in queries} for s in started}
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
        requests = {s.name: load.get_requests("127.0.0.1", s.port, s.path, [QUERIES[q](e) for e in entities],
                                              accept=accept(q))
                    for s in started}
        if warmup:
            for s in started:
                asyncio.run(load.run_cell("127.0.0.1", s.port, requests[s.name], 8, warmup))
                settle(s)
        for c in conns:
            for r in range(rounds):
                for s in started[r % len(started):] + started[:r % len(started)]:
                    cpu_before = s.cpu_s()
                    cell = asyncio.run(load.run_cell("127.0.0.1", s.port, requests[s.name], c, duration))
                    answered = max(cell.rps * duration, 1)
                    summary = {**cell.summary(), "server_cpu_ms": round((s.cpu_s() - cpu_before) * 1000 / answered, 3)}
                    cells[s.name].setdefault(f"{q}@{c}", []).append(summary)
                    log(f"{s.name:9} {q:8} c={c:<3} round {r + 1}: {cell.rps:9.1f} req/s  p50 {cell.p50_ms:8.2f} ms  "
                        f"p99 {cell.p99_ms:8.2f} ms  errors {cell.errors + cell.unfinished}  "
                        f"client CPU {cell.client_cpu / duration:.0%}  server CPU {summary['server_cpu_ms']:.3f} ms/req")
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
                              "server_cpu_ms": round(median([x["server_cpu_ms"] for x in runs]), 3),
                              "rounds": runs}
    return out


def table(size: str, report: dict, queries: list[str], conns: list[int]) -> str:
    names = list(report["servers"])
    base = report["servers"].get("oxigraph")
    lines = [f"### {size}: {report['triples']:,} triples", "",
             "| query | conns | server | req/s | p50 ms | p99 ms | x oxigraph | server CPU ms/req | x oxigraph (CPU) "
             "| errors | client CPU |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for q in queries:
        for c in conns:
            key = f"{q}@{c}"
            for name in names:
                cell = report["servers"][name]["cells"].get(key)
                if cell is None:
                    continue
                ratio = cpu_ratio = ""
                if base and base["cells"].get(key, {}).get("rps"):
                    ratio = f"{cell['rps'] / base['cells'][key]['rps']:.2f}"
                if base and cell.get("server_cpu_ms") and base["cells"].get(key, {}).get("server_cpu_ms"):
                    cpu_ratio = f"{base['cells'][key]['server_cpu_ms'] / cell['server_cpu_ms']:.2f}"  # higher is better
                lines.append(f"| {q} | {c} | {name} | {cell['rps']:.0f} | {cell['p50_ms']:.2f} | {cell['p99_ms']:.2f} "
                             f"| {ratio} | {cell.get('server_cpu_ms', 0):.3f} | {cpu_ratio} | {cell['errors']} "
                             f"| {cell['client_cpu_share']:.0%} |")
    lines.append("")
    lines += ["Servers: " + ", ".join(f"{n} started (first answer) in {s['started_in_s']} s, tree RSS "
                                      f"{s.get('rss_idle_mb', 0):.0f} MiB idle, {s.get('rss_mb', 0):.0f} MiB after the load"
                                      for n, s in report["servers"].items())]
    if report.get("pages"):
        lines += ["", "| page (arkg) | distinct | sequential p50 ms | p99 ms | errors | "
                  f"{report['page_conns']} conns req/s | p50 ms | errors |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for kind, entry in report["pages"].items():
            seq, par = entry["sequential"], entry.get("concurrent") or {}
            lines.append(f"| {kind} | {entry['distinct']} | {seq['p50_ms']:.1f} | {seq['p99_ms']:.1f} | {seq['errors']} | "
                         f"{par.get('rps', 0):.0f} | {par.get('p50_ms', 0):.1f} | {par.get('errors', 0)} |")
    return "\n".join(lines)


def verdicts(report: dict) -> list[str]:
    out = []
    for mine in ("arkg", "arkg-store"):
        ours = report["servers"].get(mine)
        for (q, other, conns), target in TARGETS.items():
            theirs = report["servers"].get(other)
            key = f"{q}@{conns}"
            if not ours or not theirs or key not in ours.get("cells", {}) or key not in theirs.get("cells", {}):
                continue
            ratio = ours["cells"][key]["rps"] / max(theirs["cells"][key]["rps"], 1e-9)
            cpu = theirs["cells"][key].get("server_cpu_ms", 0) / max(ours["cells"][key].get("server_cpu_ms", 0), 1e-9)
            out.append(f"{q} at {conns} conns: {mine} = {ratio:.2f}x {other} (target >= {target}x): "
                       + ("met" if ratio >= target else "NOT met")
                       + f" [server CPU per request: {other}'s / {mine}'s = {cpu:.2f}]")
    return out


def measure_pages(server: servers.Server, entities: list[str], n: int, conns: int, duration: float) -> dict:
    """Every page kind of bench/pages.py, sequentially (each distinct page once, in a server
    that answered SPARQL cells but no pages: cold), then ``conns`` connections for ``duration``."""
    if page_bench is None:
        log("pages not measured: bench/pages.py is missing")
        return {}
    paths = page_bench.pick_pages(server, entities, n)
    paths.pop("sparql-lookup", None)  # measured above as the lookup cells
    paths.update({"home": ["/"] * 20, "dumps": ["/dumps/"] * 20, "void": ["/.well-known/void"] * 20})
    out = {}
    for kind, kind_paths in paths.items():
        entry = {"distinct": len(set(kind_paths)), "sequential": page_bench.sequential(server.port, kind_paths)}
        if conns and duration:
            entry["concurrent"] = page_bench.concurrent(server.port, kind_paths, conns, duration)
        out[kind] = entry
        log(f"page {kind:12} p50 {entry['sequential']['p50_ms']:8.1f} ms p99 {entry['sequential']['p99_ms']:8.1f} ms "
            f"errors {entry['sequential']['errors']}"
            + (f"; {conns} conns {entry['concurrent']['rps']:.0f} req/s" if "concurrent" in entry else ""))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ARKG vs oxigraph serve-read-only (and rdflib-endpoint).")
    parser.add_argument("--sizes", default="100k", help="Comma-separated dataset sizes in triples (100k,1m,5m).")
    parser.add_argument("--dataset-root", type=Path, default=None,
                        help="Use ROOT/<size>/dataset as it is (arkg synth output) instead of generating.")
    parser.add_argument("--rebuild", action="store_true", help="arkg build --force, to measure the build.")
    parser.add_argument("--store", type=Path, default=None,
                        help="Serve this earlier on-disk store as arkg-store (one size; no arkg build here).")
    parser.add_argument("--no-validate", action="store_true",
                        help="Build without the validation stage (for data the current shapes reject).")
    parser.add_argument("--servers", default="oxigraph,arkg", help="oxigraph, arkg (serves the build), arkg-store, rdflib.")
    parser.add_argument("--queries", default="lookup,claims,describe,ask")
    parser.add_argument("--conns", default="8,32", help="Concurrent connections per cell.")
    parser.add_argument("--duration", type=float, default=4.0, help="Seconds per cell and round.")
    parser.add_argument("--warmup", type=float, default=2.0, help="Seconds of warm-up per server and query.")
    parser.add_argument("--rounds", type=int, default=2, help="Runs of each cell per server; the median is reported.")
    parser.add_argument("--pages", type=int, default=50, help="Distinct pages per kind (0: no pages).")
    parser.add_argument("--page-conns", type=int, default=8, help="Connections for the pages' throughput cell (0: none).")
    parser.add_argument("--page-duration", type=float, default=3.0, help="Seconds of each pages' throughput cell.")
    parser.add_argument("--arkg-workers", type=int, default=2, help="`arkg serve --workers`.")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data", type=Path, default=HERE / "data", help="Where builds and stores (and generated data) live.")
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
        report = {"size": size, "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "uptime_before": uptime(),
                  "machine": machine, "duration_s": args.duration, "rounds": args.rounds, "servers": {}}
        data = prepare(size, args.data, args.seed, dataset_root=args.dataset_root, rebuild=args.rebuild,
                       validate=not args.no_validate, store=args.store)
        entities = data["meta"]["query_entities"]
        report.update(triples=data["meta"]["triples"], prepare=data["timings"])
        logs = data["root"] / "logs"
        logs.mkdir(exist_ok=True)
        started: list[servers.Server] = []
        try:
            for name in args.servers.split(","):
                server = make_server(name.strip(), data, logs, args.arkg_workers)
                log(f"{size}: starting {server.name}")
                started.append(server.start())
                time.sleep(2)  # idle: what start-up left resident
                report["servers"][server.name] = {"started_in_s": round(server.started_in, 1),
                                                  "rss_idle_mb": round(server.rss_mb(), 1)}
            report["uptime_servers_up"] = uptime()
            report["answers"] = check_answers(started, entities, queries)
            cells = bench_all(started, entities, queries, conns, args.duration, args.warmup, args.rounds)
            report["uptime_after_sparql"] = uptime()
            arkg = next((s for s in started if s.name.startswith("arkg")), None)
            if arkg is not None and args.pages:
                report["page_conns"] = args.page_conns
                report["pages"] = measure_pages(arkg, entities, args.pages, args.page_conns, args.page_duration)
            for server in started:
                report["servers"][server.name].update(cells=cells[server.name], rss_mb=round(server.rss_mb(), 1))
        finally:
            for server in started:
                server.stop()
        report["uptime_after"] = uptime()
        report["wall_s"] = round(time.monotonic() - began, 1)
        report["verdicts"] = verdicts(report)
        (args.results / f"{size}.json").write_text(json.dumps(report, indent=1))
        print(table(size, report, queries, conns))
        print(f"\nDate {report['date']}. Load: before `{report['uptime_before']}`; during SPARQL "
              f"`{report.get('uptime_after_sparql', '')}`; after `{report['uptime_after']}`.")
        print("Prepared: " + (json.dumps(data["timings"]) if data["timings"] else "reused from an earlier run")
              + f"; this size took {report['wall_s']} s.")
        for line in report["verdicts"]:
            print("- " + line)
        print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
