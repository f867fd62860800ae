"""Search for people: entities by any spelling, and the evidence quotes.

- ``/search?q=&type=&limit=&page=``: HTML results, or (``Accept: application/json`` or
  ``format=json``) JSON shaped like Wikidata's ``wbsearchentities`` (whose ``search=`` and
  ``continue=`` parameters are understood too, so its clients need only a new URL);
  ``format=suggestions`` gives the OpenSearch suggestions array that browsers' search boxes read.
- ``/search/quotes?q=&limit=&page=``: evidence quotes ranked by bm25, each linked to its claim.
- ``/opensearch.xml``: lets a browser add ARKG as a search engine.
- ``/static/search.js``: the header box's type-ahead (the box works without it).

The index is the build's (server/views/search.py reads it); without one the routes answer 503.
Each search runs in the threadpool, never on the event loop, under its client's budget.
"""

from __future__ import annotations

from typing import Callable, TypeVar
from xml.sax.saxutils import escape, quoteattr

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, JSONResponse, Response

from server.engine.backend import Backend
from server.model.build_layout import BuildLayout
from server.model.namespaces import LICENCE
from server.model.search_text import KINDS
from server.model.urls import UrlMap
from server.settings import Settings, get_settings
from server.sparql.protocol import parse_query_string
from server.views.search import BadSearch, IndexMissing, Page, SearchIndex, index_at
from server.web.caching import CACHE_DYNAMIC, conditional, etag_for
from server.web.deps import get_backend, get_urls
from server.web.errors import ClientError
from server.web.limits import client_key
from server.web.templating import STATIC, TEMPLATE_DIGEST, page_url, render

router = APIRouter(tags=["search"])
T = TypeVar("T")
DEFAULT_LIMIT = 10
FORMATS = ("html", "json", "suggestions")


def _params(request: Request) -> dict[str, str]:
    """The query string, decoded strictly (invalid UTF-8: 400); the last value of each name wins."""
    return dict(parse_query_string(request.scope.get("query_string", b"")))


def _int(params: dict[str, str], name: str, default: int) -> int:
    value = params.get(name, "")
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ClientError(400, f"{name} must be a whole number, not {value[:20]!r}.") from None


def _paging(params: dict[str, str]) -> tuple[int, int]:
    """``limit`` and ``page``; Wikidata's ``continue`` (an offset, as ``search-continue`` gives) also works."""
    limit = _int(params, "limit", DEFAULT_LIMIT)
    if "continue" not in params:
        return limit, _int(params, "page", 1)
    offset = _int(params, "continue", 0)
    if limit < 1 or offset < 0 or offset % limit:
        raise ClientError(400, f"continue must be a multiple of limit ({limit}), as search-continue gives it.")
    return limit, offset // limit + 1


def _format(request: Request, params: dict[str, str]) -> str:
    fmt = params.get("format", "")
    if fmt:
        if fmt not in FORMATS:
            raise ClientError(400, f"Unknown format {fmt[:20]!r}; use one of: {', '.join(FORMATS)}.")
        return fmt
    accept = request.headers.get("accept") or ""
    return "json" if "application/json" in accept and "text/html" not in accept else "html"


def _index(settings: Settings, version: str) -> SearchIndex:
    try:
        return index_at(BuildLayout.served(settings.build_dir, version).search_index)
    except IndexMissing as exc:
        raise ClientError(503, f"Search is unavailable: {exc}",
                          {"Retry-After": "60"}) from None


async def _charged(request: Request, search: Callable[[], T]) -> T:
    """Run ``search`` in the threadpool, its time charged to the client's query budget (429 when
    spent: web/limits.py). Like a bounded lookup it holds no query worker, so it takes none of
    the client's concurrency slots: type-ahead's many small requests are never queued."""
    limiter = getattr(request.app.state, "limiter", None)
    try:
        if limiter is None:
            return await run_in_threadpool(search)
        async with limiter.charged(client_key(request)):
            return await run_in_threadpool(search)
    except BadSearch as exc:
        raise ClientError(400, str(exc)) from None


def _continue_url(urls: UrlMap, path: str, params: dict[str, str], page: int) -> str:
    from urllib.parse import urlencode

    kept = {k: v for k, v in params.items() if k in ("q", "type", "limit") and v}
    return urls.public_url + path + "?" + urlencode({**kept, "page": page})


async def _html(request, backend, urls, template: str, status: int = 200, **context) -> HTMLResponse:
    html = await render(template, urls=urls, version=backend.info.version, licence=LICENCE, kinds=KINDS, **context)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-cache", "Vary": "Accept"})


def _entity_json(urls: UrlMap, hit) -> dict:
    local = hit.iri.rsplit("/id/", 1)[-1]
    item = {"id": local, "concepturi": hit.iri, "url": page_url(urls, hit.iri), "title": local,
            "label": hit.label, "description": hit.description, "type": hit.kind, "claims": hit.claims,
            "match": {"type": hit.match_source, "language": "en", "text": hit.match_text}, "rank": hit.rank}
    if hit.match_source == "alias":
        item["aliases"] = [hit.match_text]
    return item


def _param(name: str, description: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


_Q = _param("q", "What to search for (1-200 characters); `search` is accepted as in Wikidata's API.",
            {"type": "string", "maxLength": 200})
_PAGING = [_param("limit", "Hits per page.", {"type": "integer", "minimum": 1, "maximum": 50, "default": DEFAULT_LIMIT}),
           _param("page", "Page number.", {"type": "integer", "minimum": 1, "default": 1}),
           _param("continue", "Offset of the first hit (the `search-continue` of the previous page).",
                  {"type": "integer", "minimum": 0}),
           _param("format", "html, json, or (for /search) suggestions; default by Accept.",
                  {"type": "string", "enum": list(FORMATS)})]


@router.api_route("/search", methods=["GET", "HEAD"],
                  summary="Search entities by label, alternative label or identifier (HTML, or JSON like wbsearchentities)",
                  openapi_extra={"parameters": [_Q, _param("type", "Only things of this kind.",
                                                           {"type": "string", "enum": list(KINDS)}), *_PAGING]})
async def search(request: Request, backend: Backend = Depends(get_backend), urls: UrlMap = Depends(get_urls),
                 settings: Settings = Depends(get_settings)) -> Response:
    params = _params(request)
    fmt = _format(request, params)
    q, kind = params.get("q", params.get("search")), params.get("type") or None
    limit, page = _paging(params)
    if q is None and fmt == "html":  # the empty search page
        return await _html(request, backend, urls, "search.html", q="", kind=kind, result=None, mode="entities")
    index = _index(settings, backend.info.version)
    result: Page = await _charged(request, lambda: index.entities(q or "", kind=kind, limit=limit, page=page))
    next_url = _continue_url(urls, "search", params, page + 1) if result.more else None
    if fmt == "suggestions":  # OpenSearch suggestions: [query, completions, descriptions, URLs]
        return JSONResponse([q, [h.label for h in result.hits], [h.description for h in result.hits],
                             [page_url(urls, h.iri) for h in result.hits]],
                            media_type="application/x-suggestions+json")
    if fmt == "json":
        body = {"searchinfo": {"search": q, "type": kind}, "search": [_entity_json(urls, h) for h in result.hits],
                "success": 1}
        if result.more:
            body["search-continue"] = result.offset + limit
        return JSONResponse(body, headers={"Vary": "Accept"})
    hits = [(h, page_url(urls, h.iri)) for h in result.hits]
    return await _html(request, backend, urls, "search.html", q=q, kind=kind, result=result, hits=hits,
                       mode="entities", next_url=next_url,
                       prev_url=_continue_url(urls, "search", params, page - 1) if page > 1 else None)


@router.api_route("/search/quotes", methods=["GET", "HEAD"],
                  summary="Search the verbatim evidence quotes (bm25), each hit linked to its claim",
                  openapi_extra={"parameters": [_Q, *_PAGING]})
async def search_quotes(request: Request, backend: Backend = Depends(get_backend), urls: UrlMap = Depends(get_urls),
                        settings: Settings = Depends(get_settings)) -> Response:
    params = _params(request)
    fmt = _format(request, params)
    if fmt == "suggestions":
        raise ClientError(400, "format=suggestions is for /search; use json or html here.")
    q = params.get("q", params.get("search"))
    limit, page = _paging(params)
    if q is None and fmt == "html":
        return await _html(request, backend, urls, "search.html", q="", kind=None, result=None, mode="quotes")
    index = _index(settings, backend.info.version)
    result: Page = await _charged(request, lambda: index.quotes(q or "", limit=limit, page=page))
    if fmt == "json":
        body = {"searchinfo": {"search": q}, "success": 1, "search": [
            {"claim": h.claim, "url": page_url(urls, h.claim), "label": h.label, "quote": h.quote,
             "snippet": [{"text": text, "match": marked} for text, marked in h.snippet]} for h in result.hits]}
        if result.more:
            body["search-continue"] = result.offset + limit
        return JSONResponse(body, headers={"Vary": "Accept"})
    hits = [(h, page_url(urls, h.claim)) for h in result.hits]
    return await _html(request, backend, urls, "search.html", q=q, kind=None, result=result, hits=hits, mode="quotes",
                       next_url=_continue_url(urls, "search/quotes", params, page + 1) if result.more else None,
                       prev_url=_continue_url(urls, "search/quotes", params, page - 1) if page > 1 else None)


@router.api_route("/opensearch.xml", methods=["GET", "HEAD"], summary="OpenSearch description: add ARKG to a browser")
async def opensearch(urls: UrlMap = Depends(get_urls)) -> Response:
    base = urls.public_url
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<OpenSearchDescription xmlns="http://a9.com/-/spec/opensearch/1.1/">
  <ShortName>ARKG</ShortName>
  <Description>Search the Afghan Resistance Knowledge Graph: people, organisations, places, events by any spelling</Description>
  <InputEncoding>UTF-8</InputEncoding>
  <Url type="text/html" method="get" template={quoteattr(base + "search?q={searchTerms}")}/>
  <Url type="application/json" method="get" template={quoteattr(base + "search?q={searchTerms}&format=json")}/>
  <Url type="application/x-suggestions+json" method="get" template={quoteattr(base + "search?q={searchTerms}&format=suggestions")}/>
  <Url type="application/opensearchdescription+xml" rel="self" template={quoteattr(base + "opensearch.xml")}/>
  <Attribution>{escape("Data: ARKG, CC BY 4.0")}</Attribution>
</OpenSearchDescription>
"""
    return Response(body, media_type="application/opensearchdescription+xml", headers={"Cache-Control": CACHE_DYNAMIC})


_SCRIPT = (STATIC / "search.js").read_bytes()


@router.api_route("/static/search.js", methods=["GET", "HEAD"], include_in_schema=False)
async def script(request: Request) -> Response:
    return await conditional(request, etag_for("static", TEMPLATE_DIGEST, "search.js"),
                             lambda: Response(_SCRIPT, media_type="text/javascript; charset=utf-8"))
