"""Prometheus metrics of the server (``prometheus_client``), served at ``/metrics``.

With several uvicorn worker processes each process counts on its own, so the counts go
through ``prometheus_client``'s multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` names a
directory of per-process files, and ``/metrics`` sums them whichever worker answers. The
variable must be set before ``prometheus_client`` is first imported in a process, so
``serving.run`` prepares the directory (emptied on every start) before any worker starts
and before this module is imported. Without the variable (the test client, one process) the
process's own registry is served.

What is counted (README, "Operations"):

- ``arkg_http_requests_total{route,status}``: every answer, by route template (never the raw
  path: its values are unbounded) and status;
- ``arkg_query_duration_seconds{outcome}``: queries run for clients, by how they ended
  (``ok``, ``timeout``, ``too_large``, ``refused``, ``error``);
- ``arkg_query_workers{state}``: query workers busy and idle (summed over live processes);
- ``arkg_inline_lookups_total``: bounded lookups answered in the server process;
- ``arkg_rate_limited_total{reason}``: 429 answers (``budget``, ``concurrency``, ``other``);
- ``arkg_reloads_total{result}``: dataset reloads (``ok``, ``failed``).
"""

from __future__ import annotations

import atexit
import os

from prometheus_client import (
    CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter("arkg_http_requests", "HTTP requests answered, by route template and status.",
                   ["route", "status"])
QUERY_SECONDS = Histogram("arkg_query_duration_seconds", "Wall time of queries run for clients, by outcome.",
                          ["outcome"], buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60))
WORKERS = Gauge("arkg_query_workers", "Query worker processes, busy or idle.", ["state"],
                multiprocess_mode="livesum")
INLINE = Counter("arkg_inline_lookups", "Bounded lookups answered in the server process (no query worker).")
RATE_LIMITED = Counter("arkg_rate_limited", "Requests answered 429, by reason.", ["reason"])
RELOADS = Counter("arkg_reloads", "Dataset reloads, by result.", ["result"])

OUTCOMES = ("ok", "timeout", "too_large", "refused", "error")

if os.environ.get(MULTIPROC_ENV):
    # A worker that exits normally takes its live gauges with it.
    atexit.register(multiprocess.mark_process_dead, os.getpid())


def render() -> tuple[bytes, str]:
    """The metrics in the Prometheus text format, and its media type."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST


def rate_limit_reason(message: str) -> str:
    """The reason of a 429 from its message (server/web/limits.py words them).

    >>> rate_limit_reason("This client has used its share of query time (60 s ...)")
    'budget'
    >>> rate_limit_reason("This client already has 4 queries running, the most ...")
    'concurrency'
    """
    if "share of query time" in message:
        return "budget"
    if "queries running" in message:
        return "concurrency"
    return "other"


def route_of(scope: dict) -> str:
    """The route template that served ``scope`` (``/doc/{kind}/{slug}``), or ``other``:
    labels must not take raw paths, whose values are unbounded."""
    path = getattr(scope.get("route"), "path", None)  # Starlette's router puts the route there
    return path or "other"


class RequestMetrics:
    """ASGI middleware counting every answer by route and status (and 429s by reason)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets if the app raises before answering

        async def counting(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, counting)
        finally:
            REQUESTS.labels(route_of(scope), str(status)).inc()
            if status == 429:  # observe.py names the reason of the ones it saw
                RATE_LIMITED.labels(scope.get("arkg.rate_limit_reason", "other")).inc()
