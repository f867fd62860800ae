"""Versioned dumps of the whole dataset: build them atomically, and read back what was built.

``build`` writes ``<dumps_dir>/<version>/``: the data in five serialisations (see
:data:`DUMPS`), the dataset's VoID/DCAT description ``void.ttl`` and ``SHA256SUMS``. The
directory appears complete or not at all: everything is written into a hidden temporary
directory that is then renamed. Output is deterministic: blank nodes get canonical labels
and statements are sorted, and gzip headers carry no time or name, so the same data gives
byte-identical files. Store layer: nothing here knows about HTTP.

>>> [d.name for d in DUMPS]
['arkg.ttl', 'arkg.nt.gz', 'arkg.nq.gz', 'arkg.trig', 'arkg.jsonld']
>>> by_file_name("arkg.nq.gz").http_media_type
'application/gzip'
>>> valid_version("b4bfc9e5c5f7"), valid_version(".."), valid_version("a/b")
(True, False, False)
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyoxigraph as ox

from server.model import formats
from server.model.namespaces import PREFIXES
from server.settings import Settings
from server.engine.dataset import DataFile, dataset_version
from server.engine.worker import StoreSpec, open_store

if TYPE_CHECKING:
    from server.engine.backend import Backend


@dataclass(frozen=True)
class DumpKind:
    """One serialisation of the whole dataset."""

    name: str  # file name inside the version directory
    format: formats.Format
    gzip: bool
    title: str

    @property
    def quads(self) -> bool:
        """Named graphs kept (TriG, N-Quads, JSON-LD) rather than all graphs merged."""
        return self.format.quads

    @property
    def http_media_type(self) -> str:
        # A .gz file is served as what it is, a gzip file, without Content-Encoding: clients
        # then save it compressed instead of transparently unpacking it.
        return "application/gzip" if self.gzip else self.format.content_type


DUMPS = (
    DumpKind("arkg.ttl", formats.TURTLE, False, "Turtle, all named graphs merged"),
    DumpKind("arkg.nt.gz", formats.NTRIPLES, True, "N-Triples (gzip), all named graphs merged"),
    DumpKind("arkg.nq.gz", formats.NQUADS, True, "N-Quads (gzip), named graphs kept"),
    DumpKind("arkg.trig", formats.TRIG, False, "TriG, named graphs kept"),
    DumpKind("arkg.jsonld", formats.JSONLD, False, "JSON-LD, named graphs kept"),
)
VOID_FILE = "void.ttl"
SUMS_FILE = "SHA256SUMS"
_OTHER_MEDIA_TYPES = {VOID_FILE: formats.TURTLE.content_type, SUMS_FILE: "text/plain; charset=utf-8"}
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def by_file_name(name: str) -> DumpKind | None:
    """The data dump kind stored under file ``name`` (None for void.ttl, SHA256SUMS, others)."""
    return next((d for d in DUMPS if d.name == name), None)


def valid_version(version: str) -> bool:
    """Whether ``version`` can name a version directory (no separators, no dot names)."""
    return bool(_VERSION.fullmatch(version)) and ".." not in version


@dataclass(frozen=True)
class DumpFile:
    name: str
    path: Path
    size: int
    sha256: str

    @property
    def kind(self) -> DumpKind | None:
        return by_file_name(self.name)

    @property
    def media_type(self) -> str:
        """The Content-Type to serve it with."""
        kind = self.kind
        return kind.http_media_type if kind else _OTHER_MEDIA_TYPES.get(self.name, "application/octet-stream")


@dataclass(frozen=True)
class Build:
    """The dumps of one dataset version, as found on disk."""

    version: str
    directory: Path
    files: tuple[DumpFile, ...]  # every file listed in SHA256SUMS, then SHA256SUMS itself
    built_at: float  # mtime of SHA256SUMS: when the build finished

    def file(self, name: str) -> DumpFile | None:
        return next((f for f in self.files if f.name == name), None)

    @property
    def data_files(self) -> tuple[DumpFile, ...]:
        return tuple(f for f in self.files if f.kind is not None)


# --- reading what was built

def read_build(dumps_dir: Path, version: str) -> Build | None:
    """The complete build of ``version`` under ``dumps_dir``, or None if there is none.

    Only files listed in ``SHA256SUMS`` (and that file itself) belong to a build, so
    nothing else in the directory can ever be served.
    """
    if not valid_version(version):
        return None
    directory = Path(dumps_dir) / version
    sums = directory / SUMS_FILE
    try:
        lines = sums.read_text(encoding="utf-8").splitlines()
        built_at = sums.stat().st_mtime
    except (OSError, UnicodeDecodeError):
        return None
    files = []
    for line in lines:
        digest, _, name = line.partition("  ")
        path = directory / name
        if not name or "/" in name or name.startswith(".") or not path.is_file() or path.is_symlink():
            return None  # not a build this module wrote: serve nothing from it
        files.append(DumpFile(name, path, path.stat().st_size, digest))
    files.append(DumpFile(SUMS_FILE, sums, sums.stat().st_size, _sha256(sums)))
    return Build(version, directory, tuple(files), built_at)


def list_builds(dumps_dir: Path) -> list[Build]:
    """Every complete build under ``dumps_dir``, newest first."""
    root = Path(dumps_dir)
    if not root.is_dir():
        return []
    builds = [b for p in root.iterdir() if p.is_dir() and not p.is_symlink()
              if (b := read_build(root, p.name)) is not None]
    return sorted(builds, key=lambda b: (-b.built_at, b.version))


# --- building

def local_source(settings: Settings) -> tuple[StoreSpec, str]:
    """What the embedded backend serves under these settings, and its version."""
    from server.engine.backend import LocalBackend

    backend = LocalBackend(settings)  # only reads the spec and version: starts no workers
    if not backend.spec.files and not backend.spec.disk_path:
        raise ValueError(f"no RDF files under {settings.data_dir} (expected ontology/, shapes/, graphs/<name>/)")
    return backend.spec, backend.version


_building = threading.Lock()  # one build at a time per process; other processes are handled by the rename
_failed: set[str] = set()  # versions whose build failed in this process


def served_build(backend: "Backend", settings: Settings) -> Build | None:
    """The dumps of the version ``backend`` serves; built first if missing and the backend is the embedded store.

    Called at startup and again by the routes, so that dumps follow a reloaded dataset.
    A remote backend's data is not here to dump: None unless `arkg build` made them.
    """
    from server.engine.backend import LocalBackend

    found = read_build(settings.dumps_dir, backend.info.version)
    if found is not None or not isinstance(backend, LocalBackend) or backend.version in _failed:
        return found
    with _building:
        try:
            return build(backend.spec, backend.version, settings.dumps_dir, base_iri=settings.base_iri)
        except Exception:
            _failed.add(backend.version)  # do not retry on every request; the caller logs why
            raise


def build_for(settings: Settings, *, force: bool = False) -> Build:
    """Build the dumps of the data these settings serve, into ``settings.dumps_dir``."""
    spec, version = local_source(settings)
    return build(spec, version, settings.dumps_dir, base_iri=settings.base_iri, force=force)


def build(spec: StoreSpec, version: str, dumps_dir: Path, *, base_iri: str, force: bool = False) -> Build:
    """Write the dumps of the data in ``spec`` as ``dumps_dir/version``; return the build.

    An existing complete build of the version is kept (it holds the same bytes) unless
    ``force``. Concurrent builders (several server processes starting at once) are safe:
    the first rename wins and the others discard their copy.
    """
    if not valid_version(version):
        raise ValueError(f"invalid dataset version {version!r}")
    dumps_dir = Path(dumps_dir)
    existing = read_build(dumps_dir, version)
    if existing is not None and not force:
        return existing
    dumps_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}.", suffix=".tmp", dir=dumps_dir))
    try:
        _check_version(spec, version)
        _write(open_store(spec), staging, version, base_iri)
        _check_version(spec, version)  # the files did not change while they were read
        target = dumps_dir / version
        if force and target.exists():
            old = dumps_dir / f".{version}.{os.getpid()}.old"
            target.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            staging.rename(target)
        except OSError:
            if read_build(dumps_dir, version) is None:  # not a concurrent builder's complete copy
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    result = read_build(dumps_dir, version)
    if result is None:
        raise RuntimeError(f"the dumps of {version} in {dumps_dir} are incomplete after building")
    return result


class DataChanged(RuntimeError):
    """The data files are no longer those of the version being built."""


def _check_version(spec: StoreSpec, version: str) -> None:
    # Dumps are named by version: never label other data with it (files edited after a server loaded them).
    if spec.files:
        actual = dataset_version([DataFile(Path(path), graph.rsplit("/", 1)[-1]) for path, graph in spec.files])
        if actual != version:
            raise DataChanged(f"the data files changed since version {version} was computed (they are now "
                              f"version {actual}); reload the server or run `arkg build` again")


def canonical_quads(store: ox.Store) -> list[ox.Quad]:
    """Every quad of ``store``, blank nodes relabelled canonically, sorted."""
    dataset = ox.Dataset(store)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)  # stable labels for the same data
    return sorted(dataset, key=lambda q: (str(q.graph_name), str(q.subject), str(q.predicate), str(q.object)))


def merged_triples(quads: list[ox.Quad]) -> list[ox.Triple]:
    """The union of the named graphs: each distinct triple once, sorted."""
    return sorted({q.triple for q in quads}, key=lambda t: (str(t.subject), str(t.predicate), str(t.object)))


def _write(store: ox.Store, directory: Path, version: str, base_iri: str) -> None:
    from server.publish import void as metadata

    quads = canonical_quads(store)
    triples = merged_triples(quads)
    for kind in DUMPS:
        statements = quads if kind.quads else triples
        prefixes = PREFIXES if kind.format in (formats.TURTLE, formats.TRIG) else None
        path = directory / kind.name
        if kind.gzip:
            # mtime=0 and no file name in the header: the same data gives the same bytes.
            with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as out:
                ox.serialize(statements, out, kind.format.ox)
        else:
            ox.serialize(statements, str(path), kind.format.ox, prefixes=prefixes)
    data_files = tuple(DumpFile(k.name, directory / k.name, (directory / k.name).stat().st_size,
                                _sha256(directory / k.name)) for k in DUMPS)
    partial = Build(version, directory, data_files, time.time())
    description = metadata.describe(metadata.statistics_of_store(store), partial, metadata.canonical_urls(base_iri))
    ox.serialize(description, str(directory / VOID_FILE), ox.RdfFormat.TURTLE, prefixes=metadata.PREFIXES)
    names = [k.name for k in DUMPS] + [VOID_FILE]
    sums = "".join(f"{_sha256(directory / n)}  {n}\n" for n in names)  # the format `sha256sum -c` reads
    (directory / SUMS_FILE).write_text(sums, encoding="utf-8")
    directory.chmod(0o755)  # mkdtemp makes it private; the dumps are public


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
