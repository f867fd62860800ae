"""The SPARQL 1.1 Service Description of the endpoint, as triples (W3C sparql11-service-description).

It states the public endpoint URL, the result formats actually served (from
``server.model.formats``), the features, and the dataset: the union default graph and each
named graph with its triple count (VoID). Hash IRIs instead of blank nodes keep the
description stable and linkable.
"""

from __future__ import annotations

import pyoxigraph as ox

from server.model import formats
from server.engine.backend import DatasetInfo
from server.model.namespaces import NS
from server.model.urls import UrlMap

SD, VOID, DCTERMS = NS["sd"], NS["void"], NS["dcterms"]
RDF_TYPE = NS["rdf"].type
XSD_INT = NS["xsd"].integer


def service_description(urls: UrlMap, info: DatasetInfo, *, allowed_services: list[str],
                        query_timeout: float | None = None) -> list[ox.Triple]:
    """The description of the endpoint at ``urls.sparql_endpoint``; ``query_timeout`` (the
    server's limit, seconds) is stated with the ``timeout`` parameter that lowers it."""
    endpoint = ox.NamedNode(urls.sparql_endpoint)
    service = ox.NamedNode(urls.sparql_endpoint + "#service")
    dataset = ox.NamedNode(urls.sparql_endpoint + "#dataset")
    default = ox.NamedNode(urls.sparql_endpoint + "#default-graph")

    def sd(local: str) -> ox.NamedNode:
        return ox.NamedNode(SD + local)

    triples = [
        ox.Triple(service, RDF_TYPE, sd("Service")),
        ox.Triple(service, sd("endpoint"), endpoint),
        ox.Triple(service, sd("supportedLanguage"), sd("SPARQL11Query")),
        ox.Triple(service, sd("feature"), sd("UnionDefaultGraph")),
        ox.Triple(service, ox.NamedNode(DCTERMS + "title"), ox.Literal("ARKG SPARQL endpoint (read-only)", language="en")),
        # SPARQL 1.1 Service Description has no term for protocol parameters: said in words.
        ox.Triple(service, ox.NamedNode(DCTERMS + "description"), ox.Literal(
            "Read-only SPARQL 1.1 Protocol endpoint. Each query may run for at most "
            + (f"{query_timeout:g} s" if query_timeout else "the server's time limit")
            + "; the optional 'timeout' parameter (seconds such as 30 or 2.5, or 500ms, 30s) lowers that limit "
            "for one query (a larger value is clamped to it). Result formats: the Accept header, or the "
            "format/output/results parameters.", language="en")),
        ox.Triple(service, sd("defaultDataset"), dataset),
        ox.Triple(dataset, RDF_TYPE, sd("Dataset")),
        ox.Triple(dataset, sd("defaultGraph"), default),
        ox.Triple(default, RDF_TYPE, sd("Graph")),
        ox.Triple(default, ox.NamedNode(VOID + "triples"), ox.Literal(str(info.triples), datatype=XSD_INT)),
    ]
    if allowed_services:
        triples.append(ox.Triple(service, sd("feature"), sd("BasicFederatedQuery")))
    for fmt in formats.RESULTS + formats.GRAPH:
        triples.append(ox.Triple(service, sd("resultFormat"), ox.NamedNode(fmt.iri)))
    for graph_iri, count in sorted(info.graph_counts.items()):
        name = graph_iri.rsplit("/", 1)[-1]
        named = ox.NamedNode(f"{urls.sparql_endpoint}#named-graph-{name}")
        graph = ox.NamedNode(f"{urls.sparql_endpoint}#graph-{name}")
        triples += [
            ox.Triple(dataset, sd("namedGraph"), named),
            ox.Triple(named, RDF_TYPE, sd("NamedGraph")),
            ox.Triple(named, sd("name"), ox.NamedNode(graph_iri)),
            ox.Triple(named, sd("graph"), graph),
            ox.Triple(graph, RDF_TYPE, sd("Graph")),
            ox.Triple(graph, ox.NamedNode(VOID + "triples"), ox.Literal(str(count), datatype=XSD_INT)),
        ]
    return triples


PREFIXES = {"sd": SD, "void": VOID, "dcterms": DCTERMS}
