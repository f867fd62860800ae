"""The remote engine: any SPARQL 1.1 endpoint, queried over HTTP (the repository's second implementation).

It knows nothing of the clients' HTTP requests; it is itself an HTTP client of its engine.
"""

from __future__ import annotations

import hashlib
import time
from urllib.parse import urlencode

import httpx

from server.model import formats
from server.settings import Settings
from server.engine.errors import EngineUnavailable, QueryEvaluationError, QuerySyntaxError, QueryTimeout, ResultTooLarge
from server.engine.repository import DatasetInfo, describe_dataset
from server.engine.worker import QueryResult, Request


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
        info = await describe_dataset(self, "remote")
        digest = hashlib.sha256(repr(sorted(info.graph_counts.items())).encode()).hexdigest()[:10]
        info.version = f"remote-{digest}"
        self.info = info

    async def close(self) -> None:
        await self.client.aclose()

    def run_inline(self, request: Request) -> QueryResult | None:
        return None  # the engine is elsewhere: every query is a request to it

    async def run(self, request: Request, *, timeout: float | None = None, client: str = "") -> QueryResult:
        solutions = formats.by_name(request.solutions_format, formats.RESULTS)
        graph = formats.by_name(request.graph_format, formats.GRAPH)
        data = [("query", request.query)]
        data += [("default-graph-uri", g) for g in request.default_graphs]
        data += [("named-graph-uri", g) for g in request.named_graphs]
        headers = {"Accept": f"{solutions.media_type}, {graph.media_type};q=0.9",
                   "Content-Type": "application/x-www-form-urlencoded"}
        limit = min(timeout or self.settings.query_timeout, self.settings.query_timeout)
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
            raise EngineUnavailable(f"the SPARQL engine at {self.endpoint} could not be reached: {exc}") from None
        if response.status_code >= 400:
            message = body.decode("utf-8", "replace")[:2000]
            error = QuerySyntaxError if response.status_code == 400 else QueryEvaluationError
            if response.status_code >= 500:
                raise EngineUnavailable(f"the SPARQL engine answered {response.status_code}: {message}")
            raise error(message)
        media = response.headers.get("content-type", "").split(";")[0].strip()
        if media == solutions.media_type:
            kind = "boolean" if b'"boolean"' in body[:200] or b"<boolean>" in body[:400] else "solutions"
            return QueryResult(kind, solutions.name, body, time.monotonic() - started)
        if media == graph.media_type:
            return QueryResult("triples", graph.name, body, time.monotonic() - started)
        raise EngineUnavailable(f"the SPARQL engine answered with unexpected media type {media!r}")
