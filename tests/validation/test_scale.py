"""The build's validation of large stores (server/validation/scale.py): shapes on a sample,
integrity checks over everything. Run here on a small synthetic store with a tiny sample."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from server.engine.dataset import dataset_files
from server.model.namespaces import ARKG, ID, PREFIXES, graph_iri
from server.pipeline import derive, synth
from server.publish.build import DERIVED_GRAPHS
from server.publish.store import build_store
from server.validation import scale

RDF, OA = PREFIXES["rdf"], PREFIXES["oa"]
RDF_TYPE = RDF + "type"


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    """A synthetic dataset with its derived graphs, in an on-disk store as `arkg build` makes it."""
    data = tmp_path_factory.mktemp("synth")
    synth.generate(6000, data, seed=3)
    out = tmp_path_factory.mktemp("store") / "store"
    files = [f for f in dataset_files(data) if f.graph not in DERIVED_GRAPHS]
    build_store(out, files, version="test")
    store = ox.Store(str(out))
    files = {name: tmp_path_factory.mktemp("derived") / f"{name}.nt" for name in DERIVED_GRAPHS}
    derive.write_derived(*derive.propositions(data, store=store), files)
    for name, path in files.items():
        store.bulk_load(path=str(path), format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(graph_iri(name)))
    store.flush()
    del store
    return out


def _copy(store_dir, tmp_path) -> ox.Store:
    """A writable copy of the store (each test breaks its own)."""
    store = ox.Store(str(tmp_path / "copy"))
    store.bulk_extend(ox.Store.read_only(str(store_dir)))
    return store


def test_valid_synthetic_store_passes(store_dir):
    """Every class sampled, the nodes they point to present by type and label only: those
    partial nodes are not judged (they would fail every shape of their class)."""
    store = ox.Store.read_only(str(store_dir))
    picked = scale.sample(store, per_class=4)
    assert picked.partial, "the sample points to nodes it did not pick"
    outcome = scale.validate_store(store, per_class=4)
    assert outcome.passed, outcome.text
    assert 0 < outcome.sampled < len(store) / 2


def test_a_broken_sampled_node_fails(store_dir, tmp_path):
    """A shape violation on a node the sample picks is reported (every anonymous speaker is
    picked with per_class large enough)."""
    store = _copy(store_dir, tmp_path)
    agent = next(q.subject for q in store.quads_for_pattern(None, ox.NamedNode(
        "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), ox.NamedNode(ARKG + "AnonymousAgent"), None))
    for q in list(store.quads_for_pattern(agent, ox.NamedNode("http://purl.org/dc/terms/source"), None, None)):
        store.remove(q)
    outcome = scale.validate_store(store, per_class=10_000)
    assert not outcome.passed
    assert any(v.focus == agent.value.removeprefix(ID) and "dcterms:source" in v.path for v in outcome.violations), \
        outcome.text


def test_integrity_checks_cover_the_whole_store(store_dir, tmp_path):
    """A claim without a stance fails the store check even when the sample misses it."""
    store = _copy(store_dir, tmp_path)
    stance = ox.NamedNode(ARKG + "stance")
    victim = next(store.quads_for_pattern(None, stance, None, ox.NamedNode(graph_iri("claims"))))
    store.remove(victim)
    outcome = scale.validate_store(store, per_class=1)
    assert not outcome.passed
    assert any("claims without exactly one stance" in v.message and victim.subject.value in v.message
               for v in outcome.violations), outcome.text


def _first(store, predicate: str, subject=None):
    return next(store.quads_for_pattern(subject, ox.NamedNode(predicate), None, None))


def _untype(store, node) -> None:
    for q in list(store.quads_for_pattern(node, ox.NamedNode(RDF_TYPE), None, None)):
        store.remove(q)


def _second_subject(store):
    claim = _first(store, RDF + "subject")
    store.add(ox.Quad(claim.subject, claim.predicate, ox.NamedNode(ID + "person/someone-else"), claim.graph_name))
    return claim.subject, "claims without exactly one subject"


def _untyped(predicate: str, check: str):
    """A breakage: the types of what a claim's ``predicate`` names are removed, which ``check`` must catch."""
    def breakage(store):
        claim = _first(store, predicate)
        _untype(store, claim.object)
        return claim.subject, check
    breakage.__name__ = f"untyped_{predicate.rsplit('#', 1)[-1]}"
    return breakage


_untyped_claimant = _untyped(ARKG + "claimant", "claimants that are not typed things")
_untyped_entity = _untyped(RDF + "subject", "claims about an entity that is not a typed thing")
_missing_proposition = _untyped(ARKG + "aboutProposition", "claims whose proposition does not exist")


def _missing_quote(store):
    claim = _first(store, ARKG + "evidence")
    for selector in [q.object for q in store.quads_for_pattern(claim.object, ox.NamedNode(OA + "hasSelector"), None, None)]:
        for q in list(store.quads_for_pattern(selector, ox.NamedNode(OA + "exact"), None, None)):
            store.remove(q)
    return claim.subject, "claims whose evidence has no quote"


@pytest.mark.parametrize("breakage", [_second_subject, _untyped_claimant, _untyped_entity, _missing_proposition,
                                      _missing_quote], ids=lambda b: b.__name__)
def test_each_integrity_check_names_the_broken_claim(store_dir, tmp_path, breakage):
    """Each check of the whole store fails on one broken claim, naming it; the others stay quiet
    where the breakage does not touch them."""
    store = _copy(store_dir, tmp_path)
    assert scale.check_store(store) == []
    claim, check = breakage(store)
    found = {v.message.split(":", 1)[0]: v.message for v in scale.check_store(store)}
    assert check in found, found
    assert claim.value in found[check]
