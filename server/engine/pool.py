"""Killable query worker processes (pebble's ProcessPool), scheduled fairly between clients.

Why processes: pyoxigraph has no query timeout, does not see signals until a query ends,
and a thread cannot be cancelled, so the only way to make a runaway query stop using CPU
is to kill the process running it. pebble (a well-kept library) owns the processes: it
sends each query to a worker over its own pipes from a thread (so a query of any size up
to the body limit is delivered), kills the worker of a cancelled query and starts a fresh
one. This module decides *which* query runs *when*; pebble only ever holds as many queries
as there are workers.

Fair share (bench/README.md has the measurements behind the choice). Each query may carry
an opaque ``client`` key. A client is *heavy* for ``HEAVY_MEMORY`` seconds after one of its
queries ran longer than ``preempt_after``; otherwise it is *light*. Light clients' queries
are served first, in arrival order; heavy clients' after them, the least-served first
(worker time decaying by half every ``USAGE_HALF_LIFE`` s). When two or more heavy clients
compete, they never hold the last free worker: it stays for light ones. And when a light client's query finds every
worker busy with queries older than ``preempt_after``, the one that has run longest (a heavy
client's first) is stopped with :class:`QueryPreempted` (a 503 naming the reason); its worker is
killed and replaced. So K clients with runaway queries cost a cheap query from another
client at most ``preempt_after`` and a worker hand-over, one runaway per freed worker runs
on to its own limit, and the others wait in line within theirs. pebble runs ``spare``
workers more than ``size`` queries at once: a stopped query's successor starts on an idle,
loaded worker instead of waiting for the replacement to open the dataset (the server keeps
one only where that takes seconds: backend.py ``spare_workers``).

A worker that dies mid-query fails only that query; pebble replaces it. Lookups that
provably cannot run away skip the pool (inline.py).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import multiprocessing
import os
import signal
from concurrent.futures import CancelledError as FutureCancelled
from dataclasses import dataclass, field

from pebble import ProcessExpired, ProcessPool

from server.engine import worker
from server.engine.errors import (EngineUnavailable, QueryCrashedWorker, QueryError, QueryPreempted, QueryTimeout,
                                  WorkerCrashed)
from server.engine.worker import QueryResult, QueryRequest, StoreSpec

__all__ = ["QueryPool", "QueryResult"]

log = logging.getLogger("arkg.engine")

USAGE_HALF_LIFE = 30.0  # seconds: how long a client's worker time counts against it
HEAVY_MEMORY = 60.0  # seconds a client stays heavy after one of its queries ran long

# Exit codes of a worker killed by its own fault (stack overflow, failed allocation
# under the address-space limit, which Rust answers with abort); SIGKILL comes from outside.
_QUERY_FAULTS = {-signal.SIGSEGV, -signal.SIGABRT, -signal.SIGBUS, -signal.SIGILL}


def _context():
    # forkserver: workers fork from a small clean server process, not from the uvicorn
    # process with its event loop and threads.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(["pyoxigraph", "server.engine.worker", "server.model.formats"])
    return ctx


@dataclass(eq=False)
class _Ticket:
    """One query's passage through the pool."""
    client: str
    seq: int
    granted: asyncio.Future  # set when a worker is ours
    done: asyncio.Future | None = None  # the worker's answer
    job: object = None  # pebble's future while running
    started: float = 0.0  # loop time the query went to pebble
    ran_at: float = 0.0  # loop time we first saw a worker running it (pebble acknowledged it)
    stopping: str = ""  # why we stopped it ("" while not stopped by us)
    heavy: bool = False  # its client was heavy when it got its worker
    worked: float | None = None  # seconds the worker spent on it, as the worker measured


@dataclass
class _Usage:
    """Worker seconds per client, decaying exponentially."""
    half_life: float = USAGE_HALF_LIFE
    seconds: dict[str, tuple[float, float]] = field(default_factory=dict)  # client -> (seconds, at)

    def of(self, client: str, now: float) -> float:
        value, at = self.seconds.get(client, (0.0, now))
        return value * 0.5 ** ((now - at) / self.half_life)

    def add(self, client: str, seconds: float, now: float) -> None:
        self.seconds[client] = (self.of(client, now) + seconds, now)
        if len(self.seconds) > 1000:  # forget clients whose usage has decayed to nothing
            self.seconds = {k: v for k, v in self.seconds.items() if self.of(k, now) > 0.01}


class QueryPool:
    """``size`` worker processes over one dataset. Use :meth:`start` then :meth:`run`."""

    def __init__(self, spec: StoreSpec, *, size: int = 2, timeout: float = 30.0, max_bytes: int = 64 << 20,
                 memory_limit_mb: int = 0, start_timeout: float = 300.0, preempt_after: float = 0.5,
                 spare: int = 1):
        self.spec, self.size, self.timeout, self.spare = spec, size, timeout, spare
        self.max_bytes, self.memory_limit_mb, self.start_timeout = max_bytes, memory_limit_mb, start_timeout
        self.preempt_after = preempt_after
        self._pool: ProcessPool | None = None
        self._waiting: dict[str, collections.deque[_Ticket]] = {}  # client -> its waiting queries, oldest first
        self._running: set[_Ticket] = set()
        self._usage = _Usage()
        self._long_at: dict[str, float] = {}  # client -> when one of its queries last ran long
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    # --- lifecycle
    @property
    def busy(self) -> int:
        """Workers running a query now (web/observe.py reports it in /metrics)."""
        return len(self._running)

    async def start(self) -> "QueryPool":
        """Start the workers; raises :class:`EngineUnavailable` if the dataset cannot be opened."""
        self._loop = loop = asyncio.get_running_loop()
        self._pool = ProcessPool(max_workers=self.size + self.spare, initializer=worker.initialize,
                                 initargs=(self.spec, self.max_bytes, self.memory_limit_mb, os.getpid()),
                                 context=_context())
        try:
            # The first schedule starts pebble's processes (a blocking fork); each worker answers
            # ``ready`` once its store is open, or says why it could not open it.
            jobs = await loop.run_in_executor(None, lambda: [self._pool.schedule(worker.ready) for _ in range(self.size + self.spare)])
            async with asyncio.timeout(self.start_timeout):
                await asyncio.gather(*(asyncio.wrap_future(j) for j in jobs))
        except TimeoutError:
            await self.close()
            raise EngineUnavailable(f"the query workers did not load the dataset within {self.start_timeout:g} s") from None
        except BaseException:
            await self.close()
            raise
        return self

    async def close(self) -> None:
        """Stop every worker; queries in flight or waiting fail with :class:`EngineUnavailable`."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        for ticket in [t for queue in self._waiting.values() for t in queue] + list(self._running):
            for fut in (ticket.granted, ticket.done):
                if fut is not None and not fut.done():
                    fut.set_exception(EngineUnavailable("the query service is shutting down; retry"))
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()
            await asyncio.get_running_loop().run_in_executor(None, pool.join, 10)

    # --- scheduling
    def _heavy(self, client: str, now: float) -> bool:
        """Whether one of ``client``'s queries ran past ``preempt_after`` in the last ``HEAVY_MEMORY`` s."""
        return now - self._long_at.get(client, float("-inf")) < HEAVY_MEMORY

    def _other_heavy(self, client: str, now: float) -> bool:
        """Whether a heavy client other than ``client`` has a query running or waiting (one heavy
        client alone, a script with one long query and small ones, may use every worker)."""
        return any(t.heavy and t.client != client for t in self._running) or \
            any(c != client and self._heavy(c, now) for c in self._waiting)

    def _note_long(self, now: float) -> None:
        for t in self._running:
            if not t.ran_at and t.job is not None and t.job.running():
                t.ran_at = now  # late rather than early: a query is never thought older than it is
            if t.ran_at and now - t.ran_at >= self.preempt_after:
                self._long_at[t.client] = now

    def _dispatch(self) -> None:
        """Hand free workers to waiting queries, light clients first; keep one worker out of
        heavy clients' reach; stop the oldest long query for a light client's query that
        finds every worker busy (see the module docstring)."""
        now = asyncio.get_running_loop().time()
        self._note_long(now)
        while len(self._running) < self.size:
            ticket = self._next(now)
            if ticket is None:
                break
            if self._heavy(ticket.client, now) and self.size > 1 and \
                    sum(1 for t in self._running if t.heavy) >= self.size - 1 and self._other_heavy(ticket.client, now):
                break  # the last free worker is kept for light clients' queries
            self._take(ticket)
            ticket.heavy = self._heavy(ticket.client, now)
            self._running.add(ticket)
            ticket.granted.set_result(None)
        waiter = self._next(now)
        if waiter is not None and not self._heavy(waiter.client, now) and len(self._running) >= self.size \
                and not any(t.stopping for t in self._running):
            long = [t for t in self._running if t.ran_at and now - t.ran_at >= self.preempt_after and not t.stopping]
            if long and len(long) == len(self._running):  # a young query will free its worker soon
                # A heavy client's query first, then the one that has run longest.
                victim = max(long, key=lambda t: (t.heavy or self._heavy(t.client, now), now - t.ran_at))
                self._stop(victim, "preempted", QueryPreempted(
                    f"the query was stopped after {now - victim.ran_at:.1f} s to free a query worker for another "
                    "client's query: every worker was busy with long queries. Retry later, or make the query "
                    "cheaper (LIMIT, more specific patterns)"))
                return
        if waiter is not None and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(0.05, self._tick)  # look again shortly

    def _next(self, now: float) -> _Ticket | None:
        """The waiting query to serve first: light clients' in arrival order, then heavy
        clients', the least-served client first."""
        best, best_key = None, None
        for client, queue in list(self._waiting.items()):
            while queue and queue[0].granted.done():  # gave up waiting
                queue.popleft()
            if not queue:
                del self._waiting[client]
                continue
            heavy = self._heavy(client, now)
            key = (heavy, self._usage.of(client, now) if heavy else 0.0, queue[0].seq)
            if best_key is None or key < best_key:
                best, best_key = queue[0], key
        return best

    def _take(self, ticket: _Ticket) -> None:
        queue = self._waiting[ticket.client]
        queue.popleft()
        if not queue:
            del self._waiting[ticket.client]

    def _tick(self) -> None:
        self._timer = None
        if not self._closed:
            self._dispatch()

    def _stop(self, ticket: _Ticket, why: str, error: QueryError | None = None) -> None:
        """Have pebble kill ``ticket``'s worker (and start another); ``error`` is what the
        query's :meth:`run` raises when it is not the one stopping it."""
        ticket.stopping = why
        if error is not None and ticket.done is not None and not ticket.done.done():
            ticket.done.set_exception(error)
        if ticket.job is not None:
            ticket.job.cancel()
            log.warning("query worker stopped and replaced (%s) after %.1f s", why,
                        asyncio.get_running_loop().time() - (ticket.ran_at or ticket.started))

    def _release(self, ticket: _Ticket) -> None:
        if not ticket.granted.done():
            ticket.granted.cancel()  # gave up waiting: _dispatch drops it
        if ticket in self._running:
            self._running.discard(ticket)
            if ticket.started:
                now = asyncio.get_running_loop().time()
                # The worker's own measure when it answered; else since we saw it running (a query
                # waiting in pebble's pipe for a replacement worker has not run yet).
                ran = ticket.worked if ticket.worked is not None else (now - ticket.ran_at if ticket.ran_at else 0.0)
                self._usage.add(ticket.client, ran, now)
                if ran >= self.preempt_after or ticket.stopping:
                    self._long_at[ticket.client] = now
                    if len(self._long_at) > 1000:  # forget clients that are no longer heavy
                        self._long_at = {k: v for k, v in self._long_at.items() if now - v < HEAVY_MEMORY}
        if not self._closed:
            self._dispatch()

    def _answer(self, ticket: _Ticket, job) -> None:
        """pebble's callback (on its thread): pass the worker's answer to the event loop."""
        def settle() -> None:
            if ticket.done.done() or ticket.stopping:
                return  # stopped by us (time limit, preemption, client gone): run() has raised
            try:
                ticket.done.set_result(job.result())
            except FutureCancelled:
                ticket.done.set_exception(WorkerCrashed("the query was cancelled"))
            except BaseException as exc:  # noqa: BLE001 (the worker's typed error, or pebble's)
                ticket.done.set_exception(exc)
        self._loop.call_soon_threadsafe(settle)

    async def run(self, request: QueryRequest, *, timeout: float | None = None, client: str = "") -> QueryResult:
        """Evaluate ``request`` in a worker within ``timeout`` seconds (at most the pool's limit,
        waiting included), charged to ``client``; raises a :class:`~.errors.QueryError` on failure."""
        if self._closed or self._pool is None:
            raise EngineUnavailable("the query service is not running (starting or shutting down); retry")
        limit = self.timeout if timeout is None else min(timeout, self.timeout)
        self._loop = loop = asyncio.get_running_loop()
        ticket = _Ticket(client, next(self._seq), loop.create_future())
        self._waiting.setdefault(client, collections.deque()).append(ticket)
        started = loop.time()
        try:
            async with asyncio.timeout(limit):
                self._dispatch()
                await ticket.granted
                ticket.done, ticket.started = loop.create_future(), loop.time()
                ticket.job = self._pool.schedule(worker.run, args=(request,))
                ticket.job.add_done_callback(lambda job: self._answer(ticket, job))
                result = await ticket.done
                ticket.worked = result.seconds
        except TimeoutError:
            if ticket.job is None:
                raise QueryTimeout(f"no query worker became free within the time limit of {limit:g} s; "
                                   "the service is busy, retry later") from None
            self._stop(ticket, "time limit")
            raise QueryTimeout(f"the query exceeded the time limit of {limit:g} s and was stopped; "
                               "narrow it (LIMIT, more specific patterns) or run it on a copy of the dumps") from None
        except asyncio.CancelledError:
            # The client went away: stop its query rather than let it run on for nobody.
            if ticket.job is not None and not ticket.job.done():
                self._stop(ticket, "client gone")
            raise
        except ProcessExpired as exc:
            log.warning("query worker died (exit code %s) while running a query; pebble replaces it", exc.exitcode)
            if exc.exitcode in _QUERY_FAULTS:
                # The process died of its own fault while evaluating: this query did it, and
                # would do it again; a client error, not a reason to retry.
                raise QueryCrashedWorker(
                    f"the query engine failed on this query ({signal.Signals(-exc.exitcode).name}): it is "
                    "nested too deeply, too long, or needs more memory than a query worker may use. "
                    "The worker has been replaced; simplify the query (fewer nested groups, "
                    "shorter chains, LIMIT).") from None
            raise WorkerCrashed("the query worker stopped unexpectedly while running this query "
                                "(killed or out of memory); it has been replaced, retry") from None
        except QueryError:
            raise
        except Exception as exc:  # pebble's own failures (a broken pool)
            raise EngineUnavailable(f"the query workers failed: {type(exc).__name__}: {exc}") from None
        finally:
            self._release(ticket)
        result.seconds = loop.time() - started
        return result
