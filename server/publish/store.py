"""The on-disk pyoxigraph store of a build (the ``store`` stage of ``arkg build``).

Loading files into memory is right for the curated dataset (well under 2 s), but every
query worker of every server process would hold its own copy. A build writes the store
once on disk and every server process opens it read-only (RocksDB allows several readers
at once), sharing the page cache.

Blank nodes get the same labels in every build of the same files, so the dumps' bytes do
not change from one build to the next: the one loader, ``load_store`` in
server/engine/dataset.py, relabels them from the file's name and their order.

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

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pyoxigraph as ox

from server.engine.dataset import DataFile, load_store

VERSION_FILE = "ARKG_VERSION"


class BuildError(Exception):
    """The store cannot be built; the message says what to change."""


@dataclass(frozen=True)
class Built:
    path: Path
    version: str
    quads: int
    seconds: float


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
    load_store(files, store, advance=advance)
    quads = len(store)
    store.optimize()  # compacted files: faster reads for every process that opens it (0.3 s at 1M)
    store.flush()
    del store  # closes RocksDB: readers open it next
    (out / VERSION_FILE).write_text(version + "\n")
    return Built(out, version, quads, time.monotonic() - started)
