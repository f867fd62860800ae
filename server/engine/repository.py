"""The repository interface the server queries: one protocol, two implementations.

``backend.LocalBackend`` embeds pyoxigraph (a pool of worker processes); ``remote.RemoteBackend``
is an HTTP client of any SPARQL 1.1 engine. Views and routers see only :class:`Backend`.
Both take a :class:`~server.engine.worker.QueryRequest` and return a
:class:`~server.engine.worker.QueryResult` (already serialised), or raise a
:class:`~server.engine.errors.QueryError`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Protocol

from server.engine.worker import QueryResult, QueryRequest

_COUNTS = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
_TOTAL = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


@dataclass
class DatasetInfo:
    version: str
    triples: int  # in the union default graph
    graph_counts: dict[str, int] = field(default_factory=dict)  # named graph IRI -> triples
    loaded_at: float = field(default_factory=time.time)


class Backend(Protocol):
    info: DatasetInfo
    # Whether the engine evaluates Oxigraph's LATERAL (a SPARQL 1.2 draft feature): views use
    # it to seed a join from a few rows; for other engines they write the plain 1.1 join.
    lateral: bool

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def run(self, request: QueryRequest, *, timeout: float | None = None, client: str = "") -> QueryResult:
        """Evaluate ``request`` within ``timeout`` seconds (never more than the server's limit);
        ``client`` is an opaque key whose queries share the engine fairly with others' (pool.py)."""
        ...

    def run_inline(self, request: QueryRequest) -> QueryResult | None:
        """Answer a bounded query (sparql/bounded.py) on the calling thread, or ``None`` to say
        it must go through :meth:`run`. Never called for other queries."""
        ...


async def select(backend: Backend, query: str, *, timeout: float | None = None) -> list[dict[str, str]]:
    """Run a SELECT for the server's own use; rows map variable names to plain values."""
    result = await backend.run(QueryRequest(query, "json", "ttl"), timeout=timeout)
    data = json.loads(result.body)
    return [{k: v["value"] for k, v in row.items()} for row in data["results"]["bindings"]]


async def graph_counts(backend: Backend) -> dict[str, int]:
    """Named graph IRI -> triples in it."""
    return {row["g"]: int(row["n"]) for row in await select(backend, _COUNTS)}


async def describe_dataset(backend: Backend, version: str, *, counts: dict[str, int] | None = None) -> DatasetInfo:
    counts = await graph_counts(backend) if counts is None else counts
    total = int((await select(backend, _TOTAL))[0]["n"])
    return DatasetInfo(version=version, triples=total, graph_counts=counts)
