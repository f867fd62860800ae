r"""Bounded queries: the lookups whose cost is known before they run.

Most requests to a linked-data endpoint are lookups: everything said about one IRI. Such a
query costs the engine about 0.1 ms, while sending it to a query worker process and back
costs about three times that (store/pool.py). A query may skip the worker only if it
*cannot* run long, and that is decided here from its text alone, by a strict pattern.

A bounded query is a SELECT whose WHERE clause is one triple pattern with

- a constant (an IRI or a prefixed name) as subject or object, the other positions
  constants or variables, no variable twice;
- DISTINCT or REDUCED only over all of the pattern's variables;
- nothing else: no FILTER, OPTIONAL, UNION, GRAPH, property path, sub-query, BIND,
  VALUES, aggregate, ORDER BY, OFFSET, FROM, comment or escape; at most a LIMIT.

Why that bounds the cost: the engine answers one such pattern with one range scan of an
index whose prefix is the constant, and every quad the scan reads becomes a result row
(nothing filters rows out, and the variables are distinct). So the work grows with the
size of the *result*, which the caller caps (``inline_max_bytes``): past the cap it stops
and the query goes to a worker like any other. The pattern is deliberately narrow; a query
it misses only takes the usual route.

Two more forms researchers' tools send for one entity are bounded for the same reason:

- ``ASK { <E> ?p ?o }``: the same one pattern (constant subject or object, distinct
  variables, no LIMIT/OFFSET or anything else): the first quad the scan reads is a match, and
  the engine stops there.
- ``DESCRIBE <E>`` (one IRI or prefixed name, no WHERE clause): pyoxigraph gives the IRI's
  triples and, for each blank node object, that node's triples (its concise bounded
  description), read lazily as the result is written; every quad read is one output triple
  (in every graph format: measured 0.2-0.5 ms to the 16 KiB cap for a subject with 300,000
  triples), so the result cap bounds the work here too.

>>> is_bounded("SELECT ?p ?o WHERE { <https://w3id.org/arkg/id/person/ahmad-massoud> ?p ?o }")
True
>>> is_bounded("PREFIX arkg: <https://w3id.org/arkg/id/> select distinct * { ?s ?p arkg:x . } LIMIT 10")
True
>>> is_bounded("SELECT ?s WHERE { ?s a <https://w3id.org/arkg/ontology#Person> }")
True

Not bounded (each goes to a query worker, with its time limit):

>>> [is_bounded(q) for q in (
...     "SELECT * { ?s ?p ?o }",                          # no constant: the whole store
...     "SELECT * { ?s <http://x/p> ?o }",                 # a constant predicate only
...     "SELECT * { <http://x/s> ?p ?p }",                 # a repeated variable filters rows
...     "SELECT DISTINCT ?p { ?s ?p <http://x/o> }",       # many rows read, few kept
...     "SELECT * { <http://x/s> ?p ?o } OFFSET 9999999",  # rows read and thrown away
...     "SELECT * { <http://x/s> ?p ?o FILTER(?o > 1) }",
...     "SELECT * { <http://x/s> <http://x/p>* ?o }",      # a path
...     "SELECT * { <http://x/s> ?p ?o } ORDER BY ?o",
...     "SELECT * FROM <http://x/g> { <http://x/s> ?p ?o }",
...     "SELECT * { <http://x/s> ?p ?o # a comment\n }",
...     "ASK { ?s <http://x/p> ?s }",                      # a repeated variable: a scan to the first match
...     "DESCRIBE ?s WHERE { ?s ?p ?o }",                  # every subject described
...     "DESCRIBE <http://x/a> <http://x/b>",
... )]
[False, False, False, False, False, False, False, False, False, False, False, False, False]
>>> is_bounded("ASK { <http://x/s> ?p ?o }"), is_bounded("PREFIX ex: <http://x/> DESCRIBE ex:s")
(True, True)
"""

from __future__ import annotations

import re

MAX_LENGTH = 4096  # longer texts are not lookups; this also bounds the parser's work

_IRI = r"<[^<>\"{}|^`\\\x00-\x20]*>"
_PNAME = r"(?:[A-Za-z][A-Za-z0-9_\-]*)?:[A-Za-z0-9_][A-Za-z0-9_\-]*"  # no dots, no escapes
_VAR = r"[?$][A-Za-z_][A-Za-z0-9_]*"
_TERM = rf"(?:{_VAR}|{_IRI}|{_PNAME})"

_VARIABLE = re.compile(_VAR)
_PROLOGUE = rf"\s*(?:(?:PREFIX\s*(?:[A-Za-z][A-Za-z0-9_\-]*)?:\s*{_IRI}|BASE\s*{_IRI})\s*)*"
_PATTERN = rf"\{{\s*(?P<s>{_TERM})\s+(?P<p>{_TERM}|a)\s+(?P<o>{_TERM})\s*\.?\s*\}}"
_SHAPE = re.compile(
    rf"""
    {_PROLOGUE}
    SELECT\s+(?P<distinct>(?:DISTINCT|REDUCED)\s+)?(?P<projection>\*|(?:{_VAR}\s*)+)\s*
    (?:WHERE\s*)?
    {_PATTERN}
    \s*(?:LIMIT\s+[0-9]{{1,9}}\s*)?
    """,
    re.VERBOSE | re.IGNORECASE,
)
_ASK = re.compile(rf"{_PROLOGUE}ASK(?:\s+WHERE)?\s*{_PATTERN}\s*", re.VERBOSE | re.IGNORECASE)
_DESCRIBE = re.compile(rf"{_PROLOGUE}DESCRIBE(?:\s*{_IRI}|\s+{_PNAME})\s*", re.VERBOSE | re.IGNORECASE)


def _constant(term: str) -> bool:
    return term[0] not in "?$"


def is_bounded(query: str) -> bool:
    """Whether ``query`` is a lookup whose evaluation cost is bounded by its result size."""
    if len(query) > MAX_LENGTH:
        return False
    if _DESCRIBE.fullmatch(query):
        return True
    match = _SHAPE.fullmatch(query) or _ASK.fullmatch(query)
    if match is None:
        return False
    s, p, o = match.group("s", "p", "o")
    if p == "A":  # the keyword is lower-case only; "A" would be a syntax error anyway
        return False
    if not (_constant(s) or _constant(o)):
        return False
    variables = [t[1:] for t in (s, p, o) if not _constant(t)]
    if len(variables) != len(set(variables)):
        return False
    if match.re is _SHAPE and match.group("distinct") and match.group("projection") != "*":
        # DISTINCT over fewer variables than the pattern has would read every quad and
        # keep a few rows: the work would no longer follow the result.
        projected = {v[1:] for v in _VARIABLE.findall(match.group("projection"))}
        return projected >= set(variables)
    return True
