"""The remote engine: any SPARQL 1.1 endpoint, queried over HTTP (the repository's second implementation).

It knows nothing of the clients' HTTP requests; it is itself an HTTP client of its engine.
"""

from __future__ import annotations

import hashlib
import re
import time
from urllib.parse import urlencode

import httpx
import pyoxigraph as ox

from server.model import formats
from server.model.namespaces import GRAPH, NS
from server.settings import Settings
from server.engine.errors import EngineUnavailable, QueryEvaluationError, QueryRejected, QuerySyntaxError, QueryTimeout, ResultTooLarge
from server.engine.repository import DatasetInfo, describe_dataset, graph_counts, select
from server.engine.worker import QueryResult, QueryRequest


# What the engine is asked for: the formats every SPARQL 1.1 engine writes; other formats are
# written here from them with pyoxigraph.
_ASK_SOLUTIONS = "application/sparql-results+json"
_ASK_GRAPH = "application/n-triples"
_FORM = re.compile(r"(?:\s+|#[^\n]*(?:\n|$)|PREFIX\s*[^\s:<>]*:\s*<[^<>]*>|BASE\s*<[^<>]*>)*"
                   r"(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", re.IGNORECASE)


# `arkg load` marks the engine with the dataset version it loaded, once every graph is verified
# (server/publish/load.py): then this server finds the build of that version (dumps, VoID, search).
VERSION_GRAPH = GRAPH + "meta"
VERSION_PREDICATE = NS["owl"] + "versionInfo"
_LATERAL_PROBE = "SELECT ?y WHERE { BIND(1 AS ?x) LATERAL { BIND(?x AS ?y) } }"
_LOADED_VERSION = f"SELECT ?v WHERE {{ GRAPH <{VERSION_GRAPH}> {{ <{VERSION_GRAPH}> <{VERSION_PREDICATE}> ?v }} }}"


class RemoteBackend:
    """Any SPARQL 1.1 engine given by URL (Oxigraph server, Fuseki, Virtuoso, QLever, GraphDB).

    ARKG's queries expect the union of its named graphs as the default graph. An engine that
    answers so by itself (Virtuoso always; ``oxigraph serve --union-default-graph``, Fuseki's
    ``unionDefaultGraph``) is queried as it is: naming eight graphs in every query made Virtuoso
    12x slower on a document query (6.8 s against 0.56 s, 22k triples, measured here). When the
    engine's default graph is empty, every query that sets no dataset of its own (no FROM, no
    default-graph-uri / named-graph-uri) is sent with ARKG's graphs as both its default and its
    named graphs, through the SPARQL 1.1 Protocol's dataset parameters. Pitfalls, checked here:
    ``oxigraph serve --union-default-graph`` (0.5) ignores FROM, so leave that option off;
    Virtuoso's union also holds its own system graphs (about 2,700 triples), which only
    ``/health``'s graph list leaves out.
    """

    lateral = False  # LATERAL is Oxigraph's (a SPARQL 1.2 draft): start() asks the engine


    def __init__(self, settings: Settings):
        self.settings = settings
        self.endpoint = settings.remote_endpoint
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(settings.query_timeout, connect=10.0))
        self.info = DatasetInfo("remote", 0)
        self.graphs: tuple[str, ...] = ()  # named in every query when the engine's default graph is empty

    async def start(self) -> None:
        self.graphs = ()  # first ask the engine's own dataset which graphs it holds
        counts = await graph_counts(self)
        ours = {g: n for g, n in counts.items() if g.startswith(GRAPH)}
        counts = ours or counts  # an engine loaded under other graph names: all of its graphs
        info = await describe_dataset(self, "remote", counts=counts)
        if info.triples == 0 and counts:
            # The engine's default graph is empty, not the union: name the graphs in every query.
            self.graphs = tuple(sorted(counts))
            info = await describe_dataset(self, "remote", counts=counts)
        # The engine's data has no file hash here: the version is a stable digest of its
        # graph sizes, the same in every server process (ETags must agree across workers).
        marked = await select(self, _LOADED_VERSION)
        digest = hashlib.sha256(repr(sorted(info.graph_counts.items())).encode()).hexdigest()[:10]
        info.version = marked[0]["v"] if len(marked) == 1 else f"remote-{digest}"
        self.info = info
        # Views seed their claim joins with LATERAL where the engine has it (oxigraph serve:
        # without it a page joins every claim); Virtuoso 7 and others answer 400: plain joins.
        try:
            self.lateral = bool(await select(self, _LATERAL_PROBE))
        except QueryRejected:
            self.lateral = False

    async def close(self) -> None:
        await self.client.aclose()

    def run_inline(self, request: QueryRequest) -> QueryResult | None:
        return None  # the engine is elsewhere: every query is a request to it

    async def run(self, request: QueryRequest, *, timeout: float | None = None, client: str = "") -> QueryResult:
        solutions = formats.by_name(request.solutions_format, formats.RESULTS)
        graph = formats.by_name(request.graph_format, formats.GRAPH)
        defaults, named = request.default_graphs, request.named_graphs
        if not (defaults or named or request.has_dataset_clause):
            defaults = named = self.graphs
        data = [("query", request.query)]
        data += [("default-graph-uri", g) for g in defaults]
        data += [("named-graph-uri", g) for g in named]
        form = query_form(request.query)
        # One format per form, asked alone: Virtuoso answers in the first type of Accept whatever
        # the query form and q-values (a SELECT as Turtle, a CONSTRUCT as SPARQL JSON).
        asked = _ASK_GRAPH if form in ("CONSTRUCT", "DESCRIBE") else _ASK_SOLUTIONS if form else (
            f"{_ASK_SOLUTIONS}, {_ASK_GRAPH};q=0.9")
        headers = {"Accept": asked, "Content-Type": "application/x-www-form-urlencoded"}
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
        if response.status_code == 206 or "x-sql-state" in response.headers:
            # Virtuoso's "anytime query": stopped at its own limit (MaxQueryExecutionTime or
            # ResultSetMaxRows) it sends what it has as if complete, marked only by these
            # (virtuoso-opensource README.ANYTIME.md). A partial answer must not pass as whole.
            raise QueryTimeout("the SPARQL engine stopped the query at its own limit and sent a partial result: "
                               + response.headers.get("x-sql-message", "")[:300])
        media = response.headers.get("content-type", "").split(";")[0].strip()
        try:
            if media == _ASK_SOLUTIONS:
                parsed = ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)
                if form == "ASK" and isinstance(parsed, ox.QuerySolutions):
                    # Virtuoso 7.2 answers ASK with one row binding __ASK_RETVAL to 1 or 0.
                    answer = any(str(v.value) not in ("0", "false") for row in parsed for v in row)
                    body = b'{"head":{},"boolean":%s}' % (b"true" if answer else b"false")
                    parsed = ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)
                kind = "boolean" if isinstance(parsed, ox.QueryBoolean) else "solutions"
                out = body if solutions is formats.JSON else parsed.serialize(format=solutions.engine_format)
                return self._result(kind, solutions.name, out, started)
            if media == _ASK_GRAPH:
                out = body if graph.engine_format == ox.RdfFormat.N_TRIPLES else ox.serialize(
                    ox.parse(body, format=ox.RdfFormat.N_TRIPLES), format=graph.engine_format)
                return self._result("triples", graph.name, out, started)
        except (SyntaxError, ValueError) as exc:
            raise EngineUnavailable(f"the SPARQL engine's {media} answer could not be read: {exc}") from None
        raise EngineUnavailable(f"the SPARQL engine answered with unexpected media type {media!r} (asked: {asked})")

    def _result(self, kind: str, fmt: str, body: bytes, started: float) -> QueryResult:
        if len(body) > self.settings.max_result_bytes:
            raise ResultTooLarge(f"the result is larger than {self.settings.max_result_bytes} bytes")
        return QueryResult(kind, fmt, body, time.monotonic() - started)


def query_form(query: str) -> str | None:
    """SELECT, ASK, CONSTRUCT or DESCRIBE: the first keyword after the prologue, or None.

    >>> query_form("PREFIX a: <http://x/#> BASE <http://y/> construct { ?s ?p ?o } {}")
    'CONSTRUCT'
    >>> query_form("nonsense") is None
    True
    """
    # The engine layer may not import the SPARQL guard; this reads only what precedes the form.
    found = _FORM.match(query)
    return found.group(1).upper() if found else None
