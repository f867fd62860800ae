"""The three servers under test, each a real process on 127.0.0.1, started and stopped by PID.

- ``arkg``: ``arkg serve --workers 2 --data-dir DIR``: each query worker loads the files into
  an in-memory store (ARKG's default way of serving).
- ``arkg-store``: ``arkg serve --workers 2 --store DIR`` over a store built by
  ``arkg build-store``, opened read-only on disk by every query worker.
- ``oxigraph``: ``oxigraph serve-read-only --union-default-graph`` over a store filled by
  ``oxigraph load`` (the Rust server of the same engine: the yardstick).
- ``rdflib``: ``rdflib-endpoint serve FILES`` (rdflib's in-memory Dataset with the union
  default graph, rdflib's own SPARQL evaluator).

All three answer the same GET ``?query=`` requests with the union of the named graphs as
the default graph.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote
from urllib.request import Request, urlopen

BIN = Path(sys.executable).parent  # the venv's bin/: arkg, oxigraph, rdflib-endpoint


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stat(pid: int, name: str = "stat") -> list[str] | None:
    """The fields of ``/proc/<pid>/<name>`` (for ``stat``: those after the command name), or None if gone."""
    try:
        with open(f"/proc/{pid}/{name}") as f:
            text = f.read()
    except OSError:
        return None
    return (text.rsplit(")", 1)[1] if name == "stat" else text).split()


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo += children.get(found[-1], [])
    return found


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, in MiB (from /proc)."""
    pages = sum(int(statm[1]) for p in _tree(pid) if (statm := _stat(p, "statm")) is not None)
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its live descendants (from /proc).

    On a loaded machine a server's requests per second depend on how the scheduler shares
    the cores (a many-threaded server gets more turns); its CPU per request does not."""
    ticks = sum(int(f[11]) + int(f[12]) for p in _tree(pid) if (f := _stat(p)) is not None)  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    name: str
    command: list[str]
    path: str  # the SPARQL endpoint's path
    port: int
    env: dict[str, str] = field(default_factory=dict)
    startup: float = 600.0  # seconds allowed to load and start answering
    log: Path | None = None
    proc: subprocess.Popen | None = None
    started_in: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def ask(self, query: str, timeout: float = 60.0) -> bytes:
        request = Request(f"{self.url}?query={quote(query, safe='')}",
                          headers={"Accept": "application/sparql-results+json"})
        with urlopen(request, timeout=timeout) as response:  # noqa: S310 (127.0.0.1 only)
            return response.read()

    def start(self) -> "Server":
        started = time.monotonic()
        out = open(self.log, "wb") if self.log else subprocess.DEVNULL
        # A session of its own: stop() signals this server's process group and nothing else.
        self.proc = subprocess.Popen(self.command, env={**os.environ, **self.env}, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = started + self.startup
        while time.monotonic() < deadline:  # bounded wait for the first answer
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} while starting; see {self.log}")
            try:
                self.ask("ASK { ?s ?p ?o }", timeout=5)
                self.started_in = time.monotonic() - started
                return self
            except OSError:
                time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {self.startup:g} s; see {self.log}")

    def cpu_s(self) -> float:
        return tree_cpu_s(self.proc.pid) if self.proc and self.proc.poll() is None else 0.0

    def rss_mb(self) -> float:
        return tree_rss_mb(self.proc.pid) if self.proc and self.proc.poll() is None else 0.0

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def arkg(*, data_dir: Path | None = None, store: Path | None = None, workers: int = 2, log: Path | None = None,
         env: dict[str, str] | None = None) -> Server:
    """``arkg serve`` over the files of ``data_dir`` (each query worker loads them into memory,
    ARKG's default) or over a prebuilt on-disk ``store`` (opened read-only by every worker)."""
    port = free_port()
    source = ["--store", str(store)] if store else ["--data-dir", str(data_dir)]
    return Server("arkg-store" if store else "arkg",
                  [str(BIN / "arkg"), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                   *source], "/sparql", port,
                  env={"ARKG_RATE_LIMIT": "false", "ARKG_VALIDATE_ON_START": "false", **(env or {})}, log=log)


def oxigraph(location: Path, *, log: Path | None = None) -> Server:
    port = free_port()
    return Server("oxigraph", [str(BIN / "oxigraph"), "serve-read-only", "--location", str(location),
                               "--bind", f"127.0.0.1:{port}", "--union-default-graph"], "/query", port, log=log)


def rdflib_endpoint(files: list[Path], *, log: Path | None = None) -> Server:
    port = free_port()
    return Server("rdflib", [str(BIN / "rdflib-endpoint"), "serve", "--host", "127.0.0.1", "--port", str(port),
                             *map(str, files)], "/", port, log=log)
