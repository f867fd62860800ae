"""The HTML pages people read: home, thing pages, the ontology and the query page.

Each function gathers what its page shows from the store layer (``server.views.pages``,
``overview``, ``vocabulary``), renders a template and answers with an ETag; a client that
holds the current ETag gets 304. Data for one dataset version never changes, so the ETag
covers the dataset version, the public URL, the templates and what selects the page.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pyoxigraph as ox
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from server.publish import dumps
from server.publish.build import served_dumps
from server.model import formats
from server.settings import Settings
from server.sparql.guard import GuardError
from server.sparql.protocol import ProtocolError, ProtocolQuery
from server.sparql.service import prepare

from server.views import overview as overview_store
from server.views import documents
from server.views import pages as views
from server.views import ontology as vocabulary
from server.engine.backend import Backend
from server.model.namespaces import LICENCE
from server.views.documents import RDF_FORMATS, Document
from server.engine.errors import QueryError
from server.model.figures import BROWSE_KINDS
from server.model.urls import UrlMap
from server.web.caching import CACHE_DYNAMIC, conditional, etag_for
from server.web.errors import message_of, status_of
from server.web.errors import ClientError
from server.web.limits import MeteredBackend
from server.web import pictures
from server.web.observe import observed
from server.web.templating import TEMPLATE_DIGEST, render

DISPLAY_ROWS = 500  # rows shown in the query page's table; downloads carry all of them
RESULT_ACCEPT = "application/sparql-results+json, application/n-triples"
KIND_TITLES = {"person": "People", "organization": "Organisations", "place": "Places", "event": "Events",
               "group": "Ethnic and religious groups", "agent": "Anonymous and collective speakers",
               "article": "Articles", "comment": "Reader comments"}


@dataclass
class RdfLink:
    name: str  # format short name
    label: str
    media_type: str
    url: str


def rdf_links(urls: UrlMap, doc_path: str) -> list[RdfLink]:
    """Links to the RDF forms of a document at ``doc_path`` (``doc/person/x`` or ``ontology``)."""
    names = {"ttl": "Turtle", "jsonld": "JSON-LD", "nt": "N-Triples", "rdf": "RDF/XML"}
    return [RdfLink(f.name, names[f.name], f.media_type, f"{urls.public_url}{doc_path}.{f.name}") for f in RDF_FORMATS]


async def _page(request: Request, backend: Backend, urls: UrlMap, key: tuple[str, ...], template: str,
                context_factory, status: int = 200) -> Response:
    """Answer 304 if the client holds the page, else the page rendered from the context built.

    The ETag names everything the page depends on, so a page rendered once is kept under it
    (bounded): the home page of a crowd is rendered once per version, not per request.
    """
    etag = page_etag(backend, urls, *key)

    async def respond() -> Response:
        html = _pages.get((etag, status))
        if html is None:
            context = await context_factory()
            html = await render(template, urls=urls, version=backend.info.version, licence=LICENCE, **context)
            _pages[(etag, status)] = html
            while len(_pages) > PAGES_SIZE:
                _pages.popitem(last=False)
        else:
            _pages.move_to_end((etag, status))
        return HTMLResponse(html, status_code=status)

    return await conditional(request, etag, respond)


PAGES_SIZE = 64  # home, ontology and browse pages kept rendered per process
_pages: OrderedDict[tuple[str, int], str] = OrderedDict()


def page_etag(backend: Backend, urls: UrlMap, *key: str) -> str:
    """The ETag of an HTML page: the dataset version, the templates, the public URL and what selects it."""
    return etag_for(backend.info.version, "html", TEMPLATE_DIGEST, urls.public_url, *key)


# --- things


RENDERED_SIZE = 256  # thing pages kept rendered per process (about 30 KB each at 5M triples)
_rendered: OrderedDict[tuple[str, ...], str] = OrderedDict()


WITHOUT_PICTURES = ("claim", "proposition", "article", "comment")


def _rendered_key(backend: Backend, urls: UrlMap, thing, page: int) -> tuple[str, ...]:
    return (backend.info.version, TEMPLATE_DIGEST, urls.public_url, urls.base_iri, thing.iri, str(page))


async def thing_html(backend: Backend, urls: UrlMap, thing, page: int) -> tuple[Response | None, Document]:
    """The HTML page of one page of a thing, and its document (the response is None when nothing
    is known of the thing). Raises ``documents.PageOutOfRange`` past the last page.

    An entity's first page shows pictures whose queries do not depend on the document's, so
    they run side by side with it (a first visit at 5M triples: document and pictures ~30 ms each).
    """
    pending = None
    if page == 1 and thing.kind not in WITHOUT_PICTURES and _rendered_key(backend, urls, thing, page) not in _rendered:
        pending = asyncio.ensure_future(pictures.for_thing(backend, thing.iri, thing.kind))
    try:
        doc = await documents.memo.get(backend, thing, page)
        if not doc.found:
            return None, doc
        return await thing_page(backend, urls, doc, figures=pending), doc
    finally:
        if pending is not None and not pending.done():
            pending.cancel()


async def thing_page(backend: Backend, urls: UrlMap, doc: Document, *, figures=None) -> Response:
    """The HTML page of one page of a thing's document; its template depends on the thing's kind.

    The page is a function of the document, its pictures (same dataset version), the public URL
    and the templates: recent ones are kept rendered (as the documents are memoised), so a page
    read again costs neither queries nor rendering. ``figures``: the pictures already under
    way (:func:`thing_html`).
    """
    thing, version = doc.thing, backend.info.version
    key = _rendered_key(backend, urls, thing, doc.page)
    if key in _rendered:
        _rendered.move_to_end(key)
        return HTMLResponse(_rendered[key])
    links = rdf_links(urls, f"doc/{thing.path}")
    context = {"thing": thing, "rdf_links": links, "iri": thing.iri}
    if thing.kind == "claim":
        view, claim, proposition = views.claim(doc)
        context.update(view=view, claim=claim, proposition=proposition)
    elif thing.kind == "proposition":
        view, proposition = views.proposition(doc)
        context.update(view=view, proposition=proposition)
    elif thing.kind in ("article", "comment"):
        context.update(view=views.source(doc))
    else:
        # The pictures (with their tables) on the first page only; later pages link to it.
        if doc.page > 1:
            shown = []
        else:
            shown = await (figures if figures is not None else pictures.for_thing(backend, thing.iri, thing.kind))
        context.update(view=views.entity(doc), pictures=shown)
    template = {"claim": "claim.html", "proposition": "proposition.html", "article": "source.html",
                "comment": "source.html"}.get(thing.kind, "entity.html")
    html = await render(template, urls=urls, version=version, licence=LICENCE, **context)
    _rendered[key] = html
    while len(_rendered) > RENDERED_SIZE:
        _rendered.popitem(last=False)
    return HTMLResponse(html)


# --- home


def dataset_jsonld(urls: UrlMap, ov: overview_store.Overview, version: str) -> dict:
    """A schema.org Dataset description for dataset search engines."""
    data = {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "@id": urls.base_iri,
        "name": "ARKG, the Afghan Resistance Knowledge Graph",
        "alternateName": "ARKG",
        "description": ("Attributed and possibly contested claims about the National Resistance Front of "
                        "Afghanistan and the talks around it, drawn from five news articles: who said what, "
                        "where, with the verbatim quote, as linked data with a SPARQL endpoint. "
                        f"{ov.claims} claims about {ov.propositions} propositions."),
        "url": urls.public_url,
        "identifier": urls.base_iri,
        "version": version,
        "license": LICENCE,
        "isAccessibleForFree": True,
        "inLanguage": "en",
        "keywords": ["Afghanistan", "National Resistance Front", "Taliban", "claims", "provenance",
                     "knowledge graph", "linked data", "SPARQL"],
        "spatialCoverage": {"@type": "Place", "name": "Afghanistan"},
        "measurementTechnique": "Manual curation of claims from news articles, each with its verbatim quote and offsets",
    }
    data["distribution"] = [{"@type": "DataDownload", "contentUrl": urls.public(d.url),
                             **({"encodingFormat": d.media_type} if d.media_type else {}),
                             **({"contentSize": f"{d.byte_size} B"} if d.byte_size else {})} for d in ov.distributions]
    if not data["distribution"]:
        del data["distribution"]
    return data


async def home_page(request: Request, backend: Backend, urls: UrlMap) -> Response:
    """The home page: figures and top lists from the build (or computed once per version), no aggregation here."""
    settings = request.app.state.settings
    build = served_dumps(settings.build_dir, backend.info.version)  # made by `arkg build`

    async def context():
        ov = await overview_store.overview(backend, base=urls.base_iri, build_dir=settings.build_dir)
        if build is not None:  # the dumps router builds them at startup; listed once they exist
            ov.distributions = [overview_store.Distribution(f"{urls.base_iri}dumps/{build.version}/{f.name}", f.name,
                                                            f.media_type, f.size) for f in build.data_files]
        examples = await overview_store.examples(backend)
        return {"ov": ov, "examples": examples, "kind_titles": KIND_TITLES, "browse_kinds": BROWSE_KINDS,
                "jsonld": dataset_jsonld(urls, ov, backend.info.version), "sparql": urls.sparql_endpoint,
                "example_query": examples[0].query if examples else DEFAULT_QUERY,
                "pictures": await pictures.for_home(backend)}  # once per version (web/pictures.py)

    # The page lists the dumps, which appear after start-up: they are part of its ETag.
    sums = build.file(dumps.SUMS_FILE).sha256 if build is not None else "no dumps"
    stamp = overview_store.figures_stamp(settings.build_dir, backend.info.version)
    return await _page(request, backend, urls, ("home", sums, stamp), "home.html", context)


async def browse_page(request: Request, backend: Backend, urls: UrlMap, kind: str, page: int) -> Response:
    """One page of the things of a kind (``/browse/person?page=2``); 404 past the last page."""
    async def context():
        try:
            listing = await overview_store.browse(backend, kind, page, base=urls.base_iri)
        except overview_store.NoSuchPage as exc:
            raise ClientError(404, str(exc)) from None
        return {"listing": listing, "title": KIND_TITLES[kind]}

    if kind not in KIND_TITLES:
        raise ClientError(404, f"There is no list of {kind[:40]!r}; lists: {', '.join(BROWSE_KINDS)}.")
    return await _page(request, backend, urls, ("browse", kind, str(page)), "browse.html", context)


# --- ontology


async def ontology_page(request: Request, backend: Backend, urls: UrlMap) -> Response:
    async def context():
        return {"vocab": await vocabulary.vocabulary(backend), "rdf_links": rdf_links(urls, "ontology"),
                "iri": urls.base_iri + "ontology"}

    return await _page(request, backend, urls, ("ontology",), "ontology.html", context)


# --- query page

DEFAULT_QUERY = """PREFIX arkg: <https://w3id.org/arkg/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
# Who makes the most claims?
SELECT ?speaker ?name (COUNT(?claim) AS ?claims) WHERE {
  ?claim a arkg:Claim ; arkg:claimant ?speaker .
  OPTIONAL { ?speaker rdfs:label ?name }
}
GROUP BY ?speaker ?name
ORDER BY DESC(?claims)
LIMIT 20"""


@dataclass
class Results:
    kind: str  # "solutions", "boolean" or "triples"
    columns: list[str] = field(default_factory=list)
    rows: list[list[views.Node | None]] = field(default_factory=list)
    total: int = 0
    boolean: bool | None = None
    seconds: float = 0.0
    downloads: list[tuple[str, str]] = field(default_factory=list)  # (format name, URL)

    @property
    def truncated(self) -> bool:
        return self.total > len(self.rows)


def _solutions(body: bytes) -> Results:
    data = json.loads(body)
    if "boolean" in data:
        return Results("boolean", boolean=bool(data["boolean"]))
    columns = data["head"].get("vars", [])
    bindings = data["results"]["bindings"]
    rows = []
    for binding in bindings[:DISPLAY_ROWS]:
        row = []
        for var in columns:
            cell = binding.get(var)
            if cell is None:
                row.append(None)
            elif cell["type"] == "uri":
                row.append(views.Node(cell["value"]))
            elif cell["type"] == "bnode":
                row.append(views.Node("_:" + cell["value"], is_iri=False))
            else:
                row.append(views.Node(cell["value"], is_iri=False, datatype=cell.get("datatype"), lang=cell.get("xml:lang")))
        rows.append(row)
    return Results("solutions", columns, rows, len(bindings))


def _node_of(term) -> views.Node:
    if isinstance(term, ox.NamedNode):
        return views.Node(term.value)
    if isinstance(term, ox.BlankNode):
        return views.Node("_:" + term.value, is_iri=False)
    lang = getattr(term, "language", None)
    return views.Node(term.value, is_iri=False, datatype=None if lang else term.datatype.value, lang=lang)


def _triples(body: bytes) -> Results:
    parsed = list(ox.parse(body, format=ox.RdfFormat.N_TRIPLES))
    rows = [[_node_of(q.subject), _node_of(q.predicate), _node_of(q.object)] for q in parsed[:DISPLAY_ROWS]]
    return Results("triples", ["subject", "predicate", "object"], rows, len(parsed))


async def run_for_page(request: Request, backend: MeteredBackend, urls: UrlMap, settings: Settings, query: str) -> Results:
    """Run ``query`` as the endpoint would (same guard and limits) and tabulate the results."""
    prepared = prepare(ProtocolQuery(query), RESULT_ACCEPT, backend.info, urls, settings.allowed_service_endpoints)
    async with observed(request, query, bounded=prepared.bounded) as seen:  # metrics and query log
        result = await backend.run_prepared(prepared.request, bounded=prepared.bounded)
        seen.result_bytes = len(result.body)
    parse = _triples if result.kind == "triples" else _solutions
    results = await run_in_threadpool(parse, result.body)
    results.seconds = result.seconds
    offered = formats.GRAPH if result.kind == "triples" else formats.RESULTS
    results.downloads = [(f.name, f"{urls.sparql_endpoint}?{urlencode({'query': query, 'format': f.name})}") for f in offered]
    return results


async def query_page(request: Request, backend: MeteredBackend, urls: UrlMap, settings: Settings,
                     query: str | None = None) -> Response:
    """The query editor with the example queries; with ``query``, also its results as a table."""
    examples = await overview_store.examples(backend)
    results, error, status = None, None, 200
    if query is not None:
        try:
            results = await run_for_page(request, backend, urls, settings, query)
        except (GuardError, ProtocolError, QueryError, formats.NotAcceptable, formats.UnknownFormat) as exc:
            error, status = message_of(exc), status_of(exc)
    share = f"{urls.public_url}query?{urlencode({'query': query})}" if query is not None else None
    html = await render("query.html", urls=urls, version=backend.info.version, licence=LICENCE,
                        examples=examples, query=query, editor_text=query if query is not None else
                        (examples[0].query if examples else DEFAULT_QUERY),
                        results=results, error=error, share=share, sparql=urls.sparql_endpoint)
    # Results are not cached by the browser: a shared URL re-runs against the current data.
    headers = {"Cache-Control": "no-store" if query is not None else CACHE_DYNAMIC, "Vary": "Accept"}
    return HTMLResponse(html, status_code=status, headers=headers)
