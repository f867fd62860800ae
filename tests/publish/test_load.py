"""`arkg load` into real engines: `oxigraph serve` and Debian's Virtuoso, on 127.0.0.1.

Each test runs the real command (or server/publish/load.py behind it) against a real server
started here with a temporary database, and checks what the engine holds afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time

import httpx
import pytest

from server.engine.dataset import dataset_files
from server.model.namespaces import graph_iri
from server.engine.remote import VERSION_GRAPH, VERSION_PREDICATE
from server.publish import load as loading

from tests.conftest import ARKG
from tests.engine_servers import OxigraphServer, Virtuoso, oxigraph_missing, virtuoso_missing

COUNT_GRAPHS = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
BLANKS = ("SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{g}> {{ ?s ?p ?o FILTER(isBlank(?s) || isBlank(?o)) }} }}")


def engine_counts(engine) -> dict[str, int]:
    r = httpx.post(engine.query_url, data={"query": COUNT_GRAPHS}, headers={"Accept": "application/sparql-results+json"},
                   timeout=60)
    r.raise_for_status()
    counts = {b["g"]["value"]: int(b["n"]["value"]) for b in r.json()["results"]["bindings"]}
    counts.pop(VERSION_GRAPH, None)  # the loaded-version marker, checked by loaded_version()
    return counts


def loaded_version(engine) -> list[str]:
    query = f"SELECT ?v WHERE {{ GRAPH <{VERSION_GRAPH}> {{ ?s <{VERSION_PREDICATE}> ?v }} }}"
    r = httpx.post(engine.query_url, data={"query": query}, headers={"Accept": "application/sparql-results+json"})
    return [b["v"]["value"] for b in r.json()["results"]["bindings"]]


def package_counts() -> dict[str, int]:
    source = loading.open_source(build_dir=_nowhere(), data_dir=None)
    try:
        return source.graph_counts()
    finally:
        source.close()


def _nowhere():
    from pathlib import Path

    return Path("/nonexistent/arkg-build")


def run_load(engine, *extra: str, state, password: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "ARKG_LOAD_PASSWORD"}
    if password is not None:
        env["ARKG_LOAD_PASSWORD"] = password
    user = ["--user", engine.user] if engine.user else []
    return subprocess.run([*ARKG, "load", "--into", engine.query_url, *user, "--state", str(state),
                           "--build-dir", str(_nowhere()), *extra], env=env, capture_output=True, text=True, timeout=600)


def test_graph_store_endpoints_are_derived_for_known_engines_and_asked_for_otherwise():
    assert loading.graph_store_url("http://h:8890/sparql") == "http://h:8890/sparql-graph-crud-auth"
    assert loading.graph_store_url("http://h:7878/query") == "http://h:7878/store"
    assert loading.graph_store_url("http://h:3030/arkg/sparql") == "http://h:3030/arkg/data"
    assert loading.graph_store_url("http://h:7200/repositories/arkg") == "http://h:7200/repositories/arkg/rdf-graphs/service"
    with pytest.raises(loading.LoadError, match="--graph-store"):
        loading.graph_store_url("http://h:7001/api/v1/sparql/x")


@pytest.mark.skipif(oxigraph_missing() is not None, reason=str(oxigraph_missing()))
def test_load_into_oxigraph_keeps_every_named_graph_and_blank_node(tmp_path):
    expected = package_counts()
    assert {graph_iri("derived"), graph_iri("asserted")} <= set(expected)
    with OxigraphServer(tmp_path / "db") as engine:
        done = run_load(engine, "--chunk", "2000", state=tmp_path / "state.json")
        assert done.returncode == 0, done.stderr + done.stdout
        assert engine_counts(engine) == expected
        assert "MISMATCH" not in done.stdout and "triples sent" in done.stdout
        source = loading.open_source(build_dir=_nowhere(), data_dir=None)
        version = source.version
        source.close()
        assert loaded_version(engine) == [version]  # what `arkg serve --remote` reports as its version
        # Loading again from scratch replaces each graph (its first request is a PUT): blank
        # nodes are not duplicated and the counts stay exactly the build's.
        again = run_load(engine, "--chunk", "2000", "--fresh", state=tmp_path / "state.json")
        assert again.returncode == 0, again.stderr
        assert engine_counts(engine) == expected
        r = httpx.post(engine.query_url, data={"query": BLANKS.format(g=graph_iri("shapes"))},
                       headers={"Accept": "application/sparql-results+json"})
        assert int(r.json()["results"]["bindings"][0]["n"]["value"]) > 0


@pytest.mark.skipif(oxigraph_missing() is not None, reason=str(oxigraph_missing()))
def test_a_graph_lost_on_the_engine_is_a_clear_failure_and_fresh_repairs_it(tmp_path):
    with OxigraphServer(tmp_path / "db") as engine:
        assert run_load(engine, state=tmp_path / "s.json").returncode == 0
        r = httpx.delete(engine.graph_store_url, params={"graph": graph_iri("asserted")})
        assert r.status_code in (200, 204)
        resumed = run_load(engine, state=tmp_path / "s.json")  # the state says all landed: only verify
        assert resumed.returncode == 1
        assert graph_iri("asserted") in resumed.stderr and "--fresh" in resumed.stderr
        assert loaded_version(engine) == []  # an engine that does not hold the build claims no version
        assert run_load(engine, "--fresh", state=tmp_path / "s.json").returncode == 0
        assert engine_counts(engine) == package_counts()


@pytest.mark.skipif(oxigraph_missing() is not None, reason=str(oxigraph_missing()))
def test_a_load_cut_short_resumes_from_the_chunks_that_landed(tmp_path):
    expected = package_counts()
    state = tmp_path / "state.json"
    engine = OxigraphServer(tmp_path / "db")
    source = loading.open_source(build_dir=_nowhere(), data_dir=None)
    target = loading.Target(engine.query_url, engine.graph_store_url)
    failure: list[BaseException] = []

    def first_run():
        try:
            loading.load(source, target, state_path=state, chunk_triples=200)
        except BaseException as exc:  # noqa: BLE001 - the failure is the point
            failure.append(exc)

    runner = threading.Thread(target=first_run)
    runner.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # bounded: stop the engine once a few chunks have landed
        if state.exists() and sum(json.loads(state.read_text())["landed"].values()) >= 5:
            break
        time.sleep(0.02)
    engine.stop()
    runner.join(timeout=120)
    assert failure and isinstance(failure[0], loading.LoadError), failure
    assert "run the same command again" in str(failure[0]) or "could not be reached" in str(failure[0])
    landed = sum(json.loads(state.read_text())["landed"].values())

    engine = OxigraphServer(tmp_path / "db")  # same database: what landed is still there
    try:
        target = loading.Target(engine.query_url, engine.graph_store_url)
        report = loading.load(source, target, state_path=_restate(state, target), chunk_triples=200)
        assert report.resumed and not report.mismatches
        assert 0 < report.sent_triples < sum(expected.values())  # the landed chunks were not sent again
        assert landed >= 5 and engine_counts(engine) == expected
    finally:
        engine.stop()
        source.close()


def _restate(state, target):
    """The restarted engine listens on a new port: point the state at it (as an operator would
    by restarting on the same port)."""
    data = json.loads(state.read_text())
    data["target"] = target.graph_store_url
    state.write_text(json.dumps(data))
    return state


@pytest.fixture(scope="module")
def virtuoso(tmp_path_factory):
    reason = virtuoso_missing()
    if reason:
        pytest.skip(reason)
    with Virtuoso(tmp_path_factory.mktemp("virtuoso")) as engine:
        yield engine


def test_load_into_virtuoso_with_digest_authentication(virtuoso, tmp_path):
    expected = package_counts()
    refused = run_load(virtuoso, state=tmp_path / "s.json", password="not-the-password")
    assert refused.returncode == 1 and "refused the credentials" in refused.stderr
    unset = run_load(virtuoso, state=tmp_path / "s.json")
    assert unset.returncode == 2 and "ARKG_LOAD_PASSWORD" in unset.stderr
    done = run_load(virtuoso, "--chunk", "3000", state=tmp_path / "s.json", password=virtuoso.password)
    assert done.returncode == 0, done.stderr + done.stdout
    found = engine_counts(virtuoso)
    # Virtuoso keeps its own system graphs beside ARKG's; ARKG's are exactly the build's.
    assert {g: n for g, n in found.items() if g in expected} == expected
    again = run_load(virtuoso, "--chunk", "3000", "--fresh", state=tmp_path / "s.json", password=virtuoso.password)
    assert again.returncode == 0, again.stderr
    assert {g: n for g, n in engine_counts(virtuoso).items() if g in expected} == expected


def test_package_data_has_the_graphs_the_engine_must_hold():
    # The load's source is the same dataset the embedded store serves: every file's graph is there.
    assert {f.graph_iri for f in dataset_files()} == set(package_counts())


@pytest.mark.skipif(oxigraph_missing() is not None, reason=str(oxigraph_missing()))
def test_load_from_a_build_store(build_dir, tmp_path):
    # `arkg build`'s on-disk store is the source when the build area has one for this data.
    source = loading.open_source(build_dir=build_dir, data_dir=None)
    try:
        assert source.origin.startswith("build store")
        expected = source.graph_counts()
    finally:
        source.close()
    with OxigraphServer(tmp_path / "db") as engine:
        done = subprocess.run([*ARKG, "load", "--into", engine.query_url, "--state", str(tmp_path / "s.json"),
                               "--build-dir", str(build_dir)], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr + done.stdout
        assert "build store" in done.stdout
        assert engine_counts(engine) == expected
