"""Versioned dumps of the whole dataset: write them out of a build's store, read back what was built.

``arkg build`` (server/publish/build.py) writes ``<build>/dumps/<version>/``: the data in
five serialisations (see :data:`DUMPS`, :func:`write_data_dumps`), the dataset's VoID/DCAT
description ``void.ttl`` and ``SHA256SUMS`` last. The build directory as a whole appears
complete or not at all. The same data gives byte-identical files. Nothing here knows HTTP;
the web server only reads (:func:`read_build`).

>>> [d.name for d in DUMPS]
['arkg.ttl', 'arkg.nt.gz', 'arkg.nq.gz', 'arkg.trig', 'arkg.jsonld']
>>> by_file_name("arkg.nq.gz").http_media_type
'application/gzip'
>>> valid_version("b4bfc9e5c5f7"), valid_version(".."), valid_version("a/b")
(True, False, False)
"""

from __future__ import annotations

import hashlib
import re
import shutil
import multiprocessing
from contextlib import nullcontext
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyoxigraph as ox
from zlib_ng import gzip_ng

from server.model import formats
from server.model.namespaces import PREFIXES


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

    @classmethod
    def of(cls, path: Path) -> "DumpFile":
        """The file at ``path``, measured and hashed now."""
        return cls(path.name, path, path.stat().st_size, sha256(path))

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
    files.append(DumpFile.of(sums))
    return Build(version, directory, tuple(files), built_at)


def list_builds(dumps_dir: Path) -> list[Build]:
    """Every complete build under ``dumps_dir``, newest first."""
    root = Path(dumps_dir)
    if not root.is_dir():
        return []
    builds = [b for p in root.iterdir() if p.is_dir() and not p.is_symlink()
              if (b := read_build(root, p.name)) is not None]
    return sorted(builds, key=lambda b: (-b.built_at, b.version))


# --- writing (``arkg build``, server/publish/build.py)

PROCESSES_FROM = 64 << 20  # bytes of N-Quads (of data files: file_graphs.py) from which a conversion gets a process of its own
# zlib-ng rather than the standard library's zlib: at level 6 the 5M N-Quads (1.7 GB) took
# 6.8 s of CPU instead of 14.0 and came out smaller (81.8 MB instead of 84.1); the same gzip
# format, and the same input still gives the same bytes. Its level 9 took 17.5 s for 81.9 MB,
# level 4 4.2 s for 92.8 MB (bench/README.md, 2026-12-06).
GZIP_LEVEL = 6


def write_data_dumps(store: ox.Store, directory: Path, *, tally=None, ready: dict | None = None) -> tuple[DumpFile, ...]:
    """Stream the data dumps (:data:`DUMPS`) out of ``store`` into ``directory``.

    Nothing is canonicalised in memory, and the same data gives byte-identical files:
    graphs come in a fixed order (:func:`graphs_of`), statements within a graph in the
    store's key order (as pyoxigraph encodes terms: the same for the same data and
    pyoxigraph release) or, for a graph in ``ready``, in its file's order, blank nodes with
    the labels the store was built with (server/publish/store.py makes them the same in
    every build), gzip headers without time or name.

    The store is read once. Reading it is what costs (about 8 µs a quad at 5M triples: every
    term is looked up by its id), while parsing N-Triples costs 1.5 µs (bench/README.md), so:

    1. pyoxigraph writes each graph as N-Triples (:func:`dump_graphs`); ``ready``: the graphs
       already written so, graph -> file (:func:`graph_file`): by the build while it derived,
       and the derived graphs, which derive writes as it makes them;
    2. one pass over those lines writes the N-Quads (the graph added to each line) and the
       merged N-Triples (a triple already stated in an earlier graph left out: see
       :func:`_shared_hashes`);
    3. TriG and JSON-LD are parsed from the N-Quads and Turtle from the merged N-Triples,
       each by pyoxigraph; TriG and JSON-LD in processes of their own beside this one when the
       data is large (:data:`PROCESSES_FROM`).

    ``tally`` (server/publish/void.py ``Tally``) gets the distinct triples' counts per graph.
    """
    directory.mkdir(parents=True, exist_ok=True)
    graphs = graphs_of(store)
    ready = dict(ready or {})
    nq_plain, nt_plain = directory / ".arkg.nq.plain", directory / ".arkg.nt.plain"
    try:
        ready.update(dump_graphs(store, [g for g in graphs if g not in ready], directory))
        parts = [ready[g] for g in graphs]
        merged = _Merged(_shared_hashes(parts))
        with open(nq_plain, "wb") as nq, open(nt_plain, "wb") as nt:
            for graph, part in zip(graphs, parts):
                end = f" {graph} .\n".encode() if isinstance(graph, (ox.NamedNode, ox.BlankNode)) else b" .\n"
                for block in _blocks(part):
                    # A raw newline only ends a line (N-Triples escapes it in literals), and
                    # pyoxigraph ends each with " .": the graph goes in before it.
                    nq.write(block.replace(b" .\n", end) if end != b" .\n" else block)
                    nt.write(merged.new_lines(block))
                part.unlink()
        conversions = [(nq_plain, formats.NQUADS.name, directory / name) for name in ("arkg.trig", "arkg.jsonld")]
        if nq_plain.stat().st_size < PROCESSES_FROM:  # small: two new interpreters would cost more than they save
            for job in conversions:
                _convert(*job)
            conversions = []
        spawn = multiprocessing.get_context("spawn")  # never fork a process with RocksDB's threads
        with ProcessPoolExecutor(max_workers=2, mp_context=spawn) if conversions else nullcontext() as procs, \
                ThreadPoolExecutor(max_workers=2, thread_name_prefix="gzip") as zips:
            pending = [procs.submit(_convert, *job) for job in conversions]
            # zlib-ng compresses without the GIL: beside the Turtle, not after it (at 5M the
            # two took 9.5 s at the end of the build, with a core idle).
            pending += [zips.submit(_gzip_file, plain, directory / name)
                        for plain, name in ((nq_plain, "arkg.nq.gz"), (nt_plain, "arkg.nt.gz"))]
            _convert(nt_plain, formats.NTRIPLES.name, directory / "arkg.ttl")
            if tally is not None:
                _count(store, graphs, b"".join(merged.taken_back), tally)
            for future in pending:
                future.result()
    finally:
        for leftover in [*ready.values(), nq_plain, nt_plain]:
            leftover.unlink(missing_ok=True)
    return tuple(DumpFile.of(directory / k.name) for k in DUMPS)


def dump_graphs(store: ox.Store, graphs: list, directory: Path) -> dict:
    """Write each of ``graphs`` as N-Triples into a hidden file in ``directory``, two at a
    time (pyoxigraph releases the GIL); graph -> file. :func:`write_data_dumps` reads and
    removes them. (A build gives it only the graphs its files could not: server/publish/file_graphs.py.)"""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {g: graph_file(directory, g) for g in graphs}

    def dump(graph) -> None:
        store.dump(str(paths[graph]), ox.RdfFormat.N_TRIPLES, from_graph=graph)

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="dump") as pool:
        list(pool.map(dump, graphs))
    return paths


def graph_file(directory: Path, graph) -> Path:
    """Where one graph's N-Triples wait in ``directory`` for :func:`write_data_dumps` (hidden: not a dump)."""
    return directory / f".graph-{hashlib.sha256(str(graph).encode()).hexdigest()[:16]}.nt"


def graphs_of(store: ox.Store) -> list:
    """The store's graphs in a fixed order: the default graph (if it holds anything), then named graphs by IRI."""
    named = sorted(store.named_graphs(), key=lambda g: (isinstance(g, ox.BlankNode), g.value))
    default = [ox.DefaultGraph()] if next(store.quads_for_pattern(None, None, None, ox.DefaultGraph()), None) else []
    return default + named


BLOCK = 1 << 20  # bytes of whole lines at a time: at 5M, 6.4 s for hashing and both passes (64 MiB: 13.2 s, cache misses)
_line_hash = hash  # per process (PYTHONHASHSEED), which is all a build needs: equal hashes are compared byte for byte


def _blocks(path: Path):
    """The file at ``path`` in blocks of whole lines (about :data:`BLOCK` bytes each)."""
    with open(path, "rb") as f:
        rest = b""
        while chunk := f.read(BLOCK):
            chunk = rest + chunk
            cut = chunk.rfind(b"\n") + 1
            rest = chunk[cut:]
            if cut:
                yield chunk[:cut]
        if rest:
            yield rest + b"\n"


def _hashes(block: bytes) -> np.ndarray:
    lines = block.split(b"\n")
    lines.pop()  # after the last newline
    return np.fromiter(map(_line_hash, lines), dtype=np.int64, count=len(lines))


def _shared_hashes(parts: list[Path]) -> np.ndarray:
    """The hashes (sorted) that more than one line of the N-Triples files ``parts`` has: the
    lines that may state a triple an earlier line states too. Within a graph no triple repeats
    (a store holds a set), so those are triples of two graphs (0.6% of the lines at 5M), which
    the merged dumps state once. Hashing runs in C over blocks (``map``): at 5M a Python loop
    with a BLAKE2b digest a line took 12 s, a join of the graphs in SPARQL 42 s."""
    hashes = np.concatenate([_hashes(block) for part in parts for block in _blocks(part)] or [np.zeros(0, np.int64)])
    hashes.sort()
    return np.unique(hashes[1:][hashes[1:] == hashes[:-1]])


class _Merged:
    """Which lines the merged N-Triples keep: the first of equal lines (graphs in order). Only
    lines whose hash is shared (:func:`_shared_hashes`) are looked at one by one, and compared
    as bytes, so a collision of two different lines never drops one."""

    def __init__(self, shared: np.ndarray):
        self.shared = shared
        self.seen: dict[int, set[bytes]] = {}
        self.taken_back: list[bytes] = []  # the repeats: counted with their whole graph, taken back from the tally

    def new_lines(self, block: bytes) -> bytes:
        """``block`` without the lines an earlier block (or line) stated."""
        if not len(self.shared):
            return block
        hashes = _hashes(block)
        at = np.minimum(np.searchsorted(self.shared, hashes), len(self.shared) - 1)
        marked = np.flatnonzero(self.shared[at] == hashes)  # sorted already: no sort per block, as np.isin does
        if not len(marked):
            return block
        lines = block.split(b"\n")
        dropped = []
        for i in marked.tolist():
            group = self.seen.setdefault(int(hashes[i]), set())
            if lines[i] in group:
                dropped.append(i)
                self.taken_back.append(lines[i] + b"\n")
            else:
                group.add(lines[i])
        if not dropped:
            return block
        kept, start = [], 0
        for i in dropped:  # the runs of lines between dropped ones, joined in C
            kept.append(b"\n".join(lines[start:i]) + b"\n" if i > start else b"")
            start = i + 1
        kept.append(b"\n".join(lines[start:]))  # ends with the block's last newline (lines[-1] is b"")
        return b"".join(kept)


def _count(store: ox.Store, graphs: list, repeated: bytes, tally) -> None:
    """Tell ``tally`` each distinct triple once: whole graphs by aggregates in the engine, then
    the ``repeated`` N-Triples lines (counted again by a later graph) taken back."""
    for graph in graphs:
        tally.add_graph(store, graph)
    for triple in ox.parse(repeated, format=ox.RdfFormat.N_TRIPLES):
        tally(triple, times=-1)


def _convert(source: Path, source_format: str, target: Path) -> None:
    """Parse ``source`` and write it as ``target``'s format, both by pyoxigraph (streaming)."""
    kind = by_file_name(target.name)
    fmt = formats.by_name(source_format, formats.GRAPH).engine_format
    prefixes = PREFIXES if kind.format in (formats.TURTLE, formats.TRIG) else None
    ox.serialize(ox.parse(path=str(source), format=fmt), str(target), kind.format.engine_format, prefixes=prefixes)


def write_sums(directory: Path, files: list[DumpFile]) -> None:
    """``SHA256SUMS`` over ``files`` (the format ``sha256sum -c`` reads), with the digests they
    carry: the last file of a version."""
    sums = "".join(f"{f.sha256}  {f.name}\n" for f in files)
    (directory / SUMS_FILE).write_text(sums, encoding="utf-8")
    directory.chmod(0o755)  # mkdtemp makes directories private; the dumps are public


def _gzip_file(plain: Path, target: Path) -> None:
    """gzip ``plain`` into ``target`` (mtime 0 and no name in the header: the same data gives the same bytes)."""
    with open(plain, "rb") as src, open(target, "wb") as raw, \
            gzip_ng.GzipNGFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_LEVEL) as out:
        shutil.copyfileobj(src, out, 1 << 20)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
