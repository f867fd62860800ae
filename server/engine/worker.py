r"""The query worker: code that runs in a child process owning a pyoxigraph store.

pyoxigraph cannot interrupt a running query, so queries run in processes the server can
kill when the time limit passes (pool.py, which starts them with pebble). A worker process
runs :func:`initialize` once, then :func:`run` for each query; failures are the typed
errors of errors.py, which pebble pickles back to the server. :func:`answer` is the same
evaluation for the server's own in-process lookups (inline.py).

>>> import pyoxigraph as ox
>>> store = ox.Store()
>>> answer(store, QueryRequest("SELECT (1+1 AS ?two) {}", "csv", "ttl"), max_bytes=1000).body
b'two\r\n2\r\n'
>>> answer(store, QueryRequest("SELECT (1+1 AS ?two) {}", "json", "ttl"), max_bytes=10)
Traceback (most recent call last):
...
server.engine.errors.ResultTooLarge: the result is larger than 10 bytes
>>> answer(store, QueryRequest("SELECT nonsense", "json", "ttl"), max_bytes=10)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
server.engine.errors.QuerySyntaxError: ...
"""

from __future__ import annotations

import io
import os
import resource
import select
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyoxigraph as ox

from server.engine.errors import EngineUnavailable, QueryEvaluationError, QuerySyntaxError, ResultTooLarge

if TYPE_CHECKING:
    from server.engine.dataset import DataFile


@dataclass(frozen=True)
class QueryRequest:
    query: str
    solutions_format: str  # short format name for SELECT/ASK results
    graph_format: str  # short format name for CONSTRUCT/DESCRIBE results
    default_graphs: tuple[str, ...] = field(default=())
    named_graphs: tuple[str, ...] = field(default=())
    has_dataset_clause: bool = False  # the query has FROM / FROM NAMED: it sets its own dataset
    base_iri: str | None = None  # relative IRIs in the query resolve against it (the endpoint's URL)


@dataclass(frozen=True)
class StoreSpec:
    """How a worker opens its store: data files into named graphs, or an on-disk store."""
    files: tuple[DataFile, ...] = ()  # loaded into their named graphs (engine/dataset.py)
    disk_path: str | None = None


QUERY_STACK_BYTES = 1 << 30  # see main(): measured to hold 1 MiB queries of nesting or chains


@dataclass
class QueryResult:
    kind: str  # "solutions", "boolean" or "triples"
    format: str  # short format name
    body: bytes
    seconds: float


class _CappedBuffer(io.RawIOBase):
    def __init__(self, cap: int):
        self.cap, self.parts, self.size = cap, [], 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.size += len(data)
        if self.size > self.cap:
            raise ResultTooLarge(f"the result is larger than {self.cap} bytes")
        self.parts.append(bytes(data))
        return len(data)


def open_store(spec: StoreSpec) -> ox.Store:
    if spec.disk_path:
        return ox.Store.read_only(spec.disk_path)
    from server.engine.dataset import load_store

    return load_store(list(spec.files))


def execute(store: ox.Store, request: QueryRequest, *, max_bytes: int) -> tuple[str, str, bytes]:
    """Evaluate and serialise; returns (kind, format name, body)."""
    from server.model import formats

    options = {"base_iri": request.base_iri} if request.base_iri else {}
    if request.default_graphs or request.named_graphs:
        options["default_graph"] = [ox.NamedNode(g) for g in request.default_graphs] or ox.DefaultGraph()
        options["named_graphs"] = [ox.NamedNode(g) for g in request.named_graphs]
    elif not request.has_dataset_clause:
        options["use_default_graph_as_union"] = True
    results = store.query(request.query, **options)
    if isinstance(results, ox.QueryTriples):
        kind, fmt = "triples", formats.by_name(request.graph_format, formats.GRAPH)
    else:
        kind = "boolean" if isinstance(results, ox.QueryBoolean) else "solutions"
        fmt = formats.by_name(request.solutions_format, formats.RESULTS)
    buffer = _CappedBuffer(max_bytes)
    try:
        results.serialize(buffer, format=fmt.engine_format)
    except ResultTooLarge:
        raise
    except OSError as exc:  # pyoxigraph wraps errors raised by the writer
        if buffer.size > buffer.cap:
            raise ResultTooLarge(f"the result is larger than {max_bytes} bytes") from exc
        raise
    return kind, fmt.name, b"".join(buffer.parts)


def answer(store: ox.Store, request: QueryRequest, *, max_bytes: int) -> QueryResult:
    """:func:`execute` timed, its failures as the typed errors of errors.py."""
    started = time.monotonic()
    try:
        kind, fmt, body = execute(store, request, max_bytes=max_bytes)
    except SyntaxError as exc:
        raise QuerySyntaxError(str(exc)) from None
    except ResultTooLarge:
        raise
    except MemoryError:
        raise ResultTooLarge("the query needed more memory than a worker may use") from None
    except Exception as exc:  # noqa: BLE001 (an evaluation error is the query's problem, not the server's)
        raise QueryEvaluationError(f"{type(exc).__name__}: {exc}") from None
    return QueryResult(kind, fmt, body, time.monotonic() - started)


# --- in the worker process (pool.py starts it with ``initialize`` and sends ``run``)
_worker: dict = {}


def _exit_when_server_goes(server_pid: int) -> None:
    """Exit as soon as the server process is gone, even in the middle of a query.

    Without this a worker whose server was killed (SIGKILL, OOM killer) would finish its
    runaway query first, an orphan burning CPU for as long as the query runs. Our parent is
    the multiprocessing forkserver, not the server, so the parent-death signal cannot tell
    us; a pidfd of the server process becomes readable when it exits. pyoxigraph releases
    the GIL while it evaluates, so this thread runs during a query.
    """
    try:
        pidfd = os.pidfd_open(server_pid)
    except ProcessLookupError:
        os._exit(0)

    def watch() -> None:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        while not poller.poll():
            pass
        os._exit(0)

    threading.Thread(target=watch, name="server-watch", daemon=True).start()


def initialize(spec: StoreSpec, max_bytes: int, memory_limit_mb: int, server_pid: int) -> None:
    """Worker process start: open the store. A failure is kept and reported by :func:`run`
    (pebble would restart a worker whose initializer fails, forever)."""
    # pebble's SIGTERM handler is Python code, which waits for a running query to end; the
    # pool stops a worker to stop its query, so the default action (exit now) is what we need.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if memory_limit_mb:
        limit = memory_limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        store = open_store(spec)
    except Exception as exc:  # noqa: BLE001 (reported to the server, which keeps the last good pool)
        _worker["failed"] = f"{type(exc).__name__}: {exc}"
        return
    _exit_when_server_goes(server_pid)
    # pyoxigraph's parser and optimiser recurse: a 10,000-term chain (1+1+...) or deep
    # nesting overflows the 8 MiB main-thread stack and kills the process (SIGSEGV). On a
    # thread with a large stack (address space only; untouched pages cost nothing) every
    # query that fits in the request-body limit ends with a result, an error or a timeout.
    stack = QUERY_STACK_BYTES if not memory_limit_mb else min(QUERY_STACK_BYTES, memory_limit_mb * 1024 * 1024 // 4)
    threading.stack_size(stack)
    executor = ThreadPoolExecutor(1, thread_name_prefix="queries")
    executor.submit(int).result()  # the thread starts now, with the large stack
    threading.stack_size(0)
    _worker.update(store=store, executor=executor, max_bytes=max_bytes)


def _opened() -> None:
    if "failed" in _worker:
        raise EngineUnavailable(f"a query worker could not open the dataset: {_worker['failed']}")


def ready() -> int:
    """This worker's process id once its store is open (the pool's start-up check)."""
    _opened()
    return os.getpid()


def run(request: QueryRequest) -> QueryResult:
    """One query, on the large-stack thread."""
    _opened()
    return _worker["executor"].submit(answer, _worker["store"], request, max_bytes=_worker["max_bytes"]).result()
