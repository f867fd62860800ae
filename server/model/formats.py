"""Media formats and the one content-negotiation function of the server.

Formats wrap pyoxigraph's own enums (``RdfFormat``, ``QueryResultsFormat``), so media
types and extensions come from pyoxigraph and results are serialised by pyoxigraph.

>>> negotiate("text/csv;q=0.5, application/sparql-results+json", RESULTS).name
'json'
>>> negotiate("text/*", GRAPH).name
'ttl'
>>> negotiate(None, GRAPH).name
'ttl'
>>> negotiate("application/json", GRAPH).name
'jsonld'
>>> negotiate("image/png", RESULTS)
Traceback (most recent call last):
...
server.model.formats.NotAcceptable: None of the media types in the Accept header is offered here. Offered: application/sparql-results+json, application/sparql-results+xml, text/csv, text/tab-separated-values
>>> by_name("nt").media_type
'application/n-triples'
>>> hinted(["", "JSON", "application/json"], GRAPH).name  # the hints SPARQLWrapper sends
'jsonld'
>>> hinted(["text/csv"], GRAPH) is None  # fits nothing: Accept negotiation decides
True
>>> TURTLE.iri
'http://www.w3.org/ns/formats/Turtle'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import pyoxigraph as ox


class NotAcceptable(ValueError):
    """No offered format satisfies the Accept header (HTTP 406)."""

    def __init__(self, offered: list["Format"]):
        self.offered = offered
        super().__init__("None of the media types in the Accept header is offered here. Offered: "
                         + ", ".join(f.media_type for f in offered))


class UnknownFormat(ValueError):
    """A ``format`` parameter naming no offered format (HTTP 400)."""


@dataclass(frozen=True)
class Format:
    name: str  # short name: the file extension, used in ?format= and document suffixes
    media_type: str
    engine_format: ox.RdfFormat | ox.QueryResultsFormat | None = None  # pyoxigraph's own format enum
    aliases: tuple[str, ...] = field(default=())  # other media types accepted for it
    charset: bool = True
    w3c: str | None = None  # local name of its W3C format IRI (https://www.w3.org/ns/formats/)
    hints: tuple[str, ...] = field(default=())  # short names clients send in format/output/results

    @property
    def iri(self) -> str | None:
        return W3C_FORMATS + self.w3c if self.w3c else None

    @property
    def content_type(self) -> str:
        return f"{self.media_type}; charset=utf-8" if self.charset else self.media_type

    @property
    def quads(self) -> bool:
        return isinstance(self.engine_format, ox.RdfFormat) and self.engine_format.supports_datasets


W3C_FORMATS = "http://www.w3.org/ns/formats/"


def _rdf(fmt: ox.RdfFormat, w3c: str, *aliases: str, hints: tuple[str, ...] = ()) -> Format:
    return Format(fmt.file_extension, fmt.media_type, fmt, aliases, w3c=w3c,
                  hints=(fmt.file_extension, *hints))


def _results(fmt: ox.QueryResultsFormat, name: str, w3c: str, *aliases: str) -> Format:
    return Format(name, fmt.media_type.split(";")[0], fmt, aliases, w3c=w3c, hints=(name,))


# The one table of formats: short name, media types, W3C format IRI, and the names that
# SPARQLWrapper, Fuseki and Virtuoso clients send as format/output/results hints. A name
# may mean a results format for SELECT/ASK and an RDF format for CONSTRUCT/DESCRIBE
# ("json", "xml"), as those servers read it; within one list of offered formats it is unique.
JSON = _results(ox.QueryResultsFormat.JSON, "json", "SPARQL_Results_JSON", "application/json")
XML = _results(ox.QueryResultsFormat.XML, "xml", "SPARQL_Results_XML", "application/xml", "text/xml")
CSV = _results(ox.QueryResultsFormat.CSV, "csv", "SPARQL_Results_CSV")
TSV = _results(ox.QueryResultsFormat.TSV, "tsv", "SPARQL_Results_TSV")
# Turtle is a subset of N3: an N3 reader reads it.
TURTLE = _rdf(ox.RdfFormat.TURTLE, "Turtle", "application/x-turtle", "text/n3", "text/rdf+n3",
              hints=("turtle", "n3"))
NTRIPLES = _rdf(ox.RdfFormat.N_TRIPLES, "N-Triples", "text/plain", hints=("ntriples", "n-triples"))
JSONLD = _rdf(ox.RdfFormat.JSON_LD, "JSON-LD", "application/json", hints=("json-ld", "json"))
RDFXML = _rdf(ox.RdfFormat.RDF_XML, "RDF_XML", "application/xml", "text/xml", hints=("rdf+xml", "rdfxml", "xml"))
TRIG = _rdf(ox.RdfFormat.TRIG, "TriG")
NQUADS = _rdf(ox.RdfFormat.N_QUADS, "N-Quads", hints=("nquads", "n-quads"))
HTML = Format("html", "text/html", None, ("application/xhtml+xml",))

RESULTS = [JSON, XML, CSV, TSV]  # SELECT and ASK
GRAPH = [TURTLE, NTRIPLES, JSONLD, RDFXML, TRIG, NQUADS]  # CONSTRUCT and DESCRIBE
DOCUMENT = [HTML, TURTLE, JSONLD, NTRIPLES, RDFXML]  # /doc pages, in server preference order
ALL = RESULTS + GRAPH + [HTML]


def by_name(name: str, offered: list[Format] = ALL) -> Format:
    """The offered format with short name (or media type) ``name``."""
    for fmt in offered:
        if name in (fmt.name, fmt.media_type):
            return fmt
    raise UnknownFormat(f"Unknown format {name!r}; use one of: {', '.join(f.name for f in offered)}")


def hinted(values: list[str], offered: list[Format]) -> Format | None:
    """The offered format named by the first hint that names one, or None.

    Hints are ``format``/``output``/``results`` parameter values: short names or media
    types, case-insensitive; empty values are skipped and a value may list several media
    types, as an Accept header does (SPARQLWrapper repeats its Accept header there).
    """
    for value in values:
        for item in value.split(","):
            key = item.split(";")[0].strip().lower()
            if not key:
                continue
            for fmt in offered:
                if key in fmt.hints or key == fmt.media_type or key in fmt.aliases:
                    return fmt
    return None


def _parse_accept(header: str) -> list[tuple[str, str, float]]:
    ranges = []
    for part in header.split(","):
        pieces = part.split(";")
        media = pieces[0].strip().lower()
        if "/" not in media:
            continue
        q = 1.0
        for param in pieces[1:]:
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = max(0.0, min(1.0, float(value)))
                except ValueError:
                    q = 0.0
        main, _, sub = media.partition("/")
        ranges.append((main, sub, q))
    return ranges


def _quality(fmt: Format, ranges: list[tuple[str, str, float]]) -> float:
    """q of the most specific range matching ``fmt`` (exact > type/* > */*)."""
    best_specificity, best_q = -1, 0.0
    for media in (fmt.media_type, *fmt.aliases):
        main, _, sub = media.partition("/")
        primary = media == fmt.media_type
        for r_main, r_sub, q in ranges:
            if r_main == main and r_sub == sub:
                specificity = 3 if primary else 2
            elif r_main == main and r_sub == "*" and primary:  # aliases match exactly only
                specificity = 1
            elif r_main == "*" and r_sub == "*":
                specificity = 0
            else:
                continue
            if specificity > best_specificity:
                best_specificity, best_q = specificity, q
    return best_q


def negotiate(accept: str | None, offered: list[Format]) -> Format:
    """The offered format the client prefers; the first offered when it states no preference.

    Ties go to the server's order. Raises :class:`NotAcceptable` when nothing fits.

    >>> before = _negotiate.cache_info().currsize  # a long header is not kept
    >>> negotiate("text/x-long;q=0.1, " * 100 + "text/csv", RESULTS).name, _negotiate.cache_info().currsize == before
    ('csv', True)
    """
    if not accept or not accept.strip():
        return offered[0]
    if len(accept) > _CACHED_ACCEPT:  # a long header is worked out, not kept: the cache stays small
        return _negotiate.__wrapped__(accept, tuple(offered))
    return _negotiate(accept, tuple(offered))


_CACHED_ACCEPT = 512  # characters: browsers' and clients' Accept headers are well under it


@lru_cache(maxsize=1024)  # clients send the same few Accept headers; parsing one is most of the cost
def _negotiate(accept: str, offered: tuple[Format, ...]) -> Format:
    ranges = _parse_accept(accept)
    if not ranges:
        return offered[0]
    best, best_q = None, 0.0
    for fmt in offered:
        q = _quality(fmt, ranges)
        if q > best_q:
            best, best_q = fmt, q
    if best is None:
        raise NotAcceptable(offered)
    return best
