"""The web of meetings: who met, hosted, brokered, sponsored, arranged or attended what.

Edges are propositions (subject, predicate, object) with one of those predicates, styled by
the status the derived graph gives them. On an entity page, the entity's neighbourhood: its
own such propositions and those of the events and people it is linked to by one (who else
attended the meeting it attended). The edges with the most claims come first, at most
``limit``. Node positions are not chosen here (see the web layer's layout).
"""

from __future__ import annotations

from dataclasses import dataclass

from server.engine.backend import Backend, select
from server.model.namespaces import ARKG
from server.views.pictures.common import (LABEL, QUERY_PREFIXES, RDF, STATUS_WORDS, TYPE, Scope, clamp, details, first,
                                          label_of, local)
from server.views.things import term

PREDICATES = ("met", "attended", "hosted", "brokered", "sponsored", "arranged")
# Claims read at most (each costs an index lookup; at 5M triples on a loaded 2-core machine 500 took ~600 ms). Below
# it the ranking is exact; above it, edges are ranked among the first READ_CAP claims read
# and the picture says so (``Network.sampled``).
READ_CAP = 200
HUBS = 50  # things linked to the centre whose meeting claims are read too


@dataclass
class Edge:
    subject: str
    subject_label: str
    predicate: str  # local name
    object: str
    object_label: str
    proposition: str | None
    status: str  # local name, "" if not derived
    claims: int


@dataclass
class Node:
    iri: str
    label: str
    is_event: bool
    claims: int


@dataclass
class Network:
    query: str
    edges: list[Edge]
    nodes: list[Node]
    more: bool
    limit: int
    centre: str | None = None
    sampled: bool = False  # more than READ_CAP claims in scope: ranked among those read
    columns = ("subject", "subject_label", "predicate", "object", "object_label", "status", "claims", "proposition")

    def table(self) -> list[dict[str, str]]:
        return [{"subject": e.subject, "subject_label": e.subject_label, "predicate": e.predicate, "object": e.object,
                 "object_label": e.object_label, "status": STATUS_WORDS.get(e.status, ""), "claims": str(e.claims),
                 "proposition": e.proposition or ""} for e in self.edges]


VALUES = "VALUES ?p { " + " ".join(f"arkg:{p}" for p in PREDICATES) + " }"


def _claims(scope: Scope) -> str:
    """The meeting claims in scope, at most READ_CAP: every one, or the thing's own and those of
    the things its own link it to (at most HUBS of them)."""
    if scope.iri is None:
        return f"SELECT ?claim ?p WHERE {{ {VALUES} ?claim rdf:predicate ?p }}"
    t, p0 = term(scope.iri), VALUES.replace("?p", "?p0")
    return f"""SELECT DISTINCT ?claim ?p WHERE {{
        {{ {{ ?claim rdf:subject {t} }} UNION {{ ?claim rdf:object {t} }} }}
        UNION {{ {{ SELECT DISTINCT ?hub WHERE {{ {{ ?c0 rdf:subject {t} ; rdf:object ?hub }} UNION {{ ?c0 rdf:object {t} ; rdf:subject ?hub }}
                    ?c0 rdf:predicate ?p0 . {p0} }} LIMIT {HUBS} }}
                 {{ ?claim rdf:object ?hub }} UNION {{ ?claim rdf:subject ?hub }} }}
        ?claim rdf:predicate ?p . {VALUES} }}"""


def _edges(scope: Scope, limit: int) -> str:
    return f"""SELECT ?s ?p ?o ?proposition (COUNT(DISTINCT ?claim) AS ?claims) WHERE {{
      {{ {_claims(scope)} LIMIT {READ_CAP} }}
      ?claim rdf:subject ?s ; rdf:object ?o ; arkg:aboutProposition ?proposition .
    }} GROUP BY ?s ?p ?o ?proposition ORDER BY DESC(?claims) ?s ?p ?o LIMIT {limit + 1}"""


def query(scope: Scope, *, limit: int) -> str:
    """The edges, with labels and statuses, as one query for readers; ``gather`` runs it in
    steps (labels and statuses looked up after, see ``details``)."""
    return f"""{QUERY_PREFIXES}# Who met, hosted, brokered, sponsored, arranged or attended what{' (one thing and its neighbours)' if scope.iri else ''}, with each proposition's status.
SELECT ?s ?sLabel ?p ?o ?oLabel ?proposition ?status ?claims WHERE {{
  {{ {_edges(scope, limit)} }}
  OPTIONAL {{ ?proposition arkg:status ?status }}
  OPTIONAL {{ ?s rdfs:label ?sLabel }}
  OPTIONAL {{ ?o rdfs:label ?oLabel }}
}}
ORDER BY DESC(?claims) ?s ?p ?o"""


_IN = "FILTER(?p IN (" + ", ".join(f"arkg:{p}" for p in PREDICATES) + "))"


async def _claim_iris(backend: Backend, scope: Scope) -> tuple[list[str], bool]:
    """The meeting claims in scope (at most READ_CAP) and whether there were more.

    Simple patterns seeded with constants or VALUES, run one by one: joined in one query
    (UNIONs of them), the engine hashed every claim in the store (seconds at 5M triples).
    """
    cap = READ_CAP + 1
    if scope.iri is None:
        rows = await select(backend, f"{QUERY_PREFIXES}SELECT ?claim WHERE {{ {VALUES} ?claim rdf:predicate ?p }} LIMIT {cap}")
        found = [r["claim"] for r in rows]
        return found[:READ_CAP], len(found) > READ_CAP
    t = term(scope.iri)
    found: dict[str, None] = {}
    hubs: dict[str, None] = {}
    for mine, other in (("subject", "object"), ("object", "subject")):
        for r in await select(backend, f"""{QUERY_PREFIXES}SELECT ?claim ?other WHERE {{
              ?claim rdf:{mine} {t} ; rdf:predicate ?p ; rdf:{other} ?other . {_IN} }} LIMIT {cap}"""):
            found.setdefault(r["claim"])
            if r["other"].startswith(("http://", "https://")):
                hubs.setdefault(r["other"])
    hub_values = " ".join(term(h) for h in sorted(hubs)[:HUBS])
    if hub_values:
        for end in ("subject", "object"):
            for r in await select(backend, f"""{QUERY_PREFIXES}SELECT ?claim WHERE {{ VALUES ?n {{ {hub_values} }}
                  ?claim rdf:{end} ?n ; rdf:predicate ?p . {_IN} }} LIMIT {cap}"""):
                found.setdefault(r["claim"])
    claims = sorted(found)
    return claims[:READ_CAP], len(claims) > READ_CAP


async def gather(backend: Backend, scope: Scope, *, limit: int | None = None) -> Network:
    limit = clamp(limit)
    claim_iris, sampled = await _claim_iris(backend, scope)
    # One pattern per claim (?claim ?p ?o): with four, the engine scanned a predicate and hashed.
    parts = await details(backend, claim_iris, (RDF + "subject", RDF + "predicate", RDF + "object", ARKG + "aboutProposition"))
    counted: dict[tuple, set] = {}
    for claim in claim_iris:
        key = tuple(first(parts, claim, p) for p in (RDF + "subject", RDF + "predicate", RDF + "object", ARKG + "aboutProposition"))
        if all(key) and key[1].startswith(ARKG) and key[1][len(ARKG):] in PREDICATES:
            counted.setdefault(key, set()).add(claim)
    ranked = sorted(counted.items(), key=lambda item: (-len(item[1]), item[0]))[: limit + 1]
    rows = [{"s": s, "p": p, "o": o, "proposition": prop, "claims": str(len(c))} for (s, p, o, prop), c in ranked]
    found = await details(backend, {r[end] for r in rows for end in ("s", "o", "proposition")},
                          (LABEL, TYPE, ARKG + "status"))

    def name(iri: str) -> str:
        return first(found, iri, LABEL) or label_of({"x": iri}, "x")

    edges: dict[tuple, Edge] = {}
    for r in rows:
        key = (r["s"], r["p"], r["o"])
        if key in edges:  # the same triple under a second proposition IRI: keep the first (most claims)
            continue
        edges[key] = Edge(r["s"], name(r["s"]), local(r["p"], ARKG), r["o"], name(r["o"]), r.get("proposition"),
                          local(first(found, r.get("proposition"), ARKG + "status")), int(r.get("claims", "0")))
    ordered = sorted(edges.values(), key=lambda e: (-e.claims, e.subject_label.lower(), e.predicate, e.object_label.lower()))
    kept = ordered[:limit]
    nodes: dict[str, Node] = {}
    for e in kept:
        for iri, label in ((e.subject, e.subject_label), (e.object, e.object_label)):
            node = nodes.setdefault(iri, Node(iri, label, ARKG + "Event" in found.get(iri, {}).get(TYPE, []), 0))
            node.claims += e.claims
    return Network(query(scope, limit=limit), kept, sorted(nodes.values(), key=lambda n: n.iri), len(ordered) > limit, limit, scope.iri,
                   sampled=sampled)
