"""The dataset at a glance, for the home and query pages: figures, an index, example queries.

Example queries are data: each an ``sh:SPARQLExecutable`` in the ``examples`` graph with
``rdfs:label``/``rdfs:comment`` and its text in ``sh:select``, ``sh:construct``, ``sh:ask``
or ``sh:describe``; PREFIX lines declared through ``sh:prefixes`` are prepended when the
text does not declare them itself. Until that graph is published there are none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from server.model.namespaces import ARKG, PREFIXES, graph_iri
from server.engine.backend import Backend, select
from server.views.things import of_iri, term
from server.views.pages import Node, labels

SH, RDFS = PREFIXES["sh"], PREFIXES["rdfs"]
ENTITY_KINDS = ("person", "organization", "place", "event", "group")
QUERY_FORMS = {"select": "SELECT", "construct": "CONSTRUCT", "ask": "ASK", "describe": "DESCRIBE"}


@dataclass
class Example:
    iri: str
    label: str
    comment: str | None
    query: str
    form: str  # SELECT, CONSTRUCT, ASK or DESCRIBE


@dataclass
class Distribution:
    url: str
    title: str | None = None
    media_type: str | None = None
    byte_size: int | None = None


@dataclass
class Overview:
    claims: int
    propositions: int
    statuses: list[tuple[Node, int]]  # derived status -> propositions (empty until derived)
    things: dict[str, list[Node]] = field(default_factory=dict)  # kind -> typed things, by label
    speakers: int = 0
    distributions: list[Distribution] = field(default_factory=list)

    def count(self, *kinds: str) -> int:
        return sum(len(self.things.get(kind, [])) for kind in kinds)

    @property
    def entities(self) -> int:
        return self.count(*ENTITY_KINDS)

    @property
    def articles(self) -> int:
        return self.count("article")

    def status_count(self, local: str) -> int | None:
        """Propositions with status ``arkg:<local>``; None while no status is derived."""
        if not self.statuses:
            return None
        return sum(n for node, n in self.statuses if node.value == ARKG + local)


async def overview(backend: Backend, *, base: str) -> Overview:
    """Figures and the index of typed things (claims and propositions only counted)."""
    claims = await select(backend, f"SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE {{ ?c a <{ARKG}Claim> }}")
    propositions = await select(backend, f"""SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE {{
      {{ ?c <{ARKG}aboutProposition> ?p }} UNION {{ ?p a <{ARKG}Proposition> }} }}""")
    status_rows = await select(backend, f"""SELECT ?s (COUNT(DISTINCT ?p) AS ?n) WHERE {{ ?p <{ARKG}status> ?s }}
      GROUP BY ?s ORDER BY DESC(?n)""")
    speakers = await select(backend, f"SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ ?c <{ARKG}claimant> ?x }}")
    typed = await select(backend, f"""SELECT DISTINCT ?x WHERE {{ ?x a ?type .
      FILTER(isIRI(?x) && STRSTARTS(STR(?x), "{base}id/") && !CONTAINS(STR(?x), "#")
             && !STRSTARTS(STR(?x), "{base}id/claim/") && !STRSTARTS(STR(?x), "{base}id/proposition/")) }}""")
    names = await labels(backend, {r["x"] for r in typed} | {r["s"] for r in status_rows})
    things: dict[str, list[Node]] = {}
    for r in typed:
        thing = of_iri(r["x"], base=base)
        if thing is not None:
            things.setdefault(thing.kind, []).append(Node(r["x"], label=names.get(r["x"])))
    for nodes in things.values():
        nodes.sort(key=lambda n: n.text.lower())
    return Overview(
        claims=int(claims[0]["n"]), propositions=int(propositions[0]["n"]),
        statuses=[(Node(r["s"], label=names.get(r["s"])), int(r["n"])) for r in status_rows],
        things=things, speakers=int(speakers[0]["n"]))


_DECLARED = re.compile(r"^\s*PREFIX\s+([A-Za-z][\w.-]*)?:", re.IGNORECASE | re.MULTILINE)


def with_prefixes(query: str, declared: dict[str, str]) -> str:
    """``query`` preceded by the PREFIX lines it needs from ``declared`` and lacks.

    >>> with_prefixes("SELECT * { ?s a arkg:Claim }", {"arkg": "https://w3id.org/arkg/ontology#"})
    'PREFIX arkg: <https://w3id.org/arkg/ontology#>\\nSELECT * { ?s a arkg:Claim }'
    >>> with_prefixes("PREFIX arkg: <x#>\\nASK {}", {"arkg": "https://w3id.org/arkg/ontology#"})
    'PREFIX arkg: <x#>\\nASK {}'
    """
    present = {m.group(1) or "" for m in _DECLARED.finditer(query)}
    lines = [f"PREFIX {p}: <{ns}>" for p, ns in sorted(declared.items())
             if p not in present and re.search(rf"(?<![\w:]){re.escape(p)}:", query)]
    return "\n".join([*lines, query]) if lines else query


async def examples(backend: Backend) -> list[Example]:
    """The example queries of the ``examples`` graph, in IRI order."""
    g = term(graph_iri("examples"))
    forms = " UNION ".join(f"{{ ?ex <{SH}{local}> ?q BIND(\"{form}\" AS ?form) }}" for local, form in QUERY_FORMS.items())
    rows = await select(backend, f"""SELECT ?ex (SAMPLE(?q) AS ?query) (SAMPLE(?form) AS ?f)
      (SAMPLE(?l) AS ?label) (SAMPLE(?c) AS ?comment) WHERE {{ GRAPH {g} {{
        {forms}
        OPTIONAL {{ ?ex <{RDFS}label> ?l }} OPTIONAL {{ ?ex <{RDFS}comment> ?c }} }} }}
      GROUP BY ?ex ORDER BY ?ex""")
    if not rows:
        return []
    declared_rows = await select(backend, f"""SELECT ?ex ?p ?ns WHERE {{ GRAPH {g} {{
      ?ex <{SH}prefixes> ?set . ?set <{SH}declare> ?d . ?d <{SH}prefix> ?p ; <{SH}namespace> ?ns }} }}""")
    declared: dict[str, dict[str, str]] = {}
    for r in declared_rows:
        declared.setdefault(r["ex"], {})[r["p"]] = r["ns"]
    return [Example(r["ex"], r.get("label") or r["ex"].rsplit("/", 1)[-1].rsplit("#", 1)[-1], r.get("comment"),
                    with_prefixes(r["query"], declared.get(r["ex"], {})), r["f"]) for r in rows]
