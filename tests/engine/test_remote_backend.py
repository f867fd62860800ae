"""The remote backend over a real `oxigraph serve` (the `oxigraph` package) on 127.0.0.1.

The engine is loaded through the SPARQL 1.1 Graph Store Protocol, one named graph per data
file, exactly as an operator moving ARKG to an external engine would.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from server.web.app import create_app
from server.engine.dataset import dataset_files

from tests.conftest import free_port

OXIGRAPH = shutil.which("oxigraph") or str(Path(sys.executable).parent / "oxigraph")
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
MEDIA = {".ttl": "text/turtle", ".nt": "application/n-triples", ".trig": "application/trig"}

pytestmark = pytest.mark.skipif(not Path(OXIGRAPH).exists(), reason="the `oxigraph` server package is not installed")


@pytest.fixture(scope="module")
def oxigraph_endpoint(tmp_path_factory):
    port = free_port()
    proc = subprocess.Popen([OXIGRAPH, "serve", "--location", str(tmp_path_factory.mktemp("oxigraph")),
                             "--bind", f"127.0.0.1:{port}", "--union-default-graph", "--timeout-s", "10"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:  # bounded wait for the port
            try:
                httpx.get(base + "/query", params={"query": "ASK {}"}, timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("oxigraph serve did not start")
                time.sleep(0.2)
        for f in dataset_files():  # Graph Store Protocol: POST each file into its named graph
            r = httpx.post(base + "/store", params={"graph": f.graph_iri}, content=f.path.read_bytes(),
                           headers={"Content-Type": MEDIA[f.path.suffix]}, timeout=60)
            assert r.status_code in (200, 201, 204), r.text
        yield base + "/query"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def remote_client(oxigraph_endpoint, settings):
    remote = settings.model_copy(update={"remote_endpoint": oxigraph_endpoint, "query_timeout": 3})
    with TestClient(create_app(remote)) as c:
        yield c


def test_same_dataset_same_answers(remote_client, client):
    assert remote_client.get("/health").json()["triples"] == client.get("/health").json()["triples"]
    assert remote_client.get("/health").json()["graphs"] == client.get("/health").json()["graphs"]
    query = ("SELECT ?claim ?stance WHERE { ?claim <http://www.w3.org/1999/02/22-rdf-syntax-ns#subject> "
             "<https://w3id.org/arkg/id/person/ahmad-massoud> ; <https://w3id.org/arkg/ontology#stance> ?stance } ORDER BY ?claim")
    local = client.get("/sparql", params={"query": query}).json()["results"]["bindings"]
    remote = remote_client.get("/sparql", params={"query": query}).json()["results"]["bindings"]
    assert remote == local and len(local) > 20


def test_negotiation_construct_and_ask_work_on_the_remote(remote_client):
    r = remote_client.get("/sparql", params={"query": "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 5"},
                          headers={"Accept": "application/n-triples"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/n-triples")
    assert len(r.text.strip().splitlines()) == 5
    r = remote_client.get("/sparql", params={"query": "ASK { ?s ?p ?o }"}, headers={"Accept": "text/csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    r = remote_client.post("/sparql", data={"query": COUNT}, headers={"Accept": "application/sparql-results+xml"})
    assert r.status_code == 200 and b"<sparql" in r.content


def test_graph_parameters_and_errors_on_the_remote(remote_client):
    graphs = remote_client.get("/health").json()["graphs"]
    r = remote_client.get("/sparql", params={"query": COUNT,
                                             "default-graph-uri": "https://w3id.org/arkg/graph/sources"})
    assert int(r.json()["results"]["bindings"][0]["n"]["value"]) == graphs["sources"]
    assert remote_client.get("/sparql", params={"query": COUNT, "default-graph-uri": "http://nope/"}).status_code == 400
    r = remote_client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p }"})
    assert r.status_code == 400 and r.text
    assert remote_client.get("/sparql", params={"query": "SELECT * { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }"}).status_code == 400
    assert remote_client.post("/sparql", data={"update": "DROP ALL"}).status_code == 403
    assert remote_client.get("/health").json()["graphs"] == graphs


def test_remote_timeout_is_a_clear_error(remote_client):
    r = remote_client.get("/sparql", params={"query": "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"})
    assert r.status_code == 503 and "time limit of 3 s" in r.text
