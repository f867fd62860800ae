"""What the HTML pages show, read from the store with SELECT queries (no HTTP, no HTML).

Each function returns plain dataclasses that templates render: a thing's own properties,
the claims about it, by it or from it, propositions with their status, and the things that
point at it. Labels are fetched in one query per page for every IRI shown.

Propositions and their status come from the ``derived`` graph (``arkg:status``); until
it is built, a proposition is known only through its claims' ``arkg:aboutProposition``
and its status is shown as not yet derived.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from server.model.namespaces import ARKG, PREFIXES, graph_iri
from server.engine.backend import Backend, select
from server.views.things import Ref, of_iri, term

RDF, RDFS, SKOS, OWL = PREFIXES["rdf"], PREFIXES["rdfs"], PREFIXES["skos"], PREFIXES["owl"]
SCHEMA, PROV, OA = PREFIXES["schema"], PREFIXES["prov"], PREFIXES["oa"]
DCTERMS = PREFIXES["dcterms"]
_PREFIXES = "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in PREFIXES.items())

# Own properties shown in a page's header rather than in its table of other relations.
HEADER_PROPERTIES = {RDF + "type", RDFS + "label", SKOS + "prefLabel", SKOS + "altLabel",
                     SCHEMA + "description", OWL + "sameAs", SKOS + "exactMatch", SKOS + "closeMatch",
                     ARKG + "hasClaim", ARKG + "status"}
EXTERNAL_LINK_PROPERTIES = (OWL + "sameAs", SKOS + "exactMatch", SKOS + "closeMatch")
# Incoming links that the claim sections already show.
CLAIM_LINKS = {RDF + "subject", RDF + "object", ARKG + "claimant", ARKG + "intermediary",
               ARKG + "aboutProposition", PROV + "wasDerivedFrom", ARKG + "hasClaim",
               ARKG + "supportingClaim", OA + "hasSource"}
AGAINST = ARKG + "Denies"
ASSERTED = graph_iri("asserted")
INCOMING_LIMIT = 200


@dataclass(frozen=True)
class Node:
    """An RDF term as a page shows it."""
    value: str
    is_iri: bool = True
    label: str | None = None
    datatype: str | None = None
    lang: str | None = None

    @property
    def text(self) -> str:
        """What a reader sees: the label, the literal, or a short form of the IRI.

        >>> Node("https://w3id.org/arkg/id/person/x").text
        'x'
        >>> Node("https://w3id.org/arkg/ontology#visited", label="visited").text
        'visited'
        >>> Node("http://schema.org/attendee").text
        'schema:attendee'
        """
        if self.label:
            return self.label
        if not self.is_iri:
            return self.value
        if of_iri(self.value) is None:
            for prefix, namespace in PREFIXES.items():
                if self.value.startswith(namespace) and len(self.value) > len(namespace):
                    return f"{prefix}:{self.value[len(namespace):]}"
        return self.value.rstrip("/").rsplit("#", 1)[-1].rsplit("/", 1)[-1] or self.value


@dataclass
class ClaimView:
    iri: str
    subject: Node
    predicate: Node
    object: Node
    stance: Node | None = None
    claimant: Node | None = None
    proposition: Node | None = None
    source: Node | None = None  # the article or reader comment
    article: Node | None = None  # the article (the comment's article for a comment)
    intermediaries: list[Node] = field(default_factory=list)
    label: str | None = None
    quote: str | None = None
    prefix: str | None = None
    suffix: str | None = None
    start: int | None = None
    end: int | None = None
    event_date: str | None = None
    event_text: str | None = None
    statement_date: str | None = None
    statement_text: str | None = None
    published: str | None = None  # the article's schema:datePublished
    note: str | None = None

    @property
    def against(self) -> bool:
        return self.stance is not None and self.stance.value == AGAINST

    @property
    def node(self) -> Node:
        return Node(self.iri, label=self.label)


@dataclass
class PropositionView:
    iri: str
    subject: Node
    predicate: Node
    object: Node
    status: Node | None = None
    claims: list[ClaimView] = field(default_factory=list)

    @property
    def node(self) -> Node:
        return Node(self.iri, label=self.statement)

    @property
    def statement(self) -> str:
        """The triple in words: "Ahmad Massoud visited Dushanbe"."""
        obj = self.object.text if self.object.is_iri else f"“{self.object.value}”"
        return f"{self.subject.text} {self.predicate.text} {obj}"

    @property
    def for_claims(self) -> list[ClaimView]:
        return [c for c in self.claims if not c.against]

    @property
    def against_claims(self) -> list[ClaimView]:
        return [c for c in self.claims if c.against]


@dataclass
class Link:
    predicate: Node
    other: Node  # the object (own properties) or subject (incoming links)
    uncontested: bool = False  # only in the `asserted` graph: uncontested in this corpus, not established


@dataclass
class ThingView:
    thing: Ref
    label: str
    types: list[Node] = field(default_factory=list)
    alt_labels: list[str] = field(default_factory=list)
    descriptions: list[str] = field(default_factory=list)
    external: list[tuple[Node, Node, list[str]]] = field(default_factory=list)  # (property, target, verified in)
    properties: list[Link] = field(default_factory=list)  # other own properties
    incoming: list[Link] = field(default_factory=list)  # other things pointing here (bounded)
    incoming_total: int = 0
    about: list[PropositionView] = field(default_factory=list)  # claims about it, by proposition
    said: list[ClaimView] = field(default_factory=list)  # claims it made as claimant
    relayed: list[ClaimView] = field(default_factory=list)  # claims it passed on as intermediary
    from_source: list[ClaimView] = field(default_factory=list)  # claims of an article or comment

    @property
    def node(self) -> Node:
        return Node(self.thing.iri, label=self.label)

    def values(self, predicate: str) -> list[Node]:
        return [link.other for link in self.properties if link.predicate.value == predicate]

    @property
    def speakers(self) -> list[tuple[Node, int]]:
        """Claimants of ``from_source`` with their number of claims, most first."""
        counts = Counter(c.claimant for c in self.from_source if c.claimant)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0].text.lower()))


def _node(row: dict[str, str], name: str, labels: dict[str, str]) -> Node | None:
    if name not in row:
        return None
    value = row[name]
    is_iri = row.get(name + "_iri", "true") == "true"
    return Node(value, is_iri, labels.get(value) if is_iri else None,
                row.get(name + "_dt") or None, row.get(name + "_lang") or None)


def _term_columns(name: str) -> str:
    """Extra columns telling whether ``?name`` is an IRI, and its datatype and language."""
    return (f"(isIRI(?{name}) AS ?{name}_iri) (IF(isLiteral(?{name}), STR(DATATYPE(?{name})), \"\") AS ?{name}_dt) "
            f"(IF(isLiteral(?{name}), LANG(?{name}), \"\") AS ?{name}_lang)")


async def labels(backend: Backend, iris: set[str]) -> dict[str, str]:
    """The best label of each IRI: English ``rdfs:label`` first, then untagged, then any."""
    iris = {i for i in iris if i and i.startswith(("http://", "https://", "urn:"))}  # not blank nodes
    if not iris:
        return {}
    values = " ".join(term(i) for i in sorted(iris))
    rows = await select(backend, f"""SELECT ?x ?l (LANG(?l) AS ?lang) WHERE {{
      VALUES ?x {{ {values} }} {{ ?x <{RDFS}label> ?l }} UNION {{ ?x <{SKOS}prefLabel> ?l }} }}""")
    rank = {"en": 0, "": 1}
    best: dict[str, tuple[int, str]] = {}
    for row in rows:
        score = (rank.get(row.get("lang", ""), 2), row["l"])
        if row["x"] not in best or score < best[row["x"]]:
            best[row["x"]] = score
    return {iri: label for iri, (_, label) in best.items()}


def _values(var: str, iris) -> str:
    return f"VALUES ?{var} {{ " + " ".join(term(i) for i in sorted(set(iris))) + " }"


def _first(props: dict[str, list[dict]], predicate: str) -> dict | None:
    found = props.get(predicate)
    return min(found, key=lambda r: r["o"]) if found else None


async def claims(backend: Backend, where: str) -> list[ClaimView]:
    """Every claim ``?claim`` that the SPARQL group pattern ``where`` selects, in text order.

    A few small queries seeded with VALUES (each an index lookup) instead of one query
    with many OPTIONALs, which the engine evaluates against every claim in the store.
    """
    found = [r["claim"] for r in await select(backend, f"{_PREFIXES}SELECT DISTINCT ?claim WHERE {{ {where} }}")
             if r.get("claim", "").startswith(("http://", "https://"))]
    if not found:
        return []
    values = _values("claim", found)
    props: dict[str, dict[str, list[dict]]] = {}
    for r in await select(backend, f"SELECT ?claim ?p ?o {_term_columns('o')} WHERE {{ {values} ?claim ?p ?o }}"):
        props.setdefault(r["claim"], {}).setdefault(r["p"], []).append(r)
    evidence: dict[str, dict[str, str]] = {}
    for r in await select(backend, f"""SELECT ?claim ?p ?o WHERE {{ {values}
      ?claim <{ARKG}evidence> ?ev . ?ev <{OA}hasSelector> ?sel . ?sel ?p ?o }}"""):
        evidence.setdefault(r["claim"], {})[r["p"]] = r["o"]
    claim_iris = [c for c in found if any(r["o"] == ARKG + "Claim" for r in props.get(c, {}).get(RDF + "type", []))
        and all(props.get(c, {}).get(RDF + local) for local in ("subject", "predicate", "object"))]
    sources = {r["o"] for c in claim_iris for r in props[c].get(PROV + "wasDerivedFrom", [])}
    part_of: dict[str, str] = {}
    published: dict[str, str] = {}
    if sources:
        for r in await select(backend, f"SELECT ?src ?a WHERE {{ {_values('src', sources)} ?src <{SCHEMA}isPartOf> ?a }}"):
            part_of[r["src"]] = r["a"]
        for r in await select(backend, f"""SELECT ?a ?d WHERE {{ {_values('a', sources | set(part_of.values()))}
          ?a <{SCHEMA}datePublished> ?d }}"""):
            published[r["a"]] = r["d"]
    iris = {r["o"] for c in claim_iris for rs in props[c].values() for r in rs if r.get("o_iri") == "true"}
    iris |= {r["p"] for c in claim_iris for r in props[c].get(RDF + "predicate", [])} | set(part_of.values())
    names = await labels(backend, iris)

    def node(row: dict | None) -> Node | None:
        return _node({**row, "v": row["o"], "v_iri": row["o_iri"], "v_dt": row["o_dt"], "v_lang": row["o_lang"]},
                     "v", names) if row else None

    def text(row: dict | None) -> str | None:
        return row["o"] if row else None

    def integer(value: str | None) -> int | None:
        return int(value) if value and value.lstrip("-").isdigit() else None

    out = []
    for c in claim_iris:
        p, ev = props[c], evidence.get(c, {})
        source = _first(p, PROV + "wasDerivedFrom")
        article = part_of.get(source["o"], source["o"]) if source else None
        out.append(ClaimView(
            iri=c, subject=node(_first(p, RDF + "subject")), predicate=node(_first(p, RDF + "predicate")),
            object=node(_first(p, RDF + "object")), stance=node(_first(p, ARKG + "stance")),
            claimant=node(_first(p, ARKG + "claimant")), proposition=node(_first(p, ARKG + "aboutProposition")),
            source=node(source), article=Node(article, label=names.get(article)) if article else None,
            intermediaries=sorted((node(r) for r in p.get(ARKG + "intermediary", [])), key=lambda n: n.text),
            label=text(_first(p, RDFS + "label")), quote=ev.get(OA + "exact"), prefix=ev.get(OA + "prefix"),
            suffix=ev.get(OA + "suffix"), start=integer(ev.get(OA + "start")), end=integer(ev.get(OA + "end")),
            event_date=text(_first(p, ARKG + "eventDate")), event_text=text(_first(p, ARKG + "eventTimeText")),
            statement_date=text(_first(p, ARKG + "statementDate")),
            statement_text=text(_first(p, ARKG + "statementTimeText")),
            published=published.get(article) if article else None, note=text(_first(p, SKOS + "editorialNote"))))
    out.sort(key=lambda c: (c.article.value if c.article else "", c.start if c.start is not None else 1 << 30, c.iri))
    return out


async def statuses(backend: Backend, propositions: set[str]) -> dict[str, Node]:
    """The derived status of each proposition that has one."""
    if not propositions:
        return {}
    values = " ".join(term(p) for p in sorted(propositions))
    rows = await select(backend, f"SELECT ?p ?s WHERE {{ VALUES ?p {{ {values} }} ?p <{ARKG}status> ?s }}")
    names = await labels(backend, {r["s"] for r in rows})
    return {r["p"]: Node(r["s"], label=names.get(r["s"])) for r in rows}


async def group_by_proposition(backend: Backend, found: list[ClaimView]) -> list[PropositionView]:
    """Claims grouped by proposition: contested first, then by number of claims."""
    groups: dict[str, PropositionView] = {}
    for c in found:
        key = c.proposition.value if c.proposition else c.iri
        if key not in groups:
            groups[key] = PropositionView(key, c.subject, c.predicate, c.object)
        groups[key].claims.append(c)
    status = await statuses(backend, set(groups))
    for iri, view in groups.items():
        view.status = status.get(iri)
    return sorted(groups.values(), key=lambda v: (not (v.for_claims and v.against_claims), -len(v.claims),
                                                   v.statement.lower()))


def _only_asserted(row: dict[str, str]) -> bool:
    """Whether a triple is stated only in the `asserted` graph (derived from uncontested claims)."""
    return set(row.get("graphs", "").split()) == {ASSERTED}


async def _own(backend: Backend, thing: Ref) -> tuple[list[tuple[dict, dict]], dict[str, list[str]]]:
    t = term(thing.iri)
    rows = await select(backend, f"""SELECT ?p ?o {_term_columns('o')} (GROUP_CONCAT(STR(?g); separator=" ") AS ?graphs)
      WHERE {{ GRAPH ?g {{ {t} ?p ?o }} }} GROUP BY ?p ?o""")
    verified = await select(backend, f"""SELECT ?target ?where WHERE {{
      ?ax <{OWL}annotatedSource> {t} ; <{OWL}annotatedTarget> ?target ; <{ARKG}verifiedIn> ?where }}""")
    where: dict[str, list[str]] = {}
    for r in verified:
        where.setdefault(r["target"], []).append(r["where"])
    return rows, where


async def thing(backend: Backend, thing: Ref) -> ThingView:
    """The header and relations of any thing: label, variants, types, links, own and incoming triples."""
    own, verified = await _own(backend, thing)
    t = term(thing.iri)
    incoming = await select(backend, f"""SELECT ?s ?p (GROUP_CONCAT(STR(?g); separator=" ") AS ?graphs) WHERE {{
      GRAPH ?g {{ ?s ?p {t} }} FILTER(!isIRI(?s) || !STRSTARTS(STR(?s), "{thing.iri}#")) }} GROUP BY ?s ?p ORDER BY ?p ?s""")
    # Links from claims (and their evidence) are shown in the claim sections instead.
    incoming = [r for r in incoming if r["p"] not in CLAIM_LINKS and not r["s"].startswith(thing.base + "id/claim/")]
    total = len(incoming)
    incoming = incoming[:INCOMING_LIMIT]
    iris = {r["p"] for r in own} | {r["o"] for r in own if r.get("o_iri") == "true"}
    iris |= {r["p"] for r in incoming} | {r["s"] for r in incoming} | {thing.iri}
    names = await labels(backend, iris)
    view = ThingView(thing, names.get(thing.iri) or thing.slug, incoming_total=total)
    for r in own:
        p, o = Node(r["p"], label=names.get(r["p"])), _node(r, "o", names)
        if r["p"] == RDF + "type":
            view.types.append(o)
        elif r["p"] == SKOS + "altLabel":
            view.alt_labels.append(o.value)
        elif r["p"] == SCHEMA + "description":
            view.descriptions.append(o.value)
        elif r["p"] in EXTERNAL_LINK_PROPERTIES and o.is_iri and of_iri(o.value, base=thing.base) is None:
            view.external.append((p, o, sorted(verified.get(o.value, []))))
        elif r["p"] not in HEADER_PROPERTIES:
            view.properties.append(Link(p, o, _only_asserted(r)))
    view.types.sort(key=lambda n: n.text)
    view.alt_labels.sort(key=str.lower)
    view.external.sort(key=lambda e: e[1].value)
    view.properties.sort(key=lambda link: (link.predicate.text.lower(), link.other.text.lower()))
    view.incoming = [Link(Node(r["p"], label=names.get(r["p"])), Node(r["s"], label=names.get(r["s"])),
                          _only_asserted(r)) for r in incoming]
    return view


async def entity(backend: Backend, ref: Ref) -> ThingView:
    """An entity or speaker page: the thing, claims about it by proposition, claims it made."""
    view = await thing(backend, ref)
    t = term(ref.iri)
    about = await claims(backend, f"{{ ?claim rdf:subject {t} }} UNION {{ ?claim rdf:object {t} }}")
    view.about = await group_by_proposition(backend, about)
    view.said = await claims(backend, f"?claim arkg:claimant {t}")
    view.relayed = await claims(backend, f"?claim arkg:intermediary {t}")
    return view


async def source(backend: Backend, ref: Ref) -> ThingView:
    """An article or reader comment: its metadata and its claims in text order."""
    view = await thing(backend, ref)
    t = term(ref.iri)
    view.from_source = await claims(backend, f"{{ ?claim prov:wasDerivedFrom {t} }} UNION "
                                             f"{{ ?claim prov:wasDerivedFrom ?c . ?c schema:isPartOf {t} }}")
    return view


async def claim(backend: Backend, ref: Ref) -> tuple[ThingView, ClaimView | None, PropositionView | None]:
    """A claim page: the claim, and its proposition with every claim about it."""
    view = await thing(backend, ref)
    about = view.values(ARKG + "aboutProposition")
    # The claims about its proposition include this one: one lookup serves both.
    where = (f"?claim arkg:aboutProposition {term(about[0].value)}" if about
             else f"VALUES ?claim {{ {term(ref.iri)} }}")
    siblings = await claims(backend, where)
    one = next((c for c in siblings if c.iri == ref.iri), None)
    if one is None:
        return view, None, None
    groups = await group_by_proposition(backend, [c for c in siblings if c.proposition == one.proposition])
    return view, one, groups[0]


async def proposition(backend: Backend, ref: Ref) -> tuple[ThingView, PropositionView | None]:
    """A proposition page ("who says what"): its statement, status and claims for and against."""
    view = await thing(backend, ref)
    t = term(ref.iri)
    found = await claims(backend, f"{{ ?claim arkg:aboutProposition {t} }} UNION {{ {t} arkg:hasClaim ?claim }}")
    groups = await group_by_proposition(backend, found)
    if groups:
        return view, groups[0]
    # A proposition without claims (possible in the derived graph alone): its own triple.
    subject, predicate, obj = (view.values(RDF + local) for local in ("subject", "predicate", "object"))
    if subject and predicate and obj:
        status = (await statuses(backend, {ref.iri})).get(ref.iri)
        return view, PropositionView(ref.iri, subject[0], predicate[0], obj[0], status)
    return view, None
