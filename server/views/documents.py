"""The RDF document about one thing, built with CONSTRUCT queries over the backend.

A document holds:

- the thing's own triples and those of its hash IRIs (a claim's ``#evidence``, ``#quote``
  and ``#position``, an entity's ``#link-wikidata`` axioms): they are part of its document;
- the triples that point at it, ``PAGE_SIZE`` per page in a stable order, with
  ``hydra:next`` / ``hydra:previous`` links between pages;
- ``rdfs:label`` of every IRI it mentions, so a client can show it without more requests;
- metadata: the document's ``foaf:primaryTopic``, its licence (CC BY 4.0) and its formats
  (``dcterms:hasFormat``).

IRIs stay canonical (``https://w3id.org/arkg/...``) whatever URL the server is reached at:
they are the identities other graphs link to. Built documents are kept in a small memo keyed
by dataset version, so the five formats of one document cost one build.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import pyoxigraph as ox

from server.model import formats
from server.model.namespaces import LICENCE, PREFIXES
from server.engine.backend import Backend, select
from server.views.things import Ref, term
from server.engine.worker import Request

PAGE_SIZE = 200  # incoming triples per page: articles (hundreds of claims) span pages
MEMO_SIZE = 512

FOAF = "http://xmlns.com/foaf/0.1/"
HYDRA = "http://www.w3.org/ns/hydra/core#"
DCTERMS = PREFIXES["dcterms"]
VOID = PREFIXES["void"]
RDF_TYPE = ox.NamedNode(PREFIXES["rdf"] + "type")

# RDF forms of a document: suffix -> format (HTML is listed as a format of the document too).
RDF_FORMATS = [formats.TURTLE, formats.JSONLD, formats.NTRIPLES, formats.RDFXML]


class PageOutOfRange(ValueError):
    """A ``page`` past the last page of the document."""


@dataclass(frozen=True)
class Document:
    thing: Ref
    page: int
    last_page: int
    triples: tuple[ox.Triple, ...]

    def serialize(self, fmt: formats.Format) -> bytes:
        """The document in ``fmt`` (an RDF format of :mod:`server.model.formats`)."""
        prefixes = None
        if fmt.ox in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML):
            prefixes = {**PREFIXES, "foaf": FOAF, "hydra": HYDRA}
        return ox.serialize(self.triples, format=fmt.ox, prefixes=prefixes)


def dataset_iri(base: str) -> str:
    """The dataset node of the VoID description (:mod:`server.publish.void`).

    >>> dataset_iri("https://w3id.org/arkg/")
    'https://w3id.org/arkg/.well-known/void#dataset'
    """
    from server.publish.void import void_document
    from server.model.urls import UrlMap

    return void_document(UrlMap(base, base)) + "#dataset"


def page_iri(doc_iri: str, page: int, suffix: str = "") -> str:
    """The IRI of ``page`` of a document (page 1 is the document itself).

    >>> page_iri("https://w3id.org/arkg/doc/article/a", 2, ".ttl")
    'https://w3id.org/arkg/doc/article/a.ttl?page=2'
    >>> page_iri("https://w3id.org/arkg/doc/article/a", 1)
    'https://w3id.org/arkg/doc/article/a'
    """
    return f"{doc_iri}{suffix}" + (f"?page={page}" if page > 1 else "")


async def construct(backend: Backend, query: str) -> list[ox.Triple]:
    """Run a CONSTRUCT for the server's own use; its triples."""
    result = await backend.run(Request(query, "json", "nt"))
    return [ox.Triple(q.subject, q.predicate, q.object)
            for q in ox.parse(result.body, format=ox.RdfFormat.N_TRIPLES)]


def _own_query(thing: Ref) -> str:
    t, hashes = term(thing.iri), thing.iri + "#"
    # Hash IRIs are reached from the thing (evidence, then its selectors) or point at it
    # (owl:Axiom annotations), which avoids scanning every triple for the prefix.
    return f"""CONSTRUCT {{ ?s ?p ?o }} WHERE {{
      {{ BIND({t} AS ?s) ?s ?p ?o }}
      UNION {{ {t} ?p1 ?s . FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{hashes}")) ?s ?p ?o }}
      UNION {{ {t} ?p1 ?m . ?m ?p2 ?s .
               FILTER(isIRI(?m) && STRSTARTS(STR(?m), "{hashes}") && isIRI(?s) && STRSTARTS(STR(?s), "{hashes}"))
               ?s ?p ?o }}
      UNION {{ ?s ?p1 {t} . FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{hashes}")) ?s ?p ?o }}
    }}"""


def _incoming_query(thing: Ref, page: int) -> str:
    t = term(thing.iri)
    # One more than a page tells whether a next page exists.
    return f"""CONSTRUCT {{ ?s ?p {t} }} WHERE {{
      {{ SELECT DISTINCT ?s ?p WHERE {{
          ?s ?p {t} . FILTER(!isIRI(?s) || !STRSTARTS(STR(?s), "{thing.iri}#"))
        }} ORDER BY ?p ?s LIMIT {PAGE_SIZE + 1} OFFSET {(page - 1) * PAGE_SIZE} }}
    }}"""


def _count_query(thing: Ref) -> str:
    t = term(thing.iri)
    return f"""SELECT (COUNT(*) AS ?n) WHERE {{ SELECT DISTINCT ?s ?p WHERE {{
      ?s ?p {t} . FILTER(!isIRI(?s) || !STRSTARTS(STR(?s), "{thing.iri}#")) }} }}"""


def _labels_query(iris: list[str]) -> str:
    values = " ".join(term(i) for i in iris)
    return f"""CONSTRUCT {{ ?x <{PREFIXES['rdfs']}label> ?l }} WHERE {{
      VALUES ?x {{ {values} }} ?x <{PREFIXES['rdfs']}label> ?l }}"""


def _metadata(thing: Ref, page: int, last_page: int) -> list[ox.Triple]:
    doc = ox.NamedNode(page_iri(thing.doc_iri, page))
    topic = ox.NamedNode(thing.iri)

    def dc(local: str) -> ox.NamedNode:
        return ox.NamedNode(DCTERMS + local)

    triples = [
        ox.Triple(doc, RDF_TYPE, ox.NamedNode(FOAF + "Document")),
        ox.Triple(doc, ox.NamedNode(FOAF + "primaryTopic"), topic),
        ox.Triple(doc, dc("license"), ox.NamedNode(LICENCE)),
        # The dataset's VoID description links its example resources, so even a thing no claim
        # mentions leads a client on to the rest of the graph.
        ox.Triple(doc, ox.NamedNode(VOID + "inDataset"), ox.NamedNode(dataset_iri(thing.base))),
    ]
    for fmt in [formats.HTML, *RDF_FORMATS]:
        form = ox.NamedNode(page_iri(thing.doc_iri, page, "." + fmt.name))
        triples += [
            ox.Triple(doc, dc("hasFormat"), form),
            ox.Triple(form, dc("isFormatOf"), doc),
            ox.Triple(form, dc("format"), ox.Literal(fmt.media_type)),
            ox.Triple(form, ox.NamedNode(FOAF + "primaryTopic"), topic),
            ox.Triple(form, dc("license"), ox.NamedNode(LICENCE)),
        ]
    if page < last_page:
        triples.append(ox.Triple(doc, ox.NamedNode(HYDRA + "next"), ox.NamedNode(page_iri(thing.doc_iri, page + 1))))
    if page > 1:
        triples.append(ox.Triple(doc, ox.NamedNode(HYDRA + "previous"), ox.NamedNode(page_iri(thing.doc_iri, page - 1))))
        triples.append(ox.Triple(doc, ox.NamedNode(HYDRA + "first"), ox.NamedNode(thing.doc_iri)))
    if last_page > 1:
        triples.append(ox.Triple(doc, ox.NamedNode(HYDRA + "last"), ox.NamedNode(page_iri(thing.doc_iri, last_page))))
    return triples


async def build(backend: Backend, thing: Ref, page: int = 1) -> Document:
    """The document about ``thing`` (which the caller has checked exists), page ``page``.

    Raises :class:`PageOutOfRange` for a page past the last one.
    """
    own = await construct(backend, _own_query(thing))
    incoming = await construct(backend, _incoming_query(thing, page))
    if page > 1 and not incoming:
        raise PageOutOfRange(f"This document has fewer than {page} pages; start at page 1.")
    if len(incoming) > PAGE_SIZE or page > 1:
        total = int((await select(backend, _count_query(thing)))[0]["n"])
        last_page = max(1, -(-total // PAGE_SIZE))
    else:
        last_page = 1
    incoming = sorted(incoming, key=lambda t: (t.predicate.value, str(t.subject)))[:PAGE_SIZE]
    data = own + incoming
    mentioned = sorted({n.value for t in data for n in (t.subject, t.predicate, t.object)
                        if isinstance(n, ox.NamedNode)} - {thing.iri})
    labels = await construct(backend, _labels_query(mentioned)) if mentioned else []
    seen: set[ox.Triple] = set()
    triples = []
    for t in [*data, *labels, *_metadata(thing, page, last_page)]:
        if t not in seen:
            seen.add(t)
            triples.append(t)
    return Document(thing, page, last_page, tuple(triples))


class DocumentMemo:
    """Recently built documents of one dataset version (bounded, least recently used out)."""

    def __init__(self, size: int = MEMO_SIZE):
        self.size = size
        self._items: OrderedDict[tuple[str, str, int], Document] = OrderedDict()

    async def get(self, backend: Backend, thing: Ref, page: int = 1) -> Document:
        key = (backend.info.version, thing.iri, page)
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        document = await build(backend, thing, page)
        self._items[key] = document
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return document


memo = DocumentMemo()  # one per process; keys carry the dataset version
