"""Per-client limits on query time and concurrent queries (a time budget, not a request count).

Why not slowapi or another count-based limiter: a count cannot tell a 2 ms lookup from a
30 s aggregation, so any count low enough to stop abuse also stops a researcher's script
of many small lookups. Like the Wikidata Query Service, each client gets a budget of
*query seconds* (``client_query_seconds_per_minute``, a token bucket refilled
continuously) and a number of queries it may run at once (``client_max_concurrent``).
Cheap queries spend almost nothing, so they are never throttled by how many there are.

A query over a client's concurrency first waits briefly (``client_queue_seconds``) for
one of its own queries to finish: a script firing many small queries in parallel is
queued, not refused; only a client whose queries stay busy gets 429. One client never
holds every query worker of a process (the cap is ``query_workers - 1``, at least 1),
so another client always finds a free one.

Client identity is the TCP peer address (an IPv6 client by its /64, the block one
subscriber usually gets). ``X-Forwarded-For`` is not trusted by default: behind a reverse
proxy, list the proxy in ``forwarded_allow_ips`` and uvicorn puts the forwarded client
address in its place (see server/web/serving.py). Limits are per server process.

>>> key_of("192.0.2.7"), key_of("::ffff:192.0.2.7"), key_of("2001:db8:1:2:3:4:5:6"), key_of("testclient")
('192.0.2.7', '192.0.2.7', '2001:db8:1:2::/64', 'testclient')
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import time
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import AsyncIterator, Callable, TypeVar

from starlette.requests import Request

from server.engine.worker import QueryResult, QueryRequest
from server.settings import Settings
from server.web.errors import ClientError

T = TypeVar("T")
_SWEEP_EVERY = 30.0  # seconds between removals of clients back at their initial state


def key_of(host: str | None) -> str:
    """The identity a limit is kept under for a peer address."""
    if host is not None and len(host) > 64:  # not an address (IPv6 text is at most 45): not kept
        return _key_of.__wrapped__(host)
    return _key_of(host)


@lru_cache(maxsize=4096)  # parsing the address is most of a lookup's limiter cost; peers repeat
def _key_of(host: str | None) -> str:
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


@dataclass
class _Client:
    tokens: float  # query seconds left
    updated: float  # monotonic time of the last refill
    slots: asyncio.Semaphore
    active: int = 0
    waiting: int = 0


@dataclass
class ClientLimiter:
    """Budgets per client; :meth:`slot` wraps the evaluation of one query.

    >>> import asyncio
    >>> limiter = ClientLimiter(seconds_per_minute=60, max_concurrent=2, queue_seconds=0.1)
    >>> async def demo():
    ...     async with limiter.acquire("a"):
    ...         pass
    ...     limiter.charge("a", 61)  # a client that used more than a minute's budget
    ...     try:
    ...         async with limiter.acquire("a"):
    ...             pass
    ...     except ClientError as exc:
    ...         return exc.status, exc.headers["Retry-After"]
    >>> asyncio.run(demo())
    (429, '2')
    """

    seconds_per_minute: float
    max_concurrent: int
    queue_seconds: float = 2.0
    clients: dict[str, _Client] = field(default_factory=dict)
    _swept: float = field(default_factory=time.monotonic)

    @classmethod
    def from_settings(cls, settings: Settings) -> "ClientLimiter":
        concurrent = settings.client_max_concurrent
        if not settings.remote_endpoint:  # never every local worker: others must find one free
            concurrent = max(1, min(concurrent, settings.query_workers - 1))
        return cls(settings.client_query_seconds_per_minute, concurrent, settings.client_queue_seconds)

    @property
    def rate(self) -> float:
        """Budget refilled per second."""
        return self.seconds_per_minute / 60.0

    def _client(self, key: str) -> _Client:
        now = time.monotonic()
        if now - self._swept > _SWEEP_EVERY:
            self._sweep(now)
        client = self.clients.get(key)
        if client is None:
            client = self.clients[key] = _Client(self.seconds_per_minute, now, asyncio.Semaphore(self.max_concurrent))
        else:
            client.tokens = min(self.seconds_per_minute, client.tokens + (now - client.updated) * self.rate)
            client.updated = now
        return client

    def _sweep(self, now: float) -> None:
        # A client with a full bucket and nothing in flight is the same as a new one:
        # forgetting it changes nothing and keeps memory bounded by recent clients.
        self._swept = now
        for key, c in list(self.clients.items()):
            if not c.active and not c.waiting and c.tokens + (now - c.updated) * self.rate >= self.seconds_per_minute:
                del self.clients[key]

    def charge(self, key: str, seconds: float) -> None:
        """Take ``seconds`` of query time from ``key``'s budget (may go below zero)."""
        client = self._client(key)
        client.tokens -= seconds

    @asynccontextmanager
    async def acquire(self, key: str) -> AsyncIterator[None]:
        """Admit one query of client ``key`` or raise 429; charges its duration afterwards."""
        async with self.hold(key), self.charged(key):
            yield

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """One of ``key``'s concurrency slots (after its budget is checked), or 429 once
        ``queue_seconds`` pass without one; charges nothing (see :meth:`charged`)."""
        client = self._client(key)
        self._check_budget(client)
        client.waiting += 1
        try:
            if client.slots.locked():
                await asyncio.wait_for(client.slots.acquire(), timeout=self.queue_seconds)
            else:
                await client.slots.acquire()  # free: never refused, whatever queue_seconds
        except asyncio.TimeoutError:
            raise ClientError(429, (
                f"This client already has {client.active} queries running, the most one client may run "
                f"at once here ({self.max_concurrent}). Wait for them to finish, then retry."),
                {"Retry-After": str(max(1, math.ceil(self.queue_seconds)))}) from None
        finally:
            client.waiting -= 1
        client.active += 1
        try:
            yield
        finally:
            client.active -= 1
            client.slots.release()

    @asynccontextmanager
    async def charged(self, key: str) -> AsyncIterator[None]:
        """Check ``key``'s budget (429 when spent), then charge the time the block takes."""
        self._check_budget(self._client(key))
        started = time.monotonic()
        try:
            yield
        finally:
            self.charge(key, time.monotonic() - started)

    def _check_budget(self, client: _Client) -> None:
        if client.tokens <= 0:
            wait = math.ceil((1.0 - client.tokens) / self.rate)  # until a second of budget is back
            raise ClientError(429, (
                f"This client has used its share of query time ({self.seconds_per_minute:g} s of query "
                f"processing per minute). Retry after {wait} s, and make expensive queries cheaper "
                "(LIMIT, more specific patterns) or run them on your own copy of the dumps."),
                {"Retry-After": str(wait)})

    def run_cheap(self, key: str, evaluate: Callable[[], T]) -> T:
        """``evaluate()`` under ``key``'s time budget but without a concurrency slot: a bounded
        lookup answered in this process holds no query worker, so it needs none of the slots
        that keep one client from holding them all (429 only when the budget is spent)."""
        self._check_budget(self._client(key))
        started = time.monotonic()
        try:
            return evaluate()
        finally:
            self.charge(key, time.monotonic() - started)


def client_key(request: Request) -> str:
    return key_of(request.client.host if request.client else None)


class MeteredBackend:
    """The backend as one client sees it: every query it runs is charged to that client.

    Routes get it from ``server.web.deps`` (``Depends(get_metered_backend)``, or
    ``metered_backend(request)`` on the lean SPARQL routes) and pass it to views like the
    plain backend; nothing else has to remember the limits. Each query checks the client's
    budget (429 with Retry-After when spent) and is charged its duration; the first query
    takes one of the client's concurrency slots, held until :meth:`release` (the end of the
    request): a page of twenty queries counts as one query in flight, as a person reading
    it would expect. The client's key also goes to the engine, which shares its workers
    fairly between clients (server/engine/pool.py).
    """

    def __init__(self, backend, limiter: ClientLimiter | None, key: str):
        self.backend, self.limiter, self.key = backend, limiter, key
        self._slot: AsyncExitStack | None = None
        self._taking = asyncio.Lock()

    @property
    def info(self):
        return self.backend.info

    @property
    def lateral(self) -> bool:
        return self.backend.lateral

    async def _hold(self) -> None:
        async with self._taking:
            if self._slot is None:
                stack = AsyncExitStack()
                await stack.enter_async_context(self.limiter.hold(self.key))
                self._slot = stack

    async def release(self) -> None:
        """Give the concurrency slot back (once the response is built)."""
        slot, self._slot = self._slot, None
        if slot is not None:
            await slot.aclose()

    async def __aenter__(self) -> "MeteredBackend":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.release()

    async def run(self, request: QueryRequest, *, timeout: float | None = None) -> QueryResult:
        if self.limiter is None:
            return await self.backend.run(request, timeout=timeout, client=self.key)
        await self._hold()
        async with self.limiter.charged(self.key):
            return await self.backend.run(request, timeout=timeout, client=self.key)

    def run_inline(self, request: QueryRequest) -> QueryResult | None:
        """A bounded lookup in the server process (no slot: it holds no worker), charged."""
        if self.limiter is None:
            return self.backend.run_inline(request)
        return self.limiter.run_cheap(self.key, lambda: self.backend.run_inline(request))

    async def run_prepared(self, request: QueryRequest, *, bounded: bool, timeout: float | None = None) -> QueryResult:
        """A query the protocol layer prepared: a ``bounded`` one (sparql/bounded.py) is first
        offered to the in-process store (engine/inline.py), which may decline it."""
        if bounded:
            result = self.run_inline(request)
            if result is not None:
                return result
        return await self.run(request, timeout=timeout)
