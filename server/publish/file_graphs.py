"""The data files' graphs as N-Triples for the dumps, written from the files instead of the store.

The dumps (server/publish/dumps.py) start from one N-Triples file per graph. Read out of the
on-disk store, a quad costs about 7.6 µs of CPU (every term is looked up by its id in
RocksDB): 42-44 s for the 5M files' graphs, beside derive. Parsed from the data files and
written again by pyoxigraph, it costs about 1.4 µs (bench/README.md, 2026-12-06). The lines
must say what the store holds, so a graph is written from its files only where they agree:

- every quad goes to the graph the store put it in: the file's own graph (or the default
  graph, which the loader sends there); a quad in another named graph sends every graph back
  to the store (:func:`write` returns nothing);
- blank nodes get the labels the loader gives them (``relabelled``, server/engine/dataset.py);
- a typed literal the store would write in another form (``"01"^^xsd:integer`` is stored as
  ``"1"``) sends its graph back to the store; each distinct one is tried in an in-memory store;
- the store holds a set: a graph whose lines outnumber its quads in the store (a line repeated
  in a file, or in two files of one graph) goes back to the store too (:func:`agreeing`).

The lines come in the files' order, the store's come in its key order: both are the same for
the same data, so the dumps stay byte-identical from build to build.

>>> import tempfile, pathlib
>>> from server.engine.dataset import DataFile, load_store
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "a.nt").write_text('<http://s> <http://p> "01"^^<http://www.w3.org/2001/XMLSchema#integer> .\\n')
>>> _ = (d / "b.nt").write_text('<http://s> <http://p> "x" .\\n<http://s> <http://p> "x" .\\n')
>>> files = [DataFile(d / "a.nt", "claims"), DataFile(d / "b.nt", "entities")]
>>> written = write(files, d / "out")
>>> sorted(g.value.rsplit("/", 1)[1] for g in written)  # the integer is not in the store's form
['entities']
>>> sorted(g.value.rsplit("/", 1)[1] for g in agreeing(written, load_store(files)))  # "x" twice, once in the store
[]
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from server.engine.dataset import RDF_EXTENSIONS, DataFile, has_blank_nodes, relabelled
from server.publish.dumps import PROCESSES_FROM, graph_file

_AS_WRITTEN = frozenset(("http://www.w3.org/2001/XMLSchema#string",
                         "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"))


@dataclass(frozen=True)
class GraphFile:
    path: Path  # its N-Triples, hidden in the dumps directory (dumps.graph_file)
    lines: int


class _Elsewhere(Exception):
    """A quad of a file goes to a named graph other than the file's own."""


def write(files: list[DataFile], directory: Path) -> dict[ox.NamedNode, GraphFile]:
    """Each graph of ``files`` that its files give as the store holds it, as N-Triples in
    ``directory``: graph -> file. Large inputs are parsed in a process of their own, so that
    the build's other stages keep this one's GIL."""
    if sum(f.path.stat().st_size for f in files) < PROCESSES_FROM:  # a new interpreter would cost more than it saves
        found = _write(files, directory)
    else:
        spawn = multiprocessing.get_context("spawn")  # never fork a process with RocksDB's threads
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as child:
            found = child.submit(_write, files, directory).result()
    return {ox.NamedNode(iri): GraphFile(Path(path), lines) for iri, (path, lines) in found.items()}


def agreeing(written: dict[ox.NamedNode, GraphFile], store: ox.Store) -> dict[ox.NamedNode, Path]:
    """The graphs of ``written`` with as many lines as the store has quads in them (no line
    repeated), graph -> file; the other files are removed."""
    kept = {}
    for graph, found in written.items():
        counted = store.query(f"SELECT (COUNT(*) AS ?n) {{ GRAPH {graph} {{ ?s ?p ?o }} }}")
        if int(next(counted)["n"].value) == found.lines:
            kept[graph] = found.path
        else:
            found.path.unlink(missing_ok=True)
    return kept


def _write(files: list[DataFile], directory: Path) -> dict[str, tuple[str, int]]:
    """:func:`write`'s work, in whichever process runs it (plain values cross back)."""
    directory.mkdir(parents=True, exist_ok=True)
    by_graph: dict[str, list[DataFile]] = {}
    for f in files:
        by_graph.setdefault(f.graph_iri, []).append(f)
    written, typed = {}, {}
    try:
        for iri, members in by_graph.items():
            graph = ox.NamedNode(iri)
            path, seen, count = graph_file(directory, graph), set(), [0]
            ox.serialize(_triples(members, graph, seen, count), str(path), ox.RdfFormat.N_TRIPLES)
            written[iri], typed[iri] = (str(path), count[0]), seen
    except _Elsewhere:
        for iri in by_graph:
            graph_file(directory, ox.NamedNode(iri)).unlink(missing_ok=True)
        return {}
    changed = _changed_by_store(set().union(*typed.values()))
    for iri in [i for i in written if typed[i] & changed]:
        Path(written.pop(iri)[0]).unlink(missing_ok=True)
    return written


def _triples(files: list[DataFile], graph: ox.NamedNode, typed: set, count: list):
    """The triples ``files`` give ``graph`` as the loader (``load_store``) loads them; adds the
    typed literals' (value, datatype) to ``typed`` and counts the triples in ``count[0]``."""
    default = ox.DefaultGraph()
    for f in files:
        if has_blank_nodes(f.path):
            quads, checked = relabelled(f), False  # the loader puts each of them in the file's graph
        else:
            quads, checked = ox.parse(path=str(f.path), format=RDF_EXTENSIONS[f.path.suffix]), True
        for q in quads:
            if checked and q.graph_name != graph and q.graph_name != default:
                raise _Elsewhere(f.path)
            o = q.object
            if type(o) is ox.Literal and o.datatype.value not in _AS_WRITTEN:
                typed.add((o.value, o.datatype.value))
            count[0] += 1
            yield q.triple


def _changed_by_store(typed: set) -> set:
    """The (value, datatype) pairs of ``typed`` that a store keeps in another form (it keeps
    numbers, booleans, dates and durations as values and writes them canonically)."""
    pairs = sorted(typed)
    probe, predicate = ox.Store(), ox.NamedNode("urn:arkg:probe")
    probe.bulk_extend(ox.Quad(ox.NamedNode(f"urn:arkg:{i}"), predicate, ox.Literal(value, datatype=ox.NamedNode(dt)))
                      for i, (value, dt) in enumerate(pairs))
    stored = ((pairs[int(q.subject.value[len("urn:arkg:"):])], q.object.value) for q in probe)
    return {pair for pair, value in stored if value != pair[0]}
