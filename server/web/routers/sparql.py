"""The SPARQL 1.1 Protocol endpoint at /sparql (queries only; the service is read-only)."""

from __future__ import annotations

import asyncio

import pyoxigraph as ox
from fastapi import APIRouter, Request
from starlette.responses import Response

from server.model import formats
from server.settings import Settings
from server.sparql import protocol
from server.sparql.service import prepare
from server.sparql.service_description import PREFIXES as SD_PREFIXES, service_description
from server.engine.backend import Backend
from server.model.urls import UrlMap
from server.web.caching import conditional, etag_for, query_etag
from server.web.deps import get_backend, get_urls, metered_backend
from server.web.errors import ClientError
from server.web.observe import observed
from server.web.fastpath import RequestOnlyRoute
from server.web.lane import DECLINED
from server.web.pages import query_page

router = APIRouter(tags=["sparql"], route_class=RequestOnlyRoute)  # served by the short stack (fastpath.py)

DESCRIPTION_FORMATS = [formats.TURTLE, formats.JSONLD, formats.RDFXML, formats.NTRIPLES]

_QUERY_DOC = {
    "parameters": [
        {"name": "query", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "A SPARQL 1.1 query (SELECT, ASK, CONSTRUCT, DESCRIBE). Without it: the Service Description."},
        {"name": "default-graph-uri", "in": "query", "required": False,
         "schema": {"type": "array", "items": {"type": "string"}}, "explode": True,
         "description": "Named graph(s) of this dataset to use as the default graph (default: the union of all)."},
        {"name": "named-graph-uri", "in": "query", "required": False,
         "schema": {"type": "array", "items": {"type": "string"}}, "explode": True,
         "description": "Named graph(s) of this dataset visible to GRAPH."},
        {"name": "timeout", "in": "query", "required": False,
         "schema": {"type": "string", "examples": ["500ms", "30s", "2.5"]},
         "description": "Time limit for this query: seconds (30, 2.5) or a duration with its unit (500ms, 30s). "
                        "It can only lower the server's limit (a larger value is clamped to it); anything else is a 400."},
        *({"name": name, "in": "query", "required": False,
           "schema": {"type": "array", "items": {"type": "string"}}, "explode": True,
           "description": "Result format hint, overriding the Accept header: a short name ("
                          + ", ".join(sorted({h for f in formats.RESULTS + formats.GRAPH for h in f.hints}))
                          + ") or a media type, case-insensitive. The first value that fits the query form "
                            "wins; one that fits nothing leaves the choice to Accept."}
          for name in protocol.FORMAT_HINTS),
    ],
    "responses": {
        "200": {"description": "Query results (SPARQL JSON/XML/CSV/TSV for SELECT and ASK; Turtle, N-Triples, "
                               "JSON-LD, RDF/XML, TriG, N-Quads for CONSTRUCT and DESCRIBE) or the Service Description.",
                "content": {f.media_type: {} for f in formats.RESULTS + formats.GRAPH}},
        "304": {"description": "Not modified (If-None-Match)."},
        "400": {"description": "Malformed query or parameters; the body says what to fix."},
        "403": {"description": "An update operation: the service is read-only."},
        "406": {"description": "No acceptable result format."},
        "413": {"description": "Request body or result too large."},
        "415": {"description": "Unsupported Content-Type for POST."},
        "429": {"description": "This client has used its share of query time; see Retry-After."},
        "503": {"description": "The query exceeded its time limit (the server's, or a lower one from 'timeout'), was "
                               "stopped to free a worker for other clients (fair share), or no worker became free "
                               "in time; the body names the reason, Retry-After says when to retry."},
    },
}

_POST_DOC = {
    "requestBody": {"required": True, "content": {
        "application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {
            "query": {"type": "string"}, "default-graph-uri": {"type": "array", "items": {"type": "string"}},
            "named-graph-uri": {"type": "array", "items": {"type": "string"}},
            "timeout": {"type": "string", "description": "Time limit for this query (500ms, 30s, 2.5)."},
            **{name: {"type": "array", "items": {"type": "string"}} for name in protocol.FORMAT_HINTS}},
            "required": ["query"]}},
        "application/sparql-query": {"schema": {"type": "string"}},
    }},
    "parameters": _QUERY_DOC["parameters"][1:],
    "responses": {**_QUERY_DOC["responses"], "408": {"description": "The body did not arrive within body_timeout."}},
}


async def read_body(request: Request, limit: int, seconds: float) -> bytes:
    """The request body, refused with 413 past ``limit`` bytes (checked while streaming) and
    with 408 if it has not all arrived within ``seconds`` (uvicorn waits for it forever)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ClientError(413, f"The request body is {declared} bytes; the limit is {limit} bytes.")
    chunks, size = [], 0
    try:
        async with asyncio.timeout(seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ClientError(413, f"The request body exceeds the limit of {limit} bytes.")
                chunks.append(chunk)
    except TimeoutError:
        raise ClientError(408, f"The request body did not arrive within {seconds:g} s ({size} bytes came); "
                               "send the whole body at once.", {"Connection": "close"}) from None
    return b"".join(chunks)


async def answer(request: Request, pq: protocol.ProtocolQuery, backend: Backend, settings: Settings,
                 urls: UrlMap) -> Response:
    """Run one protocol query and build its response (shared by GET and POST)."""
    if pq.query is None:
        return await describe_service(request, backend, settings, urls)
    accept = request.headers.get("accept")
    prepared = prepare(pq, accept, backend.info, urls, settings.allowed_service_endpoints)
    # web/lane.py has tried the in-process store already if it marked the request declined
    bounded = prepared.bounded and not request.scope.get(DECLINED)

    async def respond() -> Response:
        async with observed(request, pq.query, bounded=bounded) as seen:  # metrics and query log
            async with metered_backend(request) as metered:  # charged to this client (limits.py)
                result = await metered.run_prepared(prepared.request, bounded=bounded, timeout=pq.timeout)
            seen.result_bytes = len(result.body)
        return Response(result.body, media_type=formats.by_name(result.format).content_type)

    if request.method in ("GET", "HEAD"):
        etag = query_etag(backend.info.version, pq.query, prepared.request)
        return await conditional(request, etag, respond, headers={"Vary": "Accept"})
    response = await respond()  # POST: not cacheable
    response.headers.update({"Vary": "Accept", "Cache-Control": "no-store"})
    return response


async def describe_service(request: Request, backend: Backend, settings: Settings, urls: UrlMap) -> Response:
    """The Service Description, in the RDF format the client prefers; browsers get the query page."""
    fmt = formats.negotiate(request.headers.get("accept"), DESCRIPTION_FORMATS + [formats.HTML])
    if fmt is formats.HTML:
        async with metered_backend(request) as metered:
            return await query_page(request, metered, urls, settings)
    def respond() -> Response:
        triples = service_description(urls, backend.info, allowed_services=settings.allowed_service_endpoints,
                                      query_timeout=settings.query_timeout)
        body = ox.serialize(triples, format=fmt.engine_format, prefixes=SD_PREFIXES if fmt is formats.TURTLE else None)
        return Response(body, media_type=fmt.content_type)

    etag = etag_for(backend.info.version, "service-description", fmt.name, settings.public_url)
    return await conditional(request, etag, respond, headers={"Vary": "Accept"})


def _context(request: Request) -> tuple[Backend, Settings, UrlMap]:
    """The backend, settings and URL map of this app, as the dependencies in deps.py give them.

    Read here rather than declared with ``Depends``: on the busiest route FastAPI's dependency
    solving cost more than a lookup query (sync dependencies each hop to the threadpool, and
    while the app has ``dependency_overrides`` every dependant is rebuilt per request).
    """
    settings = request.app.state.settings
    return get_backend(request), settings, get_urls(settings)


@router.api_route("/sparql", methods=["GET", "HEAD"], openapi_extra=_QUERY_DOC,
                  summary="SPARQL query (GET) or Service Description (no query)")
async def sparql_get(request: Request) -> Response:
    backend, settings, urls = _context(request)
    items = protocol.parse_query_string(request.scope.get("query_string", b""))
    return await answer(request, protocol.parse_params(items), backend, settings, urls)


@router.post("/sparql", openapi_extra=_POST_DOC, summary="SPARQL query (POST, form-encoded or direct)")
async def sparql_post(request: Request) -> Response:
    backend, settings, urls = _context(request)
    body = await read_body(request, settings.max_body_bytes, settings.body_timeout)
    url_items = protocol.parse_query_string(request.scope.get("query_string", b""))
    pq = protocol.parse_post(request.headers.get("content-type"), body, url_items)
    if pq.query is None:
        raise ClientError(400, "POST needs a query: send query=... (form) or the query as an application/sparql-query body.")
    return await answer(request, pq, backend, settings, urls)
