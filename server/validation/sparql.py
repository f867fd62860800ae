"""SHACL-SPARQL constraints (SHACL §5) evaluated with pyoxigraph.

pyshacl runs a SPARQL constraint once per focus node through rdflib's engine, which costs
0.5 s per query on this data (rdflib joins pre-bound variables after evaluating the whole
pattern); through pyoxigraph it still pays ~2 ms of per-query overhead, about 10 s for
the ~5,000 (claim, constraint) pairs. Here each constraint runs

- **once for all focus nodes** when its WHERE clause opens with a triple pattern on
  ``$this``: every solution then binds ``$this`` through that pattern, so evaluating with
  ``$this`` free and keeping the rows whose ``$this`` is a focus node gives exactly the
  pre-bound results (SHACL §5.3.1);
- otherwise **once per focus node**, with ``$this`` pre-bound (pyoxigraph substitutions).

Supported: node shapes with sh:targetClass (and implicit class targets), sh:targetNode,
sh:targetSubjectsOf, sh:targetObjectsOf; sh:prefixes; sh:message with ``{$this}``,
``{?var}`` placeholders; sh:deactivated. Anything else raises :class:`Unsupported`;
``arkg validate --reference`` runs every constraint through pyshacl instead.

>>> import pyoxigraph as ox, rdflib
>>> store = ox.Store()
>>> store.add(ox.Quad(ox.NamedNode("http://e/a"), ox.NamedNode("http://e/p"), ox.Literal("x")))
>>> shapes = rdflib.Graph().parse(format="turtle", data='''
... @prefix sh: <http://www.w3.org/ns/shacl#> .
... <http://e/S> a sh:NodeShape ; sh:targetSubjectsOf <http://e/p> ; sh:sparql [
...   sh:message "{$this} has p {?value}" ;
...   sh:select "SELECT $this ?value WHERE { $this <http://e/p> ?value . FILTER(?value = 'x') }" ] .''')
>>> [v.message for v in evaluate(shapes, store)]
['http://e/a has p "x"']
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pyoxigraph as ox
import rdflib
from rdflib.namespace import RDF, RDFS, OWL, SH

from server.validation.violations import Violation, fill, short, shorten_iris

_LEADING_THIS = re.compile(r"\bWHERE\s*\{\s*\$this\s", re.IGNORECASE)
_FORBIDDEN = re.compile(r"\b(MINUS|VALUES|SERVICE)\b", re.IGNORECASE)


class Unsupported(Exception):
    """A SHACL-SPARQL feature this evaluator does not handle; use the reference mode."""


def evaluate(shapes: rdflib.Graph, store: ox.Store, origin=lambda node: None) -> list[Violation]:
    """Every violation of every SPARQL-based constraint in ``shapes`` over ``store``."""
    found: set[Violation] = set()
    for shape, constraint in shapes.subject_objects(SH.sparql):
        if _deactivated(shapes, shape) or _deactivated(shapes, constraint):
            continue
        if (shape, SH.path, None) in shapes:
            raise Unsupported(f"SPARQL constraint on property shape {shape}")
        focus = _focus_nodes(shapes, shape, store)
        select = str(shapes.value(constraint, SH.select))
        if _FORBIDDEN.search(select):  # as pyshacl does: these break pre-binding (SHACL §5.3.1)
            raise Unsupported(f"the SPARQL constraint of shape {short(str(shape))} uses "
                              f"{_FORBIDDEN.search(select).group(0).upper()}, which SHACL forbids")
        query = _prefixes(shapes, constraint) + select
        message = shapes.value(constraint, SH.message) or shapes.value(shape, SH.message) \
            or f"SPARQL constraint {short(str(constraint))} of shape {short(str(shape))} is violated"
        for node, row in _solutions(store, query, focus):
            found.add(_violation(node, row, str(message), short(str(shape)), origin))
    return sorted(found)


def _deactivated(shapes: rdflib.Graph, node) -> bool:
    value = shapes.value(node, SH.deactivated)
    return value is not None and value.toPython() is True


def _focus_nodes(shapes: rdflib.Graph, shape, store: ox.Store) -> set[ox.NamedNode | ox.BlankNode]:
    """The focus nodes of ``shape`` (SHACL §2.1.3), computed in the data graph."""
    patterns = []
    classes = list(shapes.objects(shape, SH.targetClass))
    if (shape, RDF.type, RDFS.Class) in shapes or (shape, RDF.type, OWL.Class) in shapes:
        classes.append(shape)
    patterns += [f"?this <{RDF.type}>/<{RDFS.subClassOf}>* <{c}> ." for c in classes]
    patterns += [f"?this <{p}> ?any ." for p in shapes.objects(shape, SH.targetSubjectsOf)]
    patterns += [f"?any <{p}> ?this ." for p in shapes.objects(shape, SH.targetObjectsOf)]
    nodes = {ox.NamedNode(str(n)) for n in shapes.objects(shape, SH.targetNode)}
    if (shape, SH.target, None) in shapes:
        raise Unsupported(f"SHACL-AF sh:target on shape {shape}")
    if not patterns and not nodes:
        raise Unsupported(f"shape {shape} has a SPARQL constraint but no target of its own")
    for pattern in patterns:
        nodes |= {row["this"] for row in store.query(f"SELECT DISTINCT ?this WHERE {{ {pattern} }}")}
    return nodes


def _prefixes(shapes: rdflib.Graph, constraint) -> str:
    lines = []
    for holder in shapes.objects(constraint, SH.prefixes):
        for decl in shapes.objects(holder, SH.declare):
            lines.append(f"PREFIX {shapes.value(decl, SH.prefix)}: <{shapes.value(decl, SH.namespace)}>\n")
    return "".join(sorted(set(lines)))


def _solutions(store: ox.Store, query: str, focus: set) -> Iterable[tuple[object, dict]]:
    result = store.query(query) if _LEADING_THIS.search(query) else None
    names = [v.value for v in result.variables] if result is not None else []
    if "this" in names:  # one query; every solution binds $this (see module doc)
        for solution in result:
            row = {n: solution[n] for n in names if solution[n] is not None}
            if row.get("this") in focus:
                yield row["this"], row
        return
    for node in sorted(focus, key=str):  # $this pre-bound, one query per focus node
        result = store.query(query, substitutions={ox.Variable("this"): node})
        names = [v.value for v in result.variables]
        for solution in result:
            yield node, {n: solution[n] for n in names if solution[n] is not None}


def _violation(node, row: dict, message: str, shape: str, origin) -> Violation:
    if "failure" in row:
        message = f"the SPARQL constraint reported a failure ({message})"
    # the offending value reads as an RDF term ("Kabul"); other variables as plain text
    bindings = {name: _display(term, quoted=name == "value") for name, term in row.items()}
    bindings["this"] = node.value if isinstance(node, ox.NamedNode) else str(node)
    return Violation(file=origin(bindings["this"]) or "", focus=short(bindings["this"]),
                     path=short(bindings.get("path")), message=shorten_iris(fill(message, bindings)),
                     value=short(bindings.get("value")), shape=shape)


def _display(term, quoted: bool) -> str:
    """IRIs as IRIs (shortened when filled in); literals quoted, with language or datatype."""
    if isinstance(term, ox.NamedNode):
        return term.value
    if isinstance(term, ox.Literal) and not quoted:
        return term.value
    if isinstance(term, ox.Literal):
        if term.language:
            return f'"{term.value}"@{term.language}'
        datatype = term.datatype.value
        if datatype == "http://www.w3.org/2001/XMLSchema#string":
            return f'"{term.value}"'
        if datatype == "http://www.w3.org/2001/XMLSchema#integer":
            return term.value
        return f'"{term.value}"^^{short(datatype)}'
    return str(term)
