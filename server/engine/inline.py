"""Bounded lookups answered in the server process, without a round trip to a query worker.

A worker exists so that a runaway query can be killed (pool.py). A *bounded* query
(sparql/bounded.py: one triple pattern with a constant subject or object, no filter, no
offset) cannot run away: its work grows with its result, and here the result is capped at
``max_bytes`` (``inline_max_bytes``, 16 KiB by default). One costs about 0.1 ms; the pipe
round trip to a worker cost about 0.36 ms of CPU around it, and a hop to a thread about
0.28 ms (GIL hand-offs: bench/README.md), so it is evaluated right where the request is
handled. At the cap the evaluation stops (about 0.5 ms of work at 16 KiB: 0.47 ms at 100k
triples, 0.36-0.53 ms at 1M, for a pattern matching 4,444 and 44,444 quads) and the caller sends the query to a worker instead, which applies the
normal result cap and time limit.

The store is this process's own copy of the dataset: the files loaded into memory, or the
on-disk store opened read-only (which shares the page cache with the workers).

>>> import asyncio, pyoxigraph as ox
>>> from .worker import QueryRequest
>>> inline = InlineStore(ox.Store(), max_bytes=1000)
>>> inline.run(QueryRequest("SELECT (1 AS ?one) {}", "csv", "ttl")).body
b'one\\r\\n1\\r\\n'
>>> inline.run(QueryRequest("SELECT * {}", "json", "ttl"), max_bytes=5) is None  # too large: use a worker
True
>>> inline.answered, inline.too_large
(1, 1)
"""

from __future__ import annotations

import asyncio

import pyoxigraph as ox

from server.engine.errors import EngineUnavailable, QueryError, ResultTooLarge
from server.engine.worker import QueryResult, QueryRequest, StoreSpec, answer, open_store


class InlineStore:
    """A store in this process for bounded queries; :meth:`run` answers or declines one."""

    def __init__(self, store: ox.Store, *, max_bytes: int):
        self.store, self.max_bytes = store, max_bytes
        self.answered = 0  # queries answered here
        self.too_large = 0  # queries declined because the result passed max_bytes
        self.failed = 0  # queries declined because the engine failed unexpectedly (a panic)

    @classmethod
    async def open(cls, spec: StoreSpec, *, max_bytes: int) -> "InlineStore":
        """Load or open the dataset off the event loop (loading takes seconds at a million triples)."""
        try:
            store = await asyncio.get_running_loop().run_in_executor(None, open_store, spec)
        except Exception as exc:  # as a worker reports it: the caller keeps the last good dataset
            raise EngineUnavailable(f"the server process could not open the dataset: {type(exc).__name__}: {exc}") from exc
        return cls(store, max_bytes=max_bytes)

    def run(self, request: QueryRequest, *, max_bytes: int | None = None) -> QueryResult | None:
        """The result, ``None`` if it would pass the cap, or the query's :class:`~.errors.QueryError`.

        Only for bounded queries: it runs on the caller's thread and cannot be interrupted.
        """
        try:
            result = answer(self.store, request, max_bytes=self.max_bytes if max_bytes is None else max_bytes)
        except ResultTooLarge:
            self.too_large += 1
            return None
        except QueryError:
            raise
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # noqa: BLE001 (a Rust panic is a BaseException): a worker deals with it as with any query
            self.failed += 1
            return None
        self.answered += 1
        return result
