"""From a protocol query to a worker request: guard, dataset checks and format choice.

Framework-free; the HTTP router calls :func:`prepare`, then the backend.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.model import formats
from server.engine.backend import DatasetInfo
from server.engine.worker import QueryRequest
from server.model.urls import UrlMap
from server.sparql import bounded
from server.sparql import guard
from server.sparql.protocol import ProtocolError, ProtocolQuery


@dataclass(frozen=True)
class Prepared:
    request: QueryRequest
    form: str | None
    expected: formats.Format  # the format of the response if the query form is as analysed
    bounded: bool = False  # a lookup whose cost is bounded by its result (bounded.py)


def _graphs(names: tuple[str, ...], info: DatasetInfo, urls: UrlMap, what: str) -> tuple[str, ...]:
    out = []
    for name in names:
        iri = urls.canonical(name)
        if iri not in info.graph_counts:
            known = ", ".join(sorted(info.graph_counts))
            raise ProtocolError(400, f"The {what} <{name}> does not exist in this dataset. Known graphs: {known}")
        out.append(iri)
    return tuple(out)


def prepare(pq: ProtocolQuery, accept: str | None, info: DatasetInfo, urls: UrlMap,
            allowed_services: list[str]) -> Prepared:
    """Check the query and choose formats; raises GuardError, ProtocolError or NotAcceptable."""
    analysis = guard.check(guard.analyse(pq.query), allowed_services=allowed_services)
    default_graphs = _graphs(pq.default_graphs, info, urls, "default-graph-uri")
    named_graphs = _graphs(pq.named_graphs, info, urls, "named-graph-uri")
    _graphs(tuple(analysis.from_graphs), info, urls, "FROM graph")
    _graphs(tuple(analysis.from_named), info, urls, "FROM NAMED graph")

    def choose(offered: list[formats.Format]) -> formats.Format:
        return formats.hinted(pq.format_hints, offered) or formats.negotiate(accept, offered)

    form = analysis.form
    if form in ("SELECT", "ASK"):
        solutions = expected = choose(formats.RESULTS)
        graph = formats.TURTLE
    elif form in ("CONSTRUCT", "DESCRIBE"):
        graph = expected = choose(formats.GRAPH)
        solutions = formats.JSON
    else:  # not recognisable: the parser will say why; pick formats leniently
        try:
            solutions = choose(formats.RESULTS)
        except formats.NotAcceptable:
            solutions = formats.JSON
        try:
            graph = choose(formats.GRAPH)
        except formats.NotAcceptable:
            graph = formats.TURTLE
        expected = solutions
    request = QueryRequest(pq.query, solutions.name, graph.name, default_graphs, named_graphs,
                      has_dataset_clause=bool(analysis.from_graphs or analysis.from_named),
                      base_iri=urls.sparql_endpoint)  # as Oxigraph's server does
    # With default-graph-uri / named-graph-uri the engine may read quads of other graphs
    # and drop them: the cost is no longer bounded by the result.
    is_bounded = not (default_graphs or named_graphs) and bounded.is_bounded(pq.query)
    return Prepared(request, form, expected, is_bounded)
