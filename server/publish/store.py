"""Build a prebuilt on-disk pyoxigraph store from a data directory (``arkg build-store``).

Loading files into memory is right for the curated dataset (well under 2 s), but every
query worker of every server process holds its own copy. For large datasets the store is
built once on disk and opened read-only by all of them (``arkg serve --store DIR``), which
RocksDB allows from several processes at once.

The store is written to a temporary directory beside ``out`` and renamed into place when
complete, so a half-built store is never opened. ``ARKG_VERSION`` in the store directory
records the dataset version (the same content hash the in-memory load reports), which
``backend._disk_version`` reads for ETags and /health.

>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "store"
>>> built = build_store(out)
>>> (out / VERSION_FILE).read_text().strip() == built.version, built.triples > 1000
(True, True)
>>> build_store(out)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
server.publish.store.BuildError: ... already exists and is not empty; remove it or choose another --out
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from server.engine.dataset import dataset_files, dataset_version, load_store

VERSION_FILE = "ARKG_VERSION"


class BuildError(Exception):
    """The store cannot be built; the message says what to change."""


@dataclass(frozen=True)
class Built:
    path: Path
    version: str
    triples: int
    seconds: float


def build_store(out: Path, data_dir: Path | None = None) -> Built:
    """Load the dataset under ``data_dir`` (default: the package's) into a new store at ``out``."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BuildError(f"{out} already exists and is not empty; remove it or choose another --out")
    files = dataset_files(data_dir)
    if not files:
        raise BuildError(f"no RDF files found under {data_dir}; expected ontology/, shapes/ or graphs/<name>/")
    started = time.monotonic()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        store = load_store(files, ox.Store(str(tmp)))
        triples = len(store)
        store.optimize()  # compacted SST files: faster reads for every process that opens it
        store.flush()
        del store  # closes RocksDB before the directory moves
        version = dataset_version(files)
        (tmp / VERSION_FILE).write_text(version + "\n")
        if out.exists():
            out.rmdir()  # empty, checked above
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Built(out, version, triples, time.monotonic() - started)
