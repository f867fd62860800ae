"""The SPARQL 1.1 Protocol for queries, independent of the web framework.

:func:`parse_form` and :func:`parse_direct` turn what the client sent (parameters, body,
content type) into a :class:`ProtocolQuery`, or raise :class:`ProtocolError` with the
status and a message saying what to fix.

>>> parse_params([("query", "ASK {}"), ("default-graph-uri", "http://g")]).default_graphs
('http://g',)
>>> parse_params([("query", "ASK {}"), ("query", "ASK {}")])
Traceback (most recent call last):
...
server.sparql.protocol.ProtocolError: Exactly one 'query' parameter is allowed; this request has 2.
>>> parse_params([("update", "DROP ALL")])
Traceback (most recent call last):
...
server.sparql.protocol.ProtocolError: This SPARQL service is read-only: the 'update' operation is refused. Send queries (SELECT, ASK, CONSTRUCT, DESCRIBE) only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

FORM = "application/x-www-form-urlencoded"
QUERY = "application/sparql-query"
UPDATE = "application/sparql-update"

# Where clients put a result format: Virtuoso reads `format`, Fuseki `output` (and
# `format`), rasqal `results`; SPARQLWrapper sends all three.
FORMAT_HINTS = ("format", "output", "results")

READ_ONLY = ("This SPARQL service is read-only: the 'update' operation is refused. "
             "Send queries (SELECT, ASK, CONSTRUCT, DESCRIBE) only.")


class ProtocolError(ValueError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class ProtocolQuery:
    query: str | None  # None: no query (a request for the service description)
    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()
    # format/output/results values, in request order: hints that override Accept when one
    # names a format fitting the query form (formats.hinted)
    format_hints: tuple[str, ...] = ()
    timeout: float | None = None  # ?timeout=: seconds this query may take, if less than the server's limit


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(400, f"The {what} is not valid UTF-8 (byte {exc.start}); "
                                 "send the query encoded as UTF-8.") from None


def parse_params(items: list[tuple[str, str]]) -> ProtocolQuery:
    """Protocol parameters (from the URL or a form body) to a query."""
    queries, defaults, named, hints, timeouts, update = [], [], [], [], [], False
    for k, v in items:  # one pass: this runs for every lookup
        if k == "query":
            queries.append(v)
        elif k == "default-graph-uri":
            defaults.append(v)
        elif k == "named-graph-uri":
            named.append(v)
        elif k in FORMAT_HINTS:
            if v.strip():
                hints.append(v)
        elif k == "timeout":
            timeouts.append(v)
        elif k == "update":
            update = True
    if update:
        raise ProtocolError(403, READ_ONLY)
    if len(queries) > 1:
        raise ProtocolError(400, f"Exactly one 'query' parameter is allowed; this request has {len(queries)}.")
    query = queries[0] if queries else None
    if query is not None and query.startswith("\ufeff"):
        query = query[1:]  # a byte order mark from an editor's saved file is not part of the query
    if query is not None and not query.strip():
        raise ProtocolError(400, "The 'query' parameter is empty; send a SPARQL query.")
    if query is not None and "\x00" in query:
        raise ProtocolError(400, "The query contains a NUL character; remove it.")
    return ProtocolQuery(query=query, default_graphs=tuple(defaults), named_graphs=tuple(named),
                         format_hints=tuple(hints), timeout=parse_timeout(timeouts))


_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s)?\s*", re.IGNORECASE)


def parse_timeout(values: list[str]) -> float | None:
    """The ``timeout`` parameter in seconds: ``30``, ``2.5``, ``30s`` or ``500ms``.

    >>> parse_timeout(["500ms"]), parse_timeout(["30s"]), parse_timeout(["2.5"]), parse_timeout([])
    (0.5, 30.0, 2.5, None)
    >>> parse_timeout(["soon"])
    Traceback (most recent call last):
    ...
    server.sparql.protocol.ProtocolError: The 'timeout' parameter must be a number of seconds (30, 2.5) or a duration with its unit (500ms, 30s); got 'soon'.
    """
    values = [v for v in values if v.strip()]
    if not values:
        return None
    if len(values) > 1:
        raise ProtocolError(400, "At most one 'timeout' parameter is allowed.")
    match = _DURATION.fullmatch(values[0])
    if match is None:
        raise ProtocolError(400, "The 'timeout' parameter must be a number of seconds (30, 2.5) or a duration "
                                 f"with its unit (500ms, 30s); got {values[0][:40]!r}.")
    seconds = float(match.group(1)) / (1000 if (match.group(2) or "s").lower() == "ms" else 1)
    if seconds <= 0:
        raise ProtocolError(400, f"The 'timeout' parameter must be more than zero; got {values[0][:40]!r}.")
    return seconds


def parse_query_string(raw: bytes) -> list[tuple[str, str]]:
    """Decode a URL query string or form body strictly as UTF-8: the pairs of ``parse_qsl``
    with blank values kept (tests/sparql/test_protocol.py compares them), decoded from the
    bytes, which takes half of ``parse_qsl``'s time for a lookup's URL (every lookup pays it).

    >>> parse_query_string(b"query=ASK%20%7B%7D&format=json&flag&&name=a+b%C3%A9")
    [('query', 'ASK {}'), ('format', 'json'), ('flag', ''), ('name', 'a bé')]
    """
    _text(raw, "request")  # bytes that are not UTF-8 get their own message
    pairs = []
    try:
        for field in raw.split(b"&"):
            if field:
                name, _, value = field.partition(b"=")
                pairs.append((unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8"),
                              unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8")))
        return pairs
    except UnicodeDecodeError:
        raise ProtocolError(400, "A percent-encoded parameter is not valid UTF-8; encode the query as UTF-8.") from None


def parse_post(content_type: str | None, body: bytes, url_items: list[tuple[str, str]]) -> ProtocolQuery:
    """A POST request: form-encoded parameters or a direct ``application/sparql-query`` body."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media == FORM:
        return parse_params(url_items + parse_query_string(body))
    if media == QUERY:
        if any(k == "query" for k, _ in url_items):
            raise ProtocolError(400, "With Content-Type application/sparql-query the query is the body; "
                                     "do not also send a 'query' URL parameter.")
        return parse_params(url_items + [("query", _text(body, "request body"))])
    if media == UPDATE:
        raise ProtocolError(403, READ_ONLY)
    if not media:
        raise ProtocolError(415, f"POST needs a Content-Type: {FORM} (query=...) or {QUERY} (the query as body).")
    raise ProtocolError(415, f"Content-Type {media} is not accepted; use {FORM} (query=...) or {QUERY}.")
