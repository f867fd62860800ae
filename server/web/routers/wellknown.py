"""The dataset's self-description: ``/.well-known/void`` and ``/.well-known/sparql-examples``.

Both are RDF in the format the Accept header asks for (Turtle, JSON-LD, RDF/XML,
N-Triples; Turtle by default).

- ``/.well-known/void``: VoID and DCAT 3 for the dataset, its dumps and its SPARQL service,
  made by :func:`server.publish.void.describe` with this server's public URL. Its counts come
  from the data through the backend (computed once per dataset version); its dump sizes
  and checksums from the built dumps of the served version.
- ``/.well-known/sparql-examples``: the ``examples`` graph (the example queries, each an
  ``sh:SPARQLExecutable``).
"""

from __future__ import annotations

import pyoxigraph as ox
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from server.publish import dumps
from server.model import formats
from server.publish import void as metadata
from server.model.namespaces import graph_iri
from server.settings import Settings, get_settings
from server.engine.backend import Backend
from server.views.documents import RDF_FORMATS
from server.engine.worker import Request as QueryRequest
from server.model.urls import UrlMap
from server.web.caching import CACHE_DYNAMIC, etag_for, not_modified
from server.web.deps import get_backend, get_metered_backend, get_urls
from server.web.routers.dumps import served_build

router = APIRouter(tags=["metadata"])

EXAMPLES_QUERY = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{graph_iri('examples')}> {{ ?s ?p ?o }} }}"
_statistics: dict[str, metadata.Statistics] = {}  # dataset version -> counts; versions are content hashes


async def statistics(backend: Backend) -> metadata.Statistics:
    """The counts of the served version, computed on first use."""
    version = backend.info.version
    if version not in _statistics:
        stats = await metadata.statistics_of_backend(backend)
        if len(_statistics) >= 8:  # a long-running server reloading often keeps only recent versions
            _statistics.clear()
        _statistics[version] = stats
    return _statistics[version]


@router.api_route("/.well-known/void", methods=["GET", "HEAD"], summary="VoID and DCAT description of the dataset")
async def void(request: Request, backend: Backend = Depends(get_backend), settings: Settings = Depends(get_settings),
               urls: UrlMap = Depends(get_urls)) -> Response:
    fmt = formats.negotiate(request.headers.get("accept"), RDF_FORMATS)
    build = await served_build(backend, settings)
    sums = build.file(dumps.SUMS_FILE).sha256 if build is not None else "no dumps"
    headers = {"Vary": "Accept", "Cache-Control": CACHE_DYNAMIC}
    etag = etag_for(backend.info.version, "void", fmt.name, urls.public_url, urls.base_iri, sums)
    cached = not_modified(request, etag, headers)
    if cached is not None:
        return cached
    stats = await statistics(backend)
    prefixes = metadata.PREFIXES if fmt in (formats.TURTLE, formats.RDFXML) else None

    def serialise() -> bytes:
        return ox.serialize(metadata.describe(stats, build, urls), format=fmt.ox, prefixes=prefixes)

    body = await run_in_threadpool(serialise)
    return Response(body, media_type=fmt.content_type, headers={**headers, "ETag": etag})


@router.api_route("/.well-known/sparql-examples", methods=["GET", "HEAD"], summary="The example queries, as RDF")
async def sparql_examples(request: Request, backend: Backend = Depends(get_metered_backend)) -> Response:
    fmt = formats.negotiate(request.headers.get("accept"), RDF_FORMATS)
    headers = {"Vary": "Accept", "Cache-Control": CACHE_DYNAMIC}
    etag = etag_for(backend.info.version, "sparql-examples", fmt.name)
    cached = not_modified(request, etag, headers)
    if cached is not None:
        return cached
    result = await backend.run(QueryRequest(EXAMPLES_QUERY, "json", fmt.name))
    return Response(result.body, media_type=fmt.content_type, headers={**headers, "ETag": etag})
