"""The benchmark queries, as every client of ARKG would write them: a lookup, the claims
about an entity, and the two other forms researchers' tools send for one entity
(``DESCRIBE <E>``, ``ASK { <E> ?p ?o }``).

>>> "<https://w3id.org/arkg/id/person/x>" in lookup("https://w3id.org/arkg/id/person/x")
True
"""

from __future__ import annotations

_LOOKUP = "SELECT ?p ?o WHERE {{ <{e}> ?p ?o }}"

# All claims about an entity (as subject or object) with who said it, with what stance, in
# which article (and its headline) and the verbatim quote. Without `?claim a arkg:Claim`:
# rdf:subject/rdf:object already say it is a claim, and with that pattern Oxigraph 0.5
# starts from the type and took 150-200 ms instead of 6 ms per query at 100k triples.
_CLAIMS = """PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX arkg: <https://w3id.org/arkg/ontology#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX oa: <http://www.w3.org/ns/oa#>
PREFIX schema: <http://schema.org/>
SELECT ?claim ?s ?p ?o ?stance ?speaker ?speakerLabel ?article ?headline ?quote WHERE {{
  {{ ?claim rdf:subject <{e}> }} UNION {{ ?claim rdf:object <{e}> }}
  ?claim rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ;
         arkg:stance ?stance ;
         arkg:claimant ?speaker ;
         prov:wasDerivedFrom ?article ;
         arkg:evidence ?evidence .
  ?speaker rdfs:label ?speakerLabel .
  ?article schema:headline ?headline .
  ?evidence oa:hasSelector ?selector .
  ?selector oa:exact ?quote .
}}
ORDER BY ?claim"""


def lookup(entity: str) -> str:
    """Everything said directly about ``entity``."""
    return _LOOKUP.format(e=entity)


def claims(entity: str) -> str:
    """All claims about ``entity`` with their sources and speakers."""
    return _CLAIMS.format(e=entity)


def describe(entity: str) -> str:
    """The entity's description, as the engine defines it (pyoxigraph: its triples and its blank nodes')."""
    return f"DESCRIBE <{entity}>"


def ask(entity: str) -> str:
    """Whether anything is said about ``entity``."""
    return f"ASK {{ <{entity}> ?p ?o }}"


QUERIES = {"lookup": lookup, "claims": claims, "describe": describe, "ask": ask}
# What each query asks for (the same on every server); the rest want SPARQL JSON results.
ACCEPT = {"describe": "application/n-triples"}
JSON = "application/sparql-results+json"


def accept(name: str) -> str:
    return ACCEPT.get(name, JSON)
