"""Build the derived views from the claims: propositions with their status, and the
``asserted`` graph of uncontested triples (``arkg derive``).

Outputs (never hand-written; `arkg derive --check` fails when they are stale):

- ``graphs/derived/propositions.ttl`` (graph ``derived``): every proposition, an
  ``arkg:Proposition`` with its triple, ``arkg:status``, ``arkg:hasClaim``,
  ``arkg:assertedCount``/``arkg:deniedCount``, a label and a one-line summary.
- ``graphs/asserted/asserted.ttl`` (graph ``asserted``): the plain ``s p o`` of every
  proposition with status ``arkg:Uncontested``, and that proposition with its triple and
  ``arkg:supportingClaim`` links to the claims that assert or report it.

Status counts speakers (claimants), not claims. A speaker *supports* a proposition when
one of their claims about it has stance Asserts or ReportsUncertain (a hedged report counts
as asserting), and *denies* it with stance Denies; Questions counts for neither:

- Contested: supported by some speaker and denied by some speaker;
- OnlyDenied: denied, supported by nobody;
- Uncontested: supported by two or more speakers, denied by none;
- SingleSource: supported by exactly one speaker, denied by none;
- OnlyQuestioned: only questioned (none of the four above applies).

Only Uncontested propositions enter the asserted graph: a single speaker's word, however
firm, is SingleSource, not uncontested, in the ontology's own terms. ``assertedCount``
counts the supporting claims (Asserts and ReportsUncertain), ``deniedCount`` the denials.

The build is deterministic: terms are written in sorted order, without blank nodes, so
the same claims give byte-identical files.

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
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from server import paths
from server.pipeline.curate import Output, proposition_slug
from server.model.namespaces import ARKG, ID, PREFIXES, graph_iri, sparql_prefixes
from server.engine.dataset import dataset_files, load_store

SUPPORTING = {ARKG + "Asserts", ARKG + "ReportsUncertain"}
DENYING = {ARKG + "Denies"}
SOURCE_GRAPHS = ("ontology", "sources", "entities", "claims")  # never the derived ones

_CLAIMS = sparql_prefixes() + """
SELECT ?claim ?s ?p ?o ?stance ?claimant ?proposition WHERE {
    ?claim a arkg:Claim ; rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ;
           arkg:stance ?stance ; arkg:claimant ?claimant ; arkg:aboutProposition ?proposition .
}"""
_LABELS = sparql_prefixes() + """
SELECT ?thing (MIN(STR(?label)) AS ?name) WHERE {
    ?thing rdfs:label ?label . FILTER (LANG(?label) IN ("en", ""))
} GROUP BY ?thing"""


class DeriveError(ValueError):
    """The claims cannot be turned into propositions; the message says which and why."""


@dataclass
class Proposition:
    iri: str
    s: ox.NamedNode
    p: ox.NamedNode
    o: ox.NamedNode | ox.Literal
    claims: dict[str, tuple[str, str]] = field(default_factory=dict)  # claim -> (stance, claimant)

    @property
    def supporters(self) -> set[str]:
        return {who for stance, who in self.claims.values() if stance in SUPPORTING}

    @property
    def deniers(self) -> set[str]:
        return {who for stance, who in self.claims.values() if stance in DENYING}

    @property
    def status(self) -> str:
        return status(self.supporters, self.deniers)

    def claims_with(self, stances: set[str]) -> list[str]:
        return sorted(c for c, (stance, _) in self.claims.items() if stance in stances)


def status(supporters: set[str], deniers: set[str]) -> str:
    """The local name of the status concept, from who supports and who denies."""
    if supporters and deniers:
        return "Contested"
    if deniers:
        return "OnlyDenied"
    if len(supporters) >= 2:
        return "Uncontested"
    if supporters:
        return "SingleSource"
    return "OnlyQuestioned"


def propositions(root: Path | None = None) -> tuple[list[Proposition], dict[str, str]]:
    """Every proposition the claims under ``root`` are about, sorted by IRI, and the labels."""
    files = [f for f in dataset_files(root) if f.graph in SOURCE_GRAPHS]
    store = load_store(files)
    labels = {row["thing"].value: row["name"].value for row in store.query(_LABELS, use_default_graph_as_union=True)
              if isinstance(row["thing"], ox.NamedNode)}
    found: dict[str, Proposition] = {}
    for row in store.query(_CLAIMS, use_default_graph_as_union=True):
        iri, claim = row["proposition"].value, row["claim"].value
        s, p, o = row["s"], row["p"], row["o"]
        expected = f"{ID}proposition/{proposition_slug(s.value, p.value, o)}"
        if iri != expected:
            raise DeriveError(f"{claim}: arkg:aboutProposition {iri} is not the proposition of its triple "
                              f"({expected}); recompile with `arkg curate`")
        prop = found.setdefault(iri, Proposition(iri, s, p, o))
        prop.claims[claim] = (row["stance"].value, row["claimant"].value)
    return [found[k] for k in sorted(found)], labels


def build(root: Path | None = None) -> list[Output]:
    """The two derived files for the data under ``root``, as text."""
    root = root or paths.data_root()
    props, labels = propositions(root)
    return [Output(root / "graphs" / "derived" / "propositions.ttl", render_propositions(props, labels)),
            Output(root / "graphs" / "asserted" / "asserted.ttl", render_asserted(props))]


_HEADER = "".join(f"@prefix {p}: <{PREFIXES[p]}> .\n" for p in ("arkg", "rdf", "rdfs", "xsd"))


def render_propositions(props: list[Proposition], labels: dict[str, str]) -> str:
    graph = graph_iri("derived")
    counts = defaultdict(int)
    for prop in props:
        counts[prop.status] += 1
    summary = ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
    out = ["# GENERATED by `arkg derive` from the claims graph; do not edit. Rebuild with `arkg derive`.\n",
           _HEADER, "\n",
           f"<{graph}> rdfs:label {_text('Derived propositions')} ;\n",
           f"    rdfs:comment {_text('Every proposition (subject, predicate, object) that claims of ARKG are about, with its claims and its status in this corpus (contested, uncontested, single source, only denied, only questioned), computed from who asserts or reports and who denies it. A status says who said what in these five articles, nothing about truth. ' + f'{len(props)} propositions: {summary}.')} .\n"]
    for prop in props:
        supporting, denying = prop.claims_with(SUPPORTING), prop.claims_with(DENYING)
        out += ["\n",
                f"<{prop.iri}> a arkg:Proposition ;\n",
                f"    rdfs:label {_text(_label(prop, labels))} ;\n",
                f"    rdfs:comment {_text(_summary(prop, labels))} ;\n",
                f"    rdf:subject {prop.s} ;\n",
                f"    rdf:predicate {prop.p} ;\n",
                f"    rdf:object {prop.o} ;\n",
                f"    arkg:status arkg:{prop.status} ;\n",
                f"    arkg:assertedCount {len(supporting)} ;\n",
                f"    arkg:deniedCount {len(denying)} ;\n",
                "    arkg:hasClaim " + ", ".join(f"<{c}>" for c in sorted(prop.claims)) + " .\n"]
    return "".join(out)


def render_asserted(props: list[Proposition]) -> str:
    graph = graph_iri("asserted")
    kept = [p for p in props if p.status == "Uncontested"]
    out = ["# GENERATED by `arkg derive` from the claims graph; do not edit. Rebuild with `arkg derive`.\n",
           _HEADER, "\n",
           f"<{graph}> rdfs:label {_text('Asserted triples (uncontested in this corpus)')} ;\n",
           f"    rdfs:comment {_text('The plain triples of the propositions that are uncontested in this corpus: asserted or reported by two or more speakers of the five articles and denied by none. Uncontested in this corpus, not true: a single speaker, a denial or a question keeps a triple out. Each triple links back to the claims that support it through its proposition (rdf:subject/rdf:predicate/rdf:object, arkg:supportingClaim). ' + f'{len(kept)} triples.')} .\n"]
    for prop in kept:
        out += ["\n",
                f"{prop.s} {prop.p} {prop.o} .\n",
                f"<{prop.iri}> rdf:subject {prop.s} ;\n",
                f"    rdf:predicate {prop.p} ;\n",
                f"    rdf:object {prop.o} ;\n",
                "    arkg:supportingClaim " + ", ".join(f"<{c}>" for c in prop.claims_with(SUPPORTING)) + " .\n"]
    return "".join(out)


def _text(value: str) -> str:
    return str(ox.Literal(value, language="en"))


def _name(term, labels: dict[str, str]) -> str:
    if isinstance(term, ox.Literal):  # text in quotes; true, 3, 2021-09 as they are
        plain = term.datatype.value == "http://www.w3.org/2001/XMLSchema#string" or term.language
        return f"“{term.value}”" if plain else term.value
    return labels.get(term.value) or term.value.rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def _label(prop: Proposition, labels: dict[str, str]) -> str:
    return " ".join(_name(t, labels) for t in (prop.s, prop.p, prop.o))


def _summary(prop: Proposition, labels: dict[str, str]) -> str:
    def who(agents: set[str]) -> str:
        return ", ".join(sorted((labels.get(a, a) for a in agents), key=str.casefold)) or "nobody"

    text = {"Contested": "Contested in this corpus", "Uncontested": "Uncontested in this corpus",
            "SingleSource": "Single source in this corpus", "OnlyDenied": "Only denied in this corpus",
            "OnlyQuestioned": "Only questioned in this corpus"}[prop.status]
    parts = [f"asserted or reported by {who(prop.supporters)}"]
    if prop.deniers:
        parts.append(f"denied by {who(prop.deniers)}")
    askers = {w for s, w in prop.claims.values() if s == ARKG + "Questions"}
    if askers:
        parts.append(f"questioned by {who(askers)}")
    return f"{text}: " + "; ".join(parts) + "."
