"""The SPARQL 1.1 Protocol endpoint against the real app and the real data."""

from __future__ import annotations

import gzip
import json

import pyoxigraph as ox
import pytest

from server.model.namespaces import graph_iri

COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
CLAIMS_ABOUT_MASSOUD = """PREFIX arkg: <https://w3id.org/arkg/ontology#>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
SELECT ?claim ?stance WHERE { ?claim rdf:subject <https://w3id.org/arkg/id/person/ahmad-massoud> ; arkg:stance ?stance }"""
CONSTRUCT = "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH <https://w3id.org/arkg/graph/ontology> { ?s ?p ?o } } LIMIT 50"


def count(response) -> int:
    assert response.status_code == 200, response.text
    return int(response.json()["results"]["bindings"][0]["n"]["value"])


def test_get_form_post_and_direct_post_agree(client):
    by_get = count(client.get("/sparql", params={"query": COUNT}))
    by_form = count(client.post("/sparql", data={"query": COUNT}))
    by_direct = count(client.post("/sparql", content=COUNT, headers={"Content-Type": "application/sparql-query"}))
    assert by_get == by_form == by_direct == client.get("/health").json()["triples"] > 5000


def test_select_results_in_every_format(client):
    expected = len(client.get("/sparql", params={"query": CLAIMS_ABOUT_MASSOUD}).json()["results"]["bindings"])
    assert expected > 20
    for media, fmt in [("application/sparql-results+json", ox.QueryResultsFormat.JSON),
                       ("application/sparql-results+xml", ox.QueryResultsFormat.XML),
                       ("text/csv", ox.QueryResultsFormat.CSV),
                       ("text/tab-separated-values", ox.QueryResultsFormat.TSV)]:
        r = client.get("/sparql", params={"query": CLAIMS_ABOUT_MASSOUD}, headers={"Accept": media})
        assert r.status_code == 200 and r.headers["content-type"].startswith(media)
        if fmt is ox.QueryResultsFormat.CSV:  # lossy: pyoxigraph does not parse it back
            rows = r.text.strip().splitlines()[1:]
        else:
            rows = list(ox.parse_query_results(r.content, format=fmt))
        assert len(rows) == expected


def test_negotiation_honours_q_values_and_wildcards(client):
    r = client.get("/sparql", params={"query": COUNT}, headers={"Accept": "text/csv;q=0.9, application/sparql-results+xml"})
    assert r.headers["content-type"].startswith("application/sparql-results+xml")
    r = client.get("/sparql", params={"query": COUNT}, headers={"Accept": "text/*;q=0.5, application/sparql-results+json;q=0.1"})
    assert r.headers["content-type"].startswith("text/csv")
    r = client.get("/sparql", params={"query": CONSTRUCT}, headers={"Accept": "application/*"})
    assert r.headers["content-type"].startswith("application/n-triples")
    r = client.get("/sparql", params={"query": COUNT}, headers={"Accept": "application/sparql-results+json;q=0"})
    assert r.status_code == 406
    r = client.get("/sparql", params={"query": COUNT}, headers={"Accept": "image/png"})
    assert r.status_code == 406 and "text/csv" in r.text and "application/sparql-results+json" in r.text
    assert r.headers["vary"].startswith("Accept")


@pytest.mark.parametrize("media,fmt", [
    ("text/turtle", ox.RdfFormat.TURTLE), ("application/n-triples", ox.RdfFormat.N_TRIPLES),
    ("application/ld+json", ox.RdfFormat.JSON_LD), ("application/rdf+xml", ox.RdfFormat.RDF_XML),
    ("application/trig", ox.RdfFormat.TRIG), ("application/n-quads", ox.RdfFormat.N_QUADS)])
def test_construct_in_every_rdf_format(client, media, fmt):
    r = client.get("/sparql", params={"query": CONSTRUCT}, headers={"Accept": media})
    assert r.status_code == 200 and r.headers["content-type"].startswith(media)
    assert len(list(ox.parse(r.content, format=fmt))) == 50


def test_ask_and_describe(client):
    r = client.get("/sparql", params={"query": "ASK { ?s a <https://w3id.org/arkg/ontology#Claim> }"})
    assert r.json()["boolean"] is True
    r = client.get("/sparql", params={"query": "DESCRIBE <https://w3id.org/arkg/id/person/ahmad-massoud>"},
                   headers={"Accept": "application/n-triples"})
    triples = list(ox.parse(r.content, format=ox.RdfFormat.N_TRIPLES))
    assert any(t.subject.value.endswith("/person/ahmad-massoud") for t in triples)


def test_format_parameter_overrides_accept(client):
    r = client.get("/sparql", params={"query": COUNT, "format": "tsv"}, headers={"Accept": "application/json"})
    assert r.headers["content-type"].startswith("text/tab-separated-values")


CONSTRUCT_ONE = "CONSTRUCT { <urn:x:s> <urn:x:p> 1 } WHERE {}"


@pytest.mark.parametrize("hints, query, media", [
    # as SPARQLWrapper sends them: all three parameters, media type repeated (empty for */*)
    ([("format", "tsv"), ("format", "text/tab-separated-values"), ("output", "tsv"),
      ("output", "text/tab-separated-values"), ("results", "tsv")], COUNT, "text/tab-separated-values"),
    ([("format", "json-ld"), ("format", ""), ("output", "json-ld"), ("results", "json-ld")], COUNT,
     "application/sparql-results+json"),  # fits no SELECT format: Accept (none) decides
    ([("format", "json"), ("output", "json"), ("results", "json")], CONSTRUCT_ONE, "application/ld+json"),
    ([("format", "XML")], CONSTRUCT_ONE, "application/rdf+xml"),
    ([("format", "XML")], COUNT, "application/sparql-results+xml"),
    ([("output", "N3")], CONSTRUCT_ONE, "text/turtle"),
    ([("results", "ntriples")], CONSTRUCT_ONE, "application/n-triples"),
    ([("format", "rdf+xml"), ("format", "application/rdf+xml")], CONSTRUCT_ONE, "application/rdf+xml"),
    ([("format", "nquads")], CONSTRUCT_ONE, "application/n-quads"),
    ([("format", "trig")], CONSTRUCT_ONE, "application/trig"),
    ([("format", "application/ld+json,application/x-json+ld")], CONSTRUCT_ONE, "application/ld+json"),
    ([("format", "csv"), ("format", "nt")], CONSTRUCT_ONE, "application/n-triples"),  # first that fits
    ([("format", "text/csv; charset=utf-8")], COUNT, "text/csv"),
    ([("format", "nonsense"), ("flavour", "x")], COUNT, "application/sparql-results+json"),
])
def test_format_hints_as_real_clients_send_them(client, hints, query, media):
    r = client.get("/sparql", params=[("query", query), *hints])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].split(";")[0] == media


def test_a_hint_that_fits_nothing_leaves_the_choice_to_accept(client):
    r = client.get("/sparql", params={"query": CONSTRUCT_ONE, "format": "csv"},
                   headers={"Accept": "application/n-triples"})
    assert r.headers["content-type"].startswith("application/n-triples")
    r = client.post("/sparql", data={"query": COUNT, "output": "turtle"}, headers={"Accept": "text/csv"})
    assert r.headers["content-type"].startswith("text/csv")


def test_relative_iris_resolve_against_the_endpoint(client):
    # the W3C protocol test query; as in Oxigraph, the base is the endpoint's URL
    r = client.get("/sparql", params={"query": "CONSTRUCT { <s> <p> 1 } WHERE {}"},
                   headers={"Accept": "application/n-triples"})
    assert r.status_code == 200, r.text
    (triple,) = ox.parse(r.content, format=ox.RdfFormat.N_TRIPLES)
    assert triple.subject == ox.NamedNode("http://testserver/s")
    r = client.get("/sparql", params={"query": "BASE <http://example.org/a/> CONSTRUCT { <s> <p> 1 } WHERE {}"},
                   headers={"Accept": "application/n-triples"})  # the query's own BASE wins
    assert next(ox.parse(r.content, format=ox.RdfFormat.N_TRIPLES)).subject == ox.NamedNode("http://example.org/a/s")


def test_default_and_named_graph_parameters(client):
    counts = client.get("/health").json()["graphs"]
    r = client.get("/sparql", params={"query": COUNT, "default-graph-uri": graph_iri("ontology")})
    assert count(r) == counts["ontology"]
    both = count(client.get("/sparql", params={"query": COUNT, "default-graph-uri": [graph_iri("ontology"), graph_iri("sources")]}))
    assert both == counts["ontology"] + counts["sources"]
    r = client.get("/sparql", params={"query": "SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } }",
                                      "named-graph-uri": graph_iri("sources")})
    assert count(r) == counts["sources"]
    # The public form of a graph IRI is mapped onto the canonical one.
    r = client.get("/sparql", params={"query": COUNT, "default-graph-uri": "http://testserver/graph/sources"})
    assert count(r) == counts["sources"]


def test_unknown_graphs_are_refused_with_the_known_ones_listed(client):
    for params in ({"default-graph-uri": "http://example.org/nope"}, {"named-graph-uri": "http://example.org/nope"}):
        r = client.get("/sparql", params={"query": COUNT, **params})
        assert r.status_code == 400 and "does not exist" in r.text and graph_iri("claims") in r.text
    r = client.get("/sparql", params={"query": "SELECT * FROM <http://example.org/remote.ttl> { ?s ?p ?o }"})
    assert r.status_code == 400 and "FROM graph" in r.text
    r = client.get("/sparql", params={"query": f"SELECT (COUNT(*) AS ?n) FROM <{graph_iri('sources')}> {{ ?s ?p ?o }}"})
    assert count(r) == client.get("/health").json()["graphs"]["sources"]


@pytest.mark.parametrize("send", [
    lambda c: c.get("/sparql", params={"update": "DROP ALL"}),
    lambda c: c.post("/sparql", data={"update": "INSERT DATA { <a:b> <a:c> <a:d> }"}),
    lambda c: c.post("/sparql", content="CLEAR ALL", headers={"Content-Type": "application/sparql-update"}),
    lambda c: c.get("/sparql", params={"query": "INSERT DATA { <a:b> <a:c> <a:d> }"}),
    lambda c: c.post("/sparql", data={"query": "DELETE WHERE { ?s ?p ?o }"}),
    lambda c: c.post("/sparql", content="LOAD <http://127.0.0.1:9/x.ttl>", headers={"Content-Type": "application/sparql-query"}),
    lambda c: c.get("/sparql", params={"query": "PREFIX a: <http://a/> # comment\n create graph <http://g>"}),
    lambda c: c.get("/sparql", params={"query": "WITH <http://g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }"}),
])
def test_every_update_form_is_refused_as_read_only(client, send):
    before = count(client.get("/sparql", params={"query": COUNT}))
    r = send(client)
    assert r.status_code == 403 and "read-only" in r.text
    assert count(client.get("/sparql", params={"query": COUNT})) == before


def test_smuggled_update_after_a_query_is_a_syntax_error_not_a_write(client):
    before = count(client.get("/sparql", params={"query": COUNT}))
    r = client.get("/sparql", params={"query": "SELECT * { ?s ?p ?o } ; DROP ALL"})
    assert r.status_code == 400
    assert count(client.get("/sparql", params={"query": COUNT})) == before


def test_syntax_errors_give_the_parser_message_and_position(client):
    r = client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p }"})
    assert r.status_code == 400 and "1:" in r.text and "expected" in r.text


@pytest.mark.parametrize("send,status,words", [
    (lambda c: c.get("/sparql", params={"query": "   "}), 400, "empty"),
    (lambda c: c.get("/sparql", params=[("query", COUNT), ("query", COUNT)]), 400, "one 'query'"),
    (lambda c: c.post("/sparql", content=b"SELECT * { ?s ?p \xff\xfe }", headers={"Content-Type": "application/sparql-query"}), 400, "UTF-8"),
    (lambda c: c.post("/sparql", content=b"query=SELECT%20%FF", headers={"Content-Type": "application/x-www-form-urlencoded"}), 400, "UTF-8"),
    (lambda c: c.post("/sparql", content=COUNT), 415, "Content-Type"),
    (lambda c: c.post("/sparql", content=COUNT, headers={"Content-Type": "text/plain"}), 415, "application/sparql-query"),
    (lambda c: c.post("/sparql", content=b" " * (1024 * 1024 + 10), headers={"Content-Type": "application/sparql-query"}), 413, "limit"),
    (lambda c: c.post("/sparql", content=b"", headers={"Content-Type": "application/x-www-form-urlencoded"}), 400, "needs a query"),
    (lambda c: c.get("/sparql", params={"query": "SELECT * { ?s ?p ?o }\x00"}), 400, "NUL"),
])
def test_bad_input_gets_a_precise_4xx(client, send, status, words):
    r = send(client)
    assert r.status_code == status, r.text
    assert words in r.text


def test_service_is_refused_before_evaluation(client):
    for q in ["SELECT * { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
              "SELECT * { SERVICE SILENT ?endpoint { ?s ?p ?o } }",
              "PREFIX e: <http://169.254.169.254/> SELECT * { SERVICE e:latest { ?s ?p ?o } }",
              "SELECT * { \\u0053ERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }"]:
        r = client.get("/sparql", params={"query": q})
        assert r.status_code == 400 and "SERVICE" in r.text, q


def test_http_niceties(client):
    r = client.get("/sparql", params={"query": CLAIMS_ABOUT_MASSOUD}, headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert "max-age" in r.headers["cache-control"] and r.headers["etag"].startswith('W/"')
    again = client.get("/sparql", params={"query": CLAIMS_ABOUT_MASSOUD}, headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and not again.content
    head = client.head("/sparql", params={"query": COUNT})
    assert head.status_code == 200 and head.headers["content-type"].startswith("application/sparql-results+json")
    pre = client.options("/sparql", headers={"Origin": "https://example.org", "Access-Control-Request-Method": "POST",
                                             "Access-Control-Request-Headers": "content-type"})
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in pre.headers
    cors = client.get("/sparql", params={"query": COUNT}, headers={"Origin": "https://example.org"})
    assert cors.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("media,fmt", [("text/turtle", ox.RdfFormat.TURTLE), ("application/ld+json", ox.RdfFormat.JSON_LD),
                                       ("application/rdf+xml", ox.RdfFormat.RDF_XML)])
def test_service_description(client, media, fmt):
    r = client.get("/sparql", headers={"Accept": media})
    assert r.status_code == 200 and r.headers["content-type"].startswith(media)
    store = ox.Store()
    store.load(r.content, format=fmt)
    sd = "http://www.w3.org/ns/sparql-service-description#"
    endpoint = list(store.query(f"SELECT ?e {{ ?s a <{sd}Service> ; <{sd}endpoint> ?e }}"))
    assert [row["e"].value for row in endpoint] == ["http://testserver/sparql"]
    formats_served = {row["f"].value for row in store.query(f"SELECT ?f {{ ?s <{sd}resultFormat> ?f }}")}
    assert "http://www.w3.org/ns/formats/SPARQL_Results_CSV" in formats_served and len(formats_served) == 10
    graphs = {row["g"].value.rsplit("/", 1)[-1]: int(row["n"].value) for row in store.query(
        f"SELECT ?g ?n {{ ?ng <{sd}name> ?g ; <{sd}graph> [ <http://rdfs.org/ns/void#triples> ?n ] }}")}
    assert graphs == client.get("/health").json()["graphs"]


def test_openapi_describes_the_routes(client):
    spec = client.get("/openapi.json").json()
    assert {"get", "post"} <= set(spec["paths"]["/sparql"])
    post = spec["paths"]["/sparql"]["post"]["requestBody"]["content"]
    assert {"application/x-www-form-urlencoded", "application/sparql-query"} <= set(post)
    assert client.get("/docs").status_code == 200


def test_result_size_cap(settings):
    from fastapi.testclient import TestClient

    from server.web.app import create_app

    small = settings.model_copy(update={"max_result_bytes": 2000})
    with TestClient(create_app(small)) as c:
        r = c.get("/sparql", params={"query": "SELECT * { ?s ?p ?o }"})
        assert r.status_code == 413 and "2000 bytes" in r.text
        assert c.get("/sparql", params={"query": "ASK {}"}).status_code == 200


_QUERY_STRING_BYTES = [b"%", b"%2", b"%41", b"%C3%A9", b"%C3", b"%ZZ", b"+", b"=", b"&", b"&&", b"a", b"query",
                       "é".encode(), "😀".encode(), b"%F0%9F%98%80", b";", b" ", b"\xff"]


def _parse_qsl_or_error(raw: bytes):
    from urllib.parse import parse_qsl

    try:
        return parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False, encoding="utf-8",
                         errors="strict")
    except UnicodeDecodeError:
        return "error"


def test_query_strings_are_read_as_parse_qsl_reads_them():
    """server/sparql/protocol.py reads query strings from bytes, its own way: the same pairs as
    the standard library's ``parse_qsl``, the same refusals, for any mix of the pieces that matter."""
    from hypothesis import given, settings as hsettings, strategies as st

    from server.sparql.protocol import ProtocolError, parse_query_string

    @hsettings(max_examples=3000, deadline=None)
    @given(st.lists(st.sampled_from(_QUERY_STRING_BYTES) | st.binary(max_size=3), max_size=12))
    def agree(pieces):
        raw = b"".join(pieces)
        expected = _parse_qsl_or_error(raw)
        try:
            got = parse_query_string(raw)
        except ProtocolError:
            got = "error"
        assert got == expected, raw

    agree()
