"""Real external SPARQL engines for tests and bench: OpenLink Virtuoso and `oxigraph serve`.

Each starts on 127.0.0.1 (free ports) with a temporary database directory, is waited for with
a bounded loop, and is stopped by its PID. ``available()`` says why one cannot run here, so
tests skip with that reason.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port

VIRTUOSO = shutil.which("virtuoso-t")
VIRTUOSO_VSP = Path("/var/lib/virtuoso-opensource-7/vsp")
VIRTUOSO_VAD = Path("/usr/share/virtuoso-opensource-7/vad")
VIRTUOSO_USER, VIRTUOSO_PASSWORD = "dba", "dba"  # a fresh database's administrator
OXIGRAPH = shutil.which("oxigraph") or str(Path(sys.executable).parent / "oxigraph")

# Only what differs from Virtuoso's defaults. ResultSetMaxRows: the default (10000 in Debian's
# virtuoso.ini) silently truncates larger results; MaxQueryExecutionTime turns a long query into
# a *partial* answer ("anytime query"), so it stays above ARKG's own query timeout.
_VIRTUOSO_INI = """\
[Database]
DatabaseFile = {db}/virtuoso.db
ErrorLogFile = {db}/virtuoso.log
LockFile = {db}/virtuoso.lck
TransactionFile = {db}/virtuoso.trx
xa_persistent_file = {db}/virtuoso.pxa
[TempDatabase]
DatabaseFile = {db}/virtuoso-temp.db
TransactionFile = {db}/virtuoso-temp.trx
[Parameters]
ServerPort = 127.0.0.1:{sql_port}
DisableUnixSocket = 1
NumberOfBuffers = {buffers}
MaxDirtyBuffers = {dirty}
DirsAllowed = ., {vad}
VADInstallDir = {vad}/
[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerRoot = {vsp}
ServerThreads = 10
MaxClientConnections = 10
[SPARQL]
ResultSetMaxRows = 1000000
MaxQueryExecutionTime = 120
MaxQueryCostEstimationTime = 400
"""


def virtuoso_missing() -> str | None:
    """Why Virtuoso cannot run here, or None."""
    if VIRTUOSO is None:
        return "Virtuoso is not installed (Debian package virtuoso-opensource; .ci/run installs it)"
    if not VIRTUOSO_VSP.is_dir():
        return f"Virtuoso's web root {VIRTUOSO_VSP} is missing (incomplete virtuoso-opensource install)"
    return None


def oxigraph_missing() -> str | None:
    return None if Path(OXIGRAPH).exists() else "the `oxigraph` server package is not installed in this venv"


class _Engine:
    proc: subprocess.Popen
    query_url: str
    graph_store_url: str
    name: str

    def _wait(self, probe: str, startup: float) -> None:
        deadline = time.monotonic() + startup
        while True:  # bounded wait until it answers a query
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.log()}")
            try:
                if httpx.get(probe, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not answer within {startup:g} s: {self.log()}")
            time.sleep(0.3)

    def log(self) -> str:
        return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class Virtuoso(_Engine):
    """virtuoso-t in the foreground over a generated virtuoso.ini in ``directory``."""

    name = "Virtuoso"
    user, password = VIRTUOSO_USER, VIRTUOSO_PASSWORD

    def __init__(self, directory: Path, *, memory_mb: int = 1000, startup: float = 180.0):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        http_port = free_port()
        buffers = memory_mb * 1024 * 1024 // 8700  # Virtuoso's own sizing rule: ~8.5 KiB per buffer
        ini = self.directory / "virtuoso.ini"
        ini.write_text(_VIRTUOSO_INI.format(db=self.directory, sql_port=free_port(), http_port=http_port,
                                            buffers=buffers, dirty=buffers * 3 // 4, vad=VIRTUOSO_VAD, vsp=VIRTUOSO_VSP))
        base = f"http://127.0.0.1:{http_port}"
        self.query_url = base + "/sparql"
        self.graph_store_url = base + "/sparql-graph-crud-auth"
        self.proc = subprocess.Popen([VIRTUOSO, "+foreground", "+configfile", str(ini)], cwd=self.directory,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self._wait(self.query_url + "?query=ASK%7B%7D", startup)

    def log(self) -> str:
        path = self.directory / "virtuoso.log"
        return path.read_text(errors="replace")[-1500:] if path.exists() else "(no log)"


class OxigraphServer(_Engine):
    """`oxigraph serve`, without --union-default-graph: that option makes it ignore FROM, and ARKG's
    remote backend names its graphs in every query anyway (server/engine/remote.py)."""

    name = "oxigraph serve"
    user = password = None

    def __init__(self, directory: Path, *, timeout_s: int = 60, startup: float = 60.0):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        self.query_url, self.graph_store_url = base + "/query", base + "/store"
        self.proc = subprocess.Popen([OXIGRAPH, "serve", "--location", str(directory), "--bind", f"127.0.0.1:{port}",
                                      "--timeout-s", str(timeout_s)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self._wait(self.query_url + "?query=ASK%7B%7D", startup)
