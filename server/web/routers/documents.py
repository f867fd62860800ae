"""Dereferenceable URIs (W3C "Cool URIs for the Semantic Web", 303 pattern), for linked-data clients and browsers.

- ``/id/{kind}/{slug}`` names a thing, not a document: it answers 303 See Other to
  ``/doc/{kind}/{slug}.{ext}``, the format chosen from the Accept header (``Vary: Accept``).
- ``/doc/{kind}/{slug}`` negotiates the same way and answers with ``Content-Location``.
- ``/doc/{kind}/{slug}.{html,ttl,jsonld,nt,rdf}`` is one fixed format.

Formats, in the server's order of preference: HTML, Turtle, JSON-LD, N-Triples, RDF/XML
(``formats.DOCUMENT``). A request without Accept, or with only ``*/*``, gets the default:
HTML, since such requests mostly come from people's tools that show what they get;
linked-data clients send an RDF media type. Large documents are split into pages
(``?page=2``) linked by ``hydra:next`` and ``Link: rel="next"``; the HTML page takes the same
``?page`` and shows the same triples (one document per page, :mod:`server.views.documents`).

Unknown kinds, malformed slugs and things absent from the data answer 404; slugs longer
than any real one answer 400; an Accept header that rules out every format answers 406.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from server.model import formats
from server.views import documents
from server.views import things
from server.engine.backend import Backend
from server.model.urls import UrlMap
from server.web.caching import CACHE_DYNAMIC, conditional, etag_for
from server.web.deps import get_metered_backend, get_urls
from server.web.errors import ClientError
from server.web.pages import page_etag, thing_html

router = APIRouter(tags=["linked data"])

SUFFIXES = {f.name: f for f in formats.DOCUMENT}
PAGE = Query(1, ge=1, le=1_000_000, description="Page of a large document (triples pointing at the thing).")


def _reference(urls: UrlMap, kind: str, slug: str) -> things.Ref:
    """The thing ``kind/slug`` if it is well formed, or a 4xx saying why it cannot be one."""
    try:
        return things.ref(kind, slug, base=urls.base_iri)
    except things.SlugTooLong as exc:
        raise ClientError(400, str(exc)) from None
    except things.BadReference as exc:
        raise ClientError(404, f"Nothing is known as /{kind}/{slug[:100]}: {exc}") from None


def _unknown(urls: UrlMap, thing: things.Ref) -> ClientError:
    return ClientError(404, f"Nothing is known as {thing.iri} in this dataset. "
                            f"Search for things with the SPARQL endpoint at {urls.sparql_endpoint}.")


async def _existing(backend: Backend, urls: UrlMap, kind: str, slug: str) -> things.Ref:
    """The thing ``kind/slug``, or a 4xx saying why there is none."""
    thing = _reference(urls, kind, slug)
    if not await things.exists(backend, thing):
        raise _unknown(urls, thing)
    return thing


def _alternates(urls: UrlMap, thing: things.Ref, page: int) -> list[str]:
    query = f"?page={page}" if page > 1 else ""
    return [f'<{urls.public_url}doc/{thing.path}.{f.name}{query}>; rel="alternate"; type="{f.media_type}"'
            for f in formats.DOCUMENT]


@router.api_route("/id/{kind}/{slug}", methods=["GET", "HEAD"], status_code=303,
                  summary="A thing's URI: 303 See Other to the document in the format the Accept header prefers",
                  responses={303: {"description": "See Other: the document about the thing"},
                             404: {"description": "Nothing is known by this URI"},
                             406: {"description": "No acceptable format"}})
async def identify(kind: str, slug: str, request: Request, backend: Backend = Depends(get_metered_backend),
                   urls: UrlMap = Depends(get_urls)) -> Response:
    thing = await _existing(backend, urls, kind, slug)
    fmt = formats.negotiate(request.headers.get("accept"), formats.DOCUMENT)
    return RedirectResponse(f"{urls.public_url}doc/{thing.path}.{fmt.name}", status_code=303,
                            headers={"Vary": "Accept", "Cache-Control": CACHE_DYNAMIC})


@router.api_route("/doc/{kind}/{name}", methods=["GET", "HEAD"],
                  summary="The document about a thing: negotiated, or in the format its suffix names",
                  responses={200: {"description": "The document",
                                   "content": {f.media_type: {} for f in formats.DOCUMENT}},
                             304: {"description": "Not modified (If-None-Match)"},
                             404: {"description": "Nothing is known by this name, or no such page"},
                             406: {"description": "No acceptable format"}})
async def document(kind: str, name: str, request: Request, page: int = PAGE,
                   backend: Backend = Depends(get_metered_backend), urls: UrlMap = Depends(get_urls)) -> Response:
    slug, dot, suffix = name.rpartition(".")
    if dot and suffix not in SUFFIXES:
        raise ClientError(404, f"No document format {suffix[:20]!r}; use one of: " + ", ".join(SUFFIXES)
                          + ", or no suffix to negotiate.")
    # Whether the thing exists is known from its document (built or memoised below), not asked apart.
    thing = _reference(urls, kind, slug if dot else name)
    headers: dict[str, str] = {}
    if dot:
        fmt = SUFFIXES[suffix]
    else:
        fmt = formats.negotiate(request.headers.get("accept"), formats.DOCUMENT)
        location = f"{urls.public_url}doc/{thing.path}.{fmt.name}" + (f"?page={page}" if page > 1 else "")
        headers = {"Vary": "Accept", "Content-Location": location}
    headers["Link"] = ", ".join(_alternates(urls, thing, page))
    key = ("document", thing.iri, fmt.name, str(page))
    etag = page_etag(backend, urls, *key) if fmt is formats.HTML else etag_for(backend.info.version, *key)

    async def respond() -> Response:
        # One document per page: the HTML page and the RDF forms show the same triples.
        try:
            if fmt is formats.HTML:
                response, doc = await thing_html(backend, urls, thing, page)
            else:
                doc = await documents.memo.get(backend, thing, page)
                response = Response(await run_in_threadpool(doc.serialize, fmt), media_type=fmt.content_type) \
                    if doc.found else None
        except documents.PageOutOfRange as exc:
            raise ClientError(404, str(exc)) from None
        if response is None:
            raise _unknown(urls, thing)
        link = headers["Link"]
        if doc.page < doc.last_page:
            link += f', <{urls.public_url}doc/{thing.path}.{fmt.name}?page={page + 1}>; rel="next"'
        if doc.page > 1:
            previous = "" if page == 2 else f"?page={page - 1}"
            link += f', <{urls.public_url}doc/{thing.path}.{fmt.name}{previous}>; rel="prev"'
        response.headers["Link"] = link
        return response

    return await conditional(request, etag, respond, headers=headers)
