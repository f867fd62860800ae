"""The example queries (graphs/examples/examples.ttl): well formed, served, and each one
answering against the real store through the real endpoint.
"""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from server.model.namespaces import graph_iri

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_FILE = ROOT / "graphs" / "examples" / "examples.ttl"
SH = "http://www.w3.org/ns/shacl#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
NS = "https://w3id.org/arkg/.well-known/sparql-examples#"
FORMS = {"select": "SPARQLSelectExecutable", "ask": "SPARQLAskExecutable", "construct": "SPARQLConstructExecutable"}


def _load() -> ox.Store:
    store = ox.Store()
    store.load(path=str(EXAMPLES_FILE), format=ox.RdfFormat.TURTLE)
    return store


EXAMPLES = _load()
ROWS = list(EXAMPLES.query(f"""SELECT ?ex ?form ?text WHERE {{
    ?ex a <{SH}SPARQLExecutable> ; ?p ?text .
    VALUES (?p ?form) {{ (<{SH}select> "select") (<{SH}ask> "ask") (<{SH}construct> "construct") }} }} ORDER BY ?ex"""))
CASES = [(r["ex"].value, r["form"].value, r["text"].value) for r in ROWS]


def _short(iri: str) -> str:
    return iri.removeprefix(NS)


def test_at_least_twelve_well_formed_examples():
    executables = {q.subject.value for q in EXAMPLES.quads_for_pattern(
        None, ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), ox.NamedNode(SH + "SPARQLExecutable"))}
    assert len(executables) >= 12
    assert {ex for ex, _, _ in CASES} == executables
    assert len(CASES) == len(executables)  # exactly one query text each
    for ex, form, _ in CASES:
        node = ox.NamedNode(ex)
        assert ox.Quad(node, ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
                       ox.NamedNode(SH + FORMS[form])) in EXAMPLES, ex
        for prop in ("label", "comment"):
            (value,) = [q.object for q in EXAMPLES.quads_for_pattern(node, ox.NamedNode(RDFS + prop), None)]
            assert value.language == "en" and len(value.value) > 10, (ex, prop)
        declared = list(EXAMPLES.query(f"SELECT ?p ?ns {{ <{ex}> <{SH}prefixes>/<{SH}declare> [ <{SH}prefix> ?p ; <{SH}namespace> ?ns ] }}"))
        assert len(declared) >= 5, ex


def test_the_questions_researchers_ask_are_covered():
    names = {_short(ex) for ex, _, _ in CASES}
    assert {"claims-about-a-person", "contested-propositions", "meeting-attendance", "everything-a-speaker-claimed",
            "claims-by-anonymous-sources", "spelling-variants", "links-to-wikidata", "claims-per-article-and-stance",
            "timeline-of-events", "claims-with-an-intermediary", "denials", "speakers-per-organisation",
            "claims-in-reader-comments", "the-asserted-graph"} <= names
    assert {form for _, form, _ in CASES} == {"select", "ask", "construct"}


def _run(client, query: str):
    r = client.post("/sparql", data={"query": query},
                    headers={"Accept": "application/sparql-results+json, application/n-triples;q=0.9"})
    assert r.status_code == 200, r.text
    if r.headers["content-type"].startswith("application/n-triples"):
        return list(ox.parse(r.content, format=ox.RdfFormat.N_TRIPLES))
    body = r.json()
    return body["boolean"] if "boolean" in body else body["results"]["bindings"]


def _prefixes_of(ex: str) -> str:
    """PREFIX lines for the example's sh:prefixes declarations, as SHACL-SPARQL processors prepend them."""
    rows = EXAMPLES.query(f"SELECT ?p ?ns {{ <{ex}> <{SH}prefixes>/<{SH}declare> [ <{SH}prefix> ?p ; <{SH}namespace> ?ns ] }} ORDER BY ?p")
    return "".join(f"PREFIX {r['p'].value}: <{r['ns'].value}>\n" for r in rows)


@pytest.mark.parametrize("ex,form,text", CASES, ids=[_short(c[0]) for c in CASES])
def test_example_answers_against_the_real_store(client, ex, form, text):
    if _short(ex) == "the-asserted-graph" and not client.app.state.backend.info.graph_counts.get(graph_iri("asserted")):
        pytest.skip("the `asserted` graph is not in this dataset version yet (it is derived from the claims); "
                    "the query itself is checked for syntax by the endpoint below")
    result = _run(client, text)
    if form == "ask":
        assert result is True
    else:
        assert len(result) > 0, f"{_short(ex)} returned no rows"
    # The same with the sh:prefixes declarations prepended, as a SHACL-SPARQL processor runs it.
    again = _run(client, _prefixes_of(ex) + text)
    assert (again is True) if form == "ask" else len(again) == len(result)


def test_asserted_graph_example_is_valid_sparql(client):
    (text,) = [t for ex, _, t in CASES if _short(ex) == "the-asserted-graph"]
    assert isinstance(_run(client, text), list)


@pytest.mark.parametrize("accept,fmt", [("text/turtle", ox.RdfFormat.TURTLE), ("application/ld+json", ox.RdfFormat.JSON_LD),
                                        ("application/n-triples", ox.RdfFormat.N_TRIPLES)])
def test_served_at_well_known_sparql_examples(client, accept, fmt):
    r = client.get("/.well-known/sparql-examples", headers={"Accept": accept})
    assert r.status_code == 200 and r.headers["content-type"].startswith(accept)
    served = {q.triple for q in ox.parse(r.content, format=fmt)}
    assert served == {q.triple for q in EXAMPLES}  # the examples graph of the store is exactly the file
    again = client.get("/.well-known/sparql-examples", headers={"Accept": accept, "If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


def test_sparql_examples_refuses_unacceptable_formats(client):
    assert client.get("/.well-known/sparql-examples", headers={"Accept": "image/png"}).status_code == 406
