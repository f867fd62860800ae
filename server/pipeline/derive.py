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
from functools import cached_property, lru_cache
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pyoxigraph as ox

from server import paths
from server.pipeline.curate import Output, proposition_slug, turtle
from server.model.namespaces import ARKG, ID, NS, PREFIXES, graph_iri
from server.engine.dataset import dataset_files, load_store

SUPPORTING = {ARKG + "Asserts", ARKG + "ReportsUncertain"}
DENYING = {ARKG + "Denies"}
SOURCE_GRAPHS = ("ontology", "sources", "entities", "claims")  # never the derived ones
XSD = PREFIXES["xsd"]

# What propositions() reads of each claim: (field, property, required). A claim lacking a
# required property is not a claim derive can use (validation reports it).
_CLAIM_FIELDS = (("s", NS["rdf"].subject, True), ("p", NS["rdf"].predicate, True), ("o", NS["rdf"].object, True),
                 ("stance", NS["arkg"].stance, True), ("claimant", NS["arkg"].claimant, True),
                 ("proposition", NS["arkg"].aboutProposition, True), ("account", NS["arkg"].independentSource, False),
                 ("eventDate", NS["arkg"].eventDate, False), ("statementDate", NS["arkg"].statementDate, False))


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
        key = frozenset(stances)
        if key not in self._with:  # asked again and again by the numbers and the summary
            self._with[key] = sorted(c for c, info in self.claims.items() if info.stance in stances)
        return self._with[key]

    @cached_property
    def _with(self) -> dict[frozenset, list[str]]:
        return {}

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

    Read by one index scan per property rather than one SPARQL join: at five million
    triples the join with its OPTIONALs took 50 s, the scans a few (bench/README.md).
    """
    if store is None:
        store = load_store([f for f in dataset_files(root) if f.graph in SOURCE_GRAPHS])
    graphs = [ox.NamedNode(graph_iri(g)) for g in SOURCE_GRAPHS]
    labels = _labels(store, graphs)
    values = {name: _first_values(store, prop, graphs) for name, prop, _ in _CLAIM_FIELDS}
    required = [values[name] for name, _, needed in _CLAIM_FIELDS if needed]
    found: dict[str, Proposition] = {}
    for claim in _subjects_of_type(store, NS["arkg"].Claim, graphs):
        if not all(claim in v for v in required):
            continue
        row = {name: values[name].get(claim) for name, _, _ in _CLAIM_FIELDS}
        s, p, o, iri = row["s"], row["p"], row["o"], row["proposition"].value
        if not isinstance(s, ox.NamedNode) or not isinstance(p, ox.NamedNode) or isinstance(o, ox.BlankNode):
            continue  # not a claim in the model (validation says so)
        expected = f"{ID}proposition/{proposition_slug(s.value, p.value, o)}"
        if iri != expected:
            raise DeriveError(f"{claim}: arkg:aboutProposition {iri} is not the proposition of its triple "
                              f"({expected}); recompile with `arkg curate`")
        prop = found.get(iri)
        if prop is None:
            prop = found[iri] = Proposition(iri, s, p, o)
        claimant = row["claimant"].value
        source = row["account"].value if row["account"] is not None else claimant
        when = interval(row["eventDate"] if row["eventDate"] is not None else row["statementDate"])
        prop.claims[claim] = ClaimInfo(row["stance"].value, claimant, source, when)
    return [found[k] for k in sorted(found)], labels


def _pairs(store: ox.Store, graph: ox.NamedNode, prop: ox.NamedNode, value: ox.Term | None = None):
    """(subject, value) of each ``prop`` statement in ``graph`` (with ``value``: of that value),
    in the store's index order. A one-pattern query, not ``quads_for_pattern``: it decodes only
    the two terms asked for, not the graph and predicate of every quad too (5M: 3.5 -> 1.4 s a property)."""
    if value is not None:
        return ((row[0], value) for row in store.query(f"SELECT ?s WHERE {{ GRAPH {graph} {{ ?s {prop} {value} }} }}"))
    return ((row[0], row[1]) for row in store.query(f"SELECT ?s ?o WHERE {{ GRAPH {graph} {{ ?s {prop} ?o }} }}"))


def _first_values(store: ox.Store, prop: ox.NamedNode, graphs: list[ox.NamedNode]) -> dict[str, ox.Term]:
    """Subject IRI -> its first value of ``prop`` in ``graphs`` (store order: deterministic)."""
    found: dict[str, ox.Term] = {}
    for graph in graphs:
        for s, o in _pairs(store, graph, prop):
            if type(s) is ox.NamedNode:
                found.setdefault(s.value, o)
    return found


def _subjects_of_type(store: ox.Store, cls: ox.NamedNode, graphs: list[ox.NamedNode]) -> list[str]:
    seen: dict[str, None] = {}
    for graph in graphs:
        for s, _ in _pairs(store, graph, NS["rdf"].type, cls):
            if type(s) is ox.NamedNode:
                seen[s.value] = None
    return list(seen)


def _labels(store: ox.Store, graphs: list[ox.NamedNode]) -> dict[str, str]:
    """IRI -> its least English (or language-less) rdfs:label, as SPARQL MIN(STR(?label)) would pick."""
    labels: dict[str, str] = {}
    for graph in graphs:
        for s, o in _pairs(store, graph, NS["rdfs"].label):
            if type(s) is ox.NamedNode and type(o) is ox.Literal and o.language in (None, "en"):
                key = s.value
                if key not in labels or o.value < labels[key]:
                    labels[key] = o.value
    return labels


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


def output_paths(root: Path) -> dict[str, Path]:
    """Where `arkg derive` writes each derived graph's file, by graph name."""
    return {"derived": root / "graphs" / "derived" / "propositions.ttl",
            "asserted": root / "graphs" / "asserted" / "asserted.ttl"}


def derive_outputs(root: Path | None = None, *, store: ox.Store | None = None) -> list[Output]:
    """The two derived files for the data under ``root``, as text (``store``: see :func:`propositions`)."""
    root = root or paths.data_root()
    return render_outputs(root, *propositions(root, store=store))


def render_outputs(root: Path, props: list[Proposition], labels: dict[str, str]) -> list[Output]:
    files = output_paths(root)
    return [Output(files["derived"], render_propositions(props, labels)),
            Output(files["asserted"], render_asserted(props))]


def write_derived(props: list[Proposition], labels: dict[str, str], files: dict[str, Path]) -> dict[str, int]:
    """Write both derived graphs as N-Triples, graph name -> ``files[name]``; their lines per graph.

    What ``arkg build`` loads into its store and streams into its dumps, one proposition at a
    time (no Turtle text, no list of all triples: at 5M triples those held 3 GiB). A line is
    ``str()`` of pyoxigraph's terms, which is its N-Triples serialiser's form: the dumps find
    a triple another graph states too by comparing lines (server/publish/dumps.py)."""
    written = {}
    for name, blocks in (("derived", proposition_blocks(props, labels, make=_line)),
                         ("asserted", asserted_blocks(props, make=_line))):
        written[name] = 0
        with open(files[name], "w", encoding="utf-8", buffering=1 << 20) as out:
            for block in blocks:
                out.writelines(block)
                written[name] += len(block)
    return written


def _line(s, p, o) -> str:
    return f"{s} {p} {o} .\n"


_BANNER = "# GENERATED by `arkg derive` from the claims graph; do not edit. Rebuild with `arkg derive`.\n"
RDF, RDFS, A = NS["rdf"], NS["rdfs"], NS["arkg"]
# The terms of every block, made once (the derived graph has millions of triples at scale).
_INTEGER = ox.NamedNode(XSD + "integer")
_T = {"type": RDF.type, "label": RDFS.label, "comment": RDFS.comment, "subject": RDF.subject,
      "predicate": RDF.predicate, "object": RDF.object, "status": A.status, "hasClaim": A.hasClaim,
      "Proposition": A.Proposition, "supportingClaim": A.supportingClaim}
_NUMBER = {name: A[name] for name in ("claimCount", "assertedCount", "deniedCount", "speakerCount",
                                      "supportingSpeakerCount", "denyingSpeakerCount", "independentSourceCount",
                                      "supportingSourceCount", "denyingSourceCount", "timeSeparatedDenialCount")}
_STATUS = {name: A[name] for name in ("Contested", "OnlyDenied", "Uncontested", "SingleSource", "OnlyQuestioned")}


@lru_cache(maxsize=4096)
def _int(n: int) -> ox.Literal:
    return ox.Literal(str(n), datatype=_INTEGER)


def render_propositions(props: list[Proposition], labels: dict[str, str]) -> str:
    return turtle(_BANNER, proposition_blocks(props, labels))


def proposition_blocks(props: list[Proposition], labels: dict[str, str], *,
                       make: Callable = ox.Triple) -> Iterator[list[ox.Triple]]:
    """The ``derived`` graph: a block about the graph, then one block per proposition.
    ``make(s, p, o)`` makes each statement (a Triple for Turtle, an N-Triples line for the build)."""
    graph = ox.NamedNode(graph_iri("derived"))
    counts = defaultdict(int)
    for prop in props:
        counts[prop.status] += 1
    summary = ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
    yield [make(graph, RDFS.label, _text("Derived propositions")),
           make(graph, RDFS.comment, _text(
                   "Every proposition (subject, predicate, object) that claims of ARKG are about, with its claims, "
                   "its numbers (claims, speakers and independent sources, for and against) and its status in this "
                   "corpus (contested, uncontested, single source, only denied, only questioned), computed from "
                   "which independent sources assert or report and which deny it. A status says who said what in "
                   "these five articles, nothing about truth. " + f"{len(props)} propositions: {summary}."))]
    t, triple = _T, make
    for prop in props:
        iri = ox.NamedNode(prop.iri)
        block = [triple(iri, t["type"], t["Proposition"]),
                 triple(iri, t["label"], _text(_label(prop, labels))),
                 triple(iri, t["comment"], _text(_summary(prop, labels))),
                 triple(iri, t["subject"], prop.s), triple(iri, t["predicate"], prop.p),
                 triple(iri, t["object"], prop.o), triple(iri, t["status"], _STATUS[prop.status])]
        block += [triple(iri, _NUMBER[name], _int(n)) for name, n in prop.numbers().items()]
        block += [triple(iri, t["hasClaim"], ox.NamedNode(c)) for c in sorted(prop.claims)]
        yield block


def render_asserted(props: list[Proposition]) -> str:
    return turtle(_BANNER, asserted_blocks(props))


def asserted_blocks(props: list[Proposition], *, make: Callable = ox.Triple) -> Iterator[list[ox.Triple]]:
    """The ``asserted`` graph: a block about the graph, then each uncontested triple and its proposition
    (``make``: as for :func:`proposition_blocks`)."""
    graph = ox.NamedNode(graph_iri("asserted"))
    kept = [p for p in props if p.status == "Uncontested"]
    yield [make(graph, RDFS.label, _text("Asserted triples (uncontested in this corpus)")),
           make(graph, RDFS.comment, _text(
                   "The plain triples of the propositions that are uncontested in this corpus: asserted or reported "
                   "by two or more independent sources of the five articles and denied by none. Uncontested in this "
                   "corpus, not true: a single source (however many of its signatories or relays speak), a denial or "
                   "a question keeps a triple out. Each triple links back to the claims that support it through its "
                   "proposition (rdf:subject/rdf:predicate/rdf:object, arkg:supportingClaim). "
                   + f"{len(kept)} triples."))]
    for prop in kept:
        iri = ox.NamedNode(prop.iri)
        yield [make(prop.s, prop.p, prop.o)]
        yield ([make(iri, RDF.subject, prop.s), make(iri, RDF.predicate, prop.p), make(iri, RDF.object, prop.o)]
               + [make(iri, A.supportingClaim, ox.NamedNode(c)) for c in prop.claims_with(SUPPORTING)])


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
