"""``arkg build``: everything the web server serves, made before it starts, in one directory.

A build turns a data directory into ``<build area>/<version>/`` (:class:`BuildLayout`,
area ``Settings.build_dir``), through the stages of :data:`STAGES`, in order:

- ``graphs``: the files' graphs written out as N-Triples for the dumps from the files
  themselves (:mod:`server.publish.file_graphs`), in a thread beside the store stage;
- ``store``: the on-disk pyoxigraph store every server process opens read-only
  (:mod:`server.publish.store`), from every file of the data directory except its own
  ``graphs/derived`` and ``graphs/asserted``, which the build makes itself;
- ``search``: the search index (:mod:`server.publish.search_index`), from the files' graphs
  (it reads claims and entities only);
- ``checks``: the integrity checks of validation that read only the files' graphs;
- ``derive``: the propositions and the ``asserted`` graph, by :mod:`server.pipeline.derive`
  reading the store (no copy in memory), written as N-Triples for the dumps and loaded from
  them into the store (a stale file in the data directory gets a warning naming ``arkg derive``);
- ``validate``: SHACL and, with ``--corpus``, the quote and hash checks: complete for
  small datasets (``arkg validate``'s own run), shapes on a sample plus integrity checks
  over the whole store for large ones (:mod:`server.validation.scale` says what and why;
  those over the files' graphs alone run as ``checks`` beside derive);
  a dataset version that passed before is not validated again (validation cache);
- ``statistics``: VoID's counts that the dumps do not give (:mod:`server.publish.void`);
- ``figures``: the totals and top lists pages show (:mod:`server.publish.figures`
  documents their shape);
- ``dumps``: five serialisations streamed out of the store (:mod:`server.publish.dumps`);
- ``void``: the VoID/DCAT description (canonical URLs) beside the dumps and as ``void.ttl``,
  then ``SHA256SUMS``;
- ``figures.json``: the figures, with the distinct triples the dumps counted.

Derive is the last stage that writes the store. Stages marked ``beside`` run while the
next ones do: ``graphs`` and ``figures`` in threads; with a large store (:data:`BESIDE_FROM`
quads), search, checks, validate and statistics (they only read) in processes of their own:
search and checks over a snapshot of the files' store while derive runs, the others while
this one writes the dumps. On two cores that took the build at 5M triples from 510 to 235 s,
with the graphs from the files and search and checks beside derive to 170-203 s, and
without full garbage collections (:func:`young_collections_only`) to 155-164 s
(bench/README.md). A stage that reads what one of them makes names it in ``needs``.

To add a stage, write ``def _my_stage(ctx: Context, bar: Bar) -> str`` (the returned text is
its line in the summary; ``ctx.store`` is the build's open store, ``ctx.layout`` names the
output files) and append ``Stage("name", "what it does", _my_stage)`` to :data:`STAGES`.

Everything is written into a hidden staging directory in the build area; the manifest
(``build.json``: what was built from which files, each stage's time and peak memory) is
written last, and only then is the staging directory renamed to ``<version>``. A failed or
interrupted build leaves nothing a server would read, and the builds of other versions
(the one being served) untouched. Older builds beyond :data:`KEEP` are removed.
"""

from __future__ import annotations

import ctypes
import dataclasses
import fcntl
import gc
import itertools
import json
import os
import resource
import shutil
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pyoxigraph as ox

from server import __version__
from server.engine.dataset import DataFile, dataset_files, dataset_version
from server.model.build_layout import BuildLayout
from server.model.namespaces import graph_iri
from server.publish import dumps, figures, file_graphs
from server.publish import store as store_build
from server.publish import void as metadata

DERIVED_GRAPHS = ("derived", "asserted")  # written by the derive stage, never read from the data directory
DERIVE_CHUNK = 250_000  # derived quads per bulk load (memory, see _derive)
KEEP = 3  # complete builds kept in the area: the new one, the one a server may still read, one more
MANIFEST_SCHEMA = 1


class BuildFailed(Exception):
    """The build stopped; the message (a validation report, a parse error) says what to fix."""


@dataclass
class Context:
    """What the stages share: inputs, the staging layout, and what earlier stages made."""

    data_dir: Path | None
    files: list[DataFile]  # the dataset's files, without the derived graphs
    version: str
    layout: BuildLayout  # the staging directory's layout
    base_iri: str
    cache_dir: Path
    corpus: Path | None = None
    validate: bool = True
    store: ox.Store | None = None
    quads: int | None = None  # in the store, as the last stage that wrote it (store, then derive) counted them
    tally: metadata.Tally | None = None
    statistics: dict | None = None  # VoID's rows that the dumps' tally does not give (the statistics stage)
    figures: dict | None = None  # figures.json but the triples, which the dumps' tally counts (the figures stage)
    graph_files: dict | None = None  # graph -> its N-Triples from the files (file_graphs.GraphFile: the graphs stage)
    derived_dumps: dict | None = None  # the same, of the graphs derive writes (the derive stage)
    dump_files: tuple = ()  # the data dumps with their sizes and SHA-256 (the dumps stage)
    warnings: list[str] = field(default_factory=list)

    def quad_count(self) -> int:
        """Quads in the store, as the stage that last wrote it counted them (counting again takes 1.6 s at 5M)."""
        return self.quads if self.quads is not None else len(self.store)


class Bar:
    """A stage's progress bar (rich), or nothing when there is no console."""

    def __init__(self, progress=None, task=None):
        self.progress, self.task = progress, task

    def total(self, n: float) -> None:
        if self.progress is not None:
            self.progress.update(self.task, total=n)

    def advance(self, n: float = 1) -> None:
        if self.progress is not None:
            self.progress.advance(self.task, n)


@dataclass(frozen=True)
class Stage:
    name: str
    title: str
    run: Callable[[Context, Bar], str]
    beside: str | None = None  # PROCESS or THREAD: runs beside the next stages (see _run)
    writes: bool = False  # writes the store (a PROCESS stage started before one reads a snapshot)
    needs: tuple[str, ...] = ()  # stages whose results this one reads (waited for if they run beside)
    gives: tuple[str, ...] = ()  # the Context fields it fills (sent back from its own process)


# --- the stages

def _derived_graphs() -> dict[str, ox.NamedNode]:
    return {name: ox.NamedNode(graph_iri(name)) for name in DERIVED_GRAPHS}


def _graphs(ctx: Context, bar: Bar) -> str:
    # Only the files are read, beside the store stage (its bulk load leaves part of the second
    # core idle); the dumps stage keeps the graphs that say what the store holds.
    ctx.graph_files = file_graphs.write(ctx.files, ctx.layout.dumps / ctx.version)
    return f"{len(ctx.graph_files)} of {len({f.graph for f in ctx.files})} graphs written from the files"


def _derive(ctx: Context, bar: Bar) -> str:
    from server import paths
    from server.pipeline import derive

    try:  # over the build's store: no second, in-memory copy of the claims
        props, labels = derive.propositions(ctx.data_dir, store=ctx.store)
    except derive.DeriveError as exc:
        raise BuildFailed(f"derive: {exc}") from exc
    root = ctx.data_dir or paths.data_root()
    if any(p.is_file() for p in derive.output_paths(root).values()):  # the text only when there is a file to compare
        for out in derive.render_outputs(root, props, labels):
            if out.path.is_file() and out.path.read_text(encoding="utf-8") != out.text:
                ctx.warnings.append(f"{out.path} is not what `arkg derive` makes of these claims; the build uses "
                                    f"the derived graph (run `arkg derive` to update the file)")
    # Written as the N-Triples the dumps stream (they are not read back out of the store, 27 s
    # of CPU at 5M) and loaded from those lines in chunks (one bulk load buffers them all).
    bar.total(2 * len(props))  # written, then loaded
    directory = ctx.layout.dumps / ctx.version
    directory.mkdir(parents=True, exist_ok=True)
    graphs = _derived_graphs()
    files = {name: dumps.graph_file(directory, graph) for name, graph in graphs.items()}
    written = derive.write_derived(props, labels, files)
    bar.advance(len(props))
    for name, path in files.items():
        with open(path, "rb") as lines:
            while chunk := b"".join(itertools.islice(lines, DERIVE_CHUNK)):
                ctx.store.bulk_load(chunk, ox.RdfFormat.N_TRIPLES, to_graph=graphs[name])
        bar.advance(len(props) / 2)
    ctx.derived_dumps = {graphs[name]: path for name, path in files.items()}
    count = sum(written.values())
    ctx.store.optimize()
    ctx.store.flush()
    ctx.quads = len(ctx.store)
    return f"{len(props):,} propositions, {count:,} derived quads; {ctx.quads:,} quads in the store"


def _store(ctx: Context, bar: Bar) -> str:
    bar.total(sum(f.path.stat().st_size for f in ctx.files))
    built = store_build.build_store(ctx.layout.store, ctx.files, version=ctx.version, advance=bar.advance)
    ctx.store, ctx.quads = ox.Store(str(ctx.layout.store)), built.quads
    return f"{built.quads:,} quads from {len(ctx.files)} files"


def _validation_key(ctx: Context) -> str:
    return ctx.version + ("+corpus" if ctx.corpus else "")


def _not_validating(ctx: Context) -> str | None:
    """The summary line of a validation stage that has nothing to do (switched off, or this
    version passed before), else None."""
    from server.validation import cache

    if not ctx.validate:
        return "skipped (validate_on_start is off)"
    if cache.passed(ctx.cache_dir, _validation_key(ctx)):
        return "passed before (validation cache)"
    return None


def _checks(ctx: Context, bar: Bar) -> str:
    from server.validation import report, scale

    if skipped := _not_validating(ctx):
        return skipped
    quads = ctx.quad_count()
    if quads <= scale.FULL_LIMIT:  # the files only (derive has not run): a complete validation follows
        return "in the complete validation"
    started = time.monotonic()
    violations = scale.check_store(ctx.store, scale.FILE_CHECKS)
    if violations:  # reported as validation reports them
        raise BuildFailed(report.render(violations, triples=quads, files=0, seconds=time.monotonic() - started,
                                        engine=f"{len(scale.FILE_CHECKS)} integrity checks over every claim"))
    return f"passed ({len(scale.FILE_CHECKS)} checks over every claim)"


def _validate(ctx: Context, bar: Bar) -> str:
    from server.validation import cache, scale
    from server.validation.run import validate

    if skipped := _not_validating(ctx):
        return skipped
    bar.total(1)
    quads = ctx.quad_count()
    if quads <= scale.FULL_LIMIT:
        result = validate(ctx.data_dir, corpus=ctx.corpus)
        passed, text, how = result.passed, result.text, "complete"
    else:
        outcome = scale.validate_store(ctx.store, checks=scale.DERIVED_CHECKS)  # the others: the checks stage
        passed, text, how = outcome.passed, outcome.text, f"sample of {outcome.sampled:,} triples + store checks"
        if ctx.corpus is not None:
            ctx.warnings.append("--corpus: quotes are checked against the texts only in a complete validation "
                                f"(up to {scale.FULL_LIMIT:,} triples)")
    bar.advance()
    if not passed:
        raise BuildFailed(text)
    cache.remember(ctx.cache_dir, _validation_key(ctx))
    return f"passed ({how})"


def _dumps(ctx: Context, bar: Bar) -> str:
    directory = ctx.layout.dumps / ctx.version
    bar.total(len(dumps.DUMPS))
    ctx.tally = metadata.Tally()
    # Graphs already written as N-Triples: the files' where they say what the store holds (the
    # others are read out of the store), and derive's own.
    ready = {**file_graphs.agreeing(ctx.graph_files or {}, ctx.store), **(ctx.derived_dumps or {})}
    read = len(dumps.graphs_of(ctx.store)) - len(ready)
    files = ctx.dump_files = dumps.write_data_dumps(ctx.store, directory, tally=ctx.tally, ready=ready)
    bar.advance(len(dumps.DUMPS))
    return f"{len(files)} files, {sum(f.size for f in files) / 2**20:.1f} MiB; {read} graphs read out of the store"


def _statistics(ctx: Context, bar: Bar) -> str:
    ctx.statistics = metadata.store_rows(ctx.store, skip=metadata.Tally.COUNTS)  # the others: the dumps' tally
    return f"{len(ctx.statistics)} queries"


def _void(ctx: Context, bar: Bar) -> str:
    directory = ctx.layout.dumps / ctx.version
    stats = metadata.statistics_from({**ctx.statistics, **ctx.tally.rows()})
    # The dumps stage's digests: hashing 2.2 GB again, twice, took 4-5 s at the build's end (5M).
    partial = dumps.Build(ctx.version, directory, ctx.dump_files, time.time())
    description = metadata.describe(stats, partial, metadata.canonical_urls(ctx.base_iri))
    ox.serialize(description, str(directory / dumps.VOID_FILE), ox.RdfFormat.TURTLE, prefixes=metadata.PREFIXES)
    shutil.copyfile(directory / dumps.VOID_FILE, ctx.layout.void)
    dumps.write_sums(directory, [*ctx.dump_files, dumps.DumpFile.of(directory / dumps.VOID_FILE)])
    return f"{len(description)} triples; {stats.triples:,} distinct data triples"


def _figures(ctx: Context, bar: Bar) -> str:
    ctx.figures = found = figures.aggregates(ctx.store, version=ctx.version)
    return f"{found['claims']:,} claims, {found['propositions']:,} propositions, {found['entities']:,} entities"


def _figures_file(ctx: Context, bar: Bar) -> str:
    figures.write({**ctx.figures, "triples": ctx.tally.triples}, ctx.layout.figures)
    return f"{ctx.layout.figures.stat().st_size / 1024:.1f} KiB"


def _search(ctx: Context, bar: Bar) -> str:
    import sqlite3

    from server.publish.search_index import build_search_index

    try:
        build_search_index(ctx.store, ctx.layout.search_index)
    except sqlite3.Error as exc:  # "database or disk is full" above all: an operator's problem, said in one line
        raise BuildFailed(f"search index: {exc} (writing {ctx.layout.search_index.parent})") from exc
    return f"{ctx.layout.search_index.stat().st_size / 2**20:.1f} MiB"


PROCESS, THREAD = "process", "thread"
STAGES: list[Stage] = [
    Stage("graphs", "the files' graphs as N-Triples", _graphs, beside=THREAD, gives=("graph_files",)),
    Stage("store", "on-disk store of the files", _store, writes=True),
    # Beside derive, over a snapshot of the files' store: it reads claims and entities only
    # (tests/publish/test_search_index.py), and derive leaves the second core half idle.
    Stage("search", "search index", _search, beside=PROCESS),
    # So are the integrity checks that read only the files' graphs (server/validation/scale.py).
    Stage("checks", "integrity checks over every claim", _checks, beside=PROCESS),
    Stage("derive", "propositions and the asserted graph", _derive, writes=True),
    # After the checks: a validation it caches as passed must include theirs.
    Stage("validate", "SHACL shapes and checks", _validate, beside=PROCESS, needs=("checks",)),
    # Two processes at a time (see _Beside) keep the build under 2 GiB at 5M.
    Stage("statistics", "VoID statistics of the store", _statistics, beside=PROCESS, gives=("statistics",)),
    # Beside as well (alone at the end it kept one core idle for its 15 s at 5M), in a thread:
    # its queries run without the GIL, and a third process beside would pass 2 GiB at 5M.
    # After the processes: they reopen the store read-only, which this thread then reads.
    Stage("figures", "totals and top lists for the pages", _figures, beside=THREAD, gives=("figures",)),
    Stage("dumps", "dumps streamed out of the store", _dumps, needs=("graphs",)),
    Stage("void", "VoID/DCAT and SHA256SUMS", _void, needs=("statistics",)),
    Stage("figures.json", "figures.json with the dumps' triple count", _figures_file, needs=("figures",)),
]
BESIDE_FROM = 1_000_000  # quads from which `beside` stages run in processes of their own (each costs an interpreter)


# --- running a build

@dataclass
class StageReport:
    name: str
    seconds: float
    cpu_seconds: float  # user + system time of this process (on a shared machine, less noisy than wall time)
    peak_rss_mib: float  # of the process that ran it, so far (VmHWM never decreases)
    note: str
    started: float = 0.0  # time.monotonic() at its start (the same clock in every process)


@dataclass
class Result:
    layout: BuildLayout
    version: str
    built: bool  # False: an up-to-date build existed
    stages: list[StageReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


def inputs(data_dir: Path | None) -> tuple[list[DataFile], str]:
    """The files a build reads (the derived graphs excluded) and the dataset version: the
    content hash of every dataset file, the one the server compares with its build's."""
    every = dataset_files(data_dir)
    return [f for f in every if f.graph not in DERIVED_GRAPHS], dataset_version(every)


def current(area: Path, data_dir: Path | None) -> BuildLayout | None:
    """The complete build of the data in ``data_dir`` in ``area``, or None (missing or stale)."""
    _, version = inputs(data_dir)
    layout = BuildLayout.of(area, version)
    return layout if layout is not None and layout.complete else None


def _peak_mib() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: a spawned process's ru_maxrss starts at
    its parent's peak (it survives fork and exec), so the stages run beside would all show the
    build's."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(area: Path, data_dir: Path | None = None, *, base_iri: str = "https://w3id.org/arkg/",
          cache_dir: Path = Path("var/cache"), corpus: Path | None = None, validate: bool = True,
          force: bool = False, console=None, stages: list[Stage] | None = None) -> Result:
    """Build the data in ``data_dir`` into ``area/<version>/``; an existing complete build
    of that version is kept unless ``force``. ``console``: a rich Console for the bars."""
    started = time.monotonic()
    files, version = inputs(data_dir)
    if not files:
        raise BuildFailed(f"no RDF files under {data_dir} (expected ontology/, shapes/, graphs/<name>/)")
    area = Path(area)
    target = BuildLayout.of(area, version)
    if target.complete and not force:
        return Result(target, version, built=False)
    area.mkdir(parents=True, exist_ok=True)
    # One builder per version at a time (each worker process of a server reloads on SIGHUP):
    # the others wait here, then find the build complete.
    with open(area / f".{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.complete and not force:
            return Result(target, version, built=False)
        result = _build_locked(ctx_args=(data_dir, files, version, base_iri, cache_dir, corpus, validate),
                               area=area, target=target, console=console, stages=stages, started=started)
    prune(area, keep=KEEP)
    return result


def _build_locked(*, ctx_args, area: Path, target: BuildLayout, console, stages, started: float) -> Result:
    data_dir, files, version, base_iri, cache_dir, corpus, validate = ctx_args
    staging = Path(tempfile.mkdtemp(prefix=f".{version}.", suffix=".tmp", dir=area))
    ctx = Context(data_dir, files, version, BuildLayout(staging), base_iri, cache_dir, corpus, validate)
    result = Result(target, version, built=True)
    try:
        with young_collections_only():
            result.stages = _run(ctx, stages if stages is not None else STAGES, console)
        ctx.store = None  # closes RocksDB before the directory moves
        result.seconds = time.monotonic() - started
        result.warnings = ctx.warnings
        _write_manifest(ctx, result, started)
        staging.chmod(0o755)
        if target.root.exists():  # forced, or an incomplete leftover: replaced
            old = area / f".{version}.{os.getpid()}.old"
            target.root.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        staging.rename(target.root)
    except BaseException as exc:
        # A stage's frames still hold the open store (RocksDB keeps writing files from its own
        # threads): clear them so the store closes before its directory is removed.
        traceback.clear_frames(exc.__traceback__)
        raise
    finally:
        ctx.store = None
        gc.collect()
        shutil.rmtree(staging, ignore_errors=True)
    return result


FULL_COLLECTIONS_AFTER = 1 << 30  # middle-generation collections before a full one (CPython's default: 10)


@contextmanager
def young_collections_only():
    """No full collections of the cyclic garbage collector while stages run: they build
    millions of objects that live until the stage ends (derive's claims and propositions),
    and CPython collected everything each time the survivors grew by a quarter. At 5M triples
    that was 18 full collections, 8.3 s of the build process's CPU (derive 5.5 s of them), and
    2.9 s in one stage's process (bench/README.md, 2026-12-07). The young generations are
    still collected, so short-lived cycles are freed as before."""
    before = gc.get_threshold()
    gc.set_threshold(before[0], before[1], FULL_COLLECTIONS_AFTER)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _run(ctx: Context, stages: list[Stage], console) -> list[StageReport]:
    """Run ``stages`` in order. A stage ``beside`` starts at its turn and runs while the next
    ones do (once the stages it ``needs`` are done), until the first stage that ``needs`` it
    (or the end): a THREAD stage in a thread of this process, reading the store as the next
    stages write it; a PROCESS stage, with a large store, in a process of its own (only
    reading it, or a snapshot of it if a stage that ``writes`` comes later). Reports come in
    the order of ``stages``."""
    reports: dict[str, StageReport] = {}
    with _Bars(console) as bars, _Beside(bars) as beside:
        for i, stage in enumerate(stages):
            if stage.beside == THREAD or (stage.beside == PROCESS and beside.wanted(ctx)):
                reports.update(beside.wait(ctx, list(stage.needs)))
                beside.start(stage, ctx, writes_ahead=any(s.writes for s in stages[i + 1:]))
                continue
            reports.update(beside.wait(ctx, list(stage.needs)))
            reports.update(beside.finished(ctx))  # a failed validation stops the build here
            bar = bars.start(stage)
            t, c = time.monotonic(), _cpu()
            note = stage.run(ctx, bar)
            reports[stage.name] = StageReport(stage.name, time.monotonic() - t, _cpu() - c, _peak_mib(), note, t)
            bars.done(stage, reports[stage.name])
        reports.update(beside.wait(ctx))
    return [reports[s.name] for s in stages]


def _in_process(stage: Stage, ctx: Context, store: Path) -> tuple[StageReport, list[str], dict]:
    """A PROCESS stage in its own process, over the build's store (or a snapshot of it) opened read-only."""
    ctx.store = ox.Store.read_only(str(store))
    with young_collections_only():
        return _in_thread(stage, ctx, clock=_cpu)


def _in_thread(stage: Stage, ctx: Context, clock=time.thread_time) -> tuple[StageReport, list[str], dict]:
    """Run a stage beside the others on its own copy of ``ctx``: its report, its warnings and
    the fields it ``gives`` (``clock``: this thread's CPU time, or the whole process's)."""
    t, c = time.monotonic(), clock()
    note = stage.run(ctx, Bar())
    report = StageReport(stage.name, time.monotonic() - t, clock() - c, _peak_mib(), note, t)
    _give_back_memory()  # a thread's freed heap stays in its arena otherwise (the figures at 1M: 295 -> 253 MiB)
    return report, ctx.warnings, {name: getattr(ctx, name) for name in stage.gives}


class _Beside:
    """The stages running beside the others: in threads, or in processes of their own
    (pebble: killed if the build stops).

    Processes only from :data:`BESIDE_FROM` quads: below, a new interpreter costs more than it
    saves. A process started while stages that write the store are still to come reads a
    snapshot of it (RocksDB's checkpoint: hard links to its files, made in a moment), removed
    when it is done. Once every writer is done, the first process has the store reopened
    read-only, so that every process reads the same files while nothing compacts them."""

    def __init__(self, bars: "_Bars"):
        self.bars = bars
        self.pool = None
        self.threads = None
        self.running: dict[str, tuple] = {}  # name -> (future, stage)
        self.snapshots: dict[str, Path] = {}  # name -> the snapshot its process reads
        self.read_only = False  # the store reopened read-only (no stage writes it any more)

    def wanted(self, ctx: Context) -> bool:
        return ctx.quad_count() >= BESIDE_FROM

    def start(self, stage: Stage, ctx: Context, *, writes_ahead: bool) -> None:
        self.bars.start(stage)
        if stage.beside == THREAD:
            if self.threads is None:
                self.threads = ThreadPoolExecutor(thread_name_prefix="stage")
            future = self.threads.submit(_in_thread, stage, dataclasses.replace(ctx, warnings=[]))
            self.running[stage.name] = (future, stage)
            return
        if self.pool is None:
            import multiprocessing

            from pebble import ProcessPool

            # spawn: never fork a process with RocksDB's threads; one task each: a process
            # that is done exits and gives its memory back. Two at a time: with three (400-570
            # MiB each at 5M) beside the dumps, the build's tree passed 2 GiB.
            self.pool = ProcessPool(max_workers=2, max_tasks=1, context=multiprocessing.get_context("spawn"))
        if writes_ahead:
            store = self.snapshots[stage.name] = ctx.layout.root / f".snapshot-{stage.name}"
            ctx.store.flush()
            ctx.store.backup(str(store))
        else:
            store = ctx.layout.store
            if not self.read_only:
                ctx.store.flush()
                ctx.store = None
                gc.collect()  # closes the writable store
                _give_back_memory()
                ctx.store = ox.Store.read_only(str(store))
                self.read_only = True
        child = dataclasses.replace(ctx, store=None, tally=None, graph_files=None, derived_dumps=None, warnings=[])
        self.running[stage.name] = (self.pool.schedule(_in_process, args=(stage, child, store)), stage)

    def finished(self, ctx: Context) -> dict[str, StageReport]:
        """Take in the stages that are done, without waiting."""
        return self.wait(ctx, [name for name, (future, _) in self.running.items() if future.done()])

    def wait(self, ctx: Context, names: list[str] | None = None) -> dict[str, StageReport]:
        """Wait for the stages ``names`` (None: all) and take their results into ``ctx``."""
        reports = {}
        for name in list(self.running) if names is None else names:
            if name not in self.running:
                continue
            future, stage = self.running.pop(name)
            try:
                report, warnings, given = future.result()  # re-raises the stage's BuildFailed
            finally:
                if name in self.snapshots:
                    shutil.rmtree(self.snapshots.pop(name), ignore_errors=True)
            ctx.warnings.extend(warnings)
            for field_name, value in given.items():
                setattr(ctx, field_name, value)
            reports[name] = report
            self.bars.done(stage, report)
        return reports

    def __enter__(self) -> "_Beside":
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.stop()  # kills what still runs (the build failed)
            self.pool.join()
        if self.threads is not None:
            self.threads.shutdown(cancel_futures=True)  # a thread cannot be killed: waits for it


def _give_back_memory() -> None:
    """Return freed heap pages to the system (glibc keeps them): derive's objects are gone,
    but the process kept their pages: at 1M triples it held 458 MiB before, 231 MiB after."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


class _Bars:
    """A progress bar per stage (rich), or none when there is no console; without a terminal
    (a log file) a line per stage instead."""

    def __init__(self, console):
        self.console, self.progress, self.tasks = console, None, {}

    def __enter__(self) -> "_Bars":
        if self.console is not None:
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

            self.progress = Progress(TextColumn("{task.description:<44}"), BarColumn(), TaskProgressColumn(),
                                     TimeElapsedColumn(), console=self.console, transient=False)
            self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()

    def start(self, stage: Stage) -> Bar:
        if self.progress is None:
            return Bar()
        self.tasks[stage.name] = self.progress.add_task(f"{stage.name}: {stage.title}", total=None)
        return Bar(self.progress, self.tasks[stage.name])

    def done(self, stage: Stage, report: StageReport) -> None:
        if self.progress is None:
            return
        task = self.tasks[stage.name]
        total = self.progress.tasks[task].total or 1
        self.progress.update(task, total=total, completed=total)
        if not self.console.is_terminal:  # a log file: rich draws the bars only at the end, so a line per stage
            self.console.print(f"{stage.name}: {report.seconds:.1f} s, {report.cpu_seconds:.1f} s CPU, "
                               f"peak RSS {report.peak_rss_mib:.0f} MiB: {report.note}")


def _write_manifest(ctx: Context, result: Result, started: float) -> None:
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "version": ctx.version,
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "arkg": __version__,
        "pyoxigraph": ox.__version__,
        "data_dir": str(ctx.data_dir) if ctx.data_dir else None,
        "files": [{"path": str(f.path), "graph": f.graph, "bytes": f.path.stat().st_size} for f in ctx.files],
        "stages": [{"name": s.name, "started_s": round(s.started - started, 2), "seconds": round(s.seconds, 2),
                    "cpu_seconds": round(s.cpu_seconds, 2), "peak_rss_mib": round(s.peak_rss_mib), "note": s.note}
                   for s in result.stages],
        "warnings": ctx.warnings,
        "seconds": round(result.seconds, 2),
    }
    tmp = ctx.layout.root / ".build.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, ctx.layout.manifest)  # last: a directory with a manifest is a complete build


def read_manifest(layout: BuildLayout) -> dict | None:
    try:
        return json.loads(layout.manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def served_dumps(area: Path, version: str) -> dumps.Build | None:
    """The dumps in the complete build of ``version`` (what /dumps/ and the home page list), or None."""
    layout = BuildLayout.of(area, version)
    if layout is None or not layout.complete:
        return None
    return dumps.read_build(layout.dumps, version)


def builds(area: Path) -> list[BuildLayout]:
    """The complete builds in ``area``, newest first."""
    area = Path(area)
    if not area.is_dir():
        return []
    found = [BuildLayout(p) for p in area.iterdir() if p.is_dir() and not p.name.startswith(".")]
    found = [b for b in found if b.complete]
    return sorted(found, key=lambda b: (-b.manifest.stat().st_mtime, b.root.name))


def prune(area: Path, *, keep: int = KEEP) -> None:
    """Remove complete builds beyond the ``keep`` newest, and staging leftovers of dead builders."""
    for old in builds(area)[keep:]:
        shutil.rmtree(old.root, ignore_errors=True)
    for leftover in [*Path(area).glob(".*.tmp"), *Path(area).glob(".*.lock")]:
        try:
            pid_dead = time.time() - leftover.stat().st_mtime > 24 * 3600
        except OSError:
            continue
        if pid_dead:  # a day old: no build runs that long
            shutil.rmtree(leftover, ignore_errors=True)


def summary_table(result: Result):
    """The summary printed at the end of ``arkg build`` (a rich Table)."""
    from rich.table import Table

    table = Table(title=f"arkg build {result.version} → {result.layout.root}", title_justify="left")
    for name, justify in (("stage", "left"), ("seconds", "right"), ("CPU s", "right"), ("peak RSS MiB", "right"),
                          ("result", "left")):
        table.add_column(name, justify=justify)
    for s in result.stages:
        table.add_row(s.name, f"{s.seconds:.1f}", f"{s.cpu_seconds:.1f}", f"{s.peak_rss_mib:.0f}", s.note)
    size = sum(p.stat().st_size for p in result.layout.root.rglob("*") if p.is_file())
    table.add_row("total", f"{result.seconds:.1f}", f"{sum(s.cpu_seconds for s in result.stages):.1f}",
                  f"{_peak_mib():.0f}", f"{size / 2**20:.1f} MiB on disk")
    return table
