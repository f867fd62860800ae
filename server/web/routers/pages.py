"""Pages for people: the home page, the ontology, the query page with results, the stylesheet.

- ``/``: what ARKG is, figures, how to query, example queries, dumps, licence, citation, and
  the most mentioned things of each kind; its figures come from the build (or once per version).
- ``/browse/{kind}?page=N``: every thing of a kind, a page at a time, in IRI order.
- ``/ontology``: HTML documentation of every term (anchors ``#Term``), or the OWL file
  by content negotiation (Turtle, JSON-LD, RDF/XML, N-Triples); ``/ontology.{ttl,jsonld,rdf,nt}``
  name one format.
- ``/query``: the query page. Without ``query`` it is the editor (also served at ``/sparql``
  to browsers); ``/query?query=...`` runs the query like the endpoint does and shows the
  results as a table, with download links (``/sparql?query=...&format=csv`` ...) and the
  page's own URL to share.
- ``/static/arkg.css``: the one stylesheet; pages load nothing from any other host.
"""

from __future__ import annotations

import pyoxigraph as ox
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from server.model import formats
from server.settings import Settings, get_settings
from server.sparql import protocol
from server.views import ontology as vocabulary
from server.engine.backend import Backend
from server.model.urls import UrlMap
from server.web.caching import conditional, etag_for
from server.web.deps import get_metered_backend, get_urls
from server.web.errors import ClientError
from server.web.pages import browse_page, home_page, ontology_page, query_page
from server.web.templating import STATIC, TEMPLATE_DIGEST

router = APIRouter(tags=["pages"])

ONTOLOGY_FORMATS = {f.name: f for f in formats.DOCUMENT}


@router.api_route("/", methods=["GET", "HEAD"], summary="Home page", include_in_schema=True)
async def home(request: Request, backend: Backend = Depends(get_metered_backend), urls: UrlMap = Depends(get_urls)) -> Response:
    return await home_page(request, backend, urls)


async def _ontology(request: Request, backend: Backend, urls: UrlMap, fmt: formats.Format, headers: dict[str, str]) -> Response:
    if fmt is formats.HTML:
        response = await ontology_page(request, backend, urls)
        response.headers.update(headers)
        return response
    async def respond() -> Response:
        triples = await vocabulary.owl_triples(backend)
        prefixes = vocabulary.ONTOLOGY_PREFIXES if fmt in (formats.TURTLE, formats.RDFXML) else None
        body = await run_in_threadpool(ox.serialize, triples, format=fmt.engine_format, prefixes=prefixes)
        return Response(body, media_type=fmt.content_type)

    return await conditional(request, etag_for(backend.info.version, "ontology", fmt.name), respond, headers=headers)


def _ontology_links(urls: UrlMap) -> str:
    return ", ".join(f'<{urls.public_url}ontology.{f.name}>; rel="alternate"; type="{f.media_type}"'
                     for f in formats.DOCUMENT)


@router.api_route("/ontology", methods=["GET", "HEAD"],
                  summary="The ARKG ontology: HTML documentation, or the OWL file by content negotiation",
                  responses={200: {"content": {f.media_type: {} for f in formats.DOCUMENT}}})
async def ontology(request: Request, backend: Backend = Depends(get_metered_backend), urls: UrlMap = Depends(get_urls)) -> Response:
    fmt = formats.negotiate(request.headers.get("accept"), formats.DOCUMENT)
    headers = {"Vary": "Accept", "Content-Location": f"{urls.public_url}ontology.{fmt.name}",
               "Link": _ontology_links(urls)}
    return await _ontology(request, backend, urls, fmt, headers)


@router.api_route("/ontology.{ext}", methods=["GET", "HEAD"], summary="The ARKG ontology in one format")
async def ontology_in(ext: str, request: Request, backend: Backend = Depends(get_metered_backend),
                      urls: UrlMap = Depends(get_urls)) -> Response:
    if ext not in ONTOLOGY_FORMATS:
        raise ClientError(404, f"No ontology format {ext[:20]!r}; use one of: {', '.join(ONTOLOGY_FORMATS)}.")
    return await _ontology(request, backend, urls, ONTOLOGY_FORMATS[ext], {"Link": _ontology_links(urls)})


@router.api_route("/query", methods=["GET", "HEAD"],
                  summary="The query page for browsers; with ?query=..., the results as an HTML table")
async def query(request: Request, backend: Backend = Depends(get_metered_backend), settings: Settings = Depends(get_settings),
                urls: UrlMap = Depends(get_urls)) -> Response:
    items = protocol.parse_query_string(request.scope.get("query_string", b""))
    pq = protocol.parse_params([(k, v) for k, v in items if k == "query"])
    return await query_page(request, backend, urls, settings, pq.query)


_STYLESHEET = (STATIC / "arkg.css").read_bytes()


@router.api_route("/static/arkg.css", methods=["GET", "HEAD"], include_in_schema=False)
async def stylesheet(request: Request) -> Response:
    return await conditional(request, etag_for("static", TEMPLATE_DIGEST),
                             lambda: Response(_STYLESHEET, media_type="text/css; charset=utf-8"))


@router.api_route("/browse/{kind}", methods=["GET", "HEAD"],
                  summary="Every thing of one kind, page by page (?page=N), with links to their pages",
                  responses={404: {"description": "No such kind, or a page past the last one"}})
async def browse(kind: str, request: Request, page: int = Query(1, ge=1, le=1_000_000, description="Page of the list."),
                 backend: Backend = Depends(get_metered_backend), urls: UrlMap = Depends(get_urls)) -> Response:
    return await browse_page(request, backend, urls, kind, page)
