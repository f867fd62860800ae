"""The document about one thing: a small graph that its HTML page and its RDF forms both show.

A few bounded queries fill it, one after the other (the thing's neighbourhood, never the
whole graph):

1. the thing's own triples and those of its hash IRIs (a claim's ``#evidence``, ``#quote``
   and ``#position``, an entity's ``#link-wikidata`` axioms), with the named graphs each
   triple is in (a page marks what only the ``asserted`` graph states), and one page of the
   triples pointing at it: ``PAGE_SIZE`` per page, ordered by predicate then subject;
2. the claims that page involves (those pointing here, or whose evidence does; for a claim, the other claims about
   its proposition; for a proposition, its ``arkg:hasClaim``; for an article, the claims of
   its comments on the page), each with its evidence and selectors, its source's article and
   date, and its proposition's status;
3. ``rdfs:label`` of every IRI the document mentions (hash IRIs aside), in one lookup for the
   page (at 5M triples, labels asked per claim inside 2 doubled its cost);
4. only when there is more than one page: how many triples point here (for ``hydra:last``).

Metadata is added without a query: the document's ``foaf:primaryTopic``, licence (CC BY 4.0),
formats (``dcterms:hasFormat``, HTML included) and ``hydra:first/previous/next/last`` links.

One paging scheme for every form: ``?page=N`` selects the same triples for the HTML page and
the RDF forms; a page past the last one raises :class:`PageOutOfRange` (a 404).

IRIs stay canonical (``https://w3id.org/arkg/...``) whatever URL the server is reached at:
they are the identities other graphs link to. :data:`memo` keeps recent documents of the
served dataset version in each server process, so the HTML page and the four RDF forms of one
page cost one build in that process.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass

import pyoxigraph as ox

from server.model import formats
from server.model.namespaces import ARKG, LICENCE, PREFIXES, graph_iri
from server.engine.backend import Backend, select
from server.views.things import Ref, of_iri, term
from server.engine.worker import QueryRequest

PAGE_SIZE = 200  # things pointing here per page: articles (hundreds of claims) span pages
MEMO_SIZE = 512
SIBLING_LIMIT = 200  # other claims about a claim's proposition shown with it

FOAF = "http://xmlns.com/foaf/0.1/"
HYDRA = "http://www.w3.org/ns/hydra/core#"
DCTERMS = PREFIXES["dcterms"]
VOID = PREFIXES["void"]
RDF, RDFS, SKOS = PREFIXES["rdf"], PREFIXES["rdfs"], PREFIXES["skos"]
SCHEMA, PROV, OA = PREFIXES["schema"], PREFIXES["prov"], PREFIXES["oa"]
RDF_TYPE = ox.NamedNode(RDF + "type")
LABELS = (RDFS + "label", SKOS + "prefLabel")
ASSERTED = graph_iri("asserted")

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
    incoming: tuple[ox.Triple, ...] = ()  # the triples pointing at the thing on this page, in page order
    asserted_only: frozenset[ox.Triple] = frozenset()  # own or incoming triples stated only in `asserted`
    found: bool = True  # False when no triple mentions the thing: nothing is known by its IRI

    def serialize(self, fmt: formats.Format) -> bytes:
        """The document in ``fmt`` (an RDF format of :mod:`server.model.formats`)."""
        prefixes = None
        if fmt.engine_format in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML):
            prefixes = {**PREFIXES, "foaf": FOAF, "hydra": HYDRA}
        return ox.serialize(self.triples, format=fmt.engine_format, prefixes=prefixes)


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
    result = await backend.run(QueryRequest(query, "json", "nt"))
    return [q.triple for q in ox.parse(result.body, format=ox.RdfFormat.N_TRIPLES)]  # 3x cheaper than Triple(s, p, o)


def _ox(binding: dict) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """A term of SPARQL JSON results as pyoxigraph's."""
    kind, value = binding["type"], binding["value"]
    if kind == "uri":
        return ox.NamedNode(value)
    if kind == "bnode":
        return ox.BlankNode(value)
    if "xml:lang" in binding:
        return ox.Literal(value, language=binding["xml:lang"])
    if "datatype" in binding:
        return ox.Literal(value, datatype=ox.NamedNode(binding["datatype"]))
    return ox.Literal(value)


def _core_query(thing: Ref, page: int) -> str:
    """Own triples (with hash IRIs) and one page of what points here, each with its graphs."""
    t, hashes = term(thing.iri), thing.iri + "#"
    not_own = f'FILTER(!isIRI(?s) || !STRSTARTS(STR(?s), "{hashes}"))'
    # Hash IRIs are reached from the thing (evidence, then its selectors) or point at it
    # (owl:Axiom annotations), which avoids scanning every triple for the prefix.
    return f"""SELECT ?s ?p ?o ?gs ?in WHERE {{
      {{ SELECT ?s ?p ?o (GROUP_CONCAT(STR(?g); separator=" ") AS ?gs) WHERE {{
          {{ BIND({t} AS ?s) }}
          UNION {{ {t} ?p1 ?s . FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{hashes}")) }}
          UNION {{ {t} ?p1 ?m . ?m ?p2 ?s .
                   FILTER(isIRI(?m) && STRSTARTS(STR(?m), "{hashes}") && isIRI(?s) && STRSTARTS(STR(?s), "{hashes}")) }}
          UNION {{ ?s ?p1 {t} . FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{hashes}")) }}
          GRAPH ?g {{ ?s ?p ?o }}
        }} GROUP BY ?s ?p ?o }}
      UNION
      {{ {{ SELECT ?s ?p (GROUP_CONCAT(STR(?g); separator=" ") AS ?gs) WHERE {{ GRAPH ?g {{ ?s ?p {t} }} {not_own} }}
           GROUP BY ?s ?p ORDER BY ?p ?s LIMIT {PAGE_SIZE + 1} OFFSET {(page - 1) * PAGE_SIZE} }}
         BIND({t} AS ?o) BIND(true AS ?in) }}
    }}"""


def _count_query(thing: Ref) -> str:
    t = term(thing.iri)
    return f"""SELECT (COUNT(*) AS ?n) WHERE {{ SELECT DISTINCT ?s ?p WHERE {{
      ?s ?p {t} . FILTER(!isIRI(?s) || !STRSTARTS(STR(?s), "{thing.iri}#")) }} }}"""


def _values(var: str, iris) -> str:
    return f"VALUES ?{var} {{ " + " ".join(term(i) for i in sorted(iris)) + " }"


def _claims_query(seeds: list[str], *, lateral: bool = True) -> str:
    """Each claim ``?c`` the seed patterns give, with evidence, source, dates and status. The
    labels of what the claims name come after, in one lookup for the whole page (asked per
    claim, inside this query, they cost as much as the rest of it: the same predicates,
    speakers and statuses again for every claim)."""
    seed = " UNION ".join(f"{{ {s} }}" for s in seeds)
    return f"""CONSTRUCT {{
      ?c ?p ?o . ?x ?xp ?xo . ?src <{SCHEMA}isPartOf> ?a . ?art <{SCHEMA}datePublished> ?d . ?prop <{ARKG}status> ?st
    }} WHERE {{
      {{ {seed} }}
      {"LATERAL " if lateral else ""}{{ {{ ?c ?p ?o }}
      UNION {{ ?c <{ARKG}evidence> ?x . ?x ?xp ?xo }}
      UNION {{ ?c <{ARKG}evidence> ?ev . ?ev <{OA}hasSelector> ?x . ?x ?xp ?xo }}
      UNION {{ ?c <{PROV}wasDerivedFrom> ?src . ?src <{SCHEMA}isPartOf> ?a }}
      UNION {{ ?c <{PROV}wasDerivedFrom> ?art . ?art <{SCHEMA}datePublished> ?d }}
      UNION {{ ?c <{PROV}wasDerivedFrom> ?src . ?src <{SCHEMA}isPartOf> ?art . ?art <{SCHEMA}datePublished> ?d }}
      UNION {{ ?c <{ARKG}aboutProposition> ?prop . ?prop <{ARKG}status> ?st }} }}
    }}"""


def _labels_query(iris: list[str]) -> str:
    # Seeded by VALUES: one index lookup per IRI (every term and thing has an rdfs:label;
    # skos:prefLabel, where present, repeats it).
    return f"""CONSTRUCT {{ ?x <{RDFS}label> ?l }} WHERE {{ {_values('x', iris)} ?x <{RDFS}label> ?l }}"""


def _claim_seeds(thing: Ref, own: list[ox.Triple], incoming: list[ox.Triple]) -> list[str]:
    """Patterns binding ``?c`` to the claims this page shows (bounded by the page)."""
    claims, comments = set(), set()
    for t in incoming:
        ref = of_iri(t.subject.value, base=thing.base) if isinstance(t.subject, ox.NamedNode) else None
        if ref is not None and ref.kind == "claim":
            claims.add(ref.iri)
        elif ref is not None and ref.kind == "comment" and t.predicate.value == SCHEMA + "isPartOf":
            comments.add(ref.iri)
    proposition = None
    for t in own:
        if t.subject.value != thing.iri or not isinstance(t.object, ox.NamedNode):
            continue
        if t.predicate.value in (ARKG + "hasClaim", ARKG + "supportingClaim"):
            claims.add(t.object.value)
        elif t.predicate.value == ARKG + "aboutProposition":
            proposition = t.object.value
    if thing.kind == "claim":
        claims.add(thing.iri)
    seeds = [_values("c", claims)] if claims else []
    if comments:
        seeds.append(f"{_values('cm', comments)} ?c <{PROV}wasDerivedFrom> ?cm")
    if thing.kind == "claim" and proposition:
        seeds.append(f"SELECT ?c WHERE {{ ?c <{ARKG}aboutProposition> {term(proposition)} }} "
                     f"ORDER BY ?c LIMIT {SIBLING_LIMIT}")
    return seeds


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


def _to_label(thing: Ref, triples: list[ox.Triple]) -> list[str]:
    """IRIs these triples mention that have no label among them, hash IRIs of ours aside
    (parts of documents: evidence, selectors, axioms have none)."""
    labelled = {t.subject.value for t in triples if t.predicate.value in LABELS}
    named = set()
    for t in triples:
        named.add(t.predicate.value)
        for n in (t.subject, t.object):
            if type(n) is ox.NamedNode:
                named.add(n.value)
    return sorted(iri for iri in named - labelled if "#" not in iri or not iri.startswith(thing.base + "id/"))


def link_order(triple: ox.Triple) -> tuple[str, str]:
    """Where a triple pointing at the thing stands in the document's pages (as ``ORDER BY ?p ?s``)."""
    return triple.predicate.value, str(triple.subject)


async def document_for(backend: Backend, thing: Ref, page: int = 1) -> Document:
    """The document about ``thing``, page ``page`` (``found`` is False if no triple mentions it).

    Raises :class:`PageOutOfRange` for a page past the last one.
    """
    result = await backend.run(QueryRequest(_core_query(thing, page), "json", "nt"))
    own, incoming, asserted_only = [], [], set()
    for row in json.loads(result.body)["results"]["bindings"]:
        triple = ox.Triple(_ox(row["s"]), _ox(row["p"]), _ox(row["o"]))
        (incoming if "in" in row else own).append(triple)
        if set(row["gs"]["value"].split()) == {ASSERTED}:
            asserted_only.add(triple)
    if not own and not incoming and page == 1:
        return Document(thing, 1, 1, (), found=False)
    if page > 1 and not incoming:
        raise PageOutOfRange(f"This document has fewer than {page} pages; start at page 1.")
    if len(incoming) > PAGE_SIZE or page > 1:
        total = int((await select(backend, _count_query(thing)))[0]["n"])
        last_page = max(1, -(-total // PAGE_SIZE))
    else:
        last_page = 1
    incoming = sorted(incoming, key=link_order)[:PAGE_SIZE]
    seeds = _claim_seeds(thing, own, incoming)
    claims = await construct(backend, _claims_query(seeds, lateral=backend.lateral)) if seeds else []
    data = own + incoming + claims
    mentioned = _to_label(thing, data)  # one lookup for the whole page
    labels = await construct(backend, _labels_query(mentioned)) if mentioned else []
    seen: set[ox.Triple] = set()
    triples = []
    for t in [*data, *labels, *_metadata(thing, page, last_page)]:
        if t not in seen:
            seen.add(t)
            triples.append(t)
    return Document(thing, page, last_page, tuple(triples), tuple(incoming), frozenset(asserted_only))


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
        document = await document_for(backend, thing, page)
        self._items[key] = document
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return document


memo = DocumentMemo()  # one per server process; keys carry the dataset version
