"""What each private-internals shim buys: server CPU per request and req/s, vs Oxigraph in the same run.

    .venv/bin/python bench/shims.py --size 100k --rounds 6 --query lookup --workers 1

Each variant is a copy of this tree (``git archive HEAD``) with one shim taken out by a
one-line edit (``VARIANTS``), served by ``arkg serve --store`` over the store ``run.py``
built for ``--size``; ``oxigraph serve-read-only`` is the peer. Every (server, round) cell
keeps ``--conns`` connections busy for ``--duration`` s with the bench's load client; the
server's CPU (its whole process tree, from /proc via psutil) divided by the answers it gave
is far steadier on a shared machine than req/s, which is also reported as a ratio to
Oxigraph's in the same round. Servers are interleaved in a rotating order and stopped by
process group. Figures and decisions: bench/README.md, "Private internals".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import load  # noqa: E402
from queries import QUERIES  # noqa: E402

BIN = Path(sys.executable).parent

# name -> (file, text to replace, replacement); "current" is the tree as it is.
VARIANTS = {
    "current": None,
    "h11": ("server/web/serving.py", "http=BoundedHttpToolsProtocol,",
            'http="h11", h11_max_incomplete_event_size=settings.max_body_bytes + 64 * 1024,'),
    "plain-httptools": ("server/web/serving.py", "http=BoundedHttpToolsProtocol,", 'http="httptools",'),
    "shared-socket": ("server/web/serving.py", "listeners(cfg, cfg.workers)", "listeners(cfg, 1)"),
    "full-stack": ("server/web/fastpath.py", "        full = super().build_middleware_stack()\n",
                   "        return super().build_middleware_stack()\n"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_tree(name: str, root: Path) -> Path:
    tree = root / name
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=HERE.parent, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    if VARIANTS[name]:
        path, old, new = VARIANTS[name]
        text = (tree / path).read_text()
        if text.count(old) != 1:
            raise SystemExit(f"variant {name}: {old!r} not found once in {path}; update VARIANTS")
        (tree / path).write_text(text.replace(old, new))
    return tree


def tree_cpu(pid: int) -> float:
    total = 0.0
    try:
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
    except psutil.Error:
        pass
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--size", default="100k")
    parser.add_argument("--data", type=Path, default=HERE / "data", help="run.py's --data (store built there)")
    parser.add_argument("--query", default="lookup", choices=sorted(QUERIES))
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (2 to see shared-socket)")
    parser.add_argument("--conns", type=int, default=8)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    root = args.data / args.size
    entities = json.loads((root / "dataset" / "queries.json").read_text())["query_entities"]
    servers: dict[str, tuple[subprocess.Popen, int]] = {}
    with tempfile.TemporaryDirectory(prefix="arkg-shims-") as scratch:
        def start(name: str, command: list[str], env: dict[str, str]) -> None:
            port = free_port()
            command = [c.replace("PORT", str(port)) for c in command]
            servers[name] = (subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL, start_new_session=True), port)

        start("oxigraph", [str(BIN / "oxigraph"), "serve-read-only", "--location", str(root / "oxigraph-store"),
                           "--bind", "127.0.0.1:PORT", "--union-default-graph"], {})
        for name in args.variants.split(","):
            tree = make_tree(name, Path(scratch))
            start(name, [str(BIN / "arkg"), "serve", "--host", "127.0.0.1", "--port", "PORT", "--workers",
                         str(args.workers), "--store", str(root / "arkg-store")],
                  {"PYTHONPATH": str(tree), "ARKG_RATE_LIMIT": "false", "ARKG_VALIDATE_ON_START": "false",
                   "ARKG_QUERY_LOG": "false"})
        try:
            for name, (proc, port) in servers.items():
                path = "/query" if name == "oxigraph" else "/sparql"
                deadline = time.monotonic() + 600
                while time.monotonic() < deadline:
                    if proc.poll() is not None:
                        raise SystemExit(f"{name} exited")
                    try:
                        if httpx.get(f"http://127.0.0.1:{port}{path}", params={"query": "ASK {}"}, timeout=2,
                                     headers={"Accept": "application/sparql-results+json"}).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    time.sleep(0.5)
                else:
                    raise SystemExit(f"{name} did not start within 600 s")
            requests = {name: load.get_requests("127.0.0.1", port, "/query" if name == "oxigraph" else "/sparql",
                                                [QUERIES[args.query](e) for e in entities])
                        for name, (_, port) in servers.items()}
            for name, (_, port) in servers.items():
                asyncio.run(load.run_cell("127.0.0.1", port, requests[name], args.conns, 2.0))  # warm-up
            names, cells = list(servers), {name: [] for name in servers}
            for r in range(args.rounds):
                for name in names[r % len(names):] + names[:r % len(names)]:
                    proc, port = servers[name]
                    before = tree_cpu(proc.pid)
                    cell = asyncio.run(load.run_cell("127.0.0.1", port, requests[name], args.conns, args.duration))
                    cpu_ms = (tree_cpu(proc.pid) - before) * 1000 / max(cell.requests, 1)
                    cells[name].append({"rps": cell.rps, "cpu_ms": cpu_ms, "errors": cell.errors})
                    print(f"round {r} {name:16s} {cell.rps:8.1f} req/s  {cpu_ms:.3f} ms CPU/request  "
                          f"errors {cell.errors}  load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
        finally:
            for proc, _ in servers.values():
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=30)
    peer_cpu = statistics.median(c["cpu_ms"] for c in cells["oxigraph"])
    print(f"| variant | CPU ms/request | x oxigraph CPU | req/s x oxigraph (median of rounds) |\n|---|---:|---:|---:|")
    for name in names:
        cpu = statistics.median(c["cpu_ms"] for c in cells[name])
        ratio = statistics.median(c["rps"] / o["rps"] for c, o in zip(cells[name], cells["oxigraph"]))
        print(f"| {name} | {cpu:.3f} | {cpu / peer_cpu:.2f} | {ratio:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
