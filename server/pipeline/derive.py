"""Build the derived views from the claims: propositions with their status and numbers, and
the ``asserted`` graph of uncontested triples (``arkg derive``).

Outputs (never hand-written; `arkg derive --check` fails when they are stale):

- ``graphs/derived/propositions.ttl`` (graph ``derived``): every proposition, an
  ``arkg:Proposition`` with its triple, ``arkg:status``, ``arkg:hasClaim``, its numbers
  (claims, speakers and independent sources, each in all, for and against), a label and a
  one-line summary that says the numbers in words.
- ``graphs/asserted/asserted.ttl`` (graph ``asserted``): the plain ``s p o`` of every
  proposition with status ``arkg:Uncontested``, and that proposition with its triple and
  ``arkg:supportingClaim`` links to the claims that assert or report it.

Status counts *independent sources*, not claims and not speakers. A claim's source is the
account it rests on (``arkg:independentSource``: one joint statement for all its signatories,
one anonymous source for all the parties it relays, the reported sources for an outlet's
own hedged voice), else its claimant. A source *supports* a proposition when one of its claims
has stance Asserts or ReportsUncertain (a hedged report counts as asserting) and *denies* it
with stance Denies; Questions counts for neither:

- Contested: supported by some source and denied by some source;
- OnlyDenied: denied, supported by nobody;
- Uncontested: supported by two or more independent sources, denied by none;
- SingleSource: all support from one source, denied by none;
- OnlyQuestioned: only questioned (none of the four above applies).

Time: a denial whose time (``arkg:eventDate``, else ``arkg:statementDate``) cannot overlap the
time of any supporting claim is about another moment of a changeable state and does not
contest it; such pairs are listed by :func:`time_separated_pairs` (``arkg derive`` prints
them) for a curator to review, and counted as ``arkg:timeSeparatedDenialCount``.

Only Uncontested propositions enter the asserted graph. The build is deterministic: triples
are built in sorted order, without blank nodes, and written by pyoxigraph's serialiser.

>>> status({"a"}, set())
'SingleSource'
>>> status({"a", "b"}, set())
'Uncontested'
>>> status({"a"}, {"b"})
'Contested'
>>> status(set(), {"b"})
'OnlyDenied'
>>> status(set(), set())
'OnlyQuestioned'
>>> overlaps(interval(ox.Literal("2021-09", datatype=ox.NamedNode(XSD + "gYearMonth"))),
...          interval(ox.Literal("2021-09-06", datatype=ox.NamedNode(XSD + "date"))))
True
>>> overlaps(interval(ox.Literal("--09-03", datatype=ox.NamedNode(XSD + "gMonthDay"))),
...          interval(ox.Literal("--09-06", datatype=ox.NamedNode(XSD + "gMonthDay"))))
False
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from functools import cached_property
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from server import paths
from server.pipeline.curate import Output, proposition_slug, turtle
from server.model.namespaces import ARKG, ID, NS, PREFIXES, graph_iri, sparql_prefixes
from server.engine.dataset import dataset_files, load_store

SUPPORTING = {ARKG + "Asserts", ARKG + "ReportsUncertain"}
DENYING = {ARKG + "Denies"}
SOURCE_GRAPHS = ("ontology", "sources", "entities", "claims")  # never the derived ones
XSD = PREFIXES["xsd"]

_CLAIMS = sparql_prefixes() + """
SELECT ?claim ?s ?p ?o ?stance ?claimant ?proposition ?account ?eventDate ?statementDate WHERE {
    ?claim a arkg:Claim ; rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ;
           arkg:stance ?stance ; arkg:claimant ?claimant ; arkg:aboutProposition ?proposition .
    OPTIONAL { ?claim arkg:independentSource ?account }
    OPTIONAL { ?claim arkg:eventDate ?eventDate }
    OPTIONAL { ?claim arkg:statementDate ?statementDate }
}"""
_LABELS = sparql_prefixes() + """
SELECT ?thing (MIN(STR(?label)) AS ?name) WHERE {
    ?thing rdfs:label ?label . FILTER (LANG(?label) IN ("en", ""))
} GROUP BY ?thing"""


class DeriveError(ValueError):
    """The claims cannot be turned into propositions; the message says which and why."""


@dataclass(frozen=True)
class ClaimInfo:
    stance: str
    claimant: str
    source: str  # the account it rests on, else the claimant
    when: tuple | None  # interval(), or None when the claim carries no date


@dataclass
class Proposition:
    iri: str
    s: ox.NamedNode
    p: ox.NamedNode
    o: ox.NamedNode | ox.Literal
    claims: dict[str, ClaimInfo] = field(default_factory=dict)

    def claims_with(self, stances: set[str]) -> list[str]:
        return sorted(c for c, info in self.claims.items() if info.stance in stances)

    # cached: a proposition's claims are complete once propositions() returns
    @cached_property
    def separated_denials(self) -> list[str]:
        """Denials about another time than every supporting claim (they contest nothing)."""
        support = [self.claims[c].when for c in self.claims_with(SUPPORTING)]
        if not support:
            return []
        return [d for d in self.claims_with(DENYING)
                if all(not overlaps(self.claims[d].when, w) for w in support)]

    def _who(self, attr: str, claims: list[str]) -> set[str]:
        return {getattr(self.claims[c], attr) for c in claims}

    @cached_property
    def contesting_denials(self) -> list[str]:
        separated = set(self.separated_denials)
        return [d for d in self.claims_with(DENYING) if d not in separated]

    @property
    def supporters(self) -> set[str]:
        return self._who("claimant", self.claims_with(SUPPORTING))

    @property
    def deniers(self) -> set[str]:
        return self._who("claimant", self.contesting_denials)

    @property
    def supporting_sources(self) -> set[str]:
        return self._who("source", self.claims_with(SUPPORTING))

    @property
    def denying_sources(self) -> set[str]:
        return self._who("source", self.contesting_denials)

    @cached_property
    def status(self) -> str:
        return status(self.supporting_sources, self.denying_sources)

    def numbers(self) -> dict[str, int]:
        """What the derived graph records, by property local name."""
        return self._numbers

    @cached_property
    def _numbers(self) -> dict[str, int]:
        every = list(self.claims)
        return {"claimCount": len(every),
                "assertedCount": len(self.claims_with(SUPPORTING)),
                "deniedCount": len(self.claims_with(DENYING)),
                "speakerCount": len(self._who("claimant", every)),
                "supportingSpeakerCount": len(self.supporters),
                "denyingSpeakerCount": len(self.deniers),
                "independentSourceCount": len(self._who("source", every)),
                "supportingSourceCount": len(self.supporting_sources),
                "denyingSourceCount": len(self.denying_sources),
                "timeSeparatedDenialCount": len(self.separated_denials)}


def status(supporters: set[str], deniers: set[str]) -> str:
    """The local name of the status concept, from which sources support and which deny."""
    if supporters and deniers:
        return "Contested"
    if deniers:
        return "OnlyDenied"
    if len(supporters) >= 2:
        return "Uncontested"
    if supporters:
        return "SingleSource"
    return "OnlyQuestioned"


def interval(date: ox.Literal | None) -> tuple | None:
    """A comparable interval for a date as the text gives it: ("y", first, last) with
    (year, month, day) bounds when the year is stated, ("md", (month, day)) when it is not."""
    if date is None:
        return None
    kind, value = date.datatype.value.removeprefix(XSD), date.value
    if kind == "gMonthDay":
        return ("md", (int(value[2:4]), int(value[5:7])))
    if kind == "gYear":
        return ("y", (int(value), 1, 1), (int(value), 12, 31))
    if kind == "gYearMonth":
        year, month = int(value[:4]), int(value[5:7])
        return ("y", (year, month, 1), (year, month, calendar.monthrange(year, month)[1]))
    if kind == "date":
        day = (int(value[:4]), int(value[5:7]), int(value[8:10]))
        return ("y", day, day)
    return None


def overlaps(a: tuple | None, b: tuple | None) -> bool:
    """Whether two times may be the same moment; unknown or incomparable times may."""
    if a is None or b is None or a[0] != b[0]:
        return True
    if a[0] == "md":
        return a[1] == b[1]
    return a[1] <= b[2] and b[1] <= a[2]


def propositions(root: Path | None = None, *, store: ox.Store | None = None) -> tuple[list[Proposition], dict[str, str]]:
    """Every proposition the claims under ``root`` are about, sorted by IRI, and the labels.

    ``store``: a store already holding the dataset's named graphs (``arkg build``'s on-disk
    one), read instead of loading the files into memory; the same graphs are read either way.
    """
    if store is None:
        store = load_store([f for f in dataset_files(root) if f.graph in SOURCE_GRAPHS])
        over = {"use_default_graph_as_union": True}
    else:
        over = {"default_graph": [ox.NamedNode(graph_iri(g)) for g in SOURCE_GRAPHS]}
    labels = {row["thing"].value: row["name"].value for row in store.query(_LABELS, **over)
              if isinstance(row["thing"], ox.NamedNode)}
    found: dict[str, Proposition] = {}
    for row in store.query(_CLAIMS, **over):
        iri, claim = row["proposition"].value, row["claim"].value
        s, p, o = row["s"], row["p"], row["o"]
        expected = f"{ID}proposition/{proposition_slug(s.value, p.value, o)}"
        if iri != expected:
            raise DeriveError(f"{claim}: arkg:aboutProposition {iri} is not the proposition of its triple "
                              f"({expected}); recompile with `arkg curate`")
        prop = found.setdefault(iri, Proposition(iri, s, p, o))
        claimant = row["claimant"].value
        source = row["account"].value if row["account"] is not None else claimant
        when = interval(row["eventDate"] if row["eventDate"] is not None else row["statementDate"])
        prop.claims[claim] = ClaimInfo(row["stance"].value, claimant, source, when)
    return [found[k] for k in sorted(found)], labels


def time_separated_pairs(props: list[Proposition]) -> list[tuple[str, str, str]]:
    """(proposition, supporting claim, denying claim) for every pair whose times cannot
    overlap: a curator checks that the denial is about another moment, not a real contest."""
    pairs = []
    for prop in props:
        for s in prop.claims_with(SUPPORTING):
            for d in prop.claims_with(DENYING):
                if not overlaps(prop.claims[s].when, prop.claims[d].when):
                    pairs.append((prop.iri, s, d))
    return pairs


def derive_outputs(root: Path | None = None, *, store: ox.Store | None = None) -> list[Output]:
    """The two derived files for the data under ``root``, as text (``store``: see :func:`propositions`)."""
    root = root or paths.data_root()
    props, labels = propositions(root, store=store)
    return [Output(root / "graphs" / "derived" / "propositions.ttl", render_propositions(props, labels)),
            Output(root / "graphs" / "asserted" / "asserted.ttl", render_asserted(props))]


_BANNER = "# GENERATED by `arkg derive` from the claims graph; do not edit. Rebuild with `arkg derive`.\n"
RDF, RDFS, A = NS["rdf"], NS["rdfs"], NS["arkg"]


def _int(n: int) -> ox.Literal:
    return ox.Literal(str(n), datatype=ox.NamedNode(XSD + "integer"))


def render_propositions(props: list[Proposition], labels: dict[str, str]) -> str:
    graph = ox.NamedNode(graph_iri("derived"))
    counts = defaultdict(int)
    for prop in props:
        counts[prop.status] += 1
    summary = ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
    blocks = [[ox.Triple(graph, RDFS.label, _text("Derived propositions")),
               ox.Triple(graph, RDFS.comment, _text(
                   "Every proposition (subject, predicate, object) that claims of ARKG are about, with its claims, "
                   "its numbers (claims, speakers and independent sources, for and against) and its status in this "
                   "corpus (contested, uncontested, single source, only denied, only questioned), computed from "
                   "which independent sources assert or report and which deny it. A status says who said what in "
                   "these five articles, nothing about truth. " + f"{len(props)} propositions: {summary}."))]]
    for prop in props:
        iri = ox.NamedNode(prop.iri)
        block = [ox.Triple(iri, RDF.type, A.Proposition),
                 ox.Triple(iri, RDFS.label, _text(_label(prop, labels))),
                 ox.Triple(iri, RDFS.comment, _text(_summary(prop, labels))),
                 ox.Triple(iri, RDF.subject, prop.s), ox.Triple(iri, RDF.predicate, prop.p),
                 ox.Triple(iri, RDF.object, prop.o), ox.Triple(iri, A.status, A[prop.status])]
        block += [ox.Triple(iri, A[name], _int(n)) for name, n in prop.numbers().items()]
        block += [ox.Triple(iri, A.hasClaim, ox.NamedNode(c)) for c in sorted(prop.claims)]
        blocks.append(block)
    return turtle(_BANNER, blocks)


def render_asserted(props: list[Proposition]) -> str:
    graph = ox.NamedNode(graph_iri("asserted"))
    kept = [p for p in props if p.status == "Uncontested"]
    blocks = [[ox.Triple(graph, RDFS.label, _text("Asserted triples (uncontested in this corpus)")),
               ox.Triple(graph, RDFS.comment, _text(
                   "The plain triples of the propositions that are uncontested in this corpus: asserted or reported "
                   "by two or more independent sources of the five articles and denied by none. Uncontested in this "
                   "corpus, not true: a single source (however many of its signatories or relays speak), a denial or "
                   "a question keeps a triple out. Each triple links back to the claims that support it through its "
                   "proposition (rdf:subject/rdf:predicate/rdf:object, arkg:supportingClaim). "
                   + f"{len(kept)} triples."))]]
    for prop in kept:
        iri = ox.NamedNode(prop.iri)
        blocks.append([ox.Triple(prop.s, prop.p, prop.o)])
        blocks.append([ox.Triple(iri, RDF.subject, prop.s), ox.Triple(iri, RDF.predicate, prop.p),
                       ox.Triple(iri, RDF.object, prop.o)]
                      + [ox.Triple(iri, A.supportingClaim, ox.NamedNode(c)) for c in prop.claims_with(SUPPORTING)])
    return turtle(_BANNER, blocks)


def _text(value: str) -> ox.Literal:
    return ox.Literal(value, language="en")


def _name(term, labels: dict[str, str]) -> str:
    if isinstance(term, ox.Literal):  # text in quotes; true, 3, 2021-09 as they are
        plain = term.datatype.value == "http://www.w3.org/2001/XMLSchema#string" or term.language
        return f"“{term.value}”" if plain else term.value
    return labels.get(term.value) or term.value.rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def _label(prop: Proposition, labels: dict[str, str]) -> str:
    return " ".join(_name(t, labels) for t in (prop.s, prop.p, prop.o))


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def numbers_in_words(numbers: dict[str, int]) -> str:
    """The numbers of a proposition as a sentence.

    >>> numbers_in_words({"claimCount": 4, "speakerCount": 2, "independentSourceCount": 1,
    ...     "supportingSourceCount": 1, "denyingSourceCount": 0, "timeSeparatedDenialCount": 0})
    '4 claims by 2 speakers, resting on 1 independent source: 1 for, 0 against.'
    """
    text = (f"{_count(numbers['claimCount'], 'claim', 'claims')} by "
            f"{_count(numbers['speakerCount'], 'speaker', 'speakers')}, resting on "
            f"{_count(numbers['independentSourceCount'], 'independent source', 'independent sources')}: "
            f"{numbers['supportingSourceCount']} for, {numbers['denyingSourceCount']} against")
    if numbers.get("timeSeparatedDenialCount"):
        text += (f" ({_count(numbers['timeSeparatedDenialCount'], 'denial', 'denials')} about another time, "
                 "not counted against)")
    return text + "."


def _summary(prop: Proposition, labels: dict[str, str]) -> str:
    def who(agents: set[str]) -> str:
        return ", ".join(sorted((labels.get(a, a) for a in agents), key=str.casefold)) or "nobody"

    text = {"Contested": "Contested in this corpus", "Uncontested": "Uncontested in this corpus",
            "SingleSource": "Single source in this corpus", "OnlyDenied": "Only denied in this corpus",
            "OnlyQuestioned": "Only questioned in this corpus"}[prop.status]
    parts = [f"asserted or reported by {who(prop.supporters)}"]
    if prop.deniers:
        parts.append(f"denied by {who(prop.deniers)}")
    askers = {info.claimant for info in prop.claims.values() if info.stance == ARKG + "Questions"}
    if askers:
        parts.append(f"questioned by {who(askers)}")
    return f"{text}: " + "; ".join(parts) + ". " + numbers_in_words(prop.numbers())
