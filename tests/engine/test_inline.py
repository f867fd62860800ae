"""Bounded lookups answered in the server process (sparql/bounded.py, store/inline.py).

What must hold: only queries whose cost is bounded by their result are recognised (checked
against rdflib's own parse of the same text); they get exactly the answer a query worker
gives; a result past the in-process cap is answered in full by a worker; with the cap at
0 nothing is kept in the server process.
"""

from __future__ import annotations

import csv
import io
import itertools
import json

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings as hsettings, strategies as st
from rdflib.plugins.sparql import prepareQuery
from rdflib.term import URIRef, Variable

from server.web.app import create_app
from server.settings import Settings
from server.sparql.bounded import is_bounded
from server.engine.errors import QuerySyntaxError
from server.engine.worker import QueryRequest

ARKG_ID = "https://w3id.org/arkg/id/"

# --- recognition, cross-checked with rdflib's parser

_VARS = ["?s", "?p", "?o", "$o", "?x"]
_IRIS = ["<http://ex.org/a>", "ex:b", ":c", f"<{ARKG_ID}person/ahmad-massoud>"]
_EXTRAS = ["", " FILTER(?o != 1)", " OPTIONAL { ?o ?q ?r }", " . ?o ?q ?r", " # comment\n",
           " VALUES ?o { <http://ex.org/v> }", " BIND(1 AS ?one)", " MINUS { ?s ?p 2 }"]
_MODIFIERS = ["", " LIMIT 5", " OFFSET 3", " LIMIT 5 OFFSET 3", " ORDER BY ?o", " GROUP BY ?s"]
_PREDICATES = _VARS + _IRIS + ["a", "ex:p/ex:q", "ex:p*", "^ex:p", "(ex:p|ex:q)"]
_OBJECTS = _VARS + _IRIS + ['"text"', "42"]


@st.composite
def near_lookups(draw) -> str:
    """SELECT queries around the bounded shape: most pieces keep it, some break it."""
    prologue = "PREFIX ex: <http://ex.org/> PREFIX : <http://ex.org/default#> "
    modifier = draw(st.sampled_from(["", "DISTINCT ", "REDUCED "]))
    projection = draw(st.sampled_from(["*", "?s ?p ?o", "?o", "?x"]))
    where = draw(st.sampled_from(["WHERE ", "", "where"]))
    s = draw(st.sampled_from(_VARS + _IRIS))
    p = draw(st.sampled_from(_PREDICATES))
    o = draw(st.sampled_from(_OBJECTS))
    dot = draw(st.sampled_from(["", " .", "."]))
    extra = draw(st.sampled_from([""] * len(_EXTRAS) + _EXTRAS))  # about half keep the shape
    tail = draw(st.sampled_from([""] * len(_MODIFIERS) + _MODIFIERS))
    if tail.strip().startswith("GROUP"):
        projection = "?s"
    return f"{prologue}SELECT {modifier}{projection} {where}{{ {s} {p} {o}{dot}{extra} }}{tail}"


def _one_lookup_pattern(query: str) -> bool:
    """rdflib's algebra of ``query`` is one triple pattern, constant subject or object,
    distinct variables, under at most Project, Distinct/Reduced and a Slice without offset."""
    node, distinct, projected = prepareQuery(query).algebra["p"], False, set()
    while node.name in ("Slice", "Distinct", "Reduced", "Project"):
        if node.name == "Slice" and node.get("start", 0):
            return False
        distinct = distinct or node.name in ("Distinct", "Reduced")
        if node.name == "Project":
            projected = set(node["PV"])
        node = node["p"]
    if node.name != "BGP" or len(node["triples"]) != 1:
        return False
    s, p, o = node["triples"][0]
    if not all(isinstance(t, (URIRef, Variable)) for t in (s, p, o)):  # a path, a literal
        return False
    variables = [t for t in (s, p, o) if isinstance(t, Variable)]
    if distinct and not projected >= set(variables):  # reads every quad, keeps few rows
        return False
    return not (isinstance(s, Variable) and isinstance(o, Variable)) and len(variables) == len(set(variables))


@hsettings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_lookups())
@example("PREFIX ex: <http://ex.org/> SELECT * { <http://ex.org/a> ?p ?o }")
def test_only_single_pattern_lookups_are_recognised(query):
    if is_bounded(query):
        assert _one_lookup_pattern(query), query


def test_every_single_pattern_lookup_is_recognised():
    """Over all terms in every position, without other clauses: recognised exactly when rdflib
    sees one pattern with a constant subject or object and distinct variables."""
    cases = itertools.chain(
        itertools.product(["*"], _VARS + _IRIS, _PREDICATES, _OBJECTS),
        itertools.product(["DISTINCT *", "DISTINCT ?p", "REDUCED ?s ?p ?o", "?x"], ["?s", "?o", "<http://ex.org/a>", "ex:b"],
                          ["?p", "a", "?o", "ex:p*"], ["?o", "?p", "?s", "ex:b", "<http://ex.org/a>", '"text"']))
    recognised = 0
    for select, s, p, o in cases:
        query = f"PREFIX ex: <http://ex.org/> PREFIX : <http://ex.org/default#> SELECT {select} {{ {s} {p} {o} }}"
        assert is_bounded(query) == _one_lookup_pattern(query), query
        recognised += is_bounded(query)
    assert recognised > 150


@pytest.mark.parametrize("query", [
    f"SELECT ?p ?o WHERE {{ <{ARKG_ID}person/ahmad-massoud> ?p ?o }}",
    "PREFIX ex: <http://ex.org/> SELECT DISTINCT ?s WHERE { ?s a ex:C . } LIMIT 10",
    "prefix ex: <http://ex.org/>\nselect * where {\n  ?s ?p ex:o\n}\n",
    "SELECT $p $o { <http://ex.org/s> ?p ?o }",
])
def test_lookups_as_clients_write_them_are_recognised(query):
    assert is_bounded(query) and _one_lookup_pattern(query)


@pytest.mark.parametrize("query", [
    "SELECT * { <http://ex.org/s> ?p ?o } OFFSET 100000",  # rows read and dropped
    "SELECT * { <http://ex.org/s> ?p ?p }",  # a repeated variable filters
    "SELECT DISTINCT ?p { ?s ?p <http://ex.org/o> }",  # every quad read, a few rows kept
    "SELECT REDUCED ?x { <http://ex.org/s> ?p ?o }",
    "SELECT * { ?s <http://ex.org/p> ?o }",  # no constant subject or object
    "SELECT * FROM <http://ex.org/g> { <http://ex.org/s> ?p ?o }",
    "SELECT * { GRAPH ?g { <http://ex.org/s> ?p ?o } }",
    "SELECT * { <http://ex.org/s> ?p ?o SERVICE <http://ex.org/sparql> { } }",
    "SELECT * { <http://ex.org/s> ?p ?o }" + " " * 5000,  # too long to be a lookup
    "CONSTRUCT WHERE { <http://ex.org/s> ?p ?o }",
])
def test_other_queries_are_not_recognised(query):
    assert not is_bounded(query)


# --- ASK and DESCRIBE for one entity, cross-checked the same way

@st.composite
def near_asks_and_describes(draw) -> str:
    """ASK and DESCRIBE queries around the bounded shapes: most pieces keep them, some break them."""
    prologue = "PREFIX ex: <http://ex.org/> PREFIX : <http://ex.org/default#> "
    if draw(st.booleans()):
        where = draw(st.sampled_from(["", " WHERE", " where", "WHERE"]))
        s, p, o = draw(st.sampled_from(_VARS + _IRIS)), draw(st.sampled_from(_PREDICATES)), draw(st.sampled_from(_OBJECTS))
        dot = draw(st.sampled_from(["", " .", "."]))
        extra = draw(st.sampled_from([""] * len(_EXTRAS) + _EXTRAS))
        tail = draw(st.sampled_from([""] * len(_MODIFIERS) + _MODIFIERS[:4]))
        return f"{prologue}ASK{where} {{ {s} {p} {o}{dot}{extra} }}{tail}"
    described = draw(st.lists(st.sampled_from(_IRIS + ["?s", "*"]), min_size=1, max_size=2))
    where = draw(st.sampled_from(["", "", " WHERE { }", " WHERE { ?s ?p ?o }", " { ?s a ex:C }", " LIMIT 1"]))
    if any(d in ("?s", "*") for d in described) and "?s" not in where:
        where = " WHERE { ?s ?p ?o }"
    return f"{prologue}DESCRIBE {' '.join(described)}{where}"


def _one_entity_ask_or_describe(query: str) -> bool:
    """rdflib's algebra of ``query``: an ASK of one triple pattern (constant subject or object,
    distinct variables, no slice), or a DESCRIBE of one constant IRI with no WHERE clause."""
    algebra = prepareQuery(query).algebra
    if algebra.name == "DescribeQuery":
        return algebra["p"] is None and len(algebra["PV"]) == 1 and isinstance(algebra["PV"][0], URIRef)
    if algebra.name != "AskQuery":
        return False
    node = algebra["p"]
    if node.name == "Project":
        node = node["p"]
    if node.name != "BGP" or len(node["triples"]) != 1:
        return False
    s, p, o = node["triples"][0]
    if not all(isinstance(t, (URIRef, Variable)) for t in (s, p, o)):
        return False
    variables = [t for t in (s, p, o) if isinstance(t, Variable)]
    return not (isinstance(s, Variable) and isinstance(o, Variable)) and len(variables) == len(set(variables))


@hsettings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_asks_and_describes())
@example("PREFIX ex: <http://ex.org/> ASK { ex:a ?p ?o }")
@example("PREFIX ex: <http://ex.org/> DESCRIBE ex:a")
def test_only_one_entity_asks_and_describes_are_recognised(query):
    if is_bounded(query):
        assert _one_entity_ask_or_describe(query), query


def test_every_one_pattern_ask_and_one_iri_describe_is_recognised():
    """All terms in every position of an ASK, every constant in a DESCRIBE: recognised exactly
    when rdflib sees the bounded shape."""
    prologue = "PREFIX ex: <http://ex.org/> PREFIX : <http://ex.org/default#> "
    recognised = 0
    for where, s, p, o in itertools.product(["", " WHERE"], _VARS + _IRIS, _PREDICATES, _OBJECTS):
        query = f"{prologue}ASK{where} {{ {s} {p} {o} }}"
        assert is_bounded(query) == _one_entity_ask_or_describe(query), query
        recognised += is_bounded(query)
    for term in _IRIS:
        query = f"{prologue}DESCRIBE {term}"
        assert is_bounded(query) and _one_entity_ask_or_describe(query), query
    assert recognised > 150


@pytest.mark.parametrize("query", [
    f"ASK {{ <{ARKG_ID}person/ahmad-massoud> ?p ?o }}",
    f"ASK WHERE {{ ?s ?p <{ARKG_ID}person/ahmad-massoud> . }}",
    f"DESCRIBE <{ARKG_ID}person/ahmad-massoud>",
    "PREFIX id: <https://w3id.org/arkg/id/person/>\ndescribe id:ahmad-massoud\n",
])
def test_asks_and_describes_as_clients_write_them_are_recognised(query):
    assert is_bounded(query) and _one_entity_ask_or_describe(query)


@pytest.mark.parametrize("query", [
    "ASK { ?s ?p ?o }",  # no constant: a scan to the first quad outside the default graph
    "ASK { <http://ex.org/s> ?p ?p }",  # a repeated variable: a scan to the first match
    "ASK { <http://ex.org/s> ?p ?o } OFFSET 100000",  # rows read and dropped
    "ASK { <http://ex.org/s> ?p ?o FILTER(?o = 1) }",
    "ASK FROM <http://ex.org/g> { <http://ex.org/s> ?p ?o }",
    "DESCRIBE ?s WHERE { ?s ?p <http://ex.org/o> }",  # every matching subject described
    "DESCRIBE * WHERE { ?s ?p <http://ex.org/o> }",
    "DESCRIBE <http://ex.org/a> <http://ex.org/b>",  # narrow: one IRI only
    "DESCRIBE <http://ex.org/a> FROM <http://ex.org/g>",
    "DESCRIBE <http://ex.org/a> WHERE { }",
    "DESCRIBE <http://ex.org/a>" + " " * 5000,
])
def test_other_asks_and_describes_are_not_recognised(query):
    assert not is_bounded(query)


# --- answers, in the running app

def _rows(body: bytes, fmt: str) -> list:
    if fmt == "json":
        return sorted(json.dumps(b, sort_keys=True) for b in json.loads(body)["results"]["bindings"])
    text = body.decode()
    if fmt in ("csv", "tsv"):
        rows = list(csv.reader(io.StringIO(text), delimiter="," if fmt == "csv" else "\t"))
        return [rows[0]] + sorted(rows[1:])
    return sorted(text.splitlines())  # xml: one result per line in pyoxigraph's output


@pytest.fixture(scope="module")
def entities(client) -> list[str]:
    rows = client.get("/sparql", params={"query": "SELECT DISTINCT ?s { ?c <http://www.w3.org/1999/02/22-rdf-syntax-ns#subject> ?s } LIMIT 12"},
                      headers={"Accept": "application/sparql-results+json"}).json()["results"]["bindings"]
    found = [r["s"]["value"] for r in rows]
    assert len(found) == 12
    return found


@pytest.mark.parametrize("fmt", ["json", "xml", "csv", "tsv"])
def test_inline_answers_are_the_workers_answers(client, entities, fmt):
    backend = client.app.state.backend
    assert backend.inline is not None
    for entity in entities:
        for query in (f"SELECT ?p ?o WHERE {{ <{entity}> ?p ?o }}", f"SELECT ?s ?p WHERE {{ ?s ?p <{entity}> }}"):
            request = QueryRequest(query, fmt, "ttl")
            pooled = client.portal.call(backend.run, request)
            if backend.run_inline(request) is None:  # declined: only past the cap
                assert len(pooled.body) > backend.inline.max_bytes
            inline = backend.inline.run(request, max_bytes=len(pooled.body) + 1)
            assert (inline.kind, inline.format) == (pooled.kind, pooled.format)
            assert _rows(inline.body, fmt) == _rows(pooled.body, fmt), query
            assert len(_rows(inline.body, fmt)) > (1 if fmt in ("csv", "tsv") else 0), query


def test_lookups_over_http_are_answered_in_process(client, entities):
    inline = client.app.state.backend.inline
    before = inline.answered
    query = f"SELECT ?p ?o WHERE {{ <{entities[0]}> ?p ?o }}"
    response = client.get("/sparql", params={"query": query}, headers={"Accept": "text/csv"})
    assert response.status_code == 200 and response.text.startswith("p,o")
    assert inline.answered == before + 1
    assert client.get("/health").json()["inline_lookups"]["answered"] == before + 1
    # default-graph-uri makes the engine skip other graphs' quads: not bounded, so a worker answers
    graph = "https://w3id.org/arkg/graph/entities"
    response = client.get("/sparql", params={"query": query, "default-graph-uri": graph}, headers={"Accept": "text/csv"})
    assert response.status_code == 200 and inline.answered == before + 1


def test_a_bounded_query_with_an_error_gets_the_parsers_400(client):
    query = "SELECT * WHERE { undeclared:x ?p ?o }"
    response = client.get("/sparql", params={"query": query})
    assert response.status_code == 400
    assert "Prefix not found" in response.text and "1:30" in response.text
    with pytest.raises(QuerySyntaxError) as from_worker:  # the same words as a worker's
        client.portal.call(client.app.state.backend.run, QueryRequest(query, "json", "ttl"))
    assert str(from_worker.value) in response.text


def _capped(cap: int, **more) -> Settings:
    """Settings of a one-worker app whose in-process answers stop at ``cap`` bytes."""
    return Settings(query_timeout=5, query_workers=1, public_url="http://testserver/", rate_limit=False,
                    inline_max_bytes=cap, **more)


def test_results_past_the_cap_come_complete_from_a_worker(client, entities):
    small = _capped(300)
    query = f"SELECT ?s ?p WHERE {{ ?s ?p <{entities[0]}> }}"
    expected = client.get("/sparql", params={"query": query}, headers={"Accept": "text/csv"})
    assert len(expected.content) > 300
    with TestClient(create_app(small)) as capped:
        inline = capped.app.state.backend.inline
        response = capped.get("/sparql", params={"query": query}, headers={"Accept": "text/csv"})
        assert response.status_code == 200
        assert _rows(response.content, "csv") == _rows(expected.content, "csv")
        assert (inline.answered, inline.too_large) == (0, 1)
        assert capped.get("/health").json()["inline_lookups"] == {"answered": 0, "over_cap": 1, "failed": 0,
                                                                 "max_bytes": 300}


def test_cap_zero_keeps_no_store_in_the_server_process(entities):
    off = _capped(0)
    with TestClient(create_app(off)) as plain:
        assert plain.app.state.backend.inline is None and "inline_lookups" not in plain.get("/health").json()
        response = plain.get("/sparql", params={"query": f"SELECT * {{ <{entities[0]}> ?p ?o }}"},
                             headers={"Accept": "application/sparql-results+json"})
        assert response.status_code == 200 and response.json()["results"]["bindings"]


# --- ASK and DESCRIBE answers: the workers' bytes, in every format

@pytest.fixture(scope="module")
def described(client, entities) -> list[str]:
    """Entities, plus IRIs whose description follows blank nodes (SHACL shapes' property lists)."""
    query = "SELECT DISTINCT ?s { ?s ?p ?b FILTER(isIRI(?s) && isBlank(?b)) } ORDER BY ?s LIMIT 3"
    rows = client.get("/sparql", params={"query": query},
                      headers={"Accept": "application/sparql-results+json"}).json()["results"]["bindings"]
    with_blank_nodes = [r["s"]["value"] for r in rows]
    assert with_blank_nodes, "the published data has no IRI with a blank node object any more"
    return entities[:6] + with_blank_nodes


def _same_bytes(client, request: QueryRequest) -> bytes:
    backend = client.app.state.backend
    pooled = client.portal.call(backend.run, request)
    inline = backend.inline.run(request, max_bytes=len(pooled.body) + 1)
    assert inline is not None, request.query
    assert (inline.kind, inline.format, inline.body) == (pooled.kind, pooled.format, pooled.body), request.query
    return pooled.body


@pytest.mark.parametrize("fmt", ["json", "xml", "csv", "tsv"])
def test_inline_asks_are_the_workers_asks_byte_for_byte(client, entities, fmt):
    answers = set()
    for entity in entities[:4] + [f"{ARKG_ID}person/no-such-person"]:
        for query in (f"ASK {{ <{entity}> ?p ?o }}", f"ASK WHERE {{ ?s ?p <{entity}> }}"):
            assert is_bounded(query)
            answers.add(_same_bytes(client, QueryRequest(query, fmt, "ttl")))
    assert len(answers) == 2  # both true and false were answered


@pytest.mark.parametrize("fmt", ["ttl", "nt", "jsonld", "rdf", "trig", "nq"])
def test_inline_describes_are_the_workers_describes_byte_for_byte(client, described, fmt):
    for iri in described:
        query = f"DESCRIBE <{iri}>"
        assert is_bounded(query)
        body = _same_bytes(client, QueryRequest(query, "json", fmt))
        assert iri.encode() in body or iri.rsplit("/", 1)[-1].encode() in body, query
    missing = _same_bytes(client, QueryRequest(f"DESCRIBE <{ARKG_ID}person/no-such-person>", "json", fmt))
    assert b"no-such-person" not in missing


def test_describe_and_ask_over_http_are_answered_in_process(client, described):
    inline = client.app.state.backend.inline
    before = inline.answered
    blank = described[-1]  # its description has blank nodes: their triples come too
    response = client.get("/sparql", params={"query": f"DESCRIBE <{blank}>"}, headers={"Accept": "application/n-triples"})
    assert response.status_code == 200 and inline.answered == before + 1
    lines = response.text.splitlines()
    assert any(line.startswith("_:") for line in lines), "the blank nodes' own triples are in the description"
    response = client.get("/sparql", params={"query": f"ASK {{ <{described[0]}> ?p ?o }}"},
                          headers={"Accept": "application/sparql-results+json"})
    assert response.status_code == 200 and response.json()["boolean"] is True
    assert inline.answered == before + 2


def test_a_description_past_the_cap_comes_complete_from_a_worker(client, described):
    small = _capped(300, build_dir=client.app.state.settings.build_dir)
    query = f"DESCRIBE <{described[-1]}>"
    expected = client.get("/sparql", params={"query": query}, headers={"Accept": "application/n-triples"})
    assert len(expected.content) > 300
    with TestClient(create_app(small)) as capped:
        inline = capped.app.state.backend.inline
        response = capped.get("/sparql", params={"query": query}, headers={"Accept": "application/n-triples"})
        assert response.status_code == 200 and response.content == expected.content
        assert (inline.answered, inline.too_large) == (0, 1)
