r"""The query worker: a child process that owns a pyoxigraph store and answers queries.

pyoxigraph cannot interrupt a running query, so queries run here, in a process the
parent can kill when the time limit passes (see store/pool.py). The worker speaks a tiny
protocol over a multiprocessing pipe: it receives a pickled :class:`Request` and sends back
a pickled header tuple followed by the serialised body bytes.

>>> import pyoxigraph as ox
>>> store = ox.Store()
>>> execute(store, Request("SELECT (1+1 AS ?two) {}", "csv", "ttl"), max_bytes=1000)
('solutions', 'csv', b'two\r\n2\r\n')
>>> execute(store, Request("SELECT (1+1 AS ?two) {}", "json", "ttl"), max_bytes=10)
Traceback (most recent call last):
...
server.engine.worker.ResultTooLarge: the result is larger than 10 bytes
"""

from __future__ import annotations

import io
import os
import pickle
import resource
import select
import signal
import threading
from dataclasses import dataclass, field

import pyoxigraph as ox


@dataclass(frozen=True)
class Request:
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
    files: tuple[tuple[str, str], ...] = ()  # (path, graph IRI)
    disk_path: str | None = None


QUERY_STACK_BYTES = 1 << 30  # see main(): measured to hold 1 MiB queries of nesting or chains


class ResultTooLarge(Exception):
    pass


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
    from server.engine.dataset import RDF_EXTENSIONS

    store = ox.Store()
    for path, graph in spec.files:
        store.bulk_load(path=path, format=RDF_EXTENSIONS["." + path.rsplit(".", 1)[-1]], to_graph=ox.NamedNode(graph))
    return store


def execute(store: ox.Store, request: Request, *, max_bytes: int) -> tuple[str, str, bytes]:
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
        results.serialize(buffer, format=fmt.ox)
    except ResultTooLarge:
        raise
    except OSError as exc:  # pyoxigraph wraps errors raised by the writer
        if buffer.size > buffer.cap:
            raise ResultTooLarge(f"the result is larger than {max_bytes} bytes") from exc
        raise
    return kind, fmt.name, b"".join(buffer.parts)


def _exit_when_parent_goes(conn) -> None:
    """Exit as soon as the server's end of the pipe closes, even in the middle of a query.

    Without this a worker whose server was killed (SIGKILL, OOM killer) would finish its
    runaway query first, an orphan burning CPU for as long as the query runs. Our parent is
    the forkserver, which outlives the server, so the parent-death signal cannot tell us;
    the hang-up on the pipe can. pyoxigraph releases the GIL while it evaluates, so this
    thread runs during a query. Only hang-up wakes it, never an incoming request.
    """
    def watch() -> None:
        poller = select.poll()
        poller.register(conn.fileno(), select.POLLHUP | getattr(select, "POLLRDHUP", 0))
        while not poller.poll():
            pass
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(conn, spec: StoreSpec, max_bytes: int, memory_limit_mb: int) -> None:
    """Worker process entry point: open the store, then answer requests until EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    if memory_limit_mb:
        limit = memory_limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        store = open_store(spec)
    except Exception as exc:  # reported to the parent, which keeps the last good pool
        conn.send_bytes(pickle.dumps(("failed", f"{type(exc).__name__}: {exc}")))
        return
    _exit_when_parent_goes(conn)
    conn.send_bytes(pickle.dumps(("ready", os.getpid())))
    # pyoxigraph's parser and optimiser recurse: a 10,000-term chain (1+1+...) or deep
    # nesting overflows the 8 MiB main-thread stack and kills the process (SIGSEGV). On a
    # thread with a large stack (address space only; untouched pages cost nothing) every
    # query that fits in the request-body limit ends with a result, an error or a timeout.
    stack = QUERY_STACK_BYTES if not memory_limit_mb else min(QUERY_STACK_BYTES, memory_limit_mb * 1024 * 1024 // 4)
    threading.stack_size(stack)
    thread = threading.Thread(target=_serve, args=(conn, store, max_bytes), name="queries")
    thread.start()
    thread.join()


def answer(store: ox.Store, request: Request, *, max_bytes: int) -> tuple[tuple, bytes]:
    """:func:`execute` with every failure turned into a header: ``(("ok", kind, format), body)``
    or ``((status, message), b"")``; the pool maps headers to exceptions (pool.py: ``outcome``)."""
    try:
        kind, fmt, body = execute(store, request, max_bytes=max_bytes)
    except SyntaxError as exc:
        return ("syntax", str(exc)), b""
    except ResultTooLarge as exc:
        return ("too_large", str(exc)), b""
    except MemoryError:
        return ("memory", "the query needed more memory than a worker may use"), b""
    except Exception as exc:  # noqa: BLE001 (an evaluation error is the query's problem, not the server's)
        return ("eval", f"{type(exc).__name__}: {exc}"), b""
    return ("ok", kind, fmt), body


def _serve(conn, store: ox.Store, max_bytes: int) -> None:
    while True:
        try:
            request = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        header, body = answer(store, request, max_bytes=max_bytes)
        conn.send_bytes(pickle.dumps(header))
        if header[0] == "ok":
            conn.send_bytes(body)
