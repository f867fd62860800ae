"""``arkg load``: push a build into an external SPARQL 1.1 engine through the Graph Store Protocol.

Every named graph of the build (``derived`` and ``asserted`` included) goes to the same graph IRI
on the engine, in chunks of N-Triples so that millions of triples never sit in one request.
Chunks are numbered per graph in the store's own (deterministic) order, and a small JSON state
file records how many chunks of each graph have landed: re-running the same command after a
failure resumes where it stopped. Afterwards the triples of every graph are counted on the
engine through its query endpoint and compared with the build's counts.

Blank nodes are scoped to one Graph Store request, so a blank node split over two requests would
become two nodes, and a chunk sent twice would copy its blank nodes. So the first request of each
graph is a PUT (replace) holding every triple of the graph that mentions a blank node, or a DELETE
when there is none; later chunks are blank-node-free POSTs, which an engine may safely receive
twice (a graph is a set). A graph is therefore always loaded from its first request on.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pyoxigraph as ox
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from server.engine.dataset import dataset_files, dataset_version, load_store
from server.engine.remote import VERSION_GRAPH, VERSION_PREDICATE
from server.model.build_layout import BuildLayout

CHUNK_TRIPLES = 50_000  # ~7 MB of N-Triples per request at ARKG's literal sizes
_NT = "application/n-triples"
_COUNT_GRAPH = "SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{g}> {{ ?s ?p ?o }} }}"
_GRAPH_COUNTS = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"


class LoadError(Exception):
    """The load cannot go on or did not land as built; the message says what to do."""


@dataclass(frozen=True)
class Target:
    query_url: str  # the engine's SPARQL query endpoint (used to verify counts)
    graph_store_url: str  # its Graph Store Protocol endpoint (indirect graph identification)
    user: str | None = None
    password: str | None = None

    def auth(self) -> httpx.Auth | None:
        # Digest answers a 401 challenge only (Virtuoso's /sparql-graph-crud-auth), so engines
        # without authentication are unaffected.
        return httpx.DigestAuth(self.user, self.password or "") if self.user else None


def graph_store_url(query_url: str) -> str:
    """The Graph Store endpoint an engine pairs with ``query_url``, for the engines whose layout
    is documented (README, "Beyond one machine"); otherwise :class:`LoadError` asks for it."""
    parts = urlsplit(query_url)
    path = parts.path.rstrip("/")
    if path == "/sparql":  # Virtuoso
        new = "/sparql-graph-crud-auth"
    elif path == "/query":  # oxigraph serve
        new = "/store"
    elif path.endswith(("/sparql", "/query")) and path.count("/") == 2:  # Fuseki: /<dataset>/sparql
        new = path.rsplit("/", 1)[0] + "/data"
    elif path.startswith("/repositories/") and path.count("/") == 2:  # GraphDB, RDF4J
        new = path + "/rdf-graphs/service"
    else:
        raise LoadError(f"cannot tell the Graph Store endpoint of {query_url}; pass --graph-store URL")
    return urlunsplit((parts.scheme, parts.netloc, new, "", ""))


@dataclass
class Source:
    """The quads to load: a build's on-disk store, or the data files loaded into a scratch store."""

    store: ox.Store
    version: str
    origin: str
    _scratch: tempfile.TemporaryDirectory | None = None

    def close(self) -> None:
        del self.store
        if self._scratch is not None:
            self._scratch.cleanup()

    def graph_counts(self) -> dict[str, int]:
        rows = self.store.query(_GRAPH_COUNTS)
        return {row["g"].value: int(row["n"].value) for row in rows if isinstance(row["g"], ox.NamedNode)}


def open_source(*, build_dir: Path, data_dir: Path | None) -> Source:
    """The build under ``build_dir`` when it has a store, else the data directory's files."""
    layout = BuildLayout.served(build_dir, dataset_version(dataset_files(data_dir)))  # <build_dir>/<version>/
    if layout.store.is_dir():
        store = ox.Store.read_only(str(layout.store))
        return Source(store, _build_version(layout), f"build store {layout.store}")
    files = dataset_files(data_dir)
    if not files:
        raise LoadError(f"no build store at {layout.store} and no RDF files under {data_dir}")
    scratch = tempfile.TemporaryDirectory(prefix="arkg-load-")
    store = ox.Store(scratch.name)  # on disk: a 5M-triple dataset never has to fit in memory
    load_store(files, store)
    return Source(store, dataset_version(files), f"data files under {data_dir or 'the package data'}", scratch)


def _build_version(layout: BuildLayout) -> str:
    for path, key in ((layout.manifest, "version"), (layout.store / "ARKG_VERSION", None)):
        if path.is_file():
            text = path.read_text()
            if key is None:
                return text.strip()
            value = json.loads(text).get(key) or json.loads(text).get("dataset_version")
            if value:
                return str(value)
    return "unknown"


@dataclass
class LoadState:
    """How many chunks of each graph have landed on one target, for one source version."""

    path: Path
    target: str
    version: str
    chunk_triples: int
    landed: dict[str, int] = field(default_factory=dict)

    @classmethod
    def open(cls, path: Path, *, target: str, version: str, chunk_triples: int, fresh: bool) -> tuple[LoadState, bool]:
        """The state to continue from, and whether it resumes an earlier run."""
        if not fresh and path.is_file():
            try:
                data = json.loads(path.read_text())
            except ValueError:
                data = {}
            if (data.get("target"), data.get("version"), data.get("chunk_triples")) == (target, version, chunk_triples):
                return cls(path, target, version, chunk_triples, dict(data.get("landed", {}))), True
        return cls(path, target, version, chunk_triples), False

    def record(self, graph: str, chunks: int) -> None:
        self.landed[graph] = chunks
        self.path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.path.with_suffix(".tmp")
        scratch.write_text(json.dumps({"target": self.target, "version": self.version,
                                       "chunk_triples": self.chunk_triples, "landed": self.landed,
                                       "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, indent=1))
        scratch.replace(self.path)  # atomic: a crash leaves the old state or the new, never half


def default_state_path(target: Target, root: Path = Path("var/load")) -> Path:
    return root / (hashlib.sha256(target.graph_store_url.encode()).hexdigest()[:12] + ".json")


def _blank(term) -> bool:
    return isinstance(term, ox.BlankNode)


def _chunks(store: ox.Store, graph: str, size: int) -> Iterator[tuple[bytes, int, bool]]:
    """(N-Triples body, triples, replace?) per request for ``graph``: first the PUT of its blank-node
    triples (possibly empty), then blank-node-free chunks of ``size`` triples."""
    g = ox.NamedNode(graph)
    blanks = [ox.Triple(q.subject, q.predicate, q.object)
              for q in store.quads_for_pattern(None, None, None, g) if _blank(q.subject) or _blank(q.object)]
    yield ox.serialize(blanks, format=ox.RdfFormat.N_TRIPLES), len(blanks), True
    del blanks
    batch: list[ox.Triple] = []
    for q in store.quads_for_pattern(None, None, None, g):
        if _blank(q.subject) or _blank(q.object):
            continue
        batch.append(ox.Triple(q.subject, q.predicate, q.object))
        if len(batch) >= size:
            yield ox.serialize(batch, format=ox.RdfFormat.N_TRIPLES), len(batch), False
            batch = []
    if batch:
        yield ox.serialize(batch, format=ox.RdfFormat.N_TRIPLES), len(batch), False


class _Engine:
    def __init__(self, target: Target, *, timeout: float):
        self.target = target
        self.client = httpx.Client(auth=target.auth(), timeout=httpx.Timeout(timeout, connect=10.0))

    def close(self) -> None:
        self.client.close()

    def send(self, graph: str, body: bytes, *, replace: bool, attempts: int = 3) -> None:
        url = self.target.graph_store_url
        for attempt in range(1, attempts + 1):
            try:
                if replace and not body:
                    response = self.client.delete(url, params={"graph": graph})
                    if response.status_code == 404:  # nothing to clear
                        return
                else:
                    response = self.client.request("PUT" if replace else "POST", url, params={"graph": graph},
                                                   content=body, headers={"Content-Type": _NT})
            except httpx.TransportError as exc:
                if attempt == attempts:
                    raise LoadError(f"the engine at {url} could not be reached ({exc}); "
                                    "run the same command again to resume") from None
                time.sleep(attempt)
                continue
            if response.status_code in (401, 403):
                raise LoadError(f"the engine at {url} refused the credentials ({response.status_code}); "
                                "give --user and set ARKG_LOAD_PASSWORD")
            if response.status_code >= 500 and attempt < attempts:
                time.sleep(attempt)
                continue
            if response.status_code >= 300:
                raise LoadError(f"the engine at {url} answered {response.status_code} for graph {graph}: "
                                f"{response.text[:500].strip()}; run the same command again to resume")
            return

    def count(self, graph: str) -> int:
        response = self.client.post(self.target.query_url, data={"query": _COUNT_GRAPH.format(g=graph)},
                                    headers={"Accept": "application/sparql-results+json"})
        if response.status_code >= 300:
            raise LoadError(f"the query endpoint {self.target.query_url} answered {response.status_code} "
                            f"while counting graph {graph}: {response.text[:300].strip()}")
        try:
            return int(response.json()["results"]["bindings"][0]["n"]["value"])
        except (ValueError, KeyError, IndexError) as exc:
            raise LoadError(f"the query endpoint {self.target.query_url} did not answer a count: {exc}") from None


@dataclass
class LoadReport:
    version: str
    origin: str
    resumed: bool
    seconds: float
    sent_triples: int
    expected: dict[str, int]  # graph IRI -> triples in the build
    found: dict[str, int]  # graph IRI -> triples counted on the engine

    @property
    def mismatches(self) -> dict[str, tuple[int, int]]:
        return {g: (n, self.found.get(g, 0)) for g, n in self.expected.items() if self.found.get(g, 0) != n}


def load(source: Source, target: Target, *, state_path: Path, chunk_triples: int = CHUNK_TRIPLES,
         fresh: bool = False, timeout: float = 300.0, console: Console | None = None) -> LoadReport:
    """Send every named graph of ``source`` to ``target``, resuming from ``state_path``, then verify."""
    console = console or Console(stderr=True)
    expected = source.graph_counts()
    state, resumed = LoadState.open(state_path, target=target.graph_store_url, version=source.version,
                                    chunk_triples=chunk_triples, fresh=fresh)
    engine = _Engine(target, timeout=timeout)
    started, sent = time.monotonic(), 0
    # While its graphs change the engine claims no version: the marker (server/engine/remote.py)
    # is removed first and written again only once every graph is verified.
    engine.send(VERSION_GRAPH, b"", replace=True)
    if VERSION_GRAPH in expected:
        state.record(VERSION_GRAPH, 0)  # that graph was just emptied: it is sent again
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("triples"),
               TextColumn("{task.fields[rate]:>9} triples/s"), TimeElapsedColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("loading", total=sum(expected.values()), rate="-")
            for graph in sorted(expected):
                name = graph.rsplit("/", 1)[-1]
                done = state.landed.get(graph, 0)
                total_chunks = 1 + -(-expected[graph] // chunk_triples)  # an upper bound, for the label
                for index, (body, triples, replace) in enumerate(_chunks(source.store, graph, chunk_triples)):
                    progress.update(task, description=f"{name} {index + 1}/~{total_chunks}")
                    if index >= done:
                        engine.send(graph, body, replace=replace)
                        state.record(graph, index + 1)
                        sent += triples
                    progress.advance(task, triples)
                    elapsed = time.monotonic() - started
                    progress.update(task, rate=f"{sent / elapsed:,.0f}" if elapsed > 0 and sent else "-")
            progress.update(task, description="verifying")
            found = {graph: engine.count(graph) for graph in sorted(expected)}
            if all(found.get(g) == n for g, n in expected.items()):
                marker = ox.serialize([ox.Triple(ox.NamedNode(VERSION_GRAPH), ox.NamedNode(VERSION_PREDICATE),
                                                 ox.Literal(source.version))], format=ox.RdfFormat.N_TRIPLES)
                engine.send(VERSION_GRAPH, marker, replace=VERSION_GRAPH not in expected)
            progress.update(task, description="done")
    finally:
        engine.close()
    return LoadReport(source.version, source.origin, resumed, time.monotonic() - started, sent, expected, found)


def summary(report: LoadReport) -> str:
    """A table of graphs with their counts in the build and on the engine, and the throughput."""
    rate = report.sent_triples / report.seconds if report.seconds > 0 else 0.0
    lines = [f"{'graph':<45} {'build':>10} {'engine':>10}"]
    lines += [f"{g:<45} {n:>10} {report.found.get(g, 0):>10}{'' if report.found.get(g, 0) == n else '  MISMATCH'}"
              for g, n in sorted(report.expected.items())]
    lines.append(f"version {report.version} from {report.origin}{' (resumed)' if report.resumed else ''}: "
                 f"{report.sent_triples} triples sent in {report.seconds:.1f} s ({rate:,.0f} triples/s)")
    return "\n".join(lines)
