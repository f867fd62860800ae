"""server/publish/file_graphs.py: the files' graphs written from the files say what the store holds,
and a graph whose files do not is left to the store."""

from __future__ import annotations

import gzip

import pyoxigraph as ox
import pytest

from server.engine.dataset import DataFile, dataset_files, load_store
from server.publish import build as builder
from server.publish import file_graphs

XSD = "http://www.w3.org/2001/XMLSchema#"


def _lines(path) -> list[bytes]:
    return path.read_bytes().splitlines()


def _store_lines(store: ox.Store, graph, tmp_path) -> list[bytes]:
    out = tmp_path / "from-store.nt"
    store.dump(str(out), ox.RdfFormat.N_TRIPLES, from_graph=graph)
    return _lines(out)


def _files(tmp_path, **texts) -> list[DataFile]:
    """``graph__name="..."``: a file ``name`` of graph ``graph``."""
    found = []
    for key, text in texts.items():
        graph, name = key.split("__")
        path = tmp_path / "data" / "graphs" / graph / name.replace("_", ".")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        found.append(DataFile(path, graph))
    return found


def test_every_graph_of_the_published_files_is_written_as_the_store_dumps_it(tmp_path):
    files = dataset_files()  # Turtle with blank nodes, N-Triples, the derived graphs' files
    store = load_store(files)
    kept = file_graphs.agreeing(file_graphs.write(files, tmp_path / "out"), store)
    assert {g.value for g in kept} == {f.graph_iri for f in files}
    for graph, path in kept.items():
        written, dumped = _lines(path), _store_lines(store, graph, tmp_path)
        assert len(written) == len(dumped) and sorted(written) == sorted(dumped), graph  # blank node labels too


def test_a_literal_the_store_writes_in_another_form_leaves_its_graph_to_the_store(tmp_path):
    files = _files(tmp_path,
                   claims__a_nt=f'<http://s> <http://p> "01"^^<{XSD}integer> .\n',
                   sources__b_nt=f'<http://s> <http://p> "2021-09-06T10:00:00+00:00"^^<{XSD}dateTime> .\n',
                   entities__c_nt=f'<http://s> <http://p> "7"^^<{XSD}integer> .\n<http://s> <http://q> "x"@EN .\n')
    written = file_graphs.write(files, tmp_path / "out")
    assert {g.value.rsplit("/", 1)[1] for g in written} == {"entities"}  # canonical already; the tag as parsed
    store = load_store(files)
    for graph, found in file_graphs.agreeing(written, store).items():
        assert sorted(_lines(found)) == sorted(_store_lines(store, graph, tmp_path))


def test_a_line_repeated_in_two_files_of_one_graph_leaves_it_to_the_store(tmp_path):
    files = _files(tmp_path, entities__a_nt='<http://s> <http://p> "x" .\n<http://s> <http://p> "y" .\n',
                   entities__b_nt='<http://s> <http://p> "x" .\n', claims__c_nt='<http://s> <http://p> "z" .\n')
    written = file_graphs.write(files, tmp_path / "out")
    assert {found.lines for found in written.values()} == {3, 1}
    kept = file_graphs.agreeing(written, load_store(files))
    assert {g.value.rsplit("/", 1)[1] for g in kept} == {"claims"}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [kept[next(iter(kept))].name]  # the other removed


def test_a_quad_in_another_named_graph_leaves_every_graph_to_the_store(tmp_path):
    files = _files(tmp_path, claims__a_nq='<http://s> <http://p> "x" .\n',
                   entities__b_nq='<http://s> <http://p> "y" <https://w3id.org/arkg/graph/entities> .\n'
                                  '<http://s> <http://p> "z" <http://example.org/elsewhere> .\n')
    assert file_graphs.write(files, tmp_path / "out") == {}
    assert list((tmp_path / "out").iterdir()) == []


def test_large_files_are_written_by_a_process_of_their_own_alike(tmp_path, monkeypatch):
    files = dataset_files()
    here = file_graphs.write(files, tmp_path / "here")
    monkeypatch.setattr(file_graphs, "PROCESSES_FROM", 0)
    there = file_graphs.write(files, tmp_path / "there")
    assert here.keys() == there.keys()
    for graph in here:
        assert here[graph].lines == there[graph].lines
        assert here[graph].path.read_bytes() == there[graph].path.read_bytes()


@pytest.mark.parametrize("literal,written,from_store", [(f'"01"^^<{XSD}integer>', 3, 2), ('"plain"', 4, 1)])
def test_the_dumps_of_a_build_say_what_its_store_holds_either_way(tmp_path, literal, written, from_store):
    """Ontology and shapes (the package's) and claims from the files unless its literal is not
    in the store's form; entities (a line in both its files) out of the store."""
    data = tmp_path / "data"
    _files(tmp_path, claims__a_nt=f"<http://s> <http://p> {literal} .\n<http://s> <http://q> _:b .\n",
           entities__a_nt='<http://s> <http://p> "x" .\n', entities__b_nt='<http://s> <http://p> "x" .\n')
    stages = [s for s in builder.STAGES if s.name in ("graphs", "store", "dumps")]
    result = builder.build(tmp_path / "area", data, validate=False, stages=stages)
    notes = {s.name: s.note for s in result.stages}
    assert notes["graphs"] == f"{written} of 4 graphs written from the files"
    assert notes["dumps"].endswith(f"; {from_store} graphs read out of the store")
    store = ox.Store.read_only(str(result.layout.store))
    dumped = gzip.decompress((result.layout.dumps / result.version / "arkg.nq.gz").read_bytes())
    assert sorted(dumped.splitlines()) == sorted(store.dump(format=ox.RdfFormat.N_QUADS).splitlines())
