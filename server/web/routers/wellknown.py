"""The dataset's self-description: ``/.well-known/void`` and ``/.well-known/sparql-examples``.

Both are RDF in the format the Accept header asks for (Turtle, JSON-LD, RDF/XML,
N-Triples; Turtle by default).

- ``/.well-known/void``: VoID and DCAT 3 for the dataset, its dumps and its SPARQL service:
  the description ``arkg build`` wrote for the served version (``void.ttl`` of its build,
  canonical URLs), with the server's own URLs mapped onto its public URL
  (:func:`server.publish.void.public_copy`). Nothing is counted here; without a build the
  answer is a 404 naming the command that makes it.
- ``/.well-known/sparql-examples``: the ``examples`` graph (the example queries, each an
  ``sh:SPARQLExecutable``).
"""

from __future__ import annotations

import pyoxigraph as ox
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from server.model import formats
from server.model.build_layout import BuildLayout
from server.publish import void as metadata
from server.model.namespaces import graph_iri
from server.settings import Settings, get_settings
from server.engine.backend import Backend
from server.views.documents import RDF_FORMATS
from server.engine.worker import QueryRequest
from server.model.urls import UrlMap
from server.web.caching import conditional, conditional_sync, etag_for
from server.web.deps import get_backend, get_metered_backend, get_urls
from server.web.errors import ClientError

router = APIRouter(tags=["metadata"])

EXAMPLES_QUERY = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{graph_iri('examples')}> {{ ?s ?p ?o }} }}"
_described: dict[tuple[str, int], list[ox.Triple]] = {}  # (void.ttl path, mtime) -> its triples


def _built_description(settings: Settings, version: str) -> tuple[list[ox.Triple], str] | None:
    """The triples of the served version's built void.ttl and a tag of the file, or None."""
    layout = BuildLayout.of(settings.build_dir, version)
    if layout is None or not layout.complete:
        return None
    try:
        stat = layout.void.stat()
        key = (str(layout.void), stat.st_mtime_ns)
        if key not in _described:
            if len(_described) >= 8:  # a long-running server reloading often keeps only recent versions
                _described.clear()
            _described[key] = [q.triple for q in ox.parse(path=str(layout.void), format=ox.RdfFormat.TURTLE)]
    except (OSError, SyntaxError):
        return None
    return _described[key], f"{stat.st_mtime_ns}:{stat.st_size}"


@router.api_route("/.well-known/void", methods=["GET", "HEAD"], summary="VoID and DCAT description of the dataset")
def void(request: Request, backend: Backend = Depends(get_backend), settings: Settings = Depends(get_settings),
         urls: UrlMap = Depends(get_urls)) -> Response:
    fmt = formats.negotiate(request.headers.get("accept"), RDF_FORMATS)
    built = _built_description(settings, backend.info.version)
    if built is None:
        raise ClientError(404, f"The description of the served dataset version {backend.info.version} has not been "
                               "built; run `arkg build` (`arkg serve` does it before starting).")
    triples, tag = built
    etag = etag_for(backend.info.version, "void", fmt.name, urls.public_url, urls.base_iri, tag)
    prefixes = metadata.PREFIXES if fmt in (formats.TURTLE, formats.RDFXML) else None
    return conditional_sync(request, etag, lambda: Response(
        ox.serialize(metadata.public_copy(triples, urls), format=fmt.engine_format, prefixes=prefixes),
        media_type=fmt.content_type), headers={"Vary": "Accept"})


@router.api_route("/.well-known/sparql-examples", methods=["GET", "HEAD"], summary="The example queries, as RDF")
async def sparql_examples(request: Request, backend: Backend = Depends(get_metered_backend)) -> Response:
    fmt = formats.negotiate(request.headers.get("accept"), RDF_FORMATS)
    async def respond() -> Response:
        result = await backend.run(QueryRequest(EXAMPLES_QUERY, "json", fmt.name))
        return Response(result.body, media_type=fmt.content_type)

    return await conditional(request, etag_for(backend.info.version, "sparql-examples", fmt.name), respond,
                             headers={"Vary": "Accept"})
