"""The dataset's own description: VoID and DCAT 3, computed from the data and its dumps.

The description depends on the public URL (endpoint, download links) and on the dump files
(sizes, checksums), so it is generated rather than stored in a named graph: a copy with
canonical URLs goes into each dump directory (``void.ttl``), and the server answers
``/.well-known/void`` with the same description mapped onto its public URL. The things it
describes get hash IRIs under ``{base}.well-known/void#`` (no blank nodes), so both copies
name them alike. ``arkg build`` writes it (canonical URLs) beside the dumps and as the
build's ``void.ttl``; the server reads that file and maps the few IRIs that are URLs of
the server onto its public URL (:func:`public_copy`), computing nothing.

Counts come from the build's store: the ones over distinct triples from the pass that
writes the merged dumps (:class:`Tally`: aggregates in the engine per graph, and per
triple only for a graph that repeats another's triples; no copy of the triples in
memory), the rest from SPARQL (:data:`QUERIES`).

>>> curie_slug("https://w3id.org/arkg/ontology#Claim"), curie_slug("http://schema.org/Person")
('arkg-Claim', 'schema-Person')
>>> iana("application/n-triples")
'https://www.iana.org/assignments/media-types/application/n-triples'
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pyoxigraph as ox

from server.model.namespaces import ID, ONTOLOGY_IRI, PREFIXES as DATA_PREFIXES, sparql_prefixes
from server.model.namespaces import LICENCE, NS
from server.model.urls import UrlMap
from server.publish.dumps import SUMS_FILE, Build

VOID, DCAT, DCTERMS, RDF, RDFS, XSD = (NS[p] for p in ("void", "dcat", "dcterms", "rdf", "rdfs", "xsd"))
SPDX, FOAF = NS["spdx"], NS["foaf"]
PREFIXES = {**DATA_PREFIXES, "spdx": SPDX, "foaf": FOAF}

PUBLISHER_NAME = "ARKG project"
TITLE = "ARKG: the Afghan Resistance Knowledge Graph"
DESCRIPTION = ("Attributed and possibly contested claims from five news articles and their reader comments "
               "about the National Resistance Front of Afghanistan and the talks around it, as linked data: "
               "who said what, asserting, denying, hedging or questioning it, with verbatim evidence. "
               "The graph never asserts a contested triple as fact.")
KEYWORDS = ("Afghanistan", "National Resistance Front of Afghanistan", "Taliban", "claims", "contested claims",
            "provenance", "news", "knowledge graph")

# External datasets we link to: key -> (title, URI space, home page).
LINK_TARGETS = {
    "wikidata": ("Wikidata", DATA_PREFIXES["wd"], "https://www.wikidata.org/"),
    "dbpedia": ("DBpedia", DATA_PREFIXES["dbr"], "https://dbpedia.org/"),
}
LINK_PREDICATES = (DATA_PREFIXES["owl"] + "sameAs", DATA_PREFIXES["skos"] + "exactMatch")
# Kinds of things of which the description names one example each (the most referenced).
EXAMPLE_KINDS = ("arkg:Person", "arkg:Organization", "arkg:Event", "arkg:Place", "schema:NewsArticle", "arkg:Claim")

GRAPH_DESCRIPTIONS = {
    "ontology": "The ARKG ontology: classes, the closed set of claim predicates, and the SKOS schemes for stance, "
                "proposition status and time precision.",
    "shapes": "SHACL shapes that the data is validated against before it is published.",
    "sources": "The seed articles (headline, publisher, authors and language only where the text states them; "
               "hashes of the texts, not the texts) and their reader comments.",
    "entities": "People, organisations, places, events, groups and anonymous speakers, with spelling variants "
                "and verified links to Wikidata and DBpedia.",
    "claims": "Claims: one speaker, in one article or reader comment, asserting, denying, hedging or questioning "
              "one triple, with the verbatim quote and its position as evidence.",
    "derived": "Propositions with their status computed from the claims (contested, uncontested, single-source, "
               "only-denied); built, never hand-written.",
    "asserted": "The plain triples of the propositions that are uncontested in this corpus (which does not make "
                "them true), each linked to the claims that support it.",
    "examples": "Example SPARQL queries, each an sh:SPARQLExecutable with a comment.",
    "meta": "Metadata about the dataset.",
}

_LINK_VALUES = " ".join(f'("{key}" "{space}")' for key, (_, space, _) in LINK_TARGETS.items())
QUERIES = {
    "triples": "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o } }",
    # Entities (subjects in {base}id/) with the subjects: each distinct subject's IRI read once
    # (a FILTER on every triple read 8.6M of them at 5M: 24 s for both counts, now 11 s).
    "subjects": (f'SELECT (COUNT(*) AS ?n) (SUM(IF(isIRI(?s) && STRSTARTS(STR(?s), "{ID}"), 1, 0)) AS ?entities) '
                 "WHERE { SELECT DISTINCT ?s WHERE { ?s ?p ?o } }"),
    "objects": "SELECT (COUNT(DISTINCT ?o) AS ?n) WHERE { ?s ?p ?o }",
    "classes": "SELECT ?class (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a ?class FILTER(isIRI(?class)) } GROUP BY ?class",
    "properties": "SELECT ?p (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o } } GROUP BY ?p",
    "graphs": "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g",
    "links": ("SELECT ?target ?p (COUNT(*) AS ?n) WHERE { "
              "{ SELECT DISTINCT ?s ?p ?o WHERE { VALUES ?p { " + " ".join(f"<{p}>" for p in LINK_PREDICATES) + " } ?s ?p ?o } } "
              f"VALUES (?target ?space) {{ {_LINK_VALUES} }} FILTER(STRSTARTS(STR(?o), ?space)) }} GROUP BY ?target ?p"),
    "examples": (sparql_prefixes() + "SELECT ?kind ?s (COUNT(?x) AS ?n) WHERE { VALUES ?kind { "
                 + " ".join(EXAMPLE_KINDS) + " } ?s a ?kind FILTER(isIRI(?s)) OPTIONAL { ?x ?p ?s } } GROUP BY ?kind ?s"),
}


@dataclass(frozen=True)
class Statistics:
    """What the description counts, all over the union of the named graphs (distinct triples)."""

    triples: int
    distinct_subjects: int
    distinct_objects: int
    entities: int  # distinct subjects in the URI space {base}id/
    classes: dict[str, int] = field(default_factory=dict)  # class IRI -> instances
    properties: dict[str, int] = field(default_factory=dict)  # predicate IRI -> triples
    graphs: dict[str, int] = field(default_factory=dict)  # named graph IRI -> triples
    links: dict[tuple[str, str], int] = field(default_factory=dict)  # (LINK_TARGETS key, predicate) -> links
    examples: tuple[str, ...] = ()

    @property
    def vocabularies(self) -> list[str]:
        """The vocabularies whose terms the data uses (the ARKG ontology by its IRI)."""
        known = {ns: prefix for prefix, ns in PREFIXES.items() if prefix not in ("wd", "dbr")}
        found = set()
        for iri in (*self.classes, *self.properties):
            namespace = _namespace(iri)
            if namespace in known:
                found.add(ONTOLOGY_IRI if known[namespace] == "arkg" else namespace)
        return sorted(found)


def statistics_from(rows: dict[str, list[dict[str, str]]]) -> Statistics:
    """Statistics from the rows of each of :data:`QUERIES` (plain values, as ``backend.select`` gives)."""
    def count(name: str) -> int:
        return int(rows[name][0]["n"]) if rows[name] else 0

    best: dict[str, tuple[int, str]] = {}
    for row in rows["examples"]:
        n, iri = int(row["n"]), row["s"]
        if row["kind"] not in best or (-n, iri) < (-best[row["kind"]][0], best[row["kind"]][1]):
            best[row["kind"]] = (n, iri)
    kinds = [_expand(k) for k in EXAMPLE_KINDS]
    return Statistics(
        triples=count("triples"), distinct_subjects=count("subjects"), distinct_objects=count("objects"),
        entities=int(rows["subjects"][0]["entities"]) if rows["subjects"] else 0,
        classes={r["class"]: int(r["n"]) for r in rows["classes"]},
        properties={r["p"]: int(r["n"]) for r in rows["properties"]},
        graphs={r["g"]: int(r["n"]) for r in rows["graphs"]},
        links={(r["target"], r["p"]): int(r["n"]) for r in rows["links"]},
        examples=tuple(best[k][1] for k in kinds if k in best),
    )


def store_rows(store: ox.Store, *, skip: tuple[str, ...] = ()) -> dict[str, list[dict[str, str]]]:
    """The rows of each of :data:`QUERIES` but those named in ``skip``, answered by ``store``."""
    rows = {}
    for name, query in QUERIES.items():
        if name in skip:
            continue
        result = store.query(query, use_default_graph_as_union=True)
        names = [v.value for v in result.variables]
        rows[name] = [{k: row[k].value for k in names if row[k] is not None} for row in result]
    return rows


def statistics_of_store(store: ox.Store, tally: "Tally | None" = None) -> Statistics:
    """Statistics of a pyoxigraph store; with ``tally`` (counted while the dumps were
    streamed) the counts over distinct triples are not computed again."""
    if tally is None:
        return statistics_from(store_rows(store))
    return statistics_from({**store_rows(store, skip=Tally.COUNTS), **tally.rows()})


class Tally:
    """The counts of :data:`QUERIES` that need each distinct triple once, from the one pass
    over them that writes the merged dumps (their own SPARQL would hold every triple in a
    hash set), and the triples of each named graph, which the same aggregates give."""

    COUNTS = ("triples", "classes", "properties", "links", "graphs")

    def __init__(self) -> None:
        self.triples = 0
        self.classes: dict[str, int] = {}
        self.properties: dict[str, int] = {}
        self.links: dict[tuple[str, str], int] = {}
        self.graphs: dict[str, int] = {}  # named graph -> its triples (repeats in other graphs included)
        self._links = set(LINK_PREDICATES)

    def __call__(self, triple: ox.Triple, times: int = 1) -> None:
        """Count ``triple`` (``times=-1``: take back one counted before)."""
        self.triples += times
        p, o = triple.predicate.value, triple.object
        self.properties[p] = self.properties.get(p, 0) + times
        if p == _TYPE and isinstance(o, ox.NamedNode):
            self.classes[o.value] = self.classes.get(o.value, 0) + times
        elif p in self._links and isinstance(o, ox.NamedNode):
            for key, (_, space, _) in LINK_TARGETS.items():
                if o.value.startswith(space):
                    self.links[(key, p)] = self.links.get((key, p), 0) + times

    def add_graph(self, store: ox.Store, graph) -> None:
        """Count a whole graph at once, by aggregates in the engine (the triples an earlier
        graph counted too are then taken back one by one: server/publish/dumps.py)."""
        where = "?s ?p ?o" if isinstance(graph, ox.DefaultGraph) else f"GRAPH {graph} {{ ?s ?p ?o }}"
        over = {"default_graph": graph} if isinstance(graph, ox.DefaultGraph) else {}
        for row in store.query(f"SELECT ?p (COUNT(*) AS ?n) WHERE {{ {where} }} GROUP BY ?p", **over):
            p, n = row["p"].value, int(row["n"].value)
            self.triples += n
            self.properties[p] = self.properties.get(p, 0) + n
            if not isinstance(graph, ox.DefaultGraph):
                self.graphs[graph.value] = self.graphs.get(graph.value, 0) + n
        typed = where.replace("?p ?o", f"<{_TYPE}> ?o")
        for row in store.query(f"SELECT ?o (COUNT(*) AS ?n) WHERE {{ {typed} FILTER(isIRI(?o)) }} GROUP BY ?o", **over):
            self.classes[row["o"].value] = self.classes.get(row["o"].value, 0) + int(row["n"].value)
        links = (f"SELECT ?target ?p (COUNT(*) AS ?n) WHERE {{ VALUES ?p {{ {' '.join(f'<{p}>' for p in LINK_PREDICATES)} }} "
                 f"{where} VALUES (?target ?space) {{ {_LINK_VALUES} }} FILTER(isIRI(?o) && STRSTARTS(STR(?o), ?space)) }} "
                 "GROUP BY ?target ?p")
        for row in store.query(links, **over):
            key = (row["target"].value, row["p"].value)
            self.links[key] = self.links.get(key, 0) + int(row["n"].value)

    def rows(self) -> dict[str, list[dict[str, str]]]:
        """The same rows the SPARQL queries give."""
        return {"triples": [{"n": str(self.triples)}],
                "classes": [{"class": c, "n": str(n)} for c, n in self.classes.items() if n],
                "properties": [{"p": p, "n": str(n)} for p, n in self.properties.items() if n],
                "links": [{"target": t, "p": p, "n": str(n)} for (t, p), n in self.links.items() if n],
                "graphs": [{"g": g, "n": str(n)} for g, n in self.graphs.items()]}


_TYPE = DATA_PREFIXES["rdf"] + "type"
_SERVER_PATHS = ("sparql", "dumps/", ".well-known/sparql-examples")  # what describe() makes from public_url


def public_copy(triples: list[ox.Triple], urls: UrlMap) -> list[ox.Triple]:
    """A description written with canonical URLs (:func:`canonical_urls`), as this server
    publishes it: the URLs of the server (landing page, endpoint, downloads, examples) on
    ``urls.public_url``; data IRIs and the description's own ``#`` nodes stay canonical."""
    base = urls.base_iri

    def mapped(term):
        if isinstance(term, ox.NamedNode) and term.value.startswith(base):
            rest = term.value[len(base):]
            if rest == "" or rest.startswith(_SERVER_PATHS):
                return ox.NamedNode(urls.public_url + rest)
        return term

    if urls.public_url == base:
        return triples
    return [ox.Triple(mapped(t.subject), t.predicate, mapped(t.object)) for t in triples]


def canonical_urls(base_iri: str) -> UrlMap:
    """A URL map that leaves canonical IRIs as they are: for the copy written into the dumps."""
    return UrlMap(base_iri, base_iri)


def iana(media_type: str) -> str:
    """The IANA registry IRI of a media type (DCAT's recommended value of dcat:mediaType)."""
    return "https://www.iana.org/assignments/media-types/" + media_type.split(";")[0].strip()


def curie_slug(iri: str) -> str:
    """A fragment-safe name for a term: ``prefix-local`` when a known prefix fits, else a hash."""
    for prefix, namespace in PREFIXES.items():
        local = iri[len(namespace):]
        if iri.startswith(namespace) and local and all(c.isalnum() or c in "-_" for c in local):
            return f"{prefix}-{local}"
    return "iri-" + hashlib.sha256(iri.encode()).hexdigest()[:12]


def void_document(urls: UrlMap) -> str:
    """The canonical IRI of the description document; its things are ``#fragments`` of it."""
    return urls.base_iri + ".well-known/void"


def describe(stats: Statistics, build: Build | None, urls: UrlMap) -> list[ox.Triple]:
    """The VoID + DCAT description of the dataset, its dumps (if built) and its SPARQL service."""
    doc = void_document(urls)
    out: list[ox.Triple] = []

    def node(fragment: str) -> ox.NamedNode:
        return ox.NamedNode(f"{doc}#{fragment}")

    def add(s: ox.NamedNode, p: str, o) -> None:
        out.append(ox.Triple(s, ox.NamedNode(p), o))

    def iri(value: str) -> ox.NamedNode:
        return ox.NamedNode(value)

    def text(value: str) -> ox.Literal:
        return ox.Literal(value, language="en")

    def integer(value: int, datatype: str = "integer") -> ox.Literal:
        return ox.Literal(str(value), datatype=ox.NamedNode(XSD + datatype))

    def named(s: ox.NamedNode, label: str, comment: str) -> None:
        add(s, RDFS + "label", text(label))
        add(s, RDFS + "comment", text(comment))

    dataset, service, publisher = node("dataset"), node("sparql-service"), node("publisher")
    endpoint = iri(urls.sparql_endpoint)
    license_ = iri(LICENCE)

    # --- the dataset (VoID and DCAT at once)
    add(dataset, RDF + "type", iri(VOID + "Dataset"))
    add(dataset, RDF + "type", iri(DCAT + "Dataset"))
    named(dataset, TITLE, DESCRIPTION)
    add(dataset, DCTERMS + "title", text(TITLE))
    add(dataset, DCTERMS + "description", text(DESCRIPTION))
    add(dataset, DCTERMS + "license", license_)
    add(dataset, DCTERMS + "publisher", publisher)
    add(dataset, DCTERMS + "language", iri("http://id.loc.gov/vocabulary/iso639-1/en"))
    for keyword in KEYWORDS:
        add(dataset, DCAT + "keyword", text(keyword))
    if build is not None:
        add(dataset, DCAT + "version", ox.Literal(build.version))
    add(dataset, DCAT + "landingPage", iri(urls.public_url))
    add(dataset, VOID + "sparqlEndpoint", endpoint)
    add(dataset, VOID + "uriSpace", ox.Literal(ID))
    add(dataset, RDFS + "seeAlso", iri(urls.public_url + ".well-known/sparql-examples"))
    add(dataset, VOID + "triples", integer(stats.triples))
    add(dataset, VOID + "entities", integer(stats.entities))
    add(dataset, VOID + "distinctSubjects", integer(stats.distinct_subjects))
    add(dataset, VOID + "distinctObjects", integer(stats.distinct_objects))
    add(dataset, VOID + "classes", integer(len(stats.classes)))
    add(dataset, VOID + "properties", integer(len(stats.properties)))
    for vocabulary in stats.vocabularies:
        add(dataset, VOID + "vocabulary", iri(vocabulary))
    for example in stats.examples:
        add(dataset, VOID + "exampleResource", iri(example))

    add(publisher, RDF + "type", iri(FOAF + "Agent"))
    add(publisher, FOAF + "name", ox.Literal(PUBLISHER_NAME))
    named(publisher, PUBLISHER_NAME, "The people who curate and publish ARKG.")

    # --- class and property partitions
    for class_iri, n in sorted(stats.classes.items()):
        part = node("class-" + curie_slug(class_iri))
        add(dataset, VOID + "classPartition", part)
        add(part, RDF + "type", iri(VOID + "Dataset"))
        named(part, f"Instances of {class_iri}", "The class partition of the dataset for this class.")
        add(part, VOID + "class", iri(class_iri))
        add(part, VOID + "entities", integer(n))
    for property_iri, n in sorted(stats.properties.items()):
        part = node("property-" + curie_slug(property_iri))
        add(dataset, VOID + "propertyPartition", part)
        add(part, RDF + "type", iri(VOID + "Dataset"))
        named(part, f"Triples with predicate {property_iri}", "The property partition of the dataset for this predicate.")
        add(part, VOID + "property", iri(property_iri))
        add(part, VOID + "triples", integer(n))

    # --- named graphs as subsets
    for graph_iri, n in sorted(stats.graphs.items()):
        graph = iri(graph_iri)
        name = graph_iri.rsplit("/", 1)[-1]
        add(dataset, VOID + "subset", graph)
        add(graph, RDF + "type", iri(VOID + "Dataset"))
        named(graph, f"ARKG named graph '{name}'", GRAPH_DESCRIPTIONS.get(name, f"The named graph {name}."))
        add(graph, VOID + "triples", integer(n))
        add(graph, VOID + "sparqlEndpoint", endpoint)

    # --- linksets, one per external target and link predicate
    for (target, predicate), n in sorted(stats.links.items()):
        title, space, homepage = LINK_TARGETS[target]
        other, linkset = node(target), node(f"linkset-{target}-{curie_slug(predicate)}")
        add(other, RDF + "type", iri(VOID + "Dataset"))
        named(other, title, f"{title}, to which ARKG entities link.")
        add(other, VOID + "uriSpace", ox.Literal(space))
        add(other, FOAF + "homepage", iri(homepage))
        add(dataset, VOID + "subset", linkset)
        add(linkset, RDF + "type", iri(VOID + "Linkset"))
        named(linkset, f"Links from ARKG to {title}",
              f"The {predicate} links from ARKG entities to {title}, each verified against the project's reference table.")
        add(linkset, VOID + "subjectsTarget", dataset)
        add(linkset, VOID + "objectsTarget", other)
        add(linkset, VOID + "linkPredicate", iri(predicate))
        add(linkset, VOID + "triples", integer(n))

    # --- the SPARQL service
    add(service, RDF + "type", iri(DCAT + "DataService"))
    named(service, "ARKG SPARQL endpoint", "A read-only SPARQL 1.1 endpoint over the union of the named graphs.")
    add(service, DCTERMS + "title", text("ARKG SPARQL endpoint"))
    add(service, DCAT + "endpointURL", endpoint)
    add(service, DCAT + "endpointDescription", endpoint)  # the Service Description answers a GET without query
    add(service, DCAT + "servesDataset", dataset)
    add(service, DCTERMS + "conformsTo", iri("https://www.w3.org/TR/sparql11-protocol/"))
    add(service, DCTERMS + "license", license_)
    add(dataset, DCAT + "distribution", node("sparql-access"))
    access = node("sparql-access")
    add(access, RDF + "type", iri(DCAT + "Distribution"))
    named(access, "ARKG through SPARQL", "Access to the whole dataset through the SPARQL endpoint.")
    add(access, DCAT + "accessURL", endpoint)
    add(access, DCAT + "accessService", service)
    add(access, DCTERMS + "license", license_)

    # --- the dumps
    if build is not None:
        index = iri(urls.public_url + "dumps/")
        for dump in build.data_files:
            kind = dump.kind
            url = iri(f"{urls.public_url}dumps/{build.version}/{dump.name}")
            dist = node("dump-" + dump.name.replace(".", "-"))
            checksum = node("dump-" + dump.name.replace(".", "-") + "-sha256")
            add(dataset, VOID + "dataDump", url)
            add(dataset, DCAT + "distribution", dist)
            add(dist, RDF + "type", iri(DCAT + "Distribution"))
            named(dist, f"ARKG dump: {kind.title}", f"The whole dataset, version {build.version}, as {kind.title}. "
                  f"The file {SUMS_FILE} beside it lists the checksums of all the files of the version.")
            add(dist, DCTERMS + "title", text(f"ARKG {build.version}: {kind.title}"))
            add(dist, DCAT + "downloadURL", url)
            add(dist, DCAT + "accessURL", index)
            add(dist, DCAT + "mediaType", iri(iana(kind.format.media_type)))
            if kind.gzip:
                add(dist, DCAT + "compressFormat", iri(iana("application/gzip")))
            add(dist, DCTERMS + "format", iri(kind.format.iri))
            add(dist, DCAT + "byteSize", integer(dump.size, "nonNegativeInteger"))
            add(dist, DCTERMS + "license", license_)
            add(dist, SPDX + "checksum", checksum)
            add(checksum, RDF + "type", iri(SPDX + "Checksum"))
            named(checksum, f"SHA-256 of {dump.name}", f"The SHA-256 checksum of {dump.name}, version {build.version}.")
            add(checksum, SPDX + "algorithm", iri(SPDX + "checksumAlgorithm_sha256"))
            add(checksum, SPDX + "checksumValue", ox.Literal(dump.sha256, datatype=ox.NamedNode(XSD + "hexBinary")))
            add(dataset, VOID + "feature", iri(kind.format.iri))
    return list(dict.fromkeys(out))  # a target reached by two predicates is described once


def _namespace(iri: str) -> str:
    cut = max(iri.rfind("#"), iri.rfind("/"))
    return iri[:cut + 1]


def _expand(curie: str) -> str:
    prefix, _, local = curie.partition(":")
    return PREFIXES[prefix] + local
