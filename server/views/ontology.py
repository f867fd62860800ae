"""The ARKG ontology as a page shows it: every term with its definition and usage counts.

Terms are the subjects of the ``ontology`` graph in the ``arkg:`` namespace. Usage is
counted in the data graphs only (not in the ontology or shapes that define the terms):
triples using a property, instances of a class, claims using a relation as their
``rdf:predicate``, and triples pointing at a concept (a stance, a status). Counting reads the
whole data, so it runs once per dataset version (:mod:`server.views.per_version`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyoxigraph as ox

from server.model.namespaces import ARKG, ONTOLOGY_IRI, PREFIXES, graph_iri
from server.engine.backend import Backend, select
from server.views.documents import construct
from server.views.things import term
from server.views.pages import Node, labels
from server.views.per_version import cache

RDF, RDFS, OWL, SKOS = PREFIXES["rdf"], PREFIXES["rdfs"], PREFIXES["owl"], PREFIXES["skos"]
ONTOLOGY_PREFIXES = {**PREFIXES, "vann": "http://purl.org/vocab/vann/"}

# Sections of the page, in order: (title, test on the term's rdf:types).
SECTIONS = [
    ("Classes", lambda types: OWL + "Class" in types),
    ("Relations claims may use", lambda types: ARKG + "ClaimPredicate" in types),
    ("Claim, provenance and source properties",
     lambda types: bool({OWL + "ObjectProperty", OWL + "DatatypeProperty", RDF + "Property"} & types)),
    ("Concept schemes", lambda types: SKOS + "ConceptScheme" in types),
    ("Concepts", lambda types: SKOS + "Concept" in types),
    ("Other terms", lambda types: True),
]


@dataclass
class Term:
    iri: str
    types: set[str] = field(default_factory=set)
    label: str | None = None
    comment: str | None = None
    relations: list[tuple[Node, Node]] = field(default_factory=list)  # (property, value)
    used_as_property: int = 0
    instances: int = 0
    inferred_instances: int = 0
    as_claim_predicate: int = 0
    as_value: int = 0

    @property
    def name(self) -> str:
        """The local name: the page anchor (``/ontology#visited``)."""
        return self.iri[len(ARKG):]


@dataclass
class Vocabulary:
    title: str | None
    description: str | None
    version: str | None
    sections: list[tuple[str, list[Term]]]

    @property
    def count(self) -> int:
        return sum(len(terms) for _, terms in self.sections)


def _data_graph_filter(var: str = "?g") -> str:
    return f"FILTER({var} NOT IN ({term(graph_iri('ontology'))}, {term(graph_iri('shapes'))}))"


async def _counts(backend: Backend, query: str) -> dict[str, int]:
    return {row["t"]: int(row["n"]) for row in await select(backend, query)}


async def vocabulary(backend: Backend) -> Vocabulary:
    """Every term of the ontology graph, grouped into sections, with usage counts (computed once per version:
    the counts read the whole data)."""
    return await cache.get((backend.info.version, "vocabulary"), lambda: _vocabulary(backend))


async def _vocabulary(backend: Backend) -> Vocabulary:
    ontology = term(graph_iri("ontology"))
    rows = await select(backend, f"""SELECT ?t ?p ?o (isIRI(?o) AS ?o_iri) (isBlank(?o) AS ?o_blank) WHERE {{
      GRAPH {ontology} {{ ?t ?p ?o FILTER(isIRI(?t) && STRSTARTS(STR(?t), "{ARKG}")) }} }}""")
    header = {r["p"]: r["o"] for r in await select(backend, f"SELECT ?p ?o WHERE {{ GRAPH {ontology} {{ {term(ONTOLOGY_IRI)} ?p ?o }} }}")}
    as_property = await _counts(backend, f"""SELECT ?t (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?s ?t ?o }}
      {_data_graph_filter()} FILTER(STRSTARTS(STR(?t), "{ARKG}")) }} GROUP BY ?t""")
    instances = await _counts(backend, f"""SELECT ?t (COUNT(DISTINCT ?s) AS ?n) WHERE {{ GRAPH ?g {{ ?s a ?t }}
      {_data_graph_filter()} FILTER(STRSTARTS(STR(?t), "{ARKG}")) }} GROUP BY ?t""")
    claim_predicates = await _counts(backend, f"""SELECT ?t (COUNT(DISTINCT ?c) AS ?n) WHERE {{ GRAPH ?g {{ ?c <{RDF}predicate> ?t }}
      {_data_graph_filter()} FILTER(STRSTARTS(STR(?t), "{ARKG}")) }} GROUP BY ?t""")
    as_value = await _counts(backend, f"""SELECT ?t (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?s ?p ?t }}
      {_data_graph_filter()} FILTER(isIRI(?t) && STRSTARTS(STR(?t), "{ARKG}") && ?p NOT IN (<{RDF}type>, <{RDF}predicate>)) }}
      GROUP BY ?t""")
    # Classes defined as "anything that is the X of something" (arkg:Speaker): count what the data implies.
    inferred = await _counts(backend, f"""SELECT ?t (COUNT(DISTINCT ?x) AS ?n) WHERE {{
      GRAPH {ontology} {{ ?t <{OWL}equivalentClass> ?r . ?r <{OWL}onProperty> ?inv . ?inv <{OWL}inverseOf> ?p }}
      ?c ?p ?x }} GROUP BY ?t""")

    terms: dict[str, Term] = {}
    shown: list[tuple[str, str, str, str]] = []  # (term, property, "iri" | "blank" | "literal", value)
    for r in rows:
        t = terms.setdefault(r["t"], Term(r["t"]))
        p, o = r["p"], r["o"]
        if p == RDF + "type":
            t.types.add(o)
        if p == RDFS + "label" and not t.label:
            t.label = o
        elif p == RDFS + "comment":
            t.comment = o
        elif p not in (RDFS + "label", RDFS + "comment", SKOS + "prefLabel", SKOS + "definition"):
            kind = "blank" if r["o_blank"] == "true" else "iri" if r["o_iri"] == "true" else "literal"
            shown.append((r["t"], p, kind, o))
    names = await labels(backend, {p for _, p, _, _ in shown} | {o for _, _, kind, o in shown if kind == "iri"})
    for t_iri, p, kind, o in shown:
        if kind == "blank":
            value = Node("(an OWL restriction; see the OWL file)", is_iri=False)
        else:
            value = Node(o, is_iri=kind == "iri", label=names.get(o) if kind == "iri" else None)
        terms[t_iri].relations.append((Node(p, label=names.get(p)), value))
    for t in terms.values():
        t.relations.sort(key=lambda rel: (rel[0].text, rel[1].text))
        t.used_as_property = as_property.get(t.iri, 0)
        t.instances = instances.get(t.iri, 0)
        t.inferred_instances = inferred.get(t.iri, 0)
        t.as_claim_predicate = claim_predicates.get(t.iri, 0)
        t.as_value = as_value.get(t.iri, 0)

    sections: list[tuple[str, list[Term]]] = []
    placed: set[str] = set()
    for title, test in SECTIONS:
        members = sorted((t for t in terms.values() if t.iri not in placed and test(t.types)), key=lambda t: t.name.lower())
        placed |= {t.iri for t in members}
        if members:
            sections.append((title, members))
    return Vocabulary(header.get(PREFIXES["dcterms"] + "title"), header.get(PREFIXES["dcterms"] + "description"),
                      header.get(OWL + "versionInfo"), sections)


async def owl_triples(backend: Backend) -> list[ox.Triple]:
    """The ontology graph as loaded: the OWL file served by content negotiation."""
    return await construct(backend, f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH {term(graph_iri('ontology'))} {{ ?s ?p ?o }} }}")
