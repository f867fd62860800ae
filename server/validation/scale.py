"""Validation of a dataset too large for pyshacl: every shape on a sample, integrity checks on all.

``arkg build`` validates small datasets completely (:func:`server.validation.run.validate`,
the same as ``arkg validate``). pyshacl works on an rdflib graph, which costs about 1 KiB
and 20 µs per triple: millions of triples would not fit the build's budget (3 minutes and
2 GiB at five million). Above :data:`FULL_LIMIT` triples the build's SHACL stage therefore checks:

1. **Every shape, on a sample.** A deterministic sample (every k-th node of each class,
   :data:`SAMPLE_PER_CLASS` at most per class) with everything stated about it, its
   ``#fragment`` nodes (a claim's evidence and selectors, an entity's link axioms), the type and label of every
   node it points to (for the class checks; such a node is judged only where the sample
   picked it itself), and the whole ontology, goes through the same engine as a full
   validation (pyshacl core constraints plus the SHACL-SPARQL ones on pyoxigraph). A
   systematic error (a generator or a curation rule that writes bad claims) shows in
   the sample; a rare one-off may not, which the checks below narrow down.
2. **Integrity over the whole store** (:data:`STORE_CHECKS`): SPARQL queries streamed by
   pyoxigraph over every claim, with no copy of the data in Python: each claim has exactly
   one subject, predicate, object, claimant, stance, evidence and proposition, each claimant
   and each entity a claim is about is a typed thing, each proposition of a claim exists,
   each evidence has its quote. ``arkg build`` runs those that read only the data files'
   graphs (:data:`FILE_CHECKS`) beside derive, the last (:data:`DERIVED_CHECKS`) with the sample.

The report says which mode ran.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
import rdflib

from server.model.namespaces import ARKG, PREFIXES, graph_iri
from server.validation import engine, report
from server.validation.loading import Inputs, _rdflib
from server.validation.violations import Violation, short

FULL_LIMIT = 400_000  # triples; below it the build runs the full validation (seconds)
SAMPLE_PER_CLASS = 300
RDF, RDFS, OA = PREFIXES["rdf"], PREFIXES["rdfs"], PREFIXES["oa"]

_CLAIM_PROPERTIES = (RDF + "subject", RDF + "predicate", RDF + "object", ARKG + "claimant", ARKG + "stance",
                     ARKG + "evidence", ARKG + "aboutProposition")


def _name(iri: str) -> str:
    return iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


# Measured at 5M (2026-12-06, bench/README.md): one query per property (2.1 s of CPU each, 175 MB);
# all seven in one GROUP BY took 9.8 s but 500 MB. Where the missing part is a chain
# (proposition, quote), MINUS joins it once (1.9 and 4.9 s) where NOT EXISTS or OPTIONAL with
# !BOUND looked once per claim (4.1 and 10.3 s); for the typed-thing checks MINUS saved 1.4 s
# each but held every typed node in memory (490 MB), so they keep NOT EXISTS (4 s, 175 MB).
FILE_CHECKS = {  # over the data files' graphs alone: `arkg build` runs them beside derive
    **{f"claims without exactly one {_name(p)}":
       f"SELECT ?c WHERE {{ ?c a <{ARKG}Claim> OPTIONAL {{ ?c <{p}> ?v }} }} GROUP BY ?c HAVING (COUNT(?v) != 1)"
       for p in _CLAIM_PROPERTIES},
    "claimants that are not typed things":
        f"SELECT ?c WHERE {{ ?c a <{ARKG}Claim> ; <{ARKG}claimant> ?x FILTER NOT EXISTS {{ ?x a ?t }} }}",
    "claims about an entity that is not a typed thing":
        f"SELECT ?c WHERE {{ ?c a <{ARKG}Claim> ; <{RDF}subject> ?x FILTER NOT EXISTS {{ ?x a ?t }} }}",
    "claims whose evidence has no quote":
        f"SELECT ?c WHERE {{ {{ ?c a <{ARKG}Claim> ; <{ARKG}evidence> ?e }} MINUS {{ ?e <{OA}hasSelector> ?s . ?s <{OA}exact> ?q }} }}",
}
# Derive makes the propositions (the only typed things it adds; what it adds about claims
# and entities none of the checks above reads), so this one waits for it.
DERIVED_CHECKS = {
    "claims whose proposition does not exist":
        f"SELECT ?c WHERE {{ {{ ?c a <{ARKG}Claim> ; <{ARKG}aboutProposition> ?p }} MINUS {{ ?p a <{ARKG}Proposition> }} }}",
}
STORE_CHECKS = {**FILE_CHECKS, **DERIVED_CHECKS}
_SHOWN = 5  # offending nodes named per failed check


@dataclass
class Outcome:
    violations: list[Violation]
    text: str
    sampled: int  # triples in the sample

    @property
    def passed(self) -> bool:
        return not self.violations


def _shapes(store: ox.Store) -> rdflib.Graph:
    """The ``shapes`` graph of the store, as rdflib (what the validation engine reads)."""
    shapes = rdflib.Graph()
    for q in store.quads_for_pattern(None, None, None, ox.NamedNode(graph_iri("shapes"))):
        shapes.add((_rdflib(q.subject), _rdflib(q.predicate), _rdflib(q.object)))
    return shapes


@dataclass
class Sample:
    store: ox.Store  # the sample, in the default graph of a new in-memory store
    partial: set[str]  # nodes present only by their type and label: not checked against shapes


def sample(store: ox.Store, *, per_class: int = SAMPLE_PER_CLASS) -> Sample:
    """The sample described in the module docstring."""
    by_class: dict[str, list[ox.NamedNode]] = {}
    # IRIs kept here, not by a FILTER in the query: that one decoded more terms (5M: 11.8 -> 7.1 s)
    for s, t in store.query("SELECT ?s ?t WHERE { ?s a ?t }", use_default_graph_as_union=True):
        if type(s) is ox.NamedNode and type(t) is ox.NamedNode:
            by_class.setdefault(t.value, []).append(s)
    chosen: set[ox.NamedNode] = set()
    for nodes in by_class.values():
        step = max(1, len(nodes) // per_class)
        chosen.update(nodes[::step][:per_class])
    out = ox.Store()
    ontology = ox.NamedNode(graph_iri("ontology"))
    out.extend(ox.Quad(q.subject, q.predicate, q.object) for q in store.quads_for_pattern(None, None, None, ontology))
    typed = ox.NamedNode(RDF + "type")
    label = ox.NamedNode(RDFS + "label")
    source = ox.NamedNode(PREFIXES["owl"] + "annotatedSource")
    done: set = set()
    todo = list(chosen)
    pointed: set = set()
    while todo:
        node = todo.pop()
        if node in done:
            continue
        done.add(node)
        if isinstance(node, ox.NamedNode):  # its link axioms point to it (owl:annotatedSource), not it to them
            todo.extend(q.subject for q in store.quads_for_pattern(None, source, node, None)
                        if isinstance(q.subject, ox.NamedNode) and q.subject.value.startswith(node.value + "#"))
        for q in store.quads_for_pattern(node, None, None, None):
            out.add(ox.Quad(q.subject, q.predicate, q.object))
            o = q.object
            if isinstance(o, ox.BlankNode) or (isinstance(o, ox.NamedNode) and "#" in o.value
                                               and isinstance(node, ox.NamedNode)
                                               and o.value.split("#", 1)[0] == node.value.split("#", 1)[0]):
                todo.append(o)  # the node's own parts: evidence, selectors, blank nodes
            elif isinstance(o, ox.NamedNode):
                pointed.add(o)
    for o in pointed - done:
        for p in (typed, label):
            out.extend(ox.Quad(q.subject, q.predicate, q.object) for q in store.quads_for_pattern(o, p, None, None))
    return Sample(out, {short(o.value) for o in pointed - done})


def check_store(store: ox.Store, checks: dict[str, str] = STORE_CHECKS) -> list[Violation]:
    """``checks`` (default :data:`STORE_CHECKS`) over the whole store: one violation per failed
    check, naming a few nodes."""
    found = []
    for name, query in checks.items():
        nodes = [r["c"].value for r in store.query(query + f" LIMIT {_SHOWN + 1}", use_default_graph_as_union=True)]
        if nodes:
            found.append(Violation(file="(whole store)", focus=nodes[0], path="", shape="integrity check",
                                   message=f"{name}: {', '.join(nodes[:_SHOWN])}{' ...' if len(nodes) > _SHOWN else ''}"))
    return found


def validate_store(store: ox.Store, *, per_class: int = SAMPLE_PER_CLASS,
                   checks: dict[str, str] = STORE_CHECKS) -> Outcome:
    """Validate a large build store: shapes on a sample, integrity ``checks`` on everything
    (``arkg build``: those of :data:`DERIVED_CHECKS`, the others ran beside derive)."""
    started = time.monotonic()
    chosen = sample(store, per_class=per_class)
    part = chosen.store
    graph = rdflib.Graph()
    for q in part:
        graph.add((_rdflib(q.subject), _rdflib(q.predicate), _rdflib(q.object)))
    shapes = _shapes(store)
    if not len(shapes):
        problem = Violation(file="", focus="(shapes)", path="", message="the store has no shapes graph", shape="shapes")
        return Outcome([problem], "ARKG validation FAILED: no shapes to validate with", 0)
    inputs = Inputs(Path("."), [], part, graph, shapes, {})
    # A node the sample holds only by type and label would fail every shape of its class: its
    # own description is not there (it is checked when the sample picks it for its class).
    shaped = {v for v in engine.run(inputs).violations if v.focus not in chosen.partial}
    violations = sorted(shaped | set(check_store(store, checks)))
    text = report.render(violations, triples=len(graph), files=0, seconds=time.monotonic() - started,
                         engine=f"shapes on a sample of {len(graph)} triples ({per_class} nodes per class at most) "
                                f"and {len(checks)} integrity checks over all {len(store)} quads")
    return Outcome(violations, text, len(graph))
