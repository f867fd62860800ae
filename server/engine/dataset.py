"""Which files make up the dataset, which named graph each goes to, and its version.

The data model names the graphs: ``ontology/`` goes to graph ``ontology``, ``shapes/`` to
``shapes``, and ``graphs/<name>/...`` to graph ``<name>``. The SPARQL default graph is
their union.

>>> files = dataset_files()
>>> {f.graph for f in files} >= {'claims', 'entities', 'ontology'}
True
>>> len(dataset_version(files))
12
"""

from __future__ import annotations

import hashlib
import mmap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pyoxigraph as ox

from server import paths
from server.model.namespaces import GRAPHS, graph_iri

RDF_EXTENSIONS = {".ttl": ox.RdfFormat.TURTLE, ".nt": ox.RdfFormat.N_TRIPLES, ".trig": ox.RdfFormat.TRIG,
                  ".nq": ox.RdfFormat.N_QUADS, ".rdf": ox.RdfFormat.RDF_XML, ".jsonld": ox.RdfFormat.JSON_LD}


class DatasetError(Exception):
    """The dataset cannot be loaded; the message names the file and the problem."""


@dataclass(frozen=True)
class DataFile:
    path: Path
    graph: str  # short graph name, one of namespaces.GRAPHS

    @property
    def graph_iri(self) -> str:
        return graph_iri(self.graph)


def dataset_files(root: Path | None = None) -> list[DataFile]:
    """Every RDF file of the dataset under ``root`` (default: the package data), sorted."""
    root = root or paths.data_root()
    found: list[DataFile] = []
    for top, graph in (("ontology", "ontology"), ("shapes", "shapes")):
        # A data directory of graphs without its own (generated data: `arkg synth`) uses the
        # package's: the model its data is written in, and the shapes it must pass.
        own = (root / top).is_dir() or not (root / "graphs").is_dir()
        directory = root / top if own else paths.data_root() / top
        found += [DataFile(p, graph) for p in _rdf_files(directory)]
    graphs = root / "graphs"
    if graphs.is_dir():
        for sub in sorted(p for p in graphs.iterdir() if p.is_dir()):
            if sub.name in GRAPHS:
                found += [DataFile(p, sub.name) for p in _rdf_files(sub)]
    return found


def _rdf_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.rglob("*") if p.suffix in RDF_EXTENSIONS and p.is_file())


def dataset_version(files: list[DataFile]) -> str:
    """A short content hash over graph names and file bytes: changes whenever the data does."""
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.graph.encode() + b"\0" + f.path.name.encode() + b"\0")
        with open(f.path, "rb") as fh:  # in blocks: data files can be gigabytes
            digest.update(hashlib.file_digest(fh, "sha256").digest())
    return digest.hexdigest()[:12]


def has_blank_nodes(path: Path) -> bool:
    """Whether the file may hold blank nodes (``_:`` anywhere, or a syntax with ``[]``)."""
    if path.suffix not in (".nt", ".nq"):
        return True  # Turtle, TriG, RDF/XML, JSON-LD write blank nodes without a label too
    if path.stat().st_size == 0:
        return False
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return data.find(b"_:") != -1  # memchr speed: about a second per GB


def relabelled(f: DataFile) -> Iterator[ox.Quad]:
    """The quads of ``f`` in its named graph, blank nodes labelled from the file and their order."""
    prefix = "b" + hashlib.sha256(f"{f.graph}/{f.path.name}".encode()).hexdigest()[:10] + "n"
    labels: dict[str, ox.BlankNode] = {}
    graph = ox.NamedNode(f.graph_iri)

    def fix(term):
        if isinstance(term, ox.BlankNode):
            found = labels.get(term.value)
            if found is None:
                found = labels[term.value] = ox.BlankNode(f"{prefix}{len(labels)}")
            return found
        return term

    for q in ox.parse(path=str(f.path), format=RDF_EXTENSIONS[f.path.suffix]):
        yield ox.Quad(fix(q.subject), q.predicate, fix(q.object), graph)


def load_store(files: list[DataFile], store: ox.Store | None = None, *,
               advance: Callable[[int], None] = lambda n: None) -> ox.Store:
    """Load ``files`` into their named graphs of ``store`` (default: a new in-memory one): the
    one loader, for workers, the in-process copy, derive, validation and the build.

    Blank nodes get the same labels in every load of the same files (see :func:`relabelled`),
    so every process holding a copy answers byte for byte alike. ``advance`` gets the bytes
    read per file (the build's progress bar).
    """
    store = store if store is not None else ox.Store()
    for f in files:
        try:
            if has_blank_nodes(f.path):
                store.bulk_extend(relabelled(f))
            else:
                store.bulk_load(path=str(f.path), format=RDF_EXTENSIONS[f.path.suffix],
                                to_graph=ox.NamedNode(f.graph_iri))
        except (SyntaxError, ValueError, OSError) as exc:
            raise DatasetError(f"{f.path}: {exc}") from exc
        advance(f.path.stat().st_size)
    return store
