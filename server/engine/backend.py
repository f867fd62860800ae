"""Backends answer SPARQL for the server: the embedded pyoxigraph pool or a remote engine.

Both take a :class:`~server.engine.worker.Request` and return a
:class:`~server.engine.pool.QueryResult` (already serialised), or raise a
:class:`~server.engine.pool.QueryError`. Neither knows anything of HTTP requests from
clients; the remote one is itself an HTTP client of its engine.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from urllib.parse import urlencode
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from server.model import formats
from server.settings import Settings
from server.engine.dataset import dataset_files, dataset_version
from server.engine.inline import InlineStore
from server.engine.pool import PoolUnavailable, QueryEvaluationError, QueryPool, QueryResult, QuerySyntaxError, QueryTimeout, ResultTooLarge
from server.engine.worker import Request, StoreSpec

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

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def run(self, request: Request, *, timeout: float | None = None) -> QueryResult: ...

    def run_inline(self, request: Request) -> QueryResult | None:
        """Answer a bounded query (sparql/bounded.py) on the calling thread, or ``None`` to say
        it must go through :meth:`run`. Never called for other queries."""
        ...


async def select(backend: Backend, query: str, *, timeout: float | None = None) -> list[dict[str, str]]:
    """Run a SELECT for the server's own use; rows map variable names to plain values."""
    result = await backend.run(Request(query, "json", "ttl"), timeout=timeout)
    data = json.loads(result.body)
    return [{k: v["value"] for k, v in row.items()} for row in data["results"]["bindings"]]


async def _describe_dataset(backend: Backend, version: str) -> DatasetInfo:
    counts = {row["g"]: int(row["n"]) for row in await select(backend, _COUNTS)}
    total = int((await select(backend, _TOTAL))[0]["n"])
    return DatasetInfo(version=version, triples=total, graph_counts=counts)


class LocalBackend:
    """The embedded store: a pool of pyoxigraph worker processes over the data files or a disk store."""

    def __init__(self, settings: Settings, *, spec: StoreSpec | None = None, version: str | None = None):
        self.settings = settings
        if spec is None:
            if settings.store:
                spec, version = StoreSpec(disk_path=str(settings.store)), version or _disk_version(settings.store)
            else:
                files = dataset_files(settings.data_dir)
                spec = StoreSpec(files=tuple((str(f.path), f.graph_iri) for f in files))
                version = version or dataset_version(files)
        self.spec, self.version = spec, version or "unknown"
        self.pool = QueryPool(spec, size=settings.query_workers, timeout=settings.query_timeout,
                              max_bytes=settings.max_result_bytes, memory_limit_mb=settings.worker_memory_mb)
        self.info = DatasetInfo(self.version, 0)
        self.inline: InlineStore | None = None  # bounded lookups in this process (store/inline.py)

    async def start(self) -> None:
        # The workers and this process's own copy (store/inline.py) load side by side.
        opening = [self.pool.start()]
        if self.settings.inline_max_bytes:
            opening.append(InlineStore.open(self.spec, max_bytes=self.settings.inline_max_bytes))
        opened = await asyncio.gather(*opening, return_exceptions=True)
        failure = next((r for r in opened if isinstance(r, BaseException)), None)
        if failure is not None:
            await self.pool.close()
            raise failure
        self.inline = opened[1] if len(opened) > 1 else None
        self.info = await _describe_dataset(self, self.version)

    async def close(self) -> None:
        self.inline = None
        await self.pool.close()

    async def run(self, request: Request, *, timeout: float | None = None) -> QueryResult:
        return await self.pool.run(request, timeout=timeout)

    def run_inline(self, request: Request) -> QueryResult | None:
        return self.inline.run(request) if self.inline is not None else None


def _disk_version(path) -> str:
    from pathlib import Path

    marker = Path(path) / "ARKG_VERSION"
    return marker.read_text().strip() if marker.exists() else "disk"


class RemoteBackend:
    """Any SPARQL 1.1 engine given by URL (Oxigraph server, Fuseki, Virtuoso, QLever, GraphDB).

    The engine must answer with the union of the named graphs as its default graph
    (``oxigraph serve --union-default-graph``, Fuseki's ``unionDefaultGraph``...).
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.endpoint = settings.remote_endpoint
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(settings.query_timeout, connect=10.0))
        self.info = DatasetInfo("remote", 0)

    async def start(self) -> None:
        # The engine's data has no file hash here: the version is a stable digest of its
        # graph sizes, the same in every server process (ETags must agree across workers).
        info = await _describe_dataset(self, "remote")
        digest = hashlib.sha256(repr(sorted(info.graph_counts.items())).encode()).hexdigest()[:10]
        info.version = f"remote-{digest}"
        self.info = info

    async def close(self) -> None:
        await self.client.aclose()

    def run_inline(self, request: Request) -> QueryResult | None:
        return None  # the engine is elsewhere: every query is a request to it

    async def run(self, request: Request, *, timeout: float | None = None) -> QueryResult:
        solutions = formats.by_name(request.solutions_format, formats.RESULTS)
        graph = formats.by_name(request.graph_format, formats.GRAPH)
        data = [("query", request.query)]
        data += [("default-graph-uri", g) for g in request.default_graphs]
        data += [("named-graph-uri", g) for g in request.named_graphs]
        headers = {"Accept": f"{solutions.media_type}, {graph.media_type};q=0.9",
                   "Content-Type": "application/x-www-form-urlencoded"}
        limit = timeout or self.settings.query_timeout
        started = time.monotonic()
        try:
            async with self.client.stream("POST", self.endpoint, content=urlencode(data).encode(), headers=headers,
                                          timeout=httpx.Timeout(limit, connect=10.0)) as response:
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self.settings.max_result_bytes:
                        raise ResultTooLarge(f"the result is larger than {self.settings.max_result_bytes} bytes")
                    chunks.append(chunk)
                    if time.monotonic() - started > limit:
                        raise httpx.ReadTimeout("query time limit")
                body = b"".join(chunks)
        except httpx.TimeoutException:
            raise QueryTimeout(f"the query exceeded the time limit of {limit:g} s and was stopped") from None
        except httpx.HTTPError as exc:
            raise PoolUnavailable(f"the SPARQL engine at {self.endpoint} could not be reached: {exc}") from None
        if response.status_code >= 400:
            message = body.decode("utf-8", "replace")[:2000]
            error = QuerySyntaxError if response.status_code == 400 else QueryEvaluationError
            if response.status_code >= 500:
                raise PoolUnavailable(f"the SPARQL engine answered {response.status_code}: {message}")
            raise error(message)
        media = response.headers.get("content-type", "").split(";")[0].strip()
        if media == solutions.media_type:
            kind = "boolean" if b'"boolean"' in body[:200] or b"<boolean>" in body[:400] else "solutions"
            return QueryResult(kind, solutions.name, body, time.monotonic() - started)
        if media == graph.media_type:
            return QueryResult("triples", graph.name, body, time.monotonic() - started)
        raise PoolUnavailable(f"the SPARQL engine answered with unexpected media type {media!r}")


def open_backend(settings: Settings) -> Backend:
    """The backend the settings ask for."""
    return RemoteBackend(settings) if settings.remote_endpoint else LocalBackend(settings)

