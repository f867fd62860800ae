"""The on-disk pyoxigraph store of a build (the ``store`` stage of ``arkg build``).

Loading files into memory is right for the curated dataset (well under 2 s), but every
query worker of every server process would hold its own copy. A build writes the store
once on disk and every server process opens it read-only (RocksDB allows several readers
at once), sharing the page cache.

Blank nodes get the same labels in every build of the same files: pyoxigraph's loader
gives each one a random label, which would change the dumps' bytes (and their order,
which follows the store's keys) from one build to the next. Files that may hold blank
nodes are therefore parsed here and their blank nodes relabelled from the file's name
and their order of appearance; files without any (the bulk of a large dataset: no
``_:`` in their bytes) go to pyoxigraph's bulk loader untouched.

``ARKG_VERSION`` in the store directory records the dataset version, which the engine
reads for ETags and /health (``backend._disk_version``).

>>> import tempfile, pathlib
>>> from server.engine.dataset import dataset_files, dataset_version
>>> out = pathlib.Path(tempfile.mkdtemp()) / "store"
>>> files = dataset_files()
>>> built = build_store(out, files, version=dataset_version(files))
>>> (out / VERSION_FILE).read_text().strip() == built.version, built.quads > 1000
(True, True)
>>> build_store(out, files, version="x")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
server.publish.store.BuildError: ... already exists and is not empty; remove it or choose another --out
"""

from __future__ import annotations

import hashlib
import mmap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pyoxigraph as ox

from server.engine.dataset import RDF_EXTENSIONS, DataFile, DatasetError

VERSION_FILE = "ARKG_VERSION"


class BuildError(Exception):
    """The store cannot be built; the message says what to change."""


@dataclass(frozen=True)
class Built:
    path: Path
    version: str
    quads: int
    seconds: float


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


def load(store: ox.Store, files: list[DataFile], *, advance: Callable[[int], None] = lambda n: None) -> None:
    """Add ``files`` to ``store``, each into its named graph; ``advance`` gets bytes read per file."""
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


def build_store(out: Path, files: list[DataFile], *, version: str,
                advance: Callable[[int], None] = lambda n: None) -> Built:
    """Load ``files`` into a new on-disk store at ``out`` (which must not exist or be empty).

    The caller (server/publish/build.py) builds into a staging directory that appears
    complete or not at all; this only refuses to write over something.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BuildError(f"{out} already exists and is not empty; remove it or choose another --out")
    if not files:
        raise BuildError("no RDF files to load; expected ontology/, shapes/ or graphs/<name>/")
    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    store = ox.Store(str(out))
    load(store, files, advance=advance)
    quads = len(store)
    store.optimize()  # compacted files: faster reads for every process that opens it (0.3 s at 1M)
    store.flush()
    del store  # closes RocksDB: readers open it next
    (out / VERSION_FILE).write_text(version + "\n")
    return Built(out, version, quads, time.monotonic() - started)
