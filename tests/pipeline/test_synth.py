"""`arkg synth`: a deterministic synthetic dataset in ARKG's model that `arkg build` builds."""

from __future__ import annotations

import hashlib

import pyoxigraph as ox
import pytest
from typer.testing import CliRunner

from server import paths
from server.cli import app
from server.model.namespaces import ARKG, PREFIXES
from server.pipeline import derive, synth
from server.publish import build as builder
from server.engine.dataset import dataset_files, load_store

SKOS = PREFIXES["skos"]


def _digests(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.nq"))}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    result = CliRunner().invoke(app, ["synth", "--triples", "20000", "--seed", "7", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def store(data):
    return load_store([f for f in dataset_files(data) if f.graph not in ("shapes",)])


def rows(store, query):
    return list(store.query("PREFIX arkg: <%s> PREFIX skos: <%s> " % (ARKG, SKOS) + query, use_default_graph_as_union=True))


def test_same_seed_same_files_other_seed_other_files(data, tmp_path):
    synth.generate(20000, tmp_path / "same", seed=7)
    synth.generate(20000, tmp_path / "other", seed=8)
    assert _digests(tmp_path / "same") == _digests(data)
    assert _digests(tmp_path / "other") != _digests(data)


def test_what_the_real_data_has(store):
    assert int(rows(store, "SELECT (COUNT(*) AS ?n) { ?e skos:altLabel ?v }")[0]["n"].value) > 100
    links = [r["o"].value for r in rows(store, "SELECT ?o { ?e skos:exactMatch ?o }")]
    assert links and all(o.startswith(synth.EXTERNAL) for o in links)  # an example namespace only
    assert not rows(store, 'SELECT ?o { ?e ?p ?o FILTER(STRSTARTS(STR(?o), "http://www.wikidata.org/")) }')
    assert rows(store, "SELECT ?a { ?c arkg:claimant ?a . ?a a arkg:AnonymousAgent } LIMIT 1")
    stances = {r["s"].value.rsplit("#", 1)[1] for r in rows(store, "SELECT DISTINCT ?s { ?c arkg:stance ?s }")}
    assert stances == {"Asserts", "ReportsUncertain", "Denies", "Questions"}


def test_propositions_of_every_status(data):
    props, _ = derive.propositions(data)
    statuses = {p.status for p in props}
    assert {"Contested", "Uncontested", "SingleSource", "OnlyDenied"} <= statuses


def test_never_into_the_published_data(tmp_path):
    for target in (paths.data_root(), paths.data_root() / "graphs", paths.data_root() / "graphs" / "claims"):
        with pytest.raises(synth.SynthError):
            synth.generate(100, target)
    result = CliRunner().invoke(app, ["synth", "--triples", "100", "--out", str(paths.data_root() / "graphs")])
    assert result.exit_code == 2 and "published data" in result.output


@pytest.mark.slow
def test_arkg_build_builds_it(data, tmp_path):
    result = builder.build(tmp_path, data, cache_dir=tmp_path / "cache")
    assert result.layout.complete
    notes = {s.name: s.note for s in result.stages}
    assert notes["validate"].startswith("passed"), notes["validate"]
    figures = __import__("json").loads(result.layout.figures.read_text())
    assert figures["claims"] > 500 and figures["statuses"]
