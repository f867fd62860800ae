"""Running the app under uvicorn: one process, or a supervisor with N worker processes.

Why not plain ``uvicorn.run``: two behaviours must differ from uvicorn's defaults.

- SIGHUP. uvicorn's multiprocess supervisor answers it by restarting every worker, and a
  restarted worker would load the new data without the checks of a reload and without
  any record of a failure in /health. Here the supervisor forwards SIGHUP to each worker
  process, which reloads in place (server/http/reload.py) and keeps its last good dataset
  if the new one fails. With one process, the lifespan handles SIGHUP itself.
- X-Forwarded-For. uvicorn trusts it from 127.0.0.1 by default; the per-client limits
  need the real client address, so it is trusted only from the proxies listed in
  ``forwarded_allow_ips`` (default: none).
"""

from __future__ import annotations

import os
import signal
import sys

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess

from ..settings import Settings


class ReloadingMultiprocess(Multiprocess):
    """uvicorn's supervisor, except that SIGHUP is passed on to the workers (each reloads)."""

    def handle_hup(self) -> None:
        for process in self.processes:
            if process.pid is not None and process.process.is_alive():
                try:
                    os.kill(process.pid, signal.SIGHUP)
                except ProcessLookupError:
                    pass


def config(settings: Settings) -> uvicorn.Config:
    """The uvicorn configuration for ``settings`` (the app is built by the factory in each process)."""
    return uvicorn.Config(
        "server.http.app:create_app", factory=True, host=settings.host, port=settings.port,
        workers=settings.workers, loop="uvloop", http="httptools", log_level="warning",
        # in-flight queries may finish: the longest one runs query_timeout seconds
        timeout_graceful_shutdown=int(settings.query_timeout) + 5,
        proxy_headers=bool(settings.forwarded_allow_ips), forwarded_allow_ips=settings.forwarded_allow_ips or None)


def run(settings: Settings) -> None:
    """Serve until SIGTERM or SIGINT (graceful: in-flight requests finish first)."""
    cfg = config(settings)
    if cfg.workers > 1:
        ReloadingMultiprocess(cfg, sockets=[cfg.bind_socket()]).run()
        return
    server = uvicorn.Server(cfg)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    if not server.started:
        sys.exit(STARTUP_FAILURE)
