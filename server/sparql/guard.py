"""The read-only and federation guard: a lexical look at a query before it is evaluated.

pyoxigraph sends an HTTP request for ``SERVICE <url>`` (a server-side request forgery
hole on a public endpoint), and the protocol must refuse updates with a clear message.
A full parse would cost milliseconds; this scanner tokenises the query once (comments,
strings and IRIs skipped as the SPARQL grammar defines them) in tens of microseconds and
finds the query form, the SERVICE targets and the FROM / FROM NAMED graphs.

>>> a = analyse("PREFIX ex: <http://ex.org/> SELECT * { SERVICE ex:sparql { ?s ?p ?o } }")
>>> a.form, a.service_targets
('SELECT', ['http://ex.org/sparql'])
>>> analyse("# SERVICE <http://x> in a comment\\nASK { ?s ?p 'SERVICE <http://y>' }").service_targets
[]
>>> analyse("SELECT * { SERVICE ?endpoint { ?s ?p ?o } }").service_targets
[None]
>>> analyse("insert data { <a:b> <a:c> <a:d> }").form
'INSERT'

Keywords glued to a number, a boolean or another keyword are keywords to pyoxigraph:

>>> [analyse(f"SELECT * {{ ?s ?p {glue}SERVICE <http://x/> {{ }} }}").service_targets
...  for glue in ("1", "1e3", "true", "ex:.")]
[['http://x/'], ['http://x/'], ['http://x/'], ['http://x/']]
>>> analyse("SELECT * { ?s ?p 1SERVICESILENT<http://x/> { } }").service_targets
['http://x/']
>>> analyse("SELECT *FROMNAMED<http://g/> { ?s ?p ?o }").from_named
['http://g/']
>>> analyse("SELECT ?a { ?c prov:wasDerivedFrom ?a ; ex:myService <http://x/> }").service_targets
[]
>>> check(analyse("SELECT * FROM <http://evil/> { ?s ?p ?o }"), allowed_services=()).from_graphs
['http://evil/']
>>> check(analyse("LOAD <http://evil/x.ttl>"), allowed_services=())
Traceback (most recent call last):
...
server.sparql.guard.ReadOnlyError: This SPARQL service is read-only: LOAD and every other update operation are refused. Send queries (SELECT, ASK, CONSTRUCT, DESCRIBE) only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

QUERY_FORMS = {"SELECT", "CONSTRUCT", "DESCRIBE", "ASK"}
UPDATE_FORMS = {"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"}

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n\r]*)
  | (?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
               |'(?:[^'\\\n\r]|\\.)*'|"(?:[^"\\\n\r]|\\.)*")
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<var>[?$][\w\u00b7\u0300-\u036f\u203f-\u2040]+)
  | (?P<pname>(?:[^\W\d_][\w.\-]*)?:(?:[\w:%\\](?:[\w:%\\\-]|\.(?=[\w:%\\\-]))*)?)
  | (?P<word>[^\W\d][\w]*)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
# Fast path: the first keyword after the prologue, for the common query that names no
# SERVICE, no FROM and has no codepoint escape (checked by _NEEDS_SCAN).
_PROLOGUE_FORM = re.compile(
    r"(?:\s+|\#[^\n\r]*|PREFIX\s*[^\s:]*:\s*<[^<>\s]*>|BASE\s*<[^<>\s]*>)*([A-Za-z]+)", re.IGNORECASE)
# No \b: pyoxigraph's parser needs no space before a keyword ("?s ?p 1SERVICE <x> {}" and
# "trueSERVICE" are SERVICE clauses), so any "service" or "from" is scanned unless it is
# inside a variable or a prefixed name (see _inside_name).
_NEEDS_SCAN = re.compile(r"service|from|\\[uU]", re.IGNORECASE)
_PNAME_HEAD = re.compile(r"(?:[^\W\d_](?:[\w.\-]*[\w\-])?)?:[\w:%\\]")  # prefix, ':', a valid first local char
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")


class GuardError(ValueError):
    """A query this service refuses; the message says why and what to do."""


class ReadOnlyError(GuardError):
    """An update operation sent to the read-only service."""


class FederationError(GuardError):
    """A SERVICE clause whose target is not allowed."""


@dataclass
class Analysis:
    form: str | None = None  # SELECT, CONSTRUCT, DESCRIBE, ASK, or the update keyword
    service_targets: list[str | None] = field(default_factory=list)  # None: a variable
    from_graphs: list[str] = field(default_factory=list)
    from_named: list[str] = field(default_factory=list)

    @property
    def is_update(self) -> bool:
        return self.form in UPDATE_FORMS


def _significant(query: str):
    for match in _TOKEN.finditer(query):
        kind = match.lastgroup
        if kind not in ("ws", "comment"):
            yield kind, match.group()


def _inside_name(query: str, start: int) -> bool:
    """Whether the keyword-like text at ``start`` is part of a variable or a prefixed name,
    which the parser reads greedily (``?from``, ``prov:wasDerivedFrom``, ``ex:a.service``).

    >>> q = "SELECT ?x { ?c prov:wasDerivedFrom ?from }"
    >>> [_inside_name(q, i) for i in (q.index("From"), q.index("from"))]
    [True, True]
    >>> [_inside_name(s, s.index("SERVICE")) for s in ("1SERVICE", "trueSERVICE", "ex:.SERVICE", "} SERVICE", "?o_.SERVICE")]
    [False, False, False, False, False]
    """
    begin = start
    while begin > 0 and (query[begin - 1].isalnum() or query[begin - 1] in "_.-:%\\"):
        begin -= 1
    run = query[begin:start]
    if begin > 0 and query[begin - 1] in "?$":
        return all(c.isalnum() or c == "_" for c in run)  # a variable name
    return ":" in run and _PNAME_HEAD.match(query, begin) is not None


def _needs_scan(query: str) -> bool:
    for match in _NEEDS_SCAN.finditer(query):
        if match.group()[0] == "\\" or not _inside_name(query, match.start()):
            return True
    return False


def analyse(query: str) -> Analysis:
    """Find the query form, SERVICE targets and FROM graphs of ``query``."""
    if not _needs_scan(query):
        match = _PROLOGUE_FORM.match(query)
        word = match.group(1).upper() if match else None
        if word in QUERY_FORMS or word in UPDATE_FORMS:
            return Analysis(form=word)
    if "\\u" in query or "\\U" in query:
        # SPARQL allows codepoint escapes anywhere; look at what a parser would see.
        query = _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), query)
    result = Analysis()
    prefixes: dict[str, str] = {}
    tokens = list(_significant(query))
    i = 0

    def resolve(kind: str, text: str) -> str | None:
        if kind == "iri":
            return text[1:-1]
        if kind == "pname":
            prefix, _, local = text.partition(":")
            if prefix in prefixes:
                return prefixes[prefix] + local
            return text
        return None

    while i < len(tokens):
        kind, text = tokens[i]
        upper = text.upper() if kind == "word" else ""
        # A bare word is a keyword, a function name or true/false, and pyoxigraph reads keywords
        # glued to what precedes or follows them ("1SERVICE", "trueSERVICE", "SERVICESILENT",
        # "FROMNAMED"): so a word *containing* SERVICE or FROM is taken as one.
        glued = next((k for k in ("SERVICE", "FROM") if k in upper and upper != k), None)
        if glued:
            before, _, after = upper.partition(glued)
            upper, tokens[i] = glued, ("word", glued)
            if after:
                tokens.insert(i + 1, ("word", after))
            if before and result.form is None and (before in QUERY_FORMS or before in UPDATE_FORMS):
                result.form = before
        if upper == "PREFIX" and i + 2 < len(tokens):
            name = tokens[i + 1][1].rstrip(":") if tokens[i + 1][0] == "pname" else None
            if name is not None and tokens[i + 2][0] == "iri":
                prefixes[name] = tokens[i + 2][1][1:-1]
                i += 3
                continue
        elif result.form is None and (upper in QUERY_FORMS or upper in UPDATE_FORMS):
            result.form = upper
        elif upper == "SERVICE":
            j = i + 1
            if j < len(tokens) and tokens[j][0] == "word" and tokens[j][1].upper() == "SILENT":
                j += 1
            target = tokens[j] if j < len(tokens) else ("other", "")
            result.service_targets.append(resolve(*target) if target[0] in ("iri", "pname") else None)
        elif upper == "FROM" and i + 1 < len(tokens):
            j = i + 1
            named = tokens[j][0] == "word" and tokens[j][1].upper() == "NAMED"
            if named:
                j += 1
            if j < len(tokens) and tokens[j][0] in ("iri", "pname"):
                (result.from_named if named else result.from_graphs).append(resolve(*tokens[j]))
        i += 1
    return result


def check(analysis: Analysis, *, allowed_services: tuple[str, ...] | list[str]) -> Analysis:
    """Raise :class:`GuardError` for what this service refuses; return ``analysis`` otherwise."""
    if analysis.is_update:
        raise ReadOnlyError(
            f"This SPARQL service is read-only: {analysis.form} and every other update operation are "
            "refused. Send queries (SELECT, ASK, CONSTRUCT, DESCRIBE) only.")
    for target in analysis.service_targets:
        if target is None:
            raise FederationError(
                "SERVICE with a variable (or missing) endpoint is refused: federated queries may only "
                "name an allowed endpoint IRI.")
        if target not in allowed_services:
            allowed = ", ".join(allowed_services) or "none"
            raise FederationError(
                f"SERVICE <{target}> is refused: this endpoint does not send requests to other servers "
                f"(allowed SERVICE endpoints: {allowed}). Remove the SERVICE clause or run the query "
                "on your own engine with ARKG's dumps.")
    return analysis
