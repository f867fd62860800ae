"""What the HTML pages show, read from the thing's document (no query, no HTTP, no HTML).

A page shows the same data as the RDF forms of its document (:mod:`server.views.documents`):
the functions here only arrange that small graph into plain dataclasses that templates
render: a thing's own properties, the claims on this page about it, by it or from it,
propositions with their status, and the other things that point at it. Page ``N`` of the
HTML shows what page ``N`` of the RDF holds.

Propositions and their status come from the ``derived`` graph (``arkg:status``); until
it is built, a proposition is known only through its claims' ``arkg:aboutProposition``
and its status is shown as not yet derived.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pyoxigraph as ox

from server.model.namespaces import ARKG, PREFIXES
from server.engine.backend import Backend, select
from server.views.documents import Document, link_order
from server.views.things import Ref, of_iri, term

RDF, RDFS, SKOS, OWL = PREFIXES["rdf"], PREFIXES["rdfs"], PREFIXES["skos"], PREFIXES["owl"]
SCHEMA, PROV, OA = PREFIXES["schema"], PREFIXES["prov"], PREFIXES["oa"]
DCTERMS = PREFIXES["dcterms"]

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
    counts: dict[str, int] = field(default_factory=dict)  # the derived graph's numbers (arkg:claimCount...)

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
    incoming: list[Link] = field(default_factory=list)  # other things pointing here, on this page
    page: int = 1
    last_page: int = 1
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


async def labels(backend: Backend, iris: set[str]) -> dict[str, str]:
    """The best label of each IRI: English ``rdfs:label`` first, then untagged, then any."""
    iris = {i for i in iris if i and i.startswith(("http://", "https://", "urn:"))}  # not blank nodes
    if not iris:
        return {}
    values = " ".join(term(i) for i in sorted(iris))
    # VALUES first and the property filtered after: one index lookup per IRI (half the time of a
    # UNION of the two properties at 5M triples).
    rows = await select(backend, f"""SELECT ?x ?l (LANG(?l) AS ?lang) WHERE {{
      VALUES ?x {{ {values} }} ?x ?p ?l FILTER(?p IN (<{RDFS}label>, <{SKOS}prefLabel>)) }}""")
    rank = {"en": 0, "": 1}
    best: dict[str, tuple[int, str]] = {}
    for row in rows:
        score = (rank.get(row.get("lang", ""), 2), row["l"])
        if row["x"] not in best or score < best[row["x"]]:
            best[row["x"]] = score
    return {iri: label for iri, (_, label) in best.items()}


class _Graph:
    """A document's triples indexed by subject, with the best label of each IRI."""

    def __init__(self, doc: Document):
        self.doc = doc
        self.out: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        best: dict[str, tuple[int, str]] = {}
        rank = {"en": 0, "": 1}
        for t in doc.triples:
            self.out[t.subject.value][t.predicate.value].append(t.object)
            if t.predicate.value in (RDFS + "label", SKOS + "prefLabel") and isinstance(t.object, ox.Literal):
                score = (rank.get(t.object.language or "", 2), t.object.value)
                if t.subject.value not in best or score < best[t.subject.value]:
                    best[t.subject.value] = score
        self.names = {iri: label for iri, (_, label) in best.items()}

    def node(self, term_) -> Node | None:
        if term_ is None:
            return None
        if isinstance(term_, ox.NamedNode):
            return Node(term_.value, True, self.names.get(term_.value))
        if isinstance(term_, ox.Literal):
            return Node(term_.value, False, None, term_.datatype.value if term_.datatype else None,
                        term_.language or None)
        return Node(term_.value, False)

    def first(self, subject: str, predicate: str):
        """The least value of ``predicate`` (a stable choice when the data gives several)."""
        found = self.out.get(subject, {}).get(predicate)
        return min(found, key=lambda o: o.value) if found else None

    def text(self, subject: str, predicate: str) -> str | None:
        found = self.first(subject, predicate)
        return found.value if found is not None else None

    def is_claim(self, iri: str) -> bool:
        props = self.out.get(iri, {})
        return (any(o.value == ARKG + "Claim" for o in props.get(RDF + "type", []))
                and all(props.get(RDF + local) for local in ("subject", "predicate", "object")))

    def claim(self, c: str) -> ClaimView:
        evidence: dict[str, str] = {}
        for ev in self.out[c].get(ARKG + "evidence", []):
            for sel in self.out.get(ev.value, {}).get(OA + "hasSelector", []):
                for p, objects in self.out.get(sel.value, {}).items():
                    evidence[p] = min(o.value for o in objects)
        source = self.first(c, PROV + "wasDerivedFrom")
        article = self.first(source.value, SCHEMA + "isPartOf") if source is not None else None
        article = article or source

        def integer(value: str | None) -> int | None:
            return int(value) if value and value.lstrip("-").isdigit() else None

        return ClaimView(
            iri=c, subject=self.node(self.first(c, RDF + "subject")), predicate=self.node(self.first(c, RDF + "predicate")),
            object=self.node(self.first(c, RDF + "object")), stance=self.node(self.first(c, ARKG + "stance")),
            claimant=self.node(self.first(c, ARKG + "claimant")),
            proposition=self.node(self.first(c, ARKG + "aboutProposition")),
            source=self.node(source), article=self.node(article),
            intermediaries=sorted((self.node(o) for o in self.out[c].get(ARKG + "intermediary", [])), key=lambda n: n.text),
            label=self.text(c, RDFS + "label"), quote=evidence.get(OA + "exact"), prefix=evidence.get(OA + "prefix"),
            suffix=evidence.get(OA + "suffix"), start=integer(evidence.get(OA + "start")),
            end=integer(evidence.get(OA + "end")), event_date=self.text(c, ARKG + "eventDate"),
            event_text=self.text(c, ARKG + "eventTimeText"), statement_date=self.text(c, ARKG + "statementDate"),
            statement_text=self.text(c, ARKG + "statementTimeText"),
            published=self.text(article.value, SCHEMA + "datePublished") if article is not None else None,
            note=self.text(c, SKOS + "editorialNote"))

    def claims(self, iris) -> list[ClaimView]:
        """The claims among ``iris`` that the document describes, in text order."""
        out = [self.claim(c) for c in dict.fromkeys(iris) if self.is_claim(c)]
        out.sort(key=lambda c: (c.article.value if c.article else "", c.start if c.start is not None else 1 << 30, c.iri))
        return out

    def status(self, proposition: str) -> Node | None:
        return self.node(self.first(proposition, ARKG + "status"))

    def linking(self, predicates: set[str]) -> list[str]:
        """Claims that point at the thing on this page by one of ``predicates``, in page order."""
        base = self.doc.thing.base + "id/claim/"
        return [t.subject.value for t in self.doc.incoming
                if t.predicate.value in predicates and isinstance(t.subject, ox.NamedNode)
                and t.subject.value.startswith(base) and "#" not in t.subject.value]


def group_by_proposition(graph: _Graph, found: list[ClaimView]) -> list[PropositionView]:
    """Claims grouped by proposition: contested first, then by number of claims."""
    groups: dict[str, PropositionView] = {}
    for c in found:
        key = c.proposition.value if c.proposition else c.iri
        if key not in groups:
            groups[key] = PropositionView(key, c.subject, c.predicate, c.object, graph.status(key))
        groups[key].claims.append(c)
    return sorted(groups.values(), key=lambda v: (not (v.for_claims and v.against_claims), -len(v.claims),
                                                   v.statement.lower()))


def _thing(graph: _Graph) -> ThingView:
    """The header and relations of any thing: label, variants, types, links, own and incoming triples."""
    doc = graph.doc
    thing = doc.thing
    verified: dict[str, list[str]] = {}
    for subject, props in graph.out.items():  # owl:Axiom annotations on the thing's links (hash IRIs)
        if any(o.value == thing.iri for o in props.get(OWL + "annotatedSource", [])):
            for target in props.get(OWL + "annotatedTarget", []):
                verified.setdefault(target.value, []).extend(o.value for o in props.get(ARKG + "verifiedIn", []))
    view = ThingView(thing, graph.names.get(thing.iri) or thing.slug, page=doc.page, last_page=doc.last_page)
    for p, objects in graph.out.get(thing.iri, {}).items():
        for obj in dict.fromkeys(objects):
            o = graph.node(obj)
            if p == RDF + "type":
                view.types.append(o)
            elif p == SKOS + "altLabel":
                view.alt_labels.append(o.value)
            elif p == SCHEMA + "description":
                view.descriptions.append(o.value)
            elif p in EXTERNAL_LINK_PROPERTIES and o.is_iri and of_iri(o.value, base=thing.base) is None:
                view.external.append((graph.node(ox.NamedNode(p)), o, sorted(verified.get(o.value, []))))
            elif p not in HEADER_PROPERTIES:
                view.properties.append(Link(graph.node(ox.NamedNode(p)), o,
                                            ox.Triple(ox.NamedNode(thing.iri), ox.NamedNode(p), obj) in doc.asserted_only))
    view.types.sort(key=lambda n: n.text)
    view.alt_labels.sort(key=str.lower)
    view.external.sort(key=lambda e: e[1].value)
    view.properties.sort(key=lambda link: (link.predicate.text.lower(), link.other.text.lower()))
    # Links from claims (and their evidence) are shown in the claim sections instead.
    view.incoming = [Link(graph.node(t.predicate), graph.node(t.subject), t in doc.asserted_only)
                     for t in doc.incoming if t.predicate.value not in CLAIM_LINKS
                     and not t.subject.value.startswith(thing.base + "id/claim/")]
    return view


def entity(doc: Document) -> ThingView:
    """An entity or speaker page: the thing, claims about it by proposition, claims it made."""
    graph = _Graph(doc)
    view = _thing(graph)
    view.about = group_by_proposition(graph, graph.claims(graph.linking({RDF + "subject", RDF + "object"})))
    view.said = graph.claims(graph.linking({ARKG + "claimant"}))
    view.relayed = graph.claims(graph.linking({ARKG + "intermediary"}))
    return view


def source(doc: Document) -> ThingView:
    """An article or reader comment: its metadata and its claims in text order.

    A claim points here twice (``prov:wasDerivedFrom`` and its evidence's ``oa:hasSource``);
    it is shown on the page that holds the first of its links, so once over all pages.
    """
    graph = _Graph(doc)
    view = _thing(graph)
    if not doc.incoming:
        return view
    me, start = doc.thing.iri, link_order(doc.incoming[0])
    base = doc.thing.base + "id/claim/"
    shown = []
    for t in doc.incoming:
        claim = t.subject.value.split("#", 1)[0]
        if isinstance(t.subject, ox.NamedNode) and claim.startswith(base):
            links = [ox.Triple(ox.NamedNode(s), ox.NamedNode(p), ox.NamedNode(me))
                     for s in (claim, *(o.value for o in graph.out[claim].get(ARKG + "evidence", [])))
                     for p, objects in graph.out.get(s, {}).items() if any(o.value == me for o in objects)]
            if not links or min(map(link_order, links)) >= start:
                shown.append(claim)
        elif t.predicate.value == SCHEMA + "isPartOf":  # a reader comment on this page: its claims
            shown += [c for c, props in graph.out.items()
                      if any(o.value == t.subject.value for o in props.get(PROV + "wasDerivedFrom", []))]
    view.from_source = graph.claims(shown)
    return view


def claim(doc: Document) -> tuple[ThingView, ClaimView | None, PropositionView | None]:
    """A claim page: the claim, and its proposition with every claim about it."""
    graph = _Graph(doc)
    view = _thing(graph)
    if not graph.is_claim(doc.thing.iri):
        return view, None, None
    one = graph.claim(doc.thing.iri)
    if one.proposition is None:
        return view, one, group_by_proposition(graph, [one])[0]
    siblings = [c for c, props in graph.out.items()
                if any(o.value == one.proposition.value for o in props.get(ARKG + "aboutProposition", []))]
    return view, one, group_by_proposition(graph, graph.claims(siblings))[0]


COUNTS = ("claimCount", "speakerCount", "independentSourceCount", "supportingSourceCount", "denyingSourceCount",
          "timeSeparatedDenialCount")


def _counts(view: ThingView) -> dict[str, int]:
    """The numbers `arkg derive` records on a proposition, when the derived graph has them."""
    found = {local: view.values(ARKG + local) for local in COUNTS}
    return {local: int(nodes[0].value) for local, nodes in found.items() if nodes}


def proposition(doc: Document) -> tuple[ThingView, PropositionView | None]:
    """A proposition page ("who says what"): its statement, status and claims for and against."""
    graph = _Graph(doc)
    view = _thing(graph)
    found = graph.linking({ARKG + "aboutProposition"})
    if doc.page == 1:  # the derived graph's own list, once
        found += [o.value for o in graph.out.get(doc.thing.iri, {}).get(ARKG + "hasClaim", [])]
    groups = group_by_proposition(graph, graph.claims(found))
    if groups:
        groups[0].counts = _counts(view)
        return view, groups[0]
    # A proposition without claims (possible in the derived graph alone): its own triple.
    subject, predicate, obj = (view.values(RDF + local) for local in ("subject", "predicate", "object"))
    if subject and predicate and obj:
        return view, PropositionView(doc.thing.iri, subject[0], predicate[0], obj[0], graph.status(doc.thing.iri))
    return view, None
