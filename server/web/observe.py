"""Watching one client query: its duration and outcome go to the metrics and the query log.

>>> outcome_of(type("QueryTimeout", (Exception,), {})("30 s"))
'timeout'
>>> from server.web.errors import ClientError
>>> outcome_of(ClientError(429, "budget spent")), outcome_of(ClientError(413, "too big")), outcome_of(ValueError())
('refused', 'too_large', 'error')
"""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator

from starlette.requests import Request

from server.web import metrics
from server.web.limits import client_key

REFUSED_STATUSES = {403, 429, 503}  # the server declined to run it (read-only, limits, busy)
REFUSED_ERRORS = {"GuardError", "ReadOnlyError"}  # guard.py: refused before evaluation
TIMEOUT_ERRORS = {"QueryTimeout", "TimeoutError"}


def outcome_of(exc: BaseException) -> str:
    """ok, timeout, too_large, refused or error for a query that raised ``exc``."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    status = getattr(exc, "status", None)
    if names & TIMEOUT_ERRORS:
        return "timeout"
    if status == 413 or "ResultTooLarge" in names:
        return "too_large"
    if status in REFUSED_STATUSES or names & REFUSED_ERRORS or names & {"QueryStopped", "EngineUnavailable"}:
        return "refused"
    return "error"


@dataclass
class Observed:
    """What the caller reports back: the result's size once it has one."""
    result_bytes: int = 0


_in_flight = 0  # queries of this process waiting for or running on a query worker
_timed: dict = {}  # outcome -> its child of metrics.QUERY_SECONDS
_inline_seen: dict[int, int] = {}  # id(in-process store) -> its answered count already counted


def _count_inline(backend) -> None:
    inline = getattr(backend, "inline", None)
    answered = getattr(inline, "answered", None)
    if answered is None:
        return
    seen = _inline_seen.get(id(inline), 0)
    if answered > seen:
        metrics.INLINE.inc(answered - seen)
        _inline_seen.clear()  # a reload replaces the store: only the current one is kept
        _inline_seen[id(inline)] = answered


def _set_workers(backend, total: int) -> None:
    """Busy and idle query workers of this process: the pool's own count where it keeps one
    (engine/pool.py), else the queries in flight that are not in-process lookups."""
    busy = getattr(getattr(backend, "pool", None), "busy", None)
    busy = min(_in_flight if busy is None else busy, total)
    metrics.WORKERS.labels("busy").set(busy)
    metrics.WORKERS.labels("idle").set(total - busy)


def refresh_workers(state) -> None:
    """Update this process's busy/idle gauges now (before /metrics is rendered)."""
    _set_workers(getattr(state, "backend", None), state.settings.query_workers)


@asynccontextmanager
async def observed(request: Request, query: str, *, bounded: bool = False) -> AsyncIterator[Observed]:
    """Time the query run inside the block and record it; the block sets ``result_bytes``."""
    global _in_flight
    state = request.app.state
    settings = state.settings
    record, outcome = Observed(), "error"
    pooled = not bounded
    if pooled:
        _in_flight += 1
        _set_workers(getattr(state, "backend", None), settings.query_workers)
    started = time.perf_counter()
    try:
        yield record
        outcome = "ok"
    except BaseException as exc:
        outcome = outcome_of(exc)
        if getattr(exc, "status", None) == 429:
            request.scope["arkg.rate_limit_reason"] = metrics.rate_limit_reason(getattr(exc, "message", str(exc)))
        raise
    finally:
        seconds = time.perf_counter() - started
        if pooled:
            _in_flight -= 1
            _set_workers(getattr(state, "backend", None), settings.query_workers)
        finished(state, route=metrics.route_of(request.scope), client=client_key(request), query=query,
                 seconds=seconds, outcome=outcome, result_bytes=record.result_bytes)


def finished(state, *, route: str, client: str, query: str, seconds: float, outcome: str, result_bytes: int) -> None:
    """Record one query that ended: its duration in the metrics, a line in the query log."""
    timed = _timed.get(outcome)
    if timed is None:  # labels() costs more than the observation; the outcomes are few
        timed = _timed[outcome] = metrics.QUERY_SECONDS.labels(outcome)
    timed.observe(seconds)
    _count_inline(getattr(state, "backend", None))
    log = getattr(state, "query_log", None)
    if log is not None:
        log.record(route=route, client_key=client, query=query, seconds=seconds, outcome=outcome,
                   result_bytes=result_bytes)
